#!/usr/bin/python3
"""table.py -- the table of bench/run.sh from its raw log (RESULT / SGEMM lines).

    /usr/bin/python3 bench/table.py bench/results-<date>.raw.txt [--md FILE] [--command CMD]

Columns, per (case, H, batch, threads):
  seqvid ms         median of libseqvid (OPENBLAS_CORETYPE=Haswell)
  [default ms]      libseqvid with OpenBLAS's default kernels (if run)
  torch inst/tuned  median of the PyTorch peer as installed / tuned (jemalloc + Haswell)
  x tuned, x inst   seqvid ms / torch ms (< 1: libseqvid is faster; issue 8's targets are
                    against tuned: train <= 0.5 at H=2048/B=16, <= 0.6 at H=256/B=16, encode
                    <= 0.5 at H=2048/B=1)
  GFLOP/s           the case's GEMM flops (bench_seqvid's plan, dense-equivalent) / seqvid
                    time; on sparse frames the library skips zero pixels, so GFLOP/s and
                    bound/meas can exceed what the dense GEMMs reach ("d=0.5" rows: dense
                    frames, every GEMM runs)
  bound ms          GEMM-only bound: each GEMM of the plan at the sgemm rate measured for its
                    shape in the same run; bound/meas = bound ms / seqvid ms (target >= 0.75)
  MB                peak RSS of each process (seqvid, torch installed, torch tuned) and
                    mem x tuned = seqvid MB / torch tuned MB (target for train <= 0.9)
Rows "... nn.LSTM" compare libseqvid without peepholes with torch.nn.LSTM.
"""
import argparse
import math
import sys


def parse(path):
    recs, sgemm, header = [], {}, []
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if line.startswith(("# run.sh", "# options", "# openblas", "CHECK passed",
                                "CHECK FAILED")) or (line.startswith("# ") and "processes" in line):
                header.append(line.rstrip())
            if w[0] not in ("RESULT", "SGEMM"):
                continue
            kv = dict(x.split("=", 1) for x in w[1:] if "=" in x)
            if w[0] == "SGEMM":
                sgemm[(kv["case"], int(kv["H"]), int(kv["B"]), int(kv["threads"]))] = \
                    float(kv["bound_ms"])
            else:
                recs.append(kv)
    return recs, sgemm, header


def num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt(v, nd=1):
    if v is None:
        return "-"
    if nd == 0 or abs(v) >= 1000:
        return "%.0f" % v
    return "%.*f" % (nd, v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--md", help="also write a markdown file")
    ap.add_argument("--command", default="", help="the command that made the raw log")
    a = ap.parse_args()
    recs, sgemm, header = parse(a.raw)

    def rkey(r):
        return (r["case"], int(r["H"]), int(r["B"]), int(r["threads"]), r.get("density", "-"))

    def find(key, **want):
        for r in recs:
            if rkey(r) != key:
                continue
            if all(r.get(k, dflt) == v for k, (v, dflt) in want.items()):
                return r
        return None

    keys = []
    for r in recs:
        if rkey(r) not in keys:
            keys.append(rkey(r))
    densities = [r.get("density", "-") for r in recs]
    main_density = max(set(densities), key=densities.count) if densities else "-"
    have_default = any(r.get("impl") == "seqvid" and r.get("env") == "default" for r in recs)

    cols = ["case", "H", "B", "thr", "seqvid ms"] + (["default ms"] if have_default else []) + \
        ["torch inst ms", "torch tuned ms", "x tuned", "x inst", "GFLOP/s", "bound ms",
         "bound/meas", "MB seqvid", "MB torch inst", "MB torch tuned", "mem x tuned"]
    rows = []
    for key in keys:
        for variant in ("peep", "nnlstm"):
            peep = "1" if variant == "peep" else "0"
            s = find(key, impl=("seqvid", None), env=("haswell", None), peep=(peep, "1"))
            d = find(key, impl=("seqvid", None), env=("default", None), peep=(peep, "1"))
            ti = find(key, impl=("torch", None), env=("installed", None), cell=(variant, None))
            tt = find(key, impl=("torch", None), env=("tuned", None), cell=(variant, None))
            if variant == "nnlstm" and not (ti or tt):
                continue
            ms = lambda r: num(r.get("median_ms")) if r else None  # noqa: E731
            mb = lambda r: num(r.get("rss_mb")) if r else None  # noqa: E731
            sm, tim, ttm = ms(s), ms(ti), ms(tt)
            ratio = lambda x, y: x / y if x is not None and y else None  # noqa: E731
            bound = sgemm.get(key[:4])
            s_ok = s is not None and s.get("status") == "ok"
            name = key[0] + ("" if variant == "peep" else " nn.LSTM")
            if key[4] != main_density:
                name += " d=%g" % float(key[4])
            seq_txt = fmt(sm, 2 if sm is not None and sm < 10 else 1) if s else "-"
            if s and s.get("status") == "na":
                seq_txt = "n/a"
            row = [name, str(key[1]), str(key[2]), str(key[3]), seq_txt]
            if have_default:
                row.append(fmt(ms(d), 1))
            row += [fmt(tim, 2 if tim is not None and tim < 10 else 1),
                    fmt(ttm, 2 if ttm is not None and ttm < 10 else 1),
                    fmt(ratio(sm, ttm), 2), fmt(ratio(sm, tim), 2),
                    fmt(num(s.get("gflops")) if s else None, 1),
                    fmt(bound, 2 if bound is not None and bound < 10 else 1),
                    fmt(ratio(bound, sm), 2),
                    fmt(mb(s) if s_ok else None, 0), fmt(mb(ti), 0), fmt(mb(tt), 0),
                    fmt(ratio(mb(s), mb(tt)) if s_ok else None, 2)]
            rows.append(row)

    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(cols))
    for r in rows:
        print(line(r))

    if a.md:
        with open(a.md, "w") as f:
            f.write("# libseqvid vs PyTorch: benchmark results\n\n")
            if a.command:
                f.write("Command: `%s` (from the repository root, on a quiet machine).\n\n"
                        % a.command)
            f.write("```\n%s\n```\n\n" % "\n".join(header))
            f.write("| " + " | ".join(cols) + " |\n")
            f.write("|" + "|".join("---" if i < 1 else "---:" for i in range(len(cols))) + "|\n")
            for r in rows:
                f.write("| " + " | ".join(r) + " |\n")
            legend = __doc__.split("Columns, ", 1)[1].replace(
                "per (case, H, batch, threads):", "per (case, H, batch B, BLAS threads thr):")
            f.write("\nColumns, " + legend.split("\n", 1)[0] + "\n\n```text\n" +
                    legend.split("\n", 1)[1].rstrip() + "\n```\n")
            f.write("\nseqvid and torch tuned use OPENBLAS_CORETYPE=Haswell; torch runs with "
                    "torch.set_num_threads(1) and OPENBLAS_NUM_THREADS=thr; "
                    "torch tuned preloads libjemalloc.so.2 with "
                    "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1. "
                    "encode = K = 10 frames in one call (seqvid_model_encode); encode_stream = "
                    "the same frames one call each (seqvid_stream_push; in torch one cell step "
                    "per frame).\n")


if __name__ == "__main__":
    sys.exit(main())
