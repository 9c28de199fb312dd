"""Data: MNIST digits (IDX files), the Moving MNIST generator and .npy sequence files."""

import numpy as np

from ._core import Batch, Layout, _enum_value, _Keys, _Options, Status
from ._ffi import Error, Handle, check, ffi, float_view, fspath, lib, new_handle, whole

__all__ = ["Digits", "MovingMNIST", "load_npy", "load_lengths", "save_npy"]


class Digits(Handle):
    """A set of digit images (seqvid_digits) loaded from IDX files, plain or gzipped, with
    pixels scaled to [0, 1]; labels are optional::

        digits = seqvid.Digits("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
        digits[0]          # (28, 28) float32 read-only view
        digits.label(0)

    A digit set is read-only once loaded: any number of generators, in any threads, may
    share it."""

    def __init__(self, images_path, labels_path=None):
        labels = fspath(labels_path) if labels_path is not None else ffi.NULL
        raw = new_handle(lib.seqvid_digits_load, fspath(images_path), labels,
                         ctype="seqvid_digits", name="seqvid_digits_load")
        super().__init__(raw, lib.seqvid_digits_free)
        self._shape = self._query_shape()

    def _query_shape(self):
        n, r, c = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.seqvid_digits_shape(self.ptr, n, r, c), "seqvid_digits_shape")
        return (n[0], r[0], c[0])

    @property
    def shape(self):
        """(count, rows, cols)."""
        self.ptr
        return self._shape

    def __len__(self):
        return self.shape[0]

    def image(self, i):
        """Image i as a read-only (rows, cols) float32 view (it keeps the set alive)."""
        n, rows, cols = self.shape
        i = whole(i, "seqvid.Digits: image index")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("seqvid.Digits: image %d out of range (%d images)" % (i, n))
        p = ffi.new("float **")
        check(lib.seqvid_digits_image(self.ptr, i, p), "seqvid_digits_image")
        return float_view(p[0], rows * cols, (rows, cols), self.ptr, readonly=True)

    __getitem__ = image

    def label(self, i):
        """The label of image i; seqvid.Error (status STATE) if no labels were loaded."""
        v = ffi.new("int *")
        check(lib.seqvid_digits_label(self.ptr, whole(i, "seqvid.Digits: image index"), v),
              "seqvid_digits_label")
        return v[0]

    @property
    def has_labels(self):
        if len(self) == 0:
            return False
        try:
            self.label(0)
            return True
        except Error as e:
            if e.status == Status.STATE:
                return False
            raise

    def to_array(self):
        """All images as a new (count, rows, cols) float32 array."""
        n, rows, cols = self.shape
        out = np.empty((n, rows, cols), dtype=np.float32)
        for i in range(n):
            out[i] = self.image(i)
        return out

    def __repr__(self):
        if self.closed:
            return "<seqvid.Digits (closed)>"
        return "<seqvid.Digits %d x %dx%d%s>" % (self.shape + (
            ", labelled" if self.has_labels else "",))


_MM = _Keys("MovingMNIST", lib.SEQVID_NAMES_MMNIST, {
    "digits": int, "canvas": int, "speed_min": float, "speed_max": float, "seed": int,
})


