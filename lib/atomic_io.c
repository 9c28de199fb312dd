/* atomic_io.c -- files that are never half-written: saves go to a temporary file that is
 * fsynced and renamed over the target; loads open regular files only. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc.h"
#include "atomic_io.h"
#include "error.h"
#include "fileio.h"

/* The process umask without changing it (umask(2) can only be read by setting it, which
 * races with other threads): Linux reports it in /proc/self/status. */
static mode_t process_umask(void) {
    unsigned mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return (mode_t)mask;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &mask) == 1) break;
    fclose(f);
    return (mode_t)(mask & 0777);
}

int sv_io_fail(const char *fn, const char *what, const char *path, int err) {
    char msg[128] = "unknown error";
    strerror_r(err, msg, sizeof msg);
    return sv_fail(SEQVID_ERR_IO, "%s: %s '%s': %s", fn, what, path, msg);
}

/* Write "<path>.tmp.XXXXXX" in the same folder (rename is atomic only within a file
 * system), fsync it, rename it over path, fsync the folder so the rename itself is durable.
 * A crash at any point leaves the old file or the new one, complete; on failure the
 * temporary file is removed and the old file is untouched. */
int sv_save_atomic(const char *fn, const char *path, sv_writer writer, void *ctx) {
    size_t len = strlen(path);
    char *tmp = sv_malloc(len + 12), *dir = sv_malloc(len + 2);
    if (!tmp || !dir) {
        free(tmp), free(dir);
        return sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    }
    snprintf(tmp, len + 12, "%s.tmp.XXXXXX", path);
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;

    int st = SEQVID_OK, fd = mkstemp(tmp);
    if (fd < 0) {
        st = sv_io_fail(fn, "cannot create a temporary file for", path, errno);
        goto done;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    /* mkstemp makes 0600; give the file the mode a plain fopen would (or the old file's). */
    struct stat old;
    mode_t mode = stat(path, &old) == 0 && S_ISREG(old.st_mode) ? (old.st_mode & 07777)
                                                                 : (0666 & ~process_umask());
    (void)fchmod(fd, mode);
    int err = writer(ctx, fd);
    if (err == ENOMEM) st = sv_fail(SEQVID_ERR_NOMEM, "%s: out of memory", fn);
    else if (err) st = sv_io_fail(fn, "cannot write the temporary file for", path, err);
    else if (fsync(fd)) st = sv_io_fail(fn, "cannot fsync the temporary file for", path, errno);
    int cl = close(fd);
    if (!st && cl) st = sv_io_fail(fn, "cannot close the temporary file for", path, errno);
    if (!st && rename(tmp, path)) st = sv_io_fail(fn, "cannot rename the temporary file to", path,
                                               errno);
    if (st) {
        unlink(tmp);
        goto done;
    }
    /* The new file is in place; make the directory entry durable. A folder we may not open
     * for reading, or a file system without directory fsync (EINVAL), cannot do better. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) && errno != EINVAL && errno != EROFS)
            st = sv_io_fail(fn, "saved, but could not fsync the folder of", path, errno);
        close(dfd);
    }
done:
    free(tmp), free(dir);
    return st;
}

/* The descriptor comes from sv_open_regular (fileio.c: non-blocking open, fstat of what was
 * opened), the one place that decides what an input file may be. */
int sv_fopen_regular(const char *fn, const char *path, FILE **out, size_t *size) {
    int fd, st = sv_open_regular(fn, path, &fd, size);
    if (st) return st;
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        int err = errno;
        close(fd);
        return sv_io_fail(fn, "cannot read", path, err);
    }
    *out = fp;
    return SEQVID_OK;
}

