//! Unit tests of the InfluxDB module: line protocol against k6's own bytes (case 06),
//! timestamp uniqueness, URL parsing and redaction, the retry schedule, and the sink's
//! retries and spool against a tiny fake HTTP server on 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use slo_model::{RunId, RunMeta, RunStatus};

use super::config::{base64, percent_decode};
use super::line_protocol::{parse_tags_as_fields, FieldKind, LineEncoder, UniqueTimestamps};
use super::sink::test_count_lines;
use super::*;

const CASE06_LINES: &str = include_str!("testdata/case06_captured_lines.txt");
const CASE06_NDJSON: &str = include_str!("testdata/case06_samples.ndjson");

/// k6's NDJSON points of case 06: (metric, time ns, value, tags in file order).
type Case06Point = (String, i64, f64, Vec<(String, String)>);

fn case06_points() -> Vec<Case06Point> {
    let mut out = Vec::new();
    for l in CASE06_NDJSON.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] != "Point" {
            continue;
        }
        let d = &v["data"];
        let t = crate::time::parse_rfc3339_ns(d["time"].as_str().unwrap()).unwrap();
        let tags = d["tags"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
            .unwrap_or_default();
        out.push((v["metric"].as_str().unwrap().to_string(), t, d["value"].as_f64().unwrap(), tags));
    }
    out
}

#[test]
fn encodes_case06_exactly_as_k6_wrote_it() {
    // The k6 run of case 06 used K6_INFLUXDB_TAGS_AS_FIELDS='vu:int,iter:int,url,odd key'.
    let mut enc = LineEncoder::new(parse_tags_as_fields("vu:int,iter:int,url,odd key"), None);
    let want: Vec<&str> = CASE06_LINES.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let points = case06_points();
    assert_eq!(points.len(), 96);
    assert_eq!(want.len(), 96);
    for (i, (m, t, v, tags)) in points.iter().enumerate() {
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut out = String::new();
        enc.encode(&mut out, m, *t, *v, &tags).unwrap();
        assert_eq!(out.trim_end_matches('\n'), want[i], "point {i}");
    }
    assert_eq!(enc.bumped(), 0, "case 06 has no two points of one series at one instant");
    // group="" of the root group is not written but remembered for the reader: exactly the
    // metrics whose NDJSON points carry an empty group.
    let mut want_empty: Vec<String> =
        points.iter().filter(|(_, _, _, t)| t.iter().any(|(k, v)| k == "group" && v.is_empty())).map(|p| p.0.clone()).collect();
    want_empty.sort();
    want_empty.dedup();
    assert_eq!(want_empty.len(), 5, "cart_ms, data_*, iteration_duration, iterations");
    let mut got_empty: Vec<String> = enc.empty_tags().keys().cloned().collect();
    got_empty.sort();
    assert_eq!(got_empty, want_empty);
    assert!(enc.empty_tags().values().all(|k| k.iter().eq(["group"].iter())));
}

#[test]
fn escaping_follows_line_protocol() {
    let mut enc = LineEncoder::new(parse_tags_as_fields("url"), Some(("testid".into(), "run 1".into())));
    let mut out = String::new();
    let t = enc
        .encode(&mut out, "my metric,x", 5, 0.1, &[("name", "a=b,c d"), ("k ey", "v"), ("url", "http://h/p?q=\"x\"\\y"), ("group", "")])
        .unwrap();
    assert_eq!(t, 5);
    // Hand-written expectation from the InfluxDB 1.x line protocol reference.
    assert_eq!(out, "my\\ metric\\,x,k\\ ey=v,name=a\\=b\\,c\\ d,testid=run\\ 1 url=\"http://h/p?q=\\\"x\\\"\\\\y\",value=0.1 5\n");
    assert_eq!(enc.empty_tags()["my metric,x"].iter().collect::<Vec<_>>(), vec!["group"]);
    // A newline never breaks the line.
    let mut out = String::new();
    enc.encode(&mut out, "m", 1, 1.0, &[("name", "a\nb")]).unwrap();
    assert_eq!(out.matches('\n').count(), 1);
    assert!(out.contains("name=a\\nb"));
}

