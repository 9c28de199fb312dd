"""seqvid: Python bindings of libseqvid, LSTM encoder-decoders that learn video
representations (Srivastava, Mansimov & Salakhutdinov, ICML 2015).

A thin, zero-copy layer over the C library's public API (seqvid.h) through cffi in ABI
mode. An installed package carries its own shared library, seqvid/libseqvid.so.1, built
with CMake when the wheel was built (bindings/python/README.md), so importing it needs no
environment variable. The library is loaded from, in order:

1. ``SEQVID_LIBRARY``: the path of a shared library (e.g. build/libseqvid.so.1), if set;
2. ``SEQVID_PREFIX``: an install prefix (its lib/, lib/<multiarch>/ or lib64/), if set;
3. the library inside this package (an installed wheel);
4. the library next to this package when both are installed into the same prefix;
5. the standard dynamic loader (LD_LIBRARY_PATH, ld.so.cache), then
   ctypes.util.find_library("seqvid").

The first two override the bundled library and are final: if the file named there cannot
be loaded, import fails. ``seqvid.library_path`` tells which file was loaded.

Quick start::

    import numpy as np, seqvid
    x = np.random.rand(20, 8, 64).astype(np.float32)    # (T, S, D), time-major
    with seqvid.Model(kind="composite", input_dim=64, hidden=32,
                      input_frames=10, future_frames=10) as model, \\
         seqvid.Optimizer("adam", lr=1e-3) as opt:
        for _ in range(10):
            loss = model.train_step(opt, x)               # Losses(rec=..., fut=...)
        future = model.predict(x[:10], 10)               # (10, 8, 64)

Failures of the library raise seqvid.Error (with .status, .status_name and .message);
arrays of the wrong dtype, shape or memory layout raise TypeError or ValueError before
the library is called.
"""
from ._ffi import BINDING_MAJOR, Error, library_path
from ._core import (Batch, Classifier, Config, Feed, Kind, Layout, Losses, Model,
                    Optimizer, OptimizerKind, Output, ParamBlock, Score, Status, Stream,
                    backend, get_limit, get_threads, key_name, load_checkpoint,
                    load_classifier_checkpoint, save_checkpoint, save_classifier_checkpoint,
                    set_limit, set_threads, status_string,
                    version, version_number)
from .data import Digits, MovingMNIST, load_lengths, load_npy, save_npy

__version__ = "1.1.0"


def _warn_generic_kernels():
    # OpenBLAS before 0.3.25 gives Intel CPUs it does not know its generic kernels; the
    # library cannot change that once OpenBLAS is loaded, so say it once, here.
    import os
    import warnings
    try:
        name, kernels, advice = backend()
    except AttributeError:  # a library older than seqvid_experimental_backend
        return
    if advice and "OPENBLAS_CORETYPE" not in os.environ:
        warnings.warn(
            "seqvid: OpenBLAS runs its generic %s kernels on this CPU (an OpenBLAS too old to "
            "know it); training and encoding run about twice as fast when Python is started "
            "with OPENBLAS_CORETYPE=%s in the environment" % (kernels, advice),
            RuntimeWarning, stacklevel=3)


_warn_generic_kernels()

__all__ = [
    "BINDING_MAJOR", "Batch", "Classifier", "Config", "Digits", "Error", "Feed", "Kind",
    "Layout", "Losses", "Model", "MovingMNIST", "Optimizer", "OptimizerKind", "Output", "ParamBlock", "Score",
    "Status", "Stream", "backend", "get_limit", "get_threads", "key_name", "library_path", "load_checkpoint",
    "load_classifier_checkpoint", "load_lengths", "load_npy", "save_checkpoint",
    "save_classifier_checkpoint", "save_npy", "set_limit", "set_threads", "status_string", "version",
    "version_number",
]
