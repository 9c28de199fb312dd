//! Safe Rust bindings of libseqvid: LSTM encoder-decoders that learn video representations
//! (Srivastava, Mansimov & Salakhutdinov, ICML 2015): autoencoder, future predictor and
//! composite models, trained with backpropagation through time.
//!
//! (Compiled as a doctest but not run, so `cargo test` needs no LD_LIBRARY_PATH; the same
//! steps run in tests/model.rs.)
//!
//! ```no_run
//! use seqvid::{Batch, Eval, Kind, Model, Optimizer, OptimizerKind, OptimizerKey};
//!
//! # fn main() -> seqvid::Result<()> {
//! let (d, k, m, s) = (16, 3, 3, 4); // frame size, input and future frames, sequences
//! let mut model = Model::builder()
//!     .kind(Kind::Composite)
//!     .input_dim(d)
//!     .hidden(8)
//!     .input_frames(k)
//!     .future_frames(m)
//!     .build()?;
//! let mut opt = Optimizer::new(OptimizerKind::Adam)?.with(OptimizerKey::Lr, 0.01)?;
//! // Time-major frames: (t, s, d) is at (t * S + s) * D. Borrowed, not copied.
//! let mut frames = vec![0f32; (k + m) * s * d];
//! for t in 0..k + m {
//!     for q in 0..s {
//!         frames[(t * s + q) * d + (t + q) % d] = 1.0;
//!     }
//! }
//! let batch = Batch::view(&frames, k + m, s, d)?;
//! let first = model.train_step(&mut opt, &batch)?;
//! for _ in 0..20 {
//!     model.train_step(&mut opt, &batch)?;
//! }
//! assert!(model.evaluate(&batch, Eval::TeacherForced)?.total() < first.total());
//! let future = model.predict(&batch, 5)?; // probabilities, shape [5, S, D]
//! assert_eq!(future.shape(), &[5, s, d]);
//! # Ok(())
//! # }
//! ```
//!
//! # Ownership and threads
//!
//! Every handle owns its C object and frees it on drop. Borrowing expresses the library's
//! lifetime rules: a [`Batch::wrap`] borrows the caller's slice, a [`MovingMnist`] its
//! [`Digits`], a [`Stream`] its [`Model`].
//!
//! seqvid.h: "Distinct objects may be used from distinct threads concurrently", with one
//! thread at a time per object. So every handle is `Send`: the library has no thread
//! affinity, and the per-thread error message is read right after each call on the calling
//! thread. [`Model`], [`Classifier`], [`Optimizer`], [`MovingMnist`] and [`Stream`] are not
//! `Sync` (a model
//! keeps workspaces even for inference; a stream and its model count as one object).
//! [`Batch`] and [`Config`] are `Sync` because the header declares concurrent reads safe and
//! only `&mut self` methods write them; [`Digits`], read-only after loading and explicitly
//! shareable by generators in any threads, is `Sync` too. [`set_threads`] changes a
//! process-wide setting and is `unsafe`: the header forbids calling it while other threads
//! run the library.
//!
//! # Errors
//!
//! Every fallible call returns [`Result`]; [`Error`] carries the library's [`Status`] and
//! its message (`seqvid_last_error`), e.g. `seqvid_model_train_step: batch has 5 steps, the
//! model needs 6 (K + M) (shape mismatch)`.
//!
//! # Linking
//!
//! `seqvid-sys` links `libseqvid.so` from `SEQVID_LIB_DIR`, else from `pkg-config seqvid`,
//! else from the usual prefixes (`SEQVID_PREFIX`, `~/.local`, `/usr/local`, `/usr`), and
//! fails the build with what it tried if none has it. This crate's tests and examples get an
//! rpath to that folder; a program's own `build.rs` can add the same from
//! `DEP_SEQVID_LIB_DIR` (bindings/rust/README.md).
//!
//! # Outputs
//!
//! [`Model::predict`], [`Model::encode`], [`Model::reconstruct`], [`Stream::features`] and
//! [`Classifier::predict`] return a [`Tensor`]: the values with their shape (`[n_future, S,
//! D]`, `[S, feature_dim]`, ...). Option keys ([`ConfigKey`], [`OptimizerKey`], ...) are
//! open: `ConfigKey::from_raw(n)` passes a key of a library newer than these bindings.
#![warn(missing_docs)]

