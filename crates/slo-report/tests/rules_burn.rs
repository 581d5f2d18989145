//! Burn-rate planning of `slo rules export`: case 09's expected values, the seed config's
//! tiers worked out by hand, and the configs that must be refused.

use std::time::Duration;

use slo_config::parse_slo_config;
use slo_report::rules::{
    budget_consumed, burn_rate, export_rules, plan_rules, sre_workbook_tiers, RulesError, RulesOptions, Severity, Sli,
};

const H: u64 = 3600;
const D: u64 = 86_400;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// case 09 expected.json `factors_keeping_same_consumption`: (period, [burn per tier]).
const KEEPING: &[(u64, [f64; 4])] =
    &[(30 * D, [14.4, 6.0, 3.0, 1.0]), (28 * D, [13.44, 5.6, 2.8, 0.933333]), (7 * D, [3.36, 1.4, 0.7, 0.233333])];

/// case 09 expected.json `same_factors_reused_on_other_periods`: budget consumed by the
/// 30-day factors 14.4/6/3/1 over 1h/6h/24h/72h on each period.
const REUSED: &[(u64, [f64; 4])] = &[
    (30 * D, [0.02, 0.05, 0.1, 0.1]),
    (28 * D, [0.021429, 0.053571, 0.107143, 0.107143]),
    (7 * D, [0.085714, 0.214286, 0.428571, 0.428571]),
];

#[test]
fn case09_workbook_tiers_are_the_sre_table() {
    // expected.json sre_workbook_30d_tiers.
    let t = sre_workbook_tiers();
    let want = [
        (Severity::Page, 14.4, 1, 300, 0.02),
        (Severity::Page, 6.0, 6, 1800, 0.05),
        (Severity::Ticket, 3.0, 24, 7200, 0.1),
        (Severity::Ticket, 1.0, 72, 21600, 0.1),
    ];
    for (tier, (sev, burn, long_h, short_s, consumed)) in t.iter().zip(want) {
        assert_eq!(tier.severity, sev);
        assert_eq!(tier.long, Duration::from_secs(long_h * H));
        assert_eq!(tier.short, Duration::from_secs(short_s), "short window = long/12 (kibana#180801: 72h → 360m)");
        assert!(close(tier.budget_consumed, consumed, 1e-12));
        assert!(close(burn_rate(consumed, Duration::from_secs(30 * D), tier.long), burn, 1e-9));
    }
}

#[test]
fn case09_factors_follow_the_period() {
    let tiers = sre_workbook_tiers();
    for (period, burns) in KEEPING {
        for (tier, want) in tiers.iter().zip(burns) {
            let got = burn_rate(tier.budget_consumed, Duration::from_secs(*period), tier.long);
            assert!(close(got, *want, 1e-6), "period {period}s tier {:?}: {got} != {want}", tier.long);
        }
    }
    for (period, consumed) in REUSED {
        for ((tier, burn), want) in tiers.iter().zip([14.4, 6.0, 3.0, 1.0]).zip(consumed) {
            let got = budget_consumed(burn, tier.long, Duration::from_secs(*period));
            assert!(close(got, *want, 1e-6), "period {period}s burn {burn}: {got} != {want}");
        }
    }
}

#[test]
fn case09_planned_rules_scale_and_flag_burns_below_one() {
    let yaml = "service: s\nslos:\n  availability: {target: 99.9, window: 30d}\n";
    let mut all = Vec::new();
    for (period, burns) in KEEPING {
        let window = format!("{}d", period / D);
        let cfg = parse_slo_config(&yaml.replace("30d", &window), "c.yaml").unwrap();
        let plan = plan_rules(&cfg, &RulesOptions::default()).unwrap();
        let slo = &plan.slos[0];
        assert_eq!(slo.budget, 0.001);
        assert_eq!(slo.tiers.len(), 4, "{window}: a window of at least 3d keeps all four tiers");
        for (t, want) in slo.tiers.iter().zip(burns) {
            assert!(close(t.raw_burn, *want, 1e-6), "{window}: raw {} != {want}", t.raw_burn);
            // Below 1 the alert fires while the SLO is met: raised to 1, and said so.
            assert!(close(t.burn, want.max(1.0), 1e-6));
        }
        let flagged = burns.iter().filter(|b| **b < 1.0).count();
        let said = plan.warnings.iter().filter(|w| w.contains("raised to 1")).count();
        assert_eq!(said, usize::from(flagged > 0), "{window}: {:?}", plan.warnings);
        if flagged > 0 {
            assert!(plan.warnings[0].starts_with("c.yaml:3:3: slos.availability:"), "{:?}", plan.warnings);
        }
        all.push(plan);
    }
    // 7d: 0.7 and 0.233 flagged; 28d: 0.933 flagged; 30d: none.
    assert!(all[2].warnings.iter().any(|w| w.contains("burn 0.7 ") && w.contains("burn 0.233333")));
    assert!(all[1].warnings.iter().any(|w| w.contains("burn 0.933333")));
}

