//! `slo run` and `slo demo` end to end: the real binary against the demo target
//! (`slo_demo::DemoServer`, `fast` profile: no delay, no error) started in the test
//! process. Expected counts come from the executors' definitions (rate × duration,
//! VUs × iterations) and from the target's own request counters, never from slo.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use slo_demo::{DemoConfig, DemoServer, Route};
use slo_store::{LocalStore, ScanOptions};

use crate::util::{check_json, code, repo, run, stderr, stdout, Scratch};

fn target() -> DemoServer {
    DemoServer::start("127.0.0.1:0".parse().unwrap(), DemoConfig::fast()).expect("demo target")
}

fn write(s: &Scratch, name: &str, text: &str) -> String {
    let p = s.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// `slo run FILE --target URL -q [extra] --store STORE`.
fn slo_run(store: &str, file: &str, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", file, "--target", url, "-q"];
    args.extend_from_slice(extra);
    run(store, &args)
}

/// A run's end-of-test summary of every metric (`slo runs show --format json`).
fn metrics(store: &str, run: &str) -> Value {
    let o = crate::util::run(store, &["runs", "show", run, "--format", "json"]);
    assert_eq!(code(&o), 0, "runs show {run}: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("runs show JSON");
    v["summary"].clone()
}

fn count(m: &Value, metric: &str) -> f64 {
    m[metric]["count"].as_f64().unwrap_or_else(|| panic!("{metric} has no count: {}", m[metric]))
}

fn runs(store: &str) -> Vec<Value> {
    let o = run(store, &["runs", "list", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout).unwrap().as_array().unwrap().clone()
}

/// Spawns `slo run` as a child process (for signals).
fn spawn_run(store: &str, file: &str, url: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("slo"))
        .args(["run", file, "--target", url, "-q", "--store", store])
        .env_remove("SLO_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn slo run")
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill");
    assert!(st.success());
}

/// Waits for a child at most `limit`, killing it past that.
fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("slo run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn constant_arrival_rate_200_per_s_for_10_s_gives_2000_iterations() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "car.yaml",
        "scenarios:\n  car: {executor: constant-arrival-rate, rate: 200, timeUnit: 1s, duration: 10s, preAllocatedVUs: 20, maxVUs: 200}\nflows:\n  - flow:\n      - get: {url: /health}\n",
    );
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "car"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m = metrics(&store, "car");
    // 200/s × 10 s = 2000 arrivals, ±1 %
    let it = count(&m, "iterations");
    assert!((1980.0..=2020.0).contains(&it), "iterations {it}");
    // every request the target answered is recorded, and nothing else
    assert_eq!(count(&m, "http_reqs"), srv.stats().route(Route::Health).requests as f64);
    assert_eq!(count(&m, "http_reqs"), it);
    // the open model records its scheduling lag for every request
    assert_eq!(m["slo_scheduling_lag"]["count"].as_u64(), Some(it as u64));
    // the run folder holds one Parquet part per second at least (kill -9 loses ≤ 1 s)
    let parts = std::fs::read_dir(Path::new(&store).join("runs/car"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".parquet"));
    assert!(parts.count() >= 10);
}

#[test]
fn per_vu_and_shared_iterations_are_exact() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "pvu.yaml",
        "scenarios:\n  p: {executor: per-vu-iterations, vus: 5, iterations: 7}\nflows:\n  - flow:\n      - get: {url: /api/products}\n      - get: {url: /health}\n",
    );
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "pvu"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m = metrics(&store, "pvu");
    // 5 VUs × 7 iterations = 35; 2 requests each = 70
    assert_eq!(count(&m, "iterations"), 35.0);
    assert_eq!(count(&m, "http_reqs"), 70.0);
    assert_eq!(srv.stats().route(Route::Products).requests, 35);
    assert_eq!(m["vus_max"]["value"].as_f64(), Some(5.0));

    let f = write(
        &s,
        "shared.yaml",
        "scenarios:\n  s: {executor: shared-iterations, vus: 4, iterations: 25}\nflows:\n  - flow:\n      - get: {url: /api/cart, name: never}\n      - get: {url: /admin/dashboard}\n",
    );
    let before = srv.stats().route(Route::AdminDashboard).requests;
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "shared"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m = metrics(&store, "shared");
    assert_eq!(count(&m, "iterations"), 25.0);
    assert_eq!(srv.stats().route(Route::AdminDashboard).requests - before, 25);
    // GET /api/cart is a 405 on the demo target: counted as failed requests
    assert_eq!(m["http_req_failed"]["passes"].as_u64(), Some(25));
}

