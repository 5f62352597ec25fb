#!/usr/bin/python3
"""Prints the final table's markdown from run.sh's .tsv files (this folder):
one row per run, then per preset the median and range over its runs."""
import collections
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))


def rows(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return []
    return [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]


def main():
    train = {r[0]: r for r in rows("train.tsv")}
    ev = {r[0]: r for r in rows("eval.tsv")}
    ll = collections.defaultdict(dict)
    for r in rows("loglik.tsv"):
        ll[r[0]][int(r[1])] = r
    sm = collections.defaultdict(dict)
    for r in rows("samples.tsv"):
        sm[r[0]][(r[1], int(r[2]))] = r
    names = sorted(set(train) | set(ev), key=lambda n: (n.split("-")[0], int(n.split("-")[1][2:]),
                                                         int(n.split("-")[2][1:])))
    print("| run | train s | rollbacks | val err % | test err % | ECE | AUROC uniform / shuffled "
          "(energy) | T | AIS (ESS/64) | RAISE | judged | base alone | kernel 2000 P / R / FD / copies "
          "| MALA 2000 P / R / FD |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|")
    for n in names:
        t = train.get(n, [n, "", "", "", "", ""])
        e = ev.get(n)
        err = f"{e[1]} | {e[3]} | {e[4]} | {e[5]} / {e[7]}" if e else " | | | "
        lrow = ll[n].get(1000) or (ll[n][max(ll[n])] if ll[n] else None)
        lcol = (f"{lrow[1]} | {lrow[2]} ({lrow[3]}) | {lrow[4]} | **{lrow[5]}** | {lrow[6]}"
                if lrow else " | | | | ")
        k = sm[n].get(("kernel", 2000))
        m = sm[n].get(("mala", 2000))
        kcol = f"{k[3]} / {k[4]} / {k[5]} / {k[6]}" if k else ""
        mcol = f"{m[3]} / {m[4]} / {m[5]}" if m else ""
        print(f"| {n} | {t[4]} | {t[5]} | {err} | {lcol} | {kcol} | {mcol} |")
    print()
    for preset in ("plain", "default", "density"):
        runs = [n for n in names if n.startswith(preset + "-") and "-np2-" not in n and not n.endswith("-ratio")]
        te = [float(ev[n][3]) for n in runs if n in ev]
        ece = [float(ev[n][4]) for n in runs if n in ev]
        au = [float(ev[n][5]) for n in runs if n in ev]
        ash = [float(ev[n][7]) for n in runs if n in ev]
        j = [float(ll[n][1000][5]) for n in runs if 1000 in ll[n]]
        j6 = [float(ll[n][6400][5]) for n in runs if 6400 in ll[n]]
        base = [float(ll[n][6400][6]) for n in runs if 6400 in ll[n] and ll[n][6400][6]]
        rb = sum(int(train[n][5]) for n in runs if n in train)
        def med(v, g=2):
            return (f"{statistics.median(v):.{g}f} ({min(v):.{g}f} to {max(v):.{g}f}; {len(v)} runs)"
                    if v else "-")
        print(f"{preset}: test error {med(te)}; ECE {med(ece, 4)}; AUROC uniform {med(au, 4)}, "
              f"shuffled {med(ash, 4)}; judged T=1000 {med(j)}; "
              f"judged T=6400 {med(j6)}, over the base {med([a - b for a, b in zip(j6, base)])}; rollbacks {rb}")
        for key in sorted({k for n in runs for k in sm[n]}):
            v = [sm[n][key] for n in runs if key in sm[n]]
            p = [float(r[3]) for r in v]
            rc = [float(r[4]) for r in v]
            fd = [float(r[5]) for r in v]
            cp = [float(r[6]) for r in v if r[6]]
            print(f"  samples {key[0]} {key[1]}: P {med(p, 3)}, R {med(rc, 3)}, FD {med(fd, 1)}, copies {med(cp, 3)}")


if __name__ == "__main__":
    main()
