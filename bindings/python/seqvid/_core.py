"""Enums, configuration, sequence batches, models, optimizers and checkpoints."""
import collections
import enum

import numpy as np

from ._ffi import (Error, Handle, Status, check, ffi, float_view, fspath, lib, new_handle,
                   whole)

# ------------------------------------------------------------------------------------------
# Enums (values come from the loaded library's declarations, i.e. from seqvid.h)
# ------------------------------------------------------------------------------------------


class Kind(enum.IntEnum):
    """seqvid_kind: which decoders a model has."""
    AUTOENCODER = lib.SEQVID_AUTOENCODER
    PREDICTOR = lib.SEQVID_PREDICTOR
    COMPOSITE = lib.SEQVID_COMPOSITE


class Output(enum.IntEnum):
    """seqvid_output: BINARY (sigmoid + cross-entropy) or REAL (linear + squared loss)."""
    BINARY = lib.SEQVID_OUTPUT_BINARY
    REAL = lib.SEQVID_OUTPUT_REAL


class Feed(enum.IntEnum):
    """seqvid_feed: what the reconstruction decoder is fed at inference."""
    TRUTH = lib.SEQVID_FEED_TRUTH
    PREDICTION = lib.SEQVID_FEED_PREDICTION


class OptimizerKind(enum.IntEnum):
    """seqvid_optimizer_kind."""
    SGD = lib.SEQVID_OPT_SGD
    RMSPROP = lib.SEQVID_OPT_RMSPROP
    ADAM = lib.SEQVID_OPT_ADAM


class Layout(enum.IntEnum):
    """seqvid_layout of .npy sequence files."""
    TIME_MAJOR = lib.SEQVID_LAYOUT_TIME_MAJOR
    SEQ_MAJOR = lib.SEQVID_LAYOUT_SEQ_MAJOR


def _enum_value(cls, value, what):
    """An enum member from a member, its int value or its (case-insensitive) name."""
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError("%s: unknown %s %r (one of %s)" % (
                what, cls.__name__, value, ", ".join(m.name.lower() for m in cls))) from None
    if isinstance(value, (bool, float)) or not isinstance(value, (int, np.integer)):
        raise TypeError("%s: expected a %s name or member, got %r" % (what, cls.__name__, value))
    try:
        return cls(int(value))
    except ValueError:
        raise ValueError("%s: %r is not a %s" % (what, value, cls.__name__)) from None


def _key_of(names, name):
    """The integer key of `name` in the library's name table `names` (seqvid_key_lookup:
    the library's own names, so the binding does not re-type its tables)."""
    k = ffi.new("int *")
    check(lib.seqvid_key_lookup(names, name.encode(), k), "seqvid_key_lookup")
    return k[0]


def key_name(names, key):
    """The library's name of `key` in the name table `names` (a lib.SEQVID_NAMES_* value),
    or None: seqvid_key_name."""
    p = lib.seqvid_key_name(int(names), int(key))
    return ffi.string(p).decode() if p != ffi.NULL else None


class _Keys:
    """Name <-> integer key tables of the integer-keyed options of an object, with the type
    each value is converted to when read back. The keys come from the library's name table
    `names` (option "input_dim" is the library's "INPUT_DIM"); `extra` adds entries of
    another table as (key, type); `optional` entries (experimental keys, keys of a newer
    library) are there only if the loaded library names them."""

    def __init__(self, what, names, types, extra=None, optional=None):
        self.what = what
        self.table = {n: (_key_of(names, n), t) for n, t in types.items()}
        for n, t in (optional or {}).items():
            k = ffi.new("int *")
            if lib.seqvid_key_lookup(names, n.encode(), k) == 0:
                self.table[n] = (k[0], t)
        self.table.update(extra or {})  # name -> (key, type or IntEnum)
        self.by_key = {k: n for n, (k, _) in self.table.items()}

    def key(self, name):
        if isinstance(name, str):
            try:
                return self.table[name.lower()][0]
            except KeyError:
                raise KeyError("unknown %s option %r (one of %s)" % (
                    self.what, name, ", ".join(self.table))) from None
        if isinstance(name, enum.Enum) or isinstance(name, (int, np.integer)):
            return int(name)  # an integer key (also one a newer library knows)
        raise TypeError("%s option must be a name or an integer key, got %r" % (self.what, name))

    def encode(self, key, value):
        name = self.by_key.get(key)
        typ = self.table[name][1] if name else float
        if isinstance(typ, type) and issubclass(typ, enum.Enum):
            return float(_enum_value(typ, value, name))
        if isinstance(value, str) or not np.isscalar(value) and not isinstance(value, bool):
            raise TypeError("%s option %s: expected a number, got %r" % (self.what, name, value))
        return float(value)

    def decode(self, key, value):
        name = self.by_key.get(key)
        typ = self.table[name][1] if name else float
        if typ is float:
            return value
        if typ is bool:
            return bool(value)
        try:
            return typ(int(value))
        except ValueError:  # an enum value this binding does not know (newer library)
            return int(value)


_CFG = _Keys("config", lib.SEQVID_NAMES_CONFIG, {
    "kind": Kind, "input_dim": int, "hidden": int, "layers": int, "peepholes": bool,
    "input_frames": int, "future_frames": int, "cond_recon": bool, "cond_future": bool,
    "output": Output, "recon_feed": Feed, "seed": int, "init_weight": float,
    "init_peephole": float, "forget_bias": float,
}, optional={
    # experimental (seqvid.h): scheduled sampling, changeable on a model between steps
    "sample_recon": float, "sample_future": float,
})

_OPT = _Keys("optimizer", lib.SEQVID_NAMES_OPTIMIZER, {
    "lr": float, "momentum": float, "weight_decay": float, "update_clip": float,
    "grad_clip": float, "decay": float, "beta1": float, "beta2": float, "eps": float,
})


class _Options:
    """get/set/[] access to the integer-keyed options of a handle."""
    _keys = None
    _get_fn = _set_fn = None

    def get(self, key):
        """The value of an option, by name ("hidden") or integer key."""
        k = self._keys.key(key)
        v = ffi.new("double *")
        with self._lock:
            check(getattr(lib, self._get_fn)(self.ptr, k, v), self._get_fn)
        return self._keys.decode(k, v[0])

    def set(self, key, value):
        """Set an option by name or integer key. Enum options take members, ints or names."""
        k = self._keys.key(key)
        with self._lock:
            check(getattr(lib, self._set_fn)(self.ptr, k, self._keys.encode(k, value)),
                  self._set_fn)

    def __getitem__(self, key):
        return self.get(key)

    def __setitem__(self, key, value):
        self.set(key, value)

    def to_dict(self):
        """All options this binding knows that apply, as {name: value}."""
        out = {}
        for name in self._keys.table:
            try:
                out[name] = self.get(name)
            except Error as e:
                if e.status != Status.ARG:
                    raise
        return out