/// The `vus` gauge readings of a run, in time order.
fn vu_timeline(store: &str, run: &str) -> Vec<f64> {
    let st = LocalStore::open(store).unwrap();
    let meta = st.resolve(run).unwrap();
    let opts = ScanOptions { metrics: Some(vec!["vus".into()]), ..Default::default() };
    let mut pts = st.read_points(&meta, &opts).unwrap();
    pts.sort_by_key(|p| p.time_ns);
    pts.into_iter().map(|p| p.value).collect()
}

#[test]
fn constant_and_ramping_vus_have_plausible_vu_timelines() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "cvus.yaml",
        "scenarios:\n  c: {executor: constant-vus, vus: 4, duration: 3s}\nflows:\n  - flow:\n      - get: {url: /health}\n      - think: 0.02\n",
    );
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "cvus"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let vus = vu_timeline(&store, "cvus");
    // readings at 1 s and 2 s: 4 VUs; the last one after the end: 0
    assert!(vus.iter().filter(|v| **v == 4.0).count() >= 2, "{vus:?}");
    assert!(vus.iter().all(|v| *v <= 4.0), "{vus:?}");
    // 4 VUs looping ~every 20 ms for 3 s: far more than 4 iterations, at most 4 × 3 s / 20 ms
    let it = count(&metrics(&store, "cvus"), "iterations");
    assert!((40.0..=600.0).contains(&it), "{it}");

    // 0 → 6 VUs over 3 s, hold 2 s (two gauge readings at 6 even on a loaded machine): one more VU every 0.5 s; the gauge never decreases
    // before the end and reaches 6.
    let f = write(
        &s,
        "rvus.yaml",
        "scenarios:\n  r:\n    executor: ramping-vus\n    startVUs: 0\n    stages: [{duration: 3s, target: 6}, {duration: 2s, target: 6}]\n    gracefulRampDown: 0s\nflows:\n  - flow:\n      - get: {url: /health}\n      - think: 0.02\n",
    );
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "rvus"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let vus = vu_timeline(&store, "rvus");
    let peak = vus.iter().position(|v| *v == 6.0).unwrap_or_else(|| panic!("never 6 VUs: {vus:?}"));
    assert!(vus[..=peak].windows(2).all(|w| w[0] <= w[1]), "{vus:?}");
    assert!(vus.iter().all(|v| *v <= 6.0), "{vus:?}");
    // at 1 s: 6·1/3 = 2 VUs (±1 for the reading's timing)
    assert!((1.0..=3.0).contains(&vus[0]), "{vus:?}");
}

