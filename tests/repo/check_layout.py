#!/usr/bin/python3
"""check_layout.py: the source layout's rules (docs/design.md section 6) that
the build cannot enforce by itself, checked on the source tree:

  - <mpi.h> is included only under src/par/ (the build also refuses it) and
    by the one public header that may: include/ebm_mpi/ebm_mpi_mpi.h;
  - the public headers (include/ebm_mpi/) include no HDF5 or BLAS header
    and no internal header (src/...): a user compiles against them alone;
  - <hdf5.h> is included, and H5*() called, only under src/io/;
  - <cblas.h> and <blis.h> are included, and cblas_*/openblas_*/bli_*
    called, only under src/num/ (Debian has a cblas.h on the default include
    path, so only this test catches it);
  - getenv() is called only in src/main.c (start-up reads the environment);
  - every module src/<folder>/<name>.c has its unit test tests/unit/test_<name>.c
    (the commands, main.c, infer.c and src/train/, are tested through the
    binary by the MPI tests instead; the public calls, src/api/, as users
    call them, by tests/api).

usage: check_layout.py SOURCE_DIR      exit 0 when every rule holds
       check_layout.py --selftest      shows each rule can fail
"""
import os
import re
import shutil
import sys
import tempfile

# (what, pattern, the only place it may appear)
RULES = [
    ("#include <mpi.h>", re.compile(r'#\s*include\s*[<"]mpi\.h[>"]'),
     ("src/par/", "include/ebm_mpi/ebm_mpi_mpi.h")),
    ("#include <hdf5.h>", re.compile(r'#\s*include\s*[<"]hdf5\.h[>"]'), "src/io/"),
    ("an HDF5 call", re.compile(r"\bH5[A-Z][A-Za-z0-9_]*\s*\("), "src/io/"),
    ("#include <cblas.h>", re.compile(r'#\s*include\s*[<"](cblas|blis)\.h[>"]'), "src/num/"),
    ("a BLAS call", re.compile(r"\b(cblas_|openblas_|bli_)[a-z0-9_]+\s*\("), "src/num/"),
    ("getenv()", re.compile(r"\bgetenv\s*\("), "src/main.c"),
]
# Only under include/: what a public header may include (the C library and
# its own headers; ebm_mpi_mpi.h also mpi.h, by the rule above).
PUBLIC_INCLUDE = re.compile(r'#\s*include\s*[<"]([^>"]+)[>"]')
PUBLIC_ALLOWED = re.compile(r"^(std[a-z]*\.h|limits\.h|ebm_mpi/[a-z_]+\.h|mpi\.h)$")
# Tested through the binary (tests/mpi, tests/cli) or as users call them
# (tests/api), not as units.
COMMANDS = ("src/main.c", "src/infer.c", "src/train/", "src/api/")


def strip_comments(text):
    """C source without /* */ and // comments (strings kept: none hold these)."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def sources(root):
    out = []
    for top in ("src", "include"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(out)


def check(root):
    problems = []
    srcs = sources(root)
    for rel in srcs:
        text = strip_comments(open(os.path.join(root, rel), encoding="utf-8").read())
        for lineno, line in enumerate(text.split("\n"), 1):
            for what, pattern, allowed in RULES:
                if pattern.search(line) and not rel.startswith(allowed):
                    where = allowed if isinstance(allowed, str) else " or ".join(allowed)
                    problems.append(f"{rel}:{lineno}: {what} outside {where}: {line.strip()}")
            m = PUBLIC_INCLUDE.search(line)
            if rel.startswith("include/") and m and not PUBLIC_ALLOWED.match(m.group(1)):
                problems.append(f"{rel}:{lineno}: a public header includes {m.group(1)}: "
                                "users compile against include/ alone")
    for rel in srcs:
        if not rel.startswith("src/") or not rel.endswith(".c") or rel.startswith(COMMANDS):
            continue
        name = os.path.basename(rel)[:-2]
        test = os.path.join("tests", "unit", f"test_{name}.c")
        if not os.path.exists(os.path.join(root, test)):
            problems.append(f"{rel}: no unit test file {test}")
    return problems, len(srcs)


def selftest():
    cases = [  # (name, files, must pass)
        ("clean", {}, True),
        ("mpi outside par", {"src/core/x.c": "#include <mpi.h>\n"}, False),
        ("hdf5 outside io", {"src/ckpt.c": "#include <hdf5.h>\n"}, False),
        ("H5 call outside io", {"src/ckpt.c": "int f(void) { return H5Fclose(0); }\n"}, False),
        ("blas outside num", {"src/main.c": "void g(void) { openblas_set_num_threads(1); }\n"},
         False),
        ("blis outside num", {"src/core/err.c": "void g(void) { bli_thread_set_num_threads(1); }\n"},
         False),
        ("blis.h outside num", {"src/train/loop.c": "#include <blis.h>\n"}, False),
        ("getenv outside main", {"src/train/loop.c": 'char *h(void) { return getenv("X"); }\n'},
         False),
        ("module without test", {"src/core/new.c": "int z;\n"}, False),
        ("in a comment", {"src/core/err.c": "/* getenv( H5Fopen( <mpi.h> */\nint q;\n"}, True),
        ("mpi.h in the main public header",
         {"include/ebm_mpi/ebm_mpi.h": "#include <mpi.h>\n"}, False),
        ("mpi.h in the communicator header",
         {"include/ebm_mpi/ebm_mpi_mpi.h": "#include <mpi.h>\n#include \"ebm_mpi/ebm_mpi.h\"\n"},
         True),
        ("hdf5.h in a public header", {"include/ebm_mpi/ebm_mpi.h": "#include <hdf5.h>\n"},
         False),
        ("an internal header in a public one",
         {"include/ebm_mpi/ebm_mpi.h": '#include "core/err.h"\n'}, False),
        ("the API tested as users call it", {"src/api/api_model.c": "int m;\n"}, True),
    ]
    base = {"src/main.c": "int main(void) { return 0; }\n", "src/par/dist.c": "#include <mpi.h>\n",
            "include/ebm_mpi/ebm_mpi.h": "#include <stddef.h>\n#include <stdint.h>\n",
            "src/io/h5file.c": "#include <hdf5.h>\nint a(void) { return H5open(); }\n",
            "src/num/blas.c": "#include <cblas.h>\n", "src/core/err.c": "int e;\n",
            "src/ckpt.c": "int c;\n", "src/train/loop.c": "int l;\n",
            "tests/unit/test_dist.c": "", "tests/unit/test_h5file.c": "",
            "tests/unit/test_blas.c": "", "tests/unit/test_err.c": "", "tests/unit/test_ckpt.c": ""}
    bad = 0
    for name, files, must_pass in cases:
        d = tempfile.mkdtemp(prefix="check_layout.")
        try:
            for rel, text in {**base, **files}.items():
                os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
                with open(os.path.join(d, rel), "w") as f:
                    f.write(text)
            problems, _ = check(d)
            if (not problems) != must_pass:
                print(f"FAIL: selftest case '{name}': problems {problems}")
                bad = 1
        finally:
            shutil.rmtree(d)
    if bad:
        return 1
    print(f"check_layout selftest: {len(cases)} cases behave")
    return 0


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems, n = check(sys.argv[1])
    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    print(f"layout: {n} source files, every boundary holds, every module has its unit test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
