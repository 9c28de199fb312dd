/* video.c -- one video through FFmpeg: open (file or memory), decode in order, seek, and
 * convert frames to 8-bit gray/RGB at the output size with libswscale (area filter), then to
 * floats, clips, patches and batches. Hostile input is bounded by: MAX_PIXELS (checked on the
 * stream parameters and on every decoded frame), MAX_PACKETS (packets in a row without a
 * frame) and TIMEOUT (an AVIOInterruptCB deadline that FFmpeg polls while it reads); and what
 * FFmpeg may open is confined to the file named (see "what FFmpeg may open"). */
#define _DEFAULT_SOURCE /* fileno, fsync, stat.st_mtim, strdup, glob, clock_gettime */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "vid_video.h"

struct seqvid_video {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;      /* the last frame received (pending while have_pending) */
    int have_pending;    /* `frame` holds the next frame to deliver */
    int stream;          /* index of the video stream */
    AVRational tb;       /* its time base */
    AVRational rate;     /* its frame rate */
    int64_t first_ts;    /* timestamp of frame 0 (AV_NOPTS_VALUE if none) */
    int draining, eof;   /* the demuxer is done / the decoder is drained */
    int failed_since_send; /* the decoder reported an error since the last packet sent */
    int src_w, src_h;    /* size of frame 0: every frame must have it (output sizes stay
                            fixed; a frame of another size is damaged) */
    /* what FFmpeg may open: `url` ("file:" + the path; NULL for memory input) through
       FFmpeg's own opener `io_open`; the first other URL it asked for, refused */
    char *url;
    int (*io_open)(AVFormatContext *, AVIOContext **, const char *, int, AVDictionary **);
    char refused[160];
    /* memory input */
    AVIOContext *avio;
    const uint8_t *buf;
    size_t buf_size, buf_pos;
    /* conversion: src -> packed 8-bit at source size (when cropping) -> output size; swscale
       writes only into frames FFmpeg allocated (see convert) */
    struct SwsContext *sws_full, *sws_out;
    AVFrame *full;       /* packed 8-bit source-size frame (only when cropping) */
    AVFrame *out;        /* packed 8-bit output-size frame, copied out tight by convert */
    uint8_t *u8;         /* one output frame, 8-bit */
    size_t u8_cap;
    uint8_t *clip;       /* T output frames for clips and batches */
    size_t clip_cap;
    vid_opts o;
    uint64_t rng;
    uint64_t pos, damaged, frame_count;
    int count_exact;
    double deadline;
};

/* ---- time limits, FFmpeg's log ------------------------------------------------------------ */
static void arm(seqvid_video *v) { v->deadline = v->o.timeout > 0 ? vid_now() + v->o.timeout : 0; }
static int interrupted(void *opaque) {
    const seqvid_video *v = opaque;
    return v->deadline > 0 && vid_now() > v->deadline;
}
static int timed_out(const seqvid_video *v) { return interrupted((void *)v); }

/* The library prints nothing: FFmpeg's log goes quiet once, process-wide (a program using
 * FFmpeg itself may raise the level again with av_log_set_level after the first open). */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet(void) { av_log_set_level(AV_LOG_QUIET); }

static char version_text[160];
static void version_fill(void) {
    unsigned f = avformat_version(), c = avcodec_version(), s = swscale_version();
    snprintf(version_text, sizeof version_text,
             "libavformat %u.%u.%u, libavcodec %u.%u.%u, libswscale %u.%u.%u", f >> 16,
             (f >> 8) & 255, f & 255, c >> 16, (c >> 8) & 255, c & 255, s >> 16, (s >> 8) & 255,
             s & 255);
}
const char *seqvid_video_ffmpeg_version(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, version_fill);
    return version_text;
}

static const char *av_text(int err, char *buf, size_t n) {
    if (av_strerror(err, buf, n) < 0) snprintf(buf, n, "FFmpeg error %d", err);
    return buf;
}

/* ---- what FFmpeg may open ------------------------------------------------------------------
 * A video is read from the one file (or buffer) the caller names: its contents never make the
 * library open anything else. FFmpeg can: its demuxers of lists of other resources (HLS and
 * DASH playlists, ffconcat lists, IMF compositions, SDP session descriptions) open the files
 * or URLs a file names -- other folders, /etc, http:, data:, crypto:, rtp: ... -- and which
 * of them stop where differs between FFmpeg builds (concat's `safe`, hls's extension lists,
 * the file protocol's default whitelist "file,crypto,data"). So, whatever the build:
 *  - the format is probed first and given to avformat_open_input, and a list format is
 *    refused before its demuxer runs (concat opens its files in contexts of its own, which
 *    the callback below does not see);
 *  - protocol_whitelist "file": nothing FFmpeg opens, nested contexts included (they inherit
 *    the whitelist), is a network connection or another protocol;
 *  - AVFormatContext.io_open: FFmpeg may open the named file itself (the image2 demuxer
 *    opens its one image so) and nothing else; a refused URL is kept for the message.
 * A path is always a local file: FFmpeg gets "file:" + path, so a file named like a URL
 * ("http:x", "data:y") is that file. */
static const char list_formats[] = "concat,dash,hls,imf,sdp";

