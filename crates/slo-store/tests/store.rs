//! Tests of the local store and the k6 NDJSON import against the fixtures copied from
//! ../shared/cases (05: hand-written edge cases, 01: real k6 v1.1.0 output).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use slo_model::{MetricInfo, MetricType, Point, RunId, RunMeta, RunStatus, TagLookup, Tags, ValueType};
use slo_store::{import_k6_json, ImportOptions, LocalStore, RunEnd, RunState, ScanOptions, StoreError, ALL_EXTRA_KEY};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn all(store: &LocalStore, meta: &RunMeta) -> Vec<Point> {
    store.read_points(meta, &ScanOptions::default()).unwrap()
}

fn values_of(points: &[Point], metric: &str) -> Vec<f64> {
    points.iter().filter(|p| p.metric == metric).map(|p| p.value).collect()
}

/// Case 05: every edge case of the hand-written file, checked against the case's
/// README/expected.json and hand computation.
#[test]
fn case05_imports_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path().join(".slo")).unwrap();
    let rep = import_k6_json(&store, &fixture("input.ndjson"), ImportOptions::default()).unwrap();
    // 30 JSON lines plus one blank line; 25 of them are Points (2+10+6+4+3).
    assert_eq!(rep.lines, 31);
    assert_eq!(rep.points, 25);
    assert_eq!(rep.skipped_lines, 0);
    assert!(!rep.gzip);
    let meta = store.resolve("latest").unwrap();
    assert_eq!(meta, rep.run);
    assert_eq!(meta.status, RunStatus::Complete);
    assert_eq!(meta.points, 25);
    assert_eq!(meta.origin, "k6 json import");
    assert_eq!(meta.scenario.as_deref(), Some("input.ndjson"));
    let names: Vec<&str> = meta.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["items", "ok_rate", "resp_ms", "temp", "vus"]);
    let resp = meta.metrics.iter().find(|m| m.name == "resp_ms").unwrap();
    assert_eq!((resp.kind, resp.contains), (MetricType::Trend, ValueType::Time));

    // First point: 2020-03-06T16:48:02.7835683+08:00 = 08:48:02.7835683Z; 2020-03-06 is
    // day 18327 after 1970-01-01. Last: 2024-05-01T10:00:12Z, day 19844.
    let start = (18_327i64 * 86_400 + 8 * 3600 + 48 * 60 + 2) * 1_000_000_000 + 783_568_300;
    let end = (19_844i64 * 86_400 + 10 * 3600 + 12) * 1_000_000_000;
    assert_eq!(meta.start_ns, Some(start));
    assert_eq!(meta.end_ns, Some(end));
    assert_eq!(meta.duration_s, Some((end - start) as f64 / 1e9));
    assert_eq!(meta.duration_source.as_deref(), Some("first to last point in the NDJSON"));

    let pts = all(&store, &meta);
    assert_eq!(pts.len(), 25);
    // tags:null -> no tags
    assert_eq!(pts[0].metric, "vus");
    assert_eq!(pts[0].time_ns, start);
    assert!(pts[0].tags.0.is_empty());
    assert_eq!(values_of(&pts, "vus"), [2.0, 1.0]);
    // café escaped and raw are one value: 5 points.
    let cafe: Vec<&Point> = pts.iter().filter(|p| p.tags.tag("page") == Some("café")).collect();
    assert_eq!(cafe.len(), 5);
    assert_eq!(cafe.iter().map(|p| p.value).collect::<Vec<_>>(), [120.0, 300.0, 95.25, 60.0, 0.001]);
    assert!(cafe.iter().all(|p| p.tags.tag("group") == Some("")));
    let basket = pts.iter().filter(|p| p.tags.tag("group") == Some("::Shop::Basket")).count();
    assert_eq!(basket, 5);
    // Rate fed 1, 0, 0.5, -1, 0, 1 in that order; 4 of 6 non-zero.
    let rate = values_of(&pts, "ok_rate");
    assert_eq!(rate, [1.0, 0.0, 0.5, -1.0, 0.0, 1.0]);
    assert_eq!(rate.iter().filter(|v| **v != 0.0).count(), 4);
    // Counter sum 5 - 2 + 0 + 2.5 = 5.5; gauge last value -2, min -7.
    assert_eq!(values_of(&pts, "items").iter().sum::<f64>(), 5.5);
    assert_eq!(values_of(&pts, "temp"), [-3.0, -7.0, -2.0]);
    assert!(pts.iter().filter(|p| p.metric == "ok_rate").all(|p| p.tags.tag("name") == Some("x")));

    // Nothing left in the tmp area.
    assert!(!store.dir().join(".tmp").exists());
}

