/* test_lstm.c -- the kernel on its own: the sparse-input path gives the same forward states
 * and the same gradients as the dense BLAS path, for full register blocks and ragged tails,
 * with masked rows, at 1 and 2 threads; and a too-dense input falls back to BLAS. In bf16
 * mode the weight gradients (of a layer and of a readout) are float32 products. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "arena.h" /* sv_readout */
#include "bf16.h"
#include "blas.h"
#include "lstm.h"
#include "packed.h"
#include "sparse.h"
#include "rng.h"
#include "seqvid.h"

static float *rnd(size_t n, sv_rng *r, double scale, double zero_frac) {
    float *x = calloc(n, sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double u = sv_rng_uniform(r);
        x[i] = sv_rng_uniform(r) < zero_frac ? 0.0f : (float)((2 * u - 1) * scale);
    }
    return x;
}

typedef struct run {
    float *h, *c, *gp; /* forward states, and all gradients concatenated */
    int sparse_used;
} run;

/* Forward + backward of one layer on X; with or without room for the sparse path. */
static run one_run(int D, int H, int T, int B, int x_t0, const int *len, const float *params,
                   const float *X, const float *dH0, int use_sparse) {
    size_t np = sv_lstm_param_count(D, H, 1);
    float *p = malloc(np * sizeof *p), *g = calloc(np, sizeof *g);
    memcpy(p, params, np * sizeof *p);
    sv_lstm_layer l;
    sv_lstm_bind(&l, D, H, 1, p, g);
    float *mem = calloc(sv_lstm_cache_floats(T, B, H), sizeof(float));
    sv_lstm_cache c = {0};
    sv_lstm_cache_bind(&c, T, B, H, mem);
    c.sparse_input = use_sparse;
    sv_lstm_forward(&l, T, B, X, x_t0, len, &c);
    run r = {malloc((size_t)(T + 1) * B * H * sizeof(float)),
             malloc((size_t)(T + 1) * B * H * sizeof(float)), g, sv_sparse_holds(c.sparse)};
    memcpy(r.h, c.h, (size_t)(T + 1) * B * H * sizeof(float));
    memcpy(r.c, c.c, (size_t)(T + 1) * B * H * sizeof(float));
    float *dH = malloc((size_t)T * B * H * sizeof *dH), *tmp = calloc(2 * (size_t)B * H, 4);
    memcpy(dH, dH0, (size_t)T * B * H * sizeof *dH);
    sv_lstm_backward(&l, T, B, X, x_t0, len, &c, dH, NULL, NULL, NULL, NULL, NULL, tmp);
    sv_lstm_cache_release(&c);
    free(p), free(mem), free(dH), free(tmp);
    return r;
}

static void compare(int D, int H, int T, int B, int x_t0, int masked, double zero_frac,
                    int expect_sparse) {
    sv_rng r;
    sv_rng_seed(&r, (uint64_t)(D * 131 + H * 7 + T));
    size_t np = sv_lstm_param_count(D, H, 1);
    float *params = rnd(np, &r, 0.3, 0.0);
    float *X = rnd((size_t)(T - x_t0) * B * D, &r, 1.0, zero_frac);
    float *dH = rnd((size_t)T * B * H, &r, 1.0, 0.0);
    int len[8] = {T, T - 1, 1, T, T, 2, T, T};
    run a = one_run(D, H, T, B, x_t0, masked ? len : NULL, params, X, dH, 0);
    run s = one_run(D, H, T, B, x_t0, masked ? len : NULL, params, X, dH, 1);
    assert_int_equal(s.sparse_used, expect_sparse);
    for (size_t i = 0; i < (size_t)(T + 1) * B * H; i++) {
        assert_float_equal(a.h[i], s.h[i], 1e-5);
        assert_float_equal(a.c[i], s.c[i], 1e-5);
    }
    for (size_t i = 0; i < np; i++) assert_float_equal(a.gp[i], s.gp[i], 1e-4);
    free(a.h), free(a.c), free(a.gp), free(s.h), free(s.c), free(s.gp);
    free(params), free(X), free(dH);
}

