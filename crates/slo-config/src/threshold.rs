//! k6 thresholds: `METRIC{tag:value,...}: ['AGG OP NUMBER', {threshold, abortOnFail, delayAbortEval}]`.
//! Types only here; the grammar (BNF) and parser live in [`crate::grammar`].

use std::time::Duration;

use serde::Serialize;
use slo_model::MetricType;

use crate::error::ConfigError;

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

impl Aggregation {
    /// Whether k6 allows this aggregation on a metric of type `kind` (k6
    /// `metrics/thresholds.go`): Trend `avg min max med p(N)`, Rate `rate`, Counter
    /// `count rate`, Gauge `value`.
    pub fn supported_by(self, kind: MetricType) -> bool {
        match kind {
            MetricType::Trend => {
                matches!(self, Aggregation::Avg | Aggregation::Min | Aggregation::Max | Aggregation::Med | Aggregation::P(_))
            }
            MetricType::Rate => matches!(self, Aggregation::Rate),
            MetricType::Counter => matches!(self, Aggregation::Count | Aggregation::Rate),
            MetricType::Gauge => matches!(self, Aggregation::Value),
        }
    }

    /// The aggregations k6 allows on `kind`, as written in expressions (for messages).
    pub fn supported_names(kind: MetricType) -> &'static str {
        match kind {
            MetricType::Trend => "avg, min, max, med, p(N)",
            MetricType::Rate => "rate",
            MetricType::Counter => "count, rate",
            MetricType::Gauge => "value",
        }
    }
}

impl std::fmt::Display for Aggregation {
    /// Writes the aggregation as k6 spells it: `avg`, `p(95)`, `p(99.9)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::P(n) => write!(f, "p({n})"),
            Aggregation::Count => f.write_str("count"),
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Value => f.write_str("value"),
        }
    }
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
    ///
    /// A NaN on either side never holds, `!=` included: k6 accepts `count<NaN` (Go
    /// `ParseFloat`) and such a threshold must always fail, never pass (case 03).
    pub fn holds(self, observed: f64, target: f64) -> bool {
        if observed.is_nan() || target.is_nan() {
            return false;
        }
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

impl Op {
    /// The operator as k6 writes it (`===` is shown as `==`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

impl ThresholdExpr {
    /// Whether an observed aggregate passes: `observed OP value` (NaN never passes, see
    /// [`Op::holds`]).
    pub fn passes(&self, observed: f64) -> bool {
        self.op.holds(observed, self.value)
    }
}

impl std::fmt::Display for ThresholdExpr {
    /// Writes the normalised expression, e.g. `p(95)<500`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", self.agg, self.op, self.value)
    }
}

/// All thresholds of one profile (or of one k6 script), metric keys in the order written.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(transparent)]
pub struct ThresholdSet(pub Vec<MetricThresholds>);

impl ThresholdSet {
    /// The metric keys with their thresholds, in the order written.
    pub fn iter(&self) -> std::slice::Iter<'_, MetricThresholds> {
        self.0.iter()
    }

    /// Number of metric keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no metric key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of thresholds over all metric keys.
    pub fn threshold_count(&self) -> usize {
        self.0.iter().map(|m| m.thresholds.len()).sum()
    }

    /// Checks every threshold's aggregation against its metric's type, as k6 does at
    /// startup (k6 `metrics/thresholds.go`): Trend `avg min max med p(N)`, Rate `rate`,
    /// Counter `count rate`, Gauge `value`.
    ///
    /// `lookup` gives a metric's type by name (built-ins from
    /// [`slo_model::builtin_metric`], custom ones from a run's declarations). A metric it
    /// does not know is not an error here: custom metric types are only known from a run,
    /// and a metric with no samples is judged NO DATA by the analyzer.
    ///
    /// # Errors
    /// [`ConfigError::Aggregation`] at the first offending expression's location.
    pub fn validate_types(&self, lookup: impl Fn(&str) -> Option<MetricType>) -> Result<(), ConfigError> {
        for m in &self.0 {
            let Some(kind) = lookup(&m.key.metric) else { continue };
            for t in &m.thresholds {
                if !t.expr.agg.supported_by(kind) {
                    return Err(ConfigError::Aggregation {
                        location: t.location.clone(),
                        expr: t.source.clone(),
                        metric: m.key.metric.clone(),
                        kind,
                        agg: t.expr.agg.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a ThresholdSet {
    type Item = &'a MetricThresholds;
    type IntoIter = std::slice::Iter<'a, MetricThresholds>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
