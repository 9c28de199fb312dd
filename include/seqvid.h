/**
 * @file seqvid.h
 * @brief libseqvid: LSTM encoder-decoders that learn video representations.
 *
 * This header is the manual. libseqvid implements the autoencoder, future predictor and
 * composite models of Srivastava, Mansimov & Salakhutdinov, "Unsupervised Learning of Video
 * Representations using LSTMs" (ICML 2015, "SR15"), trained with backpropagation through time
 * on CPUs through CBLAS.
 *
 * @par Conventions (they hold for every function below)
 *  - Every function that can fail returns an int status: SEQVID_OK (0) or one of seqvid_status.
 *    seqvid_status_string() names a status; seqvid_last_error() gives the detail of the last
 *    failure on the calling thread (which argument, which shape). Nothing prints, nothing
 *    exits, nothing aborts.
 *  - Objects are opaque handles made by *_create / *_load and released by *_free.
 *    Every *_free(NULL) is a no-op.
 *  - On failure, output handles are set to NULL and caller memory is left unspecified unless
 *    the function says otherwise; the object the call was made on is unchanged.
 *  - Options are set through integer keys (seqvid_config_set, seqvid_optimizer_set, ...), so
 *    the option list can grow without changing any struct or signature.
 *  - All arrays are float32, row-major, in caller memory unless stated.
 *  - Sequence batches are time-major: element (t, b, d) of a batch with S sequences of
 *    dimension D is data[(t * S + b) * D + d]. This is the layout of the standard
 *    mnist_test_seq.npy file (time, sequence, H, W) and of the LSTM kernel.
 *
 * @par Thread safety
 * The library has no global mutable state except its thread count, the loader limits
 * (seqvid_set_limit) and the per-thread error message. Distinct objects may be used from
 * distinct threads concurrently (tested:
 * models trained in parallel threads give bitwise the results they give alone). Per object
 * and function:
 *  - seqvid_version_*, seqvid_status_string: safe from any thread, any time.
 *  - seqvid_last_error: per thread; it reports the calling thread's last failure only.
 *  - seqvid_set_threads / seqvid_get_threads: process-wide; call seqvid_set_threads before
 *    starting threads that train, not while they run.
 *  - seqvid_set_limit / seqvid_get_limit: process-wide, safe from any thread, any time.
 *  - seqvid_config, seqvid_batch, seqvid_optimizer, seqvid_mmnist: one thread at a time per
 *    object; reading a config or batch from several threads at once is safe.
 *  - seqvid_model: one thread at a time, *including* inference calls (evaluate, reconstruct,
 *    predict, encode keep workspaces in the model). A seqvid_stream reads its model's
 *    weights: the stream and its model count as one object. seqvid_model_save,
 *    seqvid_checkpoint_save and seqvid_model_save_buffer only read the model.
 *  - seqvid_classifier: like seqvid_model (one thread at a time, inference included).
 *    seqvid_classifier_create_from_encoder and seqvid_classifier_copy_encoder only read the
 *    model; seqvid_classifier_save and _save_buffer only read the classifier.
 *  - seqvid_digits: read-only after loading; may be shared by any number of generators in
 *    any threads.
 *  - Loading functions (seqvid_*_load*, seqvid_npy_*) touch nothing shared: safe from any
 *    thread, on distinct paths or buffers.
 * The library starts worker threads of its own inside a call (as many as seqvid_set_threads
 * asks for: the chunks of the matrix products, the sparse-input products, the optimizers'
 * updates and the NaN/Inf scans of large arrays). They are kept between calls (sleeping,
 * using no CPU, when the library is idle) and joined when the library is unloaded or the
 * process exits. A child of fork() may use the library (it starts workers of its own), except
 * in a build on the oneDNN backend, whose OpenMP runtime (GNU libgomp) hangs in the child of
 * a process that has used it.
 *
 * @par Determinism
 * Results are bitwise reproducible: the same calls on the same inputs give the same bits
 * (weights, gradients, losses, features, predictions, reconstructions, class probabilities)
 * for ANY thread count, set by seqvid_set_threads or (OpenBLAS build) by
 * OPENBLAS_NUM_THREADS, on the same machine and build (tested with 1, 2 and 3 threads, with
 * each backend). With CBLAS every product is cut into chunks that depend on its shape only,
 * each computed by one single-threaded BLAS call; the oneDNN backend splits its products by
 * shape too; every reduction runs in a fixed order. Different backends, BLAS libraries or CPU
 * kernels (for example OPENBLAS_CORETYPE) may round differently.
 *
 * @par Stability
 * Everything in this header is the stable API of major version 1, except the section
 * "Experimental", which a program sees only if it defines SEQVID_EXPERIMENTAL. Functions and
 * enum values may be added in minor versions (each function's note says since when, if
 * after 1.0); none is removed or changed before 2.0.
 */
#ifndef SEQVID_H
#define SEQVID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SEQVID_STATIC) || !defined(__GNUC__)
#define SEQVID_API
#else
#define SEQVID_API __attribute__((visibility("default")))
#endif

/* ============================================================================================
 * Version
 * ========================================================================================== */
/** @defgroup version Version */
/** @{ */
#define SEQVID_VERSION_MAJOR 1
#define SEQVID_VERSION_MINOR 1
#define SEQVID_VERSION_PATCH 0
#define SEQVID_VERSION_NUMBER \
    (SEQVID_VERSION_MAJOR * 10000 + SEQVID_VERSION_MINOR * 100 + SEQVID_VERSION_PATCH)
#define SEQVID_VERSION_STRING "1.1.0"

/** "MAJOR.MINOR.PATCH" of the library actually linked (may differ from the header's). */
SEQVID_API const char *seqvid_version_string(void);
/** MAJOR*10000 + MINOR*100 + PATCH of the library actually linked. */
SEQVID_API int seqvid_version_number(void);

/** @} */

/* ============================================================================================
 * Status codes and errors
 * ========================================================================================== */
/** @defgroup errors Status codes and errors */
/** @{ */
/** What every function that can fail returns. */
typedef enum seqvid_status {
    SEQVID_OK = 0,
    SEQVID_ERR_NULL = 1,        /**< a required pointer argument was NULL */
    SEQVID_ERR_ARG = 2,         /**< an argument is out of range, or a key is unknown */
    SEQVID_ERR_SHAPE = 3,       /**< sizes of two objects/arrays do not fit together */
    SEQVID_ERR_OVERFLOW = 4,    /**< a size product would overflow size_t (or is absurdly large) */
    SEQVID_ERR_NOMEM = 5,       /**< memory allocation failed */
    SEQVID_ERR_NONFINITE = 6,   /**< NaN/Inf in an input, a loss or a gradient; nothing updated */
    SEQVID_ERR_IO = 7,          /**< a file could not be opened, read, written or renamed */
    SEQVID_ERR_FORMAT = 8,      /**< a file or buffer is corrupt, truncated or not ours */
    SEQVID_ERR_UNSUPPORTED = 9, /**< valid request this build or model kind cannot do */
    SEQVID_ERR_STATE = 10,      /**< the object is not in a state that allows the call */
    SEQVID_ERR_BUFFER = 11,     /**< a caller buffer is too small; the needed size is reported */
    SEQVID_STATUS_COUNT_       /**< not a status: one past the last (grows in minor versions) */
} seqvid_status;

/** Short constant English name of a status ("invalid argument", ...); never NULL. */
SEQVID_API const char *seqvid_status_string(int status);
/** Detail of the last failure on this thread ("" if none). Valid until the next failing call
 *  on this thread. Successful calls do not clear it. */
SEQVID_API const char *seqvid_last_error(void);

/** @} */

/* ============================================================================================
 * Threads
 * ========================================================================================== */
