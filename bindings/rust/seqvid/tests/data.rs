//! Digits, Moving MNIST, .npy files, saving and checkpoints (synthetic IDX files).
use std::path::{Path, PathBuf};

use seqvid::{
    Batch, Digits, Eval, Layout, LimitKey, MmnistKey, Model, MovingMnist, Optimizer, OptimizerKind, Status,
    limit, load_checkpoint, npy_save, save_checkpoint, set_limit,
};

/// A fresh folder under the cargo target dir (no tempfile crate).
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("seqvid-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_idx(path: &Path, dims: &[u32], bytes: &[u8]) {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(bytes);
    std::fs::write(path, out).unwrap();
}

/// Ten 8x8 "digits" with labels 0..9; returns (images, labels) paths.
fn make_digits(dir: &Path) -> (PathBuf, PathBuf) {
    let pixels: Vec<u8> = (0..10 * 64).map(|i| ((i * 37) % 256) as u8).collect();
    let labels: Vec<u8> = (0..10).collect();
    let (ip, lp) = (
        dir.join("train-images-idx3-ubyte"),
        dir.join("train-labels-idx1-ubyte"),
    );
    write_idx(&ip, &[10, 8, 8], &pixels);
    write_idx(&lp, &[10], &labels);
    (ip, lp)
}

#[test]
fn digits_load_and_errors() {
    let dir = scratch("digits");
    let (ip, lp) = make_digits(&dir);
    let d = Digits::load_with_labels(&ip, &lp).unwrap();
    assert_eq!(d.shape(), (10, 8, 8));
    assert_eq!(d.label(3).unwrap(), 3);
    assert!((d.image(1).unwrap()[0] - (64.0 * 37.0 % 256.0) / 255.0).abs() < 1e-6);
    assert!(d.image(10).is_err());
    let unlabelled = Digits::load(&ip).unwrap();
    assert_eq!(unlabelled.label(0).unwrap_err().status(), Status::State);
    let e = Digits::load(dir.join("missing")).unwrap_err();
    assert_eq!(e.status(), Status::Io);
    assert!(e.message().contains("missing"), "{e}");
    assert_eq!(Digits::load(&lp).unwrap_err().status(), Status::Format);
}

#[test]
fn idx_limit() {
    // cargo runs the tests in parallel threads and the limit is process-wide: it is never set
    // below the 640 bytes the other tests load (the Python test checks a refusal).
    let dir = scratch("limit");
    let (ip, lp) = make_digits(&dir);
    let default = limit(LimitKey::IdxBytes).unwrap();
    assert_eq!(default, 1 << 30);
    assert_eq!(set_limit(LimitKey::IdxBytes, 0).unwrap_err().status(), Status::Arg);
    assert_eq!(set_limit(LimitKey::from_raw(99), 5).unwrap_err().status(), Status::Arg);
    set_limit(LimitKey::IdxBytes, 640).unwrap();
    assert_eq!(limit(LimitKey::IdxBytes).unwrap(), 640);
    assert_eq!(Digits::load_with_labels(&ip, &lp).unwrap().shape(), (10, 8, 8));
    set_limit(LimitKey::IdxBytes, default).unwrap();
}

#[test]
fn moving_mnist_streams() {
    let dir = scratch("mmnist");
    let (ip, lp) = make_digits(&dir);
    let d = Digits::load_with_labels(&ip, &lp).unwrap();
    let mut g = MovingMnist::new(&d)
        .unwrap()
        .with(MmnistKey::Canvas, 12.0)
        .unwrap()
        .with(MmnistKey::Seed, 3.0)
        .unwrap();
    assert_eq!(g.canvas(), 12);
    let mut b = Batch::new(5, 3, 144).unwrap();
    let labels = g.fill_with_labels(&mut b).unwrap();
    assert_eq!(labels.len(), 3 * 2);
    assert!(labels.iter().all(|&l| (0..10).contains(&l)));
    assert!(
        b.data().iter().all(|&v| (0.0..=1.0).contains(&v)) && b.data().iter().any(|&v| v > 0.0)
    );
    // Same seed, same stream; state round trip.
    let mut g2 = MovingMnist::new(&d)
        .unwrap()
        .with(MmnistKey::Canvas, 12.0)
        .unwrap()
        .with(MmnistKey::Seed, 3.0)
        .unwrap();
    assert_eq!(g2.generate(5, 3).unwrap().data(), b.data());
    let state = g.state().unwrap();
    let x1 = g.generate(5, 3).unwrap().data().to_vec();
    g.set_state(&state).unwrap();
    assert_eq!(g.generate(5, 3).unwrap().data(), &x1[..]);
    assert!(g.set_state(b"nonsense").is_err());
    // Wrong frame size, read-only view.
    let e = g.fill(&mut Batch::new(2, 2, 100).unwrap()).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
    let frames = vec![0f32; 2 * 2 * 144];
    let e = g
        .fill(&mut Batch::view(&frames, 2, 2, 144).unwrap())
        .unwrap_err();
    assert_eq!(e.status(), Status::State);
    // A wrapped slice is filled in place.
    let mut mine = vec![0f32; 2 * 2 * 144];
    g.fill(&mut Batch::wrap(&mut mine, 2, 2, 144).unwrap())
        .unwrap();
    assert!(mine.iter().any(|&v| v > 0.0));
}

