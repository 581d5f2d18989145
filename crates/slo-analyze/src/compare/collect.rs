//! Gathers what [`super::compare`] needs from a run's points, in one pass: every
//! `http_req_duration` value per `name` tag, `http_reqs` and `http_req_failed` counts per
//! name, check results, and per-window series for charts.

use std::collections::BTreeMap;

use slo_model::TagLookup;

use super::{Counts, EndpointInput, Sample};

/// One endpoint's (or the whole run's) raw data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointData {
    /// `http_req_duration` values, milliseconds, arrival order.
    pub latency_ms: Vec<f64>,
    /// Time of each latency value, ns since the epoch (same index).
    pub latency_time_ns: Vec<i64>,
    /// `http_reqs` count (sum of values).
    pub requests: u64,
    /// `http_req_failed` points with a non-zero value.
    pub failed: u64,
    /// Time of each failed request, ns since the epoch.
    pub failed_time_ns: Vec<i64>,
}

impl EndpointData {
    /// The [`Sample`] view [`super::compare`] takes (checks are run-wide in k6: they
    /// carry no `name` tag).
    pub fn sample(&self, checks: Option<Counts>) -> Sample<'_> {
        Sample { latency_ms: &self.latency_ms, requests: self.requests, failed_requests: self.failed.min(self.requests), checks }
    }
}

/// A run reduced to what a comparison needs. Push every point with [`RunData::push`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunData {
    /// Per `name` tag value (requests without a `name` tag are under their `url`, else
    /// `""`).
    pub endpoints: BTreeMap<String, EndpointData>,
    /// `checks` results over the whole run (`None` when the run has no check).
    pub checks: Option<Counts>,
    /// `vus` gauge readings: (ns since the epoch, value).
    pub vus: Vec<(i64, f64)>,
}

impl RunData {
    /// Takes one point (the store's scan calls this for every point).
    pub fn push(&mut self, metric: &str, time_ns: i64, value: f64, tags: &dyn TagLookup) {
        let endpoint = |tags: &dyn TagLookup| tags.tag("name").or_else(|| tags.tag("url")).unwrap_or("").to_string();
        match metric {
            "http_req_duration" => {
                let name = endpoint(tags);
                let e = self.endpoints.entry(name).or_default();
                e.latency_ms.push(value);
                e.latency_time_ns.push(time_ns);
            }
            "http_reqs" => {
                let e = self.endpoints.entry(endpoint(tags)).or_default();
                e.requests += value.max(0.0) as u64;
            }
            "http_req_failed" => {
                if value != 0.0 {
                    let e = self.endpoints.entry(endpoint(tags)).or_default();
                    e.failed += 1;
                    e.failed_time_ns.push(time_ns);
                }
            }
            "checks" => {
                let c = self.checks.get_or_insert_with(Counts::default);
                c.total += 1;
                if value != 0.0 {
                    c.passes += 1;
                }
            }
            "vus" => self.vus.push((time_ns, value)),
            _ => {}
        }
    }

    /// Every endpoint merged: the whole run.
    pub fn overall(&self) -> EndpointData {
        let mut all = EndpointData::default();
        for e in self.endpoints.values() {
            all.latency_ms.extend_from_slice(&e.latency_ms);
            all.latency_time_ns.extend_from_slice(&e.latency_time_ns);
            all.requests += e.requests;
            all.failed += e.failed;
            all.failed_time_ns.extend_from_slice(&e.failed_time_ns);
        }
        all
    }

    /// Per-window series of the whole run for charts: windows of `window_s` seconds
    /// from `start_ns` (the last one clipped at `end_ns`).
    pub fn series(&self, start_ns: i64, end_ns: i64, window_s: f64) -> RunSeries {
        let all = self.overall();
        let len_ns = (window_s * 1e9).max(1.0) as i64;
        let n = (((end_ns - start_ns).max(0) / len_ns) + 1) as usize;
        let idx = |t: i64| (((t - start_ns).max(0) / len_ns) as usize).min(n - 1);
        let mut lat: Vec<Vec<f64>> = vec![Vec::new(); n];
        for (&v, &t) in all.latency_ms.iter().zip(&all.latency_time_ns) {
            lat[idx(t)].push(v);
        }
        let mut failed = vec![0u64; n];
        for &t in &all.failed_time_ns {
            failed[idx(t)] += 1;
        }
        let mut out = RunSeries { window_s, ..RunSeries::default() };
        for (i, mut w) in lat.into_iter().enumerate() {
            let t = i as f64 * window_s;
            let w_start = start_ns + i as i64 * len_ns;
            let w_len_s = ((end_ns.min(w_start + len_ns) - w_start).max(0) as f64 / 1e9).max(1e-9);
            // A trailing remainder under half a window would be drawn as a full one.
            if w.is_empty() || (i > 0 && i + 1 == n && w_len_s * 2.0 < window_s) {
                continue;
            }
            radsort::sort(&mut w);
            for (pct, series) in [(0.5, &mut out.p50), (0.95, &mut out.p95), (0.99, &mut out.p99)] {
                if let Some(v) = crate::sink::percentile_sorted(&w, pct) {
                    series.push((t, v));
                }
            }
            // One http_req_duration point per request: the window's requests.
            out.throughput.push((t, w.len() as f64 / w_len_s));
            out.error_rate.push((t, failed[i] as f64 / w.len() as f64));
        }
        out.vus = self.vus.iter().map(|&(t, v)| ((t - start_ns) as f64 / 1e9, v)).collect();
        let mut sorted = all.latency_ms;
        radsort::sort(&mut sorted);
        out.sorted_latency_ms = sorted;
        out
    }
}

