//! What the generator records: one [`RequestSample`] per HTTP request, one
//! [`IterationSample`] per finished iteration, one [`CheckSample`] per check, dropped
//! iterations and the VU gauge, grouped in a [`SampleBatch`].
//!
//! Samples are compact (interned strings behind `Arc`, numbers unboxed) and are expanded
//! into the k6 points k6 itself would emit by the `for_each_point` methods, with the tag
//! sets k6 writes (k6 `lib/netext/httpext/request.go`, `lib/executor/*.go`,
//! `js/modules/k6/k6.go` for checks), so a store can keep k6's long format.

use std::sync::Arc;

use crate::metric::{TagLookup, Tags};

/// k6 error codes (k6 `lib/netext/httpext/error_codes.go`). A response with status ≥ 400
/// gets `1000 + status` (so 1400–1599, k6 `httpext/tracer.go`).
pub mod error_code {
    /// Unclassified error.
    pub const GENERIC: u32 = 1000;
    /// Non-TCP network error.
    pub const NET_NON_TCP: u32 = 1010;
    /// Invalid URL.
    pub const INVALID_URL: u32 = 1020;
    /// Request timeout (k6 `timeout`, default 60 s).
    pub const REQUEST_TIMEOUT: u32 = 1050;
    /// Generic DNS error.
    pub const DNS: u32 = 1100;
    /// DNS: no such host.
    pub const DNS_NO_SUCH_HOST: u32 = 1101;
    /// Generic TCP error.
    pub const TCP: u32 = 1200;
    /// TCP broken pipe (write on a closed connection).
    pub const TCP_BROKEN_PIPE: u32 = 1201;
    /// Dial error.
    pub const TCP_DIAL: u32 = 1210;
    /// Dial timeout.
    pub const TCP_DIAL_TIMEOUT: u32 = 1211;
    /// Dial: connection refused.
    pub const TCP_DIAL_REFUSED: u32 = 1212;
    /// Connection reset by peer.
    pub const TCP_RESET_BY_PEER: u32 = 1220;
    /// Generic TLS error.
    pub const TLS: u32 = 1300;

    /// The code k6 gives an HTTP response status: `1000 + status` for status ≥ 400,
    /// 0 (no error) otherwise.
    pub fn for_status(status: u16) -> u32 {
        if status >= 400 {
            1000 + u32::from(status)
        } else {
            0
        }
    }

    /// k6's `error` tag text for a transport error code (k6 `error_codes.go` messages),
    /// `None` for codes that have no fixed message.
    pub fn message(code: u32) -> Option<&'static str> {
        Some(match code {
            REQUEST_TIMEOUT => "request timeout",
            TCP_DIAL_TIMEOUT => "dial: i/o timeout",
            TCP_DIAL_REFUSED => "dial: connection refused",
            TCP_RESET_BY_PEER => "read: connection reset by peer",
            TCP_BROKEN_PIPE => "write: broken pipe",
            _ => return None,
        })
    }
}

/// HTTP method of a request sample (the methods scenario files can issue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
}

impl Method {
    /// Upper-case method name as k6 writes it in the `method` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }
}

/// k6's default `expected_response` rule: status 200–399 (k6
/// `http.expectedStatuses({min: 200, max: 399})`). A transport error (status 0) is not
/// expected.
pub fn default_expected_status(status: u16) -> bool {
    (200..=399).contains(&status)
}

/// Tags shared by all samples of one request definition or scenario: built once, shared
/// by `Arc`, so recording a sample allocates nothing for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleTags {
    /// k6 `scenario` tag.
    pub scenario: Arc<str>,
    /// k6 `group` tag; `""` is the root group (k6 writes `group=""` outside groups).
    pub group: Arc<str>,
    /// Extra tags: run tags (`--tag`, `options.tags`), scenario tags, request tags;
    /// sorted by key. Keys never collide with the system tags above.
    pub extra: Arc<Tags>,
}

