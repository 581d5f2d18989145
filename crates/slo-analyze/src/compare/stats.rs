//! The distribution-free statistics behind a comparison, each one checked against scipy
//! (`tests/fixtures/compare/make_fixtures.py`):
//!
//! * the standard normal distribution ([`normal_sf`], [`normal_cdf`], [`normal_quantile`]);
//! * the Mann–Whitney U test ([`mann_whitney_u`]) exactly as
//!   `scipy.stats.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided")`
//!   computes it, with scipy's `method="auto"` choice of exact or asymptotic p-value;
//! * the Hodges–Lehmann shift and its Moses interval ([`hodges_lehmann`]), found by
//!   selection among the `n·m` pairwise differences without materialising them;
//! * Wilson and Newcombe intervals for proportions ([`wilson_interval`],
//!   [`newcombe_interval`]);
//! * Holm's step-down adjustment of p-values ([`holm_adjust`]).
//!
//! Everything here is deterministic and allocation-light: O(n log n) for the sort done
//! once by [`SortedSample::new`], O(n + m) per pass afterwards.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Values sorted ascending, all finite: the input of every rank statistic here.
///
/// Invariant: every value is finite and the values are in ascending order
/// ([`f64::total_cmp`]). [`SortedSample::new`] establishes it and is the only
/// constructor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SortedSample {
    values: Vec<f64>,
}

impl SortedSample {
    /// Sorts `values` ascending. Returns the index (in the given order) of the first
    /// non-finite value as the error: NaN or ±∞ have no rank.
    pub fn new(mut values: Vec<f64>) -> Result<SortedSample, usize> {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(i);
        }
        values.sort_unstable_by(f64::total_cmp);
        // -0.0 and 0.0 compare equal everywhere below; make them one value so the
        // sort order agrees with `<`.
        for v in values.iter_mut() {
            if *v == 0.0 {
                *v = 0.0;
            }
        }
        Ok(SortedSample { values })
    }

    /// The values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

// ---------------------------------------------------------------------------------------
// Normal distribution
// ---------------------------------------------------------------------------------------

/// `erfc(x)` for `x >= 0`.
///
/// Below 2 it is `1 - erf(x)` with the all-positive series
/// `erf(x) = 2/√π · e^{-x²} · Σ_{k≥0} 2^k x^{2k+1} / (1·3·…·(2k+1))`
/// (Abramowitz & Stegun 7.1.6); from 2 on the continued fraction
/// `erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))` (A&S 7.1.14)
/// evaluated by the modified Lentz method. Relative error about 1e-14 over the range
/// (checked against scipy's `ndtr` in the fixtures).
fn erfc_nonneg(x: f64) -> f64 {
    debug_assert!(x >= 0.0);
    if x < 2.0 {
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        let mut k = 0.0;
        loop {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
        }
        1.0 - 2.0 / PI.sqrt() * (-x2).exp() * sum
    } else if x > 27.3 {
        // e^{-x²} underflows below the smallest subnormal.
        0.0
    } else {
        // g = x + a1/(x + a2/(x + …)), a_k = k/2; modified Lentz (Numerical Recipes §5.2).
        const TINY: f64 = 1e-300;
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        for k in 1..10_000 {
            let a = k as f64 / 2.0;
            d = x + a * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = x + a / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x * x).exp() / PI.sqrt() / f
    }
}

/// Upper tail `P(Z > z)` of the standard normal distribution (scipy `norm.sf`,
/// `special.ndtr(-z)`). `+∞ → 0`, `-∞ → 1`, NaN → NaN.
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    if z >= 0.0 {
        0.5 * erfc_nonneg(z * FRAC_1_SQRT_2)
    } else {
        1.0 - 0.5 * erfc_nonneg(-z * FRAC_1_SQRT_2)
    }
}

/// `P(Z <= z)` of the standard normal distribution (scipy `norm.cdf`).
pub fn normal_cdf(z: f64) -> f64 {
    normal_sf(-z)
}

