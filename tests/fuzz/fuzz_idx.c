/* fuzz_idx.c -- libFuzzer harness of the IDX reader (seqvid_digits_load, lib/data/idx.c).
 *
 * Each input is loaded as an images file, and as the labels file of a fixed valid set of
 * three 2x2 images. The input may be plain or gzipped (the reader detects it); the seed
 * corpus has both, and fuzz_gzip.c goes deeper into gzip streams. Oracles: no crash and no
 * sanitizer report; a failed load returns no object; a loaded set has a shape the header
 * could announce within SEQVID_LIMIT_IDX_BYTES (set low here, so that the harness stays
 * within libFuzzer's memory limit), pixels in [0,1] that are exact multiples of 1/255, and
 * labels for every image.
 * Built by -DSEQVID_FUZZ=ON (clang, see tests/fuzz/run.sh); replay_main.c runs the same
 * function over the seed corpus (tests/fuzz/corpus_idx) in ordinary builds. */
#include "fuzz_file.h"
#include <string.h>
#include "seqvid.h"
#include "fuzz_idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_idx_setup();
    fuzz_idx_check_images(fuzz_file(0, data, size));
    static const uint8_t three[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                           0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    fuzz_idx_check_labels(fuzz_file(1, three, sizeof three), fuzz_file(0, data, size), 3);
    return 0;
}
