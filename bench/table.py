#!/usr/bin/python3
"""table.py -- the table of bench/run.sh from its raw log (RESULT / SGEMM lines).

    /usr/bin/python3 bench/table.py bench/results-<date>.raw.txt [--md FILE] [--command CMD]

Columns, per (case, H, batch, threads):
  seqvid ms         median of libseqvid (OpenBLAS backend, OPENBLAS_CORETYPE=Haswell or run.sh --coretype)
  [onednn ms]       libseqvid built with -DSEQVID_BLAS=onednn (if run), and onednn/seqvid
  [seqvid bf16 ms]  libseqvid with --precision bf16, its experimental bf16 mode: the OpenBLAS
                    build's (its own AVX512-BF16 kernel), else the oneDNN build's (if run;
                    n/a where the CPU or build cannot run bf16)
  [bf16w ms]        libseqvid (OpenBLAS) with its weights stored as bf16, loaded straight into
                    bf16 (--weights bf16: inference cases; if run)
  [packed ms]       libseqvid (OpenBLAS) with its weights stored as float32 plus packed copies
                    (--weights f32-packed, experimental SEQVID_WEIGHTS_F32_PACKED; if run)
  [default ms]      libseqvid with OpenBLAS's default kernels (if run)
  torch inst/tuned  median of the PyTorch peer as installed / tuned (jemalloc + Haswell)
  [torch bf16 ms]   tuned PyTorch with bf16 autocast around the forward (if run)
  x tuned, x inst,  seqvid ms (the OpenBLAS column, or oneDNN's if only it ran) / torch ms
  [x bf16]          (< 1: libseqvid is faster; issue 13's float32 targets: <= 0.3 x tuned and
                    <= 0.6 x bf16 for train at H=256, 512, 2048)
  [bf16w x tuned]   bf16w ms / torch tuned ms (issue 13's targets for encode at H=2048, batch
                    1, with bf16 weights: <= 0.1)
  [packed x tuned]  packed ms / torch tuned ms
  [bf16 x bf16]     seqvid bf16 ms / torch bf16 ms (issue 13's bf16 target: <= 0.4 for train
                    at H=512 and 2048)
  GFLOP/s           the case's GEMM flops (bench_seqvid's plan, dense-equivalent) / seqvid
                    time; on sparse frames the library skips zero pixels, so GFLOP/s and
                    bound/meas can exceed what the dense GEMMs reach ("d=0.5" rows: dense
                    frames, every GEMM runs)
  bound ms          GEMM-only bound at OpenBLAS's rate: each GEMM of the plan at the sgemm
                    rate measured for its shape in the same run (bench/gemm_bound, or the older
                    bench_seqvid --sgemm)
  limit ms          this CPU's float32 limit: each GEMM at the best rate measured for its shape
                    over every implementation timed (OpenBLAS; with --blas onednn also
                    oneDNN's sgemm and matmul, weights reordered once); lim/meas = limit ms /
                    the fastest libseqvid column (issue 13's target: >= 0.7)
  [bf16 lim ms]     the same with bf16 matmuls allowed (AVX512-BF16 CPUs)
  [bw ms]           batch-1 cases: every weight matrix read once per product at the measured
                    memory bandwidth (meaningful when the weights exceed the last-level cache)
  MB                peak RSS of each process (seqvid, [seqvid bf16,] torch installed, torch
                    tuned) and mem x tuned = seqvid MB / torch tuned MB (target for train
                    <= 0.9, for inference <= 0.7); [MB bf16w, bf16w mem x tuned] the same for
                    the bf16w column (target for inference with bf16 weights: <= 0.4); [MB
                    packed, packed mem x tuned] the same for the packed column
Rows "... nn.LSTM" compare libseqvid without peepholes with torch.nn.LSTM.
"""
import argparse
import math
import sys


