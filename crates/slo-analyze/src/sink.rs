//! k6's four metric sinks with k6's exact arithmetic (k6 `metrics/sink.go`, v1.1.0), so
//! every value agrees with k6's end-of-test summary to the last digit.
//!
//! * [`TrendSink`] keeps every value; `sum` is a running `f64` sum in arrival order,
//!   `avg = sum / count`, percentiles interpolate linearly between closest ranks.
//! * [`RateSink`] counts values `!= 0` ("trues") against the total.
//! * [`CounterSink`] sums values, negatives included.
//! * [`GaugeSink`] keeps the last value and the true extremes. k6 starts its gauge `max`
//!   at 0, so an all-negative gauge reports `max = 0` in k6; `slo` reports the true
//!   maximum and exposes k6's value separately ([`GaugeSink::k6_max`]).

use slo_model::MetricType;

/// k6's percentile over values sorted ascending (k6 `TrendSink.P`).
///
/// `pct` is a fraction in `[0, 1]` (`p(95)` is `95.0 / 100.0`). With no values the
/// result is `None` (k6 returns 0; `slo` calls that NO DATA), with one value it is that
/// value, else `i = pct * (n - 1)`, `j = v[floor(i)]`, `k = v[ceil(i)]`,
/// `j + (k - j) * (i - floor(i))`. `pct` outside `[0, 1]` is clamped so the index
/// stays in range (k6 panics there; the config parser rejects such percentiles).
///
/// The slice must already be sorted ascending; this is not checked.
pub fn percentile_sorted(sorted: &[f64], pct: f64) -> Option<f64> {
    match sorted.len() {
        0 => None,
        1 => Some(sorted[0]),
        n => {
            let pct = if pct.is_nan() { 0.0 } else { pct.clamp(0.0, 1.0) };
            let i = pct * (n as f64 - 1.0);
            let lo = i.floor();
            let j = sorted[lo as usize];
            let k = sorted[i.ceil() as usize];
            let f = i - lo;
            Some(j + (k - j) * f)
        }
    }
}

/// A Trend: every value kept (milliseconds for time metrics, bytes for data metrics),
/// exactly, in bounded memory.
///
/// Values are kept in a list until it holds [`TrendSink::COMPACT_AT`] of them; from then
/// on, whenever the list has doubled, it is turned into a count per distinct value if
/// there are at most a third as many distinct values as values. A generator's latencies
/// have nanosecond resolution, so their distinct values are bounded by the range they
/// span, not by the run's length: a long run's trend stops growing. Percentiles over
/// the counts equal those over the sorted list (the same ranks, the same arithmetic).
#[derive(Debug, Clone)]
pub struct TrendSink {
    values: Vec<f64>,
    counted: Option<Box<Counted>>,
    /// List length at which compacting is tried next; 0 once compacted.
    next_check: usize,
    sum: f64,
    min: f64,
    max: f64,
    sorted: bool,
}

impl Default for TrendSink {
    fn default() -> Self {
        TrendSink { values: Vec::new(), counted: None, next_check: Self::COMPACT_AT, sum: 0.0, min: 0.0, max: 0.0, sorted: false }
    }
}

/// Counts per distinct value (by bit pattern), and once sorted, the distinct values in
/// `f64::total_cmp` order with the number of values up to and including each.
#[derive(Debug, Clone, Default)]
struct Counted {
    map: std::collections::HashMap<u64, u64, slo_model::hash::FastBuildHasher>,
    n: u64,
    cumulative: Vec<(f64, u64)>,
}

impl Counted {
    /// The value of rank `r` (0-based) in sorted order; `cumulative` must be current.
    fn at(&self, r: u64) -> f64 {
        let i = self.cumulative.partition_point(|&(_, c)| c <= r);
        self.cumulative[i.min(self.cumulative.len() - 1)].0
    }
}

impl TrendSink {
    /// Values kept as a plain list before compacting is first tried (2^20).
    pub const COMPACT_AT: usize = 1 << 20;

