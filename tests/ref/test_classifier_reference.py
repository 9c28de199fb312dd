#!/usr/bin/python3
"""Compare the library's classifier with the float64 NumPy reference (classifier_ref.py).

    test_classifier_reference.py [PATH/TO/classifier_ref_driver]   (no driver: self-check)

1. Self-check: the reference's gradient against central finite differences (float64) for
   L in {1, 2}, peepholes on/off, variable lengths.
2. For every case of CASES: float32-rounded weights U(-0.3, 0.3), a batch and labels go to a
   temporary directory; classifier_ref_driver runs the library (dropout off) and dumps
   loss, accuracy, gradients and clip probabilities; they are compared here.

Tolerances as tests/ref/test_reference.py: losses rel 1e-4; arrays max|c - r| <= 1e-4 *
max(1, max|r|); gradients also per block max|c - r| <= 1e-3 * max|r| + 1e-7; accuracy exact;
the layout (names, order, shapes) exact; evaluate/predict leave weights and gradients
bitwise unchanged. Exit status 1 if anything fails.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classifier_ref as CR  # noqa: E402
import sr15_ref as R  # noqa: E402

SEQVID_OK = 0
failures = []


def fail(msg):
    failures.append(msg)
    print("  FAIL " + msg)


def self_check():
    worst = 0.0
    combos = [(1, 1, [5, 3, 1]), (2, 0, [5, 5, 2]), (2, 1, [4, 5, 3])]
    for j, (L, peep, lens) in enumerate(combos):
        cfg = CR.make_cfg(D=3, H=2, L=L, peep=peep, C=3)
        rng = np.random.default_rng(300 + j)
        p = CR.random_params(cfg, rng, 0.5)
        X = rng.normal(0, 1, (5, 3, 3))
        labels = rng.integers(0, 3, 3)
        e = CR.fd_check(cfg, X, lens, labels, p)
        worst = max(worst, e)
        if e > 1e-5:
            fail(f"self-check {j} (L={L} peep={peep}): gradient vs finite differences {e:.2e}")
    print(f"self-check: classifier reference gradient vs central differences, {len(combos)} "
          f"stacks, worst rel err {worst:.1e} (bound 1e-5)")


def case(name, L, peep, D=12, H=6, C=4, T=5, S=3, lens=None, seed=0, sparse=False):
    return dict(name=name, cfg=CR.make_cfg(D=D, H=H, L=L, peep=peep, C=C), T=T, S=S,
                lens=lens or [T] * S, seed=seed, sparse=sparse)


CASES = [
    case("k01", 1, 1, seed=1),
    case("k02", 2, 1, D=10, H=5, C=3, T=6, seed=2),
    case("k03", 2, 0, D=14, H=7, C=6, seed=3),
    case("k04", 1, 0, D=12, H=6, C=2, T=4, seed=4),
    case("v05", 2, 1, D=12, H=6, C=5, T=7, S=4, lens=[7, 3, 1, 5], seed=5),
    case("v06", 3, 1, D=10, H=5, C=4, T=6, lens=[2, 6, 4], seed=6),
    case("s07", 2, 1, D=40, H=8, C=10, T=6, lens=[6, 4, 2], seed=7, sparse=True),
]


def f32(d, name):
    return np.fromfile(os.path.join(d, name), dtype=np.float32).astype(np.float64)


def cmp_array(tag, c_arr, r_arr):
    if c_arr.size != r_arr.size:
        fail(f"{tag}: C wrote {c_arr.size} values, expected {r_arr.size}")
        return float("inf")
    c_arr = c_arr.reshape(r_arr.shape)
    diff = np.abs(c_arr - r_arr)
    err = float(diff.max()) if diff.size else 0.0
    tol = 1e-4 * max(1.0, float(np.abs(r_arr).max()))
    if not np.all(np.isfinite(c_arr)) or err > tol:
        fail(f"{tag}: max abs diff {err:.3e} > tol {tol:.1e}")
    return err


def cmp_loss(tag, c_val, r_val):
    err = abs(c_val - r_val)
    if not np.isfinite(c_val) or err > 1e-4 * max(1.0, abs(r_val)):
        fail(f"{tag}: C {c_val:.9g} vs ref {r_val:.9g}")
    return err / max(1.0, abs(r_val))


def run_case(driver, c):
    cfg, name, lens = c["cfg"], c["name"], c["lens"]
    T, S, D, C = c["T"], c["S"], cfg["D"], cfg["C"]
    rng = np.random.default_rng(2000 + c["seed"])
    params = CR.random_params(cfg, rng, 0.3)
    X = rng.normal(0, 0.7, (T, S, D))
    if c["sparse"]:
        X = np.where(rng.uniform(size=X.shape) < 0.9, 0.0, X)
    X = X.astype(np.float32)
    for b, n in enumerate(lens):
        X[n:, b] = 0.0
    labels = rng.integers(0, C, S)
    n_fail0 = len(failures)
    with tempfile.TemporaryDirectory(prefix=f"sv_cref_{name}_") as d:
        with open(os.path.join(d, "case.txt"), "w") as f:
            for k in ("D", "H", "L", "peep", "C"):
                f.write(f"{k} {cfg[k]}\n")
            f.write(f"T {T}\nS {S}\n")
            f.write("lengths " + " ".join(map(str, lens)) + "\n")
            f.write("labels " + " ".join(map(str, labels)) + "\n")
        X.tofile(os.path.join(d, "data.f32"))
        blocks = CR.stored_blocks(cfg)
        with open(os.path.join(d, "params.txt"), "w") as f:
            for bn, r, cc in blocks:
                f.write(f"{bn} {r} {cc}\n")
        np.concatenate([R.to_storage(bn, params[bn]).reshape(-1) for bn, _, _ in blocks]
                       ).astype(np.float32).tofile(os.path.join(d, "params.f32"))
        p = subprocess.run([driver, d], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            fail(f"{name}: driver exited with {p.returncode}: {p.stderr.strip()}")
            return
        res = {}
        with open(os.path.join(d, "results.txt")) as f:
            for line in f:
                w = line.split()
                res[w[0]] = (int(w[1]), [float(v) for v in w[2:]])
        with open(os.path.join(d, "layout.txt")) as f:
            lines = [ln.split() for ln in f.read().split("\n") if ln.strip()]
        count = int(lines[0][1])
        layout = [(n, int(o), int(r), int(cc)) for n, o, r, cc in lines[1:]]
        if [(n, r, cc) for n, _, r, cc in layout] != blocks:
            fail(f"{name}: blocks differ from the documented order: {layout}")
            return

        r_loss, r_acc, r_grads = CR.loss_and_grads(params, cfg, X.astype(np.float64), lens,
                                                   labels)
        loss_err, worst_rel = 0.0, 0.0
        for call in ("gradients", "evaluate"):
            st, vals = res.get(call, (None, []))
            if st != SEQVID_OK:
                fail(f"{name}: {call} status {st}")
                continue
            loss_err = max(loss_err, cmp_loss(f"{name} {call} loss", vals[0], r_loss))
            if round(vals[1] * S) != round(r_acc * S):   # correct clips, exactly
                fail(f"{name} {call}: accuracy {vals[1]} vs ref {r_acc}")
        g = f32(d, "grads.f32")
        for bn, off, r, cc in layout:
            rg = R.to_storage(bn, r_grads[bn]).reshape(-1)
            e = cmp_array(f"{name} grad {bn}", g[off:off + r * cc], rg)
            m = float(np.abs(rg).max())
            if e > 1e-3 * m + 1e-7:
                fail(f"{name} grad {bn}: max abs diff {e:.3e} vs max|ref| {m:.3e} (strict)")
            worst_rel = max(worst_rel, e / max(m, 1e-30))
        st, _ = res.get("predict", (None, []))
        out_err = float("nan")
        if st != SEQVID_OK:
            fail(f"{name}: predict status {st}")
        else:
            ref = CR.predict(params, cfg, X.astype(np.float64), lens)
            out_err = cmp_array(f"{name} predict", f32(d, "predict.f32"), ref)
        if not np.array_equal(f32(d, "grads_after.f32"), g):
            fail(f"{name}: evaluate/predict changed the gradients")
        pa = f32(d, "params_after.f32")
        p_in = np.concatenate([R.to_storage(bn, params[bn]).reshape(-1) for bn, _, _ in blocks])
        if pa.size != count or not np.array_equal(pa, p_in):
            fail(f"{name}: the weights changed during the calls")
    ok = "OK" if len(failures) == n_fail0 else f"FAILED ({len(failures) - n_fail0})"
    print(f"{name}: L={cfg['L']} peep={cfg['peep']} D={D} H={cfg['H']} C={C} T={T} "
          f"lens={lens}: loss rel {loss_err:.1e}, grads worst rel {worst_rel:.1e}, "
          f"probs max abs {out_err:.1e}  {ok}")


def main():
    self_check()
    if len(sys.argv) < 2:
        print("no driver given: reference self-check only")
    else:
        driver = os.path.abspath(sys.argv[1])
        for c in CASES:
            run_case(driver, c)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
