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
                    self.endpoints.entry(endpoint(tags)).or_default().failed += 1;
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
        }
        all
    }
}

/// Pairs the endpoints of two runs by name (an endpoint missing from one run gets an
/// empty side, which makes it inconclusive rather than silently dropped).
pub fn endpoint_inputs<'a>(baseline: &'a RunData, candidate: &'a RunData) -> Vec<EndpointInput<'a>> {
    static EMPTY: EndpointData = EndpointData { latency_ms: Vec::new(), latency_time_ns: Vec::new(), requests: 0, failed: 0 };
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
        let other = RunData::default();
        let pairs = endpoint_inputs(&r, &other);
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].candidate.requests, 0);
    }
}
