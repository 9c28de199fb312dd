//! Raw FFI declarations of `seqvid_video.h` (libseqvid_video: video files through FFmpeg),
//! major version 1. Behind the `video` feature, which links `libseqvid_video` (found in the
//! same folder as libseqvid: `SEQVID_LIB_DIR` or pkg-config, see build.rs). Hand-written in
//! the header's order; see `seqvid_video.h` for every function's contract.
use core::ffi::{c_char, c_double, c_int, c_void};
use core::marker::{PhantomData, PhantomPinned};

use crate::seqvid_batch;

/// One open video (`seqvid_video`).
#[repr(C)]
pub struct seqvid_video {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}
/// A data set over many video files (`seqvid_video_dataset`).
#[repr(C)]
pub struct seqvid_video_dataset {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// ---- seqvid_video_patch_mode ------------------------------------------------------------
pub type seqvid_video_patch_mode = c_int;
pub const SEQVID_VIDEO_PATCH_GRID: c_int = 0;
pub const SEQVID_VIDEO_PATCH_RANDOM: c_int = 1;

// ---- seqvid_video_key -------------------------------------------------------------------
pub type seqvid_video_key = c_int;
pub const SEQVID_VIDEO_CHANNELS: c_int = 1;
pub const SEQVID_VIDEO_OUT_WIDTH: c_int = 2;
pub const SEQVID_VIDEO_OUT_HEIGHT: c_int = 3;
pub const SEQVID_VIDEO_CROP_X: c_int = 4;
pub const SEQVID_VIDEO_CROP_Y: c_int = 5;
pub const SEQVID_VIDEO_CROP_WIDTH: c_int = 6;
pub const SEQVID_VIDEO_CROP_HEIGHT: c_int = 7;
pub const SEQVID_VIDEO_STRIDE: c_int = 8;
pub const SEQVID_VIDEO_PATCH: c_int = 9;
pub const SEQVID_VIDEO_PATCH_MODE: c_int = 10;
pub const SEQVID_VIDEO_SEED: c_int = 11;
pub const SEQVID_VIDEO_MAX_PIXELS: c_int = 12;
pub const SEQVID_VIDEO_MAX_PACKETS: c_int = 13;
pub const SEQVID_VIDEO_TIMEOUT: c_int = 14;
pub const SEQVID_VIDEO_MAX_FRAMES: c_int = 15;
pub const SEQVID_VIDEO_WIDTH: c_int = 32;
pub const SEQVID_VIDEO_HEIGHT: c_int = 33;
pub const SEQVID_VIDEO_FPS: c_int = 34;
pub const SEQVID_VIDEO_DURATION: c_int = 35;
pub const SEQVID_VIDEO_FRAME_COUNT: c_int = 36;
pub const SEQVID_VIDEO_FRAME_COUNT_EXACT: c_int = 37;
pub const SEQVID_VIDEO_POSITION: c_int = 38;
pub const SEQVID_VIDEO_DAMAGED: c_int = 39;
pub const SEQVID_VIDEO_FRAME_WIDTH: c_int = 40;
pub const SEQVID_VIDEO_FRAME_HEIGHT: c_int = 41;
pub const SEQVID_VIDEO_FRAME_DIM: c_int = 42;
pub const SEQVID_VIDEO_SEQ_DIM: c_int = 43;
pub const SEQVID_VIDEO_GRID_CELLS: c_int = 44;

// ---- seqvid_video_split, seqvid_video_dataset_key ---------------------------------------
pub type seqvid_video_split = c_int;
pub const SEQVID_VIDEO_TRAIN: c_int = 0;
pub const SEQVID_VIDEO_VALIDATION: c_int = 1;
pub type seqvid_video_dataset_key = c_int;
pub const SEQVID_VIDEO_VAL_FRACTION: c_int = 64;
pub const SEQVID_VIDEO_SPLIT_SEED: c_int = 65;
pub const SEQVID_VIDEO_PREFETCH: c_int = 66;
pub const SEQVID_VIDEO_FILES: c_int = 67;
pub const SEQVID_VIDEO_TRAIN_FILES: c_int = 68;
pub const SEQVID_VIDEO_VAL_FILES: c_int = 69;
pub const SEQVID_VIDEO_CACHE_HITS: c_int = 70;
pub const SEQVID_VIDEO_WAIT_SECONDS: c_int = 71;

#[link(name = "seqvid_video")]
unsafe extern "C" {
    pub fn seqvid_video_last_error() -> *const c_char;
    pub fn seqvid_video_ffmpeg_version() -> *const c_char;
    pub fn seqvid_video_open(path: *const c_char, out: *mut *mut seqvid_video) -> c_int;
    pub fn seqvid_video_open_buffer(
        data: *const c_void,
        size: usize,
        out: *mut *mut seqvid_video,
    ) -> c_int;
    pub fn seqvid_video_free(video: *mut seqvid_video);
    pub fn seqvid_video_set(video: *mut seqvid_video, key: c_int, value: c_double) -> c_int;
    pub fn seqvid_video_get(video: *const seqvid_video, key: c_int, value: *mut c_double) -> c_int;
    pub fn seqvid_video_count_frames(video: *mut seqvid_video, count: *mut u64) -> c_int;
    pub fn seqvid_video_read(
        video: *mut seqvid_video,
        frames: *mut f32,
        max_frames: usize,
        n_read: *mut usize,
    ) -> c_int;
    pub fn seqvid_video_seek(video: *mut seqvid_video, frame: u64) -> c_int;
    pub fn seqvid_video_clip(
        video: *mut seqvid_video,
        start: u64,
        n_steps: usize,
        frames: *mut f32,
        n_read: *mut usize,
    ) -> c_int;
    pub fn seqvid_video_fill_batch(
        video: *mut seqvid_video,
        batch: *mut seqvid_batch,
        seq0: usize,
        n: usize,
        start: u64,
    ) -> c_int;
    pub fn seqvid_video_dataset_create(
        source: *const c_char,
        out: *mut *mut seqvid_video_dataset,
    ) -> c_int;
    pub fn seqvid_video_dataset_free(ds: *mut seqvid_video_dataset);
    pub fn seqvid_video_dataset_set(
        ds: *mut seqvid_video_dataset,
        key: c_int,
        value: c_double,
    ) -> c_int;
    pub fn seqvid_video_dataset_get(
        ds: *const seqvid_video_dataset,
        key: c_int,
        value: *mut c_double,
    ) -> c_int;
    pub fn seqvid_video_dataset_cache(
        ds: *mut seqvid_video_dataset,
        folder: *const c_char,
    ) -> c_int;
    pub fn seqvid_video_dataset_file(
        ds: *const seqvid_video_dataset,
        i: usize,
        path: *mut *const c_char,
        split: *mut c_int,
    ) -> c_int;
    pub fn seqvid_video_dataset_file_status(
        ds: *const seqvid_video_dataset,
        i: usize,
        status: *mut c_int,
        message: *mut *const c_char,
        frames: *mut u64,
        damaged: *mut u64,
    ) -> c_int;
    pub fn seqvid_video_dataset_next(
        ds: *mut seqvid_video_dataset,
        split: c_int,
        batch: *mut seqvid_batch,
    ) -> c_int;
    pub fn seqvid_video_dataset_rewind(ds: *mut seqvid_video_dataset, split: c_int) -> c_int;
}
