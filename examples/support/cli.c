/*
 * cli.c -- errors, the log, flags and paths (see cli.h).
 */
#define _POSIX_C_SOURCE 200809L
#define SEQVID_EXPERIMENTAL /* seqvid_experimental_backend */

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* =======================================================================================
 * Errors and messages
 * ===================================================================================== */
const char *ex_progname = "seqvid-example";

void ex_die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", ex_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void ex_check(int status, const char *what)
{
    if (status != SEQVID_OK)
        ex_die("%s: %s: %s", what, seqvid_status_string(status), seqvid_last_error());
}

int ex_warn_status(int status, const char *what)
{
    if (status != SEQVID_OK) {
        fflush(stdout);
        fprintf(stderr, "%s: warning: %s: %s: %s\n", ex_progname, what,
                seqvid_status_string(status), seqvid_last_error());
    }
    return status;
}

void *ex_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) ex_die("out of memory (%zu bytes)", n);
    return p;
}

void *ex_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) ex_die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* =======================================================================================
 * The log
 * ===================================================================================== */
static int progress_tty;   /* stderr is a terminal: a live progress line is drawn there */
static int progress_drawn; /* the progress line is on screen and must be cleared first */
static int log_dead;       /* stdout failed (its reader went away): write no more */

void ex_log_init(void)
{
    /* Without this, the first line written after `| tee` or `| head` has gone kills the
     * process before it can save; with it, the write fails with EPIPE and we carry on. */
    signal(SIGPIPE, SIG_IGN);
    progress_tty = isatty(STDERR_FILENO);
}

int ex_log_alive(void) { return !log_dead; }

void ex_log_flush(void)
{
    if (log_dead) return;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        log_dead = 1;
        /* What stdio still buffers would be retried by every later write and at exit:
         * point stdout at /dev/null so those writes quietly succeed. */
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, STDOUT_FILENO), close(fd);
        clearerr(stdout);
    }
}

static void clear_progress(void)
{
    if (progress_drawn) fputs("\r\033[K", stderr), progress_drawn = 0;
}

void ex_say(const char *fmt, ...)
{
    va_list ap;
    clear_progress();
    if (log_dead) return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    ex_log_flush();
}

int ex_progress_enabled(void) { return progress_tty; }

void ex_progress(const char *fmt, ...)
{
    va_list ap;
    if (!progress_tty) return;
    fputs("\r\033[K", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    progress_drawn = 1;
}

const char *ex_duration(double s)
{
    static char buf[32];
    long t = s > 0 && s < 1e9 ? lround(s) : 0;
    if (t >= 3600)
        snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

/* =======================================================================================
 * Flags
 * ===================================================================================== */
const char ex_common_help[] =
    "  --data DIR         MNIST IDX files (default ${SEQVID_DATA:-$HOME/.cache/seqvid}/mnist;\n"
    "                     made by examples/setup-mnist.sh)\n"
    "  --out DIR          output folder\n"
    "  --seed N           random seed\n"
    "  --threads N        BLAS threads (default 0: all cores)\n"
    "  --digits N         digits per Moving MNIST sequence, 1..8 (default 2)\n";

long ex_parse_long(const char *flag, const char *arg, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min || v > max)
        ex_die("%s: '%s' is not an integer in [%ld, %ld]", flag, arg, min, max);
    return v;
}

double ex_parse_double(const char *flag, const char *arg, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= min && v <= max))
        ex_die("%s: '%s' is not a number in [%g, %g]", flag, arg, min, max);
    return v;
}

int ex_parse_choice(const char *flag, const char *arg, const char *const *names)
{
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        if (!strcmp(arg, names[i])) return i;
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", names[i]);
    }
    ex_die("%s: '%s' is not one of: %s", flag, arg, list);
}

int ex_parse_kind(const char *flag, const char *arg)
{
    static const char *const names[] = {"ae", "fp", "composite", "autoencoder", "predictor",
                                        NULL};
    static const int kinds[] = {SEQVID_AUTOENCODER, SEQVID_PREDICTOR, SEQVID_COMPOSITE,
                                SEQVID_AUTOENCODER, SEQVID_PREDICTOR};
    return kinds[ex_parse_choice(flag, arg, names)];
}

int ex_parse_optimizer(const char *flag, const char *arg)
{
    static const char *const names[] = {"sgd", "rmsprop", "adam", NULL};
    static const int kinds[] = {SEQVID_OPT_SGD, SEQVID_OPT_RMSPROP, SEQVID_OPT_ADAM};
    return kinds[ex_parse_choice(flag, arg, names)];
}

int ex_common_option(ex_common *c, int opt, const char *arg)
{
    switch (opt) {
    case EX_OPT_DATA: c->data_dir = arg; return 1;
    case EX_OPT_OUT: c->out_dir = arg; return 1;
    case EX_OPT_SEED: c->seed = (uint64_t)ex_parse_long("--seed", arg, 0, LONG_MAX); return 1;
    case EX_OPT_THREADS: c->threads = (int)ex_parse_long("--threads", arg, 0, 1024); return 1;
    case EX_OPT_DIGITS: c->digits = (int)ex_parse_long("--digits", arg, 1, 8); return 1;
    default: return 0;
    }
}

void ex_make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf) ex_die("path too long: %s", path);
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            ex_die("cannot create folder %s: %s", buf, strerror(errno));
        *p = saved;
        if (!saved) break;
    }
}

void ex_common_apply(const ex_common *c)
{
    ex_check(seqvid_set_threads(c->threads), "--threads");
    ex_make_dirs(c->out_dir);
}

const char *ex_path(const char *out_dir, const char *name)
{
    static char bufs[4][PATH_MAX];
    static int next;
    char *buf = bufs[next++ % 4];
    if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", out_dir, name) >= PATH_MAX)
        ex_die("path too long: %s/%s", out_dir, name);
    return buf;
}

/* =======================================================================================
 * The BLAS kernels
 * ===================================================================================== */
void ex_blas_restart(char **argv)
{
    const char *advice = NULL;
    if (getenv("OPENBLAS_CORETYPE")) return; /* the user's choice, whatever it is */
    if (seqvid_experimental_backend(NULL, NULL, &advice) != SEQVID_OK || !advice) return;
    /* OpenBLAS read its environment when it was loaded, before main: only a new process
     * image picks another kernel set. Same program, same arguments, same pid. */
    if (setenv("OPENBLAS_CORETYPE", advice, 1) == 0) {
        execv("/proc/self/exe", argv);
        int e = errno;
        unsetenv("OPENBLAS_CORETYPE");
        fprintf(stderr,
                "%s: note: OpenBLAS runs its generic kernels on this CPU; could not start "
                "again with OPENBLAS_CORETYPE=%s (%s): about half the speed\n",
                ex_progname, advice, strerror(e));
    }
}

const char *ex_blas_describe(void)
{
    static char buf[200];
    const char *name = "?", *kernels = "", *advice = NULL, *ct = getenv("OPENBLAS_CORETYPE");
    seqvid_experimental_backend(&name, &kernels, &advice);
    int n = snprintf(buf, sizeof buf, "%s", name);
    if (*kernels) n += snprintf(buf + n, sizeof buf - (size_t)n, ", %s kernels", kernels);
    if (ct && !strcmp(name, "openblas"))
        n += snprintf(buf + n, sizeof buf - (size_t)n, ", OPENBLAS_CORETYPE=%s", ct);
    if (advice)
        snprintf(buf + n, sizeof buf - (size_t)n, "; generic: OPENBLAS_CORETYPE=%s is faster",
                 advice);
    return buf;
}
