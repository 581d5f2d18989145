//! Baseline vs candidate: per endpoint and for the whole run, did the candidate get
//! slower, faster, or stay the same, with the numbers that say so. Pure math: plain
//! slices in ([`ComparisonInput`]), a serializable [`Comparison`] out.
//!
//! # Metrics and methods
//!
//! | metric | k6 metric | value (unit) | delta and interval | p-value |
//! |---|---|---|---|---|
//! | [`MetricKind::LatencyMedian`] | `http_req_duration` | k6 `med` of each side (ms) | Hodges–Lehmann shift `candidate − baseline` with its Moses interval ([`stats::hodges_lehmann`]) | two-sided Mann–Whitney U ([`stats::mann_whitney_u`]), Holm-adjusted across endpoints |
//! | [`MetricKind::LatencyP95`], [`MetricKind::LatencyP99`] | `http_req_duration` | k6 `p(95)`, `p(99)` (ms) | difference of the percentiles, percentile-bootstrap interval ([`bootstrap::percentile_difference`]) | none |
//! | [`MetricKind::ErrorRate`] | `http_req_failed` | failed / requests (ratio in `[0, 1]`) | difference of proportions, Newcombe hybrid score interval ([`stats::newcombe_interval`]) | none |
//! | [`MetricKind::Throughput`] | `http_reqs` | requests / run duration (1/s) | difference of rates, Wald interval treating counts as Poisson: `Δ ± z·√(c_b/T_b² + c_c/T_c²)` | none |
//! | [`MetricKind::ChecksPassRate`] | `checks` | passes / checks (ratio in `[0, 1]`) | as error rate | none |
//!
//! Every interval is two-sided at level `1 − alpha` and is an interval of the
//! *difference* `candidate − baseline` in the metric's unit; `interval_pct` divides it
//! by the baseline value. The median's delta is the Hodges–Lehmann shift (the median of
//! all pairwise differences), which in general differs from the difference of the two
//! medians shown as values.
//!
//! # Verdict rules
//!
//! For each metric, with the tolerance band `b = max(relative·reference, absolute)`
//! ([`Tolerance`]; the reference is the baseline value, for proportions the baseline's
//! share of bad outcomes: the error rate, or `1 −` the checks pass rate) and the interval
//! `[lo, hi]` of the difference, taken in the "worse" direction of the metric (higher
//! latency and error rate are worse, lower throughput and pass rate are worse), in this
//! order:
//!
//! 1. fewer than `min_samples` on either side → **inconclusive** (numbers are still
//!    computed when possible);
//! 2. no interval (a sample too small for the level) → **inconclusive**;
//! 3. the `1 − 2·alpha` interval (90 % by default) inside the band → **unchanged**: the
//!    two one-sided tests of equivalence at level `alpha` (Schuirmann 1987, "TOST");
//! 4. the whole interval beyond `+b` in the worse direction → **regressed**, provided the
//!    metric has no p-value or its Holm-adjusted p-value is `< alpha`; otherwise
//!    **inconclusive**;
//! 5. the whole interval beyond `b` in the better direction → **improved**, same proviso;
//! 6. anything else (the interval straddles a band edge) → **inconclusive**, and
//!    `detectable_effect` (the interval's half-width) says how small a change the data
//!    could have resolved.
//!
//! An endpoint's verdict follows [`endpoint_verdict`]: regressed if any metric regressed,
//! else improved if any improved, else unchanged when its median latency is unchanged,
//! else inconclusive. The run's verdict combines the endpoints' with the
//! precedence regressed > inconclusive > improved > unchanged ([`ChangeVerdict::combine`]).
//!
//! # Multiple testing
//!
//! The Mann–Whitney p-values of the per-endpoint medians form one family and are
//! adjusted with Holm–Bonferroni ([`stats::holm_adjust`]); the whole-run comparison is
//! its own family of one (adjusted = raw). The interval-only metrics (percentiles,
//! proportions, throughput) are not adjusted: their guard is the tolerance band, which
//! an interval must clear entirely.

pub mod bootstrap;
pub mod collect;
pub mod stats;

use serde::Serialize;

use crate::sink::percentile_sorted;
use crate::verdict::Unit;
use stats::{MwMethod, SortedSample};

/// Why a comparison could not be made. Messages name the endpoint, the run side and the
/// option at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// A latency value that is NaN or infinite.
    #[error("compare: endpoint `{endpoint}`, {side} run: latency value #{index} is {value}, not a finite number of milliseconds")]
    NonFinite {
        /// Endpoint name.
        endpoint: String,
        /// `"baseline"` or `"candidate"`.
        side: &'static str,
        /// Index of the value in the slice given.
        index: usize,
        /// The value.
        value: f64,
    },
    /// More bad outcomes than trials.
    #[error("compare: endpoint `{endpoint}`, {side} run: {what} {count} exceeds its total {total}")]
    CountsInconsistent {
        /// Endpoint name.
        endpoint: String,
        /// `"baseline"` or `"candidate"`.
        side: &'static str,
        /// `"failed requests"` or `"passed checks"`.
        what: &'static str,
        /// The count.
        count: u64,
        /// The total it cannot exceed.
        total: u64,
    },
    /// An option out of range.
    #[error("compare: option {option} = {value} is invalid: {why}")]
    InvalidOption {
        /// Option name.
        option: &'static str,
        /// The value given, as text.
        value: String,
        /// What is expected.
        why: &'static str,
    },
}