/// Case 01: real k6 v1.1.0 output; 39 points (13 metrics x 3 requests, counted with grep).
#[test]
fn case01_real_k6_output() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let rep = import_k6_json(&store, &fixture("case01-samples.ndjson"), ImportOptions::default()).unwrap();
    assert_eq!(rep.points, 39);
    let meta = rep.run;
    let opts = ScanOptions { metrics: Some(vec!["http_req_duration".into()]), ..Default::default() };
    let pts = store.read_points(&meta, &opts).unwrap();
    assert_eq!(pts.len(), 3);
    let first = &pts[0];
    assert_eq!(first.value, 4.629122);
    assert_eq!(first.tags.tag("name"), Some("home"));
    assert_eq!(first.tags.tag("status"), Some("200"));
    assert_eq!(first.tags.tag("method"), Some("GET"));
    assert_eq!(first.tags.tag("proto"), Some("HTTP/1.0"));
    assert_eq!(first.tags.tag("expected_response"), Some("true"));
    assert_eq!(first.tags.tag("scenario"), Some("default"));
    // http_req_failed was declared by k6 as a rate.
    let f = meta.metrics.iter().find(|m| m.name == "http_req_failed").unwrap();
    assert_eq!(f.kind, MetricType::Rate);
    // unused custom metrics have no Metric line, so they are not listed
    assert!(meta.metrics.iter().all(|m| m.name != "error_counter"));
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = fs::File::create(path).unwrap();
    for l in lines {
        f.write_all(l.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

fn fixture_lines() -> Vec<String> {
    fs::read_to_string(fixture("input.ndjson")).unwrap().lines().map(|l| l.trim_end_matches('\r').to_string()).collect()
}

fn store_is_empty(store: &LocalStore) -> bool {
    store.list_runs().unwrap().is_empty()
        && fs::read_dir(store.dir().join("runs")).unwrap().next().is_none()
        && !store.dir().join(".tmp").exists()
}

#[test]
fn malformed_line_fails_whole_import() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let mut lines = fixture_lines();
    lines[16] = r#"{"metric": "ok_rate", "type": "Point", "data": {"time": "2024-05-01T10:00:10Z", "value": 1, "tags": {"#.into();
    let input = tmp.path().join("bad.ndjson");
    write_lines(&input, &lines);
    let err = import_k6_json(&store, &input, ImportOptions::default()).unwrap_err();
    match &err {
        StoreError::BadLine { file, line, .. } => {
            assert_eq!(*line, 17);
            assert_eq!(file, &input);
        }
        e => panic!("wrong error {e}"),
    }
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("bad.ndjson:17:"), "{err}");
    assert!(store_is_empty(&store));
}

