/**
 * @file seqvid_mpi.h
 * @brief libseqvid_mpi: data-parallel training of libseqvid models across MPI ranks.
 *
 * A separate small library on top of libseqvid (which stays MPI-free): link
 * `pkg-config --libs seqvid_mpi` (it brings libseqvid and MPI). Every rank holds a full
 * copy of the model; every step each rank computes the gradients of its share of the global
 * batch, the gradient arenas are averaged with ONE in-place MPI_Allreduce, and every rank
 * applies the same optimizer step, so the copies stay bitwise identical.
 * docs/distributed.md has the launch recipes, the cost model and measurements.
 *
 * @par Exactness
 * The average is computed in fixed point, not by float additions: each contribution is
 * rounded to a multiple of a per-chunk quantum (chunks of SEQVID_MPI_CHUNK consecutive
 * parameters; quantum 2^(e-30) where 2^e bounds the chunk's largest |gradient| over all
 * contributions, agreed by a small MPI_MAX allreduce first), and the integers are summed
 * with MPI_SUM on 32-bit unsigned integers. Integer addition is associative, so the result
 * does not depend on the order in which MPI adds, on the reduction algorithm, or on how the
 * contributions are spread over ranks. With seqvid_mpi_train_step, where the contributions
 * are fixed-size micro-batches, training on 1, 2, 3, 4 ... ranks gives *bitwise* the same
 * weights for the same global batch (same micro-batches, same BLAS thread count per rank).
 * Error of the average against the exact real sum: at most n * 2^(e-31) per element for n
 * contributions (plus the final rounding to float), i.e. at most n * 2^-30 of the chunk's
 * largest gradient -- under half an ulp for the chunk's largest elements when n < 64.
 *
 * @par Collective calls and failures
 * Every function taking a seqvid_mpi, except seqvid_mpi_rank, _size and _timings, is
 * collective: all ranks of its communicator must call it, in the same order, with a non-NULL
 * context (other arguments may be bad on some ranks:
 * that is reported as a failure on all of them, never as a hang). A function that fails on
 * any rank fails on every rank with the same status, and seqvid_mpi_last_error() on every
 * rank names the first failing rank and its message. A failed step updates no rank's
 * weights or optimizer state. MPI errors themselves use the communicator's default handler
 * (MPI_ERRORS_ARE_FATAL: the job aborts rather than hangs); a rank that dies is MPI's to
 * handle (mpirun ends the job).
 *
 * @par Threads
 * Call these functions from one thread per rank (MPI_THREAD_SINGLE or FUNNELED suffice).
 * BLAS threads per rank: seqvid_set_threads(), as usual.
 */
#ifndef SEQVID_MPI_H
#define SEQVID_MPI_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <seqvid.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SEQVID_STATIC) || !defined(__GNUC__)
#define SEQVID_MPI_API
#else
#define SEQVID_MPI_API __attribute__((visibility("default")))
#endif

/** Parameters per quantisation chunk (see Exactness). */
#define SEQVID_MPI_CHUNK 256

/** A data-parallel context: a private duplicate of a communicator plus reusable buffers. */
typedef struct seqvid_mpi seqvid_mpi;

/** Collective over `comm` (duplicated: the library's messages never mix with the caller's).
 *  MPI must be initialised. */
SEQVID_MPI_API int seqvid_mpi_create(MPI_Comm comm, seqvid_mpi **out);
/** Collective (frees the duplicated communicator). NULL is a no-op. */
SEQVID_MPI_API void seqvid_mpi_free(seqvid_mpi *ctx);
SEQVID_MPI_API int seqvid_mpi_rank(const seqvid_mpi *ctx, int *rank);
SEQVID_MPI_API int seqvid_mpi_size(const seqvid_mpi *ctx, int *size);
/** Detail of this thread's last seqvid_mpi failure ("" if none). */
SEQVID_MPI_API const char *seqvid_mpi_last_error(void);

/** Agree on a status: every rank passes its own (e.g. SEQVID_ERR_IO when it could not read
 *  its data) and gets back SEQVID_OK if all passed OK, else the status of the lowest rank that
 *  did not (its seqvid_last_error() text travels along to seqvid_mpi_last_error()). */
SEQVID_MPI_API int seqvid_mpi_agree(seqvid_mpi *ctx, int status);

/** Copy rank 0's weights to every rank (after creating models that might differ, or to
 *  repair copies). The first call that takes a model binds the context to its parameter
 *  count; all ranks' models must have that count (else SEQVID_ERR_SHAPE everywhere). */
