//! The field's known faults (`tests/fixtures/cases/`, copied from the shared cases), each
//! driven through the real binary with the right value as the assertion.

use serde_json::Value;

use crate::util::{check_json, import, repo, Scratch};

/// Case 01: thresholds on metrics and sub-metrics that never got a sample. k6 v1.1.0
/// passes four of the five; every one of them is NO DATA and the check fails (exit 3).
#[test]
fn case_01_thresholds_without_samples_are_no_data_not_pass() {
    let s = Scratch::new();
    let store = s.store();
    let dir = repo("tests/fixtures/cases/01-threshold-no-data");
    import(&store, &dir.join("samples.ndjson"), "c01");
    let opts = dir.join("options.json").display().to_string();
    let (exit, r) = check_json(&store, &["--run", "c01", "--k6-options", &opts]);
    assert_eq!(exit, 3, "no data exits 3: {r}");
    assert_eq!(r["verdict"], "no_data");
    let th = r["thresholds"].as_array().unwrap();
    assert_eq!(th.len(), 5);
    for t in th {
        assert_eq!(t["verdict"], "no_data", "{t}");
        assert!(t["observed"].is_null(), "no value, not 0: {t}");
    }
    // Downgraded, it warns and passes; it still shows no value.
    let (exit, r) = check_json(&store, &["--run", "c01", "--k6-options", &opts, "--allow-no-data"]);
    assert_eq!(exit, 0);
    assert_eq!(r["verdict"], "warn");
    // The metrics that did get samples keep k6's values (summary-export.json).
    let k6: Value = serde_json::from_slice(&std::fs::read(dir.join("summary-export.json")).unwrap()).unwrap();
    assert_eq!(r["metrics"]["http_reqs"]["count"].as_f64(), k6["metrics"]["http_reqs"]["count"].as_f64());
    assert_eq!(
        r["metrics"]["http_req_duration{expected_response:true}"]["p(95)"],
        k6["metrics"]["http_req_duration{expected_response:true}"]["p(95)"]
    );
}

/// Case 05: hand-written NDJSON with null tags, +08:00 offsets, escaped and raw UTF-8,
/// nested groups, odd rate/counter/gauge values, CRLF. Values from k6's rules
/// (expected.json, computed by the case's own recompute.py).
#[test]
fn case_05_odd_but_valid_ndjson_gives_k6s_values() {
    let s = Scratch::new();
    let store = s.store();
    let dir = repo("tests/fixtures/cases/05-ndjson-handwritten-edge-cases");
    import(&store, &dir.join("input.ndjson"), "c05");
    let opts = s.path().join("o.json");
    std::fs::write(
        &opts,
        r#"{"thresholds": {"resp_ms": ["p(95)<300"], "resp_ms{page:café}": ["p(95)<1000"], "resp_ms{group:::Shop::Basket}": ["p(99)<1000"]}}"#,
    )
    .unwrap();
    let (exit, r) = check_json(&store, &["--run", "c05", "--k6-options", &opts.display().to_string()]);
    let want: Value = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(exit, 1, "p(95)<300 fails: {r}");
    assert_eq!(r["thresholds"][0]["verdict"], "fail");
    let m = &r["metrics"];
    for key in ["resp_ms", "resp_ms{page:café}", "resp_ms{group:::Shop::Basket}"] {
        for stat in ["count", "min", "max", "avg", "med", "p(90)", "p(95)", "p(99)"] {
            assert_eq!(m[key][stat].as_f64(), want[key][stat].as_f64(), "{key} {stat}");
        }
    }
    assert_eq!(m["ok_rate"]["value"].as_f64(), want["ok_rate"]["value"].as_f64());
    assert_eq!(m["ok_rate"]["passes"].as_u64(), want["ok_rate"]["passes"].as_u64());
    assert_eq!(m["items"]["count"].as_f64(), want["items"]["count"].as_f64());
    assert_eq!(m["vus"]["value"].as_f64(), want["vus"]["value"].as_f64());
    assert_eq!(m["vus"]["max"].as_f64(), want["vus"]["max"].as_f64());
    // The all-negative gauge: the true max, with k6's 0 beside it.
    assert_eq!(m["temp"]["value"].as_f64(), want["temp"]["value"].as_f64());
    assert_eq!(m["temp"]["min"].as_f64(), want["temp"]["min"].as_f64());
    assert_eq!(m["temp"]["max"].as_f64(), want["temp"]["max_true"].as_f64());
    assert_eq!(m["temp"]["k6_max"].as_f64(), want["temp"]["max_k6_reports"].as_f64());
}
