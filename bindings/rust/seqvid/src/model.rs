//! Configurations, models, streams, optimizers, saving and checkpoints.
use std::ffi::{CStr, c_void};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::{self, NonNull};

use seqvid_sys as sys;

use crate::batch::Batch;
use crate::data::MovingMnist;
use crate::error::{Error, Result, Status, check};
use crate::{ConfigKey, Eval, Feed, Kind, OptimizerKey, OptimizerKind, Output, Tensor, cpath};

/// A zero tensor for an output, or Status::Overflow if its size does not fit.
pub(crate) fn zeros(shape: &[usize]) -> Result<Tensor> {
    Tensor::zeros(shape).ok_or_else(|| {
        Error::new(
            Status::Overflow,
            format!("output of shape {shape:?} overflows"),
        )
    })
}

fn nonnull<T>(p: *mut T) -> NonNull<T> {
    NonNull::new(p).expect("libseqvid returned SEQVID_OK and a NULL handle")
}

// ------------------------------------------------------------------------------------------
// Config
// ------------------------------------------------------------------------------------------

/// A model configuration (`seqvid_config`) holding the SR15 Moving MNIST composite defaults
/// until changed. [`Model::builder`] is usually handier.
pub struct Config {
    pub(crate) raw: NonNull<sys::seqvid_config>,
}

// SAFETY: no thread affinity (seqvid.h "Thread safety"). Sync: "reading a config ... from
// several threads at once is safe", and the only `&self` uses (get, Model::new) read it.
unsafe impl Send for Config {}
unsafe impl Sync for Config {}

impl Config {
    /// The default configuration.
    pub fn new() -> Result<Config> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid out pointer.
        check(unsafe { sys::seqvid_config_create(&mut raw) })?;
        Ok(Config { raw: nonnull(raw) })
    }

    /// Set a key; out-of-range values and integer keys given non-integers are errors (the
    /// configuration is then unchanged).
    pub fn set(&mut self, key: ConfigKey, value: f64) -> Result<&mut Config> {
        // SAFETY: live handle.
        check(unsafe { sys::seqvid_config_set(self.raw.as_ptr(), key.raw(), value) })?;
        Ok(self)
    }

    /// Read a key.
    pub fn get(&self, key: ConfigKey) -> Result<f64> {
        let mut v = 0.0;
        // SAFETY: live handle, valid output.
        check(unsafe { sys::seqvid_config_get(self.raw.as_ptr(), key.raw(), &mut v) })?;
        Ok(v)
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once.
        unsafe { sys::seqvid_config_free(self.raw.as_ptr()) }
    }
}

/// Collects configuration keys and creates a [`Model`]; errors (an out-of-range value)
/// surface from [`ModelBuilder::build`] with the library's message.
#[derive(Clone, Debug, Default)]
pub struct ModelBuilder {
    keys: Vec<(ConfigKey, f64)>,
}

