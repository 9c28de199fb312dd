/**
 * @file seqvid_video.h
 * @brief libseqvid_video: video files as training data for libseqvid, decoded by FFmpeg.
 *
 * A separate small library on top of libseqvid (which stays FFmpeg-free): link
 * `pkg-config --libs seqvid_video` (it brings libseqvid; FFmpeg is a private dependency, its
 * headers are never needed). Decoding, scaling (area filter) and pixel-format conversion are
 * FFmpeg's (libavformat, libavcodec, libswscale); this library turns the result into the
 * float frames, clips, patches and sequence batches that libseqvid trains on.
 *
 * @par Conventions (those of seqvid.h)
 *  - Every function that can fail returns an int status: SEQVID_OK (0) or a seqvid_status
 *    (seqvid_status_string() names it). seqvid_video_last_error() gives the detail of the
 *    last failure of a seqvid_video_* call on the calling thread. Nothing prints, exits or
 *    aborts: the first open sets FFmpeg's log level to quiet, process-wide (a program that
 *    uses FFmpeg itself can raise it again afterwards with av_log_set_level).
 *  - Handles are opaque, made by *_open / *_create and released by *_free; *_free(NULL) is a
 *    no-op. On failure output handles are set to NULL.
 *  - Options are integer keys (seqvid_video_key) set with seqvid_video_set() and read with
 *    seqvid_video_get(); the same keys configure a data set (seqvid_video_dataset_set()).
 *  - Frames are float32 in [0, 1], row-major height x width x channels (channels innermost:
 *    gray = 1, RGB = 3), the layout seqvid_batch_crop() expects. A frame of the video is
 *    converted by FFmpeg to 8-bit gray or RGB at the output size, then scaled by 1/255.
 *
 * @par Statuses of broken input
 *  - SEQVID_ERR_IO: the file cannot be opened or read (missing, a directory, permissions).
 *  - SEQVID_ERR_FORMAT: not a video FFmpeg recognises (random bytes, a zero-length file, a
 *    truncated header), no video stream, or a stream that yields no decodable frame.
 *  - SEQVID_ERR_UNSUPPORTED: the video's codec has no decoder in the FFmpeg linked; or the
 *    file is a list of other files or URLs, or makes FFmpeg ask for another file or URL (see
 *    Only the file named).
 *  - SEQVID_ERR_OVERFLOW: the video exceeds a limit (SEQVID_VIDEO_MAX_PIXELS,
 *    SEQVID_VIDEO_MAX_PACKETS, SEQVID_VIDEO_TIMEOUT): hostile input cannot make the library
 *    allocate without bound or spin forever.
 *  Damaged frames inside an otherwise good video (a packet the decoder rejects, a frame of
 *  the wrong size) are skipped, not fatal: SEQVID_VIDEO_DAMAGED counts them. Frame indices
 *  count the frames actually delivered.
 *
 * @par Only the file named
 * A video is read from the one file (or buffer) given: its contents never make the library
 * open another file, a network connection or any other resource, whatever the FFmpeg build.
 * Formats that are lists of other files or URLs -- HLS playlists (.m3u8), ffconcat lists,
 * DASH manifests (.mpd), IMF compositions, SDP descriptions -- are refused before FFmpeg
 * opens anything they name, local or remote, relative or absolute, from a path or from
 * memory (join such parts into one file first: `ffmpeg -i LIST -c copy one.mkv`, or list the
 * parts, when each plays on its own, in a data set's list file). Everything FFmpeg reads
 * goes through its file protocol only (protocol_whitelist "file": no http:, data:, crypto:,
 * subfile:, concat:, pipe: ...), and FFmpeg may open the named file and nothing else (a
 * path like `f%03d.png` is that one file, never an image sequence). A path is always a local
 * file, also when it looks like a URL (`http:x.mkv` is the file of that name).
 *
 * @par Thread safety
 * A seqvid_video or seqvid_video_dataset is used by one thread at a time; distinct handles
 * may be used from distinct threads. A data set runs one worker thread of its own (the next
 * batch is prepared while the caller trains); it ends in seqvid_video_dataset_free().
 *
 * @par Stability
 * The stable API of libseqvid_video major version 1 (its own SONAME and ABI baseline,
 * tests/abi/libseqvid_video.abi). Keys and functions may be added in minor versions.
 */