#[test]
fn int_fields_values_and_rejections() {
    let mut enc = LineEncoder::new(parse_tags_as_fields("vu:int,iter:int,url"), None);
    let mut out = String::new();
    enc.encode(&mut out, "iterations", 7, 1.0, &[("vu", "3"), ("iter", "x1"), ("scenario", "s")]).unwrap();
    assert_eq!(out, "iterations,scenario=s iter=\"x1\",value=1,vu=3i 7\n");
    let mut out = String::new();
    enc.encode(&mut out, "m", 7, 1e21, &[]).unwrap();
    assert_eq!(out, "m value=1000000000000000000000 7\n");
    let mut out = String::new();
    enc.encode(&mut out, "m", 8, 0.000001234, &[]).unwrap();
    assert_eq!(out, "m value=0.000001234 8\n");
    assert_eq!(enc.encode(&mut out, "m", 1, f64::NAN, &[]), Err(line_protocol::LineError::NonFiniteValue));
    assert_eq!(enc.encode(&mut out, "", 1, 1.0, &[]), Err(line_protocol::LineError::EmptyMetric));
    assert_eq!(out, "m value=0.000001234 8\n", "a rejected point leaves the buffer as it was");
    assert_eq!(parse_tags_as_fields("vu:int, url"), vec![("vu".to_string(), FieldKind::Int), ("url".to_string(), FieldKind::String)]);
}

#[test]
fn trusted_timestamps_are_written_as_given() {
    let mut enc = LineEncoder::new(Vec::new(), None);
    enc.set_timestamps_unique(true);
    let mut out = String::new();
    assert_eq!(enc.encode(&mut out, "m", 5, 1.0, &[]), Ok(5));
    assert_eq!(enc.encode(&mut out, "m", 5, 2.0, &[]), Ok(5), "the writer vouched for uniqueness");
    assert_eq!(enc.bumped(), 0);
    enc.set_timestamps_unique(false);
    assert_eq!(enc.encode(&mut out, "m", 9, 1.0, &[]), Ok(9));
    assert_eq!(enc.encode(&mut out, "m", 9, 1.0, &[]), Ok(10));
}

#[test]
fn timestamps_unique_per_series() {
    let mut u = UniqueTimestamps::default();
    assert_eq!(u.assign(1, 100), 100);
    assert_eq!(u.assign(1, 100), 101);
    assert_eq!(u.assign(1, 100), 102);
    assert_eq!(u.assign(2, 100), 100, "another series keeps its time");
    assert_eq!(u.assign(1, 101), 103, "101 and 102 are taken");
    assert_eq!(u.assign(1, 50), 50, "out of order but free");
    assert_eq!(u.assign(1, 50), 51);
    assert_eq!(u.bumped, 4);
    // A burst of 1000 points at one instant: 1000 distinct ns, then the next one after them.
    let mut v = UniqueTimestamps::default();
    let got: Vec<i64> = (0..1000).map(|_| v.assign(9, 1_000)).collect();
    assert_eq!(got, (1_000..2_000).collect::<Vec<i64>>());
    assert_eq!(v.assign(9, 1_000), 2_000);
    // Far apart in time, the window is pruned but uniqueness holds.
    let mut w = UniqueTimestamps::default();
    let mut seen = std::collections::HashSet::new();
    for i in 0..5_000i64 {
        let t = w.assign(3, (i / 10) * 1_000_000); // 10 points per ms
        assert!(seen.insert(t), "duplicate {t}");
    }
}

#[test]
fn encoder_bumps_only_identical_series() {
    let mut enc = LineEncoder::new(vec![], Some(("testid".into(), "r".into())));
    let mut out = String::new();
    let a = enc.encode(&mut out, "m", 10, 1.0, &[("s", "1")]).unwrap();
    let b = enc.encode(&mut out, "m", 10, 2.0, &[("s", "1")]).unwrap();
    let c = enc.encode(&mut out, "m", 10, 3.0, &[("s", "2")]).unwrap();
    let d = enc.encode(&mut out, "n", 10, 3.0, &[("s", "1")]).unwrap();
    assert_eq!((a, b, c, d), (10, 11, 10, 10));
    assert_eq!(enc.bumped(), 1);
}

