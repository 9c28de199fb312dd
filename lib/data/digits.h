/* digits.h -- private: the digit set behind seqvid_digits (filled by idx.c, read by mmnist.c). */
#ifndef SV_DIGITS_H
#define SV_DIGITS_H
#include <stddef.h>
#include "seqvid.h"

struct seqvid_digits {
    size_t count, rows, cols; /* count images of rows x cols pixels */
    float *pixels;            /* [count x rows x cols] in [0,1], row-major (malloc) */
    unsigned char *labels;    /* [count], or NULL when no label file was given */
};
#endif
