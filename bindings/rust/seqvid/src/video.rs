//! Video files as training data: libseqvid_video (`seqvid_video.h`), decoded by FFmpeg.
//! With the `video` feature (which links `libseqvid_video`).
//!
//! ```no_run
//! use seqvid::video::{Dataset, Split, Video, VideoKey};
//! # fn main() -> seqvid::Result<()> {
//! let mut v = Video::open("clip.mp4")?;
//! v.set(VideoKey::OutWidth, 160.0)?;
//! let (h, w, c) = v.frame_shape()?;
//! let frames = v.read(10)?; // up to 10 * h * w * c floats in [0, 1]
//! let mut ds = Dataset::new("videos/")?;
//! ds.set(VideoKey::Patch, 32.0)?;
//! let mut batch = seqvid::Batch::new(30, 16, 32 * 32)?;
//! ds.next(Split::Train, &mut batch)?;
//! # Ok(())
//! # }
//! ```
use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::sys::video as vs;
use crate::{Batch, Error, Result, Status, cpath, sys};

/// Ok, or the status with libseqvid_video's message of this thread's last failure.
fn check(code: i32) -> Result<()> {
    if code == sys::SEQVID_OK {
        return Ok(());
    }
    // SAFETY: a NUL-terminated thread-local string, never NULL; copied at once.
    let message = unsafe { CStr::from_ptr(vs::seqvid_video_last_error()) }
        .to_string_lossy()
        .into_owned();
    Err(Error::new(Status::from_code(code), message))
}

/// The FFmpeg libraries libseqvid_video runs on.
pub fn ffmpeg_version() -> String {
    // SAFETY: a static NUL-terminated string.
    unsafe { CStr::from_ptr(vs::seqvid_video_ffmpeg_version()) }
        .to_string_lossy()
        .into_owned()
}

/// Keys of a video and a data set (`seqvid_video_key`, `seqvid_video_dataset_key`);
/// seqvid_video.h gives defaults and meanings. Read-only facts are for `get` only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum VideoKey {
    Channels = vs::SEQVID_VIDEO_CHANNELS,
    OutWidth = vs::SEQVID_VIDEO_OUT_WIDTH,
    OutHeight = vs::SEQVID_VIDEO_OUT_HEIGHT,
    CropX = vs::SEQVID_VIDEO_CROP_X,
    CropY = vs::SEQVID_VIDEO_CROP_Y,
    CropWidth = vs::SEQVID_VIDEO_CROP_WIDTH,
    CropHeight = vs::SEQVID_VIDEO_CROP_HEIGHT,
    Stride = vs::SEQVID_VIDEO_STRIDE,
    Patch = vs::SEQVID_VIDEO_PATCH,
    PatchMode = vs::SEQVID_VIDEO_PATCH_MODE,
    Seed = vs::SEQVID_VIDEO_SEED,
    MaxPixels = vs::SEQVID_VIDEO_MAX_PIXELS,
    MaxPackets = vs::SEQVID_VIDEO_MAX_PACKETS,
    Timeout = vs::SEQVID_VIDEO_TIMEOUT,
    MaxFrames = vs::SEQVID_VIDEO_MAX_FRAMES,
    Width = vs::SEQVID_VIDEO_WIDTH,
    Height = vs::SEQVID_VIDEO_HEIGHT,
    Fps = vs::SEQVID_VIDEO_FPS,
    Duration = vs::SEQVID_VIDEO_DURATION,
    FrameCount = vs::SEQVID_VIDEO_FRAME_COUNT,
    FrameCountExact = vs::SEQVID_VIDEO_FRAME_COUNT_EXACT,
    Position = vs::SEQVID_VIDEO_POSITION,
    Damaged = vs::SEQVID_VIDEO_DAMAGED,
    FrameWidth = vs::SEQVID_VIDEO_FRAME_WIDTH,
    FrameHeight = vs::SEQVID_VIDEO_FRAME_HEIGHT,
    FrameDim = vs::SEQVID_VIDEO_FRAME_DIM,
    SeqDim = vs::SEQVID_VIDEO_SEQ_DIM,
    GridCells = vs::SEQVID_VIDEO_GRID_CELLS,
    ValFraction = vs::SEQVID_VIDEO_VAL_FRACTION,
    SplitSeed = vs::SEQVID_VIDEO_SPLIT_SEED,
    Prefetch = vs::SEQVID_VIDEO_PREFETCH,
    Files = vs::SEQVID_VIDEO_FILES,
    TrainFiles = vs::SEQVID_VIDEO_TRAIN_FILES,
    ValFiles = vs::SEQVID_VIDEO_VAL_FILES,
    CacheHits = vs::SEQVID_VIDEO_CACHE_HITS,
    WaitSeconds = vs::SEQVID_VIDEO_WAIT_SECONDS,
}