/// Passes out of a total (checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    /// Successes (checks passed).
    pub passes: u64,
    /// All trials.
    pub total: u64,
}

/// The raw data of one side (baseline or candidate) of one endpoint or of the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample<'a> {
    /// `http_req_duration` of every request, milliseconds, any order. Must be finite.
    pub latency_ms: &'a [f64],
    /// Requests made (`http_reqs` count).
    pub requests: u64,
    /// Requests that failed (`http_req_failed` trues); at most `requests`.
    pub failed_requests: u64,
    /// Check results, when the run has checks for this endpoint.
    pub checks: Option<Counts>,
}

/// One endpoint (value of the `name` tag), or the whole run, in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInput<'a> {
    /// The `name` tag value (for the whole run: any label, e.g. `"all"`).
    pub name: String,
    /// The baseline run's data.
    pub baseline: Sample<'a>,
    /// The candidate run's data.
    pub candidate: Sample<'a>,
}

/// A run as the comparison needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSide {
    /// Run id.
    pub id: String,
    /// Duration the throughput divides by, seconds; throughput is left out when either
    /// side's is missing or not positive.
    pub duration_s: Option<f64>,
}

/// Everything compared: two runs, the whole-run samples and the per-endpoint ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonInput<'a> {
    /// The reference run.
    pub baseline: RunSide,
    /// The run under judgement.
    pub candidate: RunSide,
    /// Whole-run samples (every request of each run), if wanted.
    pub overall: Option<EndpointInput<'a>>,
    /// Per-endpoint samples; their Mann–Whitney p-values form the Holm family.
    pub endpoints: Vec<EndpointInput<'a>>,
}

/// A noise tolerance: the band `max(relative·reference, absolute)` around zero inside
/// which a difference counts as no change (see the module docs for the reference).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    /// Fraction of the reference value (0.05 = 5 %).
    pub relative: f64,
    /// Floor in the metric's own unit (ms, ratio, 1/s).
    pub absolute: f64,
}

impl Tolerance {
    /// A purely relative tolerance.
    pub const fn relative(fraction: f64) -> Tolerance {
        Tolerance { relative: fraction, absolute: 0.0 }
    }
}

/// The tolerance of each metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerances {
    /// Median latency: default 5 % of the baseline median.
    pub latency_median: Tolerance,
    /// p(95) latency: default 5 % of the baseline p(95).
    pub latency_p95: Tolerance,
    /// p(99) latency: default 5 % of the baseline p(99).
    pub latency_p99: Tolerance,
    /// Error rate: default 50 % of the baseline error rate, at least 0.002 (0.2
    /// percentage point). Wider than the latency tolerances because a proportion's own
    /// noise is large relative to it (a 1 % error rate over 3000 requests has a
    /// standard error of 18 % of itself): with a 5 % band nearly every A/A pair of runs
    /// with errors would come out inconclusive, and the band would not guard against
    /// false regressions. The floor lets two error-free runs be called unchanged.
    pub error_rate: Tolerance,
    /// Throughput: default 5 % of the baseline's requests per second.
    pub throughput: Tolerance,
    /// Checks pass rate: default 50 % of the baseline's failing share (`1 −` pass rate),
    /// at least 0.002, for the reasons given at `error_rate`.
    pub checks_pass_rate: Tolerance,
}

impl Default for Tolerances {
    fn default() -> Self {
        let rate = Tolerance { relative: 0.5, absolute: 0.002 };
        Tolerances {
            latency_median: Tolerance::relative(0.05),
            latency_p95: Tolerance::relative(0.05),
            latency_p99: Tolerance::relative(0.05),
            error_rate: rate,
            throughput: Tolerance::relative(0.05),
            checks_pass_rate: rate,
        }
    }
}

impl Tolerances {
    /// The tolerance of one metric.
    pub fn get(&self, metric: MetricKind) -> Tolerance {
        match metric {
            MetricKind::LatencyMedian => self.latency_median,
            MetricKind::LatencyP95 => self.latency_p95,
            MetricKind::LatencyP99 => self.latency_p99,
            MetricKind::ErrorRate => self.error_rate,
            MetricKind::Throughput => self.throughput,
            MetricKind::ChecksPassRate => self.checks_pass_rate,
        }
    }

    /// Sets every latency tolerance (median, p95, p99) at once.
    pub fn with_latency(mut self, t: Tolerance) -> Self {
        self.latency_median = t;
        self.latency_p95 = t;
        self.latency_p99 = t;
        self
    }
}

/// Knobs of a comparison. [`CompareOptions::default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareOptions {
    /// Significance level and `1 −` confidence level of every interval; default 0.05.
    pub alpha: f64,
    /// Fewest values per side for a verdict other than inconclusive; default 30.
    pub min_samples: u64,
    /// Noise tolerances per metric.
    pub tolerances: Tolerances,
    /// Bootstrap replicates for the percentile intervals; default 1000.
    pub resamples: usize,
    /// Seed of the bootstrap generator; default `0x5EED`. Each endpoint and metric
    /// derives its own stream from it and the endpoint name, so a result does not
    /// depend on the order of the endpoints.
    pub seed: u64,
    /// Mann–Whitney p-value method; default [`MwMethod::Auto`] (scipy's choice).
    pub mann_whitney: MwMethod,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            alpha: 0.05,
            min_samples: 30,
            tolerances: Tolerances::default(),
            resamples: 1000,
            seed: 0x5EED,
            mann_whitney: MwMethod::Auto,
        }
    }
}

