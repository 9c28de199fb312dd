/* keys.h -- private: the one table of option keys behind the four option systems (model
 * configuration, optimizer, classifier, Moving MNIST generator) and of the kind names: each
 * key's name (as files and seqvid_key_name give it) and, where the range is fixed, its range.
 * The systems keep their defaults and semantics; names, lookups and range checks are here. */
#ifndef SV_KEYS_H
#define SV_KEYS_H
#include "seqvid.h"

enum { SV_KEY_INT = 1, SV_KEY_HI_OPEN = 2, SV_KEY_READONLY = 4, SV_KEY_CUSTOM = 8 };

typedef struct sv_key {
    const char *name; /* NULL: no such key */
    double lo, hi;    /* valid values [lo, hi] ([lo, hi) with SV_KEY_HI_OPEN) */
    unsigned flags;   /* SV_KEY_INT: integers only; SV_KEY_READONLY: never set;
                         SV_KEY_CUSTOM: the system checks the value itself */
} sv_key;

/* The entry of `key` in table (seqvid_names), NULL if the table has no such key. */
const sv_key *sv_key_find(int table, int key);
/* Validate value for a known key: SEQVID_OK, or SEQVID_ERR_ARG with "<fn>: NAME = v is outside
 * [lo, hi]" / "... must be an integer in [lo, hi]". NaN and infinities always fail. */
int sv_key_check(const sv_key *k, double value, const char *fn);
#endif
