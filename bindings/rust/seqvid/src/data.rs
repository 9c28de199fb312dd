//! MNIST digits, the Moving MNIST generator and .npy files.
use std::ffi::c_void;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::{self, NonNull};

use seqvid_sys as sys;

use crate::batch::Batch;
use crate::error::{Error, Result, Status, check};
use crate::{MmnistKey, cpath};

/// A set of digit images (`seqvid_digits`) from IDX files, plain or gzipped, pixels scaled
/// to [0, 1].
///
/// Read-only once loaded, and seqvid.h allows any number of generators in any threads to
/// share it: `Digits` is `Send` and `Sync`.
pub struct Digits {
    raw: NonNull<sys::seqvid_digits>,
}

// SAFETY: seqvid.h: "A seqvid_digits set is read-only after loading and may be shared by
// any number of generators in any threads." No method here mutates it.
unsafe impl Send for Digits {}
unsafe impl Sync for Digits {}

impl Digits {
    /// Images only.
    pub fn load(images: impl AsRef<Path>) -> Result<Digits> {
        Digits::load_impl(images.as_ref(), None)
    }

    /// Images and their labels.
    pub fn load_with_labels(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Digits> {
        Digits::load_impl(images.as_ref(), Some(labels.as_ref()))
    }

    fn load_impl(images: &Path, labels: Option<&Path>) -> Result<Digits> {
        let ip = cpath(images)?;
        let lp = labels.map(cpath).transpose()?;
        let mut raw = ptr::null_mut();
        // SAFETY: NUL-terminated paths (labels may be NULL), valid out pointer.
        check(unsafe {
            sys::seqvid_digits_load(
                ip.as_ptr(),
                lp.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                &mut raw,
            )
        })?;
        Ok(Digits {
            raw: NonNull::new(raw).expect("NULL digits"),
        })
    }

    /// (count, rows, cols).
    pub fn shape(&self) -> (usize, usize, usize) {
        let (mut n, mut r, mut c) = (0, 0, 0);
        // SAFETY: live handle, valid outputs.
        unsafe { sys::seqvid_digits_shape(self.raw.as_ptr(), &mut n, &mut r, &mut c) };
        (n, r, c)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.shape().0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows*cols pixels of image i.
    pub fn image(&self, i: usize) -> Result<&[f32]> {
        let (_, r, c) = self.shape();
        let mut p = ptr::null();
        // SAFETY: live handle; the pixels stay valid and unchanged while the set lives.
        check(unsafe { sys::seqvid_digits_image(self.raw.as_ptr(), i, &mut p) })?;
        Ok(unsafe { std::slice::from_raw_parts(p, r * c) })
    }

    /// The label of image i ([`Status::State`] if no labels were loaded).
    pub fn label(&self, i: usize) -> Result<i32> {
        let mut v = 0;
        // SAFETY: live handle, valid output.
        check(unsafe { sys::seqvid_digits_label(self.raw.as_ptr(), i, &mut v) })?;
        Ok(v)
    }
}

impl Drop for Digits {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once; generators borrow the set, so are gone.
        unsafe { sys::seqvid_digits_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, r, c) = self.shape();
        f.debug_struct("Digits")
            .field("count", &n)
            .field("rows", &r)
            .field("cols", &c)
            .finish()
    }
}

/// The Moving MNIST generator of SR15 (`seqvid_mmnist`) over a borrowed [`Digits`] set.
/// `Send` (the digit set is `Sync`), not `Sync`.
pub struct MovingMnist<'d> {
    raw: NonNull<sys::seqvid_mmnist>,
    _digits: PhantomData<&'d Digits>,
}

// SAFETY: no thread affinity; &Digits is Send because Digits is Sync. Not Sync: one
// generator must not be used from two threads at once.
unsafe impl Send for MovingMnist<'_> {}