/** @defgroup threads Threads */
/** @{ */
/** Number of threads the library computes with, for all models in the process (a
 *  process-wide setting). n = 0 means "all cores". Until it is called, the count is what
 *  OpenBLAS was set to (OPENBLAS_NUM_THREADS, else its default) with the OpenBLAS backend,
 *  1 with the reference CBLAS, all cores with oneDNN. With CBLAS the library runs its own
 *  threads over chunks of each product and keeps OpenBLAS single-threaded inside its calls
 *  (OpenBLAS's count is restored when no library call is computing), so results do not
 *  depend on the count (see Determinism). Returns SEQVID_ERR_ARG for n < 0. */
SEQVID_API int seqvid_set_threads(int n);
/** The current thread count. */
SEQVID_API int seqvid_get_threads(void);

/** @} */

/* ============================================================================================
 * Sequence batches: S sequences of T frames of D floats, time-major, per-sequence lengths.
 * ========================================================================================== */
/** @defgroup batches Sequence batches
 * S sequences of T frames of D floats, time-major, per-sequence lengths. */
/** @{ */
/** A batch of sequences (owned storage or a view of caller memory). */
typedef struct seqvid_batch seqvid_batch;

/** An owned, zero-filled batch. Every length starts at n_steps. */
SEQVID_API int seqvid_batch_create(size_t n_steps, size_t n_seqs, size_t dim, seqvid_batch **out);
/** A zero-copy view of caller memory of n_steps*n_seqs*dim floats (time-major). The memory
 *  must outlive the batch; the library reads it (and writes it only through
 *  seqvid_batch_data users or data generators filling this batch). */
SEQVID_API int seqvid_batch_wrap(float *data, size_t n_steps, size_t n_seqs, size_t dim,
                                 seqvid_batch **out);
SEQVID_API void seqvid_batch_free(seqvid_batch *batch);
/** Any of the outputs may be NULL. */
SEQVID_API int seqvid_batch_shape(const seqvid_batch *batch, size_t *n_steps, size_t *n_seqs,
                                  size_t *dim);
/** Pointer to the batch's frames (owned storage or the wrapped memory). */
SEQVID_API int seqvid_batch_data(seqvid_batch *batch, float **data);
/** Valid length of sequence `seq`: frames t >= len are padding and carry no loss and no
 *  gradient. 1 <= len <= n_steps. */
SEQVID_API int seqvid_batch_set_length(seqvid_batch *batch, size_t seq, size_t len);
SEQVID_API int seqvid_batch_get_length(const seqvid_batch *batch, size_t seq, size_t *len);

/** @} */

/* ============================================================================================
 * Model configuration (an opaque object with integer keys; extensible without ABI breaks)
 * ========================================================================================== */
/** @defgroup config Model configuration (an opaque object with integer keys; extensible without ABI breaks) */
/** @{ */
/** A model configuration: an opaque set of seqvid_config_key values. */
typedef struct seqvid_config seqvid_config;

/** The three SR15 models (SEQVID_CFG_KIND). */
typedef enum seqvid_kind {
    SEQVID_AUTOENCODER = 1, /**< encoder + reconstruction decoder (targets in reverse order) */
    SEQVID_PREDICTOR = 2,   /**< encoder + future predictor */
    SEQVID_COMPOSITE = 3    /**< encoder + both decoders; the two losses are summed */
} seqvid_kind;

/** Output non-linearity and loss (SEQVID_CFG_OUTPUT). */
typedef enum seqvid_output {
    SEQVID_OUTPUT_BINARY = 0, /**< sigmoid + cross-entropy (pixels in [0,1], Moving MNIST) */
    SEQVID_OUTPUT_REAL = 1    /**< linear + squared loss 1/2 |y - x|^2 (patches, percepts) */
} seqvid_output;

/** What a decoder reads at step t > 0 (SEQVID_CFG_RECON_FEED). */
typedef enum seqvid_feed {
    SEQVID_FEED_TRUTH = 0,     /**< decoder step t > 0 is fed the true previous frame */
    SEQVID_FEED_PREDICTION = 1 /**< ... fed its own previous output (after the non-linearity) */
} seqvid_feed;

/** Keys of seqvid_config_set(); each key's note gives its default, then its meaning. */
typedef enum seqvid_config_key {                  /*  default   meaning                      */
    SEQVID_CFG_KIND = 1,           /**< COMPOSITE   seqvid_kind                         */
    SEQVID_CFG_INPUT_DIM = 2,      /**< 4096        D, floats per frame (required >= 1)  */
    SEQVID_CFG_HIDDEN = 3,         /**< 2048        H, units per LSTM layer              */
    SEQVID_CFG_LAYERS = 4,         /**< 1           L, layers in every stack              */
    SEQVID_CFG_PEEPHOLES = 5,      /**< 1           diagonal peepholes on (1) / off (0)  */
    SEQVID_CFG_INPUT_FRAMES = 6,   /**< 10          K, frames read by the encoder in training */
    SEQVID_CFG_FUTURE_FRAMES = 7,  /**< 10          M, frames predicted in training      */
    SEQVID_CFG_COND_RECON = 8,     /**< 1           reconstruction decoder conditional (1) */
    SEQVID_CFG_COND_FUTURE = 9,    /**< 1           future predictor conditional (1)     */
    SEQVID_CFG_OUTPUT = 10,        /**< BINARY      seqvid_output                        */
    SEQVID_CFG_RECON_FEED = 11,    /**< TRUTH       seqvid_feed of the reconstruction decoder
                                                   at inference; the future predictor is always
                                                   fed its own predictions at inference      */
    SEQVID_CFG_SEED = 12,          /**< 42          seed of the weight initialisation     */
    SEQVID_CFG_INIT_WEIGHT = 13,   /**< 0.01        weights ~ U(-a, a)                    */
    SEQVID_CFG_INIT_PEEPHOLE = 14, /**< 0.1         peepholes ~ U(-a, a)                  */
    SEQVID_CFG_FORGET_BIAS = 15    /**< 0           initial forget-gate bias              */
} seqvid_config_key;

/** A configuration holding the SR15 Moving MNIST composite defaults listed above. */
SEQVID_API int seqvid_config_create(seqvid_config **out);
SEQVID_API void seqvid_config_free(seqvid_config *cfg);
/** Set a key. Integer-valued keys reject non-integral values. Out-of-range values and
 *  unknown keys give SEQVID_ERR_ARG and leave cfg unchanged. */
SEQVID_API int seqvid_config_set(seqvid_config *cfg, int key, double value);
SEQVID_API int seqvid_config_get(const seqvid_config *cfg, int key, double *value);

/** @} */

/* ============================================================================================
 * Models
 * ========================================================================================== */
/** @defgroup models Models */
/** @{ */
/** A model: its weights, gradients and workspaces. */
typedef struct seqvid_model seqvid_model;

/** Create a model with freshly initialised weights (deterministic for a seed). The config is
 *  copied; it may be freed afterwards. */
SEQVID_API int seqvid_model_create(const seqvid_config *cfg, seqvid_model **out);
SEQVID_API void seqvid_model_free(seqvid_model *model);
/** Read any seqvid_config_key of the model. */
SEQVID_API int seqvid_model_get(const seqvid_model *model, int key, double *value);
/** Change a key after creation. Only SEQVID_CFG_RECON_FEED may change (and the scheduled
 *  sampling keys of the experimental section, at any time); others give SEQVID_ERR_STATE. */
SEQVID_API int seqvid_model_set(seqvid_model *model, int key, double value);

/** @} */

/* ============================================================================================
 * Optimizers
 * ========================================================================================== */
/** @defgroup optimizers Optimizers */
/** @{ */
/** An optimizer and its state (moments, step count), bound to one parameter count (a model's
 *  or a classifier's). */
typedef struct seqvid_optimizer seqvid_optimizer;

/** Optimizers for seqvid_optimizer_create(). */
typedef enum seqvid_optimizer_kind {
    SEQVID_OPT_SGD = 1,     /**< momentum SGD with L2 decay and per-element update clipping */
    SEQVID_OPT_RMSPROP = 2,
    SEQVID_OPT_ADAM = 3
} seqvid_optimizer_kind;

