//! seqvid::video against libseqvid_video: only with the `video` feature (tests/rust.cmake
//! turns it on when the build has libseqvid_video); without it this file is empty.
#![cfg(feature = "video")]
use seqvid::video::{Dataset, Split, Video, VideoKey, ffmpeg_version};
use seqvid::{Batch, Status};
use std::path::PathBuf;
use std::process::Command;

const T: usize = 12;
const H: usize = 24;
const W: usize = 32;

fn pixel(t: usize, y: usize, x: usize) -> u8 {
    ((x * 5 + y * 3 + t * 11) % 256) as u8
}

/// An FFV1 video of known frames, written by the ffmpeg program (None: no ffmpeg, skip).
fn ffv1(dir: &PathBuf) -> Option<PathBuf> {
    let raw: Vec<u8> = (0..T)
        .flat_map(|t| (0..H).flat_map(move |y| (0..W).map(move |x| pixel(t, y, x))))
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("raw.gray"), raw).unwrap();
    let out = dir.join("gray.mkv");
    let ok = Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "32x24", "-r", "10",
            "-i",
        ])
        .arg(dir.join("raw.gray"))
        .args(["-c:v", "ffv1"])
        .arg(&out)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: the ffmpeg program is needed to write a test video");
        return None;
    }
    Some(out)
}

fn tmpdir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("seqvid-rust-video-{}-{name}", std::process::id()))
}

#[test]
fn read_seek_clip_exact() {
    let dir = tmpdir("read");
    let Some(path) = ffv1(&dir) else { return };
    let mut v = Video::open(&path).unwrap();
    assert_eq!(v.get(VideoKey::Width).unwrap(), W as f64);
    assert_eq!(v.count_frames().unwrap(), T as u64);
    assert_eq!(v.frame_shape().unwrap(), (H, W, 1));
    let all = v.read(T + 2).unwrap();
    assert_eq!(all.len(), T * H * W);
    for t in 0..T {
        assert_eq!(all[(t * H + 7) * W + 9], pixel(t, 7, 9) as f32 / 255.0);
    }
    v.seek(4).unwrap();
    assert_eq!(v.read(1).unwrap(), all[4 * H * W..5 * H * W]);
    v.set(VideoKey::Stride, 3.0).unwrap();
    assert_eq!(v.clip(2, 10).unwrap().len(), 4 * H * W); // 2, 5, 8, 11
    let bytes = std::fs::read(&path).unwrap();
    let mut m = Video::open_buffer(&bytes).unwrap();
    assert_eq!(m.read(T).unwrap(), all);
    assert!(ffmpeg_version().contains("libavformat"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn batches_and_dataset() {
    let dir = tmpdir("ds");
    let Some(path) = ffv1(&dir) else { return };
    let mut v = Video::open(&path).unwrap();
    v.set(VideoKey::Patch, 8.0).unwrap();
    let mut b = Batch::new(4, 2, 64).unwrap();
    v.fill_batch(&mut b, 0, 2, 10).unwrap();
    assert_eq!(b.lengths(), vec![2, 2]);
    let mut ds = Dataset::new(&path).unwrap();
    ds.set(VideoKey::ValFraction, 0.0).unwrap();
    ds.set(VideoKey::Patch, 8.0).unwrap();
    ds.set(VideoKey::PatchMode, 1.0).unwrap();
    ds.cache(Some(&dir.join("cache"))).unwrap();
    assert_eq!(ds.file(0).unwrap().1, Split::Train);
    let mut batch = Batch::new(5, 3, 64).unwrap();
    ds.next(Split::Train, &mut batch).unwrap();
    assert!(batch.data().iter().all(|&x| (0.0..=1.0).contains(&x)));
    assert_eq!(ds.file_status(0).unwrap().unwrap(), (T as u64, 0));
    let e = ds.next(Split::Validation, &mut batch).unwrap_err();
    assert_eq!(e.status(), Status::State);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn errors() {
    let e = Video::open("/nonexistent/clip.mp4").err().unwrap();
    assert_eq!(e.status(), Status::Io);
    assert!(e.message().contains("clip.mp4"));
    let e = Video::open_buffer(&[7u8; 4000]).err().unwrap();
    assert_eq!(e.status(), Status::Format);
}