# ------------------------------------------------------------------------------------------
# Library-wide functions
# ------------------------------------------------------------------------------------------


def version():
    """The linked library's version string "MAJOR.MINOR.PATCH"."""
    return ffi.string(lib.seqvid_version_string()).decode()


def version_number():
    """The linked library's MAJOR*10000 + MINOR*100 + PATCH."""
    return lib.seqvid_version_number()


def backend():
    """The matrix-product backend as (name, kernels, advice), seqvid.h's
    seqvid_experimental_backend (experimental): name "openblas", "reference" or "onednn";
    kernels the kernel set it picked for this CPU ("Haswell", ...); advice None, or the
    OPENBLAS_CORETYPE value to start Python with because OpenBLAS runs its generic
    ("Prescott") kernels on a CPU that has better ones -- about half the speed. OpenBLAS
    reads the variable once, when it is loaded, so it has to be set before Python starts
    (or before anything in the process loads OpenBLAS, numpy included)."""
    name, kernels, advice = (ffi.new("const char **") for _ in range(3))
    check(lib.seqvid_experimental_backend(name, kernels, advice), "seqvid_experimental_backend")
    return (ffi.string(name[0]).decode(), ffi.string(kernels[0]).decode(),
            ffi.string(advice[0]).decode() if advice[0] != ffi.NULL else None)


def status_string(status):
    """The library's short name of a status code."""
    return ffi.string(lib.seqvid_status_string(int(status))).decode()


def set_threads(n):
    """Set the process-wide BLAS thread count (0: all cores). Call it before starting
    threads that use the library, not while they run (seqvid.h, "Thread safety")."""
    check(lib.seqvid_set_threads(int(n)), "seqvid_set_threads")


def get_threads():
    """The process-wide BLAS thread count."""
    return lib.seqvid_get_threads()


def _limit_key(key):
    """A limit key from its name ("idx_bytes", as the header's SEQVID_LIMIT_IDX_BYTES) or
    its integer value."""
    if isinstance(key, str):
        k = getattr(lib, "SEQVID_LIMIT_" + key.upper(), None)
        if k is None:
            raise ValueError("unknown limit %r (the header's SEQVID_LIMIT_* names, e.g. "
                             "'idx_bytes')" % key)
        return k
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
        raise TypeError("limit key: expected a name or an int, got %r" % (key,))
    return int(key)