#[test]
fn seed_config_tiers_worked_out_by_hand() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cfg = slo_config::load_slo_config(&root.join("slo/seed.slo-config.yaml")).unwrap();
    let plan = plan_rules(&cfg, &RulesOptions::default()).unwrap();
    let by = |n: &str| plan.slos.iter().find(|s| s.name == n).unwrap();
    // availability 99.9 % over 30d: budget 0.1 %, the workbook's factors unchanged.
    let a = by("availability");
    assert_eq!(a.budget, 0.001);
    let burns: Vec<f64> = a.tiers.iter().map(|t| t.burn).collect();
    assert_eq!(burns, [14.4, 6.0, 3.0, 1.0]);
    let thr: Vec<f64> = a.tiers.iter().map(|t| t.threshold).collect();
    assert_eq!(thr, [0.0144, 0.006, 0.003, 0.001]);
    let windows: Vec<u64> = a.windows.iter().map(|w| w.as_secs()).collect();
    assert_eq!(windows, [300, 1800, 3600, 7200, 6 * H, D, 3 * D, 30 * D]);
    // 1h SLOs: only the 1h/5m tier fits; 2 % × 1h/1h = 0.02 is raised to 1.
    for (name, budget, le) in [("latency.p50", 0.5, 0.1), ("latency.p95", 0.05, 0.5), ("latency.p99", 0.01, 1.0)] {
        let s = by(name);
        assert_eq!(s.budget, budget, "{name}");
        assert_eq!(s.sli, Sli::Latency { le_seconds: le, target_seconds: le }, "{name}");
        assert_eq!(s.tiers.len(), 1);
        assert_eq!((s.tiers[0].burn, s.tiers[0].raw_burn, s.tiers[0].threshold), (1.0, 0.02, budget));
        assert_eq!(s.windows, [Duration::from_secs(300), Duration::from_secs(H)]);
    }
    let e = by("error_rate");
    assert_eq!((e.budget, e.tiers.len(), e.tiers[0].threshold), (0.001, 1, 0.001));
    assert_eq!(by("throughput").sli, Sli::Throughput { target_rps: 1000.0 });
}

#[test]
fn refused_configs_name_the_spot() {
    // A window shorter than the shortest long alert window (1h).
    let cfg = parse_slo_config("service: s\nslos:\n  error_rate: {target: 1%, window: 30m}\n", "w.yaml").unwrap();
    let e = plan_rules(&cfg, &RulesOptions::default()).unwrap_err();
    assert!(matches!(e, RulesError::NoAlertWindow { .. }));
    assert!(e.to_string().starts_with("w.yaml:3:3: slos.error_rate: no burn-rate alert"), "{e}");
    // A latency target above the largest bucket.
    let cfg = parse_slo_config("service: s\nslos:\n  latency:\n    p95: {target: 20s, window: 1d}\n", "l.yaml").unwrap();
    let e = plan_rules(&cfg, &RulesOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with("l.yaml:4:5: slos.latency.p95.target: 20s is above"), "{e}");
    // p100 leaves no budget.
    let cfg = parse_slo_config("service: s\nslos:\n  latency:\n    p100: {target: 1s, window: 1d}\n", "p.yaml").unwrap();
    assert!(matches!(plan_rules(&cfg, &RulesOptions::default()), Err(RulesError::NoBudget { .. })));
    // A target of 120 % never reaches the rules: slo-config refuses it with its position.
    let e = parse_slo_config("service: s\nslos:\n  availability: {target: 120, window: 30d}\n", "t.yaml").unwrap_err();
    assert!(e.to_string().starts_with("t.yaml:3:"), "{e}");
    // Bad --buckets.
    let cfg = parse_slo_config("service: s\nslos:\n  availability: {target: 99, window: 30d}\n", "b.yaml").unwrap();
    let opts = RulesOptions { buckets_seconds: vec![1.0, 0.5] };
    assert!(matches!(plan_rules(&cfg, &opts), Err(RulesError::BadBuckets(_))));
}

#[test]
fn latency_targets_between_buckets_use_the_next_boundary_and_say_so() {
    let cfg = parse_slo_config("service: s\nslos:\n  latency:\n    p90: {target: 300ms, window: 7d}\n", "n.yaml").unwrap();
    let (text, warnings) = export_rules(&cfg, &RulesOptions::default()).unwrap();
    assert!(text.contains(r#"k6_http_req_duration_seconds_bucket{le=\"0.5\"}"#), "{text}");
    assert!(warnings.iter().any(|w| w.starts_with("n.yaml:4:5: slos.latency.p90.target: 0.3s is not a histogram bucket boundary")));
    assert!(text.contains("le=\\\"0.5\\\", is used"), "the alert description says so");
    // With a bucket at 0.3 s it is used as is, with no warning about it.
    let opts = RulesOptions { buckets_seconds: vec![0.1, 0.3, 1.0] };
    let (text, warnings) = export_rules(&cfg, &opts).unwrap();
    assert!(text.contains(r#"le=\"0.3\""#));
    assert!(!warnings.iter().any(|w| w.contains("bucket")));
}

#[test]
fn p90_on_28d_drops_the_tier_that_can_never_fire() {
    // budget 10 %: the 1h tier's burn 13.44 × 0.1 ≥ 1 could never fire.
    let cfg = parse_slo_config("service: s\nslos:\n  latency:\n    p90: {target: 500ms, window: 28d}\n", "n.yaml").unwrap();
    let plan = plan_rules(&cfg, &RulesOptions::default()).unwrap();
    let longs: Vec<u64> = plan.slos[0].tiers.iter().map(|t| t.tier.long.as_secs() / H).collect();
    assert_eq!(longs, [6, 24, 72]);
    assert!(plan.warnings.iter().any(|w| w.contains("could never fire")));
}