#[test]
fn bad_time_and_unknown_metric_are_bad_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let cases: [(&str, u64, &str); 4] = [
        (r#"{"type":"Point","metric":"vus","data":{"time":"2024-05-01 10:00:00","value":1,"tags":null}}"#, 1, "time"),
        (r#"{"type":"Point","metric":"my_custom","data":{"time":"2024-05-01T10:00:00Z","value":1,"tags":null}}"#, 1, "my_custom"),
        (r#"{"type":"Metric","data":{"name":"my-metric","type":"trend","contains":"time"}}"#, 1, "my-metric"),
        (r#"{"type":"Point","metric":"vus","data":{"time":"2024-05-01T10:00:00Z","tags":null}}"#, 1, "value"),
    ];
    for (i, (line, want_line, word)) in cases.iter().enumerate() {
        let input = tmp.path().join(format!("in{i}.ndjson"));
        fs::write(&input, format!("{line}\n")).unwrap();
        match import_k6_json(&store, &input, ImportOptions::default()) {
            Err(StoreError::BadLine { line, msg, .. }) => {
                assert_eq!(line, *want_line);
                assert!(msg.contains(word), "{msg}");
            }
            other => panic!("case {i}: {other:?}"),
        }
    }
    assert!(store_is_empty(&store));
}

#[test]
fn builtin_metric_without_declaration_gets_builtin_type() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let input = tmp.path().join("b.ndjson");
    // CRLF, no newline after the last line, unknown `metadata` field.
    fs::write(
        &input,
        "{\"type\":\"Point\",\"metric\":\"http_req_failed\",\"data\":{\"time\":\"2024-05-01T10:00:00Z\",\"value\":0,\"tags\":{\"name\":\"a\"}},\"metadata\":{\"vu\":\"1\"}}\r\n{\"type\":\"Point\",\"metric\":\"http_req_failed\",\"data\":{\"time\":\"2024-05-01T10:00:01.5Z\",\"value\":1,\"tags\":{}}}",
    )
    .unwrap();
    let rep = import_k6_json(&store, &input, ImportOptions::default()).unwrap();
    assert_eq!(rep.points, 2);
    assert_eq!(rep.run.metrics, vec![MetricInfo { name: "http_req_failed".into(), kind: MetricType::Rate, contains: ValueType::Default }]);
    assert_eq!(rep.run.duration_s, Some(1.5));
}

#[test]
fn skip_bad_lines_counts_and_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let mut lines = fixture_lines();
    lines[4] = "not json".into(); // a resp_ms point
    lines[22] = r#"{"type":"Point","metric":"items","data":{"time":"2024-05-01T10:00:11Z","value":"5"}}"#.into();
    let input = tmp.path().join("skip.ndjson");
    write_lines(&input, &lines);
    let opts = ImportOptions { skip_bad_lines: true, run_id: Some("my-run".into()), ..Default::default() };
    let rep = import_k6_json(&store, &input, opts).unwrap();
    assert_eq!(rep.skipped_lines, 2);
    assert_eq!(rep.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [5, 23]);
    assert_eq!(rep.points, 23);
    assert_eq!(rep.run.id.0, "my-run");
    let pts = all(&store, &store.resolve("my-run").unwrap());
    assert_eq!(values_of(&pts, "items"), [-2.0, 0.0, 2.5]);

    // the same id again is refused, and the store keeps one run
    let again = import_k6_json(&store, &input, ImportOptions { run_id: Some("my-run".into()), skip_bad_lines: true, ..Default::default() });
    assert!(matches!(again, Err(StoreError::RunExists(ref id)) if id == "my-run"));
    assert_eq!(store.list_runs().unwrap().len(), 1);
    let bad_id = import_k6_json(&store, &input, ImportOptions { run_id: Some("../x".into()), ..Default::default() });
    assert!(matches!(bad_id, Err(StoreError::InvalidRunId(_))));
}

#[test]
fn gzip_input_detected_by_magic() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    // name without .gz: detection is by content
    let input = tmp.path().join("results.json");
    let mut enc = flate2::write::GzEncoder::new(fs::File::create(&input).unwrap(), flate2::Compression::fast());
    enc.write_all(&fs::read(fixture("input.ndjson")).unwrap()).unwrap();
    enc.finish().unwrap();
    let rep = import_k6_json(&store, &input, ImportOptions::default()).unwrap();
    assert!(rep.gzip);
    assert_eq!(rep.points, 25);
    let pts = all(&store, &rep.run);
    assert_eq!(pts.iter().filter(|p| p.tags.tag("page") == Some("café")).count(), 5);
}

fn meta(id: &str, created_ns: i64) -> RunMeta {
    RunMeta {
        id: RunId(id.into()),
        created_ns,
        start_ns: None,
        end_ns: None,
        duration_s: None,
        duration_source: None,
        status: RunStatus::Running,
        origin: "slo run".into(),
        scenario: Some("s.yaml".into()),
        tags: BTreeMap::new(),
        metrics: vec![],
        points: 0,
        slo_version: "test".into(),
    }
}

#[test]
fn resolve_latest_prefix_ambiguous_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    assert!(matches!(store.resolve("latest"), Err(StoreError::RunNotFound(_))));
    for (id, created) in [("20240101T000000Z-aaaaaa", 30), ("20240101T000000Z-aabbbb", 10), ("20250101T000000Z-cccccc", 20)] {
        store.create_run(meta(id, created)).unwrap().finish(RunStatus::Complete, RunEnd::default()).unwrap();
    }
    let ids: Vec<String> = store.list_runs().unwrap().into_iter().map(|m| m.id.0).collect();
    assert_eq!(ids, ["20240101T000000Z-aabbbb", "20250101T000000Z-cccccc", "20240101T000000Z-aaaaaa"]);
    assert_eq!(store.resolve("latest").unwrap().id.0, "20240101T000000Z-aaaaaa");
    assert_eq!(store.resolve("2025").unwrap().id.0, "20250101T000000Z-cccccc");
    assert_eq!(store.resolve("20240101T000000Z-aab").unwrap().id.0, "20240101T000000Z-aabbbb");
    assert_eq!(store.resolve("20240101T000000Z-aaaaaa").unwrap().created_ns, 30);
    match store.resolve("20240101T000000Z-aa") {
        Err(e @ StoreError::AmbiguousRun { .. }) => {
            assert_eq!(e.exit_code(), 2);
            if let StoreError::AmbiguousRun { candidates, .. } = e {
                assert_eq!(candidates, ["20240101T000000Z-aaaaaa", "20240101T000000Z-aabbbb"]);
            }
        }
        other => panic!("{other:?}"),
    }
    let nf = store.resolve("2023").unwrap_err();
    assert!(matches!(nf, StoreError::RunNotFound(ref s) if s == "2023"));
    assert_eq!(nf.exit_code(), 3);
    // a second create with the same id is refused
    assert!(matches!(store.create_run(meta("20250101T000000Z-cccccc", 1)), Err(StoreError::RunExists(_))));
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    Tags::from_pairs(pairs.iter().copied())
}

