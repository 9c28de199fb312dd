//! Tiny models through the safe API: creation, training, inference, errors, threads.
use seqvid::{
    Batch, ConfigKey, Eval, Feed, Kind, Model, Optimizer, OptimizerKey, OptimizerKind, Status,
};

const D: usize = 16;
const H: usize = 8;
const K: usize = 3;
const M: usize = 3;
const S: usize = 4;

fn tiny() -> Model {
    Model::builder()
        .kind(Kind::Composite)
        .input_dim(D)
        .hidden(H)
        .input_frames(K)
        .future_frames(M)
        .seed(7)
        .build()
        .expect("tiny model")
}

/// (K + M) x S x D binary frames of a dot moving one step per frame (learnable).
fn frames() -> Vec<f32> {
    let mut x = vec![0f32; (K + M) * S * D];
    for t in 0..K + M {
        for s in 0..S {
            x[(t * S + s) * D + (s * 3 + t) % D] = 1.0;
        }
    }
    x
}

#[test]
fn version_matches_binding() {
    assert!(seqvid::version_compatible());
    assert!(seqvid::version().starts_with(&format!("{}.", seqvid::BINDING_MAJOR)));
}

#[test]
fn backend_names_itself() {
    // The advice itself is tested in C (test_gemm, gemm_prescott) and Python (test_backend).
    let b = seqvid::backend();
    assert!(["openblas", "reference", "onednn"].contains(&b.name), "{b:?}");
    assert!(
        b.advice.is_none() || (b.name == "openblas" && [Some("Haswell"), Some("SkylakeX")].contains(&b.advice)),
        "{b:?}"
    );
    if b.name == "openblas" {
        assert!(!b.kernels.is_empty(), "{b:?}");
    }
}

#[test]
fn create_and_describe() {
    let m = tiny();
    assert_eq!(m.kind(), Kind::Composite);
    assert_eq!((m.input_dim(), m.hidden(), m.layers()), (D, H, 1));
    assert_eq!((m.input_frames(), m.future_frames()), (K, M));
    assert_eq!(m.feature_dim(), 2 * H);
    let blocks = m.param_blocks();
    assert_eq!(
        blocks.iter().map(|b| b.rows * b.cols).sum::<usize>(),
        m.param_count()
    );
    let wx = blocks.iter().find(|b| b.name == "encoder.0.w_x").unwrap();
    assert_eq!(wx.rows * wx.cols, 4 * H * D); // 4 gates x H units by D inputs, either way round
    assert_eq!(m.param_block("encoder.0.w_x").unwrap().len(), 4 * H * D);
    // Deterministic for a seed.
    assert_eq!(tiny().params(), m.params());
    assert!(format!("{m:?}").contains("Composite"));
}

#[test]
fn training_reduces_loss() {
    let mut m = tiny();
    let mut opt = Optimizer::new(OptimizerKind::Adam)
        .unwrap()
        .with(OptimizerKey::Lr, 0.02)
        .unwrap();
    let x = frames();
    let batch = Batch::view(&x, K + M, S, D).unwrap();
    let before = m.evaluate(&batch, Eval::Inference).unwrap();
    let first = m.train_step(&mut opt, &batch).unwrap();
    let mut last = first;
    for _ in 0..40 {
        last = m.train_step(&mut opt, &batch).unwrap();
    }
    assert_eq!(opt.steps(), 41);
    assert!(last.rec < 0.7 * first.rec, "{first:?} -> {last:?}");
    assert!(last.fut < 0.7 * first.fut, "{first:?} -> {last:?}");
    assert!(m.evaluate(&batch, Eval::Inference).unwrap().total() < before.total());
}

#[test]
fn gradients_then_step() {
    let mut m = tiny();
    let mut x = frames();
    let batch = Batch::wrap(&mut x, K + M, S, D).unwrap();
    let w0 = m.params().to_vec();
    let l = m.gradients(&batch).unwrap();
    assert!(l.rec > 0.0 && l.fut > 0.0);
    assert_eq!(m.params(), &w0[..]);
    let g = m.grads().to_vec();
    assert!(g.iter().any(|&v| v != 0.0));
    let mut sgd = Optimizer::new(OptimizerKind::Sgd).unwrap();
    for (k, v) in [
        (OptimizerKey::Lr, 0.1),
        (OptimizerKey::Momentum, 0.0),
        (OptimizerKey::WeightDecay, 0.0),
        (OptimizerKey::UpdateClip, 0.0),
    ] {
        sgd.set(k, v).unwrap();
    }
    sgd.step(&mut m).unwrap();
    for ((w, w0), g) in m.params().iter().zip(&w0).zip(&g) {
        assert!((w - (w0 - 0.1 * g)).abs() < 1e-6);
    }
}