#[test]
fn retry_schedule() {
    let p = RetryPolicy::default();
    // base = min(10 s, 200 ms * 2^(n-1)); delay in [base/2, base].
    assert_eq!(p.backoff(1, 0.0), Duration::from_millis(100));
    assert_eq!(p.backoff(1, 1.0), Duration::from_millis(200));
    assert_eq!(p.backoff(2, 0.5), Duration::from_millis(300));
    assert_eq!(p.backoff(3, 0.0), Duration::from_millis(400));
    assert_eq!(p.backoff(3, 1.0), Duration::from_millis(800));
    assert_eq!(p.backoff(7, 0.0), Duration::from_secs(5), "200 ms * 64 = 12.8 s, capped at 10 s");
    assert_eq!(p.backoff(40, 1.0), Duration::from_secs(10));
    assert_eq!(p.after_retry_after(1, 0.0, Some(Duration::from_secs(3))), Duration::from_secs(3));
    assert_eq!(p.after_retry_after(1, 0.0, Some(Duration::from_secs(3600))), Duration::from_secs(60));
    assert_eq!(p.after_retry_after(3, 0.0, Some(Duration::ZERO)), Duration::from_millis(400), "never below the backoff");
}

#[test]
fn urls_v1_v2_and_secrets() {
    let c = InfluxConfig::from_url("http://bob:s%3Acret@127.0.0.1:8086/proxy/k6?rp=autogen", None).unwrap();
    match &c.api {
        InfluxApi::V1 { db, rp, user, password } => {
            assert_eq!(db, "k6");
            assert_eq!(rp.as_deref(), Some("autogen"));
            assert_eq!(user.as_deref(), Some("bob"));
            assert_eq!(password.as_ref().unwrap().expose(), "s:cret");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.base, "http://127.0.0.1:8086/proxy");
    assert_eq!(c.display_url(), "http://127.0.0.1:8086/proxy/k6");
    assert_eq!(c.write_url(), "http://127.0.0.1:8086/proxy/write?db=k6&precision=ns&rp=autogen");
    // RFC 7617's example pair.
    assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_eq!(c.authorization().unwrap(), format!("Basic {}", base64(b"bob:s:cret")));
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("s:cret") && !dbg.contains("s%3Acret"), "{dbg}");

    let v2 = InfluxConfig::from_url("http://127.0.0.1:8086?org=acme&bucket=perf", Some("tok-123".into())).unwrap();
    assert_eq!(v2.write_url(), "http://127.0.0.1:8086/api/v2/write?org=acme&bucket=perf&precision=ns");
    assert_eq!(v2.authorization().unwrap(), "Token tok-123");
    assert_eq!(v2.query_db(), "perf");
    assert!(!format!("{v2:?}").contains("tok-123"));
    let e = InfluxConfig::from_url("http://127.0.0.1:8086?org=acme&bucket=perf", None).unwrap_err();
    assert!(e.to_string().contains(TOKEN_ENV), "{e}");
    assert_eq!(e.exit_code(), 2);
    let e = InfluxConfig::from_url("http://127.0.0.1:8086/k6?token=hunter2", None).unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = InfluxConfig::from_url("http://u:hunter2@127.0.0.1:8086/", None).unwrap_err();
    assert!(!e.to_string().contains("hunter2") && e.to_string().contains("127.0.0.1:8086"), "{e}");
    if !cfg!(feature = "influxdb-tls") {
        assert!(InfluxConfig::from_url("https://h:1/db", None).unwrap_err().to_string().contains("influxdb-tls"));
    }
    assert_eq!(percent_decode("a%20b%zz%"), "a b%zz%");
    assert_eq!(scrub("x tok y tok", &["tok"]), "x *** y ***");
}

// ---------------------------------------------------------------- fake server

/// What the fake server answers to the n-th write request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// Status code, optional Retry-After seconds.
    Status(u16, Option<u64>),
}

/// A minimal HTTP/1.1 server on 127.0.0.1 speaking just enough InfluxDB 1.x: `/ping`
/// 204, `/query` an empty result, `/write` the scripted replies (then 204), keeping the
/// decompressed bodies of accepted writes.
pub(crate) struct FakeInflux {
    pub port: u16,
    pub accepted: Arc<Mutex<Vec<String>>>,
    pub writes: Arc<Mutex<Vec<(Instant, u16)>>>,
    pub headers: Arc<Mutex<Vec<String>>>,
}