    /// Adds one value (k6 `TrendSink.Add`).
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.sum += v;
        self.sorted = false;
        // The list (`next_check` is 0 once compacted): the hot path.
        if self.values.len() < self.next_check {
            if self.values.is_empty() {
                self.min = v;
                self.max = v;
            } else {
                if v < self.min {
                    self.min = v;
                }
                if v > self.max {
                    self.max = v;
                }
            }
            self.values.push(v);
            if self.values.len() == self.next_check {
                self.try_compact();
            }
            return;
        }
        self.add_counted(v);
    }

    #[cold]
    fn add_counted(&mut self, v: f64) {
        if v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
        if let Some(c) = &mut self.counted {
            *c.map.entry(v.to_bits()).or_insert(0) += 1;
            c.n += 1;
        }
    }

    #[cold]
    fn try_compact(&mut self) {
        let mut map: std::collections::HashMap<u64, u64, slo_model::hash::FastBuildHasher> = Default::default();
        for v in &self.values {
            *map.entry(v.to_bits()).or_insert(0) += 1;
            if map.len() * 3 > self.values.len() {
                // Mostly distinct values: a list is smaller; look again when it doubled.
                self.next_check = self.values.len().saturating_mul(2);
                return;
            }
        }
        self.counted = Some(Box::new(Counted { map, n: self.values.len() as u64, cumulative: Vec::new() }));
        self.values = Vec::new();
        self.next_check = 0;
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.counted.as_ref().map_or(self.values.len() as u64, |c| c.n)
    }

    /// Running sum in arrival order; 0 with no values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `sum / count`, `None` with no values.
    pub fn avg(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum / self.count() as f64)
    }

    /// Smallest value, `None` with no values.
    pub fn min(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.min)
    }

    /// Largest value, `None` with no values.
    pub fn max(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.max)
    }

    /// Whether the values are kept as counts per distinct value (see the type's docs).
    pub fn is_compact(&self) -> bool {
        self.counted.is_some()
    }

    /// Sorts the kept values (once); needed before [`TrendSink::sorted_percentile`].
    pub fn sort(&mut self) {
        if self.sorted {
            return;
        }
        match &mut self.counted {
            // A radix sort: the same total order as `f64::total_cmp`, several times
            // faster than a comparison sort on the 10^5..10^8 values of a long run.
            None => radsort::sort(&mut self.values),
            Some(c) => {
                let mut d: Vec<(f64, u64)> = c.map.iter().map(|(&b, &n)| (f64::from_bits(b), n)).collect();
                d.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                let mut acc = 0;
                for e in &mut d {
                    acc += e.1;
                    e.1 = acc;
                }
                c.cumulative = d;
            }
        }
        self.sorted = true;
    }

    /// k6 percentile ([`percentile_sorted`]'s arithmetic), `pct` a fraction in `[0, 1]`,
    /// of a sink already sorted with [`TrendSink::sort`] (not checked in release builds).
    pub fn sorted_percentile(&self, pct: f64) -> Option<f64> {
        debug_assert!(self.sorted || self.count() < 2, "TrendSink::sort first");
        let Some(c) = &self.counted else { return percentile_sorted(&self.values, pct) };
        match c.n {
            0 => None,
            1 => Some(c.at(0)),
            n => {
                let pct = if pct.is_nan() { 0.0 } else { pct.clamp(0.0, 1.0) };
                let i = pct * (n as f64 - 1.0);
                let lo = i.floor();
                let j = c.at(lo as u64);
                let k = c.at(i.ceil() as u64);
                let f = i - lo;
                Some(j + (k - j) * f)
            }
        }
    }

    /// k6 percentile, `pct` a fraction in `[0, 1]`; see [`percentile_sorted`]. Sorts
    /// first when needed.
    pub fn percentile(&mut self, pct: f64) -> Option<f64> {
        self.sort();
        self.sorted_percentile(pct)
    }

    /// k6 `med`: the percentile at 0.5.
    pub fn med(&mut self) -> Option<f64> {
        self.percentile(0.5)
    }
}

/// A Rate: share of values that are non-zero (k6: any value `!= 0` is true).
#[derive(Debug, Clone, Copy, Default)]
pub struct RateSink {
    /// Values `!= 0` (k6 `passes`).
    pub trues: u64,
    /// All values.
    pub total: u64,
}

