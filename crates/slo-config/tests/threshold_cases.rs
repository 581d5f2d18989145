//! Walks every case of `shared/cases/03-threshold-grammar-and-tag-filters/expected.json`
//! (copied to `tests/fixtures/threshold-cases-03.json`): 55 (metric key, expression)
//! pairs with real k6 v1.1.0's verdict. Every case k6 refused (exit 104) or crashed on
//! (exit 109) must be refused by `slo`; every case k6 accepted must parse to the key,
//! filters and expression written by hand in `ACCEPTED` below.

use slo_config::{
    parse_metric_key, parse_threshold_expr, Aggregation, Location, MetricKey, MetricThresholds, Op, Threshold, ThresholdExpr, ThresholdSet,
};
use slo_model::{builtin_metric, MetricType};

/// Hand-written expectations: metric key, expression, metric name, filters (sorted by
/// key), aggregation, operator, number.
type Want = (&'static str, &'static str, &'static str, &'static [(&'static str, &'static str)], Aggregation, Op, f64);

const LOGIN: &[(&str, &str)] = &[("name", "login")];
const LOGIN_500: &[(&str, &str)] = &[("name", "login"), ("status", "500")];
const NONE: &[(&str, &str)] = &[];

const ACCEPTED: &[Want] = &[
    ("http_reqs{name:login}", "count==5", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{key:value}", "count==1", "http_reqs", &[("key", "value")], Aggregation::Count, Op::Eq, 1.0),
    ("http_reqs{name: login}", "count==5", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{ name:login }", "count==5", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{name:login,status:500}", "count==1", "http_reqs", LOGIN_500, Aggregation::Count, Op::Eq, 1.0),
    ("http_reqs{status:500,name:login}", "count==1", "http_reqs", LOGIN_500, Aggregation::Count, Op::Eq, 1.0),
    ("http_reqs{name:login, status:500}", "count==1", "http_reqs", LOGIN_500, Aggregation::Count, Op::Eq, 1.0),
    ("http_reqs{name:\"login\"}", "count==5", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{name:'login'}", "count==5", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{group:::g1}", "count==2", "http_reqs", &[("group", "::g1")], Aggregation::Count, Op::Eq, 2.0),
    (
        "http_reqs{url:http://127.0.0.1:18080/status/404}",
        "count==2",
        "http_reqs",
        &[("url", "http://127.0.0.1:18080/status/404")],
        Aggregation::Count,
        Op::Eq,
        2.0,
    ),
    ("http_reqs{scenario:default}", "count==12", "http_reqs", &[("scenario", "default")], Aggregation::Count, Op::Eq, 12.0),
    ("http_reqs{status:200}", "count==8", "http_reqs", &[("status", "200")], Aggregation::Count, Op::Eq, 8.0),
    (
        "http_req_duration{expected_response:true}",
        "max>=0",
        "http_req_duration",
        &[("expected_response", "true")],
        Aggregation::Max,
        Op::Ge,
        0.0,
    ),
    ("http_req_failed{name:login}", "rate<0.01", "http_req_failed", LOGIN, Aggregation::Rate, Op::Lt, 0.01),
    ("http_req_failed", "rate<0.5", "http_req_failed", NONE, Aggregation::Rate, Op::Lt, 0.5),
    ("checks{check:status is 200}", "rate>0.9", "checks", &[("check", "status is 200")], Aggregation::Rate, Op::Gt, 0.9),
    ("checks", "rate==0.75", "checks", NONE, Aggregation::Rate, Op::Eq, 0.75),
    ("http_reqs{name:login}", "count == 5", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{name:login}", "  count==5  ", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{name:login}", "count===5", "http_reqs", LOGIN, Aggregation::Count, Op::Eq, 5.0),
    ("http_reqs{name:login}", "count!=4", "http_reqs", LOGIN, Aggregation::Count, Op::Ne, 4.0),
    ("http_reqs{name:login}", "count>=5.0", "http_reqs", LOGIN, Aggregation::Count, Op::Ge, 5.0),
    ("http_reqs{name:login}", "count<5e1", "http_reqs", LOGIN, Aggregation::Count, Op::Lt, 50.0),
    ("http_reqs{name:login}", "count<Inf", "http_reqs", LOGIN, Aggregation::Count, Op::Lt, f64::INFINITY),
    ("http_reqs{name:login}", "count<NaN", "http_reqs", LOGIN, Aggregation::Count, Op::Lt, f64::NAN),
    ("http_reqs{name:login}", "count<-1", "http_reqs", LOGIN, Aggregation::Count, Op::Lt, -1.0),
    ("http_req_duration", "p(99.9)<10000", "http_req_duration", NONE, Aggregation::P(99.9), Op::Lt, 10000.0),
    ("http_req_duration", "p(95)<1e4", "http_req_duration", NONE, Aggregation::P(95.0), Op::Lt, 10000.0),
    ("http_req_duration", "med<10000", "http_req_duration", NONE, Aggregation::Med, Op::Lt, 10000.0),
    ("http_req_duration", "avg < 10000 ", "http_req_duration", NONE, Aggregation::Avg, Op::Lt, 10000.0),
    ("vus", "value>0", "vus", NONE, Aggregation::Value, Op::Gt, 0.0),
    ("vus_max", "value==1", "vus_max", NONE, Aggregation::Value, Op::Eq, 1.0),
    ("http_reqs", "rate<100000", "http_reqs", NONE, Aggregation::Rate, Op::Lt, 100000.0),
    ("iterations", "count==1", "iterations", NONE, Aggregation::Count, Op::Eq, 1.0),
];

fn builtins(name: &str) -> Option<MetricType> {
    builtin_metric(name).map(|m| m.kind)
}

fn one_set(key: MetricKey, key_source: &str, expr: ThresholdExpr, source: &str) -> ThresholdSet {
    let location = Location { file: "case".into(), line: 1, column: 1 };
    ThresholdSet(vec![MetricThresholds {
        key_source: key_source.into(),
        key,
        location: location.clone(),
        thresholds: vec![Threshold { source: source.into(), expr, abort_on_fail: false, delay_abort_eval: None, location }],
    }])
}

/// What slo does with a case: `Err(stage)` when refused, `Ok` with the parse.
fn slo_outcome(key_s: &str, expr_s: &str) -> Result<(MetricKey, ThresholdExpr), String> {
    let key = parse_metric_key(key_s).map_err(|e| format!("metric key: {e}"))?;
    let expr = parse_threshold_expr(expr_s).map_err(|e| format!("expression: {e}"))?;
    one_set(key.clone(), key_s, expr.clone(), expr_s).validate_types(builtins).map_err(|e| format!("type check: {e}"))?;
    Ok((key, expr))
}

#[test]
fn every_k6_case() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/threshold-cases-03.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 55);

    let (mut refused, mut accepted, mut no_data) = (0, 0, Vec::new());
    for c in cases {
        let key_s = c["metric_key"].as_str().unwrap();
        let expr_s = c["expr"].as_str().unwrap();
        let exit = c["k6_exit_code"].as_i64().unwrap();
        let got = slo_outcome(key_s, expr_s);
        if exit == 104 || exit == 109 {
            let k6_error = c["k6_error"].as_str().unwrap_or("");
            match got {
                Err(_) => refused += 1,
                // k6 refuses a threshold on a metric no script line registers. slo cannot
                // know a custom metric's existence from the config alone: a metric that
                // no run declares has no samples, so it is judged NO DATA, which fails
                // the check (DESIGN.md: no data is never a pass). It must not be a
                // built-in, whose type check would otherwise apply.
                Ok((key, _)) if k6_error.contains("no metric name") => {
                    assert!(builtins(&key.metric).is_none(), "{key_s}");
                    no_data.push(key_s.to_string());
                }
                Ok(parsed) => panic!("k6 refused {key_s:?} {expr_s:?} (exit {exit}) but slo accepted {parsed:?}"),
            }
            continue;
        }
        assert!(exit == 0 || exit == 99, "unexpected exit {exit}");
        let (key, expr) = got.unwrap_or_else(|e| panic!("k6 accepted {key_s:?} {expr_s:?} but slo refused: {e}"));
        let want = ACCEPTED
            .iter()
            .find(|w| w.0 == key_s && w.1 == expr_s)
            .unwrap_or_else(|| panic!("no hand-written expectation for {key_s:?} {expr_s:?}"));
        assert_eq!(key.metric, want.2, "{key_s}");
        let filters: Vec<(&str, &str)> = key.filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(filters, want.3, "{key_s}");
        assert_eq!(expr.agg, want.4, "{expr_s}");
        assert_eq!(expr.op, want.5, "{expr_s}");
        if want.6.is_nan() {
            // `count<NaN`: k6 accepts it and it can never pass.
            assert!(expr.value.is_nan());
            for observed in [-1.0, 0.0, 5.0, f64::INFINITY] {
                assert!(!expr.passes(observed));
            }
        } else {
            assert_eq!(expr.value, want.6, "{expr_s}");
        }
        // Where k6 reported the aggregate, our comparison must give k6's verdict.
        let kind = builtins(&key.metric).unwrap();
        let values = &c["deterministic_values"];
        let observed = match (expr.agg, kind) {
            (Aggregation::Count, _) => values["count"].as_f64(),
            (Aggregation::Rate, MetricType::Rate) | (Aggregation::Value, MetricType::Gauge) => values["value"].as_f64(),
            _ => None,
        };
        if let (Some(v), Some(passed)) = (observed, c["k6_passed"].as_bool()) {
            assert_eq!(expr.passes(v), passed, "{key_s} {expr_s} with {v}");
        }
        accepted += 1;
    }
    assert_eq!(accepted, ACCEPTED.len(), "every hand-written expectation is used");
    assert_eq!(no_data, ["no_such_metric"]);
    assert_eq!(refused + accepted + no_data.len(), 55);
    assert_eq!(refused, 19);
}
