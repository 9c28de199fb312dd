/* blas.h -- private: the one place CBLAS is included. The backend is chosen at configure
 * time (-DSEQVID_BLAS=openblas|reference); both provide the standard cblas_* calls. */
#ifndef SV_BLAS_H
#define SV_BLAS_H
#ifdef SEQVID_BLAS_REFERENCE
#include <cblas-netlib.h>
#else
#include <cblas.h>
#endif
#endif
