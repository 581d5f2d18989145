//! Tests of slo-config.yaml parsing. Line and column numbers in the assertions were
//! counted by hand in the inputs written here (columns are 1-based characters).

use super::*;
use crate::threshold::{Aggregation, Op};
use slo_model::{builtin_metric, MetricType};

fn err(text: &str) -> ConfigError {
    match parse_slo_config(text, "t.yaml") {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e,
    }
}

/// Asserts the error's location and that its message starts with it.
fn at(e: &ConfigError, line: usize, column: usize) {
    let l = e.location().unwrap_or_else(|| panic!("no location: {e}"));
    assert_eq!((l.file.as_str(), l.line, l.column), ("t.yaml", line, column), "{e}");
    assert!(e.to_string().starts_with(&format!("t.yaml:{line}:{column}: ")), "{e}");
}

fn builtins(name: &str) -> Option<MetricType> {
    builtin_metric(name).map(|m| m.kind)
}

#[test]
fn seed_file_parses_with_the_reference_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../slo/seed.slo-config.yaml");
    let c = load_slo_config(&path).unwrap();
    assert_eq!(c.service, "api-gateway");
    assert_eq!(c.environment.as_deref(), Some("production"));
    assert_eq!(c.min_samples, None);
    assert_eq!(c.tolerance_percent, 5.0);

    let names: Vec<&str> = c.slos.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["availability", "latency.p50", "latency.p95", "latency.p99", "throughput", "error_rate"]);
    let day = 86_400;
    assert_eq!(c.slos[0].objective, Objective::Availability { target_percent: 99.9 });
    assert_eq!(c.slos[0].window, Duration::from_secs(30 * day));
    assert_eq!(c.slos[0].window_source, "30d");
    assert_eq!(c.slos[1].objective, Objective::Latency { percentile: 50.0, target_ms: 100.0 });
    assert_eq!(c.slos[2].objective, Objective::Latency { percentile: 95.0, target_ms: 500.0 });
    assert_eq!(c.slos[2].window, Duration::from_secs(3600));
    assert_eq!(c.slos[3].objective, Objective::Latency { percentile: 99.0, target_ms: 1000.0 });
    assert_eq!(c.slos[4].objective, Objective::Throughput { target_rps: 1000.0 });
    assert_eq!(c.slos[4].window, Duration::from_secs(60));
    assert_eq!(c.slos[5].objective, Objective::ErrorRate { target_percent: 0.1 });
    assert_eq!(c.slos[5].window, Duration::from_secs(3600));
    // `availability:` is on line 6, column 3 of the seed file.
    assert_eq!((c.slos[0].location.line, c.slos[0].location.column), (6, 3));
    assert!(c.slos.iter().all(|s| s.filter.is_empty() && s.tolerance_percent == 5.0));

    let profiles: Vec<&str> = c.thresholds.keys().map(String::as_str).collect();
    assert_eq!(profiles, ["load_test", "smoke_test", "soak_test", "stress_test"]);
    let load = c.profile("load_test").unwrap();
    assert_eq!(load.len(), 3);
    assert_eq!(load.threshold_count(), 4);
    let keys: Vec<&str> = load.iter().map(|m| m.key_source.as_str()).collect();
    assert_eq!(keys, ["http_req_duration", "http_req_failed", "http_reqs"]);
    let d = &load.0[0];
    assert_eq!(d.thresholds[0].source, "p(95)<500");
    assert_eq!(d.thresholds[0].expr.agg, Aggregation::P(95.0));
    assert_eq!(d.thresholds[0].expr.op, Op::Lt);
    assert_eq!(d.thresholds[0].expr.value, 500.0);
    assert_eq!(d.thresholds[1].expr.agg, Aggregation::P(99.0));
    assert_eq!(d.thresholds[1].expr.value, 1000.0);
    // `    http_req_duration: ['p(95)<500', 'p(99)<1000']` is line 35 of the seed: the
    // key at column 5, the first quote at column 25, the second at column 38.
    assert_eq!((d.location.line, d.location.column), (35, 5));
    assert_eq!((d.thresholds[0].location.line, d.thresholds[0].location.column), (35, 25));
    assert_eq!((d.thresholds[1].location.line, d.thresholds[1].location.column), (35, 38));
    assert_eq!(load.0[2].thresholds[0].expr.agg, Aggregation::Rate);
    assert_eq!(load.0[2].thresholds[0].expr.op, Op::Gt);
    assert_eq!(load.0[2].thresholds[0].expr.value, 100.0);
    assert_eq!(c.profile("smoke_test").unwrap().threshold_count(), 2);
    assert_eq!(c.profile("stress_test").unwrap().threshold_count(), 2);
    let soak = c.profile("soak_test").unwrap();
    assert_eq!(soak.0[2].key.metric, "memory_usage");
    assert_eq!(soak.0[2].thresholds[0].expr.agg, Aggregation::Value);
    // Built-in types fit; memory_usage is unknown here and so not an error.
    c.validate_types(builtins).unwrap();
}

