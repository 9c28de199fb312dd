/* version.c -- the linked library's version (may differ from the header a program saw). */
#include "seqvid.h"

const char *seqvid_version_string(void) { return SEQVID_VERSION_STRING; }
int seqvid_version_number(void) { return SEQVID_VERSION_NUMBER; }
