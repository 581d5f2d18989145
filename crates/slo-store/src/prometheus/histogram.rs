//! Latency histograms: the classic bucket layout with its error bound, the cumulative
//! classic and native histogram state the sink keeps, and Prometheus' quantile estimate
//! over classic buckets.

use std::collections::BTreeMap;

use super::remote_write::{BucketSpan, Histogram};

/// Schema of the native histograms the sink sends: bucket growth factor `2^(2^-4)` ≈ 1.0443,
/// so a quantile estimate is within 4.5 % of the observation of that rank.
pub const NATIVE_SCHEMA: i32 = 4;

/// Zero bucket threshold of native histograms (client_golang's default, 2^-128): values up
/// to it (0 s durations) are counted in the zero bucket.
pub const NATIVE_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;

/// Exponential classic-bucket layout, in seconds: upper bounds `min_s · factor^i`, each
/// rounded to 4 significant digits, up to the first bound ≥ `max_s`, then `+Inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketLayout {
    /// The first upper bound, seconds (default 0.0005 = 0.5 ms).
    pub min_s: f64,
    /// The last finite upper bound is the first one ≥ this, seconds (default 60).
    pub max_s: f64,
    /// Growth factor between bounds (default 1.05), > 1.
    pub factor: f64,
}

/// The Go client's `DefBuckets` in seconds, always part of [`BucketLayout::bounds`].
pub const PROMETHEUS_DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

impl Default for BucketLayout {
    fn default() -> Self {
        BucketLayout { min_s: 0.0005, max_s: 60.0, factor: 1.05 }
    }
}

impl BucketLayout {
    /// The finite upper bounds in seconds, ascending, without `+Inf`. A layout with
    /// `factor <= 1`, a non-positive or non-finite bound gets the default instead.
    pub fn bounds(&self) -> Vec<f64> {
        let ok = self.factor > 1.0 && self.factor.is_finite() && self.min_s > 0.0 && self.max_s.is_finite() && self.max_s >= self.min_s;
        let l = if ok { self.clone() } else { BucketLayout::default() };
        // Each bound is the previous one times the factor, rounded *down* to 4 significant
        // digits, so no ratio exceeds the factor (the error bound stays factor − 1).
        let mut out: Vec<f64> = vec![round_sig4(l.min_s)];
        while let Some(&p) = out.last() {
            if p >= l.max_s || out.len() > 10_000 {
                break;
            }
            let mut r = floor_sig4(p * l.factor);
            if r <= p {
                r = round_sig4(p * l.factor).max(next_sig4(p));
            }
            out.push(r);
        }
        // Prometheus's default boundaries as well (Go client `DefBuckets`), so that SLO
        // targets at round values (100 ms, 500 ms, 1 s) are exact bucket edges that
        // `slo rules export` and dashboards can read as `le="0.5"`. Adding bounds only
        // narrows buckets: the error bound does not grow.
        let first = out[0];
        out.extend(PROMETHEUS_DEFAULT_BUCKETS.iter().filter(|&&b| b > first && b < l.max_s));
        out.sort_by(f64::total_cmp);
        out.dedup();
        out
    }

    /// Upper bound of the relative error of a quantile estimated by linear interpolation
    /// in these buckets (`histogram_quantile`), relative to the observation of the rank
    /// estimated, for observations between the first and the last finite bound: the largest
    /// `b/a − 1` over consecutive bounds `a < b` (0.0500 for the default layout).
    pub fn relative_error_bound(&self) -> f64 {
        self.bounds().windows(2).map(|w| w[1] / w[0] - 1.0).fold(0.0, f64::max)
    }
}

/// `x` rounded to 4 significant digits, as the nearest double to that decimal (so it
/// prints short: `0.000525`, not `0.0005250000000000001`).
fn round_sig4(x: f64) -> f64 {
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// `x` rounded down to 4 significant digits (a tiny tolerance keeps exact decimals such as
/// 0.000525 from dropping a step through binary rounding).
fn floor_sig4(x: f64) -> f64 {
    let e = x.log10().floor() as i32 - 3;
    let m = (x / 10f64.powi(e) * (1.0 + 1e-12)).floor();
    round_sig4(m * 10f64.powi(e))
}

/// The next 4-significant-digit decimal above `x`.
fn next_sig4(x: f64) -> f64 {
    let e = x.log10().floor() as i32 - 3;
    round_sig4(x + 10f64.powi(e))
}

/// The `le` label value of an upper bound: the shortest decimal that reads back as the
/// same double, or `+Inf`.
pub fn le_label(bound: f64) -> String {
    if bound == f64::INFINITY {
        "+Inf".to_string()
    } else {
        format!("{bound}")
    }
}

/// A cumulative classic histogram: per-bucket counts (not cumulative), sum and count.
#[derive(Debug, Clone, Default)]
pub(crate) struct Classic {
    /// `counts[i]` for bound `i`; the last element counts values above every finite bound.
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Classic {
    pub fn new(n_bounds: usize) -> Self {
        Classic { counts: vec![0; n_bounds + 1], sum: 0.0, count: 0 }
    }

    /// Adds one observation (seconds) given the layout's bounds: bucket `le` holds `v <= le`.
    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        let i = bounds.partition_point(|&b| b < v);
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }
}

/// A cumulative native histogram with integer counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Native {
    pub buckets: BTreeMap<i32, u64>,
    pub zero_count: u64,
    pub negative: u64,
    pub sum: f64,
    pub count: u64,
}

