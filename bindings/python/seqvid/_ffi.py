"""Loading libseqvid through cffi (ABI mode), the error type and small helpers shared by the
wrapper classes. Nothing here is public API except Error and the library lookup rules."""
import ctypes.util
import enum
import operator
import os
import sys
import threading

import numpy as np
from cffi import FFI

from ._cdef import CDEF

#: The major version of the C API these bindings are written for (seqvid.h).
BINDING_MAJOR = 1

ffi = FFI()
ffi.cdef(CDEF)


def _candidates():
    """Where to look for the shared library, in order (see the package docstring)."""
    soname = "libseqvid.so.%d" % BINDING_MAJOR
    path = os.environ.get("SEQVID_LIBRARY")
    if path:
        # An explicit choice is final: falling back silently would hide a typo.
        return [path], True
    out = []
    multiarch = getattr(sys.implementation, "_multiarch", None)
    prefix = os.environ.get("SEQVID_PREFIX")
    if prefix:
        for libdir in ["lib"] + (["lib/" + multiarch] if multiarch else []) + ["lib64"]:
            out.append(os.path.join(prefix, libdir, soname))
        return out, True
    here = os.path.dirname(os.path.abspath(__file__))
    # The library the wheel carries (tools/build_backend.py puts it into the package).
    out.append(os.path.join(here, soname))
    # Installed into the library's prefix: <prefix>/lib/python3*/.../seqvid/ next to
    # <prefix>/lib/libseqvid.so.1 or <prefix>/lib/<multiarch>/libseqvid.so.1.
    parts = here.split(os.sep)
    for i in range(len(parts) - 1, 0, -1):
        if parts[i].startswith("python3"):
            libdir = os.sep.join(parts[:i])
            out.append(os.path.join(libdir, soname))
            if multiarch:
                out.append(os.path.join(libdir, multiarch, soname))
            break
    out.append(soname)  # the standard loader: LD_LIBRARY_PATH, ld.so.cache, system dirs
    found = ctypes.util.find_library("seqvid")
    if found and found not in out:
        out.append(found)
    return out, False


def dlopen_first(candidates):
    """The first of `candidates` (paths, or names for the standard loader) that loads, as
    (library, candidate); (None, errors) when none does, one line of why per candidate."""
    errors = []
    for c in candidates:
        if os.sep in c and not os.path.exists(c):
            errors.append("%s: no such file" % c)
            continue
        try:
            return ffi.dlopen(c), c
        except OSError as e:
            errors.append("%s: %s" % (c, e))
    return None, errors


def _load():
    candidates, explicit = _candidates()
    found, errors = dlopen_first(candidates)
    if found is not None:
        return found, errors
    how = ("SEQVID_LIBRARY" if os.environ.get("SEQVID_LIBRARY") else
           "SEQVID_PREFIX" if os.environ.get("SEQVID_PREFIX") else "the standard loader")
    raise ImportError(
        "seqvid: cannot load libseqvid.so.%d via %s.\n  %s\nInstall the package as "
        "bindings/python/README.md says (the wheel carries the library), or set "
        "SEQVID_LIBRARY to the path of libseqvid.so.%d, or SEQVID_PREFIX to its install "
        "prefix." % (BINDING_MAJOR, how, "\n  ".join(errors), BINDING_MAJOR))


lib, library_path = _load()

_linked = lib.seqvid_version_number()
if _linked // 10000 != BINDING_MAJOR:
    raise ImportError("seqvid: %s is version %s; these bindings need major version %d" %
                      (library_path, ffi.string(lib.seqvid_version_string()).decode(),
                       BINDING_MAJOR))


class Status(enum.IntEnum):
    """seqvid_status: the codes carried by seqvid.Error.status."""
    OK = lib.SEQVID_OK
    NULL = lib.SEQVID_ERR_NULL
    ARG = lib.SEQVID_ERR_ARG
    SHAPE = lib.SEQVID_ERR_SHAPE
    OVERFLOW = lib.SEQVID_ERR_OVERFLOW
    NOMEM = lib.SEQVID_ERR_NOMEM
    NONFINITE = lib.SEQVID_ERR_NONFINITE
    IO = lib.SEQVID_ERR_IO
    FORMAT = lib.SEQVID_ERR_FORMAT
    UNSUPPORTED = lib.SEQVID_ERR_UNSUPPORTED
    STATE = lib.SEQVID_ERR_STATE
    BUFFER = lib.SEQVID_ERR_BUFFER


