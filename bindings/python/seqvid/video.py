"""seqvid.video: video files as training data, through libseqvid_video (seqvid_video.h).

A separate shared library (libseqvid_video.so.1, built when FFmpeg's development packages
are there), loaded when this module is imported. It is found, in order:

1. ``SEQVID_VIDEO_LIBRARY``: its path (final: if it cannot be loaded, import fails);
2. next to the libseqvid this package loaded (the build tree and an install prefix both
   keep the two side by side);
3. the standard dynamic loader.

If none works, importing seqvid.video raises ImportError (the rest of seqvid is unaffected).

Quick start::

    from seqvid.video import Video, Dataset
    with Video("clip.mp4", channels=1, out_width=160) as v:
        print(v.width, v.height, v.fps, v.frame_count, v.frame_count_exact)
        frames = v.read(10)                     # (10, H, W) float32 in [0, 1]
        v.seek(100); clip = v.clip(100, 20)     # (n <= 20, H, W)
    ds = Dataset("videos/", patch=32, patch_mode="random", cache="~/.cache/seqvid/frames")
    batch = ds.next("train", n_steps=30, n_seqs=16)   # a seqvid.Batch (T, S, 32*32)

Failures raise seqvid.Error with the message of seqvid_video_last_error().
"""
import os

import numpy as np

from ._core import Batch
from ._ffi import Error, Handle, dlopen_first, ffi, fspath, library_path
from ._video_cdef import CDEF

ffi.cdef(CDEF)


def _load():
    soname = "libseqvid_video.so.1"
    path = os.environ.get("SEQVID_VIDEO_LIBRARY")
    candidates = [path] if path else [os.path.join(os.path.dirname(library_path), soname),
                                      soname]
    found, errors = dlopen_first(candidates)
    if found is not None:
        return found
    raise ImportError("seqvid.video: cannot load %s (built with libseqvid when FFmpeg's "
                      "development packages are found).\n  %s\nSet SEQVID_VIDEO_LIBRARY to "
                      "its path." % (soname, "\n  ".join(errors)))


vlib = _load()

#: Option names (keyword arguments of Video and Dataset) -> seqvid_video_key.
OPTIONS = {
    "channels": vlib.SEQVID_VIDEO_CHANNELS, "out_width": vlib.SEQVID_VIDEO_OUT_WIDTH,
    "out_height": vlib.SEQVID_VIDEO_OUT_HEIGHT, "crop_x": vlib.SEQVID_VIDEO_CROP_X,
    "crop_y": vlib.SEQVID_VIDEO_CROP_Y, "crop_width": vlib.SEQVID_VIDEO_CROP_WIDTH,
    "crop_height": vlib.SEQVID_VIDEO_CROP_HEIGHT, "stride": vlib.SEQVID_VIDEO_STRIDE,
    "patch": vlib.SEQVID_VIDEO_PATCH, "patch_mode": vlib.SEQVID_VIDEO_PATCH_MODE,
    "seed": vlib.SEQVID_VIDEO_SEED, "max_pixels": vlib.SEQVID_VIDEO_MAX_PIXELS,
    "max_packets": vlib.SEQVID_VIDEO_MAX_PACKETS, "timeout": vlib.SEQVID_VIDEO_TIMEOUT,
    "max_frames": vlib.SEQVID_VIDEO_MAX_FRAMES,
}
DATASET_OPTIONS = {
    "val_fraction": vlib.SEQVID_VIDEO_VAL_FRACTION,
    "split_seed": vlib.SEQVID_VIDEO_SPLIT_SEED, "prefetch": vlib.SEQVID_VIDEO_PREFETCH,
}
_PATCH_MODES = {"grid": vlib.SEQVID_VIDEO_PATCH_GRID, "random": vlib.SEQVID_VIDEO_PATCH_RANDOM}
_SPLITS = {"train": vlib.SEQVID_VIDEO_TRAIN, "validation": vlib.SEQVID_VIDEO_VALIDATION}


def _check(status, function):
    if status != 0:
        raise Error(status, ffi.string(vlib.seqvid_video_last_error()).decode("utf-8", "replace"),
                    function)


def ffmpeg_version():
    """The FFmpeg libraries libseqvid_video runs on ("libavformat 59.27.100, ...")."""
    return ffi.string(vlib.seqvid_video_ffmpeg_version()).decode()