impl CompareOptions {
    fn validate(&self) -> Result<(), CompareError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(CompareError::InvalidOption {
                option: "alpha",
                value: self.alpha.to_string(),
                why: "expected a number strictly between 0 and 1",
            });
        }
        if self.resamples == 0 {
            return Err(CompareError::InvalidOption {
                option: "resamples",
                value: "0".into(),
                why: "expected at least 1 bootstrap replicate",
            });
        }
        for (name, t) in [
            ("tolerance.latency_median", self.tolerances.latency_median),
            ("tolerance.latency_p95", self.tolerances.latency_p95),
            ("tolerance.latency_p99", self.tolerances.latency_p99),
            ("tolerance.error_rate", self.tolerances.error_rate),
            ("tolerance.throughput", self.tolerances.throughput),
            ("tolerance.checks_pass_rate", self.tolerances.checks_pass_rate),
        ] {
            if !(t.relative >= 0.0 && t.relative.is_finite() && t.absolute >= 0.0 && t.absolute.is_finite()) {
                return Err(CompareError::InvalidOption {
                    option: name,
                    value: format!("{{relative: {}, absolute: {}}}", t.relative, t.absolute),
                    why: "tolerances must be finite and not negative",
                });
            }
        }
        Ok(())
    }
}

/// The verdict on one metric, one endpoint or the whole comparison. Serialized in
/// snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeVerdict {
    /// Worse beyond the tolerance, and significant.
    Regressed,
    /// Better beyond the tolerance, and significant.
    Improved,
    /// The whole interval lies within the tolerance.
    Unchanged,
    /// Too few samples, or an interval that straddles the tolerance.
    Inconclusive,
}

impl ChangeVerdict {
    /// Upper-case label: `REGRESSED`, `IMPROVED`, `UNCHANGED`, `INCONCLUSIVE`.
    pub fn label(self) -> &'static str {
        match self {
            ChangeVerdict::Regressed => "REGRESSED",
            ChangeVerdict::Improved => "IMPROVED",
            ChangeVerdict::Unchanged => "UNCHANGED",
            ChangeVerdict::Inconclusive => "INCONCLUSIVE",
        }
    }

    fn rank(self) -> u8 {
        match self {
            ChangeVerdict::Regressed => 3,
            ChangeVerdict::Inconclusive => 2,
            ChangeVerdict::Improved => 1,
            ChangeVerdict::Unchanged => 0,
        }
    }

    /// Combines verdicts with the precedence regressed > inconclusive > improved >
    /// unchanged; no items → unchanged.
    pub fn combine<I: IntoIterator<Item = ChangeVerdict>>(items: I) -> ChangeVerdict {
        items.into_iter().max_by_key(|v| v.rank()).unwrap_or(ChangeVerdict::Unchanged)
    }
}

/// An endpoint's verdict from its metrics' (module docs, "Verdict rules"): regressed
/// when any metric regressed; else improved when any improved; else unchanged when its
/// median latency — the most precisely measured effect — is unchanged; else
/// inconclusive. The tail percentiles' and the error rate's wide intervals alone do not
/// make an endpoint inconclusive (a handful of errors in thousands of requests can never
/// resolve a 0.2-point band); any of them clearing its band still makes the endpoint
/// regressed or improved, and each keeps its own verdict in the report.
pub fn endpoint_verdict(metrics: &[MetricComparison]) -> ChangeVerdict {
    let any = |v: ChangeVerdict| metrics.iter().any(|m| m.verdict == v);
    if any(ChangeVerdict::Regressed) {
        return ChangeVerdict::Regressed;
    }
    if any(ChangeVerdict::Improved) {
        return ChangeVerdict::Improved;
    }
    let primary: Vec<&MetricComparison> = metrics.iter().filter(|m| m.metric == MetricKind::LatencyMedian).collect();
    if !primary.is_empty() && primary.iter().all(|m| m.verdict == ChangeVerdict::Unchanged) {
        ChangeVerdict::Unchanged
    } else {
        ChangeVerdict::Inconclusive
    }
}

/// Which metric a [`MetricComparison`] is about. Serialized in snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Median of `http_req_duration` (Mann–Whitney / Hodges–Lehmann).
    LatencyMedian,
    /// p(95) of `http_req_duration` (bootstrap).
    LatencyP95,
    /// p(99) of `http_req_duration` (bootstrap).
    LatencyP99,
    /// `http_req_failed` rate (Newcombe).
    ErrorRate,
    /// `http_reqs` per second (Poisson Wald).
    Throughput,
    /// `checks` pass rate (Newcombe).
    ChecksPassRate,
}

