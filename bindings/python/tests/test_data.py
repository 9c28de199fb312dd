"""Digits, the Moving MNIST generator and .npy files (tiny synthetic digit sets)."""
import gc

import numpy as np
import pytest

import seqvid
from conftest import make_digits


@pytest.mark.parametrize("gz", [False, True])
def test_digits_load(tmp_path, gz):
    ip, lp, images, labels = make_digits(tmp_path, gz=gz)
    with seqvid.Digits(ip, lp) as d:
        assert d.shape == (10, 8, 8) and len(d) == 10
        assert d.has_labels
        img = d[3]
        assert img.shape == (8, 8) and not img.flags.writeable
        assert np.allclose(img, images[3] / 255.0)
        assert d.label(3) == 3
        assert np.allclose(d.to_array(), images / 255.0)
        with pytest.raises(IndexError):
            d[10]
    assert np.allclose(img, images[3] / 255.0)  # the view keeps the set alive


def test_digits_without_labels_and_errors(tmp_path):
    ip, lp, _, _ = make_digits(tmp_path)
    d = seqvid.Digits(tmp_path / "train-images-idx3-ubyte")  # a PathLike
    assert not d.has_labels
    with pytest.raises(seqvid.Error) as ei:
        d.label(0)
    assert ei.value.status == seqvid.Status.STATE
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Digits(tmp_path / "missing")
    assert ei.value.status == seqvid.Status.IO and "missing" in ei.value.message
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Digits(lp)  # labels are not images
    assert ei.value.status == seqvid.Status.FORMAT


def test_idx_limit(tmp_path):
    """seqvid.set_limit bounds what Digits inflates: 10 images of 8x8 are 640 bytes."""
    ip, lp, _, _ = make_digits(tmp_path, gz=True)
    default = seqvid.get_limit("idx_bytes")
    assert default == 2**30
    try:
        seqvid.set_limit("IDX_BYTES", 639)
        assert seqvid.get_limit("idx_bytes") == 639
        with pytest.raises(seqvid.Error) as ei:
            seqvid.Digits(ip, lp)
        assert ei.value.status == seqvid.Status.FORMAT
        seqvid.set_limit("idx_bytes", 640)
        assert len(seqvid.Digits(ip, lp)) == 10
        with pytest.raises(seqvid.Error) as ei:
            seqvid.set_limit("idx_bytes", 0)  # below the key's range
        assert ei.value.status == seqvid.Status.ARG
        with pytest.raises(ValueError):
            seqvid.set_limit("no_such_limit", 1)
        with pytest.raises(TypeError):
            seqvid.set_limit("idx_bytes", 2.5)
    finally:
        seqvid.set_limit("idx_bytes", default)
    assert seqvid.get_limit(1) == default  # the integer key (SEQVID_LIMIT_IDX_BYTES)

@pytest.fixture
def digits(digit_files):
    with seqvid.Digits(*digit_files[:2]) as d:
        yield d


def test_moving_mnist(digits):
    gen = seqvid.MovingMNIST(digits, digits_per_seq=2, canvas=12, seed=3)
    assert gen["canvas"] == 12 and gen["digits"] == 2 and gen["seed"] == 3
    b, labels = gen.generate(5, 4, labels=True)
    a = b.array
    assert a.shape == (5, 4, 12, 12) and a.min() >= 0 and a.max() <= 1 and a.max() > 0
    assert labels.shape == (4, 2) and labels.dtype == np.int32
    # What generate() returns is the Batch its docstring names, and it describes itself as
    # its array does (issue 15: shape was (5, 4, 144) and dtype missing).
    assert isinstance(b, seqvid.Batch) and "seqvid.Batch" in seqvid.MovingMNIST.generate.__doc__
    assert b.shape == a.shape and b.dtype == a.dtype == np.float32 and b.dims == (5, 4, 144)
    assert ((labels >= 0) & (labels < 10)).all()
    # The same seed gives the same stream; the state round-trips.
    gen2 = seqvid.MovingMNIST(digits, canvas=12, seed=3)
    assert np.array_equal(gen2.generate(5, 4).array, a)
    state = gen.state
    x1 = gen.generate(5, 4).array
    gen.state = state
    assert np.array_equal(gen.generate(5, 4).array, x1)
    with pytest.raises(seqvid.Error):
        gen.state = b"not a state"


