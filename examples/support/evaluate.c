/*
 * evaluate.c -- losses, baselines and their table (see evaluate.h).
 */
#include "evaluate.h"

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double model_key(const seqvid_model *model, int key)
{
    double v;
    ex_check(seqvid_model_get(model, key, &v), "model settings");
    return v;
}

ex_model_info ex_model_describe(const seqvid_model *model)
{
    ex_model_info m;
    m.kind = (int)model_key(model, SEQVID_CFG_KIND);
    m.has_rec = m.kind != SEQVID_PREDICTOR;
    m.has_fut = m.kind != SEQVID_AUTOENCODER;
    m.output = (int)model_key(model, SEQVID_CFG_OUTPUT);
    m.input_frames = (size_t)model_key(model, SEQVID_CFG_INPUT_FRAMES);
    m.future_frames = (size_t)model_key(model, SEQVID_CFG_FUTURE_FRAMES);
    m.dim = (size_t)model_key(model, SEQVID_CFG_INPUT_DIM);
    m.hidden = (size_t)model_key(model, SEQVID_CFG_HIDDEN);
    m.layers = (size_t)model_key(model, SEQVID_CFG_LAYERS);
    m.cond_recon = (int)model_key(model, SEQVID_CFG_COND_RECON);
    m.cond_future = (int)model_key(model, SEQVID_CFG_COND_FUTURE);
    return m;
}

const char *ex_kind_name(int kind)
{
    return kind == SEQVID_AUTOENCODER ? "autoencoder"
           : kind == SEQVID_PREDICTOR ? "future predictor" : "composite";
}

const char *ex_loss_unit(const ex_model_info *m)
{
    return m->output == SEQVID_OUTPUT_REAL ? "sq.err/frame" : "nats/frame";
}

ex_losses ex_set_evaluate(seqvid_model *model, const ex_set *set)
{
    ex_model_info m = ex_model_describe(model);
    ex_losses out = {NAN, NAN};
    size_t need = m.input_frames + (m.has_fut ? m.future_frames : 0);
    if (set->n_steps < need) return out;

    double rec = 0, fut = 0;
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t n;
        float r, f;
        ex_check(seqvid_batch_shape(set->chunks[c], NULL, &n, NULL), "batch");
        ex_check(seqvid_model_evaluate(model, set->chunks[c], SEQVID_EVAL_INFERENCE, &r, &f),
                 "evaluation");
        /* Every sequence has the same length, so weighting chunks by their sequence
         * count gives the average over all target frames. */
        rec += (double)r * (double)n;
        fut += (double)f * (double)n;
    }
    if (m.has_rec) out.rec = rec / (double)set->n_seqs;
    if (m.has_fut) out.fut = fut / (double)set->n_seqs;
    return out;
}

/* =======================================================================================
 * Baselines: a constant guess p for a target frame x, scored by the model's own loss
 * ===================================================================================== */
/* What the loss needs of a guess p, computed once per guess: binary output keeps
 * lp = log p and lq = log(1 - p) with p clipped to [1e-6, 1 - 1e-6], so a copied pixel of
 * exactly 0 or 1 that turns out wrong costs log(1e6) = 13.8 nats instead of infinity; real
 * output keeps p itself. */
typedef struct guess {
    double *lp, *lq;
    int real;
} guess;

static void guess_set(guess *g, const float *p, size_t D)
{
    for (size_t d = 0; d < D; d++) {
        if (g->real) {
            g->lp[d] = p[d];
            continue;
        }
        double v = p[d] < 1e-6 ? 1e-6 : p[d] > 1 - 1e-6 ? 1 - 1e-6 : p[d];
        g->lp[d] = log(v);
        g->lq[d] = log1p(-v);
    }
}

/* The library's per-frame loss of target x under the guess: binary cross-entropy
 * -sum_d [x log p + (1-x) log(1-p)], or the squared loss 1/2 sum_d (p - x)^2. */
static double guess_loss(const guess *g, const float *x, size_t D)
{
    double s = 0;
    if (g->real)
        for (size_t d = 0; d < D; d++) s += 0.5 * (g->lp[d] - x[d]) * (g->lp[d] - x[d]);
    else
        for (size_t d = 0; d < D; d++) s -= x[d] * g->lp[d] + (1.0 - x[d]) * g->lq[d];
    return s;
}

static guess guess_new(size_t D, int real)
{
    guess g = {ex_malloc(D * sizeof(double)), ex_malloc(D * sizeof(double)), real};
    return g;
}

static void guess_free(guess *g) { free(g->lp), free(g->lq); }

typedef struct sums {
    double rec, fut;
    size_t n_rec, n_fut;
} sums;

static ex_losses sums_mean(const sums *s, int have)
{
    ex_losses l = {NAN, NAN};
    if (have && s->n_rec) l.rec = s->rec / (double)s->n_rec;
    if (have && s->n_fut) l.fut = s->fut / (double)s->n_fut;
    return l;
}