mod batch;
mod classifier;
mod data;
mod error;
mod model;
mod tensor;
/// Video files as training data (libseqvid_video), with the `video` feature.
#[cfg(feature = "video")]
pub mod video;

use std::ffi::{CStr, CString};
use std::path::Path;

pub use seqvid_sys as sys;

pub use batch::Batch;
pub use classifier::{
    Classifier, ClassifierKey, Score, load_classifier_checkpoint, save_classifier_checkpoint,
};
pub use data::{Digits, MovingMnist, npy_save};
pub use error::{Error, Result, Status};
pub use model::{
    Config, Losses, Model, ModelBuilder, Optimizer, ParamBlock, Stream, load_checkpoint,
    save_checkpoint,
};
pub use tensor::Tensor;

/// The major version of the C API these bindings are written for.
pub const BINDING_MAJOR: i32 = sys::SEQVID_VERSION_MAJOR;

/// Which decoders a model has (`seqvid_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Kind {
    /// Encoder + reconstruction decoder (targets in reverse order).
    Autoencoder = sys::SEQVID_AUTOENCODER,
    /// Encoder + future predictor.
    Predictor = sys::SEQVID_PREDICTOR,
    /// Encoder + both decoders; the two losses are summed.
    Composite = sys::SEQVID_COMPOSITE,
}

/// Output units and loss (`seqvid_output`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Output {
    /// Sigmoid + cross-entropy (pixels in [0, 1], Moving MNIST).
    Binary = sys::SEQVID_OUTPUT_BINARY,
    /// Linear + squared loss 1/2 |y - x|^2.
    Real = sys::SEQVID_OUTPUT_REAL,
}

/// What a decoder step t > 0 is fed (`seqvid_feed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Feed {
    /// The true previous frame.
    Truth = sys::SEQVID_FEED_TRUTH,
    /// Its own previous output.
    Prediction = sys::SEQVID_FEED_PREDICTION,
}

// An option key type that stays open: seqvid.h promises new keys in minor versions, so a
// key is a plain integer with named constants, and `from_raw` passes a key these bindings do
// not name yet (the library answers Status::Arg if it does not know it either).
macro_rules! open_keys {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $val:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(i32);

        #[allow(non_upper_case_globals, missing_docs)]
        impl $name {
            $($(#[$vm])* pub const $v: $name = $name($val);)*

            /// A key by its integer value in the C header, e.g. one added by a newer
            /// library than these bindings know.
            pub const fn from_raw(key: i32) -> $name {
                $name(key)
            }

            /// The integer the C API takes.
            pub const fn raw(self) -> i32 {
                self.0
            }

            /// The name of a key these bindings know (`None` for a raw newer key).
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $($name::$v => Some(stringify!($v)),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}::from_raw({})", stringify!($name), self.0),
                }
            }
        }
    };
}
pub(crate) use open_keys;

