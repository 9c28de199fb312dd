/* lstm.c -- the SR15 peephole LSTM: forward and backpropagation through time.
 *
 * Notation per step t and unit j (see lstm.h): a = pre-activations, i f g o = gates,
 * c' = c_{t-1}, c = c_t, τ = tanh(c_t), h = o τ.
 * Backward, with dh = ∂L/∂h_t (from above and from step t+1) and dc = ∂L/∂c_t carried from
 * step t+1:
 *   da_o = dh τ o(1-o)
 *   dc  += dh o (1-τ²) + da_o p_o              (c_t reaches L via h_t and o's peephole)
 *   da_i = dc g i(1-i)    da_f = dc c' f(1-f)    da_g = dc i (1-g²)
 *   dc'  = dc f + da_i p_i + da_f p_f          (carried to step t-1)
 *   dh'  = da W_h^T                            (one GEMM per step, carried to step t-1)
 *   dp_i += da_i c'   dp_f += da_f c'   dp_o += da_o c
 * and after the loop, over all steps at once:
 *   dW_h = H_prev^T dA     dW_x = X^T dA     db = Σ_rows dA    dX = dA W_x^T
 */
#include <math.h>
#include <string.h>
#include "bf16.h"
#include "blas.h"
#include "fastmath.h"
#include "lstm.h"
#include "sparse.h"

size_t sv_lstm_param_count(int D, int H, int peep) {
    size_t h = (size_t)H;
    return 4 * h * (size_t)D + 4 * h * h + (peep ? 3 * h : 0) + 4 * h;
}

void sv_lstm_bind(sv_lstm_layer *l, int D, int H, int peep, float *params, float *grads) {
    size_t h = (size_t)H, nx = 4 * h * (size_t)D, nh = 4 * h * h, np = peep ? 3 * h : 0;
    l->D = D, l->H = H, l->peep = peep;
    l->wx = D ? params : NULL;
    l->wh = params + nx;
    l->p = peep ? params + nx + nh : NULL;
    l->b = params + nx + nh + np;
    l->wx16 = l->wh16 = NULL;
    l->panel = NULL;
    l->gwx = l->gwh = l->gp = l->gb = NULL; /* no gradients (yet): inference only */
    if (grads) {
        l->gwx = D ? grads : NULL;
        l->gwh = grads + nx;
        l->gp = peep ? grads + nx + nh : NULL;
        l->gb = grads + nx + nh + np;
    }
}

void sv_lstm_bind_bf16(sv_lstm_layer *l, int D, int H, int peep, const uint16_t *w16,
                       float *vec, float *panel) {
    size_t h = (size_t)H, nx = 4 * h * (size_t)D;
    l->D = D, l->H = H, l->peep = peep;
    l->wx = l->wh = NULL;
    l->wx16 = D ? w16 : NULL;
    l->wh16 = w16 + nx;
    l->p = peep ? vec : NULL;
    l->b = vec + (peep ? 3 * h : 0);
    l->panel = panel;
    l->gwx = l->gwh = l->gp = l->gb = NULL;
}

/* Row stride of the gate matrix: 4H plus one cache line, so that consecutive rows do not fall
 * into the same cache set when 4H floats is a multiple of 4 KiB (the sparse products walk
 * down columns of it). */
static int gate_ld(int H) { return 4 * H + 16; }

size_t sv_lstm_cache_floats(int T, int B, int H) {
    size_t tb = (size_t)T * (size_t)B, h = (size_t)H;
    return 2 * (tb + (size_t)B) * h + tb * (size_t)gate_ld(H) + tb * h;
}

void sv_lstm_cache_bind(sv_lstm_cache *c, int T, int B, int H, float *mem) {
    size_t tb = (size_t)T * (size_t)B, h = (size_t)H, slots = (tb + (size_t)B) * h;
    c->h = mem;
    c->c = mem + slots;
    c->gates = mem + 2 * slots;
    c->tc = c->gates + tb * (size_t)gate_ld(H);
    c->zero_init = 0;
    c->sparse_input = 0;
}