/**
 * Keys of seqvid_optimizer_set(); each key's note gives its default for SGD | RMSprop | Adam.
 *
 * Update rules (g: gradient after the optional global-norm clip, w: weights, step k = 1, 2..):
 * ~~~~
 *   clip:    if GRAD_CLIP > 0 and |g|_2 > GRAD_CLIP:  g <- g * GRAD_CLIP / |g|_2
 *   SGD:     v <- MOMENTUM*v - LR*(g + WEIGHT_DECAY*w);  v <- clamp(v, +-UPDATE_CLIP) if > 0;
 *            w <- w + v
 *   RMSprop: r <- DECAY*r + (1-DECAY)*g^2;  w <- w - LR*(g + WEIGHT_DECAY*w)/sqrt(r + EPS)
 *   Adam:    m <- BETA1*m + (1-BETA1)*g;  v <- BETA2*v + (1-BETA2)*g^2;
 *            w <- w - LR*(m/(1-BETA1^k)) / (sqrt(v/(1-BETA2^k)) + EPS) - LR*WEIGHT_DECAY*w
 *   (RMSprop and Adam also honour UPDATE_CLIP: each element of the step is clamped.)
 * ~~~~
 */
typedef enum seqvid_optimizer_key { /* SGD default | RMSprop | Adam                          */
    SEQVID_OPT_LR = 1,              /**< 1e-4        | 1e-3    | 1e-3                          */
    SEQVID_OPT_MOMENTUM = 2,        /**< 0.9         | n/a     | n/a                           */
    SEQVID_OPT_WEIGHT_DECAY = 3,    /**< 1e-4        | 0       | 0                             */
    SEQVID_OPT_UPDATE_CLIP = 4,     /**< 1e-4        | 0 (off) | 0 (off)                       */
    SEQVID_OPT_GRAD_CLIP = 5,       /**< 0 (off)     | 0       | 0   global L2-norm clip       */
    SEQVID_OPT_DECAY = 6,           /**< n/a         | 0.95    | n/a                           */
    SEQVID_OPT_BETA1 = 7,           /**< n/a         | n/a     | 0.9                           */
    SEQVID_OPT_BETA2 = 8,           /**< n/a         | n/a     | 0.999                         */
    SEQVID_OPT_EPS = 9              /**< n/a         | 1e-6    | 1e-8                          */
} seqvid_optimizer_key;

SEQVID_API int seqvid_optimizer_create(int kind, seqvid_optimizer **out);
SEQVID_API void seqvid_optimizer_free(seqvid_optimizer *opt);
/** Keys may be changed between steps (e.g., a learning-rate schedule). A key that does not
 *  apply to the optimizer's kind gives SEQVID_ERR_ARG. */
SEQVID_API int seqvid_optimizer_set(seqvid_optimizer *opt, int key, double value);
SEQVID_API int seqvid_optimizer_get(const seqvid_optimizer *opt, int key, double *value);
/** Apply the model's gradient array to its weights. The optimizer binds to the first
 *  model's parameter count; a model of another size gives SEQVID_ERR_SHAPE. Non-finite
 *  gradients give SEQVID_ERR_NONFINITE with nothing changed. Nothing non-finite is ever
 *  written: an update that would make any weight or optimizer state NaN or Inf (say, an
 *  enormous LR) also gives SEQVID_ERR_NONFINITE, with weights, state and step count exactly
 *  as before. The step count is limited to 2^53 (a step beyond gives SEQVID_ERR_STATE;
 *  checkpoints claiming more are refused): it never wraps. */
SEQVID_API int seqvid_optimizer_step(seqvid_optimizer *opt, seqvid_model *model);
/** Updates applied so far (the count Adam's bias correction and SEQVID_CLS_FREEZE_STEPS read).
 *  Since 1.1; same as seqvid_optimizer_steps, whose name is too close to
 *  seqvid_optimizer_step (deprecated in the documentation, kept for the 1.x ABI). */
SEQVID_API int seqvid_optimizer_step_count(const seqvid_optimizer *opt, uint64_t *count);
/** Deprecated alias of seqvid_optimizer_step_count (1.0 name). */
SEQVID_API int seqvid_optimizer_steps(const seqvid_optimizer *opt, uint64_t *steps);

/** @} */

/** @defgroup training Training
 * A training batch has at least K + M steps (K for the autoencoder); the first K
 * frames go to the encoder, frames K..K+M-1 are the future targets. For a sequence of
 * length len: the encoder reads n = min(len, K) frames, the reconstruction decoder targets
 * x_{n-1}, ..., x_0, the future predictor targets x_K .. x_{len-1} (at most M of them).
 * Decoders are teacher-forced in training (unless scheduled sampling, in the experimental
 * section, is turned on).
 *
 * Losses are in nats per frame (binary output) or squared-loss units per frame (real):
 * summed over the D values of a frame, averaged over all valid target frames of the batch.
 * The objective whose gradient is taken is rec_loss + fut_loss.
 */
/** @{ */

/** Forward and backward on `batch`: fills the model's gradient array (see
 *  seqvid_model_grads), does not touch the weights. Loss outputs may be NULL; a model
 *  without the corresponding decoder reports 0. Returns SEQVID_ERR_NONFINITE if the batch,
 *  a loss or a gradient is not finite. */
SEQVID_API int seqvid_model_gradients(seqvid_model *model, const seqvid_batch *batch,
                                      float *rec_loss, float *fut_loss);
/** seqvid_model_gradients followed by seqvid_optimizer_step. On any failure (including
 *  SEQVID_ERR_NONFINITE) the weights and the optimizer state are exactly as before. */
SEQVID_API int seqvid_model_train_step(seqvid_model *model, seqvid_optimizer *opt,
                                       const seqvid_batch *batch, float *rec_loss,
                                       float *fut_loss);

/** How seqvid_model_evaluate() feeds the decoders. */
typedef enum seqvid_eval_flags {
    SEQVID_EVAL_INFERENCE = 0,      /**< decoders fed as at inference (the honest number) */
    SEQVID_EVAL_TEACHER_FORCED = 1  /**< decoders fed the truth, as in training */
} seqvid_eval_flags;

/** Losses on a training-shaped batch without any update. */
SEQVID_API int seqvid_model_evaluate(seqvid_model *model, const seqvid_batch *batch, int flags,
                                     float *rec_loss, float *fut_loss);

/** @} */

/** @defgroup inference Inference
 * Here the encoder reads *all* valid frames of the batch (any number of steps T,
 * per-sequence lengths honoured), whatever K was in training.
 */
/** @{ */

/** Reconstructions of the frames read, written in input order: out[(t*S + b)*D + d] is the
 *  reconstruction of frame t of sequence b (probabilities for binary output); frames at or
 *  past a sequence's length are written as 0. out_count >= T*S*D floats. Autoencoder and
 *  composite models only (else SEQVID_ERR_UNSUPPORTED). */
SEQVID_API int seqvid_model_reconstruct(seqvid_model *model, const seqvid_batch *batch,
                                        float *out, size_t out_count);
/** Predict `n_future` frames after each sequence's last valid frame, feeding each prediction
 *  back (conditional predictor); n_future may exceed M. out[(t*S + b)*D + d], out_count >=
 *  n_future*S*D. Predictor and composite models only. */
SEQVID_API int seqvid_model_predict(seqvid_model *model, const seqvid_batch *batch,
                                    size_t n_future, float *out, size_t out_count);
/** The representation: final (h, c) of every encoder layer. out[b*F + l*2H + j] is h of
 *  layer l for j < H and c of layer l for H <= j < 2H; F = seqvid_model_feature_dim = 2*L*H.
 *  out_count >= S*F. */
SEQVID_API int seqvid_model_encode(seqvid_model *model, const seqvid_batch *batch, float *out,
                                   size_t out_count);
SEQVID_API int seqvid_model_feature_dim(const seqvid_model *model, size_t *dim);

/** @} */

