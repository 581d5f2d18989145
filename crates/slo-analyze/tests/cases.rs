//! The shared cases (`../shared/cases`, copied into `tests/fixtures/`) as tests:
//! every expected number comes from k6 v1.1.0's own output or from the hand computation
//! in the case's README / expected.json, never from this crate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use slo_analyze::*;
use slo_config::{parse_metric_key, parse_threshold_expr, Location, MetricThresholds, Threshold};
use slo_model::{MetricInfo, MetricType, Point, RunStatus, Tags, ValueType};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn ns(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_nanos_opt().unwrap()
}

/// k6 `--out json` NDJSON: `Metric` lines give the catalog, `Point` lines the points
/// (`"tags": null` is an empty set; CRLF and blank lines are fine).
struct Ndjson {
    metrics: Vec<MetricInfo>,
    points: Vec<Point>,
}

fn read_ndjson(rel: &str) -> Ndjson {
    let mut metrics = Vec::new();
    let mut points = Vec::new();
    for line in read(rel).lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let o: Value = serde_json::from_str(line).unwrap();
        let d = &o["data"];
        match o["type"].as_str().unwrap() {
            "Metric" => metrics.push(MetricInfo {
                name: d["name"].as_str().unwrap().into(),
                kind: MetricType::parse(d["type"].as_str().unwrap()).unwrap(),
                contains: ValueType::parse(d["contains"].as_str().unwrap()),
            }),
            "Point" => {
                let tags = match d["tags"].as_object() {
                    Some(m) => Tags::from_pairs(m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))),
                    None => Tags::default(),
                };
                points.push(Point {
                    metric: o["metric"].as_str().unwrap().into(),
                    time_ns: ns(d["time"].as_str().unwrap()),
                    value: d["value"].as_f64().unwrap(),
                    tags,
                });
            }
            other => panic!("unknown line type {other}"),
        }
    }
    Ndjson { metrics, points }
}

fn run_info() -> RunInfo {
    RunInfo {
        id: "test".into(),
        origin: "k6 json import".into(),
        scenario: None,
        status: RunStatus::Complete,
        start_ns: None,
        end_ns: None,
        points: 0,
        slo_version: "test".into(),
    }
}

/// Thresholds as `(metric key, [expressions])`, parsed with slo-config's k6 grammar.
fn thresholds(list: &[(&str, &[&str])]) -> Vec<MetricThresholds> {
    list.iter()
        .enumerate()
        .map(|(line, (key, exprs))| MetricThresholds {
            key_source: key.to_string(),
            key: parse_metric_key(key).unwrap_or_else(|e| panic!("{key}: {e}")),
            location: Location { file: "test.yaml".into(), line: line + 1, column: 1 },
            thresholds: exprs
                .iter()
                .map(|e| Threshold {
                    source: e.to_string(),
                    expr: parse_threshold_expr(e).unwrap_or_else(|err| panic!("{e}: {err}")),
                    abort_on_fail: false,
                    delay_abort_eval: None,
                    location: Location { file: "test.yaml".into(), line: line + 1, column: 3 },
                })
                .collect(),
        })
        .collect()
}

fn analyze(nd: &Ndjson, ths: &[MetricThresholds], slos: &[SloSpec], rate_duration_s: Option<f64>) -> CheckReport {
    analyze_opts(nd, ths, slos, rate_duration_s, Options::default())
}

fn analyze_opts(nd: &Ndjson, ths: &[MetricThresholds], slos: &[SloSpec], rate_duration_s: Option<f64>, options: Options) -> CheckReport {
    let start = nd.points.iter().map(|p| p.time_ns).min().unwrap();
    let end = nd.points.iter().map(|p| p.time_ns).max().unwrap();
    let plan = Plan {
        thresholds: ths,
        slos,
        metrics: &nd.metrics,
        run: run_info(),
        range: TimeRange { start_ns: start, end_ns: end },
        rate_duration_s,
        rate_duration_source: Some("test".into()),
        options,
    };
    let mut a = Analysis::new(plan).unwrap();
    for p in &nd.points {
        a.push_point(p);
    }
    a.finish()
}

fn trend<'a>(r: &'a CheckReport, key: &str) -> &'a TrendSummary {
    match r.metrics.get(key) {
        Some(MetricSummary::Trend(t)) => t,
        other => panic!("{key}: {other:?}"),
    }
}