#[test]
fn captures_expect_loop_think_and_feeders() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    write(&s, "users.csv", "ann,pw1\nbob,pw2\ncid,pw3\n");
    let f = write(
        &s,
        "flow.yaml",
        r#"config:
  payload: {path: users.csv, fields: [user, pw], order: sequence}
  defaults: {headers: {Content-Type: application/json}}
scenarios:
  f: {executor: per-vu-iterations, vus: 2, iterations: 3}
flows:
  - flow:
      - post:
          url: /auth/login
          json: {username: '{{ user }}', password: '{{ pw }}'}
          capture: {json: $.token, as: token}
          expect: [{statusCode: 200}, {hasProperty: token}]
      - get:
          url: /api/products
          headers: {Authorization: 'Bearer {{ token }}'}
          capture: [{json: '$.data[0].id', as: pid}]
          expect: {hasProperty: data}
      - loop:
          - get: {url: '/api/products/{{ pid }}', name: product}
          - think: 0.02
        count: 3
      - get: {url: /api/products/999, name: missing, expect: {statusCode: 200}}
"#,
    );
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "flow"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let st = srv.stats();
    // 2 VUs × 3 iterations = 6 iterations: 6 logins, 6 listings, 18 product details
    // (captured id), 6 misses (404)
    assert_eq!(st.route(Route::Login).status_2xx, 6);
    assert_eq!(st.route(Route::Products).requests, 6);
    assert_eq!(st.route(Route::ProductDetail).status_2xx, 18);
    assert_eq!(st.route(Route::ProductDetail).status_4xx, 6);
    let m = metrics(&store, "flow");
    assert_eq!(count(&m, "http_reqs"), 36.0);
    // checks: per iteration 2 (login) + 1 (listing) pass, 1 (missing) fails → 18 of 24
    assert_eq!(m["checks"]["passes"].as_u64(), Some(18));
    assert_eq!(m["checks"]["total"].as_u64(), Some(24));
    // the loop's requests carry the step name, not the expanded URL
    let (_, v) = check_json(
        &store,
        &[
            "--run",
            "flow",
            "--k6-options",
            &write(
                &s,
                "o.json",
                r#"{"thresholds": {"http_reqs{name:product}": ["count==18"], "http_reqs{name:missing,status:404}": ["count==6"]}}"#,
            ),
        ],
    );
    assert_eq!(v["verdict"], "pass", "{v}");
    // every iteration thought 3 × 20 ms at least
    assert!(m["iteration_duration"]["min"].as_f64().unwrap() >= 60.0);
}

#[test]
fn reference_artillery_yaml_runs_with_max_duration() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let t = Instant::now();
    let o = slo_run(&store, &repo("slo/artillery.yaml").display().to_string(), &srv.url(), &["--max-duration", "4s", "--run-id", "art"]);
    // ensure p95 ≤ 500 ms and ≤ 1 % errors hold on the fast target
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    let r = runs(&store);
    assert_eq!(r[0]["state"], "complete");
    let m = metrics(&store, "art");
    let st = srv.stats();
    // warm-up phase: 5 arrivals/s for 4 s → at most 21 iterations started; those still
    // thinking (2 s in the API flow) at the cut are stopped, not completed
    let it = count(&m, "iterations");
    assert!((4.0..=21.0).contains(&it), "{it}");
    // every started iteration logged in or browsed: logins + browse-only iterations ≥ completed
    assert!((st.route(Route::Login).requests as f64) <= 21.0);
    assert_eq!(count(&m, "http_reqs"), st.total as f64);
    assert_eq!(st.route(Route::NotFound).requests, 0);
    assert!(stdout(&o).contains("http_req_duration"), "{}", stdout(&o));
}

#[test]
fn four_segments_add_up_to_one_full_run() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "seg.yaml",
        "scenarios:\n  s: {executor: shared-iterations, vus: 4, iterations: 30}\n  r: {executor: constant-arrival-rate, rate: 50, duration: 3s, preAllocatedVUs: 10}\nflows:\n  - flow:\n      - get: {url: /health}\n",
    );
    let url = srv.url();
    let o = slo_run(&store, &f, &url, &["--run-id", "full"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // 30 shared iterations + 50/s × 3 s = 180
    let full = count(&metrics(&store, "full"), "iterations");
    assert_eq!(full, 180.0);
    // four generators at once, as a Kubernetes Indexed Job would run them
    let segs = ["0:1/4", "1/4:2/4", "2/4:3/4", "3/4:1"];
    let children: Vec<Child> = segs
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            Command::new(assert_cmd::cargo::cargo_bin("slo"))
                .args(["run", &f, "--target", &url, "-q", "--segment", seg, "--run-id", &format!("seg{i}"), "--store", &store])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = wait_bounded(c, Duration::from_secs(30));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let sum: f64 = (0..4).map(|i| count(&metrics(&store, &format!("seg{i}")), "iterations")).sum();
    assert_eq!(sum, 180.0);
    assert_eq!(srv.stats().route(Route::Health).requests, 360);
}

#[test]
fn kill_9_keeps_all_but_the_last_second() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "long.yaml",
        "scenarios:\n  r: {executor: constant-arrival-rate, rate: 100, duration: 60s, preAllocatedVUs: 10}\nflows:\n  - flow:\n      - get: {url: /health}\n",
    );
    let child = spawn_run(&store, &f, &srv.url());
    // Parts are closed every second, so kill -9 loses at most the last second or so:
    // after 30 s that is under 5 % of what the target logged.
    std::thread::sleep(Duration::from_secs(30));
    signal(&child, "-KILL");
    let _ = wait_bounded(child, Duration::from_secs(5));
    let served = srv.stats().total;
    assert!(served >= 2500, "{served}");
    let r = runs(&store);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["state"], "incomplete", "{}", r[0]);
    let id = r[0]["id"].as_str().unwrap().to_string();
    let m = metrics(&store, &id);
    let recorded = count(&m, "http_reqs");
    assert!(recorded >= 0.95 * served as f64, "recorded {recorded} of the {served} requests the target logged before kill -9");
    assert!(recorded <= served as f64);
    // `slo check` says the run is incomplete, in the table and in a note
    let opts = write(&s, "o.json", r#"{"thresholds": {"http_reqs": ["count>0"]}}"#);
    let o = run(&store, &["check", "--run", &id, "--k6-options", &opts]);
    assert!(stdout(&o).contains("INCOMPLETE"), "{}", stdout(&o));
    assert!(stdout(&o).contains("note: run") && stdout(&o).contains("is incomplete"), "{}", stdout(&o));
}

