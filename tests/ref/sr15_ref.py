"""Independent float64 NumPy reference of the SR15 models (docs: /work/shared/SR15.md sections
1-2 and the "Models"/"Training"/"Inference"/"Parameters" parts of include/seqvid.h).

Written from the equations only, never from lib/*.c, so that it can judge the C library.

The cell (gate rows i, f, g, o in the 4H dimension; diagonal peepholes p_i, p_f, p_o):
    a   = W_x x_t + W_h h_{t-1} + b                 (W_x term absent for an input-less layer)
    i   = sig(a_i + p_i * c_{t-1})
    f   = sig(a_f + p_f * c_{t-1})
    g   = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    o   = sig(a_o + p_o * c_t)                      (output peephole reads the *new* cell)
    h_t = o * tanh(c_t)
Masked steps (t >= the row's length) carry (h, c) unchanged:
    h_out = m * h_t + (1 - m) * h_{t-1},  c_out likewise.
Layer l > 0 reads h_out of layer l - 1 at the same step.

Scheduled sampling (the experimental SAMPLE_RECON / SAMPLE_FUTURE keys): given a coin mask
coins[t-1, b] for the steps t = 1..T-1 of a conditional decoder, step t of row b reads the
decoder's own output of step t-1 after the output non-linearity where the coin is 1, else the
target it reads when teacher-forced. The inputs so made are constants for the gradient: the
backward is the teacher-forced one on them (the gradient wrt a decoder's input is dropped
anyway), and finite differences must hold them fixed (fd_check does).

Arrays: a batch X is time-major [T, B, D]; states are [B, H]; weights as in the arena
(w_x [4H, D_in], w_h [4H, H], peephole [3H] (stored 3H x 1), bias [4H], readout.w [D, H],
readout.b [D]).  Everything here is float64.
"""
import numpy as np

AUTOENCODER, PREDICTOR, COMPOSITE = 1, 2, 3
BINARY, REAL = 0, 1
FEED_TRUTH, FEED_PREDICTION = 0, 1


# ------------------------------------------------------------------------------------------
# configuration and parameter layout
# ------------------------------------------------------------------------------------------
def make_cfg(kind=COMPOSITE, D=12, H=6, L=1, peep=1, K=3, M=2, cond_recon=1, cond_future=1,
             output=BINARY, recon_feed=FEED_TRUTH):
    return dict(kind=kind, D=D, H=H, L=L, peep=peep, K=K, M=M, cond_recon=cond_recon,
                cond_future=cond_future, output=output, recon_feed=recon_feed)


def has_recon(cfg):
    return cfg["kind"] in (AUTOENCODER, COMPOSITE)


def has_future(cfg):
    return cfg["kind"] in (PREDICTOR, COMPOSITE)


def stacks(cfg):
    """(name, conditional) of every stack in arena order; conditional is None for the encoder."""
    out = [("encoder", None)]
    if has_recon(cfg):
        out.append(("recon", bool(cfg["cond_recon"])))
    if has_future(cfg):
        out.append(("future", bool(cfg["cond_future"])))
    return out


def param_blocks(cfg):
    """[(name, rows, cols)] in the documented arena order."""
    D, H, L = cfg["D"], cfg["H"], cfg["L"]
    blocks = []
    for name, cond in stacks(cfg):
        for l in range(L):
            has_input = not (l == 0 and cond is False)   # unconditioned decoder layer 0
            if has_input:
                blocks.append((f"{name}.{l}.w_x", 4 * H, D if l == 0 else H))
            blocks.append((f"{name}.{l}.w_h", 4 * H, H))
            if cfg["peep"]:
                blocks.append((f"{name}.{l}.peephole", 3 * H, 1))
            blocks.append((f"{name}.{l}.bias", 4 * H, 1))
        if cond is not None:
            blocks.append((f"{name}.readout.w", D, H))
            blocks.append((f"{name}.readout.b", D, 1))
    return blocks