def parse(path):
    recs, sgemm, bounds, header = [], {}, {}, []
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if line.startswith(("# run.sh", "# options", "# openblas", "CHECK passed",
                                "CHECK FAILED")) or (line.startswith("# ") and "processes" in line):
                header.append(line.rstrip())
            if w[0] not in ("RESULT", "SGEMM", "BOUND"):
                continue
            kv = dict(x.split("=", 1) for x in w[1:] if "=" in x)
            if w[0] == "BOUND":
                bounds.setdefault((kv["case"], int(kv["H"]), int(kv["B"]), int(kv["threads"])),
                                  {})[kv["impl"]] = float(kv["bound_ms"])
            elif w[0] == "SGEMM":
                sgemm[(kv["case"], int(kv["H"]), int(kv["B"]), int(kv["threads"]))] = \
                    float(kv["bound_ms"])
            else:
                recs.append(kv)
    return recs, sgemm, bounds, header


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
    recs, sgemm, bounds, header = parse(a.raw)
    # the kernel set forced on the seqvid and torch tuned runs (run.sh --coretype; older raw
    # files: Haswell)
    coretype = "Haswell"
    for line in header:
        if line.startswith("# openblas kernels:") and "with OPENBLAS_CORETYPE=" in line:
            coretype = line.split("with OPENBLAS_CORETYPE=", 1)[1].split()[0]

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
    have_onednn = any(r.get("impl") == "seqvid" and r.get("env") == "onednn" for r in recs)
    sv16_envs = ("haswell-bf16", "onednn-bf16")  # the bf16 column: OpenBLAS's build if it ran
    have_sv16 = any(r.get("impl") == "seqvid" and r.get("env") in sv16_envs for r in recs)
    have_w16 = any(r.get("impl") == "seqvid" and r.get("env") == "haswell-w16" for r in recs)
    have_pk = any(r.get("impl") == "seqvid" and r.get("env") == "haswell-pk" for r in recs)
    have_bf16 = any(r.get("impl") == "torch" and r.get("env") == "bf16" for r in recs)
    have_limit = any("best_f32" in b for b in bounds.values())
    have_bf16_lim = any("onednn_bf16" in b for b in bounds.values())

    cols = ["case", "H", "B", "thr", "seqvid ms"] + \
        (["onednn ms", "onednn/seqvid"] if have_onednn else []) + \
        (["seqvid bf16 ms"] if have_sv16 else []) + \
        (["bf16w ms"] if have_w16 else []) + (["packed ms"] if have_pk else []) + \
        (["default ms"] if have_default else []) + \
        ["torch inst ms", "torch tuned ms"] + (["torch bf16 ms"] if have_bf16 else []) + \
        ["x tuned", "x inst"] + (["bf16w x tuned"] if have_w16 else []) + \
        (["packed x tuned"] if have_pk else []) + \
        (["x bf16"] if have_bf16 else []) + \
        (["bf16 x bf16"] if have_sv16 and have_bf16 else []) + ["GFLOP/s", "bound ms"] + \
        (["limit ms"] if have_limit else []) + (["bf16 lim ms"] if have_bf16_lim else []) + \
        (["bw ms", "lim/meas"] if have_limit else ["bound/meas"]) + \
        ["MB seqvid"] + (["MB seqvid bf16"] if have_sv16 else []) + \
        ["MB torch inst", "MB torch tuned", "mem x tuned"] + \
        (["MB bf16w", "bf16w mem x tuned"] if have_w16 else []) + \
        (["MB packed", "packed mem x tuned"] if have_pk else [])
    rows = []
    for key in keys:
        for variant in ("peep", "nnlstm"):
            peep = "1" if variant == "peep" else "0"
            s = find(key, impl=("seqvid", None), env=("haswell", None), peep=(peep, "1"))
            on = find(key, impl=("seqvid", None), env=("onednn", None), peep=(peep, "1"))
            s16 = ran16 = None
            for e16 in sv16_envs:
                ran16 = find(key, impl=("seqvid", None), env=(e16, None), peep=(peep, "1"))
                if ran16 is not None:
                    s16 = find(key, impl=("seqvid", None), env=(e16, None), peep=(peep, "1"),
                               precision=("bf16", "f32"))  # f32: bf16 was not in effect
                    break
            tb = find(key, impl=("torch", None), env=("bf16", None), cell=(variant, None))
            w16 = find(key, impl=("seqvid", None), env=("haswell-w16", None), peep=(peep, "1"))
            pk = find(key, impl=("seqvid", None), env=("haswell-pk", None), peep=(peep, "1"))
            if s is None and on is not None:  # only the oneDNN backend ran
                s, on = on, None
            d = find(key, impl=("seqvid", None), env=("default", None), peep=(peep, "1"))
            ti = find(key, impl=("torch", None), env=("installed", None), cell=(variant, None))
            tt = find(key, impl=("torch", None), env=("tuned", None), cell=(variant, None))
            if variant == "nnlstm" and not (ti or tt or tb):
                continue
            ms = lambda r: num(r.get("median_ms")) if r else None  # noqa: E731
            mb = lambda r: num(r.get("rss_mb")) if r else None  # noqa: E731
            sm, tim, ttm, tbm, onm, s16m = ms(s), ms(ti), ms(tt), ms(tb), ms(on), ms(s16)
            ratio = lambda x, y: x / y if x is not None and y else None  # noqa: E731
            bd = bounds.get(key[:4], {})
            bound = bd.get("openblas", sgemm.get(key[:4]))
            fastest = min(v for v in (sm, onm, ms(pk), 1e300) if v is not None)
            fastest = None if fastest == 1e300 else fastest
            s_ok = s is not None and s.get("status") == "ok"
            name = key[0] + ("" if variant == "peep" else " nn.LSTM")
            if key[4] != main_density:
                name += " d=%g" % float(key[4])
            seq_txt = fmt(sm, 2 if sm is not None and sm < 10 else 1) if s else "-"
            if s and s.get("status") == "na":
                seq_txt = "n/a"
            f2 = lambda v: fmt(v, 2 if v is not None and v < 10 else 1)  # noqa: E731
            row = [name, str(key[1]), str(key[2]), str(key[3]), seq_txt]
            if have_onednn:
                row += [f2(onm), fmt(ratio(onm, sm), 2)]
            if have_sv16:
                na = ran16 is not None and s16 is None  # it ran, in float32
                row.append("n/a" if na else f2(s16m))
            if have_w16:
                row.append(f2(ms(w16)) if w16 else "-")
            if have_pk:
                row.append(f2(ms(pk)) if pk else "-")
            if have_default:
                row.append(fmt(ms(d), 1))
            row += [f2(tim), f2(ttm)] + ([f2(tbm)] if have_bf16 else [])
            row += [fmt(ratio(sm, ttm), 2), fmt(ratio(sm, tim), 2)]
            row += [fmt(ratio(ms(w16), ttm), 2) if w16 else "-"] if have_w16 else []
            row += [fmt(ratio(ms(pk), ttm), 2) if pk else "-"] if have_pk else []
            row += [fmt(ratio(sm, tbm), 2)] if have_bf16 else []
            row += [fmt(ratio(s16m, tbm), 2)] if have_sv16 and have_bf16 else []
            row += [fmt(num(s.get("gflops")) if s else None, 1), f2(bound)]
            if have_limit:
                row.append(f2(bd.get("best_f32")))
                if have_bf16_lim:
                    row.append(f2(bd.get("best_bf16")))
                row += [f2(bd.get("bandwidth")) if key[2] == 1 else "-",
                        fmt(ratio(bd.get("best_f32"), fastest), 2)]
            else:
                row.append(fmt(ratio(bound, sm), 2))
            row += [fmt(mb(s) if s_ok else None, 0)] + ([fmt(mb(s16), 0)] if have_sv16 else [])
            row += [fmt(mb(ti), 0), fmt(mb(tt), 0),
                    fmt(ratio(mb(s), mb(tt)) if s_ok else None, 2)]
            if have_w16:
                row += [fmt(mb(w16), 0), fmt(ratio(mb(w16), mb(tt)), 2)] if w16 else ["-", "-"]
            if have_pk:
                row += [fmt(mb(pk), 0), fmt(ratio(mb(pk), mb(tt)), 2)] if pk else ["-", "-"]
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
            f.write("\nseqvid and torch tuned use OPENBLAS_CORETYPE=%s; torch runs with " % coretype +
                    "torch.set_num_threads(1) and OPENBLAS_NUM_THREADS=thr; "
                    "torch tuned preloads libjemalloc.so.2 with "
                    "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1. "
                    "encode = K = 10 frames in one call (seqvid_model_encode); encode_stream = "
                    "the same frames one call each (seqvid_stream_push; in torch one cell step "
                    "per frame).\n")


if __name__ == "__main__":
    sys.exit(main())