void sv_lstm_cache_release(sv_lstm_cache *c) {
    sv_sparse_free(c->sparse);
    c->sparse = NULL;
}

/* One row of the cell. a: in pre-activations, out activated gates. The body is instantiated
 * with and without peepholes (has_p is a constant after inlining), so both vectorise. */
static inline __attribute__((always_inline)) void
cell_forward_body(int H, float *restrict a, const float *restrict cp, float *restrict cn,
                  float *restrict hn, float *restrict tc, const float *restrict p,
                  const int has_p) {
    float *ai = a, *af = a + H, *ag = a + 2 * H, *ao = a + 3 * H;
#pragma omp simd
    for (int j = 0; j < H; j++) {
        float pi = has_p ? p[j] : 0.0f, pf = has_p ? p[H + j] : 0.0f;
        float po = has_p ? p[2 * H + j] : 0.0f;
        float i = sv_sigmf(ai[j] + pi * cp[j]), f = sv_sigmf(af[j] + pf * cp[j]);
        float g = sv_tanhf(ag[j]), c = f * cp[j] + i * g;
        float o = sv_sigmf(ao[j] + po * c), t = sv_tanhf(c);
        ai[j] = i, af[j] = f, ag[j] = g, ao[j] = o;
        cn[j] = c, tc[j] = t, hn[j] = o * t;
    }
}

SV_VECTOR_CLONES
static void cell_forward(int H, float *restrict a, const float *restrict cp, float *restrict cn,
                         float *restrict hn, float *restrict tc, const float *restrict p) {
    if (p) cell_forward_body(H, a, cp, cn, hn, tc, p, 1);
    else cell_forward_body(H, a, cp, cn, hn, tc, p, 0);
}

/* One row of the backward step (equations at the top). a: in gates, out dA.
 * dh: ∂L/∂h_t. dc: in ∂L/∂c_t carried from t+1, out ∂L/∂c_{t-1}. gp: peephole gradients. */
static inline __attribute__((always_inline)) void
cell_backward_body(int H, float *restrict a, const float *restrict cp, const float *restrict c,
                   const float *restrict tc, const float *restrict dh, float *restrict dc,
                   const float *restrict p, float *restrict gp, const int has_p) {
    float *ai = a, *af = a + H, *ag = a + 2 * H, *ao = a + 3 * H;
#pragma omp simd
    for (int j = 0; j < H; j++) {
        float pi = has_p ? p[j] : 0.0f, pf = has_p ? p[H + j] : 0.0f;
        float po = has_p ? p[2 * H + j] : 0.0f;
        float i = ai[j], f = af[j], g = ag[j], o = ao[j], t = tc[j];
        float dao = dh[j] * t * o * (1.0f - o);
        float dct = dc[j] + dh[j] * o * (1.0f - t * t) + dao * po;
        float dai = dct * g * i * (1.0f - i);
        float daf = dct * cp[j] * f * (1.0f - f);
        float dag = dct * i * (1.0f - g * g);
        dc[j] = dct * f + dai * pi + daf * pf;
        ai[j] = dai, af[j] = daf, ag[j] = dag, ao[j] = dao;
        if (has_p) {
            gp[j] += dai * cp[j];
            gp[H + j] += daf * cp[j];
            gp[2 * H + j] += dao * c[j];
        }
    }
}

SV_VECTOR_CLONES
static void cell_backward(int H, float *restrict a, const float *restrict cp,
                          const float *restrict c, const float *restrict tc,
                          const float *restrict dh, float *restrict dc, const float *restrict p,
                          float *restrict gp) {
    if (p) cell_backward_body(H, a, cp, c, tc, dh, dc, p, gp, 1);
    else cell_backward_body(H, a, cp, c, tc, dh, dc, p, gp, 0);
}

/* ---- dense products ------------------------------------------------------------------ */

/* C[M x N] += A[M x K] W with W [K x N] (all row-major), W in float32 or, where W16 is not
 * NULL, in bf16. One row is a vector-matrix product: sgemv streams W once, where sgemm would
 * first pack all of it (2-3x slower for batch-1 inference, frame by frame). It is also
 * faster than the packed kernel on a packed copy (SEQVID_WEIGHTS_F32_PACKED), 1.0-1.4x on
 * the recurrent shapes of H = 256 to 2048 (docs/performance.md, "Weights packed once"). */
