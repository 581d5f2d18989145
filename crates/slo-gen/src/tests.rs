//! End-to-end tests against an in-process hyper server on 127.0.0.1 (port 0). Every
//! expected number is derived by hand from the scenario (VUs × iterations, rate ×
//! duration), never from the generator.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use slo_config::scenario::ScenarioFile;
use slo_model::{sample::error_code, RequestSample, SampleBatch};

use crate::{Plan, PlanError, PlanOverrides, Run, SampleSink, Segment, SinkError, Summary};

#[derive(Default)]
struct Seen {
    paths: HashMap<String, u64>,
    auth: Vec<String>,
    bodies: Vec<String>,
    queries: Vec<String>,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(req: Request<hyper::body::Incoming>, seen: Arc<Mutex<Seen>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let pq = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    {
        let mut s = seen.lock().unwrap();
        *s.paths.entry(path.clone()).or_default() += 1;
        if let Some(a) = auth {
            if s.auth.len() < 1000 {
                s.auth.push(a);
            }
        }
        if let Some(q) = pq.split_once('?').map(|x| x.1.to_string()) {
            s.queries.push(q);
        }
        if !body.is_empty() && s.bodies.len() < 1000 {
            s.bodies.push(String::from_utf8_lossy(&body).into_owned());
        }
    }
    let (status, text): (u16, String) = match path.as_str() {
        "/auth/login" => (200, r#"{"token":"abc123"}"#.into()),
        "/api/products" => (200, r#"{"data":[{"id":7}]}"#.into()),
        "/api/cart" => (201, "{}".into()),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            (200, "slow".into())
        }
        "/slower" => {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            (200, "slower".into())
        }
        "/echo" => (200, pq),
        "/missing" => (404, "no".into()),
        p if p.starts_with("/api/products/") => (200, format!(r#"{{"id":{}}}"#, &p[14..])),
        _ => (200, "ok".into()),
    };
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut().insert("content-type", "application/json".parse().unwrap());
    Ok(r)
}

fn server() -> Server {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let seen2 = seen.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    acc = listener.accept() => {
                        let Ok((stream, _)) = acc else { continue };
                        let seen = seen2.clone();
                        tokio::spawn(async move {
                            let svc = hyper::service::service_fn(move |req| handle(req, seen.clone()));
                            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                        });
                    }
                }
            }
        });
        rt.shutdown_timeout(Duration::from_millis(100));
    });
    Server { addr, seen, stop: Some(tx), thread: Some(thread) }
}

#[derive(Default)]
struct Collected {
    requests: Vec<RequestSample>,
    iterations: u64,
    checks: Vec<(String, bool)>,
    dropped: u64,
    vus: Vec<(u32, u32)>,
    batches: u64,
    points: u64,
    /// (metric, time_ns) of every point.
    stamps: Vec<(String, i64)>,
    /// When each batch arrived and how many requests it held.
    arrivals: Vec<(std::time::Instant, usize)>,
}

#[derive(Clone, Default)]
struct TestSink(Arc<Mutex<Collected>>);

impl SampleSink for TestSink {
    fn write(&mut self, b: &SampleBatch) -> Result<(), SinkError> {
        let mut c = self.0.lock().unwrap();
        c.requests.extend(b.requests.iter().cloned());
        c.iterations += b.iterations.len() as u64;
        c.checks.extend(b.checks.iter().map(|x| (x.name.to_string(), x.pass)));
        c.dropped += b.dropped.iter().map(|d| d.count).sum::<u64>();
        c.vus.extend(b.vus.iter().map(|v| (v.vus, v.vus_max)));
        c.batches += 1;
        c.arrivals.push((std::time::Instant::now(), b.requests.len()));
        let mut n = 0;
        let mut stamps = Vec::new();
        b.for_each_point(|m, t, _, _| {
            n += 1;
            stamps.push((m.to_string(), t));
        });
        c.points += n;
        c.stamps.extend(stamps);
        Ok(())
    }
}