/// Compares every value of a k6 `--summary-export` file with ours, exactly. Returns the
/// number of values compared. Counter `rate` is skipped (it divides by k6's own test
/// duration, which the NDJSON does not carry); metrics we report as NO DATA are skipped
/// (k6 shows zeros there, see case 01).
fn compare_with_k6_export(r: &CheckReport, export: &Value) -> usize {
    let mut n = 0;
    let mut diffs = Vec::new();
    for (key, want) in export["metrics"].as_object().unwrap() {
        let Some(got) = r.metrics.get(key) else {
            // k6 lists never-written custom metrics with zeros (case 01); slo has no
            // type for them. Anything else missing is a difference.
            let all_zero = want.as_object().unwrap().iter().all(|(k, v)| k == "thresholds" || v.as_f64() == Some(0.0));
            if !all_zero {
                diffs.push(format!("{key}: missing"));
            }
            continue;
        };
        let mut check = |field: &str, ours: Option<f64>| {
            if let Some(w) = want.get(field).and_then(Value::as_f64) {
                n += 1;
                if ours != Some(w) {
                    diffs.push(format!("{key} {field}: k6={w:?} ours={ours:?}"));
                }
            }
        };
        match got {
            MetricSummary::Trend(t) if t.count > 0 => {
                check("avg", t.avg);
                check("min", t.min);
                check("med", t.med);
                check("max", t.max);
                check("p(90)", t.p90);
                check("p(95)", t.p95);
                check("p(99)", t.p99);
            }
            MetricSummary::Rate(s) if s.total > 0 => {
                check("passes", Some(s.passes as f64));
                check("fails", Some(s.fails as f64));
                check("value", s.value);
            }
            MetricSummary::Counter(c) if c.samples > 0 => check("count", Some(c.count)),
            MetricSummary::Gauge(g) if g.samples > 0 => {
                check("value", g.value);
                check("min", g.min);
                check("max", g.k6_max);
            }
            _ => {}
        }
    }
    assert!(diffs.is_empty(), "differences from k6:\n{}", diffs.join("\n"));
    n
}

// ---------------------------------------------------------------- case 05

#[test]
fn case05_k6_arithmetic_to_the_last_digit() {
    let nd = read_ndjson("case05/input.ndjson");
    let exp = json("case05/expected.json");
    let ths = thresholds(&[
        ("resp_ms", &["p(95)<300"]),
        ("resp_ms{page:café}", &["p(95)<1000"]),
        ("resp_ms{group:::Shop::Basket}", &["p(95)<1000"]),
    ]);
    let r = analyze(&nd, &ths, &[], None);

    for key in ["resp_ms", "resp_ms{page:café}", "resp_ms{group:::Shop::Basket}"] {
        let t = trend(&r, key);
        let e = &exp[key];
        assert_eq!(t.count, e["count"].as_u64().unwrap(), "{key} count");
        for (field, ours) in [
            ("min", t.min),
            ("max", t.max),
            ("avg", t.avg),
            ("med", t.med),
            ("p(50)", t.med),
            ("p(90)", t.p90),
            ("p(95)", t.p95),
            ("p(99)", t.p99),
        ] {
            assert_eq!(ours, e[field].as_f64(), "{key} {field}");
        }
    }
    // Literal digits from expected.json, so a fixture edit cannot hide a change.
    assert_eq!(trend(&r, "resp_ms").p95, Some(360.4999999999999));
    assert_eq!(trend(&r, "resp_ms").avg, Some(152.7001));

    let th = &r.thresholds[0];
    assert_eq!((th.verdict, th.observed, th.unit), (Verdict::Fail, Some(360.4999999999999), Unit::Millis));
    assert_eq!(th.margin, Some(300.0 - 360.4999999999999));
    assert_eq!(exp["thresholds"]["resp_ms: p(95)<300"], "fail");

    match &r.metrics["ok_rate"] {
        MetricSummary::Rate(s) => assert_eq!((s.passes, s.fails, s.value), (4, 2, Some(0.6666666666666666))),
        o => panic!("{o:?}"),
    }
    match &r.metrics["items"] {
        MetricSummary::Counter(c) => assert_eq!(c.count, exp["items"]["count"].as_f64().unwrap()),
        o => panic!("{o:?}"),
    }
    match &r.metrics["vus"] {
        MetricSummary::Gauge(g) => assert_eq!((g.value, g.min, g.max), (Some(1.0), Some(1.0), Some(2.0))),
        o => panic!("{o:?}"),
    }
    match &r.metrics["temp"] {
        MetricSummary::Gauge(g) => {
            assert_eq!((g.value, g.min, g.max), (Some(-2.0), Some(-7.0), Some(-2.0)));
            assert_eq!(g.k6_max, exp["temp"]["max_k6_reports"].as_f64());
            assert!(g.differs_from_k6);
        }
        o => panic!("{o:?}"),
    }
    assert!(r.notes.iter().any(|n| n.contains("temp") && n.contains("k6")), "{:?}", r.notes);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.exit_code(), 1);

    // The JSON field names are the documented interface (report.rs).
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["exit_code"], 1);
    let t = &v["thresholds"][0];
    assert_eq!(t["metric_key"], "resp_ms");
    assert_eq!(t["expression"], "p(95)<300");
    assert_eq!(t["aggregation"], "p(95)");
    assert_eq!(t["op"], "<");
    assert_eq!(t["observed"].as_f64(), Some(360.4999999999999));
    assert_eq!(t["unit"], "ms");
    assert_eq!(t["verdict"], "fail");
    assert_eq!(t["location"]["file"], "test.yaml");
    let m = &v["metrics"]["resp_ms"];
    assert_eq!(m["type"], "trend");
    assert_eq!(m["p(95)"].as_f64(), Some(360.4999999999999));
    assert_eq!(v["metrics"]["ok_rate"]["type"], "rate");
    assert_eq!(v["metrics"]["items"]["rate_unit"], "1/s");
    assert_eq!(v["metrics"]["temp"]["k6_max"].as_f64(), Some(0.0));
}

