//! Error-budget arithmetic over event counts (Google SRE workbook, ch. 5 "Alerting on
//! SLOs" and ch. 2 "Implementing SLOs"): good/total events, the allowed error ratio
//! `1 - objective`, allowed errors, budget burned and remaining, burn rate. Plus the
//! bucketed forms the stores deliver: a rolling window evaluated at an instant, a
//! calendar month, and the increase of a cumulative counter with resets.
//!
//! SLIs are **event-weighted**: `bad / total` over every event in the period, never an
//! average of per-interval ratios; an interval with no events contributes nothing
//! (case 07). Objectives are decimal numbers, and `1 - 0.99` is `0.010000000000000009`
//! in `f64`, so the complement is taken in decimal ([`decimal_complement`]).

use serde::Serialize;

use crate::AnalyzeError;

/// Splits a finite `x >= 0` into `(m, s)` with `x == m / 10^s` exactly as its shortest
/// round-trip decimal form reads (`0.999` → `(999, 3)`). `None` when the digits do not
/// fit in `u128`.
fn decimal_parts(x: f64) -> Option<(u128, u32)> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    // Display for f64 prints the shortest decimal that round-trips, without exponent.
    let s = format!("{x}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let scale = u32::try_from(frac.len()).ok()?;
    let digits = format!("{int}{frac}");
    let m: u128 = digits.parse().ok()?;
    if scale > 38 {
        return None;
    }
    Some((m, scale))
}

fn from_parts(m: u128, s: u32) -> f64 {
    // Parsing a decimal string is correctly rounded, unlike m as f64 / 10^s for big s.
    format!("{m}e-{s}").parse().unwrap_or(f64::NAN)
}

/// `1 - x` computed on `x`'s decimal digits, so `decimal_complement(0.99) == 0.01`
/// (plain `1.0 - 0.99` is `0.010000000000000009`). For `x` outside `[0, 1]` or with
/// more than 38 significant decimals it falls back to `1.0 - x`.
pub fn decimal_complement(x: f64) -> f64 {
    if (0.0..=1.0).contains(&x) {
        if let Some((m, s)) = decimal_parts(x) {
            if let Some(p) = 10u128.checked_pow(s) {
                if m <= p {
                    return from_parts(p - m, s);
                }
            }
        }
    }
    1.0 - x
}

/// A percentage as a ratio, shifting the decimal point instead of dividing:
/// `ratio_from_percent(99.9) == 0.999` (while `99.9 / 100.0` is `0.9990000000000001`).
/// Non-finite or negative input falls back to `p / 100.0`.
pub fn ratio_from_percent(p: f64) -> f64 {
    match decimal_parts(p) {
        Some((m, s)) if s <= 36 => from_parts(m, s + 2),
        _ => p / 100.0,
    }
}

/// The error budget of one period: event counts and what they mean against an
/// objective. Ratios are in `[0, 1]`; "budget" values are fractions of the allowed
/// errors (1 = the whole budget).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBudget {
    /// All events (e.g. `http_req_failed` points).
    pub total: u64,
    /// Good events (`total - bad`).
    pub good: u64,
    /// Bad events (for `http_req_failed`: points with a non-zero value).
    pub bad: u64,
    /// `good / total`: the SLI.
    pub good_ratio: f64,
    /// `bad / total`.
    pub error_ratio: f64,
    /// The objective as a good-event ratio (e.g. 0.999).
    pub objective: f64,
    /// Allowed error ratio `1 - objective`, computed in decimal (0.999 → 0.001).
    pub budget_ratio: f64,
    /// Allowed bad events in this period: `budget_ratio * total`.
    pub allowed_errors: f64,
    /// Share of the budget spent: `bad / allowed_errors` (1 = all of it; above 1 =
    /// overspent). With a zero budget: 0 when `bad == 0`, else infinity (JSON `null`).
    pub budget_burned: f64,
    /// `1 - budget_burned`; negative when overspent.
    pub budget_remaining: f64,
    /// `error_ratio / budget_ratio` (SRE workbook ch. 5): 1 spends exactly the budget
    /// over the SLO window. Over the period's own events this equals `budget_burned`.
    pub burn_rate: f64,
    /// Whether `bad <= allowed_errors` (relative tolerance 1e-12 for the float product).
    pub within_budget: bool,
}

