#!/usr/bin/python3
"""Write the seed corpora of the data harnesses (tests/fuzz/corpus_idx, corpus_gzip,
corpus_npy): small valid files of every kind the readers take and a few broken ones.
Deterministic (gzip mtime 0): rerunning gives the same files.
  usage: /usr/bin/python3 tests/fuzz/make_data_corpus.py [tests/fuzz]"""
import gzip
import io
import os
import struct
import sys

import numpy as np

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


def put(corpus, name, data):
    d = os.path.join(root, corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(dims, payload, typ=8):
    return bytes([0, 0, typ, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(b):
    return gzip.compress(b, mtime=0)


imgs = idx([3, 2, 2], bytes([0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
labs = idx([3], bytes([7, 0, 9]))
digits = idx([2, 7, 7], bytes((i * 37) % 256 for i in range(98)))

# --- IDX, plain and gzipped ----------------------------------------------------------------
for name, b in [("images_3x2x2", imgs), ("labels_3", labs), ("images_2x7x7", digits)]:
    put("corpus_idx", name, b)
    put("corpus_idx", name + ".gz", gz(b))
put("corpus_idx", "type_int32", idx([3], struct.pack(">3i", 1, 2, 3), typ=0x0C))
put("corpus_idx", "header_cut", imgs[:10])
put("corpus_idx", "payload_cut", imgs[:-3])
put("corpus_idx", "data_after", imgs + b"\0")
put("corpus_idx", "trailer_cut.gz", gz(imgs)[:-4])
put("corpus_idx", "claims_2p31", idx([0x7FFFFFFF, 1, 1], bytes(64)))

# --- gzip: [op][p0][p1] + IDX bytes (see fuzz_gzip.c) ----------------------------------------
for op in range(8):
    for name, b in [("images", imgs), ("labels", labs)]:
        level = (op * 3) % 10
        put("corpus_gzip", "op%d_%s" % (op, name), bytes([level * 8 + op, 5 + op, 0]) + b)

# --- .npy ------------------------------------------------------------------------------------
def npy(a, version=None, **kw):
    f = io.BytesIO()
    if version is None:
        np.save(f, a, **kw)
    else:
        np.lib.format.write_array(f, a, version=version)
    return f.getvalue()


rng = np.random.default_rng(1)
frames_u8 = rng.integers(0, 256, size=(2, 3, 4), dtype=np.uint8)
frames_f4 = rng.standard_normal((2, 3, 2, 2)).astype("<f4")
put("corpus_npy", "frames_u8", npy(frames_u8))
put("corpus_npy", "frames_f4", npy(frames_f4))
put("corpus_npy", "frames_f4_v2", npy(frames_f4, version=(2, 0)))
put("corpus_npy", "frames_u8_v3", npy(frames_u8, version=(3, 0)))
put("corpus_npy", "frames_fortran", npy(np.asfortranarray(frames_f4)))
put("corpus_npy", "frames_big_endian", npy(frames_f4.astype(">f4")))
put("corpus_npy", "lengths_i4", npy(np.array([8, 1, 5], dtype="<i4")))
put("corpus_npy", "lengths_i8", npy(np.array([2, 3, 4], dtype="<i8")))
put("corpus_npy", "lengths_u1", npy(np.array([1, 8, 8], dtype="u1")))
put("corpus_npy", "lengths_u2", npy(np.array([3, 3, 3], dtype="<u2")))
put("corpus_npy", "lengths_negative", npy(np.array([-1, 3, 3], dtype="<i2")))
put("corpus_npy", "scalar_f8", npy(np.float64(1.5)))
b = npy(frames_u8)
put("corpus_npy", "no_newline", b[:127] + b" " + b[128:])  # the final newline made a space
put("corpus_npy", "version_1_9", b[:6] + b"\x01\x09" + b[8:])
put("corpus_npy", "truncated", b[:-5])
