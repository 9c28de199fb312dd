/* sniff.c -- naming what a file given as a model is, when it is not a safetensors file.
 *
 * A user who passes a text file, an image or a NumPy array as a model should read "not a
 * safetensors file: it looks like gzip data", not "header length 5269260421095515496
 * exceeds the limit". Eight bytes are enough for the common signatures. A valid file is
 * never misnamed: only a header length that exceeds the file is looked at. */
#include "sniff.h"
#include <inttypes.h>
#include <string.h>
#include "error.h"

/* The signatures worth telling apart from the first 8 bytes (longest first where one is a
 * prefix of another). */
static const struct {
    const char *magic;
    size_t len;
    const char *what;
} signatures[] = {
    {"\x89PNG\r\n\x1a\n", 8, "a PNG image"},
    {"\x93NUMPY", 6, "a NumPy .npy array (seqvid_npy_load reads those)"},
    {"\x89HDF\r\n", 6, "an HDF5 file (a Keras .h5 model?)"},
    {"\xfd" "7zXZ\0", 6, "xz-compressed data"},
    {"PK\x03\x04", 4, "a zip archive (a PyTorch .pt/.pth or NumPy .npz file?)"},
    {"GIF8", 4, "a GIF image"},
    {"\x7f" "ELF", 4, "an executable or shared library (ELF)"},
    {"\x28\xb5\x2f\xfd", 4, "zstd-compressed data"},
    {"%PDF", 4, "a PDF document"},
    {"BZh", 3, "bzip2-compressed data"},
    {"\xff\xd8\xff", 3, "a JPEG image"},
    {"\x1f\x8b", 2, "gzip-compressed data"},
};

/* Printable ASCII, common whitespace, or bytes of a UTF-8 sequence. */
static int texty(unsigned char c) {
    return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t' || c >= 0x80;
}

int sv_sniff_not_safetensors(const char *fn, const unsigned char head[8], uint64_t hlen,
                             size_t size) {
    if (size >= 8 && hlen <= size - 8) return SEQVID_OK; /* plausible: not ours to judge */
    for (size_t i = 0; i < sizeof signatures / sizeof *signatures; i++)
        if (memcmp(head, signatures[i].magic, signatures[i].len) == 0)
            return sv_fail(SEQVID_ERR_FORMAT, "%s: not a safetensors file: it looks like %s",
                           fn, signatures[i].what);
    /* IDX (MNIST): two zero bytes, a type code 0x08..0x0E, a dimension count 1..3. */
    if (head[0] == 0 && head[1] == 0 && head[2] >= 0x08 && head[2] <= 0x0e && head[3] >= 1 &&
        head[3] <= 3)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: not a safetensors file: it looks like an IDX "
                       "file (MNIST digits; seqvid_digits_load reads those)", fn);
    int text = 1;
    char shown[9]; /* the first bytes as printed in the message: ASCII, others as '.' */
    for (int i = 0; i < 8; i++) {
        text &= texty(head[i]);
        shown[i] = head[i] >= 0x20 && head[i] < 0x7f ? (char)head[i] : '.';
    }
    shown[8] = '\0';
    if (text)
        return sv_fail(SEQVID_ERR_FORMAT, "%s: not a safetensors file: it looks like text "
                       "(it starts \"%s\")", fn, shown);
    return SEQVID_OK;
}
