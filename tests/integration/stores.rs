//! Real stores end to end: `slo run --out influxdb=|prometheus=` into InfluxDB 1.x,
//! Prometheus and VictoriaMetrics started by `tests/services.sh` (each test starts its own
//! servers and stops them by pid), `slo check --source` against the local store's
//! verdicts, real k6 into InfluxDB and Prometheus against k6's own summary, and a store
//! that is down during the run (zero silent loss, `slo runs push`). A test whose server
//! binary (or k6) is missing prints `SKIPPED:` and returns.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use slo_demo::{DemoConfig, DemoServer};

use crate::util::*;

/// A server started by tests/services.sh, stopped (SIGTERM, then SIGKILL) on drop.
struct Svc {
    url: String,
    pid: u32,
    dir: String,
}

fn has(bin: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {bin}")).output().is_ok_and(|o| o.status.success())
}

/// `start_influxdb` / `start_prometheus` / `start_victoriametrics` of tests/services.sh,
/// on `port` (0: a free one). `None` (and `SKIPPED:` printed) when the binary is missing.
fn start(kind: &str, port: u16) -> Option<Svc> {
    let (bin, func, var) = match kind {
        "influxdb" => ("influxd", "start_influxdb", "INFLUX"),
        "prometheus" => ("prometheus", "start_prometheus", "PROM"),
        _ => ("victoria-metrics", "start_victoriametrics", "VM"),
    };
    if !has(bin) {
        println!("SKIPPED: {bin} is not installed");
        return None;
    }
    let p = if port == 0 { String::new() } else { port.to_string() };
    let script =
        format!("source tests/services.sh; SVC_ROOT=${{TMPDIR:-/tmp}}; {func} {p} >&2 || exit 1; echo ${var}_URL ${var}_PID ${var}_DIR");
    let o = Command::new("bash").arg("-c").arg(script).current_dir(root()).output().expect("bash");
    assert!(o.status.success(), "{func} failed: {}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let mut it = out.split_whitespace();
    let url = it.next().expect("url").to_string();
    let pid = it.next().expect("pid").parse().expect("pid");
    let dir = it.next().expect("dir").to_string();
    Some(Svc { url, pid, dir })
}

impl Svc {
    fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port")
    }
    fn stop(&mut self) {
        if self.pid == 0 {
            return;
        }
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let t = Instant::now();
        while std::path::Path::new(&format!("/proc/{}", self.pid)).exists() && t.elapsed() < Duration::from_secs(10) {
            // a zombie (reparented, not yet reaped) has state Z
            let st = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
            if st.split_whitespace().nth(2) == Some("Z") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if std::path::Path::new(&format!("/proc/{}", self.pid)).exists() {
            let _ = Command::new("kill").arg("-9").arg(self.pid.to_string()).status();
        }
        self.pid = 0;
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn target() -> DemoServer {
    DemoServer::start("127.0.0.1:0".parse().unwrap(), DemoConfig::fast()).expect("demo target")
}

/// 5 VUs × 40 iterations × 2 requests: 400 requests, 200 of them failed (GET /api/cart is
/// a 405 on the demo target), 200 iterations.
const SCENARIO: &str = "scenarios:\n  p: {executor: per-vu-iterations, vus: 5, iterations: 40}\nthresholds:\n  http_req_duration: ['p(95)<500', 'med<400', 'p(99)<0.01']\n  http_reqs: ['count==400']\n  http_req_failed: ['rate<0.6']\n  iterations: ['count==200']\nflows:\n  - flow:\n      - get: {url: /api/products}\n      - get: {url: /api/cart}\n";

fn scenario(s: &Scratch) -> String {
    let p = s.path().join("s.yaml");
    std::fs::write(&p, SCENARIO).unwrap();
    p.display().to_string()
}

fn threshold_rows(v: &Value) -> Vec<(String, String, Option<f64>, String)> {
    let mut rows: Vec<(String, String, Option<f64>, String)> = v["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .map(|t| {
            (
                t["metric_key"].as_str().unwrap().to_string(),
                t["expression"].as_str().unwrap().to_string(),
                t["observed"].as_f64(),
                t["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

fn runs_list(store: &str, source: &str) -> Vec<Value> {
    let o = run(store, &["runs", "list", "--source", source, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn influxdb_sink_and_source_give_the_local_verdicts_and_values() {
    let Some(influx) = start("influxdb", 0) else { return };
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let out = format!("influxdb={}/slo", influx.url);
    let o = run(&store, &["run", &scenario(&s), "--target", &srv.url(), "--out", &out, "-q", "--run-id", "inf1"]);
    // p(99)<0.01 ms fails on purpose: a FAIL verdict must carry over too
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains(&format!("out {out}: ")) && text.contains(" spooled, 0 lost"), "{text}");

    let (c_local, local) = check_json(&store, &["--run", "inf1"]);
    let (c_remote, remote) = check_json(&store, &["--source", &out, "--run", "latest"]);
    assert_eq!((c_local, c_remote), (1, 1));
    let (l, r) = (threshold_rows(&local), threshold_rows(&remote));
    assert_eq!(l.len(), 6);
    for (a, b) in l.iter().zip(&r) {
        assert_eq!((&a.0, &a.1, &a.3), (&b.0, &b.1, &b.3));
        assert_eq!(a.2, b.2, "{} {}: InfluxDB keeps raw samples, values are exact", a.0, a.1);
    }
    let reqs = l.iter().find(|t| t.1 == "count==400").unwrap();
    assert_eq!(reqs.2, Some(400.0));
    // the whole summary: percentiles exact; an average may differ in its last bit (sum order)
    for (k, m) in local["metrics"].as_object().unwrap() {
        for (f, x) in m.as_object().unwrap() {
            let y = &remote["metrics"][k][f];
            match (x.as_f64(), y.as_f64()) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{k}.{f}: {a} vs {b}"),
                _ => assert_eq!(x, y, "{k}.{f}"),
            }
        }
    }
    let listed = runs_list(&store, &out);
    assert!(listed.iter().any(|r| r["id"] == "inf1" && r["points"].as_u64() > Some(4000)), "{listed:?}");
}

fn prom_roundtrip(kind: &str) {
    let Some(svc) = start(kind, 0) else { return };
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let out = format!("prometheus={}", svc.url);
    let o = run(&store, &["run", &scenario(&s), "--target", &srv.url(), "--out", &out, "-q", "--run-id", "prom1"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).contains("0 pushes (0 samples) spooled, 0 samples lost"), "{}", stdout(&o));
    if kind == "victoriametrics" {
        std::thread::sleep(Duration::from_millis(1500)); // VictoriaMetrics makes writes searchable within ~1 s
    }
    let (c_local, local) = check_json(&store, &["--run", "prom1"]);
    let (c_remote, remote) = check_json(&store, &["--source", &out, "--run", "prom1"]);
    assert_eq!(c_local, c_remote, "{remote}");
    let (l, r) = (threshold_rows(&local), threshold_rows(&remote));
    let notes = remote["notes"].to_string();
    assert!(notes.contains("latency values are estimates from histogram buckets, error bound ±5.0%"), "{notes}");
    for (a, b) in l.iter().zip(&r) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1));
        match a.0.as_str() {
            "http_req_duration" => {
                let (x, y) = (a.2.unwrap(), b.2.unwrap());
                // 5 % of the observation (below 0.5 ms: 0.5 ms absolute, module docs)
                let tol = if x < 0.5 { 0.5 } else { 0.05 * x + 1e-6 };
                assert!((x - y).abs() <= tol, "{}: exact {x} ms, estimate {y} ms", a.1);
                assert_eq!(a.3, b.3, "{}", a.1);
                let t = remote["thresholds"].as_array().unwrap().iter().find(|t| t["expression"] == a.1.as_str()).unwrap();
                assert!(t["reason"].as_str().unwrap().contains("error bound ±5.0%"), "{t}");
            }
            "iterations" => assert_eq!(b.3, "no_data", "Prometheus source judges http_* only: {b:?}"),
            _ => {
                assert_eq!(a.2, b.2, "{} {}: counts are exact", a.0, a.1);
                assert_eq!(a.3, b.3);
            }
        }
    }
    let listed = runs_list(&store, &out);
    assert!(listed.iter().any(|r| r["id"] == "prom1" && r["status"] == "complete"), "{listed:?}");
}

#[test]
fn prometheus_sink_and_source_counts_exact_latency_within_bound() {
    prom_roundtrip("prometheus");
}

#[test]
fn victoriametrics_sink_and_source_counts_exact_latency_within_bound() {
    prom_roundtrip("victoriametrics");
}

#[test]
fn influxdb_down_during_the_run_spools_everything_and_push_delivers_it() {
    if !has("influxd") {
        println!("SKIPPED: influxd is not installed");
        return;
    }
    // a port nothing listens on (taken from a server started and stopped)
    let mut probe = start("influxdb", 0).unwrap();
    let port = probe.port();
    probe.stop();
    drop(probe);
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let out = format!("influxdb=http://127.0.0.1:{port}/slo");
    let o = run(&store, &["run", &scenario(&s), "--target", &srv.url(), "--out", &out, "-q", "--run-id", "down1"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o)); // the deliberate p(99) breach; the run itself goes on
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
    let text = stdout(&o);
    let line = text.lines().find(|l| l.starts_with(&format!("out {out}"))).unwrap_or_else(|| panic!("{text}"));
    // "<n> points: 0 delivered, <n> spooled, 0 lost"
    let n: u64 = line.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(line.contains(&format!("{n} points: 0 delivered, {n} spooled, 0 lost")), "{line}");
    let push = format!("slo runs push down1 --out {out} --store {store}");
    assert!(text.contains(&push), "{text}");
    // the local store has every point the generator made
    let shown = run(&store, &["runs", "show", "down1", "--format", "json"]);
    let local_points = serde_json::from_slice::<Value>(&shown.stdout).unwrap()["points"].as_u64().unwrap();
    assert_eq!(local_points, n);
    // still down: push exits 4, one line
    let o = run(&store, &["runs", "push", "down1", "--out", &out]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    let o = run(&store, &["check", "--source", &out, "--run", "down1"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    // up again on the same port: push delivers the spool, then the store has the run
    let Some(_influx) = start("influxdb", port) else { return };
    let o = run(&store, &["runs", "push", "down1", "--out", &out]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("{n} points delivered")), "{}", stdout(&o));
    let (_, local) = check_json(&store, &["--run", "down1"]);
    let (_, remote) = check_json(&store, &["--source", &out, "--run", "down1"]);
    assert_eq!(threshold_rows(&local), threshold_rows(&remote));
    let listed = runs_list(&store, &out);
    assert!(listed.iter().any(|r| r["id"] == "down1" && r["points"].as_u64() == Some(n)), "{listed:?}");
}

fn k6_script(s: &Scratch, url: &str) -> String {
    let p = s.path().join("k6.js");
    std::fs::write(
        &p,
        format!(
            "import http from 'k6/http';\nexport const options = {{ scenarios: {{ a: {{ executor: 'per-vu-iterations', vus: 4, iterations: 60 }} }} }};\nexport default function () {{ http.get('{url}/api/products'); http.get('{url}/health'); }}\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

fn k6_options(s: &Scratch) -> String {
    let p = s.path().join("k6-options.json");
    std::fs::write(&p, r#"{"thresholds": {"http_reqs": ["count==480"], "http_req_duration": ["p(95)<1000", "avg<1000", "max<1000"]}}"#)
        .unwrap();
    p.display().to_string()
}

fn k6(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new("k6");
    c.arg("run").args(["--address", "", "--no-usage-report", "-q"]).args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("k6")
}

fn observed(v: &Value, expr: &str) -> f64 {
    v["thresholds"].as_array().unwrap().iter().find(|t| t["expression"] == expr).unwrap()["observed"].as_f64().unwrap()
}

#[test]
fn k6_influxdb_output_checks_equal_to_k6_summary() {
    if !has("k6") {
        println!("SKIPPED: k6 is not installed");
        return;
    }
    let Some(influx) = start("influxdb", 0) else { return };
    let srv = target();
    let s = Scratch::new();
    let summary = s.path().join("summary.json");
    let o = k6(
        &[
            "--out",
            &format!("influxdb={}/k6db", influx.url),
            "--tag",
            "testid=k6inf",
            "--summary-export",
            &summary.display().to_string(),
            &k6_script(&s, &srv.url()),
        ],
        &[],
    );
    assert!(o.status.success(), "k6: {}", String::from_utf8_lossy(&o.stderr));
    let sum: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let store = s.store();
    let src = format!("influxdb={}/k6db", influx.url);
    let (c, v) = check_json(&store, &["--source", &src, "--run", "k6inf", "--k6-options", &k6_options(&s)]);
    assert_eq!(c, 0, "{v}");
    let d = &sum["metrics"]["http_req_duration"];
    assert_eq!(observed(&v, "count==480"), sum["metrics"]["http_reqs"]["count"].as_f64().unwrap());
    assert_eq!(observed(&v, "p(95)<1000"), d["p(95)"].as_f64().unwrap());
    assert_eq!(observed(&v, "max<1000"), d["max"].as_f64().unwrap());
    let (a, b) = (observed(&v, "avg<1000"), d["avg"].as_f64().unwrap());
    assert!((a - b).abs() <= 1e-12 * b, "avg {a} vs k6 {b}");
    // --from/--to over the same data (k6 wrote a testid tag; the range ignores it)
    let (c, r) = check_json(
        &store,
        &["--source", &src, "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--k6-options", &k6_options(&s)],
    );
    assert_eq!(c, 0, "{r}");
    assert_eq!(observed(&r, "count==480"), 480.0);
    assert!(runs_list(&store, &src).iter().any(|r| r["id"] == "k6inf"));
}

#[test]
fn k6_prometheus_rw_output_counts_exact() {
    if !has("k6") {
        println!("SKIPPED: k6 is not installed");
        return;
    }
    let Some(prom) = start("prometheus", 0) else { return };
    let srv = target();
    let s = Scratch::new();
    let summary = s.path().join("summary.json");
    let o = k6(
        &[
            "-o",
            "experimental-prometheus-rw",
            "--tag",
            "testid=k6prom",
            "--summary-export",
            &summary.display().to_string(),
            &k6_script(&s, &srv.url()),
        ],
        &[
            ("K6_PROMETHEUS_RW_SERVER_URL", &format!("{}/api/v1/write", prom.url)),
            ("K6_PROMETHEUS_RW_TREND_STATS", "p(95),avg,max"),
            ("K6_PROMETHEUS_RW_PUSH_INTERVAL", "1s"),
        ],
    );
    assert!(o.status.success(), "k6: {}", String::from_utf8_lossy(&o.stderr));
    let sum: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let store = s.store();
    let src = format!("prometheus={}", prom.url);
    let opts = s.path().join("k6-prom-options.json");
    std::fs::write(&opts, r#"{"thresholds": {"http_reqs": ["count==480"], "http_req_duration": ["p(95)<1000"]}}"#).unwrap();
    let (c, v) = check_json(&store, &["--source", &src, "--run", "k6prom", "--k6-options", &opts.display().to_string(), "--allow-no-data"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(observed(&v, "count==480"), sum["metrics"]["http_reqs"]["count"].as_f64().unwrap());
    // k6 writes its trend stats per tag set (here: two endpoints), which cannot be merged:
    // the whole-run latency is NO DATA with the reason, never a guess
    let t = v["thresholds"].as_array().unwrap().iter().find(|t| t["expression"] == "p(95)<1000").unwrap();
    assert!(
        t["observed"].is_null()
            || (t["observed"].as_f64().unwrap() - sum["metrics"]["http_req_duration"]["p(95)"].as_f64().unwrap()).abs() < 1e-9,
        "{t}"
    );
    assert!(runs_list(&store, &src).iter().any(|r| r["id"] == "k6prom"));
}

/// A fake InfluxDB 1.x on 127.0.0.1: `/ping` 204, `/query` an empty result, `/write`
/// answers 500 to the first `n500` writes, then 429 (`Retry-After: 0`) to the next `n429`,
/// then 204, counting the data lines (not `slo_run`) of every accepted body.
struct FakeInflux {
    url: String,
    accepted: std::sync::Arc<std::sync::atomic::AtomicU64>,
    refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn fake_influx(n500: u64, n429: u64) -> FakeInflux {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let writes = Arc::new(AtomicU64::new(0));
    let (acc, refd) = (accepted.clone(), refused.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (acc, refd, writes) = (acc.clone(), refd.clone(), writes.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let (mut len, mut gz) = (0usize, false);
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end().to_ascii_lowercase();
                        if h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if h.starts_with("content-encoding:") && h.contains("gzip") {
                            gz = true;
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply = if path.starts_with("/ping") {
                        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".to_string()
                    } else if path.starts_with("/query") {
                        let b = r#"{"results":[{"statement_id":0}]}"#;
                        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len())
                    } else {
                        let k = writes.fetch_add(1, Ordering::SeqCst);
                        if k < n500 {
                            refd.fetch_add(1, Ordering::SeqCst);
                            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_string()
                        } else if k < n500 + n429 {
                            refd.fetch_add(1, Ordering::SeqCst);
                            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n".to_string()
                        } else {
                            let mut text = String::new();
                            if gz {
                                flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text).unwrap();
                            } else {
                                text = String::from_utf8_lossy(&body).into_owned();
                            }
                            let n = text.lines().filter(|l| !l.is_empty() && !l.starts_with("slo_run,")).count();
                            acc.fetch_add(n as u64, Ordering::SeqCst);
                            "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".to_string()
                        }
                    };
                    if w.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    FakeInflux { url, accepted, refused }
}

#[test]
fn influxdb_answering_500_and_429_loses_nothing_and_push_delivers_the_rest() {
    use std::sync::atomic::Ordering;
    let fake = fake_influx(6, 6);
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let out = format!("influxdb={}/slo", fake.url);
    let o = run(&store, &["run", &scenario(&s), "--target", &srv.url(), "--out", &out, "-q", "--run-id", "flaky"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o)); // the deliberate p(99) breach
    let text = stdout(&o);
    let line = text.lines().find(|l| l.starts_with(&format!("out {out}"))).unwrap_or_else(|| panic!("{text}"));
    let num = |label: &str| -> u64 {
        let i = line.find(&format!(" {label}")).unwrap_or_else(|| panic!("{label} in {line}"));
        line[..i].rsplit([' ', ':']).next().unwrap().parse().unwrap()
    };
    let (points, delivered, spooled) = (num("points"), num("delivered"), num("spooled"));
    assert!(line.contains(", 0 lost"), "{line}");
    assert!(fake.refused.load(Ordering::SeqCst) >= 12, "the fake refused the first 12 writes");
    let shown = run(&store, &["runs", "show", "flaky", "--format", "json"]);
    let generated = serde_json::from_slice::<Value>(&shown.stdout).unwrap()["points"].as_u64().unwrap();
    assert_eq!(points, generated);
    // zero silent loss: in the server + reported spooled == what the generator made
    assert_eq!(fake.accepted.load(Ordering::SeqCst), delivered);
    assert_eq!(delivered + spooled, generated, "{line}");
    let o = run(&store, &["runs", "push", "flaky", "--out", &out]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    if spooled > 0 {
        // the spool is delivered: now the server has every point once
        assert!(stdout(&o).contains(&format!("{spooled} points delivered")), "{}", stdout(&o));
        assert_eq!(fake.accepted.load(Ordering::SeqCst), generated, "{}", stdout(&o));
    } else {
        // retries delivered everything during the run: no spool, so push re-sends the run
        // from the local store (InfluxDB overwrites identical points; the fake counts twice)
        assert!(stdout(&o).contains(&format!("re-sent from the local store: {generated} points, {generated} delivered")), "{}", stdout(&o));
        assert_eq!(fake.accepted.load(Ordering::SeqCst), 2 * generated);
    }
}

/// Points of run `testid` InfluxDB holds, counted by the server itself (every measurement
/// but the `slo_run` registry).
fn influx_points(base: &str, db: &str, testid: &str) -> u64 {
    let q = format!("SELECT count(\"value\") FROM /.*/ WHERE \"testid\" = '{testid}'");
    let o = Command::new("curl")
        .args(["-sfG", &format!("{base}/query"), "--data-urlencode", &format!("db={db}"), "--data-urlencode", &format!("q={q}")])
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let mut n = 0;
    for s in v["results"][0]["series"].as_array().cloned().unwrap_or_default() {
        if s["name"] != "slo_run" {
            n += s["values"][0][1].as_u64().unwrap_or(0);
        }
    }
    n
}

/// InfluxDB killed in the middle of a run and restarted on its data: what the server
/// holds plus what `slo run` reports spooled equals what the generator made (the local
/// store's count); `slo runs push` then delivers the rest, and the server holds them all.
#[test]
fn influxdb_killed_mid_run_and_restarted_loses_nothing() {
    let Some(mut influx) = start("influxdb", 0) else { return };
    let port = influx.port();
    let base = influx.url.clone();
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = s.path().join("k.yaml");
    std::fs::write(
        &f,
        "scenarios:\n  a: {executor: constant-arrival-rate, rate: 200, duration: 8s, preAllocatedVUs: 10}\nflows:\n  - flow:\n      - get: {url: /api/products}\n",
    )
    .unwrap();
    let out = format!("influxdb={base}/slo");
    let child = Command::new(assert_cmd::cargo::cargo_bin("slo"))
        .args(["run", &f.display().to_string(), "--target", &srv.url(), "--out", &out, "-q", "--run-id", "kill1", "--store", &store])
        .env_remove("SLO_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn slo run");
    std::thread::sleep(Duration::from_millis(2500));
    // kill -9 mid-run, keep the data dir, restart on it 2 s later
    let _ = Command::new("kill").arg("-9").arg(influx.pid.to_string()).status();
    influx.pid = 0;
    std::thread::sleep(Duration::from_secs(2));
    let restarted = Command::new("influxd")
        .args(["run", "-config", &format!("{}/influxdb.conf", influx.dir)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("influxd");
    influx.pid = restarted.id();
    let t = Instant::now();
    while Command::new("curl").args(["-sf", "-o", "/dev/null", &format!("{base}/ping")]).status().map(|s| !s.success()).unwrap_or(true) {
        assert!(t.elapsed() < Duration::from_secs(10), "influxd did not come back on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().expect("slo run");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.code().is_some(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = text.lines().find(|l| l.starts_with(&format!("out {out}"))).unwrap_or_else(|| panic!("{text}"));
    // "<n> points: <d> delivered, <s> spooled, 0 lost"
    let shown = run(&store, &["runs", "show", "kill1", "--format", "json"]);
    let generated = serde_json::from_slice::<Value>(&shown.stdout).unwrap()["points"].as_u64().unwrap();
    assert!(line.contains(&format!("{generated} points:")) && line.contains(" 0 lost"), "{line} (generated {generated})");
    let spooled: u64 = line.split(" spooled").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    let held = influx_points(&base, "slo", "kill1");
    eprintln!("kill -9 mid-run: {line}; server holds {held}");
    assert_eq!(held + spooled, generated, "server {held} + spooled {spooled} != generated {generated}: {line}");
    if spooled > 0 {
        let o = run(&store, &["runs", "push", "kill1", "--out", &out]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    assert_eq!(influx_points(&base, "slo", "kill1"), generated);
}