#[test]
fn unreachable_target_records_transport_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "down.yaml",
        "scenarios:\n  p: {executor: per-vu-iterations, vus: 2, iterations: 3}\nthresholds:\n  http_req_failed: ['rate<0.5']\nflows:\n  - flow:\n      - get: {url: /health}\n",
    );
    let o = slo_run(&store, &f, &format!("http://127.0.0.1:{port}"), &["--run-id", "down"]);
    // the threshold fails (every request failed): exit 1, not a crash
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).contains("FAIL"), "{}", stdout(&o));
    let st = LocalStore::open(&store).unwrap();
    let meta = st.resolve("down").unwrap();
    let pts = st.read_points(&meta, &ScanOptions { metrics: Some(vec!["http_reqs".into()]), ..Default::default() }).unwrap();
    assert_eq!(pts.len(), 6);
    for p in &pts {
        assert_eq!(p.tags.0.iter().find(|(k, _)| k == "error_code").map(|(_, v)| v.as_str()), Some("1212"), "{:?}", p.tags);
        assert_eq!(p.tags.0.iter().find(|(k, _)| k == "status").map(|(_, v)| v.as_str()), Some("0"));
    }
}

/// Ctrl-C, and SIGTERM (what `timeout`, `docker stop` and CI runners send), stop the run
/// gracefully: exit 130, the run marked interrupted, every answered request recorded.
#[test]
fn ctrl_c_and_sigterm_stop_gracefully_with_130() {
    for sig in ["-INT", "-TERM"] {
        let srv = target();
        let s = Scratch::new();
        let store = s.store();
        let f = write(
            &s,
            "cvus.yaml",
            "scenarios:\n  c: {executor: constant-vus, vus: 3, duration: 60s}\nflows:\n  - flow:\n      - get: {url: /health}\n      - think: 0.01\n",
        );
        let child = spawn_run(&store, &f, &srv.url());
        std::thread::sleep(Duration::from_secs(2));
        signal(&child, sig);
        let o = wait_bounded(child, Duration::from_secs(10));
        assert_eq!(o.status.code(), Some(130), "{sig}: {}", String::from_utf8_lossy(&o.stderr));
        let r = runs(&store);
        assert_eq!(r[0]["state"], "interrupted", "{sig}");
        let id = r[0]["id"].as_str().unwrap().to_string();
        let recorded = count(&metrics(&store, &id), "http_reqs");
        // graceful: every request the target answered was recorded
        assert_eq!(recorded, srv.stats().total as f64, "{sig}");
        assert!(recorded > 10.0, "{sig}");
    }
}