impl ModelBuilder {
    /// Set any key.
    pub fn set(mut self, key: ConfigKey, value: f64) -> Self {
        self.keys.push((key, value));
        self
    }
    /// Autoencoder, predictor or composite (default composite).
    pub fn kind(self, kind: Kind) -> Self {
        self.set(ConfigKey::Kind, kind as i32 as f64)
    }
    /// D, floats per frame (default 4096 = 64x64).
    pub fn input_dim(self, d: usize) -> Self {
        self.set(ConfigKey::InputDim, d as f64)
    }
    /// H, units per LSTM layer (default 2048).
    pub fn hidden(self, h: usize) -> Self {
        self.set(ConfigKey::Hidden, h as f64)
    }
    /// L, layers in every stack (default 1).
    pub fn layers(self, l: usize) -> Self {
        self.set(ConfigKey::Layers, l as f64)
    }
    /// Diagonal peephole connections (default on).
    pub fn peepholes(self, on: bool) -> Self {
        self.set(ConfigKey::Peepholes, on as i32 as f64)
    }
    /// K, frames read by the encoder in training (default 10).
    pub fn input_frames(self, k: usize) -> Self {
        self.set(ConfigKey::InputFrames, k as f64)
    }
    /// M, frames predicted in training (default 10).
    pub fn future_frames(self, m: usize) -> Self {
        self.set(ConfigKey::FutureFrames, m as f64)
    }
    /// Conditional reconstruction decoder (default on).
    pub fn cond_recon(self, on: bool) -> Self {
        self.set(ConfigKey::CondRecon, on as i32 as f64)
    }
    /// Conditional future predictor (default on).
    pub fn cond_future(self, on: bool) -> Self {
        self.set(ConfigKey::CondFuture, on as i32 as f64)
    }
    /// Binary (sigmoid + cross-entropy, default) or real (linear + squared loss) output.
    pub fn output(self, o: Output) -> Self {
        self.set(ConfigKey::Output, o as i32 as f64)
    }
    /// What the reconstruction decoder is fed at inference.
    pub fn recon_feed(self, f: Feed) -> Self {
        self.set(ConfigKey::ReconFeed, f as i32 as f64)
    }
    /// Seed of the weight initialisation (default 42).
    pub fn seed(self, seed: u64) -> Self {
        self.set(ConfigKey::Seed, seed as f64)
    }
    /// The [`Config`] holding the keys set so far.
    pub fn config(&self) -> Result<Config> {
        let mut cfg = Config::new()?;
        for &(k, v) in &self.keys {
            cfg.set(k, v)?;
        }
        Ok(cfg)
    }
    /// Create the configuration and the model.
    pub fn build(&self) -> Result<Model> {
        Model::new(&self.config()?)
    }
    /// A [`Classifier`](crate::Classifier) of `n_classes` over a stack of this
    /// configuration (only the stack keys matter: input_dim, hidden, layers, peepholes,
    /// seed, init_*, forget_bias).
    pub fn build_classifier(&self, n_classes: usize) -> Result<crate::Classifier> {
        crate::Classifier::new(&self.config()?, n_classes)
    }
}

// ------------------------------------------------------------------------------------------
// Model
// ------------------------------------------------------------------------------------------

/// Losses per frame: nats (binary output) or squared-loss units (real output), summed over
/// a frame's values and averaged over the batch's valid target frames. A model without
/// the corresponding decoder reports 0.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Losses {
    /// Reconstruction loss.
    pub rec: f32,
    /// Future prediction loss.
    pub fut: f32,
}

impl Losses {
    /// The training objective, rec + fut.
    pub fn total(&self) -> f32 {
        self.rec + self.fut
    }
}

/// A weight block of the parameter arena: `params()[offset..offset + rows * cols]`,
/// row-major `rows` x `cols` (vectors have cols = 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamBlock {
    /// "encoder.0.w_x", "future.readout.w", ...
    pub name: String,
    /// Index of the block's first float in the arena.
    pub offset: usize,
    /// Rows of the row-major block.
    pub rows: usize,
    /// Columns (1 for vectors).
    pub cols: usize,
}

impl ParamBlock {
    /// The block's range in the arena.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.rows * self.cols
    }
}

/// An LSTM encoder-decoder (`seqvid_model`): autoencoder, future predictor or composite.
///
/// Every call that runs the network takes `&mut self`: the model keeps workspaces, so even
/// inference mutates it, and seqvid.h allows one thread at a time per model, "including
/// inference calls". Hence `Model` is `Send` (it may move to, and be trained in, another
/// thread; the library has no thread affinity and its error message is read on the calling
/// thread) but not `Sync`: with `&Model` shared between threads, two `&self` calls could
/// overlap, and the header promises no more than "only read" for saving.
pub struct Model {
    pub(crate) raw: NonNull<sys::seqvid_model>,
}

// SAFETY: see the type's documentation.
unsafe impl Send for Model {}

impl Model {
    /// A model with freshly initialised weights (deterministic for a seed).
    pub fn new(cfg: &Config) -> Result<Model> {
        let mut raw = ptr::null_mut();
        // SAFETY: live config handle (only read), valid out pointer.
        check(unsafe { sys::seqvid_model_create(cfg.raw.as_ptr(), &mut raw) })?;
        Ok(Model { raw: nonnull(raw) })
    }

