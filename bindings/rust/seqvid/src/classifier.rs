//! Classifiers: an LSTM stack with a softmax readout at every step (SR15's supervised use).
use std::ffi::c_void;
use std::path::Path;
use std::ptr::{self, NonNull};

use seqvid_sys as sys;

use crate::batch::Batch;
use crate::error::{Error, Result, Status, check};
use crate::model::{Config, Model, Optimizer, ParamBlock, param_blocks_of};
use crate::{ConfigKey, cpath};

crate::open_keys! {
/// Keys of [`Classifier::set`] / [`Classifier::get`] (`seqvid_classifier_key`).
ClassifierKey {
    /// Dropout rate in [0, 1) on the stack's inputs and top outputs, training only
    /// (default 0).
    Dropout = sys::SEQVID_CLS_DROPOUT,
    /// LSTM layers frozen while the optimizer has taken fewer steps; -1: for good
    /// (default 0).
    FreezeSteps = sys::SEQVID_CLS_FREEZE_STEPS,
    /// Seed of the dropout stream; setting it restarts the stream (default: the config's
    /// seed).
    DropoutSeed = sys::SEQVID_CLS_DROPOUT_SEED,
    /// C, number of classes (read-only).
    Classes = sys::SEQVID_CLS_CLASSES,
}
}

/// Loss (nats per valid step) and accuracy (fraction of sequences whose clip prediction is
/// right) of a classifier on a batch.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Score {
    /// Mean cross-entropy per valid step.
    pub loss: f32,
    /// Fraction of sequences classified right.
    pub accuracy: f32,
}

/// An LSTM stack with a softmax readout at every step (`seqvid_classifier`), created with
/// random weights or from a trained model's encoder. Labels are class ids `0..C`, one per
/// sequence of a batch.
///
/// Like [`Model`]: every computing call takes `&mut self` (workspaces, dropout stream);
/// `Send`, not `Sync` (seqvid.h: "like seqvid_model (one thread at a time, inference
/// included)").
pub struct Classifier {
    raw: NonNull<sys::seqvid_classifier>,
}

// SAFETY: see the type's documentation.
unsafe impl Send for Classifier {}

fn classes(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::new(Status::Arg, format!("{n} classes is too many")))
}

impl Classifier {
    fn from_raw(raw: *mut sys::seqvid_classifier) -> Classifier {
        Classifier {
            raw: NonNull::new(raw).expect("libseqvid returned SEQVID_OK and a NULL classifier"),
        }
    }

    /// Fresh weights for `n_classes` >= 2 over a stack of `cfg`'s stack keys.
    pub fn new(cfg: &Config, n_classes: usize) -> Result<Classifier> {
        let mut raw = ptr::null_mut();
        // SAFETY: live config (only read), valid out pointer.
        check(unsafe {
            sys::seqvid_classifier_create(cfg.raw.as_ptr(), classes(n_classes)?, &mut raw)
        })?;
        Ok(Classifier::from_raw(raw))
    }

    /// A stack copied from `model`'s encoder (the pretrained initialisation) and a fresh
    /// readout. The model is only read.
    pub fn from_encoder(model: &Model, n_classes: usize) -> Result<Classifier> {
        let mut raw = ptr::null_mut();
        // SAFETY: live model (only read, per seqvid.h), valid out pointer.
        check(unsafe {
            sys::seqvid_classifier_create_from_encoder(
                model.raw.as_ptr(),
                classes(n_classes)?,
                &mut raw,
            )
        })?;
        Ok(Classifier::from_raw(raw))
    }

    /// Overwrite the stack with `model`'s encoder weights (sizes must agree, else
    /// [`Status::Shape`] and nothing copied).
    pub fn copy_encoder(&mut self, model: &Model) -> Result<()> {
        // SAFETY: live handles; the model is only read.
        check(unsafe { sys::seqvid_classifier_copy_encoder(self.raw.as_ptr(), model.raw.as_ptr()) })
    }

    /// A classifier saved with [`Classifier::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Classifier> {
        let p = cpath(path.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: NUL-terminated path, valid out pointer.
        check(unsafe { sys::seqvid_classifier_load(p.as_ptr(), &mut raw) })?;
        Ok(Classifier::from_raw(raw))
    }

