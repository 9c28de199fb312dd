"""Batches: zero-copy wrapping of NumPy arrays and rejection of arrays that cannot be."""
import numpy as np
import pytest

import seqvid
from conftest import D


def test_wrap_is_zero_copy(model, seqs):
    b = seqvid.Batch(seqs)
    assert b.shape == seqs.shape and b.frame_shape == (D,)
    assert np.shares_memory(b.array, seqs)
    enc = model.encode(b)
    seqs[:] = 1.0 - seqs  # the model reads the array where it is
    assert not np.array_equal(model.encode(b), enc)


def test_batch_keeps_array_alive(model):
    b = seqvid.Batch(np.ones((3, 2, D), dtype=np.float32))
    import gc
    gc.collect()
    assert b.array.sum() == 3 * 2 * D


@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((6, 2, D)), TypeError, "float32"),
    (np.zeros((6, 2, D), dtype=np.uint8), TypeError, "float32"),
    (np.zeros((6, 2, D), dtype=">f4"), TypeError, "float32"),
    (np.zeros((6, D), dtype=np.float32), ValueError, r"\(T, S, D\)"),
    (np.zeros((6, 4, D), dtype=np.float32)[:, ::2], ValueError, "C-contiguous"),
    (np.zeros((6, 2, D), dtype=np.float32, order="F"), ValueError, "C-contiguous"),
    (np.zeros((6, 2, D), dtype=np.float32).transpose(1, 0, 2), ValueError, "C-contiguous"),
    (np.zeros((0, 2, D), dtype=np.float32), ValueError, "empty"),
    ([[[0.0]]], TypeError, "numpy.ndarray"),
])
def test_bad_arrays_rejected(model, bad, exc, match):
    with pytest.raises(exc, match=match):
        seqvid.Batch(bad)
    with pytest.raises(exc, match=match):
        model.encode(bad)


def test_copy_converts(model):
    x = np.zeros((6, 4, D), dtype=np.float64)[:, ::2]
    b = seqvid.Batch(x, copy=True)
    assert b.shape == (6, 2, D) and not np.shares_memory(b.array, x)
    assert seqvid.Batch([[[0.5] * D]], copy=True).shape == (1, 1, D)


def test_readonly_array_is_wrapped(model, seqs):
    seqs.flags.writeable = False
    b = seqvid.Batch(seqs)
    assert b.readonly and not b.array.flags.writeable
    model.encode(b)


def test_owned_batch_and_lengths():
    b = seqvid.Batch.zeros(5, 3, (4, 4))
    assert b.shape == (5, 3, 16) and b.frame_shape == (4, 4)
    a = b.array
    assert a.shape == (5, 3, 4, 4) and a.flags.writeable and not a.any()
    a[1, 2] = 1.0
    assert b.array[1, 2].sum() == 16
    assert list(b.lengths) == [5, 5, 5]
    b.lengths = [1, 2, 5]
    assert list(b.lengths) == [1, 2, 5] and b.get_length(1) == 2
    with pytest.raises(seqvid.Error) as ei:
        b.set_length(0, 6)
    assert ei.value.status == seqvid.Status.ARG and "length 6" in ei.value.message
    with pytest.raises(seqvid.Error):
        b.lengths = [3, 3, 0]
    assert list(b.lengths) == [1, 2, 5]  # all or nothing
    with pytest.raises(ValueError):
        b.lengths = [1, 2]
    with pytest.raises(seqvid.Error):
        seqvid.Batch.zeros(0, 1, 1)


def test_counts_must_be_integers():
    """Counts, sizes and indices are never truncated: 2.5 (or 2.0) is a TypeError; NumPy
    integers are fine."""
    for args in [(2.5, 3, 4), (2, 3.0, 4), (2, 3, 4.5), (2, 3, (4, 4.5)), ("2", 3, 4)]:
        with pytest.raises(TypeError, match="integer"):
            seqvid.Batch.zeros(*args)
    b = seqvid.Batch.zeros(np.int64(2), np.uint8(3), (np.int32(4), 4))
    assert b.shape == (2, 3, 16)
    with pytest.raises(TypeError, match="integer"):
        b.set_length(0, 1.5)
    with pytest.raises(TypeError, match="integer"):
        b.set_length(0.5, 1)
    with pytest.raises(TypeError, match="integer"):
        b.get_length(1.5)
    with pytest.raises(TypeError, match="integer"):
        b.crop(0, 0, 2.5, 2)
    assert list(b.lengths) == [2, 2, 2]


def test_crop():
    x = np.arange(2 * 1 * 6 * 6, dtype=np.float32).reshape(2, 1, 6, 6)
    b = seqvid.Batch(x)
    c = b.crop(1, 2, 3, 2)
    assert c.frame_shape == (3, 2)
    assert np.array_equal(c.array, x[:, :, 1:4, 2:4])
    with pytest.raises(seqvid.Error):
        b.crop(5, 5, 3, 3)
