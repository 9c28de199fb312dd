#!/usr/bin/python3
"""Compare libseqvid against the independent float64 NumPy reference (sr15_ref.py).

    test_reference.py [PATH/TO/ref_driver]      (no driver: only the reference self-check)

1. Self-check: the reference's hand-written BPTT against central finite differences in
   float64 on tiny models covering every kind, L in {1,2}, peepholes on/off, conditional and
   unconditioned decoders, binary and real output, variable lengths; and with scheduled
   sampling (random coin masks, the fed-back inputs held fixed), whose all-zero mask must
   give the teacher-forced pass and all-one mask the inference roll-out's losses.
2. For every case of CASES: weights U(-0.3, 0.3) (rounded to float32 so both sides see the same
   numbers) and a batch are written to a temporary directory, ref_driver runs the library on
   them, and the C results are compared with the reference. Cases with sample_recon /
   sample_future set run the library's gradient pass with scheduled sampling; the driver
   dumps the coins it drew, and the reference computes that pass from the same coins
   (which must be mixed: some steps fed back, some not). Then the driver stores the weights
   packed (the experimental SEQVID_WEIGHTS_F32_PACKED: float32 on the library's own kernel)
   and runs the inference calls again, checked against the same reference with the float32
   tolerances; then as bf16 (SEQVID_WEIGHTS_BF16) and runs them once more; the
   reference rounds the float32 weights to bf16 itself (frexp, 8 significant bits, rint's
   ties to even) and recomputes them in float64.

Tolerances (float32 library vs float64 reference):
  - losses:               |c - r| <= 1e-4 * max(1, |r|)                      (rel 1e-4)
  - gradients, outputs:   max |c - r| <= 1e-4 * max(1, max |r|)  over the block/array
  - gradients, strict:    max |c - r| <= 1e-3 * max |r| + 1e-7  per block, so that a wrong
                          block whose gradients are all small cannot hide under the
                          absolute bound above (float32 round-off at these sizes is ~1e-6
                          relative).
  - bf16 weights:         losses and outputs as above with 1e-5 in place of 1e-4 (measured
                          ~1e-7; the unrounded weights miss by ~1e-4)
  - exact:                the layout (names, order, shapes) matches the documented order;
                          evaluate/predict/reconstruct/encode leave the weights and the last
                          gradients bitwise unchanged; frames past a length reconstruct as 0;
                          reconstruct on a predictor / predict on an autoencoder give
                          SEQVID_ERR_UNSUPPORTED.
Exit status 1 if anything fails.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True   # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sr15_ref as R  # noqa: E402

SEQVID_OK, SEQVID_ERR_UNSUPPORTED = 0, 9
KIND_NAME = {R.AUTOENCODER: "autoencoder", R.PREDICTOR: "predictor", R.COMPOSITE: "composite"}

failures = []


def fail(msg):
    failures.append(msg)
    print("  FAIL " + msg)


# ------------------------------------------------------------------------------------------
# 1. the reference proves its own backward pass
# ------------------------------------------------------------------------------------------
def self_check():
    combos = [  # kind, L, peep, cond_recon, cond_future, output, lens
        (R.COMPOSITE, 2, 1, 1, 1, R.BINARY, [6, 4, 2]),
        (R.COMPOSITE, 2, 0, 0, 1, R.REAL, [6, 5, 3]),
        (R.COMPOSITE, 1, 1, 1, 0, R.REAL, [5, 6, 6]),
        (R.AUTOENCODER, 2, 1, 0, 0, R.BINARY, [2, 3, 3]),
        (R.AUTOENCODER, 1, 0, 1, 0, R.REAL, [3, 1, 2]),
        (R.PREDICTOR, 2, 0, 0, 1, R.BINARY, [6, 4, 5]),
        (R.PREDICTOR, 1, 1, 0, 0, R.REAL, [5, 6, 2]),
    ]
    worst = 0.0
    for j, (kind, L, peep, cr, cf, out, lens) in enumerate(combos):
        cfg = R.make_cfg(kind=kind, D=3, H=2, L=L, peep=peep, K=3, M=2, cond_recon=cr,
                         cond_future=cf, output=out)
        rng = np.random.default_rng(100 + j)
        p = R.random_params(cfg, rng, 0.5)
        X = rng.uniform(0, 1, (6, 3, 3)) if out == R.BINARY else rng.normal(0, 1, (6, 3, 3))
        e = R.fd_check(cfg, X, lens, p)
        worst = max(worst, e)
        if e > 1e-5:
            fail(f"self-check {j} ({KIND_NAME[kind]} L={L} peep={peep}): BPTT vs finite "
                 f"differences rel err {e:.2e}")
    print(f"self-check: reference BPTT vs central differences, {len(combos)} models, "
          f"worst rel err {worst:.1e} (bound 1e-5)")
    sampled_self_check()
    torch_check()


def sampled_self_check():
    """Scheduled sampling in the reference: the gradient of a pass whose fed-back inputs are
    held fixed, against central differences; coins all 0 = teacher forcing (exactly), all 1 =
    the inference roll-out (recon fed its predictions)."""
    combos = [  # kind, L, peep, cond_recon, cond_future, output, lens
        (R.COMPOSITE, 2, 1, 1, 1, R.BINARY, [7, 4, 2]),
        (R.COMPOSITE, 1, 0, 0, 1, R.REAL, [7, 7, 5]),
        (R.PREDICTOR, 2, 1, 0, 1, R.BINARY, [6, 7, 7]),
        (R.AUTOENCODER, 1, 1, 1, 0, R.REAL, [3, 2, 4]),
    ]
    worst, limit_err = 0.0, 0.0
    for j, (kind, L, peep, cr, cf, out, lens) in enumerate(combos):
        cfg = R.make_cfg(kind=kind, D=3, H=2, L=L, peep=peep, K=4, M=3, cond_recon=cr,
                         cond_future=cf, output=out, recon_feed=R.FEED_PREDICTION)
        rng = np.random.default_rng(200 + j)
        p = R.random_params(cfg, rng, 0.5)
        X = rng.uniform(0, 1, (7, 3, 3)) if out == R.BINARY else rng.normal(0, 1, (7, 3, 3))
        steps = {"recon": cfg["K"], "future": cfg["M"]}
        coins = {}
        for stack, cond in R.stacks(cfg)[1:]:
            if cond:
                c = np.zeros((steps[stack] - 1, 3), int)
                c.flat[::2] = 1      # mixed, every other one fed back
                coins[stack] = c
        e = R.fd_check(cfg, X, lens, p, coins=coins)
        worst = max(worst, e)
        if e > 1e-5:
            fail(f"sampled self-check {j} ({KIND_NAME[kind]} L={L}): BPTT vs finite "
                 f"differences with the fed-back inputs held fixed: rel err {e:.2e}")
        r0, f0, g0 = R.loss_and_grads(p, cfg, X, lens)
        zeros = {k: np.zeros_like(v) for k, v in coins.items()}
        rz, fz, gz, _ = R.loss_and_grads(p, cfg, X, lens, coins=zeros)
        if (rz, fz) != (r0, f0) or any(not np.array_equal(gz[k], g0[k]) for k in g0):
            fail(f"sampled self-check {j}: all-zero coins differ from teacher forcing")
        ones = {k: np.ones_like(v) for k, v in coins.items()}
        r1, f1, _, _ = R.loss_and_grads(p, cfg, X, lens, coins=ones)
        ri, fi = R.evaluate(p, cfg, X, lens, teacher_forced=False)
        err = max(abs(r1 - ri) if cr else 0.0, abs(f1 - fi) if cf else 0.0)
        limit_err = max(limit_err, err)
        if err > 1e-12:
            fail(f"sampled self-check {j}: all-one coins give losses {r1:.12g} {f1:.12g}, the "
                 f"roll-out {ri:.12g} {fi:.12g}")
    print(f"self-check: scheduled sampling, {len(combos)} models: BPTT vs central differences "
          f"(fed-back inputs fixed) worst rel err {worst:.1e} (bound 1e-5); all-zero coins = "
          f"teacher forcing exactly; all-one coins = roll-out within {limit_err:.1e}")


def torch_check():
    """With peepholes off the cell is PyTorch's nn.LSTM (same gate order i, f, g, o): an
    implementation we did not write checks the reference's forward pass, masking included
    (a row of length n must end in nn.LSTM's state after its first n frames)."""
    try:
        import torch
    except ImportError:
        print("self-check: torch not available, nn.LSTM cross-check skipped")
        return
    cfg = R.make_cfg(kind=R.COMPOSITE, D=5, H=4, L=3, peep=0)
    rng = np.random.default_rng(7)
    p = R.random_params(cfg, rng, 0.5)
    T, S = 6, 3
    X = rng.normal(0, 1, (T, S, cfg["D"]))
    lens = [6, 3, 1]
    lstm = torch.nn.LSTM(cfg["D"], cfg["H"], num_layers=cfg["L"]).double()
    with torch.no_grad():
        for l in range(cfg["L"]):
            getattr(lstm, f"weight_ih_l{l}").copy_(torch.from_numpy(p[f"encoder.{l}.w_x"]))
            getattr(lstm, f"weight_hh_l{l}").copy_(torch.from_numpy(p[f"encoder.{l}.w_h"]))
            getattr(lstm, f"bias_ih_l{l}").copy_(torch.from_numpy(p[f"encoder.{l}.bias"]))
            getattr(lstm, f"bias_hh_l{l}").zero_()
        ours = R.encode(p, cfg, X, lens)
        err = 0.0
        for b, n in enumerate(lens):
            _, (h, c) = lstm(torch.from_numpy(X[:n, b:b + 1]))
            want = np.concatenate([np.concatenate([h[l, 0].numpy(), c[l, 0].numpy()])
                                   for l in range(cfg["L"])])
            err = max(err, float(np.abs(ours[b] - want).max()))
    if err > 1e-12:
        fail(f"self-check: reference LSTM forward differs from torch.nn.LSTM by {err:.2e}")
    print(f"self-check: reference stack (peepholes off, L=3, masked lengths) vs torch.nn.LSTM: "
          f"max abs diff {err:.1e} (bound 1e-12)")


# ------------------------------------------------------------------------------------------
# 2. C library vs reference
# ------------------------------------------------------------------------------------------
def case(name, kind, L, peep, cr, cf, out, D=16, H=6, S=3, K=3, M=2, T=None, lens=None,
         seed=0, sparse=False, sample_recon=0.0, sample_future=0.0):
    if T is None:
        T = K + M if kind != R.AUTOENCODER else K
    if lens is None:
        lens = [T] * S
    return dict(name=name, cfg=R.make_cfg(kind=kind, D=D, H=H, L=L, peep=peep, K=K, M=M,
                                          cond_recon=cr, cond_future=cf, output=out),
                T=T, S=S, lens=lens, seed=seed, sparse=sparse,
                sample={"recon": sample_recon, "future": sample_future})


CASES = [
    case("c01", R.COMPOSITE, 1, 1, 1, 1, R.BINARY, D=16, H=6, seed=1),
    case("c02", R.COMPOSITE, 2, 1, 1, 1, R.BINARY, D=12, H=5, K=4, M=3, seed=2),
    case("c03", R.COMPOSITE, 2, 0, 0, 0, R.REAL, D=20, H=8, seed=3),
    case("c04", R.COMPOSITE, 1, 0, 1, 0, R.BINARY, D=14, H=7, K=4, seed=4),
    case("c05", R.COMPOSITE, 2, 1, 0, 1, R.REAL, D=12, H=6, M=3, seed=5),
    case("c06", R.AUTOENCODER, 1, 1, 1, 1, R.BINARY, D=16, H=6, K=4, seed=6),
    case("c07", R.AUTOENCODER, 2, 0, 0, 0, R.REAL, D=12, H=5, seed=7),
    case("c08", R.PREDICTOR, 1, 0, 1, 1, R.REAL, D=18, H=6, seed=8),
    case("c09", R.PREDICTOR, 2, 1, 0, 0, R.BINARY, D=12, H=8, K=4, M=3, seed=9),
    # variable lengths: shorter than K (encoder masking, fewer recon targets), between K and
    # K+M (fewer future targets), none of the future (len <= K), and T > K+M.
    case("v10", R.COMPOSITE, 2, 1, 1, 1, R.BINARY, D=12, H=6, K=4, M=3, T=8,
         lens=[8, 5, 3, 4], S=4, seed=10),
    case("v11", R.AUTOENCODER, 2, 1, 1, 1, R.REAL, D=12, H=5, K=4, T=5, lens=[5, 2, 3],
         seed=11),
    case("v12", R.PREDICTOR, 1, 1, 1, 1, R.BINARY, D=14, H=6, K=3, M=3, T=6, lens=[6, 2, 4],
         seed=12),
    case("v13", R.COMPOSITE, 1, 0, 0, 0, R.REAL, D=12, H=6, K=3, M=2, T=5, lens=[5, 1, 4],
         seed=13),
    # three layers; every row shorter than T (a padded tail for all), K > two of the lengths
    case("v14", R.COMPOSITE, 3, 1, 1, 0, R.BINARY, D=12, H=5, K=4, M=2, T=8,
         lens=[6, 3, 5], seed=14),
    # no row reaches past K: zero future target frames in the batch. The header leaves this
    # open; we expect fut_loss 0 and no future gradient (as for a model without the decoder).
    case("v15", R.COMPOSITE, 2, 0, 1, 1, R.REAL, D=12, H=5, K=4, M=2, T=6, lens=[4, 2, 3],
         seed=15),
    # frames that are ~90% exact zeros, like Moving MNIST: the library's sparse input path
    case("s16", R.COMPOSITE, 2, 1, 1, 1, R.BINARY, D=40, H=10, K=4, M=3, seed=16,
         sparse=True),
    case("s17", R.COMPOSITE, 1, 1, 1, 0, R.BINARY, D=40, H=8, K=3, M=3, T=7, lens=[7, 4, 2],
         seed=17, sparse=True),
    # scheduled sampling (gradient pass only; the coins come from the library's stream)
    case("p18", R.COMPOSITE, 2, 1, 1, 1, R.BINARY, D=12, H=6, K=4, M=4, S=4, seed=18,
         sample_recon=0.5, sample_future=0.5),
    case("p19", R.PREDICTOR, 1, 0, 0, 1, R.REAL, D=14, H=6, K=3, M=5, S=4, seed=19,
         sample_future=0.4),
    case("p20", R.COMPOSITE, 2, 1, 1, 0, R.BINARY, D=40, H=8, K=5, M=3, T=8,
         lens=[8, 6, 3, 5], S=4, seed=20, sparse=True, sample_recon=0.6),
    case("p21", R.AUTOENCODER, 1, 1, 1, 1, R.REAL, D=12, H=5, K=5, S=4, seed=21,
         sample_recon=0.5),
    case("p22", R.COMPOSITE, 1, 1, 1, 1, R.BINARY, D=12, H=6, K=4, M=4, T=8,
         lens=[8, 5, 6], seed=22, sample_recon=1.0, sample_future=1.0),
]


def make_data(c, rng):
    T, S, D = c["T"], c["S"], c["cfg"]["D"]
    if c["cfg"]["output"] == R.BINARY:
        # pixels in [0,1]: mostly near 0/1 like Moving MNIST, some in between
        X = rng.uniform(0, 1, (T, S, D))
        X = np.where(rng.uniform(size=X.shape) < 0.5, np.round(X), X)
    else:
        X = rng.normal(0, 0.7, (T, S, D))
    if c["sparse"]:
        X = np.where(rng.uniform(size=X.shape) < 0.9, 0.0, X)
    X = X.astype(np.float32)
    for b, n in enumerate(c["lens"]):
        X[n:, b] = 0.0   # padding (must be ignored anyway)
    return X


def write_case(d, c, X, params):
    cfg = c["cfg"]
    with open(os.path.join(d, "case.txt"), "w") as f:
        for k in ("kind", "D", "H", "L", "peep", "K", "M", "cond_recon", "cond_future",
                  "output"):
            f.write(f"{k} {cfg[k]}\n")
        f.write(f"T {c['T']}\nS {c['S']}\nn_future {c['n_future']}\n")
        for stack, p in c["sample"].items():
            if p > 0:
                f.write(f"sample_{stack} {p!r}\n")
        f.write("lengths " + " ".join(str(n) for n in c["lens"]) + "\n")
    X.tofile(os.path.join(d, "data.f32"))
    blocks = R.stored_blocks(cfg)
    with open(os.path.join(d, "params.txt"), "w") as f:
        for name, r, cc in blocks:
            f.write(f"{name} {r} {cc}\n")
    np.concatenate([R.to_storage(n, params[n]).reshape(-1) for n, _, _ in blocks]).astype(
        np.float32).tofile(os.path.join(d, "params.f32"))


def read_results(d):
    res = {}
    with open(os.path.join(d, "results.txt")) as f:
        for line in f:
            w = line.split()
            res.setdefault(w[0], []).append((int(w[1]), [float(v) for v in w[2:]]))
    return res


def read_layout(d):
    with open(os.path.join(d, "layout.txt")) as f:
        lines = f.read().split("\n")
    count = int(lines[0].split()[1])
    blocks = []
    for line in lines[1:]:
        if line.strip():
            n, o, r, cc = line.split()
            blocks.append((n, int(o), int(r), int(cc)))
    return count, blocks


def f32(d, name):
    return np.fromfile(os.path.join(d, name), dtype=np.float32).astype(np.float64)


def cmp_array(tag, c_arr, r_arr, rel=1e-4):
    """Returns the max abs diff; records a failure beyond rel * max(1, max|ref|)."""
    if c_arr.size != r_arr.size:
        fail(f"{tag}: C wrote {c_arr.size} values, expected {r_arr.size}")
        return float("inf")
    c_arr = c_arr.reshape(r_arr.shape)
    if not np.all(np.isfinite(c_arr)):
        fail(f"{tag}: non-finite values from C")
        return float("inf")
    diff = np.abs(c_arr - r_arr)
    err = float(diff.max()) if diff.size else 0.0
    tol = rel * max(1.0, float(np.abs(r_arr).max()) if r_arr.size else 0.0)
    if err > tol:
        k = np.unravel_index(int(diff.argmax()), diff.shape)
        fail(f"{tag}: max abs diff {err:.3e} > tol {tol:.1e} at index {tuple(map(int, k))} "
             f"(C {c_arr[k]:.6g}, ref {r_arr[k]:.6g}; max|ref| {np.abs(r_arr).max():.3g})")
    return err


def cmp_loss(tag, c_val, r_val, rel=1e-4):
    err = abs(c_val - r_val)
    if not np.isfinite(c_val) or err > rel * max(1.0, abs(r_val)):
        fail(f"{tag}: C {c_val:.9g} vs ref {r_val:.9g} (abs diff {err:.2e})")
    return err / max(1.0, abs(r_val))


def get_call(res, tag, call, k=0, nvals=0):
    if call not in res or len(res[call]) <= k:
        fail(f"{tag}: driver recorded no '{call}'")
        return None, None
    st, vals = res[call][k]
    return st, vals


def check_inference(res, d, name, c, params, X64, tf_losses, pre="", rel=1e-4):
    """The driver's inference calls (their results and files named with prefix `pre`)
    against the reference on `params`: evaluate teacher-forced (tf_losses: the reference's
    (rec, fut)) and as at inference with both reconstruction feeds, reconstruct, predict and
    encode, each within `rel` (cmp_loss, cmp_array); the unsupported calls of a kind must
    say so. Returns (worst loss error, worst output error)."""
    cfg, lens = c["cfg"], c["lens"]
    loss_err = out_err = 0.0
    st, vals = get_call(res, name, pre + "eval_tf")
    if st is not None:
        if st != SEQVID_OK:
            fail(f"{name}: {pre}evaluate(TEACHER_FORCED) status {st}")
        else:
            loss_err = max(cmp_loss(f"{name} {pre}eval_tf rec", vals[0], tf_losses[0], rel),
                           cmp_loss(f"{name} {pre}eval_tf fut", vals[1], tf_losses[1], rel))
    for feed, call, rcall, fname in ((R.FEED_TRUTH, "eval_inf_truth", "reconstruct_truth",
                                      "recon_truth.f32"),
                                     (R.FEED_PREDICTION, "eval_inf_pred", "reconstruct_pred",
                                      "recon_pred.f32")):
        call, rcall, fname = pre + call, pre + rcall, pre + fname
        cf = dict(cfg, recon_feed=feed)
        rr, rf = R.evaluate(params, cf, X64, lens, teacher_forced=False)
        st, vals = get_call(res, name, call)
        if st is not None:
            if st != SEQVID_OK:
                fail(f"{name}: {pre}evaluate(INFERENCE) feed={feed} status {st}")
            else:
                loss_err = max(loss_err, cmp_loss(f"{name} {call} rec", vals[0], rr, rel),
                               cmp_loss(f"{name} {call} fut", vals[1], rf, rel))
        st, _ = get_call(res, name, rcall)
        if R.has_recon(cfg):
            if st != SEQVID_OK:
                fail(f"{name}: {pre}reconstruct feed={feed} status {st}")
            else:
                ref = R.reconstruct(params, cf, X64, lens)
                out_err = max(out_err, cmp_array(f"{name} {rcall}", f32(d, fname), ref, rel))
        elif st != SEQVID_ERR_UNSUPPORTED:
            fail(f"{name}: {pre}reconstruct on a {KIND_NAME[cfg['kind']]} gave status {st}, "
                 f"expected SEQVID_ERR_UNSUPPORTED")
    st, _ = get_call(res, name, pre + "predict")
    if R.has_future(cfg):
        if st != SEQVID_OK:
            fail(f"{name}: {pre}predict status {st}")
        else:
            ref = R.predict(params, cfg, X64, lens, c["n_future"])
            out_err = max(out_err, cmp_array(f"{name} {pre}predict({c['n_future']})",
                                             f32(d, pre + "predict.f32"), ref, rel))
    elif st != SEQVID_ERR_UNSUPPORTED:
        fail(f"{name}: {pre}predict on an autoencoder gave status {st}, expected "
             f"SEQVID_ERR_UNSUPPORTED")
    st, _ = get_call(res, name, pre + "encode")
    if st != SEQVID_OK:
        fail(f"{name}: {pre}encode status {st}")
    else:
        ref = R.encode(params, cfg, X64, lens)
        out_err = max(out_err, cmp_array(f"{name} {pre}encode", f32(d, pre + "encode.f32"),
                                         ref, rel))
    return loss_err, out_err


def to_bf16(a):
    """float32 values rounded to bfloat16 (8 significant bits, ties to even), as float64."""
    m, e = np.frexp(np.asarray(a, np.float32).astype(np.float64))
    return np.ldexp(np.rint(np.ldexp(m, 8)), e - 8)


def check_grads(res, d, name, layout, count, r_losses, r_grads, pre=""):
    """The driver's gradient pass (results "<pre>gradients", file "<pre>grads.f32") against
    the reference's losses and gradients: every block within 1e-3 of its largest reference
    value (cmp_array reports the finer tolerance). Returns (worst loss error, the gradient
    arena as written, (worst abs, worst rel, its block))."""
    loss_err = 0.0
    st, vals = get_call(res, name, pre + "gradients")
    if st is not None and st != SEQVID_OK:
        fail(f"{name}: {pre}seqvid_model_gradients status {st}")
    elif st is not None:
        loss_err = max(cmp_loss(f"{name} {pre}gradients rec_loss", vals[0], r_losses[0]),
                       cmp_loss(f"{name} {pre}gradients fut_loss", vals[1], r_losses[1]))
    g = f32(d, pre + "grads.f32")
    worst_abs, worst_rel, worst_blk = 0.0, 0.0, ""
    if st == SEQVID_OK and g.size == count:
        for bname, off, r, cc in layout:
            cg = g[off:off + r * cc]
            rg = R.to_storage(bname, r_grads[bname]).reshape(-1)
            e = cmp_array(f"{name} {pre}grad {bname} [{r}x{cc}]", cg, rg)
            m = float(np.abs(rg).max())
            if e > 1e-3 * m + 1e-7:
                fail(f"{name} {pre}grad {bname}: max abs diff {e:.3e} is "
                     f"{e / max(m, 1e-30):.2e} of the block's max|ref| {m:.3e} (strict bound "
                     f"1e-3 relative)")
            rel = e / max(m, 1e-30)
            if e > worst_abs:
                worst_abs = e
            if rel > worst_rel:
                worst_rel, worst_blk = rel, bname
    elif st == SEQVID_OK:
        fail(f"{name}: {pre}grads.f32 holds {g.size} floats, expected {count}")
    return loss_err, g, (worst_abs, worst_rel, worst_blk)


def run_case(driver, c):
    cfg = c["cfg"]
    c["n_future"] = cfg["M"] + 2     # roll out past the trained horizon
    rng = np.random.default_rng(1000 + c["seed"])
    params = R.random_params(cfg, rng, 0.3)
    X = make_data(c, rng)
    X64 = X.astype(np.float64)
    lens = c["lens"]
    name = c["name"]
    n_fail0 = len(failures)
    with tempfile.TemporaryDirectory(prefix=f"sv_ref_{name}_") as d:
        write_case(d, c, X, params)
        proc = subprocess.run([driver, d], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            fail(f"{name}: ref_driver exited with {proc.returncode}: {proc.stderr.strip()}")
            return
        res = read_results(d)
        count, layout = read_layout(d)

        # ---- layout ----
        want = R.stored_blocks(cfg)
        got = [(n, r, cc) for n, _, r, cc in layout]
        if got != want:
            fail(f"{name}: parameter blocks differ from the documented order\n"
                 f"    C:   {got}\n    doc: {want}")
            return
        if count < sum(r * cc for _, r, cc in want):
            fail(f"{name}: param_count {count} smaller than the blocks' total")

        # ---- training gradients and losses (sampled: from the library's coins) ----
        coins = {}
        steps = {"recon": cfg["K"], "future": cfg["M"]}
        for stack, p in c["sample"].items():
            if p > 0:
                path = os.path.join(d, f"coins_{stack}.u8")
                if not os.path.exists(path):
                    fail(f"{name}: the driver wrote no {stack} coins")
                    return
                cn = np.fromfile(path, dtype=np.uint8)
                if cn.size != (steps[stack] - 1) * c["S"] or cn.max(initial=0) > 1:
                    fail(f"{name}: {stack} coins: {cn.size} values in {set(cn.tolist())}")
                    return
                coins[stack] = cn.reshape(steps[stack] - 1, c["S"])
                if p < 1 and not 0 < cn.sum() < cn.size:
                    fail(f"{name}: {stack} coins not mixed at p = {p}: {cn.tolist()}")
                if p == 1 and cn.sum() != cn.size:
                    fail(f"{name}: {stack} coins at p = 1 not all 1: {cn.tolist()}")
        if coins:
            r_rec, r_fut, r_grads, _ = R.loss_and_grads(params, cfg, X64, lens, coins=coins)
        else:
            r_rec, r_fut, r_grads = R.loss_and_grads(params, cfg, X64, lens)
        tf_rec, tf_fut, _ = R.loss_and_grads(params, cfg, X64, lens) if coins else (r_rec, r_fut, None)
        loss_err, g, worst = check_grads(res, d, name, layout, count, (r_rec, r_fut), r_grads)
        worst_abs, worst_rel, worst_blk = worst

        # ---- evaluate (both ways, both feeds), reconstruct, predict, encode ----
        le, out_err = check_inference(res, d, name, c, params, X64, (tf_rec, tf_fut))
        loss_err = max(loss_err, le)
        F = 2 * cfg["L"] * cfg["H"]
        st, vals = get_call(res, name, "feature_dim")
        if st is not None and (st != SEQVID_OK or int(vals[0]) != F):
            fail(f"{name}: feature_dim status {st} value {vals}, expected {F}")

        # ---- the same calls with the weights stored packed (float32, another kernel) ----
        st, _ = get_call(res, name, "pk_set")
        if st != SEQVID_OK:
            fail(f"{name}: set_weights(F32_PACKED) status {st}")
        else:
            le, oe = check_inference(res, d, name, c, params, X64, (tf_rec, tf_fut), "pk_")
            loss_err, out_err = max(loss_err, le), max(out_err, oe)
            # its gradient pass (the recurrent products, forward and transposed, on the
            # packed copies); not with sampled decoders: new coins would be drawn
            if not coins:
                le, _, _ = check_grads(res, d, name, layout, count, (r_rec, r_fut), r_grads,
                                       "pk_")
                loss_err = max(loss_err, le)
            elif "pk_gradients" in res:
                fail(f"{name}: the driver ran pk_gradients with sampled decoders")

        # ---- the same calls with the weights stored as bf16 ----
        # The reference rounds the float32 weights to bf16 itself (8 significant bits, ties
        # to even, by frexp and rint) and computes in float64 on them. Tolerance 1e-5: the
        # float32 comparisons land near 1e-7, and the unrounded weights miss by ~1e-4.
        st, _ = get_call(res, name, "bf16_set")
        if st != SEQVID_OK:
            fail(f"{name}: set_weights(BF16) status {st}")
        else:
            p16 = {k: to_bf16(v) for k, v in params.items()}
            if all(np.array_equal(p16[k], params[k]) for k in params):
                fail(f"{name}: rounding to bf16 changed no weight")
            tf16 = R.evaluate(p16, cfg, X64, lens, teacher_forced=True)
            le, oe = check_inference(res, d, name, c, p16, X64, tf16, "bf16_", 1e-5)
            loss_err, out_err = max(loss_err, le), max(out_err, oe)

        # ---- nothing but seqvid_model_gradients may change the arenas ----
        ga, pa = f32(d, "grads_after.f32"), f32(d, "params_after.f32")
        if not np.array_equal(ga, g):
            fail(f"{name}: the gradient arena changed after evaluate/predict/reconstruct/encode "
                 f"(max change {np.abs(ga - g).max():.3e})")
        p_in = np.zeros(count)
        for bname, off, r, cc in layout:
            p_in[off:off + r * cc] = R.to_storage(bname, params[bname]).reshape(-1)
        covered = np.zeros(count, bool)
        for _, off, r, cc in layout:
            covered[off:off + r * cc] = True
        if not np.array_equal(pa[covered], p_in[covered]):
            fail(f"{name}: the weights changed during the calls")

    ok = "OK" if len(failures) == n_fail0 else f"FAILED ({len(failures) - n_fail0})"
    if len(failures) > n_fail0 and proc.stderr.strip():   # the library's messages, if any
        print("  driver stderr: " + proc.stderr.strip().replace("\n", "\n  driver stderr: "))
    samp = " ".join(f"p_{k[:3]}={v:g} ({int(coins[k].sum())}/{coins[k].size} fed back)"
                    for k, v in c["sample"].items() if v > 0 and k in coins)
    print(f"{name}: {KIND_NAME[cfg['kind']]:11s} L={cfg['L']} peep={cfg['peep']} "
          f"cond={cfg['cond_recon'] if R.has_recon(cfg) else '-'}/"
          f"{cfg['cond_future'] if R.has_future(cfg) else '-'} "
          f"{'binary' if cfg['output'] == R.BINARY else 'real  '} D={cfg['D']} H={cfg['H']} "
          f"K={cfg['K']} M={cfg['M']} T={c['T']} lens={lens}: losses rel {loss_err:.1e}, "
          f"grads max abs {worst_abs:.1e} (worst rel {worst_rel:.1e} in {worst_blk}), "
          f"outputs max abs {out_err:.1e}{' ' + samp if samp else ''}  {ok}")


def main():
    self_check()
    if len(sys.argv) < 2:
        print("no driver given: reference self-check only")
    else:
        driver = os.path.abspath(sys.argv[1])
        only = set(sys.argv[2:])
        for c in CASES:
            if not only or c["name"] in only:
                run_case(driver, c)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
