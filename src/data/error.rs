use std::fmt;
use std::path::PathBuf;

/// Why a dataset could not be opened. Each message names the path and, where there is one,
/// says what to do about it.
#[derive(Debug)]
pub enum DataError {
    /// `path` does not exist (or, with an empty path, none was given); `what` says what was
    /// expected there.
    NotFound { path: PathBuf, what: String },
    /// `path` exists but holds none of `what`.
    Empty { path: PathBuf, what: String },
    /// Every one of the `skipped` files under `path` was unusable; `first` is
    /// "file: reason" for the first of them.
    AllBad {
        path: PathBuf,
        skipped: usize,
        first: String,
    },
    /// Reading `path` failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `path` is not in the expected format (or an option is invalid for it).
    Format { path: PathBuf, reason: String },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::NotFound { path, what } if path.as_os_str().is_empty() => {
                write!(f, "no data folder given: {what}")
            }
            DataError::NotFound { path, what } => {
                write!(f, "{} does not exist: expected {what}", path.display())
            }
            DataError::Empty { path, what } => {
                write!(f, "{} contains no {what}", path.display())
            }
            DataError::AllBad {
                path,
                skipped,
                first,
            } => write!(
                f,
                "none of the {skipped} files under {} could be used (first: {first}); check that they are files of the kind this dataset reads (images that open in an image viewer; NIfTI volumes that open in an MRI viewer)",
                path.display()
            ),
            DataError::Io { path, source } => {
                write!(f, "could not read {}: {source}", path.display())
            }
            DataError::Format { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