    /// A [`ModelBuilder`]: `Model::builder().input_dim(64).hidden(32).build()?`.
    pub fn builder() -> ModelBuilder {
        ModelBuilder::default()
    }

    /// A model saved with [`Model::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let p = cpath(path.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: NUL-terminated path, valid out pointer.
        check(unsafe { sys::seqvid_model_load(p.as_ptr(), &mut raw) })?;
        Ok(Model { raw: nonnull(raw) })
    }

    /// A model from the bytes of [`Model::to_bytes`] (or of a saved file).
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let mut raw = ptr::null_mut();
        // SAFETY: the slice is valid for its length.
        check(unsafe {
            sys::seqvid_model_load_buffer(bytes.as_ptr() as *const c_void, bytes.len(), &mut raw)
        })?;
        Ok(Model { raw: nonnull(raw) })
    }

    /// Save atomically (safetensors): a crash leaves the old file or the new one.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live handle (only read), NUL-terminated path.
        check(unsafe { sys::seqvid_model_save(self.raw.as_ptr(), p.as_ptr()) })
    }

    /// The saved form as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut size = 0;
        // SAFETY: buf NULL asks for the size only.
        check(unsafe {
            sys::seqvid_model_save_buffer(self.raw.as_ptr(), ptr::null_mut(), 0, &mut size)
        })?;
        let mut buf = vec![0u8; size];
        // SAFETY: buf holds `size` bytes.
        check(unsafe {
            sys::seqvid_model_save_buffer(
                self.raw.as_ptr(),
                buf.as_mut_ptr() as *mut c_void,
                buf.len(),
                &mut size,
            )
        })?;
        buf.truncate(size);
        Ok(buf)
    }

    /// Read any configuration key of the model.
    pub fn get(&self, key: ConfigKey) -> Result<f64> {
        let mut v = 0.0;
        // SAFETY: live handle, valid output.
        check(unsafe { sys::seqvid_model_get(self.raw.as_ptr(), key.raw(), &mut v) })?;
        Ok(v)
    }

    /// Change a key after creation: only [`ConfigKey::ReconFeed`] and the experimental
    /// scheduled-sampling keys ([`ConfigKey::SampleRecon`], [`ConfigKey::SampleFuture`], at
    /// any time, e.g. a schedule between steps) may change ([`Status::State`] otherwise).
    pub fn set(&mut self, key: ConfigKey, value: f64) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { sys::seqvid_model_set(self.raw.as_ptr(), key.raw(), value) })
    }

    fn get_usize(&self, key: ConfigKey) -> usize {
        self.get(key).map(|v| v as usize).unwrap_or(0)
    }

    /// The model's kind.
    pub fn kind(&self) -> Kind {
        match self.get(ConfigKey::Kind).map(|v| v as i32) {
            Ok(sys::SEQVID_AUTOENCODER) => Kind::Autoencoder,
            Ok(sys::SEQVID_PREDICTOR) => Kind::Predictor,
            _ => Kind::Composite,
        }
    }
    /// D.
    pub fn input_dim(&self) -> usize {
        self.get_usize(ConfigKey::InputDim)
    }
    /// H.
    pub fn hidden(&self) -> usize {
        self.get_usize(ConfigKey::Hidden)
    }
    /// L.
    pub fn layers(&self) -> usize {
        self.get_usize(ConfigKey::Layers)
    }
    /// K.
    pub fn input_frames(&self) -> usize {
        self.get_usize(ConfigKey::InputFrames)
    }
    /// M.
    pub fn future_frames(&self) -> usize {
        self.get_usize(ConfigKey::FutureFrames)
    }

    fn losses(f: impl FnOnce(*mut f32, *mut f32) -> i32) -> Result<Losses> {
        let (mut rec, mut fut) = (0f32, 0f32);
        check(f(&mut rec, &mut fut))?;
        Ok(Losses { rec, fut })
    }

    /// Forward and backward on a training batch (at least K + M steps): fills the gradient
    /// arena ([`Model::grads`]), leaves the weights alone.
    pub fn gradients(&mut self, batch: &Batch<'_>) -> Result<Losses> {
        let m = self.raw.as_ptr();
        // SAFETY: live handles; loss outputs valid.
        Model::losses(|r, f| unsafe { sys::seqvid_model_gradients(m, batch.as_ptr(), r, f) })
    }

    /// [`Model::gradients`] then [`Optimizer::step`]; on failure weights and optimizer
    /// state are exactly as before. Returns the losses before the update.
    pub fn train_step(&mut self, opt: &mut Optimizer, batch: &Batch<'_>) -> Result<Losses> {
        let (m, o) = (self.raw.as_ptr(), opt.raw.as_ptr());
        // SAFETY: live handles; loss outputs valid.
        Model::losses(|r, f| unsafe { sys::seqvid_model_train_step(m, o, batch.as_ptr(), r, f) })
    }

    /// Losses on a training-shaped batch without any update.
    pub fn evaluate(&mut self, batch: &Batch<'_>, mode: Eval) -> Result<Losses> {
        let m = self.raw.as_ptr();
        // SAFETY: live handles; loss outputs valid.
        Model::losses(|r, f| unsafe {
            sys::seqvid_model_evaluate(m, batch.as_ptr(), mode as i32, r, f)
        })
    }

    /// Reconstructions of all valid frames in input order, into `out` (>= T*S*D floats,
    /// laid out like the batch; frames past a sequence's length are 0).
    pub fn reconstruct_into(&mut self, batch: &Batch<'_>, out: &mut [f32]) -> Result<()> {
        // SAFETY: out is valid for out.len() floats; the library checks it is enough.
        check(unsafe {
            sys::seqvid_model_reconstruct(
                self.raw.as_ptr(),
                batch.as_ptr(),
                out.as_mut_ptr(),
                out.len(),
            )
        })
    }

    /// [`Model::reconstruct_into`] a new tensor shaped `[T, S, D]`.
    pub fn reconstruct(&mut self, batch: &Batch<'_>) -> Result<Tensor> {
        let (t, s, d) = batch.shape();
        let mut out = zeros(&[t, s, d])?;
        self.reconstruct_into(batch, &mut out)?;
        Ok(out)
    }

    /// The `n_future` frames after each sequence's last valid frame, into `out`
    /// (>= n_future*S*D floats, time-major).
    pub fn predict_into(
        &mut self,
        batch: &Batch<'_>,
        n_future: usize,
        out: &mut [f32],
    ) -> Result<()> {
        // SAFETY: as reconstruct_into.
        check(unsafe {
            sys::seqvid_model_predict(
                self.raw.as_ptr(),
                batch.as_ptr(),
                n_future,
                out.as_mut_ptr(),
                out.len(),
            )
        })
    }

    /// [`Model::predict_into`] a new tensor shaped `[n_future, S, D]` (time-major, like
    /// the batch).
    pub fn predict(&mut self, batch: &Batch<'_>, n_future: usize) -> Result<Tensor> {
        let (_, s, d) = batch.shape();
        let mut out = zeros(&[n_future, s, d])?;
        self.predict_into(batch, n_future, &mut out)?;
        Ok(out)
    }

    /// The representation of every sequence into `out` (>= S * feature_dim floats): for
    /// each encoder layer l, the final h (`l*2H .. l*2H+H`) then c.
    pub fn encode_into(&mut self, batch: &Batch<'_>, out: &mut [f32]) -> Result<()> {
        // SAFETY: as reconstruct_into.
        check(unsafe {
            sys::seqvid_model_encode(
                self.raw.as_ptr(),
                batch.as_ptr(),
                out.as_mut_ptr(),
                out.len(),
            )
        })
    }

    /// [`Model::encode_into`] a new tensor shaped `[S, feature_dim]`.
    pub fn encode(&mut self, batch: &Batch<'_>) -> Result<Tensor> {
        let mut out = zeros(&[batch.n_seqs(), self.feature_dim()])?;
        self.encode_into(batch, &mut out)?;
        Ok(out)
    }

    /// Length of a representation: 2 * L * H.
    pub fn feature_dim(&self) -> usize {
        let mut n = 0;
        // SAFETY: live handle, valid output.
        let rc = unsafe { sys::seqvid_model_feature_dim(self.raw.as_ptr(), &mut n) };
        debug_assert_eq!(rc, 0);
        n
    }

    /// A [`Stream`] encoding `n_seqs` parallel sequences frame by frame. It borrows the
    /// model mutably: the two must not be used at once.
    pub fn stream(&mut self, n_seqs: usize) -> Result<Stream<'_>> {
        let mut raw = ptr::null_mut();
        // SAFETY: live model handle; the stream cannot outlive the borrow.
        check(unsafe { sys::seqvid_stream_create(self.raw.as_ptr(), n_seqs, &mut raw) })?;
        Ok(Stream {
            raw: nonnull(raw),
            n_seqs,
            dim: self.input_dim(),
            feature_dim: self.feature_dim(),
            _model: PhantomData,
        })
    }

    /// Number of parameters (floats in the arena).
    pub fn param_count(&self) -> usize {
        let mut n = 0;
        // SAFETY: live handle, valid output.
        let rc = unsafe { sys::seqvid_model_param_count(self.raw.as_ptr(), &mut n) };
        debug_assert_eq!(rc, 0);
        n
    }

    fn arena(&self, grads: bool) -> *mut f32 {
        let mut p = ptr::null_mut();
        // SAFETY: live handle; these calls only return a pointer (they take a non-const
        // model because the pointer is writable, not because they write).
        let rc = unsafe {
            if grads {
                sys::seqvid_model_grads(self.raw.as_ptr(), &mut p)
            } else {
                sys::seqvid_model_params(self.raw.as_ptr(), &mut p)
            }
        };
        debug_assert_eq!(rc, 0);
        p
    }

    /// The weights, zero-copy: the whole parameter arena.
    pub fn params(&self) -> &[f32] {
        // SAFETY: the arena holds param_count floats while the model lives; &self excludes
        // writers for the slice's life.
        unsafe { std::slice::from_raw_parts(self.arena(false), self.param_count()) }
    }

    /// The weights, writable in place.
    pub fn params_mut(&mut self) -> &mut [f32] {
        // SAFETY: as params(); &mut self makes it exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.arena(false), self.param_count()) }
    }

    /// The gradient arena of the last [`Model::gradients`] call.
    pub fn grads(&self) -> &[f32] {
        // SAFETY: as params().
        unsafe { std::slice::from_raw_parts(self.arena(true), self.param_count()) }
    }

    /// The gradient arena, writable (e.g. to average workers' gradients before
    /// [`Optimizer::step`]).
    pub fn grads_mut(&mut self) -> &mut [f32] {
        // SAFETY: as params_mut().
        unsafe { std::slice::from_raw_parts_mut(self.arena(true), self.param_count()) }
    }

    /// Names, offsets and shapes of every weight block.
    pub fn param_blocks(&self) -> Vec<ParamBlock> {
        param_blocks_of(
            self.raw.as_ptr(),
            sys::seqvid_model_param_block_count,
            sys::seqvid_model_param_block,
        )
    }

    /// The weights of one block, by name.
    pub fn param_block(&self, name: &str) -> Option<&[f32]> {
        let b = self.param_blocks().into_iter().find(|b| b.name == name)?;
        Some(&self.params()[b.range()])
    }

    /// The weights of one block, writable.
    pub fn param_block_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        let b = self.param_blocks().into_iter().find(|b| b.name == name)?;
        Some(&mut self.params_mut()[b.range()])
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once; streams borrow the model so are gone already.
        unsafe { sys::seqvid_model_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("kind", &self.kind())
            .field("input_dim", &self.input_dim())
            .field("hidden", &self.hidden())
            .field("layers", &self.layers())
            .field("params", &self.param_count())
            .finish()
    }
}