/// One HTTP request as the generator saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSample {
    /// Time the request started, ns since the Unix epoch, UTC (k6 stamps HTTP metric
    /// samples with the request start).
    pub time_ns: i64,
    /// Scenario, group and extra tags.
    pub tags: Arc<SampleTags>,
    /// k6 `name` tag: the step's `name`, or the URL template as written (never the
    /// expanded URL, so `{{ id }}` does not explode cardinality).
    pub name: Arc<str>,
    /// k6 `url` tag: the URL template as written.
    pub url: Arc<str>,
    /// Request method.
    pub method: Method,
    /// HTTP status, 0 on transport error.
    pub status: u16,
    /// k6 error code, 0 for none (see [`error_code`]).
    pub error_code: u32,
    /// Whether the response counts as expected (k6 `expected_response`; default rule
    /// [`default_expected_status`]).
    pub expected_response: bool,
    /// `http_req_duration` in milliseconds: sending + waiting + receiving.
    pub duration_ms: f64,
    /// `http_req_blocked` in milliseconds: waiting before the request could start
    /// (connection slot, readiness).
    pub blocked_ms: f64,
    /// `http_req_connecting` in milliseconds: TCP connect; 0 on a reused connection.
    pub connecting_ms: f64,
    /// `http_req_tls_handshaking` in milliseconds (0: plain HTTP only).
    pub tls_handshaking_ms: f64,
    /// `http_req_sending` in milliseconds: first to last byte written.
    pub sending_ms: f64,
    /// `http_req_waiting` in milliseconds: last byte written to first byte read (TTFB).
    pub waiting_ms: f64,
    /// `http_req_receiving` in milliseconds: first to last response byte read.
    pub receiving_ms: f64,
    /// Bytes written on the wire for this request (headers and body).
    pub bytes_sent: u64,
    /// Bytes read from the wire for this response (headers and body).
    pub bytes_received: u64,
    /// VU number (1-based, k6 `__VU`).
    pub vu: u32,
    /// Iteration number of that VU in its scenario (0-based, k6 `__ITER`).
    pub iteration: u64,
    /// Actual start − intended start of the iteration in milliseconds, for arrival-rate
    /// executors only (`None` elsewhere); the coordinated-omission correction.
    pub scheduling_lag_ms: Option<f64>,
}

/// One finished iteration (k6 `iterations` and `iteration_duration`).
#[derive(Debug, Clone, PartialEq)]
pub struct IterationSample {
    /// Time the iteration ended, ns since the Unix epoch (k6 stamps it at the end).
    pub time_ns: i64,
    /// Scenario and extra tags (`group` is always root for iterations).
    pub tags: Arc<SampleTags>,
    /// Iteration duration in milliseconds, including think time.
    pub duration_ms: f64,
    /// VU number (1-based).
    pub vu: u32,
}

/// One check result (k6 `checks` rate; here from Artillery `expect`).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSample {
    /// Time of the check, ns since the Unix epoch.
    pub time_ns: i64,
    /// Scenario, group and extra tags.
    pub tags: Arc<SampleTags>,
    /// k6 `check` tag: the check's name.
    pub name: Arc<str>,
    /// Whether it passed.
    pub pass: bool,
}

/// Iterations an arrival-rate executor could not start (no free VU), k6
/// `dropped_iterations`.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedSample {
    /// Time, ns since the Unix epoch.
    pub time_ns: i64,
    /// Scenario and extra tags.
    pub tags: Arc<SampleTags>,
    /// How many were dropped (counter increment).
    pub count: u64,
}

/// The VU gauges at one instant (k6 `vus`, `vus_max`, emitted once per second).
#[derive(Debug, Clone, PartialEq)]
pub struct VuSample {
    /// Time, ns since the Unix epoch.
    pub time_ns: i64,
    /// VUs active (running or allowed to run iterations).
    pub vus: u32,
    /// VUs allocated.
    pub vus_max: u32,
    /// Run-level tags (k6 tags `vus` with the run tags only).
    pub run_tags: Arc<Tags>,
}

