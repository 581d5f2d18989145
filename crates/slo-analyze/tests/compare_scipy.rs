//! The comparison statistics against scipy/numpy/statsmodels reference values
//! (`fixtures/compare/scipy_reference.json`, written by `make_fixtures.py` there).
//! U, Hodges–Lehmann and the Moses interval agree to 1e-9 relative (they are order
//! statistics, so in practice exactly), p-values to 1e-6 relative.

use serde_json::Value;
use slo_analyze::compare::stats::{
    hodges_lehmann, holm_adjust, mann_whitney_u, moses_critical_value, newcombe_interval, wilson_interval, CriticalValue, MwMethod,
    SortedSample,
};
use slo_analyze::compare::{compare, CompareOptions, ComparisonInput, EndpointInput, MetricKind, RunSide, Sample};
use slo_analyze::percentile_sorted;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/compare/scipy_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the fixture")).expect("parse the fixture")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[track_caller]
fn close(what: &str, got: f64, want: f64, rel: f64) {
    let ok = if want == 0.0 { got.abs() <= rel } else { ((got - want) / want).abs() <= rel };
    assert!(ok, "{what}: got {got:e}, scipy {want:e}");
}

#[test]
fn mann_whitney_and_hodges_lehmann_match_scipy() {
    let doc = reference();
    let alpha = doc["alpha"].as_f64().unwrap();
    let sets = doc["sets"].as_array().unwrap();
    assert!(sets.len() >= 10);
    for s in sets {
        let name = s["name"].as_str().unwrap();
        let base = SortedSample::new(floats(&s["baseline"])).unwrap();
        let cand = SortedSample::new(floats(&s["candidate"])).unwrap();

        let auto = mann_whitney_u(&cand, &base, MwMethod::Auto).unwrap();
        close(&format!("{name} U"), auto.u, s["u"].as_f64().unwrap(), 1e-9);
        close(&format!("{name} p (auto)"), auto.p_value, s["p_auto"].as_f64().unwrap(), 1e-6);
        let exact_used = auto.method == MwMethod::Exact;
        assert_eq!(exact_used, s["auto_method"] == "exact", "{name}: method");
        assert_eq!(auto.ties, s["ties"].as_bool().unwrap(), "{name}: ties");

        let asym = mann_whitney_u(&cand, &base, MwMethod::Asymptotic).unwrap();
        close(&format!("{name} p (asymptotic)"), asym.p_value, s["p_asymptotic"].as_f64().unwrap(), 1e-6);
        if let Some(p) = s.get("p_exact").and_then(Value::as_f64) {
            let ex = mann_whitney_u(&cand, &base, MwMethod::Exact).unwrap();
            if ex.method == MwMethod::Exact {
                close(&format!("{name} p (exact)"), ex.p_value, p, 1e-6);
            }
        }

        let hl = hodges_lehmann(&base, &cand, alpha, exact_used).unwrap();
        close(&format!("{name} HL"), hl.estimate, s["hl"].as_f64().unwrap(), 1e-9);
        assert_eq!(hl.c, s["moses_c"].as_u64().unwrap(), "{name}: Moses C");
        let want_src = if s["moses_source"] == "exact" { CriticalValue::Exact } else { CriticalValue::Normal };
        assert_eq!(hl.critical, want_src, "{name}: critical value source");
        close(&format!("{name} Moses lower"), hl.lower.unwrap(), s["moses_lower"].as_f64().unwrap(), 1e-9);
        close(&format!("{name} Moses upper"), hl.upper.unwrap(), s["moses_upper"].as_f64().unwrap(), 1e-9);
        assert!(hl.achieved_level >= 1.0 - alpha - 1e-12, "{name}: achieved level {}", hl.achieved_level);

        for q in [50, 95, 99] {
            close(
                &format!("{name} baseline p{q}"),
                percentile_sorted(base.values(), q as f64 / 100.0).unwrap(),
                s[format!("baseline_p{q}")].as_f64().unwrap(),
                1e-12,
            );
        }
    }
}

