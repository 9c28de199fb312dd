/* fuzz_load.c -- libFuzzer harness of the loaders (lib/serialize.c).
 *
 * Each input goes through seqvid_model_load_buffer, the same straight into bf16 weights
 * (seqvid_experimental_model_load_buffer_as) and the checkpoint loader (without and with a
 * generator whose state is to be restored). Oracles: no crash and no sanitizer report
 * (ASan, UBSan, LeakSanitizer); a failed load returns no object; whatever loads saves again
 * and reloads to the same configuration and bitwise the same weights (and, for checkpoints,
 * the same optimizer settings, counters and state); the bf16 load agrees with the float32
 * one (or finds a weight too large for bf16) and holds bitwise its rounded weights.
 * Built by -DSEQVID_FUZZ=ON (clang, see tests/fuzz/run.sh); replay_main.c runs the same
 * function over the seed corpus in ordinary builds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define SEQVID_EXPERIMENTAL /* seqvid_experimental_model_load_buffer_as */
#include "seqvid.h"
#include "model.h"
#include "optimizer.h"
#include "serialize.h"
#include "fuzz_digits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(seqvid_model *m) {
    size_t n = 0, n2 = 0;
    if (seqvid_model_save_buffer(m, NULL, 0, &n)) abort();
    unsigned char *buf = malloc(n);
    if (!buf) abort();
    if (seqvid_model_save_buffer(m, buf, n, &n2) || n2 != n) abort();
    seqvid_model *m2 = NULL;
    if (seqvid_model_load_buffer(buf, n, &m2) || !m2) abort();
    if (m2->arena.n_params != m->arena.n_params ||
        memcmp(m2->arena.params, m->arena.params, m->arena.n_params * sizeof(float)))
        abort();
    for (int k = SEQVID_CFG_KIND; k <= SEQVID_CFG_FORGET_BIAS; k++) {
        double a, b;
        if (seqvid_model_get(m, k, &a) || seqvid_model_get(m2, k, &b) ||
            memcmp(&a, &b, sizeof a))
            abort();
    }
    seqvid_model_free(m2);
    free(buf);
}

/* A loaded checkpoint saves and reloads to the same optimizer (settings, counters, state). */
static void ckpt_roundtrip(seqvid_model *m, seqvid_optimizer *o, seqvid_mmnist *gen) {
    size_t n = 0;
    if (sv_checkpoint_save_buffer(m, o, gen, 3, NULL, 0, &n)) abort();
    unsigned char *buf = malloc(n);
    if (!buf || sv_checkpoint_save_buffer(m, o, gen, 3, buf, n, &n)) abort();
    seqvid_model *m2 = NULL;
    seqvid_optimizer *o2 = NULL;
    uint64_t step = 0;
    if (sv_checkpoint_load_buffer(buf, n, &m2, &o2, gen, &step) || step != 3) abort();
    if (o2->kind != o->kind || o2->steps != o->steps || o2->n != o->n ||
        memcmp(o2->v, o->v, sizeof o->v) ||
        (o->n && memcmp(o2->s1, o->s1, o->n * sizeof(float))) ||
        (o->s2 && memcmp(o2->s2, o->s2, o->n * sizeof(float))) ||
        memcmp(m2->arena.params, m->arena.params, m->arena.n_params * sizeof(float)))
        abort();
    seqvid_model_free(m2);
    seqvid_optimizer_free(o2);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    seqvid_model *m = NULL;
    seqvid_optimizer *o = NULL;
    uint64_t step = 0;
    int st = seqvid_model_load_buffer(data, size, &m);
    if ((st == SEQVID_OK) != (m != NULL)) abort();
    if (m) roundtrip(m);

    /* Straight into bf16: the same verdict (or a weight too large for bf16), and the same
     * model as loading and converting. */
    seqvid_model *m16 = NULL;
    int st16 = seqvid_experimental_model_load_buffer_as(data, size, SEQVID_WEIGHTS_BF16, &m16);
    if ((st16 == SEQVID_OK) != (m16 != NULL)) abort();
    if (st16 != st && !(st == SEQVID_OK && st16 == SEQVID_ERR_NONFINITE)) abort();
    if (m16) {
        const sv_arena *a = &m->arena, *b = &m16->arena;
        if (seqvid_experimental_model_set_weights(m, SEQVID_WEIGHTS_BF16) ||
            memcmp(a->params16, b->params16, a->n_params * sizeof *a->params16))
            abort();
    }
    seqvid_model_free(m16);
    seqvid_model_free(m);

    for (int with_gen = 0; with_gen <= 1; with_gen++) {
        seqvid_mmnist *gen = with_gen ? fuzz_generator() : NULL;
        if (with_gen && !gen) abort();
        st = sv_checkpoint_load_buffer(data, size, &m, &o, gen, &step);
        if ((st == SEQVID_OK) != (m != NULL) || (st == SEQVID_OK) != (o != NULL)) abort();
        if (m) roundtrip(m), ckpt_roundtrip(m, o, gen);
        seqvid_model_free(m);
        seqvid_optimizer_free(o);
        m = NULL, o = NULL;
    }
    return 0;
}
