//! k6's metric model: four metric types, what their values contain, points and tags.
//! Source: k6 `metrics/metric_type.go`, `metrics/value_type.go`, `metrics/sample.go`.

use serde::{Deserialize, Serialize};

/// The four k6 metric types. Each decides which threshold aggregations apply
/// (k6 `metrics/thresholds.go`): trend `avg min max med p(N)`, rate `rate`,
/// counter `count rate`, gauge `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// Cumulative sum; `count` is the sum, `rate` the sum per second of run time.
    Counter,
    /// Last value wins; `value` is the last sample, `min`/`max` the extremes.
    Gauge,
    /// Share of non-zero samples (k6: any value != 0 is true).
    Rate,
    /// Every sample kept; `avg min max med p(N)`.
    Trend,
}

impl MetricType {
    /// The lowercase name k6 writes in NDJSON `Metric` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Rate => "rate",
            MetricType::Trend => "trend",
        }
    }

    /// Parses k6's lowercase type name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "rate" => MetricType::Rate,
            "trend" => MetricType::Trend,
            _ => return None,
        })
    }
}

/// What a metric's values are (k6 `contains`): plain numbers, times in
/// milliseconds, or data sizes in bytes. Decides the unit shown in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// A plain number.
    #[default]
    Default,
    /// Milliseconds.
    Time,
    /// Bytes.
    Data,
}

impl ValueType {
    /// Parses k6's `contains` value; unknown values read as [`ValueType::Default`].
    pub fn parse(s: &str) -> Self {
        match s {
            "time" => ValueType::Time,
            "data" => ValueType::Data,
            _ => ValueType::Default,
        }
    }
}

/// A metric's declaration: its name, type and value type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricInfo {
    /// k6 metric name, e.g. `http_req_duration`.
    pub name: String,
    /// Counter, gauge, rate or trend.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// What the values contain (milliseconds, bytes or plain numbers).
    pub contains: ValueType,
}

/// k6's built-in metrics with their types (k6 `metrics/builtin.go`), so thresholds on
/// them validate even when a run has no samples of them.
pub const BUILTIN_METRICS: &[(&str, MetricType, ValueType)] = &[
    ("vus", MetricType::Gauge, ValueType::Default),
    ("vus_max", MetricType::Gauge, ValueType::Default),
    ("iterations", MetricType::Counter, ValueType::Default),
    ("iteration_duration", MetricType::Trend, ValueType::Time),
    ("dropped_iterations", MetricType::Counter, ValueType::Default),
    ("data_sent", MetricType::Counter, ValueType::Data),
    ("data_received", MetricType::Counter, ValueType::Data),
    ("checks", MetricType::Rate, ValueType::Default),
    ("group_duration", MetricType::Trend, ValueType::Time),
    ("http_reqs", MetricType::Counter, ValueType::Default),
    ("http_req_failed", MetricType::Rate, ValueType::Default),
    ("http_req_duration", MetricType::Trend, ValueType::Time),
    ("http_req_blocked", MetricType::Trend, ValueType::Time),
    ("http_req_connecting", MetricType::Trend, ValueType::Time),
    ("http_req_tls_handshaking", MetricType::Trend, ValueType::Time),
    ("http_req_sending", MetricType::Trend, ValueType::Time),
    ("http_req_waiting", MetricType::Trend, ValueType::Time),
    ("http_req_receiving", MetricType::Trend, ValueType::Time),
];

/// Looks up a built-in metric's declaration by name.
pub fn builtin_metric(name: &str) -> Option<MetricInfo> {
    BUILTIN_METRICS.iter().find(|(n, _, _)| *n == name).map(|(n, k, c)| MetricInfo { name: (*n).to_string(), kind: *k, contains: *c })
}

/// Read access to one point's tags, whatever stores them (a `Vec`, Parquet columns).
pub trait TagLookup {
    /// The value of tag `key`, or `None` when the point lacks it. An empty string is a
    /// present tag with an empty value (k6's root `group`).
    fn tag(&self, key: &str) -> Option<&str>;
}

/// An owned tag set: `(key, value)` pairs sorted by key, keys unique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tags(pub Vec<(String, String)>);

impl Tags {
    /// Builds a tag set from pairs in any order; a later duplicate key wins.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = Vec::new();
        for (k, val) in pairs {
            let k = k.into();
            let val = val.into();
            match v.binary_search_by(|(x, _)| x.as_str().cmp(&k)) {
                Ok(i) => v[i].1 = val,
                Err(i) => v.insert(i, (k, val)),
            }
        }
        Tags(v)
    }
}

impl TagLookup for Tags {
    fn tag(&self, key: &str) -> Option<&str> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|i| self.0[i].1.as_str())
    }
}

/// One sample of one metric (k6 `metrics.Sample`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Metric name, e.g. `http_req_duration`.
    pub metric: String,
    /// Time of the sample, nanoseconds since the Unix epoch, UTC.
    pub time_ns: i64,
    /// The value: milliseconds for time metrics, bytes for data metrics, 0/1 (any
    /// non-zero is true) for rates, increments for counters.
    pub value: f64,
    /// The point's tags.
    pub tags: Tags,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_sorted_and_looked_up() {
        let t = Tags::from_pairs([("name", "login"), ("group", ""), ("name", "home")]);
        assert_eq!(t.tag("name"), Some("home"));
        assert_eq!(t.tag("group"), Some(""));
        assert_eq!(t.tag("status"), None);
        assert_eq!(t.0[0].0, "group");
    }

    #[test]
    fn builtin_types() {
        assert_eq!(builtin_metric("http_req_failed").unwrap().kind, MetricType::Rate);
        assert_eq!(builtin_metric("vus").unwrap().kind, MetricType::Gauge);
        assert!(builtin_metric("memory_usage").is_none());
    }
}