def set_limit(key, value):
    """Set a process-wide loader limit (seqvid_set_limit), e.g.
    ``seqvid.set_limit("idx_bytes", 2**28)``: the largest IDX image payload Digits will
    inflate. The value must be a whole number in the key's range (seqvid.h)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("set_limit: value must be an int, got %r" % (value,))
    check(lib.seqvid_set_limit(_limit_key(key), float(value)), "seqvid_set_limit")


def get_limit(key):
    """The current value of a loader limit (seqvid_get_limit), as an int."""
    v = ffi.new("double *")
    check(lib.seqvid_get_limit(_limit_key(key), v), "seqvid_get_limit")
    return int(v[0])


# ------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------


class Config(_Options, Handle):
    """A model configuration (seqvid_config): the SR15 Moving MNIST composite defaults,
    changed through keyword arguments or item access::

        cfg = seqvid.Config(kind="predictor", input_dim=64, hidden=32)
        cfg["layers"] = 2

    Options: kind, input_dim, hidden, layers, peepholes, input_frames, future_frames,
    cond_recon, cond_future, output, recon_feed, seed, init_weight, init_peephole,
    forget_bias (see seqvid.h for meanings and defaults), and the experimental
    sample_recon, sample_future (scheduled sampling; a model may change them between
    training steps). Out-of-range values raise seqvid.Error, unknown names KeyError."""
    _keys = _CFG
    _get_fn, _set_fn = "seqvid_config_get", "seqvid_config_set"

    def __init__(self, **options):
        super().__init__(new_handle(lib.seqvid_config_create, ctype="seqvid_config",
                                    name="seqvid_config_create"), lib.seqvid_config_free)
        for k, v in options.items():
            self.set(k, v)

    def __repr__(self):
        if self.closed:
            return "<seqvid.Config (closed)>"
        return "seqvid.Config(%s)" % ", ".join("%s=%r" % kv for kv in self.to_dict().items())


# ------------------------------------------------------------------------------------------
# Batch
# ------------------------------------------------------------------------------------------


def _frame_shape(frame):
    what = "seqvid.Batch: frame shape"
    shape = (whole(frame, what),) if np.isscalar(frame) else tuple(whole(s, what) for s in frame)
    if not shape or any(s < 1 for s in shape):
        raise ValueError("frame shape must be a positive int or tuple of them, got %r" %
                         (frame,))
    return shape


class Batch(Handle):
    """S sequences of T frames, time-major, with per-sequence lengths (seqvid_batch).

    ``Batch(array)`` wraps a NumPy array *without copying*: it must be float32 (native byte
    order), C-contiguous, aligned and shaped (T, S, D) or (T, S, H, W[, ...]) -- element
    [t, s] is frame t of sequence s, as in mnist_test_seq.npy. The batch keeps the array
    alive, and the model reads it where it is, so changes to the array are seen by the next
    call. Anything else raises TypeError (dtype) or ValueError (shape, layout), unless
    ``copy=True`` asks for a converted float32 copy.

    ``layout`` says which axis is which: "time_major" (the default) for (T, S, ...), or
    "seq_major" for (S, T, ...) arrays (batch first), which are copied once into the
    library's time-major order. NumPy cannot tell the two apart from the shape, so pass
    layout="seq_major" for sequences-first data: read as time-major it would be a valid
    batch of other sequences, and every result would be silently wrong.

    A batch is array-like: ``shape`` is ``array.shape``, (T, S) + frame_shape, ``dtype`` is
    float32, and ``np.asarray(batch)`` is the zero-copy view; ``dims`` is the library's
    (T, S, D), D floats per frame.

    ``Batch.zeros(T, S, frame)`` makes a library-owned batch; ``batch.array`` is a
    zero-copy view of its frames either way. ``lengths`` (default: all T) marks frames at
    or past a sequence's length as padding.

    A batch is not locked: any number of models in any threads may read it at once, but do
    not change it (fill, set lengths, write its array) while a model call reads it."""

    def __init__(self, array, lengths=None, *, copy=False, layout="time_major"):
        layout = _enum_value(Layout, layout, "seqvid.Batch layout")
        if layout == Layout.SEQ_MAJOR:
            array = _time_major_copy(array, copy, "seqvid.Batch")
        elif copy:
            array = np.array(array, dtype=np.float32, order="C", copy=True)
        elif not isinstance(array, np.ndarray):
            raise TypeError("seqvid.Batch: expected a numpy.ndarray, got %s (pass copy=True "
                            "to convert)" % type(array).__name__)
        if array.dtype != np.float32:
            raise TypeError(
                "seqvid.Batch: the array must have dtype float32 (native byte order), not %s; "
                "convert with array.astype(np.float32) or pass copy=True" % array.dtype)
        if array.ndim < 3:
            raise ValueError("seqvid.Batch: the array must be time-major (T, S, D) or "
                             "(T, S, H, W) (or, with layout=\"seq_major\", (S, T, ...)), "
                             "got shape %r" % (array.shape,))
        if array.size == 0:
            raise ValueError("seqvid.Batch: empty array of shape %r" % (array.shape,))
        if not array.flags.c_contiguous or not array.flags.aligned:
            raise ValueError(
                "seqvid.Batch: the array must be C-contiguous and aligned to be wrapped "
                "without a copy (a transposed or sliced view is not); use "
                "np.ascontiguousarray(array) or pass copy=True")
        T, S = array.shape[:2]
        D = int(np.prod(array.shape[2:]))
        cbuf = ffi.from_buffer("float[]", array, require_writable=False)
        out = ffi.new("seqvid_batch **")
        check(lib.seqvid_batch_wrap(ffi.cast("float *", cbuf), T, S, D, out),
              "seqvid_batch_wrap")
        # The C batch points into the array: its destructor closure keeps the array alive
        # for as long as anything holds the batch handle.
        super().__init__(out[0], lambda p, _keep=(array, cbuf): lib.seqvid_batch_free(p))
        self._frame = tuple(array.shape[2:])
        self._readonly = not array.flags.writeable
        if lengths is not None:
            self.lengths = lengths

    @classmethod
    def _from_raw(cls, raw, frame_shape=None):
        self = cls.__new__(cls)
        Handle.__init__(self, raw, lib.seqvid_batch_free)
        D = self.dims[2]
        if frame_shape is None or int(np.prod(frame_shape)) != D:
            frame_shape = (D,)
        self._frame = tuple(frame_shape)
        self._readonly = False
        return self

    @classmethod
    def zeros(cls, n_steps, n_seqs, frame):
        """A zero-filled batch owned by the library; `frame` is D or a frame shape (H, W)."""
        shape = _frame_shape(frame)
        raw = new_handle(lib.seqvid_batch_create, whole(n_steps, "seqvid.Batch.zeros: n_steps"),
                         whole(n_seqs, "seqvid.Batch.zeros: n_seqs"),
                         int(np.prod(shape)), ctype="seqvid_batch", name="seqvid_batch_create")
        return cls._from_raw(raw, shape)

    @property
    def dims(self):
        """(T, S, D): steps, sequences, floats per frame (the library's view)."""
        t, s, d = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.seqvid_batch_shape(self.ptr, t, s, d), "seqvid_batch_shape")
        return (t[0], s[0], d[0])

    @property
    def shape(self):
        """(T, S) + frame_shape: the shape of ``array`` (e.g. (20, 16, 64, 64))."""
        T, S, _ = self.dims
        return (T, S) + self._frame

    @property
    def ndim(self):
        return 2 + len(self._frame)

    dtype = np.dtype(np.float32)

    @property
    def n_steps(self):
        return self.dims[0]

    @property
    def n_seqs(self):
        return self.dims[1]

    @property
    def dim(self):
        return self.dims[2]

    @property
    def frame_shape(self):
        """The shape of one frame: (D,), or (H, W) for image batches."""
        return self._frame

    @property
    def readonly(self):
        """True if the batch wraps a read-only array (it cannot be filled)."""
        return self._readonly

    @property
    def array(self):
        """A zero-copy (T, S) + frame_shape float32 view of the frames."""
        T, S, D = self.dims
        p = ffi.new("float **")
        check(lib.seqvid_batch_data(self.ptr, p), "seqvid_batch_data")
        return float_view(p[0], T * S * D, (T, S) + self._frame, self.ptr, self._readonly)

    def __array__(self, dtype=None, copy=None):
        a = self.array
        return a if dtype is None else a.astype(dtype)

    def get_length(self, seq):
        """The valid length of sequence `seq`."""
        n = ffi.new("size_t *")
        check(lib.seqvid_batch_get_length(self.ptr, whole(seq, "seqvid.Batch: seq"), n),
              "seqvid_batch_get_length")
        return n[0]

    def set_length(self, seq, length):
        """Frames t >= length of sequence `seq` are padding (1 <= length <= T)."""
        seq, length = whole(seq, "seqvid.Batch: seq"), whole(length, "seqvid.Batch: length")
        if length < 0 or seq < 0:
            raise ValueError("seqvid.Batch.set_length: negative sequence or length")
        check(lib.seqvid_batch_set_length(self.ptr, seq, length),
              "seqvid_batch_set_length")

    @property
    def lengths(self):
        """Per-sequence valid lengths as an int64 array (a copy); assignable."""
        return np.array([self.get_length(s) for s in range(self.n_seqs)], dtype=np.int64)

    @lengths.setter
    def lengths(self, values):
        values = np.asarray(values)
        S = self.n_seqs
        if values.shape != (S,) or not np.issubdtype(values.dtype, np.integer):
            raise ValueError("seqvid.Batch.lengths: need %d integers, got %r" % (S, values))
        old = self.lengths
        try:
            for s, n in enumerate(values):
                self.set_length(s, n)
        except Exception:
            for s, n in enumerate(old):  # all or nothing
                self.set_length(s, n)
            raise

    def crop(self, y, x, ph, pw, *, height=None, width=None, channels=None):
        """A new owned batch of the ph x pw patch at (y, x) of every frame. The frame
        geometry (height, width, channels; channels innermost) defaults to frame_shape."""
        fs = self._frame
        if height is None or width is None:
            if len(fs) not in (2, 3):
                raise ValueError("seqvid.Batch.crop: frames of shape %r: give height, width "
                                 "(and channels)" % (fs,))
            height, width = fs[0], fs[1]
            if channels is None:
                channels = fs[2] if len(fs) == 3 else 1
        channels = 1 if channels is None else channels
        height, width, channels, y, x, ph, pw = (whole(v, "seqvid.Batch.crop: " + name)
                                                  for v, name in zip(
            (height, width, channels, y, x, ph, pw),
            ("height", "width", "channels", "y", "x", "ph", "pw")))
        raw = new_handle(lib.seqvid_batch_crop, self.ptr, height, width,
                         channels, y, x, ph, pw,
                         ctype="seqvid_batch", name="seqvid_batch_crop")
        return Batch._from_raw(raw, (ph, pw) if channels == 1 else (ph, pw, channels))

    def __repr__(self):
        if self.closed:
            return "<seqvid.Batch (closed)>"
        T, S, _ = self.dims
        return "<seqvid.Batch T=%d S=%d frame=%r>" % (T, S, self._frame)