#[test]
fn threshold_forms() {
    let text = "\
service: s
thresholds:
  p:
    http_req_duration:
      - 'p(95)<500'
      - p(99.9) < 1500
      - {threshold: 'max<3000', abortOnFail: true, delayAbortEval: '10s'}
      - threshold: avg<200
        abortOnFail: false
    \"http_req_duration{name:login, status:'200'}\": [\"p(95)<1000\"]
    checks{check:status is 200}: ['rate>0.99']
    http_reqs: []
";
    let c = parse_slo_config(text, "t.yaml").unwrap();
    let p = c.profile("p").unwrap();
    assert_eq!(p.len(), 4);
    let d = &p.0[0].thresholds;
    assert_eq!(d.len(), 4);
    assert_eq!((d[0].expr.agg, d[0].abort_on_fail, d[0].delay_abort_eval), (Aggregation::P(95.0), false, None));
    assert_eq!((d[0].location.line, d[0].location.column), (5, 9));
    assert_eq!(d[1].source, "p(99.9) < 1500");
    assert_eq!((d[1].expr.agg, d[1].expr.value), (Aggregation::P(99.9), 1500.0));
    assert_eq!((d[1].location.line, d[1].location.column), (6, 9));
    assert_eq!(d[2].source, "max<3000");
    assert!(d[2].abort_on_fail);
    assert_eq!(d[2].delay_abort_eval, Some(Duration::from_secs(10)));
    // `      - {threshold: 'max<3000', ...`: the quote is column 21.
    assert_eq!((d[2].location.line, d[2].location.column), (7, 21));
    assert_eq!((d[3].expr.agg, d[3].abort_on_fail), (Aggregation::Avg, false));
    assert_eq!((d[3].location.line, d[3].location.column), (8, 20));
    let login = &p.0[1];
    assert_eq!(login.key.metric, "http_req_duration");
    assert_eq!(login.key.filters, vec![("name".into(), "login".into()), ("status".into(), "200".into())]);
    assert_eq!(login.key.canonical(), "http_req_duration{name:login,status:200}");
    assert_eq!((login.location.line, login.location.column), (10, 5));
    // The quoted key spans columns 5..=49, then `: [` and the string's quote at 53.
    assert_eq!((login.thresholds[0].location.line, login.thresholds[0].location.column), (10, 53));
    assert_eq!(p.0[2].key.filters, vec![("check".into(), "status is 200".into())]);
    assert!(p.0[3].thresholds.is_empty());
    c.validate_types(builtins).unwrap();
}

#[test]
fn wrong_threshold_forms_point_at_the_spot() {
    // String form, bad method: `    http_req_duration: ['p(95)<500', 'p95<1000']`,
    // the second string's quote is column 38.
    let e = err("service: s\nthresholds:\n  load_test:\n    http_req_duration: ['p(95)<500', 'p95<1000']\n");
    assert!(matches!(e, ConfigError::Expression { ref expr, .. } if expr == "p95<1000"), "{e}");
    at(&e, 4, 38);
    // Block list, plain scalar with `=`: `      - count=5` -> column 9.
    let e = err("service: s\nthresholds:\n  p:\n    http_reqs:\n      - count=5\n");
    at(&e, 5, 9);
    // Object form, bad expression: `      - threshold: 'max=3000'` -> quote at column 20.
    let e = err("service: s\nthresholds:\n  p:\n    http_req_duration:\n      - threshold: 'max=3000'\n");
    assert!(matches!(e, ConfigError::Expression { .. }), "{e}");
    at(&e, 5, 20);
    // Object form, `yes` is not a YAML 1.2 boolean: `        abortOnFail: yes` -> 22.
    let e = err("service: s\nthresholds:\n  p:\n    http_req_duration:\n      - threshold: 'max<3000'\n        abortOnFail: yes\n");
    assert!(matches!(e, ConfigError::InvalidValue { .. }), "{e}");
    at(&e, 6, 22);
    // Object form, misspelt field at column 9 of line 6.
    let e = err("service: s\nthresholds:\n  p:\n    http_req_duration:\n      - threshold: 'max<3000'\n        abortOnFial: true\n");
    assert!(matches!(e, ConfigError::UnknownField { ref field, .. } if field == "abortOnFial"), "{e}");
    at(&e, 6, 9);
    // Object form without `threshold`: the mapping starts at column 9 (`{`).
    let e = err("service: s\nthresholds:\n  p:\n    http_reqs: [ {abortOnFail: true} ]\n");
    assert!(matches!(e, ConfigError::MissingField { .. }), "{e}");
    at(&e, 4, 18);
    // delayAbortEval with no unit: `      - {threshold: 'max<1', delayAbortEval: 10}`, the
    // `10` is column 46.
    let e = err("service: s\nthresholds:\n  p:\n    http_reqs:\n      - {threshold: 'max<1', delayAbortEval: 10}\n");
    at(&e, 5, 46);
    // Metric key: key-only filter, the key at column 5 of line 4.
    let e = err("service: s\nthresholds:\n  p:\n    http_reqs{key}: ['count==1']\n");
    assert!(matches!(e, ConfigError::MetricKey { .. }), "{e}");
    at(&e, 4, 5);
    // Blank before `{`: quoted key, the quote at column 5.
    let e = err("service: s\nthresholds:\n  p:\n    'http_reqs {name:login}': ['count==1']\n");
    assert!(matches!(e, ConfigError::MetricKey { .. }), "{e}");
    at(&e, 4, 5);
    // A single string instead of a list: the value at column 16.
    let e = err("service: s\nthresholds:\n  p:\n    http_reqs: 'count==1'\n");
    at(&e, 4, 16);
}

