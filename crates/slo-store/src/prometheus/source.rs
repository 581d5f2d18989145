//! Reading runs back with the Prometheus HTTP query API (PromQL).
//!
//! - [`PrometheusSource::list_runs`]: the `slo_run_info` registry, plus runs that k6's
//!   `-o experimental-prometheus-rw` wrote (a `testid` on `k6_http_reqs_total` without a
//!   registry series; start and end from the first and last `k6_vus` or
//!   `k6_http_reqs_total` sample, so the start is k6's first push, up to one push
//!   interval after the test began).
//! - [`PrometheusSource::run_aggregates`]: what the analyzer needs for a run or a time
//!   range, overall, per `name` label and per tumbling window: request and failed counts
//!   (exact: computed here from the raw counter samples with reset handling, not with
//!   PromQL `increase`, which extrapolates), latency quantiles (estimates from histogram
//!   buckets, see [`LatencyEstimate`]), and k6's own trend stats where k6 wrote them.
//!
//! Failed requests are the `k6_http_reqs_total` series with `expected_response="false"`:
//! that is exactly k6's `http_req_failed` for runs of both slo and k6 (k6 writes only a
//! `k6_http_req_failed_rate` gauge).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::client::Client;
use super::config::PromConfig;
use super::histogram::bucket_quantile;
use super::*;

/// A series' labels (name → value), `__name__` included where the query returns it.
pub type LabelSet = BTreeMap<String, String>;

/// One series of a range selector: its labels and `(ms since the epoch, value)` samples.
pub type SeriesSamples = (LabelSet, Vec<(i64, f64)>);

/// Who wrote a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOrigin {
    /// slo's sink: a `slo_run_info` series exists.
    Slo,
    /// k6's prometheus-rw output: only the `testid` label identifies it.
    K6,
}

/// A run found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromRun {
    /// The `testid` label.
    pub testid: String,
    /// `running`, `complete`, `interrupted` (slo runs) or `unknown` (k6 runs).
    pub status: String,
    /// The `scenario` label of `slo_run_info`.
    pub scenario: Option<String>,
    /// The `slo_version` label of `slo_run_info`.
    pub slo_version: Option<String>,
    /// Start, ms since the Unix epoch.
    pub start_ms: i64,
    /// End, ms since the Unix epoch (`None` while running).
    pub end_ms: Option<i64>,
    /// Who wrote it.
    pub origin: RunOrigin,
}

/// Which samples to aggregate: one run's (`testid`) within `[from_ms, to_ms]`, or all
/// samples in that range (`testid: None`, for `--from/--to` over k6 data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSelector {
    /// Restrict to this `testid`.
    pub testid: Option<String>,
    /// Range start, ms since the Unix epoch.
    pub from_ms: i64,
    /// Range end, ms since the Unix epoch (inclusive).
    pub to_ms: i64,
}

impl RunSelector {
    /// The whole of `run`: `[start_ms, end_ms]` (end: now while it is running).
    pub fn for_run(run: &PromRun) -> RunSelector {
        let now = chrono::Utc::now().timestamp_millis();
        RunSelector { testid: Some(run.testid.clone()), from_ms: run.start_ms, to_ms: run.end_ms.unwrap_or(now).max(run.start_ms) }
    }

    fn matcher(&self, extra: &str) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.testid {
            parts.push(format!("testid=\"{}\"", promql_escape(t)));
        }
        if !extra.is_empty() {
            parts.push(extra.to_string());
        }
        format!("{{{}}}", parts.join(","))
    }
}

/// Where a latency quantile came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencySource {
    /// slo's classic histogram `k6_http_req_duration_seconds_bucket`, interpolated like
    /// `histogram_quantile`; the estimate is within `bound` (relative) of the observation
    /// of that rank (see [`BucketLayout::relative_error_bound`]).
    ClassicHistogram {
        /// Relative error bound of the bucket layout found (largest `b/a − 1`).
        bound: f64,
    },
    /// A native histogram (`k6_http_req_duration_seconds`), PromQL `histogram_quantile`.
    NativeHistogram,
}

