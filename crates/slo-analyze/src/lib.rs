//! The analyzer of `slo`: k6 metric sinks with k6's exact arithmetic, k6 thresholds over
//! the whole run or per window, SLOs over tumbling windows with error budgets, and an
//! end-of-test summary of every metric. Plain data in, plain data out: no I/O, no
//! printing; renderers take the [`CheckReport`].
//!
//! ```
//! use std::time::Duration;
//! use slo_analyze::{Analysis, Options, Plan, RunInfo, SloKind, SloSpec, TimeRange, Verdict};
//! use slo_model::{RunStatus, Tags};
//!
//! let slos = [SloSpec::new("availability", SloKind::Availability, 0.99, Duration::from_secs(3600))];
//! let run = RunInfo { id: "r1".into(), origin: "test".into(), scenario: None, status: RunStatus::Complete,
//!                     start_ns: Some(0), end_ns: Some(60_000_000_000), points: 100, slo_version: "0".into() };
//! let plan = Plan { thresholds: &[], slos: &slos, metrics: &[], run,
//!                   range: TimeRange { start_ns: 0, end_ns: 60_000_000_000 },
//!                   rate_duration_s: Some(60.0), rate_duration_source: None, options: Options::default() };
//! let mut a = Analysis::new(plan).unwrap();
//! let tags = Tags::default();
//! for i in 0..100 {
//!     a.push("http_req_failed", i * 600_000_000, if i == 0 { 1.0 } else { 0.0 }, &tags);
//! }
//! let report = a.finish();
//! assert_eq!(report.verdict, Verdict::Pass);            // 1 bad of 100 = exactly the 1 % budget
//! assert!(report.slos[0].clipped);                       // 60 s range, 1 h window
//! ```
#![deny(missing_docs)]

pub mod analysis;
pub mod budget;
pub mod compare;
pub mod report;
pub mod sink;
pub mod slo;
pub mod verdict;
pub mod window;

pub use analysis::{aggregation_label, Analysis, ColumnPoints, Options, Plan, SetTags, TimeRange, MAX_WINDOWS};
pub use budget::{
    calendar_month_budget, counter_increase, decimal_complement, ratio_from_percent, rolling_budget, CountBucket, ErrorBudget, PeriodBudget,
};
pub use report::{
    CheckReport, CounterSummary, GaugeSummary, MetricSummary, PointTally, RangeInfo, RateSummary, RunInfo, SloResult, Tally,
    ThresholdResult, TrendSummary, WindowValue, WindowedResult, SCHEMA_VERSION,
};
pub use sink::{percentile_sorted, CounterSink, GaugeSink, RateSink, Sink, TrendSink};
pub use slo::{SloKind, SloSpec};
pub use verdict::{Unit, Verdict};
pub use window::{WindowGrid, WindowSpan};

/// Why a check could not be planned. Messages name the threshold's file:line:column or
/// the SLO by name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyzeError {
    /// A threshold aggregation that k6 does not allow on the metric's type.
    #[error("{location}: threshold '{expression}' on {metric}: this aggregation does not apply to a {kind} (trend: avg min max med p(N); rate: rate; counter: count rate; gauge: value)")]
    UnsupportedAggregation {
        /// The expression as written.
        expression: String,
        /// The metric name.
        metric: String,
        /// The metric's type.
        kind: &'static str,
        /// file:line:column.
        location: String,
    },
    /// `p(N)` with N outside `[0, 100]` or NaN.
    #[error("{location}: threshold '{expression}': the percentile must be a number in [0, 100]")]
    InvalidPercentile {
        /// The expression as written.
        expression: String,
        /// file:line:column.
        location: String,
    },
    /// A NaN right-hand side: every comparison with NaN is false (k6 then always fails).
    #[error("{location}: threshold '{expression}': the target is NaN, which no value can be compared with")]
    NanTarget {
        /// The expression as written.
        expression: String,
        /// file:line:column.
        location: String,
    },
    /// An SLO objective out of range for its kind.
    #[error("SLO `{slo}`: objective {objective} is invalid: {why}")]
    SloObjective {
        /// SLO name.
        slo: String,
        /// The objective given.
        objective: f64,
        /// What is expected.
        why: String,
    },
    /// An SLO reads a metric of the wrong type.
    #[error("SLO `{slo}`: metric `{metric}` is a {kind}, this SLO needs a {needed}")]
    SloMetricType {
        /// SLO name.
        slo: String,
        /// Metric read.
        metric: String,
        /// Its type.
        kind: &'static str,
        /// The type needed.
        needed: &'static str,
    },
    /// A zero-length window.
    #[error("{what}: the window length must be greater than 0")]
    ZeroWindow {
        /// The SLO or threshold.
        what: String,
    },
    /// Too many windows for the range.
    #[error("{what}: the range would be cut into {windows} windows (at most {max}); use a longer window or a shorter range")]
    TooManyWindows {
        /// The SLO or threshold.
        what: String,
        /// Windows it would need.
        windows: usize,
        /// [`MAX_WINDOWS`].
        max: usize,
    },
    /// The range ends before it starts.
    #[error("invalid time range: end {end_ns} ns is before start {start_ns} ns (--from/--to)")]
    InvalidRange {
        /// Range start, ns since the epoch.
        start_ns: i64,
        /// Range end, ns since the epoch.
        end_ns: i64,
    },
    /// Not a calendar month.
    #[error("invalid calendar month {year}-{month:02}")]
    InvalidMonth {
        /// Year.
        year: i32,
        /// Month, 1..=12 expected.
        month: u32,
    },
}