# The library stores weight matrices input-major ("x W": w_x [D_in, 4H], w_h [H, 4H],
# readout.w [H, D]); this reference keeps the equations' layout (W x: [4H, D_in] ...), so the
# two meet only here, by a transpose.
def is_transposed_in_storage(name):
    return name.endswith((".w_x", ".w_h", ".readout.w"))


def stored_blocks(cfg):
    """[(name, rows, cols)] as the library's arena stores them."""
    return [(n, c, r) if is_transposed_in_storage(n) else (n, r, c)
            for n, r, c in param_blocks(cfg)]


def to_storage(name, a):
    return a.T if is_transposed_in_storage(name) else a


def random_params(cfg, rng, scale=0.3):
    """Every block ~ U(-scale, scale), rounded to float32 (the C side stores float32; the
    reference then computes in float64 on exactly the same numbers)."""
    p = {}
    for name, r, c in param_blocks(cfg):
        w = rng.uniform(-scale, scale, size=(r, c)).astype(np.float32).astype(np.float64)
        p[name] = w if c > 1 else w.reshape(r)
    return p


def sig(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))   # stable for any a


def softplus(y):
    return np.maximum(y, 0.0) + np.log1p(np.exp(-np.abs(y)))


# ------------------------------------------------------------------------------------------
# one LSTM layer, one step, forward and backward
# ------------------------------------------------------------------------------------------
def _layer_w(params, cfg, stack, l):
    H = cfg["H"]
    wx = params.get(f"{stack}.{l}.w_x")
    wh = params[f"{stack}.{l}.w_h"]
    b = params[f"{stack}.{l}.bias"]
    if cfg["peep"]:
        pp = params[f"{stack}.{l}.peephole"]
        pi, pf, po = pp[:H], pp[H:2 * H], pp[2 * H:]
    else:
        pi = pf = po = np.zeros(H)
    return wx, wh, b, pi, pf, po


def cell_forward(w, x, h_prev, c_prev, m):
    """One step. x may be None (no input weights). m: [B] mask (1 = real step, 0 = carry)."""
    wx, wh, b, pi, pf, po = w
    H = wh.shape[1]
    a = h_prev @ wh.T + b
    if wx is not None:
        a = a + x @ wx.T
    i = sig(a[:, :H] + pi * c_prev)
    f = sig(a[:, H:2 * H] + pf * c_prev)
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    o = sig(a[:, 3 * H:] + po * c)
    tc = np.tanh(c)
    h = o * tc
    mm = m[:, None]
    h_out = mm * h + (1 - mm) * h_prev
    c_out = mm * c + (1 - mm) * c_prev
    cache = (x, h_prev, c_prev, i, f, g, c, o, tc, mm)
    return h_out, c_out, cache


def cell_backward(w, cache, dh_out, dc_out, gw):
    """Backward of cell_forward. Accumulates weight grads into gw = dict(wx, wh, b, pi, pf, po)
    and returns (dx, dh_prev, dc_prev)."""
    wx, wh, b, pi, pf, po = w
    x, h_prev, c_prev, i, f, g, c, o, tc, mm = cache
    dh = mm * dh_out
    dc = mm * dc_out
    dh_prev = (1 - mm) * dh_out
    dc_prev = (1 - mm) * dc_out
    dao = dh * tc * o * (1 - o)
    dc = dc + dh * o * (1 - tc * tc) + dao * po
    dai = dc * g * i * (1 - i)
    daf = dc * c_prev * f * (1 - f)
    dag = dc * i * (1 - g * g)
    dc_prev = dc_prev + dc * f + dai * pi + daf * pf
    da = np.concatenate([dai, daf, dag, dao], axis=1)
    gw["pi"] += (dai * c_prev).sum(0)
    gw["pf"] += (daf * c_prev).sum(0)
    gw["po"] += (dao * c).sum(0)
    gw["b"] += da.sum(0)
    gw["wh"] += da.T @ h_prev
    dh_prev = dh_prev + da @ wh
    dx = None
    if wx is not None:
        gw["wx"] += da.T @ x
        dx = da @ wx
    return dx, dh_prev, dc_prev