static int io_open_named(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                         AVDictionary **options) {
    seqvid_video *v = s->opaque; /* nested contexts share `opaque` (avformat.h), or have none */
    if (v && v->url && url && !strcmp(url, v->url) && !(flags & AVIO_FLAG_WRITE))
        return v->io_open(s, pb, url, flags, options);
    if (v && !v->refused[0]) {
        size_t n = url ? strlen(url) : 0;
        snprintf(v->refused, sizeof v->refused, "%s", url ? url : "");
        if (n >= sizeof v->refused) memcpy(v->refused + sizeof v->refused - 4, "...", 4);
    }
    return AVERROR(EPERM);
}

/* ---- memory input (custom AVIO) ------------------------------------------------------------ */
static int mem_read(void *opaque, uint8_t *dst, int n) {
    seqvid_video *v = opaque;
    size_t left = v->buf_size - v->buf_pos;
    if (!left) return AVERROR_EOF;
    size_t k = (size_t)n < left ? (size_t)n : left;
    memcpy(dst, v->buf + v->buf_pos, k);
    v->buf_pos += k;
    return (int)k;
}
static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    seqvid_video *v = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)v->buf_size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)v->buf_pos; break;
    case SEEK_END: base = (int64_t)v->buf_size; break;
    default: return AVERROR(EINVAL);
    }
    if (off > (int64_t)v->buf_size - base || base + off < 0) return AVERROR(EINVAL);
    v->buf_pos = (size_t)(base + off);
    return (int64_t)v->buf_pos;
}

/* ---- decoding -------------------------------------------------------------------------------- */
/* A frame the decoder flagged (concealed errors, known corrupt), or whose size breaks the
 * limits, is damaged: skipped and counted. */
static int frame_damaged(const seqvid_video *v, const AVFrame *f) {
    if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT)) return 1;
    if (f->width <= 0 || f->height <= 0 || !f->data[0]) return 1;
    if ((uint64_t)f->width * (uint64_t)f->height > v->o.max_pixels) return 1;
    if (v->src_w && (f->width != v->src_w || f->height != v->src_h)) return 1;
    return sws_isSupportedInput(f->format) <= 0;
}