/** @defgroup stream Streaming encoder
 * Frames arrive one at a time (a camera, a long video). After frames x_0..x_t have been
 * pushed, the features equal seqvid_model_encode of those t+1 frames.
 */
/** @{ */
/** A streaming encoder over a model's encoder. */
typedef struct seqvid_stream seqvid_stream;

/** A stream of n_seqs parallel sequences over `model`'s encoder, starting from the zero
 *  state. The stream reads the model's weights: the model must outlive the stream, and the
 *  two must not be used from different threads at once. */
SEQVID_API int seqvid_stream_create(seqvid_model *model, size_t n_seqs, seqvid_stream **out);
SEQVID_API void seqvid_stream_free(seqvid_stream *stream);
/** Encode the next frame of every sequence: frames[b*D + d], count >= n_seqs*D. A non-finite
 *  frame gives SEQVID_ERR_NONFINITE and leaves the state unchanged. */
SEQVID_API int seqvid_stream_push(seqvid_stream *stream, const float *frames, size_t count);
/** The features after the frames pushed so far (layout of seqvid_model_encode). */
SEQVID_API int seqvid_stream_features(const seqvid_stream *stream, float *out,
                                      size_t out_count);
/** Back to the zero state, for a new sequence. */
SEQVID_API int seqvid_stream_reset(seqvid_stream *stream);

/** @} */

/** @defgroup parameters Parameters
 * Parameters as one contiguous array (the "arena"), with a gradient array of the same size.
 * Every weight block is a slice of it; see seqvid_model_param_block for names and shapes.
 * This is what data-parallel training needs: average the gradient arrays of all workers,
 * then call seqvid_optimizer_step.
 */
/** @{ */
SEQVID_API int seqvid_model_param_count(const seqvid_model *model, size_t *count);
/** Live pointer to the weights (read/write; valid until the model is freed). Writes through
 *  it, at any time, are seen by the model's next call. */
SEQVID_API int seqvid_model_params(seqvid_model *model, float **params);
/** Live pointer to the gradients of the last seqvid_model_gradients call (zeros before the
 *  first). The gradient array is allocated by the first call that needs it (this one, a
 *  gradient pass, a train or optimizer step): a model used only for inference never holds
 *  it. SEQVID_ERR_NOMEM if it cannot be allocated. */
SEQVID_API int seqvid_model_grads(seqvid_model *model, float **grads);
SEQVID_API int seqvid_model_param_block_count(const seqvid_model *model, size_t *count);
/** Block i in arena order: its name, its offset in the arena and its shape rows x cols
 *  (vectors have cols = 1). Names: "<stack>.<l>.w_x", ".w_h", ".peephole", ".bias" for layer
 *  l of the stacks "encoder", "recon" and "future" (an unconditioned decoder has no
 *  "<stack>.0.w_x"; no ".peephole" without peepholes), then "<decoder>.readout.w" (H x D) and
 *  ".readout.b" (D). The name is owned by the model and valid until it is freed. Any output
 *  may be NULL. */
SEQVID_API int seqvid_model_param_block(const seqvid_model *model, size_t i, const char **name,
                                        size_t *offset, size_t *rows, size_t *cols);

/** @} */

/* ============================================================================================
 * Classifiers: an LSTM stack with a softmax readout at every step (SR15's supervised use)
 * ========================================================================================== */
/** @defgroup classifiers Classifiers
 * An LSTM stack of the models' cell (SEQVID_CFG_INPUT_DIM, HIDDEN, LAYERS, PEEPHOLES) with a
 * softmax readout at every step, as SR15 used for action recognition: created with random
 * weights, or from a trained model's encoder (the pretrained initialisation).
 *
 * For a sequence b of length n_b and label y_b, at every valid step t < n_b:
 * ~~~~
 *   z_t = h_t W + c  (h_t: top layer, after dropout in training; W [H x C], c [C])
 *   p_t = softmax(z_t)
 *   loss = - (1 / sum_b n_b) * sum_b sum_{t < n_b} log p_t[y_b]      (nats per step)
 *   clip prediction of b: P_b = (1 / n_b) * sum_{t < n_b} p_t;  class = argmax_k P_b[k]
 * ~~~~
 * The stack starts from the zero state and reads every valid frame of the batch (any number
 * of steps; per-sequence lengths honoured). "accuracy" is the fraction of sequences whose
 * clip prediction (ties: the lowest class) equals the label.
 *
 * Dropout (SEQVID_CLS_DROPOUT = r > 0) is applied in training passes only (gradients,
 * train_step), to the stack's input frames and to its top outputs before the readout:
 * each value is kept with probability 1 - r and scaled by 1/(1 - r) ("inverted" dropout,
 * so evaluate and predict use the weights as they are). The masks come from the
 * classifier's own random stream (seeded by SEQVID_CLS_DROPOUT_SEED): the same calls on
 * the same data give the same results.
 *
 * Freezing (SEQVID_CLS_FREEZE_STEPS = N): while the optimizer passed to
 * seqvid_classifier_update / seqvid_classifier_train_step has taken fewer than N steps
 * (N = -1: always), only the readout is updated; the LSTM layers and the optimizer's state
 * for them stay exactly as they are (weight decay and momentum do not move them either).
 * Frozen train steps skip backpropagation through the stack (the stack's gradients are then
 * reported as 0). Note for Adam: when the layers thaw, their moments start from zero while
 * the bias correction follows the optimizer's step count, so their first updates are up to
 * ~3x LR; use SGD or a smaller LR around the thaw if that matters.
 *
 * Labels are class ids 0 .. C-1, one per sequence of the batch (labels_count == n_seqs).
 */
/** @{ */
/** A classifier: its weights, gradients, dropout stream and workspaces. */
typedef struct seqvid_classifier seqvid_classifier;

/** Keys of seqvid_classifier_set() / _get(); each key's note gives its default, then its
 *  meaning. They are numbered from 101 so that seqvid_classifier_get() also accepts the
 *  seqvid_config_key values of the stack (INPUT_DIM, HIDDEN, LAYERS, PEEPHOLES, SEED,
 *  INIT_WEIGHT, INIT_PEEPHOLE, FORGET_BIAS; read-only). */
typedef enum seqvid_classifier_key {  /*  default    meaning                                */
    SEQVID_CLS_DROPOUT = 101,      /**< 0           dropout rate in [0, 1) on the stack's
                                                    inputs and top outputs (training only) */
    SEQVID_CLS_FREEZE_STEPS = 102, /**< 0           LSTM layers frozen while the optimizer
                                                    has taken fewer steps; -1 = for good    */
    SEQVID_CLS_DROPOUT_SEED = 103, /**< CFG_SEED    seed of the dropout stream (integer in
                                                    [0, 2^53]); setting it restarts the stream */
    SEQVID_CLS_CLASSES = 104       /**< (given)     C, number of classes (read-only)        */
} seqvid_classifier_key;

/** A classifier with freshly initialised weights for n_classes >= 2 classes (at most 65536).
 *  Reads the stack keys of cfg listed above (the model-only keys are ignored). The stack is
 *  initialised exactly as seqvid_model_create initialises the encoder of the same config;
 *  the readout weights ~ U(-INIT_WEIGHT, INIT_WEIGHT), its bias 0. */
SEQVID_API int seqvid_classifier_create(const seqvid_config *cfg, int n_classes,
                                        seqvid_classifier **out);
/** A classifier whose LSTM stack is a copy of `model`'s encoder (any kind; the stack keys
 *  are the model's) and whose readout is freshly initialised from the model's SEED. The
 *  model is only read and may be freed afterwards. */
SEQVID_API int seqvid_classifier_create_from_encoder(const seqvid_model *model, int n_classes,
                                                     seqvid_classifier **out);
/** Overwrite the classifier's LSTM stack with `model`'s encoder weights. INPUT_DIM, HIDDEN,
 *  LAYERS and PEEPHOLES must agree (else SEQVID_ERR_SHAPE, nothing copied). The readout,
 *  settings and dropout stream are kept. */