impl ErrorBudget {
    /// The budget of `total` events of which `bad` were bad, against `objective` (a
    /// good-event ratio in `(0, 1]`, e.g. 0.999). `None` when `total == 0`: a period
    /// without events has no SLI (never 0 %, never NaN).
    ///
    /// `bad` larger than `total` is clamped to `total`.
    pub fn from_counts(total: u64, bad: u64, objective: f64) -> Option<ErrorBudget> {
        Self::with_budget_ratio(total, bad, objective, decimal_complement(objective))
    }

    /// Like [`ErrorBudget::from_counts`] with the allowed error ratio given directly
    /// (an error-rate SLO "error rate ≤ 0.1 %" has `budget_ratio = 0.001`).
    pub fn with_budget_ratio(total: u64, bad: u64, objective: f64, budget_ratio: f64) -> Option<ErrorBudget> {
        if total == 0 {
            return None;
        }
        let bad = bad.min(total);
        let good = total - bad;
        let t = total as f64;
        let b = bad as f64;
        let error_ratio = b / t;
        let allowed = budget_ratio * t;
        let (burned, burn_rate) = if budget_ratio > 0.0 {
            (b / allowed, error_ratio / budget_ratio)
        } else if bad == 0 {
            (0.0, 0.0)
        } else {
            (f64::INFINITY, f64::INFINITY)
        };
        Some(ErrorBudget {
            total,
            good,
            bad,
            good_ratio: good as f64 / t,
            error_ratio,
            objective,
            budget_ratio,
            allowed_errors: allowed,
            budget_burned: burned,
            budget_remaining: 1.0 - burned,
            burn_rate,
            within_budget: b <= allowed * (1.0 + 1e-12),
        })
    }
}

/// Event counts of one time bucket `[start_ns, end_ns)` (ns since the Unix epoch, UTC),
/// as a store's pre-aggregation or a CSV of daily totals delivers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CountBucket {
    /// Bucket start, inclusive.
    pub start_ns: i64,
    /// Bucket end, exclusive.
    pub end_ns: i64,
    /// Events in the bucket.
    pub total: u64,
    /// Bad events in the bucket.
    pub errors: u64,
}

/// The error budget over one period `[from_ns, to_ns)` built from buckets, with how much
/// of the period the data covers. Missing time is reported, never padded with perfect
/// (or empty) buckets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodBudget {
    /// Period start, ns since the epoch, inclusive.
    pub from_ns: i64,
    /// Period end (evaluation instant), ns since the epoch, exclusive.
    pub to_ns: i64,
    /// Length of the full period in seconds (for a calendar month, the whole month even
    /// when evaluated part-way).
    pub period_s: f64,
    /// Buckets that lie entirely inside the evaluated part of the period.
    pub buckets: usize,
    /// Seconds of the period covered by those buckets.
    pub covered_s: f64,
    /// `covered_s / period_s`, in `[0, 1]`.
    pub coverage: f64,
    /// `coverage < 1`: the period is only partly covered by data.
    pub partial: bool,
    /// The budget over the covered events; `None` when they hold no events.
    pub budget: Option<ErrorBudget>,
}

fn period_budget(buckets: &[CountBucket], from_ns: i64, to_ns: i64, period_ns: i64, objective: f64) -> PeriodBudget {
    let (mut n, mut covered, mut total, mut errors) = (0usize, 0i128, 0u64, 0u64);
    for b in buckets {
        if b.start_ns >= from_ns && b.end_ns <= to_ns && b.end_ns > b.start_ns {
            n += 1;
            covered += (b.end_ns - b.start_ns) as i128;
            total += b.total;
            errors += b.errors;
        }
    }
    let period_s = period_ns as f64 / 1e9;
    let covered_s = covered as f64 / 1e9;
    let coverage = if period_ns > 0 { (covered as f64 / period_ns as f64).min(1.0) } else { 0.0 };
    PeriodBudget {
        from_ns,
        to_ns,
        period_s,
        buckets: n,
        covered_s,
        coverage,
        partial: coverage < 1.0,
        budget: ErrorBudget::from_counts(total, errors, objective),
    }
}

/// The budget of a rolling window of length `window` ending at `end_ns` (exclusive),
/// i.e. over `[end_ns - window, end_ns)`. A bucket counts when it lies entirely inside
/// (both edges inclusive of the window's own edges), so a 28-day window evaluated at
/// the end of 2024-06-06 (`end_ns` = 2024-06-07T00:00Z) holds the days 2024-05-10 to
/// 2024-06-06, both included. Fewer buckets than the window holds make it partial.
pub fn rolling_budget(buckets: &[CountBucket], window: std::time::Duration, end_ns: i64, objective: f64) -> PeriodBudget {
    let w = i64::try_from(window.as_nanos()).unwrap_or(i64::MAX);
    period_budget(buckets, end_ns.saturating_sub(w), end_ns, w, objective)
}