SEQVID_MPI_API int seqvid_mpi_broadcast_params(seqvid_mpi *ctx, seqvid_model *model);

/**
 * One data-parallel training step over micro-batches.
 *
 * `micro` holds this rank's n_micro micro-batches (n_micro may be 0 on some ranks; at least
 * one rank must have one). For each, seqvid_model_gradients is called; the global gradient
 * is the sequence-weighted mean
 *
 *     g = sum_j (S_j / S) g_j,    S_j = sequences of micro-batch j,  S = sum over all ranks,
 *
 * which for full-length sequences is exactly the gradient of the mean loss over all S
 * sequences, whatever the split (uneven splits included). It is computed as described under
 * Exactness (one MPI_Allreduce in place on the model's gradient arena), then every rank calls
 * seqvid_optimizer_step. Bitwise the same weights on any number of ranks for the same
 * micro-batches (see Exactness). Memory: a rank with n_micro > 1 keeps n_micro - 1 extra
 * gradient arrays (its earlier micro-batches' gradients until the agreed quantum is known);
 * with one micro-batch per rank there is no extra array at all.
 *
 * Losses (may be NULL): the sequence-weighted means over the global batch (the same on
 * every rank). Failure on any rank (bad batch, NaN or Inf in a batch, loss or gradient,
 * out of memory, ...) gives every rank that status, and no rank's weights or optimizer
 * state change.
 */
SEQVID_MPI_API int seqvid_mpi_train_step(seqvid_mpi *ctx, seqvid_model *model,
                                         seqvid_optimizer *opt, seqvid_batch *const *micro,
                                         size_t n_micro, float *rec_loss, float *fut_loss);

/**
 * The step for callers that computed the gradients themselves: the model's gradient arena
 * holds this rank's gradient, an average over `n_seqs` sequences (0: this rank contributes
 * nothing), and `status` is how computing it went (e.g. seqvid_model_gradients' return).
 * After agreement, the arenas are replaced by sum_r (n_seqs_r / S) g_r (exact as above) and,
 * if opt is not NULL, the optimizer steps on every rank.
 */
SEQVID_MPI_API int seqvid_mpi_step(seqvid_mpi *ctx, seqvid_model *model, seqvid_optimizer *opt,
                                   size_t n_seqs, int status);

/** Rank 0 saves the checkpoint (seqvid_checkpoint_save: atomic); the other ranks' arguments
 *  other than ctx are ignored (may be NULL). Every rank returns rank 0's status. */
SEQVID_MPI_API int seqvid_mpi_checkpoint_save(seqvid_mpi *ctx, const char *path,
                                              const seqvid_model *model,
                                              const seqvid_optimizer *opt,
                                              const seqvid_mmnist *gen, uint64_t step);
/** Every rank loads `path` (a file all ranks can read, e.g. on a shared filesystem), written
 *  on any number of ranks; the ranks then compare a hash of the weights, the step and the
 *  optimizer's settings and step count (SEQVID_ERR_STATE everywhere if they differ: ranks
 *  read different files). Outputs as seqvid_checkpoint_load; on failure nothing is returned
 *  on any rank. */
SEQVID_MPI_API int seqvid_mpi_checkpoint_load(seqvid_mpi *ctx, const char *path,
                                              seqvid_model **model, seqvid_optimizer **opt,
                                              seqvid_mmnist *gen, uint64_t *step);

/** Where the time of the steps went on this rank (seconds, summed over every step so far). */
typedef enum seqvid_mpi_timer {
    SEQVID_MPI_T_GRADIENTS = 0, /**< seqvid_model_gradients of the local micro-batches */
    SEQVID_MPI_T_AGREE = 1,     /**< the small agreement allreduce; absorbs waiting for the
                                     slowest rank (load imbalance) */
    SEQVID_MPI_T_PACK = 2,      /**< chunk maxima, quantising and unquantising the arena */
    SEQVID_MPI_T_ALLREDUCE = 3, /**< the in-place gradient MPI_Allreduce */
    SEQVID_MPI_T_UPDATE = 4,    /**< seqvid_optimizer_step and its agreement */
    SEQVID_MPI_T_COUNT_ = 5     /**< not a timer: how many there are */
} seqvid_mpi_timer;

/** seconds[i] for i < count (count <= SEQVID_MPI_T_COUNT_), local to this rank (no
 *  communication). */
SEQVID_MPI_API int seqvid_mpi_timings(const seqvid_mpi *ctx, double *seconds, size_t count);

#ifdef __cplusplus
}
#endif
#endif /* SEQVID_MPI_H */