/// One latency quantile estimate, in **seconds**.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyEstimate {
    /// The quantile, in `[0, 1]` (0.95 for p95).
    pub q: f64,
    /// The estimate in seconds; NaN with no observations.
    pub seconds: f64,
    /// How it was estimated.
    pub source: LatencySource,
}

/// Aggregates of one endpoint (`name`) or of all of them (`name: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointAggregates {
    /// The `name` label, `None` for the total.
    pub name: Option<String>,
    /// Requests (`http_reqs` count) in the range.
    pub requests: f64,
    /// Failed requests (`expected_response="false"`) in the range.
    pub failed: f64,
    /// Observations in the latency histogram in the range (equals `requests` for slo runs).
    pub latency_count: f64,
    /// Requested quantiles, in the order asked; empty without histogram data.
    pub latency: Vec<LatencyEstimate>,
}

/// One tumbling window `[start_ms, end_ms)` (the last one ends at the range end).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowAggregates {
    /// Window start, ms since the Unix epoch.
    pub start_ms: i64,
    /// Window end, ms since the Unix epoch.
    pub end_ms: i64,
    /// Whether the window is shorter than the window length (the range ended first).
    pub clipped: bool,
    /// All endpoints together.
    pub total: EndpointAggregates,
    /// Per `name`, sorted by name.
    pub by_name: Vec<EndpointAggregates>,
}

/// A k6 trend stat gauge as k6's prometheus-rw output writes it (`K6_PROMETHEUS_RW_TREND_STATS`),
/// cumulative since the start of the run: k6's own value, per label set, at the range end.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendStat {
    /// Metric name, e.g. `k6_http_req_duration_p95`.
    pub metric: String,
    /// The stat suffix: `p95`, `p99`, `min`, `max`, `avg`, `med`, `count`, `sum`.
    pub stat: String,
    /// The labels without `__name__`.
    pub labels: BTreeMap<String, String>,
    /// The value: seconds for time stats; `count` is k6's value as written, which k6
    /// divides by 1000 by mistake (use [`EndpointAggregates::requests`] for counts).
    pub value: f64,
}

/// The aggregates of a run or range. Counts are exact at the resolution of the pushes
/// (a window edge falls between two pushes: the counts of the push interval around it go
/// to the window of the push that carried them; 5 s with the default interval).
#[derive(Debug, Clone, PartialEq)]
pub struct RunAggregates {
    /// What was aggregated.
    pub selector: RunSelector,
    /// All endpoints over the whole range.
    pub total: EndpointAggregates,
    /// Per `name` over the whole range, sorted by name.
    pub by_name: Vec<EndpointAggregates>,
    /// Window length in ms, if windows were asked for.
    pub window_ms: Option<i64>,
    /// Tumbling windows from the range start (empty without `window_ms`).
    pub windows: Vec<WindowAggregates>,
    /// Relative error bound of the quantile estimates (classic buckets), if any.
    pub bucket_error_bound: Option<f64>,
    /// k6 trend stat gauges found (k6 runs).
    pub trend_stats: Vec<TrendStat>,
    /// Counter resets seen in the raw samples (each handled as a restart from 0).
    pub counter_resets: u64,
    /// Remarks for the report (estimates, missing data).
    pub notes: Vec<String>,
}

/// The increase of a counter over its samples `(time, value)` in time order, counting
/// from 0 before the first sample (a series starts with its run), with Prometheus' reset
/// rule: a value below its predecessor means the counter restarted at 0, so the new value
/// is added (case 08: 0,100,250,40,90,90,10,35 → 375).
pub fn counter_increase(values: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut prev = 0.0;
    for &v in values {
        total += if v >= prev { v - prev } else { v };
        prev = v;
    }
    total
}

/// A counter series as raw samples, reset-adjusted: `adj[i]` = increase from 0 up to sample `i`.
struct Cumulative {
    labels: BTreeMap<String, String>,
    times: Vec<i64>,
    adj: Vec<f64>,
    resets: u64,
}

