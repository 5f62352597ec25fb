#!/usr/bin/python3
"""check_symbols.py: what libebm_mpi shows the linker is what its public
headers declare.

    check_symbols.py shared LIB.so HEADER...
        the functions the shared library exports (nm -D --defined-only) are
        exactly those the headers declare EBM_MPI_API: none missing, none extra.
    check_symbols.py static LIB.a HEADER...
        every global symbol the archive defines carries the ebm_ prefix (and
        is a declared function), so a user's own symbols cannot collide.
"""
import re
import subprocess
import sys

# A function declaration at the start of a line (with or without the export
# macro: one that lacks it is declared but not exported, which must fail).
DECL = re.compile(r"^(?:EBM_MPI_API\s+)?[A-Za-z_][\w \t*]*?\b(ebm_[a-z0-9_]+)\s*\(", re.M)


def declared(headers):
    names = set()
    for h in headers:
        text = re.sub(r"/\*.*?\*/", "", open(h, encoding="utf-8").read(), flags=re.S)
        text = re.sub(r"^#.*?(?<!\\)$", "", text, flags=re.M | re.S)  # macros
        names |= set(DECL.findall(text))
    return names


def nm(args):
    out = subprocess.run(["nm", *args], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = parts[1]
    return syms


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("shared", "static"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, lib, headers = sys.argv[1], sys.argv[2], sys.argv[3:]
    want = declared(headers)
    if len(want) < 10:
        print(f"FAIL: only {len(want)} declarations found in {headers}: the pattern is broken")
        return 1
    bad = []
    if kind == "shared":
        syms = nm(["-D", "--defined-only", lib])
        got = {s for s, t in syms.items() if t in "TtWiIV" and not s.startswith("_")}
        got |= {s for s, t in syms.items() if t in "BDGRS"}  # exported data: none allowed
        bad += [f"exported but not declared: {s}" for s in sorted(got - want)]
        bad += [f"declared but not exported: {s}" for s in sorted(want - got)]
    else:
        syms = nm(["-g", "--defined-only", lib])
        bad += [f"global symbol without the ebm_ prefix: {s} ({t})" for s, t in sorted(syms.items())
                if not s.startswith("ebm_")]
        bad += [f"global but not declared: {s}" for s in sorted(set(syms) - want)
                if s.startswith("ebm_")]
        bad += [f"declared but not defined: {s}" for s in sorted(want - set(syms))]
    for b in bad:
        print(f"FAIL: {lib}: {b}")
    if bad:
        return 1
    print(f"PASS: {lib}: {'exports' if kind == 'shared' else 'defines as global'} exactly the "
          f"{len(want)} functions the public headers declare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
