#!/usr/bin/python3
"""torch_composite.py -- the PyTorch peer of bench_seqvid (issue 8).

The same model and shapes as bench/bench_seqvid.c: the SR15 composite (one encoder, a
reconstruction and a future decoder, both conditional), 1 layer, D = 4096 binary frames (a
fraction --density of ones, 0.07 by default as Moving MNIST), K = M = 10, readouts +
BCE-with-logits (summed over pixels, averaged over frames: nats/frame).

--cell peep    the SR15 peephole cell written as explicit tensor ops (nn.LSTM has no
               peepholes): the input projections of all steps in one addmm, one addmm per step
               for the recurrent product, the gate math as element-wise ops; autograd does BPTT.
--cell nnlstm  torch.nn.LSTM (no peepholes, cuDNN-style fused layer on CPU) for reference;
               its conditional decoders are fed a zero frame at step 0 (nn.LSTM has no
               "no input at this step"), a little extra work the peephole version skips.

Cases: train (forward + backward + optimizer step), eval_tf (teacher-forced losses, no_grad),
eval_inf (the future predictor fed its own sigmoid outputs step by step; the reconstruction
decoder is fed the truth, as libseqvid's default, which is the teacher-forced computation),
encode (K frames in one encoder call), encode_stream (the same K frames one call per frame,
the state kept between calls).

Threads: torch's own pool is set with torch.set_num_threads (--torch-threads, 1 by default);
the GEMMs run in OpenBLAS, whose pool only OPENBLAS_NUM_THREADS governs, so --threads sets that
variable before torch is imported. Peak memory: resource.getrusage ru_maxrss of this process
(run one case per process, as bench/run.sh does).

Prints lines in bench_seqvid's format:
  RESULT impl=torch cell=peep env=tuned case=train H=256 B=16 threads=2 ... median_ms=... rss_mb=...
"""
import argparse
import os
import resource
import sys
import time

WARM_S = 0.5  # seconds of warm-up at least
CASES = ["train", "eval_tf", "eval_inf", "encode", "encode_stream"]


def int_list(s):
    return [int(v) for v in s.split(",")]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", default="train", help="comma list of %s, or all" % ",".join(CASES))
    ap.add_argument("--hidden", type=int_list, default=[256])
    ap.add_argument("--batch", type=int_list, default=[16], help="batch of train/eval")
    ap.add_argument("--encode-batch", type=int_list, default=[1])
    ap.add_argument("--threads", type=int, default=1,
                    help="OpenBLAS threads (OPENBLAS_NUM_THREADS); 0 = all cores")
    ap.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--cell", choices=["peep", "nnlstm"], default="peep")
    ap.add_argument("--opt", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--density", type=float, default=0.07,
                    help="fraction of ones in the binary frames (Moving MNIST: ~0.07)")
    ap.add_argument("--in-frames", type=int, default=10)
    ap.add_argument("--fut-frames", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--min-reps", type=int, default=3)
    ap.add_argument("--budget", type=float, default=3.0)
    ap.add_argument("--long", type=float, default=4.0)
    ap.add_argument("--label", default="installed", help="env= tag of the RESULT lines")
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none",
                    help="bf16: torch.cpu.amp.autocast(dtype=torch.bfloat16) around every "
                         "forward (PyTorch's fastest CPU path on AVX512-BF16: oneDNN's bf16 "
                         "matmuls); use with --torch-threads = --threads, oneDNN runs on "
                         "torch's own pool")
    ap.add_argument("--check", metavar="PREFIX",
                    help="load bench_seqvid --dump PREFIX's weights, compare losses and "
                         "gradients with libseqvid's (exit 1 on a mismatch), time nothing")
    a = ap.parse_args()
    a.case = CASES if a.case == "all" else a.case.split(",")
    for c in a.case:
        if c not in CASES:
            ap.error("unknown case %s" % c)
    a.min_reps = min(a.min_reps, a.reps)
    return a


