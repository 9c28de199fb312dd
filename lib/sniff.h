/* sniff.h -- private: what a file that is not a safetensors file looks like. */
#ifndef SV_SNIFF_H
#define SV_SNIFF_H
#include <stddef.h>
#include <stdint.h>

/* A safetensors file starts with its JSON header's length, a little-endian u64 `hlen`, read
 * from `head` (the file's first 8 bytes) of a file of `size` bytes. If that length cannot be
 * right (it exceeds what follows it) and the 8 bytes are the signature of another format or
 * look like text, record "FN: not a safetensors file: it looks like <what>" and return
 * SEQVID_ERR_FORMAT; otherwise return SEQVID_OK and let the format checks speak. */
int sv_sniff_not_safetensors(const char *fn, const unsigned char head[8], uint64_t hlen,
                             size_t size);

#endif