# ------------------------------------------------------------------------------------------
# a stack of L layers over T steps
# ------------------------------------------------------------------------------------------
def stack_weights(params, cfg, stack):
    return [_layer_w(params, cfg, stack, l) for l in range(cfg["L"])]


def stack_step(ws, x, state, m):
    """One time step through all layers. state: list of (h, c) per layer. Returns
    (h_top, new_state, caches)."""
    new_state, caches = [], []
    inp = x
    for l, w in enumerate(ws):
        h, c, cache = cell_forward(w, inp, state[l][0], state[l][1], m)
        new_state.append((h, c))
        caches.append(cache)
        inp = h
    return inp, new_state, caches


def stack_forward(ws, xs, state0, mask):
    """xs: list of T inputs ([B, D_in] or None), state0: list of (h, c), mask: [T, B].
    Returns (h_tops [T, B, H], final state, caches)."""
    state = state0
    tops, caches = [], []
    for t in range(len(xs)):
        top, state, cs = stack_step(ws, xs[t], state, mask[t])
        tops.append(top)
        caches.append(cs)
    return np.array(tops), state, caches


def _zero_gw(w):
    wx, wh, b, pi, pf, po = w
    return dict(wx=None if wx is None else np.zeros_like(wx), wh=np.zeros_like(wh),
                b=np.zeros_like(b), pi=np.zeros_like(pi), pf=np.zeros_like(pf),
                po=np.zeros_like(po))


def stack_backward(ws, caches, dtops, dfinal):
    """BPTT. dtops: [T, B, H] gradient wrt each step's top h_out; dfinal: list of (dh, dc) wrt
    the final state per layer. Returns (per-layer weight grads, gradient wrt state0)."""
    L = len(ws)
    gws = [_zero_gw(w) for w in ws]
    dstate = [(dh.copy(), dc.copy()) for dh, dc in dfinal]
    for t in range(len(caches) - 1, -1, -1):
        dfrom_above = dtops[t]
        for l in range(L - 1, -1, -1):
            dh_out = dstate[l][0] + dfrom_above
            dx, dh_prev, dc_prev = cell_backward(ws[l], caches[t][l], dh_out, dstate[l][1],
                                                 gws[l])
            dstate[l] = (dh_prev, dc_prev)
            dfrom_above = dx
    return gws, dstate


def _store_stack_grads(grads, cfg, stack, gws):
    for l, gw in enumerate(gws):
        if gw["wx"] is not None:
            grads[f"{stack}.{l}.w_x"] = gw["wx"]
        grads[f"{stack}.{l}.w_h"] = gw["wh"]
        grads[f"{stack}.{l}.bias"] = gw["b"]
        if cfg["peep"]:
            grads[f"{stack}.{l}.peephole"] = np.concatenate([gw["pi"], gw["pf"], gw["po"]])


# ------------------------------------------------------------------------------------------
# readout and losses
# ------------------------------------------------------------------------------------------
def readout(params, stack, h):
    return h @ params[f"{stack}.readout.w"].T + params[f"{stack}.readout.b"]


def out_nonlin(cfg, y):
    return sig(y) if cfg["output"] == BINARY else y


def frame_loss(cfg, y, x):
    """Per-frame loss summed over D (shape [..., D] -> [...]) and its gradient wrt y."""
    if cfg["output"] == BINARY:
        # -[x log p + (1-x) log(1-p)] with p = sig(y)  ==  softplus(y) - x*y
        return (softplus(y) - x * y).sum(-1), sig(y) - x
    d = y - x
    return 0.5 * (d * d).sum(-1), d