// ------------------------------------------------------------------------------------------
// Stream
// ------------------------------------------------------------------------------------------

/// A streaming encoder (`seqvid_stream`): after frames x_0..x_t of every sequence were
/// pushed, [`Stream::features`] equals [`Model::encode`] of those t+1 frames. Made by
/// [`Model::stream`]; it borrows the model mutably, since the stream reads its weights and
/// the two must not be used at once.
pub struct Stream<'m> {
    raw: NonNull<sys::seqvid_stream>,
    n_seqs: usize,
    dim: usize,
    feature_dim: usize,
    _model: PhantomData<&'m mut Model>,
}

// SAFETY: as Model; the borrowed &mut Model is Send.
unsafe impl Send for Stream<'_> {}

impl Stream<'_> {
    /// Encode the next frame of every sequence: `frames[b * D + d]`, n_seqs * D floats.
    /// Non-finite frames give [`Status::NonFinite`] and leave the state unchanged.
    pub fn push(&mut self, frames: &[f32]) -> Result<()> {
        if frames.len() != self.n_seqs * self.dim {
            return Err(Error::new(
                Status::Shape,
                format!(
                    "Stream::push: {} floats, {} x {} needed",
                    frames.len(),
                    self.n_seqs,
                    self.dim
                ),
            ));
        }
        // SAFETY: live handle; frames valid for its length.
        check(unsafe { sys::seqvid_stream_push(self.raw.as_ptr(), frames.as_ptr(), frames.len()) })
    }

    /// The features after the frames pushed so far, into `out` (>= n_seqs * feature_dim).
    pub fn features_into(&self, out: &mut [f32]) -> Result<()> {
        // SAFETY: live handle; out valid for its length.
        check(unsafe {
            sys::seqvid_stream_features(self.raw.as_ptr(), out.as_mut_ptr(), out.len())
        })
    }

    /// The features after the frames pushed so far, shaped `[n_seqs, feature_dim]`.
    pub fn features(&self) -> Result<Tensor> {
        let mut out = zeros(&[self.n_seqs, self.feature_dim])?;
        self.features_into(&mut out)?;
        Ok(out)
    }

    /// Back to the zero state, for new sequences.
    pub fn reset(&mut self) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { sys::seqvid_stream_reset(self.raw.as_ptr()) })
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once, before the borrowed model.
        unsafe { sys::seqvid_stream_free(self.raw.as_ptr()) }
    }
}