static void test_sparse_matches_dense(void **state) {
    /* 4H = 12 (tail only), 40 (one block + tail), 64 (two full blocks) */
    int Hs[] = {3, 10, 16};
    for (int t = 1; t <= 2; t++) {
        assert_int_equal(seqvid_set_threads(t), 0);
        for (int i = 0; i < 3; i++) {
            compare(23, Hs[i], 5, 3, 0, 0, 0.9, 1);
            compare(23, Hs[i], 5, 3, 1, 1, 0.9, 1); /* decoder-style: no input at step 0 */
        }
    }
    assert_int_equal(seqvid_set_threads(1), 0);
}

/* Few rows take several 32-column blocks per unit of work (sparse.c: longer pieces of each
 * row of W): 4H = 400 (12 blocks and a 16-column tail), 1 to 3 rows; against the dense path,
 * and bitwise the same at 1, 2 and 3 threads, whose units differ in width. */
static void test_sparse_wide_units(void **state) {
    (void)state;
    const int D = 300, H = 100, T = 3, Bs[] = {1, 3};
    for (size_t k = 0; k < 2; k++) {
        const int B = Bs[k];
        compare(D, H, T, B, 0, 0, 0.93, 1);
        compare(D, H, 1, B, 0, 0, 0.93, 1);
        sv_rng r;
        sv_rng_seed(&r, 77 + k);
        size_t np = sv_lstm_param_count(D, H, 1), nh = (size_t)(T + 1) * B * H;
        float *params = rnd(np, &r, 0.3, 0.0), *X = rnd((size_t)T * B * D, &r, 1.0, 0.93);
        float *dH = rnd((size_t)T * B * H, &r, 1.0, 0.0);
        run one = {0};
        for (int t = 1; t <= 3; t++) {
            assert_int_equal(seqvid_set_threads(t), 0);
            run x = one_run(D, H, T, B, 0, NULL, params, X, dH, 1);
            assert_int_equal(x.sparse_used, 1);
            if (t == 1) {
                one = x;
                continue;
            }
            assert_memory_equal(x.h, one.h, nh * sizeof *x.h);
            assert_memory_equal(x.c, one.c, nh * sizeof *x.c);
            assert_memory_equal(x.gp, one.gp, np * sizeof *x.gp);
            free(x.h), free(x.c), free(x.gp);
        }
        free(one.h), free(one.c), free(one.gp), free(params), free(X), free(dH);
    }
    assert_int_equal(seqvid_set_threads(1), 0);
}

/* Many rows (32 or more) take the forward's row walk (sparse.c: each row's sums in registers,
 * W's rows copied per chunk of 256); few rows, the column walk. Both add the terms of an
 * output in ascending column order, so a batch gives bitwise what each of its rows gives
 * alone -- checked here, with float32 and bf16-stored W, over a D of two chunks and a
 * partial one, N = 160 and 168 (two 64-column units of the row walk, and a tail of 32 or 40
 * columns that the column walk takes), at 1 and 2 threads (the input stored by one thread
 * and by two, sv_sparse_build's chunks of columns); the sums are also
 * checked against double precision, and the weight gradient (pairs of columns, dA copied per
 * block) against double precision and across thread counts. */
