//! Classifiers: training, pretrained initialisation, freezing, errors, saving.
use seqvid::{
    Batch, Classifier, ClassifierKey, ConfigKey, Model, Optimizer, OptimizerKey, OptimizerKind,
    Status,
};

const D: usize = 16;
const H: usize = 8;
const S: usize = 8;
const T: usize = 5;

/// Two classes: a dot moving right (0) or left (1).
fn task() -> (Vec<f32>, Vec<i32>) {
    let mut x = vec![0f32; T * S * D];
    let labels: Vec<i32> = (0..S as i32).map(|s| s % 2).collect();
    for s in 0..S {
        for t in 0..T {
            let pos = if labels[s] == 0 {
                s + 3 + t
            } else {
                s + 3 + D - t
            };
            x[(t * S + s) * D + pos % D] = 1.0;
        }
    }
    (x, labels)
}

fn tiny_classifier(n_classes: usize) -> Classifier {
    Model::builder()
        .input_dim(D)
        .hidden(H)
        .seed(3)
        .build_classifier(n_classes)
        .unwrap()
}

#[test]
fn create_and_keys() {
    let mut c = tiny_classifier(3);
    assert_eq!(c.n_classes(), 3);
    assert_eq!(c.get_config(ConfigKey::Hidden).unwrap(), H as f64);
    c.set(ClassifierKey::Dropout, 0.25).unwrap();
    assert_eq!(c.get(ClassifierKey::Dropout).unwrap(), 0.25);
    assert_eq!(
        c.set(ClassifierKey::Classes, 4.0).unwrap_err().status(),
        Status::State
    );
    assert_eq!(
        c.set(ClassifierKey::Dropout, 1.0).unwrap_err().status(),
        Status::Arg
    );
    let blocks = c.param_blocks();
    assert_eq!(blocks.last().unwrap().name, "classifier.readout.b");
    assert_eq!(
        blocks.iter().map(|b| b.rows * b.cols).sum::<usize>(),
        c.param_count()
    );
    let e = Model::builder()
        .input_dim(D)
        .hidden(H)
        .build_classifier(1)
        .unwrap_err();
    assert_eq!(e.status(), Status::Arg);
}

#[test]
fn training_learns_the_task() {
    let (x, labels) = task();
    let b = Batch::view(&x, T, S, D).unwrap();
    let mut c = tiny_classifier(2);
    let mut opt = Optimizer::new(OptimizerKind::Adam)
        .unwrap()
        .with(OptimizerKey::Lr, 0.05)
        .unwrap();
    let first = c.evaluate(&b, &labels).unwrap();
    for _ in 0..60 {
        c.train_step(&mut opt, &b, &labels).unwrap();
    }
    let last = c.evaluate(&b, &labels).unwrap();
    assert!(last.loss < 0.5 * first.loss, "{first:?} -> {last:?}");
    assert_eq!(last.accuracy, 1.0);
    let p = c.predict(&b).unwrap();
    assert_eq!(p.len(), S * 2);
    assert!(p.chunks(2).all(|r| (r[0] + r[1] - 1.0).abs() < 1e-5));
    let want: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    assert_eq!(c.classify(&b).unwrap(), want);
}

#[test]
fn from_encoder_freezing_and_copy() {
    let (x, labels) = task();
    let b = Batch::view(&x, T, S, D).unwrap();
    let model = Model::builder()
        .input_dim(D)
        .hidden(H)
        .input_frames(2)
        .future_frames(2)
        .build()
        .unwrap();
    let mut c = Classifier::from_encoder(&model, 2)
        .unwrap()
        .with(ClassifierKey::FreezeSteps, -1.0)
        .unwrap();
    for part in ["w_x", "w_h", "peephole", "bias"] {
        assert_eq!(
            model.param_block(&format!("encoder.0.{part}")).unwrap(),
            &c.params()[c
                .param_blocks()
                .iter()
                .find(|b| b.name == format!("classifier.0.{part}"))
                .unwrap()
                .range()]
        );
    }
    let n_stack = c
        .param_blocks()
        .iter()
        .find(|b| b.name == "classifier.readout.w")
        .unwrap()
        .offset;
    let stack = c.params()[..n_stack].to_vec();
    let readout = c.params()[n_stack..].to_vec();
    let mut sgd = Optimizer::new(OptimizerKind::Sgd)
        .unwrap()
        .with(OptimizerKey::Lr, 0.5)
        .unwrap();
    for _ in 0..3 {
        c.train_step(&mut sgd, &b, &labels).unwrap();
    }
    assert_eq!(&c.params()[..n_stack], &stack[..]);
    assert_ne!(&c.params()[n_stack..], &readout[..]);
    c.params_mut()[..n_stack].fill(0.0);
    c.copy_encoder(&model).unwrap();
    assert_eq!(&c.params()[..n_stack], &stack[..]);
    let other = Model::builder().input_dim(D).hidden(H + 1).build().unwrap();
    assert_eq!(c.copy_encoder(&other).unwrap_err().status(), Status::Shape);
}

