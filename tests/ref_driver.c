/*
 * ref_driver.c -- runs one case of the NumPy reference comparison through the public API and
 * dumps everything for tests/ref/test_reference.py. Not a cmocka test: a plain program.
 *
 *   ref_driver CASEDIR
 *
 * Reads  CASEDIR/case.txt     "key value" lines: kind D H L peep K M cond_recon cond_future
 *                             output T S n_future, and "lengths l_0 .. l_{S-1}"; optional
 *                             sample_recon / sample_future P: scheduled sampling in the
 *                             gradient pass (the experimental SAMPLE_* keys)
 *        CASEDIR/data.f32     T*S*D float32, time-major
 *        CASEDIR/params.txt   "name rows cols" per block, in the order of params.f32
 *        CASEDIR/params.f32   the blocks' float32 values, concatenated
 * Writes CASEDIR/layout.txt   "count N" then "name offset rows cols" per block of the model
 *        CASEDIR/results.txt  "<call> <status> [values...]" per call
 *        CASEDIR/grads.f32    the gradient arena right after seqvid_model_gradients
 *        CASEDIR/coins_recon.u8, coins_future.u8   that pass's coins ((K-1)*S, (M-1)*S
 *                             bytes, step-major) where the decoder sampled
 *        CASEDIR/grads_after.f32, params_after.f32   the arenas after all other calls
 *        CASEDIR/recon_truth.f32, recon_pred.f32     seqvid_model_reconstruct, T*S*D
 *        CASEDIR/predict.f32  n_future*S*D,  CASEDIR/encode.f32  S*F
 *        CASEDIR/pk_*.f32     the inference calls again with the weights stored packed (the
 *                             experimental SEQVID_WEIGHTS_F32_PACKED), results "pk_<call>",
 *                             and pk_grads.f32, its gradient pass (cases without sampling)
 *        CASEDIR/bf16_*.f32   and stored as bf16 (SEQVID_WEIGHTS_BF16), results "bf16_<call>"
 * Blocks are matched by name, so the driver never assumes offsets; a block missing on either
 * side, or of another shape, is an error (exit 2). Library failures are recorded in
 * results.txt (and their message printed on stderr), not fatal: python judges them.
 */
#define SEQVID_EXPERIMENTAL /* the scheduled sampling keys, the weight storages */
#include <seqvid.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h" /* the coins of the sampled pass (private: the reference needs them) */
#include "ref_io.h"

/* The model's parameter blocks, in the shape load_given_params wants. */
static int model_block(const void *obj, size_t i, const char **name, size_t *off, size_t *rows,
                    size_t *cols)
{
    return seqvid_model_param_block(obj, i, name, off, rows, cols);
}

/* The inference calls with the weights stored as `weights`: evaluate teacher-forced, then
 * both reconstruction feeds each through evaluate(INFERENCE) and reconstruct (sentinel fill:
 * frames past a sequence's length must come back as 0), predict, encode. Results
 * "<pre><call>", files "<pre>recon_*.f32", "<pre>predict.f32", "<pre>encode.f32" (TSD, PSD,
 * SF floats). */
