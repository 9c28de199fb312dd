/* fuzz_file.h -- the path-taking loaders (IDX, .npy) fuzzed through a file: each input is
 * written to an in-memory file (memfd) that the loader opens by its /proc/self/fd path, so
 * the loaders are fuzzed exactly as users call them (open, fstat, read), at memory speed.
 * Several files may be open at once (slot 0, 1, ...). Test code, Linux only. */
#ifndef SV_FUZZ_FILE_H
#define SV_FUZZ_FILE_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Make slot `slot` hold exactly data[0..size) and return its path (valid until the next call
 * for that slot). */
static const char *fuzz_file(int slot, const uint8_t *data, size_t size) {
    static int fd[4] = {-1, -1, -1, -1};
    static char path[4][64];
    if (slot < 0 || slot >= 4) abort();
    if (fd[slot] < 0) {
        fd[slot] = memfd_create("seqvid_fuzz", MFD_CLOEXEC);
        if (fd[slot] < 0) abort();
        snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
    }
    if (ftruncate(fd[slot], 0)) abort();
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(fd[slot], data + done, size - done, (off_t)done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    return path[slot];
}
#endif