class Error(Exception):
    """A libseqvid call failed.

    Attributes:
        status: the library's status code: a seqvid.Status member (a plain int for a
            status newer than these bindings).
        status_name: the library's name for it ("invalid argument", ...).
        message: the library's detail of the failure (seqvid_last_error()).
        function: the C function that failed.
    """

    def __init__(self, status, message, function=""):
        try:
            self.status = Status(status)
        except ValueError:
            self.status = int(status)
        self.status_name = ffi.string(lib.seqvid_status_string(int(status))).decode()
        self.message = message
        self.function = function
        super().__init__("%s (status %d: %s)" % (message or function, int(status),
                                                 self.status_name))


def check(status, function=""):
    """Raise Error for a non-zero status, with the message of this thread's last failure.
    Must be called on the thread that made the call, right after it (cffi releases the GIL
    during the call but the call and this read happen on the same OS thread)."""
    if status != 0:
        raise Error(status, ffi.string(lib.seqvid_last_error()).decode("utf-8", "replace"),
                    function)


def whole(value, what):
    """`value` as a Python int if it is an integer (int, NumPy integer, anything with
    __index__). A float -- 2.5, and 2.0 too, as NumPy's shapes do -- or a string raises
    TypeError: counts, sizes and indices are never silently truncated."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError("%s must be an integer, got %r" % (what, value)) from None


def fspath(path):
    """A str/bytes/PathLike as the bytes the C library expects."""
    p = os.fsencode(path)
    if b"\0" in p:
        raise ValueError("path contains a NUL byte: %r" % (path,))
    return p


def float_view(ptr, count, shape, keep, readonly=False):
    """A zero-copy float32 ndarray over `count` floats at `ptr`, shaped `shape`.

    The array keeps `keep` (the owning handle, a cffi gc pointer) alive through its base
    chain: array -> ffi.buffer -> pointer -> destructor closure -> keep. So a view stays
    valid even after the Python object it came from was closed or collected; the C object
    is freed when the last view goes."""
    if count == 0:
        arr = np.zeros(shape, dtype=np.float32)
    else:
        anchor = ffi.gc(ffi.cast("float *", ptr), lambda _p, _keep=keep: None)
        arr = np.frombuffer(ffi.buffer(anchor, count * 4), dtype=np.float32).reshape(shape)
    if readonly:
        arr.flags.writeable = False
    return arr


class Handle:
    """Base of the classes that own a C object.

    `_ptr` is a cffi pointer with the library's *_free as destructor (ffi.gc), so the object
    is freed when nothing references the pointer any more -- no __del__ needed, which keeps
    interpreter shutdown safe. close() drops this object's reference: the C object is freed
    at once unless something that depends on it (a numpy view, a generator over a digit set,
    a batch over an array) still holds the pointer; then it is freed when that goes.

    One C object must not be used by two threads at once (seqvid.h, "Thread safety"), and
    cffi releases the GIL during calls, so every call on a handle holds its lock."""

    _ptr = None
    _kind = "object"

    def __init__(self, raw, free):
        self._lock = threading.RLock()
        self._ptr = ffi.gc(raw, free)

    @property
    def ptr(self):
        """The raw cffi pointer; raises ValueError once closed."""
        p = self._ptr
        if p is None:
            raise ValueError("operation on a closed seqvid.%s" % type(self).__name__)
        return p

    @property
    def closed(self):
        return self._ptr is None

    def close(self):
        """Release the C object (see the class docstring for views that outlive it)."""
        self._ptr = None

    def __enter__(self):
        self.ptr  # entering a closed handle is an error
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def new_handle(fn, *args, ctype, name):
    """Call a *_create/*_load style function whose last argument is an output handle and
    return the raw pointer (raises Error on failure)."""
    out = ffi.new(ctype + " **")
    check(fn(*args, out), name)
    return out[0]