static void run_stored(seqvid_model *model, seqvid_batch *batch, FILE *res, int weights,
                       const char *pre, size_t n_future, size_t TSD, size_t PSD, size_t SF)
{
    char call[64], file[64];
#define NAME(buf, what) (snprintf(buf, sizeof buf, "%s%s", pre, what), buf)
    int st = seqvid_experimental_model_set_weights(model, weights);
    report(res, NAME(call, "set"), st, 0, 0, 0);
    if (st != SEQVID_OK)
        return;
    float rec = -1.0f, fut = -1.0f;
    st = seqvid_model_evaluate(model, batch, SEQVID_EVAL_TEACHER_FORCED, &rec, &fut);
    report(res, NAME(call, "eval_tf"), st, 2, rec, fut);
    float *out = xmalloc(TSD * sizeof(float));
    const struct { int feed; const char *ev, *rc, *file; } feeds[] = {
        {SEQVID_FEED_TRUTH, "eval_inf_truth", "reconstruct_truth", "recon_truth.f32"},
        {SEQVID_FEED_PREDICTION, "eval_inf_pred", "reconstruct_pred", "recon_pred.f32"}};
    for (size_t k = 0; k < 2; k++) {
        st = seqvid_model_set(model, SEQVID_CFG_RECON_FEED, feeds[k].feed);
        report(res, "set_feed", st, 0, 0, 0);
        rec = fut = -1.0f;
        st = seqvid_model_evaluate(model, batch, SEQVID_EVAL_INFERENCE, &rec, &fut);
        report(res, NAME(call, feeds[k].ev), st, 2, rec, fut);
        for (size_t i = 0; i < TSD; i++)
            out[i] = 12345.0f;
        st = seqvid_model_reconstruct(model, batch, out, TSD);
        report(res, NAME(call, feeds[k].rc), st, 0, 0, 0);
        write_f32(NAME(file, feeds[k].file), out, st == SEQVID_OK ? TSD : 0);
    }
    free(out);
    out = xmalloc(PSD * sizeof(float));
    st = seqvid_model_predict(model, batch, n_future, out, PSD);
    report(res, NAME(call, "predict"), st, 0, 0, 0);
    write_f32(NAME(file, "predict.f32"), out, st == SEQVID_OK ? PSD : 0);
    free(out);
    out = xmalloc(SF * sizeof(float));
    st = seqvid_model_encode(model, batch, out, SF);
    report(res, NAME(call, "encode"), st, 0, 0, 0);
    write_f32(NAME(file, "encode.f32"), out, st == SEQVID_OK ? SF : 0);
    free(out);
#undef NAME
}

