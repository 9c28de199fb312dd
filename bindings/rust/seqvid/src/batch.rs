//! Sequence batches: owned by the library or borrowed from a caller slice.
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::{self, NonNull};

use seqvid_sys as sys;

use crate::error::{Error, Result, Status, check};
use crate::{Layout, cpath};

/// S sequences of T frames of D floats, time-major (frame t of sequence s starts at
/// `(t * S + s) * D`), with per-sequence valid lengths (frames at or past a sequence's
/// length are padding).
///
/// `Batch<'static>` owns its frames (made by [`Batch::new`], [`Batch::from_slice`],
/// [`Batch::load_npy`], [`Batch::crop`] or a generator); [`Batch::wrap`] and
/// [`Batch::view`] borrow caller memory for `'a` without copying.
///
/// A batch can be moved to another thread (`Send`) and shared by reference (`Sync`):
/// seqvid.h allows one thread at a time per batch, but "reading a config or batch from
/// several threads at once is safe", and every `&self` method (and every model call, which
/// takes `&Batch`) only reads it. Writing needs `&mut self`, which excludes readers.
pub struct Batch<'a> {
    raw: NonNull<sys::seqvid_batch>,
    readonly: bool,
    _data: PhantomData<&'a mut [f32]>,
}

// SAFETY: the library keeps no thread affinity (seqvid.h, "Thread safety": distinct objects
// may be used from distinct threads); the borrowed frames, if any, are &'a mut [f32] or
// &'a [f32], both Send and Sync. Sync: the header states that reading a batch from several
// threads at once is safe, and only `&mut self` methods write it.
unsafe impl Send for Batch<'_> {}
unsafe impl Sync for Batch<'_> {}

fn count(n_steps: usize, n_seqs: usize, dim: usize) -> Result<usize> {
    n_steps
        .checked_mul(n_seqs)
        .and_then(|n| n.checked_mul(dim))
        .ok_or_else(|| Error::new(Status::Overflow, "batch size overflows usize"))
}

impl Batch<'static> {
    /// A zero-filled batch owned by the library; every length starts at `n_steps`.
    pub fn new(n_steps: usize, n_seqs: usize, dim: usize) -> Result<Batch<'static>> {
        let mut raw = ptr::null_mut();
        // SAFETY: raw is a valid out pointer.
        check(unsafe { sys::seqvid_batch_create(n_steps, n_seqs, dim, &mut raw) })?;
        Ok(unsafe { Batch::from_raw(raw, false) })
    }

    /// An owned copy of `data` (n_steps * n_seqs * dim floats, time-major).
    pub fn from_slice(data: &[f32], n_steps: usize, n_seqs: usize, dim: usize) -> Result<Self> {
        if data.len() != count(n_steps, n_seqs, dim)? {
            return Err(Error::new(
                Status::Shape,
                format!(
                    "Batch::from_slice: {} floats for {n_steps} x {n_seqs} x {dim}",
                    data.len()
                ),
            ));
        }
        let mut b = Batch::new(n_steps, n_seqs, dim)?;
        b.data_mut()?.copy_from_slice(data);
        Ok(b)
    }

    /// A batch from a .npy file of uint8 (scaled by 1/255) or float32 with >= 3 dims in
    /// `layout` (D = product of the trailing dims).
    pub fn load_npy(path: impl AsRef<Path>, layout: Layout) -> Result<Batch<'static>> {
        let p = cpath(path.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: p is NUL-terminated; raw is a valid out pointer.
        check(unsafe { sys::seqvid_npy_load(p.as_ptr(), layout as i32, &mut raw) })?;
        Ok(unsafe { Batch::from_raw(raw, false) })
    }
}