impl<'d> MovingMnist<'d> {
    /// A generator with the defaults (2 digits, 64x64 canvas, speed 0.1, seed 1).
    pub fn new(digits: &'d Digits) -> Result<MovingMnist<'d>> {
        let mut raw = ptr::null_mut();
        // SAFETY: the digit set outlives the generator ('d).
        check(unsafe { sys::seqvid_mmnist_create(digits.raw.as_ptr(), &mut raw) })?;
        Ok(MovingMnist {
            raw: NonNull::new(raw).expect("NULL generator"),
            _digits: PhantomData,
        })
    }

    /// Builder style: `MovingMnist::new(&d)?.with(MmnistKey::Seed, 5.0)?`.
    pub fn with(mut self, key: MmnistKey, value: f64) -> Result<Self> {
        self.set(key, value)?;
        Ok(self)
    }

    pub(crate) fn as_ptr(&self) -> *const sys::seqvid_mmnist {
        self.raw.as_ptr()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut sys::seqvid_mmnist {
        self.raw.as_ptr()
    }

    /// Set a key (setting the seed restarts the random stream).
    pub fn set(&mut self, key: MmnistKey, value: f64) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { sys::seqvid_mmnist_set(self.raw.as_ptr(), key.raw(), value) })
    }

    /// Read a key.
    pub fn get(&self, key: MmnistKey) -> Result<f64> {
        let mut v = 0.0;
        // SAFETY: live handle, valid output.
        check(unsafe { sys::seqvid_mmnist_get(self.raw.as_ptr(), key.raw(), &mut v) })?;
        Ok(v)
    }

    /// Canvas side in pixels.
    pub fn canvas(&self) -> usize {
        self.get(MmnistKey::Canvas).map(|v| v as usize).unwrap_or(0)
    }

    /// Fill every sequence of `batch` (dim = canvas^2) with fresh sequences; all lengths
    /// become T.
    pub fn fill(&mut self, batch: &mut Batch<'_>) -> Result<()> {
        let b = batch.as_mut_ptr()?;
        // SAFETY: live handles; the batch's frames are writable (not a view).
        check(unsafe { sys::seqvid_mmnist_fill(self.raw.as_ptr(), b, ptr::null_mut(), 0) })
    }

    /// [`MovingMnist::fill`], returning the labels of the digits drawn: S * digits values,
    /// sequence-major (-1 where the set has no labels).
    pub fn fill_with_labels(&mut self, batch: &mut Batch<'_>) -> Result<Vec<i32>> {
        let n = batch.n_seqs() * self.get(MmnistKey::Digits)? as usize;
        let mut labels = vec![0i32; n];
        let b = batch.as_mut_ptr()?;
        // SAFETY: labels holds n ints.
        check(unsafe { sys::seqvid_mmnist_fill(self.raw.as_ptr(), b, labels.as_mut_ptr(), n) })?;
        Ok(labels)
    }

    /// A new owned batch of `n_seqs` fresh sequences of `n_steps` frames.
    pub fn generate(&mut self, n_steps: usize, n_seqs: usize) -> Result<Batch<'static>> {
        let c = self.canvas();
        let mut b = Batch::new(n_steps, n_seqs, c * c)?;
        self.fill(&mut b)?;
        Ok(b)
    }

    /// The random state as bytes (for checkpoints of your own).
    pub fn state(&self) -> Result<Vec<u8>> {
        let mut n = 0;
        // SAFETY: live handle; buf holds n bytes.
        check(unsafe { sys::seqvid_mmnist_state_size(self.raw.as_ptr(), &mut n) })?;
        let mut buf = vec![0u8; n];
        check(unsafe {
            sys::seqvid_mmnist_get_state(self.raw.as_ptr(), buf.as_mut_ptr() as *mut c_void, n)
        })?;
        Ok(buf)
    }

    /// Restore a state from [`MovingMnist::state`].
    pub fn set_state(&mut self, state: &[u8]) -> Result<()> {
        // SAFETY: live handle; state valid for its length.
        check(unsafe {
            sys::seqvid_mmnist_set_state(
                self.raw.as_ptr(),
                state.as_ptr() as *const c_void,
                state.len(),
            )
        })
    }
}

impl Drop for MovingMnist<'_> {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once.
        unsafe { sys::seqvid_mmnist_free(self.raw.as_ptr()) }
    }
}

/// Write `data` as a float32 .npy file of the given shape (C order).
pub fn npy_save(path: impl AsRef<Path>, data: &[f32], shape: &[usize]) -> Result<()> {
    let n = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    if n != Some(data.len()) {
        return Err(Error::new(
            Status::Shape,
            format!(
                "npy_save: shape {shape:?} does not hold {} floats",
                data.len()
            ),
        ));
    }
    let p = cpath(path.as_ref())?;
    // SAFETY: data holds the product of shape floats; shape holds ndim sizes.
    check(unsafe { sys::seqvid_npy_save(p.as_ptr(), data.as_ptr(), shape.len(), shape.as_ptr()) })
}
