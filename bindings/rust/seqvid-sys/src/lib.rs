//! Raw FFI declarations of libseqvid's public header `seqvid.h`, major version 1.
//!
//! Hand-written (no bindgen at build time) and kept in the header's order;
//! `tests/header.rs` translates every prototype and enum constant of `include/seqvid.h`
//! into the Rust spelling expected here and fails on any difference, so the two cannot
//! drift. The safe API is the `seqvid` crate; this one is for people who need the C calls
//! as they are. Every function is `unsafe`: see `seqvid.h` for each one's contract.
//!
//! Linking: see `build.rs` (`SEQVID_LIB_DIR`, else `pkg-config seqvid`, else `-lseqvid`).
#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_double, c_float, c_int, c_void};
use core::marker::{PhantomData, PhantomPinned};

/// The major version of seqvid.h these declarations mirror.
pub const SEQVID_VERSION_MAJOR: c_int = 1;
pub const SEQVID_VERSION_MINOR: c_int = 1;
pub const SEQVID_VERSION_PATCH: c_int = 0;
pub const SEQVID_VERSION_NUMBER: c_int =
    SEQVID_VERSION_MAJOR * 10000 + SEQVID_VERSION_MINOR * 100 + SEQVID_VERSION_PATCH;

macro_rules! opaque {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            // Neither Send, Sync nor Unpin: only the safe crate decides what is sound.
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque! {
    /// S sequences of T frames of D floats, time-major, with per-sequence lengths.
    seqvid_batch;
    /// A model configuration (integer keys).
    seqvid_config;
    /// An autoencoder, future predictor or composite model.
    seqvid_model;
    /// A streaming encoder over a model.
    seqvid_stream;
    /// An LSTM stack with a softmax readout at every step.
    seqvid_classifier;
    /// An optimizer (SGD, RMSprop, Adam).
    seqvid_optimizer;
    /// A set of digit images (read-only after loading).
    seqvid_digits;
    /// A Moving MNIST generator.
    seqvid_mmnist;
}

/// libseqvid_video (`seqvid_video.h`), with the `video` feature.
#[cfg(feature = "video")]
pub mod video;

// ---- seqvid_status ----------------------------------------------------------------------
pub type seqvid_status = c_int;
pub const SEQVID_OK: c_int = 0;
pub const SEQVID_ERR_NULL: c_int = 1;
pub const SEQVID_ERR_ARG: c_int = 2;
pub const SEQVID_ERR_SHAPE: c_int = 3;
pub const SEQVID_ERR_OVERFLOW: c_int = 4;
pub const SEQVID_ERR_NOMEM: c_int = 5;
pub const SEQVID_ERR_NONFINITE: c_int = 6;
pub const SEQVID_ERR_IO: c_int = 7;
pub const SEQVID_ERR_FORMAT: c_int = 8;
pub const SEQVID_ERR_UNSUPPORTED: c_int = 9;
pub const SEQVID_ERR_STATE: c_int = 10;
pub const SEQVID_ERR_BUFFER: c_int = 11;
pub const SEQVID_STATUS_COUNT_: c_int = 12;

// ---- seqvid_kind, seqvid_output, seqvid_feed --------------------------------------------
pub type seqvid_kind = c_int;
pub const SEQVID_AUTOENCODER: c_int = 1;
pub const SEQVID_PREDICTOR: c_int = 2;
pub const SEQVID_COMPOSITE: c_int = 3;
pub type seqvid_output = c_int;
pub const SEQVID_OUTPUT_BINARY: c_int = 0;
pub const SEQVID_OUTPUT_REAL: c_int = 1;
pub type seqvid_feed = c_int;
pub const SEQVID_FEED_TRUTH: c_int = 0;
pub const SEQVID_FEED_PREDICTION: c_int = 1;

// ---- seqvid_config_key ------------------------------------------------------------------
pub type seqvid_config_key = c_int;
pub const SEQVID_CFG_KIND: c_int = 1;
pub const SEQVID_CFG_INPUT_DIM: c_int = 2;
pub const SEQVID_CFG_HIDDEN: c_int = 3;
pub const SEQVID_CFG_LAYERS: c_int = 4;
pub const SEQVID_CFG_PEEPHOLES: c_int = 5;
pub const SEQVID_CFG_INPUT_FRAMES: c_int = 6;
pub const SEQVID_CFG_FUTURE_FRAMES: c_int = 7;
pub const SEQVID_CFG_COND_RECON: c_int = 8;
pub const SEQVID_CFG_COND_FUTURE: c_int = 9;
pub const SEQVID_CFG_OUTPUT: c_int = 10;
pub const SEQVID_CFG_RECON_FEED: c_int = 11;
pub const SEQVID_CFG_SEED: c_int = 12;
pub const SEQVID_CFG_INIT_WEIGHT: c_int = 13;
pub const SEQVID_CFG_INIT_PEEPHOLE: c_int = 14;
pub const SEQVID_CFG_FORGET_BIAS: c_int = 15;

// ---- seqvid_eval_flags ------------------------------------------------------------------
pub type seqvid_eval_flags = c_int;
pub const SEQVID_EVAL_INFERENCE: c_int = 0;
pub const SEQVID_EVAL_TEACHER_FORCED: c_int = 1;

// ---- seqvid_classifier_key ----------------------------------------------------------------
pub type seqvid_classifier_key = c_int;
pub const SEQVID_CLS_DROPOUT: c_int = 101;
pub const SEQVID_CLS_FREEZE_STEPS: c_int = 102;
pub const SEQVID_CLS_DROPOUT_SEED: c_int = 103;
pub const SEQVID_CLS_CLASSES: c_int = 104;

// ---- seqvid_optimizer_kind, seqvid_optimizer_key ----------------------------------------
pub type seqvid_optimizer_kind = c_int;
pub const SEQVID_OPT_SGD: c_int = 1;
pub const SEQVID_OPT_RMSPROP: c_int = 2;
pub const SEQVID_OPT_ADAM: c_int = 3;
pub type seqvid_optimizer_key = c_int;
pub const SEQVID_OPT_LR: c_int = 1;
pub const SEQVID_OPT_MOMENTUM: c_int = 2;
pub const SEQVID_OPT_WEIGHT_DECAY: c_int = 3;
pub const SEQVID_OPT_UPDATE_CLIP: c_int = 4;
pub const SEQVID_OPT_GRAD_CLIP: c_int = 5;
pub const SEQVID_OPT_DECAY: c_int = 6;
pub const SEQVID_OPT_BETA1: c_int = 7;
pub const SEQVID_OPT_BETA2: c_int = 8;
pub const SEQVID_OPT_EPS: c_int = 9;

// ---- seqvid_mmnist_key, seqvid_layout ---------------------------------------------------
pub type seqvid_mmnist_key = c_int;
pub const SEQVID_MM_DIGITS: c_int = 1;
pub const SEQVID_MM_CANVAS: c_int = 2;
pub const SEQVID_MM_SPEED_MIN: c_int = 3;
pub const SEQVID_MM_SPEED_MAX: c_int = 4;
pub const SEQVID_MM_SEED: c_int = 5;
pub type seqvid_limit_key = c_int;
pub const SEQVID_LIMIT_IDX_BYTES: c_int = 1;
pub type seqvid_layout = c_int;
pub const SEQVID_LAYOUT_TIME_MAJOR: c_int = 0;
pub const SEQVID_LAYOUT_SEQ_MAJOR: c_int = 1;

// ---- seqvid_precision (experimental: not stable; see seqvid.h) --------------------------
pub type seqvid_precision = c_int;
pub const SEQVID_PRECISION_F32: c_int = 0;
pub const SEQVID_PRECISION_BF16: c_int = 1;

// ---- seqvid_weights (experimental: not stable; see seqvid.h) ----------------------------
pub type seqvid_weights = c_int;
pub const SEQVID_WEIGHTS_F32: c_int = 0;
pub const SEQVID_WEIGHTS_BF16: c_int = 1;
pub const SEQVID_WEIGHTS_F32_PACKED: c_int = 2;

// ---- seqvid_experimental_config_key (experimental: not stable; see seqvid.h) ---------------
pub type seqvid_experimental_config_key = c_int;
pub const SEQVID_CFG_SAMPLE_RECON: c_int = 1001;
pub const SEQVID_CFG_SAMPLE_FUTURE: c_int = 1002;

// ---- seqvid_names (1.1) ------------------------------------------------------------------
pub type seqvid_names = c_int;
pub const SEQVID_NAMES_CONFIG: c_int = 1;
pub const SEQVID_NAMES_OPTIMIZER: c_int = 2;
pub const SEQVID_NAMES_CLASSIFIER: c_int = 3;
pub const SEQVID_NAMES_MMNIST: c_int = 4;
pub const SEQVID_NAMES_MODEL_KIND: c_int = 5;
pub const SEQVID_NAMES_OPTIMIZER_KIND: c_int = 6;

unsafe extern "C" {
    // ---- version, errors, threads -------------------------------------------------------
    pub fn seqvid_version_string() -> *const c_char;
    pub fn seqvid_version_number() -> c_int;
    pub fn seqvid_status_string(status: c_int) -> *const c_char;
    pub fn seqvid_last_error() -> *const c_char;
    pub fn seqvid_set_threads(n: c_int) -> c_int;
    pub fn seqvid_get_threads() -> c_int;

    // ---- batches ------------------------------------------------------------------------
    pub fn seqvid_batch_create(
        n_steps: usize,
        n_seqs: usize,
        dim: usize,
        out: *mut *mut seqvid_batch,
    ) -> c_int;
    pub fn seqvid_batch_wrap(
        data: *mut c_float,
        n_steps: usize,
        n_seqs: usize,
        dim: usize,
        out: *mut *mut seqvid_batch,
    ) -> c_int;
    pub fn seqvid_batch_free(batch: *mut seqvid_batch);
    pub fn seqvid_batch_shape(
        batch: *const seqvid_batch,
        n_steps: *mut usize,
        n_seqs: *mut usize,
        dim: *mut usize,
    ) -> c_int;
    pub fn seqvid_batch_data(batch: *mut seqvid_batch, data: *mut *mut c_float) -> c_int;
    pub fn seqvid_batch_set_length(batch: *mut seqvid_batch, seq: usize, len: usize) -> c_int;
    pub fn seqvid_batch_get_length(
        batch: *const seqvid_batch,
        seq: usize,
        len: *mut usize,
    ) -> c_int;

    // ---- configuration ------------------------------------------------------------------
    pub fn seqvid_config_create(out: *mut *mut seqvid_config) -> c_int;
    pub fn seqvid_config_free(cfg: *mut seqvid_config);
    pub fn seqvid_config_set(cfg: *mut seqvid_config, key: c_int, value: c_double) -> c_int;
    pub fn seqvid_config_get(cfg: *const seqvid_config, key: c_int, value: *mut c_double) -> c_int;

    // ---- models -------------------------------------------------------------------------
    pub fn seqvid_model_create(cfg: *const seqvid_config, out: *mut *mut seqvid_model) -> c_int;
    pub fn seqvid_model_free(model: *mut seqvid_model);
    pub fn seqvid_model_get(model: *const seqvid_model, key: c_int, value: *mut c_double) -> c_int;
    pub fn seqvid_model_set(model: *mut seqvid_model, key: c_int, value: c_double) -> c_int;
    pub fn seqvid_model_gradients(
        model: *mut seqvid_model,
        batch: *const seqvid_batch,
        rec_loss: *mut c_float,
        fut_loss: *mut c_float,
    ) -> c_int;
    pub fn seqvid_model_train_step(
        model: *mut seqvid_model,
        opt: *mut seqvid_optimizer,
        batch: *const seqvid_batch,
        rec_loss: *mut c_float,
        fut_loss: *mut c_float,
    ) -> c_int;
    pub fn seqvid_model_evaluate(
        model: *mut seqvid_model,
        batch: *const seqvid_batch,
        flags: c_int,
        rec_loss: *mut c_float,
        fut_loss: *mut c_float,
    ) -> c_int;
    pub fn seqvid_model_reconstruct(
        model: *mut seqvid_model,
        batch: *const seqvid_batch,
        out: *mut c_float,
        out_count: usize,
    ) -> c_int;
    pub fn seqvid_model_predict(
        model: *mut seqvid_model,
        batch: *const seqvid_batch,
        n_future: usize,
        out: *mut c_float,
        out_count: usize,
    ) -> c_int;
    pub fn seqvid_model_encode(
        model: *mut seqvid_model,
        batch: *const seqvid_batch,
        out: *mut c_float,
        out_count: usize,
    ) -> c_int;
    pub fn seqvid_model_feature_dim(model: *const seqvid_model, dim: *mut usize) -> c_int;

    // ---- streaming encoder --------------------------------------------------------------
    pub fn seqvid_stream_create(
        model: *mut seqvid_model,
        n_seqs: usize,
        out: *mut *mut seqvid_stream,
    ) -> c_int;
    pub fn seqvid_stream_free(stream: *mut seqvid_stream);
    pub fn seqvid_stream_push(
        stream: *mut seqvid_stream,
        frames: *const c_float,
        count: usize,
    ) -> c_int;
    pub fn seqvid_stream_features(
        stream: *const seqvid_stream,
        out: *mut c_float,
        out_count: usize,
    ) -> c_int;
    pub fn seqvid_stream_reset(stream: *mut seqvid_stream) -> c_int;

    // ---- parameter arena ----------------------------------------------------------------
    pub fn seqvid_model_param_count(model: *const seqvid_model, count: *mut usize) -> c_int;
    pub fn seqvid_model_params(model: *mut seqvid_model, params: *mut *mut c_float) -> c_int;
    pub fn seqvid_model_grads(model: *mut seqvid_model, grads: *mut *mut c_float) -> c_int;
    pub fn seqvid_model_param_block_count(model: *const seqvid_model, count: *mut usize) -> c_int;
    pub fn seqvid_model_param_block(
        model: *const seqvid_model,
        i: usize,
        name: *mut *const c_char,
        offset: *mut usize,
        rows: *mut usize,
        cols: *mut usize,
    ) -> c_int;

    // ---- classifiers --------------------------------------------------------------------
    pub fn seqvid_classifier_create(
        cfg: *const seqvid_config,
        n_classes: c_int,
        out: *mut *mut seqvid_classifier,
    ) -> c_int;
    pub fn seqvid_classifier_create_from_encoder(
        model: *const seqvid_model,
        n_classes: c_int,
        out: *mut *mut seqvid_classifier,
    ) -> c_int;
    pub fn seqvid_classifier_copy_encoder(
        cls: *mut seqvid_classifier,
        model: *const seqvid_model,
    ) -> c_int;
    pub fn seqvid_classifier_free(cls: *mut seqvid_classifier);
    pub fn seqvid_classifier_set(cls: *mut seqvid_classifier, key: c_int, value: c_double)
    -> c_int;
    pub fn seqvid_classifier_get(
        cls: *const seqvid_classifier,
        key: c_int,
        value: *mut c_double,
    ) -> c_int;
    pub fn seqvid_classifier_gradients(
        cls: *mut seqvid_classifier,
        batch: *const seqvid_batch,
        labels: *const c_int,
        labels_count: usize,
        loss: *mut c_float,
        accuracy: *mut c_float,
    ) -> c_int;
    pub fn seqvid_classifier_update(
        cls: *mut seqvid_classifier,
        opt: *mut seqvid_optimizer,
    ) -> c_int;
    pub fn seqvid_classifier_train_step(
        cls: *mut seqvid_classifier,
        opt: *mut seqvid_optimizer,
        batch: *const seqvid_batch,
        labels: *const c_int,
        labels_count: usize,
        loss: *mut c_float,
        accuracy: *mut c_float,
    ) -> c_int;
    pub fn seqvid_classifier_evaluate(
        cls: *mut seqvid_classifier,
        batch: *const seqvid_batch,
        labels: *const c_int,
        labels_count: usize,
        loss: *mut c_float,
        accuracy: *mut c_float,
    ) -> c_int;
    pub fn seqvid_classifier_predict(
        cls: *mut seqvid_classifier,
        batch: *const seqvid_batch,
        probs: *mut c_float,
        probs_count: usize,
    ) -> c_int;
    pub fn seqvid_classifier_param_count(cls: *const seqvid_classifier, count: *mut usize)
    -> c_int;
    pub fn seqvid_classifier_params(
        cls: *mut seqvid_classifier,
        params: *mut *mut c_float,
    ) -> c_int;
    pub fn seqvid_classifier_grads(cls: *mut seqvid_classifier, grads: *mut *mut c_float) -> c_int;
    pub fn seqvid_classifier_param_block_count(
        cls: *const seqvid_classifier,
        count: *mut usize,
    ) -> c_int;
    pub fn seqvid_classifier_param_block(
        cls: *const seqvid_classifier,
        i: usize,
        name: *mut *const c_char,
        offset: *mut usize,
        rows: *mut usize,
        cols: *mut usize,
    ) -> c_int;
    pub fn seqvid_classifier_save(cls: *const seqvid_classifier, path: *const c_char) -> c_int;
    pub fn seqvid_classifier_load(path: *const c_char, out: *mut *mut seqvid_classifier) -> c_int;
    pub fn seqvid_classifier_save_buffer(
        cls: *const seqvid_classifier,
        buf: *mut c_void,
        cap: usize,
        size: *mut usize,
    ) -> c_int;
    pub fn seqvid_classifier_load_buffer(
        buf: *const c_void,
        size: usize,
        out: *mut *mut seqvid_classifier,
    ) -> c_int;

    // ---- optimizers ---------------------------------------------------------------------
    pub fn seqvid_optimizer_create(kind: c_int, out: *mut *mut seqvid_optimizer) -> c_int;
    pub fn seqvid_optimizer_free(opt: *mut seqvid_optimizer);
    pub fn seqvid_optimizer_set(opt: *mut seqvid_optimizer, key: c_int, value: c_double) -> c_int;
    pub fn seqvid_optimizer_get(
        opt: *const seqvid_optimizer,
        key: c_int,
        value: *mut c_double,
    ) -> c_int;
    pub fn seqvid_optimizer_step(opt: *mut seqvid_optimizer, model: *mut seqvid_model) -> c_int;
    pub fn seqvid_optimizer_step_count(opt: *const seqvid_optimizer, count: *mut u64) -> c_int;
    pub fn seqvid_optimizer_steps(opt: *const seqvid_optimizer, steps: *mut u64) -> c_int;

    // ---- data ---------------------------------------------------------------------------
    pub fn seqvid_digits_load(
        images_path: *const c_char,
        labels_path: *const c_char,
        out: *mut *mut seqvid_digits,
    ) -> c_int;
    pub fn seqvid_set_limit(key: c_int, value: c_double) -> c_int;
    pub fn seqvid_get_limit(key: c_int, value: *mut c_double) -> c_int;
    pub fn seqvid_digits_free(digits: *mut seqvid_digits);
    pub fn seqvid_digits_shape(
        digits: *const seqvid_digits,
        count: *mut usize,
        rows: *mut usize,
        cols: *mut usize,
    ) -> c_int;
    pub fn seqvid_digits_image(
        digits: *const seqvid_digits,
        i: usize,
        pixels: *mut *const c_float,
    ) -> c_int;
    pub fn seqvid_digits_label(digits: *const seqvid_digits, i: usize, label: *mut c_int) -> c_int;
    pub fn seqvid_mmnist_create(
        digits: *const seqvid_digits,
        out: *mut *mut seqvid_mmnist,
    ) -> c_int;
    pub fn seqvid_mmnist_free(r#gen: *mut seqvid_mmnist);
    pub fn seqvid_mmnist_set(r#gen: *mut seqvid_mmnist, key: c_int, value: c_double) -> c_int;
    pub fn seqvid_mmnist_get(
        r#gen: *const seqvid_mmnist,
        key: c_int,
        value: *mut c_double,
    ) -> c_int;
    pub fn seqvid_mmnist_fill(
        r#gen: *mut seqvid_mmnist,
        batch: *mut seqvid_batch,
        labels: *mut c_int,
        labels_count: usize,
    ) -> c_int;
    pub fn seqvid_mmnist_state_size(r#gen: *const seqvid_mmnist, size: *mut usize) -> c_int;
    pub fn seqvid_mmnist_get_state(
        r#gen: *const seqvid_mmnist,
        buf: *mut c_void,
        size: usize,
    ) -> c_int;
    pub fn seqvid_mmnist_set_state(
        r#gen: *mut seqvid_mmnist,
        buf: *const c_void,
        size: usize,
    ) -> c_int;
    pub fn seqvid_npy_load(
        path: *const c_char,
        layout: c_int,
        out: *mut *mut seqvid_batch,
    ) -> c_int;
    pub fn seqvid_npy_load_lengths(path: *const c_char, batch: *mut seqvid_batch) -> c_int;
    pub fn seqvid_npy_save(
        path: *const c_char,
        data: *const c_float,
        ndim: usize,
        shape: *const usize,
    ) -> c_int;
    pub fn seqvid_batch_crop(
        src: *const seqvid_batch,
        height: usize,
        width: usize,
        channels: usize,
        y: usize,
        x: usize,
        ph: usize,
        pw: usize,
        out: *mut *mut seqvid_batch,
    ) -> c_int;

    // ---- saving and loading -------------------------------------------------------------
    pub fn seqvid_model_save(model: *const seqvid_model, path: *const c_char) -> c_int;
    pub fn seqvid_model_load(path: *const c_char, out: *mut *mut seqvid_model) -> c_int;
    pub fn seqvid_model_save_buffer(
        model: *const seqvid_model,
        buf: *mut c_void,
        cap: usize,
        size: *mut usize,
    ) -> c_int;
    pub fn seqvid_model_load_buffer(
        buf: *const c_void,
        size: usize,
        out: *mut *mut seqvid_model,
    ) -> c_int;
    pub fn seqvid_checkpoint_save(
        path: *const c_char,
        model: *const seqvid_model,
        opt: *const seqvid_optimizer,
        r#gen: *const seqvid_mmnist,
        step: u64,
    ) -> c_int;
    pub fn seqvid_checkpoint_load(
        path: *const c_char,
        model: *mut *mut seqvid_model,
        opt: *mut *mut seqvid_optimizer,
        r#gen: *mut seqvid_mmnist,
        step: *mut u64,
    ) -> c_int;
    pub fn seqvid_classifier_checkpoint_save(
        path: *const c_char,
        cls: *const seqvid_classifier,
        opt: *const seqvid_optimizer,
        step: u64,
    ) -> c_int;
    pub fn seqvid_classifier_checkpoint_load(
        path: *const c_char,
        cls: *mut *mut seqvid_classifier,
        opt: *mut *mut seqvid_optimizer,
        step: *mut u64,
    ) -> c_int;
    pub fn seqvid_classifier_checkpoint_save_buffer(
        cls: *const seqvid_classifier,
        opt: *const seqvid_optimizer,
        step: u64,
        buf: *mut c_void,
        cap: usize,
        size: *mut usize,
    ) -> c_int;
    pub fn seqvid_classifier_checkpoint_load_buffer(
        buf: *const c_void,
        size: usize,
        cls: *mut *mut seqvid_classifier,
        opt: *mut *mut seqvid_optimizer,
        step: *mut u64,
    ) -> c_int;

    // ---- names of keys and kinds (1.1) --------------------------------------------------
    pub fn seqvid_key_name(table: c_int, key: c_int) -> *const c_char;
    pub fn seqvid_key_lookup(table: c_int, name: *const c_char, key: *mut c_int) -> c_int;

    // ---- experimental (node SEQVID_EXPERIMENTAL: not stable; see seqvid.h) --------------
    pub fn seqvid_experimental_backend(
        name: *mut *const c_char,
        kernels: *mut *const c_char,
        advice: *mut *const c_char,
    ) -> c_int;
    pub fn seqvid_experimental_sparse_density(density: *mut c_int) -> c_int;
    pub fn seqvid_experimental_model_set_precision(m: *mut seqvid_model, precision: c_int) -> c_int;
    pub fn seqvid_experimental_model_get_precision(m: *const seqvid_model, precision: *mut c_int)
        -> c_int;
    pub fn seqvid_experimental_model_set_weights(m: *mut seqvid_model, weights: c_int) -> c_int;
    pub fn seqvid_experimental_model_get_weights(m: *const seqvid_model, weights: *mut c_int)
                                                 -> c_int;
    pub fn seqvid_experimental_model_load_as(path: *const c_char, weights: c_int,
                                             out: *mut *mut seqvid_model) -> c_int;
    pub fn seqvid_experimental_model_load_buffer_as(buf: *const c_void, size: usize,
                                                    weights: c_int,
                                                    out: *mut *mut seqvid_model) -> c_int;
    pub fn seqvid_experimental_classifier_set_precision(c: *mut seqvid_classifier, precision: c_int)
        -> c_int;
    pub fn seqvid_experimental_classifier_get_precision(c: *const seqvid_classifier,
                                                        precision: *mut c_int) -> c_int;
    pub fn seqvid_experimental_classifier_set_weights(c: *mut seqvid_classifier, weights: c_int)
        -> c_int;
    pub fn seqvid_experimental_classifier_get_weights(c: *const seqvid_classifier,
                                                      weights: *mut c_int) -> c_int;
    pub fn seqvid_experimental_mmnist_fill_motion(
        r#gen: *mut seqvid_mmnist,
        batch: *mut seqvid_batch,
        labels: *mut c_int,
        labels_count: usize,
        motion: *mut c_double,
        motion_count: usize,
    ) -> c_int;
}