#[test]
fn inference_and_params_in_place() {
    let mut m = tiny();
    let x = frames();
    let inputs = Batch::view(&x[..K * S * D], K, S, D).unwrap();
    assert_eq!(m.reconstruct(&inputs).unwrap().len(), K * S * D);
    assert_eq!(m.predict(&inputs, 5).unwrap().len(), 5 * S * D);
    let enc = m.encode(&inputs).unwrap();
    assert_eq!(enc.len(), S * 2 * H);
    // Writing the weights in place changes what the model computes.
    m.params_mut().fill(0.0);
    assert!(
        m.predict(&inputs, 2)
            .unwrap()
            .iter()
            .all(|&p| (p - 0.5).abs() < 1e-6)
    );
    m.param_block_mut("future.readout.b").unwrap().fill(20.0);
    assert!(m.predict(&inputs, 2).unwrap().iter().all(|&p| p > 0.99));
    // Too small an output slice is the library's buffer error.
    let mut small = vec![0f32; 3];
    let e = m.encode_into(&inputs, &mut small).unwrap_err();
    assert!(matches!(e.status(), Status::Buffer | Status::Shape), "{e}");
}

#[test]
fn lengths_are_honoured() {
    let mut m = tiny();
    let mut x = frames();
    let mut b = Batch::wrap(&mut x, K + M, S, D).unwrap();
    b.set_lengths(&[K, K, 2, 1]).unwrap();
    assert_eq!(b.lengths(), vec![K, K, 2, 1]);
    let rec = m.reconstruct(&b).unwrap();
    let at = |t: usize, s: usize| &rec[(t * S + s) * D..(t * S + s + 1) * D];
    assert!(at(2, 2).iter().all(|&v| v == 0.0) && at(1, 3).iter().all(|&v| v == 0.0));
    let enc = m.encode(&b).unwrap();
    b.data_mut().unwrap()[(3 * S + 2) * D] = 1.0; // padding of sequence 2
    assert_eq!(m.encode(&b).unwrap(), enc);
    let e = b.set_lengths(&[1, 2]).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
    let e = b.set_length(0, K + M + 1).unwrap_err();
    assert_eq!(e.status(), Status::Arg);
    assert!(e.message().contains("seqvid_batch_set_length"), "{e}");
}

#[test]
fn error_paths() {
    let mut m = tiny();
    let mut opt = Optimizer::new(OptimizerKind::Adam).unwrap();
    let x = frames();
    let short = Batch::view(&x[..(K + M - 1) * S * D], K + M - 1, S, D).unwrap();
    let e = m.train_step(&mut opt, &short).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
    assert!(e.message().starts_with("seqvid_model_train_step"), "{e}");
    assert!(e.to_string().ends_with("(shape mismatch)"), "{e}");
    let mut bad = x.clone();
    bad[5] = f32::NAN;
    let w0 = m.params().to_vec();
    let e = m
        .train_step(&mut opt, &Batch::view(&bad, K + M, S, D).unwrap())
        .unwrap_err();
    assert_eq!(e.status(), Status::NonFinite);
    assert_eq!(m.params(), &w0[..]);
    assert_eq!(opt.steps(), 0);
    // Keys: fixed after creation, not applicable, out of range.
    assert_eq!(
        m.set(ConfigKey::Hidden, 4.0).unwrap_err().status(),
        Status::State
    );
    m.set(ConfigKey::ReconFeed, Feed::Prediction as i32 as f64)
        .unwrap();
    assert_eq!(
        opt.set(OptimizerKey::Momentum, 0.5).unwrap_err().status(),
        Status::Arg
    );
    let e = Model::builder().input_dim(0).build().unwrap_err();
    assert_eq!(e.status(), Status::Arg);
    let e = Model::builder()
        .hidden(8)
        .input_dim(8)
        .kind(Kind::Autoencoder)
        .build()
        .unwrap()
        .predict(&Batch::view(&x[..S * 8], 1, S, 8).unwrap(), 1)
        .unwrap_err();
    assert_eq!(e.status(), Status::Unsupported);
    // Slices of the wrong size are rejected before the library is called.
    assert_eq!(
        Batch::view(&x, K + M, S, D + 1).unwrap_err().status(),
        Status::Shape
    );
    // A read-only view cannot be written.
    let mut v = Batch::view(&x, K + M, S, D).unwrap();
    assert_eq!(v.data_mut().unwrap_err().status(), Status::State);
    // The optimizer is bound to the first model's size.
    let mut other = Model::builder()
        .input_dim(D)
        .hidden(4)
        .input_frames(K)
        .future_frames(M)
        .build()
        .unwrap();
    let full = Batch::view(&x, K + M, S, D).unwrap();
    m.train_step(&mut opt, &full).unwrap();
    assert_eq!(
        other.train_step(&mut opt, &full).unwrap_err().status(),
        Status::Shape
    );
}