impl Cumulative {
    fn new(labels: BTreeMap<String, String>, samples: &[(i64, f64)]) -> Self {
        let mut adj = Vec::with_capacity(samples.len());
        let (mut total, mut prev, mut resets) = (0.0, 0.0, 0);
        for &(_, v) in samples {
            if v >= prev {
                total += v - prev;
            } else {
                total += v;
                resets += 1;
            }
            prev = v;
            adj.push(total);
        }
        Cumulative { labels, times: samples.iter().map(|s| s.0).collect(), adj, resets }
    }

    /// The increase from 0 up to time `t` (last sample at or before `t`), 0 before the first.
    fn at(&self, t: i64) -> f64 {
        let i = self.times.partition_point(|&x| x <= t);
        if i == 0 {
            0.0
        } else {
            self.adj[i - 1]
        }
    }
}

/// Reads runs and their aggregates from a Prometheus-compatible server.
pub struct PrometheusSource {
    client: Client,
}

impl PrometheusSource {
    /// A source for `cfg`'s server. No request is made yet.
    pub fn new(cfg: &PromConfig) -> PrometheusSource {
        PrometheusSource { client: Client::new(cfg.clone()) }
    }

    fn lookback_start_s(&self) -> String {
        let now = chrono::Utc::now().timestamp_millis();
        secs(now - self.client.cfg.lookback.as_millis() as i64)
    }

    /// Every run within the lookback, sorted by start then id. slo runs come from
    /// `slo_run_info` (the final status wins over `running`); k6 runs from the `testid`
    /// values of `k6_http_reqs_total`. Errors: unreachable, HTTP, bad answer.
    pub fn list_runs(&self) -> Result<Vec<PromRun>, PrometheusError> {
        let now = secs(chrono::Utc::now().timestamp_millis() + 60_000);
        let start = self.lookback_start_s();
        let data = self.client.get_json(
            "/api/v1/series",
            &[("match[]", RUN_INFO.to_string()), ("start", start.clone()), ("end", now.clone())],
            "series slo_run_info",
        )?;
        let mut runs: BTreeMap<String, PromRun> = BTreeMap::new();
        for s in data.as_array().into_iter().flatten() {
            let get = |k: &str| s.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let Some(testid) = get("testid") else { continue };
            let status = get("status").unwrap_or_else(|| "unknown".into());
            let run = PromRun {
                testid: testid.clone(),
                status: status.clone(),
                scenario: get("scenario"),
                slo_version: get("slo_version"),
                start_ms: get("start_ms").and_then(|v| v.parse().ok()).unwrap_or(0),
                end_ms: get("end_ms").and_then(|v| v.parse().ok()),
                origin: RunOrigin::Slo,
            };
            match runs.get(&testid) {
                Some(old) if old.status != "running" && status == "running" => {}
                _ => {
                    runs.insert(testid, run);
                }
            }
        }
        let data = self.client.get_json(
            "/api/v1/label/testid/values",
            &[("match[]", HTTP_REQS.to_string()), ("start", start.clone()), ("end", now.clone())],
            "label testid values",
        )?;
        for id in data.as_array().into_iter().flatten().filter_map(|v| v.as_str()) {
            if runs.contains_key(id) {
                continue;
            }
            let sel = format!("{{testid=\"{}\"}}", promql_escape(id));
            let mut times: Vec<i64> = Vec::new();
            for metric in [VUS, HTTP_REQS] {
                let q = format!("{metric}{sel}[{}ms]", self.client.cfg.lookback.as_millis());
                for s in self.range_samples(&q, chrono::Utc::now().timestamp_millis())? {
                    times.extend(s.1.iter().map(|x| x.0));
                }
            }
            let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else { continue };
            runs.insert(
                id.to_string(),
                PromRun {
                    testid: id.to_string(),
                    status: "unknown".into(),
                    scenario: None,
                    slo_version: None,
                    start_ms: first,
                    end_ms: Some(last),
                    origin: RunOrigin::K6,
                },
            );
        }
        let mut v: Vec<PromRun> = runs.into_values().collect();
        v.sort_by(|a, b| a.start_ms.cmp(&b.start_ms).then_with(|| a.testid.cmp(&b.testid)));
        Ok(v)
    }

