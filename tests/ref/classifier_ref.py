"""Independent float64 NumPy reference of the classifier (include/seqvid.h, "Classifiers"),
written from the header's equations, never from lib/classifier.c. The LSTM stack is
sr15_ref's (itself checked against finite differences and torch.nn.LSTM).

For B sequences of lengths n_b with labels y_b, over T steps (mask m[t, b] = t < n_b):
    h_t = top output of the stack (zero initial state; state carried where m = 0)
    z_t = W h_t + c          (W [C, H] in the equations' layout; the library stores W^T)
    p_t = softmax(z_t)
    loss = -(1/N) sum_{t,b} m[t,b] log p_t[b, y_b],   N = sum_b n_b
    P_b = (1/n_b) sum_t m[t,b] p_t[b]  (clip prediction);  accuracy = mean_b [argmax P_b == y_b]
No dropout here (the C side is compared with dropout off).
"""
import numpy as np

import sr15_ref as R

STACK = "classifier"


def make_cfg(D=12, H=6, L=1, peep=1, C=4):
    # sr15_ref's helpers read D, H, L and peep from the same kind of dict.
    return dict(D=D, H=H, L=L, peep=peep, C=C)


def param_blocks(cfg):
    """[(name, rows, cols)] in the documented arena order, equations' layout."""
    D, H, L, C = cfg["D"], cfg["H"], cfg["L"], cfg["C"]
    blocks = []
    for l in range(L):
        blocks.append((f"{STACK}.{l}.w_x", 4 * H, D if l == 0 else H))
        blocks.append((f"{STACK}.{l}.w_h", 4 * H, H))
        if cfg["peep"]:
            blocks.append((f"{STACK}.{l}.peephole", 3 * H, 1))
        blocks.append((f"{STACK}.{l}.bias", 4 * H, 1))
    blocks.append((f"{STACK}.readout.w", C, H))
    blocks.append((f"{STACK}.readout.b", C, 1))
    return blocks


def stored_blocks(cfg):
    return [(n, c, r) if R.is_transposed_in_storage(n) else (n, r, c)
            for n, r, c in param_blocks(cfg)]


def random_params(cfg, rng, scale=0.3):
    p = {}
    for name, r, c in param_blocks(cfg):
        w = rng.uniform(-scale, scale, size=(r, c)).astype(np.float32).astype(np.float64)
        p[name] = w if c > 1 else w.reshape(r)
    return p


def _forward(params, cfg, X, lens):
    T, B, _ = X.shape
    H, L = cfg["H"], cfg["L"]
    lens = np.asarray(lens)
    mask = (np.arange(T)[:, None] < lens[None, :]).astype(np.float64)
    ws = R.stack_weights(params, cfg, STACK)
    state0 = [(np.zeros((B, H)), np.zeros((B, H))) for _ in range(L)]
    tops, _, caches = R.stack_forward(ws, [X[t] for t in range(T)], state0, mask)
    z = tops @ params[f"{STACK}.readout.w"].T + params[f"{STACK}.readout.b"]
    z = z - z.max(-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(-1, keepdims=True)
    return mask, ws, tops, caches, p


def loss_and_grads(params, cfg, X, lens, labels):
    """Returns (loss, accuracy, grads keyed by block name)."""
    mask, ws, tops, caches, p = _forward(params, cfg, X, lens)
    T, B, C = p.shape
    labels = np.asarray(labels)
    N = mask.sum()
    onehot = np.zeros((B, C))
    onehot[np.arange(B), labels] = 1.0
    logp = np.log(p[:, np.arange(B), labels])          # [T, B]
    loss = -(mask * logp).sum() / N
    dz = (p - onehot[None]) * mask[:, :, None] / N
    grads = {f"{STACK}.readout.w": np.einsum("tbc,tbh->ch", dz, tops),
             f"{STACK}.readout.b": dz.sum((0, 1))}
    dtops = dz @ params[f"{STACK}.readout.w"]
    zeros = [(np.zeros((B, cfg["H"])), np.zeros((B, cfg["H"]))) for _ in range(cfg["L"])]
    gws, _ = R.stack_backward(ws, caches, dtops, zeros)
    R._store_stack_grads(grads, cfg, STACK, gws)
    P = clip_probs_from(p, mask, lens)
    acc = float((P.argmax(-1) == labels).mean())
    return loss, acc, grads


def clip_probs_from(p, mask, lens):
    return (p * mask[:, :, None]).sum(0) / np.asarray(lens, float)[:, None]


def predict(params, cfg, X, lens):
    """Clip probabilities [B, C]."""
    mask, _, _, _, p = _forward(params, cfg, X, lens)
    return clip_probs_from(p, mask, lens)


def objective(params, cfg, X, lens, labels):
    return loss_and_grads(params, cfg, X, lens, labels)[0]


def fd_check(cfg, X, lens, labels, params, eps=1e-6):
    """Max relative error of every gradient entry vs central differences (float64)."""
    _, _, g = loss_and_grads(params, cfg, X, lens, labels)
    assert set(g) == set(params), set(g) ^ set(params)
    worst = 0.0
    for name in params:
        flat = params[name].reshape(-1)
        gflat = g[name].reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            fp = objective(params, cfg, X, lens, labels)
            flat[k] = old - eps
            fm = objective(params, cfg, X, lens, labels)
            flat[k] = old
            num = (fp - fm) / (2 * eps)
            worst = max(worst, abs(num - gflat[k]) / max(1e-3, abs(num) + abs(gflat[k])))
    return worst
