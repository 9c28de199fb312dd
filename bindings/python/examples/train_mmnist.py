#!/usr/bin/python3
"""Train a composite LSTM model (SR15) on Moving MNIST from Python and plot the results.

    bindings/python/examples/train_mmnist.py [--steps N] [--hidden H] [--out DIR] ...

Digits come from ${SEQVID_DATA:-$HOME/.cache/seqvid}/mnist (made once by
examples/setup-mnist.sh) or --data DIR: {train,test,t10k}-{images-idx3,labels-idx1}-ubyte,
plain or .gz. Writes into --out (default ./mmnist-py):
    loss.png         training loss and validation loss (decoders fed as at inference)
    prediction.png   a validation sequence: input, truth, reconstruction and prediction
    model.safetensors  the trained model (seqvid.Model.load reads it back)

The defaults are small so that it runs in about a minute on two cores; SR15 used
--hidden 2048 and hours of training. Sequences are 20 frames of 64x64: 10 read by the
encoder, 10 to predict. The library is found as the seqvid package documents
(SEQVID_LIBRARY, SEQVID_PREFIX or the standard loader).
"""
import argparse
import os
import sys
import time

import numpy as np

try:
    import seqvid
except ImportError:  # running from the source tree without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import seqvid


def find_digits(folder, split):
    """(images, labels) paths of a split, or None."""
    names = ["train"] if split == "train" else ["test", "t10k"]
    for name in names:
        found = []
        for what in ("images-idx3", "labels-idx1"):
            for ext in ("", ".gz"):
                p = os.path.join(folder, "%s-%s-ubyte%s" % (name, what, ext))
                if os.path.exists(p):
                    found.append(p)
                    break
            else:
                found.append(None)
        if found[0]:
            return found
    return None


def parse_args(argv):
    default_data = os.path.join(
        os.environ.get("SEQVID_DATA") or os.path.join(os.path.expanduser("~"), ".cache",
                                                      "seqvid"), "mnist")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=default_data, help="folder of the MNIST IDX files")
    ap.add_argument("--out", default="mmnist-py", help="output folder (created)")
    ap.add_argument("--steps", type=int, default=800, help="training steps (default 800)")
    ap.add_argument("--batch", type=int, default=8, help="sequences per step (default 8)")
    ap.add_argument("--hidden", type=int, default=128, help="LSTM units (default 128)")
    ap.add_argument("--input-frames", type=int, default=10)
    ap.add_argument("--future-frames", type=int, default=10)
    ap.add_argument("--digits", type=int, default=1, help="digits per sequence (SR15: 2)")
    ap.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    ap.add_argument("--val-every", type=int, default=100)
    ap.add_argument("--val-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="BLAS threads (0: all cores)")
    return ap.parse_args(argv)


def plot_losses(path, train, val, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    steps, rec, fut = np.array(train).T
    ax.plot(steps, rec, color="tab:blue", lw=0.8, alpha=0.5,
            label="training batch: reconstruction (teacher-forced)")
    ax.plot(steps, fut, color="tab:red", lw=0.8, alpha=0.5,
            label="training batch: future (teacher-forced)")
    if val:
        vs, vrec, vfut = np.array(val).T
        ax.plot(vs, vrec, "o-", color="tab:blue", label="validation: reconstruction")
        ax.plot(vs, vfut, "o-", color="tab:red", label="validation: future prediction")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per frame)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_sequence(path, rows, labels, title):
    """rows: list of (n_frames, H, W) arrays (None entries leave a cell blank)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.0 + 0.4),
                             squeeze=False)
    for i, (frames, label) in enumerate(zip(rows, labels)):
        for j in range(n):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(frames):
                ax.imshow(frames[j], cmap="gray", vmin=0, vmax=1)
            else:
                ax.axis("off")
        axes[i][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    a = parse_args(argv)
    train_files = find_digits(a.data, "train")
    if not train_files:
        sys.exit("train_mmnist.py: no train-images-idx3-ubyte[.gz] in %s\n"
                 "  Run examples/setup-mnist.sh once, or pass --data DIR." % a.data)
    test_files = find_digits(a.data, "test")
    os.makedirs(a.out, exist_ok=True)
    seqvid.set_threads(a.threads)

    K, M = a.input_frames, a.future_frames
    train_digits = seqvid.Digits(*train_files)
    val_digits = seqvid.Digits(*test_files) if test_files else train_digits
    gen = seqvid.MovingMNIST(train_digits, digits_per_seq=a.digits, seed=a.seed)
    canvas = gen.canvas
    # A fixed validation set from the test digits (another seed if there is no test split).
    val_gen = seqvid.MovingMNIST(val_digits, digits_per_seq=a.digits, seed=20150 + a.seed)
    val = val_gen.generate(K + M, a.val_size)

    model = seqvid.Model(kind="composite", input_dim=canvas * canvas, hidden=a.hidden,
                         input_frames=K, future_frames=M, seed=a.seed)
    opt = seqvid.Optimizer("adam", lr=a.lr, grad_clip=10.0)
    print("seqvid %s (%s): composite model, %d hidden units, %d parameters; %d training "
          "digits; %d steps of %d sequences" % (seqvid.version(), seqvid.library_path, a.hidden,
                                                model.param_count, len(train_digits), a.steps,
                                                a.batch))

    train_log, val_log = [], []
    t0 = time.time()
    batches = gen.batches(K + M, a.batch)
    for step in range(1, a.steps + 1):
        loss = model.train_step(opt, next(batches))
        train_log.append((step, loss.rec, loss.fut))
        if step % a.val_every == 0 or step == a.steps:
            v = model.evaluate(val)  # decoders fed as at inference
            val_log.append((step, v.rec, v.fut))
            print("step %5d  train rec %7.1f fut %7.1f   val rec %7.1f fut %7.1f   %5.1fs" % (
                step, loss.rec, loss.fut, v.rec, v.fut, time.time() - t0), flush=True)

    plot_losses(os.path.join(a.out, "loss.png"), train_log, val_log,
                "composite LSTM, %d units, Moving MNIST %dx%d" % (a.hidden, canvas, canvas))

    # One validation sequence: the first K frames in; reconstruction and prediction out.
    seq = np.ascontiguousarray(val.array[:, :1])  # (K+M, 1, canvas, canvas)
    inputs = np.ascontiguousarray(seq[:K])
    rec = model.reconstruct(inputs)[:, 0]
    pred = model.predict(inputs, M)[:, 0]
    plot_sequence(os.path.join(a.out, "prediction.png"),
                  [seq[:K, 0], rec, seq[K:, 0], pred],
                  ["input", "reconstruction", "truth", "prediction"],
                  "step %d: frames 1-%d in, %d-%d predicted" % (a.steps, K, K + 1, K + M))
    model.save(os.path.join(a.out, "model.safetensors"))
    print("wrote %s/loss.png, prediction.png and model.safetensors" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