// ------------------------------------------------------------------------------------------
// Optimizer
// ------------------------------------------------------------------------------------------

/// An optimizer (`seqvid_optimizer`): momentum SGD, RMSprop or Adam. It binds to the
/// parameter count of the first model it steps. `Send`, not `Sync`, like [`Model`].
pub struct Optimizer {
    pub(crate) raw: NonNull<sys::seqvid_optimizer>,
}

// SAFETY: as Model.
unsafe impl Send for Optimizer {}

impl Optimizer {
    /// Take ownership of a handle the library returned with SEQVID_OK.
    pub(crate) fn from_raw(raw: *mut sys::seqvid_optimizer) -> Optimizer {
        Optimizer { raw: nonnull(raw) }
    }

    /// An optimizer with the kind's defaults (seqvid.h lists them).
    pub fn new(kind: OptimizerKind) -> Result<Optimizer> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid out pointer.
        check(unsafe { sys::seqvid_optimizer_create(kind as i32, &mut raw) })?;
        Ok(Optimizer { raw: nonnull(raw) })
    }

    /// Builder style: `Optimizer::new(OptimizerKind::Adam)?.with(OptimizerKey::Lr, 1e-3)?`.
    pub fn with(mut self, key: OptimizerKey, value: f64) -> Result<Optimizer> {
        self.set(key, value)?;
        Ok(self)
    }

    /// Set a key (between steps too: a learning-rate schedule). A key that does not apply
    /// to the kind gives [`Status::Arg`].
    pub fn set(&mut self, key: OptimizerKey, value: f64) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { sys::seqvid_optimizer_set(self.raw.as_ptr(), key.raw(), value) })
    }

    /// Read a key.
    pub fn get(&self, key: OptimizerKey) -> Result<f64> {
        let mut v = 0.0;
        // SAFETY: live handle, valid output.
        check(unsafe { sys::seqvid_optimizer_get(self.raw.as_ptr(), key.raw(), &mut v) })?;
        Ok(v)
    }

    /// Apply the model's gradient arena to its weights.
    pub fn step(&mut self, model: &mut Model) -> Result<()> {
        // SAFETY: live handles.
        check(unsafe { sys::seqvid_optimizer_step(self.raw.as_ptr(), model.raw.as_ptr()) })
    }

    /// Updates applied so far (`seqvid_optimizer_step_count`).
    pub fn steps(&self) -> u64 {
        let mut n = 0;
        // SAFETY: live handle, valid output.
        let rc = unsafe { sys::seqvid_optimizer_step_count(self.raw.as_ptr(), &mut n) };
        debug_assert_eq!(rc, 0);
        n
    }
}