/* Next decoded frame into v->frame: 1, 0 at the end, or a negative status (-SEQVID_ERR_x). */
static int next_frame(seqvid_video *v) {
    char e[128];
    if (v->have_pending) {
        v->have_pending = 0;
        return 1;
    }
    if (v->eof) return 0;
    uint64_t idle = 0; /* packets / decoder errors in a row without a frame */
    for (;;) {
        if (timed_out(v))
            return -vid_fail(SEQVID_ERR_OVERFLOW, "decoding took longer than TIMEOUT (%g s)",
                             v->o.timeout);
        if (idle > v->o.max_packets)
            return -vid_fail(SEQVID_ERR_OVERFLOW, "%llu packets in a row gave no frame "
                             "(MAX_PACKETS)", (unsigned long long)idle);
        int r = avcodec_receive_frame(v->dec, v->frame);
        if (r == 0) {
            if (frame_damaged(v, v->frame)) {
                /* a decoder may both report the packet's error and return the concealed
                 * picture: one damaged frame */
                if (!v->failed_since_send) v->damaged++;
                v->failed_since_send = 1;
                av_frame_unref(v->frame);
                idle++;
                continue;
            }
            return 1;
        }
        if (r == AVERROR_EOF) {
            v->eof = 1;
            return 0;
        }
        if (r != AVERROR(EAGAIN)) { /* a damaged frame the decoder refused */
            if (!v->failed_since_send) v->damaged++; /* one count per damaged packet */
            v->failed_since_send = 1;
            idle++;
            if (v->draining) { /* nothing more will come */
                v->eof = 1;
                return 0;
            }
            continue;
        }
        if (v->draining) { /* EAGAIN while draining: should not happen; end cleanly */
            v->eof = 1;
            return 0;
        }
        r = av_read_frame(v->fmt, v->pkt);
        if (r < 0) {
            if (r == AVERROR_EXIT || timed_out(v))
                return -vid_fail(SEQVID_ERR_OVERFLOW, "reading took longer than TIMEOUT (%g s)",
                                 v->o.timeout);
            /* The end, or a read error in a truncated/damaged file: decode what we have. */
            (void)av_text(r, e, sizeof e);
            v->draining = 1;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        idle++;
        if (v->pkt->stream_index == v->stream) {
            r = avcodec_send_packet(v->dec, v->pkt);
            v->failed_since_send = r < 0 && r != AVERROR(EAGAIN);
            v->damaged += (uint64_t)v->failed_since_send;
        }
        av_packet_unref(v->pkt);
    }
}

/* Timestamp -> frame index at the stream's rate; -1 when the frame has no timestamp. */
static int64_t frame_index(const seqvid_video *v, const AVFrame *f) {
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE || v->first_ts == AV_NOPTS_VALUE || v->rate.num <= 0) return -1;
    /* (ts - first) * tb * rate, rounded to nearest */
    return av_rescale_q_rnd(ts - v->first_ts, v->tb, av_inv_q(v->rate),
                            AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

/* ---- conversion ---------------------------------------------------------------------------- */
static int vid_video_geometry(const seqvid_video *v, vid_geom *g) {
    return vid_geometry(&v->o, (size_t)v->src_w, (size_t)v->src_h, g);
}

static int grow(uint8_t **p, size_t *cap, size_t n) {
    if (n <= *cap) return 1;
    uint8_t *q = av_realloc(*p, n);
    if (!q) return 0;
    *p = q;
    *cap = n;
    return 1;
}

/* *f as a w x h frame of pixel format pf in buffers FFmpeg allocates for itself
 * (av_frame_get_buffer: rows aligned for the CPU's SIMD, padding after the last row); kept
 * while the shape stays. Zeroed once: swscale's SIMD also reads the padding right of a crop
 * window at the frame's edge, with zero weights (the output does not depend on it: checked
 * with the padding all 0, 77 and 255), and valgrind should see defined bytes there.
 * 1, or 0 without memory. */
static int frame_fit(AVFrame **f, int w, int h, enum AVPixelFormat pf) {
    if (*f && (*f)->width == w && (*f)->height == h && (*f)->format == pf) return 1;
    av_frame_free(f);
    if (!(*f = av_frame_alloc())) return 0;
    (*f)->width = w;
    (*f)->height = h;
    (*f)->format = pf;
    if (av_frame_get_buffer(*f, 0) < 0) {
        av_frame_free(f);
        return 0;
    }
    for (int i = 0; i < AV_NUM_DATA_POINTERS && (*f)->buf[i]; i++)
        memset((*f)->buf[i]->data, 0, (*f)->buf[i]->size);
    return 1;
}

/* v->frame -> dst (8-bit, g->ow x g->oh x channels, rows tight). With a crop, swscale first
 * converts the whole frame to packed 8-bit, then scales the crop window (a pointer offset
 * into packed pixels, exact at any position) to the output size.
 * swscale reads and writes in whole SIMD blocks past the end of a row: libswscale 6 (FFmpeg
 * 5.1, x86; measured) wrote up to 44 bytes past an exact-size packed buffer (yuv420p -> rgb24 at widths
 * not a multiple of 16; gray at widths 1-5: 12 bytes) and read 16 bytes from the last row's
 * end. FFmpeg's own frames have the slack, so swscale's destinations (and the crop stage's
 * source) are FFmpeg-allocated frames here, copied out tight afterwards; an exact-size buffer
 * let it overwrite the heap next to ours (issue 14: the fuzzer's ASan CHECK in free). */
static int convert(seqvid_video *v, const vid_geom *g, uint8_t *dst) {
    const AVFrame *f = v->frame;
    enum AVPixelFormat pf = v->o.channels == 3 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8;
    int c = v->o.channels;
    int cropping = g->cx || g->cy || g->cw != (size_t)f->width || g->ch != (size_t)f->height;
    if (g->cx + g->cw > (size_t)f->width || g->cy + g->ch > (size_t)f->height)
        return vid_fail(SEQVID_ERR_SHAPE, "a %d x %d frame is smaller than the crop window",
                        f->width, f->height);
    if (!frame_fit(&v->out, (int)g->ow, (int)g->oh, pf) ||
        (cropping && !frame_fit(&v->full, f->width, f->height, pf)))
        return vid_fail(SEQVID_ERR_NOMEM, "no memory to convert a %d x %d frame", f->width,
                        f->height);
    if (!cropping) {
        v->sws_out = sws_getCachedContext(v->sws_out, f->width, f->height, f->format,
                                          (int)g->ow, (int)g->oh, pf, SWS_AREA, NULL, NULL, NULL);
        if (!v->sws_out) return vid_fail(SEQVID_ERR_UNSUPPORTED, "swscale cannot convert "
                                         "this frame's pixel format");
        sws_scale(v->sws_out, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
                  v->out->data, v->out->linesize);
    } else {
        v->sws_full = sws_getCachedContext(v->sws_full, f->width, f->height, f->format,
                                           f->width, f->height, pf, SWS_AREA, NULL, NULL, NULL);
        v->sws_out = sws_getCachedContext(v->sws_out, (int)g->cw, (int)g->ch, pf, (int)g->ow,
                                          (int)g->oh, pf, SWS_AREA, NULL, NULL, NULL);
        if (!v->sws_full || !v->sws_out)
            return vid_fail(SEQVID_ERR_UNSUPPORTED, "swscale cannot convert this frame's "
                            "pixel format");
        sws_scale(v->sws_full, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
                  v->full->data, v->full->linesize);
        const uint8_t *win[4] = {v->full->data[0] + g->cy * (size_t)v->full->linesize[0] +
                                     g->cx * (size_t)c,
                                 NULL, NULL, NULL};
        sws_scale(v->sws_out, win, v->full->linesize, 0, (int)g->ch, v->out->data,
                  v->out->linesize);
    }
    av_image_copy_plane(dst, (int)g->ow * c, v->out->data[0], v->out->linesize[0],
                        (int)g->ow * c, (int)g->oh);
    return SEQVID_OK;
}

/* Decode the next frame into dst (8-bit output frame): 1, 0 at the end, or -status. */
static int vid_video_next_u8(seqvid_video *v, const vid_geom *g, uint8_t *dst) {
    int r = next_frame(v);
    if (r <= 0) return r;
    int st = convert(v, g, dst);
    av_frame_unref(v->frame);
    if (st) return -st;
    v->pos++;
    return 1;
}

/* ---- open / free ----------------------------------------------------------------------------- */
void seqvid_video_free(seqvid_video *v) {
    if (!v) return;
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    if (v->avio) {
        av_freep(&v->avio->buffer);
        avio_context_free(&v->avio);
    }
    av_packet_free(&v->pkt);
    av_frame_free(&v->frame);
    sws_freeContext(v->sws_full);
    sws_freeContext(v->sws_out);
    av_frame_free(&v->full);
    av_frame_free(&v->out);
    av_free(v->u8);
    av_free(v->clip);
    av_free(v->url);
    free(v);
}

/* The status and message of a failed open or probe (r < 0). */
static int open_failed(int r, const char *name) {
    char e[128];
    /* The file itself was there (checked before): an I/O error now is FFmpeg running out of
     * bytes in a truncated header, a format error; errno-like failures to open it at all are
     * I/O errors. */
    int st = r == AVERROR(ENOENT) || r == AVERROR(EACCES) || r == AVERROR(EPERM) ||
                     r == AVERROR(EISDIR)
                 ? SEQVID_ERR_IO
                 : SEQVID_ERR_FORMAT;
    if (r == AVERROR_EXIT) st = SEQVID_ERR_OVERFLOW;
    return vid_fail(st, "%s: not a video FFmpeg can open (%s)", name, av_text(r, e, sizeof e));
}

/* Open v->url (a path) or v->avio (memory) as v->fmt; see "what FFmpeg may open". */
static int open_input(seqvid_video *v, const char *name) {
    int r;
    v->fmt->interrupt_callback.callback = interrupted;
    v->fmt->interrupt_callback.opaque = v;
    v->fmt->opaque = v;
    v->io_open = v->fmt->io_open;
    v->fmt->io_open = io_open_named;
    if (av_opt_set(v->fmt, "protocol_whitelist", "file", 0) < 0)
        return vid_fail(SEQVID_ERR_NOMEM, "%s: no memory", name);
    arm(v);
    /* The format first: what FFmpeg's own open would probe (same function, same limits). */
    const AVInputFormat *ifmt = NULL;
    AVIOContext *pb = v->avio;
    if (!pb) { /* (FFmpeg's default io_open needs the url avformat_open_input sets) */
        AVDictionary *opts = NULL;
        r = av_dict_set(&opts, "protocol_whitelist", "file", 0);
        if (r >= 0) r = avio_open2(&pb, v->url, AVIO_FLAG_READ, &v->fmt->interrupt_callback, &opts);
        av_dict_free(&opts);
        if (r < 0) return open_failed(r, name);
    }
    r = av_probe_input_buffer2(pb, &ifmt, v->url, NULL, 0, 0); /* rewinds v->avio */
    if (pb != v->avio) avio_closep(&pb);
    if (r < 0) return open_failed(r, name);
    if (av_match_name(ifmt->name, list_formats))
        return vid_fail(SEQVID_ERR_UNSUPPORTED, "%s: a playlist or list of other files or "
                        "URLs (FFmpeg's '%s' format), not a video; libseqvid_video reads only "
                        "the file it is given (join the parts first: ffmpeg -i LIST -c copy "
                        "one.mkv)", name, ifmt->name);
    r = avformat_open_input(&v->fmt, v->url, ifmt, NULL); /* frees fmt on failure */
    return r < 0 ? open_failed(r, name) : SEQVID_OK;
}

/* The best video stream of v->fmt, its decoder, and frame 0 (pending). */
static int open_stream(seqvid_video *v, const char *name) {
    char e[128];
    int r;
    /* Bound how much the probe may read and decode. */
    v->fmt->max_analyze_duration = 5 * AV_TIME_BASE;
    r = avformat_find_stream_info(v->fmt, NULL);
    if (r < 0)
        return vid_fail(r == AVERROR_EXIT ? SEQVID_ERR_OVERFLOW : SEQVID_ERR_FORMAT,
                        "%s: no stream information (%s)", name, av_text(r, e, sizeof e));
    r = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (r == AVERROR_DECODER_NOT_FOUND || r < 0) {
        /* Is there a video stream at all (then its codec is what is missing)? */
        for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
            const AVCodecParameters *p = v->fmt->streams[i]->codecpar;
            if (p->codec_type == AVMEDIA_TYPE_VIDEO)
                return vid_fail(SEQVID_ERR_UNSUPPORTED, "%s: no decoder for the video codec "
                                "'%s' in this FFmpeg", name, avcodec_get_name(p->codec_id));
        }
        return vid_fail(SEQVID_ERR_FORMAT, "%s: no video stream", name);
    }
    v->stream = r;
    AVStream *s = v->fmt->streams[r];
    const AVCodec *codec = avcodec_find_decoder(s->codecpar->codec_id);
    if (!codec)
        return vid_fail(SEQVID_ERR_UNSUPPORTED, "%s: no decoder for the video codec '%s' in "
                        "this FFmpeg", name, avcodec_get_name(s->codecpar->codec_id));
    if (s->codecpar->width <= 0 || s->codecpar->height <= 0)
        return vid_fail(SEQVID_ERR_FORMAT, "%s: video size %d x %d", name, s->codecpar->width,
                        s->codecpar->height);
    if ((uint64_t)s->codecpar->width * (uint64_t)s->codecpar->height > v->o.max_pixels)
        return vid_fail(SEQVID_ERR_OVERFLOW, "%s: %d x %d pixels exceed MAX_PIXELS %llu", name,
                        s->codecpar->width, s->codecpar->height,
                        (unsigned long long)v->o.max_pixels);
    if (!(v->dec = avcodec_alloc_context3(codec)))
        return vid_fail(SEQVID_ERR_NOMEM, "%s: no memory for a decoder", name);
    if ((r = avcodec_parameters_to_context(v->dec, s->codecpar)) < 0)
        return vid_fail(SEQVID_ERR_FORMAT, "%s: bad codec parameters (%s)", name,
                        av_text(r, e, sizeof e));
    /* FFmpeg refuses to allocate frames beyond this (checked in its get_buffer): hostile
     * size changes inside the stream cannot make the decoder allocate without bound. */
    v->dec->max_pixels = (int64_t)v->o.max_pixels;
    v->dec->thread_count = 1; /* predictable memory and no threads the caller did not ask for */
    /* A frame with detected damage is an error, not a concealed picture: it is skipped and
     * counted (checksums too, where the codec has them: FFV1's slice CRCs). */
    v->dec->err_recognition |= AV_EF_CRCCHECK | AV_EF_EXPLODE;
    if ((r = avcodec_open2(v->dec, codec, NULL)) < 0)
        return vid_fail(SEQVID_ERR_UNSUPPORTED, "%s: cannot open the %s decoder (%s)", name,
                        codec->name, av_text(r, e, sizeof e));
    v->tb = s->time_base;
    v->rate = s->avg_frame_rate.num > 0 && s->avg_frame_rate.den > 0 ? s->avg_frame_rate
                                                                       : s->r_frame_rate;
    if (!(v->pkt = av_packet_alloc()) || !(v->frame = av_frame_alloc()))
        return vid_fail(SEQVID_ERR_NOMEM, "%s: no memory", name);
    /* Frame count: the container's own when it has one. Only an index of every sample
     * (MP4/MOV) is taken as exact; AVI headers also count empty "repeat" chunks (OpenCV's
     * tree.avi claims 444 frames and holds 68). */
    if (s->nb_frames > 0) {
        v->frame_count = (uint64_t)s->nb_frames;
        v->count_exact = strstr(v->fmt->iformat->name, "mov") != NULL;
    } else {
        double d = 0;
        if (s->duration != AV_NOPTS_VALUE && s->duration > 0) d = s->duration * av_q2d(s->time_base);
        else if (v->fmt->duration > 0) d = v->fmt->duration / (double)AV_TIME_BASE;
        v->frame_count = v->rate.num > 0 ? (uint64_t)llround(d * av_q2d(v->rate)) : 0;
    }
    /* The first frame proves the stream decodes and fixes the timestamp of frame 0. */
    r = next_frame(v);
    if (r < 0) return -r;
    if (r == 0)
        return vid_fail(SEQVID_ERR_FORMAT, "%s: the video stream has no decodable frame%s",
                        name, v->damaged ? "s (all damaged)" : "");
    v->first_ts = v->frame->best_effort_timestamp;
    v->src_w = v->frame->width;
    v->src_h = v->frame->height;
    v->have_pending = 1;
    return SEQVID_OK;
}

/* open_input, then the stream and frame 0. When FFmpeg asked for another file or URL, that
 * is the failure reported: a demuxer may go on without it and fail later for want of it. */
static int open_common(seqvid_video *v, const char *name) {
    int st = open_input(v, name);
    if (!st) st = open_stream(v, name);
    if (st && v->refused[0])
        st = vid_fail(SEQVID_ERR_UNSUPPORTED, "%s: refers to another file or URL ('%s'); "
                      "libseqvid_video reads only the file it is given", name, v->refused);
    return st;
}

static int alloc_video(seqvid_video **out) {
    pthread_once(&quiet_once, quiet);
    seqvid_video *v = calloc(1, sizeof *v);
    if (!v) return vid_fail(SEQVID_ERR_NOMEM, "no memory for a video handle");
    vid_opts_default(&v->o);
    v->rng = v->o.seed;
    v->first_ts = AV_NOPTS_VALUE;
    if (!(v->fmt = avformat_alloc_context())) {
        free(v);
        return vid_fail(SEQVID_ERR_NOMEM, "no memory for a video handle");
    }
    *out = v;
    return SEQVID_OK;
}

int seqvid_video_open(const char *path, seqvid_video **out) {
    VID_NOT_NULL(out);
    *out = NULL;
    VID_NOT_NULL(path);
    struct stat sb;
    if (stat(path, &sb) != 0) return vid_fail(SEQVID_ERR_IO, "%s: cannot open (no such file?)", path);
    if (S_ISDIR(sb.st_mode)) return vid_fail(SEQVID_ERR_IO, "%s: is a directory, not a video", path);
    if (S_ISREG(sb.st_mode) && sb.st_size == 0)
        return vid_fail(SEQVID_ERR_FORMAT, "%s: empty file (0 bytes)", path);
    seqvid_video *v;
    int st = alloc_video(&v);
    if (st) return st;
    if (!(v->url = av_asprintf("file:%s", path))) {
        seqvid_video_free(v);
        return vid_fail(SEQVID_ERR_NOMEM, "no memory for a video handle");
    }
    st = open_common(v, path);
    if (st) {
        seqvid_video_free(v);
        return st;
    }
    *out = v;
    return SEQVID_OK;
}

int seqvid_video_open_buffer(const void *data, size_t size, seqvid_video **out) {
    VID_NOT_NULL(out);
    *out = NULL;
    VID_NOT_NULL(data);
    if (!size) return vid_fail(SEQVID_ERR_FORMAT, "memory buffer: empty (0 bytes)");
    seqvid_video *v;
    int st = alloc_video(&v);
    if (st) return st;
    v->buf = data;
    v->buf_size = size;
    enum { IO_BUF = 32768 };
    uint8_t *iobuf = av_malloc(IO_BUF);
    if (iobuf) v->avio = avio_alloc_context(iobuf, IO_BUF, 0, v, mem_read, NULL, mem_seek);
    if (!v->avio) {
        av_free(iobuf);
        seqvid_video_free(v);
        return vid_fail(SEQVID_ERR_NOMEM, "memory buffer: no memory for an I/O context");
    }
    v->fmt->pb = v->avio;
    v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    st = open_common(v, "memory buffer");
    if (st) {
        seqvid_video_free(v);
        return st;
    }
    *out = v;
    return SEQVID_OK;
}

/* ---- options --------------------------------------------------------------------------------- */
int seqvid_video_set(seqvid_video *v, int key, double value) {
    VID_NOT_NULL(v);
    int known, changed;
    int st = vid_opts_set(&v->o, key, value, &known, &changed);
    if (st) return st;
    if (key == SEQVID_VIDEO_SEED) v->rng = v->o.seed;
    if (key == SEQVID_VIDEO_MAX_PIXELS) v->dec->max_pixels = (int64_t)v->o.max_pixels;
    return SEQVID_OK;
}

int seqvid_video_get(const seqvid_video *v, int key, double *value) {
    VID_NOT_NULL(v);
    VID_NOT_NULL(value);
    if (vid_opts_get(&v->o, key, value)) return SEQVID_OK;
    vid_geom g;
    switch (key) {
    case SEQVID_VIDEO_WIDTH: *value = v->src_w; return SEQVID_OK;
    case SEQVID_VIDEO_HEIGHT: *value = v->src_h; return SEQVID_OK;
    case SEQVID_VIDEO_FPS: *value = v->rate.num > 0 ? av_q2d(v->rate) : 0; return SEQVID_OK;
    case SEQVID_VIDEO_DURATION: {
        const AVStream *s = v->fmt->streams[v->stream];
        if (s->duration != AV_NOPTS_VALUE && s->duration > 0)
            *value = s->duration * av_q2d(s->time_base);
        else *value = v->fmt->duration > 0 ? v->fmt->duration / (double)AV_TIME_BASE : 0;
        return SEQVID_OK;
    }
    case SEQVID_VIDEO_FRAME_COUNT: *value = (double)v->frame_count; return SEQVID_OK;
    case SEQVID_VIDEO_FRAME_COUNT_EXACT: *value = v->count_exact; return SEQVID_OK;
    case SEQVID_VIDEO_POSITION: *value = (double)v->pos; return SEQVID_OK;
    case SEQVID_VIDEO_DAMAGED: *value = (double)v->damaged; return SEQVID_OK;
    case SEQVID_VIDEO_FRAME_WIDTH:
    case SEQVID_VIDEO_FRAME_HEIGHT:
    case SEQVID_VIDEO_FRAME_DIM:
    case SEQVID_VIDEO_SEQ_DIM:
    case SEQVID_VIDEO_GRID_CELLS: {
        int st = vid_video_geometry(v, &g);
        if (st) return st;
        size_t c = (size_t)v->o.channels, P = v->o.patch;
        if (key == SEQVID_VIDEO_FRAME_WIDTH) *value = (double)g.ow;
        else if (key == SEQVID_VIDEO_FRAME_HEIGHT) *value = (double)g.oh;
        else if (key == SEQVID_VIDEO_FRAME_DIM) *value = (double)(g.ow * g.oh * c);
        else if (key == SEQVID_VIDEO_SEQ_DIM) *value = (double)(P ? P * P * c : g.ow * g.oh * c);
        else *value = P ? (double)((g.ow / P) * (g.oh / P)) : 1;
        return SEQVID_OK;
    }
    default:
        return vid_fail(SEQVID_ERR_ARG, "%s: unknown key %d", __func__, key);
    }
}

/* ---- reading ---------------------------------------------------------------------------------- */
int seqvid_video_read(seqvid_video *v, float *frames, size_t max_frames, size_t *n_read) {
    VID_NOT_NULL(v);
    VID_NOT_NULL(n_read);
    *n_read = 0;
    if (max_frames) VID_NOT_NULL(frames);
    vid_geom g;
    int st = vid_video_geometry(v, &g);
    if (st) return st;
    size_t dim = g.ow * g.oh * (size_t)v->o.channels;
    if (!grow(&v->u8, &v->u8_cap, dim)) return vid_fail(SEQVID_ERR_NOMEM, "no memory for a frame");
    arm(v);
    for (size_t i = 0; i < max_frames; i++) {
        int r = vid_video_next_u8(v, &g, v->u8);
        if (r < 0) return -r;
        if (r == 0) break;
        const uint8_t *p = v->u8;
        vid_cut(&p, 1, g.oh, g.ow, (size_t)v->o.channels, 0, 0, 0, frames + i * dim, 1, 1, 0);
        (*n_read)++;
    }
    return SEQVID_OK;
}

/* Back to frame 0 by seeking to the start of the stream (or the file). */
static int rewind_start(seqvid_video *v) {
    int r = av_seek_frame(v->fmt, v->stream, INT64_MIN, AVSEEK_FLAG_BACKWARD);
    if (r < 0) r = avformat_seek_file(v->fmt, -1, INT64_MIN, 0, 0, 0);
    if (r < 0 && v->fmt->pb) r = avio_seek(v->fmt->pb, 0, SEEK_SET) < 0 ? -1 : 0;
    avcodec_flush_buffers(v->dec);
    v->have_pending = 0;
    av_frame_unref(v->frame);
    v->draining = v->eof = 0;
    v->pos = 0;
    return r < 0 ? vid_fail(SEQVID_ERR_IO, "cannot seek to the start of the video") : SEQVID_OK;
}

/* Decode and drop frames until `target` is next (pos counts delivered frames). */
static int skip_to(seqvid_video *v, uint64_t target) {
    while (v->pos < target) {
        int r = next_frame(v);
        if (r < 0) return -r;
        if (r == 0) {
            v->pos = target; /* past the end: reads return nothing */
            return SEQVID_OK;
        }
        av_frame_unref(v->frame);
        v->pos++;
    }
    return SEQVID_OK;
}

int seqvid_video_seek(seqvid_video *v, uint64_t target) {
    VID_NOT_NULL(v);
    if (target > (uint64_t)1 << 40) return vid_fail(SEQVID_ERR_ARG, "%s: frame %llu is absurd",
                                                    __func__, (unsigned long long)target);
    arm(v);
    if (target == v->pos && !v->eof) return SEQVID_OK;
    if (target > v->pos && target - v->pos <= 16) return skip_to(v, target); /* cheap ahead */
    if (v->first_ts != AV_NOPTS_VALUE && v->rate.num > 0 && target > 0) {
        /* Key frame at or before the target's timestamp, then decode up to it. */
        int64_t ts = v->first_ts + av_rescale_q((int64_t)target, av_inv_q(v->rate), v->tb);
        if (av_seek_frame(v->fmt, v->stream, ts, AVSEEK_FLAG_BACKWARD) >= 0) {
            avcodec_flush_buffers(v->dec);
            v->have_pending = 0;
            v->draining = v->eof = 0;
            for (;;) {
                int r = next_frame(v);
                if (r < 0) return -r;
                if (r == 0) break;                     /* ended before: fall back below */
                int64_t k = frame_index(v, v->frame);
                if (k < 0) break;                      /* no timestamp: fall back */
                if ((uint64_t)k < target) {
                    av_frame_unref(v->frame);
                    continue;
                }
                if ((uint64_t)k == target) {
                    v->have_pending = 1;
                    v->pos = target;
                    return SEQVID_OK;
                }
                break;                                 /* landed after the target: fall back */
            }
            av_frame_unref(v->frame);
        }
    }
    int st = rewind_start(v);
    return st ? st : skip_to(v, target);
}

int seqvid_video_count_frames(seqvid_video *v, uint64_t *count) {
    VID_NOT_NULL(v);
    VID_NOT_NULL(count);
    *count = 0;
    uint64_t here = v->pos;
    arm(v);
    int st = rewind_start(v);
    if (st) return st;
    uint64_t n = 0;
    for (;;) {
        if (timed_out(v))
            return vid_fail(SEQVID_ERR_OVERFLOW, "counting took longer than TIMEOUT (%g s)",
                            v->o.timeout);
        int r = av_read_frame(v->fmt, v->pkt);
        if (r < 0) break;
        if (v->pkt->stream_index == v->stream) n++;
        av_packet_unref(v->pkt);
    }
    if ((st = rewind_start(v)) || (st = seqvid_video_seek(v, here))) return st;
    v->frame_count = n;
    v->count_exact = 1;
    *count = n;
    return SEQVID_OK;
}

/* T frames at the stride from `start` as 8-bit frames in v->clip; *n_read of them. */
static int vid_video_clip_u8(seqvid_video *v, const vid_geom *g, uint64_t start, size_t T,
                             const uint8_t **frames, size_t *n_read) {
    size_t dim = g->ow * g->oh * (size_t)v->o.channels, bytes;
    *n_read = 0;
    if (T > ((size_t)1 << 20) || (bytes = T * dim) / (T ? T : 1) != dim)
        return vid_fail(SEQVID_ERR_OVERFLOW, "a clip of %zu frames is too large", T);
    if (!grow(&v->clip, &v->clip_cap, bytes ? bytes : 1))
        return vid_fail(SEQVID_ERR_NOMEM, "no memory for a clip of %zu frames", T);
    int st = seqvid_video_seek(v, start);
    if (st) return st;
    for (size_t t = 0; t < T; t++) {
        if (t && (st = skip_to(v, v->pos + v->o.stride - 1))) return st;
        int r = vid_video_next_u8(v, g, v->clip + t * dim);
        if (r < 0) return -r;
        if (r == 0) break;
        frames[t] = v->clip + t * dim;
        (*n_read)++;
    }
    return SEQVID_OK;
}

int seqvid_video_clip(seqvid_video *v, uint64_t start, size_t n_steps, float *out, size_t *n_read) {
    VID_NOT_NULL(v);
    VID_NOT_NULL(n_read);
    *n_read = 0;
    if (n_steps) VID_NOT_NULL(out);
    vid_geom g;
    int st = vid_video_geometry(v, &g);
    if (st) return st;
    const uint8_t **frames = calloc(n_steps ? n_steps : 1, sizeof *frames);
    if (!frames) return vid_fail(SEQVID_ERR_NOMEM, "no memory");
    arm(v);
    size_t n = 0;
    st = vid_video_clip_u8(v, &g, start, n_steps, frames, &n);
    if (!st) {
        size_t dim = g.ow * g.oh * (size_t)v->o.channels;
        for (size_t t = 0; t < n; t++)
            vid_cut(&frames[t], 1, g.oh, g.ow, (size_t)v->o.channels, 0, 0, 0, out + t * dim, 1,
                    1, 0);
        *n_read = n;
    }
    free(frames);
    return st;
}

int vid_fill_check(const vid_opts *o, const vid_geom *g, seqvid_batch *batch, size_t seq0,
                   size_t n, size_t *T, size_t *S, float **data) {
    size_t D;
    int st = seqvid_batch_shape(batch, T, S, &D);
    if (st) return vid_fail_core(st, "batch");
    size_t c = (size_t)o->channels;
    size_t want = o->patch ? o->patch * o->patch * c : g->ow * g->oh * c;
    if (D != want)
        return vid_fail(SEQVID_ERR_SHAPE, "the batch has %zu floats per step; this output "
                        "format needs %zu (SEQVID_VIDEO_SEQ_DIM)", D, want);
    if (!n || seq0 > *S || n > *S - seq0)
        return vid_fail(SEQVID_ERR_ARG, "sequences %zu .. %zu + %zu are not in a batch of %zu",
                        seq0, seq0, n, *S);
    if (!o->patch && n != 1)
        return vid_fail(SEQVID_ERR_ARG, "whole frames fill one sequence per clip (n = %zu)", n);
    if ((st = seqvid_batch_data(batch, data))) return vid_fail_core(st, "batch");
    return SEQVID_OK;
}

int seqvid_video_fill_batch(seqvid_video *v, seqvid_batch *batch, size_t seq0, size_t n,
                            uint64_t start) {
    VID_NOT_NULL(v);
    VID_NOT_NULL(batch);
    vid_geom g;
    int st = vid_video_geometry(v, &g);
    if (st) return st;
    size_t T, S;
    float *data;
    if ((st = vid_fill_check(&v->o, &g, batch, seq0, n, &T, &S, &data))) return st;
    const uint8_t **frames = calloc(T, sizeof *frames);
    if (!frames) return vid_fail(SEQVID_ERR_NOMEM, "no memory");
    arm(v);
    size_t got = 0;
    st = vid_video_clip_u8(v, &g, start, T, frames, &got);
    if (!st && !got)
        st = vid_fail(SEQVID_ERR_ARG, "no frame at %llu: the video has %llu",
                      (unsigned long long)start, (unsigned long long)v->pos);
    for (size_t j = 0; !st && j < n; j++) {
        size_t y, x;
        vid_patch_pos(&v->o, g.oh, g.ow, j, &v->rng, &y, &x);
        vid_cut(frames, got, g.oh, g.ow, (size_t)v->o.channels, v->o.patch, y, x, data, T, S,
                seq0 + j);
        if ((st = seqvid_batch_set_length(batch, seq0 + j, got))) st = vid_fail_core(st, "batch");
    }
    free(frames);
    return st;
}

/* ---- for the data set: decode a whole file into 8-bit frames -------------------------------- */
int vid_decode_all(const char *path, const vid_opts *o, uint8_t **frames, size_t *n_frames,
                   size_t *fh, size_t *fw, uint64_t *damaged) {
    *frames = NULL;
    *n_frames = 0;
    *damaged = 0;
    seqvid_video *v;
    int st = seqvid_video_open(path, &v);
    if (st) return st;
    v->o = *o;
    vid_geom g;
    if ((st = vid_video_geometry(v, &g))) goto out;
    size_t dim = g.ow * g.oh * (size_t)o->channels, cap = 0, n = 0;
    uint8_t *buf = NULL;
    arm(v);
    for (;;) {
        if (n == o->max_frames) break;
        if ((n + 1) * dim > cap) {
            size_t ncap = cap ? cap * 2 : 64 * dim;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                st = vid_fail(SEQVID_ERR_NOMEM, "%s: no memory for %zu frames", path, n + 1);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        arm(v); /* the time limit is per frame here: a long video is not hostile */
        int r = vid_video_next_u8(v, &g, buf + n * dim);
        if (r < 0) {
            st = -r;
            break;
        }
        if (r == 0) break;
        n++;
    }
    if (st) {
        free(buf);
        goto out;
    }
    *frames = buf;
    *n_frames = n;
    *fh = g.oh;
    *fw = g.ow;
    *damaged = v->damaged;
out:
    seqvid_video_free(v);
    return st;
}