def _value(name, value):
    if name == "patch_mode" and isinstance(value, str):
        return _PATCH_MODES[value]
    if isinstance(value, bool):
        return int(value)
    return value


class Video(Handle):
    """One video (seqvid_video): ``Video(path)`` or ``Video(data=bytes_like)``; options as
    keyword arguments (see OPTIONS) or set later with ``set``. Frames are float32 in [0, 1],
    shaped (H, W) for gray and (H, W, 3) for RGB."""

    def __init__(self, path=None, *, data=None, **options):
        if (path is None) == (data is None):
            raise TypeError("seqvid.video.Video: give a path or data=, not both")
        out = ffi.new("seqvid_video **")
        if path is not None:
            _check(vlib.seqvid_video_open(fspath(path), out), "seqvid_video_open")
            keep = None
        else:
            buf = bytes(data)  # an immutable copy that lives as long as the handle
            keep = ffi.from_buffer(buf)
            _check(vlib.seqvid_video_open_buffer(keep, len(buf), out),
                   "seqvid_video_open_buffer")
        super().__init__(out[0], lambda p, _keep=keep: vlib.seqvid_video_free(p))
        for k, v in options.items():
            self.set(k, v)

    def set(self, name, value):
        if name not in OPTIONS:
            raise KeyError("seqvid.video: unknown option %r (one of %s)" % (name, sorted(OPTIONS)))
        with self._lock:
            _check(vlib.seqvid_video_set(self.ptr, OPTIONS[name], float(_value(name, value))),
                   "seqvid_video_set")

    def get(self, key):
        """A value by seqvid_video_key (an int) or option name."""
        key = OPTIONS.get(key, key)
        out = ffi.new("double *")
        with self._lock:
            _check(vlib.seqvid_video_get(self.ptr, int(key), out), "seqvid_video_get")
        return out[0]

    width = property(lambda self: int(self.get(vlib.SEQVID_VIDEO_WIDTH)))
    height = property(lambda self: int(self.get(vlib.SEQVID_VIDEO_HEIGHT)))
    fps = property(lambda self: self.get(vlib.SEQVID_VIDEO_FPS))
    duration = property(lambda self: self.get(vlib.SEQVID_VIDEO_DURATION))
    frame_count = property(lambda self: int(self.get(vlib.SEQVID_VIDEO_FRAME_COUNT)))
    frame_count_exact = property(lambda self: bool(self.get(vlib.SEQVID_VIDEO_FRAME_COUNT_EXACT)))
    position = property(lambda self: int(self.get(vlib.SEQVID_VIDEO_POSITION)))
    damaged = property(lambda self: int(self.get(vlib.SEQVID_VIDEO_DAMAGED)))

    @property
    def frame_shape(self):
        """(H, W) or (H, W, 3) of an output frame."""
        h = int(self.get(vlib.SEQVID_VIDEO_FRAME_HEIGHT))
        w = int(self.get(vlib.SEQVID_VIDEO_FRAME_WIDTH))
        c = int(self.get(vlib.SEQVID_VIDEO_CHANNELS))
        return (h, w) if c == 1 else (h, w, c)

    def count_frames(self):
        """Count the frames by reading every packet (exact); frame_count becomes that."""
        out = ffi.new("uint64_t *")
        with self._lock:
            _check(vlib.seqvid_video_count_frames(self.ptr, out), "seqvid_video_count_frames")
        return int(out[0])

    def read(self, n=1):
        """The next n frames in order: an array (k, *frame_shape), k < n at the end."""
        shape = self.frame_shape
        arr = np.empty((n,) + shape, dtype=np.float32)
        got = ffi.new("size_t *")
        with self._lock:
            _check(vlib.seqvid_video_read(self.ptr, ffi.cast("float *", ffi.from_buffer(arr)),
                                          n, got), "seqvid_video_read")
        return arr[:got[0]]

    def __iter__(self):
        while True:
            f = self.read(1)
            if not len(f):
                return
            yield f[0]

    def seek(self, frame):
        with self._lock:
            _check(vlib.seqvid_video_seek(self.ptr, int(frame)), "seqvid_video_seek")

    def clip(self, start, n_steps):
        """Frames start, start + stride, ... (n_steps of them, fewer at the end)."""
        shape = self.frame_shape
        arr = np.empty((n_steps,) + shape, dtype=np.float32)
        got = ffi.new("size_t *")
        with self._lock:
            _check(vlib.seqvid_video_clip(self.ptr, int(start), n_steps,
                                          ffi.cast("float *", ffi.from_buffer(arr)), got),
                   "seqvid_video_clip")
        return arr[:got[0]]

    def fill_batch(self, batch, start, seq0=0, n=None):
        """Fill sequences seq0 .. seq0+n-1 of a seqvid.Batch from the clip at `start`."""
        if n is None:
            n = batch.shape[1] - seq0
        with self._lock, batch._lock:
            _check(vlib.seqvid_video_fill_batch(self.ptr, batch.ptr, seq0, n, int(start)),
                   "seqvid_video_fill_batch")
        return batch


