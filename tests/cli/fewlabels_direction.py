#!/usr/bin/python3
"""fewlabels_direction.py CLIPS.npy CLASSES.npy -- check `fewlabels --task direction --dump`
against the frames themselves, independently of the generator's code.

The class of a clip is the compass sector (0 = east, 1 = north-east, 2 = north = up, ..,
7 = south-east; 45 degrees each, centred on the direction) of the digit's velocity after
frame 0. Here the velocity is measured from the rendered frames: the digit is drawn whole,
so its ink centroid moves by exactly its pixel offset floor(36 p), and while it flies free
(no bounce) the offset after k frames is 36 k v within 1 pixel per axis. The bounce-free
prefix is where every axis keeps stepping in one direction by steps that differ by at
most 1 pixel (a bounce reverses an axis); its last step is dropped (a clamp at a wall
shortens a step without reversing it yet). A clip is compared when its prefix spans k >= 3
frames and the measured angle lies farther from a sector boundary than the rounding allows,
asin(sqrt(2) / (3.6 k)); all compared clips must agree. Also: the classes are balanced.
"""
import math
import sys

import numpy as np

clips = np.load(sys.argv[1])  # (T, N, 64, 64)
classes = np.load(sys.argv[2]).astype(int)  # (N,)
T, N = clips.shape[:2]
assert classes.shape == (N,) and classes.min() >= 0 and classes.max() <= 7, classes

rows, cols = np.mgrid[0:64, 0:64]
ink = clips.sum(axis=(2, 3))
assert (ink > 0).all(), "a frame without ink"
cy = (clips * rows).sum(axis=(2, 3)) / ink  # (T, N) centroid row
cx = (clips * cols).sum(axis=(2, 3)) / ink


def steady(steps):
    """Length of the prefix of integer steps that keep one sign and differ by <= 1."""
    n = 0
    for i in range(1, len(steps) + 1):
        s = steps[:i]
        if (s > 0).any() and (s < 0).any() or s.max() - s.min() > 1:
            break
        n = i
    return n


compared = agree = 0
for b in range(N):
    dy = np.rint(np.diff(cy[:, b])).astype(int)  # offsets are whole pixels
    dx = np.rint(np.diff(cx[:, b])).astype(int)
    assert np.allclose(np.diff(cy[:, b]), dy, atol=1e-3), "centroid moves by whole pixels"
    k = min(steady(dy), steady(dx)) - 1
    if k < 3:
        continue
    vy, vx = dy[:k].sum() / k, dx[:k].sum() / k
    a = math.degrees(math.atan2(-vy, vx)) % 360
    r = (a - 22.5) % 45  # boundaries at 22.5 + 45 j
    to_boundary = min(r, 45 - r)
    if to_boundary <= math.degrees(math.asin(math.sqrt(2) / (3.6 * k))) + 0.5:
        continue
    want = int(((a + 22.5) % 360) // 45)
    compared += 1
    agree += want == classes[b]
    if want != classes[b]:
        print(f"clip {b}: measured {a:.1f} deg (sector {want}), class {classes[b]}")

counts = np.bincount(classes, minlength=8)
print(f"{agree} of {compared} clips compared agree (of {N}); classes per sector {counts.tolist()}")
ok = compared >= N // 3 and agree == compared and counts.min() >= N // 8 // 2
sys.exit(0 if ok else 1)