/// A run's series for charts (times in seconds since the run's start, at each window's
/// start; latencies in ms by k6's percentile; throughput in requests/s of the window's
/// actual length; error rate a ratio in [0, 1]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSeries {
    /// Window length, seconds.
    pub window_s: f64,
    /// Median per window.
    pub p50: Vec<(f64, f64)>,
    /// p(95) per window.
    pub p95: Vec<(f64, f64)>,
    /// p(99) per window.
    pub p99: Vec<(f64, f64)>,
    /// Requests per second per window.
    pub throughput: Vec<(f64, f64)>,
    /// Failed share per window.
    pub error_rate: Vec<(f64, f64)>,
    /// `vus` readings.
    pub vus: Vec<(f64, f64)>,
    /// Every latency of the run, sorted ascending (for the percentile spectrum).
    pub sorted_latency_ms: Vec<f64>,
}

/// A window length for about 60 windows over `span_s`: 1, 2, 5, 10, 15, 30 s, 1, 2, 5,
/// 10, 15, 30 min or 1 h.
pub fn chart_window_s(span_s: f64) -> f64 {
    const STEPS: [f64; 13] = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0];
    STEPS.iter().copied().find(|w| span_s / w <= 60.0).unwrap_or(3600.0)
}

/// Pairs the endpoints of two runs by name (an endpoint missing from one run gets an
/// empty side, which makes it inconclusive rather than silently dropped).
pub fn endpoint_inputs<'a>(baseline: &'a RunData, candidate: &'a RunData) -> Vec<EndpointInput<'a>> {
    static EMPTY: EndpointData =
        EndpointData { latency_ms: Vec::new(), latency_time_ns: Vec::new(), requests: 0, failed: 0, failed_time_ns: Vec::new() };
    let mut names: Vec<&String> = baseline.endpoints.keys().chain(candidate.endpoints.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| EndpointInput {
            name: n.clone(),
            baseline: baseline.endpoints.get(n).unwrap_or(&EMPTY).sample(None),
            candidate: candidate.endpoints.get(n).unwrap_or(&EMPTY).sample(None),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slo_model::Tags;

    #[test]
    fn groups_by_name_and_counts() {
        let mut r = RunData::default();
        let login = Tags::from_pairs([("name", "login")]);
        let home = Tags::from_pairs([("url", "http://x/home")]);
        for (m, v, t) in [
            ("http_req_duration", 10.0, &login),
            ("http_reqs", 1.0, &login),
            ("http_req_failed", 1.0, &login),
            ("http_req_duration", 20.0, &home),
            ("http_reqs", 1.0, &home),
            ("http_req_failed", 0.0, &home),
            ("checks", 1.0, &home),
            ("checks", 0.0, &home),
        ] {
            r.push(m, 5, v, t);
        }
        assert_eq!(r.endpoints["login"].latency_ms, vec![10.0]);
        assert_eq!(r.endpoints["login"].failed, 1);
        assert_eq!(r.endpoints["http://x/home"].requests, 1);
        assert_eq!(r.checks, Some(Counts { passes: 1, total: 2 }));
        let all = r.overall();
        assert_eq!((all.requests, all.failed, all.latency_ms.len()), (2, 1, 2));
        let series = r.series(0, 10_000_000_000, 5.0);
        assert_eq!(series.p50, vec![(0.0, 15.0)]);
        assert_eq!(series.throughput, vec![(0.0, 2.0 / 5.0)]);
        assert_eq!(series.error_rate, vec![(0.0, 0.5)]);
        assert_eq!(chart_window_s(600.0), 10.0);
        assert_eq!(chart_window_s(20.0), 1.0);
        let other = RunData::default();
        let pairs = endpoint_inputs(&r, &other);
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].candidate.requests, 0);
    }
}