open_keys! {
/// Configuration keys (`seqvid_config_key`); seqvid.h lists defaults and meanings.
/// Open: [`ConfigKey::from_raw`] passes a key of a newer library.
#[allow(missing_docs)]
ConfigKey {
    Kind = sys::SEQVID_CFG_KIND,
    InputDim = sys::SEQVID_CFG_INPUT_DIM,
    Hidden = sys::SEQVID_CFG_HIDDEN,
    Layers = sys::SEQVID_CFG_LAYERS,
    Peepholes = sys::SEQVID_CFG_PEEPHOLES,
    InputFrames = sys::SEQVID_CFG_INPUT_FRAMES,
    FutureFrames = sys::SEQVID_CFG_FUTURE_FRAMES,
    CondRecon = sys::SEQVID_CFG_COND_RECON,
    CondFuture = sys::SEQVID_CFG_COND_FUTURE,
    Output = sys::SEQVID_CFG_OUTPUT,
    ReconFeed = sys::SEQVID_CFG_RECON_FEED,
    Seed = sys::SEQVID_CFG_SEED,
    InitWeight = sys::SEQVID_CFG_INIT_WEIGHT,
    InitPeephole = sys::SEQVID_CFG_INIT_PEEPHOLE,
    ForgetBias = sys::SEQVID_CFG_FORGET_BIAS,
    /// Experimental (not stable, may change in any minor release; seqvid.h): the probability
    /// that a step of the conditional reconstruction decoder is fed its own previous output
    /// in training (scheduled sampling). Changeable with [`Model::set`](crate::Model::set).
    SampleRecon = sys::SEQVID_CFG_SAMPLE_RECON,
    /// Experimental, as [`ConfigKey::SampleRecon`], for the conditional future predictor.
    SampleFuture = sys::SEQVID_CFG_SAMPLE_FUTURE,
}
}

/// How decoders are fed in [`Model::evaluate`] (`seqvid_eval_flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Eval {
    /// As at inference: the honest number.
    Inference = sys::SEQVID_EVAL_INFERENCE,
    /// The truth, as in training.
    TeacherForced = sys::SEQVID_EVAL_TEACHER_FORCED,
}

/// Optimizer kinds (`seqvid_optimizer_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum OptimizerKind {
    /// Momentum SGD with L2 decay and per-element update clipping.
    Sgd = sys::SEQVID_OPT_SGD,
    /// RMSprop.
    RmsProp = sys::SEQVID_OPT_RMSPROP,
    /// Adam.
    Adam = sys::SEQVID_OPT_ADAM,
}

open_keys! {
/// Optimizer keys (`seqvid_optimizer_key`); seqvid.h gives the update rules and defaults.
/// Open: [`OptimizerKey::from_raw`] passes a key of a newer library.
#[allow(missing_docs)]
OptimizerKey {
    Lr = sys::SEQVID_OPT_LR,
    Momentum = sys::SEQVID_OPT_MOMENTUM,
    WeightDecay = sys::SEQVID_OPT_WEIGHT_DECAY,
    UpdateClip = sys::SEQVID_OPT_UPDATE_CLIP,
    GradClip = sys::SEQVID_OPT_GRAD_CLIP,
    Decay = sys::SEQVID_OPT_DECAY,
    Beta1 = sys::SEQVID_OPT_BETA1,
    Beta2 = sys::SEQVID_OPT_BETA2,
    Eps = sys::SEQVID_OPT_EPS,
}
}

open_keys! {
/// Moving MNIST generator keys (`seqvid_mmnist_key`).
MmnistKey {
    /// Digits per sequence (1..8, default 2).
    Digits = sys::SEQVID_MM_DIGITS,
    /// Canvas side in pixels (default 64, larger than a digit).
    Canvas = sys::SEQVID_MM_CANVAS,
    /// Lowest speed, canvas-range units per frame (default 0.1).
    SpeedMin = sys::SEQVID_MM_SPEED_MIN,
    /// Highest speed (default 0.1).
    SpeedMax = sys::SEQVID_MM_SPEED_MAX,
    /// Seed; setting it restarts the random stream (default 1).
    Seed = sys::SEQVID_MM_SEED,
}
}

open_keys! {
/// Loader limits (`seqvid_limit_key`), set with [`set_limit`]: bounds on what a loader
/// accepts from a file, so that a hostile one cannot make it use unbounded memory.
LimitKey {
    /// Largest IDX image payload (bytes after gunzip) [`Digits`] reads (1..2^40, default 2^30).
    IdxBytes = sys::SEQVID_LIMIT_IDX_BYTES,
}
}

/// Layout of .npy sequence files (`seqvid_layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Layout {
    /// (T, N, ...), as mnist_test_seq.npy.
    TimeMajor = sys::SEQVID_LAYOUT_TIME_MAJOR,
    /// (N, T, ...).
    SeqMajor = sys::SEQVID_LAYOUT_SEQ_MAJOR,
}

