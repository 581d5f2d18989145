//! Snapshots of the text renderings (table, JSON, Markdown, JUnit) of `slo check` and
//! `slo compare`, on small deterministic inputs built through the real analyzer:
//! [`Analysis`] fed hand-made points (a formula, no randomness) and
//! [`compare`] on seeded synthetic samples. Run ids and the slo version are redacted, so
//! the snapshots hold layout and the analyzer's numbers only; the renderers take no
//! wall-clock time, so nothing else varies between runs.
//!
//! A few numbers are also asserted from hand computation, so that a snapshot accepted
//! blindly cannot hide a wrong value.

use std::time::Duration;

use slo_analyze::compare::{compare, ChangeVerdict, CompareOptions, Comparison, ComparisonInput, Counts, EndpointInput, RunSide, Sample};
use slo_analyze::{Analysis, CheckReport, Options, Plan, RunInfo, SloKind, SloSpec, TimeRange};
use slo_model::{RunStatus, Tags};
use slo_report::{render_check, render_compare, Format};

/// 2024-01-01T00:00:00Z in ns since the epoch.
const T0: i64 = 1_704_067_200_000_000_000;
const CHECK_RUN: &str = "20240101T000000Z-check1";
const BASE_RUN: &str = "20240101T000000Z-base01";
const CAND_RUN: &str = "20240101T010000Z-cand02";
const FORMATS: [(Format, &str); 4] =
    [(Format::Table, "table"), (Format::Json, "json"), (Format::Markdown, "markdown"), (Format::Junit, "junit")];

/// Replaces the run ids and the slo version with placeholders.
fn redact(bytes: Vec<u8>) -> String {
    let s = String::from_utf8(bytes).expect("UTF-8 output");
    s.replace(CHECK_RUN, "[run-id]")
        .replace(BASE_RUN, "[baseline-id]")
        .replace(CAND_RUN, "[candidate-id]")
        .replace(env!("CARGO_PKG_VERSION"), "[version]")
}

// ---------------------------------------------------------------- check

/// One request every 100 ms for 60 s (600 requests), alternating `login` and `search`:
/// request `i` takes `10 + (i mod 50)` ms on login and `100 + 2·(i mod 50)` ms on search;
/// every 100th request (i = 0, 100, …, 500: 6 of 600) fails.
struct Req {
    t_ns: i64,
    name: &'static str,
    ms: f64,
    failed: bool,
}

fn check_requests() -> Vec<Req> {
    (0..600i64)
        .map(|i| {
            let login = i % 2 == 0;
            let k = (i % 50) as f64;
            Req {
                t_ns: T0 + i * 100_000_000,
                name: if login { "login" } else { "search" },
                ms: if login { 10.0 + k } else { 100.0 + 2.0 * k },
                failed: i % 100 == 0,
            }
        })
        .collect()
}

fn check_report() -> CheckReport {
    let k6 = r#"{"thresholds": {
        "http_req_duration": ["p(95)<250", "avg<90"],
        "http_req_duration{name:login}": ["p(95)<100"],
        "http_req_failed": ["rate<0.02"],
        "http_reqs": ["count>=600"]
    }}"#;
    let opts = slo_config::parse_k6_options(k6, "options.json").expect("k6 options parse");
    let w = Duration::from_secs(30);
    let mut search = SloSpec::new("search p95 ≤ 190 ms", SloKind::Latency { percentile: 95.0 }, 190.0, w);
    search.filter = vec![("name".into(), "search".into())];
    let slos = vec![
        SloSpec::new("availability", SloKind::Availability, 0.995, w),
        search,
        SloSpec::new("throughput", SloKind::Throughput, 9.0, w),
    ];
    let reqs = check_requests();
    let plan = Plan {
        thresholds: &opts.thresholds.0,
        slos: &slos,
        metrics: &[],
        run: RunInfo {
            id: CHECK_RUN.into(),
            origin: "slo run".into(),
            scenario: Some("shop.yaml".into()),
            status: RunStatus::Complete,
            start_ns: Some(T0),
            end_ns: Some(T0 + 60_000_000_000),
            points: reqs.len() as u64 * 3 + 61,
            slo_version: env!("CARGO_PKG_VERSION").into(),
        },
        range: TimeRange { start_ns: T0, end_ns: T0 + 60_000_000_000 },
        rate_duration_s: Some(60.0),
        rate_duration_source: Some("run duration".into()),
        options: Options::default(),
    };
    let mut a = Analysis::new(plan).expect("plan");
    for r in &reqs {
        let tags = Tags::from_pairs([("name", r.name), ("expected_response", if r.failed { "false" } else { "true" })]);
        a.push("http_req_duration", r.t_ns, r.ms, &tags);
        a.push("http_req_failed", r.t_ns, if r.failed { 1.0 } else { 0.0 }, &tags);
        a.push("http_reqs", r.t_ns, 1.0, &tags);
    }
    for s in 0..=60i64 {
        a.push("vus", T0 + s * 1_000_000_000, 10.0, &Tags::default());
    }
    a.finish()
}

