/*
 * source.c -- the source flags and the choice between the kinds (see source.h).
 */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

source_options source_defaults(const char *out_dir, uint64_t seed)
{
    source_options o = {.common = {NULL, out_dir, seed, 0, 2},
                        .layout = SEQVID_LAYOUT_TIME_MAJOR, .frame_stride = 1,
                        .val_size = 256, .count = 256};
    return o;
}

/* --resize S (S x S) or WxH, where a side of 0 is kept in proportion to the other. */
static void parse_resize(source_options *o, const char *arg)
{
    char side[32];
    const char *x = strchr(arg, 'x');
    if (!x) {
        o->resize_w = o->resize_h = ex_parse_long("--resize", arg, 1, 8192);
        return;
    }
    snprintf(side, sizeof side, "%.*s", (int)(x - arg < 31 ? x - arg : 31), arg);
    o->resize_w = ex_parse_long("--resize (width)", side, 0, 8192);
    o->resize_h = ex_parse_long("--resize (height)", x + 1, 0, 8192);
    if (!o->resize_w && !o->resize_h) ex_die("--resize %s: give at least one side", arg);
}

int source_option(source_options *o, int opt, const char *arg)
{
    static const char *const layouts[] = {"time", "seq", NULL};
    if (ex_common_option(&o->common, opt, arg)) return 1;
    switch (opt) {
    case SRC_OPT_NPY: o->npy = arg; return 1;
    case SRC_OPT_VAL_NPY: o->val_npy = arg; return 1;
    case SRC_OPT_LAYOUT:
        o->layout = ex_parse_choice("--layout", arg, layouts) ? SEQVID_LAYOUT_SEQ_MAJOR
                                                              : SEQVID_LAYOUT_TIME_MAJOR;
        return 1;
    case SRC_OPT_VIDEO: o->video = arg; return 1;
    case SRC_OPT_PATCH: o->patch = ex_parse_long("--patch", arg, 1, 4096); return 1;
    case SRC_OPT_VAL_VIDEO: o->val_video = arg; return 1;
    case SRC_OPT_RESIZE: parse_resize(o, arg); return 1;
    case SRC_OPT_FRAME_STRIDE:
        o->frame_stride = ex_parse_long("--frame-stride", arg, 1, 1000);
        return 1;
    case SRC_OPT_RGB: o->rgb = 1; return 1;
    case SRC_OPT_GRAY: o->rgb = 0; return 1;
    case SRC_OPT_NO_PREFETCH: o->no_prefetch = 1; return 1;
    case SRC_OPT_VAL_SIZE: o->val_size = ex_parse_long("--val-size", arg, 1, 1 << 24); return 1;
    case SRC_OPT_COUNT: o->count = ex_parse_long("--count", arg, 1, 1L << 30); return 1;
    default: return 0;
    }
}

source *source_open(const source_options *o, int purpose)
{
    if (o->npy && o->video) ex_die("--npy and --video: choose one source");
    if (o->val_npy && !o->npy) ex_die("--val-npy goes with --npy");
    if (!o->video && (o->patch || o->resize_w || o->resize_h || o->rgb ||
                      o->frame_stride != 1 || o->val_video || o->no_prefetch))
        ex_die("--patch, --resize, --rgb, --frame-stride, --val-video and --no-prefetch go "
               "with --video");
    if (o->npy) return source_open_npy(o, purpose);
    if (o->video) return source_open_video(o, purpose);
    return source_open_mmnist(o, purpose);
}

void source_free(source *src)
{
    if (src) src->ops->free(src);
}

uint64_t source_hash(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t z = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL) * 0xBF58476D1CE4E5B9ULL ^
                 (c + 1) * 0x94D049BB133111EBULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