# ------------------------------------------------------------------------------------------
# encoder
# ------------------------------------------------------------------------------------------
def encoder_forward(params, cfg, X, n):
    """Encoder reads frames 0..n_b-1 of every row (n: [B] ints), over max(n) steps.
    Returns (final state per layer, caches, T_enc, ws)."""
    B = X.shape[1]
    H, L = cfg["H"], cfg["L"]
    Te = int(max(n))
    mask = (np.arange(Te)[:, None] < np.asarray(n)[None, :]).astype(np.float64)
    ws = stack_weights(params, cfg, "encoder")
    state0 = [(np.zeros((B, H)), np.zeros((B, H))) for _ in range(L)]
    _, final, caches = stack_forward(ws, [X[t] for t in range(Te)], state0, mask)
    return final, caches, ws


# ------------------------------------------------------------------------------------------
# decoder targets (training / evaluation on a training-shaped batch)
# ------------------------------------------------------------------------------------------
def recon_targets(X, n):
    """Recon decoder step t of row b targets x_{n_b-1-t}; valid for t < n_b.
    Returns (targets [Tr, B, D], valid [Tr, B])."""
    T, B, D = X.shape
    Tr = int(max(n))
    tg = np.zeros((Tr, B, D))
    valid = np.zeros((Tr, B))
    for b in range(B):
        for t in range(n[b]):
            tg[t, b] = X[n[b] - 1 - t, b]
            valid[t, b] = 1
    return tg, valid


def future_targets(X, lens, K, M):
    """Future step t of row b targets x_{K+t}; valid for K + t < len_b and t < M."""
    T, B, D = X.shape
    tg = np.zeros((M, B, D))
    valid = np.zeros((M, B))
    for b in range(B):
        for t in range(M):
            if K + t < lens[b]:
                tg[t, b] = X[K + t, b]
                valid[t, b] = 1
    return tg, valid


def _teacher_inputs(cond, tg):
    """Conditional: step 0 zeros, step t>0 the previous target. Unconditioned: None."""
    Td = tg.shape[0]
    if not cond:
        return [None] * Td
    return [np.zeros_like(tg[0])] + [tg[t - 1] for t in range(1, Td)]


def _sampled_inputs(params, cfg, stack, init, tg, valid, coins):
    """Scheduled sampling: the inputs of a conditional decoder whose step t > 0 reads, for the
    rows b with coins[t-1, b] == 1, its own output of step t-1 after the non-linearity, and the
    previous target for the others. Runs the decoder step by step from init."""
    ws = stack_weights(params, cfg, stack)
    Td = tg.shape[0]
    xs = [np.zeros_like(tg[0])]
    state = init
    for t in range(Td):
        if t > 0:
            fed = np.asarray(coins[t - 1], bool)[:, None]
            xs.append(np.where(fed, out_nonlin(cfg, y), tg[t - 1]))
        top, state, _ = stack_step(ws, xs[t], state, valid[t])
        y = readout(params, stack, top)
    return xs


# ------------------------------------------------------------------------------------------
# training objective: forward + backward
# ------------------------------------------------------------------------------------------
def _decoder_train(params, cfg, stack, cond, init, tg, valid, xs=None):
    """Teacher-forced decoder, or fed the inputs xs (a list of Td arrays [B, D]; a sampled
    pass). Returns (loss, grads of its own params, dinit per layer)."""
    ws = stack_weights(params, cfg, stack)
    if xs is None:
        xs = _teacher_inputs(cond, tg)
    mask = valid.copy()   # padding steps of a decoder come after all valid ones: masking
    #                       them (or not) cannot change any valid output.
    tops, final, caches = stack_forward(ws, xs, init, mask)
    y = readout(params, stack, tops)
    lf, dy = frame_loss(cfg, y, tg)
    # No valid target frame in the whole batch (e.g. every length <= K for the future
    # predictor): the header leaves it open; we take loss 0 and no gradient, like a model
    # without that decoder.
    N = max(valid.sum(), 1.0)
    loss = (lf * valid).sum() / N
    dy = dy * valid[:, :, None] / N
    grads = {}
    W = params[f"{stack}.readout.w"]
    grads[f"{stack}.readout.w"] = np.einsum("tbd,tbh->dh", dy, tops)
    grads[f"{stack}.readout.b"] = dy.sum((0, 1))
    dtops = dy @ W
    zeros = [(np.zeros_like(h), np.zeros_like(c)) for h, c in final]
    gws, dinit = stack_backward(ws, caches, dtops, zeros)
    _store_stack_grads(grads, cfg, stack, gws)
    return loss, grads, dinit