/// The tags of one expanded point: a view over a sample's tags, with only the keys k6
/// writes for that metric. Implements [`TagLookup`] and lists its pairs.
pub struct PointTags<'a> {
    system: [(&'static str, &'a str); 10],
    n_system: usize,
    extra: &'a Tags,
}

impl<'a> PointTags<'a> {
    fn new(extra: &'a Tags) -> Self {
        PointTags { system: [("", ""); 10], n_system: 0, extra }
    }

    fn with(mut self, key: &'static str, value: &'a str) -> Self {
        self.system[self.n_system] = (key, value);
        self.n_system += 1;
        self
    }

    /// Every `(key, value)` pair: system tags first, then extra tags.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.system[..self.n_system].iter().map(|(k, v)| (*k, *v)).chain(self.extra.0.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// An owned, sorted copy of the tags.
    pub fn to_tags(&self) -> Tags {
        Tags::from_pairs(self.pairs())
    }
}

impl TagLookup for PointTags<'_> {
    fn tag(&self, key: &str) -> Option<&str> {
        self.system[..self.n_system].iter().find(|(k, _)| *k == key).map(|(_, v)| *v).or_else(|| self.extra.tag(key))
    }
}

/// An unsigned integer in decimal, formatted without allocating (status codes and error
/// codes as k6 tag values, once per request).
pub struct NumBuf {
    buf: [u8; 20],
    len: usize,
}

impl NumBuf {
    /// `n` in decimal.
    pub fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let len = buf.len() - i;
        buf.copy_within(i.., 0);
        NumBuf { buf, len }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("0")
    }
}

/// Name of the trend metric carrying [`RequestSample::scheduling_lag_ms`].
pub const SCHEDULING_LAG_METRIC: &str = "slo_scheduling_lag";

/// Every metric [`RequestSample::for_each_point`] writes for a request, in that order:
/// the nine HTTP metrics k6 writes per request, `data_sent`, `data_received`, then
/// [`SCHEDULING_LAG_METRIC`] (arrival-rate executors only).
pub const REQUEST_METRICS: [&str; 12] = [
    "http_reqs",
    "http_req_duration",
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
    "http_req_failed",
    "data_sent",
    "data_received",
    SCHEDULING_LAG_METRIC,
];

