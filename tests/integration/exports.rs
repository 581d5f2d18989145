//! `slo dashboard export` and `slo rules export` through the binary, and every query they
//! write run against REAL servers holding REAL runs against the demo target: Prometheus 2.42
//! (remote-write receiver, the exported rules loaded) with a run of `slo run --out
//! prometheus=` and, in a second Prometheus, real k6's `-o experimental-prometheus-rw`;
//! InfluxDB 1.x with a run of `slo run --out influxdb=` and one of k6's `--out influxdb=`.
//! Grafana's variables are substituted as Grafana would for a 10 minute range
//! (`$__rate_interval` 1m). No synthetic data is left: every series the dashboards and rules
//! read (dropped iterations, failed checks, an odd `name` included) comes from the runs.
//! Each server runs on a free 127.0.0.1 port in a temporary directory and is stopped by pid.
//! Tests skip, printing `SKIPPED:`, when `prometheus`/`promtool`/`influxd`/`k6` are not
//! installed (tests/run.sh installs the servers).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use slo_demo::{DemoConfig, DemoServer};

use crate::util::{code, repo, run, slo, stderr, stdout};

const SEED: &str = "slo/seed.slo-config.yaml";
/// A URL name that needs escaping in PromQL, InfluxQL and line protocol alike.
const ODD_NAME: &str = "it's \"q\" \\x";

