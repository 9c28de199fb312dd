/* config.h -- private: the model configuration behind seqvid_config. */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H
#include "seqvid.h"

#define SV_CFG_NKEYS 16 /* one past the largest seqvid_config_key */

struct seqvid_config {
    double v[SV_CFG_NKEYS]; /* indexed by seqvid_config_key */
};

/* Fill with the documented defaults. */
void sv_config_defaults(struct seqvid_config *cfg);
/* Validate one key/value (SEQVID_OK or a failure with message). */
int sv_config_check(int key, double value);
/* Upper-case name of a key ("KIND", "INPUT_DIM", ...; used in saved files), NULL if unknown. */
const char *sv_config_key_name(int key);
/* Validate the whole configuration, including combinations. */
int sv_config_check_all(const struct seqvid_config *cfg);
#endif