#[test]
fn label_errors() {
    let (x, labels) = task();
    let b = Batch::view(&x, T, S, D).unwrap();
    let mut c = tiny_classifier(2);
    let e = c.evaluate(&b, &labels[..S - 1]).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
    let mut bad = labels.clone();
    bad[0] = 2;
    let e = c.evaluate(&b, &bad).unwrap_err();
    assert_eq!(e.status(), Status::Arg);
    assert!(e.message().starts_with("seqvid_classifier_evaluate"), "{e}");
    let mut small = [0f32; 3];
    assert!(c.predict_into(&b, &mut small).is_err());
}

#[test]
fn save_and_load() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("seqvid-classifier-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x, _) = task();
    let b = Batch::view(&x, T, S, D).unwrap();
    let mut c = tiny_classifier(2)
        .with(ClassifierKey::Dropout, 0.1)
        .unwrap();
    let p = dir.join("c.safetensors");
    c.save(&p).unwrap();
    let mut c2 = Classifier::load(&p).unwrap();
    assert_eq!(c2.params(), c.params());
    assert!((c2.get(ClassifierKey::Dropout).unwrap() - 0.1).abs() < 1e-9);
    assert_eq!(c2.predict(&b).unwrap(), c.predict(&b).unwrap());
    let c3 = Classifier::from_bytes(&c.to_bytes().unwrap()).unwrap();
    assert_eq!(c3.params(), c.params());
    let m = dir.join("m.safetensors");
    Model::builder()
        .input_dim(D)
        .hidden(H)
        .build()
        .unwrap()
        .save(&m)
        .unwrap();
    assert_eq!(Classifier::load(&m).unwrap_err().status(), Status::Format);
    assert_eq!(Model::load(&p).unwrap_err().status(), Status::Format);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn classifier_is_send_not_sync() {
    fn send<T: Send>() {}
    send::<Classifier>();
    trait AmbiguousIfSync<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
    <Classifier as AmbiguousIfSync<_>>::check();
}

#[test]
fn checkpoint_resumes_bitwise() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("seqvid-classifier-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x, labels) = task();
    let b = Batch::view(&x, T, S, D).unwrap();
    let fresh = || {
        let c = tiny_classifier(2)
            .with(ClassifierKey::Dropout, 0.3)
            .unwrap();
        let o = Optimizer::new(OptimizerKind::Adam)
            .unwrap()
            .with(OptimizerKey::Lr, 0.02)
            .unwrap();
        (c, o)
    };
    let (mut straight, mut o1) = fresh();
    for _ in 0..6 {
        straight.train_step(&mut o1, &b, &labels).unwrap();
    }
    let (mut c, mut o2) = fresh();
    for _ in 0..3 {
        c.train_step(&mut o2, &b, &labels).unwrap();
    }
    let p = dir.join("c.ckpt");
    seqvid::save_classifier_checkpoint(&p, &c, &o2, 3).unwrap();
    let (mut back, mut o3, step) = seqvid::load_classifier_checkpoint(&p).unwrap();
    assert_eq!((step, o3.steps()), (3, 3));
    for _ in 0..3 {
        back.train_step(&mut o3, &b, &labels).unwrap();
    }
    assert_eq!(back.params(), straight.params());
    assert_eq!(
        seqvid::load_checkpoint(&p, None).unwrap_err().status(),
        Status::Format
    );
    std::fs::remove_dir_all(&dir).ok();
}