def _time_major_copy(array, copy, what):
    """A C-contiguous float32 time-major copy of a seq-major (S, T, ...) array."""
    if not copy:
        if not isinstance(array, np.ndarray):
            raise TypeError("%s: expected a numpy.ndarray, got %s (pass copy=True to convert)"
                            % (what, type(array).__name__))
        if array.dtype != np.float32:
            raise TypeError("%s: the array must have dtype float32, not %s; convert with "
                            "array.astype(np.float32) or pass copy=True" % (what, array.dtype))
    array = np.asarray(array, dtype=np.float32)
    if array.ndim < 3:
        raise ValueError("%s: a seq_major array must be (S, T, D) or (S, T, H, W), got shape "
                         "%r" % (what, array.shape))
    return np.ascontiguousarray(array.swapaxes(0, 1))


def as_batch(data, layout="time_major", copy=False):
    """A Batch as is; an ndarray wrapped zero-copy (with Batch's strict checks), or copied
    when copy=True or layout="seq_major"."""
    if isinstance(data, Batch):
        if _enum_value(Layout, layout, "layout") != Layout.TIME_MAJOR:
            raise ValueError("layout=%r: a seqvid.Batch is always time-major; layout applies "
                             "to arrays" % (layout,))
        return data
    if isinstance(data, np.ndarray) or copy:
        return Batch(data, copy=copy, layout=layout)
    raise TypeError("expected a seqvid.Batch or a numpy.ndarray, got %s (pass copy=True to "
                    "convert)" % type(data).__name__)


def _seq_major(out_tm, layout, out, what):
    """A time-major result (T, S, ...) in the caller's layout: as is, or (S, T, ...) (a new
    C-contiguous array, or copied into `out`)."""
    if _enum_value(Layout, layout, "layout") == Layout.TIME_MAJOR:
        return out_tm
    res = out_tm.swapaxes(0, 1)
    if out is None:
        return np.ascontiguousarray(res)
    out = _out_array(out, res.size, res.shape, what)
    out.reshape(res.shape)[...] = res
    return out


def _out_array(out, count, shape, what):
    """A new float32 array of `shape`, or `out` checked to be a writable float32
    C-contiguous array of exactly that many elements (then returned reshaped as a view)."""
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if not isinstance(out, np.ndarray):
        raise TypeError("%s: out must be a numpy.ndarray" % what)
    if out.dtype != np.float32:
        raise TypeError("%s: out must have dtype float32, not %s" % (what, out.dtype))
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("%s: out must be C-contiguous and writable" % what)
    if out.size != count:
        raise ValueError("%s: out has %d elements, %r = %d are needed" % (
            what, out.size, shape, count))
    return out


def _fptr(a):
    return ffi.cast("float *", ffi.from_buffer(a))


# ------------------------------------------------------------------------------------------
# Optimizer
# ------------------------------------------------------------------------------------------


class Optimizer(_Options, Handle):
    """An optimizer (seqvid_optimizer): "sgd" (momentum, L2 decay, update clipping),
    "rmsprop" or "adam", with options lr, momentum, weight_decay, update_clip, grad_clip,
    decay, beta1, beta2, eps (a key that does not apply to the kind raises seqvid.Error)::

        opt = seqvid.Optimizer("adam", lr=1e-3, grad_clip=10)
        opt["lr"] = 3e-4           # between steps, e.g. a schedule

    It binds to the parameter count of the first model it steps."""
    _keys = _OPT
    _get_fn, _set_fn = "seqvid_optimizer_get", "seqvid_optimizer_set"

    def __init__(self, kind="adam", **options):
        kind = _enum_value(OptimizerKind, kind, "seqvid.Optimizer kind")
        raw = new_handle(lib.seqvid_optimizer_create, int(kind), ctype="seqvid_optimizer",
                         name="seqvid_optimizer_create")
        super().__init__(raw, lib.seqvid_optimizer_free)
        self._opt_kind = kind
        for k, v in options.items():
            self.set(k, v)

    @classmethod
    def _from_raw(cls, raw):
        self = cls.__new__(cls)
        Handle.__init__(self, raw, lib.seqvid_optimizer_free)
        self._opt_kind = None
        return self

    @property
    def kind(self):
        """The OptimizerKind (for a loaded optimizer: told by which options apply)."""
        if self._opt_kind is None:
            probe = [(OptimizerKind.SGD, "momentum"), (OptimizerKind.RMSPROP, "decay"),
                     (OptimizerKind.ADAM, "beta1")]
            for kind, key in probe:
                try:
                    self.get(key)
                    self._opt_kind = kind
                    break
                except Error:
                    pass
        return self._opt_kind

    @property
    def steps(self):
        """Updates applied so far (seqvid_optimizer_step_count)."""
        n = ffi.new("uint64_t *")
        with self._lock:
            check(lib.seqvid_optimizer_step_count(self.ptr, n), "seqvid_optimizer_step_count")
        return int(n[0])

    def step(self, model):
        """Apply the model's gradient array (model.grads) to its weights."""
        with model._lock, self._lock:
            check(lib.seqvid_optimizer_step(self.ptr, model.ptr), "seqvid_optimizer_step")

    def __repr__(self):
        if self.closed:
            return "<seqvid.Optimizer (closed)>"
        k = self.kind
        return "<seqvid.Optimizer %s steps=%d>" % (k.name.lower() if k else "?", self.steps)


# ------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------

Losses = collections.namedtuple("Losses", "rec fut")
Losses.__doc__ = """Losses per frame: rec (reconstruction) and fut (future prediction);
a model without the corresponding decoder reports 0. Their sum is the training objective."""

ParamBlock = collections.namedtuple("ParamBlock", "name offset rows cols")