/// `verdicts_only` judges the same values (case 05's expected.json) and reports only
/// the series judged, none of the k6 summary's others.
#[test]
fn case05_verdicts_only_judges_the_same_and_summarizes_nothing_else() {
    let nd = read_ndjson("case05/input.ndjson");
    let exp = json("case05/expected.json");
    let ths = thresholds(&[("resp_ms{page:café}", &["p(95)<1000"]), ("resp_ms", &["p(95)<300"])]);
    let full = analyze(&nd, &ths, &[], None);
    let lean = analyze_opts(&nd, &ths, &[], None, Options { verdicts_only: true, ..Options::default() });
    assert!(full.metrics.len() > 2, "{:?}", full.metrics.keys());
    assert_eq!(lean.metrics.keys().collect::<Vec<_>>(), ["resp_ms", "resp_ms{page:café}"]);
    for (f, l) in full.thresholds.iter().zip(&lean.thresholds) {
        assert_eq!((f.verdict, f.observed), (l.verdict, l.observed), "{}", f.expression);
    }
    assert_eq!(trend(&lean, "resp_ms{page:café}").p95, exp["resp_ms{page:café}"]["p(95)"].as_f64());
    assert_eq!(lean.verdict, full.verdict);
}

#[test]
fn case05_sink_semantics_match_k6_export() {
    let nd = read_ndjson("case05/sink_semantics.ndjson");
    let r = analyze(&nd, &[], &[], None);
    let n = compare_with_k6_export(&r, &json("case05/sink_semantics.summary-export.json"));
    assert!(n >= 15, "only {n} values compared");
}

// ---------------------------------------------------------------- case 01