SEQVID_API int seqvid_classifier_copy_encoder(seqvid_classifier *cls, const seqvid_model *model);
SEQVID_API void seqvid_classifier_free(seqvid_classifier *cls);
/** Set a seqvid_classifier_key (CLASSES and the stack keys give SEQVID_ERR_STATE: fixed at
 *  creation). Out-of-range values and unknown keys give SEQVID_ERR_ARG. */
SEQVID_API int seqvid_classifier_set(seqvid_classifier *cls, int key, double value);
/** Read a seqvid_classifier_key or one of the stack's seqvid_config_key values. */
SEQVID_API int seqvid_classifier_get(const seqvid_classifier *cls, int key, double *value);

/** Forward and backward on `batch` with labels[b] the class of sequence b: fills the
 *  classifier's gradient array (all blocks, whatever FREEZE_STEPS says; dropout applies),
 *  does not touch the weights. loss (nats per valid step) and accuracy may be NULL.
 *  SEQVID_ERR_ARG for a label outside [0, C), SEQVID_ERR_SHAPE if labels_count != n_seqs,
 *  SEQVID_ERR_NONFINITE if the batch, the loss or a gradient is not finite. */
SEQVID_API int seqvid_classifier_gradients(seqvid_classifier *cls, const seqvid_batch *batch,
                                           const int *labels, size_t labels_count, float *loss,
                                           float *accuracy);
/** Apply the classifier's gradient array with `opt`, honouring SEQVID_CLS_FREEZE_STEPS. The
 *  optimizer binds to the classifier's whole parameter count (frozen or not), so one
 *  optimizer serves before and after the layers thaw. Failures change nothing. */
SEQVID_API int seqvid_classifier_update(seqvid_classifier *cls, seqvid_optimizer *opt);
/** seqvid_classifier_gradients (skipping the stack's backward pass while it is frozen)
 *  followed by seqvid_classifier_update. On any failure the weights and the optimizer are
 *  exactly as before. */
SEQVID_API int seqvid_classifier_train_step(seqvid_classifier *cls, seqvid_optimizer *opt,
                                            const seqvid_batch *batch, const int *labels,
                                            size_t labels_count, float *loss, float *accuracy);
/** Loss and accuracy without dropout and without any update (outputs may be NULL). */
SEQVID_API int seqvid_classifier_evaluate(seqvid_classifier *cls, const seqvid_batch *batch,
                                          const int *labels, size_t labels_count, float *loss,
                                          float *accuracy);
/** Class probabilities of every sequence, averaged over its valid steps (no dropout):
 *  probs[b*C + k], probs_count >= n_seqs*C (else SEQVID_ERR_BUFFER). */
SEQVID_API int seqvid_classifier_predict(seqvid_classifier *cls, const seqvid_batch *batch,
                                         float *probs, size_t probs_count);

/** The parameter arena, as for models: LSTM layers first ("classifier.<l>.w_x", ".w_h",
 *  ".peephole", ".bias", in this order per layer), then "classifier.readout.w" (H x C) and
 *  "classifier.readout.b" (C). Same semantics as the seqvid_model_param* functions. */
SEQVID_API int seqvid_classifier_param_count(const seqvid_classifier *cls, size_t *count);
SEQVID_API int seqvid_classifier_params(seqvid_classifier *cls, float **params);
SEQVID_API int seqvid_classifier_grads(seqvid_classifier *cls, float **grads);
SEQVID_API int seqvid_classifier_param_block_count(const seqvid_classifier *cls, size_t *count);
SEQVID_API int seqvid_classifier_param_block(const seqvid_classifier *cls, size_t i,
                                             const char **name, size_t *offset, size_t *rows,
                                             size_t *cols);

/** @} */

/* ============================================================================================
 * Data: MNIST digits (IDX files), the Moving MNIST generator, .npy sequence files, patches
 * ========================================================================================== */
/** @defgroup data Data
 * MNIST digits (IDX files), the Moving MNIST generator, .npy sequence files, patches. */
/** @{ */
/** A read-only set of digit images (and labels) such as MNIST. */
typedef struct seqvid_digits seqvid_digits;
/** A Moving MNIST sequence generator with its own random stream. */
typedef struct seqvid_mmnist seqvid_mmnist;

/** Load images (and optionally labels; labels_path may be NULL) from IDX files, plain or
 *  gzipped (detected from the content). Pixels are scaled to [0,1]. A gzip stream must be
 *  whole: its trailer (CRC-32 and size) is checked. A header announcing more pixel bytes than
 *  SEQVID_LIMIT_IDX_BYTES is refused (SEQVID_ERR_FORMAT) before anything is inflated, and
 *  the buffer grows only as data arrives: the peak memory of a load is at most 4 bytes per
 *  announced pixel (the floats) plus zlib's state, whatever the file. Paths that are not
 *  regular files (FIFOs, directories) give SEQVID_ERR_IO at once. */
SEQVID_API int seqvid_digits_load(const char *images_path, const char *labels_path,
                                  seqvid_digits **out);
SEQVID_API void seqvid_digits_free(seqvid_digits *digits);
/** Any output may be NULL. */
SEQVID_API int seqvid_digits_shape(const seqvid_digits *digits, size_t *count, size_t *rows,
                                   size_t *cols);
/** rows*cols floats of image i, valid while the set lives. */
SEQVID_API int seqvid_digits_image(const seqvid_digits *digits, size_t i, const float **pixels);
/** Label of image i; SEQVID_ERR_STATE if no labels were loaded. */
SEQVID_API int seqvid_digits_label(const seqvid_digits *digits, size_t i, int *label);

/** Keys of seqvid_set_limit(): bounds on what the loaders accept from a file, so that a
 *  hostile file (a gzip bomb) cannot make them use unbounded memory or time. Each key's note
 *  gives its default, then its meaning. */
typedef enum seqvid_limit_key { /* default  meaning                                          */
    SEQVID_LIMIT_IDX_BYTES = 1  /**< 2^30    largest IDX image payload (bytes after gunzip:
                                             count x rows x cols) seqvid_digits_load reads;
                                             1 to 2^40. The MNIST training set is 47 MB,
                                             EMNIST ByClass 0.55 GB.                       */
} seqvid_limit_key;
/** Set a limit (process-wide; since 1.1): a whole number in the key's range, else
 *  SEQVID_ERR_ARG. Safe from any thread; a load already running keeps the value it read. */
SEQVID_API int seqvid_set_limit(int key, double value);
/** The current value of a limit. */
SEQVID_API int seqvid_get_limit(int key, double *value);

/** Keys of seqvid_mmnist_set(); each key's note gives its default, then its meaning. */
typedef enum seqvid_mmnist_key {   /* default  meaning                                       */
    SEQVID_MM_DIGITS = 1,      /**< 2        digits per sequence (1..8)                     */
    SEQVID_MM_CANVAS = 2,      /**< 64       canvas side in pixels (> digit side)           */
    SEQVID_MM_SPEED_MIN = 3,   /**< 0.1      least speed, in canvas-range units per frame    */
    SEQVID_MM_SPEED_MAX = 4,   /**< 0.1      greatest speed; each digit's speed is drawn
                                             U[min,max] (fixed if equal, as in SR15's code:
                                             0.1 = 3.6 px at 64)                            */
    SEQVID_MM_SEED = 5         /**< 1        setting the seed restarts the random stream    */
} seqvid_mmnist_key;

/** A generator drawing digits from `digits`, which must outlive it. */
SEQVID_API int seqvid_mmnist_create(const seqvid_digits *digits, seqvid_mmnist **out);
SEQVID_API void seqvid_mmnist_free(seqvid_mmnist *gen);
SEQVID_API int seqvid_mmnist_set(seqvid_mmnist *gen, int key, double value);
SEQVID_API int seqvid_mmnist_get(const seqvid_mmnist *gen, int key, double *value);
/** Fill every sequence of `batch` (dim must be canvas^2, all lengths set to n_steps) with
 *  fresh Moving MNIST sequences. If `labels` is not NULL it receives n_seqs*DIGITS labels of
 *  the digits drawn (-1 where the set has no labels). The same seed gives the same stream. */