#[test]
fn owned_batches() {
    let mut b = Batch::new(5, 3, 4).unwrap();
    assert_eq!(b.shape(), (5, 3, 4));
    assert!(b.data().iter().all(|&v| v == 0.0));
    b.data_mut().unwrap()[0] = 1.0;
    assert_eq!(b.frame(0, 0)[0], 1.0);
    let c = Batch::from_slice(&[1.0; 12], 1, 3, 4).unwrap();
    assert_eq!(c.data(), &[1.0; 12]);
    assert_eq!(Batch::new(0, 1, 1).unwrap_err().status(), Status::Arg);
    let img: Vec<f32> = (0..2 * 6 * 6).map(|v| v as f32).collect();
    let src = Batch::view(&img, 2, 1, 36).unwrap();
    let patch = src.crop(6, 6, 1, 1, 2, 3, 2).unwrap();
    assert_eq!(patch.shape(), (2, 1, 6));
    assert_eq!(patch.data()[..2], [8.0, 9.0]);
}

#[test]
fn stream_matches_encode() {
    let mut m = tiny();
    let x = frames();
    let mut want = Vec::new();
    for t in 1..=K + M {
        want.push(
            m.encode(&Batch::view(&x[..t * S * D], t, S, D).unwrap())
                .unwrap(),
        );
    }
    let mut st = m.stream(S).unwrap();
    for t in 0..K + M {
        st.push(&x[t * S * D..(t + 1) * S * D]).unwrap();
        let f = st.features().unwrap();
        assert!(f.iter().zip(&want[t]).all(|(a, b)| (a - b).abs() < 1e-6));
    }
    st.reset().unwrap();
    assert_eq!(st.push(&x[..D]).unwrap_err().status(), Status::Shape);
}

#[test]
fn models_train_in_threads_as_alone() {
    fn train(mut m: Model, b: &Batch<'_>) -> Vec<f32> {
        let mut opt = Optimizer::new(OptimizerKind::Adam).unwrap();
        for _ in 0..10 {
            m.train_step(&mut opt, b).unwrap();
        }
        m.params().to_vec()
    }
    let x = frames();
    let batch = Batch::view(&x, K + M, S, D).unwrap();
    let alone = train(tiny(), &batch);
    // Models made here and moved into the threads (Model: Send); one batch read by all of
    // them at once (Batch: Sync).
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let m = tiny();
                let b = &batch;
                scope.spawn(move || train(m, b))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone);
        }
    });
}

#[test]
fn threads_setting() {
    // The other tests of this binary may be running: only set what is already set.
    let n = seqvid::threads();
    // SAFETY: setting the count to its current value changes nothing a running call reads.
    unsafe { seqvid::set_threads(n).unwrap() };
    assert_eq!(seqvid::threads(), n);
}

/// The thread markers the docs promise: handles are Send; only Digits is Sync.
#[test]
fn thread_markers() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Model>();
    send::<Optimizer>();
    send::<Batch<'static>>();
    send::<seqvid::Config>();
    send::<seqvid::Stream<'static>>();
    send::<seqvid::MovingMnist<'static>>();
    send::<seqvid::Digits>();
    sync::<seqvid::Digits>();
    sync::<Batch<'static>>();
    sync::<seqvid::Config>();
    send::<seqvid::Error>();
    sync::<seqvid::Error>();

    // Compiles only if the type is NOT Sync: for a Sync type both impls apply and the
    // call below would be ambiguous.
    trait AmbiguousIfSync<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
    <Model as AmbiguousIfSync<_>>::check();
    <Optimizer as AmbiguousIfSync<_>>::check();
    <seqvid::Stream<'static> as AmbiguousIfSync<_>>::check();
    <seqvid::MovingMnist<'static> as AmbiguousIfSync<_>>::check();
}