fn have(bin: &str) -> bool {
    let ok =
        Command::new("sh").arg("-c").arg(format!("command -v {bin}")).stdout(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
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

// ---- Real runs: `slo run` and k6 against the demo target ----

/// The demo target of every run here: `GET /api/products` answers after a fixed 1.1 s,
/// `GET /api/cart` is a 405 (the route is POST only) and fast. An iteration (two products
/// requests, one cart request) thus has 2/3 of its requests slower than 1.031 s (the
/// sink's bucket above 1 s) and 1/3 failed: every burn-rate alert of the seed config fires.
fn slow_target() -> DemoServer {
    let cfg =
        DemoConfig::from_yaml_str("routes:\n  products: {latency: {kind: fixed, ms: 1100}}\n", "exports target").expect("demo config");
    DemoServer::start("127.0.0.1:0".parse().unwrap(), cfg).expect("demo target")
}

/// 2 iterations/s for 4 s with at most 2 VUs while one iteration takes 2.2 s: about half
/// the iterations are dropped, so `dropped_iterations` has data too. One request per
/// iteration carries [`ODD_NAME`] as its `name`.
fn slo_scenario(dir: &Path) -> String {
    let odd = serde_json::to_string(ODD_NAME).unwrap();
    let p = dir.join("scenario.yaml");
    std::fs::write(
        &p,
        format!(
            "scenarios:\n  a: {{executor: constant-arrival-rate, rate: 2, timeUnit: 1s, duration: 4s, preAllocatedVUs: 2, maxVUs: 2}}\nflows:\n  - flow:\n      - get: {{url: /api/products, name: products, expect: {{statusCode: 200}}}}\n      - get: {{url: /api/products, name: {odd}, expect: {{statusCode: 200}}}}\n      - get: {{url: /api/cart, name: cart, expect: {{statusCode: 200}}}}\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

/// `slo run` of [`slo_scenario`] as run `id` with the given `--out`s; panics unless every
/// sample was delivered.
fn slo_run(dir: &Path, target: &str, id: &str, outs: &[String]) {
    let store = dir.join("store").display().to_string();
    let mut args = vec!["run".to_string(), slo_scenario(dir), "--target".into(), target.into(), "-q".into(), "--run-id".into(), id.into()];
    for o in outs {
        args.push("--out".into());
        args.push(o.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&store, &args);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "slo run: {}\n{out}", stderr(&o));
    for line in out.lines().filter(|l| l.starts_with("out ")) {
        assert!(line.contains(" 0 lost") || line.contains(" 0 samples lost"), "{line}");
    }
}

/// The same load as [`slo_scenario`] written for k6, with `name` tags, checks and thresholds.
fn k6_script(dir: &Path, url: &str) -> String {
    let odd = serde_json::to_string(ODD_NAME).unwrap();
    let p = dir.join("k6.js");
    std::fs::write(
        &p,
        format!(
            "import http from 'k6/http';\nimport {{ check }} from 'k6';\nexport const options = {{\n  scenarios: {{ a: {{ executor: 'constant-arrival-rate', rate: 2, timeUnit: '1s', duration: '4s', preAllocatedVUs: 2, maxVUs: 2 }} }},\n  thresholds: {{ http_req_failed: ['rate<0.5'], checks: ['rate>0.4'], http_req_duration: ['p(95)<5000'] }},\n}};\nexport default function () {{\n  const a = http.get('{url}/api/products', {{ tags: {{ name: 'products' }} }});\n  http.get('{url}/api/products', {{ tags: {{ name: {odd} }} }});\n  const c = http.get('{url}/api/cart', {{ tags: {{ name: 'cart' }} }});\n  check(a, {{ 'status is 200': (r) => r.status === 200 }});\n  check(c, {{ 'status is 200': (r) => r.status === 200 }});\n}}\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

/// Real k6 of [`k6_script`] with `--tag testid=ID`, extra arguments and environment;
/// returns its `--summary-export`.
fn k6_run(dir: &Path, target: &str, id: &str, args: &[&str], envs: &[(&str, String)]) -> Value {
    let summary = dir.join(format!("summary-{id}.json"));
    let mut c = Command::new("k6");
    c.arg("run").args(["--address", "", "--no-usage-report", "-q", "--tag", &format!("testid={id}")]);
    c.arg("--summary-export").arg(&summary).args(args).arg(k6_script(dir, target));
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().expect("k6");
    assert!(o.status.success(), "k6: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap()
}

/// Runs every PromQL query of the `--metrics` dashboard against `base` for run `testid`,
/// as Grafana would (variables substituted by [`grafana_prom`]); returns the failures and
/// the instant results by panel title (first target).
fn run_prom_dashboard(tmp: &Path, base: &str, metrics: &str, testid: &str) -> (Vec<String>, std::collections::BTreeMap<String, f64>) {
    let out = tmp.join(format!("d-{metrics}.json"));
    export(&["dashboard", "export", "--datasource", "prometheus", "--metrics", metrics], &out);
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let queries = slo_report::grafana::dashboard_queries(&d);
    assert!(queries.len() > 20, "{}", queries.len());
    let mut failures = Vec::new();
    let mut values = std::collections::BTreeMap::new();
    for q in queries {
        if q.panel.starts_with("variable") {
            assert_eq!(q.text, "label_values(k6_http_reqs_total, testid)");
            let (s, b) = curl(&[&format!("{base}/api/v1/label/testid/values")]);
            assert_eq!(s, 200);
            if !b.contains(&format!("\"{testid}\"")) {
                failures.push(format!("{metrics} {}: {testid} not among {b}", q.panel));
            }
            continue;
        }
        let expr = grafana_prom(&q.text, testid);
        let v = prom_query(base, &expr, !q.instant);
        assert_eq!(v["status"], "success", "{metrics} {}: {expr}: {v}", q.panel);
        let result = v["data"]["result"].as_array().unwrap();
        if result.is_empty() {
            failures.push(format!("{metrics} panel {:?} {}: no data for {expr}", q.panel, q.ref_id));
        } else if q.instant {
            let x: f64 = result[0]["value"][1].as_str().unwrap().parse().unwrap();
            values.entry(q.panel.clone()).or_insert(x);
        }
    }
    (failures, values)
}

#[test]
fn prometheus_runs_every_exported_query_and_rule_on_real_slo_and_k6_data() {
    if !have("prometheus") || !have("promtool") || !have("curl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The rules exported as a user would, with the default buckets (client_golang's
    // DefBuckets): slo's sink writes those boundaries too, so the latency SLIs' le="0.1",
    // "0.5" and "1" series exist in a real run.
    let rules = tmp.path().join("seed.rules.yml");
    let o = slo().args(["rules", "export", "--config"]).arg(repo(SEED)).arg("--out").arg(&rules).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&rules).unwrap();
    for le in ["0.1", "0.5", "1"] {
        assert!(text.contains(&format!("le=\\\"{le}\\\"")), "le={le} not in {text}");
    }
    let check = Command::new("promtool").args(["check", "rules"]).arg(&rules).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    let target = slow_target();
    let mut failures = Vec::new();

    // (a) a run written by `slo run --out prometheus=...`, into the Prometheus holding the rules
    let prom = start_prometheus(&rules);
    slo_run(tmp.path(), &target.url(), "slo1", &[format!("prometheus={}", prom.base)]);
    let (f, values) = run_prom_dashboard(tmp.path(), &prom.base, "slo", "slo1");
    failures.extend(f);
    // every iteration: 2 products requests of 1.1 s and a fast cart one, so p95 and p99 are
    // 1.1 s, within the sink's ±5 % bucket error (module docs of slo_store::prometheus)
    for panel in ["latency.p95 (time range)", "latency.p99 (time range)"] {
        let x = values.get(panel).copied().unwrap_or(f64::NAN);
        assert!((x - 1.1).abs() <= 0.05 * 1.1 + 0.02, "{panel}: {x} s");
    }
    // 1 of 3 requests fails: availability 66.7 %
    let x = values.get("availability (time range)").copied().unwrap_or(f64::NAN);
    assert!((x - 200.0 / 3.0).abs() < 10.0, "availability {x}");
    let v = prom_query(&prom.base, "sum(k6_http_req_failed_total{testid=\"slo1\"}) / sum(k6_http_reqs_total{testid=\"slo1\"})", false);
    let ratio: f64 = v["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((ratio - 1.0 / 3.0).abs() < 1e-12, "{ratio}");

    // (b) real k6's experimental-prometheus-rw output, in a Prometheus of its own
    let k6_prom = if have("k6") {
        let empty = tmp.path().join("empty.rules.yml");
        std::fs::write(&empty, "groups: []\n").unwrap();
        let p = start_prometheus(&empty);
        let sum = k6_run(
            tmp.path(),
            &target.url(),
            "k6run",
            &["-o", "experimental-prometheus-rw"],
            &[
                ("K6_PROMETHEUS_RW_SERVER_URL", format!("{}/api/v1/write", p.base)),
                // p(50): the seed's latency.p50 SLO reads k6_http_req_duration_p50 (`med` is
                // written as k6_http_req_duration_med, which no panel reads)
                ("K6_PROMETHEUS_RW_TREND_STATS", "p(50),p(95),p(99),min,max,avg,med,count,sum".into()),
                ("K6_PROMETHEUS_RW_PUSH_INTERVAL", "1s".into()),
            ],
        );
        let (f, values) = run_prom_dashboard(tmp.path(), &p.base, "k6", "k6run");
        failures.extend(f);
        // the largest per-series p95 is a products series: k6's own p95 over all requests
        // is the same 1.1 s requests (2/3 of them are that slow)
        let k6_p95 = sum["metrics"]["http_req_duration"]["p(95)"].as_f64().unwrap() / 1000.0;
        let x = values.get("latency.p95 (time range)").copied().unwrap_or(f64::NAN);
        assert!((x - k6_p95).abs() <= 0.05 * k6_p95, "k6 p95 panel {x} s vs k6 summary {k6_p95} s");
        let reqs = sum["metrics"]["http_reqs"]["count"].as_f64().unwrap();
        let v = prom_query(&p.base, "sum(k6_http_reqs_total{testid=\"k6run\"})", false);
        let n: f64 = v["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
        assert_eq!(n, reqs);
        Some(p)
    } else {
        None
    };
    assert!(failures.is_empty(), "queries without data on real runs:\n{}", failures.join("\n"));
    drop(k6_prom);

    // Every rule evaluates without error on slo's run, and every alert fires on its burn.
    let deadline = Instant::now() + Duration::from_secs(30);
    let rules_json = loop {
        let (_, b) = curl(&[&format!("{}/api/v1/rules", prom.base)]);
        let v: Value = serde_json::from_str(&b).unwrap();
        let all: Vec<Value> = v["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).collect();
        let firing = all.iter().filter(|r| r["type"] == "alerting" && r["state"] == "firing").count();
        let alerting = all.iter().filter(|r| r["type"] == "alerting").count();
        if (firing == alerting && alerting > 0) || Instant::now() > deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    for r in &rules_json {
        assert_eq!(r["health"], "ok", "{r}");
    }
    let alerting: Vec<&Value> = rules_json.iter().filter(|r| r["type"] == "alerting").collect();
    // Seed: availability 4 tiers, p50/p95/p99/error_rate 1 each, throughput 1.
    assert_eq!(alerting.len(), 9);
    let not_firing: Vec<&&Value> = alerting.iter().filter(|r| r["state"] != "firing").collect();
    assert!(not_firing.is_empty(), "not every alert fired: {not_firing:#?}");
    let recording = rules_json.iter().filter(|r| r["type"] == "recording").count();
    assert!(recording >= 20, "{recording}");
    for r in &rules_json {
        let expr = r["query"].as_str().unwrap();
        let v = prom_query(&prom.base, expr, false);
        assert!(!v["data"]["result"].as_array().unwrap().is_empty(), "rule {} returned no data: {expr}", r["name"]);
    }
    // The recorded error ratio over 5m: rate() extrapolates each counter from its two or
    // three pushes, so it is near, not at, the 1/3 the counters hold.
    let v = prom_query(&prom.base, "slo:sli_error:ratio_rate5m{slo=\"availability\"}", false);
    let ratio: f64 = v["data"]["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(ratio > 0.2 && ratio < 0.5, "{ratio}");
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

/// Runs every InfluxQL query of the influxdb dashboard against database `db` for run
/// `testid`, with Grafana's variables substituted (a 10 minute range); returns the
/// failures.
fn run_influx_dashboard(influx: &Server, tmp: &Path, db: &str, testid: &str) -> Vec<String> {
    let q = format!("{}/query", influx.base);
    let out = tmp.join("d-influx.json");
    export(&["dashboard", "export", "--datasource", "influxdb"], &out);
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let queries = slo_report::grafana::dashboard_queries(&d);
    assert!(queries.len() > 15);
    let mut failures = Vec::new();
    for pq in queries {
        let text = influx_text(&pq.text, testid);
        let (status, body) = curl(&["-G", &q, "--data-urlencode", &format!("db={db}"), "--data-urlencode", &format!("q={text}")]);
        assert_eq!(status, 200, "{}: {text}: {body}", pq.panel);
        let v: Value = serde_json::from_str(&body).unwrap();
        let r = &v["results"][0];
        assert!(r.get("error").is_none(), "{}: {text}: {body}", pq.panel);
        let series = r["series"].as_array().map(|s| s.len()).unwrap_or(0);
        if series == 0 {
            failures.push(format!("{db}: panel {:?}: no data for {text}", pq.panel));
        }
        if pq.panel.starts_with("variable") && !body.contains(&format!("\"{testid}\"")) {
            failures.push(format!("{db}: {testid} not among {body}"));
        }
    }
    failures
}

/// Grafana's InfluxQL variables for a 10 minute range: `$timeFilter`, `$__interval` (10s),
/// `$__range_s`, `$testid` (a plain id: nothing to regex-escape).
fn influx_text(text: &str, testid: &str) -> String {
    text.replace("$timeFilter", "time > now() - 10m").replace("$__interval", "10s").replace("$__range_s", "600").replace("$testid", testid)
}

/// The number of `http_reqs` points of run `testid` whose `name` is [`ODD_NAME`], through
/// the SLO stat query of a config filtering on that name: escaping agrees end to end.
fn odd_name_count(influx: &Server, tmp: &Path, db: &str, testid: &str) -> f64 {
    let cfg = tmp.join("odd.yaml");
    std::fs::write(&cfg, "service: s\nslos:\n  availability: {target: 99, window: 7d, filter: {name: \"it's \\\"q\\\" \\\\x\"}}\n")
        .unwrap();
    let o = slo().args(["dashboard", "export", "--datasource", "influxdb", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    let stat = slo_report::grafana::dashboard_queries(&d).into_iter().find(|q| q.panel == "availability (time range)").unwrap();
    assert!(stat.text.contains("100 - mean(\"value\") * 100"), "{}", stat.text);
    let text = influx_text(&stat.text, testid).replace("100 - mean(\"value\") * 100", "count(\"value\")");
    let (_, body) =
        curl(&["-G", &format!("{}/query", influx.base), "--data-urlencode", &format!("db={db}"), "--data-urlencode", &format!("q={text}")]);
    let v: Value = serde_json::from_str(&body).unwrap();
    v["results"][0]["series"][0]["values"][0][1].as_f64().unwrap_or_else(|| panic!("{text}: {body}"))
}

#[test]
fn influxdb_runs_every_exported_query_on_real_slo_and_k6_data() {
    if !have("influxd") || !have("curl") {
        return;
    }
    let influx = start_influxdb();
    let tmp = tempfile::tempdir().unwrap();
    let target = slow_target();
    slo_run(tmp.path(), &target.url(), "slo1", &[format!("influxdb={}/slo", influx.base)]);
    let mut failures = run_influx_dashboard(&influx, tmp.path(), "slo", "slo1");
    // one odd-named request per completed iteration, as many as cart requests
    let odd = odd_name_count(&influx, tmp.path(), "slo", "slo1");
    let q = "SELECT count(\"value\") FROM \"http_reqs\" WHERE \"testid\" = 'slo1' AND \"name\" = 'cart'";
    let (_, body) = curl(&["-G", &format!("{}/query", influx.base), "--data-urlencode", "db=slo", "--data-urlencode", &format!("q={q}")]);
    let cart = serde_json::from_str::<Value>(&body).unwrap()["results"][0]["series"][0]["values"][0][1].as_f64().unwrap();
    assert!(odd > 0.0 && odd == cart, "odd {odd}, cart {cart}");

    if have("k6") {
        let sum = k6_run(tmp.path(), &target.url(), "k6run", &["--out", &format!("influxdb={}/k6db", influx.base)], &[]);
        failures.extend(run_influx_dashboard(&influx, tmp.path(), "k6db", "k6run"));
        // k6's own count: one odd-named request per iteration
        let iterations = sum["metrics"]["iterations"]["count"].as_f64().unwrap();
        assert_eq!(odd_name_count(&influx, tmp.path(), "k6db", "k6run"), iterations);
    }
    assert!(failures.is_empty(), "queries without data on real runs:\n{}", failures.join("\n"));
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