ex_baselines ex_set_baselines(const ex_set *set, const ex_model_info *m,
                              const float *mean_frame)
{
    const size_t D = set->dim, K = m->input_frames, M = m->future_frames;
    const int real = m->output == SEQVID_OUTPUT_REAL;
    guess last = guess_new(D, real), mean = guess_new(D, real), clip = guess_new(D, real);
    float *clip_frame = ex_malloc(D * sizeof *clip_frame);
    sums s_last = {0}, s_mean = {0}, s_clip = {0};

    if (mean_frame) guess_set(&mean, mean_frame, D);
    for (size_t c = 0; c < set->n_chunks; c++) {
        size_t T, S;
        float *x;
        ex_check(seqvid_batch_shape(set->chunks[c], &T, &S, NULL), "batch");
        ex_check(seqvid_batch_data(set->chunks[c], &x), "batch");
        for (size_t b = 0; b < S; b++) {
            size_t len;
            ex_check(seqvid_batch_get_length(set->chunks[c], b, &len), "batch");
            size_t n_in = len < K ? len : K, end = len < K + M ? len : K + M;
            if (!n_in) continue;
            guess_set(&last, x + ((n_in - 1) * S + b) * D, D);
            memset(clip_frame, 0, D * sizeof *clip_frame);
            for (size_t t = 0; t < n_in; t++)
                for (size_t d = 0; d < D; d++)
                    clip_frame[d] += x[(t * S + b) * D + d] / (float)n_in;
            guess_set(&clip, clip_frame, D);
            for (size_t t = 0; t < end; t++) {
                const float *f = x + (t * S + b) * D;
                double l = guess_loss(&last, f, D), k = guess_loss(&clip, f, D);
                double a = mean_frame ? guess_loss(&mean, f, D) : 0;
                if (t < n_in) {
                    s_last.rec += l, s_mean.rec += a, s_clip.rec += k;
                    s_last.n_rec++, s_mean.n_rec++, s_clip.n_rec++;
                } else if (t >= K) {
                    s_last.fut += l, s_mean.fut += a, s_clip.fut += k;
                    s_last.n_fut++, s_mean.n_fut++, s_clip.n_fut++;
                }
            }
        }
    }
    ex_baselines out = {sums_mean(&s_last, 1), sums_mean(&s_mean, mean_frame != NULL),
                        sums_mean(&s_clip, 1)};
    guess_free(&last), guess_free(&mean), guess_free(&clip);
    free(clip_frame);
    return out;
}

/* =======================================================================================
 * The table
 * ===================================================================================== */
double ex_best_baseline(const ex_baselines *base, int fut)
{
    const double v[3] = {fut ? base->last.fut : base->last.rec,
                         fut ? base->mean.fut : base->mean.rec,
                         fut ? base->clip.fut : base->clip.rec};
    double best = NAN;
    for (int i = 0; i < 3; i++)
        if (!isnan(v[i]) && (isnan(best) || v[i] < best)) best = v[i];
    return best;
}

const char *ex_margin(double model, const ex_baselines *base, int fut)
{
    static char buf[64];
    double best = ex_best_baseline(base, fut);
    if (isnan(model) || isnan(best)) return "n/a";
    double d = best - model;
    /* %.3g keeps small squared errors (0.0123) readable as well as large nats (412). */
    snprintf(buf, sizeof buf, "%s by %.4g (%.0f%%)", d >= 0 ? "wins" : "loses", fabs(d),
             best > 0 ? 100.0 * fabs(d) / best : 0.0);
    return buf;
}

static void table_cell(FILE *f, double v)
{
    if (isnan(v))
        fprintf(f, " %12s", "n/a");
    else
        fprintf(f, " %12.5g", v);
}

/* Real output: the squared loss per frame, 1/2 |y - x|^2 over D values, is also shown as
 * the mean squared error per value (pixel), 2 L / D: the unit of docs/natural-video.md,
 * comparable across frame sizes. */
static double per_value(double loss, const ex_model_info *m)
{
    return 2.0 * loss / (double)m->dim;
}

static void table_row(FILE *f, const char *name, const ex_losses *l, const ex_model_info *m)
{
    fprintf(f, "  %-14s", name);
    if (m->has_rec) table_cell(f, l->rec);
    if (m->has_fut) table_cell(f, l->fut);
    if (m->output == SEQVID_OUTPUT_REAL && m->has_rec) table_cell(f, per_value(l->rec, m));
    if (m->output == SEQVID_OUTPUT_REAL && m->has_fut) table_cell(f, per_value(l->fut, m));
    fputc('\n', f);
}

void ex_print_loss_table(FILE *f, const ex_losses *model, const ex_baselines *base,
                         const ex_model_info *m)
{
    const char *unit = ex_loss_unit(m);
    fprintf(f, "  %-14s", unit);
    if (m->has_rec) fprintf(f, " %12s", "reconstr.");
    if (m->has_fut) fprintf(f, " %12s", "future");
    if (m->output == SEQVID_OUTPUT_REAL && m->has_rec) fprintf(f, " %12s", "rec MSE/px");
    if (m->output == SEQVID_OUTPUT_REAL && m->has_fut) fprintf(f, " %12s", "fut MSE/px");
    fputc('\n', f);
    if (model) table_row(f, "model", model, m);
    table_row(f, "last frame", &base->last, m);
    table_row(f, "mean frame", &base->mean, m);
    table_row(f, "clip mean", &base->clip, m);
    if (model && m->has_rec && !isnan(model->rec))
        fprintf(f, "  reconstruction: the model %s %s over the best baseline\n",
                ex_margin(model->rec, base, 0), unit);
    if (model && m->has_fut && !isnan(model->fut))
        fprintf(f, "  prediction:     the model %s %s over the best baseline\n",
                ex_margin(model->fut, base, 1), unit);
    fflush(f);
}
