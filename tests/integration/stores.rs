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

/// A fake HTTP/1.1 server on 127.0.0.1 (keep-alive, one thread per connection): each
/// request's path, whether its body is gzip (`Content-Encoding`) and its body go to
/// `reply`, whose answer (a whole HTTP response) is written back. Returns its URL.
fn fake_http(reply: impl Fn(&str, bool, Vec<u8>) -> String + Send + Sync + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let reply = std::sync::Arc::new(reply);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let reply = reply.clone();
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
                    if w.write_all(reply(&path, gz, body).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn fake_influx(n500: u64, n429: u64) -> FakeInflux {
    use std::io::Read;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let writes = AtomicU64::new(0);
    let (acc, refd) = (accepted.clone(), refused.clone());
    let url = fake_http(move |path, gz, body| {
        if path.starts_with("/ping") {
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

/// `slo run SCENARIO --target URL --out OUT --run-id ID` in the background, its output piped.
fn spawn_slo_run(store: &str, scenario: &std::path::Path, target: &str, out: &str, id: &str) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("slo"))
        .args(["run", &scenario.display().to_string(), "--target", target, "--out", out, "-q", "--run-id", id, "--store", store])
        .env_remove("SLO_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn slo run")
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
    let child = spawn_slo_run(&store, &f, &srv.url(), &out, "kill1");
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

// ---------------------------------------------------------------------------------------
// Prometheus remote write under faults. Prometheus keeps cumulative counters, not raw
// samples: every push is a snapshot of every series, so "count of requests" is the value of
// `k6_http_reqs_total` at the latest timestamp a store holds, summed over the run's series.
// Zero silent loss means: the latest count held by the server or by a spooled push equals
// the requests the generator made, and after `slo runs push` the server holds exactly that
// count with every counter series non-decreasing in time (no reset, so no reset-aware reader
// counts anything twice).

/// The figures of `slo run`'s Prometheus delivery line ("out prometheus=URL: P points in
/// N pushes: D pushes (d samples) delivered, S pushes (s samples) spooled, L samples lost
/// (R retries)"), and the spool directory when the line after it names one.
#[derive(Debug)]
struct PromDelivery {
    pushes: u64,
    pushes_delivered: u64,
    samples_delivered: u64,
    pushes_spooled: u64,
    samples_spooled: u64,
    samples_lost: u64,
    retries: u64,
    spool_dir: Option<std::path::PathBuf>,
}

fn prom_delivery(text: &str, out: &str) -> PromDelivery {
    let prefix = format!("out {out}: ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no delivery line in {text}"));
    let n: Vec<u64> =
        line[prefix.len()..].split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    assert_eq!(n.len(), 8, "{line}");
    let spool_dir = text
        .lines()
        .find_map(|l| l.split_once(" samples spooled in ").map(|(_, r)| r.split("; deliver").next().unwrap().to_string()))
        .map(std::path::PathBuf::from);
    PromDelivery {
        pushes: n[1],
        pushes_delivered: n[2],
        samples_delivered: n[3],
        pushes_spooled: n[4],
        samples_spooled: n[5],
        samples_lost: n[6],
        retries: n[7],
        spool_dir,
    }
}

/// The `http_reqs` count of a local run as `slo runs show --format json` gives it.
fn generated_requests(store: &str, id: &str) -> u64 {
    let o = run(store, &["runs", "show", id, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["summary"]["http_reqs"]["count"].as_f64().unwrap_or_else(|| panic!("no http_reqs count in {v}")) as u64
}

/// Samples of one series name: label set (sorted `name=value` pairs, `__name__` excluded)
/// → `(timestamp ms, value)` in time order.
type SeriesMap = std::collections::BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>;

fn series_of(reqs: &[slo_store::prometheus::remote_write::WriteRequest], name: &str) -> SeriesMap {
    let mut m = SeriesMap::new();
    for r in reqs {
        for ts in &r.timeseries {
            if !ts.labels.iter().any(|l| l.name == "__name__" && l.value == name) {
                continue;
            }
            let mut key: Vec<(String, String)> =
                ts.labels.iter().filter(|l| l.name != "__name__").map(|l| (l.name.clone(), l.value.clone())).collect();
            key.sort();
            m.entry(key).or_default().extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
        }
    }
    for v in m.values_mut() {
        v.sort_by_key(|s| s.0);
    }
    m
}

/// Sum over series of the value at each series' latest timestamp.
fn latest_sum(m: &SeriesMap) -> f64 {
    m.values().filter_map(|v| v.last()).map(|s| s.1).sum()
}

/// Series whose values drop somewhere in time order (a reset to Prometheus' `increase()`).
fn non_monotone(m: &SeriesMap) -> Vec<String> {
    m.iter().filter(|(_, v)| v.windows(2).any(|w| w[1].1 < w[0].1)).map(|(k, v)| format!("{k:?}: {v:?}")).collect()
}

/// The decoded `.rw` files of a spool directory (none when it does not exist).
fn spool_requests(dir: &std::path::Path) -> Vec<slo_store::prometheus::remote_write::WriteRequest> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "rw")).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| {
            slo_store::prometheus::remote_write::decode_body(&std::fs::read(f).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .collect()
}

/// `%XX` escapes and `+` of a request target decoded.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A fake Prometheus on 127.0.0.1: `GET /api/v1/query` an empty vector (slo's
/// healthcheck), `GET /api/v1/series` the accepted label sets of the `testid` asked for, `POST /api/v1/write` answers 500 to the first `n500` writes, then 429 with
/// `Retry-After: 1` to the next `n429`, then 204, keeping every accepted request decoded and
/// the arrival time of every write.
struct FakeProm {
    url: String,
    accepted: std::sync::Arc<std::sync::Mutex<Vec<slo_store::prometheus::remote_write::WriteRequest>>>,
    /// Arrival time and answered status of every write, in order.
    writes: std::sync::Arc<std::sync::Mutex<Vec<(Instant, u16)>>>,
}

impl FakeProm {
    fn accepted(&self) -> Vec<slo_store::prometheus::remote_write::WriteRequest> {
        self.accepted.lock().unwrap().clone()
    }
    fn accepted_samples(&self) -> u64 {
        self.accepted().iter().map(slo_store::prometheus::remote_write::sample_count).sum()
    }
    fn statuses(&self) -> Vec<u16> {
        self.writes.lock().unwrap().iter().map(|w| w.1).collect()
    }
}

fn fake_prometheus(n500: usize, n429: usize) -> FakeProm {
    use std::sync::{Arc, Mutex};
    let accepted = Arc::new(Mutex::new(Vec::<slo_store::prometheus::remote_write::WriteRequest>::new()));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let (acc, wr) = (accepted.clone(), writes.clone());
    let url = fake_http(move |path, _gz, body| {
        let json = |b: &str| format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len());
        if path.starts_with("/api/v1/query") {
            json(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
        } else if path.starts_with("/api/v1/series") {
            // the label sets of the accepted series matching `testid="…"`
            let target = percent_decode(&path);
            let want = target.split("testid=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string();
            let mut sets = std::collections::BTreeSet::new();
            for req in acc.lock().unwrap().iter() {
                for ts in &req.timeseries {
                    if ts.labels.iter().any(|l| l.name == "testid" && l.value == want) {
                        let m: serde_json::Map<String, Value> =
                            ts.labels.iter().map(|l| (l.name.clone(), Value::from(l.value.clone()))).collect();
                        sets.insert(Value::Object(m).to_string());
                    }
                }
            }
            json(&format!(r#"{{"status":"success","data":[{}]}}"#, sets.into_iter().collect::<Vec<_>>().join(",")))
        } else if path.starts_with("/api/v1/write") {
            let mut writes = wr.lock().unwrap();
            let k = writes.len();
            let status = if k < n500 {
                500
            } else if k < n500 + n429 {
                429
            } else {
                // a body that does not decode is a 400, as Prometheus answers it
                match slo_store::prometheus::remote_write::decode_body(&body) {
                    Ok(req) => {
                        acc.lock().unwrap().push(req);
                        204
                    }
                    Err(_) => 400,
                }
            };
            writes.push((Instant::now(), status));
            match status {
                500 => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_string(),
                429 => "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n".to_string(),
                400 => "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_string(),
                _ => "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".to_string(),
            }
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        }
    });
    FakeProm { url, accepted, writes }
}

/// 50 requests/s for 8 s, one request per iteration: the sink pushes at least once before
/// the final snapshot (push interval 5 s).
const PROM_FAULT_SCENARIO: &str = "scenarios:\n  a: {executor: constant-arrival-rate, rate: 50, duration: 8s, preAllocatedVUs: 5}\nthresholds:\n  http_reqs: ['count>0']\nflows:\n  - flow:\n      - get: {url: /api/products}\n";

/// A remote-write receiver answering 500 to the first 5 writes and 429 (`Retry-After: 1`)
/// to the next 3. With the default retry policy (5 attempts per push) the first push gives
/// up and is spooled, the next one is delivered on its 4th attempt, each retry after a 429
/// at least 1 s after it: 1 push spooled, 4 + 3 = 7 retries. What the fake accepted is what
/// the run reports delivered, the spool files hold what it reports spooled; the latest
/// request count the fake holds is the generator's; `slo runs push` delivers the spool (an
/// older snapshot, out of order) and the counters stay non-decreasing: nothing counted twice.
#[test]
fn prometheus_answering_500_and_429_loses_nothing_and_push_delivers_the_rest() {
    let fake = fake_prometheus(5, 3);
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = s.path().join("p.yaml");
    std::fs::write(&f, PROM_FAULT_SCENARIO).unwrap();
    let out = format!("prometheus={}", fake.url);
    let o = run(&store, &["run", &f.display().to_string(), "--target", &srv.url(), "--out", &out, "-q", "--run-id", "pflaky"]);
    let text = stdout(&o);
    assert_eq!(code(&o), 0, "{text}{}", stderr(&o));
    let d = prom_delivery(&text, &out);
    let generated = generated_requests(&store, "pflaky");
    eprintln!("500/429: {d:?}; generated {generated} requests; fake statuses {:?}", fake.statuses());
    assert!(generated >= 300, "{generated} requests in 8 s at 50/s");

    // the fault schedule was used up exactly as the retry policy says
    assert_eq!(&fake.statuses()[..8], &[500, 500, 500, 500, 500, 429, 429, 429]);
    assert_eq!((d.pushes_spooled, d.retries, d.samples_lost), (1, 7, 0), "{d:?}");
    assert_eq!(d.pushes_delivered + d.pushes_spooled, d.pushes, "{d:?}");
    let times: Vec<Instant> = fake.writes.lock().unwrap().iter().map(|w| w.0).collect();
    for k in 5..8 {
        let gap = times[k + 1] - times[k];
        assert!(gap >= Duration::from_millis(950), "retry {} came {gap:?} after a 429 with Retry-After: 1", k + 1);
    }

    // every sample is delivered or spooled, and the report says which
    assert_eq!(fake.accepted_samples(), d.samples_delivered, "{d:?}");
    let dir = d.spool_dir.clone().unwrap_or_else(|| panic!("no spool named in {text}"));
    let spooled = spool_requests(&dir);
    assert_eq!(spooled.len() as u64, d.pushes_spooled);
    assert_eq!(spooled.iter().map(slo_store::prometheus::remote_write::sample_count).sum::<u64>(), d.samples_spooled);
    // requests: the final snapshot got through, so the fake holds the generator's count;
    // the spooled snapshot is an earlier, smaller one of the same counters
    let held = latest_sum(&series_of(&fake.accepted(), "k6_http_reqs_total"));
    let in_spool = latest_sum(&series_of(&spooled, "k6_http_reqs_total"));
    eprintln!("fake holds {held} requests, the spool {in_spool}");
    assert_eq!(held.max(in_spool), generated as f64);
    assert_eq!(held, generated as f64);
    assert!(in_spool > 0.0 && in_spool < generated as f64, "{in_spool}");

    // push delivers the spool; the merged counters are non-decreasing and end at the count
    let o = run(&store, &["runs", "push", "pflaky", "--out", &out]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{} samples delivered ({} pushes), 0 pushes left", d.samples_spooled, d.pushes_spooled)),
        "{}",
        stdout(&o)
    );
    assert!(spool_requests(&dir).is_empty());
    assert_eq!(fake.accepted_samples(), d.samples_delivered + d.samples_spooled);
    let all = fake.accepted();
    for name in ["k6_http_reqs_total", "k6_iterations_total", "k6_http_req_duration_seconds_count", "k6_data_sent_total"] {
        let m = series_of(&all, name);
        assert!(!m.is_empty(), "{name}");
        let bad = non_monotone(&m);
        assert!(bad.is_empty(), "{name} drops (a reset, counted twice by increase()): {bad:?}");
    }
    assert_eq!(latest_sum(&series_of(&all, "k6_http_reqs_total")), generated as f64);
    assert_eq!(latest_sum(&series_of(&all, "k6_http_req_duration_seconds_count")), generated as f64);

    // pushed again: the spool is empty and the server has the run, so nothing is re-sent
    // (snapshots rebuilt from the local store would conflict with the stored ones)
    let o = run(&store, &["runs", "push", "pflaky", "--out", &out]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("run pflaky is already there and nothing of it is spooled: not re-sent"), "{}", stdout(&o));
    assert_eq!(fake.accepted_samples(), d.samples_delivered + d.samples_spooled);
}

/// An instant PromQL query at now; the JSON `data.result`.
fn prom_query(base: &str, q: &str) -> Vec<Value> {
    let o = Command::new("curl")
        .args(["-sfG", &format!("{base}/api/v1/query"), "--data-urlencode", &format!("query={q}")])
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Every raw sample of run `testid` Prometheus holds, per series name (a range selector
/// over the last hour returns stored samples as they are, staleness markers excluded).
fn prom_raw(base: &str, testid: &str) -> std::collections::BTreeMap<String, SeriesMap> {
    let mut out: std::collections::BTreeMap<String, SeriesMap> = Default::default();
    for s in prom_query(base, &format!("{{testid=\"{testid}\"}}[1h]")) {
        let mut key: Vec<(String, String)> = Vec::new();
        let mut name = String::new();
        for (k, v) in s["metric"].as_object().unwrap() {
            let v = v.as_str().unwrap().to_string();
            if k == "__name__" {
                name = v;
            } else {
                key.push((k.clone(), v));
            }
        }
        key.sort();
        let samples = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| ((p[0].as_f64().unwrap() * 1000.0).round() as i64, p[1].as_str().unwrap().parse::<f64>().unwrap()))
            .collect();
        out.entry(name).or_default().insert(key, samples);
    }
    out
}

fn raw_sample_count(raw: &std::collections::BTreeMap<String, SeriesMap>) -> u64 {
    raw.values().flat_map(|m| m.values()).map(|v| v.len() as u64).sum()
}

/// A real Prometheus killed with `kill -9` in the middle of a run (right after the first
/// push reached it) and restarted on its data directory 8 s later, while the run goes on:
/// the push made while it was down is spooled; what it acknowledged before the kill
/// survives (WAL); after the restart the sink delivers again. Every sample the run reports
/// delivered is in the server (the registry's staleness marker excepted, which a range
/// query does not return), the latest request count is the generator's, and `slo runs push`
/// adds exactly the spooled samples without a counter reset: `slo check --source` counts
/// the generator's requests.
#[test]
fn prometheus_killed_mid_run_and_restarted_loses_nothing() {
    let Some(mut prom) = start("prometheus", 0) else { return };
    let base = prom.url.clone();
    // the exact command services.sh started it with, to restart it on the same data
    let cmdline: Vec<String> = std::fs::read(format!("/proc/{}/cmdline", prom.pid))
        .expect("prometheus cmdline")
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = s.path().join("k.yaml");
    std::fs::write(
        &f,
        "scenarios:\n  a: {executor: constant-arrival-rate, rate: 50, duration: 16s, preAllocatedVUs: 5}\nthresholds:\n  http_reqs: ['count>0']\nflows:\n  - flow:\n      - get: {url: /api/products}\n",
    )
    .unwrap();
    let out = format!("prometheus={base}");
    let child = spawn_slo_run(&store, &f, &srv.url(), &out, "pkill");
    let count_now = || prom_query(&base, "sum(last_over_time(k6_http_reqs_total{testid=\"pkill\"}[1h]))");
    let t = Instant::now();
    while count_now().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(12), "the first push never reached Prometheus");
        std::thread::sleep(Duration::from_millis(100));
    }
    // let a push made right after the first one land too: nothing is in flight at the kill
    std::thread::sleep(Duration::from_millis(700));
    let before_kill: f64 = count_now()[0]["value"][1].as_str().unwrap().parse().unwrap();
    let _ = Command::new("kill").arg("-9").arg(prom.pid.to_string()).status();
    prom.pid = 0;
    let killed = Instant::now();
    // down 8 s: the push due 5 s after the first gives up (5 attempts, under 3.1 s of backoff)
    std::thread::sleep(Duration::from_secs(8));
    let log = std::fs::OpenOptions::new().append(true).create(true).open(format!("{}/prometheus.log", prom.dir)).unwrap();
    let mut restarted =
        Command::new(&cmdline[0]).args(&cmdline[1..]).stdout(std::process::Stdio::null()).stderr(log).spawn().expect("prometheus restart");
    prom.pid = restarted.id();
    while Command::new("curl").args(["-sf", "-o", "/dev/null", &format!("{base}/-/ready")]).status().map(|s| !s.success()).unwrap_or(true) {
        assert!(killed.elapsed() < Duration::from_secs(20), "prometheus did not come back at {base}");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("down for {:?}; {before_kill} requests acknowledged before the kill", killed.elapsed());
    let o = child.wait_with_output().expect("slo run");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&o.stderr));
    let d = prom_delivery(&text, &out);
    let generated = generated_requests(&store, "pkill");
    assert!(generated >= 700, "{generated} requests in 16 s at 50/s");

    let raw = prom_raw(&base, "pkill");
    let held = latest_sum(&raw["k6_http_reqs_total"]);
    let dir = d.spool_dir.clone().unwrap_or_else(|| panic!("nothing spooled while Prometheus was down: {text}"));
    let spooled = spool_requests(&dir);
    let in_spool = latest_sum(&series_of(&spooled, "k6_http_reqs_total"));
    eprintln!(
        "kill -9 mid-run: {d:?}; generated {generated}; server holds {held} requests in {} samples, the spool {in_spool}",
        raw_sample_count(&raw)
    );
    assert_eq!(d.samples_lost, 0, "{text}");
    assert!(d.pushes_spooled >= 1 && d.pushes_delivered >= 3, "{d:?}");
    assert_eq!(spooled.len() as u64, d.pushes_spooled);
    assert_eq!(spooled.iter().map(slo_store::prometheus::remote_write::sample_count).sum::<u64>(), d.samples_spooled);
    // what was acknowledged before the kill survived it
    assert!(held >= before_kill && before_kill > 0.0, "{held} < {before_kill}");
    // every delivered sample is stored (the delivered registry request's staleness marker
    // is the one a range query leaves out); the final snapshot got through
    assert_eq!(raw_sample_count(&raw) + 1, d.samples_delivered, "{d:?}");
    assert_eq!(held.max(in_spool), generated as f64);
    assert_eq!(held, generated as f64);

    let o = run(&store, &["runs", "push", "pkill", "--out", &out]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{} samples delivered ({} pushes), 0 pushes left", d.samples_spooled, d.pushes_spooled)),
        "{}",
        stdout(&o)
    );
    let raw = prom_raw(&base, "pkill");
    assert_eq!(raw_sample_count(&raw) + 1, d.samples_delivered + d.samples_spooled);
    for (name, m) in &raw {
        // counters and histogram parts only (k6_vus and k6_vus_max are gauges)
        if ["_total", "_count", "_sum", "_bucket"].iter().any(|x| name.ends_with(x)) {
            let bad = non_monotone(m);
            assert!(bad.is_empty(), "{name} drops (a reset, counted twice by increase()): {bad:?}");
        }
    }
    assert_eq!(latest_sum(&raw["k6_http_reqs_total"]), generated as f64);
    let (c, v) = check_json(&store, &["--source", &out, "--run", "pkill"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(observed(&v, "count>0"), generated as f64, "{v}");
    // pushed again: nothing spooled and the run is in the server, so nothing is re-sent
    let o = run(&store, &["runs", "push", "pkill", "--out", &out]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("run pkill is already there and nothing of it is spooled: not re-sent"), "{}", stdout(&o));
    assert_eq!(raw_sample_count(&prom_raw(&base, "pkill")) + 1, d.samples_delivered + d.samples_spooled);
    prom.stop();
    let _ = restarted.wait();
}

/// The generator killed mid-run (`kill -9`): Prometheus holds what was pushed before, and
/// the run's registry still says running. `slo runs push` completes it with one snapshot of
/// the local totals after everything stored: the server's count then equals the local
/// store's, and no counter series drops (no reset for increase() to count twice).
#[test]
fn generator_killed_mid_run_push_completes_the_prometheus_copy() {
    let Some(prom) = start("prometheus", 0) else { return };
    let base = prom.url.clone();
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = s.path().join("g.yaml");
    std::fs::write(
        &f,
        "scenarios:\n  a: {executor: constant-arrival-rate, rate: 50, duration: 30s, preAllocatedVUs: 5}\nthresholds:\n  http_reqs: ['count>0']\nflows:\n  - flow:\n      - get: {url: /api/products}\n",
    )
    .unwrap();
    let out = format!("prometheus={base}");
    let mut child = spawn_slo_run(&store, &f, &srv.url(), &out, "gkill");
    let count_now = || prom_query(&base, "sum(last_over_time(k6_http_reqs_total{testid=\"gkill\"}[1h]))");
    let t = Instant::now();
    while count_now().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(12), "the first push never reached Prometheus");
        std::thread::sleep(Duration::from_millis(100));
    }
    // a few seconds of samples after that push, then the generator dies
    std::thread::sleep(Duration::from_millis(2500));
    let _ = Command::new("kill").arg("-9").arg(child.id().to_string()).status();
    let _ = child.wait();
    let held: f64 = count_now()[0]["value"][1].as_str().unwrap().parse().unwrap();
    let local = generated_requests(&store, "gkill");
    assert!(held < local as f64 && held > 0.0, "server {held}, local {local}");

    let o = run(&store, &["runs", "push", "gkill", "--out", &out]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let raw = prom_raw(&base, "gkill");
    assert_eq!(latest_sum(&raw["k6_http_reqs_total"]), local as f64, "{}", stdout(&o));
    for (name, m) in &raw {
        if ["_total", "_count", "_sum", "_bucket"].iter().any(|x| name.ends_with(x)) {
            let bad = non_monotone(m);
            assert!(bad.is_empty(), "{name} drops (a reset, counted twice by increase()): {bad:?}");
        }
    }
    let (c, v) = check_json(&store, &["--source", &out, "--run", "gkill"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(observed(&v, "count>0"), local as f64, "{v}");
}
