/* serialize.h -- private: checkpoints from and to memory (the fuzzer and the tests use them;
 * the public API has files only). Semantics as seqvid_checkpoint_save / _load. */
#ifndef SV_SERIALIZE_H
#define SV_SERIALIZE_H
#include <stddef.h>
#include <stdint.h>
#include "seqvid.h"

/* Like seqvid_model_save_buffer: *size receives the bytes needed; buf == NULL asks for the
 * size only (SEQVID_OK), cap < *size gives SEQVID_ERR_BUFFER with nothing written. */
int sv_checkpoint_save_buffer(const seqvid_model *model, const seqvid_optimizer *opt,
                              const seqvid_mmnist *gen, uint64_t step, void *buf, size_t cap,
                              size_t *size);
/* Like seqvid_checkpoint_load on a buffer. opt may be NULL (the optimizer part is then
 * validated but not built); step may be NULL. */
int sv_checkpoint_load_buffer(const void *buf, size_t size, seqvid_model **model,
                              seqvid_optimizer **opt, seqvid_mmnist *gen, uint64_t *step);
#endif