    /// Resolves `latest` (largest `start_ms`), an exact `testid`, or a unique prefix.
    /// Errors: [`PrometheusError::RunNotFound`], [`PrometheusError::AmbiguousRun`], and those
    /// of [`PrometheusSource::list_runs`].
    pub fn resolve_run(&self, spec: &str) -> Result<PromRun, PrometheusError> {
        let runs = self.list_runs()?;
        let not_found = || PrometheusError::RunNotFound { url: self.client.url(), spec: spec.to_string() };
        if spec == "latest" {
            return runs.into_iter().max_by(|a, b| a.start_ms.cmp(&b.start_ms).then_with(|| a.testid.cmp(&b.testid))).ok_or_else(not_found);
        }
        if let Some(r) = runs.iter().find(|r| r.testid == spec) {
            return Ok(r.clone());
        }
        let m: Vec<&PromRun> = runs.iter().filter(|r| r.testid.starts_with(spec)).collect();
        match m.len() {
            0 => Err(not_found()),
            1 => Ok(m[0].clone()),
            _ => Err(PrometheusError::AmbiguousRun { spec: spec.to_string(), candidates: m.iter().map(|r| r.testid.clone()).collect() }),
        }
    }

    /// Whether the server holds any series labelled `testid` within the lookback (slo's
    /// data or registry, or k6's): an index lookup through `/api/v1/series`, no samples
    /// read. `slo runs push` asks this before re-sending a run from the local store:
    /// cumulative snapshots re-built from the local samples carry other timestamps and, where
    /// the local order of points differs from the live one, other counts at the same
    /// timestamp than those already stored, so a re-send into a server that has the run gives
    /// `duplicate sample` refusals or counter drops that `increase()` counts as resets.
    /// Errors: unreachable, HTTP, an answer that is not a list.
    pub fn has_run(&self, testid: &str) -> Result<bool, PrometheusError> {
        let now = secs(chrono::Utc::now().timestamp_millis() + 60_000);
        let matcher = format!("{{testid=\"{}\"}}", promql_escape(testid));
        let data = self.client.get_json(
            "/api/v1/series",
            &[("match[]", matcher.clone()), ("start", self.lookback_start_s()), ("end", now)],
            &format!("series {matcher}"),
        )?;
        match data.as_array() {
            Some(a) => Ok(!a.is_empty()),
            None => Err(PrometheusError::Query { url: self.client.url(), query: matcher, msg: "expected a list of series".into() }),
        }
    }

    /// An instant PromQL query at `at_ms`: each result's labels and value (vector), or one
    /// unlabelled value (scalar). Errors: unreachable, HTTP, a query error.
    pub fn query(&self, promql: &str, at_ms: i64) -> Result<Vec<(LabelSet, f64)>, PrometheusError> {
        let data = self.client.get_json("/api/v1/query", &[("query", promql.to_string()), ("time", secs(at_ms))], promql)?;
        let bad = |m: &str| PrometheusError::Query { url: self.client.url(), query: promql.to_string(), msg: m.to_string() };
        match data.get("resultType").and_then(|v| v.as_str()) {
            Some("vector") => {
                let mut out = Vec::new();
                for r in data.get("result").and_then(|r| r.as_array()).into_iter().flatten() {
                    // Native histogram results carry "histogram" instead of "value"; skip them.
                    let Some(v) = r.get("value") else { continue };
                    out.push((labels_of(r), point(v).ok_or_else(|| bad("bad sample"))?.1));
                }
                Ok(out)
            }
            Some("scalar") => {
                Ok(vec![(BTreeMap::new(), point(data.get("result").unwrap_or(&Value::Null)).ok_or_else(|| bad("bad scalar"))?.1)])
            }
            other => Err(bad(&format!("expected a vector, got {other:?}"))),
        }
    }