#[test]
fn aggregation_must_fit_the_metric_type() {
    // `    http_req_failed: ['rate<0.01', 'p(95)<0.01']`: second quote at column 36.
    let text = "service: s\nthresholds:\n  p:\n    http_req_failed: ['rate<0.01', 'p(95)<0.01']\n";
    let c = parse_slo_config(text, "t.yaml").unwrap();
    let e = c.validate_types(builtins).unwrap_err();
    assert!(matches!(e, ConfigError::Aggregation { kind: MetricType::Rate, ref metric, .. } if metric == "http_req_failed"), "{e}");
    at(&e, 4, 36);
    // The same through the set: counter `value`, gauge `count`, trend `rate`.
    for (metric, expr) in [("http_reqs", "value>0"), ("vus", "count>0"), ("http_req_duration", "rate<1")] {
        let text = format!("service: s\nthresholds:\n  p:\n    {metric}: ['{expr}']\n");
        let c = parse_slo_config(&text, "t.yaml").unwrap();
        assert!(c.profile("p").unwrap().validate_types(builtins).is_err(), "{metric} {expr}");
    }
    // A custom metric: unknown is fine, known with a wrong type is not.
    let c = parse_slo_config("service: s\nthresholds:\n  p:\n    my_trend: ['rate<1']\n", "t.yaml").unwrap();
    c.validate_types(builtins).unwrap();
    // `    my_trend: ['rate<1']`: the quote is column 16.
    let e = c.validate_types(|n| (n == "my_trend").then_some(MetricType::Trend)).unwrap_err();
    at(&e, 4, 16);
}

#[test]
fn slo_extras_min_samples_tolerance_filter() {
    let text = "\
service: s
min_samples: 50
tolerance: 2%
slos:
  availability:
    target: 99.95%
    window: 1h30m
    filter: '{name:login}'
  latency:
    p99.9:
      target: 1.5s
      window: 90s
      min_samples: 1000
      tolerance: 10
      filter: {name: login, method: GET}
    p90:
      target: 250ms
      window: 5m
      filter: {name:home}
  throughput:
    target: 20/s
    window: 1m
";
    let c = parse_slo_config(text, "t.yaml").unwrap();
    assert_eq!(c.min_samples, Some(50));
    assert_eq!(c.tolerance_percent, 2.0);
    let a = &c.slos[0];
    assert_eq!(a.objective, Objective::Availability { target_percent: 99.95 });
    assert_eq!(a.window, Duration::from_secs(5400));
    assert_eq!((a.min_samples, a.tolerance_percent), (Some(50), 2.0));
    assert_eq!(a.filter, vec![("name".to_string(), "login".to_string())]);
    let l = &c.slos[1];
    assert_eq!(l.name, "latency.p99.9");
    assert_eq!(l.objective, Objective::Latency { percentile: 99.9, target_ms: 1500.0 });
    assert_eq!(l.window, Duration::from_secs(90));
    assert_eq!((l.min_samples, l.tolerance_percent), (Some(1000), 10.0));
    assert_eq!(l.filter, vec![("method".to_string(), "GET".to_string()), ("name".to_string(), "login".to_string())]);
    assert_eq!(c.slos[2].filter, vec![("name".to_string(), "home".to_string())]);
    assert_eq!(c.slos[3].objective, Objective::Throughput { target_rps: 20.0 });
}

