//! The result of a check: plain, serializable data that every renderer takes.
//!
//! JSON schema (version [`SCHEMA_VERSION`]): the field names below, with `Option`
//! values as `null`, times as ns since the Unix epoch (`*_ns`) plus RFC 3339 strings
//! where stated, durations in seconds (`*_s`), and every measured value beside its
//! `unit` (`"ms"`, `"bytes"`, `"bytes/s"`, `"1/s"`, or `""` for plain numbers and
//! ratios in `[0, 1]`). Verdicts are `"pass"`, `"warn"`, `"fail"`, `"no_data"`.
//! Non-finite floats (an infinite burn rate with a zero budget) become `null`.

use std::collections::BTreeMap;

use serde::Serialize;
use slo_config::{Location, Op};
use slo_model::{RunMeta, RunStatus};

use crate::budget::ErrorBudget;
use crate::verdict::{Unit, Verdict};
use crate::window::WindowSpan;

/// Version of the JSON layout of [`CheckReport`]; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `slo check` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The run judged.
    pub run: RunInfo,
    /// The time range judged and the duration counters' rates divide by.
    pub range: RangeInfo,
    /// Overall verdict ([`Verdict::combine`] over every threshold and SLO).
    pub verdict: Verdict,
    /// The exit code the verdict stands for ([`Verdict::exit_code`]: 0, 1 or 3).
    pub exit_code: u8,
    /// Whether NO DATA was downgraded to a warning.
    pub allow_no_data: bool,
    /// How many thresholds and SLOs got each verdict.
    pub tally: Tally,
    /// One entry per threshold expression, in the order given.
    pub thresholds: Vec<ThresholdResult>,
    /// One entry per SLO, in the order given.
    pub slos: Vec<SloResult>,
    /// End-of-test summary of every metric of the run and of every sub-metric named by a
    /// threshold or SLO, keyed by canonical name (`metric` or `metric{k:v,...}`, filters
    /// sorted by key), like k6's summary.
    pub metrics: BTreeMap<String, MetricSummary>,
    /// What happened to the points pushed.
    pub points: PointTally,
    /// Remarks a reader must see (k6 differences, clipped windows, ignored metrics).
    pub notes: Vec<String>,
}

impl CheckReport {
    /// [`Verdict::exit_code`] of the overall verdict.
    pub fn exit_code(&self) -> u8 {
        self.verdict.exit_code()
    }
}

/// The run, as its metadata states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// Run id.
    pub id: String,
    /// Where the samples came from (`"slo run"`, `"k6 json import"`).
    pub origin: String,
    /// Scenario or imported file name.
    pub scenario: Option<String>,
    /// Whether the recording finished.
    pub status: RunStatus,
    /// First sample time, ns since the epoch.
    pub start_ns: Option<i64>,
    /// Last sample time, ns since the epoch.
    pub end_ns: Option<i64>,
    /// Points the store holds for the run.
    pub points: u64,
    /// Version of slo that recorded it.
    pub slo_version: String,
}

impl RunInfo {
    /// The report's view of a run's metadata.
    pub fn from_meta(m: &RunMeta) -> RunInfo {
        RunInfo {
            id: m.id.0.clone(),
            origin: m.origin.clone(),
            scenario: m.scenario.clone(),
            status: m.status,
            start_ns: m.start_ns,
            end_ns: m.end_ns,
            points: m.points,
            slo_version: m.slo_version.clone(),
        }
    }
}

/// The evaluated time range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeInfo {
    /// Range start, ns since the epoch, inclusive.
    pub start_ns: i64,
    /// Range end, ns since the epoch, inclusive.
    pub end_ns: i64,
    /// Range start, RFC 3339 UTC.
    pub start: String,
    /// Range end, RFC 3339 UTC.
    pub end: String,
    /// `end - start` in seconds.
    pub span_s: f64,
    /// Seconds that counters' `rate` divides by (k6: the test duration).
    pub rate_duration_s: f64,
    /// Where `rate_duration_s` came from.
    pub rate_duration_source: String,
}

/// Counts of verdicts over thresholds and SLOs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// PASS items.
    pub pass: usize,
    /// WARN items.
    pub warn: usize,
    /// FAIL items.
    pub fail: usize,
    /// NO DATA items.
    pub no_data: usize,
}

/// What happened to the points pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PointTally {
    /// Points of known metrics inside the range: analyzed.
    pub accepted: u64,
    /// Points of known metrics outside the range: skipped.
    pub outside_range: u64,
    /// Points of metrics whose type is unknown (not in the catalog, not a k6 built-in),
    /// by metric name: skipped.
    pub undeclared: BTreeMap<String, u64>,
}

/// One threshold expression's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdResult {
    /// Canonical metric key (`http_req_duration{name:login}`), as in `metrics`.
    pub metric_key: String,
    /// The key exactly as written.
    pub key_source: String,
    /// The expression exactly as written (`p(95)<500`).
    pub expression: String,
    /// The aggregation (`avg`, `p(95)`, `rate`, `count`, `value`, ...).
    pub aggregation: String,
    /// The operator.
    pub op: Op,
    /// The number on the right, in `unit`.
    pub target: f64,
    /// Unit of `observed`, `target` and `margin`.
    pub unit: Unit,
    /// The aggregate over the whole range; `None` with no data.
    pub observed: Option<f64>,
    /// Distance from the limit on the passing side, in `unit`: `target - observed` for
    /// `<`/`<=`, `observed - target` for `>`/`>=`; negative when breached; `None` for
    /// `==`/`!=` and with no data.
    pub margin: Option<f64>,
    /// The verdict: the whole-range aggregate's, made FAIL by any failing window when
    /// windowed evaluation is on.
    pub verdict: Verdict,
    /// Samples of the (sub-)metric in range.
    pub samples: u64,
    /// Why the verdict is NO DATA (or other remarks); `None` otherwise.
    pub reason: Option<String>,
    /// k6 `abortOnFail`.
    pub abort_on_fail: bool,
    /// Where the expression was written.
    pub location: Location,
    /// Per-window evaluation, when requested.
    pub windows: Option<WindowedResult>,
}