/// The budget of calendar month `year-month` (UTC), evaluated through `through_ns`
/// (exclusive; `None` = the whole month). Coverage is relative to the whole month, so
/// a month evaluated on its 29th day out of 30 is partial.
///
/// # Errors
/// [`AnalyzeError::InvalidMonth`] when `month` is not 1..=12 or the year is out of range.
pub fn calendar_month_budget(
    buckets: &[CountBucket],
    year: i32,
    month: u32,
    through_ns: Option<i64>,
    objective: f64,
) -> Result<PeriodBudget, AnalyzeError> {
    use chrono::NaiveDate;
    let bad = || AnalyzeError::InvalidMonth { year, month };
    let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) }.ok_or_else(bad)?;
    let ns = |d: NaiveDate| d.and_hms_opt(0, 0, 0).and_then(|t| t.and_utc().timestamp_nanos_opt()).ok_or_else(bad);
    let from = ns(first)?;
    let month_end = ns(next)?;
    let to = through_ns.map_or(month_end, |t| t.clamp(from, month_end));
    let mut p = period_budget(buckets, from, to, month_end - from, objective);
    p.to_ns = to;
    Ok(p)
}

/// The increase of a cumulative counter over its samples in time order, with reset
/// handling as Prometheus `increase()` does it but without extrapolation: each rise adds
/// the difference, each drop is a restart from zero and adds the new value.
/// `0, 100, 250, 40, 90, 90, 10, 35` → 375 (last minus first would be 35).
pub fn counter_increase(samples: &[f64]) -> f64 {
    let mut inc = 0.0;
    for w in samples.windows(2) {
        let (a, b) = (w[0], w[1]);
        inc += if b >= a { b - a } else { b };
    }
    inc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_complement_is_exact() {
        assert_eq!(1.0 - 0.99, 0.010000000000000009);
        assert_eq!(decimal_complement(0.99), 0.01);
        assert_eq!(decimal_complement(0.999), 0.001);
        assert_eq!(decimal_complement(0.9995), 0.0005);
        assert_eq!(decimal_complement(1.0), 0.0);
        assert_eq!(decimal_complement(0.0), 1.0);
        assert_eq!(decimal_complement(0.001), 0.999);
    }

    #[test]
    fn percent_to_ratio_is_exact() {
        assert_ne!(99.9 / 100.0, 0.999);
        assert_eq!(ratio_from_percent(99.9), 0.999);
        assert_eq!(ratio_from_percent(99.0), 0.99);
        assert_eq!(ratio_from_percent(0.1), 0.001);
        assert_eq!(ratio_from_percent(100.0), 1.0);
    }

    #[test]
    fn zero_events_have_no_budget() {
        assert_eq!(ErrorBudget::from_counts(0, 0, 0.99), None);
    }

    #[test]
    fn zero_budget_objective() {
        let b = ErrorBudget::from_counts(10, 0, 1.0).unwrap();
        assert!(b.within_budget);
        assert_eq!(b.budget_burned, 0.0);
        let b = ErrorBudget::from_counts(10, 1, 1.0).unwrap();
        assert!(!b.within_budget);
        assert!(b.budget_burned.is_infinite());
    }

    #[test]
    fn exactly_on_budget_passes() {
        // 0.1% of 1000 = 1 allowed error (hand computation).
        let b = ErrorBudget::from_counts(1000, 1, 0.999).unwrap();
        assert!(b.within_budget);
        assert_eq!(b.allowed_errors, 1.0);
        let b = ErrorBudget::from_counts(1000, 2, 0.999).unwrap();
        assert!(!b.within_budget);
        assert_eq!(b.budget_burned, 2.0);
    }

    #[test]
    fn counter_increase_handles_resets() {
        assert_eq!(counter_increase(&[0.0, 100.0, 250.0, 40.0, 90.0, 90.0, 10.0, 35.0]), 375.0);
        assert_eq!(counter_increase(&[5.0]), 0.0);
        assert_eq!(counter_increase(&[]), 0.0);
    }

    #[test]
    fn invalid_month_is_an_error() {
        assert!(calendar_month_budget(&[], 2024, 13, None, 0.99).is_err());
        assert!(calendar_month_budget(&[], 2024, 0, None, 0.99).is_err());
    }
}
