/* version.c -- the linked library's version (may differ from the header a program saw) and
 * the backend it multiplies with. */
#define SEQVID_EXPERIMENTAL /* declares seqvid_experimental_backend */
#include "seqvid.h"

#include "blas.h"

const char *seqvid_version_string(void) { return SEQVID_VERSION_STRING; }
int seqvid_version_number(void) { return SEQVID_VERSION_NUMBER; }

int seqvid_experimental_backend(const char **name, const char **kernels, const char **advice) {
    sv_blas_info_t info = sv_blas_info();
    if (name) *name = info.name;
    if (kernels) *kernels = info.kernels;
    if (advice) *advice = info.advice;
    return SEQVID_OK;
}