class Dataset(Handle):
    """Many video files (seqvid_video_dataset): a folder, a glob or a list file (.txt, .lst,
    .list). Options: those of Video plus val_fraction, split_seed, prefetch; ``cache`` is a
    folder for decoded frames."""

    def __init__(self, source, *, cache=None, **options):
        out = ffi.new("seqvid_video_dataset **")
        _check(vlib.seqvid_video_dataset_create(fspath(source), out),
               "seqvid_video_dataset_create")
        super().__init__(out[0], vlib.seqvid_video_dataset_free)
        for k, v in options.items():
            self.set(k, v)
        if cache is not None:
            self.set_cache(cache)

    def set(self, name, value):
        key = OPTIONS.get(name, DATASET_OPTIONS.get(name))
        if key is None:
            raise KeyError("seqvid.video: unknown option %r" % (name,))
        with self._lock:
            _check(vlib.seqvid_video_dataset_set(self.ptr, key, float(_value(name, value))),
                   "seqvid_video_dataset_set")

    def get(self, key):
        key = OPTIONS.get(key, DATASET_OPTIONS.get(key, key))
        out = ffi.new("double *")
        with self._lock:
            _check(vlib.seqvid_video_dataset_get(self.ptr, int(key), out),
                   "seqvid_video_dataset_get")
        return out[0]

    def set_cache(self, folder):
        with self._lock:
            _check(vlib.seqvid_video_dataset_cache(
                self.ptr, ffi.NULL if folder is None else fspath(os.path.expanduser(folder))),
                "seqvid_video_dataset_cache")

    def __len__(self):
        return int(self.get(vlib.SEQVID_VIDEO_FILES))

    def file(self, i):
        """(path, "train" | "validation") of file i."""
        path, split = ffi.new("const char **"), ffi.new("int *")
        with self._lock:
            _check(vlib.seqvid_video_dataset_file(self.ptr, i, path, split),
                   "seqvid_video_dataset_file")
        return os.fsdecode(ffi.string(path[0])), ("train", "validation")[split[0]]

    def file_status(self, i):
        """(status, message, frames, damaged) of file i (status 0 until it fails)."""
        st, msg = ffi.new("int *"), ffi.new("const char **")
        frames, damaged = ffi.new("uint64_t *"), ffi.new("uint64_t *")
        with self._lock:
            _check(vlib.seqvid_video_dataset_file_status(self.ptr, i, st, msg, frames, damaged),
                   "seqvid_video_dataset_file_status")
        return st[0], ffi.string(msg[0]).decode("utf-8", "replace"), frames[0], damaged[0]

    def next(self, split="train", batch=None, *, n_steps=None, n_seqs=None):
        """Fill `batch` (or a new Batch of n_steps x n_seqs x SEQ_DIM) from a split."""
        if batch is None:
            dim = int(self.get(vlib.SEQVID_VIDEO_SEQ_DIM))
            if not dim:
                raise ValueError("seqvid.video.Dataset.next: the frame size is not known yet; "
                                 "set patch, or out_width and out_height, or pass a batch")
            batch = Batch.zeros(n_steps, n_seqs, dim)
        with self._lock, batch._lock:
            _check(vlib.seqvid_video_dataset_next(self.ptr, _SPLITS[split], batch.ptr),
                   "seqvid_video_dataset_next")
        return batch

    def rewind(self, split="validation"):
        with self._lock:
            _check(vlib.seqvid_video_dataset_rewind(self.ptr, _SPLITS[split]),
                   "seqvid_video_dataset_rewind")