impl RateSink {
    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.total += 1;
        if v != 0.0 {
            self.trues += 1;
        }
    }

    /// `trues / total`, `None` with no values.
    pub fn rate(&self) -> Option<f64> {
        (self.total > 0).then(|| self.trues as f64 / self.total as f64)
    }

    /// Values equal to 0 (k6 `fails`).
    pub fn falses(&self) -> u64 {
        self.total - self.trues
    }
}

/// A Counter: the plain sum of its values, negatives included.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterSink {
    /// Sum of the values in arrival order.
    pub sum: f64,
    /// Number of values added.
    pub samples: u64,
}

impl CounterSink {
    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.sum += v;
        self.samples += 1;
    }

    /// `sum / duration_s`: k6's per-second counter rate. `None` when the duration is
    /// not positive or there were no values.
    pub fn rate(&self, duration_s: f64) -> Option<f64> {
        (self.samples > 0 && duration_s > 0.0).then(|| self.sum / duration_s)
    }
}

/// A Gauge: the last value in arrival order and the true extremes.
#[derive(Debug, Clone, Copy, Default)]
pub struct GaugeSink {
    last: f64,
    min: f64,
    max: f64,
    /// Number of values added.
    pub samples: u64,
}

impl GaugeSink {
    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        if self.samples == 0 {
            self.min = v;
            self.max = v;
        } else {
            if v < self.min {
                self.min = v;
            }
            if v > self.max {
                self.max = v;
            }
        }
        self.last = v;
        self.samples += 1;
    }

    /// Last value in arrival order, `None` with no values.
    pub fn value(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.last)
    }

    /// Smallest value.
    pub fn min(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.min)
    }

    /// Largest value (the true one).
    pub fn max(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.max)
    }

    /// What k6 v1.1.0 reports as `max`: its gauge sink starts `max` at 0, so it is
    /// `max(0, true max)` (see case 05, `k6_evidence/negative_gauge.*`).
    pub fn k6_max(&self) -> Option<f64> {
        self.max().map(|m| if m > 0.0 { m } else { 0.0 })
    }
}

/// One sink of any of the four kinds.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Counter sink.
    Counter(CounterSink),
    /// Gauge sink.
    Gauge(GaugeSink),
    /// Rate sink.
    Rate(RateSink),
    /// Trend sink.
    Trend(TrendSink),
}