#[test]
fn writer_round_trip_with_custom_tags_and_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let mut w = store.create_run(meta("r1", 5)).unwrap();
    w.declare_metric(MetricInfo { name: "resp".into(), kind: MetricType::Trend, contains: ValueType::Time });
    let input = vec![
        Point {
            metric: "http_req_duration".into(),
            time_ns: 1_000,
            value: 12.5,
            tags: tags(&[("name", "GET /a"), ("status", "200"), ("vu", "3"), ("weird key \"q\"", "tab\there\u{1}é")]),
        },
        Point { metric: "resp".into(), time_ns: 2_000, value: -1.0, tags: tags(&[]) },
        Point { metric: "http_req_duration".into(), time_ns: 3_000, value: 7.0, tags: tags(&[("group", ""), ("iter", "9")]) },
        Point { metric: "vus".into(), time_ns: 2_500, value: 4.0, tags: tags(&[("scenario", "s")]) },
    ];
    w.push_point(&input[0]).unwrap();
    w.push_point(&input[1]).unwrap();
    w.flush().unwrap();
    w.push_point(&input[2]).unwrap();
    w.push("vus", 2_500, 4.0, &[("scenario", "s")]).unwrap();
    let m = w.finish(RunStatus::Complete, RunEnd::default()).unwrap();
    assert_eq!(m.points, 4);
    assert_eq!(m.start_ns, Some(1_000));
    assert_eq!(m.end_ns, Some(3_000));
    assert_eq!(m.duration_s, Some(2e-6));
    let names: Vec<&str> = m.metrics.iter().map(|x| x.name.as_str()).collect();
    // declared resp, plus built-ins pushed undeclared
    assert_eq!(names, ["http_req_duration", "resp", "vus"]);
    // Two flushes: a point part and a request part each (http_req_duration points
    // always go to request tables, a row each when pushed one by one).
    let files: Vec<String> = store.part_files(&m).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(files, ["part-000001.parquet", "req-000001.parquet", "part-000002.parquet", "req-000002.parquet"]);
    assert_eq!(store.run_state(&m), RunState::Complete);
    // Each metric's points come back whole and in push order.
    let by_metric = |ps: &[Point]| {
        let mut b: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        for p in ps {
            b.entry(p.metric.clone()).or_default().push(p.clone());
        }
        b
    };
    let back = all(&store, &m);
    assert_eq!(by_metric(&back), by_metric(&input));

    // metric filter + time window [2000, 3000)
    let opts =
        ScanOptions { metrics: Some(vec!["resp".into(), "vus".into()]), from_ns: Some(2_000), to_ns: Some(3_000), ..Default::default() };
    let got: Vec<(String, i64)> = store.read_points(&m, &opts).unwrap().into_iter().map(|p| (p.metric, p.time_ns)).collect();
    assert_eq!(got, [("resp".to_string(), 2_000), ("vus".to_string(), 2_500)]);

    // tag_keys: only `name` and `vu` are decoded; others read as absent
    let mut seen = BTreeMap::new();
    let opts = ScanOptions { tag_keys: Some(vec!["name".into(), "vu".into()]), ..Default::default() };
    let stats = store
        .scan(&m, &opts, &mut |_m: &str, t_ns: i64, _v: f64, t: &dyn TagLookup| {
            seen.insert(t_ns, (t.tag("name").map(str::to_string), t.tag("vu").map(str::to_string), t.tag("status").is_some()));
        })
        .unwrap();
    assert_eq!(stats.points, 4);
    assert_eq!(stats.parts, 4);
    assert_eq!(seen[&1_000], (Some("GET /a".into()), Some("3".into()), false));
    assert_eq!(seen[&2_000], (None, None, false));
    // the raw JSON of non-fixed tags is reachable
    let mut raw = BTreeMap::new();
    store
        .scan(&m, &ScanOptions::default(), &mut |_m: &str, t_ns: i64, _v: f64, t: &dyn TagLookup| {
            raw.insert(t_ns, t.tag(ALL_EXTRA_KEY).map(str::to_string));
        })
        .unwrap();
    assert_eq!(raw[&3_000].as_deref(), Some(r#"{"iter":"9"}"#));
    assert_eq!(raw[&2_000], None);
    // A scan of request metrics only opens request tables; of others, only point parts.
    let only = |ms: &[&str]| {
        let opts = ScanOptions { metrics: Some(ms.iter().map(|m| m.to_string()).collect()), ..Default::default() };
        let st = store.scan(&m, &opts, &mut |_m: &str, _t: i64, _v: f64, _t2: &dyn TagLookup| {}).unwrap();
        (st.parts, st.points)
    };
    assert_eq!(only(&["http_req_duration"]), (2, 2));
    assert_eq!(only(&["vus"]), (2, 1));
    assert_eq!(only(&["http_req_duration", "vus"]), (4, 3));
}

#[test]
fn time_filter_skips_row_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let mut w = store.create_run(meta("r2", 5)).unwrap();
    for part in 0..3i64 {
        for i in 0..100i64 {
            w.push("vus", part * 1000 + i, 1.0, &[("scenario", "s")]).unwrap();
        }
        w.flush().unwrap();
    }
    let m = w.finish(RunStatus::Complete, RunEnd::default()).unwrap();
    let opts = ScanOptions { from_ns: Some(1_050), to_ns: Some(2_000), ..Default::default() };
    let mut n = 0u64;
    let st = store.scan(&m, &opts, &mut |_: &str, t: i64, _: f64, _: &dyn TagLookup| {
        assert!((1_050..2_000).contains(&t));
        n += 1;
    });
    let st = st.unwrap();
    assert_eq!(n, 50);
    assert_eq!(st.row_groups_read, 1);
    assert_eq!(st.row_groups_skipped, 2);
}