#[test]
fn check_numbers_match_hand_computation() {
    let r = check_report();
    let v: serde_json::Value = serde_json::from_slice(&render_check(&r, Format::Json)).unwrap();
    let th = |key: &str, expr: &str| {
        v["thresholds"].as_array().unwrap().iter().find(|t| t["key_source"] == key && t["expression"] == expr).unwrap().clone()
    };
    // http_req_failed: 6 of 600.
    assert_eq!(th("http_req_failed", "rate<0.02")["observed"].as_f64().unwrap(), 0.01);
    // Mean latency: login i even, (i mod 50) runs over 0,2,…,48 evenly → mean 10 + 24 = 34;
    // search i odd, (i mod 50) over 1,3,…,49 → mean 100 + 2·25 = 150; overall 92 > 90.
    let avg = th("http_req_duration", "avg<90");
    assert!((avg["observed"].as_f64().unwrap() - 92.0).abs() < 1e-9);
    assert_eq!(avg["verdict"], "fail");
    // login p(95): 300 values, 12 copies each of 10, 12, …, 58; k6's rank 0.95·299 =
    // 284.05 falls in the 24th value (ranks 276..287) = 10 + 2·23 = 56.
    assert!((th("http_req_duration{name:login}", "p(95)<100")["observed"].as_f64().unwrap() - 56.0).abs() < 1e-9);
    assert_eq!(th("http_reqs", "count>=600")["observed"].as_f64().unwrap(), 600.0);
}

#[test]
fn check_text_snapshots() {
    let r = check_report();
    for (format, name) in FORMATS {
        insta::assert_snapshot!(format!("check_{name}"), redact(render_check(&r, format)));
    }
}

// ---------------------------------------------------------------- compare

/// xorshift64*: a tiny seeded generator for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.next().max(1e-12);
        let v = self.next();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` log-normal latencies with median `median` ms and σ 0.3, from `seed`.
fn lognormal(seed: u64, n: usize, median: f64) -> Vec<f64> {
    let mut r = Rng(seed);
    (0..n).map(|_| median * (0.3 * r.normal()).exp()).collect()
}

struct Side {
    /// (endpoint, latencies, failed requests)
    endpoints: Vec<(&'static str, Vec<f64>, u64)>,
    all: Vec<f64>,
}

/// The baseline and candidate: `checkout` 40 % slower in the candidate, `catalog` the
/// same distribution (other seed), `health` only 12 requests a side (too few), and the
/// candidate's `search` with 20 failures instead of 2 among 2000.
fn compare_sides() -> (Side, Side) {
    let side = |cand: bool| {
        let s = if cand { 100 } else { 0 };
        let endpoints = vec![
            ("catalog", lognormal(1 + s, 2000, 50.0), 2),
            ("checkout", lognormal(2 + s, 2000, if cand { 168.0 } else { 120.0 }), 2),
            ("health", lognormal(3 + s, 12, 2.0), 0),
            ("search", lognormal(4 + s, 2000, 80.0), if cand { 20 } else { 2 }),
        ];
        let all = endpoints.iter().flat_map(|e| e.1.iter().copied()).collect();
        Side { endpoints, all }
    };
    (side(false), side(true))
}

fn sample(lat: &[f64], failed: u64) -> Sample<'_> {
    Sample { latency_ms: lat, requests: lat.len() as u64, failed_requests: failed, checks: None }
}

fn comparison() -> Comparison {
    let (b, c) = compare_sides();
    let fails = |s: &Side| s.endpoints.iter().map(|e| e.2).sum::<u64>();
    let input = ComparisonInput {
        baseline: RunSide { id: BASE_RUN.into(), duration_s: Some(600.0) },
        candidate: RunSide { id: CAND_RUN.into(), duration_s: Some(600.0) },
        overall: Some(EndpointInput {
            name: "all requests".into(),
            baseline: Sample { checks: Some(Counts { passes: 6000, total: 6012 }), ..sample(&b.all, fails(&b)) },
            candidate: Sample { checks: Some(Counts { passes: 5990, total: 6012 }), ..sample(&c.all, fails(&c)) },
        }),
        endpoints: b
            .endpoints
            .iter()
            .zip(&c.endpoints)
            .map(|(x, y)| EndpointInput { name: x.0.into(), baseline: sample(&x.1, x.2), candidate: sample(&y.1, y.2) })
            .collect(),
    };
    compare(&input, &CompareOptions::default()).expect("comparison")
}

#[test]
fn compare_verdicts_follow_the_construction() {
    let c = comparison();
    let v = |name: &str| c.endpoints.iter().find(|e| e.name == name).unwrap().verdict;
    assert_eq!(v("checkout"), ChangeVerdict::Regressed, "40 % slower by construction");
    assert_eq!(v("health"), ChangeVerdict::Inconclusive, "12 requests < min_samples 30");
    assert_eq!(v("search"), ChangeVerdict::Regressed, "error rate 0.1 % → 1 %");
    assert_eq!(c.verdict, ChangeVerdict::Regressed);
    let m = c
        .endpoints
        .iter()
        .find(|e| e.name == "search")
        .unwrap()
        .metrics
        .iter()
        .find(|m| m.metric == slo_analyze::compare::MetricKind::ErrorRate)
        .unwrap();
    assert_eq!(m.baseline, Some(0.001)); // 2 / 2000
    assert_eq!(m.candidate, Some(0.01)); // 20 / 2000
}

#[test]
fn compare_text_snapshots() {
    let c = comparison();
    for (format, name) in FORMATS {
        insta::assert_snapshot!(format!("compare_{name}"), redact(render_compare(&c, format)));
    }
}
