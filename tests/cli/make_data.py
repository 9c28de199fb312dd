#!/usr/bin/python3
"""Tiny data for the seqvid command tests: make_data.py OUT_DIR

Writes into OUT_DIR:
  mnist/{train,test}-{images-idx3,labels-idx1}-ubyte  a few 28x28 blob "digits" (IDX)
  frames.npy    (20, 24, 16, 16) float32 in [0, 1]: a bright spot moving and bouncing
  percepts.npy  (12, 10, 6) float32: real-valued feature vectors (SR15's percepts)
  rgb.npy       (12, 6, 8, 8, 3) uint8 colour frames
"""
import os
import struct
import sys

import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(7)
os.makedirs(os.path.join(out, "mnist"), exist_ok=True)


def write_idx(name, images):
    n = len(images)
    with open(os.path.join(out, "mnist", f"{name}-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + images.astype(np.uint8).tobytes())
    with open(os.path.join(out, "mnist", f"{name}-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + (np.arange(n) % 10).astype(np.uint8).tobytes())


yy, xx = np.mgrid[0:28, 0:28]
blobs = []
for i in range(30):
    cy, cx = rng.uniform(9, 19, 2)
    blobs.append(255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(6, 20)))
write_idx("train", np.array(blobs[:20]))
write_idx("test", np.array(blobs[20:]))

T, N, S = 20, 24, 16
x = np.zeros((T, N, S, S), np.float32)
yy, xx = np.mgrid[0:S, 0:S]
for n in range(N):
    p = rng.uniform(3, 12, 2)
    v = rng.uniform(-1, 1, 2)
    for t in range(T):
        x[t, n] = np.exp(-((xx - p[1]) ** 2 + (yy - p[0]) ** 2) / 4)
        p += v
        v = np.where((p < 2) | (p > 13), -v, v)
np.save(os.path.join(out, "frames.npy"), x)
np.save(os.path.join(out, "percepts.npy"), rng.normal(size=(12, 10, 6)).astype(np.float32))
np.save(os.path.join(out, "rgb.npy"), rng.integers(0, 256, size=(12, 6, 8, 8, 3), dtype=np.uint8))