#[test]
fn killed_writer_reads_back_incomplete_with_closed_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();

    // 1. Dropped without finish: what was pushed is flushed, status stays running.
    let mut w = store.create_run(meta("dropped", 1)).unwrap();
    assert_eq!(store.run_state(&store.resolve("dropped").unwrap()), RunState::Live);
    w.push("vus", 10, 1.0, &[] as &[(&str, &str)]).unwrap();
    w.flush().unwrap();
    w.push("vus", 20, 2.0, &[] as &[(&str, &str)]).unwrap();
    drop(w);
    let m = store.resolve("dropped").unwrap();
    assert_eq!(m.status, RunStatus::Running);
    assert_eq!(store.run_state(&m), RunState::Incomplete);
    assert_eq!((m.points, m.start_ns, m.end_ns), (2, Some(10), Some(20)));
    assert_eq!(values_of(&all(&store, &m), "vus"), [1.0, 2.0]);

    // 2. Killed mid-part (simulated: writer leaked, its pid dead, a half-written tmp part).
    let mut w = store.create_run(meta("killed", 2)).unwrap();
    for i in 0..5 {
        w.push("vus", 100 + i, i as f64, &[] as &[(&str, &str)]).unwrap();
    }
    w.flush().unwrap();
    w.push("vus", 999, 9.0, &[] as &[(&str, &str)]).unwrap();
    std::mem::forget(w);
    let dir = store.run_dir(&RunId("killed".into()));
    fs::write(dir.join(".part-000002.parquet.tmp"), b"PAR1 half a file").unwrap();
    fs::write(dir.join("writer.pid"), "999999999").unwrap();
    let m = store.resolve("killed").unwrap();
    assert_eq!(store.run_state(&m), RunState::Incomplete);
    assert_eq!((m.points, m.start_ns, m.end_ns), (5, Some(100), Some(104)));
    assert_eq!(values_of(&all(&store, &m), "vus"), [0.0, 1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn error_classes() {
    assert_eq!(StoreError::RunNotFound("x".into()).exit_code(), 3);
    assert_eq!(StoreError::RunExists("x".into()).exit_code(), 2);
    let io = StoreError::Io { path: "/x".into(), source: std::io::Error::other("boom") };
    assert_eq!(io.exit_code(), 1);
}

/// A file spanning several 4 MiB read chunks (parsed on two threads): order, line
/// numbers and metric declarations must hold across chunk boundaries.
#[test]
fn multi_chunk_order_and_line_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let n = 60_000u64; // ~250 bytes a line: ~15 MB, 4 chunks
    let pad = "x".repeat(120);
    let mut lines = vec![r#"{"type":"Metric","data":{"name":"resp","type":"trend","contains":"time"}}"#.to_string()];
    for i in 0..n {
        lines.push(format!(
            r#"{{"type":"Point","metric":"resp","data":{{"time":"2024-05-01T10:00:00.{:09}Z","value":{i},"tags":{{"name":"n{}","pad":"{pad}"}}}}}}"#,
            i * 1000,
            i % 7
        ));
    }
    // a custom metric used before its declaration, which comes 50,000 lines later
    lines.insert(10, r#"{"type":"Point","metric":"late","data":{"time":"2024-05-01T10:00:00Z","value":-1,"tags":null}}"#.into());
    lines.insert(50_010, r#"{"type":"Metric","data":{"name":"late","type":"gauge","contains":"default"}}"#.into());
    let input = tmp.path().join("big.ndjson");
    write_lines(&input, &lines);
    assert!(fs::metadata(&input).unwrap().len() > 12 << 20);
    let rep = import_k6_json(&store, &input, ImportOptions::default()).unwrap();
    assert_eq!(rep.points, n + 1);
    let late = rep.run.metrics.iter().find(|m| m.name == "late").unwrap();
    assert_eq!(late.kind, MetricType::Gauge);
    let pts = all(&store, &rep.run);
    let vals = values_of(&pts, "resp");
    assert_eq!(vals.len() as u64, n);
    assert!(vals.iter().enumerate().all(|(i, v)| *v == i as f64), "file order kept");
    assert_eq!(pts[9].metric, "late");

    // bad lines deep in the file: the first one in file order is reported
    let mut bad = lines.clone();
    bad[45_000] = "{oops".into();
    bad[55_000] = "{oops".into();
    let input2 = tmp.path().join("big-bad.ndjson");
    write_lines(&input2, &bad);
    match import_k6_json(&store, &input2, ImportOptions::default()) {
        Err(StoreError::BadLine { line, .. }) => assert_eq!(line, 45_001),
        other => panic!("{other:?}"),
    }
    let rep = import_k6_json(&store, &input2, ImportOptions { skip_bad_lines: true, ..Default::default() }).unwrap();
    assert_eq!(rep.skipped_lines, 2);
    assert_eq!(rep.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [45_001, 55_001]);
    assert_eq!(rep.points, n - 1);
    assert_eq!(store.list_runs().unwrap().len(), 2);
}

/// The part files' physical layout, as DuckDB/pandas/polars see it: snappy, dictionary
/// encoded strings, ns timestamps adjusted to UTC, a `time` min/max per row group.
#[test]
fn part_file_layout_is_plain_parquet() {
    use parquet::basic::{Compression, Encoding, LogicalType, TimeUnit, TimestampType, Type as PhysicalType};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let rep = import_k6_json(&store, &fixture("case01-samples.ndjson"), ImportOptions::default()).unwrap();
    let parts = store.part_files(&rep.run).unwrap();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].ends_with("part-000001.parquet"));
    assert!(parts[1].ends_with("req-000001.parquet"));
    // The fixture: 3 requests of 9 HTTP points each (one request row each), and 12
    // other points (data_sent, data_received, iterations, iteration_duration × 3).
    let req = SerializedFileReader::new(fs::File::open(&parts[1]).unwrap()).unwrap();
    let rmd = req.metadata();
    assert_eq!(rmd.file_metadata().num_rows(), 3);
    let rnames: Vec<&str> = rmd.file_metadata().schema_descr().columns().iter().map(|c| c.name()).collect();
    assert_eq!(rnames[0], "time");
    assert_eq!(&rnames[rnames.len() - 12..rnames.len() - 9], ["http_reqs", "http_req_duration", "http_req_blocked"]);
    let non_null: u64 = (0..rnames.len())
        .filter(|&i| rnames[i].starts_with("http_req"))
        .map(|i| 3 - rmd.row_group(0).column(i).statistics().unwrap().null_count_opt().unwrap())
        .sum();
    assert_eq!(non_null, 27);
    let r = SerializedFileReader::new(fs::File::open(&parts[0]).unwrap()).unwrap();
    let md = r.metadata();
    assert_eq!(md.file_metadata().num_rows(), 12);
    let schema = md.file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "metric",
            "time",
            "value",
            "scenario",
            "group",
            "name",
            "method",
            "status",
            "url",
            "expected_response",
            "error_code",
            "proto",
            "check",
            "tags"
        ]
    );
    let time = schema.column(1);
    assert_eq!(time.physical_type(), PhysicalType::INT64);
    assert_eq!(time.logical_type_ref(), Some(&LogicalType::Timestamp(TimestampType { is_adjusted_to_u_t_c: true, unit: TimeUnit::NANOS })));
    assert_eq!(schema.column(0).logical_type_ref(), Some(&LogicalType::String));
    let rg = md.row_group(0);
    for c in rg.columns() {
        assert_eq!(c.compression(), Compression::SNAPPY);
    }
    let enc = rg.column(0).encodings().collect::<Vec<_>>();
    assert!(enc.contains(&Encoding::RLE_DICTIONARY), "{enc:?}");
    assert!(rg.column(1).statistics().is_some());
}