/// The native-histogram bucket index of `v > 0` for `schema`: bucket `i` holds
/// `(2^((i−1)·2^−schema), 2^(i·2^−schema)]`.
pub fn native_index(v: f64, schema: i32) -> i32 {
    let scale = 2f64.powi(schema);
    let mut i = (v.log2() * scale).ceil() as i32;
    let upper = |i: i32| 2f64.powf(f64::from(i) / scale);
    // log2 rounding can put a value next to a boundary one bucket off: correct it.
    if upper(i) < v {
        i += 1;
    } else if upper(i - 1) >= v {
        i -= 1;
    }
    i
}

impl Native {
    pub fn observe(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
        if v.abs() <= NATIVE_ZERO_THRESHOLD {
            self.zero_count += 1;
        } else if v < 0.0 {
            // Durations are never negative; kept in count/sum only.
            self.negative += 1;
        } else {
            *self.buckets.entry(native_index(v, NATIVE_SCHEMA)).or_insert(0) += 1;
        }
    }

    /// The remote-write sample of this state at `ts_ms` (reset hint "no": it only grows).
    pub fn to_proto(&self, ts_ms: i64) -> Histogram {
        let mut spans: Vec<BucketSpan> = Vec::new();
        let mut deltas = Vec::with_capacity(self.buckets.len());
        let mut prev_idx: Option<i32> = None;
        let mut prev_count: i64 = 0;
        for (&idx, &c) in &self.buckets {
            match prev_idx {
                Some(p) if idx == p + 1 => {
                    if let Some(s) = spans.last_mut() {
                        s.length += 1;
                    }
                }
                Some(p) => spans.push(BucketSpan { offset: idx - p - 1, length: 1 }),
                None => spans.push(BucketSpan { offset: idx, length: 1 }),
            }
            let c = c as i64;
            deltas.push(c - prev_count);
            prev_count = c;
            prev_idx = Some(idx);
        }
        Histogram {
            count_int: self.count - self.negative,
            sum: self.sum,
            schema: NATIVE_SCHEMA,
            zero_threshold: NATIVE_ZERO_THRESHOLD,
            zero_count_int: self.zero_count,
            positive_spans: spans,
            positive_deltas: deltas,
            reset_hint: 2,
            timestamp: ts_ms,
        }
    }
}

/// Prometheus' `histogram_quantile` over classic buckets (promql/quantile.go
/// `bucketQuantile`, 2.42): `buckets` are `(upper bound, cumulative count)` in any order and
/// must include `+Inf`. Finds the first bucket whose cumulative count reaches `q·total` and
/// interpolates linearly inside it (from 0 for the first bucket if its bound is positive).
/// Returns the last finite bound if the rank falls in `+Inf`, NaN with no observations or
/// without a `+Inf` bucket, ∓Inf for `q` outside `[0, 1]`. Counts that decrease with the
/// bound (scrape artefacts) are raised to be monotonic, as Prometheus does.
pub fn bucket_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut b: Vec<(f64, f64)> = buckets.to_vec();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Coalesce equal bounds.
    let mut c: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for (ub, n) in b {
        match c.last_mut() {
            Some(last) if last.0 == ub => last.1 += n,
            _ => c.push((ub, n)),
        }
    }
    if c.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let mut max = f64::NEG_INFINITY;
    for x in &mut c {
        if x.1 < max {
            x.1 = max;
        } else {
            max = x.1;
        }
    }
    if c.len() < 2 {
        return f64::NAN;
    }
    let total = c[c.len() - 1].1;
    if total == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * total;
    let i = c[..c.len() - 1].partition_point(|x| x.1 < rank);
    if i == c.len() - 1 {
        return c[c.len() - 2].0;
    }
    if i == 0 && c[0].0 <= 0.0 {
        return c[0].0;
    }
    let end = c[i].0;
    let mut count = c[i].1;
    let mut start = 0.0;
    if i > 0 {
        start = c[i - 1].0;
        count -= c[i - 1].1;
        rank -= c[i - 1].1;
    }
    start + (end - start) * (rank / count)
}
