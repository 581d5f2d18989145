//! Throughput of [`Analysis::push`], the hot path (a benchmark, not a test). Run in release:
//!
//! ```text
//! cargo run --release -p slo-analyze --example bench_push
//! ```
//!
//! 10 M synthetic points over a 10-minute run in the shape of an HTTP load test (per
//! request: `http_req_duration`, `http_req_waiting`, `http_reqs`, `http_req_failed`,
//! plus a few `vus`/`iterations`), with the seed config's load_test thresholds, two
//! tag-filtered thresholds, 1-minute windowed threshold evaluation and four SLOs.

use std::time::{Duration, Instant};

use slo_analyze::*;
use slo_config::{parse_metric_key, parse_threshold_expr, Location, MetricThresholds, Threshold};
use slo_model::{RunStatus, Tags};

fn thresholds(list: &[(&str, &[&str])]) -> Vec<MetricThresholds> {
    list.iter()
        .map(|(key, exprs)| MetricThresholds {
            key_source: key.to_string(),
            key: parse_metric_key(key).unwrap(),
            location: Location::default(),
            thresholds: exprs
                .iter()
                .map(|e| Threshold {
                    source: e.to_string(),
                    expr: parse_threshold_expr(e).unwrap(),
                    abort_on_fail: false,
                    delay_abort_eval: None,
                    location: Location::default(),
                })
                .collect(),
        })
        .collect()
}

fn main() {
    const N: u64 = 10_000_000;
    const RUN_NS: i64 = 600_000_000_000;
    let ths = thresholds(&[
        ("http_req_duration", &["p(95)<500", "p(99)<1000"]),
        ("http_req_failed", &["rate<0.01"]),
        ("http_reqs", &["rate>100"]),
        ("http_req_duration{name:login}", &["p(95)<800"]),
        ("http_reqs{name:login,status:200}", &["count>0"]),
    ]);
    let mut login = SloSpec::new("login.p99", SloKind::Latency { percentile: 99.0 }, 1000.0, Duration::from_secs(60));
    login.filter = vec![("name".into(), "login".into())];
    let slos = [
        SloSpec::new("availability", SloKind::Availability, 0.999, Duration::from_secs(3600)),
        SloSpec::new("latency.p95", SloKind::Latency { percentile: 95.0 }, 500.0, Duration::from_secs(60)),
        SloSpec::new("throughput", SloKind::Throughput, 1000.0, Duration::from_secs(60)),
        login,
    ];
    let run = RunInfo {
        id: "bench".into(),
        origin: "bench".into(),
        scenario: None,
        status: RunStatus::Complete,
        start_ns: Some(0),
        end_ns: Some(RUN_NS),
        points: N,
        slo_version: "bench".into(),
    };
    let plan = Plan {
        thresholds: &ths,
        slos: &slos,
        metrics: &[],
        run,
        range: TimeRange { start_ns: 0, end_ns: RUN_NS },
        rate_duration_s: Some(600.0),
        rate_duration_source: None,
        options: Options { threshold_window: Some(Duration::from_secs(60)), ..Options::default() },
    };
    // A realistic tag set per request name (8-9 tags, looked up by binary search).
    let tagsets: Vec<Tags> = ["home", "login", "search", "cart"]
        .iter()
        .flat_map(|n| {
            ["200", "500"].iter().map(move |s| {
                Tags::from_pairs([
                    ("expected_response", if *s == "200" { "true" } else { "false" }),
                    ("group", ""),
                    ("method", "GET"),
                    ("name", n),
                    ("proto", "HTTP/1.1"),
                    ("scenario", "default"),
                    ("status", s),
                    ("url", n),
                ])
            })
        })
        .collect();
    let none = Tags::default();
    let mut a = Analysis::new(plan).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let t0 = Instant::now();
    let mut pushed = 0u64;
    let mut i = 0u64;
    while pushed < N {
        // xorshift: cheap deterministic "latency"
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = (i as i64 * RUN_NS) / (N as i64 / 4);
        let tags = &tagsets[(x % 8) as usize];
        let failed = if (x >> 8) % 1000 == 0 { 1.0 } else { 0.0 };
        let dur = 20.0 + ((x >> 16) % 50_000) as f64 / 100.0;
        a.push("http_req_duration", t, dur, tags);
        a.push("http_req_waiting", t, dur * 0.9, tags);
        a.push("http_reqs", t, 1.0, tags);
        a.push("http_req_failed", t, failed, tags);
        pushed += 4;
        if i % 1000 == 0 {
            a.push("vus", t, 50.0, &none);
            pushed += 1;
        }
        i += 1;
    }
    let push_time = t0.elapsed();
    let t1 = Instant::now();
    let r = a.finish();
    let finish_time = t1.elapsed();
    assert_eq!(r.points.accepted, pushed);
    let rate = pushed as f64 / push_time.as_secs_f64();
    println!(
        "push: {pushed} points in {:.3} s = {:.1} M points/s; finish (sorting, percentiles, {} windows): {:.3} s",
        push_time.as_secs_f64(),
        rate / 1e6,
        r.slos.iter().map(|s| s.windows.windows_total).sum::<usize>(),
        finish_time.as_secs_f64()
    );
    assert!(rate > 1e6, "push is slower than 1 M points/s: {rate:.0}/s");
}
