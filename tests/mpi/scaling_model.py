#!/usr/bin/python3
"""scaling_model.py -- the scaling model of docs/distributed.md, section 5, on paper.

Inputs are measured on one machine with tests/mpi/bench_mpi.sh (H = 2048, conditional
decoders, batch 16: the SR15 shapes) and scaled to a cluster node by stated factors:

  t_seq      seconds of gradient computation per sequence on the measured machine
  fixed      seconds per step per rank that do not shrink with more ranks: the three passes
             over the arena (maxima, pack, unpack) and the optimizer update (every rank
             updates the whole model)
  node       a cluster node = `speedup` x the measured machine for compute and
             `bw_speedup` x for the memory-bound fixed part

Per step on p nodes (one rank per node; ranks per socket behave the same with p counting
sockets and the on-node links being faster), global batch B:

  T(p) = B/p * t_seq/speedup  +  fixed/bw_speedup  +  allreduce(p)
  allreduce(p) = 2 (p-1)/p * bytes / bandwidth  +  2 (p-1) * latency      (ring)
  bytes = 4 n (the int32 arena)  +  n/32 (the agreement: one double per 256 parameters)
  efficiency E(p) = T(1) / (p T(p))
  --weak: the batch per node stays B (global batch p B): E(p) = T(1) / T(p)

usage: scaling_model.py --t-seq S --fixed S [--speedup 16 --bw-speedup 8 --batch 80 --weak]
"""
import argparse

CONFIGS = {  # SR15 composite, D = 4096, H = 2048, K = M = 10: parameters, GFLOP per sequence
    "SR15 conditional (671 MB)": 167_823_360,
    "SR15 unconditioned (403 MB)": 100_714_496,
}
GFLOP_PER_SEQ = {"SR15 conditional (671 MB)": 10.07, "SR15 unconditioned (403 MB)": 6.04}
LINKS = {"10 Gb/s": (10e9 / 8, 25e-6), "100 Gb/s": (100e9 / 8, 3e-6)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--t-seq", type=float, required=True, help="s per sequence, conditional model")
    ap.add_argument("--fixed", type=float, required=True, help="s per step per rank, conditional model")
    ap.add_argument("--speedup", type=float, default=16.0)
    ap.add_argument("--bw-speedup", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=80)
    ap.add_argument("--nodes", default="1,2,4,8,16,32")
    ap.add_argument("--weak", action="store_true",
                    help="batch per node fixed (global batch = batch x nodes) instead of global")
    a = ap.parse_args()
    nodes = [int(x) for x in a.nodes.split(",")]
    cond = "SR15 conditional (671 MB)"
    for name, n in CONFIGS.items():
        # Compute scales with the model's FLOPs, the fixed part with its parameter count.
        t_seq = a.t_seq * GFLOP_PER_SEQ[name] / GFLOP_PER_SEQ[cond] / a.speedup
        fixed = a.fixed * n / CONFIGS[cond] / a.bw_speedup
        nbytes = 4 * n + n / 32
        print(f"\n{name}: n = {n / 1e6:.1f} M parameters, {nbytes / 1e6:.0f} MB allreduced per step; "
              f"node: {a.batch} sequences in {a.batch * t_seq:.3f} s, fixed {fixed * 1e3:.0f} ms\n")
        print("| nodes | batch/node | compute s | fixed s | allreduce 10 Gb/s | allreduce 100 Gb/s "
              "| step 10 Gb/s | step 100 Gb/s | efficiency 10 Gb/s | efficiency 100 Gb/s |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        t1 = a.batch * t_seq + fixed
        for p in nodes:
            per_node = a.batch if a.weak else a.batch / p
            comp = per_node * t_seq
            row = [f"{p}", f"{per_node:g}", f"{comp:.3f}", f"{fixed:.3f}"]
            steps, effs = [], []
            for bw, lat in LINKS.values():
                ar = 2 * (p - 1) / p * nbytes / bw + 2 * (p - 1) * lat
                row.append(f"{ar:.3f}")
                t = comp + fixed + ar
                steps.append(f"{t:.3f}")
                effs.append(f"{100 * t1 / (t if a.weak else p * t):.0f}%")
            print("| " + " | ".join(row + steps + effs) + " |")


if __name__ == "__main__":
    main()
