"""seqvid.video (libseqvid_video) from Python: skipped when the library is not there."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import seqvid

video = pytest.importorskip("seqvid.video", reason="libseqvid_video is not installed")

HERE = os.path.dirname(os.path.abspath(__file__))
T, H, W = 12, 24, 32


def frames():
    t, y, x = np.meshgrid(np.arange(T), np.arange(H), np.arange(W), indexing="ij")
    return ((x * 5 + y * 3 + t * 11) % 256).astype(np.uint8)


@pytest.fixture(scope="module")
def ffv1(tmp_path_factory):
    if not shutil.which("ffmpeg"):
        pytest.skip("the ffmpeg program is needed to write a test video")
    d = tmp_path_factory.mktemp("video")
    raw = d / "raw.gray"
    frames().tofile(raw)
    out = d / "gray.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s",
                    "%dx%d" % (W, H), "-r", "10", "-i", str(raw), "-c:v", "ffv1", str(out)],
                   check=True)
    return out


def test_cdef_matches_header():
    sys.path.insert(0, os.path.join(HERE, "..", "tools"))
    import gen_cdef
    header = os.environ.get("SEQVID_VIDEO_HEADER",
                            os.path.join(HERE, "..", "..", "..", "include", "seqvid_video.h"))
    if not os.path.exists(header):
        pytest.skip("seqvid_video.h not found (set SEQVID_VIDEO_HEADER)")
    from seqvid._video_cdef import CDEF
    with open(header) as f:
        assert gen_cdef.header_to_cdef(f.read()) == CDEF.strip().splitlines()
    for name in gen_cdef.functions(CDEF.strip().splitlines()):
        getattr(video.vlib, name)  # exported by the library


def test_read_exact_seek_clip(ffv1):
    want = frames().astype(np.float32) / np.float32(255)
    with video.Video(ffv1) as v:
        assert (v.width, v.height, v.fps) == (W, H, 10)
        assert v.count_frames() == T and v.frame_count_exact
        got = v.read(T + 3)
        assert got.shape == (T, H, W)
        np.testing.assert_array_equal(got, want)
        v.seek(5)
        assert v.position == 5
        np.testing.assert_array_equal(v.read(1)[0], want[5])
        v.set("stride", 2)
        np.testing.assert_array_equal(v.clip(3, 10), want[3::2])  # 5 frames: short clip
        assert v.damaged == 0
        with pytest.raises(KeyError):
            v.set("bogus", 1)
        with pytest.raises(seqvid.Error) as e:
            v.set("channels", 2)
        assert e.value.status == seqvid.Status.ARG and "CHANNELS" in e.value.message
    assert "libavformat" in video.ffmpeg_version()


def test_memory_buffer_rgb_resize(ffv1):
    data = open(ffv1, "rb").read()
    with video.Video(data=data, channels=3, out_width=W // 2) as v:
        f = v.read(1)
        assert f.shape == (1, H // 2, W // 2, 3)
        assert 0 <= f.min() and f.max() <= 1


def test_batch_and_dataset(ffv1, tmp_path):
    with video.Video(ffv1, patch=8, patch_mode="grid") as v:
        b = seqvid.Batch.zeros(4, 3, 64)
        v.fill_batch(b, start=10)  # 2 frames left: lengths 2
        assert list(b.lengths) == [2, 2, 2]
        np.testing.assert_array_equal(b.array[0, 1].reshape(8, 8),
                                      frames()[10, :8, 8:16] / np.float32(255))
    folder = tmp_path / "set"
    folder.mkdir()
    for name in ("a.mkv", "b.mkv", "c.mkv"):
        shutil.copy(ffv1, folder / name)
    ds = video.Dataset(str(folder), patch=16, patch_mode="random", val_fraction=0,
                       cache=str(tmp_path / "cache"))
    assert len(ds) == 3 and ds.file(0)[1] == "train"
    batch = ds.next("train", n_steps=6, n_seqs=4)
    assert batch.shape == (6, 4, 256)
    assert ds.file_status(0)[0] == 0
    with pytest.raises(seqvid.Error) as e:
        ds.next("validation", batch)
    assert e.value.status == seqvid.Status.STATE


def test_errors(tmp_path):
    with pytest.raises(seqvid.Error) as e:
        video.Video(tmp_path / "missing.mp4")
    assert e.value.status == seqvid.Status.IO and "missing.mp4" in e.value.message
    with pytest.raises(seqvid.Error) as e:
        video.Video(data=os.urandom(5000))
    assert e.value.status == seqvid.Status.FORMAT