args = parse_args()
# Before torch (and the OpenBLAS it links) is loaded: OpenBLAS reads this once, at load time.
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads if args.threads > 0 else os.cpu_count())

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.torch_threads)


def forward_ctx():
    """The context of every forward pass: bf16 autocast (--autocast bf16) or nothing."""
    if args.autocast == "bf16":
        return torch.cpu.amp.autocast(dtype=torch.bfloat16)
    import contextlib
    return contextlib.nullcontext()
INIT_W, INIT_P = 0.01, 0.1  # SR15: weights U(-0.01, 0.01), peepholes U(-0.1, 0.1), biases 0


class PeepLayer(nn.Module):
    """One SR15 LSTM layer, gate order i, f, g, o; p_i, p_f read c_{t-1}, p_o reads c_t."""

    def __init__(self, D, H, peep=True):
        super().__init__()
        G = 4 * H
        self.wx = nn.Parameter(torch.empty(G, D).uniform_(-INIT_W, INIT_W))
        self.wh = nn.Parameter(torch.empty(G, H).uniform_(-INIT_W, INIT_W))
        self.p = nn.Parameter(torch.empty(3, H).uniform_(-INIT_P, INIT_P)) if peep else None
        self.b = nn.Parameter(torch.zeros(G))

    def cell(self, a, h, c):
        """a: input part of the pre-activations incl. bias, or None (no input this step);
        h, c: state, or None for the zero state (no recurrent product then)."""
        if h is not None:
            a = torch.addmm(self.b if a is None else a, h, self.wh.t())
        elif a is None:
            a = self.b.expand(1, -1)
        ai, af, ag, ao = a.chunk(4, 1)
        p = self.p
        if p is not None and c is not None:
            i, f = torch.sigmoid(ai + p[0] * c), torch.sigmoid(af + p[1] * c)
        else:
            i, f = torch.sigmoid(ai), torch.sigmoid(af)
        g = torch.tanh(ag)
        c = i * g if c is None else f * c + i * g
        o = torch.sigmoid(ao + p[2] * c) if p is not None else torch.sigmoid(ao)
        return o * torch.tanh(c), c

    def forward(self, X, x_t0, T, h, c):
        """T steps; X [T - x_t0, B, D] holds the inputs of steps x_t0..T-1 (None: no input).
        Returns the hidden states [T, B, H] and the final (h, c)."""
        xp = None
        if X is not None:  # all input projections (with the bias) in one GEMM
            n, B, D = X.shape
            xp = torch.addmm(self.b, X.reshape(n * B, D), self.wx.t()).view(n, B, -1)
        hs = []
        for t in range(T):
            h, c = self.cell(xp[t - x_t0] if xp is not None and t >= x_t0 else None, h, c)
            hs.append(h)
        return torch.stack(hs), h, c

    def step(self, x, h, c):
        """One streaming step on frame x [B, D] (None: no input)."""
        return self.cell(None if x is None else torch.addmm(self.b, x, self.wx.t()), h, c)


class NNLSTMLayer(nn.Module):
    """torch.nn.LSTM (no peepholes) behind the same interface."""

    def __init__(self, D, H):
        super().__init__()
        self.D = D
        self.lstm = nn.LSTM(D, H)
        with torch.no_grad():
            for name, w in self.lstm.named_parameters():
                w.uniform_(-INIT_W, INIT_W) if name.startswith("weight") else w.zero_()

    def forward(self, X, x_t0, T, h, c):
        B = X.shape[1] if X is not None else h.shape[0]
        if X is None:
            X = torch.zeros(T, B, self.D)
        elif x_t0:  # steps without input get a zero frame
            X = torch.cat([X.new_zeros(x_t0, B, self.D), X])
        out, (hn, cn) = self.lstm(X, None if h is None else (h[None], c[None]))
        return out, hn[0], cn[0]

    def step(self, x, h, c):
        if x is None:
            x = torch.zeros(h.shape[0], self.D)
        _, (hn, cn) = self.lstm(x[None], None if h is None else (h[None], c[None]))
        return hn[0], cn[0]