#[test]
fn outputs_carry_their_shape() {
    let mut m = tiny();
    let x = frames();
    let inputs = Batch::view(&x[..K * S * D], K, S, D).unwrap();
    let rec = m.reconstruct(&inputs).unwrap();
    assert_eq!(rec.shape(), &[K, S, D]);
    let fut = m.predict(&inputs, 5).unwrap();
    assert_eq!(fut.shape(), &[5, S, D]);
    // at() indexes [step, sequence, value] in the time-major layout of the flat data.
    assert_eq!(fut.at(&[4, 2, 7]), Some(fut[(4 * S + 2) * D + 7]));
    assert_eq!(fut.at(&[5, 0, 0]), None);
    assert_eq!(fut.outer(1).unwrap(), &fut[S * D..2 * S * D]);
    let enc = m.encode(&inputs).unwrap();
    assert_eq!(enc.shape(), &[S, m.feature_dim()]);
    let mut st = m.stream(S).unwrap();
    st.push(&x[..S * D]).unwrap();
    assert_eq!(st.features().unwrap().shape(), &[S, 2 * H]);
    drop(st);
    assert!(seqvid::Tensor::new(vec![0.0; 6], &[2, 3]).is_some());
    assert!(seqvid::Tensor::new(vec![0.0; 6], &[4, 2]).is_none());
}

#[test]
fn keys_are_open_to_newer_libraries() {
    use seqvid::sys;
    // A raw key is the same key as the named one ...
    assert_eq!(
        ConfigKey::from_raw(sys::SEQVID_CFG_HIDDEN),
        ConfigKey::Hidden
    );
    assert_eq!(ConfigKey::Hidden.raw(), sys::SEQVID_CFG_HIDDEN);
    assert_eq!(OptimizerKey::from_raw(sys::SEQVID_OPT_LR), OptimizerKey::Lr);
    assert_eq!(format!("{:?}", OptimizerKey::Lr), "OptimizerKey::Lr");
    let mut cfg = seqvid::Config::new().unwrap();
    assert!(
        cfg.set(ConfigKey::from_raw(sys::SEQVID_CFG_HIDDEN), 12.0)
            .is_ok()
    );
    assert_eq!(cfg.get(ConfigKey::Hidden).unwrap(), 12.0);
    // ... and a key this library does not know reaches it and is refused there, not by the
    // bindings' types.
    let unknown = ConfigKey::from_raw(9999);
    assert_eq!(unknown.name(), None);
    assert_eq!(format!("{unknown:?}"), "ConfigKey::from_raw(9999)");
    assert_eq!(
        cfg.set(unknown, 1.0).err().map(|e| e.status()),
        Some(Status::Arg)
    );
    let mut opt = Optimizer::new(OptimizerKind::Adam).unwrap();
    assert_eq!(
        opt.set(OptimizerKey::from_raw(9999), 1.0)
            .unwrap_err()
            .status(),
        Status::Arg
    );
}

#[test]
fn scheduled_sampling_keys() {
    // Experimental keys: the library's names, changeable on a model between steps; p = 1
    // trains on the losses the inference roll-out reports.
    let mut m = tiny();
    let x = frames();
    let batch = Batch::view(&x, K + M, S, D).unwrap();
    // SAFETY: a static string or NULL.
    let p = unsafe {
        seqvid::sys::seqvid_key_name(
            seqvid::sys::SEQVID_NAMES_CONFIG,
            ConfigKey::SampleFuture.raw(),
        )
    };
    assert!(!p.is_null());
    // SAFETY: non-NULL, NUL-terminated static storage.
    let s = unsafe { std::ffi::CStr::from_ptr(p) };
    assert_eq!(s.to_str().unwrap(), "SAMPLE_FUTURE");
    assert_eq!(m.get(ConfigKey::SampleFuture).unwrap(), 0.0);
    m.set(ConfigKey::SampleFuture, 1.0).unwrap();
    m.set(ConfigKey::SampleRecon, 1.0).unwrap();
    m.set(ConfigKey::ReconFeed, Feed::Prediction as i32 as f64)
        .unwrap();
    let mut opt = Optimizer::new(OptimizerKind::Adam).unwrap();
    let inf = m.evaluate(&batch, Eval::Inference).unwrap();
    let step = m.train_step(&mut opt, &batch).unwrap();
    assert_eq!((step.rec, step.fut), (inf.rec, inf.fut));
    assert_eq!(
        m.set(ConfigKey::SampleFuture, 1.5).unwrap_err().status(),
        Status::Arg
    );
    let mut unc = Model::builder()
        .input_dim(D)
        .hidden(H)
        .cond_future(false)
        .build()
        .unwrap();
    assert_eq!(
        unc.set(ConfigKey::SampleFuture, 0.5).unwrap_err().status(),
        Status::Unsupported
    );
}