impl MetricKind {
    /// The k6 metric it is computed from.
    pub fn k6_metric(self) -> &'static str {
        match self {
            MetricKind::LatencyMedian | MetricKind::LatencyP95 | MetricKind::LatencyP99 => "http_req_duration",
            MetricKind::ErrorRate => "http_req_failed",
            MetricKind::Throughput => "http_reqs",
            MetricKind::ChecksPassRate => "checks",
        }
    }

    /// Whether a higher value is worse (latency, errors) or better (throughput, checks).
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, MetricKind::Throughput | MetricKind::ChecksPassRate)
    }

    fn unit(self) -> Unit {
        match self {
            MetricKind::LatencyMedian | MetricKind::LatencyP95 | MetricKind::LatencyP99 => Unit::Millis,
            MetricKind::Throughput => Unit::PerSecond,
            MetricKind::ErrorRate | MetricKind::ChecksPassRate => Unit::None,
        }
    }

    fn method(self) -> &'static str {
        match self {
            MetricKind::LatencyMedian => "mann-whitney u, hodges-lehmann shift, moses interval",
            MetricKind::LatencyP95 | MetricKind::LatencyP99 => "percentile bootstrap of the k6 percentile difference",
            MetricKind::ErrorRate | MetricKind::ChecksPassRate => "newcombe hybrid score interval (method 10)",
            MetricKind::Throughput => "poisson wald interval of the rate difference",
        }
    }
}

/// A two-sided interval of a difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// Nominal confidence level, `1 − alpha`.
    pub level: f64,
}

/// One metric of one endpoint (or of the whole run), baseline vs candidate. `Option`
/// fields are `null` when the data cannot give them (empty side, zero baseline for a
/// percentage, non-finite result).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    /// Which metric.
    pub metric: MetricKind,
    /// The k6 metric it comes from (`http_req_duration`, `http_req_failed`, `http_reqs`,
    /// `checks`).
    pub k6_metric: &'static str,
    /// Unit of `baseline`, `candidate`, `delta`, `interval`, `tolerance` and
    /// `detectable_effect`: `"ms"`, `"1/s"`, or `""` for ratios in `[0, 1]`.
    pub unit: Unit,
    /// The method that produced delta, interval and p-value.
    pub method: &'static str,
    /// `"higher"` when a higher value is worse (latency, error rate), else `"lower"`.
    pub worse_when: &'static str,
    /// The baseline's value (k6 `med`/`p(95)`/`p(99)`, rate, or throughput).
    pub baseline: Option<f64>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// Estimated difference `candidate − baseline` (for the median: the Hodges–Lehmann
    /// shift).
    pub delta: Option<f64>,
    /// `delta / baseline · 100`, percent.
    pub delta_pct: Option<f64>,
    /// Interval of the difference, in `unit`.
    pub interval: Option<Interval>,
    /// The interval divided by the baseline value, percent.
    pub interval_pct: Option<Interval>,
    /// The interval of the difference at level `1 − 2·alpha` (90 % by default): the
    /// two one-sided tests of equivalence (Schuirmann 1987, TOST) call the metric
    /// unchanged at level `alpha` when it lies within the tolerance band.
    pub equivalence_interval: Option<Interval>,
    /// The test statistic (Mann–Whitney U of the candidate: `#{c > b} + ½#{c = b}` over
    /// all pairs); `None` for interval-only metrics.
    pub statistic: Option<f64>,
    /// Two-sided p-value; `None` for interval-only metrics.
    pub p_value: Option<f64>,
    /// Holm-adjusted p-value (family: the endpoints' medians; the whole run alone).
    pub p_value_adjusted: Option<f64>,
    /// Values (latency), requests (error rate, throughput) or checks of the baseline.
    pub baseline_n: u64,
    /// Same for the candidate.
    pub candidate_n: u64,
    /// The tolerance band's half-width in `unit`: `max(relative·reference, absolute)`.
    pub tolerance: f64,
    /// Half-width of the interval in `unit`: changes much smaller than this could not be
    /// told apart from noise. `None` without an interval.
    pub detectable_effect: Option<f64>,
    /// `detectable_effect` as percent of the baseline value.
    pub detectable_effect_pct: Option<f64>,
    /// The verdict.
    pub verdict: ChangeVerdict,
    /// One sentence on why, with the numbers the rule used.
    pub reason: String,
}

/// All metrics of one endpoint (or of the whole run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointComparison {
    /// The `name` tag value (or the whole-run label).
    pub name: String,
    /// [`endpoint_verdict`] of the metrics' verdicts.
    pub verdict: ChangeVerdict,
    /// One entry per metric, in the order of [`MetricKind`]; throughput only when both
    /// run durations are known, checks only when both sides have checks.
    pub metrics: Vec<MetricComparison>,
}

/// How many metrics got each verdict, over the whole comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ChangeTally {
    /// Regressed metrics.
    pub regressed: usize,
    /// Improved metrics.
    pub improved: usize,
    /// Unchanged metrics.
    pub unchanged: usize,
    /// Inconclusive metrics.
    pub inconclusive: usize,
}

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline run.
    pub baseline: RunSide,
    /// The candidate run.
    pub candidate: RunSide,
    /// The options used.
    pub options: CompareOptions,
    /// The multiple-testing procedure applied to the endpoints' p-values: `"holm"`.
    pub multiple_testing: &'static str,
    /// [`ChangeVerdict::combine`] over the whole run and every endpoint.
    pub verdict: ChangeVerdict,
    /// Verdict counts over every metric compared.
    pub tally: ChangeTally,
    /// The whole run, when given.
    pub overall: Option<EndpointComparison>,
    /// Each endpoint, in the order given.
    pub endpoints: Vec<EndpointComparison>,
}