fn plan(yaml: &str, target: SocketAddr, segment: Option<&str>) -> Plan {
    let f = ScenarioFile::parse(yaml, "test.yaml", Path::new(".")).unwrap();
    Plan::build(
        &f,
        &PlanOverrides {
            target: Some(format!("http://{target}")),
            segment: segment.map(|s| Segment::parse(s).unwrap()),
            ..Default::default()
        },
    )
    .unwrap()
}

fn run(p: Plan) -> (Summary, Arc<Mutex<Collected>>) {
    let sink = TestSink::default();
    let c = sink.0.clone();
    let s = Run::start(p, Box::new(sink)).unwrap().wait().unwrap();
    (s, c)
}

#[test]
fn per_vu_iterations_exact() {
    let srv = server();
    let (s, c) = run(plan(
        "scenarios:\n  a: {executor: per-vu-iterations, vus: 3, iterations: 4}\nflows:\n  - flow:\n      - get: {url: /one}\n      - get: {url: /two}\n",
        srv.addr,
        None,
    ));
    // 3 VUs × 4 iterations × 2 requests
    assert_eq!(s.requests, 24);
    assert_eq!(s.iterations, 12);
    assert_eq!(s.failed_requests, 0);
    let c = c.lock().unwrap();
    assert_eq!(c.requests.len(), 24);
    assert_eq!(c.iterations, 12);
    // 11 points per request (no lag outside arrival-rate) + 2 per iteration + 2 per gauge
    assert_eq!(c.points, 24 * 11 + 12 * 2 + 2 * c.vus.len() as u64);
    let seen = srv.seen.lock().unwrap();
    assert_eq!(seen.paths["/one"], 12);
    assert_eq!(seen.paths["/two"], 12);
    let r = &c.requests[0];
    assert_eq!(r.status, 200);
    assert!(r.expected_response);
    assert!(r.bytes_sent > 0 && r.bytes_received > 0);
    assert!(r.scheduling_lag_ms.is_none());
    assert!((r.duration_ms - (r.sending_ms + r.waiting_ms + r.receiving_ms)).abs() < 1e-9);
    // keep-alive: one connection per VU, so 3 requests had connecting time > 0 at most
    assert!(c.requests.iter().filter(|r| r.connecting_ms > 0.0).count() <= 3);
    let mut vus: Vec<u32> = c.requests.iter().map(|r| r.vu).collect();
    vus.sort();
    vus.dedup();
    assert_eq!(vus, vec![1, 2, 3]);
}

/// InfluxDB keeps one point per series and timestamp, and the InfluxDB sink trusts the
/// generator for this: no two points of one metric share a timestamp, even with many VUs
/// hitting a fast target at once and several checks per request.
#[test]
fn no_two_points_of_a_metric_share_a_timestamp() {
    let srv = server();
    let (s, c) = run(plan(
        "scenarios:\n  a: {executor: constant-vus, vus: 24, duration: 1s}\nflows:\n  - flow:\n      - get:\n          url: /one\n          expect:\n            - statusCode: 200\n            - contentType: text\n",
        srv.addr,
        None,
    ));
    let c = c.lock().unwrap();
    assert!(s.requests > 1000, "{}", s.requests);
    assert_eq!(c.checks.len() as u64, 2 * s.requests);
    let mut seen = std::collections::HashSet::new();
    let dups = c.stamps.iter().filter(|p| !seen.insert((*p).clone())).count();
    assert_eq!(dups, 0, "of {} points", c.stamps.len());
    assert_eq!(c.stamps.len() as u64, c.points);
}

#[test]
fn shared_iterations_exact() {
    let srv = server();
    let (s, _) = run(plan(
        "scenarios:\n  a: {executor: shared-iterations, vus: 4, iterations: 10}\nflows:\n  - flow:\n      - get: {url: /x}\n",
        srv.addr,
        None,
    ));
    assert_eq!(s.iterations, 10);
    assert_eq!(srv.seen.lock().unwrap().paths["/x"], 10);
}