SEQVID_API int seqvid_mmnist_fill(seqvid_mmnist *gen, seqvid_batch *batch, int *labels,
                                  size_t labels_count);
/** The generator's random state as bytes (for checkpoints); state_size gives the size. */
SEQVID_API int seqvid_mmnist_state_size(const seqvid_mmnist *gen, size_t *size);
SEQVID_API int seqvid_mmnist_get_state(const seqvid_mmnist *gen, void *buf, size_t size);
SEQVID_API int seqvid_mmnist_set_state(seqvid_mmnist *gen, const void *buf, size_t size);

/** Axis order of sequence arrays in .npy files. */
typedef enum seqvid_layout {
    SEQVID_LAYOUT_TIME_MAJOR = 0, /**< (T, N, ...) as in mnist_test_seq.npy */
    SEQVID_LAYOUT_SEQ_MAJOR = 1   /**< (N, T, ...) */
} seqvid_layout;

/** Read a .npy array of uint8 (scaled by 1/255) or float32 with >= 3 dims in `layout`
 *  into a new owned batch (D = product of the trailing dims). The .npy readers take format
 *  versions 1.0, 2.0 and 3.0 with a header that ends in a newline, as numpy writes them
 *  (anything else: SEQVID_ERR_FORMAT or SEQVID_ERR_UNSUPPORTED); a path that is not a regular
 *  file (FIFO, directory) gives SEQVID_ERR_IO at once. */
SEQVID_API int seqvid_npy_load(const char *path, int layout, seqvid_batch **out);
/** Read a 1-D integer .npy (int32/int64/uint8..) of per-sequence lengths into `batch`. */
SEQVID_API int seqvid_npy_load_lengths(const char *path, seqvid_batch *batch);
/** Write a float32 .npy of `ndim` dims with the given shape (C order). */
SEQVID_API int seqvid_npy_save(const char *path, const float *data, size_t ndim,
                               const size_t *shape);
/** Cut a ph x pw patch at (y, x) out of every frame of `src` (frames are height x width x
 *  channels, channels innermost) into a new owned batch of dim ph*pw*channels. */
SEQVID_API int seqvid_batch_crop(const seqvid_batch *src, size_t height, size_t width,
                                 size_t channels, size_t y, size_t x, size_t ph, size_t pw,
                                 seqvid_batch **out);

/** @} */

/* ============================================================================================
 * Saving and loading: models, checkpoints, classifiers (safetensors; see docs/format.md)
 * ========================================================================================== */
/** @defgroup saving Saving and loading (safetensors; see docs/format.md)
 * Every save is atomic and every load validates the whole file before building anything. */
/** @{ */
/** Save atomically: a temporary file in the same folder is written, fsynced and renamed over
 *  `path`, so a crash leaves either the old file or the new one, complete. */
SEQVID_API int seqvid_model_save(const seqvid_model *model, const char *path);
SEQVID_API int seqvid_model_load(const char *path, seqvid_model **out);
/** Serialise into buf (capacity cap). *size receives the bytes needed; with buf == NULL or
 *  cap too small nothing is written and SEQVID_ERR_BUFFER (or OK for buf == NULL) returned. */
SEQVID_API int seqvid_model_save_buffer(const seqvid_model *model, void *buf, size_t cap,
                                        size_t *size);
SEQVID_API int seqvid_model_load_buffer(const void *buf, size_t size, seqvid_model **out);

/** A training checkpoint: model, optimizer state, step count and (if gen is not NULL) the
 *  data generator's random state. Loading it and training on gives bitwise the same weights
 *  as never having stopped. Atomic like seqvid_model_save. */
SEQVID_API int seqvid_checkpoint_save(const char *path, const seqvid_model *model,
                                      const seqvid_optimizer *opt, const seqvid_mmnist *gen,
                                      uint64_t step);
/** Restores a new model and optimizer; if gen is not NULL its random state is restored
 *  (SEQVID_ERR_FORMAT if the file holds none). Nothing is returned on failure. */
SEQVID_API int seqvid_checkpoint_load(const char *path, seqvid_model **model,
                                      seqvid_optimizer **opt, seqvid_mmnist *gen,
                                      uint64_t *step);

/** Classifiers save and load as seqvid_model_save / _load / _save_buffer / _load_buffer do (safetensors,
 *  atomic saves; metadata type "classifier", see docs/format.md). The settings (dropout,
 *  freeze steps, dropout seed) are stored; the dropout stream restarts at its seed on
 *  loading. Loading a model file here, or a classifier file with seqvid_model_load, gives
 *  SEQVID_ERR_FORMAT. */
SEQVID_API int seqvid_classifier_save(const seqvid_classifier *cls, const char *path);
SEQVID_API int seqvid_classifier_load(const char *path, seqvid_classifier **out);
SEQVID_API int seqvid_classifier_save_buffer(const seqvid_classifier *cls, void *buf,
                                             size_t cap, size_t *size);
SEQVID_API int seqvid_classifier_load_buffer(const void *buf, size_t size,
                                             seqvid_classifier **out);

/** A classifier's training checkpoint (since 1.1): the classifier (weights and settings), the
 *  optimizer's state and step count, `step`, and the position of the dropout stream. Loading
 *  it and training on gives bitwise the same weights as never having stopped. Atomic like
 *  seqvid_model_save; metadata type "classifier_checkpoint" (docs/format.md). Loading it
 *  with seqvid_classifier_load gives the classifier alone; a model file or checkpoint here
 *  gives SEQVID_ERR_FORMAT, as does this file in seqvid_checkpoint_load. */
SEQVID_API int seqvid_classifier_checkpoint_save(const char *path, const seqvid_classifier *cls,
                                                 const seqvid_optimizer *opt, uint64_t step);
/** Restores a new classifier and optimizer (step may be NULL). Nothing is returned on
 *  failure. */
SEQVID_API int seqvid_classifier_checkpoint_load(const char *path, seqvid_classifier **cls,
                                                 seqvid_optimizer **opt, uint64_t *step);
/** The same in memory: *size receives the bytes needed; buf == NULL asks for the size only,
 *  cap < *size gives SEQVID_ERR_BUFFER with nothing written. */
SEQVID_API int seqvid_classifier_checkpoint_save_buffer(const seqvid_classifier *cls,
                                                        const seqvid_optimizer *opt,
                                                        uint64_t step, void *buf, size_t cap,
                                                        size_t *size);
SEQVID_API int seqvid_classifier_checkpoint_load_buffer(const void *buf, size_t size,
                                                        seqvid_classifier **cls,
                                                        seqvid_optimizer **opt, uint64_t *step);

/** @} */

/* ============================================================================================
 * Names of keys and kinds (since 1.1)
 * ========================================================================================== */
/** @defgroup names Names of keys and kinds
 * Every option key and kind has an upper-case name (the name saved files use; "RMSprop" and
 * "Adam" keep their usual spelling), so programs and bindings can offer options by name
 * without re-typing these tables. */
/** @{ */
/** The tables of names. */
typedef enum seqvid_names {
    SEQVID_NAMES_CONFIG = 1,        /**< seqvid_config_key: "KIND", "INPUT_DIM", ...       */
    SEQVID_NAMES_OPTIMIZER = 2,     /**< seqvid_optimizer_key: "LR", "MOMENTUM", ...       */
    SEQVID_NAMES_CLASSIFIER = 3,    /**< seqvid_classifier_key: "DROPOUT", ..., "CLASSES"  */
    SEQVID_NAMES_MMNIST = 4,        /**< seqvid_mmnist_key: "DIGITS", "CANVAS", ...        */
    SEQVID_NAMES_MODEL_KIND = 5,    /**< seqvid_kind: "AUTOENCODER", "PREDICTOR", ...      */
    SEQVID_NAMES_OPTIMIZER_KIND = 6 /**< seqvid_optimizer_kind: "SGD", "RMSprop", "Adam"   */
} seqvid_names;