/// The standard normal quantile `Φ⁻¹(p)` for `p` in `(0, 1)`; `0 → -∞`, `1 → +∞`,
/// outside `[0, 1]` or NaN → NaN.
///
/// P. J. Acklam's rational approximation (relative error < 1.2e-9) followed by one
/// Halley step on [`normal_cdf`], which brings it to about machine precision.
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    const P_LOW: f64 = 0.02425;
    let x = if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step (Acklam's refinement); the error term uses whichever tail is
    // accurate at x.
    let e = if x < 0.0 { normal_cdf(x) - p } else { (1.0 - p) - normal_sf(x) };
    let u = e * (2.0 * PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// `z_{α/2}`: the upper `alpha / 2` point of the standard normal (1.959963984540054 for
/// `alpha = 0.05`).
pub fn two_sided_z(alpha: f64) -> f64 {
    -normal_quantile(alpha / 2.0)
}

// ---------------------------------------------------------------------------------------
// Mann–Whitney U
// ---------------------------------------------------------------------------------------

/// How the Mann–Whitney p-value is computed (scipy's `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MwMethod {
    /// scipy's `"auto"`: exact when one sample has at most 8 values and there are no
    /// ties, else asymptotic.
    Auto,
    /// The exact null distribution of U (no ties allowed; falls back to asymptotic with
    /// ties or past [`EXACT_MAX_CELLS`] / counts beyond 2^126).
    Exact,
    /// Normal approximation with tie and continuity corrections.
    Asymptotic,
}

/// Largest `n·m` for which the exact null distribution of U is tabulated (its table has
/// `n·m + 1` entries of 16 bytes and costs `min(n, m)·n·m` additions).
pub const EXACT_MAX_CELLS: usize = 1_000_000;

/// Result of [`mann_whitney_u`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MannWhitney {
    /// U of the first sample `x`: `#{(i, j): x_i > y_j} + ½·#{x_i = y_j}` (scipy's
    /// returned `statistic`). Ranges over `[0, n_x·n_y]`.
    pub u: f64,
    /// Two-sided p-value in `[0, 1]`.
    pub p_value: f64,
    /// Standardised statistic `(max(U, nm − U) − nm/2 − ½) / σ` of the asymptotic
    /// method; `None` for the exact method. May be ±∞ when every value ties.
    pub z: Option<f64>,
    /// The method actually used (never `Auto`).
    pub method: MwMethod,
    /// Whether any value occurs more than once in the pooled sample.
    pub ties: bool,
    /// `Σ (t³ − t)` over the tie groups of the pooled sample.
    pub tie_term: f64,
}

/// Walks both sorted samples in order; returns `(2·U_x, Σ(t³ − t), any ties)`, all exact.
fn u_and_ties(x: &[f64], y: &[f64]) -> (u128, u128, bool) {
    let (mut i, mut j) = (0usize, 0usize);
    let mut two_u: u128 = 0;
    let mut tie_term: u128 = 0;
    let mut ties = false;
    while i < x.len() || j < y.len() {
        let v = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => unreachable!(),
        };
        let i0 = i;
        while i < x.len() && x[i] == v {
            i += 1;
        }
        let j0 = j;
        while j < y.len() && y[j] == v {
            j += 1;
        }
        let (cx, cy) = ((i - i0) as u128, (j - j0) as u128);
        // Each of the cx values beats the j0 smaller y's and ties with cy of them.
        two_u += cx * (2 * j0 as u128 + cy);
        let t = cx + cy;
        if t > 1 {
            ties = true;
            tie_term += t * t * t - t;
        }
    }
    (two_u, tie_term, ties)
}