class Composite(nn.Module):
    def __init__(self, D, H, K, M, cell):
        super().__init__()
        self.K, self.M = K, M
        make = (lambda: PeepLayer(D, H)) if cell == "peep" else (lambda: NNLSTMLayer(D, H))
        self.enc, self.rec, self.fut = make(), make(), make()
        self.rec_out, self.fut_out = nn.Linear(H, D), nn.Linear(H, D)
        with torch.no_grad():
            for lin in (self.rec_out, self.fut_out):
                lin.weight.uniform_(-INIT_W, INIT_W)
                lin.bias.zero_()

    def encode(self, X):
        _, h, c = self.enc(X, 0, X.shape[0], None, None)
        return h, c

    def encode_stream(self, X):
        h = c = None
        for t in range(X.shape[0]):
            h, c = self.enc.step(X[t], h, c)
        return h, c

    def losses(self, X, inference=False):
        """(rec, fut) in nats per frame on X [K+M, B, D]."""
        K, M, B = self.K, self.M, X.shape[1]
        h, c = self.encode(X[:K])
        rtgt = X[:K].flip(0)  # the reconstruction targets: the input reversed
        hr, _, _ = self.rec(rtgt[:K - 1], 1, K, h, c)  # step t > 0 reads target t-1
        lr = F.binary_cross_entropy_with_logits(self.rec_out(hr), rtgt, reduction="sum")
        ftgt = X[K:K + M]
        if not inference:
            hf, _, _ = self.fut(ftgt[:M - 1], 1, M, h, c)
            lf = F.binary_cross_entropy_with_logits(self.fut_out(hf), ftgt, reduction="sum")
        else:  # fed its own predictions, one step at a time
            lf, prev = 0.0, None
            for t in range(M):
                h, c = self.fut.step(prev, h, c)
                y = self.fut_out(h)
                lf = lf + F.binary_cross_entropy_with_logits(y, ftgt[t], reduction="sum")
                prev = torch.sigmoid(y)
        return lr / (K * B), lf / (M * B)


class SR15SGD:
    """libseqvid's SGD (SR15 as run): v <- mu v - lr (g + wd w); v <- clamp(v, +-clip);
    w <- w + v. torch.optim.SGD has no per-element update clip."""

    def __init__(self, params, lr=1e-4, mu=0.9, wd=1e-4, clip=1e-4):
        self.params = list(params)
        self.v = [torch.zeros_like(p) for p in self.params]
        self.lr, self.mu, self.wd, self.clip = lr, mu, wd, clip

    @torch.no_grad()
    def step(self):
        for p, v in zip(self.params, self.v):
            v.mul_(self.mu).add_(p.grad, alpha=-self.lr).add_(p, alpha=-self.lr * self.wd)
            v.clamp_(-self.clip, self.clip)
            p.add_(v)

    def zero_grad(self):
        for p in self.params:
            p.grad = None  # set_to_none: the fast path PyTorch recommends


def binary_frames(T, S, D, density):
    """The frames of bench_seqvid's fill_binary: a fraction `density` of ones at hashed
    positions (0.07 by default: Moving MNIST's nonzero fraction)."""
    t = torch.arange(T, dtype=torch.int64).view(T, 1, 1)
    b = torch.arange(S, dtype=torch.int64).view(1, S, 1)
    d = torch.arange(D, dtype=torch.int64).view(1, 1, D)
    h = ((t * 1000003 + b * 7919 + d) * 2654435761) & 0xffffffff  # < 2^63: no overflow here
    return (((h >> 8) % 1000) < int(density * 1000.0 + 0.5)).float()


