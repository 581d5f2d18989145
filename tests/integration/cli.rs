//! The CLI contract, spawning the real binary: every threshold form (with a wrong one per
//! form giving file:line:col), and every exit code. Expected values come from k6's own
//! summary export of the same run (`sample-data/baseline.summary.json`).

use serde_json::Value;

use crate::util::{check_json, code, import, repo, run, stderr, stdout, Scratch};

fn baseline_store() -> (Scratch, String) {
    let s = Scratch::new();
    let store = s.store();
    import(&store, &repo("sample-data/baseline.json.gz"), "baseline");
    (s, store)
}

fn k6_summary() -> Value {
    serde_json::from_slice(&std::fs::read(repo("sample-data/baseline.summary.json")).unwrap()).unwrap()
}

/// Points of `metric` whose tag `key` is `value`, counted from a gzip k6 NDJSON file.
fn count_points(path: &std::path::Path, metric: &str, key: &str, value: &str) -> f64 {
    use std::io::BufRead;
    let r = std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()));
    let mut n = 0.0;
    for line in r.lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["type"] == "Point" && v["metric"] == metric && v["data"]["tags"][key] == value {
            n += 1.0;
        }
    }
    n
}

fn write(s: &Scratch, name: &str, text: &str) -> String {
    let p = s.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// The thresholds of the report, keyed "metric_key expression".
fn by_expr(report: &Value) -> std::collections::HashMap<String, Value> {
    report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (format!("{} {}", t["key_source"].as_str().unwrap(), t["expression"].as_str().unwrap()), t.clone()))
        .collect()
}

