//! `slo dashboard export` and `slo rules export` through the binary, and every query they
//! write run against REAL servers holding data: Prometheus 2.42 (remote-write receiver,
//! the exported rules loaded) and InfluxDB 1.x. Each server runs on a free 127.0.0.1 port
//! in a temporary directory and is stopped by pid. Tests skip, saying so, when
//! `prometheus`/`promtool`/`influxd` are not installed (tests/run.sh installs them).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::util::{code, repo, slo, stderr};

const SEED: &str = "slo/seed.slo-config.yaml";
/// A URL name that needs escaping in PromQL, InfluxQL and line protocol alike.
const ODD_NAME: &str = "it's \"q\" \\x";

fn have(bin: &str) -> bool {
    let ok = Command::new("sh").arg("-c").arg(format!("command -v {bin}")).stdout(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: `{bin}` is not installed (apt-get install -y prometheus influxdb; tests/run.sh does it)");
    }
    ok
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process, killed (by its pid) and reaped on drop.
struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

/// `curl` with `args`; returns (HTTP status, body). Bounded to 20 s.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl").args(["-sS", "-m", "20", "-w", "\n%{http_code}"]).args(args).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn wait_ready(url: &str, want: u16, server: &Server, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if curl(&[url]).0 == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} not ready in 30 s; log:\n{}", server.log(log));
}