static void test_sparse_row_walk(void **state) {
    (void)state;
    const int D = 600, rows = 45, Ns[] = {160, 168};
    for (size_t v = 0; v < 2; v++)
        for (int wide = 0; wide < 2; wide++) {
            const int N = Ns[wide];
            sv_rng r;
            sv_rng_seed(&r, 4242 + 2 * v + (size_t)wide);
            float *X = rnd((size_t)rows * D, &r, 1.0, 0.93), *W = rnd((size_t)D * N, &r, 0.3, 0.0);
            float *A0 = rnd((size_t)rows * (N + 8), &r, 1.0, 0.0); /* lda N + 8, a bias */
            float *G = rnd((size_t)rows * (N + 8), &r, 1.0, 0.0);
            uint16_t *W16 = NULL;
            if (v == 1) { /* bf16-stored: W rounded, then used as float32 from here on */
                W16 = malloc((size_t)D * N * sizeof *W16);
                for (size_t i = 0; i < (size_t)D * N; i++) {
                    W16[i] = sv_bf16_from_float(W[i]);
                    W[i] = sv_bf16_to_float(W16[i]);
                }
            }
            const size_t na = (size_t)rows * (N + 8);
            float *all = malloc(na * sizeof *all), *one = malloc(na * sizeof *one);
            float *dW = malloc((size_t)D * N * sizeof *dW), *dW1 = malloc((size_t)D * N * 4);
            for (int t = 1; t <= 2; t++) {
                assert_int_equal(seqvid_set_threads(t), 0);
                sv_sparse *s = NULL;
                memcpy(all, A0, na * sizeof *all);
                assert_true(sv_sparse_build(&s, X, rows, D, rows));
                sv_sparse_forward(s, N, W, W16, all, N + 8);
                sv_sparse_weight_grad(s, N, G, N + 8, dW);
                memcpy(one, A0, na * sizeof *one);
                for (int i = 0; i < rows; i++) {
                    assert_true(sv_sparse_build(&s, X + (size_t)i * D, 1, D, 1));
                    sv_sparse_forward(s, N, W, W16, one + (size_t)i * (N + 8), N + 8);
                }
                assert_memory_equal(all, one, na * sizeof *all);
                for (int i = 0; i < rows; i++)
                    for (int c = 0; c < N; c++) {
                        double want = A0[(size_t)i * (N + 8) + c];
                        for (int d = 0; d < D; d++)
                            want += (double)X[(size_t)i * D + d] * W[(size_t)d * N + c];
                        assert_float_equal(all[(size_t)i * (N + 8) + c], want, 1e-4);
                    }
                for (int d = 0; d < D; d++)
                    for (int c = 0; c < N; c++) {
                        double want = 0;
                        for (int i = 0; i < rows; i++)
                            want += (double)X[(size_t)i * D + d] * G[(size_t)i * (N + 8) + c];
                        assert_float_equal(dW[(size_t)d * N + c], want, 1e-4);
                    }
                if (t == 1) memcpy(dW1, dW, (size_t)D * N * sizeof *dW);
                else assert_memory_equal(dW, dW1, (size_t)D * N * sizeof *dW);
                sv_sparse_free(s);
            }
            free(X), free(W), free(W16), free(A0), free(G), free(all), free(one), free(dW);
            free(dW1);
        }
    assert_int_equal(seqvid_set_threads(1), 0);
}

static void test_dense_input_falls_back(void **state) {
    compare(23, 10, 4, 3, 0, 0, 0.5, 0); /* half the inputs nonzero: BLAS path */
    compare(23, 10, 4, 3, 0, 1, 0.0, 0);
}

/* bf16 mode (AVX512-BF16) rounds the operands of the products with weights to bf16; the
 * weight gradients dW = X^T dG go through sv_sgemm_grad (blas.h): bf16 on CBLAS, float32 on
 * oneDNN (each measured the faster there, docs/performance.md). What is checkable bitwise:
 * each weight gradient of a bf16 backward pass equals that product -- in bf16 on CBLAS, in
 * float32 on oneDNN -- of that pass's own operands: the inputs and states it stored and the
 * gate gradients it left in the cache (which are bf16-influenced, so a float32 model's
 * gradients are no reference). And the pass really was bf16: its states differ from a
 * float32 forward's. Where bf16 cannot run there is nothing to check. */