class MovingMNIST(_Options, Handle):
    """The Moving MNIST generator of SR15 (seqvid_mmnist) over a Digits set::

        gen = seqvid.MovingMNIST(digits, digits_per_seq=2, canvas=64, seed=1)
        batch = gen.generate(n_steps=20, n_seqs=16)     # a seqvid.Batch, shape (20, 16, 64, 64)
        x = batch.array                                 # its float32 ndarray view
        for batch in gen.batches(20, 16): ...           # one reused batch, refilled

    Options (get/set or []): digits (per sequence), canvas, speed_min, speed_max, seed
    (setting it restarts the stream). The generator keeps its digit set alive. `state` is
    its random state as bytes, for checkpoints."""
    _keys = _MM
    _get_fn, _set_fn = "seqvid_mmnist_get", "seqvid_mmnist_set"

    def __init__(self, digits, digits_per_seq=None, canvas=None, speed=None, seed=None):
        if not isinstance(digits, Digits):
            raise TypeError("seqvid.MovingMNIST: expected a seqvid.Digits, got %s" %
                            type(digits).__name__)
        dptr = digits.ptr
        raw = new_handle(lib.seqvid_mmnist_create, dptr, ctype="seqvid_mmnist",
                         name="seqvid_mmnist_create")
        # The generator reads the digit set: its destructor closure keeps the set alive.
        super().__init__(raw, lambda p, _keep=dptr: lib.seqvid_mmnist_free(p))
        self.digit_set = digits
        if digits_per_seq is not None:
            self.set("digits", digits_per_seq)
        if canvas is not None:
            self.set("canvas", canvas)
        if speed is not None:
            lo, hi = (speed, speed) if np.isscalar(speed) else speed
            self.set("speed_min", lo)
            self.set("speed_max", hi)
        if seed is not None:
            self.set("seed", seed)

    @property
    def canvas(self):
        return self.get("canvas")

    def fill(self, batch, labels=False):
        """Fill every sequence of `batch` (frames of canvas*canvas floats; all lengths are
        set to T) with fresh sequences. With labels=True, returns the (S, digits) int32
        labels of the digits drawn (-1 where the set has none)."""
        if not isinstance(batch, Batch):
            raise TypeError("seqvid.MovingMNIST.fill: expected a seqvid.Batch")
        if batch.readonly:
            raise ValueError("seqvid.MovingMNIST.fill: the batch wraps a read-only array")
        with self._lock:
            if labels:
                S = batch.n_seqs
                lab = np.empty((S, self.get("digits")), dtype=np.int32)
                check(lib.seqvid_mmnist_fill(self.ptr, batch.ptr,
                                             ffi.cast("int *", ffi.from_buffer(lab)), lab.size),
                      "seqvid_mmnist_fill")
                return lab
            check(lib.seqvid_mmnist_fill(self.ptr, batch.ptr, ffi.NULL, 0), "seqvid_mmnist_fill")
        return None

    def generate(self, n_steps, n_seqs, labels=False):
        """A new seqvid.Batch of fresh sequences, time-major: ``batch.shape`` and
        ``batch.array.shape`` are both (n_steps, n_seqs, canvas, canvas), ``batch.dtype`` is
        float32, and ``batch.array`` (or ``np.asarray(batch)``) is a zero-copy ndarray view
        (``batch.dims`` is the library's (T, S, D)). Models take the Batch as is. With
        labels=True, returns (batch, labels)."""
        c = self.canvas
        batch = Batch.zeros(n_steps, n_seqs, (c, c))
        lab = self.fill(batch, labels)
        return (batch, lab) if labels else batch

    def batches(self, n_steps, n_seqs):
        """An endless iterator refilling one batch: each item is the same Batch object with
        new contents, so keep copies (batch.array.copy()) of anything you need later."""
        c = self.canvas
        batch = Batch.zeros(n_steps, n_seqs, (c, c))
        while True:
            self.fill(batch)
            yield batch

    @property
    def state(self):
        """The random state as bytes (assign bytes from another generator to restore)."""
        n = ffi.new("size_t *")
        with self._lock:
            check(lib.seqvid_mmnist_state_size(self.ptr, n), "seqvid_mmnist_state_size")
            buf = bytearray(n[0])
            check(lib.seqvid_mmnist_get_state(self.ptr, ffi.from_buffer(buf), len(buf)),
                  "seqvid_mmnist_get_state")
        return bytes(buf)

    @state.setter
    def state(self, data):
        buf = ffi.from_buffer(data)
        with self._lock:
            check(lib.seqvid_mmnist_set_state(self.ptr, buf, len(buf)), "seqvid_mmnist_set_state")

    def __repr__(self):
        if self.closed:
            return "<seqvid.MovingMNIST (closed)>"
        return "<seqvid.MovingMNIST %s>" % ", ".join("%s=%r" % kv for kv in self.to_dict().items())


def _npy_shape(path):
    """The shape in a .npy header (None if it cannot be read here)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(f)
        return tuple(shape)
    except Exception:
        return None


def load_npy(path, layout="time_major"):
    """A new owned Batch from a .npy file of uint8 (scaled by 1/255) or float32 with >= 3
    dims, time-major (T, N, ...) like mnist_test_seq.npy, or "seq_major" (N, T, ...)."""
    layout = _enum_value(Layout, layout, "seqvid.load_npy layout")
    raw = new_handle(lib.seqvid_npy_load, fspath(path), int(layout), ctype="seqvid_batch",
                     name="seqvid_npy_load")
    shape = _npy_shape(path)
    return Batch._from_raw(raw, shape[2:] if shape and len(shape) >= 3 else None)


def load_lengths(path, batch):
    """Set the lengths of `batch` from a 1-D integer .npy file."""
    check(lib.seqvid_npy_load_lengths(fspath(path), batch.ptr), "seqvid_npy_load_lengths")


def save_npy(path, array):
    """Write `array` as a float32 .npy (bool, integer and other floating dtypes are
    converted; the array is copied only if it is not float32 and C-contiguous already).
    Any other dtype -- objects, complex, strings, structured, dates -- raises TypeError
    rather than being coerced."""
    a = np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise TypeError("seqvid.save_npy: cannot save an array of dtype %s; only bool, "
                        "integer and floating arrays are (they are written as float32)"
                        % a.dtype)
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim == 0:
        raise ValueError("seqvid.save_npy: a 0-d array has no shape to save")
    shape = ffi.new("size_t[]", list(a.shape))
    check(lib.seqvid_npy_save(fspath(path), ffi.cast("float *", ffi.from_buffer(a)), a.ndim,
                              shape), "seqvid_npy_save")
