use std::fmt;
use std::path::PathBuf;

/// Why a dataset could not be opened: each says which path and, where there is one, the fix.
#[derive(Debug)]
pub enum DataError {
    NotFound {
        path: PathBuf,
        what: String,
    },
    Empty {
        path: PathBuf,
        what: String,
    },
    AllBad {
        path: PathBuf,
        skipped: usize,
        first: String,
    },
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    Format {
        path: PathBuf,
        reason: String,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::NotFound { path, what } => write!(f, "{} not found: {what}", path.display()),
            DataError::Empty { path, what } => write!(f, "{} holds no {what}", path.display()),
            DataError::AllBad {
                path,
                skipped,
                first,
            } => {
                write!(
                    f,
                    "none of the {skipped} files in {} could be used (first: {first})",
                    path.display()
                )
            }
            DataError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            DataError::Format { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for DataError {}