/// A generator run's requests go to the request table as one row each; reading them back
/// gives exactly the points `RequestSample::for_each_point` (the model's definition of
/// a request's k6 points) lists: same metrics, times, values and tags, per metric in
/// recording order — for a plain request, one with a transport error (`error` tag on
/// the HTTP points only), one with a scheduling lag, and extra tags.
#[test]
fn request_rows_read_back_as_the_models_points() {
    use slo_model::{Method, RequestSample, SampleTags};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let mut w = store.create_run(meta("req-rows", 1)).unwrap();
    let plain = Arc::new(SampleTags { scenario: "load".into(), group: "".into(), extra: Arc::new(Tags::default()) });
    let tagged = Arc::new(SampleTags {
        scenario: "spike".into(),
        group: "::checkout".into(),
        extra: Arc::new(Tags::from_pairs([("flow", "buy \"now\""), ("zone", "é")])),
    });
    let req = |t: i64, tags: &Arc<SampleTags>, status: u16, code: u32, lag: Option<f64>| RequestSample {
        time_ns: t,
        tags: tags.clone(),
        name: "/api/products/{{ id }}".into(),
        url: "/api/products/{{ id }}".into(),
        method: Method::Get,
        status,
        error_code: code,
        expected_response: (200..400).contains(&status),
        duration_ms: 1.5 + t as f64,
        blocked_ms: 0.25,
        connecting_ms: 0.0,
        tls_handshaking_ms: 0.0,
        sending_ms: 0.125,
        waiting_ms: 1.0 + t as f64,
        receiving_ms: 0.375,
        bytes_sent: 47 + t as u64,
        bytes_received: 118,
        vu: 1,
        iteration: t as u64,
        scheduling_lag_ms: lag,
    };
    let samples = vec![
        req(1, &plain, 200, 0, None),
        req(2, &tagged, 0, 1211, None), // transport error: k6's `error` tag
        req(3, &tagged, 503, 1503, Some(0.5)),
        req(4, &plain, 201, 0, Some(0.0)),
    ];
    let mut want: Vec<Point> = Vec::new();
    for s in &samples {
        w.push_request(s).unwrap();
        s.for_each_point(|m, t, v, tags| want.push(Point { metric: m.to_string(), time_ns: t, value: v, tags: tags.to_tags() }));
    }
    let m = w.finish(RunStatus::Complete, RunEnd::default()).unwrap();
    assert_eq!(m.points, want.len() as u64);
    assert_eq!(want.len(), 4 * 11 + 2);
    assert!(store.part_files(&m).unwrap().iter().all(|p| p.file_name().unwrap().to_string_lossy().starts_with("req-")));
    let got = all(&store, &m);
    let by_metric = |ps: &[Point]| {
        let mut b: BTreeMap<String, Vec<(i64, f64, Tags)>> = BTreeMap::new();
        for p in ps {
            b.entry(p.metric.clone()).or_default().push((p.time_ns, p.value, p.tags.clone()));
        }
        b
    };
    assert_eq!(by_metric(&got), by_metric(&want));
    // The error tag is on the failed request's HTTP points, not on its data points.
    let err = got.iter().find(|p| p.metric == "http_req_duration" && p.time_ns == 2).unwrap();
    assert_eq!(err.tags.tag("error"), Some(slo_model::sample::error_code::message(1211).unwrap()));
    let sent = got.iter().find(|p| p.metric == "data_sent" && p.time_ns == 2).unwrap();
    assert_eq!(sent.tags.tag("error"), None);
    assert_eq!(sent.tags.tag("name"), None);
    assert_eq!(sent.tags.tag("zone"), Some("é"));
    let opts = ScanOptions { metrics: Some(vec!["slo_scheduling_lag".into()]), ..Default::default() };
    assert_eq!(values_of(&store.read_points(&m, &opts).unwrap(), "slo_scheduling_lag"), [0.5, 0.0]);
    // An unfinished run (writer dropped, as after a crash) counts its points from the
    // Parquet footers alone: one per non-null metric cell.
    let mut w = store.create_run(meta("req-rows-cut", 2)).unwrap();
    for s in &samples {
        w.push_request(s).unwrap();
    }
    drop(w);
    let cut = store.resolve("req-rows-cut").unwrap();
    assert_eq!(cut.status, RunStatus::Running);
    assert_eq!(cut.points, 46);
    assert_eq!((cut.start_ns, cut.end_ns), (Some(1), Some(4)));
}

