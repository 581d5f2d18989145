//! k6 thresholds: `METRIC{tag:value,...}: ['AGG OP NUMBER', {threshold, abortOnFail, delayAbortEval}]`.
//! Types only here; the grammar (BNF) and parser live beside them.

use std::time::Duration;

use serde::Serialize;

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Location {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A threshold's metric key: a metric name plus optional tag filters, as in
/// `http_req_duration{name:login,status:200}`. Filters are AND; a point matches when it
/// has every filter tag with exactly that value (k6 sub-metric semantics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricKey {
    /// Metric name, e.g. `http_req_duration`.
    pub metric: String,
    /// Tag filters `(key, value)`, values trimmed and unquoted, sorted by key.
    pub filters: Vec<(String, String)>,
}

impl MetricKey {
    /// The canonical name k6 uses for the sub-metric in its summary:
    /// `metric{k:v,k2:v2}` in the order written, or `metric` with no filters.
    /// (k6 keeps the user's order; this keeps the sorted order, which is what
    /// `slo` reports and what JSON consumers key on.)
    pub fn canonical(&self) -> String {
        if self.filters.is_empty() {
            self.metric.clone()
        } else {
            let f: Vec<String> = self.filters.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("{}{{{}}}", self.metric, f.join(","))
        }
    }
}

/// The aggregation on the left of a threshold expression.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "method", content = "arg")]
pub enum Aggregation {
    /// Trend mean.
    Avg,
    /// Trend minimum.
    Min,
    /// Trend maximum.
    Max,
    /// Trend median (= `p(50)`).
    Med,
    /// Trend percentile; the field is N of `p(N)`, 0 ≤ N ≤ 100 (e.g. 99.9).
    P(f64),
    /// Counter sum.
    Count,
    /// Rate share of non-zero samples, or counter per-second rate.
    Rate,
    /// Gauge last value.
    Value,
}

/// Comparison operator. `===` parses as [`Op::Eq`] (k6 treats it as `==`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==` or `===`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// Applies the comparison `observed OP target`.
    pub fn holds(self, observed: f64, target: f64) -> bool {
        match self {
            Op::Lt => observed < target,
            Op::Le => observed <= target,
            Op::Gt => observed > target,
            Op::Ge => observed >= target,
            Op::Eq => observed == target,
            Op::Ne => observed != target,
        }
    }
}

/// A parsed expression `AGG OP NUMBER`, e.g. `p(95)<500`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdExpr {
    /// Left side.
    pub agg: Aggregation,
    /// Operator.
    pub op: Op,
    /// Right side, in the metric's unit (milliseconds for time trends).
    pub value: f64,
}

/// One threshold as written, with its options and where it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The expression text exactly as written, e.g. `p(95)<500`.
    pub source: String,
    /// The parsed expression.
    pub expr: ThresholdExpr,
    /// k6 `abortOnFail`: stop the run when this threshold fails.
    pub abort_on_fail: bool,
    /// k6 `delayAbortEval`: do not abort before this much run time.
    pub delay_abort_eval: Option<Duration>,
    /// Where the expression was written.
    pub location: Location,
}

/// All thresholds on one metric key, in the order written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricThresholds {
    /// The metric key as written (e.g. `http_req_duration{name:login}`).
    pub key_source: String,
    /// The parsed key.
    pub key: MetricKey,
    /// Where the key was written.
    pub location: Location,
    /// The thresholds on it.
    pub thresholds: Vec<Threshold>,
}
