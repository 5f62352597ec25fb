#!/usr/bin/python3
"""check_design_refs.py: every reference to a section of docs/design.md must
resolve, and the repository must stand on its own.

    /usr/bin/python3 tests/repo/check_design_refs.py SOURCE_DIR [--untracked]
    /usr/bin/python3 tests/repo/check_design_refs.py --selftest

Scans the repository's tracked files (`git -C SOURCE_DIR ls-files`; when git
is missing or SOURCE_DIR is not a work tree, every file under SOURCE_DIR but
.git/) plus docs/design.md itself, and with --untracked also the untracked
files git does not ignore. A reference is "DESIGN section N",
"design.md section N" or "docs/design.md section N" (any case; the words may
be split over lines, with comment leaders such as #, *, // between them),
and "sections N and M", "sections N, M", "sections N-M" in the same forms.
It fails (exit 1, one line per problem: file:line and the reference) when:
  - docs/design.md is missing;
  - docs/design.md has no heading "## N." for a section that is cited;
  - docs/design.md has two headings with the same number;
  - a scanned file mentions the project's external design notes by path
    (see FORBIDDEN below).
Otherwise it prints one summary line and exits 0. Standard library only.

--selftest builds small trees in a temporary directory and checks that the
checker rejects what it must (a missing section, a missing design.md, a range
reaching past the last section, a forbidden path) and accepts a good tree.
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

DESIGN = os.path.join("docs", "design.md")

# Spelled in pieces so that this file does not match its own checks.
FORBIDDEN = ("shared" + "/" + "design", ".." + "/" + "shared")

# Between the words of a reference: blanks, or a line break followed by an
# optional comment leader (#, *, //, ;, >, --).
_SEP = r"(?:[ \t]*\r?\n[ \t]*(?:(?:#+|\*+|//+|;+|>+|--)[ \t]*)?|[ \t]+)+"
_NUM = r"\d+(?:\.\d+)*"
# A list or range after the plural: "1 and 2", "1, 2 and 4", "1-3", "1 to 3".
_OPT_SEP = r"(?:" + _SEP + r")?"
_MORE = r"(?:" + _OPT_SEP + r"(?:,|&|and|or|-|\u2013|\.\.|to)" + _OPT_SEP + _NUM + r")*"
REF = re.compile(
    r"(?<!\w)(?:docs/)?(?:design\.md|design\b)" + _SEP
    + r"(?:(?P<plural>sections)" + _SEP + r"(?P<list>" + _NUM + _MORE + r")"
    + r"|section" + _SEP + r"(?P<one>" + _NUM + r"))(?![\w])",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"(" + _NUM + r")|(-|\u2013|\.\.|\bto\b)", re.IGNORECASE)
HEADING = re.compile(r"^##[ \t]+(\d+)\.(?:[ \t]|$)", re.MULTILINE)


def major(num):
    return int(num.split(".")[0])


def sections_of(match):
    """The section numbers a reference cites (ranges expanded)."""
    if match.group("one"):
        return [major(match.group("one"))]
    out, pending_range = [], False
    for m in _LIST_ITEM.finditer(match.group("list")):
        if m.group(1):
            n = major(m.group(1))
            if pending_range and out:
                lo = out[-1]
                out.extend(range(lo + 1, n + 1) if n > lo else [n])
            else:
                out.append(n)
            pending_range = False
        else:
            pending_range = True
    return out


def list_files(root, untracked):
    """Repository-relative paths to scan, and how they were found."""
    cmd = ["git", "-C", root, "ls-files", "-z", "--cached"]
    if untracked:
        cmd += ["--others", "--exclude-standard"]
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if res.returncode == 0:
            files = [p for p in res.stdout.decode("utf-8", "replace").split("\0") if p]
            return sorted(set(files)), "git ls-files"
    except OSError:
        pass
    # No git: every file but .git/ and the directories .gitignore names
    # ("/build*/", "__pycache__/": build trees, run outputs).
    top, anywhere = [], [".git"]
    try:
        with open(os.path.join(root, ".gitignore"), encoding="utf-8") as f:
            for line in f:
                pat = line.strip()
                if pat.endswith("/") and not pat.startswith(("#", "!")):
                    (top if pat.startswith("/") else anywhere).append(pat.strip("/"))
    except OSError:
        pass
    files = []
    for d, dirs, names in os.walk(root):
        at_top = os.path.samefile(d, root)
        dirs[:] = sorted(x for x in dirs
                         if not any(fnmatch.fnmatch(x, p) for p in anywhere)
                         and not (at_top and any(fnmatch.fnmatch(x, p) for p in top)))
        for name in names:
            files.append(os.path.relpath(os.path.join(d, name), root))
    return sorted(files), "walk"


def read_text(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None  # listed by git but deleted in the work tree, unreadable, ...
    if b"\0" in data[:8192]:
        return None  # binary
    return data.decode("utf-8", "replace")


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def check(root, untracked=False, out=sys.stdout):
    """Returns 0 when everything resolves, 1 otherwise; prints the findings."""
    problems = []
    design_path = os.path.join(root, DESIGN)
    design = read_text(design_path) if os.path.isfile(design_path) else None
    headings = {}
    if design is None:
        problems.append(f"{DESIGN}: missing (every 'design section N' reference needs it)")
    else:
        for m in HEADING.finditer(design):
            n = int(m.group(1))
            if n in headings:
                problems.append(f"{DESIGN}:{line_of(design, m.start())}: second heading "
                                f"'## {n}.' (first on line {headings[n]})")
            else:
                headings[n] = line_of(design, m.start())
    files, how = list_files(root, untracked)
    if design is not None and DESIGN not in files:
        files.append(DESIGN)
    n_refs, cited = 0, set()
    for rel in files:
        text = read_text(os.path.join(root, rel))
        if text is None:
            continue
        low = text.lower()
        for bad in FORBIDDEN:
            start = 0
            while True:
                i = low.find(bad, start)
                if i < 0:
                    break
                problems.append(f"{rel}:{line_of(text, i)}: mentions '{text[i:i + len(bad)]}': "
                                "the repository must not depend on notes outside it")
                start = i + len(bad)
        for m in REF.finditer(text):
            ref = " ".join(m.group(0).split())
            for n in sections_of(m):
                n_refs += 1
                cited.add(n)
                if design is not None and n not in headings:
                    problems.append(f"{rel}:{line_of(text, m.start())}: '{ref}': "
                                    f"{DESIGN} has no heading '## {n}.'")
    for p in problems:
        print(p, file=out)
    if problems:
        print(f"design refs: FAILED, {len(problems)} problem(s) ({n_refs} references to "
              f"{len(cited)} sections in {len(files)} files from {how})", file=out)
        return 1
    print(f"design refs: {n_refs} references to {len(cited)} sections, all resolve "
          f"({len(files)} files from {how})", file=out)
    return 0


# ---- selftest ---------------------------------------------------------------

def _write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _tree(root, design, files):
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    if design is not None:
        _write(root, DESIGN, design)
    for rel, text in files.items():
        _write(root, rel, text)


def selftest():
    # Reference texts are assembled at run time: this file must not cite itself.
    d = "DESIGN"
    good_design = "# x\n\n## 1. One\n\ntext\n\n## 2. Two\n\n### 2.1 Sub\n\n## 3. Three\n"
    good_files = {
        "src/a.c": f"/* see {d} section 1 */\nint a;\n",
        "src/b.c": f"/* the layout of {d}\n * section 3 */\n",
        "tests/c.sh": f"# as {d}\n# section 2 says\n",
        "README.md": f"See docs/design.md section 2.1 and {d.lower()}.md sections 1 and 3.\n",
        "docs/x.md": f"{d} sections 1-3 apply; not a reference: design sections of a house.\n",
        "data/bin.dat": "\0\1\2 " + d + " section 9\n",  # binary: skipped
        ".gitignore": "/build*/\n__pycache__/\n",
        "build-x/copy.c": f"/* {d} section 8 */\n",  # ignored build tree: skipped
        "tests/__pycache__/c.txt": f"{d} section 8\n",
    }
    cases = [
        # (name, design.md text or None, files, expected exit status)
        ("good", good_design, good_files, 0),
        ("missing section", good_design,
         dict(good_files, **{"src/d.c": f"/* {d} section 7 */\n"}), 1),
        ("split reference to a missing section", good_design,
         dict(good_files, **{"src/e.c": f"/* per {d}\n * section 4 */\n"}), 1),
        ("range past the end", good_design,
         dict(good_files, **{"docs/y.md": f"{d} sections 2-5\n"}), 1),
        ("design.md missing", None, good_files, 1),
        ("forbidden path", good_design,
         dict(good_files, **{"docs/z.md": "copied from " + ".." + "/sha" + "red/notes\n"}), 1),
        ("forbidden path, other spelling", good_design,
         dict(good_files, **{"src/f.c": "/* see /work/" + "sha" + "red/" + "DESIGN.md */\n"}), 1),
        ("duplicate heading", good_design + "\n## 3. Again\n", good_files, 1),
    ]
    failures, git_runs = 0, 0
    with tempfile.TemporaryDirectory(prefix="check_design_refs.") as tmp:
        have_git = shutil.which("git") is not None
        for name, design, files, want in cases:
            for mode in (["walk", "git"] if have_git else ["walk"]):
                root = os.path.join(tmp, "tree")
                _tree(root, design, files)
                if mode == "git":
                    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull,
                               GIT_CONFIG_NOSYSTEM="1")
                    ok = subprocess.run(["git", "-C", root, "init", "-q"], env=env,
                                        stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL).returncode == 0
                    ok = ok and subprocess.run(["git", "-C", root, "add", "-A"], env=env,
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL).returncode == 0
                    if not ok:
                        continue
                    git_runs += 1
                log = open(os.path.join(tmp, "log.txt"), "w+")
                got = check(root, out=log)
                log.seek(0)
                text = log.read()
                log.close()
                if got != want:
                    failures += 1
                    print(f"selftest FAIL [{mode}] {name}: exit {got}, expected {want}\n{text}")
                elif name == "good" and "9 references to 3 sections, all resolve" not in text:
                    # a.c: 1; b.c: 3; c.sh: 2; README: 2, 1, 3; x.md: 1, 2, 3
                    failures += 1
                    print(f"selftest FAIL [{mode}] good: unexpected summary\n{text}")
                elif mode == "git" and "from git ls-files" not in text:
                    failures += 1
                    print(f"selftest FAIL [{mode}] {name}: git ls-files was not used\n{text}")
    if failures:
        print(f"check_design_refs selftest: {failures} failure(s)")
        return 1
    print(f"check_design_refs selftest: {len(cases)} cases pass "
          f"({'walk and git ls-files' if git_runs == len(cases) else 'walk only'})")
    return 0


def main(argv):
    args = [a for a in argv[1:]]
    if args == ["--selftest"]:
        return selftest()
    untracked = "--untracked" in args
    args = [a for a in args if a != "--untracked"]
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: check_design_refs.py SOURCE_DIR [--untracked] | --selftest",
              file=sys.stderr)
        return 2
    if not os.path.isdir(args[0]):
        print(f"check_design_refs.py: {args[0]}: not a directory", file=sys.stderr)
        return 2
    return check(args[0], untracked=untracked)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