/// k6 writes the nine HTTP points of a request together; the import makes them one row
/// of the request table even when a tag needs JSON escapes (k6 writes `&` as `\u0026`),
/// and keeps apart requests whose tags or times differ.
#[test]
fn import_merges_one_requests_points_even_with_escaped_tags() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let http = &slo_model::REQUEST_METRICS[..9]; // the nine k6 writes per request
    let mut text = String::new();
    let requests = [
        ("2026-11-29T12:00:00.000000001Z", r#"/p?a=1\u0026b=\"x\""#),
        ("2026-11-29T12:00:00.000000002Z", r#"/p?a=1\u0026b=\"x\""#),
        ("2026-11-29T12:00:00.000000002Z", "/plain"),
        ("2026-11-29T12:00:00.000000003Z", "/caf\u{e9}"),
    ];
    for (t, url) in requests {
        for (i, m) in http.iter().enumerate() {
            text.push_str(&format!(
                r#"{{"metric":"{m}","type":"Point","data":{{"time":"{t}","value":{i},"tags":{{"method":"GET","name":"{url}","status":"200","url":"{url}"}}}}}}"#
            ));
            text.push('\n');
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("k6.ndjson");
    fs::write(&f, text).unwrap();
    let store = LocalStore::open(tmp.path().join("s")).unwrap();
    let rep = import_k6_json(&store, &f, ImportOptions::default()).unwrap();
    assert_eq!(rep.points, 36);
    let parts = store.part_files(&rep.run).unwrap();
    let req: Vec<_> = parts.iter().filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("req-")).collect();
    let rows: i64 =
        req.iter().map(|p| SerializedFileReader::new(fs::File::open(p).unwrap()).unwrap().metadata().file_metadata().num_rows()).sum();
    assert_eq!(rows, 4, "one row per request");
    let urls: Vec<String> =
        all(&store, &rep.run).iter().filter(|p| p.metric == "http_reqs").map(|p| p.tags.tag("url").unwrap().to_string()).collect();
    assert_eq!(urls, [r#"/p?a=1&b="x""#, r#"/p?a=1&b="x""#, "/plain", "/café"]);
}

/// A real k6 recording (sample-data, ~8 MB of NDJSON, so it spans several 4 MiB parse
/// chunks): one request row per request, as many as k6's own summary counts, each with
/// its http_reqs point (no request split at a chunk boundary).
#[test]
fn sample_data_has_one_row_per_request_of_k6s_count() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(repo.join("sample-data/baseline.summary.json")).unwrap()).unwrap();
    let k6_count = summary["metrics"]["http_reqs"]["count"].as_u64().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let rep = import_k6_json(&store, &repo.join("sample-data/baseline.json.gz"), ImportOptions::default()).unwrap();
    let (mut rows, mut nulls) = (0u64, 0u64);
    for p in store.part_files(&rep.run).unwrap() {
        if !p.file_name().unwrap().to_string_lossy().starts_with("req-") {
            continue;
        }
        let r = SerializedFileReader::new(fs::File::open(&p).unwrap()).unwrap();
        let md = r.metadata();
        let col = md.file_metadata().schema_descr().columns().iter().position(|c| c.name() == "http_reqs").unwrap();
        for rg in md.row_groups() {
            rows += rg.num_rows() as u64;
            nulls += rg.column(col).statistics().and_then(|s| s.null_count_opt()).unwrap_or(0);
        }
    }
    assert_eq!((rows, nulls), (k6_count, 0));
}