impl RequestSample {
    /// Expands this request into the points k6 writes for it, in this order:
    /// `http_reqs` (1), `http_req_duration`, `http_req_blocked`, `http_req_connecting`,
    /// `http_req_tls_handshaking`, `http_req_sending`, `http_req_waiting`,
    /// `http_req_receiving` (ms), `http_req_failed` (1 when the response was not
    /// expected, else 0), `data_sent`, `data_received` (bytes), then
    /// `slo_scheduling_lag` (ms) for arrival-rate executors.
    ///
    /// HTTP points carry k6's request tags `expected_response group method name proto
    /// scenario status url` plus `error_code` (and `error` for transport errors with a
    /// fixed message) when there was an error, plus the extra tags. `data_sent` and
    /// `data_received` carry `group scenario` plus the extra tags, as k6 writes them
    /// (k6 emits them per iteration; here per request, which sums the same).
    pub fn for_each_point(&self, mut f: impl FnMut(&str, i64, f64, &PointTags<'_>)) {
        let status = NumBuf::new(u64::from(self.status));
        let code = NumBuf::new(u64::from(self.error_code));
        let t = self.time_ns;
        let mut http = PointTags::new(&self.tags.extra)
            .with("expected_response", if self.expected_response { "true" } else { "false" })
            .with("group", &self.tags.group)
            .with("method", self.method.as_str())
            .with("name", &self.name)
            .with("proto", "HTTP/1.1")
            .with("scenario", &self.tags.scenario)
            .with("status", status.as_str())
            .with("url", &self.url);
        if self.error_code != 0 {
            http = http.with("error_code", code.as_str());
            if self.status == 0 {
                if let Some(m) = error_code::message(self.error_code) {
                    http = http.with("error", m);
                }
            }
        }
        let data = PointTags::new(&self.tags.extra).with("group", &self.tags.group).with("scenario", &self.tags.scenario);
        for (i, (m, v)) in REQUEST_METRICS.iter().zip(self.metric_values()).enumerate() {
            if let Some(v) = v {
                f(m, t, v, if Self::is_data_metric(i) { &data } else { &http });
            }
        }
    }

    /// The value of each of [`REQUEST_METRICS`] for this request, in that order:
    /// `http_reqs` 1, the trends in ms, `http_req_failed` 1 when the response was not
    /// expected else 0, bytes sent and received, and the scheduling lag (`None` outside
    /// arrival-rate executors: no such point).
    pub fn metric_values(&self) -> [Option<f64>; 12] {
        [
            Some(1.0),
            Some(self.duration_ms),
            Some(self.blocked_ms),
            Some(self.connecting_ms),
            Some(self.tls_handshaking_ms),
            Some(self.sending_ms),
            Some(self.waiting_ms),
            Some(self.receiving_ms),
            Some(if self.expected_response { 0.0 } else { 1.0 }),
            Some(self.bytes_sent as f64),
            Some(self.bytes_received as f64),
            self.scheduling_lag_ms,
        ]
    }

    /// Whether the `i`-th of [`REQUEST_METRICS`] is `data_sent`/`data_received`, whose
    /// points carry only `group`, `scenario` and the extra tags (as k6 tags them).
    pub fn is_data_metric(i: usize) -> bool {
        i == 9 || i == 10
    }
}

impl IterationSample {
    /// `iterations` (1) and `iteration_duration` (ms), tagged `group=""` and `scenario`
    /// plus extra tags, as k6 writes them.
    pub fn for_each_point(&self, mut f: impl FnMut(&str, i64, f64, &PointTags<'_>)) {
        let tags = PointTags::new(&self.tags.extra).with("group", "").with("scenario", &self.tags.scenario);
        f("iterations", self.time_ns, 1.0, &tags);
        f("iteration_duration", self.time_ns, self.duration_ms, &tags);
    }
}

impl CheckSample {
    /// `checks` (1 pass, 0 fail) tagged `check group scenario` plus extra tags.
    pub fn for_each_point(&self, mut f: impl FnMut(&str, i64, f64, &PointTags<'_>)) {
        let tags = PointTags::new(&self.tags.extra)
            .with("check", &self.name)
            .with("group", &self.tags.group)
            .with("scenario", &self.tags.scenario);
        f("checks", self.time_ns, if self.pass { 1.0 } else { 0.0 }, &tags);
    }
}

impl DroppedSample {
    /// `dropped_iterations` (count) tagged `scenario` plus extra tags.
    pub fn for_each_point(&self, mut f: impl FnMut(&str, i64, f64, &PointTags<'_>)) {
        let tags = PointTags::new(&self.tags.extra).with("scenario", &self.tags.scenario);
        f("dropped_iterations", self.time_ns, self.count as f64, &tags);
    }
}

impl VuSample {
    /// `vus` and `vus_max` with the run tags only.
    pub fn for_each_point(&self, mut f: impl FnMut(&str, i64, f64, &PointTags<'_>)) {
        let tags = PointTags::new(&self.run_tags);
        f("vus", self.time_ns, f64::from(self.vus), &tags);
        f("vus_max", self.time_ns, f64::from(self.vus_max), &tags);
    }
}

/// Everything recorded in one flush interval (at most about one second).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleBatch {
    /// HTTP requests.
    pub requests: Vec<RequestSample>,
    /// Finished iterations.
    pub iterations: Vec<IterationSample>,
    /// Check results.
    pub checks: Vec<CheckSample>,
    /// Dropped iterations.
    pub dropped: Vec<DroppedSample>,
    /// VU gauge readings.
    pub vus: Vec<VuSample>,
}

impl SampleBatch {
    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.iterations.is_empty() && self.checks.is_empty() && self.dropped.is_empty() && self.vus.is_empty()
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.requests.clear();
        self.iterations.clear();
        self.checks.clear();
        self.dropped.clear();
        self.vus.clear();
    }

