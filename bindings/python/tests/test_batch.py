"""Batches: zero-copy wrapping of NumPy arrays and rejection of arrays that cannot be."""
import numpy as np
import pytest

import seqvid
from conftest import D, H, K


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
    assert b.dims == (5, 3, 16) and b.frame_shape == (4, 4)
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
    assert b.dims == (2, 3, 16)
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


def test_batch_is_array_like():
    """shape, dtype and ndim describe what .array and np.asarray give (issue 15)."""
    b = seqvid.Batch.zeros(5, 3, (4, 4))
    assert b.shape == b.array.shape == np.asarray(b).shape == (5, 3, 4, 4)
    assert b.dims == (5, 3, 16) and b.ndim == 4 and b.dtype == np.float32
    assert b.dtype == b.array.dtype
    x = np.zeros((2, 3, D), dtype=np.float32)
    assert seqvid.Batch(x).shape == x.shape and seqvid.Batch(x).dims == (2, 3, D)


def test_seq_major_layout(model, seqs):
    """layout="seq_major" reads (S, T, ...) arrays; the results equal those of the
    time-major array, and per-frame outputs come back in the input's layout."""
    sm = np.ascontiguousarray(seqs.swapaxes(0, 1))  # (S, T, D)
    b = seqvid.Batch(sm, layout="seq_major")
    assert np.array_equal(b.array, seqs) and b.shape == seqs.shape
    assert np.array_equal(model.encode(sm, layout="seq_major"), model.encode(seqs))
    assert np.array_equal(model.predict(sm[:, :K], 4, layout="seq_major"),
                          model.predict(seqs[:K], 4).swapaxes(0, 1))
    assert np.array_equal(model.reconstruct(sm[:, :K], layout="seq_major"),
                          model.reconstruct(seqs[:K]).swapaxes(0, 1))
    out = np.empty((seqs.shape[1], 4, D), dtype=np.float32)
    assert model.predict(sm[:, :K], 4, out, layout="seq_major") is out
    assert np.array_equal(out, model.predict(seqs[:K], 4).swapaxes(0, 1))
    assert model.evaluate(sm, layout="seq_major") == model.evaluate(seqs)
    # Read with the default layout, the same array is another, valid batch: different
    # answers, which is why the layout must be said.
    assert not np.array_equal(model.encode(sm[:, :K].copy()), model.encode(seqs[:K]))
    with pytest.raises(ValueError, match="time-major"):
        model.encode(seqvid.Batch(seqs), layout="seq_major")
    with pytest.raises(ValueError, match="unknown Layout"):
        model.encode(seqs, layout="batch_last")
    with pytest.raises(TypeError, match="float32"):
        model.encode(sm.astype(np.float64), layout="seq_major")


def test_predict_and_encode_copy(model, seqs):
    """copy=True converts what cannot be wrapped, as Batch(copy=True) does."""
    x64 = seqs[:K].astype(np.float64)
    with pytest.raises(TypeError, match="float32"):
        model.predict(x64, 2)
    assert np.array_equal(model.predict(x64, 2, copy=True), model.predict(seqs[:K], 2))
    assert np.array_equal(model.encode(x64, copy=True), model.encode(seqs[:K]))
    strided = np.zeros((K, 8, D), dtype=np.float32)[:, ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        model.encode(strided)
    assert model.encode(strided, copy=True).shape == (4, 2 * H)
    assert model.encode(seqs[:K].tolist(), copy=True).shape == (seqs.shape[1], 2 * H)