#[test]
fn abort_on_fail_stops_the_run_early() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "abort.yaml",
        "scenarios:\n  c: {executor: constant-vus, vus: 2, duration: 60s}\nthresholds:\n  http_req_failed:\n    - threshold: rate<0.1\n      abortOnFail: true\n      delayAbortEval: 1s\nflows:\n  - flow:\n      - get: {url: /nope}\n      - think: 0.01\n",
    );
    let t = Instant::now();
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "abort"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(stdout(&o).contains("abortOnFail"), "{}", stdout(&o));
    assert_eq!(runs(&store)[0]["state"], "interrupted");
}

#[test]
fn bad_input_exits_2_before_any_request() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "bad.yaml",
        "scenarios:\n  a: {executor: constant-vus, vus: x, duration: 2s}\nflows:\n  - flow:\n      - get: {url: /x}\n",
    );
    let o = slo_run(&store, &f, &srv.url(), &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("bad.yaml:2:"), "{}", stderr(&o));
    let ok = write(&s, "ok.yaml", "flows:\n  - flow:\n      - get: {url: /health}\n");
    let o = slo_run(&store, &ok, &srv.url(), &["--out", "kafka=http://127.0.0.1:8086"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--out") && stderr(&o).contains("expected influxdb=URL or prometheus=URL"), "{}", stderr(&o));
    let o = slo_run(&store, &ok, "http://example.com", &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(srv.stats().total, 0);
    // Nothing recorded: no store was even created (runs list says so, exit 3), or it is empty.
    let o = run(&store, &["runs", "list", "--format", "json"]);
    match code(&o) {
        3 => assert!(stderr(&o).contains("no store there"), "{}", stderr(&o)),
        _ => assert!(runs(&store).is_empty()),
    }
}

#[test]
fn demo_end_to_end() {
    let s = Scratch::new();
    let store = s.store();
    let t = Instant::now();
    let o = run(&store, &["demo"]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    let r = runs(&store);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["tags"]["role"], "baseline");
    assert_eq!(r[1]["tags"]["role"], "candidate");
    assert!(r.iter().all(|x| x["state"] == "complete"));
    let out = stdout(&o);
    assert!(out.contains("PASS"), "{out}");
    assert!(out.contains("slo check --store"), "{out}");
}

/// `slo check` with no flags judges the thresholds the run was recorded with; a healthy
/// run's `dropped_iterations` is 0 (stated), not NO DATA; an import with nothing to
/// judge is refused (exit 2) instead of passing.
#[test]
fn check_without_flags_judges_the_runs_own_thresholds() {
    let srv = target();
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "own.yaml",
        "scenarios:\n  s: {executor: per-vu-iterations, vus: 2, iterations: 5}\nthresholds:\n  dropped_iterations: ['count<1']\n  http_req_failed: ['rate<0.01']\n  iterations: ['count==10']\nflows:\n  - flow:\n      - get: {url: /health}\n",
    );
    let o = slo_run(&store, &f, &srv.url(), &["--run-id", "own"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let (exit, r) = check_json(&store, &["--run", "latest"]);
    assert_eq!(exit, 0, "{r}");
    let th = r["thresholds"].as_array().unwrap();
    assert_eq!(th.len(), 3);
    assert!(th.iter().all(|t| t["verdict"] == "pass"), "{th:?}");
    assert_eq!(th[0]["metric_key"], "dropped_iterations");
    assert_eq!(th[0]["observed"].as_f64(), Some(0.0));

    let imported = Scratch::new();
    let store2 = imported.store();
    crate::util::import(&store2, &repo("tests/fixtures/cases/01-threshold-no-data/samples.ndjson"), "k6run");
    let o = run(&store2, &["check", "--run", "k6run"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing to judge"), "{}", stderr(&o));
}

/// A password in `--target` is refused without being echoed.
#[test]
fn a_password_in_the_target_is_never_printed() {
    let s = Scratch::new();
    let store = s.store();
    let f = write(
        &s,
        "p.yaml",
        "scenarios:\n  s: {executor: per-vu-iterations, vus: 1, iterations: 1}\nflows:\n  - flow:\n      - get: {url: /health}\n",
    );
    let o = slo_run(&store, &f, "http://user:hunter2@127.0.0.1:9", &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("***@127.0.0.1"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("hunter2") && !stdout(&o).contains("hunter2"), "{}", stderr(&o));
}