/// "MAJOR.MINOR.PATCH" of the library actually linked.
pub fn version() -> &'static str {
    // SAFETY: a constant NUL-terminated string.
    unsafe { CStr::from_ptr(sys::seqvid_version_string()) }
        .to_str()
        .unwrap_or("?")
}

/// MAJOR*10000 + MINOR*100 + PATCH of the library actually linked.
pub fn version_number() -> i32 {
    // SAFETY: no arguments, no state.
    unsafe { sys::seqvid_version_number() }
}

/// The matrix-product backend: what multiplies the matrices (seqvid.h,
/// `seqvid_experimental_backend`, experimental).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// "openblas", "reference" or "onednn".
    pub name: &'static str,
    /// The kernel set picked for this CPU ("Haswell", "avx512_core_bf16", ...; "" if none).
    pub kernels: &'static str,
    /// The `OPENBLAS_CORETYPE` value to start the program with ("SkylakeX" or "Haswell"),
    /// when OpenBLAS runs its generic ("Prescott") kernels on a CPU that has better ones
    /// (about half the speed).
    /// OpenBLAS reads the variable once, when it is loaded: set it before the program starts.
    pub advice: Option<&'static str>,
}

/// The backend of the linked library (see [`Backend`]).
pub fn backend() -> Backend {
    let (mut n, mut k, mut a) = (std::ptr::null(), std::ptr::null(), std::ptr::null());
    // SAFETY: three out-pointers; the library stores static NUL-terminated strings or NULL.
    unsafe { sys::seqvid_experimental_backend(&mut n, &mut k, &mut a) };
    // SAFETY: static strings from the library (or NULL, checked).
    let s = |p: *const std::os::raw::c_char| {
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?"))
    };
    Backend { name: s(n).unwrap_or("?"), kernels: s(k).unwrap_or(""), advice: s(a) }
}

/// Whether the linked library has the major version these bindings were written for.
pub fn version_compatible() -> bool {
    version_number() / 10000 == BINDING_MAJOR
}

/// Set the process-wide BLAS thread count (0: all cores).
///
/// # Safety
/// seqvid.h: call it "before starting threads that train, not while they run". No other
/// thread may be inside a libseqvid call meanwhile (the count is read by running calls).
pub unsafe fn set_threads(n: usize) -> Result<()> {
    let n =
        i32::try_from(n).map_err(|_| Error::new(Status::Arg, "set_threads: too many threads"))?;
    // SAFETY: a process-wide integer setting.
    error::check(unsafe { sys::seqvid_set_threads(n) })
}

/// The process-wide BLAS thread count.
pub fn threads() -> usize {
    // SAFETY: reads a process-wide integer.
    unsafe { sys::seqvid_get_threads() }.max(0) as usize
}

/// Set a process-wide loader limit (`seqvid_set_limit`); safe from any thread, any time (a
/// load already running keeps the value it read). The value must lie in the key's range.
pub fn set_limit(key: LimitKey, value: u64) -> Result<()> {
    // Values above 2^53 are not exact in a double; the library refuses them as out of range
    // anyway (every limit is below 2^41), so rounding cannot let one through.
    // SAFETY: a process-wide setting behind an atomic in the library.
    error::check(unsafe { sys::seqvid_set_limit(key.raw(), value as f64) })
}

/// The current value of a loader limit (`seqvid_get_limit`).
pub fn limit(key: LimitKey) -> Result<u64> {
    let mut v = 0.0f64;
    // SAFETY: `v` is a valid out-pointer for the call.
    error::check(unsafe { sys::seqvid_get_limit(key.raw(), &mut v) })?;
    Ok(v as u64)
}

/// A path as the NUL-terminated bytes the library expects.
pub(crate) fn cpath(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        Error::new(
            Status::Arg,
            format!("path contains a NUL byte: {}", p.display()),
        )
    })
}