static void test_bf16_weight_grads(void **state) {
    (void)state;
    sv_blas_set_bf16(0);
    if (!sv_blas_bf16_supported()) skip();
    const int D = 23, H = 16, T = 5, B = 3, G = 4 * H, O = 7, rows = T * B;
    sv_rng r;
    sv_rng_seed(&r, 2026);
    size_t np = sv_lstm_param_count(D, H, 1), nh = (size_t)(T + 1) * B * H;
    float *params = rnd(np, &r, 0.3, 0.0), *g = calloc(np, sizeof *g);
    float *X = rnd((size_t)rows * D, &r, 1.0, 0.0), *dH = rnd((size_t)rows * H, &r, 1.0, 0.0);
    float *dX = calloc((size_t)rows * D, sizeof *dX), *tmp = calloc(2 * (size_t)B * H, 4);
    float *want = malloc((size_t)G * D * sizeof *want), *h32 = malloc(nh * sizeof *h32);
    sv_lstm_layer l;
    sv_lstm_bind(&l, D, H, 1, params, g);
    float *mem = calloc(sv_lstm_cache_floats(T, B, H), sizeof(float));
    sv_lstm_cache c = {0};
    sv_lstm_cache_bind(&c, T, B, H, mem);
    sv_lstm_forward(&l, T, B, X, 0, NULL, &c);
    memcpy(h32, c.h, nh * sizeof *h32);

    /* registered as a model in bf16 precision does (the CBLAS backend's bf16 products are
     * on registered weights: lib/packed.c) */
    unsigned version = 1;
    sv_packed_range pk = {0};
    sv_packed_register_bf16(&pk, params, np, &version);
    assert_int_equal(sv_blas_set_bf16(1), 1);
    sv_lstm_forward(&l, T, B, X, 0, NULL, &c);
    assert_true(memcmp(c.h, h32, nh * sizeof *h32) != 0); /* the products were bf16 */
    sv_lstm_backward(&l, T, B, X, 0, NULL, &c, dH, NULL, NULL, dX, NULL, NULL, tmp);
    /* A readout on the layer's states, its output gradient random. */
    float *w = rnd((size_t)H * O, &r, 0.3, 0.0), *b = calloc(O, sizeof *b);
    float *gw = calloc((size_t)H * O, sizeof *gw), *gb = calloc(O, sizeof *gb);
    float *dY = rnd((size_t)rows * O, &r, 1.0, 0.0), *dXr = calloc((size_t)rows * H, 4);
    sv_readout ro = {H, O, w, b, gw, gb, NULL, NULL};
    sv_readout_backward(&ro, c.h + (size_t)B * H, rows, dY, dXr);

    /* the products as the weight gradients take them in bf16 mode (still on) ... */
    const int cblas = strcmp(sv_blas_info().name, "onednn") != 0;
    int lda = (int)((size_t)(c.tc - c.gates) / (size_t)rows); /* the gates' row stride */
    float *f32 = malloc((size_t)H * G * sizeof *f32);
    sv_sgemm_grad(SV_TRANS, SV_NOTRANS, H, G, rows, 1.0f, c.h, H, c.gates, lda, 0.0f, want, G);
    assert_memory_equal(l.gwh, want, (size_t)H * G * sizeof *want);
    sv_sgemm_f32(SV_TRANS, SV_NOTRANS, H, G, rows, 1.0f, c.h, H, c.gates, lda, 0.0f, f32, G);
    /* ... which are bf16 on CBLAS (not the float32 product), float32 on oneDNN */
    assert_int_equal(memcmp(want, f32, (size_t)H * G * sizeof *f32) != 0, cblas);
    sv_sgemm_grad(SV_TRANS, SV_NOTRANS, D, G, rows, 1.0f, X, D, c.gates, lda, 0.0f, want, G);
    assert_memory_equal(l.gwx, want, (size_t)D * G * sizeof *want);
    sv_sgemm_grad(SV_TRANS, SV_NOTRANS, H, O, rows, 1.0f, c.h + (size_t)B * H, H, dY, O, 0.0f,
                  want, O);
    assert_memory_equal(gw, want, (size_t)H * O * sizeof *want);
    assert_int_equal(sv_blas_set_bf16(0), 0);
    free(f32);

    sv_lstm_cache_release(&c);
    sv_packed_unregister(&pk);
    free(params), free(g), free(X), free(dH), free(dX), free(tmp), free(want), free(h32);
    free(mem), free(w), free(b), free(gw), free(gb), free(dY), free(dXr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_matches_dense),
        cmocka_unit_test(test_sparse_wide_units),
        cmocka_unit_test(test_sparse_row_walk),
        cmocka_unit_test(test_dense_input_falls_back),
        cmocka_unit_test(test_bf16_weight_grads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