/// The exact null distribution of U for sample sizes `m` and `n` (no ties): entry `u`
/// is the number of the `C(m+n, m)` equally likely arrangements with `U = u`.
///
/// The counts are the coefficients of the Gaussian binomial coefficient
/// `[m+n choose m]_q = Π_{i=1..m} (1 − q^{n+i}) / (1 − q^i)` (Andrews, *The Theory of
/// Partitions*, Thm 3.1; the generating function of U since Mann & Whitney 1947), built
/// one factor at a time in exact `i128` arithmetic. `None` when `m·n` exceeds
/// [`EXACT_MAX_CELLS`] or `C(m+n, m)` exceeds 2^126.
pub fn mann_whitney_null_counts(m: usize, n: usize) -> Option<Vec<i128>> {
    let (m, n) = (m.min(n), m.max(n));
    let cells = m.checked_mul(n)?;
    if cells > EXACT_MAX_CELLS {
        return None;
    }
    // C(m+n, m) built as Π (n+i)/i, exact at each step.
    let mut total: u128 = 1;
    for i in 1..=m as u128 {
        total = total.checked_mul(n as u128 + i)? / i;
        if total > 1u128 << 126 {
            return None;
        }
    }
    let mut c = vec![0i128; cells + 1];
    c[0] = 1;
    for i in 1..=m {
        let a = n + i;
        let deg = i * n; // degree after this factor
                         // × (1 − q^a): descending so c[k − a] is still the old coefficient.
        for k in (a..=deg.min(cells)).rev() {
            c[k] -= c[k - a];
        }
        // ÷ (1 − q^i): c[k] += c[k − i], ascending.
        for k in i..=deg {
            c[k] += c[k - i];
        }
    }
    Some(c)
}

/// The two-sided Mann–Whitney U test of `x` against `y`, as
/// `scipy.stats.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided", method=…)`.
///
/// With `U = max(U_x, n_x·n_y − U_x)`:
/// * exact: `p = 2·P(U' >= U)` under the null distribution
///   ([`mann_whitney_null_counts`]), clipped to 1;
/// * asymptotic: `z = (U − n_x n_y/2 − ½) / σ`,
///   `σ = √(n_x n_y/12 · ((N+1) − Σ(t³−t)/(N(N−1))))`, `p = 2·P(Z > z)` clipped to 1
///   (scipy `_get_mwu_z`; Σ(t³−t) over the tie groups of the pooled sample).
///
/// `None` when either sample is empty (scipy returns NaN).
pub fn mann_whitney_u(x: &SortedSample, y: &SortedSample, method: MwMethod) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (two_u, tie_term, ties) = u_and_ties(x.values(), y.values());
    let nm = n1 as u128 * n2 as u128;
    let u = two_u as f64 / 2.0;
    let two_u_max = two_u.max(2 * nm - two_u);
    let want_exact = match method {
        MwMethod::Auto => (n1 <= 8 || n2 <= 8) && !ties,
        MwMethod::Exact => !ties,
        MwMethod::Asymptotic => false,
    };
    if want_exact {
        if let Some(counts) = mann_whitney_null_counts(n1, n2) {
            // No ties: U is an integer. P(U' >= u) = P(U' <= nm − u) by symmetry.
            let k = (nm - two_u_max / 2) as usize;
            let tail: i128 = counts[..=k].iter().sum();
            let total: i128 = counts.iter().sum();
            let p = (2.0 * (tail as f64 / total as f64)).min(1.0);
            return Some(MannWhitney { u, p_value: p, z: None, method: MwMethod::Exact, ties, tie_term: tie_term as f64 });
        }
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let n = n1f + n2f;
    let tie = tie_term as f64;
    let s = (n1f * n2f / 12.0 * ((n + 1.0) - tie / (n * (n - 1.0)))).sqrt();
    let numerator = two_u_max as f64 / 2.0 - n1f * n2f / 2.0 - 0.5;
    let z = numerator / s; // s = 0 only when every value ties: z = -∞, p = 1
    let p = (2.0 * normal_sf(z)).clamp(0.0, 1.0);
    Some(MannWhitney { u, p_value: p, z: Some(z), method: MwMethod::Asymptotic, ties, tie_term: tie })
}

