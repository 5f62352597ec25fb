#!/usr/bin/python3
"""check_defaults.py: the defaults of `ebm_mpi train` are stated in three
places, and they must agree, for both presets:

  1. what the binary actually uses: `train --dry-run` and
     `train --preset seed --dry-run` print every option's value;
  2. what `train --help` says: "[X]" or "[stable X, seed Y]" after an option;
  3. the option table of docs/usage.md: | `--name METAVAR` | stable | seed | meaning |.

Fails when an option's default in --help is missing from the docs/usage.md table,
when any two of the three disagree (numbers compared as numbers, so 1e-3 and
0.001 agree), or when the table names an option the binary does not have.

usage: check_defaults.py EBM_MPI docs/usage.md
       check_defaults.py --selftest
"""
import re
import subprocess
import sys

# Options whose "default" is a choice rather than a value (the preset itself).
SKIP = {"preset"}


def same(a, b):
    a, b = a.strip().strip("()[]`"), b.strip().strip("()[]`")
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def dry_run(text):
    """{name: value} from --dry-run output."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^--([a-z-]+) (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def help_defaults(text):
    """{name: (stable, seed)} from --help: the default may stand on the
    option's line or, when long, alone on the next one."""
    out, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^  --([a-z-]+)\b", line)
        if m:
            current = m.group(1)
        d = re.search(r"\[(stable (.+), seed (.+)|[^\]]+)\]\s*$", line)
        if current and d and (m or re.match(r"^\s{20,}\[", line)):
            if d.group(2) is not None:
                out[current] = (d.group(2), d.group(3))
            else:
                out[current] = (d.group(1), d.group(1))
    return out


def readme_table(text):
    """{name: (stable, seed)} from the train option table of docs/usage.md."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\| `--([a-z-]+)[^`]*` \| ([^|]*) \| ([^|]*) \|", line)
        if m:
            out[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return out


def compare(binary, helps, table):
    problems = []
    for name, (hs, hd) in helps.items():
        if name in SKIP:
            continue
        if name not in table:
            problems.append(f"--{name}: --help states default [{hs}] but the docs/usage.md table has no row")
            continue
        ts, td = table[name]
        for preset, h, t in (("stable", hs, ts), ("seed", hd, td)):
            b = binary[preset].get(name)
            if b is None:
                problems.append(f"--{name}: the binary prints no value with --preset {preset}")
                continue
            if not same(h, b):
                problems.append(f"--{name} ({preset}): --help says {h}, the binary uses {b}")
            if not same(t, b):
                problems.append(f"--{name} ({preset}): the docs/usage.md table says {t}, the binary uses {b}")
    for name in table:
        if name not in binary["stable"] and name not in SKIP:
            problems.append(f"--{name}: in the docs/usage.md table but not an option of train")
    return problems


def run(ebm, readme):
    def out(*args):
        return subprocess.run([ebm, "train", *args], check=True, capture_output=True,
                              text=True).stdout
    binary = {"stable": dry_run(out("--dry-run")), "seed": dry_run(out("--preset", "seed", "--dry-run"))}
    helps = help_defaults(out("--help"))
    table = readme_table(open(readme, encoding="utf-8").read())
    if len(helps) < 10 or len(table) < 10 or len(binary["stable"]) < 10:
        return [f"too little parsed: {len(helps)} help defaults, {len(table)} table rows, "
                f"{len(binary['stable'])} dry-run values"], 0
    return compare(binary, helps, table), len(helps)


def selftest():
    binary = {"stable": {"lr": "0.001", "epochs": "20"}, "seed": {"lr": "0.001", "epochs": "20"}}
    good_help = {"lr": ("0.001", "0.001"), "epochs": ("20", "20")}
    good_table = {"lr": ("1e-3", "1e-3"), "epochs": ("20", "20")}
    cases = [
        ("agree", binary, good_help, good_table, 0),
        ("help default missing from table", binary, good_help, {"lr": ("1e-3", "1e-3")}, 1),
        ("help wrong", binary, {**good_help, "epochs": ("30", "30")}, good_table, 1),
        ("table wrong for seed", binary, good_help, {**good_table, "lr": ("1e-3", "1")}, 1),
        ("table names a missing option", binary, good_help, {**good_table, "bogus": ("1", "1")}, 1),
    ]
    bad = 0
    for name, b, h, t, want in cases:
        got = len(compare(b, h, t))
        if (got > 0) != (want > 0):
            print(f"FAIL: selftest '{name}': {got} problems")
            bad = 1
    parsed = help_defaults("  --lr X    rate [0.001]\n  --buffer N   a long text\n"
                           "                               [stable 0.05, seed 1]\n")
    if parsed != {"lr": ("0.001", "0.001"), "buffer": ("0.05", "1")}:
        print(f"FAIL: selftest help parsing: {parsed}")
        bad = 1
    if not bad:
        print(f"check_defaults selftest: {len(cases) + 1} cases behave")
    return bad


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    problems, n = run(sys.argv[1], sys.argv[2])
    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    print(f"defaults: {n} options agree between the binary, --help and docs/usage.md, both presets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
