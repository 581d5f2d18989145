//! InfluxDB as a store: a sink that writes raw samples as line protocol exactly as k6's
//! `--out influxdb` does, and a source that reads a run back with InfluxQL — runs written
//! by `slo` and runs written by k6 itself.
//!
//! - [`InfluxConfig::from_url`]: `--out influxdb=URL` / `--source URL` (1.x database in the
//!   path; 2.x/3.x `?org=&bucket=` with the token from [`TOKEN_ENV`]).
//! - [`InfluxSink`] ([`PointSink`]): batched, gzip-compressed writes from background threads,
//!   bounded in flight, retried with backoff; whatever cannot be delivered lands in a local
//!   spool ([`push_spool`] sends it later). [`DeliveryReport`] says what went where.
//! - [`InfluxSource`]: lists runs (the `slo_run` registry, else k6 `testid` values),
//!   resolves `latest`, and streams a run's points in time order to a
//!   [`crate::PointVisitor`].
//!
//! Layout in InfluxDB: one measurement per k6 metric, field `value` (float; ms for time
//! metrics, bytes for data metrics), k6's tags plus `testid=<run id>`, k6's tags-as-fields
//! (`url` string field; `vu`, `iter` integer fields), ns timestamps kept unique per series
//! (see [`line_protocol::UniqueTimestamps`]). The registry measurement [`REGISTRY_MEASUREMENT`]
//! holds one point per run (tag `testid`; fields `status`, `created_ns`, `start_ns`,
//! `end_ns`, `points`, `origin`, `meta` = the run's [`slo_model::RunMeta`] as JSON,
//! `empty_tags` = JSON `{metric: [tag keys written with an empty value]}`).

mod client;
pub mod config;
pub mod line_protocol;
pub mod sink;
pub mod source;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod integration_tests;

use std::path::PathBuf;

pub use config::{InfluxApi, InfluxConfig, RetryPolicy, Secret, TOKEN_ENV};
pub use sink::{push_spool, DeliveryReport, InfluxSink, PointSink, PushReport};
pub use source::InfluxSource;

/// The measurement holding the run registry (one point per run, tag `testid`).
pub const REGISTRY_MEASUREMENT: &str = "slo_run";

/// Everything that can go wrong talking to InfluxDB. Messages carry the server URL without
/// credentials; passwords and tokens never appear in them.
#[derive(Debug, thiserror::Error)]
pub enum InfluxError {
    /// A URL that cannot be used (syntax, missing database, token missing, https without TLS).
    #[error("InfluxDB URL {url}: {msg}")]
    Config {
        /// The URL without credentials.
        url: String,
        /// What is wrong with it.
        msg: String,
    },
    /// No connection (refused, DNS, timeout) after the retries: exit code 4.
    #[error("InfluxDB at {url} is unreachable: {msg}")]
    Unreachable {
        /// The URL without credentials.
        url: String,
        /// The connection error.
        msg: String,
    },
    /// The server answered with an error status (authentication, missing database, …).
    #[error("InfluxDB at {url} answered HTTP {status}: {body}")]
    Http {
        /// The URL without credentials.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// An InfluxQL statement failed, or the answer was not what InfluxDB sends.
    #[error("InfluxDB at {url}: {msg}")]
    Query {
        /// The URL without credentials.
        url: String,
        /// The error message (InfluxDB's, or what did not parse).
        msg: String,
    },
    /// No run matches the spec (`latest` with no runs, unknown id or prefix): exit code 3.
    #[error("run not found in InfluxDB at {url}: {spec:?}")]
    RunNotFound {
        /// The URL without credentials.
        url: String,
        /// The run spec asked for.
        spec: String,
    },
    /// A run id prefix that matches several runs: exit code 2.
    #[error("run {spec:?} is ambiguous; it matches {}", candidates.join(", "))]
    AmbiguousRun {
        /// The prefix given.
        spec: String,
        /// The ids it matches, sorted.
        candidates: Vec<String>,
    },
    /// Reading or writing the spool.
    #[error("{path}: {source}")]
    Io {
        /// The spool file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl InfluxError {
    /// The exit code DESIGN.md assigns: 4 backend unreachable, 3 run not found, 2 invalid
    /// input (bad URL, ambiguous run), 1 any other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            InfluxError::Unreachable { .. } => 4,
            InfluxError::RunNotFound { .. } => 3,
            InfluxError::Config { .. } | InfluxError::AmbiguousRun { .. } => 2,
            InfluxError::Http { .. } | InfluxError::Query { .. } | InfluxError::Io { .. } => 1,
        }
    }

    /// Whether the server could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, InfluxError::Unreachable { .. })
    }
}

pub(crate) use crate::remote::scrub;