/** The name of `key` in `table` (static storage), or NULL if the table has no such key. */
SEQVID_API const char *seqvid_key_name(int table, int key);
/** The key whose name is `name` in `table` (ASCII case ignored: "hidden" finds
 *  SEQVID_CFG_HIDDEN). SEQVID_ERR_ARG for an unknown table or name. */
SEQVID_API int seqvid_key_lookup(int table, const char *name, int *key);

/** @} */

/* ============================================================================================
 * Experimental (not part of the stable ABI)
 * ========================================================================================== */
/** @defgroup experimental Experimental functions
 * New functions start here, declared only when the program defines SEQVID_EXPERIMENTAL before
 * including this header (zstd's ZSTD_STATIC_LINKING_ONLY rule). They are exported under the
 * version node SEQVID_EXPERIMENTAL, which the ABI check does not hold stable: they may change
 * or go in any minor release, and a program that uses them must be rebuilt with the library
 * it runs against. A function that has settled moves out of this section into a numbered
 * node (SEQVID_1.x) and is stable from then on. docs/abi.md states the rule. */
/** @{ */
#ifdef SEQVID_EXPERIMENTAL
/** The sparse-input threshold the kernel uses: a layer input is multiplied as a sparse matrix
 *  when at most 1/`*density` of its values are nonzero (Moving MNIST frames: ~7% nonzero). */
SEQVID_API int seqvid_experimental_sparse_density(int *density);

/** What multiplies the matrices (since 1.1, experimental), for logs, bug reports and one
 *  decision a program can act on. Any pointer may be NULL; the strings are static.
 *  - `*name`: the backend this library was built with: "openblas", "reference" (netlib
 *    CBLAS) or "onednn".
 *  - `*kernels`: the kernel set the backend picked for this CPU: OpenBLAS's core name
 *    ("Haswell", "SkylakeX", "Cooperlake", "Prescott", ...), oneDNN's ISA
 *    ("avx512_core_bf16", ...), "" for the reference CBLAS.
 *  - `*advice`: NULL, or the value of OPENBLAS_CORETYPE to start the program with. OpenBLAS
 *    before 0.3.25 (Debian 12 ships 0.3.21) falls back to its generic SSE3 kernels,
 *    "Prescott", on Intel CPUs it does not know (Intel family 6 model 207 among them, OpenBLAS
 *    issue 4267); measured there, a training step then takes about twice as long
 *    (docs/performance.md). The advice is given when OpenBLAS runs "Prescott" on a CPU with
 *    AVX2 and FMA, whatever put it there: "SkylakeX" where the CPU runs AVX-512 (F, BW, DQ,
 *    VL), else "Haswell". OpenBLAS reads OPENBLAS_CORETYPE once,
 *    when it is loaded, so no library call can act on it: the program sets the variable and
 *    starts again (the seqvid command does this itself when the variable is not set).
 *  Results are float32 either way; kernel sets round differently (see Determinism). */
SEQVID_API int seqvid_experimental_backend(const char **name, const char **kernels,
                                           const char **advice);

/** Precision of a model's or classifier's matrix products (since 1.1, experimental). */
typedef enum seqvid_precision {
    SEQVID_PRECISION_F32 = 0,  /**< float32 throughout (the default; exact against the
                                    float64 reference within float32 rounding) */
    SEQVID_PRECISION_BF16 = 1  /**< mixed precision: see seqvid_experimental_model_set_precision */
} seqvid_precision;
/** Set the precision of the matrix products of every later call on `m` (training, evaluation,
 *  inference, streams over it). SEQVID_PRECISION_BF16: both operands of each product are
 *  rounded to bfloat16 (8 significant bits) and the products accumulate in float32; the
 *  results, the cell's non-linearities, the losses, the gradients, the weights (the master
 *  copy) and the optimizer's state all stay float32, and files hold float32. An element of a
 *  product then differs from its float32 value by at most about 2^-7 of Σ|a_k b_k|. Sparse
 *  video input is multiplied in float32, so two paths to the same result (a stream and
 *  seqvid_model_encode) agree to bf16's rounding, not float32's. Which products, by backend:
 *  the CBLAS ones (OpenBLAS, the default, and the reference) multiply every matrix product
 *  with the weights and the weight gradients (inputs^T x gate gradients) on the library's
 *  own AVX512-BF16 kernel, over bf16 copies of the weight matrices made after each change
 *  of the weights (half as many bytes as the float32 matrices they copy: one copy a matrix,
 *  packed over for the way it is read next -- W in a forward pass, W^T in a backward one --
 *  or one per way where a side of the matrix is not a multiple of 32 or both ways are read
 *  again between two changes of the weights, as by the gradients of several batches before
 *  one optimizer step); products of one row (a batch of one sequence) stay float32 there.
 *  oneDNN multiplies every product in bf16 on its matmul but the weight gradients, which
 *  stay float32 there (each choice measured the faster on its backend).
 *  Where bf16 cannot run (no AVX512-BF16 in this CPU, or the environment variable
 *  SEQVID_NO_BF16 set to a value other than "" or "0"), the products stay float32: setting
 *  still succeeds and seqvid_experimental_model_get_precision reports the precision in
 *  effect. Changeable at any time; not saved in files.
 *  @return SEQVID_OK, SEQVID_ERR_NULL, or SEQVID_ERR_ARG for an unknown precision. */
SEQVID_API int seqvid_experimental_model_set_precision(seqvid_model *m, int precision);
/** The precision in effect for `m`'s products (SEQVID_PRECISION_F32 where bf16 was asked for
 *  but cannot run). */
SEQVID_API int seqvid_experimental_model_get_precision(const seqvid_model *m, int *precision);
/** How a model stores its weights (since 1.1, experimental). */
typedef enum seqvid_weights {
    SEQVID_WEIGHTS_F32 = 0, /**< float32 (the default): the model trains, saves and runs */
    SEQVID_WEIGHTS_BF16 = 1, /**< bfloat16, for inference: see
                                  seqvid_experimental_model_set_weights */
    SEQVID_WEIGHTS_F32_PACKED = 2 /**< float32, plus packed copies for products of a few
                                       rows (since 1.1): see
                                       seqvid_experimental_model_set_weights */
} seqvid_weights;
/** Store `m`'s weights as `weights`. SEQVID_WEIGHTS_BF16 rounds every weight to bfloat16 (to
 *  nearest, ties to even: 8 significant bits) and frees the float32 copy and the gradients:
 *  the model then holds half the bytes, and the products of a batch of one sequence, which
 *  wait on reading the weights from memory, read half as many. The products widen each weight
 *  as they read it and accumulate in float32 on any x86-64 CPU (no bf16 instructions needed),
 *  so the model computes what the float32 model with rounded weights computes, up to the
 *  order of float32 sums; the precision key (seqvid_experimental_model_set_precision) does not
 *  apply to them. Such a model encodes, reconstructs, predicts, evaluates and streams; every
 *  call that would train it or hand out its float32 arrays (seqvid_model_gradients,
 *  seqvid_model_train_step, seqvid_optimizer_step, seqvid_model_params, seqvid_model_grads)
 *  and every save (files hold float32) returns SEQVID_ERR_STATE and changes nothing.
 *  seqvid_classifier_copy_encoder and seqvid_classifier_create_from_encoder read its encoder
 *  widened. SEQVID_WEIGHTS_F32 widens the bf16 values back (exact: the rounded weights), after
 *  which the model trains and saves again; a pointer from seqvid_model_params taken before
 *  the conversion to bf16 is invalid. Not saved in files.
 *  SEQVID_WEIGHTS_F32_PACKED keeps the float32 weights, and everything a float32 model does
 *  (training, saving, the arrays), and trades memory for speed: each weight matrix that a
 *  product of at most 64 rows multiplies (batches of up to 64 sequences: the recurrent
 *  products of every step, forward and, in training, transposed in the backward pass; the
 *  input products of decoders fed their own predictions, the readouts at inference; a batch
 *  of one sequence keeps its recurrent products on the BLAS vector product, which is faster
 *  there) gets a copy packed for the library's own kernel, made on first use and again after
 *  the weights change (an optimizer step, a write through seqvid_model_params) or when the
 *  matrix is read the other way (W in a forward pass, W^T in a backward one: the copy is
 *  packed over, each way once per weight version in training). The copies hold as many
 *  bytes as those matrices (twice where a side is not a multiple of 16, or where both ways
 *  are read again between two changes of the weights: then a copy per way); the
 *  products run without re-packing them on every call, as the CBLAS backends do (measured
 *  1.6x on 16 x 512 x 2048 on an AVX2 CPU: docs/performance.md, "Weights packed once").
 *  Its results are bitwise independent of the thread count, as everywhere, and differ from
 *  SEQVID_WEIGHTS_F32's by float32 rounding only (another order of summation). Products in
 *  bf16 precision (seqvid_experimental_model_set_precision, where it runs) use bf16 copies
 *  instead.
 *  @return SEQVID_OK; SEQVID_ERR_NULL; SEQVID_ERR_ARG for an unknown value; SEQVID_ERR_NONFINITE
 *  if a weight is NaN or Inf (or too large for bf16); SEQVID_ERR_NOMEM. On error nothing
 *  changed. */