#ifndef SEQVID_VIDEO_H
#define SEQVID_VIDEO_H

#include <stddef.h>
#include <stdint.h>
#include <seqvid.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SEQVID_STATIC) || !defined(__GNUC__)
#define SEQVID_VIDEO_API
#else
#define SEQVID_VIDEO_API __attribute__((visibility("default")))
#endif

/** Detail of this thread's last seqvid_video_* failure ("" if none). As seqvid_last_error:
 *  valid until the next failing call on this thread; successful calls do not clear it (read
 *  it only after a call returned a status other than SEQVID_OK). */
SEQVID_VIDEO_API const char *seqvid_video_last_error(void);
/** Version of the FFmpeg libraries linked, e.g. "libavformat 59.27.100, libavcodec ...". */
SEQVID_VIDEO_API const char *seqvid_video_ffmpeg_version(void);

/* ============================================================================================
 * Keys: output format, patches, limits (settable) and facts about a video (read-only)
 * ========================================================================================== */
/** How patches are placed (SEQVID_VIDEO_PATCH_MODE). */
typedef enum seqvid_video_patch_mode {
    SEQVID_VIDEO_PATCH_GRID = 0,  /**< non-overlapping P x P cells from the top-left corner,
                                       row-major; sequence j of a fill gets cell j mod cells */
    SEQVID_VIDEO_PATCH_RANDOM = 1 /**< uniform positions from the handle's seeded generator */
} seqvid_video_patch_mode;