def gemm_gflop(case, H, B, D, K, M):
    """GEMM FLOPs of a case, as bench_seqvid's plan counts them (see its comment)."""
    G = 4 * H
    if case in ("encode", "encode_stream"):
        return 2.0 * G * (K * B * D + (K - 1) * B * H) * 1e-9
    fwd = 2.0 * G * (K * B * D + (K - 1) * B * H)
    for T in (K, M):
        fwd += 2.0 * ((T - 1) * B * G * D + T * B * G * H + T * B * D * H)
    if case != "train":
        return fwd * 1e-9
    bwd = 2.0 * G * (2 * (K - 1) * B * H + K * B * D)
    for T in (K, M):
        bwd += 2.0 * (2 * T * B * D * H + T * B * H * G + T * B * G * H + (T - 1) * B * G * D)
    return (fwd + bwd) * 1e-9


def run_case(case, H, B):
    a = args
    D, K, M = a.dim, a.in_frames, a.fut_frames
    torch.manual_seed(42)
    model = Composite(D, H, K, M, a.cell)
    losses = [float("nan"), float("nan")]
    if case in ("encode", "encode_stream"):
        X = binary_frames(K, B, D, a.density)
        enc = model.encode if case == "encode" else model.encode_stream

        def once():
            with torch.no_grad(), forward_ctx():
                h, c = enc(X)
                return torch.cat([h, c], 1)  # the representation, as seqvid_model_encode
    else:
        X = binary_frames(K + M, B, D, a.density)
        if case == "train":
            opt = SR15SGD(model.parameters()) if a.opt == "sgd" else \
                torch.optim.Adam(model.parameters(), lr=1e-3)

            def once():
                opt.zero_grad()
                with forward_ctx():  # autocast wraps the forward only, as PyTorch advises
                    lr, lf = model.losses(X)
                (lr + lf).backward()
                opt.step()
                losses[:] = [lr.item(), lf.item()]
        else:
            inference = case == "eval_inf"

            def once():
                with torch.no_grad(), forward_ctx():
                    lr, lf = model.losses(X, inference)
                    losses[:] = [float(lr), float(lf)]

    # at least WARM_S seconds of warm-up, as bench_seqvid.c (OpenBLAS's idle threads spin
    # for ~0.1 s after it loads)
    t_warm, w, warm_start = 0.0, 0, time.perf_counter()
    while a.warmup > 0 and (w < a.warmup or (w < 10000 and time.perf_counter() - warm_start < WARM_S)):
        t0 = time.perf_counter()
        once()
        t_warm = time.perf_counter() - t0
        w += 1
    reps = a.reps
    if a.warmup > 0 and a.budget > 0 and t_warm > 0:
        reps = max(a.min_reps, min(a.reps, int(a.budget // t_warm)))
        if t_warm > a.long and reps > 2:
            reps = 2
    ms = []
    for _ in range(max(reps, 1)):
        t0 = time.perf_counter()
        once()
        ms.append(1e3 * (time.perf_counter() - t0))
    ms.sort()
    n = len(ms)
    med = ms[n // 2] if n % 2 else 0.5 * (ms[n // 2 - 1] + ms[n // 2])
    gf = gemm_gflop(case, H, B, D, K, M)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT impl=torch cell=%s env=%s amp=%s case=%s H=%d B=%d threads=%d density=%.3f "
          "status=ok reps=%d median_ms=%.3f min_ms=%.3f gflop=%.4f gflops=%.2f rss_mb=%.1f "
          "loss_rec=%.3f loss_fut=%.3f" % (a.cell, a.label, a.autocast, case, H, B, a.threads,
                                           a.density, n, med, ms[0], gf, gf / (med * 1e-3), rss,
                                           losses[0], losses[1]))
    sys.stdout.flush()


def run_check(prefix):
    """Same model as libseqvid? Load its weights (bench_seqvid --dump), compare the losses of
    eval_tf, eval_inf and the gradient pass, and every block's gradient."""
    import numpy as np
    blocks, loss = [], {}
    with open(prefix + ".txt") as f:
        for line in f:
            w = line.split()
            if w[0] == "model":
                kv = dict(zip(w[1::2], w[2::2]))
            elif w[0] == "block":
                blocks.append((w[1], int(w[2]), int(w[3]), int(w[4])))
            elif w[0] == "loss":
                loss[w[1]] = (float(w[2]), float(w[3]))
    D, H, B, K, M = (int(kv[k]) for k in ("D", "H", "B", "K", "M"))
    if kv["peep"] != "1" or args.cell != "peep":
        sys.exit("--check compares the peephole cell: dump without --no-peep, use --cell peep")
    params = np.fromfile(prefix + ".params.bin", dtype=np.float32)
    grads = np.fromfile(prefix + ".grads.bin", dtype=np.float32)
    model = Composite(D, H, K, M, "peep")
    layers = {"encoder": model.enc, "recon": model.rec, "future": model.fut}
    outs = {"recon": model.rec_out, "future": model.fut_out}

    def target(name):  # libseqvid block name -> the torch parameter
        stack, part, kind = name.split(".")
        if part == "readout":
            return outs[stack].weight if kind == "w" else outs[stack].bias
        return {"w_x": layers[stack].wx, "w_h": layers[stack].wh,
                "peephole": layers[stack].p, "bias": layers[stack].b}[kind]

    def as_torch(name, v, rows, cols):
        """A libseqvid block as its torch parameter: matrices may be stored output-major
        (torch's [out x in]) or input-major ([in x out], transposed); the shape tells which."""
        p = target(name)
        v = torch.from_numpy(v.copy())
        if p.dim() == 1 or p.shape[0] * p.shape[1] != rows * cols or cols == 1:
            return v.view(p.shape)
        if rows == cols:
            sys.exit("--check: block %s is square (%d x %d): its layout is ambiguous; "
                     "dump with another H" % (name, rows, cols))
        if (rows, cols) == tuple(p.shape):
            return v.view(rows, cols)
        return v.view(rows, cols).t()

    with torch.no_grad():
        for name, off, rows, cols in blocks:
            target(name).copy_(as_torch(name, params[off:off + rows * cols], rows, cols))
    X = binary_frames(K + M, B, D, float(kv["density"]))
    ok = True

    def report(what, err, tol, detail=""):
        nonlocal ok
        ok &= err <= tol
        print("CHECK %-34s %s rel.err %.2e %s" % (what, detail, err,
                                                  "ok" if err <= tol else "MISMATCH"))

    def compare(what, mine, theirs, tol):
        report(what, abs(mine - theirs) / max(abs(theirs), 1e-30), tol,
               "torch %.6g seqvid %.6g" % (mine, theirs))

    with torch.no_grad():
        for case, inf in (("eval_tf", False), ("eval_inf", True)):
            lr, lf = model.losses(X, inf)
            compare(case + " rec loss", float(lr), loss[case][0], 1e-4)
            compare(case + " fut loss", float(lf), loss[case][1], 1e-4)
    lr, lf = model.losses(X)
    (lr + lf).backward()
    compare("train rec loss", lr.item(), loss["train"][0], 1e-4)
    compare("train fut loss", lf.item(), loss["train"][1], 1e-4)
    for name, off, rows, cols in blocks:
        g = target(name).grad.numpy()
        s = as_torch(name, grads[off:off + rows * cols], rows, cols).numpy()
        report("grad " + name, float(np.abs(g - s).max() / max(np.abs(s).max(), 1e-30)), 1e-3,
               "max|diff|/max|seqvid|")
    print("CHECK %s" % ("passed" if ok else "FAILED"))
    return ok


def main():
    if args.check:
        sys.exit(0 if run_check(args.check) else 1)
    print("# torch %s, cell=%s opt=%s autocast=%s torch_threads=%d OPENBLAS_NUM_THREADS=%s "
          "OPENBLAS_CORETYPE=%s LD_PRELOAD=%s" % (
              torch.__version__, args.cell, args.opt, args.autocast, torch.get_num_threads(),
              os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OPENBLAS_CORETYPE", "-"),
              os.environ.get("LD_PRELOAD", "-")))
    for case in args.case:
        batches = args.encode_batch if case.startswith("encode") else args.batch
        for H in args.hidden:
            for B in batches:
                run_case(case, H, B)


if __name__ == "__main__":
    main()