    /// Raw samples of a range selector (`metric{…}[Nms]`) evaluated at `at_ms`: per series,
    /// its labels and `(ms, value)` samples in time order.
    pub fn range_samples(&self, selector: &str, at_ms: i64) -> Result<Vec<SeriesSamples>, PrometheusError> {
        let data = self.client.get_json("/api/v1/query", &[("query", selector.to_string()), ("time", secs(at_ms))], selector)?;
        let bad = |m: &str| PrometheusError::Query { url: self.client.url(), query: selector.to_string(), msg: m.to_string() };
        if data.get("resultType").and_then(|v| v.as_str()) != Some("matrix") {
            return Err(bad("expected a matrix (a range selector)"));
        }
        let mut out = Vec::new();
        for r in data.get("result").and_then(|r| r.as_array()).into_iter().flatten() {
            let mut pts = Vec::new();
            for v in r.get("values").and_then(|v| v.as_array()).into_iter().flatten() {
                pts.push(point(v).ok_or_else(|| bad("bad sample"))?);
            }
            pts.sort_by_key(|p| p.0);
            out.push((labels_of(r), pts));
        }
        Ok(out)
    }

    /// The aggregates of `sel`, overall, per `name`, and per tumbling window of `window_ms`
    /// (if given) from `sel.from_ms`; latency quantiles `quantiles` (each in `[0, 1]`).
    ///
    /// Errors: unreachable, HTTP or query errors; [`PrometheusError::Config`] for a range
    /// with `to_ms < from_ms`, a window ≤ 0 or more than 10,000 windows.
    pub fn run_aggregates(&self, sel: &RunSelector, window_ms: Option<i64>, quantiles: &[f64]) -> Result<RunAggregates, PrometheusError> {
        let cfg_err = |m: String| PrometheusError::Config { url: self.client.url(), msg: m };
        if sel.to_ms < sel.from_ms {
            return Err(cfg_err(format!("range end {} is before its start {}", sel.to_ms, sel.from_ms)));
        }
        // Window edges; the last edge is the range end.
        let mut edges = vec![sel.from_ms];
        if let Some(w) = window_ms {
            if w <= 0 {
                return Err(cfg_err(format!("window length {w} ms must be positive")));
            }
            if (sel.to_ms - sel.from_ms) / w > 10_000 {
                return Err(cfg_err("more than 10,000 windows; use a longer window".into()));
            }
            let mut e = sel.from_ms + w;
            while e < sel.to_ms {
                edges.push(e);
                e += w;
            }
        }
        edges.push(sel.to_ms);
        // With a testid the run's series end with it: a final push a few ms after the last
        // point still belongs to the run. Without one, the range is taken as given.
        // Likewise its counters start at 0 with the run, even if the first push is later
        // than the recorded start (k6 runs: the start is the first push), so the first edge
        // is "before any sample".
        let slack = if sel.testid.is_some() { 60_000 } else { 0 };
        let eval = |i: usize| {
            if i == 0 && sel.testid.is_some() {
                i64::MIN
            } else if i == edges.len() - 1 {
                edges[i] + slack
            } else {
                edges[i]
            }
        };
        let lookback = 5 * 60_000;
        let at = sel.to_ms + slack;
        let range = at - sel.from_ms + lookback;
        let mut notes = Vec::new();

        // Counts from raw counter samples.
        let raw = self.range_samples(&format!("{HTTP_REQS}{}[{range}ms]", sel.matcher("")), at)?;
        let series: Vec<Cumulative> = raw.into_iter().map(|(l, s)| Cumulative::new(l, &s)).collect();
        let counter_resets = series.iter().map(|c| c.resets).sum();
        let n_w = edges.len() - 1;
        // counts[(name)][window] = (requests, failed)
        let mut counts: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for c in &series {
            let name = c.labels.get("name").cloned().unwrap_or_default();
            let failed = c.labels.get("expected_response").map(String::as_str) == Some("false");
            let row = counts.entry(name).or_insert_with(|| vec![(0.0, 0.0); n_w]);
            for (k, cell) in row.iter_mut().enumerate() {
                let d = c.at(eval(k + 1)) - c.at(eval(k));
                cell.0 += d;
                if failed {
                    cell.1 += d;
                }
            }
        }
        if series.is_empty() {
            notes.push(format!("no {HTTP_REQS} samples in the range"));
        }

        // Latency buckets at each edge: name -> le -> cumulative per edge.
        let mut bucket_error_bound = None;
        let mut buckets: BTreeMap<String, BTreeMap<u64, (f64, Vec<f64>)>> = BTreeMap::new();
        let bq = format!("sum by (name, le) ({HTTP_REQ_DURATION}_bucket{})", sel.matcher(""));
        let first = usize::from(sel.testid.is_some()); // edge 0 of a run: all zero
        for i in first..edges.len() {
            for (l, v) in self.query(&bq, eval(i))? {
                let Some(le) = l.get("le").and_then(|s| parse_f64(s)) else { continue };
                let name = l.get("name").cloned().unwrap_or_default();
                let e = buckets.entry(name).or_default().entry(le.to_bits()).or_insert_with(|| (le, vec![0.0; edges.len()]));
                e.1[i] = v;
            }
        }
        let mut source = None;
        if !buckets.is_empty() {
            let mut les: BTreeSet<u64> = BTreeSet::new();
            for m in buckets.values() {
                les.extend(m.keys());
            }
            let mut bounds: Vec<f64> = les.iter().map(|b| f64::from_bits(*b)).filter(|b| b.is_finite() && *b > 0.0).collect();
            bounds.sort_by(f64::total_cmp);
            let bound = bounds.windows(2).map(|w| w[1] / w[0] - 1.0).fold(0.0, f64::max);
            bucket_error_bound = Some(bound);
            source = Some(LatencySource::ClassicHistogram { bound });
            notes.push(format!(
                "latency quantiles are estimates from histogram buckets: within {:.1}% of the observation of that rank",
                bound * 100.0
            ));
        }
        // Window k of a name: bucket increases between edges k and k+1 (reset-aware).
        let window_buckets = |name: Option<&str>, k0: usize, k1: usize| -> Vec<(f64, f64)> {
            let mut acc: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
            for (n, m) in &buckets {
                if name.is_some_and(|x| x != n) {
                    continue;
                }
                for (bits, (le, vals)) in m {
                    let mut inc = 0.0;
                    for k in k0..k1 {
                        let (a, b) = (vals[k], vals[k + 1]);
                        inc += if b >= a { b - a } else { b };
                    }
                    acc.entry(*bits).or_insert((*le, 0.0)).1 += inc;
                }
            }
            acc.into_values().collect()
        };
        let make = |name: Option<&str>, k0: usize, k1: usize| -> EndpointAggregates {
            let (mut req, mut failed) = (0.0, 0.0);
            for (n, row) in &counts {
                if name.is_some_and(|x| x != n) {
                    continue;
                }
                for cell in &row[k0..k1] {
                    req += cell.0;
                    failed += cell.1;
                }
            }
            let (latency, latency_count) = match source {
                Some(src) => {
                    let b = window_buckets(name, k0, k1);
                    let count = b.iter().filter(|x| x.0 == f64::INFINITY).map(|x| x.1).sum();
                    (quantiles.iter().map(|&q| LatencyEstimate { q, seconds: bucket_quantile(q, &b), source: src }).collect(), count)
                }
                None => (Vec::new(), 0.0),
            };
            EndpointAggregates { name: name.map(str::to_string), requests: req, failed, latency_count, latency }
        };
        let names: BTreeSet<String> = counts.keys().chain(buckets.keys()).cloned().collect();
        let mut total = make(None, 0, n_w);
        let mut by_name: Vec<EndpointAggregates> = names.iter().map(|n| make(Some(n), 0, n_w)).collect();
        let windows = if window_ms.is_some() {
            (0..n_w)
                .map(|k| WindowAggregates {
                    start_ms: edges[k],
                    end_ms: edges[k + 1],
                    clipped: window_ms.is_some_and(|w| edges[k + 1] - edges[k] < w),
                    total: make(None, k, k + 1),
                    by_name: names.iter().map(|n| make(Some(n), k, k + 1)).collect(),
                })
                .collect()
        } else {
            Vec::new()
        };

        // Native histograms (k6 with K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM, or slo with
        // native_histograms and no classic buckets): whole range via PromQL.
        if source.is_none() && !quantiles.is_empty() {
            let mut found = false;
            for &q in quantiles {
                let pq = format!("histogram_quantile({q}, sum by (name) ({HTTP_REQ_DURATION}{}))", sel.matcher(""));
                let pt = format!("histogram_quantile({q}, sum({HTTP_REQ_DURATION}{}))", sel.matcher(""));
                let (Ok(per), Ok(tot)) = (self.query(&pq, at), self.query(&pt, at)) else { continue };
                for (l, v) in per {
                    if let Some(e) = by_name.iter_mut().find(|e| e.name.as_deref() == l.get("name").map(String::as_str)) {
                        e.latency.push(LatencyEstimate { q, seconds: v, source: LatencySource::NativeHistogram });
                        found = true;
                    }
                }
                for (_, v) in tot {
                    total.latency.push(LatencyEstimate { q, seconds: v, source: LatencySource::NativeHistogram });
                    found = true;
                }
            }
            if found {
                notes.push("latency quantiles are estimates from native histograms (whole range only)".into());
            }
        }

        // k6 trend stat gauges.
        let tq = format!(
            "{{__name__=~\"k6_http_req_duration_(p[0-9]+|min|max|avg|med|count|sum)\"{}}}",
            sel.testid.as_ref().map(|t| format!(",testid=\"{}\"", promql_escape(t))).unwrap_or_default()
        );
        let mut trend_stats = Vec::new();
        for (mut l, v) in self.query(&tq, at)? {
            let metric = l.remove("__name__").unwrap_or_default();
            let stat = metric.trim_start_matches("k6_http_req_duration_").to_string();
            trend_stats.push(TrendStat { metric, stat, labels: l, value: v });
        }
        if !trend_stats.is_empty() {
            notes.push("k6 trend stats are k6's own values per label set, cumulative since the run's start".into());
        }

        Ok(RunAggregates {
            selector: sel.clone(),
            total,
            by_name,
            window_ms,
            windows,
            bucket_error_bound,
            trend_stats,
            counter_resets,
            notes,
        })
    }
}