/** Keys of seqvid_video_set / _get (and the data set's). "RO" keys are read-only facts. */
typedef enum seqvid_video_key {        /*  default    meaning                                  */
    SEQVID_VIDEO_CHANNELS = 1,        /**< 1         1 = grayscale, 3 = RGB                    */
    SEQVID_VIDEO_OUT_WIDTH = 2,       /**< 0         output width; 0 = the crop's width, or kept
                                                     in proportion when only the height is set */
    SEQVID_VIDEO_OUT_HEIGHT = 3,      /**< 0         output height; 0 likewise                  */
    SEQVID_VIDEO_CROP_X = 4,          /**< 0         crop rectangle in source pixels, applied   */
    SEQVID_VIDEO_CROP_Y = 5,          /**< 0         before resizing (area filter)              */
    SEQVID_VIDEO_CROP_WIDTH = 6,      /**< 0         0 = to the right edge                      */
    SEQVID_VIDEO_CROP_HEIGHT = 7,     /**< 0         0 = to the bottom edge                     */
    SEQVID_VIDEO_STRIDE = 8,          /**< 1         frame stride of clips (1 = every frame)    */
    SEQVID_VIDEO_PATCH = 9,           /**< 0         P: patch side in output pixels; 0 = whole
                                                     frames                                    */
    SEQVID_VIDEO_PATCH_MODE = 10,     /**< GRID      seqvid_video_patch_mode                    */
    SEQVID_VIDEO_SEED = 11,           /**< 1         seed of random patch positions (and of a
                                                     data set's sampling); setting it restarts
                                                     the sequence of positions                 */
    SEQVID_VIDEO_MAX_PIXELS = 12,     /**< 2^26      largest width*height accepted: larger
                                                     streams are refused at open, larger frames
                                                     are never allocated by the decoder (its
                                                     max_pixels) and skipped as damaged.
                                                     seqvid_video_open itself (which decodes
                                                     frame 0) runs under the defaults        */
    SEQVID_VIDEO_MAX_PACKETS = 13,    /**< 4096      packets read in a row without a frame
                                                     before decoding gives up                  */
    SEQVID_VIDEO_TIMEOUT = 14,        /**< 60        seconds one call may spend in FFmpeg
                                                     (AVIOInterruptCB); 0 = no limit           */
    SEQVID_VIDEO_MAX_FRAMES = 15,     /**< 2^20      frames a data set decodes per file         */

    SEQVID_VIDEO_WIDTH = 32,          /**< RO        width of the video's first frame; every
                                                     frame must have its size (a frame of
                                                     another size is damaged), so the output
                                                     size never changes while reading       */
    SEQVID_VIDEO_HEIGHT = 33,         /**< RO        height of the first frame              */
    SEQVID_VIDEO_FPS = 34,            /**< RO        frames per second (average rate)           */
    SEQVID_VIDEO_DURATION = 35,       /**< RO        seconds (stream, else container; 0 unknown) */
    SEQVID_VIDEO_FRAME_COUNT = 36,    /**< RO        frames (see SEQVID_VIDEO_FRAME_COUNT_EXACT) */
    SEQVID_VIDEO_FRAME_COUNT_EXACT = 37, /**< RO     1: exact -- from an index of every sample
                                                     (MP4/MOV) or counted by
                                                     seqvid_video_count_frames(); 0: estimated
                                                     (an AVI header, which also counts empty
                                                     chunks, or duration x fps)                */
    SEQVID_VIDEO_POSITION = 38,       /**< RO        index of the frame the next read returns  */
    SEQVID_VIDEO_DAMAGED = 39,        /**< RO        damaged frames skipped so far: packets
                                                     the decoder rejected or frames it flagged
                                                     (counted once per packet), frames of
                                                     another size or beyond MAX_PIXELS      */
    SEQVID_VIDEO_FRAME_WIDTH = 40,    /**< RO        width of an output frame                  */
    SEQVID_VIDEO_FRAME_HEIGHT = 41,   /**< RO        height of an output frame                 */
    SEQVID_VIDEO_FRAME_DIM = 42,      /**< RO        floats per output frame (h * w * channels) */
    SEQVID_VIDEO_SEQ_DIM = 43,        /**< RO        floats per batch step: P*P*channels with
                                                     patches, else FRAME_DIM                   */
    SEQVID_VIDEO_GRID_CELLS = 44      /**< RO        grid cells of P x P in an output frame     */
} seqvid_video_key;

/* ============================================================================================
 * One video
 * ========================================================================================== */
/** An open video: its best video stream, a decoder and a scaler. */
typedef struct seqvid_video seqvid_video;

/** Open a video file (any container and codec the linked FFmpeg decodes; never a playlist
 *  or other list of files or URLs: see Only the file named). */
SEQVID_VIDEO_API int seqvid_video_open(const char *path, seqvid_video **out);
/** Open a video held in memory: `data` (size bytes) is read in place and must stay valid and
 *  unchanged until seqvid_video_free(). */
SEQVID_VIDEO_API int seqvid_video_open_buffer(const void *data, size_t size, seqvid_video **out);
SEQVID_VIDEO_API void seqvid_video_free(seqvid_video *video);

/** Set an option (seqvid_video_key; read-only keys give SEQVID_ERR_ARG). Output-format keys
 *  take effect at the next read; they are validated against the video there and then
 *  (a crop that leaves the frame, a patch larger than the frame: SEQVID_ERR_ARG). */
SEQVID_VIDEO_API int seqvid_video_set(seqvid_video *video, int key, double value);
SEQVID_VIDEO_API int seqvid_video_get(const seqvid_video *video, int key, double *value);

/** Count the frames by reading every packet of the stream (no decoding), then return to the
 *  current position. Afterwards SEQVID_VIDEO_FRAME_COUNT is this count and _EXACT is 1. */
SEQVID_VIDEO_API int seqvid_video_count_frames(seqvid_video *video, uint64_t *count);

/** Decode the next `max_frames` frames in order into `frames` (max_frames * FRAME_DIM floats).
 *  *n_read < max_frames means the end of the video was reached (0 at the end). */
