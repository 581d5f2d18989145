//! [`ConfigError`]: every way a configuration file can be refused, each naming
//! `file:line:column` first, so editors and CI logs can jump to the spot.

use crate::threshold::Location;

/// Why a configuration file (slo-config.yaml, k6 options JSON) was refused.
///
/// Every variant's message starts with `file:line:col: `. The binary maps all of them
/// to exit code 2 ("invalid input").
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read; [`ConfigError::location`] is `None`: no position in
    /// the file is at fault.
    #[error("{file}: cannot read file: {cause}")]
    Io {
        /// The file as the user named it.
        file: String,
        /// The operating system's error (in the message already, so not an error
        /// `source`: error chains would print it twice).
        cause: std::io::Error,
    },
    /// The text is not well-formed YAML or JSON.
    #[error("{location}: syntax error: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's description.
        message: String,
    },
    /// A mapping key that is not allowed at this place.
    #[error("{location}: unknown field `{field}` in {context}; expected one of: {expected}")]
    UnknownField {
        /// Where the key is written.
        location: Location,
        /// The key as written.
        field: String,
        /// What was being read, e.g. `slos.latency.p95`.
        context: String,
        /// The keys allowed there, comma-separated.
        expected: String,
    },
    /// A required key is absent.
    #[error("{location}: missing field `{field}` in {context}")]
    MissingField {
        /// Where the mapping that lacks the key starts.
        location: Location,
        /// The missing key.
        field: String,
        /// What was being read.
        context: String,
    },
    /// The same key twice in one mapping.
    #[error("{location}: duplicate key `{key}` (first written at line {first_line})")]
    DuplicateKey {
        /// Where the second occurrence is written.
        location: Location,
        /// The key.
        key: String,
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// A value of the wrong shape or out of range (a target of 120%, a bad duration, a
    /// list where a mapping belongs).
    #[error("{location}: invalid {what}: {message}")]
    InvalidValue {
        /// Where the value is written.
        location: Location,
        /// What the value is, e.g. `slos.availability.target`.
        what: String,
        /// Why it was refused, quoting the input.
        message: String,
    },
    /// A threshold expression that does not follow k6's grammar.
    #[error("{location}: invalid threshold expression {expr:?}: {reason}")]
    Expression {
        /// Where the expression string is written.
        location: Location,
        /// The expression as written.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A threshold metric key (`name{tag:value}`) that does not follow k6's rules.
    #[error("{location}: invalid metric key {key:?}: {reason}")]
    MetricKey {
        /// Where the key is written.
        location: Location,
        /// The key as written.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An aggregation k6 does not allow on the metric's type (`p(95)` on a rate).
    #[error(
        "{location}: threshold {expr:?} on metric {metric}: unsupported aggregation method {agg} on metric of type {}; supported: {}",
        kind.as_str(),
        crate::threshold::Aggregation::supported_names(*kind)
    )]
    Aggregation {
        /// Where the expression is written.
        location: Location,
        /// The expression as written.
        expr: String,
        /// The metric name.
        metric: String,
        /// The metric's type.
        kind: slo_model::MetricType,
        /// The aggregation used, as k6 spells it.
        agg: String,
    },
}

impl ConfigError {
    /// Where in which file the problem is; `None` for [`ConfigError::Io`].
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { location, .. }
            | ConfigError::UnknownField { location, .. }
            | ConfigError::MissingField { location, .. }
            | ConfigError::DuplicateKey { location, .. }
            | ConfigError::InvalidValue { location, .. }
            | ConfigError::Expression { location, .. }
            | ConfigError::MetricKey { location, .. }
            | ConfigError::Aggregation { location, .. } => Some(location),
        }
    }
}
