//! The store's error type and how each error maps to the `slo` exit codes of DESIGN.md.

use std::path::PathBuf;

/// Everything that can go wrong in a store or an import. Messages name the file,
/// line or run spec involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet or Arrow error while reading or writing `path`.
    #[error("{path}: parquet: {msg}")]
    Parquet {
        /// The part file.
        path: PathBuf,
        /// What the Parquet/Arrow library said.
        msg: String,
    },
    /// A `run.json` that does not parse, or a part file whose columns are not the
    /// store's layout.
    #[error("{path}: {msg}")]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// No run matches the spec (`latest` in an empty store, an unknown id or prefix).
    #[error("run not found: {0:?}")]
    RunNotFound(String),
    /// A run id prefix that matches more than one run.
    #[error("run {spec:?} is ambiguous; it matches {}", candidates.join(", "))]
    AmbiguousRun {
        /// The prefix given.
        spec: String,
        /// The ids it matches, sorted.
        candidates: Vec<String>,
    },
    /// A run id that is not a safe folder name (see `slo_model::RunId::is_valid`).
    #[error("invalid run id {0:?}: use 1-128 ASCII letters, digits and - _ . : (not starting with ., and not `latest`, which --run latest means)")]
    InvalidRunId(String),
    /// `--run-id` names a run that the store already holds.
    #[error("run {0:?} already exists in the store")]
    RunExists(String),
    /// A malformed line in an imported file; 1-based line number.
    #[error("{}:{line}: {msg}", file.display())]
    BadLine {
        /// The imported file.
        file: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        msg: String,
    },
    /// An input file that cannot be imported as a whole: missing, unreadable, a truncated
    /// or corrupt gzip stream, or no k6 sample in it.
    #[error("{}: {msg}", file.display())]
    BadInput {
        /// The input file.
        file: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
}

/// The class of an error, which the binary turns into an exit code
/// (DESIGN.md "CLI shape": 1 failed, 2 invalid input, 3 no data or run not found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// I/O or storage failure: exit code 1.
    Failure,
    /// Invalid input (bad line, bad or ambiguous run spec, existing run id): exit code 2.
    Invalid,
    /// The run asked for does not exist: exit code 3.
    NotFound,
}

impl ErrorClass {
    /// The process exit code DESIGN.md assigns to this class.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Failure => 1,
            ErrorClass::Invalid => 2,
            ErrorClass::NotFound => 3,
        }
    }
}

impl StoreError {
    /// Which exit-code class this error belongs to.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Io { .. } | StoreError::Parquet { .. } | StoreError::Corrupt { .. } => ErrorClass::Failure,
            StoreError::RunNotFound(_) => ErrorClass::NotFound,
            StoreError::AmbiguousRun { .. }
            | StoreError::InvalidRunId(_)
            | StoreError::RunExists(_)
            | StoreError::BadLine { .. }
            | StoreError::BadInput { .. } => ErrorClass::Invalid,
        }
    }

    /// Shorthand for `self.class().exit_code()`.
    pub fn exit_code(&self) -> u8 {
        self.class().exit_code()
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io { path: path.into(), source }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        StoreError::Parquet { path: path.into(), msg: e.to_string() }
    }
}