impl Comparison {
    /// Whether anything regressed (the binary's "regression found" exit).
    pub fn has_regression(&self) -> bool {
        self.verdict == ChangeVerdict::Regressed
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn pct_of(v: f64, base: f64) -> Option<f64> {
    if base == 0.0 {
        None
    } else {
        finite(v / base * 100.0)
    }
}

/// FNV-1a of the name, so each endpoint gets its own bootstrap stream.
fn stream_seed(seed: u64, name: &str, metric: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    seed ^ h.rotate_left(17) ^ metric.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

struct Numbers {
    baseline: Option<f64>,
    candidate: Option<f64>,
    delta: Option<f64>,
    interval: Option<(f64, f64)>,
    /// The same interval at level `1 − 2·alpha` (for the equivalence test).
    equivalence: Option<(f64, f64)>,
    statistic: Option<f64>,
    p_value: Option<f64>,
    baseline_n: u64,
    candidate_n: u64,
    /// Value the relative tolerance applies to.
    reference: Option<f64>,
}

/// The tolerance band's half-width of `kind` around `reference`.
fn band_of(kind: MetricKind, reference: Option<f64>, opts: &CompareOptions) -> f64 {
    let tol = opts.tolerances.get(kind);
    (tol.relative * reference.unwrap_or(0.0).abs()).max(tol.absolute)
}

fn metric(kind: MetricKind, n: Numbers, opts: &CompareOptions) -> MetricComparison {
    let band = band_of(kind, n.reference, opts);
    let base = n.baseline.unwrap_or(0.0);
    let level = 1.0 - opts.alpha;
    let interval = n.interval.map(|(lower, upper)| Interval { lower, upper, level });
    let interval_pct = interval.and_then(|i| Some(Interval { lower: pct_of(i.lower, base)?, upper: pct_of(i.upper, base)?, level }));
    let equivalence_interval = n.equivalence.map(|(lower, upper)| Interval { lower, upper, level: 1.0 - 2.0 * opts.alpha });
    let detectable = interval.map(|i| (i.upper - i.lower) / 2.0);
    MetricComparison {
        metric: kind,
        k6_metric: kind.k6_metric(),
        unit: kind.unit(),
        method: kind.method(),
        worse_when: if kind.higher_is_worse() { "higher" } else { "lower" },
        baseline: n.baseline,
        candidate: n.candidate,
        delta: n.delta,
        delta_pct: n.delta.and_then(|d| pct_of(d, base)),
        interval,
        interval_pct,
        equivalence_interval,
        statistic: n.statistic,
        p_value: n.p_value,
        p_value_adjusted: n.p_value,
        baseline_n: n.baseline_n,
        candidate_n: n.candidate_n,
        tolerance: band,
        detectable_effect: detectable,
        detectable_effect_pct: detectable.and_then(|d| pct_of(d, base)),
        verdict: ChangeVerdict::Inconclusive,
        reason: String::new(),
    }
}

/// Applies the verdict rules of the module docs to one metric (after Holm).
fn decide(m: &mut MetricComparison, opts: &CompareOptions) {
    let min = opts.min_samples;
    let (verdict, reason) = if m.baseline_n < min || m.candidate_n < min {
        (
            ChangeVerdict::Inconclusive,
            format!("too few samples: baseline {}, candidate {} (at least {min} per side needed)", m.baseline_n, m.candidate_n),
        )
    } else if let Some(i) = m.interval {
        let b = m.tolerance;
        let (lo, hi) = (i.lower, i.upper);
        let half = (hi - lo) / 2.0;
        let worse = if m.metric.higher_is_worse() { lo > b } else { hi < -b };
        let better = if m.metric.higher_is_worse() { hi < -b } else { lo > b };
        let unit = match m.unit.symbol() {
            "" => String::new(),
            u => format!(" {u}"),
        };
        let span = format!("{:.0}% interval [{lo:.6}, {hi:.6}]{unit}", i.level * 100.0);
        let significant = match m.p_value_adjusted {
            Some(p) if p >= opts.alpha => Err(p),
            _ => Ok(()),
        };
        // Equivalence (TOST): the 1 − 2α interval inside the band; without it, the 1 − α one.
        let eq = m.equivalence_interval.unwrap_or(i);
        if eq.lower >= -b && eq.upper <= b {
            let espan = format!("{:.0}% interval [{:.6}, {:.6}]{unit}", eq.level * 100.0, eq.lower, eq.upper);
            (ChangeVerdict::Unchanged, format!("{espan} lies within the tolerance ±{b:.6} (equivalence, two one-sided tests)"))
        } else if worse || better {
            let (v, word) = if worse { (ChangeVerdict::Regressed, "worse") } else { (ChangeVerdict::Improved, "better") };
            match significant {
                Ok(()) => (v, format!("{span} lies entirely beyond the tolerance ±{b:.6} on the {word} side")),
                Err(p) => (
                    ChangeVerdict::Inconclusive,
                    format!(
                        "{span} lies beyond the tolerance ±{b:.6} on the {word} side, but the Holm-adjusted p-value {p:.4} is not below {}",
                        opts.alpha
                    ),
                ),
            }
        } else {
            (ChangeVerdict::Inconclusive, format!("{span} straddles the tolerance ±{b:.6}; smallest detectable change about ±{half:.6}"))
        }
    } else {
        (ChangeVerdict::Inconclusive, "no interval: the samples are too small for the confidence level".to_string())
    };
    m.verdict = verdict;
    m.reason = reason;
}

fn sorted(name: &str, side: &'static str, v: &[f64]) -> Result<SortedSample, CompareError> {
    SortedSample::new(v.to_vec()).map_err(|index| CompareError::NonFinite { endpoint: name.to_string(), side, index, value: v[index] })
}

fn check_counts(name: &str, side: &'static str, s: &Sample<'_>) -> Result<(), CompareError> {
    if s.failed_requests > s.requests {
        return Err(CompareError::CountsInconsistent {
            endpoint: name.into(),
            side,
            what: "failed requests",
            count: s.failed_requests,
            total: s.requests,
        });
    }
    if let Some(c) = s.checks {
        if c.passes > c.total {
            return Err(CompareError::CountsInconsistent {
                endpoint: name.into(),
                side,
                what: "passed checks",
                count: c.passes,
                total: c.total,
            });
        }
    }
    Ok(())
}

fn proportion(bad: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| bad as f64 / total as f64)
}

/// Computes every metric of one endpoint; verdicts are left for [`decide`].
fn endpoint_numbers(
    input: &EndpointInput<'_>,
    runs: (&RunSide, &RunSide),
    opts: &CompareOptions,
) -> Result<Vec<MetricComparison>, CompareError> {
    let name = input.name.as_str();
    let (b, c) = (&input.baseline, &input.candidate);
    check_counts(name, "baseline", b)?;
    check_counts(name, "candidate", c)?;
    let xb = sorted(name, "baseline", b.latency_ms)?;
    let xc = sorted(name, "candidate", c.latency_ms)?;
    let (nb, nc) = (xb.len() as u64, xc.len() as u64);
    let mut out = Vec::with_capacity(6);

    // Median: Mann–Whitney U of the candidate against the baseline, HL shift c − b.
    let mw = stats::mann_whitney_u(&xc, &xb, opts.mann_whitney);
    let exact = mw.is_some_and(|r| r.method == MwMethod::Exact);
    let hl = stats::hodges_lehmann(&xb, &xc, opts.alpha, exact);
    let med_b = percentile_sorted(xb.values(), 0.5);
    // The 1 − 2α interval decides "unchanged" only when the 1 − α one straddles the
    // band (inside it, the narrower one is too; wholly outside, equivalence is out of
    // reach): its order statistics cost O((n + m)·log) each, so skip it otherwise.
    let band = band_of(MetricKind::LatencyMedian, med_b, opts);
    let straddles =
        hl.and_then(|h| Some((h.lower?, h.upper?))).is_some_and(|(lo, hi)| !(lo >= -band && hi <= band) && lo <= band && hi >= -band);
    let hl_eq = if straddles { stats::hodges_lehmann(&xb, &xc, 2.0 * opts.alpha, exact) } else { None };
    out.push(metric(
        MetricKind::LatencyMedian,
        Numbers {
            baseline: med_b,
            candidate: percentile_sorted(xc.values(), 0.5),
            delta: hl.map(|h| h.estimate),
            interval: hl.and_then(|h| Some((h.lower?, h.upper?))),
            equivalence: hl_eq.and_then(|h| Some((h.lower?, h.upper?))),
            statistic: mw.map(|r| r.u),
            p_value: mw.map(|r| r.p_value),
            baseline_n: nb,
            candidate_n: nc,
            reference: med_b,
        },
        opts,
    ));

    // p95 / p99: percentile bootstrap.
    for (kind, pct, tag) in [(MetricKind::LatencyP95, 0.95, 95u64), (MetricKind::LatencyP99, 0.99, 99u64)] {
        let pb = percentile_sorted(xb.values(), pct);
        let boot =
            bootstrap::percentile_difference(xb.values(), xc.values(), pct, opts.alpha, opts.resamples, stream_seed(opts.seed, name, tag));
        let boot_eq = bootstrap::percentile_difference(
            xb.values(),
            xc.values(),
            pct,
            2.0 * opts.alpha,
            opts.resamples,
            stream_seed(opts.seed, name, tag),
        );
        out.push(metric(
            kind,
            Numbers {
                baseline: pb,
                candidate: percentile_sorted(xc.values(), pct),
                delta: boot.map(|r| r.estimate),
                interval: boot.map(|r| (r.lower, r.upper)),
                equivalence: boot_eq.map(|r| (r.lower, r.upper)),
                statistic: None,
                p_value: None,
                baseline_n: nb,
                candidate_n: nc,
                reference: pb,
            },
            opts,
        ));
    }

    // Error rate: Newcombe.
    let eb = proportion(b.failed_requests, b.requests);
    let ec = proportion(c.failed_requests, c.requests);
    out.push(metric(
        MetricKind::ErrorRate,
        Numbers {
            baseline: eb,
            candidate: ec,
            delta: eb.zip(ec).map(|(x, y)| y - x),
            interval: stats::newcombe_interval(c.failed_requests, c.requests, b.failed_requests, b.requests, opts.alpha),
            equivalence: stats::newcombe_interval(c.failed_requests, c.requests, b.failed_requests, b.requests, 2.0 * opts.alpha),
            statistic: None,
            p_value: None,
            baseline_n: b.requests,
            candidate_n: c.requests,
            reference: eb,
        },
        opts,
    ));

    // Throughput: counts as Poisson over the run durations.
    if let (Some(tb), Some(tc)) = (runs.0.duration_s.filter(|t| *t > 0.0), runs.1.duration_s.filter(|t| *t > 0.0)) {
        let (rb, rc) = (b.requests as f64 / tb, c.requests as f64 / tc);
        let se = (b.requests as f64 / (tb * tb) + c.requests as f64 / (tc * tc)).sqrt();
        let z = stats::two_sided_z(opts.alpha);
        let z_eq = stats::two_sided_z(2.0 * opts.alpha);
        let d = rc - rb;
        out.push(metric(
            MetricKind::Throughput,
            Numbers {
                baseline: finite(rb),
                candidate: finite(rc),
                delta: finite(d),
                interval: finite(se).map(|se| (d - z * se, d + z * se)),
                equivalence: finite(se).map(|se| (d - z_eq * se, d + z_eq * se)),
                statistic: None,
                p_value: None,
                baseline_n: b.requests,
                candidate_n: c.requests,
                reference: finite(rb),
            },
            opts,
        ));
    }

    // Checks pass rate: Newcombe on passes; the tolerance refers to the failing share.
    if let (Some(cb), Some(cc)) = (b.checks, c.checks) {
        let pb = proportion(cb.passes, cb.total);
        out.push(metric(
            MetricKind::ChecksPassRate,
            Numbers {
                baseline: pb,
                candidate: proportion(cc.passes, cc.total),
                delta: pb.zip(proportion(cc.passes, cc.total)).map(|(x, y)| y - x),
                interval: stats::newcombe_interval(cc.passes, cc.total, cb.passes, cb.total, opts.alpha),
                equivalence: stats::newcombe_interval(cc.passes, cc.total, cb.passes, cb.total, 2.0 * opts.alpha),
                statistic: None,
                p_value: None,
                baseline_n: cb.total,
                candidate_n: cc.total,
                reference: pb.map(|p| 1.0 - p),
            },
            opts,
        ));
    }
    Ok(out)
}

fn finish_endpoint(name: String, mut metrics: Vec<MetricComparison>, opts: &CompareOptions, tally: &mut ChangeTally) -> EndpointComparison {
    for m in metrics.iter_mut() {
        decide(m, opts);
        match m.verdict {
            ChangeVerdict::Regressed => tally.regressed += 1,
            ChangeVerdict::Improved => tally.improved += 1,
            ChangeVerdict::Unchanged => tally.unchanged += 1,
            ChangeVerdict::Inconclusive => tally.inconclusive += 1,
        }
    }
    EndpointComparison { name, verdict: endpoint_verdict(&metrics), metrics }
}

/// Compares a candidate run with a baseline run: every metric of the module table, for
/// the whole run (when given) and per endpoint, with verdicts by the module's rules.
///
/// Cost: one sort per side and endpoint, then O(n + m) per Mann–Whitney pass and
/// a few dozen O(n + m) passes per Hodges–Lehmann order statistic (three per endpoint,
/// see [`stats::kth_difference`]); the bootstrap is
/// O(resamples) whatever the sample sizes (see [`bootstrap`]).
///
/// # Errors
/// [`CompareError::InvalidOption`] for options out of range,
/// [`CompareError::NonFinite`] for a NaN or infinite latency,
/// [`CompareError::CountsInconsistent`] for more failures than requests or more passed
/// checks than checks.
pub fn compare(input: &ComparisonInput<'_>, opts: &CompareOptions) -> Result<Comparison, CompareError> {
    opts.validate()?;
    let runs = (&input.baseline, &input.candidate);
    let mut tally = ChangeTally::default();

    let overall = match &input.overall {
        Some(o) => {
            let metrics = endpoint_numbers(o, runs, opts)?;
            Some(finish_endpoint(o.name.clone(), metrics, opts, &mut tally))
        }
        None => None,
    };

    let mut per: Vec<Vec<MetricComparison>> = Vec::with_capacity(input.endpoints.len());
    for e in &input.endpoints {
        per.push(endpoint_numbers(e, runs, opts)?);
    }
    // Holm over the endpoints' median p-values.
    let pick = |ms: &Vec<MetricComparison>| ms.iter().position(|m| m.metric == MetricKind::LatencyMedian);
    let raw: Vec<Option<f64>> = per.iter().map(|ms| pick(ms).and_then(|i| ms[i].p_value)).collect();
    let adjusted = stats::holm_adjust(&raw);
    for (ms, adj) in per.iter_mut().zip(adjusted) {
        if let Some(i) = pick(ms) {
            ms[i].p_value_adjusted = adj;
        }
    }
    let endpoints: Vec<EndpointComparison> =
        input.endpoints.iter().zip(per).map(|(e, ms)| finish_endpoint(e.name.clone(), ms, opts, &mut tally)).collect();

    let verdict = ChangeVerdict::combine(overall.iter().chain(endpoints.iter()).map(|e| e.verdict));
    Ok(Comparison {
        baseline: input.baseline.clone(),
        candidate: input.candidate.clone(),
        options: opts.clone(),
        multiple_testing: "holm",
        verdict,
        tally,
        overall,
        endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CompareOptions {
        CompareOptions::default()
    }

    fn one(kind: MetricKind, interval: (f64, f64), p_adj: Option<f64>, n: u64) -> MetricComparison {
        let mut m = metric(
            kind,
            Numbers {
                baseline: Some(100.0),
                candidate: Some(100.0),
                delta: Some((interval.0 + interval.1) / 2.0),
                interval: Some(interval),
                equivalence: None,
                statistic: None,
                p_value: p_adj,
                baseline_n: n,
                candidate_n: n,
                reference: Some(100.0),
            },
            &opts(),
        );
        decide(&mut m, &opts());
        m
    }

    #[test]
    fn endpoint_verdict_follows_median_and_errors_and_any_clear_change() {
        use ChangeVerdict::*;
        // Median well inside ±5 % (the band of a baseline of 100); error rate and p(99) straddle theirs.
        let median = one(MetricKind::LatencyMedian, (-1.0, 1.0), Some(0.5), 1000);
        let errors = one(MetricKind::ErrorRate, (-1.0, 60.0), None, 1000);
        let p99 = one(MetricKind::LatencyP99, (-2.0, 20.0), None, 1000);
        assert_eq!((median.verdict, errors.verdict, p99.verdict), (Unchanged, Inconclusive, Inconclusive));
        assert_eq!(endpoint_verdict(&[median.clone(), errors.clone(), p99.clone()]), Unchanged);
        // A tail that clears the band on the worse side makes the endpoint regressed.
        let p99_up = one(MetricKind::LatencyP99, (10.0, 20.0), None, 1000);
        assert_eq!(p99_up.verdict, Regressed);
        assert_eq!(endpoint_verdict(&[median.clone(), errors.clone(), p99_up]), Regressed);
        // A straddling median leaves the endpoint inconclusive.
        let median_wide = one(MetricKind::LatencyMedian, (-1.0, 9.0), Some(0.5), 1000);
        assert_eq!(endpoint_verdict(&[median_wide, errors, p99]), Inconclusive);
        assert_eq!(endpoint_verdict(&[]), Inconclusive);
    }

    #[test]
    fn verdict_rules() {
        use ChangeVerdict::*;
        use MetricKind::*;
        // Band: 5 % of 100 ms = 5 ms.
        assert_eq!(one(LatencyP95, (-4.0, 4.9), None, 100).verdict, Unchanged);
        assert_eq!(one(LatencyP95, (5.1, 9.0), None, 100).verdict, Regressed);
        assert_eq!(one(LatencyP95, (-9.0, -5.1), None, 100).verdict, Improved);
        assert_eq!(one(LatencyP95, (4.0, 9.0), None, 100).verdict, Inconclusive);
        assert_eq!(one(LatencyP95, (5.1, 9.0), None, 29).verdict, Inconclusive);
        assert_eq!(one(LatencyMedian, (5.1, 9.0), Some(0.2), 100).verdict, Inconclusive);
        assert_eq!(one(LatencyMedian, (5.1, 9.0), Some(0.01), 100).verdict, Regressed);
        // Higher throughput is better.
        assert_eq!(one(Throughput, (5.1, 9.0), None, 100).verdict, Improved);
        assert_eq!(one(Throughput, (-9.0, -5.1), None, 100).verdict, Regressed);
        let m = one(LatencyP95, (4.0, 9.0), None, 100);
        assert_eq!(m.detectable_effect, Some(2.5));
        assert_eq!(m.detectable_effect_pct, Some(2.5));
    }

    #[test]
    fn combine_precedence() {
        use ChangeVerdict::*;
        assert_eq!(ChangeVerdict::combine([Unchanged, Improved]), Improved);
        assert_eq!(ChangeVerdict::combine([Improved, Inconclusive]), Inconclusive);
        assert_eq!(ChangeVerdict::combine([Inconclusive, Regressed, Improved]), Regressed);
        assert_eq!(ChangeVerdict::combine([]), Unchanged);
    }

    #[test]
    fn empty_side_is_inconclusive_not_a_panic() {
        let v: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let e = EndpointInput {
            name: "GET /x".into(),
            baseline: Sample { latency_ms: &v, requests: 50, failed_requests: 1, checks: Some(Counts { passes: 50, total: 50 }) },
            candidate: Sample::default(),
        };
        let input = ComparisonInput {
            baseline: RunSide { id: "a".into(), duration_s: Some(10.0) },
            candidate: RunSide { id: "b".into(), duration_s: Some(0.0) },
            overall: None,
            endpoints: vec![e],
        };
        let r = compare(&input, &opts()).unwrap();
        let ms = &r.endpoints[0].metrics;
        // No throughput without both durations; checks only when both sides have them.
        assert_eq!(
            ms.iter().map(|m| m.metric).collect::<Vec<_>>(),
            [MetricKind::LatencyMedian, MetricKind::LatencyP95, MetricKind::LatencyP99, MetricKind::ErrorRate]
        );
        assert!(ms.iter().all(|m| m.verdict == ChangeVerdict::Inconclusive && m.candidate.is_none()));
        assert!(ms[0].reason.contains("too few samples: baseline 50, candidate 0"), "{}", ms[0].reason);
        assert_eq!(r.verdict, ChangeVerdict::Inconclusive);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let v = [1.0, f64::NAN];
        let e = EndpointInput {
            name: "GET /x".into(),
            baseline: Sample { latency_ms: &v, ..Default::default() },
            candidate: Sample::default(),
        };
        let input = ComparisonInput {
            baseline: RunSide { id: "a".into(), duration_s: None },
            candidate: RunSide { id: "b".into(), duration_s: None },
            overall: None,
            endpoints: vec![e],
        };
        let err = compare(&input, &opts()).unwrap_err();
        assert!(err.to_string().contains("GET /x") && err.to_string().contains("#1"), "{err}");
        let bad = CompareOptions { alpha: 1.5, ..opts() };
        assert!(matches!(compare(&input, &bad), Err(CompareError::InvalidOption { option: "alpha", .. })));
    }
}
