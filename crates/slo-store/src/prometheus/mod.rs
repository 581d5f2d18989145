//! Prometheus (and Prometheus-compatible stores: VictoriaMetrics, Mimir) as a store.
//!
//! Prometheus cannot keep raw samples one by one, so the sink ([`PrometheusSink`])
//! aggregates the k6 long-format points it is given into cumulative counters, gauges and
//! latency histograms and sends one snapshot every push interval (default 5 s) by remote
//! write 1.0 ([`remote_write`]: protobuf + snappy block). The source ([`PrometheusSource`])
//! lists runs and computes what the analyzer needs with the HTTP query API: request and
//! failure counts from raw counter samples (exact, with counter-reset handling), latency
//! quantiles estimated from histogram buckets (with the bucket error bound), per window.
//! It also reads runs that k6's `-o experimental-prometheus-rw` wrote.
//!
//! # Metric names (fixed; dashboards and alert rules depend on them)
//!
//! k6's prometheus-rw names are used wherever k6 has one. Every series carries `testid`
//! (the run id). Times are in **seconds**, data in **bytes**.
//!
//! | name | type | labels | from k6 metric |
//! |---|---|---|---|
//! | `k6_http_reqs_total` | counter | `testid scenario name method status expected_response` | `http_reqs` |
//! | `k6_http_req_duration_seconds_bucket{le}`, `_sum`, `_count` | classic histogram (s) | same as above + `le` | `http_req_duration` (ms → s) |
//! | `k6_http_req_failed_total` | counter | same as `k6_http_reqs_total` | `http_req_failed` (sum of the 0/1 values) |
//! | `k6_iterations_total` | counter | `testid scenario` | `iterations` |
//! | `k6_dropped_iterations_total` | counter | `testid scenario` | `dropped_iterations` |
//! | `k6_data_sent_total` | counter (bytes) | `testid scenario` | `data_sent` |
//! | `k6_data_received_total` | counter (bytes) | `testid scenario` | `data_received` |
//! | `k6_vus` | gauge | `testid` | `vus` |
//! | `k6_vus_max` | gauge | `testid` | `vus_max` |
//! | `k6_checks_total` | counter | `testid scenario check result` (`pass`/`fail`) | `checks` |
//! | `k6_iteration_duration_seconds_bucket{le}`, `_sum`, `_count` | classic histogram (s) | `testid scenario` + `le` | `iteration_duration` (ms → s) |
//! | `slo_run_info` | info gauge, value 1 | `testid status scenario slo_version start_ms end_ms` | the run registry |
//!
//! With `native_histograms: true` the sink also sends `k6_http_req_duration_seconds` and
//! `k6_iteration_duration_seconds` as native histograms (schema [`histogram::NATIVE_SCHEMA`]),
//! the names k6 uses with `K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true`. The classic
//! series are sent either way. Prometheus needs `--enable-feature=native-histograms`
//! (without it the whole push fails with 500); VictoriaMetrics 1.79 drops them silently.
//!
//! Other k6 metrics (`http_req_blocked`, `http_req_waiting`, …, custom metrics) are not
//! exported; [`DeliveryReport::points_ignored`] counts them. An empty label value is no label.
//!
//! `slo_run_info` has one series per run and status: `status="running"` (no `end_ms`) from
//! the first push, then, in a separate request after the last data push, the final
//! series `status="complete"` (or `"interrupted"`) with `end_ms`, plus a staleness marker
//! ending the `running` series. `start_ms`/`end_ms` are ms since the Unix epoch.
//!
//! # Quantile error bound
//!
//! The classic buckets (`le`) grow by the factor [`BucketLayout::factor`] (default 1.05)
//! from 0.5 ms to 60 s, each bound the previous one times the factor rounded down to 4
//! significant digits, plus Prometheus's default boundaries (5 ms, 10 ms, 25 ms, 50 ms,
//! 100 ms, 250 ms, 500 ms, 1 s, 2.5 s, 5 s, 10 s) so that SLO targets at round values are
//! exact bucket edges for `slo rules export` ([`BucketLayout::bounds`], 253 finite bounds).
//! `histogram_quantile` (and [`histogram::bucket_quantile`], the same algorithm) interpolates
//! linearly inside the bucket `(a, b]` that holds the rank `q·count`; the observation of that
//! rank lies in the same bucket, so the estimate is within `b/a − 1` of it, relative to the
//! observation: at most [`BucketLayout::relative_error_bound`] = max `b/a − 1` ≈ **5.0 %**
//! with the default layout (a factor of 1.1 would give 10 %, not 5 %). Below 0.5 ms the error
//! is at most 0.5 ms absolute; above 60 s the estimate is 60 s (the last finite bound).
//!
//! # Credentials
//!
//! `SLO_PROMETHEUS_TOKEN` ([`TOKEN_ENV`]) is sent as `Authorization: Bearer …`; `user:password@`
//! in the URL as basic auth. Neither ever appears in a message ([`config::Secret`]).