    /// A classifier from the bytes of [`Classifier::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier> {
        let mut raw = ptr::null_mut();
        // SAFETY: the slice is valid for its length.
        check(unsafe {
            sys::seqvid_classifier_load_buffer(
                bytes.as_ptr() as *const c_void,
                bytes.len(),
                &mut raw,
            )
        })?;
        Ok(Classifier::from_raw(raw))
    }

    /// Save atomically (safetensors, metadata type "classifier").
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live handle (only read), NUL-terminated path.
        check(unsafe { sys::seqvid_classifier_save(self.raw.as_ptr(), p.as_ptr()) })
    }

    /// The saved form as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut size = 0;
        // SAFETY: buf NULL asks for the size only; then buf holds `size` bytes.
        check(unsafe {
            sys::seqvid_classifier_save_buffer(self.raw.as_ptr(), ptr::null_mut(), 0, &mut size)
        })?;
        let mut buf = vec![0u8; size];
        check(unsafe {
            sys::seqvid_classifier_save_buffer(
                self.raw.as_ptr(),
                buf.as_mut_ptr() as *mut c_void,
                buf.len(),
                &mut size,
            )
        })?;
        buf.truncate(size);
        Ok(buf)
    }

    /// Set a key (Classes is fixed: [`Status::State`]).
    pub fn set(&mut self, key: ClassifierKey, value: f64) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { sys::seqvid_classifier_set(self.raw.as_ptr(), key.raw(), value) })
    }

    /// Builder style: `Classifier::from_encoder(&m, 10)?.with(ClassifierKey::Dropout, 0.5)?`.
    pub fn with(mut self, key: ClassifierKey, value: f64) -> Result<Classifier> {
        self.set(key, value)?;
        Ok(self)
    }

    fn get_raw(&self, key: i32) -> Result<f64> {
        let mut v = 0.0;
        // SAFETY: live handle, valid output.
        check(unsafe { sys::seqvid_classifier_get(self.raw.as_ptr(), key, &mut v) })?;
        Ok(v)
    }

    /// Read a key.
    pub fn get(&self, key: ClassifierKey) -> Result<f64> {
        self.get_raw(key.raw())
    }

    /// Read a stack key (input_dim, hidden, layers, peepholes, seed, init_*, forget_bias).
    pub fn get_config(&self, key: ConfigKey) -> Result<f64> {
        self.get_raw(key.raw())
    }

    /// C.
    pub fn n_classes(&self) -> usize {
        self.get(ClassifierKey::Classes)
            .map(|v| v as usize)
            .unwrap_or(0)
    }

    fn score(f: impl FnOnce(*mut f32, *mut f32) -> i32) -> Result<Score> {
        let (mut loss, mut accuracy) = (0f32, 0f32);
        check(f(&mut loss, &mut accuracy))?;
        Ok(Score { loss, accuracy })
    }

    /// Forward and backward with dropout: fills the gradient arena, leaves the weights.
    pub fn gradients(&mut self, batch: &Batch<'_>, labels: &[i32]) -> Result<Score> {
        let c = self.raw.as_ptr();
        // SAFETY: live handles; labels valid for its length; outputs valid.
        Classifier::score(|l, a| unsafe {
            sys::seqvid_classifier_gradients(c, batch.as_ptr(), labels.as_ptr(), labels.len(), l, a)
        })
    }

    /// Apply the gradient arena with `opt`, honouring [`ClassifierKey::FreezeSteps`].
    pub fn update(&mut self, opt: &mut Optimizer) -> Result<()> {
        // SAFETY: live handles.
        check(unsafe { sys::seqvid_classifier_update(self.raw.as_ptr(), opt.raw.as_ptr()) })
    }

    /// [`Classifier::gradients`] then [`Classifier::update`]; failures change nothing.
    pub fn train_step(
        &mut self,
        opt: &mut Optimizer,
        batch: &Batch<'_>,
        labels: &[i32],
    ) -> Result<Score> {
        let (c, o) = (self.raw.as_ptr(), opt.raw.as_ptr());
        // SAFETY: as gradients.
        Classifier::score(|l, a| unsafe {
            sys::seqvid_classifier_train_step(
                c,
                o,
                batch.as_ptr(),
                labels.as_ptr(),
                labels.len(),
                l,
                a,
            )
        })
    }

    /// Loss and accuracy without dropout or update.
    pub fn evaluate(&mut self, batch: &Batch<'_>, labels: &[i32]) -> Result<Score> {
        let c = self.raw.as_ptr();
        // SAFETY: as gradients.
        Classifier::score(|l, a| unsafe {
            sys::seqvid_classifier_evaluate(c, batch.as_ptr(), labels.as_ptr(), labels.len(), l, a)
        })
    }

    /// Class probabilities of every sequence into `out` (>= S * C floats, `out[b*C + k]`).
    pub fn predict_into(&mut self, batch: &Batch<'_>, out: &mut [f32]) -> Result<()> {
        // SAFETY: out valid for its length; the library checks it is enough.
        check(unsafe {
            sys::seqvid_classifier_predict(
                self.raw.as_ptr(),
                batch.as_ptr(),
                out.as_mut_ptr(),
                out.len(),
            )
        })
    }

    /// Class probabilities of every sequence, shaped `[S, C]`.
    pub fn predict(&mut self, batch: &Batch<'_>) -> Result<crate::Tensor> {
        let mut out = crate::model::zeros(&[batch.n_seqs(), self.n_classes()])?;
        self.predict_into(batch, &mut out)?;
        Ok(out)
    }

    /// The most likely class of every sequence.
    pub fn classify(&mut self, batch: &Batch<'_>) -> Result<Vec<usize>> {
        let c = self.n_classes();
        let p = self.predict(batch)?;
        Ok(p.chunks(c.max(1))
            .map(|row| {
                // Ties go to the lowest class, as in the library's accuracy.
                let mut best = 0;
                for (k, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = k;
                    }
                }
                best
            })
            .collect())
    }

    /// Number of parameters.
    pub fn param_count(&self) -> usize {
        let mut n = 0;
        // SAFETY: live handle, valid output.
        unsafe { sys::seqvid_classifier_param_count(self.raw.as_ptr(), &mut n) };
        n
    }

    fn arena(&self, grads: bool) -> *mut f32 {
        let mut p = ptr::null_mut();
        // SAFETY: live handle; these only return the arena pointer.
        unsafe {
            if grads {
                sys::seqvid_classifier_grads(self.raw.as_ptr(), &mut p)
            } else {
                sys::seqvid_classifier_params(self.raw.as_ptr(), &mut p)
            }
        };
        p
    }

    /// The weights, zero-copy.
    pub fn params(&self) -> &[f32] {
        // SAFETY: param_count floats live as long as the classifier; &self excludes writers.
        unsafe { std::slice::from_raw_parts(self.arena(false), self.param_count()) }
    }

    /// The weights, writable in place.
    pub fn params_mut(&mut self) -> &mut [f32] {
        // SAFETY: as params; &mut self makes it exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.arena(false), self.param_count()) }
    }

    /// The gradient arena of the last gradients or train_step call.
    pub fn grads(&self) -> &[f32] {
        // SAFETY: as params.
        unsafe { std::slice::from_raw_parts(self.arena(true), self.param_count()) }
    }

    /// The gradient arena, writable.
    pub fn grads_mut(&mut self) -> &mut [f32] {
        // SAFETY: as params_mut.
        unsafe { std::slice::from_raw_parts_mut(self.arena(true), self.param_count()) }
    }

    /// Names, offsets and shapes of every weight block ("classifier.0.w_x", ...,
    /// "classifier.readout.w", "classifier.readout.b").
    pub fn param_blocks(&self) -> Vec<ParamBlock> {
        param_blocks_of(
            self.raw.as_ptr(),
            sys::seqvid_classifier_param_block_count,
            sys::seqvid_classifier_param_block,
        )
    }
}

