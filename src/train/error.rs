//! Why `train` or `generate` stopped: [`TrainError`]. Every message is written for the person
//! at the terminal (`main` prints `error: {e}`): it names the flag, key or file at fault and,
//! where there is one, what to do. The causes (I/O, TOML, image, data, GPU and checkpoint
//! errors) are kept as sources.

use std::io;
use std::path::{Path, PathBuf};

use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::{BitMapBackend, DrawingBackend};

use crate::data::DataError;
use crate::gpu::GpuError;

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// What the error of plotters' bitmap backend is.
type PlotBackendError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A flag, a configuration value or a request the run cannot use: a number out of range,
    /// an unknown preset, dataset or noise mode, a `--resume` flag that would change what was
    /// trained, channels or images other than the data's. The message names it and says what
    /// to do.
    #[error("{0}")]
    Invalid(String),
    /// A `--config` file that is not TOML or holds an unknown key or a value of the wrong
    /// type: the file, the line and column where known, and what is wrong.
    #[error("{}{}: {message}", .path.display(), line_col(.at))]
    Config {
        path: PathBuf,
        /// Line and column (1-based).
        at: Option<(usize, usize)>,
        message: String,
    },
    /// TOML that does not hold a configuration; `context` says which (`--config FILE`, the
    /// file, or the configuration inside a checkpoint).
    #[error("{context}: {source}")]
    Toml {
        context: String,
        source: toml::de::Error,
    },
    /// The configuration could not be written as TOML.
    #[error(transparent)]
    TomlWrite(#[from] toml::ser::Error),
    /// A file or folder the system would not open, read, write or create.
    #[error("{}: {source}", .op.describe(.path))]
    File {
        op: FileOp,
        path: PathBuf,
        source: io::Error,
    },
    /// An I/O error whose message names no file (a write into a file already open, a folder
    /// under the run directory).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A picture that could not be written.
    #[error("could not write {}: {source}", .path.display())]
    Image {
        path: PathBuf,
        source: image::ImageError,
    },
    /// A GIF frame that could not be encoded.
    #[error(transparent)]
    Encode(#[from] image::ImageError),
    /// A plot that could not be drawn.
    #[error("plot: {0}")]
    Plot(#[from] DrawingAreaErrorKind<PlotBackendError>),
    /// A picture or plot that could not be made for another reason (no frames, no data, the
    /// embedded font).
    #[error("{0}")]
    Picture(&'static str),
    /// A `.npy` array that cannot be read or written as asked: the file and why.
    #[error("{}: {message}", .path.display())]
    Npy { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// What was being done with a file when it failed; it words the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOp {
    /// Opening, writing or renaming, in the run directory or elsewhere: "FILE: why".
    Access,
    /// "could not read FILE: why".
    Read,
    /// "could not write FILE: why".
    Write,
    /// Creating a folder: "cannot create FOLDER: why".
    CreateDir,
    /// Reading the file given to `--config`: "--config FILE: why".
    ReadConfig,
}

impl FileOp {
    fn describe(self, path: &Path) -> String {
        let p = path.display();
        match self {
            FileOp::Access => format!("{p}"),
            FileOp::Read => format!("could not read {p}"),
            FileOp::Write => format!("could not write {p}"),
            FileOp::CreateDir => format!("cannot create {p}"),
            FileOp::ReadConfig => format!("--config {p}"),
        }
    }

    /// The error of this operation on `path`, for `map_err`.
    pub fn on(self, path: &Path) -> impl FnOnce(io::Error) -> TrainError + '_ {
        move |source| TrainError::File {
            op: self,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl TrainError {
    /// A user-input error with this message.
    pub fn invalid(message: impl Into<String>) -> Self {
        TrainError::Invalid(message.into())
    }
}

fn line_col(at: &Option<(usize, usize)>) -> String {
    at.map_or(String::new(), |(l, c)| format!(":{l}:{c}"))
}

/// A checkpoint that cannot be read or written; the text names the file and what is wrong.
#[derive(Debug)]
pub struct CheckpointError(pub String);

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckpointError {}