impl FakeInflux {
    pub fn start(script: Vec<Reply>) -> FakeInflux {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let (a, w, h) = (accepted.clone(), writes.clone(), headers.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { return };
                let (a, w, h, sc) = (a.clone(), w.clone(), h.clone(), script.clone());
                std::thread::spawn(move || {
                    let _ = serve_conn(s, &a, &w, &h, &sc);
                });
            }
        });
        FakeInflux { port, accepted, writes, headers }
    }

    pub fn url(&self, db: &str) -> String {
        format!("http://127.0.0.1:{}/{db}", self.port)
    }

    pub fn accepted_lines(&self) -> Vec<String> {
        self.accepted.lock().unwrap().iter().flat_map(|b| b.lines().map(str::to_string).collect::<Vec<_>>()).collect()
    }
}

fn serve_conn(
    s: TcpStream,
    accepted: &Mutex<Vec<String>>,
    writes: &Mutex<Vec<(Instant, u16)>>,
    headers: &Mutex<Vec<String>>,
    script: &Mutex<std::vec::IntoIter<Reply>>,
) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    loop {
        let mut req = String::new();
        if r.read_line(&mut req)? == 0 {
            return Ok(());
        }
        let mut len = 0usize;
        let mut gz = false;
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            let ht = h.trim_end();
            if ht.is_empty() {
                break;
            }
            headers.lock().unwrap().push(ht.to_string());
            let lower = ht.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("content-encoding:") && lower.contains("gzip") {
                gz = true;
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (status, retry_after, text) = if path.starts_with("/write") {
            let reply = script.lock().unwrap().next().unwrap_or(Reply::Status(204, None));
            let Reply::Status(code, ra) = reply;
            writes.lock().unwrap().push((Instant::now(), code));
            if code == 204 {
                let mut t = String::new();
                if gz {
                    GzDecoder::new(&body[..]).read_to_string(&mut t)?;
                } else {
                    t = String::from_utf8_lossy(&body).into_owned();
                }
                accepted.lock().unwrap().push(t);
            }
            (code, ra, String::from("{\"error\":\"scripted\"}"))
        } else if path.starts_with("/ping") {
            (204, None, String::new())
        } else if path.starts_with("/query") {
            (200, None, String::from("{\"results\":[{\"statement_id\":0}]}"))
        } else {
            (200, None, String::from("ok"))
        };
        let body = if status == 204 { String::new() } else { text };
        let mut resp = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n", body.len());
        if let Some(ra) = retry_after {
            resp.push_str(&format!("Retry-After: {ra}\r\n"));
        }
        resp.push_str("\r\n");
        resp.push_str(&body);
        w.write_all(resp.as_bytes())?;
        w.flush()?;
    }
}

pub(crate) fn test_meta(id: &str) -> RunMeta {
    RunMeta {
        id: RunId(id.to_string()),
        created_ns: 1_700_000_000_000_000_000,
        start_ns: None,
        end_ns: None,
        duration_s: None,
        duration_source: None,
        status: RunStatus::Running,
        origin: "slo run".into(),
        scenario: Some("scenario.yaml".into()),
        tags: BTreeMap::from([("env".to_string(), "test".to_string())]),
        metrics: vec![],
        points: 0,
        slo_version: "test".into(),
    }
}

pub(crate) fn fast_retry(c: &mut InfluxConfig) {
    c.retry = RetryPolicy {
        max_attempts: 4,
        initial: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(2),
        cooldown: Duration::from_secs(60),
    };
    c.timeout = Duration::from_secs(2);
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub(crate) fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn data_lines(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| !l.starts_with("slo_run,")).collect()
}

#[test]
fn retries_500_and_429_lose_nothing() {
    // 2 × 500, then 429 with Retry-After: 1, then 503, then success for everything.
    let fake =
        FakeInflux::start(vec![Reply::Status(500, None), Reply::Status(500, None), Reply::Status(429, Some(1)), Reply::Status(503, None)]);
    let mut cfg = InfluxConfig::from_url(&fake.url("k6"), None).unwrap();
    fast_retry(&mut cfg);
    cfg.retry.max_attempts = 6;
    cfg.batch_points = 100;
    cfg.max_in_flight = 1;
    cfg.queue_batches = 1000;
    let spool = tempfile::tempdir().unwrap();
    let mut sink = InfluxSink::new(cfg, test_meta("r1"), spool.path().join("spool"));
    for i in 0..1000i64 {
        sink.write("http_reqs", 1_000 + i, 1.0, &[("status", "200")]);
    }
    let rep = sink.close();
    assert_eq!(rep.points, 1000);
    assert_eq!(rep.delivered, 1000, "{rep:?}");
    assert_eq!(rep.spooled, 0);
    assert_eq!(rep.lost, 0);
    assert_eq!(rep.retries, 4, "one retry per scripted failure");
    assert!(rep.registry_delivered);
    let lines = fake.accepted_lines();
    assert_eq!(data_lines(&lines).len(), 1000, "every point exactly once");
    let uniq: std::collections::HashSet<_> = data_lines(&lines).into_iter().collect();
    assert_eq!(uniq.len(), 1000);
    // The request after the 429 waited for Retry-After (1 s).
    let w = fake.writes.lock().unwrap().clone();
    let i429 = w.iter().position(|(_, c)| *c == 429).unwrap();
    let gap = w[i429 + 1].0 - w[i429].0;
    assert!(gap >= Duration::from_millis(990), "waited only {gap:?}");
    assert!(fake.headers.lock().unwrap().iter().any(|h| h.eq_ignore_ascii_case("content-encoding: gzip")));
}

