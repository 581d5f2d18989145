//! Simulations with known truth: interval coverage, A/A runs, positive controls and the
//! cost of a 100 000 vs 100 000 comparison. Data come from rand's seeded `SmallRng`
//! (independent of the crate's own bootstrap generator); true values come from the
//! lognormal quantile function `exp(μ + σ·z_p)` with `z_p` from tables.

use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slo_analyze::compare::bootstrap::percentile_difference;
use slo_analyze::compare::stats::{hodges_lehmann, SortedSample};
use slo_analyze::compare::{compare, ChangeVerdict, CompareOptions, ComparisonInput, Counts, EndpointInput, MetricKind, RunSide, Sample};

/// z_{0.95} (Abramowitz & Stegun table 26.5).
const Z95: f64 = 1.6448536269514722;

fn normal(rng: &mut SmallRng) -> f64 {
    // Box–Muller; 1 − u keeps the logarithm finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn lognormal(rng: &mut SmallRng, mu: f64, sigma: f64, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| scale * (mu + sigma * normal(rng)).exp()).collect()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Brief's coverage requirement: the p95-difference bootstrap interval covers the true
/// difference in ≥ 93 % of 200 seeded pairs. Baseline LN(ln 100, 0.5), candidate the
/// same ×1.1, so true p95s are `100·e^{0.5·z95}` and 1.1 times that.
#[test]
fn bootstrap_p95_interval_covers_the_true_difference() {
    let (mu, sigma, n) = (100f64.ln(), 0.5, 2000);
    let true_p95 = (mu + sigma * Z95).exp();
    let truth = 0.1 * true_p95;
    let mut rng = SmallRng::seed_from_u64(42);
    let mut covered = 0;
    let mut width = 0.0;
    for i in 0..200 {
        let b = sorted(lognormal(&mut rng, mu, sigma, n, 1.0));
        let c = sorted(lognormal(&mut rng, mu, sigma, n, 1.1));
        let r = percentile_difference(&b, &c, 0.95, 0.05, 1000, 1000 + i).unwrap();
        if r.lower <= truth && truth <= r.upper {
            covered += 1;
        }
        width += r.upper - r.lower;
    }
    let rate = covered as f64 / 200.0;
    eprintln!("p95 bootstrap: coverage {rate}, mean width {:.3} ms, true difference {truth:.3} ms", width / 200.0);
    assert!(rate >= 0.93, "coverage {rate}");
    // Not trivially wide: the mean width matches the asymptotic one,
    // 2·z_{.975}·√(se_b² + se_c²), se = √(p(1−p)/n) / f(q_p), f the lognormal density
    // φ(z95)/(σ·q) at the true p95 (≈ 31.4 ms here).
    let phi = (-Z95 * Z95 / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let se_b = (0.95f64 * 0.05 / n as f64).sqrt() * sigma * true_p95 / phi;
    let se_c = 1.1 * se_b;
    let expected = 2.0 * 1.959963984540054 * (se_b * se_b + se_c * se_c).sqrt();
    let mean_width = width / 200.0;
    assert!((mean_width / expected - 1.0).abs() < 0.1, "mean width {mean_width}, asymptotic {expected}");
}

/// The Moses interval of a pure shift covers it at the nominal 95 % (distribution-free,
/// so it must hold for any continuous distribution): 200 pairs of 400 vs 500.
#[test]
fn moses_interval_covers_a_pure_shift() {
    let shift = 7.0;
    let mut rng = SmallRng::seed_from_u64(7);
    let mut covered = 0;
    for _ in 0..200 {
        let b = SortedSample::new(lognormal(&mut rng, 4.0, 0.6, 400, 1.0)).unwrap();
        let c = SortedSample::new(lognormal(&mut rng, 4.0, 0.6, 500, 1.0).into_iter().map(|v| v + shift).collect()).unwrap();
        let hl = hodges_lehmann(&b, &c, 0.05, false).unwrap();
        if hl.lower.unwrap() <= shift && shift <= hl.upper.unwrap() {
            covered += 1;
        }
    }
    let rate = covered as f64 / 200.0;
    eprintln!("Moses coverage {rate}");
    assert!(rate >= 0.92, "coverage {rate}");
}

struct Run {
    lat: Vec<f64>,
    failed: u64,
    checks: Counts,
}

fn run(rng: &mut SmallRng, mu: f64, sigma: f64, n: usize, scale: f64, err: f64) -> Run {
    let lat = lognormal(rng, mu, sigma, n, scale);
    let failed = (0..n).filter(|_| rng.random::<f64>() < err).count() as u64;
    let passes = (0..n).filter(|_| rng.random::<f64>() >= err).count() as u64;
    Run { lat, failed, checks: Counts { passes, total: n as u64 } }
}

fn sample(r: &Run) -> Sample<'_> {
    Sample { latency_ms: &r.lat, requests: r.lat.len() as u64, failed_requests: r.failed, checks: Some(r.checks) }
}

const ENDPOINTS: [(&str, f64, f64, f64); 5] = [
    ("GET /", 3.0, 0.4, 0.0),
    ("GET /api/items", 4.0, 0.6, 0.002),
    ("POST /api/orders", 5.0, 0.8, 0.01),
    ("GET /health", 1.0, 0.2, 0.0),
    ("GET /search", 4.5, 1.0, 0.02),
];

/// 20 seeded A/A comparisons of 5 endpoints (same distribution on both sides): never a
/// regression; and not vacuous: most medians and a third of all metrics come out
/// unchanged.
#[test]
fn a_a_runs_never_regress() {
    let n = 3000;
    let mut unchanged = 0;
    let mut median_unchanged = 0;
    let mut total = 0;
    for rep in 0..20u64 {
        let mut rng = SmallRng::seed_from_u64(900 + rep);
        let runs: Vec<(Run, Run)> =
            ENDPOINTS.iter().map(|&(_, mu, s, e)| (run(&mut rng, mu, s, n, 1.0, e), run(&mut rng, mu, s, n, 1.0, e))).collect();
        let endpoints = ENDPOINTS
            .iter()
            .zip(&runs)
            .map(|(&(name, ..), (b, c))| EndpointInput { name: name.into(), baseline: sample(b), candidate: sample(c) })
            .collect();
        let input = ComparisonInput {
            baseline: RunSide { id: format!("a{rep}"), duration_s: Some(300.0) },
            candidate: RunSide { id: format!("b{rep}"), duration_s: Some(300.0) },
            overall: None,
            endpoints,
        };
        let opts = CompareOptions { seed: rep, ..CompareOptions::default() };
        let r = compare(&input, &opts).unwrap();
        for e in &r.endpoints {
            for m in &e.metrics {
                assert_ne!(m.verdict, ChangeVerdict::Regressed, "rep {rep} {} {:?}: {}", e.name, m.metric, m.reason);
            }
        }
        assert_ne!(r.verdict, ChangeVerdict::Regressed);
        median_unchanged += r
            .endpoints
            .iter()
            .filter(|e| e.metrics.iter().any(|m| m.metric == MetricKind::LatencyMedian && m.verdict == ChangeVerdict::Unchanged))
            .count();
        unchanged += r.tally.unchanged;
        total += r.tally.regressed + r.tally.improved + r.tally.unchanged + r.tally.inconclusive;
    }
    eprintln!("A/A: {unchanged} of {total} metrics unchanged, {median_unchanged} of 100 medians");
    // The rest is inconclusive: noisy tails and small error counts at n = 3000.
    assert!(unchanged * 3 > total, "only {unchanged} of {total} unchanged");
    assert!(median_unchanged >= 60, "only {median_unchanged} of 100 medians unchanged");
}

/// Positive controls: +25 % latency and 1 % → 4 % errors regress; −25 % improves.
#[test]
fn real_changes_are_found() {
    let mut rng = SmallRng::seed_from_u64(5);
    let base = run(&mut rng, 4.0, 0.5, 3000, 1.0, 0.01);
    let slow = run(&mut rng, 4.0, 0.5, 3000, 1.25, 0.04);
    let fast = run(&mut rng, 4.0, 0.5, 3000, 0.75, 0.01);
    let tiny = run(&mut rng, 4.0, 0.5, 20, 1.25, 0.01);
    let input = ComparisonInput {
        baseline: RunSide { id: "base".into(), duration_s: Some(60.0) },
        candidate: RunSide { id: "cand".into(), duration_s: Some(60.0) },
        overall: None,
        endpoints: vec![
            EndpointInput { name: "slow".into(), baseline: sample(&base), candidate: sample(&slow) },
            EndpointInput { name: "fast".into(), baseline: sample(&base), candidate: sample(&fast) },
            EndpointInput { name: "tiny".into(), baseline: sample(&base), candidate: sample(&tiny) },
        ],
    };
    let r = compare(&input, &CompareOptions::default()).unwrap();
    let get = |e: usize, k: MetricKind| r.endpoints[e].metrics.iter().find(|m| m.metric == k).unwrap();
    for k in [MetricKind::LatencyMedian, MetricKind::LatencyP95, MetricKind::LatencyP99, MetricKind::ErrorRate, MetricKind::ChecksPassRate]
    {
        assert_eq!(get(0, k).verdict, ChangeVerdict::Regressed, "slow {k:?}: {}", get(0, k).reason);
    }
    for k in [MetricKind::LatencyMedian, MetricKind::LatencyP95] {
        assert_eq!(get(1, k).verdict, ChangeVerdict::Improved, "fast {k:?}: {}", get(1, k).reason);
    }
    let m = get(1, MetricKind::LatencyMedian);
    // HL of a ×0.75 scale change of LN(4, 0.5): about −0.25·e^4 ≈ −13.6 ms.
    assert!((m.delta.unwrap() + 13.6).abs() < 2.0, "{:?}", m.delta);
    // 20 values: too few, whatever the interval says; the detectable effect is reported.
    let t = get(2, MetricKind::LatencyMedian);
    assert_eq!(t.verdict, ChangeVerdict::Inconclusive);
    assert!(t.reason.contains("too few"), "{}", t.reason);
    assert!(t.detectable_effect.unwrap() > 0.0);
    // Throughput: 3000 vs 20 requests in the same 60 s is a drop.
    assert_eq!(get(2, MetricKind::Throughput).verdict, ChangeVerdict::Inconclusive);
    assert_eq!(r.verdict, ChangeVerdict::Regressed);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["endpoints"][0]["metrics"][0]["verdict"], "regressed");
    assert_eq!(json["endpoints"][0]["metrics"][0]["unit"], "ms");
    assert_eq!(json["multiple_testing"], "holm");
}

