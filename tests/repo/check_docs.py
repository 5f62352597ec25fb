#!/usr/bin/python3
"""check_docs.py: the user documentation points at nothing that is not there.

    check_docs.py SOURCE_DIR EBM_MPI      exit 0 when every rule holds
    check_docs.py --selftest              shows each rule can fail

Documentation: README.md, CONTRIBUTING.md, docs/*.md and the --help texts of
the binary and its commands (experiments/ is a record, CHANGELOG.md history:
neither is checked). Rules:

  dead path     a repository path, a link's #anchor missing from its page,
                or a repository path (src/, include/, tests/, scripts/, docs/,
                slurm/, cmake/, examples/, python/, experiments/, .ci/) or a
                relative Markdown link that does not exist; templates
                (test_<name>.c, vN, *.tsv, {a,b}) are not paths;
  unknown option  an `--option` that no command's --help lists and that is
                not one of another tool's options named in FOREIGN below
                (mpirun, sbatch, cmake, ctest, the scripts' own);
  orphan page   a docs/*.md the README does not link, or a file in docs/ or
                scripts/ that no tracked file outside experiments/ names;
  layout table  a module src/.../NAME.c that docs/design.md's source layout
                table does not name (`NAME`).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Options of other programs that the docs use, by program. An option here is
# not checked against ebm_mpi's --help.
FOREIGN = {
    "mpirun": "--allow-run-as-root --oversubscribe --bind-to --mca --hostfile --host --np",
    "sbatch/srun/scancel/salloc": "--ntasks --ntasks-per-node --cpus-per-task --time --signal --batch "
                                  "--requeue --mpi",
    "cmake/ctest/pkg-config": "--build --install --prefix --config --test-dir --output-on-failure "
                              "--print-labels --cflags --libs --variable",
    "unshare/sysctl/configure/cppcheck": "--net --mount --param --level --with-slurm --enable",
    "scripts (bench.py, bench_overlap.py, sample_quality.py, make_fashion_mnist.py, "
    "experiments' grid.py)": "--baseline --only-ebm --fashion --scaling --render --rounds --mpirun "
                             "--selftest --no-classifier --seeds --presets --samples --beside-openmpi",
    "prose": "--name",
}
FOREIGN_OPTIONS = set(" ".join(FOREIGN.values()).split())
PREFIXES = "src|include|tests|scripts|docs|slurm|cmake|examples|python|experiments|\\.ci"
PATH = re.compile(r"(?<![\w./-])((?:%s)/[A-Za-z0-9_./+-]*[A-Za-z0-9_/])(.?)" % PREFIXES)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
ANCHOR = re.compile(r"\]\(([^)#\s]*)#([^)\s]+)\)")


def slugs(path):
    """GitHub's heading anchors of a Markdown file."""
    out, fence = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"^#{1,6} (.*)", line)
        if m:
            t = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(t.replace(" ", "-"))
    return out
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
UNITS = {"examples/s"}  # "286 examples/s" is a rate


def is_template(path, after):
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return (after != "" and after in "-<*{") or re.fullmatch(r"[a-z_]*[A-Z]+", last) is not None


def help_text(binary):
    text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    cmds = []
    for m in re.finditer(r"ebm_mpi ([a-z]+) ", text):
        if m.group(1) not in cmds:
            cmds.append(m.group(1))
    for c in cmds:
        text += subprocess.run([binary, c, "--help"], capture_output=True, text=True,
                               check=True).stdout
    return text


def tracked(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True,
                             check=True).stdout.split("\n")
        return [f for f in out if f]
    except (OSError, subprocess.CalledProcessError):
        return [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                if "/.git" not in d + "/" for f in fs]


