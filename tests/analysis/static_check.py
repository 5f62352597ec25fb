#!/usr/bin/python3
"""static_check.py: two static analysers no one here wrote, over src/, each
finding a failure: gcc's -fanalyzer (each compile of src/ in the build's
compile_commands.json, rerun with -fanalyzer and no object written) and
cppcheck --enable=warning,portability. A finding is fixed in the code or
suppressed in place with its reason: `// cppcheck-suppress <id>` (cppcheck's
--inline-suppr), `#pragma GCC diagnostic ignored "-Wanalyzer-..."` (gcc).

usage: static_check.py SOURCE_DIR BUILD_DIR   exit 0 when both are clean
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def analyzer_commands(source_dir, build_dir):
    """(file, argv) of every compile of a file under src/, made to analyse only."""
    db = os.path.join(build_dir, "compile_commands.json")
    with open(db, encoding="utf-8") as f:
        entries = json.load(f)
    src = os.path.join(os.path.realpath(source_dir), "src") + os.sep
    seen, out = set(), []
    for e in entries:
        path = os.path.realpath(e["file"])
        if not path.startswith(src) or path in seen:
            continue
        seen.add(path)
        argv = e["arguments"] if "arguments" in e else shlex.split(e["command"])
        if "-o" in argv:
            i = argv.index("-o")
            argv = argv[:i] + argv[i + 2:]
        argv = argv + ["-fanalyzer", "-o", os.devnull]
        out.append((os.path.relpath(path, source_dir), argv, e["directory"]))
    return sorted(out)


def run_analyzer(source_dir, build_dir):
    cmds = analyzer_commands(source_dir, build_dir)
    if not cmds:
        print(f"static_check: no compile of {source_dir}/src in {build_dir}/compile_commands.json")
        return 1

    def one(c):
        rel, argv, cwd = c
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        return rel, p.returncode, p.stderr

    findings = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for rel, rc, err in pool.map(one, cmds):
            if rc != 0 or "warning:" in err or "error:" in err:
                findings += 1
                print(f"gcc -fanalyzer: {rel}: exit {rc}\n{err}")
    print(f"gcc -fanalyzer: {len(cmds)} files, {findings} with findings")
    return 1 if findings else 0


def run_cppcheck(source_dir):
    cppcheck = shutil.which("cppcheck")
    if not cppcheck:
        print("static_check: cppcheck not found (Debian package cppcheck)")
        return 1
    src = os.path.join(source_dir, "src")
    p = subprocess.run([cppcheck, "--enable=warning,portability", "--inline-suppr", "--quiet",
                        "--std=c11", "--error-exitcode=3", "-I", src, src],
                       capture_output=True, text=True)
    if p.returncode != 0 or p.stderr.strip():
        print(f"cppcheck: exit {p.returncode}\n{p.stderr}")
        return 1
    print("cppcheck: no findings")
    return 0


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    source_dir, build_dir = sys.argv[1], sys.argv[2]
    rc = run_analyzer(source_dir, build_dir)
    return run_cppcheck(source_dir) or rc


if __name__ == "__main__":
    sys.exit(main())