#[test]
fn case01_no_data_is_never_a_pass() {
    let nd = read_ndjson("case01/samples.ndjson");
    let ths = thresholds(&[
        ("error_counter", &["count<10"]),
        ("fail_rate", &["rate<0.01"]),
        ("login_time", &["p(95)<500"]),
        ("http_req_duration{name:login}", &["p(95)<500"]),
        ("http_reqs{name:login}", &["count>0"]),
    ]);
    let r = analyze(&nd, &ths, &[], None);
    let exp = json("case01/expected.json");
    assert_eq!(exp["slo_expected"]["overall"], "fail");
    for t in &r.thresholds {
        let label = format!("{}: {}", t.key_source, t.expression);
        let want = exp["slo_expected"][&label].as_str().unwrap_or_else(|| panic!("{label} not in expected.json"));
        assert!(want.starts_with("fail (no data"), "{label}: {want}");
        assert_eq!(t.verdict, Verdict::NoData, "{label}");
        assert_eq!(t.observed, None, "{label}: no data is not 0");
        assert!(t.reason.is_some(), "{label}");
    }
    // Only NO DATA items: the check fails with the distinct "no data" exit code.
    assert_eq!(r.verdict, Verdict::NoData);
    assert!(r.verdict.is_failing(false));
    assert_eq!(r.exit_code(), 3);
    // Sub-metrics named by thresholds are summarized even without data.
    assert_eq!(trend(&r, "http_req_duration{name:login}").count, 0);
    assert_eq!(trend(&r, "http_req_duration{name:login}").p95, None);

    // --allow-no-data turns it into a warning, never a pass.
    let plan = Plan {
        thresholds: &ths,
        slos: &[],
        metrics: &nd.metrics,
        run: run_info(),
        range: TimeRange { start_ns: nd.points[0].time_ns, end_ns: nd.points.last().unwrap().time_ns },
        rate_duration_s: None,
        rate_duration_source: None,
        options: Options { allow_no_data: true, ..Options::default() },
    };
    let mut a = Analysis::new(plan).unwrap();
    for p in &nd.points {
        a.push_point(p);
    }
    let r = a.finish();
    assert_eq!(r.verdict, Verdict::Warn);
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn case01_real_k6_run_matches_k6_summary() {
    let nd = read_ndjson("case01/samples.ndjson");
    let ths = thresholds(&[("http_req_duration{name:login}", &["p(95)<500"]), ("http_reqs{name:login}", &["count>0"])]);
    let r = analyze(&nd, &ths, &[], None);
    // Includes http_req_duration{expected_response:true}, which k6 adds by itself.
    let n = compare_with_k6_export(&r, &json("case01/summary-export.json"));
    assert!(n >= 60, "only {n} values compared");
    assert_eq!(trend(&r, "http_req_duration{expected_response:true}").avg, Some(2.7985710000000004));
}

// ---------------------------------------------------------------- case 03

/// The 12 requests of case 03's script.js, as k6 tags them (README + expected.json
/// "traffic"): 4x200 name=login, 1x500 name=login key=value, 3x200 name=home (+ passing
/// check), 2x404 without a name tag (name = URL; the second with a failing check), and
/// in group g1 one 200 and one 201.
fn case03_points() -> Vec<Point> {
    let b = "http://127.0.0.1:18080";
    // (status, name tag, extra tag, group, check result)
    type Req<'a> = (u16, Option<&'a str>, Option<(&'a str, &'a str)>, &'a str, Option<bool>);
    let mut reqs: Vec<Req> = Vec::new();
    for _ in 0..4 {
        reqs.push((200, Some("login"), None, "", None));
    }
    reqs.push((500, Some("login"), Some(("key", "value")), "", None));
    for _ in 0..3 {
        reqs.push((200, Some("home"), None, "", Some(true)));
    }
    reqs.push((404, None, None, "", None));
    reqs.push((404, None, None, "", Some(false)));
    reqs.push((200, None, None, "::g1", None));
    reqs.push((201, None, None, "::g1", None));
    let mut out = Vec::new();
    let t0 = 1_700_000_000_000_000_000i64;
    for (i, (status, name, extra, group, check)) in reqs.into_iter().enumerate() {
        let t = t0 + i as i64 * 1_000_000;
        let url = format!("{b}/status/{status}");
        let expected = (200..400).contains(&status);
        let mut pairs = vec![
            ("scenario".to_string(), "default".to_string()),
            ("group".into(), group.into()),
            ("method".into(), "GET".into()),
            ("status".into(), status.to_string()),
            ("url".into(), url.clone()),
            ("name".into(), name.map_or(url.clone(), str::to_string)),
            ("proto".into(), "HTTP/1.1".into()),
            ("expected_response".into(), expected.to_string()),
        ];
        if let Some((k, v)) = extra {
            pairs.push((k.into(), v.into()));
        }
        let tags = Tags::from_pairs(pairs);
        out.push(Point { metric: "http_reqs".into(), time_ns: t, value: 1.0, tags: tags.clone() });
        out.push(Point { metric: "http_req_failed".into(), time_ns: t, value: if expected { 0.0 } else { 1.0 }, tags: tags.clone() });
        out.push(Point { metric: "http_req_duration".into(), time_ns: t, value: 0.5 + i as f64 / 10.0, tags });
        if let Some(ok) = check {
            let ctags = Tags::from_pairs([("check", "status is 200"), ("group", group), ("scenario", "default")]);
            out.push(Point { metric: "checks".into(), time_ns: t, value: if ok { 1.0 } else { 0.0 }, tags: ctags });
        }
    }
    let end = t0 + 12_000_000;
    out.push(Point { metric: "iterations".into(), time_ns: end, value: 1.0, tags: Tags::from_pairs([("scenario", "default")]) });
    out.push(Point { metric: "vus".into(), time_ns: t0, value: 1.0, tags: Tags::default() });
    out.push(Point { metric: "vus".into(), time_ns: end, value: 0.0, tags: Tags::default() });
    out
}

#[test]
fn case03_tag_filters_and_verdicts_match_k6() {
    let exp = json("case03/expected.json");
    let nd = Ndjson { metrics: Vec::new(), points: case03_points() };
    let mut compared = 0;
    for case in exp["cases"].as_array().unwrap() {
        if case["k6"] != "evaluated" {
            continue;
        }
        let key = case["metric_key"].as_str().unwrap();
        let expr = case["expr"].as_str().unwrap();
        // Timing-dependent in k6 (README: "do not pin"), and keys whose k6 result comes
        // from k6's untrimmed-key quirk rather than from matching.
        if key.starts_with("vus_max") || key.contains("{ ") {
            continue;
        }
        let (Ok(_), Ok(e)) = (parse_metric_key(key), parse_threshold_expr(expr)) else { continue };
        if e.value.is_nan() {
            continue; // slo rejects NaN targets (see analysis tests)
        }
        let ths = thresholds(&[(key, &[expr])]);
        // k6's run lasted ~12.3 ms (http_reqs count 12 at 975.8/s in runs/00-summary.json).
        let r = analyze(&nd, &ths, &[], Some(12.0 / 975.8069008250853));
        let t = &r.thresholds[0];
        let k6_passed = case["k6_passed"].as_bool().unwrap();
        assert_eq!(t.verdict == Verdict::Pass, k6_passed, "{key}: {expr}: {t:?}");
        if let Some(vals) = case.get("deterministic_values") {
            let got = &r.metrics[&t.metric_key];
            for (field, want) in vals.as_object().unwrap() {
                let want = want.as_f64().unwrap();
                let ours = match (got, field.as_str()) {
                    (MetricSummary::Counter(c), "count") => Some(c.count),
                    (MetricSummary::Rate(s), "passes") => Some(s.passes as f64),
                    (MetricSummary::Rate(s), "fails") => Some(s.fails as f64),
                    (MetricSummary::Rate(s), "value") => s.value,
                    (MetricSummary::Gauge(g), "value") => g.value,
                    other => panic!("{key}: unexpected {other:?}"),
                };
                assert_eq!(ours, Some(want), "{key} {field}");
            }
        }
        compared += 1;
    }
    assert!(compared >= 25, "only {compared} cases compared");
}

#[test]
fn case03_counts_per_filter() {
    // Straight from expected.json's deterministic values (k6 v1.1.0).
    let nd = Ndjson { metrics: Vec::new(), points: case03_points() };
    let keys = [
        ("http_reqs{name:login}", 5.0),
        ("http_reqs{key:value}", 1.0),
        ("http_reqs{name:login,status:500}", 1.0),
        ("http_reqs{group:::g1}", 2.0),
        ("http_reqs{url:http://127.0.0.1:18080/status/404}", 2.0),
        ("http_reqs{scenario:default}", 12.0),
        ("http_reqs{status:200}", 8.0),
    ];
    let list: Vec<(&str, &[&str])> = keys.iter().map(|(k, _)| (*k, &["count>0"][..])).collect();
    let r = analyze(&nd, &thresholds(&list), &[], None);
    for (t, (key, want)) in r.thresholds.iter().zip(keys) {
        assert_eq!(t.observed, Some(want), "{key}");
    }
    match &r.metrics["http_req_failed"] {
        MetricSummary::Rate(s) => assert_eq!((s.passes, s.fails, s.value), (3, 9, Some(0.25))),
        o => panic!("{o:?}"),
    }
    assert_eq!(trend(&r, "http_req_duration{expected_response:true}").count, 9);
}

// ---------------------------------------------------------------- case 07

fn case07_buckets() -> Vec<(i64, u64, u64)> {
    read("case07/windows.csv")
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (ns(f[0]), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

fn rel_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(f64::MIN_POSITIVE)
}

#[test]
fn case07_event_weighted_budget_from_counts() {
    let exp = json("case07/expected.json");
    let (total, errors) = case07_buckets().iter().fold((0, 0), |(t, e), b| (t + b.1, e + b.2));
    assert_eq!((total, errors), (exp["total_events"].as_u64().unwrap(), exp["error_events"].as_u64().unwrap()));
    let b = ErrorBudget::from_counts(total, errors, ratio_from_percent(99.0)).unwrap();
    assert!(rel_close(b.error_ratio, 5.0 / 2301.0));
    assert!(rel_close(b.burn_rate, 500.0 / 2301.0));
    assert!(rel_close(b.budget_burned, 500.0 / 2301.0));
    assert!(rel_close(b.budget_remaining, 1801.0 / 2301.0));
    assert!(rel_close(b.allowed_errors, 92.04));
    assert!(rel_close(b.good_ratio, exp["sli_good_ratio"].as_f64().unwrap()));
    assert!(b.within_budget);
}

/// The buckets as `http_req_failed` points spread over each 5-minute bucket.
fn case07_points() -> Vec<Point> {
    let mut pts = Vec::new();
    for (start, total, errors) in case07_buckets() {
        for j in 0..total {
            let t = start + (j as i64) * (300_000_000_000 / total as i64);
            pts.push(Point {
                metric: "http_req_failed".into(),
                time_ns: t,
                value: if j < errors { 1.0 } else { 0.0 },
                tags: Tags::default(),
            });
        }
    }
    pts
}

fn case07_check(window: Duration) -> CheckReport {
    let pts = case07_points();
    let slos = [SloSpec::new("api-availability", SloKind::Availability, ratio_from_percent(99.0), window)];
    let start = ns("2024-05-01T00:00:00Z");
    let plan = Plan {
        thresholds: &[],
        slos: &slos,
        metrics: &[],
        run: run_info(),
        range: TimeRange { start_ns: start, end_ns: start + 3_600_000_000_000 },
        rate_duration_s: None,
        rate_duration_source: None,
        options: Options::default(),
    };
    let mut a = Analysis::new(plan).unwrap();
    for p in &pts {
        a.push_point(p);
    }
    a.finish()
}

#[test]
fn case07_availability_slo_over_points() {
    let r = case07_check(Duration::from_secs(3600));
    let s = &r.slos[0];
    assert_eq!(s.verdict, Verdict::Pass);
    assert!(!s.clipped);
    assert_eq!(s.windows.windows_total, 1);
    let b = s.budget.as_ref().unwrap();
    assert_eq!((b.total, b.bad, b.good), (9204, 20, 9184));
    assert!(rel_close(b.error_ratio, 5.0 / 2301.0));
    assert!(rel_close(b.burn_rate, 500.0 / 2301.0));
    assert!(rel_close(b.budget_remaining, 1801.0 / 2301.0));
    assert!(rel_close(b.allowed_errors, 92.04));
    assert_eq!(s.windows.windows[0].budget.as_ref(), Some(b));
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn case07_five_minute_windows_weight_by_events_and_skip_empty() {
    let r = case07_check(Duration::from_secs(300));
    let s = &r.slos[0];
    assert_eq!(s.windows.windows_total, 12);
    // The empty 00:30 bucket contributes nothing: not 0 %, not NaN.
    assert_eq!(s.windows.windows_with_data, 11);
    assert_eq!(s.windows.windows[6].verdict, Verdict::NoData);
    assert_eq!(s.windows.windows[6].value, None);
    // The range total is still event-weighted (20 / 9204), never the mean of ratios (0.092).
    let b = s.budget.as_ref().unwrap();
    assert!(rel_close(b.error_ratio, 5.0 / 2301.0));
    // Per 5-minute window the 10-request bucket with 5 errors breaches its own budget.
    assert_eq!(s.verdict, Verdict::Fail);
    let worst = s.windows.worst.unwrap();
    assert_eq!(s.windows.windows[worst].span.start_ns, ns("2024-05-01T00:20:00Z"));
    assert_eq!(s.windows.windows[worst].value, Some(0.5));
}

// ---------------------------------------------------------------- case 08

fn day_ns(day: &str) -> i64 {
    ns(&format!("{day}T00:00:00Z"))
}

fn case08_buckets() -> Vec<CountBucket> {
    read("case08/daily.csv")
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let start = day_ns(f[0]);
            CountBucket { start_ns: start, end_ns: start + 86_400_000_000_000, total: f[1].parse().unwrap(), errors: f[2].parse().unwrap() }
        })
        .collect()
}

#[test]
fn case08_rolling_window_edges_and_partial_coverage() {
    let exp = json("case08/expected.json");
    let objective = exp["objective"].as_f64().unwrap();
    let buckets = case08_buckets();
    let next_day = |d: &str| day_ns(d) + 86_400_000_000_000;
    for (day, want) in exp["rolling_28d"].as_object().unwrap() {
        let p = rolling_budget(&buckets, Duration::from_secs(28 * 86400), next_day(day), objective);
        let b = p.budget.as_ref().unwrap();
        assert_eq!(b.total, want["total"].as_u64().unwrap(), "{day}");
        assert_eq!(b.bad, want["errors"].as_u64().unwrap(), "{day}");
        assert!(rel_close(b.allowed_errors, want["allowed"].as_f64().unwrap()), "{day}: {}", b.allowed_errors);
        assert!((b.budget_remaining - want["remaining_fraction"].as_f64().unwrap()).abs() < 1e-11, "{day}: {}", b.budget_remaining);
        let first = want["days"].as_str().unwrap().split("..").next().unwrap();
        let first_bucket = buckets.iter().find(|x| x.start_ns >= p.from_ns).unwrap();
        assert_eq!(first_bucket.start_ns, day_ns(first), "{day}: first day in window");
    }
    let early = rolling_budget(&buckets, Duration::from_secs(28 * 86400), next_day("2024-05-20"), objective);
    assert!(early.partial);
    assert_eq!((early.buckets, early.coverage), (20, 20.0 / 28.0));
    let full = rolling_budget(&buckets, Duration::from_secs(28 * 86400), next_day("2024-06-06"), objective);
    assert!(!full.partial);
    assert_eq!(full.buckets, 28);
    // Exact fractions: 1 - 174/280 and 1 - 56/280 (hand computation).
    assert!((full.budget.unwrap().budget_remaining - (1.0 - 174.0 / 280.0)).abs() < 1e-12);
}

#[test]
fn case08_calendar_months() {
    let exp = json("case08/expected.json");
    let objective = exp["objective"].as_f64().unwrap();
    let buckets = case08_buckets();
    let may = calendar_month_budget(&buckets, 2024, 5, None, objective).unwrap();
    let want = &exp["calendar_month"]["2024-05 (through 2024-05-31)"];
    let b = may.budget.as_ref().unwrap();
    assert_eq!((b.total, b.bad), (want["total"].as_u64().unwrap(), want["errors"].as_u64().unwrap()));
    assert!((b.budget_remaining - want["remaining_fraction"].as_f64().unwrap()).abs() < 1e-11);
    assert!((b.budget_remaining - (1.0 - 180.0 / 310.0)).abs() < 1e-12);
    assert!(!may.partial);

    let june = calendar_month_budget(&buckets, 2024, 6, Some(day_ns("2024-06-30")), objective).unwrap();
    let want = &exp["calendar_month"]["2024-06 (through 2024-06-29)"];
    let b = june.budget.as_ref().unwrap();
    assert_eq!((b.total, b.bad), (want["total"].as_u64().unwrap(), want["errors"].as_u64().unwrap()));
    assert!((b.budget_remaining - want["remaining_fraction"].as_f64().unwrap()).abs() < 1e-12);
    assert!(june.partial);
    assert_eq!(june.coverage, 29.0 / 30.0);
}

#[test]
fn case08_counter_increase_with_resets() {
    let exp = json("case08/expected.json");
    let c = &exp["counter_with_resets"];
    let samples: Vec<f64> = c["samples"].as_array().unwrap().iter().map(|s| s[1].as_f64().unwrap()).collect();
    assert_eq!(counter_increase(&samples), c["increase_with_reset_handling"].as_f64().unwrap());
    assert_ne!(counter_increase(&samples), c["WRONG_last_minus_first"].as_f64().unwrap());
}

// ---------------------------------------------------------------- SLO kinds over points

#[test]
fn latency_and_throughput_slos_per_window() {
    const S: i64 = 1_000_000_000;
    // 150 s range, 60 s windows: [0,60) [60,120) [120,150] (clipped).
    // Window 0: 60 requests at 100 ms; window 1: 60 at 100 ms, 10 of them "login" at 800 ms;
    // window 2: 15 requests at 100 ms in 30 s = 0.5/s.
    let mut pts = Vec::new();
    let login = Tags::from_pairs([("name", "login")]);
    let home = Tags::from_pairs([("name", "home")]);
    for i in 0..60 {
        pts.push((i * S, 100.0, &home));
    }
    for i in 0..60 {
        let slow = i % 6 == 0;
        pts.push((60 * S + i * S, if slow { 800.0 } else { 100.0 }, if slow { &login } else { &home }));
    }
    for i in 0..15 {
        pts.push((120 * S + i * 2 * S, 100.0, &home));
    }
    let mut lat = SloSpec::new("latency.p95", SloKind::Latency { percentile: 95.0 }, 500.0, Duration::from_secs(60));
    lat.min_samples = 10;
    let mut login_lat = SloSpec::new("login.p50", SloKind::Latency { percentile: 50.0 }, 500.0, Duration::from_secs(60));
    login_lat.filter = vec![("name".into(), "login".into())];
    let tput = SloSpec::new("throughput", SloKind::Throughput, 0.9, Duration::from_secs(60));
    let slos = [lat, login_lat, tput];
    let plan = Plan {
        thresholds: &[],
        slos: &slos,
        metrics: &[],
        run: run_info(),
        range: TimeRange { start_ns: 0, end_ns: 150 * S },
        rate_duration_s: None,
        rate_duration_source: None,
        options: Options::default(),
    };
    let mut a = Analysis::new(plan).unwrap();
    for (t, v, tags) in &pts {
        a.push("http_req_duration", *t, *v, *tags);
        a.push("http_reqs", *t, 1.0, *tags);
    }
    let r = a.finish();

    let l = &r.slos[0];
    assert_eq!(l.windows.windows_total, 3);
    // Window 1: 50 x 100 and 10 x 800; p(95): i = 0.95*59 = 56.05 -> 800 (hand).
    assert_eq!(l.windows.windows[1].value, Some(800.0));
    assert_eq!(l.windows.windows[0].value, Some(100.0));
    assert_eq!(l.windows.worst, Some(1));
    assert_eq!((l.windows.windows_with_data, l.windows.windows_compliant), (3, 2));
    assert_eq!(l.verdict, Verdict::Fail);
    assert_eq!(l.unit, Unit::Millis);

    let ll = &r.slos[1];
    assert_eq!(ll.metric_key, "http_req_duration{name:login}");
    // Only window 1 has login samples; the others are NO DATA and do not count.
    assert_eq!(ll.windows.windows_with_data, 1);
    assert_eq!(ll.windows.windows[1].value, Some(800.0));
    assert_eq!(ll.verdict, Verdict::Fail);

    let t = &r.slos[2];
    assert_eq!(t.windows.windows[0].value, Some(1.0));
    assert_eq!(t.windows.windows[1].value, Some(1.0));
    assert!(t.windows.windows[2].span.clipped);
    assert_eq!(t.windows.windows[2].value, Some(0.5));
    assert_eq!(t.windows.worst, Some(2));
    assert_eq!(t.windows.compliant_share, Some(2.0 / 3.0));
    assert_eq!(t.verdict, Verdict::Fail);
    assert_eq!(t.unit, Unit::PerSecond);
}

#[test]
fn clipped_range_and_missing_metric_slos() {
    let slos = [
        SloSpec::new("availability", SloKind::Availability, 0.999, Duration::from_secs(30 * 86400)),
        SloSpec::new("error_rate", SloKind::ErrorRate, 0.001, Duration::from_secs(3600)),
    ];
    let plan = Plan {
        thresholds: &[],
        slos: &slos,
        metrics: &[],
        run: run_info(),
        range: TimeRange { start_ns: 0, end_ns: 60_000_000_000 },
        rate_duration_s: None,
        rate_duration_source: None,
        options: Options::default(),
    };
    let a = Analysis::new(plan).unwrap();
    let r = a.finish();
    for s in &r.slos {
        assert!(s.clipped);
        assert_eq!(s.verdict, Verdict::NoData, "{}", s.name);
        assert!(s.reason.as_deref().unwrap_or("").contains("no samples"), "{:?}", s.reason);
    }
    assert_eq!(r.verdict, Verdict::NoData);
    assert!(r.notes.iter().any(|n| n.contains("clipped")));
    // The report serializes; infinite values would be null, every verdict is a string.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["verdict"], "no_data");
    assert_eq!(v["slos"][0]["kind"], "availability");
}

#[test]
fn error_rate_slo_uses_objective_as_budget() {
    // 2000 requests, 2 failed: error ratio 0.001 = the 0.1 % objective exactly -> PASS;
    // 3 failed -> FAIL (hand computation).
    for (bad, want) in [(2u64, Verdict::Pass), (3, Verdict::Fail)] {
        let slos = [SloSpec::new("error_rate", SloKind::ErrorRate, ratio_from_percent(0.1), Duration::from_secs(3600))];
        let plan = Plan {
            thresholds: &[],
            slos: &slos,
            metrics: &[],
            run: run_info(),
            range: TimeRange { start_ns: 0, end_ns: 2000 },
            rate_duration_s: None,
            rate_duration_source: None,
            options: Options::default(),
        };
        let mut a = Analysis::new(plan).unwrap();
        let tags = Tags::default();
        for i in 0..2000u64 {
            a.push("http_req_failed", i as i64, if i < bad { 1.0 } else { 0.0 }, &tags);
        }
        let r = a.finish();
        let s = &r.slos[0];
        assert_eq!(s.verdict, want, "{bad} bad");
        let b = s.budget.as_ref().unwrap();
        assert_eq!(b.budget_ratio, 0.001);
        assert_eq!(b.allowed_errors, 2.0);
        assert_eq!(s.windows.windows[0].value, Some(bad as f64 / 2000.0));
    }
}

// ---------------------------------------------------------------- properties

#[test]
fn percentile_properties_on_random_data() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    for round in 0..300 {
        let n = rng.random_range(1..200);
        let mut t = TrendSink::default();
        let mut raw = Vec::new();
        for _ in 0..n {
            let v: f64 = if round % 3 == 0 { rng.random_range(-1e6..1e6) } else { (rng.random_range(0..50) as f64) * 0.1 };
            t.add(v);
            raw.push(v);
        }
        let (min, max) = (t.min().unwrap(), t.max().unwrap());
        assert_eq!(min, raw.iter().cloned().fold(f64::INFINITY, f64::min));
        assert_eq!(max, raw.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
        assert_eq!(t.percentile(0.0), Some(min));
        assert_eq!(t.percentile(1.0), Some(max));
        let mut prev = f64::NEG_INFINITY;
        for k in 0..=1000 {
            let p = t.percentile(k as f64 / 1000.0).unwrap();
            assert!(p >= prev, "not monotone at {k}: {p} < {prev}");
            assert!(p >= min && p <= max, "{p} outside [{min}, {max}]");
            prev = p;
        }
        // At an exact rank the percentile is that order statistic.
        let mut sorted = raw.clone();
        sorted.sort_by(f64::total_cmp);
        if n > 1 {
            let r = rng.random_range(0..n);
            let pct = r as f64 / (n - 1) as f64;
            let i = pct * (n as f64 - 1.0);
            if i.fract() == 0.0 {
                assert_eq!(t.percentile(pct), Some(sorted[i as usize]));
            }
        }
        // avg is the arrival-order sum over the count.
        let mut sum = 0.0;
        for v in &raw {
            sum += v;
        }
        assert_eq!(t.avg(), Some(sum / n as f64));
    }
}

#[test]
fn sub_metrics_partition_their_parent() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let names = ["a", "b", "c"];
    let mut pts = Vec::new();
    let mut want: BTreeMap<&str, f64> = BTreeMap::new();
    for i in 0..5000 {
        let n = names[rng.random_range(0..3)];
        *want.entry(n).or_default() += 1.0;
        pts.push(Point { metric: "http_reqs".into(), time_ns: i, value: 1.0, tags: Tags::from_pairs([("name", n)]) });
    }
    let list: Vec<(String, [&str; 1])> = names.iter().map(|n| (format!("http_reqs{{name:{n}}}"), ["count>0"])).collect();
    let list: Vec<(&str, &[&str])> = list.iter().map(|(k, e)| (k.as_str(), &e[..])).collect();
    let r = analyze(&Ndjson { metrics: Vec::new(), points: pts }, &thresholds(&list), &[], None);
    let mut sum = 0.0;
    for (t, n) in r.thresholds.iter().zip(names) {
        assert_eq!(t.observed, Some(want[n]));
        sum += t.observed.unwrap();
    }
    match &r.metrics["http_reqs"] {
        MetricSummary::Counter(c) => assert_eq!(c.count, sum),
        o => panic!("{o:?}"),
    }
}