/// 100 000 vs 100 000 values through the whole comparison. Prints the time; in release
/// builds it must stay under one second.
#[test]
fn hundred_thousand_per_side() {
    let mut rng = SmallRng::seed_from_u64(11);
    let b = run(&mut rng, 4.0, 0.7, 100_000, 1.0, 0.005);
    let c = run(&mut rng, 4.0, 0.7, 100_000, 1.02, 0.005);
    let input = ComparisonInput {
        baseline: RunSide { id: "base".into(), duration_s: Some(600.0) },
        candidate: RunSide { id: "cand".into(), duration_s: Some(600.0) },
        overall: Some(EndpointInput { name: "all".into(), baseline: sample(&b), candidate: sample(&c) }),
        endpoints: vec![],
    };
    let t = Instant::now();
    let r = compare(&input, &CompareOptions::default()).unwrap();
    let took = t.elapsed();
    eprintln!("100k vs 100k: {took:?}");
    let m = &r.overall.as_ref().unwrap().metrics[0];
    // A ×1.02 scale change of LN(4, 0.7) moves the median by 0.02·e^4 ≈ 1.09 ms; the HL
    // shift (median of Y − X, not a pure shift here) lands near it, with a tight interval.
    assert!((0.6..1.6).contains(&m.delta.unwrap()), "{:?}", m.delta);
    assert!(m.detectable_effect_pct.unwrap() < 1.5, "{:?}", m.detectable_effect_pct);
    #[cfg(not(debug_assertions))]
    assert!(took.as_secs_f64() < 1.0, "{took:?}");
}