int main(int argc, char **argv)
{
    g_prog = "ref_driver";
    if (argc != 2)
        die("usage: ref_driver CASEDIR", NULL);
    g_dir = argv[1];

    /* ---- case description ---- */
    long kind = 0, D = 0, H = 0, L = 0, peep = 0, K = 0, M = 0, cond_recon = 0, cond_future = 0,
         output = 0, T = 0, S = 0, n_future = 0;
    double sample[2] = {0, 0}; /* recon, future */
    size_t lens[64];
    size_t n_lens = 0;
    {
        FILE *f = open_in("case.txt", "r");
        char key[64];
        while (fscanf(f, "%63s", key) == 1) {
            if (strcmp(key, "lengths") == 0) {
                unsigned long v;
                while (n_lens < 64 && fscanf(f, "%lu", &v) == 1)
                    lens[n_lens++] = v;
                continue;
            }
            if (strcmp(key, "sample_recon") == 0 || strcmp(key, "sample_future") == 0) {
                if (fscanf(f, "%lf", &sample[key[7] == 'f']) != 1)
                    die("bad value for", key);
                continue;
            }
            long v;
            if (fscanf(f, "%ld", &v) != 1)
                die("bad value for", key);
            struct { const char *k; long *p; } tab[] = {
                {"kind", &kind}, {"D", &D}, {"H", &H}, {"L", &L}, {"peep", &peep}, {"K", &K},
                {"M", &M}, {"cond_recon", &cond_recon}, {"cond_future", &cond_future},
                {"output", &output}, {"T", &T}, {"S", &S}, {"n_future", &n_future}};
            size_t i;
            for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
                if (strcmp(key, tab[i].k) == 0) {
                    *tab[i].p = v;
                    break;
                }
            if (i == sizeof tab / sizeof tab[0])
                die("unknown key", key);
        }
        fclose(f);
        if (T <= 0 || S <= 0 || D <= 0 || (long)n_lens != S)
            die("bad case.txt (T, S, D, lengths)", NULL);
    }

    /* ---- model ---- */
    seqvid_config *cfg = NULL;
    if (seqvid_config_create(&cfg) != SEQVID_OK)
        die("config_create", seqvid_last_error());
    struct { int key; long v; } set[] = {
        {SEQVID_CFG_KIND, kind}, {SEQVID_CFG_INPUT_DIM, D}, {SEQVID_CFG_HIDDEN, H},
        {SEQVID_CFG_LAYERS, L}, {SEQVID_CFG_PEEPHOLES, peep}, {SEQVID_CFG_INPUT_FRAMES, K},
        {SEQVID_CFG_FUTURE_FRAMES, M}, {SEQVID_CFG_COND_RECON, cond_recon},
        {SEQVID_CFG_COND_FUTURE, cond_future}, {SEQVID_CFG_OUTPUT, output},
        {SEQVID_CFG_RECON_FEED, SEQVID_FEED_TRUTH}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if (seqvid_config_set(cfg, set[i].key, (double)set[i].v) != SEQVID_OK)
            die("config_set", seqvid_last_error());
    seqvid_model *model = NULL;
    if (seqvid_model_create(cfg, &model) != SEQVID_OK)
        die("model_create", seqvid_last_error());
    seqvid_config_free(cfg);

    size_t count = 0, nblocks = 0;
    float *params = NULL, *grads = NULL;
    if (seqvid_model_param_count(model, &count) != SEQVID_OK ||
        seqvid_model_param_block_count(model, &nblocks) != SEQVID_OK ||
        seqvid_model_params(model, &params) != SEQVID_OK ||
        seqvid_model_grads(model, &grads) != SEQVID_OK)
        die("param arena", seqvid_last_error());
    load_given_params(model, model_block, nblocks, count, params, "model block not given by python:");

    /* ---- batch ---- */
    const size_t TSD = (size_t)T * (size_t)S * (size_t)D;
    float *data;
    seqvid_batch *batch = load_batch(T, S, D, lens, &data);

    FILE *res = open_in("results.txt", "w");
    float rec = -1.0f, fut = -1.0f;
    int st;

    for (int d = 0; d < 2; d++)
        if (sample[d] > 0 &&
            seqvid_model_set(model, d ? SEQVID_CFG_SAMPLE_FUTURE : SEQVID_CFG_SAMPLE_RECON,
                             sample[d]) != SEQVID_OK)
            die("set SAMPLE_*", seqvid_last_error());
    st = seqvid_model_gradients(model, batch, &rec, &fut);
    report(res, "gradients", st, 2, rec, fut);
    write_f32("grads.f32", grads, count);
    for (int d = 0; d < 2; d++) {
        size_t n = (size_t)((d ? M : K) - 1) * (size_t)S;
        if (!(sample[d] > 0) || st != SEQVID_OK || !model->coins[d])
            continue;
        FILE *f = open_in(d ? "coins_future.u8" : "coins_recon.u8", "wb");
        if (n && fwrite(model->coins[d], 1, n, f) != n)
            die("short write", "coins");
        fclose(f);
    }

    size_t F = 0;
    st = seqvid_model_feature_dim(model, &F);
    report(res, "feature_dim", st, 1, (double)F, 0);
    const size_t PSD = (size_t)n_future * (size_t)S * (size_t)D;
    run_stored(model, batch, res, SEQVID_WEIGHTS_F32, "", (size_t)n_future, TSD, PSD,
               (size_t)S * F);

    /* Neither evaluate nor inference may touch the weights or the last gradients. */
    write_f32("grads_after.f32", grads, count);
    write_f32("params_after.f32", params, count);

    /* The inference calls again with the weights stored packed (float32: python compares
     * them with its float64 model on the same weights), then as bf16 (python rounds the
     * weights to bf16 itself). (The arrays above are freed by the bf16 conversion: not read
     * after it.) */
    run_stored(model, batch, res, SEQVID_WEIGHTS_F32_PACKED, "pk_", (size_t)n_future, TSD, PSD,
               (size_t)S * F);
    /* Its gradient pass too (the recurrent products forward and transposed run on packed
     * copies), with the feed of the first pass; not with sampled decoders, whose coins
     * would be drawn anew. */
    if (!(sample[0] > 0) && !(sample[1] > 0) &&
        seqvid_model_set(model, SEQVID_CFG_RECON_FEED, SEQVID_FEED_TRUTH) == SEQVID_OK) {
        float *pk_grads = NULL;
        rec = fut = -1.0f;
        st = seqvid_model_gradients(model, batch, &rec, &fut);
        report(res, "pk_gradients", st, 2, rec, fut);
        if (st == SEQVID_OK && seqvid_model_grads(model, &pk_grads) != SEQVID_OK)
            die("grads of the packed model", seqvid_last_error());
        write_f32("pk_grads.f32", pk_grads, st == SEQVID_OK ? count : 0);
    }
    run_stored(model, batch, res, SEQVID_WEIGHTS_BF16, "bf16_", (size_t)n_future, TSD, PSD,
               (size_t)S * F);

    fclose(res);
    seqvid_batch_free(batch);
    free(data);
    seqvid_model_free(model);
    return 0;
}