// ---------------------------------------------------------------------------------------
// Hodges–Lehmann shift and Moses interval
// ---------------------------------------------------------------------------------------

/// Maps an f64 to a u64 whose unsigned order is the float order (for finite values and
/// infinities; `-0.0` sorts just below `0.0`).
fn key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn unkey(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// The `n·m` differences `y_j − x_i` of two sorted samples, never materialised: counts
/// and order statistics come from merge-like passes over the two samples.
struct PairDiffs<'a> {
    /// `x` ascending plus a `+∞` sentinel: `y − ∞ = −∞` never exceeds a bound, which
    /// stops the pointer without a bounds branch.
    x: Vec<f64>,
    y: &'a [f64],
}

impl<'a> PairDiffs<'a> {
    fn new(x: &SortedSample, y: &'a SortedSample) -> PairDiffs<'a> {
        let mut xs = Vec::with_capacity(x.len() + 1);
        xs.extend_from_slice(x.values());
        xs.push(f64::INFINITY);
        PairDiffs { x: xs, y: y.values() }
    }

    fn n(&self) -> usize {
        self.x.len() - 1
    }

    fn total(&self) -> u64 {
        self.n() as u64 * self.y.len() as u64
    }

    /// `#{(i, j): fl(y_j − x_i) <= d}` in one merge of n + m steps. For fixed `j` the
    /// qualifying `i` form a suffix of the ascending `x` (rounded subtraction is
    /// monotone), whose start only moves right as `y_j` grows. The step is branch-free:
    /// either the pointer into `x` advances or row `j` is counted and closed.
    fn count_le(&self, d: f64) -> u64 {
        let (x, y, n) = (&self.x[..], self.y, self.n());
        let (mut p, mut j, mut count) = (0usize, 0usize, 0u64);
        while j < y.len() {
            let above = (y[j] - x[p] > d) as usize;
            p += above;
            count += ((1 - above) * (n - p)) as u64;
            j += 1 - above;
        }
        count
    }

    /// For each row `j`, the first `i` with `fl(y_j − x_i) <= d` (n when none).
    fn row_starts(&self, d: f64, out: &mut Vec<usize>) {
        out.clear();
        let mut p = 0usize;
        for &yj in self.y {
            while yj - self.x[p] > d {
                p += 1;
            }
            out.push(p);
        }
    }

    /// The smallest difference strictly above `v` (`None` when `v` is the largest).
    fn next_above(&self, v: f64) -> Option<f64> {
        let mut starts = Vec::with_capacity(self.y.len());
        self.row_starts(v, &mut starts);
        // In row j the differences above v are at i < start; the smallest is at start − 1.
        starts.iter().zip(self.y).filter(|(&p, _)| p > 0).map(|(&p, &yj)| yj - self.x[p - 1]).min_by(f64::total_cmp)
    }

    /// The `k`-th smallest difference (1-based). Bisection over f64 bit patterns keeps
    /// `count(lo) < k <= count(hi)`; once fewer than `max(4(n + m), 4096)` differences lie
    /// in `(lo, hi]` they are listed and the answer selected among them, which usually
    /// ends the search after 20–30 counting passes instead of 64.
    fn kth(&self, k: u64) -> f64 {
        let (n, m) = (self.n(), self.y.len());
        let mut lo = key(self.y[0] - self.x[n - 1]) - 1;
        let mut hi = key(self.y[m - 1] - self.x[0]);
        let (mut c_lo, mut c_hi) = (0u64, self.total());
        let limit = (4 * (n + m)).max(4096) as u64;
        let mut step = 0u32;
        while hi - lo > 1 {
            if c_hi - c_lo <= limit {
                return self.select_between(unkey(lo), unkey(hi), (k - c_lo - 1) as usize);
            }
            // Safeguarded interpolation: every other probe goes where the counts say the
            // k-th difference lies if they grew linearly between the bracket's ends (the
            // differences' distribution is smooth, so this lands close), the others halve
            // the bracket, so no more passes than bisection's twice are ever needed.
            step += 1;
            let bisect = lo + (hi - lo) / 2;
            let mid = if step % 2 == 1 {
                let (vlo, vhi) = (unkey(lo), unkey(hi));
                let f = (k - c_lo) as f64 / (c_hi - c_lo) as f64;
                let g = vlo + (vhi - vlo) * f;
                if g.is_finite() {
                    key(g).clamp(lo + 1, hi - 1)
                } else {
                    bisect
                }
            } else {
                bisect
            };
            let c = self.count_le(unkey(mid));
            if c >= k {
                hi = mid;
                c_hi = c;
            } else {
                lo = mid;
                c_lo = c;
            }
        }
        // -0.0 and 0.0 count alike; report the difference as subtraction produces it.
        unkey(hi) + 0.0
    }

    /// The `rank`-th smallest (0-based) of the differences in `(a, b]`.
    fn select_between(&self, a: f64, b: f64, rank: usize) -> f64 {
        let (mut from, mut to) = (Vec::new(), Vec::new());
        self.row_starts(b, &mut from);
        self.row_starts(a, &mut to);
        let mut vals: Vec<f64> = Vec::new();
        for (j, &yj) in self.y.iter().enumerate() {
            vals.extend(self.x[from[j]..to[j]].iter().map(|&xi| yj - xi));
        }
        let (_, v, _) = vals.select_nth_unstable_by(rank, f64::total_cmp);
        *v + 0.0
    }
}

/// The `k`-th smallest (1-based) of the `n·m` differences `y_j − x_i`, computed in f64
/// exactly as `numpy.subtract.outer(y, x)` would, without materialising them.
///
/// Bisection over the bit patterns of f64 between the smallest and the largest
/// difference, each step counting the differences below the midpoint in one merge pass
/// (O(n + m)), until few enough remain to list and select: O((n + m)·log) time with at
/// most 64 passes, O(n + m) memory. The result is the exact order statistic, not an
/// approximation.
///
/// # Panics
/// When `k` is 0 or exceeds `n·m` (a programming error; callers derive `k` from the
/// sizes).
pub fn kth_difference(x: &SortedSample, y: &SortedSample, k: u64) -> f64 {
    let d = PairDiffs::new(x, y);
    assert!(k >= 1 && k <= d.total(), "k = {k} outside 1..={}", d.total());
    d.kth(k)
}

/// How the Moses interval's critical value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticalValue {
    /// From the exact null distribution of U.
    Exact,
    /// From the normal approximation with continuity correction.
    Normal,
}

