/* config.h -- private: the model configuration behind seqvid_config. */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H
#include "seqvid.h"

#define SV_CFG_NKEYS 16 /* one past the largest seqvid_config_key */
/* The experimental keys (seqvid.h's experimental section) are numbered from 1001. */
#define SV_CFG_XBASE 1001
#define SV_CFG_NXKEYS 2

struct seqvid_config {
    double v[SV_CFG_NKEYS];   /* indexed by seqvid_config_key */
    double x[SV_CFG_NXKEYS];  /* indexed by experimental key - SV_CFG_XBASE */
};

/* The value of any known key (stable or experimental) in cfg, NULL for an unknown key. */
double *sv_config_slot(struct seqvid_config *cfg, int key);

/* Fill with the documented defaults. */
void sv_config_defaults(struct seqvid_config *cfg);
/* Validate one key/value (SEQVID_OK or a failure with message). */
int sv_config_check(int key, double value);
/* Upper-case name of a key ("KIND", "INPUT_DIM", ...; used in saved files), NULL if unknown. */
const char *sv_config_key_name(int key);
/* p > 0 in SAMPLE_RECON / SAMPLE_FUTURE only for a conditional decoder the kind has (else
 * SEQVID_ERR_UNSUPPORTED, the message naming fn). */
int sv_config_check_sampling(const struct seqvid_config *cfg, const char *fn);
/* Validate the whole configuration, including combinations. */
int sv_config_check_all(const struct seqvid_config *cfg);
#endif