class _Saveable:
    """save/load/to_bytes/from_bytes over the <prefix>_save[_buffer] / _load[_buffer]
    functions of a handle class (models and classifiers)."""
    _c = None  # "seqvid_model" / "seqvid_classifier"

    @classmethod
    def load(cls, path):
        """An object saved with save() (safetensors; see docs/format.md)."""
        fn = cls._c + "_load"
        return cls._from_raw(new_handle(getattr(lib, fn), fspath(path), ctype=cls._c, name=fn))

    @classmethod
    def from_bytes(cls, data):
        """An object from the bytes of to_bytes() (or of a saved file)."""
        fn = cls._c + "_load_buffer"
        buf = ffi.from_buffer(data)
        return cls._from_raw(new_handle(getattr(lib, fn), buf, len(buf), ctype=cls._c, name=fn))

    def save(self, path):
        """Save atomically (the old file or the new one survives a crash)."""
        fn = self._c + "_save"
        with self._lock:
            check(getattr(lib, fn)(self.ptr, fspath(path)), fn)

    def to_bytes(self):
        """The saved form as bytes."""
        fn = self._c + "_save_buffer"
        size = ffi.new("size_t *")
        with self._lock:
            check(getattr(lib, fn)(self.ptr, ffi.NULL, 0, size), fn)
            buf = bytearray(size[0])
            check(getattr(lib, fn)(self.ptr, ffi.from_buffer(buf), len(buf), size), fn)
        return bytes(buf[:size[0]])


class _Arena:
    """The parameter arena (one float array holding every weight block) and its gradient
    twin, as zero-copy NumPy views."""
    _c = None

    def _call(self, what, *args):
        fn = self._c + "_" + what
        check(getattr(lib, fn)(self.ptr, *args), fn)

    @property
    def param_count(self):
        """Number of parameters (floats in the arena)."""
        n = ffi.new("size_t *")
        self._call("param_count", n)
        return n[0]

    def _arena(self, what):
        p = ffi.new("float **")
        with self._lock:
            self._call(what, p)
        n = self.param_count
        return float_view(p[0], n, (n,), self.ptr)

    @property
    def params(self):
        """The weights: a writable zero-copy float32 view of the parameter arena. It stays
        valid (and keeps the object's memory) even after close()."""
        return self._arena("params")

    @property
    def grads(self):
        """The gradient arena of the last gradients() call (zero-copy view). Writing to it
        and then updating applies any gradient, e.g. an average over workers."""
        return self._arena("grads")

    def param_block_info(self):
        """[ParamBlock(name, offset, rows, cols)] of every weight block in the arena."""
        n = ffi.new("size_t *")
        self._call("param_block_count", n)
        name = ffi.new("char **")
        off, rows, cols = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
        blocks = []
        for i in range(n[0]):
            self._call("param_block", i, name, off, rows, cols)
            blocks.append(ParamBlock(ffi.string(name[0]).decode(), off[0], rows[0], cols[0]))
        return blocks

    def _blocks(self, arena):
        out = {}
        for b in self.param_block_info():
            v = arena[b.offset:b.offset + b.rows * b.cols]
            out[b.name] = v if b.cols == 1 else v.reshape(b.rows, b.cols)
        return out

    @property
    def param_blocks(self):
        """{name: zero-copy view} of every weight block ("encoder.0.w_x", ...): (rows, cols)
        matrices, (rows,) vectors."""
        return self._blocks(self.params)

    @property
    def grad_blocks(self):
        """Like param_blocks, over the gradient arena."""
        return self._blocks(self.grads)