def loss_and_grads(params, cfg, X, lens, coins=None, inputs=None):
    """Training objective on a batch X [T, B, D] with lengths lens. Returns
    (rec_loss, fut_loss, grads dict keyed by block name, same shapes as params).
    Scheduled sampling: coins {"recon"/"future": [Td-1, B] 0/1} makes the inputs of those
    decoders as _sampled_inputs does; inputs {"recon"/"future": list of Td [B, D]} gives them
    outright (held fixed: what the gradient of a sampled pass belongs to). With coins or
    inputs the inputs used are returned as a fourth value."""
    K, M = cfg["K"], cfg["M"]
    lens = np.asarray(lens)
    n = np.minimum(lens, K)
    final, enc_caches, enc_ws = encoder_forward(params, cfg, X, n)
    grads = {}
    dfinal = [(np.zeros_like(h), np.zeros_like(c)) for h, c in final]
    rec = fut = 0.0
    used = {}

    def decoder(stack, cond, tg, valid):
        xs = (inputs or {}).get(stack)
        if xs is None and cond and (coins or {}).get(stack) is not None:
            xs = _sampled_inputs(params, cfg, stack, final, tg, valid, coins[stack])
        if xs is not None:
            used[stack] = xs
        return _decoder_train(params, cfg, stack, cond, final, tg, valid, xs)

    if has_recon(cfg):
        tg, valid = recon_targets(X, n)
        rec, g, dinit = decoder("recon", cfg["cond_recon"], tg, valid)
        grads.update(g)
        dfinal = [(a + c, b + d) for (a, b), (c, d) in zip(dfinal, dinit)]
    if has_future(cfg):
        tg, valid = future_targets(X, lens, K, M)
        fut, g, dinit = decoder("future", cfg["cond_future"], tg, valid)
        grads.update(g)
        dfinal = [(a + c, b + d) for (a, b), (c, d) in zip(dfinal, dinit)]
    Te = len(enc_caches)
    H = cfg["H"]
    gws, _ = stack_backward(enc_ws, enc_caches, np.zeros((Te, X.shape[1], H)), dfinal)
    _store_stack_grads(grads, cfg, "encoder", gws)
    if coins is not None or inputs is not None:
        return rec, fut, grads, used
    return rec, fut, grads


def objective(params, cfg, X, lens, inputs=None):
    r, f, *_ = loss_and_grads(params, cfg, X, lens, inputs=inputs)
    return r + f


# ------------------------------------------------------------------------------------------
# inference: decoders fed their own outputs
# ------------------------------------------------------------------------------------------
def decoder_rollout(params, cfg, stack, cond, init, n_steps, feed_truth=None):
    """Run a decoder n_steps from init. Conditional: step 0 input zeros, step t > 0 input is
    feed_truth[t-1] if given (teacher forcing) else the previous output after the output
    non-linearity. Returns (logits/linear outputs y [n, B, D], outputs after non-linearity)."""
    ws = stack_weights(params, cfg, stack)
    B = init[0][0].shape[0]
    D = cfg["D"]
    state = init
    ones = np.ones(B)
    prev = np.zeros((B, D))
    ys = []
    for t in range(n_steps):
        x = None
        if cond:
            if t == 0:
                x = np.zeros((B, D))
            else:
                x = feed_truth[t - 1] if feed_truth is not None else prev
        top, state, _ = stack_step(ws, x, state, ones)
        y = readout(params, stack, top)
        ys.append(y)
        prev = out_nonlin(cfg, y)
    ys = np.array(ys).reshape(n_steps, B, D)
    return ys, out_nonlin(cfg, ys)