/// The two splits of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Split {
    /// Training files.
    Train = vs::SEQVID_VIDEO_TRAIN,
    /// Validation files.
    Validation = vs::SEQVID_VIDEO_VALIDATION,
}

/// One video (`seqvid_video`). `Send` (no thread affinity), not `Sync` (one thread at a
/// time per handle).
pub struct Video {
    raw: NonNull<vs::seqvid_video>,
    _buffer: Option<Box<[u8]>>, // the bytes of open_buffer, read in place by the library
}

// SAFETY: seqvid_video.h: distinct handles may be used from distinct threads; one at a time.
unsafe impl Send for Video {}

impl Video {
    /// Open a video file.
    pub fn open(path: impl AsRef<Path>) -> Result<Video> {
        let p = cpath(path.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: p is NUL-terminated; raw is an out pointer.
        check(unsafe { vs::seqvid_video_open(p.as_ptr(), &mut raw) })?;
        Ok(Video {
            raw: NonNull::new(raw).expect("handle on success"),
            _buffer: None,
        })
    }

    /// Open a video held in memory (copied once; the copy lives as long as the handle).
    pub fn open_buffer(data: &[u8]) -> Result<Video> {
        let buf: Box<[u8]> = data.into();
        let mut raw = ptr::null_mut();
        // SAFETY: buf stays alive and unchanged in the returned handle until it is dropped.
        check(unsafe { vs::seqvid_video_open_buffer(buf.as_ptr().cast(), buf.len(), &mut raw) })?;
        Ok(Video {
            raw: NonNull::new(raw).expect("handle on success"),
            _buffer: Some(buf),
        })
    }

    /// Set an option.
    pub fn set(&mut self, key: VideoKey, value: f64) -> Result<()> {
        // SAFETY: a live handle.
        check(unsafe { vs::seqvid_video_set(self.raw.as_ptr(), key as i32, value) })
    }

    /// Read an option or a fact about the video.
    pub fn get(&self, key: VideoKey) -> Result<f64> {
        let mut v = 0.0;
        // SAFETY: a live handle; v is an out pointer.
        check(unsafe { vs::seqvid_video_get(self.raw.as_ptr(), key as i32, &mut v) })?;
        Ok(v)
    }

    /// (height, width, channels) of an output frame.
    pub fn frame_shape(&self) -> Result<(usize, usize, usize)> {
        Ok((
            self.get(VideoKey::FrameHeight)? as usize,
            self.get(VideoKey::FrameWidth)? as usize,
            self.get(VideoKey::Channels)? as usize,
        ))
    }

    fn frame_dim(&self) -> Result<usize> {
        Ok(self.get(VideoKey::FrameDim)? as usize)
    }

    /// Count the frames by reading every packet; the count becomes exact.
    pub fn count_frames(&mut self) -> Result<u64> {
        let mut n = 0u64;
        // SAFETY: a live handle; n is an out pointer.
        check(unsafe { vs::seqvid_video_count_frames(self.raw.as_ptr(), &mut n) })?;
        Ok(n)
    }

    /// The next `n` frames (fewer at the end), each height x width x channels floats.
    pub fn read(&mut self, n: usize) -> Result<Vec<f32>> {
        let dim = self.frame_dim()?;
        let len = n
            .checked_mul(dim)
            .ok_or_else(|| Error::new(Status::Overflow, "read size"))?;
        let mut out = vec![0f32; len];
        let mut got = 0usize;
        // SAFETY: out holds n frames of dim floats.
        check(unsafe { vs::seqvid_video_read(self.raw.as_ptr(), out.as_mut_ptr(), n, &mut got) })?;
        out.truncate(got * dim);
        Ok(out)
    }

    /// Make `frame` the next frame read.
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        // SAFETY: a live handle.
        check(unsafe { vs::seqvid_video_seek(self.raw.as_ptr(), frame) })
    }

    /// Frames start, start + stride, ... (`n_steps` of them, fewer at the end).
    pub fn clip(&mut self, start: u64, n_steps: usize) -> Result<Vec<f32>> {
        let dim = self.frame_dim()?;
        let len = n_steps
            .checked_mul(dim)
            .ok_or_else(|| Error::new(Status::Overflow, "clip size"))?;
        let mut out = vec![0f32; len];
        let mut got = 0usize;
        // SAFETY: out holds n_steps frames of dim floats.
        check(unsafe {
            vs::seqvid_video_clip(
                self.raw.as_ptr(),
                start,
                n_steps,
                out.as_mut_ptr(),
                &mut got,
            )
        })?;
        out.truncate(got * dim);
        Ok(out)
    }