#[test]
fn refused_batch_is_spooled_not_dropped() {
    let fake = FakeInflux::start(vec![Reply::Status(400, None)]);
    let mut cfg = InfluxConfig::from_url(&fake.url("k6"), None).unwrap();
    fast_retry(&mut cfg);
    cfg.batch_points = 10;
    cfg.max_in_flight = 1;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let mut sink = InfluxSink::new(cfg.clone(), test_meta("r2"), spool.clone());
    // The first batch (registry line + 10 points) is refused by the scripted 400; at close
    // the spool is sent again and accepted.
    for i in 0..30i64 {
        sink.write("vus", i, 1.0, &[]);
    }
    let rep = sink.close();
    assert_eq!((rep.points, rep.delivered, rep.spooled, rep.lost), (30, 30, 0, 0), "{rep:?}");
    assert!(rep.errors.iter().any(|e| e.contains("HTTP 400")), "{:?}", rep.errors);
    assert_eq!(data_lines(&fake.accepted_lines()).len(), 30);
}

#[test]
fn unreachable_server_spools_everything_then_push_delivers() {
    let port = dead_port();
    let url = format!("http://alice:pw-s3cret@127.0.0.1:{port}/k6");
    let mut cfg = InfluxConfig::from_url(&url, None).unwrap();
    fast_retry(&mut cfg);
    cfg.batch_points = 500;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("influx-spool");
    let mut sink = InfluxSink::new(cfg.clone(), test_meta("r3"), spool.clone());
    for i in 0..2_000i64 {
        sink.write("http_req_duration", i * 1000, i as f64 / 7.0, &[("name", "login"), ("group", "")]);
    }
    let rep = sink.close();
    assert_eq!((rep.points, rep.delivered, rep.spooled, rep.lost), (2000, 0, 2000, 0), "{rep:?}");
    assert!(!rep.registry_delivered);
    assert_eq!(rep.spool_dir.as_deref(), Some(spool.as_path()));
    let all = format!("{rep:?}");
    assert!(!all.contains("pw-s3cret"), "password leaked: {all}");
    assert!(rep.errors.iter().any(|e| e.contains(&format!("127.0.0.1:{port}/k6")) && e.contains("unreachable")), "{:?}", rep.errors);
    // Spool files hold every point as gzip line protocol.
    let mut data = 0;
    for f in std::fs::read_dir(&spool).unwrap() {
        let f = f.unwrap().path();
        let mut s = String::new();
        GzDecoder::new(std::fs::File::open(&f).unwrap()).read_to_string(&mut s).unwrap();
        data += test_count_lines(&s).0;
        assert!(!s.contains("pw-s3cret"));
    }
    assert_eq!(data, 2000);
    // Pushing to a dead server: exit code 4, no password in the message.
    let e = push_spool(&spool, &cfg).unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert!(!e.to_string().contains("pw-s3cret") && e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    // Then to a live one.
    let fake = FakeInflux::start(vec![]);
    let cfg2 = InfluxConfig::from_url(&fake.url("k6"), None).unwrap();
    let pr = push_spool(&spool, &cfg2).unwrap();
    assert_eq!(pr.points_delivered, 2000);
    assert_eq!(pr.files_left, 0);
    assert_eq!(data_lines(&fake.accepted_lines()).len(), 2000);
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "delivered files are removed");
    // The registry's end row (status complete) is among them; meta JSON has no password.
    let reg: Vec<String> = fake.accepted_lines().into_iter().filter(|l| l.starts_with("slo_run,")).collect();
    assert_eq!(reg.len(), 2);
    assert!(reg.iter().any(|l| l.contains("status=\"complete\"") && l.contains("points=2000i")));
    assert!(reg.iter().all(|l| !l.contains("pw-s3cret")));
    // The root group's empty value is recorded for the reader.
    assert!(reg.iter().any(|l| l.contains("empty_tags=\"{\\\"http_req_duration\\\":[\\\"group\\\"]}\"")), "{reg:?}");
}