fn export(args: &[&str], out: &Path) {
    let o = slo().args(args).arg("--config").arg(repo(SEED)).arg("--out").arg(out).output().unwrap();
    assert_eq!(code(&o), 0, "slo {args:?}: {}", stderr(&o));
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

// ---- Prometheus remote write (protobuf + literal-only snappy block, as tools/promrw.py) ----

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn field(num: u64, data: &[u8], out: &mut Vec<u8>) {
    varint((num << 3) | 2, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

/// One series: labels (any order; sorted here) and (value, ms) samples.
type Series = (Vec<(String, String)>, Vec<(f64, i64)>);

fn write_request(series: &[Series]) -> Vec<u8> {
    let mut req = Vec::new();
    for (labels, samples) in series {
        let mut labels = labels.clone();
        labels.sort();
        let mut ts = Vec::new();
        for (k, v) in &labels {
            let mut l = Vec::new();
            field(1, k.as_bytes(), &mut l);
            field(2, v.as_bytes(), &mut l);
            field(1, &l, &mut ts);
        }
        for (v, t) in samples {
            let mut s = vec![0x09];
            s.extend_from_slice(&v.to_le_bytes());
            s.push(0x10);
            varint(*t as u64, &mut s);
            field(2, &s, &mut ts);
        }
        field(1, &ts, &mut req);
    }
    let mut out = Vec::new();
    varint(req.len() as u64, &mut out);
    for chunk in req.chunks(65536) {
        let n = chunk.len() - 1;
        if n < 60 {
            out.push((n as u8) << 2);
        } else if n < 256 {
            out.extend_from_slice(&[60 << 2, n as u8]);
        } else {
            out.push(61 << 2);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        out.extend_from_slice(chunk);
    }
    out
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// 10 minutes of a small test every 15 s: three endpoints (one failing, one with an odd
/// name), a third of the requests failing and 60 % slower than 1 s, so every burn-rate
/// alert of the seed config fires; slo's layout under testid `t1`, k6's under `k6run`.
fn synthetic_series(now: i64) -> Vec<Series> {
    let times: Vec<i64> = (0..=40).map(|i| now - (40 - i) * 15_000).collect();
    let counter = |per_step: f64| -> Vec<(f64, i64)> { times.iter().enumerate().map(|(i, t)| (per_step * i as f64, *t)).collect() };
    let gauge = |v: f64| -> Vec<(f64, i64)> { times.iter().map(|t| (v, *t)).collect() };
    let mut s: Vec<Series> = Vec::new();
    let endpoints = [("GET", "home", "200", "true"), ("POST", "login", "500", "false"), ("GET", ODD_NAME, "200", "true")];
    for (method, name, status, expected) in endpoints {
        let base = [("testid", "t1"), ("scenario", "default"), ("name", name), ("method", method), ("status", status), ("expected_response", expected)];
        let with = |metric: &str, extra: &[(&str, &str)]| {
            let mut v = l(&base);
            v.push(("__name__".into(), metric.into()));
            v.extend(l(extra));
            v
        };
        s.push((with("k6_http_reqs_total", &[]), counter(150.0)));
        s.push((with("k6_http_req_failed_total", &[]), counter(if status == "500" { 150.0 } else { 0.0 })));
        for le in ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"] {
            let share = if le.parse::<f64>().map_or(true, |v| v > 1.0) { 1.0 } else { 0.4 };
            s.push((with("k6_http_req_duration_seconds_bucket", &[("le", le)]), counter(150.0 * share)));
        }
        s.push((with("k6_http_req_duration_seconds_count", &[]), counter(150.0)));
        s.push((with("k6_http_req_duration_seconds_sum", &[]), counter(150.0 * 1.2)));
        // k6's own output: url label, trend stats as gauges (seconds).
        let k6 = |metric: &str| {
            let mut v = l(&base);
            v.retain(|(k, _)| k != "testid");
            v.push(("testid".into(), "k6run".into()));
            v.push(("url".into(), format!("http://127.0.0.1/{name}")));
            v.push(("__name__".into(), metric.into()));
            v
        };
        s.push((k6("k6_http_reqs_total"), counter(150.0)));
        for (stat, v) in [("p50", 0.05), ("p95", 0.4), ("p99", 0.9)] {
            s.push((k6(&format!("k6_http_req_duration_{stat}")), gauge(v)));
        }
        s.push((k6("k6_http_req_failed_rate"), gauge(if status == "500" { 1.0 } else { 0.0 })));
    }
    for testid in ["t1", "k6run"] {
        let sc = |metric: &str, extra: &[(&str, &str)]| {
            let mut v = l(&[("__name__", metric), ("testid", testid), ("scenario", "default")]);
            v.extend(l(extra));
            v
        };
        s.push((sc("k6_iterations_total", &[]), counter(150.0)));
        s.push((sc("k6_dropped_iterations_total", &[]), counter(2.0)));
        s.push((sc("k6_data_sent_total", &[]), counter(15000.0)));
        s.push((sc("k6_data_received_total", &[]), counter(90000.0)));
        s.push((sc("k6_checks_total", &[("check", "status is 200"), ("result", "pass")]), counter(100.0)));
        s.push((sc("k6_checks_total", &[("check", "status is 200"), ("result", "fail")]), counter(50.0)));
        s.push((sc("k6_checks_rate", &[("check", "status is 200")]), gauge(0.66)));
        s.push((l(&[("__name__", "k6_vus"), ("testid", testid)]), gauge(5.0)));
        s.push((l(&[("__name__", "k6_vus_max"), ("testid", testid)]), gauge(10.0)));
    }
    s.push((l(&[("__name__", "slo_run_info"), ("testid", "t1"), ("status", "running"), ("scenario", "default")]), gauge(1.0)));
    s
}

fn start_prometheus(rules: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: [{}]\nstorage:\n  tsdb:\n    out_of_order_time_window: 1h\n",
            serde_json::to_string(&rules.display().to_string()).unwrap()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("p.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(["--web.enable-remote-write-receiver", "--enable-feature=native-histograms", "--log.level=warn"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn prometheus");
    let s = Server { child, base: format!("http://127.0.0.1:{port}"), dir };
    wait_ready(&format!("{}/-/ready", s.base), 200, &s, "p.log");
    s
}

fn prom_query(base: &str, expr: &str, range: bool) -> Value {
    let now = now_ms() as f64 / 1000.0;
    let (path, extra) = if range {
        ("query_range", vec![format!("start={}", now - 600.0), format!("end={now}"), "step=15".to_string()])
    } else {
        ("query", vec![format!("time={now}")])
    };
    let url = format!("{base}/api/v1/{path}");
    let q = format!("query={expr}");
    let mut args = vec!["-G", &url, "--data-urlencode", &q];
    for e in &extra {
        args.push("--data-urlencode");
        args.push(e);
    }
    let (status, body) = curl(&args);
    assert_eq!(status, 200, "{expr}: HTTP {status}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn grafana_prom(expr: &str, testid: &str) -> String {
    expr.replace("$testid", testid).replace("$__rate_interval", "1m").replace("$__range", "10m").replace("$__interval", "15s")
}

#[test]
fn prometheus_runs_every_exported_query_and_rule() {
    if !have("prometheus") || !have("promtool") || !have("curl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("seed.rules.yml");
    let o = slo().args(["rules", "export", "--config"]).arg(repo(SEED)).arg("--out").arg(&rules).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: slo/seed.slo-config.yaml:14:5: slos.latency.p95: alert tiers page 6h/30m") || stderr(&o).contains("slos.latency.p95: alert tiers page 6h/30m"), "{}", stderr(&o));
    let check = Command::new("promtool").args(["check", "rules"]).arg(&rules).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    let prom = start_prometheus(&rules);
    let body = tmp.path().join("body.bin");
    std::fs::write(&body, write_request(&synthetic_series(now_ms()))).unwrap();
    let url = format!("{}/api/v1/write", prom.base);
    let (status, text) = curl(&[
        "-X", "POST", "-H", "Content-Type: application/x-protobuf", "-H", "Content-Encoding: snappy",
        "-H", "X-Prometheus-Remote-Write-Version: 0.1.0", "--data-binary", &format!("@{}", body.display()), &url,
    ]);
    assert_eq!(status, 204, "remote write: {text}\n{}", prom.log("p.log"));

    // Every dashboard query returns data (slo's layout under t1, k6's under k6run).
    for (metrics, testid) in [("slo", "t1"), ("k6", "k6run")] {
        let out = tmp.path().join(format!("d-{metrics}.json"));
        export(&["dashboard", "export", "--datasource", "prometheus", "--metrics", metrics], &out);
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let queries = slo_report::grafana::dashboard_queries(&d);
        assert!(queries.len() > 20, "{}", queries.len());
        for q in queries {
            if q.panel.starts_with("variable") {
                let (s, b) = curl(&[&format!("{}/api/v1/label/testid/values", prom.base)]);
                assert_eq!(s, 200);
                assert!(b.contains(testid), "{b}");
                assert_eq!(q.text, "label_values(k6_http_reqs_total, testid)");
                continue;
            }
            let expr = grafana_prom(&q.text, testid);
            let v = prom_query(&prom.base, &expr, !q.instant);
            assert_eq!(v["status"], "success", "{metrics} {}: {expr}: {v}", q.panel);
            let result = v["data"]["result"].as_array().unwrap();
            assert!(!result.is_empty(), "{metrics} panel {:?} {}: no data for {expr}", q.panel, q.ref_id);
        }
    }

    // Every rule evaluates without error and every alert fires on this burn.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (rules_json, alerts) = loop {
        let (_, b) = curl(&[&format!("{}/api/v1/rules", prom.base)]);
        let v: Value = serde_json::from_str(&b).unwrap();
        let all: Vec<Value> = v["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).collect();
        let firing = all.iter().filter(|r| r["type"] == "alerting" && r["state"] == "firing").count();
        let alerting = all.iter().filter(|r| r["type"] == "alerting").count();
        if (firing == alerting && alerting > 0) || Instant::now() > deadline {
            break (all, firing);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    for r in &rules_json {
        assert_eq!(r["health"], "ok", "{r}");
    }
    let alerting: Vec<&Value> = rules_json.iter().filter(|r| r["type"] == "alerting").collect();
    // Seed: availability 4 tiers, p50/p95/p99/error_rate 1 each, throughput 1.
    assert_eq!(alerting.len(), 9);
    assert_eq!(alerts, alerting.len(), "not every alert fired: {alerting:#?}");
    for r in &rules_json {
        let expr = r["query"].as_str().unwrap();
        let v = prom_query(&prom.base, expr, false);
        assert!(!v["data"]["result"].as_array().unwrap().is_empty(), "rule {} returned no data: {expr}", r["name"]);
    }
    // The recorded error ratio over 5m: rules read every k6_http_reqs_total series, here six
    // equal ones (three of testid t1, three written as k6 would under k6run), and one
    // k6_http_req_failed_total series as large as one of them: 1/6.
    let v = prom_query(&prom.base, "slo:sli_error:ratio_rate5m{slo=\"availability\"}", false);
    let ratio: f64 = v["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((ratio - 1.0 / 6.0).abs() < 1e-9, "{ratio}");
}

// ---- InfluxDB ----

fn start_influxdb() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (port, rpc) = (free_port(), free_port());
    let d = dir.path().display().to_string();
    let cfg = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[monitor]\n  store-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n[logging]\n  level = \"warn\"\n"
    );
    std::fs::write(dir.path().join("influxdb.conf"), cfg).unwrap();
    let log = std::fs::File::create(dir.path().join("influxd.log")).unwrap();
    let child = Command::new("influxd")
        .arg("run")
        .arg("-config")
        .arg(dir.path().join("influxdb.conf"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn influxd");
    let s = Server { child, base: format!("http://127.0.0.1:{port}"), dir };
    wait_ready(&format!("{}/ping", s.base), 204, &s, "influxd.log");
    s
}

/// Line-protocol tag value: `,`, `=` and spaces backslash-escaped.
fn lp_tag(v: &str) -> String {
    v.replace(',', "\\,").replace('=', "\\=").replace(' ', "\\ ")
}

/// 60 seconds of points, one a second, for the measurements k6's `--out influxdb` writes.
fn line_protocol(now_ns: i64) -> String {
    let mut lines = Vec::new();
    let endpoints = [("GET", "home", "200", "true"), ("POST", "login", "500", "false"), ("GET", ODD_NAME, "200", "true")];
    for i in 0..60i64 {
        let t = now_ns - (60 - i) * 1_000_000_000;
        for (j, (method, name, status, expected)) in endpoints.iter().enumerate() {
            let tags = format!(
                "expected_response={expected},method={method},name={},scenario=default,status={status},testid=t1,url={}",
                lp_tag(name),
                lp_tag(&format!("http://127.0.0.1/{name}"))
            );
            let t = t + j as i64; // distinct timestamps per endpoint
            lines.push(format!("http_reqs,{tags} value=1 {t}"));
            lines.push(format!("http_req_duration,{tags} value={} {t}", 50.0 + (i * 7 % 400) as f64));
            lines.push(format!("http_req_failed,{tags} value={} {t}", if *status == "500" { 1 } else { 0 }));
        }
        let base = "scenario=default,testid=t1";
        lines.push(format!("vus,testid=t1 value=5 {t}"));
        lines.push(format!("vus_max,testid=t1 value=10 {t}"));
        lines.push(format!("iterations,{base} value=1 {t}"));
        lines.push(format!("dropped_iterations,{base} value=1 {t}"));
        lines.push(format!("checks,check=status\\ is\\ 200,{base} value={} {t}", i % 3 % 2));
    }
    lines.join("\n") + "\n"
}

#[test]
fn influxdb_runs_every_exported_query() {
    if !have("influxd") || !have("curl") {
        return;
    }
    let influx = start_influxdb();
    let q = format!("{}/query", influx.base);
    assert_eq!(curl(&["-X", "POST", &q, "--data-urlencode", "q=CREATE DATABASE k6"]).0, 200);
    let tmp = tempfile::tempdir().unwrap();
    let body = tmp.path().join("points.lp");
    let now_ns = now_ms() * 1_000_000;
    std::fs::write(&body, line_protocol(now_ns)).unwrap();
    let (status, text) = curl(&["-X", "POST", &format!("{}/write?db=k6", influx.base), "--data-binary", &format!("@{}", body.display())]);
    assert_eq!(status, 204, "write: {text}");

    let out = tmp.path().join("d.json");
    export(&["dashboard", "export", "--datasource", "influxdb"], &out);
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let queries = slo_report::grafana::dashboard_queries(&d);
    assert!(queries.len() > 15);
    for pq in queries {
        let text = pq
            .text
            .replace("$timeFilter", "time > now() - 10m")
            .replace("$__interval", "10s")
            .replace("$__range_s", "600")
            .replace("$testid", "t1");
        let (status, body) = curl(&["-G", &q, "--data-urlencode", "db=k6", "--data-urlencode", &format!("q={text}")]);
        assert_eq!(status, 200, "{}: {text}: {body}", pq.panel);
        let v: Value = serde_json::from_str(&body).unwrap();
        let r = &v["results"][0];
        assert!(r.get("error").is_none(), "{}: {text}: {body}", pq.panel);
        let series = r["series"].as_array().map(|s| s.len()).unwrap_or(0);
        assert!(series > 0, "panel {:?}: no data for {text}", pq.panel);
        if pq.panel.starts_with("variable") {
            assert!(body.contains("\"t1\""), "{body}");
        }
    }

    // A filter on the odd name matches exactly its 60 points: escaping agrees end to end.
    let cfg = tmp.path().join("odd.yaml");
    std::fs::write(&cfg, "service: s\nslos:\n  availability: {target: 99, window: 7d, filter: {name: \"it's \\\"q\\\" \\\\x\"}}\n").unwrap();
    let o = slo().args(["dashboard", "export", "--datasource", "influxdb", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    let stat = slo_report::grafana::dashboard_queries(&d).into_iter().find(|q| q.panel == "availability (time range)").unwrap();
    let text = stat.text.replace("$timeFilter", "time > now() - 10m").replace("$testid", "t1").replace("100 - mean(\"value\") * 100", "count(\"value\")");
    let (_, body) = curl(&["-G", &q, "--data-urlencode", "db=k6", "--data-urlencode", &format!("q={text}")]);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["results"][0]["series"][0]["values"][0][1], 60, "{text}: {body}");
}

#[test]
fn rules_export_refuses_a_window_shorter_than_its_alert_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("short.yaml");
    std::fs::write(&cfg, "service: s\nslos:\n  error_rate: {target: 1%, window: 30m}\n").unwrap();
    let o = slo().args(["rules", "export", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains(&format!("{}:3:3: slos.error_rate: no burn-rate alert", cfg.display())), "{}", stderr(&o));
    let cfg2 = tmp.path().join("pct.yaml");
    std::fs::write(&cfg2, "service: s\nslos:\n  availability: {target: 120%, window: 30d}\n").unwrap();
    let o = slo().args(["rules", "export", "--config"]).arg(&cfg2).output().unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains(&format!("{}:3:", cfg2.display())), "{}", stderr(&o));
    let o = slo().args(["dashboard", "export", "--config"]).arg(tmp.path().join("missing.yaml")).output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}