/// Hodges–Lehmann shift of `y` relative to `x` and its Moses confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct HodgesLehmann {
    /// Median of the `n·m` differences `y_j − x_i` (mean of the two middle ones when
    /// `n·m` is even); units of the data.
    pub estimate: f64,
    /// Lower end `D_(C)` of the interval (1-based order statistic of the sorted
    /// differences); `None` when the samples are too small for the level.
    pub lower: Option<f64>,
    /// Upper end `D_(nm + 1 − C)`.
    pub upper: Option<f64>,
    /// The critical value `C` (see [`moses_critical_value`]); 0 when none exists.
    pub c: u64,
    /// Whether `C` came from the exact distribution or the normal approximation.
    pub critical: CriticalValue,
    /// The confidence the interval actually has under the null distribution used:
    /// `1 − 2·P(U <= C − 1)` (≥ the nominal `1 − α`, exact only for the exact method).
    pub achieved_level: f64,
}

/// The Moses critical value `C` for a two-sided `1 − alpha` interval with sample sizes
/// `n` and `m`: the largest integer `C >= 1` with `P(U <= C − 1) <= alpha/2`, or 0 when
/// even `P(U = 0)` exceeds `alpha/2`.
///
/// Source: Hollander, Wolfe & Chicken, *Nonparametric Statistical Methods* (3rd ed.,
/// 2014), §4.3 (the interval `[D_(C), D_(nm+1−C)]` for the shift, after Moses 1965).
/// With `exact`, and when [`mann_whitney_null_counts`] can tabulate it, the exact null
/// distribution of U is used; otherwise the normal approximation with continuity
/// correction `P(U <= c) ≈ Φ((c + ½ − nm/2)/σ₀)`, `σ₀ = √(nm(n+m+1)/12)` (no tie
/// correction, as in the book), which gives `C = ⌊nm/2 + ½ − z_{α/2}·σ₀⌋`: the book's
/// `nm/2 − z_{α/2}σ₀` rounded to the nearest integer. Returns `(C, source, achieved
/// level)`.
pub fn moses_critical_value(n: usize, m: usize, alpha: f64, exact: bool) -> (u64, CriticalValue, f64) {
    let nm = n as f64 * m as f64;
    if exact {
        if let Some(counts) = mann_whitney_null_counts(n, m) {
            let total: i128 = counts.iter().sum();
            let total_f = total as f64;
            let mut cum: i128 = 0;
            let mut c = 0u64;
            let mut level = 0.0;
            for &f in counts.iter().take(counts.len() / 2 + 1) {
                cum += f;
                let p = cum as f64 / total_f;
                if p > alpha / 2.0 {
                    break;
                }
                c += 1;
                level = 1.0 - 2.0 * p;
            }
            return (c, CriticalValue::Exact, if c == 0 { 0.0 } else { level });
        }
    }
    let sigma = (nm * (n as f64 + m as f64 + 1.0) / 12.0).sqrt();
    let z = two_sided_z(alpha);
    let c = (nm / 2.0 + 0.5 - z * sigma).floor();
    if c < 1.0 {
        return (0, CriticalValue::Normal, 0.0);
    }
    let level = 1.0 - 2.0 * normal_cdf((c - 1.0 + 0.5 - nm / 2.0) / sigma);
    (c as u64, CriticalValue::Normal, level)
}