#[test]
fn constant_arrival_rate_200_per_s_for_5_s() {
    let srv = server();
    let (s, c) = run(plan(
        "scenarios:\n  a: {executor: constant-arrival-rate, rate: 200, timeUnit: 1s, duration: 5s, preAllocatedVUs: 20, maxVUs: 50}\nflows:\n  - flow:\n      - get: {url: /x}\n",
        srv.addr,
        None,
    ));
    // 200/s × 5 s = 1000, ±1 %
    assert!((990..=1010).contains(&s.iterations), "{}", s.iterations);
    assert_eq!(s.dropped_iterations, 0);
    let c = c.lock().unwrap();
    assert!(c.requests.iter().all(|r| r.scheduling_lag_ms.is_some_and(|l| l >= 0.0)));
    // at least one batch per second of run
    assert!(c.batches >= 5, "{}", c.batches);
}

#[test]
fn vu_timeline_of_constant_and_ramping_vus() {
    let srv = server();
    let (s, c) = run(plan(
        "scenarios:\n  c: {executor: constant-vus, vus: 3, duration: 2500ms}\nflows:\n  - flow:\n      - get: {url: /x}\n      - think: 0.05\n",
        srv.addr,
        None,
    ));
    assert!(s.iterations > 3);
    let c = c.lock().unwrap();
    // gauges at 1 s and 2 s show 3 active VUs of 3
    assert!(c.vus.iter().filter(|v| **v == (3, 3)).count() >= 2, "{:?}", c.vus);

    // ramping 0 → 4 over 2.4 s, hold 1.5 s: one VU more every 0.6 s, so the gauges at
    // 1 s, 2 s, 3 s read 1, 3, 4 (4·1/2.4 = 1.67 → 1; 4·2/2.4 = 3.33 → 3)
    let (_, c) = run(plan(
        "scenarios:\n  r:\n    executor: ramping-vus\n    startVUs: 0\n    stages: [{duration: 2400ms, target: 4}, {duration: 1500ms, target: 4}]\n    gracefulRampDown: 0s\nflows:\n  - flow:\n      - get: {url: /x}\n      - think: 0.05\n",
        srv.addr,
        None,
    ));
    let c = c.lock().unwrap();
    let seq: Vec<u32> = c.vus.iter().map(|v| v.0).collect();
    assert_eq!(&seq[..3], &[1, 3, 4], "{seq:?}");
    assert!(c.vus.iter().all(|v| v.1 == 4));
}

#[test]
fn dropped_iterations_when_max_vus_too_small() {
    let srv = server();
    let (s, c) = run(plan(
        "scenarios:\n  a: {executor: constant-arrival-rate, rate: 50, duration: 2s, preAllocatedVUs: 1, maxVUs: 2}\nflows:\n  - flow:\n      - get: {url: /slow}\n",
        srv.addr,
        None,
    ));
    // 100 arrivals; 2 VUs at 200 ms per iteration serve about 20 → about 80 dropped.
    assert_eq!(s.iterations + s.dropped_iterations, 100);
    assert!(s.dropped_iterations >= 60, "{}", s.dropped_iterations);
    assert_eq!(c.lock().unwrap().dropped, s.dropped_iterations);
    assert_eq!(s.vus_max, 2);
}