/// The same numbers come out of the public `compare` entry point, per endpoint.
#[test]
fn compare_reports_scipy_numbers() {
    let doc = reference();
    let sets = doc["sets"].as_array().unwrap();
    let data: Vec<(String, Vec<f64>, Vec<f64>)> =
        sets.iter().map(|s| (s["name"].as_str().unwrap().to_string(), floats(&s["baseline"]), floats(&s["candidate"]))).collect();
    let endpoints: Vec<EndpointInput<'_>> = data
        .iter()
        .map(|(n, b, c)| EndpointInput {
            name: n.clone(),
            baseline: Sample { latency_ms: b, requests: b.len() as u64, ..Default::default() },
            candidate: Sample { latency_ms: c, requests: c.len() as u64, ..Default::default() },
        })
        .collect();
    let input = ComparisonInput {
        baseline: RunSide { id: "base".into(), duration_s: Some(60.0) },
        candidate: RunSide { id: "cand".into(), duration_s: Some(60.0) },
        overall: None,
        endpoints,
    };
    let result = compare(&input, &CompareOptions::default()).unwrap();
    let raw: Vec<Option<f64>> = sets.iter().map(|s| Some(s["p_auto"].as_f64().unwrap())).collect();
    let holm = holm_adjust(&raw);
    for ((e, s), adj) in result.endpoints.iter().zip(sets).zip(holm) {
        let m = e.metrics.iter().find(|m| m.metric == MetricKind::LatencyMedian).unwrap();
        close(&format!("{} delta", e.name), m.delta.unwrap(), s["hl"].as_f64().unwrap(), 1e-9);
        close(&format!("{} p", e.name), m.p_value.unwrap(), s["p_auto"].as_f64().unwrap(), 1e-6);
        close(&format!("{} p adj", e.name), m.p_value_adjusted.unwrap(), adj.unwrap(), 1e-6);
        let i = m.interval.unwrap();
        close(&format!("{} lower", e.name), i.lower, s["moses_lower"].as_f64().unwrap(), 1e-9);
        close(&format!("{} upper", e.name), i.upper, s["moses_upper"].as_f64().unwrap(), 1e-9);
        close(&format!("{} baseline median", e.name), m.baseline.unwrap(), s["baseline_p50"].as_f64().unwrap(), 1e-12);
        let p95 = e.metrics.iter().find(|m| m.metric == MetricKind::LatencyP95).unwrap();
        let want = s["candidate_p95"].as_f64().unwrap() - s["baseline_p95"].as_f64().unwrap();
        close(&format!("{} p95 delta", e.name), p95.delta.unwrap(), want, 1e-9);
    }
}

#[test]
fn proportions_match_statsmodels() {
    let doc = reference();
    let alpha = doc["alpha"].as_f64().unwrap();
    for c in doc["proportions"].as_array().unwrap() {
        let g = |k: &str| c[k].as_u64().unwrap();
        let (x1, n1, x2, n2) = (g("x1"), g("n1"), g("x2"), g("n2"));
        let w = floats(&c["wilson1"]);
        let (wl, wu) = wilson_interval(x1, n1, alpha).unwrap();
        close(&format!("wilson {x1}/{n1} lower"), wl, w[0], 1e-9);
        close(&format!("wilson {x1}/{n1} upper"), wu, w[1], 1e-9);
        let nc = floats(&c["newcombe"]);
        let (lo, hi) = newcombe_interval(x1, n1, x2, n2, alpha).unwrap();
        close(&format!("newcombe {x1}/{n1} - {x2}/{n2} lower"), lo, nc[0], 1e-9);
        close(&format!("newcombe {x1}/{n1} - {x2}/{n2} upper"), hi, nc[1], 1e-9);
    }
}

#[test]
fn holm_matches_statsmodels() {
    let doc = reference();
    for f in doc["holm"].as_array().unwrap() {
        let p: Vec<Option<f64>> = floats(&f["p"]).into_iter().map(Some).collect();
        let want = floats(&f["holm"]);
        for (got, want) in holm_adjust(&p).into_iter().zip(want) {
            close("holm", got.unwrap(), want, 1e-12);
        }
    }
}

/// The normal-approximation critical value by hand: n = m = 10, alpha = 0.05:
/// nm/2 + 1/2 − 1.959964·√(100·21/12) = 50.5 − 25.928 = 24.57 → C = 24
/// and exactly: the usual Mann–Whitney table's two-sided 5 % critical value for 10 vs 10
/// is U = 23 (P(U <= 23) <= 0.025 < P(U <= 24)), so C = 23 + 1 = 24 as well.
#[test]
fn moses_critical_value_by_hand() {
    let (c, src, _) = moses_critical_value(10, 10, 0.05, false);
    assert_eq!((c, src), (24, CriticalValue::Normal));
    let (c, src, level) = moses_critical_value(10, 10, 0.05, true);
    assert_eq!((c, src), (24, CriticalValue::Exact));
    assert!((0.95..0.96).contains(&level), "{level}");
    // Too small for 95 %: 2 vs 2 has P(U = 0) = 1/6 > 0.025.
    assert_eq!(moses_critical_value(2, 2, 0.05, true).0, 0);
}