static void gemm_acc(int M, int N, int K, const float *A, const float *W, const uint16_t *W16,
                     float *panel, float *C, int ldc) {
    if (W16)
        sv_bf16_gemm_acc(M, N, K, A, K, W16, C, ldc, panel);
    else if (M == 1)
        sv_sgemv(SV_TRANS, K, N, 1.0f, W, N, A, 1, 1.0f, C, 1);
    else
        sv_sgemm(SV_NOTRANS, SV_NOTRANS, M, N, K, 1.0f, A, K, W, N, 1.0f,
                 C, ldc);
}

void sv_lstm_forward(const sv_lstm_layer *l, int T, int B, const float *X, int x_t0,
                     const int *len, sv_lstm_cache *cache) {
    const int H = l->H, G = 4 * H, lda = gate_ld(H);
    const size_t BH = (size_t)B * H, BG = (size_t)B * lda;
    float *A = cache->gates;

    /* A = 1 b^T for every row, then A[x_t0:] += X W_x in one product over all steps. */
    for (size_t r = 0; r < (size_t)T * B; r++) memcpy(A + r * lda, l->b, (size_t)G * sizeof *A);
    sv_sparse_forget(cache->sparse);
    if (X && l->D > 0 && x_t0 < T) {
        int rows = (T - x_t0) * B;
        if (cache->sparse_input && sv_sparse_build(&cache->sparse, X, rows, l->D, T * B))
            sv_sparse_forward(cache->sparse, G, l->wx, l->wx16, A + x_t0 * BG, lda);
        else
            gemm_acc(rows, G, l->D, X, l->wx, l->wx16, l->panel, A + x_t0 * BG, lda);
    }

    for (int t = 0; t < T; t++) {
        const float *hp = cache->h + t * BH, *cp = cache->c + t * BH;
        float *hn = cache->h + (t + 1) * BH, *cn = cache->c + (t + 1) * BH;
        float *a = A + t * BG, *tc = cache->tc + t * BH;
        /* The recurrent product: the only GEMM per step (none from a known-zero state). */
        if (t > 0 || !cache->zero_init) gemm_acc(B, G, H, hp, l->wh, l->wh16, l->panel, a, lda);
        for (int b = 0; b < B; b++) {
            size_t o = (size_t)b * H;
            if (len && t >= len[b]) { /* past this row's end: carry the state */
                memcpy(hn + o, hp + o, (size_t)H * sizeof *hn);
                memcpy(cn + o, cp + o, (size_t)H * sizeof *cn);
                memset(a + (size_t)b * lda, 0, (size_t)G * sizeof *a);
                memset(tc + o, 0, (size_t)H * sizeof *tc);
                continue;
            }
            cell_forward(H, a + (size_t)b * lda, cp + o, cn + o, hn + o, tc + o, l->p);
        }
    }
}

void sv_lstm_forward_step(const sv_lstm_layer *l, int t, int B, const float *x, const int *len,
                          sv_lstm_cache *cache) {
    const size_t BH = (size_t)B * l->H, BG = (size_t)B * gate_ld(l->H);
    /* A one-step cache over slots t, t+1 of the whole one: the same arithmetic as the
     * one-step forwards of a roll-out, written where the backward reads it. */
    sv_lstm_cache step = {.h = cache->h + t * BH, .c = cache->c + t * BH,
                          .gates = cache->gates + t * BG, .tc = cache->tc + t * BH,
                          .zero_init = t == 0 && cache->zero_init};
    sv_sparse_forget(cache->sparse); /* a copy from an earlier forward is stale now */
    sv_lstm_forward(l, 1, B, x, 0, len, &step);
}

