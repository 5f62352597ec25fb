#!/usr/bin/python3
"""check_manpage.py: the generated man page and bash completion list exactly
the options that `--help` lists, command by command.

    check_manpage.py EBM_MPI MAN_PAGE COMPLETION

From the binary: the commands its usage names ("ebm_mpi CMD ..."), and for
each, the options of `ebm_mpi CMD --help` (lines "  --name ..."); the
program's own options from the usage line "ebm_mpi --help | --version ...".
From the man page (roff, as help2man writes it): the tag of every .TP
paragraph under the heading "Options of CMD:". When `man` is installed, the
rendered page (`man -l`) must also show every option. From the completion:
what bash offers after "ebm_mpi CMD --" and after "ebm_mpi ". Any difference
fails, naming the option and where it is missing or extra.
"""
import re
import shutil
import subprocess
import sys


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def help_options(binary):
    main = run(binary, "--help")
    cmds = []
    for m in re.finditer(r"ebm_mpi ([a-z]+) ", main):
        if m.group(1) not in cmds:
            cmds.append(m.group(1))
    top = []
    for line in main.splitlines():
        if re.match(r"^\s*(usage: )?ebm_mpi --", line):
            top += [o for o in re.findall(r"--[a-z][a-z-]*", line) if o not in top]
    per_cmd = {c: re.findall(r"^  (--[a-z][a-z-]*)", run(binary, c, "--help"), re.M) for c in cmds}
    return cmds, top, per_cmd


def unroff(s):
    return re.sub(r"\\f[BIRP]", "", s).replace("\\-", "-")


def man_options(text):
    out, cmd, lines = {}, None, text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'^\.S[SH] "?Options of ([a-z]+):"?$', line)
        if m:
            cmd = m.group(1)
            out[cmd] = []
        elif line.startswith((".SS", ".SH")):
            cmd = None
        elif cmd and line == ".TP" and i + 1 < len(lines):
            tag = unroff(lines[i + 1]).split()
            if tag and tag[0].startswith("--"):
                out[cmd].append(tag[0])
    return out


def completion(path, words):
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ebm_mpi; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    return run("bash", "-c", script, "check", path, *words).split()


def compare(what, expected, got, problems):
    for o in expected:
        if o not in got:
            problems.append(f"{what}: {o} is in --help but missing")
    for o in got:
        if o not in expected:
            problems.append(f"{what}: {o} is listed but not in --help")
    if len(set(got)) != len(got):
        problems.append(f"{what}: an option is listed twice: {got}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, page, comp = sys.argv[1:]
    cmds, top, per_cmd = help_options(binary)
    if not cmds or not all(per_cmd.values()):
        sys.exit(f"FAIL: no commands or options read from {binary} --help: {per_cmd}")
    problems = []
    roff = open(page).read()
    man = man_options(roff)
    for c in cmds:
        compare(f"man page, {c}", per_cmd[c], man.get(c, []), problems)
        compare(f"completion, {c}", per_cmd[c], completion(comp, ["ebm_mpi", c, "--"]), problems)
    compare("completion, ebm_mpi", cmds + top, completion(comp, ["ebm_mpi", ""]), problems)
    if shutil.which("man"):
        shown = subprocess.run(["man", "-l", page], capture_output=True, text=True,
                               env={"MANWIDTH": "200", "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}).stdout
        shown = re.sub(r".\x08", "", shown).replace("\u2010", "-")
        for c in cmds:
            for o in per_cmd[c]:
                if not re.search(r"^\s+" + re.escape(o) + r"\b", shown, re.M):
                    problems.append(f"man -l {page}: {o} ({c}) not shown")
    for p in problems:
        print("FAIL:", p)
    if problems:
        sys.exit(1)
    n = sum(len(v) for v in per_cmd.values())
    print(f"PASS: {n} options of {len(cmds)} commands ({', '.join(cmds)}) in the man page and the completion")


if __name__ == "__main__":
    main()