mod client;
pub mod config;
pub mod histogram;
pub mod remote_write;
pub mod sink;
pub mod source;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod integration_tests;

use std::path::PathBuf;

pub use config::{PromConfig, RetryPolicy, Secret, TOKEN_ENV};
pub use histogram::BucketLayout;
pub use sink::{push_spool, DeliveryReport, PrometheusSink, RunInfo, SpoolReport};
pub use source::{
    counter_increase, EndpointAggregates, LabelSet, LatencyEstimate, LatencySource, PromRun, PrometheusSource, RunAggregates, RunOrigin,
    RunSelector, SeriesSamples, TrendStat, WindowAggregates,
};

/// Counter of requests (`http_reqs`).
pub const HTTP_REQS: &str = "k6_http_reqs_total";
/// Classic histogram of `http_req_duration` in seconds (`_bucket`, `_sum`, `_count`).
pub const HTTP_REQ_DURATION: &str = "k6_http_req_duration_seconds";
/// Counter of failed requests (`http_req_failed` = 1).
pub const HTTP_REQ_FAILED: &str = "k6_http_req_failed_total";
/// Counter of iterations.
pub const ITERATIONS: &str = "k6_iterations_total";
/// Counter of dropped iterations.
pub const DROPPED_ITERATIONS: &str = "k6_dropped_iterations_total";
/// Counter of bytes sent.
pub const DATA_SENT: &str = "k6_data_sent_total";
/// Counter of bytes received.
pub const DATA_RECEIVED: &str = "k6_data_received_total";
/// Gauge of active VUs.
pub const VUS: &str = "k6_vus";
/// Gauge of allocated VUs.
pub const VUS_MAX: &str = "k6_vus_max";
/// Counter of checks, label `result` = `pass` | `fail`.
pub const CHECKS: &str = "k6_checks_total";
/// Classic histogram of `iteration_duration` in seconds.
pub const ITERATION_DURATION: &str = "k6_iteration_duration_seconds";
/// The run registry: one series per run and status, value 1.
pub const RUN_INFO: &str = "slo_run_info";

/// Everything that can go wrong talking to Prometheus. Messages carry the server URL
/// without credentials; passwords and tokens never appear in them.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// A URL or setting that cannot be used.
    #[error("Prometheus URL {url}: {msg}")]
    Config {
        /// The URL without credentials.
        url: String,
        /// What is wrong.
        msg: String,
    },
    /// No connection (refused, DNS, timeout): exit code 4.
    #[error("Prometheus at {url} is unreachable: {msg}")]
    Unreachable {
        /// The URL without credentials.
        url: String,
        /// The connection error.
        msg: String,
    },
    /// The server answered with an error status.
    #[error("Prometheus at {url} answered HTTP {status}: {body}")]
    Http {
        /// The URL without credentials.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// A PromQL query failed, or the answer was not what the query API sends.
    #[error("Prometheus at {url}: query {query:?}: {msg}")]
    Query {
        /// The URL without credentials.
        url: String,
        /// The PromQL expression.
        query: String,
        /// The server's error, or what did not parse.
        msg: String,
    },
    /// No run matches the spec: exit code 3.
    #[error("run not found in Prometheus at {url}: {spec:?}")]
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

impl PrometheusError {
    /// The exit code DESIGN.md assigns: 4 backend unreachable, 3 run not found, 2 invalid
    /// input (bad URL, ambiguous run), 1 any other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            PrometheusError::Unreachable { .. } => 4,
            PrometheusError::RunNotFound { .. } => 3,
            PrometheusError::Config { .. } | PrometheusError::AmbiguousRun { .. } => 2,
            PrometheusError::Http { .. } | PrometheusError::Query { .. } | PrometheusError::Io { .. } => 1,
        }
    }

    /// Whether the server could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, PrometheusError::Unreachable { .. })
    }
}

pub(crate) use crate::remote::scrub;