void sv_lstm_backward(const sv_lstm_layer *l, int T, int B, const float *X, int x_t0,
                      const int *len, sv_lstm_cache *cache, float *dH, const float *dhT,
                      const float *dcT, float *dX, float *dh0, float *dc0, float *tmp) {
    const int H = l->H, G = 4 * H, lda = gate_ld(H);
    const size_t BH = (size_t)B * H, BG = (size_t)B * lda;
    float *dh = tmp, *dc = tmp + BH; /* carries between steps */
    float *A = cache->gates;

    if (dhT) memcpy(dh, dhT, BH * sizeof *dh);
    else memset(dh, 0, BH * sizeof *dh);
    if (dcT) memcpy(dc, dcT, BH * sizeof *dc);
    else memset(dc, 0, BH * sizeof *dc);
    if (l->gp) memset(l->gp, 0, 3 * (size_t)H * sizeof *l->gp);

    for (int t = T - 1; t >= 0; t--) {
        float *a = A + t * BG, *dht = dH + t * BH;
        const float *cp = cache->c + t * BH, *c = cache->c + (t + 1) * BH;
        const float *tc = cache->tc + t * BH;
        for (size_t k = 0; k < BH; k++) dht[k] += dh[k]; /* total ∂L/∂h_t */
        for (int b = 0; b < B; b++) {
            size_t o = (size_t)b * H;
            if (len && t >= len[b]) { /* carried state: gradients pass through unchanged */
                memset(a + (size_t)b * lda, 0, (size_t)G * sizeof *a);
                continue;
            }
            cell_backward(H, a + (size_t)b * lda, cp + o, c + o, tc + o, dht + o, dc + o, l->p,
                          l->gp);
        }
        /* ∂L/∂h_{t-1} through the recurrent weights; carried rows take dh_t itself. At t = 0
         * it is ∂L/∂h0, needed only if the caller asked for it. */
        if (t == 0 && !dh0) break;
        sv_sgemm(SV_NOTRANS, SV_TRANS, B, H, G, 1.0f, a, lda, l->wh, G,
                 0.0f, dh, H);
        if (len)
            for (int b = 0; b < B; b++)
                if (t >= len[b])
                    memcpy(dh + (size_t)b * H, dht + (size_t)b * H, (size_t)H * sizeof *dh);
    }
    if (dh0)
        for (size_t k = 0; k < BH; k++) dh0[k] += dh[k];
    if (dc0)
        for (size_t k = 0; k < BH; k++) dc0[k] += dc[k];

    /* Weight gradients of all steps at once (in bf16 mode: bf16 on CBLAS, float32 on oneDNN;
     * blas.h, sv_sgemm_grad). H_prev = slots 0..T-1 of cache->h; a known-zero slot 0
     * contributes nothing. */
    int z = cache->zero_init && T > 1 ? B : 0;
    sv_sgemm_grad(SV_TRANS, SV_NOTRANS, H, G, T * B - z, 1.0f, cache->h + z * H, H,
                  A + (size_t)z * lda, lda, 0.0f, l->gwh, G);
    memcpy(l->gb, A, (size_t)G * sizeof *l->gb);
    for (size_t r = 1; r < (size_t)T * B; r++) {
        const float *a = A + r * lda;
        for (int k = 0; k < G; k++) l->gb[k] += a[k];
    }
    if (l->D > 0 && !(X && x_t0 < T)) /* no input reached this layer: no gradient either */
        memset(l->gwx, 0, (size_t)G * l->D * sizeof *l->gwx);
    if (X && l->D > 0 && x_t0 < T) {
        const float *Ax = A + (size_t)x_t0 * BG;
        int rows = (T - x_t0) * B;
        if (sv_sparse_holds(cache->sparse)) /* the forward stored X sparse */
            sv_sparse_weight_grad(cache->sparse, G, Ax, lda, l->gwx);
        else
            sv_sgemm_grad(SV_TRANS, SV_NOTRANS, l->D, G, rows, 1.0f, X, l->D, Ax, lda, 0.0f,
                          l->gwx, G);
        if (dX)
            sv_sgemm(SV_NOTRANS, SV_TRANS, rows, l->D, G, 1.0f, Ax, lda,
                     l->wx, G, 0.0f, dX, l->D);
    }
}
