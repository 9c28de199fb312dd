//! The error type: a library status and its message.
use std::ffi::CStr;
use std::fmt;

use seqvid_sys as sys;

/// The library's status codes (`seqvid_status`), without `SEQVID_OK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// A required pointer argument was NULL.
    Null,
    /// An argument is out of range, or a key is unknown.
    Arg,
    /// Sizes of two objects or arrays do not fit together.
    Shape,
    /// A size product would overflow.
    Overflow,
    /// Memory allocation failed.
    NoMem,
    /// NaN/Inf in an input, a loss or a gradient; nothing was updated.
    NonFinite,
    /// A file could not be opened, read, written or renamed.
    Io,
    /// A file or buffer is corrupt, truncated or not the library's.
    Format,
    /// A valid request this build or model kind cannot do.
    Unsupported,
    /// The object is not in a state that allows the call.
    State,
    /// A caller buffer is too small.
    Buffer,
    /// A status newer than these bindings.
    Other(i32),
}

impl Status {
    /// The status for a non-zero code.
    pub fn from_code(code: i32) -> Status {
        match code {
            sys::SEQVID_ERR_NULL => Status::Null,
            sys::SEQVID_ERR_ARG => Status::Arg,
            sys::SEQVID_ERR_SHAPE => Status::Shape,
            sys::SEQVID_ERR_OVERFLOW => Status::Overflow,
            sys::SEQVID_ERR_NOMEM => Status::NoMem,
            sys::SEQVID_ERR_NONFINITE => Status::NonFinite,
            sys::SEQVID_ERR_IO => Status::Io,
            sys::SEQVID_ERR_FORMAT => Status::Format,
            sys::SEQVID_ERR_UNSUPPORTED => Status::Unsupported,
            sys::SEQVID_ERR_STATE => Status::State,
            sys::SEQVID_ERR_BUFFER => Status::Buffer,
            other => Status::Other(other),
        }
    }

    /// The C status code.
    pub fn code(self) -> i32 {
        match self {
            Status::Null => sys::SEQVID_ERR_NULL,
            Status::Arg => sys::SEQVID_ERR_ARG,
            Status::Shape => sys::SEQVID_ERR_SHAPE,
            Status::Overflow => sys::SEQVID_ERR_OVERFLOW,
            Status::NoMem => sys::SEQVID_ERR_NOMEM,
            Status::NonFinite => sys::SEQVID_ERR_NONFINITE,
            Status::Io => sys::SEQVID_ERR_IO,
            Status::Format => sys::SEQVID_ERR_FORMAT,
            Status::Unsupported => sys::SEQVID_ERR_UNSUPPORTED,
            Status::State => sys::SEQVID_ERR_STATE,
            Status::Buffer => sys::SEQVID_ERR_BUFFER,
            Status::Other(c) => c,
        }
    }

    /// The library's short English name of the status ("invalid argument", ...).
    pub fn name(self) -> &'static str {
        // SAFETY: seqvid_status_string returns a constant string (never NULL) for any int.
        unsafe { CStr::from_ptr(sys::seqvid_status_string(self.code())) }
            .to_str()
            .unwrap_or("unknown status")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed call: the library's status and its detail message (`seqvid_last_error`), or an
/// argument the bindings rejected before calling the library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    /// An error with the given status and message.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    /// What kind of failure it was.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Which argument, which shape: the library's detail ("seqvid_model_predict: ...").
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status.name())
    }
}

impl std::error::Error for Error {}

/// The result of every fallible call.
pub type Result<T> = std::result::Result<T, Error>;

/// Ok for SEQVID_OK, else the status with this thread's last error message. Called right
/// after the C call on the same thread (the message is thread-local in the library).
pub(crate) fn check(code: i32) -> Result<()> {
    if code == sys::SEQVID_OK {
        return Ok(());
    }
    // SAFETY: seqvid_last_error returns a NUL-terminated thread-local string, never NULL,
    // valid until the next failing call on this thread; it is copied at once.
    let message = unsafe { CStr::from_ptr(sys::seqvid_last_error()) }
        .to_string_lossy()
        .into_owned();
    Err(Error {
        status: Status::from_code(code),
        message,
    })
}