/// Seconds with ms precision, as the query API's `time` parameter.
fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Escapes a PromQL string literal's content (double-quoted).
fn promql_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn parse_f64(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn labels_of(r: &Value) -> BTreeMap<String, String> {
    r.get("metric")
        .and_then(|m| m.as_object())
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// `[1700000000.123, "42"]` → `(1700000000123, 42.0)`.
fn point(v: &Value) -> Option<(i64, f64)> {
    let a = v.as_array()?;
    let t = a.first()?.as_f64()?;
    let val = parse_f64(a.get(1)?.as_str()?)?;
    Some(((t * 1000.0).round() as i64, val))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn case_08_counter_with_resets() {
        // ../shared/cases/08: each drop is a reset; last-minus-first (35) is wrong.
        assert_eq!(counter_increase(&[0.0, 100.0, 250.0, 40.0, 90.0, 90.0, 10.0, 35.0]), 375.0);
        let s: Vec<(i64, f64)> =
            [0.0, 100.0, 250.0, 40.0, 90.0, 90.0, 10.0, 35.0].iter().enumerate().map(|(i, v)| (i as i64 * 1000, *v)).collect();
        let c = Cumulative::new(BTreeMap::new(), &s);
        assert_eq!(c.resets, 2);
        assert_eq!(c.at(7000) - c.at(-1), 375.0);
        // Window [2 s, 5 s]: 250 → 40 (reset, +40) → 90 → 90: 90 − 0 + 40 = 90.
        assert_eq!(c.at(5000) - c.at(2000), 90.0);
    }

    #[test]
    fn time_param_and_values() {
        assert_eq!(secs(1_700_000_000_123), "1700000000.123");
        assert_eq!(secs(-1), "-0.001");
        assert_eq!(point(&serde_json::json!([1700000000.123, "+Inf"])), Some((1_700_000_000_123, f64::INFINITY)));
        assert_eq!(promql_escape("a\"b\\"), "a\\\"b\\\\");
    }
}