impl Drop for Classifier {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once.
        unsafe { sys::seqvid_classifier_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("classes", &self.n_classes())
            .field("params", &self.param_count())
            .finish()
    }
}

/// Save a classifier, its optimizer's state, `step` and the position of its dropout stream
/// atomically (`seqvid_classifier_checkpoint_save`); resuming trains on bit-identically.
pub fn save_classifier_checkpoint(
    path: impl AsRef<Path>,
    cls: &Classifier,
    opt: &Optimizer,
    step: u64,
) -> Result<()> {
    let p = cpath(path.as_ref())?;
    // SAFETY: live handles (only read), NUL-terminated path.
    check(unsafe {
        sys::seqvid_classifier_checkpoint_save(p.as_ptr(), cls.raw.as_ptr(), opt.raw.as_ptr(), step)
    })
}

/// (classifier, optimizer, step) from a classifier checkpoint.
pub fn load_classifier_checkpoint(path: impl AsRef<Path>) -> Result<(Classifier, Optimizer, u64)> {
    let p = cpath(path.as_ref())?;
    let (mut c, mut o, mut step) = (ptr::null_mut(), ptr::null_mut(), 0u64);
    // SAFETY: valid out pointers.
    check(unsafe {
        sys::seqvid_classifier_checkpoint_load(p.as_ptr(), &mut c, &mut o, &mut step)
    })?;
    Ok((Classifier::from_raw(c), Optimizer::from_raw(o), step))
}