def test_moving_mnist_errors(digits):
    gen = seqvid.MovingMNIST(digits, canvas=12)
    with pytest.raises(seqvid.Error) as ei:
        gen.fill(seqvid.Batch.zeros(3, 2, 100))
    assert ei.value.status == seqvid.Status.SHAPE and "12 x 12" in ei.value.message
    with pytest.raises(seqvid.Error) as ei:
        gen["canvas"] = 8  # not larger than the 8x8 digits
    assert ei.value.status == seqvid.Status.ARG
    ro = np.zeros((3, 2, 144), dtype=np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        gen.fill(seqvid.Batch(ro))
    with pytest.raises(TypeError):
        seqvid.MovingMNIST("digits")


def test_generator_keeps_digits_alive(digit_files):
    d = seqvid.Digits(*digit_files[:2])
    gen = seqvid.MovingMNIST(d, canvas=12)
    d.close()
    del d
    gc.collect()
    assert gen.generate(3, 2).array.max() > 0


def test_batches_iterator_trains(digits):
    gen = seqvid.MovingMNIST(digits, canvas=12, digits_per_seq=1)
    with seqvid.Model(input_dim=144, hidden=8, input_frames=2, future_frames=2) as m, \
            seqvid.Optimizer("adam", lr=0.01) as opt:
        it = gen.batches(4, 3)
        losses = [sum(m.train_step(opt, next(it))) for _ in range(3)]
    assert all(np.isfinite(losses))


def test_save_npy_refuses_unsupported_dtypes(tmp_path):
    p = tmp_path / "x.npy"
    bad = [np.array([[1.0, 2.0]], dtype=object), np.array([[1, None]], dtype=object),
           np.zeros((2, 2), dtype=np.complex64), np.array([["a", "b"]]),
           np.zeros(2, dtype=[("a", "<f4")]), np.array(["2020-01-01"], dtype="datetime64[D]")]
    for a in bad:
        with pytest.raises(TypeError, match="dtype"):
            seqvid.save_npy(p, a)
        assert not p.exists()
    for dtype in (np.bool_, np.uint8, np.int64, np.float16, np.float64):  # converted
        seqvid.save_npy(p, np.ones((2, 3), dtype=dtype))
        assert np.load(p).dtype == np.float32 and np.load(p).sum() == 6


def test_npy_roundtrip(tmp_path):
    x = np.random.default_rng(0).random((4, 3, 2, 5)).astype(np.float32)
    p = tmp_path / "x.npy"
    seqvid.save_npy(p, x)
    assert np.array_equal(np.load(p), x)  # NumPy reads what the library wrote
    b = seqvid.load_npy(p)
    assert b.dims == (4, 3, 10) and b.frame_shape == (2, 5)
    assert np.array_equal(b.array, x)
    bs = seqvid.load_npy(p, layout="seq_major")  # (N, T, ...) = 4 sequences of 3 steps
    assert bs.dims == (3, 4, 10)
    assert np.array_equal(bs.array, x.transpose(1, 0, 2, 3))
    # uint8 files are scaled by 1/255 (the mnist_test_seq.npy format).
    u = (np.arange(2 * 2 * 3) * 10).astype(np.uint8).reshape(2, 2, 3)
    np.save(tmp_path / "u.npy", u)
    assert np.allclose(seqvid.load_npy(tmp_path / "u.npy").array, u / 255.0)
    np.save(tmp_path / "len.npy", np.array([2, 1], dtype=np.int64))
    bu = seqvid.load_npy(tmp_path / "u.npy")
    seqvid.load_lengths(tmp_path / "len.npy", bu)
    assert list(bu.lengths) == [2, 1]
    with pytest.raises(seqvid.Error) as ei:
        seqvid.load_npy(tmp_path / "nope.npy")
    assert ei.value.status == seqvid.Status.IO
    with pytest.raises(ValueError, match="layout"):
        seqvid.load_npy(p, layout="diagonal")