class Model(_Saveable, _Arena, _Options, Handle):
    """An LSTM encoder-decoder (seqvid_model): autoencoder, future predictor or composite.

    ``Model(config)`` or ``Model(**options)`` (the Config options, e.g.
    ``Model(kind="composite", input_dim=64*64, hidden=256)``) creates freshly initialised
    weights; ``Model.load(path)`` / ``Model.from_bytes(data)`` restore saved ones.

    Arrays in: a Batch, or a float32 C-contiguous time-major (T, S, ...) ndarray (wrapped
    zero-copy). Every method that takes sequences also takes ``layout="seq_major"`` for
    (S, T, ...) arrays (copied once; per-frame outputs then come back (S, T, ...) too) and
    ``copy=True`` to convert any array-like (see Batch).
    Arrays out: new float32 ndarrays shaped like the batch's frames, or `out=` arrays.
    ``params`` and ``grads`` are zero-copy views of the model's parameter and gradient
    arenas; writing to ``params`` changes the model.

    Calls on one model are serialised by a lock (the library forbids using one model from
    two threads at once); distinct models run in parallel."""
    _keys = _CFG
    _get_fn, _set_fn = "seqvid_model_get", "seqvid_model_set"
    _c = "seqvid_model"

    def __init__(self, config=None, **options):
        own = None
        if config is None:
            config = own = Config(**options)
        elif options:
            config = own = Config(**{**config.to_dict(), **options})
        elif not isinstance(config, Config):
            raise TypeError("seqvid.Model: config must be a seqvid.Config")
        try:
            raw = new_handle(lib.seqvid_model_create, config.ptr, ctype="seqvid_model",
                             name="seqvid_model_create")
        finally:
            if own is not None:
                own.close()
        super().__init__(raw, lib.seqvid_model_free)

    @classmethod
    def _from_raw(cls, raw):
        self = cls.__new__(cls)
        Handle.__init__(self, raw, lib.seqvid_model_free)
        return self

    _WEIGHTS = {"f32": 0, "bf16": 1, "f32-packed": 2}

    @classmethod
    def _weights_value(cls, weights):
        if weights not in cls._WEIGHTS:
            raise ValueError("seqvid.Model: weights must be 'f32', 'bf16' or 'f32-packed', "
                             "not %r" % (weights,))
        return cls._WEIGHTS[weights]

    @classmethod
    def load(cls, path, weights="f32"):
        """A model saved with save(), or the model in a checkpoint. ``weights="bf16"``
        (experimental: seqvid.h's seqvid_experimental_model_load_as) stores the weights as
        bfloat16, rounded as they are read: half the memory, faster one sequence at a time,
        results moved by the rounding. Such a model runs inference only: params, grads,
        training and save raise seqvid.Error (status STATE). ``weights="f32-packed"``
        keeps the float32 weights (everything works as with "f32") plus copies packed
        for batches of up to 64 sequences: faster for those, up to twice the weights'
        memory, results within float32 rounding of "f32"'s."""
        w = cls._weights_value(weights)
        fn = "seqvid_experimental_model_load_as"
        return cls._from_raw(new_handle(lib.seqvid_experimental_model_load_as, fspath(path), w,
                                        ctype="seqvid_model", name=fn))

    @classmethod
    def from_bytes(cls, data, weights="f32"):
        """A model from the bytes of to_bytes() (or of a saved file); weights as in load()."""
        w = cls._weights_value(weights)
        buf = ffi.from_buffer(data)
        fn = "seqvid_experimental_model_load_buffer_as"
        return cls._from_raw(new_handle(lib.seqvid_experimental_model_load_buffer_as, buf,
                                        len(buf), w, ctype="seqvid_model", name=fn))

    @property
    def weights(self):
        """How the weights are stored: "f32", "bf16" or "f32-packed" (see load())."""
        w = ffi.new("int *")
        with self._lock:
            check(lib.seqvid_experimental_model_get_weights(self.ptr, w),
                  "seqvid_experimental_model_get_weights")
        return {v: k for k, v in self._WEIGHTS.items()}[w[0]]

    # ---- options -----------------------------------------------------------------------
    @property
    def kind(self):
        return self.get("kind")

    @property
    def input_dim(self):
        return self.get("input_dim")

    @property
    def hidden(self):
        return self.get("hidden")

    @property
    def layers(self):
        return self.get("layers")

    @property
    def input_frames(self):
        return self.get("input_frames")

    @property
    def future_frames(self):
        return self.get("future_frames")

    @property
    def recon_feed(self):
        """What the reconstruction decoder is fed at inference (the one option that can
        change after creation)."""
        return self.get("recon_feed")

    @recon_feed.setter
    def recon_feed(self, value):
        self.set("recon_feed", value)

    @property
    def config(self):
        """All options as a dict (a Config can be rebuilt with Config(**model.config))."""
        return self.to_dict()

    # ---- training ----------------------------------------------------------------------
    def _losses(self, fn, name, *args):
        rec, fut = ffi.new("float *"), ffi.new("float *")
        check(fn(*args, rec, fut), name)
        return Losses(float(rec[0]), float(fut[0]))

    def gradients(self, batch, *, layout="time_major", copy=False):
        """Forward and backward on a training batch (>= K + M steps): fills ``grads``,
        leaves the weights alone. Returns Losses. ``layout``/``copy``: as for Batch."""
        b = as_batch(batch, layout, copy)
        with self._lock:
            return self._losses(lib.seqvid_model_gradients, "seqvid_model_gradients",
                                self.ptr, b.ptr)

    def train_step(self, optimizer, batch, *, layout="time_major", copy=False):
        """gradients() then optimizer.step(self); on failure nothing changes. Returns the
        Losses before the update. ``layout``/``copy``: as for Batch."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError("seqvid.Model.train_step: expected a seqvid.Optimizer, got %s" %
                            type(optimizer).__name__)
        b = as_batch(batch, layout, copy)
        with self._lock, optimizer._lock:
            return self._losses(lib.seqvid_model_train_step, "seqvid_model_train_step",
                                self.ptr, optimizer.ptr, b.ptr)

    def evaluate(self, batch, teacher_forced=False, *, layout="time_major", copy=False):
        """Losses on a training-shaped batch without any update; decoders are fed as at
        inference unless teacher_forced. ``layout``/``copy``: as for Batch."""
        b = as_batch(batch, layout, copy)
        flags = lib.SEQVID_EVAL_TEACHER_FORCED if teacher_forced else lib.SEQVID_EVAL_INFERENCE
        with self._lock:
            return self._losses(lib.seqvid_model_evaluate, "seqvid_model_evaluate",
                                self.ptr, b.ptr, flags)

    # ---- inference ---------------------------------------------------------------------
    def reconstruct(self, batch, out=None, *, layout="time_major", copy=False):
        """Reconstructions of all valid frames, in input order, shaped like the input:
        (T, S) + frame_shape, or (S, T) + frame_shape with layout="seq_major"; frames past a
        sequence's length are 0. ``copy``: as for Batch."""
        b = as_batch(batch, layout, copy)
        T, S, D = b.dims
        seq = _enum_value(Layout, layout, "layout") == Layout.SEQ_MAJOR
        res = _out_array(None if seq else out, T * S * D, (T, S) + b.frame_shape,
                         "seqvid.Model.reconstruct")
        with self._lock:
            check(lib.seqvid_model_reconstruct(self.ptr, b.ptr, _fptr(res), res.size),
                  "seqvid_model_reconstruct")
        return _seq_major(res, layout, out, "seqvid.Model.reconstruct")

    def predict(self, batch, n_future, out=None, *, layout="time_major", copy=False):
        """The `n_future` frames after each sequence's last valid frame, shaped
        (n_future, S) + frame_shape, or (S, n_future) + frame_shape with
        layout="seq_major" (the layout of the input). ``copy``: as for Batch."""
        b = as_batch(batch, layout, copy)
        _, S, D = b.dims
        n = whole(n_future, "seqvid.Model.predict: n_future")
        if n < 1:
            raise ValueError("seqvid.Model.predict: n_future must be >= 1, got %r" % n_future)
        seq = _enum_value(Layout, layout, "layout") == Layout.SEQ_MAJOR
        res = _out_array(None if seq else out, n * S * D, (n, S) + b.frame_shape,
                         "seqvid.Model.predict")
        with self._lock:
            check(lib.seqvid_model_predict(self.ptr, b.ptr, n, _fptr(res), res.size),
                  "seqvid_model_predict")
        return _seq_major(res, layout, out, "seqvid.Model.predict")

    def encode(self, batch, out=None, *, layout="time_major", copy=False):
        """The representation of each sequence: (S, feature_dim), per encoder layer l the
        final h (columns l*2H .. l*2H+H-1) then c. ``layout``/``copy``: as for Batch."""
        b = as_batch(batch, layout, copy)
        S = b.n_seqs
        F = self.feature_dim
        out = _out_array(out, S * F, (S, F), "seqvid.Model.encode")
        with self._lock:
            check(lib.seqvid_model_encode(self.ptr, b.ptr, _fptr(out), out.size),
                  "seqvid_model_encode")
        return out

    @property
    def feature_dim(self):
        """Length of a representation: 2 * layers * hidden."""
        n = ffi.new("size_t *")
        check(lib.seqvid_model_feature_dim(self.ptr, n), "seqvid_model_feature_dim")
        return n[0]

    def stream(self, n_seqs=1):
        """A Stream encoding n_seqs parallel sequences frame by frame with this model."""
        return Stream(self, n_seqs)

    def __repr__(self):
        if self.closed:
            return "<seqvid.Model (closed)>"
        return "<seqvid.Model %s D=%d H=%d L=%d params=%d>" % (
            self.kind.name.lower(), self.input_dim, self.hidden, self.layers, self.param_count)