#[test]
fn digits_are_shared_by_generators_in_threads() {
    let dir = scratch("shared");
    let (ip, _) = make_digits(&dir);
    let d = Digits::load(&ip).unwrap();
    let run = |d: &Digits| {
        let mut g = MovingMnist::new(d)
            .unwrap()
            .with(MmnistKey::Canvas, 12.0)
            .unwrap();
        g.generate(4, 2).unwrap().data().to_vec()
    };
    let alone = run(&d);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| run(&d))).collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), alone);
        }
    });
}

#[test]
fn npy_roundtrip() {
    let dir = scratch("npy");
    let x: Vec<f32> = (0..4 * 3 * 10).map(|v| v as f32 / 7.0).collect();
    let p = dir.join("x.npy");
    npy_save(&p, &x, &[4, 3, 2, 5]).unwrap();
    let b = Batch::load_npy(&p, Layout::TimeMajor).unwrap();
    assert_eq!(b.shape(), (4, 3, 10));
    assert_eq!(b.data(), &x[..]);
    let bs = Batch::load_npy(&p, Layout::SeqMajor).unwrap();
    assert_eq!(bs.shape(), (3, 4, 10));
    assert_eq!(
        npy_save(&p, &x, &[4, 3]).unwrap_err().status(),
        Status::Shape
    );
    assert_eq!(
        Batch::load_npy(dir.join("nope.npy"), Layout::TimeMajor)
            .unwrap_err()
            .status(),
        Status::Io
    );
}

fn small_model() -> Model {
    Model::builder()
        .input_dim(144)
        .hidden(8)
        .input_frames(2)
        .future_frames(2)
        .build()
        .unwrap()
}

#[test]
fn save_and_load_models() {
    let dir = scratch("save");
    let mut m = small_model();
    let p = dir.join("m.safetensors");
    m.save(&p).unwrap();
    let mut m2 = Model::load(&p).unwrap();
    assert_eq!(m2.params(), m.params());
    let bytes = m.to_bytes().unwrap();
    assert_eq!(bytes, std::fs::read(&p).unwrap());
    let m3 = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m3.params(), m.params());
    let x = vec![0.25f32; 4 * 2 * 144];
    let b = Batch::view(&x, 4, 2, 144).unwrap();
    assert_eq!(
        m.evaluate(&b, Eval::Inference).unwrap(),
        m2.evaluate(&b, Eval::Inference).unwrap()
    );
    assert_eq!(
        Model::from_bytes(&bytes[..bytes.len() / 2])
            .unwrap_err()
            .status(),
        Status::Format
    );
    assert_eq!(
        Model::load(dir.join("missing")).unwrap_err().status(),
        Status::Io
    );
    std::fs::write(dir.join("junk"), b"definitely not safetensors").unwrap();
    assert_eq!(
        Model::load(dir.join("junk")).unwrap_err().status(),
        Status::Format
    );
}

#[test]
fn checkpoint_resume_is_bitwise() {
    let dir = scratch("ckpt");
    let (ip, lp) = make_digits(&dir);
    let d = Digits::load_with_labels(&ip, &lp).unwrap();
    let generator = |seed: f64| {
        MovingMnist::new(&d)
            .unwrap()
            .with(MmnistKey::Canvas, 12.0)
            .unwrap()
            .with(MmnistKey::Seed, seed)
            .unwrap()
    };
    let train = |m: &mut Model, o: &mut Optimizer, g: &mut MovingMnist<'_>, n: usize| {
        for _ in 0..n {
            let b = g.generate(4, 3).unwrap();
            m.train_step(o, &b).unwrap();
        }
    };
    let (mut m, mut o, mut g) = (
        small_model(),
        Optimizer::new(OptimizerKind::Adam).unwrap(),
        generator(5.0),
    );
    train(&mut m, &mut o, &mut g, 4);

    let (mut ma, mut oa, mut ga) = (
        small_model(),
        Optimizer::new(OptimizerKind::Adam).unwrap(),
        generator(5.0),
    );
    train(&mut ma, &mut oa, &mut ga, 2);
    let ck = dir.join("ck.safetensors");
    save_checkpoint(&ck, &ma, &oa, Some(&ga), 2).unwrap();
    drop((ma, oa, ga));
    let mut gb = generator(999.0);
    let (mut mb, mut ob, step) = load_checkpoint(&ck, Some(&mut gb)).unwrap();
    assert_eq!((step, ob.steps()), (2, 2));
    train(&mut mb, &mut ob, &mut gb, 2);
    assert_eq!(mb.params(), m.params());

    save_checkpoint(&ck, &m, &o, None, 7).unwrap();
    assert_eq!(
        load_checkpoint(&ck, Some(&mut gb)).unwrap_err().status(),
        Status::Format
    );
    assert_eq!(load_checkpoint(&ck, None).unwrap().2, 7);
}