impl Drop for Optimizer {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once.
        unsafe { sys::seqvid_optimizer_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimizer")
            .field("steps", &self.steps())
            .finish()
    }
}

// ------------------------------------------------------------------------------------------
// Checkpoints
// ------------------------------------------------------------------------------------------

/// Save model, optimizer state, `step` and (if given) the generator's random state,
/// atomically. Loading it and training on gives bitwise the same weights as never having
/// stopped.
pub fn save_checkpoint(
    path: impl AsRef<Path>,
    model: &Model,
    opt: &Optimizer,
    generator: Option<&MovingMnist<'_>>,
    step: u64,
) -> Result<()> {
    let p = cpath(path.as_ref())?;
    let g = generator.map_or(ptr::null(), |g| g.as_ptr());
    // SAFETY: live handles (only read), NUL-terminated path.
    check(unsafe {
        sys::seqvid_checkpoint_save(p.as_ptr(), model.raw.as_ptr(), opt.raw.as_ptr(), g, step)
    })
}

/// The blocks of a parameter arena through its two C accessors: models and classifiers
/// share the arena (lib/arena.c) and so this reading of it.
pub(crate) fn param_blocks_of<H>(
    h: *const H,
    count: unsafe extern "C" fn(*const H, *mut usize) -> std::ffi::c_int,
    block: unsafe extern "C" fn(
        *const H,
        usize,
        *mut *const std::ffi::c_char,
        *mut usize,
        *mut usize,
        *mut usize,
    ) -> std::ffi::c_int,
) -> Vec<ParamBlock> {
    let mut n = 0;
    // SAFETY: h is a live handle; valid outputs; each name is copied before the next call.
    unsafe { count(h, &mut n) };
    (0..n)
        .filter_map(|i| {
            let (mut name, mut offset, mut rows, mut cols) = (ptr::null(), 0, 0, 0);
            let rc = unsafe { block(h, i, &mut name, &mut offset, &mut rows, &mut cols) };
            (rc == 0 && !name.is_null()).then(|| ParamBlock {
                name: unsafe { CStr::from_ptr(name) }
                    .to_string_lossy()
                    .into_owned(),
                offset,
                rows,
                cols,
            })
        })
        .collect()
}

/// (model, optimizer, step) from a checkpoint; with a generator, its random state is
/// restored too ([`Status::Format`] if the file holds none).
pub fn load_checkpoint(
    path: impl AsRef<Path>,
    generator: Option<&mut MovingMnist<'_>>,
) -> Result<(Model, Optimizer, u64)> {
    let p = cpath(path.as_ref())?;
    let g = generator.map_or(ptr::null_mut(), |g| g.as_mut_ptr());
    let (mut m, mut o, mut step) = (ptr::null_mut(), ptr::null_mut(), 0u64);
    // SAFETY: valid out pointers; g is NULL or a live generator borrowed mutably.
    check(unsafe { sys::seqvid_checkpoint_load(p.as_ptr(), &mut m, &mut o, g, &mut step) })?;
    Ok((
        Model { raw: nonnull(m) },
        Optimizer { raw: nonnull(o) },
        step,
    ))
}