impl Sink {
    /// An empty sink for a metric type.
    pub fn new(kind: MetricType) -> Self {
        match kind {
            MetricType::Counter => Sink::Counter(CounterSink::default()),
            MetricType::Gauge => Sink::Gauge(GaugeSink::default()),
            MetricType::Rate => Sink::Rate(RateSink::default()),
            MetricType::Trend => Sink::Trend(TrendSink::default()),
        }
    }

    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        match self {
            Sink::Counter(s) => s.add(v),
            Sink::Gauge(s) => s.add(v),
            Sink::Rate(s) => s.add(v),
            Sink::Trend(s) => s.add(v),
        }
    }

    /// Number of values added.
    pub fn samples(&self) -> u64 {
        match self {
            Sink::Counter(s) => s.samples,
            Sink::Gauge(s) => s.samples,
            Sink::Rate(s) => s.total,
            Sink::Trend(s) => s.count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_orders_like_total_cmp() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut v: Vec<f64> = vec![-0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, 1e-300, -1e-300, 5.5, -5.5];
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push(((x % 2_000_000) as f64 - 1_000_000.0) / 7.0);
        }
        let mut t = TrendSink::default();
        for &f in &v {
            t.add(f);
        }
        t.sort();
        v.sort_unstable_by(f64::total_cmp);
        assert_eq!(t.values.iter().map(|f| f.to_bits()).collect::<Vec<_>>(), v.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
    }

    /// A long run of nanosecond-resolution latencies turns into counts per distinct
    /// value, and every statistic stays bit-identical to k6's arithmetic over the sorted
    /// list; mostly distinct values stay a list.
    #[test]
    fn compact_trend_keeps_exact_percentiles() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Tried at 2^20 values (too many distinct yet), compacted at 2^21.
        let n = 2 * TrendSink::COMPACT_AT + 1000;
        let mut t = TrendSink::default();
        let mut all = Vec::with_capacity(n);
        for i in 0..n {
            // 0.2 to 0.7 ms in ns steps (500,000 possible values), a tail, and both zeros.
            let v = match i % 1000 {
                0 => -0.0,
                1 => 0.0,
                2 => 250.0 + (next() % 1000) as f64,
                _ => (200_000 + next() % 500_000) as f64 / 1e6,
            };
            t.add(v);
            all.push(v);
        }
        assert!(t.is_compact());
        assert_eq!(t.count(), n as u64);
        let sum: f64 = all.iter().sum();
        assert_eq!(t.sum().to_bits(), sum.to_bits(), "running sum in arrival order");
        all.sort_unstable_by(f64::total_cmp);
        t.sort();
        for p in [0.0, 0.001, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            let want = percentile_sorted(&all, p).unwrap();
            assert_eq!(t.sorted_percentile(p).unwrap().to_bits(), want.to_bits(), "p = {p}");
        }
        assert_eq!((t.min(), t.max()), (Some(all[0]), Some(all[n - 1])));

        let mut d = TrendSink::default();
        for i in 0..n {
            d.add(i as f64 * 0.37);
        }
        assert!(!d.is_compact(), "distinct values stay a list");
        assert_eq!(d.percentile(0.5), percentile_sorted(&(0..n).map(|i| i as f64 * 0.37).collect::<Vec<_>>(), 0.5));
    }

    #[test]
    fn percentile_matches_hand_computation() {
        // 1..=5: p(90): i = 0.9*4 = 3.6 -> 4 + (5-4)*0.6 = 4.6
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile_sorted(&v, 0.9), Some(4.6));
        assert_eq!(percentile_sorted(&v, 0.5), Some(3.0));
        assert_eq!(percentile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(percentile_sorted(&v, 1.0), Some(5.0));
        assert_eq!(percentile_sorted(&[7.5], 0.3), Some(7.5));
        assert_eq!(percentile_sorted(&[], 0.3), None);
    }

    #[test]
    fn k6_sink_semantics_evidence() {
        // k6_evidence/sink_semantics.js on k6 v1.1.0: tt = -4, 0, 4 -> p(90)=3.2,
        // p(95)=3.5999999999999996, avg 0, med 0.
        let mut t = TrendSink::default();
        for v in [-4.0, 0.0, 4.0] {
            t.add(v);
        }
        assert_eq!(t.percentile(0.90), Some(3.2));
        assert_eq!(t.percentile(95.0 / 100.0), Some(3.5999999999999996));
        assert_eq!(t.avg(), Some(0.0));
        assert_eq!(t.med(), Some(0.0));
        // rr = 0.5, 0, -1, false, true -> passes 3, fails 2, value 0.6
        let mut r = RateSink::default();
        for v in [0.5, 0.0, -1.0, 0.0, 1.0] {
            r.add(v);
        }
        assert_eq!((r.trues, r.falses(), r.rate()), (3, 2, Some(0.6)));
        // cc = 5, -2, 0 -> 3
        let mut c = CounterSink::default();
        for v in [5.0, -2.0, 0.0] {
            c.add(v);
        }
        assert_eq!(c.sum, 3.0);
        // gg = 3, -7, 2 -> value 2, min -7, max 3
        let mut g = GaugeSink::default();
        for v in [3.0, -7.0, 2.0] {
            g.add(v);
        }
        assert_eq!((g.value(), g.min(), g.max()), (Some(2.0), Some(-7.0), Some(3.0)));
    }

    #[test]
    fn negative_gauge_true_max_and_k6_max() {
        // k6_evidence/negative_gauge: -3, -7, -2 -> k6 value -2, min -7, max 0.
        let mut g = GaugeSink::default();
        for v in [-3.0, -7.0, -2.0] {
            g.add(v);
        }
        assert_eq!(g.value(), Some(-2.0));
        assert_eq!(g.min(), Some(-7.0));
        assert_eq!(g.max(), Some(-2.0));
        assert_eq!(g.k6_max(), Some(0.0));
    }

    #[test]
    fn empty_sinks_have_no_values() {
        let mut t = TrendSink::default();
        assert_eq!((t.avg(), t.min(), t.max(), t.med()), (None, None, None, None));
        assert_eq!(RateSink::default().rate(), None);
        assert_eq!(CounterSink::default().rate(10.0), None);
        assert_eq!(GaugeSink::default().value(), None);
    }
}
