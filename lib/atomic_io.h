/* atomic_io.h -- private: safe files. A save never destroys the previous file; a load reads
 * regular files only. */
#ifndef SV_ATOMIC_IO_H
#define SV_ATOMIC_IO_H
#include <stddef.h>
#include <stdio.h>

/* Fail with SEQVID_ERR_IO and "<fn>: <what> '<path>': <strerror(err)>". */
int sv_io_fail(const char *fn, const char *what, const char *path, int err);

/* Writes the whole file to fd; returns 0 or the errno of the failed write. */
typedef int (*sv_writer)(void *ctx, int fd);

/* Save atomically: `writer` fills "<path>.tmp.XXXXXX" in the same folder, which is fsynced and
 * renamed over path (then the folder is fsynced). A crash at any point leaves the old file or
 * the new one, complete; on failure the temporary file is removed and the old file is
 * untouched. The new file gets the old file's mode, or 0666 & ~umask. */
int sv_save_atomic(const char *fn, const char *path, sv_writer writer, void *ctx);

/* Open path for reading if it is a regular file (FIFOs, folders and devices are refused
 * without blocking); *size receives its size. */
int sv_fopen_regular(const char *fn, const char *path, FILE **out, size_t *size);
#endif