/// The Hodges–Lehmann estimate of the shift of `y` relative to `x` (`y − x`: positive
/// when `y` is larger) with its distribution-free `1 − alpha` Moses interval
/// `[D_(C), D_(nm+1−C)]` ([`moses_critical_value`]; exact critical value when `exact`
/// is set, which callers set when the test itself was exact, i.e. no ties and a small
/// sample). Order statistics come from the selection of [`kth_difference`]: a few dozen
/// O(n + m) passes for each of the three order statistics. `None` when either sample is empty.
pub fn hodges_lehmann(x: &SortedSample, y: &SortedSample, alpha: f64, exact: bool) -> Option<HodgesLehmann> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let d = PairDiffs::new(x, y);
    let nm = d.total();
    let estimate = if nm % 2 == 1 {
        d.kth(nm.div_ceil(2))
    } else {
        // The (nm/2 + 1)-th is the nm/2-th again when it repeats, else the next value up.
        let a = d.kth(nm / 2);
        let b = if d.count_le(a) > nm / 2 { a } else { d.next_above(a).unwrap_or(a) };
        (a + b) / 2.0
    };
    let (c, critical, achieved_level) = moses_critical_value(x.len(), y.len(), alpha, exact);
    let (lower, upper) = if c >= 1 && c <= nm + 1 - c { (Some(d.kth(c)), Some(d.kth(nm + 1 - c))) } else { (None, None) };
    Some(HodgesLehmann { estimate, lower, upper, c, critical, achieved_level })
}

// ---------------------------------------------------------------------------------------
// Proportions
// ---------------------------------------------------------------------------------------