def check(root, helps):
    problems = []
    docs = ["README.md", "CONTRIBUTING.md"] + sorted(
        os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "docs", "*.md")))
    known = set(OPTION.findall(helps)) | {"--help", "--version"}
    texts = [(d, open(os.path.join(root, d), encoding="utf-8").read())
             for d in docs if os.path.exists(os.path.join(root, d))]
    texts.append(("ebm_mpi --help", helps))
    for name, text in texts:
        for i, line in enumerate(text.split("\n"), 1):
            for m in PATH.finditer(line):
                p, after = m.group(1), m.group(2)
                if p in UNITS or is_template(p, after):
                    continue
                if not os.path.exists(os.path.join(root, p)):
                    problems.append(f"{name}:{i}: dead path {p}")
            if name.endswith(".md"):
                for m in LINK.finditer(line):
                    t = m.group(1)
                    if re.match(r"[a-z]+:", t):
                        continue
                    if not os.path.exists(os.path.join(root, os.path.dirname(name), t)):
                        problems.append(f"{name}:{i}: dead link {t}")
                for m in ANCHOR.finditer(line):
                    target = os.path.join(root, os.path.dirname(name), m.group(1)) if m.group(1) \
                        else os.path.join(root, name)
                    if target.endswith(".md") and os.path.exists(target) \
                            and m.group(2) not in slugs(target):
                        problems.append(f"{name}:{i}: dead anchor {m.group(1)}#{m.group(2)}")
                for o in OPTION.findall(line):
                    if o not in known and o not in FOREIGN_OPTIONS:
                        problems.append(f"{name}:{i}: unknown option {o} (no command's --help "
                                        "lists it; another tool's: add it to FOREIGN)")
    design = os.path.join(root, "docs", "design.md")
    design_text = open(design, encoding="utf-8").read() if os.path.exists(design) else ""
    for c in sorted(glob.glob(os.path.join(root, "src", "**", "*.c"), recursive=True)):
        stem = os.path.splitext(os.path.basename(c))[0]
        if f"`{stem}`" not in design_text and f"`{stem}.c`" not in design_text:
            problems.append(f"{os.path.relpath(c, root)}: module missing from docs/design.md's "
                            "source layout table")
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    linked = {os.path.normpath(t) for t in LINK.findall(readme)}
    for d in docs:
        if d.startswith("docs/") and d not in linked:
            problems.append(f"{d}: orphan page: the README's documentation index does not link it")
    files = tracked(root)
    outside = [f for f in files if not f.startswith("experiments/")]
    corpus = {}
    for f in outside:
        try:
            corpus[f] = open(os.path.join(root, f), encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            pass
    for f in files:
        if not (f.startswith("docs/") or f.startswith("scripts/")) or f.startswith("scripts/lib/"):
            continue
        base = os.path.basename(f)
        if f.startswith("scripts/bench/"):  # a package: bench.py imports it
            continue
        if not any(base in text for g, text in corpus.items() if g != f):
            problems.append(f"{f}: orphan: no tracked file outside experiments/ names it")
    return problems


def selftest():
    tmp = tempfile.mkdtemp()
    try:
        def tree(readme, page, script_named=True, design="| `src/` | `a` |\n"):
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(os.path.join(tmp, "docs"))
            os.makedirs(os.path.join(tmp, "scripts"))
            os.makedirs(os.path.join(tmp, "src"))
            open(os.path.join(tmp, "src", "a.c"), "w").close()
            open(os.path.join(tmp, "docs", "design.md"), "w").write(design)
            open(os.path.join(tmp, "scripts", "tool.py"), "w").close()
            open(os.path.join(tmp, "README.md"), "w").write(readme)
            open(os.path.join(tmp, "CONTRIBUTING.md"), "w").write(
                "run scripts/tool.py\n" if script_named else "nothing\n")
            open(os.path.join(tmp, "docs", "page.md"), "w").write(page)
        helps = "usage: ebm_mpi train [options]\n  --epochs N   epochs\n"
        good_readme = "[page](docs/page.md#page) [d](docs/design.md) and src/a.c, test_<name>.c in tests/unit/test_<name>.c\n"
        good_page = "# Page\nebm_mpi train --epochs 3; mpirun --oversubscribe; tests/fixtures/vN\n"
        cases = [
            ("good tree", good_readme, good_page, True, 0),
            ("dead path", good_readme + "see src/gone.c\n", good_page, True, 1),
            ("dead link", good_readme + "[x](docs/gone.md)\n", good_page, True, 1),
            ("dead anchor", good_readme + "[x](docs/page.md#gone)\n", good_page, True, 1),
            ("unknown option", good_readme, good_page + "ebm_mpi train --epoch 3\n", True, 1),
            ("orphan page", "src/a.c\n", good_page, True, 1),
            ("orphan script", good_readme, good_page, False, 1),
            ("module not in the layout table", good_readme, good_page, True, 1, "| `src/` | |\n"),
        ]
        bad = 0
        for what, readme, page, named, want, *design in cases:
            tree(readme, page, named, *design)
            got = check(tmp, helps)
            ok = (len(got) == 0) if want == 0 else (len(got) >= 1)
            print(("ok  " if ok else "BAD ") + what + ": " + ("; ".join(got) or "no problem"))
            bad += not ok
        sys.exit(1 if bad else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if sys.argv[1:] == ["--selftest"]:
        selftest()
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, binary = sys.argv[1:]
    problems = check(root, help_text(binary))
    for p in problems:
        print("FAIL:", p)
    if problems:
        sys.exit(1)
    print("PASS: paths, links and options of README.md, CONTRIBUTING.md, docs/*.md and --help; "
          "no orphan page or script")


if __name__ == "__main__":
    main()