    /// Fill sequences `seq0 .. seq0 + n` of `batch` from the clip at `start`.
    pub fn fill_batch(
        &mut self,
        batch: &mut Batch<'_>,
        seq0: usize,
        n: usize,
        start: u64,
    ) -> Result<()> {
        let b = batch.as_mut_ptr()?;
        // SAFETY: live handles; the batch is writable (as_mut_ptr checked).
        check(unsafe { vs::seqvid_video_fill_batch(self.raw.as_ptr(), b, seq0, n, start) })
    }
}

impl Drop for Video {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and freed once.
        unsafe { vs::seqvid_video_free(self.raw.as_ptr()) }
    }
}

/// A data set over many video files (`seqvid_video_dataset`): a folder, a glob or a list
/// file. `Send`, not `Sync`; it runs one worker thread of its own.
pub struct Dataset {
    raw: NonNull<vs::seqvid_video_dataset>,
}

// SAFETY: as Video; the worker thread is the library's and joined inside its calls.
unsafe impl Send for Dataset {}

impl Dataset {
    /// List the files of `source`.
    pub fn new(source: impl AsRef<Path>) -> Result<Dataset> {
        let p = cpath(source.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: p is NUL-terminated; raw is an out pointer.
        check(unsafe { vs::seqvid_video_dataset_create(p.as_ptr(), &mut raw) })?;
        Ok(Dataset {
            raw: NonNull::new(raw).expect("handle on success"),
        })
    }

    /// Set an option (video keys apply to every file).
    pub fn set(&mut self, key: VideoKey, value: f64) -> Result<()> {
        // SAFETY: a live handle.
        check(unsafe { vs::seqvid_video_dataset_set(self.raw.as_ptr(), key as i32, value) })
    }

    /// Read an option or a count.
    pub fn get(&self, key: VideoKey) -> Result<f64> {
        let mut v = 0.0;
        // SAFETY: a live handle; v is an out pointer.
        check(unsafe { vs::seqvid_video_dataset_get(self.raw.as_ptr(), key as i32, &mut v) })?;
        Ok(v)
    }

    /// A folder for decoded-frame cache files; `None`: no disk cache.
    pub fn cache(&mut self, folder: Option<&Path>) -> Result<()> {
        let c: Option<CString> = folder.map(cpath).transpose()?;
        let p = c.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        // SAFETY: p is NULL or NUL-terminated.
        check(unsafe { vs::seqvid_video_dataset_cache(self.raw.as_ptr(), p) })
    }

    /// Path and split of file `i`.
    pub fn file(&self, i: usize) -> Result<(String, Split)> {
        let mut path = ptr::null();
        let mut split = 0;
        // SAFETY: out pointers; the path stays valid while the data set lives (copied).
        check(unsafe {
            vs::seqvid_video_dataset_file(self.raw.as_ptr(), i, &mut path, &mut split)
        })?;
        let p = unsafe { CStr::from_ptr(path) }
            .to_string_lossy()
            .into_owned();
        Ok((
            p,
            if split == vs::SEQVID_VIDEO_TRAIN {
                Split::Train
            } else {
                Split::Validation
            },
        ))
    }

    /// How decoding file `i` went: `Ok((frames, damaged))` or its error.
    pub fn file_status(&self, i: usize) -> Result<std::result::Result<(u64, u64), Error>> {
        let (mut st, mut msg, mut frames, mut damaged) = (0, ptr::null(), 0u64, 0u64);
        // SAFETY: out pointers; the message lives as long as the data set (copied).
        check(unsafe {
            vs::seqvid_video_dataset_file_status(
                self.raw.as_ptr(),
                i,
                &mut st,
                &mut msg,
                &mut frames,
                &mut damaged,
            )
        })?;
        if st == sys::SEQVID_OK {
            return Ok(Ok((frames, damaged)));
        }
        let m = unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned();
        Ok(Err(Error::new(Status::from_code(st), m)))
    }

    /// Fill every sequence of `batch` from `split`.
    pub fn next(&mut self, split: Split, batch: &mut Batch<'_>) -> Result<()> {
        let b = batch.as_mut_ptr()?;
        // SAFETY: live handles; the batch is writable.
        check(unsafe { vs::seqvid_video_dataset_next(self.raw.as_ptr(), split as i32, b) })
    }

    /// Restart a split's generator.
    pub fn rewind(&mut self, split: Split) -> Result<()> {
        // SAFETY: a live handle.
        check(unsafe { vs::seqvid_video_dataset_rewind(self.raw.as_ptr(), split as i32) })
    }
}

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and freed once (joins the worker).
        unsafe { vs::seqvid_video_dataset_free(self.raw.as_ptr()) }
    }
}