/// Wilson score interval (no continuity correction) for `successes` of `trials` at
/// level `1 − alpha`: `(p̂ + z²/2n ± z√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)` (Wilson 1927;
/// Newcombe 1998 method 3). `None` with no trials. Ends are clamped to `[0, 1]`.
pub fn wilson_interval(successes: u64, trials: u64, alpha: f64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials {
        return None;
    }
    let z = two_sided_z(alpha);
    let (x, n) = (successes as f64, trials as f64);
    let z2 = z * z;
    let center = (x + z2 / 2.0) / (n + z2);
    let half = z * (x * (n - x) / n + z2 / 4.0).sqrt() / (n + z2);
    let lo = if successes == 0 { 0.0 } else { (center - half).max(0.0) };
    let hi = if successes == trials { 1.0 } else { (center + half).min(1.0) };
    Some((lo, hi))
}

/// Newcombe's hybrid score interval for `p₁ − p₂` (Newcombe 1998, *Statistics in
/// Medicine* 17:873–890, method 10), from the Wilson intervals `(l₁, u₁)`, `(l₂, u₂)`:
/// `[D − √((p₁−l₁)² + (u₂−p₂)²), D + √((u₁−p₁)² + (p₂−l₂)²)]`, `D = p₁ − p₂`.
/// `None` when either side has no trials.
pub fn newcombe_interval(x1: u64, n1: u64, x2: u64, n2: u64, alpha: f64) -> Option<(f64, f64)> {
    let (l1, u1) = wilson_interval(x1, n1, alpha)?;
    let (l2, u2) = wilson_interval(x2, n2, alpha)?;
    let p1 = x1 as f64 / n1 as f64;
    let p2 = x2 as f64 / n2 as f64;
    let d = p1 - p2;
    let delta = ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let eps = ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    Some((d - delta, d + eps))
}

// ---------------------------------------------------------------------------------------
// Multiple testing
// ---------------------------------------------------------------------------------------