#[test]
fn full_queue_spills_to_spool_without_blocking() {
    // A server that answers 503 eight times keeps the single writer busy with retries.
    let fake = FakeInflux::start(vec![Reply::Status(503, None); 8]);
    let mut cfg = InfluxConfig::from_url(&fake.url("k6"), None).unwrap();
    fast_retry(&mut cfg);
    cfg.batch_points = 10;
    cfg.max_in_flight = 1;
    cfg.queue_batches = 1;
    let dir = tempfile::tempdir().unwrap();
    let mut sink = InfluxSink::new(cfg, test_meta("r4"), dir.path().join("spool"));
    let t0 = Instant::now();
    for i in 0..1_000i64 {
        sink.write("iterations", i, 1.0, &[]);
    }
    let write_time = t0.elapsed();
    assert!(write_time < Duration::from_millis(900), "writes waited for the network: {write_time:?}");
    let rep = sink.close();
    assert_eq!(rep.points, 1000);
    assert_eq!(rep.delivered + rep.spooled, 1000, "{rep:?}");
    assert_eq!(rep.lost, 0);
    assert!(rep.batches_spooled + rep.batches_delivered > 0);
}

#[test]
fn floats_print_like_go_format_f_minus_1() {
    // Expected strings written by hand from Go's strconv.FormatFloat(v, 'f', -1, 64).
    let cases: [(f64, &str); 10] = [
        (1.0, "1"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1.2357, "1.2357"),
        (0.1, "0.1"),
        (100.0, "100"),
        (1e21, "1000000000000000000000"),
        (1.5e-7, "0.00000015"),
        (123456.789, "123456.789"),
        (-2.5, "-2.5"),
    ];
    for (v, want) in cases {
        let mut s = String::new();
        crate::influx::line_protocol::push_float(&mut s, v);
        assert_eq!(s, want, "{v:e}");
    }
}

#[test]
fn sink_lines_match_the_plain_encoder() {
    // Points through the sink (interned tag sets, cached series, encoder thread) arrive as
    // the same lines LineEncoder::encode writes one by one.
    use crate::influx::line_protocol::K6_DEFAULT_TAGS_AS_FIELDS;
    let mut enc = LineEncoder::new(parse_tags_as_fields(K6_DEFAULT_TAGS_AS_FIELDS), Some(("testid".into(), "r1".into())));
    let pts: Vec<(&str, i64, f64, Vec<(&str, &str)>)> = vec![
        ("http_reqs", 10, 1.0, vec![("name", "a b"), ("url", "/x"), ("group", ""), ("vu", "3")]),
        ("http_req_duration", 10, 0.25, vec![("name", "a b"), ("url", "/x"), ("group", ""), ("vu", "3")]),
        ("http_reqs", 10, 1.0, vec![("name", "a b"), ("url", "/x"), ("group", ""), ("vu", "3")]),
        ("checks", 11, 0.0, vec![("check", "ok,=1"), ("scenario", "s")]),
        ("http_reqs", 12, 1.0, vec![("name", "a b"), ("url", "/x"), ("group", ""), ("vu", "4")]),
    ];
    let mut want = String::new();
    for (m, t, v, tags) in &pts {
        enc.encode(&mut want, m, *t, *v, tags).unwrap();
    }
    let fake = FakeInflux::start(vec![]);
    let mut cfg = InfluxConfig::from_url(&fake.url("db"), None).unwrap();
    fast_retry(&mut cfg);
    let dir = tempfile::tempdir().unwrap();
    let mut sink = InfluxSink::new(cfg, test_meta("r1"), dir.path().join("spool"));
    for (m, t, v, tags) in &pts {
        sink.write(m, *t, *v, tags);
    }
    let rep = sink.close();
    assert_eq!((rep.points, rep.delivered), (5, 5), "{rep:?}");
    let got: String = data_lines(&fake.accepted_lines()).into_iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(got, want);
}