def evaluate(params, cfg, X, lens, teacher_forced):
    """seqvid_model_evaluate: losses on a training-shaped batch (encoder reads min(len, K)).
    Inference mode: future predictor fed its own outputs, recon decoder per recon_feed."""
    if teacher_forced:
        r, f, _ = loss_and_grads(params, cfg, X, lens)
        return r, f
    K, M = cfg["K"], cfg["M"]
    lens = np.asarray(lens)
    n = np.minimum(lens, K)
    final, _, _ = encoder_forward(params, cfg, X, n)
    rec = fut = 0.0
    if has_recon(cfg):
        tg, valid = recon_targets(X, n)
        truth = tg if cfg["recon_feed"] == FEED_TRUTH else None
        y, _ = decoder_rollout(params, cfg, "recon", cfg["cond_recon"], final, tg.shape[0],
                               truth)
        lf, _ = frame_loss(cfg, y, tg)
        rec = (lf * valid).sum() / max(valid.sum(), 1.0)
    if has_future(cfg):
        tg, valid = future_targets(X, lens, K, M)
        y, _ = decoder_rollout(params, cfg, "future", cfg["cond_future"], final, M, None)
        lf, _ = frame_loss(cfg, y, tg)
        fut = (lf * valid).sum() / max(valid.sum(), 1.0)
    return rec, fut


def encode(params, cfg, X, lens):
    """seqvid_model_encode: encoder reads all valid frames; out [B, 2*L*H] = [h_0 c_0 h_1 ...]."""
    final, _, _ = encoder_forward(params, cfg, X, np.asarray(lens))
    return np.concatenate([np.concatenate([h, c], axis=1) for h, c in final], axis=1)


def predict(params, cfg, X, lens, n_future):
    """seqvid_model_predict: out [n_future, B, D] (probabilities for binary)."""
    final, _, _ = encoder_forward(params, cfg, X, np.asarray(lens))
    _, p = decoder_rollout(params, cfg, "future", cfg["cond_future"], final, n_future, None)
    return p


def reconstruct(params, cfg, X, lens):
    """seqvid_model_reconstruct: out [T, B, D] in input order, 0 at/after each row's length.
    Decoder step t reconstructs frame n_b-1-t; fed per recon_feed."""
    T, B, D = X.shape
    lens = np.asarray(lens)
    final, _, _ = encoder_forward(params, cfg, X, lens)
    tg, valid = recon_targets(X, lens)
    truth = tg if cfg["recon_feed"] == FEED_TRUTH else None
    _, p = decoder_rollout(params, cfg, "recon", cfg["cond_recon"], final, tg.shape[0], truth)
    out = np.zeros((T, B, D))
    for b in range(B):
        for t in range(lens[b]):
            out[lens[b] - 1 - t, b] = p[t, b]
    return out


# ------------------------------------------------------------------------------------------
# self-check: hand-written BPTT against central finite differences (float64)
# ------------------------------------------------------------------------------------------
def fd_check(cfg, X, lens, params, eps=1e-6, coins=None):
    """Max relative error of every gradient entry vs central differences. With coins
    (scheduled sampling) the inputs the coins make at params are held fixed."""
    inputs = None
    if coins is None:
        _, _, g = loss_and_grads(params, cfg, X, lens)
    else:
        _, _, g, inputs = loss_and_grads(params, cfg, X, lens, coins=coins)
    worst = 0.0
    for name in params:
        p = params[name]
        flat = p.reshape(-1)
        gflat = g[name].reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            fp = objective(params, cfg, X, lens, inputs)
            flat[k] = old - eps
            fm = objective(params, cfg, X, lens, inputs)
            flat[k] = old
            num = (fp - fm) / (2 * eps)
            err = abs(num - gflat[k]) / max(1e-3, abs(num) + abs(gflat[k]))
            worst = max(worst, err)
    assert set(g) == set(params), (set(g) ^ set(params))
    return worst