/// A threshold or SLO judged per tumbling window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowedResult {
    /// Nominal window length in seconds.
    pub window_s: f64,
    /// Windows in the range.
    pub windows_total: usize,
    /// Windows with enough samples to judge.
    pub windows_with_data: usize,
    /// Windows with data that comply.
    pub windows_compliant: usize,
    /// `windows_compliant / windows_with_data`; `None` without data.
    pub compliant_share: Option<f64>,
    /// Index of the worst window (largest value for `<` limits, smallest for `>`
    /// limits; the first failing one for `==`/`!=`); `None` without data.
    pub worst: Option<usize>,
    /// Verdict over windows: FAIL if any window with data fails, NO DATA if none has
    /// data, else PASS.
    pub verdict: Verdict,
    /// Every window, in time order.
    pub windows: Vec<WindowValue>,
}

/// One window's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowValue {
    /// Where the window lies.
    #[serde(flatten)]
    pub span: WindowSpan,
    /// Matching samples in the window.
    pub samples: u64,
    /// The window's value (unit as the owning result states); `None` with no data.
    pub value: Option<f64>,
    /// The window's verdict.
    pub verdict: Verdict,
    /// For availability and error-rate SLOs: the window's error budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<ErrorBudget>,
}

/// One SLO's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloResult {
    /// Name from the config.
    pub name: String,
    /// What is measured.
    #[serde(flatten)]
    pub kind: crate::slo::SloKind,
    /// Canonical key of the (sub-)metric read (`http_req_duration{name:login}`).
    pub metric_key: String,
    /// The objective: good ratio (availability), maximum error ratio (error rate),
    /// maximum milliseconds (latency), minimum events per second (throughput).
    pub objective: f64,
    /// Unit of `objective` and of window values.
    pub unit: Unit,
    /// Nominal window length in seconds.
    pub window_s: f64,
    /// The evaluated range is shorter than one window: the single window is clipped.
    pub clipped: bool,
    /// The `min_samples` applied per window.
    pub min_samples: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// Why NO DATA, or other remarks.
    pub reason: Option<String>,
    /// For availability and error rate: the event-weighted budget over the whole range
    /// (sum of bad / sum of total over every window; never an average of ratios).
    pub budget: Option<ErrorBudget>,
    /// Per-window values (good ratio, error ratio, ms or 1/s) and verdicts.
    pub windows: WindowedResult,
}

/// End-of-test summary of one metric or sub-metric, like k6's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MetricSummary {
    /// Trend statistics.
    Trend(TrendSummary),
    /// Rate statistics.
    Rate(RateSummary),
    /// Counter statistics.
    Counter(CounterSummary),
    /// Gauge statistics.
    Gauge(GaugeSummary),
}

/// Trend summary; every statistic `None` (JSON `null`) when `count == 0`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendSummary {
    /// Unit of every statistic.
    pub unit: Unit,
    /// Number of values.
    pub count: u64,
    /// `sum / count` (sum in arrival order, as k6).
    pub avg: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// k6 `med` (= `p(50)`).
    pub med: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// k6 `p(90)`.
    #[serde(rename = "p(90)")]
    pub p90: Option<f64>,
    /// k6 `p(95)`.
    #[serde(rename = "p(95)")]
    pub p95: Option<f64>,
    /// k6 `p(99)`.
    #[serde(rename = "p(99)")]
    pub p99: Option<f64>,
}

/// Rate summary (k6 `passes`/`fails`/`value`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateSummary {
    /// Always [`Unit::None`]: `value` is a ratio.
    pub unit: Unit,
    /// Non-zero values (k6 `passes`; for `http_req_failed` these are failed requests).
    pub passes: u64,
    /// Zero values (k6 `fails`).
    pub fails: u64,
    /// All values.
    pub total: u64,
    /// `passes / total`; `None` when `total == 0`.
    pub value: Option<f64>,
}

/// Counter summary (k6 `count`/`rate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterSummary {
    /// Unit of `count`.
    pub unit: Unit,
    /// Sum of the values (negatives included).
    pub count: f64,
    /// `count / rate_duration_s` ([`RangeInfo::rate_duration_s`]); `None` without
    /// samples or with a zero duration.
    pub rate: Option<f64>,
    /// Unit of `rate`.
    pub rate_unit: Unit,
    /// Number of points summed.
    pub samples: u64,
}

/// Gauge summary (k6 `value`/`min`/`max`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaugeSummary {
    /// Unit of every value.
    pub unit: Unit,
    /// Last value in arrival order.
    pub value: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value (the true one).
    pub max: Option<f64>,
    /// What k6 v1.1.0 would report as `max` (`max(0, true max)`: its sink starts max
    /// at 0).
    pub k6_max: Option<f64>,
    /// `k6_max != max`: k6's summary would differ here.
    pub differs_from_k6: bool,
    /// Number of points.
    pub samples: u64,
}
