//! The error a plugin function returns.

use std::fmt;

/// Why a plugin function failed; any `std::error::Error` converts into it with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidConfig,
    Failed,
    #[cfg_attr(not(feature = "processor"), allow(dead_code))]
    State,
}

impl Error {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    /// The deployed configuration is unusable: the whole batch is refused, not one record.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::InvalidConfig,
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(err: E) -> Self {
        Error::new(err.to_string())
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
