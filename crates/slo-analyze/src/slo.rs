//! SLO specifications as the analyzer takes them. The binary maps `slo-config.yaml`
//! onto [`SloSpec`]; objectives here are already ratios, milliseconds or per-second
//! rates (use [`crate::ratio_from_percent`] for `99.9` → `0.999` without float error).

use std::time::Duration;

use serde::Serialize;
use slo_model::MetricType;

/// What an SLO measures and how its objective reads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SloKind {
    /// Share of good events. Objective: minimum good ratio in `(0, 1]`, e.g. `0.999`.
    /// Events are the points of a Rate metric (default `http_req_failed`) where a
    /// non-zero value is a bad event.
    Availability,
    /// Share of bad events. Objective: maximum error ratio in `[0, 1)`, e.g. `0.001`
    /// for "error rate ≤ 0.1 %". Same events as [`SloKind::Availability`].
    ErrorRate,
    /// A latency percentile judged per window. Objective: maximum value in
    /// milliseconds of `p(percentile)` over a Trend (default `http_req_duration`).
    Latency {
        /// N of `p(N)`, in `[0, 100]` (e.g. 95, 99.9).
        percentile: f64,
    },
    /// Requests per second judged per window. Objective: minimum rate in events per
    /// second: the window's Counter sum (default `http_reqs`) divided by the window's
    /// actual (clipped) length.
    Throughput,
}

impl SloKind {
    /// The metric an SLO of this kind reads when [`SloSpec::metric`] is `None`.
    pub fn default_metric(self) -> &'static str {
        match self {
            SloKind::Availability | SloKind::ErrorRate => "http_req_failed",
            SloKind::Latency { .. } => "http_req_duration",
            SloKind::Throughput => "http_reqs",
        }
    }

    /// The metric type this kind needs.
    pub fn metric_type(self) -> MetricType {
        match self {
            SloKind::Availability | SloKind::ErrorRate => MetricType::Rate,
            SloKind::Latency { .. } => MetricType::Trend,
            SloKind::Throughput => MetricType::Counter,
        }
    }

    /// Short label: `availability`, `error_rate`, `latency p(95)`, `throughput`.
    pub fn label(self) -> String {
        match self {
            SloKind::Availability => "availability".into(),
            SloKind::ErrorRate => "error_rate".into(),
            SloKind::Latency { percentile } => format!("latency p({percentile})"),
            SloKind::Throughput => "throughput".into(),
        }
    }
}

/// One SLO to judge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloSpec {
    /// Name shown in reports (e.g. `availability`, `latency.p95`).
    pub name: String,
    /// What is measured.
    pub kind: SloKind,
    /// The objective, in the unit [`SloKind`] states for the kind.
    pub objective: f64,
    /// Tumbling window length (DESIGN.md "Windows").
    pub window: Duration,
    /// Tag filters (k6 sub-metric semantics: a point matches when it has every tag with
    /// exactly that value), e.g. `[("name", "login")]`.
    pub filter: Vec<(String, String)>,
    /// A window with fewer matching samples is NO DATA. 0 means the minimum that makes
    /// a value exist: 1 event for availability, error rate and latency; none for
    /// throughput (a window with zero requests measured 0 requests/s).
    pub min_samples: u64,
    /// The metric to read instead of [`SloKind::default_metric`]; it must have the type
    /// [`SloKind::metric_type`].
    pub metric: Option<String>,
}

impl SloSpec {
    /// A spec with no filter, no minimum sample count and the kind's default metric.
    pub fn new(name: impl Into<String>, kind: SloKind, objective: f64, window: Duration) -> Self {
        SloSpec { name: name.into(), kind, objective, window, filter: Vec::new(), min_samples: 0, metric: None }
    }

    /// The metric read.
    pub fn metric_name(&self) -> &str {
        self.metric.as_deref().unwrap_or(self.kind.default_metric())
    }
}

impl From<&slo_config::Slo> for SloSpec {
    /// Maps a parsed `slo-config.yaml` SLO: percentages become ratios by shifting the
    /// decimal point ([`crate::ratio_from_percent`], so `99.9` is exactly `0.999`),
    /// latency stays in milliseconds, throughput in requests per second; a missing
    /// `min_samples` is 0 (the kind's minimum).
    fn from(s: &slo_config::Slo) -> SloSpec {
        use slo_config::Objective;
        let (kind, objective) = match s.objective {
            Objective::Availability { target_percent } => (SloKind::Availability, crate::ratio_from_percent(target_percent)),
            Objective::ErrorRate { target_percent } => (SloKind::ErrorRate, crate::ratio_from_percent(target_percent)),
            Objective::Latency { percentile, target_ms } => (SloKind::Latency { percentile }, target_ms),
            Objective::Throughput { target_rps } => (SloKind::Throughput, target_rps),
        };
        SloSpec {
            name: s.name.clone(),
            kind,
            objective,
            window: s.window,
            filter: s.filter.clone(),
            min_samples: s.min_samples.unwrap_or(0),
            metric: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_reference_config() {
        let text = "service: api\nslos:\n  availability: {target: 99.9, window: 30d}\n  latency:\n    p95: {target: 500ms, window: 1h}\n  throughput: {target: 1000rps, window: 1m}\n  error_rate: {target: 0.1%, window: 1h}\n";
        let cfg = slo_config::parse_slo_config(text, "slo-config.yaml").expect("seed-shaped config parses");
        let specs: Vec<SloSpec> = cfg.slos.iter().map(SloSpec::from).collect();
        let find = |n: &str| specs.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("{n} missing in {specs:?}"));
        assert_eq!(find("availability").objective, 0.999);
        assert_eq!(find("availability").window, Duration::from_secs(30 * 86400));
        assert_eq!(find("error_rate").objective, 0.001);
        assert_eq!(find("error_rate").kind, SloKind::ErrorRate);
        let l = specs.iter().find(|s| matches!(s.kind, SloKind::Latency { .. })).unwrap();
        assert_eq!((l.kind, l.objective), (SloKind::Latency { percentile: 95.0 }, 500.0));
        assert_eq!(find("throughput").objective, 1000.0);
    }
}
