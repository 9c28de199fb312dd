//! [`Tensor`]: what the model calls return -- the values and their shape together.
use std::ops::{Deref, DerefMut};

/// An owned, row-major array of `f32` with its shape, e.g. `[n_future, S, D]` from
/// [`Model::predict`](crate::Model::predict) or `[S, feature_dim]` from
/// [`Model::encode`](crate::Model::encode). It dereferences to the flat slice, so
/// `t.len()`, `t.iter()` and `&t[..]` work as on a `Vec<f32>`; [`Tensor::at`] indexes by
/// coordinates.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Tensor {
    data: Vec<f32>,
    shape: Vec<usize>,
}

impl Tensor {
    /// `data` shaped `shape`; `None` if the product of `shape` is not `data.len()`.
    pub fn new(data: Vec<f32>, shape: &[usize]) -> Option<Tensor> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        (n == data.len()).then(|| Tensor {
            data,
            shape: shape.to_vec(),
        })
    }

    /// A zero-filled tensor; `None` if the element count overflows.
    pub fn zeros(shape: &[usize]) -> Option<Tensor> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        Tensor::new(vec![0.0; n], shape)
    }

    /// The extent of every axis, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The values, writable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The values as a `Vec`, dropping the shape.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// The flat index of coordinates `idx` (one per axis, each in range), else `None`.
    pub fn offset(&self, idx: &[usize]) -> Option<usize> {
        if idx.len() != self.shape.len() {
            return None;
        }
        let mut off = 0;
        for (&i, &n) in idx.iter().zip(&self.shape) {
            if i >= n {
                return None;
            }
            off = off * n + i;
        }
        Some(off)
    }

    /// The value at coordinates `idx`, e.g. `t.at(&[step, seq, d])`.
    pub fn at(&self, idx: &[usize]) -> Option<f32> {
        self.offset(idx).map(|o| self.data[o])
    }

    /// The sub-array at `i` along the first axis (e.g. one frame step of a prediction), as
    /// a flat slice of the remaining axes' size.
    pub fn outer(&self, i: usize) -> Option<&[f32]> {
        let n = *self.shape.first()?;
        let inner = if n == 0 { 0 } else { self.data.len() / n };
        (i < n).then(|| &self.data[i * inner..(i + 1) * inner])
    }
}

impl Deref for Tensor {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.data
    }
}

impl DerefMut for Tensor {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

impl From<Tensor> for Vec<f32> {
    fn from(t: Tensor) -> Vec<f32> {
        t.data
    }
}

impl<'a> IntoIterator for &'a Tensor {
    type Item = &'a f32;
    type IntoIter = std::slice::Iter<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.data.iter()
    }
}