SEQVID_API int seqvid_experimental_model_set_weights(seqvid_model *m, int weights);
/** How `m` stores its weights now (a seqvid_weights value). */
SEQVID_API int seqvid_experimental_model_get_weights(const seqvid_model *m, int *weights);
/** seqvid_model_load and seqvid_model_load_buffer (a model file, or the model in a
 *  checkpoint) with the weights stored as `weights` from the start. With SEQVID_WEIGHTS_BF16
 *  each stored tensor is rounded as it passes through a 64 KiB buffer, so the float32
 *  weights are never held whole: the process's peak is the bf16 model, where
 *  seqvid_model_load followed by seqvid_experimental_model_set_weights peaks at the float32
 *  one. A checkpoint's optimizer state is checked as it passes and never held (the float32
 *  load holds it while loading). The model equals that pair's, bit for bit. A value too
 *  large for bf16 gives SEQVID_ERR_NONFINITE, as NaN or Inf do; every other error as
 *  seqvid_model_load.
 *  SEQVID_WEIGHTS_F32 is seqvid_model_load; SEQVID_WEIGHTS_F32_PACKED is seqvid_model_load
 *  followed by seqvid_experimental_model_set_weights. */
SEQVID_API int seqvid_experimental_model_load_as(const char *path, int weights,
                                                 seqvid_model **out);
SEQVID_API int seqvid_experimental_model_load_buffer_as(const void *buf, size_t size,
                                                        int weights, seqvid_model **out);
/** The same storage for a classifier (its stack and readout): with SEQVID_WEIGHTS_BF16 it
 *  predicts and evaluates; training, its float32 arrays, seqvid_classifier_copy_encoder into
 *  it and saving return SEQVID_ERR_STATE and change nothing. */
SEQVID_API int seqvid_experimental_classifier_set_weights(seqvid_classifier *c, int weights);
SEQVID_API int seqvid_experimental_classifier_get_weights(const seqvid_classifier *c,
                                                          int *weights);
/** The same two precision functions for a classifier. */
SEQVID_API int seqvid_experimental_classifier_set_precision(seqvid_classifier *c, int precision);
SEQVID_API int seqvid_experimental_classifier_get_precision(const seqvid_classifier *c,
                                                           int *precision);

/** seqvid_mmnist_fill that also reports how every digit moves (since 1.1, experimental): the
 *  same frames, labels and random stream as seqvid_mmnist_fill (the two calls may be mixed
 *  on one generator) and, if `motion` is not NULL, n_steps*n_seqs*DIGITS*4 doubles in it
 *  (motion_count smaller: SEQVID_ERR_BUFFER, nothing drawn). For digit n of sequence b in
 *  frame t:
 *  ~~~~
 *    m = motion + ((t*n_seqs + b)*DIGITS + n)*4
 *    m[0], m[1]  its position (row, column) in [0, 1]; its top-left pixel in the frame is
 *                (floor(R*m[0]), floor(R*m[1])), R = canvas - digit side (36 at 64 x 64)
 *    m[2], m[3]  its velocity (row, column) after frame t, in the same units per frame:
 *                frame t+1 places the digit at m[0..1] + m[2..3], except that a
 *                coordinate reaching 0 or 1 stops there and that velocity component
 *                changes sign (the bounce); |velocity| is the digit's speed
 *  ~~~~
 *  So frame 0's velocity is the motion that carries the digit out of frame 0, and the whole
 *  trajectory follows from frame 0's motion. For labels defined by motion (examples/fewlabels.c
 *  --task direction) and for checking what a model predicts against where the digits go. */
SEQVID_API int seqvid_experimental_mmnist_fill_motion(seqvid_mmnist *gen, seqvid_batch *batch,
                                                      int *labels, size_t labels_count,
                                                      double *motion, size_t motion_count);

/** Scheduled sampling (Bengio et al. 2015; since 1.1, experimental): keys of
 *  seqvid_config_set / _get and seqvid_model_set / _get, numbered from 1001 so that the stable
 *  seqvid_config_key values can keep growing. Each is the probability p in [0, 1] (default 0)
 *  that a step of a conditional decoder is fed, in a training pass, its own previous output
 *  instead of the true previous frame. seqvid_model_set changes them at any time, so a
 *  training loop can raise p between steps (a schedule); p > 0 for a decoder the model does
 *  not have, or that is unconditioned, gives SEQVID_ERR_UNSUPPORTED (at seqvid_model_create
 *  or seqvid_model_set).
 *
 *  In every gradient pass (seqvid_model_gradients, seqvid_model_train_step) a decoder of T
 *  training steps with p > 0 draws one coin per step t = 1 .. T-1 and sequence b (all
 *  sequences of the batch, padded ones too; the reconstruction decoder's coins first, each in
 *  the order t, then b; a batch without any future target frame runs no future predictor
 *  and draws none for it) from the model's own random stream: with probability p step t of
 *  sequence b is fed the decoder's output of step t-1 after the output non-linearity (sigma(y),
 *  the mean, for binary output, as seqvid_model_predict feeds it; y for real output), computed
 *  in the same pass from the current weights; otherwise the true previous frame. Step 0 has
 *  no input, as always. The fed-back output is a constant for the gradient: no gradient flows
 *  through it into the steps that produced it (standard scheduled sampling), so the
 *  gradient is that of the reported loss with those inputs held fixed. p = 0 draws nothing and
 *  is bitwise the teacher-forced pass; p = 1 feeds every step its own output, as inference
 *  does (the future loss then equals seqvid_model_evaluate's SEQVID_EVAL_INFERENCE one, the
 *  reconstruction loss its value with SEQVID_FEED_PREDICTION). seqvid_model_evaluate never
 *  samples. A sampled pass runs a decoder step by step with dense input products, which
 *  costs more than the teacher-forced pass.
 *
 *  The stream is seeded from SEQVID_CFG_SEED (a stream of its own, not the initialisation's)
 *  when the model is created or loaded from a model file; the coins do not depend on the
 *  thread count. Model files do not hold p; checkpoints hold p and the stream's position
 *  (when they differ from 0 and from the seeded start; docs/format.md), so that training
 *  resumed from a checkpoint is bitwise the uninterrupted run. */
typedef enum seqvid_experimental_config_key { /* default  meaning                         */
    SEQVID_CFG_SAMPLE_RECON = 1001,  /**< 0   p of the reconstruction decoder             */
    SEQVID_CFG_SAMPLE_FUTURE = 1002  /**< 0   p of the future predictor                   */
} seqvid_experimental_config_key;
#endif
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* SEQVID_H */
