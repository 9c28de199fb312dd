/* fileio.h -- private: opening input files safely, and the process-wide input limits. */
#ifndef SV_FILEIO_H
#define SV_FILEIO_H
#include <stddef.h>
#include "seqvid.h"

/* Open `path` read-only and make sure it is a regular file, without ever blocking: the open
 * is non-blocking (a FIFO without a writer would otherwise wait forever) and the check is an
 * fstat of the descriptor opened (no window between a stat and the open). A FIFO, a directory
 * or a device gives SEQVID_ERR_IO "not a regular file". On success *fd is the descriptor
 * (O_CLOEXEC; close it, or hand it to fdopen/gzdopen) and *size the file's size in bytes.
 * `fn` names the public function in the message. */
int sv_open_regular(const char *fn, const char *path, int *fd, size_t *size);

/* The current value of a seqvid_limit_key (see seqvid_set_limit in seqvid.h). */
size_t sv_limit(int key);
#endif