/// Holm's step-down adjustment (Holm 1979) of a family of p-values; `None` entries are
/// not part of the family and stay `None`. With the `m` present p-values sorted
/// ascending `p_(1) <= … <= p_(m)`, `adj_(i) = max_{j<=i} min(1, (m − j + 1)·p_(j))`
/// (as R's `p.adjust(method = "holm")`). Rejecting where `adj < α` controls the
/// family-wise error rate at `α`.
pub fn holm_adjust(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_some()).collect();
    idx.sort_by(|&a, &b| p[a].unwrap_or(0.0).total_cmp(&p[b].unwrap_or(0.0)).then(a.cmp(&b)));
    let m = idx.len();
    let mut out = vec![None; p.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in idx.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[i].unwrap_or(1.0)).min(1.0);
        running = running.max(adj);
        out[i] = Some(running);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> SortedSample {
        SortedSample::new(v.to_vec()).unwrap()
    }

    #[test]
    fn normal_reference_values() {
        // Abramowitz & Stegun table 26.1 / well-known constants.
        assert!((normal_sf(1.959963984540054) / 0.025 - 1.0).abs() < 1e-13);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((two_sided_z(0.05) - 1.959963984540054).abs() < 1e-13);
        assert!((two_sided_z(0.01) - 2.5758293035489004).abs() < 1e-13);
        // P(Z > 5) = 2.866515718791939e-07 (A&S 26.2.* / mpmath).
        assert!((normal_sf(5.0) / 2.866515718791939e-07 - 1.0).abs() < 1e-12);
        assert_eq!(normal_sf(f64::INFINITY), 0.0);
        assert_eq!(normal_sf(f64::NEG_INFINITY), 1.0);
        for p in [1e-12, 1e-5, 0.01, 0.3, 0.5, 0.77, 0.999] {
            let z = normal_quantile(p);
            assert!((normal_cdf(z) / p - 1.0).abs() < 1e-12, "{p}");
        }
    }

    #[test]
    fn u_by_hand() {
        // x = 1 3 5, y = 2 3 4: x beats y: 1→0, 3→1 + ½, 5→3 ⇒ U_x = 4.5; one tie group of 2.
        let r = mann_whitney_u(&s(&[5.0, 1.0, 3.0]), &s(&[4.0, 3.0, 2.0]), MwMethod::Asymptotic).unwrap();
        assert_eq!(r.u, 4.5);
        assert_eq!(r.tie_term, 6.0);
        assert!(r.ties);
    }

    #[test]
    fn null_counts_small() {
        // m = 2, n = 2: arrangements of U = 0..4 are 1 1 2 1 1 (C(4,2) = 6).
        assert_eq!(mann_whitney_null_counts(2, 2).unwrap(), vec![1, 1, 2, 1, 1]);
        // m = 3, n = 3: partitions in a 3×3 box: 1 1 2 3 3 3 3 2 1 1 (sum 20).
        assert_eq!(mann_whitney_null_counts(3, 3).unwrap(), vec![1, 1, 2, 3, 3, 3, 3, 2, 1, 1]);
    }

    #[test]
    fn exact_p_by_hand() {
        // Complete separation with 3 vs 3: P(U >= 9) = 1/20, two-sided 0.1.
        let r = mann_whitney_u(&s(&[4.0, 5.0, 6.0]), &s(&[1.0, 2.0, 3.0]), MwMethod::Auto).unwrap();
        assert_eq!(r.method, MwMethod::Exact);
        assert_eq!(r.u, 9.0);
        assert!((r.p_value - 0.1).abs() < 1e-15);
    }

    #[test]
    fn kth_difference_matches_brute_force() {
        let x = s(&[0.5, 1.0, 1.0, 2.25, 7.0, -3.0]);
        let y = s(&[1.5, 0.0, 9.0, 1.0]);
        let mut all: Vec<f64> = y.values().iter().flat_map(|b| x.values().iter().map(move |a| b - a)).collect();
        all.sort_by(f64::total_cmp);
        for k in 1..=all.len() as u64 {
            assert_eq!(kth_difference(&x, &y, k), all[k as usize - 1] + 0.0, "k = {k}");
        }
    }

    #[test]
    fn selection_past_the_listing_limit_matches_brute_force() {
        // 300 × 200 = 60 000 differences, above the 4096 listing limit: bisection runs.
        // Values on a 0.25 grid so that many differences tie.
        let mut state = 99u64;
        let mut next = |modulus: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % modulus) as f64 * 0.25
        };
        let x = s(&(0..300).map(|_| next(4000)).collect::<Vec<_>>());
        let y = s(&(0..200).map(|_| next(4400)).collect::<Vec<_>>());
        let mut all: Vec<f64> = y.values().iter().flat_map(|b| x.values().iter().map(move |a| b - a)).collect();
        all.sort_by(f64::total_cmp);
        for k in [1u64, 2, 777, 29_999, 30_000, 30_001, 45_123, 59_999, 60_000] {
            assert_eq!(kth_difference(&x, &y, k), all[k as usize - 1] + 0.0, "k = {k}");
        }
        let hl = hodges_lehmann(&x, &y, 0.05, false).unwrap();
        assert_eq!(hl.estimate, (all[29_999] + all[30_000]) / 2.0);
        assert_eq!(hl.lower.unwrap(), all[hl.c as usize - 1]);
        assert_eq!(hl.upper.unwrap(), all[60_000 - hl.c as usize]);
    }

    #[test]
    fn wilson_zero_successes_by_hand() {
        // 0 of 10: upper = z²/(n + z²) = 3.8414588206941254/13.841458820694125.
        let (lo, hi) = wilson_interval(0, 10, 0.05).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 3.8414588206941254 / 13.841458820694125).abs() < 1e-12);
    }

    #[test]
    fn holm_by_hand() {
        // p = 0.01, 0.04, 0.03 (m = 3): sorted 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 → max(0.06, 0.04) = 0.06.
        let adj = holm_adjust(&[Some(0.01), Some(0.04), None, Some(0.03)]);
        assert_eq!(adj[2], None);
        assert!((adj[0].unwrap() - 0.03).abs() < 1e-15);
        assert!((adj[3].unwrap() - 0.06).abs() < 1e-15);
        assert!((adj[1].unwrap() - 0.06).abs() < 1e-15);
    }
}