#[test]
fn captures_expect_loop_think_and_feeders() {
    let srv = server();
    let dir = std::env::temp_dir().join(format!("slo-gen-feed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), "ann,pw1\nbob,pw2\n").unwrap();
    let yaml = "config:\n  payload: {path: users.csv, fields: [user, pw], order: sequence}\n  defaults: {headers: {X-Test: yes}}\nscenarios:\n  a: {executor: per-vu-iterations, vus: 1, iterations: 2}\nflows:\n  - flow:\n      - post:\n          url: /auth/login\n          json: {username: '{{ user }}', password: '{{ pw }}', n: '{{ $randomNumber(5, 5) }}'}\n          capture: {json: $.token, as: token}\n          expect: [{statusCode: 200}, {hasProperty: token}, {contentType: json}]\n      - get:\n          url: /api/products\n          headers: {Authorization: 'Bearer {{ token }}'}\n          capture: [{json: '$.data[0].id', as: pid}]\n      - loop:\n          - get: {url: '/api/products/{{ pid }}', name: product}\n          - think: 0.05\n        count: 3\n      - get: {url: /echo, qs: {q: 'a b', s: '{{ $randomString(4) }}'}}\n      - get: {url: /missing, expect: {statusCode: 200}}\n";
    let f = ScenarioFile::parse(yaml, "t.yaml", &dir).unwrap();
    let p = Plan::build(&f, &PlanOverrides { target: Some(format!("http://{}", srv.addr)), ..Default::default() }).unwrap();
    let (s, c) = run(p);
    // per iteration: login, products, 3 × product, echo, missing = 7; 2 iterations
    assert_eq!(s.requests, 14);
    // 3 login checks pass ×2; the 404 check fails ×2
    assert_eq!((s.checks_passed, s.checks_failed), (6, 2));
    let seen = srv.seen.lock().unwrap();
    assert_eq!(seen.paths["/api/products/7"], 6);
    assert!(seen.auth.iter().all(|a| a == "Bearer abc123") && seen.auth.len() == 2);
    assert_eq!(seen.bodies[0], r#"{"username":"ann","password":"pw1","n":5}"#);
    assert_eq!(seen.bodies[1], r#"{"username":"bob","password":"pw2","n":5}"#);
    let c = c.lock().unwrap();
    let product: Vec<&RequestSample> = c.requests.iter().filter(|r| &*r.name == "product").collect();
    assert_eq!(product.len(), 6);
    assert_eq!(&*product[0].url, "/api/products/{{ pid }}");
    let missing = c.requests.iter().find(|r| r.status == 404).unwrap();
    assert_eq!(missing.error_code, 1404);
    assert!(!missing.expected_response);
    assert!(c.checks.iter().any(|(n, p)| n == "GET /missing: statusCode 200" && !p));
    assert_eq!(s.failed_requests, 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn echo_query_is_percent_encoded() {
    let srv = server();
    let (_, c) = run(plan("flows:\n  - flow:\n      - get: {url: /echo, qs: {q: 'a b&c'}}\n", srv.addr, None));
    assert_eq!(c.lock().unwrap().requests.len(), 1);
    // RFC 3986: space → %20, & → %26
    assert_eq!(srv.seen.lock().unwrap().queries, vec!["q=a%20b%26c".to_string()]);
}

/// A fragment never goes on the wire; a user `Transfer-Encoding` is left out (bodies are
/// sent whole with `Content-Length`), so the POST still reaches the server intact; a
/// header rendered with CR/LF fails the request (k6: error 1000) without sending it.
#[test]
fn fragments_transfer_encoding_and_bad_header_values() {
    let srv = server();
    let yaml = format!("config:\n  variables:\n    evil: [\"a\\r\\nX-Evil: 1\"]\nflows:\n  - flow:\n      - get: {{url: '/echo?x=1#frag'}}\n      - get: {{url: 'http://{}?y=2'}}\n",srv.addr) + "      - post: {url: /api/cart, json: {a: 1}, headers: {Transfer-Encoding: chunked}}\n      - get: {url: /bad, headers: {X-Token: '{{ evil }}'}}\n";
    let (_, c) = run(plan(&yaml, srv.addr, None));
    let c = c.lock().unwrap();
    let seen = srv.seen.lock().unwrap();
    // An absolute step URL with a query and no path asks for `/?y=2`.
    assert_eq!(seen.queries, vec!["x=1".to_string(), "y=2".to_string()]);
    assert_eq!(seen.bodies, vec![r#"{"a":1}"#.to_string()]);
    assert!(!seen.paths.contains_key("/bad"), "{:?}", seen.paths);
    let codes: Vec<(u16, u32)> = c.requests.iter().map(|r| (r.status, r.error_code)).collect();
    assert_eq!(codes, vec![(200, 0), (200, 0), (201, 0), (0, 1000)]);
}

/// Requests that finished reach the sink within the collector's second even while the
/// VU waits on a slow one (so `kill -9` loses at most the last second).
#[test]
fn finished_requests_are_not_held_back_by_a_slow_one() {
    let srv = server();
    let t0 = std::time::Instant::now();
    let (s, c) = run(plan(
        "scenarios:\n  a: {executor: per-vu-iterations, vus: 1, iterations: 1}\nflows:\n  - flow:\n      - get: {url: /one}\n      - get: {url: /two}\n      - get: {url: /slower}\n",
        srv.addr,
        None,
    ));
    assert_eq!(s.requests, 3);
    let c = c.lock().unwrap();
    // /slower takes 2.5 s; the first two requests arrive with the collector's first or
    // second tick, well before it ends.
    let early: usize = c.arrivals.iter().filter(|(t, _)| *t - t0 < Duration::from_millis(2300)).map(|(_, n)| n).sum();
    assert_eq!(early, 2, "{:?}", c.arrivals.iter().map(|(t, n)| (*t - t0, *n)).collect::<Vec<_>>());
}

/// A capture that finds nothing ends the iteration (Artillery), and the summary says how
/// many did.
#[test]
fn failed_captures_are_counted() {
    let srv = server();
    let (s, _) = run(plan(
        "scenarios:\n  a: {executor: per-vu-iterations, vus: 1, iterations: 2}\nflows:\n  - flow:\n      - get: {url: /api/products, capture: {json: $.nope, as: x}}\n      - get: {url: /two}\n",
        srv.addr,
        None,
    ));
    assert_eq!((s.requests, s.captures_failed), (2, 2));
    assert!(!srv.seen.lock().unwrap().paths.contains_key("/two"));
}

#[test]
fn connection_refused_is_status_0_with_k6_code() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (s, c) = run(plan("vus: 2\niterations: 3\nflows:\n  - flow:\n      - get: {url: /x}\n", port, None));
    assert_eq!(s.requests, 3);
    assert_eq!(s.failed_requests, 3);
    let c = c.lock().unwrap();
    for r in &c.requests {
        assert_eq!((r.status, r.error_code), (0, error_code::TCP_DIAL_REFUSED));
        assert!(!r.expected_response);
    }
}

#[test]
fn request_timeout_gives_1050() {
    let srv = server();
    let (_, c) = run(plan("config:\n  http: {timeout: 0.05}\nflows:\n  - flow:\n      - get: {url: /slow}\n", srv.addr, None));
    let c = c.lock().unwrap();
    assert_eq!((c.requests[0].status, c.requests[0].error_code), (0, error_code::REQUEST_TIMEOUT));
}

#[test]
fn segments_sum_to_the_full_run() {
    let srv = server();
    let yaml = "scenarios:\n  s: {executor: shared-iterations, vus: 3, iterations: 10}\n  r: {executor: constant-arrival-rate, rate: 100, duration: 1s, preAllocatedVUs: 4}\nflows:\n  - flow:\n      - get: {url: /x}\n";
    let segs = ["0:1/4", "1/4:2/4", "2/4:3/4", "3/4:1"];
    let runs: Vec<Run> = segs.iter().map(|sg| Run::start(plan(yaml, srv.addr, Some(sg)), Box::new(TestSink::default())).unwrap()).collect();
    let total: u64 = runs.into_iter().map(|r| r.wait().unwrap().iterations).sum();
    // 10 shared iterations + 100 arrivals
    assert_eq!(total, 110);
    assert_eq!(srv.seen.lock().unwrap().paths["/x"], 110);
}

#[test]
fn stop_handle_ends_a_long_run_gracefully() {
    let srv = server();
    let r = Run::start(
        plan("vus: 2\nduration: 1h\nflows:\n  - flow:\n      - get: {url: /x}\n      - think: 10\n", srv.addr, None),
        Box::new(TestSink::default()),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    r.stop_handle().stop();
    let s = r.wait().unwrap();
    assert!(s.interrupted);
    // each VU sent one request, then its 10 s think was cut
    assert_eq!(s.requests, 2);
    assert!(s.duration < Duration::from_secs(5));
}

#[test]
fn reference_artillery_yaml_runs_against_a_local_target() {
    let srv = server();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../slo/artillery.yaml");
    let f = ScenarioFile::load(&path).unwrap();
    // Unchanged file: its https://api.example.com target is refused.
    let e = Plan::build(&f, &PlanOverrides::default()).unwrap_err();
    assert!(matches!(e, PlanError::RemoteTarget { .. }), "{e}");
    let p = Plan::build(&f, &PlanOverrides { target: Some(format!("http://{}", srv.addr)), ..Default::default() }).unwrap();
    assert_eq!(p.scheduled_duration(), Duration::from_secs(1020));
    let sink = TestSink::default();
    let c = sink.0.clone();
    let r = Run::start(p, Box::new(sink)).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    r.stop_handle().stop();
    let s = r.wait().unwrap();
    // 5 arrivals/s for 2.5 s → 13 arrivals (at 0, 0.2, ..., 2.4 s); each sends ≥ 1 request
    assert!(s.requests >= 13, "{}", s.requests);
    assert_eq!(s.failed_requests, 0);
    assert_eq!(s.checks_failed, 0);
    let c = c.lock().unwrap();
    assert!(c.requests.iter().all(|r| r.scheduling_lag_ms.is_some()));
    let seen = srv.seen.lock().unwrap();
    assert!(seen.paths.get("/auth/login").copied().unwrap_or(0) + seen.paths.get("/api/products").copied().unwrap_or(0) >= 13);
    assert!(seen.auth.iter().all(|a| a == "Bearer abc123"));
}

#[test]
fn remote_targets_are_refused() {
    let f = ScenarioFile::parse("flows:\n  - flow:\n      - get: {url: /x}\n", "t.yaml", Path::new(".")).unwrap();
    for t in ["http://example.com", "http://10.0.0.1:80", "https://127.0.0.1"] {
        let e = Plan::build(&f, &PlanOverrides { target: Some(t.into()), ..Default::default() }).unwrap_err();
        assert!(matches!(e, PlanError::RemoteTarget { .. } | PlanError::BadUrl { .. }), "{t}: {e}");
    }
    for t in ["http://localhost:1", "http://[::1]:1", "http://127.0.0.1:1/base", "http://127.0.0.2:1"] {
        assert!(Plan::build(&f, &PlanOverrides { target: Some(t.into()), ..Default::default() }).is_ok(), "{t}");
    }
    // A query in the target is named as such (it used to read "invalid port").
    for t in ["http://127.0.0.1:1?x=1", "http://127.0.0.1:1/base?x=1"] {
        let e = Plan::build(&f, &PlanOverrides { target: Some(t.into()), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("no query or fragment"), "{t}: {e}");
    }
    let e = Plan::build(&f, &PlanOverrides { target: Some("http://10.0.0.1".into()), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("127.0.0.0/8"), "{e}");
    let e = Plan::build(&f, &PlanOverrides::default()).unwrap_err();
    assert!(matches!(e, PlanError::NoTarget { .. }), "{e}");
    // absolute remote URL inside a step
    let f = ScenarioFile::parse("flows:\n  - flow:\n      - get: {url: 'http://example.org/x'}\n", "t.yaml", Path::new(".")).unwrap();
    assert!(matches!(Plan::build(&f, &PlanOverrides::default()), Err(PlanError::RemoteTarget { .. })));
}