#[test]
fn invalid_configs_name_the_spot() {
    // Availability 120%: `    target: 120` -> value at column 13 of line 4.
    let e = err("service: s\nslos:\n  availability:\n    target: 120\n    window: 30d\n");
    assert!(matches!(e, ConfigError::InvalidValue { .. }), "{e}");
    at(&e, 4, 13);
    for bad in ["0", "100", "-1", "100%", "abc", "99.9 percent", "nan", "inf"] {
        let text = format!("service: s\nslos:\n  availability:\n    target: {bad}\n    window: 30d\n");
        at(&err(&text), 4, 13);
    }
    // error_rate 0.1% is fine, 150% is not.
    let e = err("service: s\nslos:\n  error_rate:\n    target: 150%\n    window: 1h\n");
    at(&e, 4, 13);
    // Unknown SLO field `windw` at column 5 of line 5.
    let e = err("service: s\nslos:\n  availability:\n    target: 99.9\n    windw: 30d\n");
    assert!(matches!(e, ConfigError::UnknownField { ref field, .. } if field == "windw"), "{e}");
    at(&e, 5, 5);
    // Unknown top-level field at 2:1, unknown SLO kind at 3:3, unknown latency key at 4:5.
    at(&err("service: s\nservce: x\n"), 2, 1);
    at(&err("service: s\nslos:\n  avail:\n    target: 99\n"), 3, 3);
    at(&err("service: s\nslos:\n  latency:\n    p95x:\n      target: 1ms\n      window: 1m\n"), 4, 5);
    at(&err("service: s\nslos:\n  latency:\n    p101:\n      target: 1ms\n      window: 1m\n"), 4, 5);
    // Bad duration: `      window: 5 minutes` -> value at column 15 of line 6.
    let e = err("service: s\nslos:\n  latency:\n    p95:\n      target: 500ms\n      window: 5 minutes\n");
    at(&e, 6, 15);
    for bad in ["0s", "0m", "30", "-1h", "1h30"] {
        let text = format!("service: s\nslos:\n  latency:\n    p95:\n      target: 500ms\n      window: {bad}\n");
        at(&err(&text), 6, 15);
    }
    // Latency target without a unit: `      target: 500` -> column 15 of line 5.
    at(&err("service: s\nslos:\n  latency:\n    p95:\n      target: 500\n      window: 1h\n"), 5, 15);
    // Throughput without a unit, and zero.
    at(&err("service: s\nslos:\n  throughput:\n    target: 1000\n    window: 1m\n"), 4, 13);
    at(&err("service: s\nslos:\n  throughput:\n    target: 0rps\n    window: 1m\n"), 4, 13);
    // Missing window: reported at the SLO's name, `  availability:` -> 3:3.
    let e = err("service: s\nslos:\n  availability:\n    target: 99.9\n");
    assert!(matches!(e, ConfigError::MissingField { ref field, .. } if field == "window"), "{e}");
    at(&e, 3, 3);
    // Missing service: reported where the document starts.
    let e = err("environment: prod\n");
    assert!(matches!(e, ConfigError::MissingField { ref field, .. } if field == "service"), "{e}");
    at(&e, 1, 1);
    // Bad filter `{name}`: the value at column 13 of line 5.
    at(&err("service: s\nslos:\n  availability:\n    target: 99\n    filter: '{name}'\n    window: 1h\n"), 5, 13);
    // min_samples not a whole number, tolerance out of range.
    at(&err("service: s\nmin_samples: -3\n"), 2, 14);
    at(&err("service: s\ntolerance: 100%\n"), 2, 12);
    // Duplicate key `service` on line 2.
    let e = err("service: s\nservice: t\n");
    assert!(matches!(e, ConfigError::DuplicateKey { first_line: 1, .. }), "{e}");
    at(&e, 2, 1);
    // Wrong shapes.
    at(&err("service: s\nslos: [1, 2]\n"), 2, 7);
    at(&err("service: [a]\n"), 1, 10);
}

#[test]
fn yaml_syntax_errors_have_positions() {
    // `environment: prod: eu`: a second `: ` on one line; the scanner stops at the
    // second colon, column 18 of line 2.
    let e = err("service: s\nenvironment: prod: eu\n");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    at(&e, 2, 18);
    // An unclosed flow sequence: the scanner reaches the end of the input (line 3,
    // column 1) still inside it.
    let e = err("service: s\nthresholds: {p: {http_reqs: ['count>1'}}\n");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    assert_eq!(e.location().unwrap().line, 2, "{e}");
    // An empty file and a second document.
    at(&err(""), 1, 1);
    at(&err("service: s\n---\nservice: t\n"), 2, 1);
}

#[test]
fn io_error_has_the_file_but_no_location() {
    let e = load_slo_config(Path::new("/nonexistent/slo-config.yaml")).unwrap_err();
    assert!(e.location().is_none());
    assert!(e.to_string().starts_with("/nonexistent/slo-config.yaml: cannot read file"), "{e}");
}