SEQVID_VIDEO_API int seqvid_video_read(seqvid_video *video, float *frames, size_t max_frames,
                                       size_t *n_read);

/** Make `frame` the next frame read. Frame-accurate: FFmpeg seeks to a key frame at or before
 *  it, then frames are decoded up to it (indices from timestamps at the stream's frame rate;
 *  a stream without timestamps is decoded again from its start). Seeking past the end is
 *  allowed (the next read returns 0 frames). */
SEQVID_VIDEO_API int seqvid_video_seek(seqvid_video *video, uint64_t frame);

/** A clip: T frames start, start + s, ..., start + (T-1) s (s = SEQVID_VIDEO_STRIDE) into
 *  `frames` (T * FRAME_DIM floats). *n_read < T when the video ends first. */
SEQVID_VIDEO_API int seqvid_video_clip(seqvid_video *video, uint64_t start, size_t n_steps,
                                       float *frames, size_t *n_read);

/**
 * Fill sequences seq0 .. seq0 + n - 1 of `batch` (time-major, see seqvid.h) from the clip of
 * the batch's T = n_steps frames at `start` (stride SEQVID_VIDEO_STRIDE).
 *  - whole frames (SEQVID_VIDEO_PATCH = 0): n must be 1; batch dim = FRAME_DIM;
 *  - patches (P > 0): batch dim = P*P*channels; sequence j gets the patch of grid cell
 *    (j mod GRID_CELLS), or a random position (SEQVID_VIDEO_PATCH_RANDOM), the same position
 *    in every frame of the clip.
 * A clip shorter than T (the video ends) sets those sequences' lengths to the frames read
 * and zero-fills the rest; a clip of 0 frames (start past the end) is SEQVID_ERR_ARG.
 */
SEQVID_VIDEO_API int seqvid_video_fill_batch(seqvid_video *video, seqvid_batch *batch,
                                             size_t seq0, size_t n, uint64_t start);

/* ============================================================================================
 * A data set over many video files
 * ========================================================================================== */
/**
 * @par Sources
 * seqvid_video_dataset_create() takes a folder (its regular files, sorted by name; files
 * FFmpeg cannot open are reported by seqvid_video_dataset_file_status()), a glob pattern
 * (`clips/ *.mp4`, with any of `*?[`) or a list file (a text file of paths, one a line,
 * relative paths relative to the list's folder, `#` comments). Files are never opened at
 * creation, only listed. A list file is recognised by its name ending in .txt, .lst or
 * .list; any other single file is a data set of that one video.
 *
 * @par Split
 * Each file belongs to the training or the validation split by a hash of its file name
 * (not its path or position): validation when hash(name, SPLIT_SEED) / 2^64 < VAL_FRACTION.
 * The split of a file never changes when files are added or removed.
 *
 * @par Frames and cache
 * The first time a batch needs a file, all its frames are decoded once at the output format
 * (channels, crop, size) into 8-bit memory; with a cache folder (seqvid_video_dataset_cache)
 * they are also written there (atomically) and later runs read them back instead of
 * decoding. A cache file is named after a hash of the video's path, size, mtime and the
 * output format, and carries a header and a checksum: a file that does not match (truncated,
 * corrupt, another format) is ignored and rebuilt. A video that fails to decode is left out
 * of sampling (its status and message: seqvid_video_dataset_file_status()).
 *
 * @par Batches
 * seqvid_video_dataset_next() fills every sequence of a batch with a clip of T = n_steps
 * frames at stride SEQVID_VIDEO_STRIDE: a file drawn with probability proportional to its
 * number of clip starts, a uniform start, and (with patches) a uniform patch position.
 * Training batches come from the handle's generator (SEQVID_VIDEO_SEED); validation
 * batches from a generator that seqvid_video_dataset_rewind() restarts, so the same
 * validation batches come back after each rewind. With prefetching on (default), the next
 * batch of the same split and shape is prepared on a worker thread while the caller trains;
 * the batches are the same as without prefetching.
 */