    /// Moves everything of `other` into `self`, leaving `other` empty.
    pub fn append(&mut self, other: &mut SampleBatch) {
        self.requests.append(&mut other.requests);
        self.iterations.append(&mut other.iterations);
        self.checks.append(&mut other.checks);
        self.dropped.append(&mut other.dropped);
        self.vus.append(&mut other.vus);
    }

    /// Expands every sample into k6 points (see each sample type's `for_each_point`):
    /// requests, iterations, checks, dropped iterations, VU gauges, in that order.
    pub fn for_each_point(&self, mut f: impl FnMut(&str, i64, f64, &PointTags<'_>)) {
        self.for_each_point_grouped(|m, t, v, tags, _| f(m, t, v, tags));
    }

    /// [`SampleBatch::for_each_point`], telling `f` whether a point's tags are those of
    /// the point before it (`true` for a request's 2nd to 9th HTTP point, its
    /// `data_received` after `data_sent`, and an iteration's `iteration_duration`), so
    /// sinks can skip comparing them.
    pub fn for_each_point_grouped(&self, mut f: impl FnMut(&str, i64, f64, &PointTags<'_>, bool)) {
        // Within one sample's expansion, the same `PointTags` object means the same tags.
        fn each(
            mut expand: impl FnMut(&mut dyn FnMut(&str, i64, f64, &PointTags<'_>)),
            f: &mut dyn FnMut(&str, i64, f64, &PointTags<'_>, bool),
        ) {
            let mut last: *const () = std::ptr::null();
            expand(&mut |m, t, v, tags| {
                let p = (tags as *const PointTags<'_>).cast::<()>();
                let same = std::ptr::eq(p, last);
                last = p;
                f(m, t, v, tags, same);
            });
        }
        for s in &self.requests {
            each(|g| s.for_each_point(g), &mut f);
        }
        for s in &self.iterations {
            each(|g| s.for_each_point(g), &mut f);
        }
        for s in &self.checks {
            each(|g| s.for_each_point(g), &mut f);
        }
        for s in &self.dropped {
            each(|g| s.for_each_point(g), &mut f);
        }
        for s in &self.vus {
            each(|g| s.for_each_point(g), &mut f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> Arc<SampleTags> {
        Arc::new(SampleTags { scenario: "default".into(), group: "".into(), extra: Arc::new(Tags::from_pairs([("env", "ci")])) })
    }

    fn req(status: u16, code: u32) -> RequestSample {
        RequestSample {
            time_ns: 1_700_000_000_000_000_000,
            tags: tags(),
            name: "/api/products/{{ id }}".into(),
            url: "/api/products/{{ id }}".into(),
            method: Method::Get,
            status,
            error_code: code,
            expected_response: default_expected_status(status),
            duration_ms: 12.5,
            blocked_ms: 0.25,
            connecting_ms: 0.0,
            tls_handshaking_ms: 0.0,
            sending_ms: 0.5,
            waiting_ms: 11.0,
            receiving_ms: 1.0,
            bytes_sent: 120,
            bytes_received: 480,
            vu: 3,
            iteration: 7,
            scheduling_lag_ms: None,
        }
    }

    #[test]
    fn grouped_points_flag_repeated_tags_within_a_sample_only() {
        let mut b = SampleBatch::default();
        let mut lagged = req(200, 0);
        lagged.scheduling_lag_ms = Some(0.5);
        b.requests.push(req(200, 0));
        b.requests.push(lagged);
        b.iterations.push(IterationSample { time_ns: 1, tags: tags(), duration_ms: 3.0, vu: 1 });
        let mut flags = Vec::new();
        let mut tags_seen = Vec::new();
        b.for_each_point_grouped(|_, _, _, t, same| {
            flags.push(same);
            tags_seen.push(t.to_tags());
        });
        let (f, t) = (false, true);
        // request: 9 HTTP points, then data_sent + data_received; the second one also has
        // the lag point (HTTP tags again, after the data points); then the iteration.
        let want = [f, t, t, t, t, t, t, t, t, f, t, f, t, t, t, t, t, t, t, t, f, t, f, f, t];
        assert_eq!(flags, want);
        for i in 1..flags.len() {
            if flags[i] {
                assert_eq!(tags_seen[i], tags_seen[i - 1], "point {i}");
            }
        }
    }

    #[test]
    fn request_expands_to_k6_points() {
        let mut seen = Vec::new();
        req(200, 0).for_each_point(|m, t, v, tags| seen.push((m.to_string(), t, v, tags.to_tags())));
        let names: Vec<&str> = seen.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "http_reqs",
                "http_req_duration",
                "http_req_blocked",
                "http_req_connecting",
                "http_req_tls_handshaking",
                "http_req_sending",
                "http_req_waiting",
                "http_req_receiving",
                "http_req_failed",
                "data_sent",
                "data_received"
            ]
        );
        assert_eq!(seen[1].2, 12.5);
        assert_eq!(seen[8].2, 0.0);
        assert_eq!(seen[10].2, 480.0);
        let t = &seen[1].3;
        assert_eq!(t.tag("status"), Some("200"));
        assert_eq!(t.tag("method"), Some("GET"));
        assert_eq!(t.tag("name"), Some("/api/products/{{ id }}"));
        assert_eq!(t.tag("url"), Some("/api/products/{{ id }}"));
        assert_eq!(t.tag("expected_response"), Some("true"));
        assert_eq!(t.tag("group"), Some(""));
        assert_eq!(t.tag("proto"), Some("HTTP/1.1"));
        assert_eq!(t.tag("env"), Some("ci"));
        assert_eq!(t.tag("error_code"), None);
        // data_* carry only group, scenario and extra tags.
        let d = &seen[9].3;
        assert_eq!(d.0.len(), 3);
        assert_eq!(d.tag("status"), None);
    }

    #[test]
    fn failures_carry_error_code() {
        let mut failed = Vec::new();
        let mut r = req(0, error_code::TCP_DIAL_REFUSED);
        r.scheduling_lag_ms = Some(3.0);
        r.for_each_point(|m, _, v, tags| {
            if m == "http_req_failed" || m == SCHEDULING_LAG_METRIC {
                failed.push((m.to_string(), v, tags.tag("error_code").map(str::to_string), tags.tag("error").map(str::to_string)));
            }
        });
        assert_eq!(failed[0], ("http_req_failed".into(), 1.0, Some("1212".into()), Some("dial: connection refused".into())));
        assert_eq!(failed[1].0, SCHEDULING_LAG_METRIC);
        assert_eq!(failed[1].1, 3.0);
        // 404 → 1404 (k6 tracer: 1000 + status), not a transport error.
        assert_eq!(error_code::for_status(404), 1404);
        assert_eq!(error_code::for_status(503), 1503);
        assert_eq!(error_code::for_status(302), 0);
        assert!(!default_expected_status(404));
        assert!(default_expected_status(399));
        assert!(!default_expected_status(0));
    }

    #[test]
    fn numbuf_formats() {
        assert_eq!(NumBuf::new(0).as_str(), "0");
        assert_eq!(NumBuf::new(1212).as_str(), "1212");
        assert_eq!(NumBuf::new(u64::MAX).as_str(), "18446744073709551615");
    }

    #[test]
    fn batch_point_count() {
        let mut b = SampleBatch::default();
        b.requests.push(req(200, 0));
        b.iterations.push(IterationSample { time_ns: 1, tags: tags(), duration_ms: 3.0, vu: 1 });
        b.checks.push(CheckSample { time_ns: 1, tags: tags(), name: "ok".into(), pass: true });
        b.dropped.push(DroppedSample { time_ns: 1, tags: tags(), count: 2 });
        b.vus.push(VuSample { time_ns: 1, vus: 4, vus_max: 5, run_tags: Arc::new(Tags::default()) });
        let mut n = 0;
        b.for_each_point(|_, _, _, _| n += 1);
        // 11 request points + 2 iteration + 1 check + 1 dropped + 2 gauges.
        assert_eq!(n, 17);
    }
}