impl<'a> Batch<'a> {
    /// # Safety
    /// `raw` is a live batch this value may own; its frames stay valid for `'a`.
    pub(crate) unsafe fn from_raw(raw: *mut sys::seqvid_batch, readonly: bool) -> Batch<'a> {
        Batch {
            raw: NonNull::new(raw).expect("library returned OK and NULL"),
            readonly,
            _data: PhantomData,
        }
    }

    /// A zero-copy batch over caller memory of exactly `n_steps * n_seqs * dim` floats. The
    /// slice is borrowed mutably for the batch's life: generators may fill it and
    /// [`Batch::data_mut`] gives it back.
    pub fn wrap(data: &'a mut [f32], n_steps: usize, n_seqs: usize, dim: usize) -> Result<Self> {
        if data.len() != count(n_steps, n_seqs, dim)? {
            return Err(Error::new(
                Status::Shape,
                format!(
                    "Batch::wrap: {} floats for {n_steps} x {n_seqs} x {dim}",
                    data.len()
                ),
            ));
        }
        let mut raw = ptr::null_mut();
        // SAFETY: data holds n_steps*n_seqs*dim floats and outlives the batch ('a).
        check(unsafe {
            sys::seqvid_batch_wrap(data.as_mut_ptr(), n_steps, n_seqs, dim, &mut raw)
        })?;
        Ok(unsafe { Batch::from_raw(raw, false) })
    }

    /// A zero-copy read-only batch over a shared slice, for model inputs. It cannot be
    /// filled or written ([`Batch::data_mut`] and generators give [`Status::State`]).
    pub fn view(data: &'a [f32], n_steps: usize, n_seqs: usize, dim: usize) -> Result<Self> {
        if data.len() != count(n_steps, n_seqs, dim)? {
            return Err(Error::new(
                Status::Shape,
                format!(
                    "Batch::view: {} floats for {n_steps} x {n_seqs} x {dim}",
                    data.len()
                ),
            ));
        }
        let mut raw = ptr::null_mut();
        // SAFETY: the library only reads the frames of a batch unless it is filled by a
        // generator or written through seqvid_batch_data; both are refused for views.
        check(unsafe {
            sys::seqvid_batch_wrap(data.as_ptr() as *mut f32, n_steps, n_seqs, dim, &mut raw)
        })?;
        Ok(unsafe { Batch::from_raw(raw, true) })
    }

    pub(crate) fn as_ptr(&self) -> *const sys::seqvid_batch {
        self.raw.as_ptr()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> Result<*mut sys::seqvid_batch> {
        if self.readonly {
            return Err(Error::new(
                Status::State,
                "the batch is a read-only view (Batch::view)",
            ));
        }
        Ok(self.raw.as_ptr())
    }

    /// (T, S, D): steps, sequences, floats per frame.
    pub fn shape(&self) -> (usize, usize, usize) {
        let (mut t, mut s, mut d) = (0, 0, 0);
        // SAFETY: the handle is live; outputs are valid.
        let rc = unsafe { sys::seqvid_batch_shape(self.as_ptr(), &mut t, &mut s, &mut d) };
        debug_assert_eq!(rc, 0);
        (t, s, d)
    }

    /// T.
    pub fn n_steps(&self) -> usize {
        self.shape().0
    }

    /// S.
    pub fn n_seqs(&self) -> usize {
        self.shape().1
    }

    /// D.
    pub fn dim(&self) -> usize {
        self.shape().2
    }

    /// Whether this is a read-only [`Batch::view`].
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    fn data_ptr(&self) -> *mut f32 {
        let mut p = ptr::null_mut();
        // SAFETY: the handle is live; seqvid_batch_data does not modify the batch.
        let rc = unsafe { sys::seqvid_batch_data(self.raw.as_ptr(), &mut p) };
        debug_assert_eq!(rc, 0);
        p
    }

    /// The frames, time-major.
    pub fn data(&self) -> &[f32] {
        let (t, s, d) = self.shape();
        // SAFETY: the batch's storage holds t*s*d floats for as long as the batch (owned)
        // or 'a (borrowed, which outlives &self) lives.
        unsafe { std::slice::from_raw_parts(self.data_ptr(), t * s * d) }
    }

    /// The frames, writable (not for a read-only [`Batch::view`]).
    pub fn data_mut(&mut self) -> Result<&mut [f32]> {
        self.as_mut_ptr()?;
        let (t, s, d) = self.shape();
        // SAFETY: as data(); &mut self makes the access exclusive, and the storage is
        // either owned or borrowed mutably for 'a.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.data_ptr(), t * s * d) })
    }

    /// The frame of sequence `seq` at step `t`.
    pub fn frame(&self, t: usize, seq: usize) -> &[f32] {
        let (_, s, d) = self.shape();
        &self.data()[(t * s + seq) * d..(t * s + seq + 1) * d]
    }

    /// The valid length of sequence `seq`.
    pub fn length(&self, seq: usize) -> Result<usize> {
        let mut n = 0;
        // SAFETY: live handle, valid output.
        check(unsafe { sys::seqvid_batch_get_length(self.as_ptr(), seq, &mut n) })?;
        Ok(n)
    }

    /// Frames t >= `len` of sequence `seq` become padding (1 <= len <= T).
    pub fn set_length(&mut self, seq: usize, len: usize) -> Result<()> {
        // SAFETY: live handle. Lengths live in the batch, not in the frames: allowed for views.
        check(unsafe { sys::seqvid_batch_set_length(self.raw.as_ptr(), seq, len) })
    }

    /// All valid lengths.
    pub fn lengths(&self) -> Vec<usize> {
        (0..self.n_seqs())
            .map(|s| self.length(s).unwrap_or(0))
            .collect()
    }

    /// Set all lengths (`lens.len()` must be S); all or nothing.
    pub fn set_lengths(&mut self, lens: &[usize]) -> Result<()> {
        let s = self.n_seqs();
        if lens.len() != s {
            return Err(Error::new(
                Status::Shape,
                format!("set_lengths: {} lengths for {s} sequences", lens.len()),
            ));
        }
        let t = self.n_steps();
        if let Some(bad) = lens.iter().position(|&n| n < 1 || n > t) {
            return Err(Error::new(
                Status::Arg,
                format!(
                    "set_lengths: length {} of sequence {bad} outside [1, {t}]",
                    lens[bad]
                ),
            ));
        }
        for (seq, &n) in lens.iter().enumerate() {
            self.set_length(seq, n)?;
        }
        Ok(())
    }

    /// Read the per-sequence lengths from a 1-D integer .npy file.
    pub fn load_lengths(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live handle, NUL-terminated path.
        check(unsafe { sys::seqvid_npy_load_lengths(p.as_ptr(), self.raw.as_ptr()) })
    }

    /// A new owned batch of the `ph` x `pw` patch at (`y`, `x`) of every frame; frames are
    /// `height` x `width` x `channels`, channels innermost.
    #[allow(clippy::too_many_arguments)]
    pub fn crop(
        &self,
        height: usize,
        width: usize,
        channels: usize,
        y: usize,
        x: usize,
        ph: usize,
        pw: usize,
    ) -> Result<Batch<'static>> {
        let mut raw = ptr::null_mut();
        // SAFETY: live handle, valid out pointer.
        check(unsafe {
            sys::seqvid_batch_crop(
                self.as_ptr(),
                height,
                width,
                channels,
                y,
                x,
                ph,
                pw,
                &mut raw,
            )
        })?;
        Ok(unsafe { Batch::from_raw(raw, false) })
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and freed once.
        unsafe { sys::seqvid_batch_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (t, s, d) = self.shape();
        f.debug_struct("Batch")
            .field("n_steps", &t)
            .field("n_seqs", &s)
            .field("dim", &d)
            .finish()
    }
}