class Stream(Handle):
    """A streaming encoder (seqvid_stream): frames arrive one at a time (a camera, a long
    video); after frames x_0..x_t were pushed, ``features()`` equals Model.encode of those
    t+1 frames::

        with model.stream(n_seqs=1) as s:
            for frame in camera:          # (1, D) or (1, H, W) float32 arrays
                s.push(frame)
                f = s.features()          # (1, feature_dim)

    The stream reads the model's weights: it keeps the model's memory alive, and shares the
    model's lock, so the two are never used from two threads at once."""

    def __init__(self, model, n_seqs=1):
        if not isinstance(model, Model):
            raise TypeError("seqvid.Stream: expected a seqvid.Model, got %s" %
                            type(model).__name__)
        mptr = model.ptr
        with model._lock:
            n_seqs = whole(n_seqs, "seqvid.Stream: n_seqs")
            raw = new_handle(lib.seqvid_stream_create, mptr, n_seqs,
                             ctype="seqvid_stream", name="seqvid_stream_create")
        Handle.__init__(self, raw, lambda p, _keep=mptr: lib.seqvid_stream_free(p))
        self._lock = model._lock
        self.n_seqs = int(n_seqs)
        self.dim = model.input_dim
        self.feature_dim = model.feature_dim

    def push(self, frames):
        """Encode the next frame of every sequence: a float32 C-contiguous array of
        n_seqs * D values, shaped (n_seqs, D), (n_seqs, H, W) or, for one sequence, (D,)
        or (H, W). NaN/Inf raise seqvid.Error (NONFINITE) and leave the state unchanged."""
        if not isinstance(frames, np.ndarray):
            raise TypeError("seqvid.Stream.push: expected a numpy.ndarray, got %s" %
                            type(frames).__name__)
        if frames.dtype != np.float32:
            raise TypeError("seqvid.Stream.push: frames must have dtype float32, not %s" %
                            frames.dtype)
        if not frames.flags.c_contiguous:
            raise ValueError("seqvid.Stream.push: frames must be C-contiguous")
        need = self.n_seqs * self.dim
        if frames.size != need or (frames.ndim > 1 and frames.shape[0] != self.n_seqs
                                   and self.n_seqs > 1):
            raise ValueError("seqvid.Stream.push: need %d sequences x %d values, got shape %r" %
                             (self.n_seqs, self.dim, frames.shape))
        with self._lock:
            check(lib.seqvid_stream_push(self.ptr, _fptr(frames), frames.size),
                  "seqvid_stream_push")

    def features(self, out=None):
        """The (n_seqs, feature_dim) representation after the frames pushed so far."""
        out = _out_array(out, self.n_seqs * self.feature_dim, (self.n_seqs, self.feature_dim),
                         "seqvid.Stream.features")
        with self._lock:
            check(lib.seqvid_stream_features(self.ptr, _fptr(out), out.size),
                  "seqvid_stream_features")
        return out

    def reset(self):
        """Back to the zero state, for new sequences."""
        with self._lock:
            check(lib.seqvid_stream_reset(self.ptr), "seqvid_stream_reset")


# ------------------------------------------------------------------------------------------
# Classifier
# ------------------------------------------------------------------------------------------

_STACK_KEYS = ("input_dim", "hidden", "layers", "peepholes", "seed", "init_weight",
               "init_peephole", "forget_bias")

_CLS = _Keys("classifier", lib.SEQVID_NAMES_CLASSIFIER, {
    "dropout": float, "freeze_steps": int, "dropout_seed": int, "classes": int,
}, extra={k: _CFG.table[k] for k in _STACK_KEYS})

_CLS_SETTINGS = ("dropout", "freeze_steps", "dropout_seed")

Score = collections.namedtuple("Score", "loss accuracy")
Score.__doc__ = """A classifier's loss (nats per valid step) and accuracy (the fraction of
sequences whose clip prediction, the mean of the per-step probabilities, is right)."""


def _labels(labels, what):
    """Labels as an int32 C array (a small copy): one class id per sequence."""
    a = np.asarray(labels)
    if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise TypeError("%s: labels must be a 1-D sequence of integer class ids, got %s %r" %
                        (what, a.dtype, a.shape))
    if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
        raise ValueError("%s: labels out of the int range" % what)
    a = np.ascontiguousarray(a, dtype=np.int32)
    return a, ffi.cast("int *", ffi.from_buffer(a))


