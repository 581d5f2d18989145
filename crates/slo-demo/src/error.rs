//! Errors of the demo target's configuration.

use thiserror::Error;

/// Everything that can go wrong while building a [`crate::DemoConfig`].
#[derive(Debug, Error)]
pub enum DemoError {
    /// The configuration file could not be read.
    #[error("cannot read demo config {path}: {message}")]
    Read {
        /// The file's path.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The YAML/JSON text is malformed or has unknown fields.
    #[error("cannot parse demo config {input}: {message}")]
    Parse {
        /// Where the text came from (a file name or a flag).
        input: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range; the message names the field (e.g. `routes.cart.error_rate`).
    #[error("invalid demo config: {0}")]
    InvalidConfig(String),
    /// `--profile` named no built-in profile.
    #[error("unknown demo profile {name:?}; expected one of baseline, candidate, fast")]
    UnknownProfile {
        /// The name given.
        name: String,
    },
}