#[test]
fn every_threshold_form_is_judged_with_k6s_values() {
    let (s, store) = baseline_store();
    let k6 = &k6_summary()["metrics"];
    let n = k6["http_reqs"]["count"].as_f64().unwrap();
    let cfg = write(
        &s,
        "forms.yaml",
        &r#"service: shop
slos: {}
thresholds:
  forms:
    http_req_duration: ['avg<1000', 'min<1000', 'max<1000', 'med<1000', 'p(90)<1000', 'p(99.9)<1000', 'p(95) <= 1', 'p(99)>=1']
    http_req_duration{name:login}: ['p(95)<500']
    "http_req_duration{expected_response:true}": ['p(99)<1000']
    http_req_duration{group:::browse}: ['p(99)<1000']
    'http_reqs{ name : product , group : "::browse" }': ['count>0']
    http_reqs: ['count==__N__', 'count===__N__', 'count!=__N__', 'rate>100']
    http_reqs{status:200}: ['count>0']
    http_req_failed: ['rate<0.01']
    http_req_failed{name:cart}: ['rate<0.05']
    checks: ['rate>0.99']
    vus: ['value>0', 'value==12']
    iteration_duration:
      - threshold: 'p(95)<2000'
        abortOnFail: true
        delayAbortEval: 10s
      - {threshold: 'max<1', abortOnFail: false}
"#
        .replace("__N__", &n.to_string()),
    );
    let (exit, report) = check_json(&store, &["--run", "baseline", "--config", &cfg, "--profile", "forms"]);
    let t = by_expr(&report);
    let obs = |k: &str| t.get(k).unwrap_or_else(|| panic!("{k} missing: {:?}", t.keys()))["observed"].as_f64().unwrap();
    let verdict = |k: &str| t[k]["verdict"].as_str().unwrap().to_string();
    let d = &k6["http_req_duration"];
    for (agg, stat) in [("avg", "avg"), ("min", "min"), ("max", "max"), ("med", "med"), ("p(90)", "p(90)")] {
        assert_eq!(obs(&format!("http_req_duration {agg}<1000")), d[stat].as_f64().unwrap(), "{agg}");
    }
    assert_eq!(obs("http_req_duration p(95) <= 1"), d["p(95)"].as_f64().unwrap());
    assert_eq!(verdict("http_req_duration p(95) <= 1"), "fail");
    assert_eq!(verdict("http_req_duration p(99)>=1"), "pass");
    assert_eq!(obs("http_req_duration{name:login} p(95)<500"), k6["http_req_duration{name:login}"]["p(95)"].as_f64().unwrap());
    assert_eq!(
        obs("http_req_duration{expected_response:true} p(99)<1000"),
        k6["http_req_duration{expected_response:true}"]["p(99)"].as_f64().unwrap()
    );
    assert_eq!(obs("http_req_duration{group:::browse} p(99)<1000"), k6["http_req_duration{group:::browse}"]["p(99)"].as_f64().unwrap());
    // shop.js makes every `product` request inside group `browse`: the AND filter keeps
    // exactly k6's count of `http_req_duration{name:product}`.
    assert_eq!(
        obs(r#"http_reqs{ name : product , group : "::browse" } count>0"#),
        k6["http_req_duration{name:product}"]["count"].as_f64().unwrap()
    );
    assert_eq!(verdict(&format!("http_reqs count=={n}")), "pass");
    assert_eq!(verdict(&format!("http_reqs count==={n}")), "pass");
    assert_eq!(verdict(&format!("http_reqs count!={n}")), "fail");
    assert_eq!(obs(&format!("http_reqs count=={n}")), n);
    let rate = obs("http_reqs rate>100");
    let k6_rate = k6["http_reqs"]["rate"].as_f64().unwrap();
    assert!((rate - k6_rate).abs() / k6_rate < 0.01, "counter rate {rate} vs k6 {k6_rate}");
    assert_eq!(obs("http_req_failed rate<0.01"), k6["http_req_failed"]["value"].as_f64().unwrap());
    assert_eq!(obs("http_req_failed{name:cart} rate<0.05"), k6["http_req_failed{name:cart}"]["value"].as_f64().unwrap());
    assert_eq!(obs("checks rate>0.99"), k6["checks"]["value"].as_f64().unwrap());
    assert_eq!(obs("vus value==12"), k6["vus"]["value"].as_f64().unwrap());
    assert_eq!(obs("iteration_duration p(95)<2000"), k6["iteration_duration"]["p(95)"].as_f64().unwrap());
    assert!(t["iteration_duration p(95)<2000"]["abort_on_fail"].as_bool().unwrap());
    assert_eq!(verdict("iteration_duration max<1"), "fail");
    // Counted independently, straight from the NDJSON with serde_json.
    assert_eq!(obs("http_reqs{status:200} count>0"), count_points(&repo("sample-data/baseline.json.gz"), "http_reqs", "status", "200"));
    assert_eq!(exit, 1, "some thresholds above fail on purpose");
    assert_eq!(report["verdict"], "fail");
}

/// One wrong threshold per form, each at a position counted by hand.
#[test]
fn a_wrong_threshold_of_each_form_names_file_line_and_column() {
    let (s, store) = baseline_store();
    let cases: &[(&str, &str, &str)] = &[
        // (name, yaml, expected "line:col" and a word of the message)
        ("unknown_agg", "service: x\nthresholds:\n  p:\n    http_req_duration: ['mean<100']\n", "4:25"),
        ("p101", "service: x\nthresholds:\n  p:\n    http_req_duration: ['p(101)<100']\n", "4:25"),
        ("bad_op", "service: x\nthresholds:\n  p:\n    http_req_duration: ['p(95)=>100']\n", "4:25"),
        ("key_only_filter", "service: x\nthresholds:\n  p:\n    http_reqs{name}: ['count>0']\n", "4:5"),
        ("empty_filter_value", "service: x\nthresholds:\n  p:\n    http_reqs{group:}: ['count>0']\n", "4:5"),
        ("space_before_brace", "service: x\nthresholds:\n  p:\n    'http_reqs {name:login}': ['count>0']\n", "4:5"),
        (
            "object_bad_field",
            "service: x\nthresholds:\n  p:\n    http_req_duration:\n      - threshold: 'p(95)<500'\n        abortOnFial: true\n",
            "6:9",
        ),
        (
            "object_bad_delay",
            "service: x\nthresholds:\n  p:\n    http_req_duration:\n      - {threshold: 'p(95)<500', delayAbortEval: 'soon'}\n",
            "5:50",
        ),
        ("wrong_type", "service: x\nthresholds:\n  p:\n    http_req_failed: ['p(95)<100']\n", "4:23"),
        ("counter_value", "service: x\nthresholds:\n  p:\n    http_reqs: ['value>1']\n", "4:17"),
        ("yaml_syntax", "service: x\nthresholds:\n  p:\n    http_req_duration: ['p(95)<500'\n", "5:1"),
    ];
    for (name, yaml, at) in cases {
        let cfg = write(&s, &format!("{name}.yaml"), yaml);
        let o = run(&store, &["check", "--run", "baseline", "--config", &cfg, "--profile", "p"]);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{name}: exit code; stderr: {err}");
        let want = format!("{cfg}:{at}");
        assert!(err.contains(&want), "{name}: expected {want} in: {err}");
        assert!(stdout(&o).is_empty(), "{name}: nothing on stdout");
    }
}

#[test]
fn exit_codes_are_distinct_and_documented() {
    let (s, store) = baseline_store();
    // 0: everything passes.
    let pass = write(
        &s,
        "pass.yaml",
        "service: x\nthresholds:\n  ok:\n    http_req_duration: ['p(95)<500']\n    http_req_failed: ['rate<0.01']\n",
    );
    let o = run(&store, &["check", "--run", "latest", "--config", &pass, "--profile", "ok"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // 1: a breach (the seed's throughput SLO of 1000 rps; the run made ~180 rps).
    let o = run(
        &store,
        &["check", "--run", "latest", "--config", &repo("slo/seed.slo-config.yaml").display().to_string(), "--profile", "load_test"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).contains("FAIL"));
    // 2: invalid input: an unknown flag, an unknown profile, a missing config file.
    assert_eq!(code(&run(&store, &["check", "--no-such-flag"])), 2);
    let o = run(&store, &["check", "--config", &pass, "--profile", "nope"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--profile \"nope\""), "{}", stderr(&o));
    assert_eq!(code(&run(&store, &["check", "--config", "/nonexistent/slo.yaml"])), 2);
    // 3: no data, and run not found.
    let nodata = write(
        &s,
        "nodata.yaml",
        "service: x\nthresholds:\n  p:\n    http_req_duration{name:never}: ['p(95)<500']\n    http_req_duration: ['p(95)<500']\n",
    );
    let o = run(&store, &["check", "--config", &nodata, "--profile", "p"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stdout(&o).contains("NO DATA"));
    // --allow-no-data downgrades it to a warning.
    let o = run(&store, &["check", "--config", &nodata, "--profile", "p", "--allow-no-data"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("WARN"));
    let o = run(&store, &["check", "--run", "no-such-run"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("run not found"), "{}", stderr(&o));
    // A --store that does not exist (a typo) is not created and is not an empty store.
    let typo = s.path().join("typo-store").display().to_string();
    for args in [&["check", "--run", "latest", "--config", &pass, "--profile", "ok"][..], &["runs", "list"][..]] {
        let o = run(&typo, args);
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("no store there"), "{}", stderr(&o));
    }
    assert!(!s.path().join("typo-store").exists());
    // Nor is an existing empty folder turned into one.
    std::fs::create_dir(s.path().join("empty")).unwrap();
    let o = run(&s.path().join("empty").display().to_string(), &["runs", "list"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(s.path().join("empty")).unwrap().count(), 0);
    // `latest` is what --run latest means: no run may be called so.
    let o = run(&store, &["import", "k6-json", &repo("sample-data/baseline.json.gz").display().to_string(), "--run-id", "latest"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("latest"), "{}", stderr(&o));
    // A malformed data file is invalid input too.
    let bad = write(
        &s,
        "bad.ndjson",
        "{\"type\":\"Point\",\"metric\":\"http_reqs\",\"data\":{\"time\":\"2026-01-01T00:00:00Z\",\"value\":1,\"tags\":{}}}\n{not json\n",
    );
    let o = run(&store, &["import", "k6-json", &bad]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains(":2:"), "line number named: {}", stderr(&o));
}