typedef struct seqvid_video_dataset seqvid_video_dataset;

/** The two splits. */
typedef enum seqvid_video_split {
    SEQVID_VIDEO_TRAIN = 0,
    SEQVID_VIDEO_VALIDATION = 1
} seqvid_video_split;

/** Keys of a data set beyond seqvid_video_key (which also apply, to every file). */
typedef enum seqvid_video_dataset_key { /* default  meaning                                    */
    SEQVID_VIDEO_VAL_FRACTION = 64,     /**< 0.2     share of files for validation, [0, 1]   */
    SEQVID_VIDEO_SPLIT_SEED = 65,       /**< 0       seed of the split hash                   */
    SEQVID_VIDEO_PREFETCH = 66,         /**< 1       prepare the next batch on a worker thread */
    SEQVID_VIDEO_FILES = 67,            /**< RO      files listed                            */
    SEQVID_VIDEO_TRAIN_FILES = 68,      /**< RO      files in the training split             */
    SEQVID_VIDEO_VAL_FILES = 69,        /**< RO      files in the validation split           */
    SEQVID_VIDEO_CACHE_HITS = 70,       /**< RO      files read back from the cache           */
    SEQVID_VIDEO_WAIT_SECONDS = 71      /**< RO      seconds _next() spent waiting for data
                                                     (decoding, or the worker not yet done)   */
} seqvid_video_dataset_key;

/** List the files of a folder, glob or list file (see Sources). No file found:
 *  SEQVID_ERR_IO. */
SEQVID_VIDEO_API int seqvid_video_dataset_create(const char *source, seqvid_video_dataset **out);
/** Stops and joins the worker thread. NULL is a no-op. */
SEQVID_VIDEO_API void seqvid_video_dataset_free(seqvid_video_dataset *ds);
/** Keys of seqvid_video_key and seqvid_video_dataset_key. Changing any format key drops the
 *  frames decoded so far (and the prefetched batch). */
SEQVID_VIDEO_API int seqvid_video_dataset_set(seqvid_video_dataset *ds, int key, double value);
SEQVID_VIDEO_API int seqvid_video_dataset_get(const seqvid_video_dataset *ds, int key,
                                              double *value);
/** Folder for decoded-frame cache files (created if missing); NULL: no disk cache. */
SEQVID_VIDEO_API int seqvid_video_dataset_cache(seqvid_video_dataset *ds, const char *folder);
/** Path of file i (0 <= i < FILES, in listing order) and its split. The pointer stays valid
 *  until the data set is freed. */
SEQVID_VIDEO_API int seqvid_video_dataset_file(const seqvid_video_dataset *ds, size_t i,
                                               const char **path, int *split);
/** How decoding file i went: SEQVID_OK (also when not decoded yet) or its failure status,
 *  with its message in `message` (may be NULL; valid until the data set is freed); frames
 *  and damaged frames skipped (may be NULL; 0 until decoded). */
SEQVID_VIDEO_API int seqvid_video_dataset_file_status(const seqvid_video_dataset *ds, size_t i,
                                                      int *status, const char **message,
                                                      uint64_t *frames, uint64_t *damaged);
/** Fill every sequence of `batch` from `split` (see Batches). Its dim must be SEQ_DIM (read it
 *  with seqvid_video_dataset_get after setting the format, or after the first file is
 *  decoded: the output size may depend on the video). No usable file in the split, or no
 *  clip start (every file shorter than one frame): SEQVID_ERR_STATE. */
SEQVID_VIDEO_API int seqvid_video_dataset_next(seqvid_video_dataset *ds, int split,
                                               seqvid_batch *batch);
/** Restart the validation generator (split = SEQVID_VIDEO_VALIDATION) or the training one
 *  (from SEQVID_VIDEO_SEED). */
SEQVID_VIDEO_API int seqvid_video_dataset_rewind(seqvid_video_dataset *ds, int split);

#ifdef __cplusplus
}
#endif
#endif /* SEQVID_VIDEO_H */
