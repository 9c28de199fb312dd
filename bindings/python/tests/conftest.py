"""Shared fixtures: tiny models and data, so every test runs in milliseconds.

The tests import the package from this source tree unless SEQVID_TEST_INSTALLED is set
(then whatever `import seqvid` finds, e.g. an installed copy). The library is found as the
package documents: SEQVID_LIBRARY, SEQVID_PREFIX or the standard loader."""
import gzip
import os
import struct
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if not os.environ.get("SEQVID_TEST_INSTALLED"):
    sys.path.insert(0, os.path.dirname(HERE))

import seqvid  # noqa: E402

D, H, K, M = 16, 8, 3, 3  # frame size, hidden units, input and future frames


@pytest.fixture
def tiny():
    """Keyword arguments of a tiny composite model."""
    return dict(kind="composite", input_dim=D, hidden=H, input_frames=K, future_frames=M,
                seed=7)


@pytest.fixture
def model(tiny):
    with seqvid.Model(**tiny) as m:
        yield m


@pytest.fixture
def seqs():
    """(K + M, 4, D) binary frames of a dot moving one step per frame (learnable)."""
    x = np.zeros((K + M, 4, D), dtype=np.float32)
    for s in range(4):
        for t in range(K + M):
            x[t, s, (s * 3 + t) % D] = 1.0
    return x


def write_idx(path, array, gz=False):
    """An IDX file of uint8 `array` (images: 3 dims, labels: 1 dim)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    head = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    head += b"".join(struct.pack(">I", n) for n in array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(head + array.tobytes())


def make_digits(folder, n=10, side=8, gz=False, prefix="train"):
    """Write n random side x side 'digits' with labels 0..9 as IDX files named like MNIST's;
    return (images_path, labels_path, images uint8, labels)."""
    rng = np.random.default_rng(1)
    images = (rng.random((n, side, side)) * 255).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    ip = os.path.join(str(folder), "%s-images-idx3-ubyte%s" % (prefix, ext))
    lp = os.path.join(str(folder), "%s-labels-idx1-ubyte%s" % (prefix, ext))
    write_idx(ip, images, gz)
    write_idx(lp, labels, gz)
    return ip, lp, images, labels


@pytest.fixture
def digit_files(tmp_path):
    return make_digits(tmp_path)


def have_symbol(name):
    """Whether the loaded library exports `name` (parts of the API may be missing from a
    development build)."""
    try:
        getattr(seqvid._ffi.lib, name)
        return True
    except AttributeError:
        return False
