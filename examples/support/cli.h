/*
 * cli.h -- talking to users: error messages, checked flag parsing, the output folder, and
 * a log that survives a closed pipe.
 *
 * Ordinary user code on top of <seqvid.h>, shared by the `seqvid` command and the example
 * programs. Unlike the library, these helpers print and exit on errors.
 */
#ifndef SEQVID_EXAMPLES_CLI_H
#define SEQVID_EXAMPLES_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <seqvid.h>

/* ---------------------------------------------------------------------------------------
 * Errors and messages
 * ------------------------------------------------------------------------------------- */
extern const char *ex_progname; /* set by main; prefixes every error message */

/* Print "progname: message" on stderr and exit(1). */
void ex_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Exit with the library's status and detail unless status is SEQVID_OK. */
void ex_check(int status, const char *what);
/* Print "progname: warning: status: detail" and return status (for failures that should
 * not end a long training run, such as a picture that could not be written). */
int ex_warn_status(int status, const char *what);

/* malloc / calloc that exit with a message when memory runs out. */
void *ex_malloc(size_t n);
void *ex_calloc(size_t n, size_t size);

/* Seconds since an arbitrary fixed point (monotonic clock). */
double ex_now(void);

/* ---------------------------------------------------------------------------------------
 * The log: lines on stdout that may go into a pipe (`| tee log`, `| head`)
 *
 * A long run must outlive its reader: when the pipe closes, writing stops and the program
 * goes on (SIGPIPE ignored, EPIPE noticed), so Ctrl-C still saves the model.
 * ------------------------------------------------------------------------------------- */
/* Ignore SIGPIPE and note whether stderr is a terminal (for the live progress line). */
void ex_log_init(void);
/* A log line (or part of one) on stdout; clears a live progress line first. Writes
 * nothing once stdout has failed (a closed pipe). */
void ex_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 when stdout is still written (the reader has not gone away). */
int ex_log_alive(void);
/* Flush stdout after direct writes (fputs, tables) and notice a closed pipe. */
void ex_log_flush(void);
/* The live progress line on a terminal (stderr), redrawn in place; no-op elsewhere. */
int ex_progress_enabled(void);
void ex_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "1:02:03" or "2:03". */
const char *ex_duration(double seconds);

/* ---------------------------------------------------------------------------------------
 * Command-line flags shared by the programs
 * ------------------------------------------------------------------------------------- */
typedef struct ex_common {
    const char *data_dir; /* folder of the IDX files; NULL: ex_default_data_dir() */
    const char *out_dir;  /* where everything is written; created if missing */
    uint64_t seed;
    int threads;          /* BLAS threads; 0: all cores */
    int digits;           /* digits per Moving MNIST sequence */
} ex_common;

enum { EX_OPT_DATA = 1000, EX_OPT_OUT, EX_OPT_SEED, EX_OPT_THREADS, EX_OPT_DIGITS,
       EX_OPT_FIRST_FREE_ /* programs number their own long-only options from here */ };

/* Entries for a program's struct option table. */
#define EX_COMMON_LONG_OPTIONS                                   \
    {"data", required_argument, NULL, EX_OPT_DATA},              \
    {"out", required_argument, NULL, EX_OPT_OUT},                \
    {"seed", required_argument, NULL, EX_OPT_SEED},              \
    {"threads", required_argument, NULL, EX_OPT_THREADS},        \
    {"digits", required_argument, NULL, EX_OPT_DIGITS}

/* Help text of the common flags (to print after a program's own). */
extern const char ex_common_help[];

/* Handle a common option: returns 1 if `opt` was one of them, else 0. */
int ex_common_option(ex_common *c, int opt, const char *arg);
/* Set the BLAS threads and create the output folder. */
void ex_common_apply(const ex_common *c);

/* Checked number parsing for flag values; exit with a message naming the flag. */
long ex_parse_long(const char *flag, const char *arg, long min, long max);
double ex_parse_double(const char *flag, const char *arg, double min, double max);
/* The index of `arg` in the NULL-terminated `names`; exits naming the flag otherwise. */
int ex_parse_choice(const char *flag, const char *arg, const char *const *names);
/* --kind: ae | fp | composite (or autoencoder | predictor) -> SEQVID_AUTOENCODER, ... */
int ex_parse_kind(const char *flag, const char *arg);
/* --optimizer: sgd | rmsprop | adam -> SEQVID_OPT_SGD, ... */
int ex_parse_optimizer(const char *flag, const char *arg);

/* ---------------------------------------------------------------------------------------
 * The BLAS kernels (seqvid.h, seqvid_experimental_backend)
 * ------------------------------------------------------------------------------------- */
/* When OpenBLAS runs its generic kernels on a CPU that has better ones (an OpenBLAS too old
 * to know the CPU) and OPENBLAS_CORETYPE is not set: set it as the library advises and start
 * the program again (execv of /proc/self/exe, same arguments). Call first thing in main,
 * with main's argv. Returns when there is nothing to do, or with a note on stderr when the
 * restart failed (the program then runs on the slower kernels). */
void ex_blas_restart(char **argv);
/* "openblas, Haswell kernels, OPENBLAS_CORETYPE=Haswell" for logs (and the advice, if any). */
const char *ex_blas_describe(void);

/* mkdir -p */
void ex_make_dirs(const char *path);
/* out_dir + "/" + name in a static rotating buffer (valid for the next few calls). */
const char *ex_path(const char *out_dir, const char *name);

#endif