class Classifier(_Saveable, _Arena, _Options, Handle):
    """An LSTM stack with a softmax readout at every step (seqvid_classifier): SR15's
    supervised use of the learned representations (e.g. action recognition).

    ``Classifier(n_classes, input_dim=..., hidden=...)`` (stack options of Config, plus the
    settings dropout, freeze_steps, dropout_seed) starts from random weights;
    ``Classifier.from_encoder(model, n_classes)`` copies a trained model's encoder (the
    pretrained initialisation). Labels are class ids 0..C-1, one per sequence::

        clf = seqvid.Classifier.from_encoder(model, 10, dropout=0.5, freeze_steps=100)
        score = clf.train_step(opt, batch, labels)     # Score(loss=..., accuracy=...)
        probs = clf.predict(batch)                      # (S, C)

    Calls on one classifier are serialised by a lock, as for models."""
    _keys = _CLS
    _get_fn, _set_fn = "seqvid_classifier_get", "seqvid_classifier_set"
    _c = "seqvid_classifier"

    def __init__(self, n_classes, config=None, **options):
        settings = {k: options.pop(k) for k in _CLS_SETTINGS if k in options}
        own = None
        if config is None:
            config = own = Config(**options)
        elif options:
            config = own = Config(**{**config.to_dict(), **options})
        elif not isinstance(config, Config):
            raise TypeError("seqvid.Classifier: config must be a seqvid.Config")
        try:
            n = whole(n_classes, "seqvid.Classifier: n_classes")
            raw = new_handle(lib.seqvid_classifier_create, config.ptr, n,
                             ctype="seqvid_classifier", name="seqvid_classifier_create")
        finally:
            if own is not None:
                own.close()
        Handle.__init__(self, raw, lib.seqvid_classifier_free)
        for k, v in settings.items():
            self.set(k, v)

    @classmethod
    def _from_raw(cls, raw):
        self = cls.__new__(cls)
        Handle.__init__(self, raw, lib.seqvid_classifier_free)
        return self

    @classmethod
    def from_encoder(cls, model, n_classes, **settings):
        """A classifier whose stack is a copy of `model`'s encoder and whose readout is
        fresh; settings: dropout, freeze_steps, dropout_seed."""
        if not isinstance(model, Model):
            raise TypeError("seqvid.Classifier.from_encoder: expected a seqvid.Model")
        n = whole(n_classes, "seqvid.Classifier: n_classes")
        with model._lock:
            raw = new_handle(lib.seqvid_classifier_create_from_encoder, model.ptr,
                             n, ctype="seqvid_classifier",
                             name="seqvid_classifier_create_from_encoder")
        self = cls._from_raw(raw)
        for k, v in settings.items():
            self.set(k, v)
        return self

    def copy_encoder(self, model):
        """Overwrite the stack with `model`'s encoder weights (the sizes must agree)."""
        with model._lock, self._lock:
            check(lib.seqvid_classifier_copy_encoder(self.ptr, model.ptr),
                  "seqvid_classifier_copy_encoder")

    @property
    def n_classes(self):
        return self.get("classes")

    def _score(self, fn, batch, labels, *pre, layout="time_major", copy=False):
        b = as_batch(batch, layout, copy)
        name = "seqvid_classifier_" + fn
        lab, lp = _labels(labels, "seqvid.Classifier." + fn)
        loss, acc = ffi.new("float *"), ffi.new("float *")
        check(getattr(lib, name)(self.ptr, *pre, b.ptr, lp, lab.size, loss, acc), name)
        return Score(float(loss[0]), float(acc[0]))

    def gradients(self, batch, labels, *, layout="time_major", copy=False):
        """Forward and backward (with dropout): fills ``grads``, leaves the weights.
        ``layout``/``copy``: as for Batch."""
        with self._lock:
            return self._score("gradients", batch, labels, layout=layout, copy=copy)

    def update(self, optimizer):
        """Apply ``grads`` with `optimizer`, honouring freeze_steps."""
        with self._lock, optimizer._lock:
            check(lib.seqvid_classifier_update(self.ptr, optimizer.ptr),
                  "seqvid_classifier_update")

    def train_step(self, optimizer, batch, labels, *, layout="time_major", copy=False):
        """gradients() then update(); on failure nothing changes. Returns the Score before
        the update. ``layout``/``copy``: as for Batch."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError("seqvid.Classifier.train_step: expected a seqvid.Optimizer")
        with self._lock, optimizer._lock:
            return self._score("train_step", batch, labels, optimizer.ptr, layout=layout,
                               copy=copy)

    def evaluate(self, batch, labels, *, layout="time_major", copy=False):
        """Score without dropout and without any update. ``layout``/``copy``: as for
        Batch."""
        with self._lock:
            return self._score("evaluate", batch, labels, layout=layout, copy=copy)

    def predict(self, batch, out=None, *, layout="time_major", copy=False):
        """(S, C) class probabilities of every sequence, averaged over its valid steps.
        ``layout``/``copy``: as for Batch."""
        b = as_batch(batch, layout, copy)
        S, C = b.n_seqs, self.n_classes
        out = _out_array(out, S * C, (S, C), "seqvid.Classifier.predict")
        with self._lock:
            check(lib.seqvid_classifier_predict(self.ptr, b.ptr, _fptr(out), out.size),
                  "seqvid_classifier_predict")
        return out

    def classify(self, batch, *, layout="time_major", copy=False):
        """The most likely class of every sequence (ties: the lowest), as int64."""
        return np.argmax(self.predict(batch, layout=layout, copy=copy), axis=1)

    def __repr__(self):
        if self.closed:
            return "<seqvid.Classifier (closed)>"
        return "<seqvid.Classifier C=%d D=%d H=%d L=%d params=%d>" % (
            self.n_classes, self.get("input_dim"), self.get("hidden"), self.get("layers"),
            self.param_count)


# ------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------


def save_checkpoint(path, model, optimizer, generator=None, step=0):
    """Save model, optimizer state, step count and (if given) a MovingMNIST generator's
    random state atomically. Resuming from it trains on bit-identically."""
    if not isinstance(model, Model) or not isinstance(optimizer, Optimizer):
        raise TypeError("seqvid.save_checkpoint: expected a Model and an Optimizer")
    gen = generator.ptr if generator is not None else ffi.NULL
    if int(step) < 0:
        raise ValueError("seqvid.save_checkpoint: step must be >= 0")
    with model._lock, optimizer._lock:
        check(lib.seqvid_checkpoint_save(fspath(path), model.ptr, optimizer.ptr, gen,
                                         int(step)), "seqvid_checkpoint_save")


def load_checkpoint(path, generator=None):
    """(model, optimizer, step) from a checkpoint; if `generator` is given, its random
    state is restored too (seqvid.Error with status FORMAT if the file holds none)."""
    m = ffi.new("seqvid_model **")
    o = ffi.new("seqvid_optimizer **")
    step = ffi.new("uint64_t *")
    gen = generator.ptr if generator is not None else ffi.NULL
    if generator is not None:
        with generator._lock:
            check(lib.seqvid_checkpoint_load(fspath(path), m, o, gen, step),
                  "seqvid_checkpoint_load")
    else:
        check(lib.seqvid_checkpoint_load(fspath(path), m, o, gen, step),
              "seqvid_checkpoint_load")
    return Model._from_raw(m[0]), Optimizer._from_raw(o[0]), int(step[0])


def save_classifier_checkpoint(path, classifier, optimizer, step=0):
    """Save a classifier, its optimizer's state, the step count and the position of its
    dropout stream atomically (seqvid_classifier_checkpoint_save). Resuming from it trains on
    bit-identically."""
    if not isinstance(classifier, Classifier) or not isinstance(optimizer, Optimizer):
        raise TypeError("seqvid.save_classifier_checkpoint: expected a Classifier and an "
                        "Optimizer")
    if int(step) < 0:
        raise ValueError("seqvid.save_classifier_checkpoint: step must be >= 0")
    with classifier._lock, optimizer._lock:
        check(lib.seqvid_classifier_checkpoint_save(fspath(path), classifier.ptr,
                                                    optimizer.ptr, int(step)),
              "seqvid_classifier_checkpoint_save")


def load_classifier_checkpoint(path):
    """(classifier, optimizer, step) from a classifier checkpoint
    (seqvid_classifier_checkpoint_load)."""
    c = ffi.new("seqvid_classifier **")
    o = ffi.new("seqvid_optimizer **")
    step = ffi.new("uint64_t *")
    check(lib.seqvid_classifier_checkpoint_load(fspath(path), c, o, step),
          "seqvid_classifier_checkpoint_load")
    return Classifier._from_raw(c[0]), Optimizer._from_raw(o[0]), int(step[0])
