//! The streaming accumulator: [`Analysis::new`] plans which sinks each metric feeds,
//! [`Analysis::push`] routes every point (one hash lookup, no allocation), and
//! [`Analysis::finish`] judges thresholds and SLOs and summarizes every metric.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use slo_config::{Aggregation, MetricKey, MetricThresholds, Op, Threshold};
use slo_model::{builtin_metric, MetricInfo, MetricType, Point, RunMeta, TagLookup, ValueType};

use crate::budget::{decimal_complement, ErrorBudget};
use crate::report::{
    CheckReport, CounterSummary, GaugeSummary, MetricSummary, PointTally, RangeInfo, RateSummary, RunInfo, SloResult, Tally,
    ThresholdResult, TrendSummary, WindowValue, WindowedResult, SCHEMA_VERSION,
};
use crate::sink::Sink;
use crate::slo::{SloKind, SloSpec};
use crate::verdict::{Unit, Verdict};
use crate::window::WindowGrid;
use crate::AnalyzeError;

/// Most windows one threshold or SLO may be cut into (e.g. 30 days of 1 s windows is
/// 2.6 M and refused): each window holds a sink.
pub const MAX_WINDOWS: usize = 1_000_000;

/// The time range judged: `[start_ns, end_ns]`, ns since the Unix epoch, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant judged.
    pub start_ns: i64,
    /// Last instant judged.
    pub end_ns: i64,
}

/// How to judge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// Downgrade NO DATA from a failure to a warning (`--allow-no-data`).
    pub allow_no_data: bool,
    /// Also judge every threshold per tumbling window of this length (DESIGN.md:
    /// `p(95)<500` per 1m window, worst window named). `None`: whole range only.
    pub threshold_window: Option<Duration>,
    /// A threshold (or one of its windows) with fewer samples is NO DATA. 0 and 1 mean
    /// the same: at least one sample.
    pub min_samples: u64,
    /// Judge the thresholds and SLOs only: series no threshold or SLO reads collect
    /// nothing and the report's `metrics` hold only the series judged (no k6 end-of-test
    /// summary). For outputs that show verdicts alone.
    pub verdicts_only: bool,
}

/// What to judge and over what: the input of [`Analysis::new`].
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Thresholds of the selected profile (or a k6 script's), in report order.
    pub thresholds: &'a [MetricThresholds],
    /// SLOs, in report order.
    pub slos: &'a [SloSpec],
    /// The run's metric catalog (name, type, contains). k6 built-in metrics missing from
    /// it are known anyway; points of any other metric are skipped and counted.
    pub metrics: &'a [MetricInfo],
    /// The run, for the report.
    pub run: RunInfo,
    /// The range judged; points outside are skipped and counted.
    pub range: TimeRange,
    /// Seconds counters' `rate` divides by (k6's test duration, `RunMeta::duration_s`).
    /// `None`: the range's span.
    pub rate_duration_s: Option<f64>,
    /// Where `rate_duration_s` came from, for the report.
    pub rate_duration_source: Option<String>,
    /// How to judge.
    pub options: Options,
}

impl<'a> Plan<'a> {
    /// A plan over a whole run: its catalog, its first-to-last-sample range and its
    /// recorded duration. A run without samples gets the empty range at `created_ns`.
    pub fn for_run(meta: &'a RunMeta, thresholds: &'a [MetricThresholds], slos: &'a [SloSpec], options: Options) -> Plan<'a> {
        let start = meta.start_ns.unwrap_or(meta.created_ns);
        let end = meta.end_ns.unwrap_or(start).max(start);
        Plan {
            thresholds,
            slos,
            metrics: &meta.metrics,
            run: RunInfo::from_meta(meta),
            range: TimeRange { start_ns: start, end_ns: end },
            rate_duration_s: meta.duration_s,
            rate_duration_source: meta.duration_source.clone(),
            options,
        }
    }
}

type FxMap<K, V> = HashMap<K, V, slo_model::hash::FastBuildHasher>;

/// Many points of one metric, for [`Analysis::push_column`]: row `r` of the batch has
/// time `times[r]` (ns since the epoch), value `values[r]` and tag set `sets[r]`
/// (`< n_sets`); `rows` lists the rows that hold a point, ascending.
#[derive(Debug, Clone, Copy)]
pub struct ColumnPoints<'a> {
    /// Time of every row, ns since the epoch.
    pub times: &'a [i64],
    /// Value of every row (read for the rows listed in `rows`).
    pub values: &'a [f64],
    /// The rows holding a point.
    pub rows: &'a [u32],
    /// Tag set of every row.
    pub sets: &'a [u32],
    /// Number of tag sets.
    pub n_sets: usize,
}

/// Calls its second argument with the tags of the tag set given first (see
/// [`Analysis::push_column`]).
pub type SetTags<'a> = dyn FnMut(u32, &mut dyn FnMut(&dyn TagLookup)) + 'a;

/// Sorts every trend's values, on up to four threads (largest trends first, each to the
/// least loaded thread), since percentiles need them sorted.
fn sort_all(mut trends: Vec<&mut crate::sink::TrendSink>) {
    let total: usize = trends.iter().map(|t| t.count() as usize).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    if threads < 2 || total < 200_000 {
        trends.into_iter().for_each(|t| t.sort());
        return;
    }
    trends.sort_by_key(|t| std::cmp::Reverse(t.count()));
    let mut shares: Vec<(usize, Vec<&mut crate::sink::TrendSink>)> = (0..threads).map(|_| (0, Vec::new())).collect();
    for t in trends {
        let least = shares.iter_mut().min_by_key(|(load, _)| *load).expect("threads >= 2");
        least.0 += t.count() as usize;
        least.1.push(t);
    }
    std::thread::scope(|s| {
        let mut shares = shares.into_iter().map(|(_, v)| v);
        let mine = shares.next().expect("threads >= 2");
        for share in shares {
            s.spawn(move || share.into_iter().for_each(|t| t.sort()));
        }
        mine.into_iter().for_each(|t| t.sort());
    });
}

/// `a == b`, without a call into libc's memcmp for strings of up to 16 bytes (tag
/// values and metric names, compared once per point and filter).
#[inline(always)]
fn short_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two overlapping loads cover every byte of a string of 4 to 16 bytes.
    let w8 = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let w4 = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
#[test]
fn short_eq_agrees_with_eq() {
    let words = [
        "",
        "a",
        "b",
        "ab",
        "ba",
        "abc",
        "abd",
        "xbc",
        "true",
        "false",
        "route_3",
        "route_4",
        "xoute_3",
        "12345678",
        "12345679",
        "http_req_duration",
        "http_req_durations",
        "é",
        "日本",
    ];
    for a in words {
        for b in words {
            assert_eq!(short_eq(a, b), a == b, "{a:?} {b:?}");
        }
        let mut c = a.to_string();
        for i in 0..a.len() {
            // each single changed byte is seen
            let mut bytes = c.clone().into_bytes();
            bytes[i] ^= 1;
            if let Ok(d) = String::from_utf8(bytes) {
                assert!(!short_eq(a, &d), "{a:?} {d:?}");
            }
        }
        c.push('x');
        assert!(!short_eq(a, &c));
    }
}

#[inline]
fn matches(filters: &[(String, String)], tags: &dyn TagLookup) -> bool {
    filters.iter().all(|(k, v)| tags.tag(k) == Some(v.as_str()))
}

fn canonical_filters(f: &[(String, String)]) -> Vec<(String, String)> {
    let mut f = f.to_vec();
    f.sort();
    f.dedup();
    f
}

/// A whole-range sink for one (sub-)metric.
#[derive(Debug)]
struct Series {
    key: String,
    filters: Vec<(String, String)>,
    sink: Sink,
    /// Named by a threshold or SLO: always summarized, even without data.
    referenced: bool,
}

/// Per-window sinks for one (sub-)metric and one window length.
#[derive(Debug)]
struct Windowed {
    filters: Vec<(String, String)>,
    grid: WindowGrid,
    sinks: Vec<Sink>,
}

#[derive(Debug)]
struct Slot {
    info: MetricInfo,
    /// In the run's catalog (else a k6 built-in known by name).
    declared: bool,
    series: Vec<Series>,
    windowed: Vec<Windowed>,
    /// The distinct tag keys any filter of this slot reads, so that `push` looks each up
    /// once per point however many sub-metrics filter on it.
    keys: Vec<String>,
    /// Per series, then per windowed entry: filters as (index into `keys`, value).
    compiled: Vec<Vec<(usize, String)>>,
    /// Per series, then per windowed entry: whether it collects points.
    active: Vec<bool>,
}

impl Slot {
    /// Fills `keys`, `compiled` and `active` from the filters (call once the series are
    /// final). With `verdicts_only`, only series a threshold or SLO reads are active.
    fn compile(&mut self, verdicts_only: bool) {
        self.active = self.series.iter().map(|s| s.referenced || !verdicts_only).chain(self.windowed.iter().map(|_| true)).collect();
        let mut keys: Vec<String> = Vec::new();
        let mut compile = |filters: &[(String, String)]| -> Vec<(usize, String)> {
            filters
                .iter()
                .map(|(k, v)| {
                    let i = keys.iter().position(|x| x == k).unwrap_or_else(|| {
                        keys.push(k.clone());
                        keys.len() - 1
                    });
                    (i, v.clone())
                })
                .collect()
        };
        let mut compiled: Vec<Vec<(usize, String)>> = self.series.iter().map(|s| compile(&s.filters)).collect();
        compiled.extend(self.windowed.iter().map(|w| compile(&w.filters)));
        self.keys = keys;
        self.compiled = compiled;
    }
}

impl Slot {
    /// Which active series and windowed entries (bit `j`: entry `j` of `compiled`) a
    /// point with `tags` belongs to; for slots of at most 64 entries and
    /// [`CACHED_KEYS`] keys.
    fn mask(&self, tags: &dyn TagLookup) -> u64 {
        let mut vals: [Option<&str>; CACHED_KEYS] = [None; CACHED_KEYS];
        for (v, k) in vals.iter_mut().zip(&self.keys) {
            *v = tags.tag(k);
        }
        let mut m = 0u64;
        for (j, (f, &on)) in self.compiled.iter().zip(&self.active).enumerate() {
            if on && f.iter().all(|(k, v)| vals[*k].is_some_and(|x| short_eq(x, v))) {
                m |= 1 << j;
            }
        }
        m
    }
}

/// Up to this many distinct filter keys per metric are looked up once per point; more
/// fall back to one lookup per filter.
const CACHED_KEYS: usize = 16;

impl Slot {
    fn series_for(&mut self, filters: Vec<(String, String)>, referenced: bool) -> usize {
        if let Some(i) = self.series.iter().position(|s| s.filters == filters) {
            self.series[i].referenced |= referenced;
            return i;
        }
        let key = MetricKey { metric: self.info.name.clone(), filters: filters.clone() }.canonical();
        self.series.push(Series { key, filters, sink: Sink::new(self.info.kind), referenced });
        self.series.len() - 1
    }

    fn windowed_for(&mut self, filters: Vec<(String, String)>, grid: WindowGrid) -> usize {
        if let Some(i) = self.windowed.iter().position(|w| w.filters == filters && w.grid == grid) {
            return i;
        }
        let sinks = (0..grid.count()).map(|_| Sink::new(self.info.kind)).collect();
        self.windowed.push(Windowed { filters, grid, sinks });
        self.windowed.len() - 1
    }
}

#[derive(Debug)]
enum Target {
    /// Slot, series and (with windowed evaluation) windowed index.
    Resolved { slot: usize, series: usize, windowed: Option<usize> },
    /// The metric's type is unknown: nothing can match.
    Unknown(String),
}

#[derive(Debug)]
struct PlannedThreshold {
    key: String,
    key_source: String,
    threshold: Threshold,
    target: Target,
}

#[derive(Debug)]
struct PlannedSlo {
    spec: SloSpec,
    key: String,
    grid: WindowGrid,
    target: Option<(usize, usize, usize)>,
    missing: Option<String>,
}

/// The streaming accumulator of one check. Build it with [`Analysis::new`], feed every
/// point with [`Analysis::push`], then call [`Analysis::finish`].
#[derive(Debug)]
pub struct Analysis {
    slots: Vec<Slot>,
    index: FxMap<String, usize>,
    /// The last metric looked up and its slot (points often come in runs of one metric).
    last: Option<(String, usize)>,
    thresholds: Vec<PlannedThreshold>,
    slos: Vec<PlannedSlo>,
    undeclared: FxMap<String, u64>,
    accepted: u64,
    outside: u64,
    range: TimeRange,
    rate_duration_s: f64,
    rate_duration_source: String,
    run: RunInfo,
    options: Options,
}

fn supported(kind: MetricType, agg: Aggregation) -> bool {
    use Aggregation as A;
    match kind {
        MetricType::Trend => matches!(agg, A::Avg | A::Min | A::Max | A::Med | A::P(_)),
        MetricType::Rate => matches!(agg, A::Rate),
        MetricType::Counter => matches!(agg, A::Count | A::Rate),
        MetricType::Gauge => matches!(agg, A::Value),
    }
}

/// The aggregation as k6 writes it: `avg`, `p(95)`, `rate`.
pub fn aggregation_label(agg: Aggregation) -> String {
    match agg {
        Aggregation::Avg => "avg".into(),
        Aggregation::Min => "min".into(),
        Aggregation::Max => "max".into(),
        Aggregation::Med => "med".into(),
        Aggregation::P(n) => format!("p({n})"),
        Aggregation::Count => "count".into(),
        Aggregation::Rate => "rate".into(),
        Aggregation::Value => "value".into(),
    }
}

fn threshold_unit(kind: MetricType, contains: ValueType, agg: Aggregation) -> Unit {
    match (kind, agg) {
        (MetricType::Rate, _) => Unit::None,
        (MetricType::Counter, Aggregation::Rate) => Unit::of_rate(contains),
        _ => Unit::of_values(contains),
    }
}

/// The value of `agg` over `sink` (trend sinks sorted); `None` without data.
fn observe(sink: &Sink, agg: Aggregation, duration_s: f64) -> Option<f64> {
    match (sink, agg) {
        (Sink::Trend(t), Aggregation::Avg) => t.avg(),
        (Sink::Trend(t), Aggregation::Min) => t.min(),
        (Sink::Trend(t), Aggregation::Max) => t.max(),
        (Sink::Trend(t), Aggregation::Med) => t.sorted_percentile(0.5),
        (Sink::Trend(t), Aggregation::P(n)) => t.sorted_percentile(n / 100.0),
        (Sink::Rate(r), Aggregation::Rate) => r.rate(),
        (Sink::Counter(c), Aggregation::Count) => (c.samples > 0).then_some(c.sum),
        (Sink::Counter(c), Aggregation::Rate) => c.rate(duration_s),
        (Sink::Gauge(g), Aggregation::Value) => g.value(),
        _ => None,
    }
}

fn margin(op: Op, observed: f64, target: f64) -> Option<f64> {
    match op {
        Op::Lt | Op::Le => Some(target - observed),
        Op::Gt | Op::Ge => Some(observed - target),
        Op::Eq | Op::Ne => None,
    }
}

/// Whether `a` is a worse window value than `b` for a limit with operator `op`.
fn worse(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Lt | Op::Le => a > b,
        Op::Gt | Op::Ge => a < b,
        Op::Eq | Op::Ne => false,
    }
}

/// Summarizes judged windows: counts, worst (by `op`, failing windows first), verdict.
fn windowed_result(window_s: f64, op: Op, windows: Vec<WindowValue>) -> WindowedResult {
    let mut with_data = 0;
    let mut compliant = 0;
    let mut worst: Option<usize> = None;
    for (i, w) in windows.iter().enumerate() {
        let Some(v) = w.value.filter(|_| w.verdict != Verdict::NoData) else { continue };
        with_data += 1;
        if w.verdict == Verdict::Pass {
            compliant += 1;
        }
        worst = match worst {
            None => Some(i),
            Some(j) => {
                let wj = &windows[j];
                let fail_i = w.verdict == Verdict::Fail;
                let fail_j = wj.verdict == Verdict::Fail;
                let better_candidate = (fail_i && !fail_j) || (fail_i == fail_j && worse(op, v, wj.value.unwrap_or(v)));
                Some(if better_candidate { i } else { j })
            }
        };
    }
    let verdict = if with_data == 0 {
        Verdict::NoData
    } else if compliant < with_data {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    WindowedResult {
        window_s,
        windows_total: windows.len(),
        windows_with_data: with_data,
        windows_compliant: compliant,
        compliant_share: (with_data > 0).then(|| compliant as f64 / with_data as f64),
        worst,
        verdict,
        windows,
    }
}

fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn window_ns(d: Duration, what: impl Fn() -> String) -> Result<i64, AnalyzeError> {
    let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    if ns <= 0 {
        return Err(AnalyzeError::ZeroWindow { what: what() });
    }
    Ok(ns)
}

fn grid_for(range: TimeRange, len_ns: i64, what: impl Fn() -> String) -> Result<WindowGrid, AnalyzeError> {
    let grid = WindowGrid::new(range.start_ns, range.end_ns, len_ns)
        .ok_or(AnalyzeError::InvalidRange { start_ns: range.start_ns, end_ns: range.end_ns })?;
    if grid.count() > MAX_WINDOWS {
        return Err(AnalyzeError::TooManyWindows { what: what(), windows: grid.count(), max: MAX_WINDOWS });
    }
    Ok(grid)
}

impl Analysis {
    /// Plans the check: which sinks every metric feeds.
    ///
    /// # Errors
    /// [`AnalyzeError`] when the range ends before it starts; a threshold's aggregation
    /// does not apply to its metric's type (k6: `count` on a trend), its percentile is
    /// outside `[0, 100]` or its target is NaN; an SLO's objective is out of range, its
    /// metric has the wrong type, or its window is zero; or a window grid would exceed
    /// [`MAX_WINDOWS`]. Messages name the threshold's file:line:column or the SLO.
    pub fn new(plan: Plan<'_>) -> Result<Analysis, AnalyzeError> {
        let range = plan.range;
        if range.end_ns < range.start_ns {
            return Err(AnalyzeError::InvalidRange { start_ns: range.start_ns, end_ns: range.end_ns });
        }
        let mut slots: Vec<Slot> = Vec::new();
        let mut index: FxMap<String, usize> = FxMap::default();
        let mut add_slot = |info: MetricInfo, declared: bool, slots: &mut Vec<Slot>| {
            if index.contains_key(&info.name) {
                return;
            }
            index.insert(info.name.clone(), slots.len());
            let mut slot = Slot {
                info,
                declared,
                series: Vec::new(),
                windowed: Vec::new(),
                keys: Vec::new(),
                compiled: Vec::new(),
                active: Vec::new(),
            };
            slot.series_for(Vec::new(), false);
            slots.push(slot);
        };
        for m in plan.metrics {
            add_slot(m.clone(), true, &mut slots);
        }
        for (name, _, _) in slo_model::BUILTIN_METRICS {
            if let Some(info) = builtin_metric(name) {
                add_slot(info, false, &mut slots);
            }
        }
        // k6 adds this sub-metric to every summary that has http_req_duration.
        if let Some(&i) = index.get("http_req_duration") {
            if slots[i].info.kind == MetricType::Trend {
                slots[i].series_for(vec![("expected_response".into(), "true".into())], false);
            }
        }

        let mut thresholds = Vec::new();
        for mt in plan.thresholds {
            let filters = canonical_filters(&mt.key.filters);
            let key = MetricKey { metric: mt.key.metric.clone(), filters: filters.clone() }.canonical();
            for th in &mt.thresholds {
                let loc = || th.location.to_string();
                if let Aggregation::P(n) = th.expr.agg {
                    if !(0.0..=100.0).contains(&n) {
                        return Err(AnalyzeError::InvalidPercentile { expression: th.source.clone(), location: loc() });
                    }
                }
                if th.expr.value.is_nan() {
                    return Err(AnalyzeError::NanTarget { expression: th.source.clone(), location: loc() });
                }
                let target = match index.get(&mt.key.metric) {
                    None => Target::Unknown(format!(
                        "metric `{}` is not in the run's metric catalog and is not a k6 built-in: no samples",
                        mt.key.metric
                    )),
                    Some(&si) => {
                        let slot = &mut slots[si];
                        if !supported(slot.info.kind, th.expr.agg) {
                            return Err(AnalyzeError::UnsupportedAggregation {
                                expression: th.source.clone(),
                                metric: mt.key.metric.clone(),
                                kind: slot.info.kind.as_str(),
                                location: loc(),
                            });
                        }
                        let series = slot.series_for(filters.clone(), true);
                        let windowed = match plan.options.threshold_window {
                            None => None,
                            Some(w) => {
                                let what = || format!("threshold {key}: '{}' at {}", th.source, th.location);
                                let len = window_ns(w, what)?;
                                let grid = grid_for(range, len, what)?;
                                Some(slot.windowed_for(filters.clone(), grid))
                            }
                        };
                        Target::Resolved { slot: si, series, windowed }
                    }
                };
                thresholds.push(PlannedThreshold { key: key.clone(), key_source: mt.key_source.clone(), threshold: th.clone(), target });
            }
        }

        let mut slos = Vec::new();
        for spec in plan.slos {
            let what = || format!("SLO `{}`", spec.name);
            check_objective(spec)?;
            let len = window_ns(spec.window, what)?;
            let grid = grid_for(range, len, what)?;
            let metric = spec.metric_name().to_string();
            let filters = canonical_filters(&spec.filter);
            let key = MetricKey { metric: metric.clone(), filters: filters.clone() }.canonical();
            let (target, missing) = match index.get(&metric) {
                None => (None, Some(format!("metric `{metric}` is not in the run's metric catalog: no samples"))),
                Some(&si) => {
                    let slot = &mut slots[si];
                    if slot.info.kind != spec.kind.metric_type() {
                        return Err(AnalyzeError::SloMetricType {
                            slo: spec.name.clone(),
                            metric,
                            kind: slot.info.kind.as_str(),
                            needed: spec.kind.metric_type().as_str(),
                        });
                    }
                    let series = slot.series_for(filters.clone(), true);
                    let w = slot.windowed_for(filters, grid);
                    (Some((si, series, w)), None)
                }
            };
            slos.push(PlannedSlo { spec: spec.clone(), key, grid, target, missing });
        }

        let span_s = (range.end_ns - range.start_ns) as f64 / 1e9;
        let (rate_duration_s, rate_duration_source) = match plan.rate_duration_s {
            Some(d) if d.is_finite() && d >= 0.0 => (d, plan.rate_duration_source.unwrap_or_else(|| "run metadata".into())),
            _ => (span_s, "span of the evaluated range".into()),
        };
        for slot in &mut slots {
            slot.compile(plan.options.verdicts_only);
        }
        Ok(Analysis {
            slots,
            index,
            last: None,
            thresholds,
            slos,
            undeclared: FxMap::default(),
            accepted: 0,
            outside: 0,
            range,
            rate_duration_s,
            rate_duration_source,
            run: plan.run,
            options: plan.options,
        })
    }

    /// Adds one point: `value` of `metric` at `time_ns` (ns since the epoch) with `tags`.
    /// Points outside the range, or of a metric whose type is unknown, are counted and
    /// skipped. Hot path: one hash lookup, one tag lookup per filter, no allocation
    /// (except a trend's amortized growth and the first point of an unknown metric).
    #[inline]
    pub fn push(&mut self, metric: &str, time_ns: i64, value: f64, tags: &dyn TagLookup) {
        let Some(i) = self.slot_of(metric, 1) else { return };
        self.push_slot(i, time_ns, value, tags);
    }

    /// Adds many points of one metric: row `r` of `c.rows` has time `c.times[r]` (ns),
    /// value `c.values[r]` and the tags of tag set `c.sets[r]`. `set_tags(s, f)` calls
    /// `f` with set `s`'s tags. Which sub-metrics a tag set belongs to is decided once per
    /// set, not per point; otherwise the same as [`Analysis::push`] for each row in order.
    pub fn push_column(&mut self, metric: &str, c: &ColumnPoints<'_>, set_tags: &mut SetTags<'_>) {
        let ColumnPoints { times, values, rows, sets, n_sets } = *c;
        if rows.is_empty() {
            return;
        }
        let Some(i) = self.slot_of(metric, rows.len() as u64) else { return };
        let slot = &self.slots[i];
        if slot.series.len() + slot.windowed.len() > 64 || slot.keys.len() > CACHED_KEYS {
            for &r in rows {
                let r = r as usize;
                set_tags(sets[r], &mut |tags| self.push_slot(i, times[r], values[r], tags));
            }
            return;
        }
        let mut masks = vec![0u64; n_sets];
        for (s, m) in masks.iter_mut().enumerate() {
            set_tags(s as u32, &mut |tags| *m = slot.mask(tags));
        }
        let (start, end) = (self.range.start_ns, self.range.end_ns);
        let slot = &mut self.slots[i];
        let n = slot.series.len();
        for &r in rows {
            let r = r as usize;
            let t = times[r];
            if t < start || t > end {
                self.outside += 1;
                continue;
            }
            self.accepted += 1;
            let v = values[r];
            let mut bits = masks[sets[r] as usize];
            while bits != 0 {
                let j = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if j < n {
                    slot.series[j].sink.add(v);
                } else {
                    let w = &mut slot.windowed[j - n];
                    let idx = w.grid.index(t);
                    w.sinks[idx].add(v);
                }
            }
        }
    }

    /// The slot of `metric`, or `None` (counting `points` as undeclared) when its type is
    /// unknown.
    #[inline]
    fn slot_of(&mut self, metric: &str, points: u64) -> Option<usize> {
        Some(match &self.last {
            Some((name, i)) if short_eq(name, metric) => *i,
            _ => {
                let Some(&i) = self.index.get(metric) else {
                    match self.undeclared.get_mut(metric) {
                        Some(c) => *c += points,
                        None => {
                            self.undeclared.insert(metric.to_string(), points);
                        }
                    }
                    return None;
                };
                match &mut self.last {
                    Some((name, j)) => {
                        name.clear();
                        name.push_str(metric);
                        *j = i;
                    }
                    None => self.last = Some((metric.to_string(), i)),
                }
                i
            }
        })
    }

    /// [`Analysis::push`] into slot `i`.
    #[inline]
    fn push_slot(&mut self, i: usize, time_ns: i64, value: f64, tags: &dyn TagLookup) {
        if time_ns < self.range.start_ns || time_ns > self.range.end_ns {
            self.outside += 1;
            return;
        }
        self.accepted += 1;
        let slot = &mut self.slots[i];
        if slot.keys.len() > CACHED_KEYS {
            for s in &mut slot.series {
                if matches(&s.filters, tags) {
                    s.sink.add(value);
                }
            }
            for w in &mut slot.windowed {
                if matches(&w.filters, tags) {
                    let idx = w.grid.index(time_ns);
                    w.sinks[idx].add(value);
                }
            }
            return;
        }
        let mut vals: [Option<&str>; CACHED_KEYS] = [None; CACHED_KEYS];
        for (v, k) in vals.iter_mut().zip(&slot.keys) {
            *v = tags.tag(k);
        }
        let hit = |f: &[(usize, String)]| f.iter().all(|(k, v)| vals[*k].is_some_and(|x| short_eq(x, v)));
        let n = slot.series.len();
        for ((s, f), &on) in slot.series.iter_mut().zip(&slot.compiled).zip(&slot.active) {
            if on && hit(f) {
                s.sink.add(value);
            }
        }
        for (w, f) in slot.windowed.iter_mut().zip(&slot.compiled[n..]) {
            if hit(f) {
                let idx = w.grid.index(time_ns);
                w.sinks[idx].add(value);
            }
        }
    }

    /// [`Analysis::push`] for an owned [`Point`].
    pub fn push_point(&mut self, p: &Point) {
        self.push(&p.metric, p.time_ns, p.value, &p.tags);
    }

    /// Judges every threshold and SLO and summarizes every metric.
    pub fn finish(mut self) -> CheckReport {
        let mut trends: Vec<&mut crate::sink::TrendSink> = Vec::new();
        for slot in &mut self.slots {
            for (s, &on) in slot.series.iter_mut().zip(&slot.active) {
                if let (Sink::Trend(t), true) = (&mut s.sink, on) {
                    trends.push(t);
                }
            }
            for w in &mut slot.windowed {
                for s in &mut w.sinks {
                    if let Sink::Trend(t) = s {
                        trends.push(t);
                    }
                }
            }
        }
        sort_all(trends);
        let min_samples = self.options.min_samples.max(1);
        let mut notes = Vec::new();

        let thresholds: Vec<ThresholdResult> = self.thresholds.iter().map(|pt| self.judge_threshold(pt, min_samples)).collect();
        let slos: Vec<SloResult> = self.slos.iter().map(|ps| self.judge_slo(ps)).collect();
        let clipped: Vec<&str> = slos.iter().filter(|s| s.clipped).map(|s| s.name.as_str()).collect();
        if !clipped.is_empty() {
            notes.push(format!(
                "the evaluated range ({} s) is shorter than the window of SLO {}: each is judged over one clipped window",
                (self.range.end_ns - self.range.start_ns) as f64 / 1e9,
                clipped.join(", ")
            ));
        }

        let mut metrics = BTreeMap::new();
        for slot in &self.slots {
            let base_included = slot.declared || slot.series[0].sink.samples() > 0;
            for (si, s) in slot.series.iter().enumerate() {
                let include = if self.options.verdicts_only {
                    s.referenced
                } else if si == 0 {
                    base_included
                } else {
                    s.referenced || base_included
                };
                if !include {
                    continue;
                }
                let summary = self.summarize(&slot.info, &s.sink);
                if let MetricSummary::Gauge(g) = &summary {
                    if g.differs_from_k6 {
                        notes.push(format!(
                            "{}: max is {} (the true maximum); k6 v1.1.0 reports max={} because its gauge sink starts max at 0",
                            s.key,
                            g.max.unwrap_or(f64::NAN),
                            g.k6_max.unwrap_or(f64::NAN)
                        ));
                    }
                }
                metrics.insert(s.key.clone(), summary);
            }
        }

        let mut undeclared: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in self.undeclared.drain() {
            undeclared.insert(k, v);
        }
        for (k, v) in &undeclared {
            notes.push(format!("{v} points of metric `{k}` skipped: its type is not declared in the run's metric catalog"));
        }
        if self.outside > 0 {
            notes.push(format!("{} points outside the evaluated range skipped", self.outside));
        }

        let allow = self.options.allow_no_data;
        let items = thresholds.iter().map(|t| t.verdict).chain(slos.iter().map(|s| s.verdict));
        let mut tally = Tally::default();
        for v in items.clone() {
            match v {
                Verdict::Pass => tally.pass += 1,
                Verdict::Warn => tally.warn += 1,
                Verdict::Fail => tally.fail += 1,
                Verdict::NoData => tally.no_data += 1,
            }
        }
        let mut verdict = Verdict::combine(items, allow);
        if self.accepted == 0 && thresholds.is_empty() && slos.is_empty() {
            // Nothing asked and nothing measured: still never a pass.
            verdict = if allow { Verdict::Warn } else { Verdict::NoData };
            notes.push("no samples in the evaluated range".into());
        }

        CheckReport {
            schema_version: SCHEMA_VERSION,
            run: self.run.clone(),
            range: RangeInfo {
                start_ns: self.range.start_ns,
                end_ns: self.range.end_ns,
                start: rfc3339(self.range.start_ns),
                end: rfc3339(self.range.end_ns),
                span_s: (self.range.end_ns - self.range.start_ns) as f64 / 1e9,
                rate_duration_s: self.rate_duration_s,
                rate_duration_source: self.rate_duration_source.clone(),
            },
            verdict,
            exit_code: verdict.exit_code(),
            allow_no_data: allow,
            tally,
            thresholds,
            slos,
            metrics,
            points: PointTally { accepted: self.accepted, outside_range: self.outside, undeclared },
            notes,
        }
    }

    fn summarize(&self, info: &MetricInfo, sink: &Sink) -> MetricSummary {
        let unit = Unit::of_values(info.contains);
        match sink {
            Sink::Trend(t) => MetricSummary::Trend(TrendSummary {
                unit,
                count: t.count(),
                avg: t.avg(),
                min: t.min(),
                med: t.sorted_percentile(0.5),
                max: t.max(),
                p90: t.sorted_percentile(90.0 / 100.0),
                p95: t.sorted_percentile(95.0 / 100.0),
                p99: t.sorted_percentile(99.0 / 100.0),
            }),
            Sink::Rate(r) => {
                MetricSummary::Rate(RateSummary { unit: Unit::None, passes: r.trues, fails: r.falses(), total: r.total, value: r.rate() })
            }
            Sink::Counter(c) => MetricSummary::Counter(CounterSummary {
                unit,
                count: c.sum,
                rate: c.rate(self.rate_duration_s),
                rate_unit: Unit::of_rate(info.contains),
                samples: c.samples,
            }),
            Sink::Gauge(g) => MetricSummary::Gauge(GaugeSummary {
                unit,
                value: g.value(),
                min: g.min(),
                max: g.max(),
                k6_max: g.k6_max(),
                differs_from_k6: g.k6_max() != g.max(),
                samples: g.samples,
            }),
        }
    }

    fn judge_threshold(&self, pt: &PlannedThreshold, min_samples: u64) -> ThresholdResult {
        let th = &pt.threshold;
        let e = &th.expr;
        let mut out = ThresholdResult {
            metric_key: pt.key.clone(),
            key_source: pt.key_source.clone(),
            expression: th.source.clone(),
            aggregation: aggregation_label(e.agg),
            op: e.op,
            target: e.value,
            unit: Unit::None,
            observed: None,
            margin: None,
            verdict: Verdict::NoData,
            samples: 0,
            reason: None,
            abort_on_fail: th.abort_on_fail,
            location: th.location.clone(),
            windows: None,
        };
        let (si, ser, win) = match &pt.target {
            Target::Unknown(why) => {
                out.reason = Some(why.clone());
                return out;
            }
            Target::Resolved { slot, series, windowed } => (*slot, *series, *windowed),
        };
        let slot = &self.slots[si];
        out.unit = threshold_unit(slot.info.kind, slot.info.contains, e.agg);
        let sink = &slot.series[ser].sink;
        out.samples = sink.samples();
        if out.samples < min_samples {
            out.reason = Some(if out.samples == 0 {
                format!("no samples of {} in the evaluated range", pt.key)
            } else {
                format!("{} samples of {}, fewer than min_samples {}", out.samples, pt.key, min_samples)
            });
        } else {
            out.observed = observe(sink, e.agg, self.rate_duration_s);
            match out.observed {
                Some(v) => {
                    out.margin = margin(e.op, v, e.value);
                    out.verdict = if e.op.holds(v, e.value) { Verdict::Pass } else { Verdict::Fail };
                }
                None => out.reason = Some(format!("{} has no value: the rate duration is 0 s", out.aggregation)),
            }
        }
        if let Some(wi) = win {
            let w = &slot.windowed[wi];
            let windows = w
                .sinks
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let span = w.grid.span(i);
                    let samples = s.samples();
                    // A counter counted nothing in a window of a run that has its samples:
                    // that window measured 0 (as a throughput SLO's empty window does).
                    let counted_nothing = samples == 0
                        && out.samples > 0
                        && matches!(s, Sink::Counter(_))
                        && matches!(e.agg, Aggregation::Count | Aggregation::Rate);
                    let value = if counted_nothing {
                        Some(0.0)
                    } else if samples >= min_samples {
                        observe(s, e.agg, span.length_s)
                    } else {
                        None
                    };
                    let verdict = match value {
                        None => Verdict::NoData,
                        Some(v) if e.op.holds(v, e.value) => Verdict::Pass,
                        Some(_) => Verdict::Fail,
                    };
                    WindowValue { span, samples, value, verdict, budget: None }
                })
                .collect();
            let wr = windowed_result(w.grid.len_ns() as f64 / 1e9, e.op, windows);
            if wr.verdict == Verdict::Fail && out.verdict != Verdict::NoData {
                {
                    // Name the worst window: its value and where it lies in the range.
                    let worst = wr.worst.and_then(|i| wr.windows.get(i)).and_then(|wv| {
                        // Four decimals are plenty for a reason text (the exact value is in JSON).
                        let v = (wv.value? * 1e4).round() / 1e4;
                        let unit = match out.unit {
                            Unit::Millis => " ms",
                            Unit::Bytes => " bytes",
                            Unit::BytesPerSecond => " bytes/s",
                            Unit::PerSecond => "/s",
                            Unit::None => "",
                        };
                        let from = (wv.span.start_ns - self.range.start_ns) as f64 / 1e9;
                        let to = (wv.span.end_ns - self.range.start_ns) as f64 / 1e9;
                        Some(format!("; worst: {v}{unit} in window {} of {} (+{from}s to +{to}s)", wv.span.index + 1, wr.windows_total))
                    });
                    let failing = wr.windows_with_data - wr.windows_compliant;
                    let head = if out.verdict == Verdict::Pass { "the whole-range aggregate passes but " } else { "" };
                    out.reason = Some(format!("{head}{failing} of {} windows fail{}", wr.windows_with_data, worst.unwrap_or_default()));
                }
                out.verdict = Verdict::Fail;
            }
            out.windows = Some(wr);
        }
        out
    }

    fn judge_slo(&self, ps: &PlannedSlo) -> SloResult {
        let spec = &ps.spec;
        let window_s = ps.grid.len_ns() as f64 / 1e9;
        let clipped = ps.grid.range_clipped();
        let (unit, op) = match spec.kind {
            SloKind::Availability => (Unit::None, Op::Ge),
            SloKind::ErrorRate => (Unit::None, Op::Le),
            SloKind::Latency { .. } => (Unit::Millis, Op::Le),
            SloKind::Throughput => (Unit::PerSecond, Op::Ge),
        };
        let (objective_good, budget_ratio) = match spec.kind {
            SloKind::ErrorRate => (decimal_complement(spec.objective), spec.objective),
            _ => (spec.objective, decimal_complement(spec.objective)),
        };
        let needed = match spec.kind {
            SloKind::Throughput => spec.min_samples,
            _ => spec.min_samples.max(1),
        };
        let mut result = SloResult {
            name: spec.name.clone(),
            kind: spec.kind,
            metric_key: ps.key.clone(),
            objective: spec.objective,
            unit,
            window_s,
            clipped,
            min_samples: needed,
            verdict: Verdict::NoData,
            reason: ps.missing.clone(),
            budget: None,
            windows: windowed_result(window_s, op, Vec::new()),
        };
        let Some((si, ser, wi)) = ps.target else { return result };
        let slot = &self.slots[si];
        if let (SloKind::Latency { .. }, ValueType::Data) = (spec.kind, slot.info.contains) {
            result.unit = Unit::Bytes;
        } else if let (SloKind::Latency { .. }, ValueType::Default) = (spec.kind, slot.info.contains) {
            result.unit = Unit::None;
        }
        let whole = &slot.series[ser].sink;
        let w = &slot.windowed[wi];
        let windows: Vec<WindowValue> = w
            .sinks
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let span = w.grid.span(i);
                let samples = s.samples();
                let mut budget = None;
                let value = match (spec.kind, s) {
                    (SloKind::Availability | SloKind::ErrorRate, Sink::Rate(r)) => {
                        budget = ErrorBudget::with_budget_ratio(r.total, r.trues, objective_good, budget_ratio);
                        budget.as_ref().map(|b| if spec.kind == SloKind::ErrorRate { b.error_ratio } else { b.good_ratio })
                    }
                    (SloKind::Latency { percentile }, Sink::Trend(t)) => t.sorted_percentile(percentile / 100.0),
                    (SloKind::Throughput, Sink::Counter(c)) => (span.length_s > 0.0).then(|| c.sum / span.length_s),
                    _ => None,
                };
                let value = if samples >= needed { value } else { None };
                let verdict = match (value, &budget) {
                    (None, _) => Verdict::NoData,
                    (Some(_), Some(b)) => {
                        if b.within_budget {
                            Verdict::Pass
                        } else {
                            Verdict::Fail
                        }
                    }
                    (Some(v), None) => {
                        if op.holds(v, spec.objective) {
                            Verdict::Pass
                        } else {
                            Verdict::Fail
                        }
                    }
                };
                WindowValue { span, samples, value, verdict, budget }
            })
            .collect();
        result.windows = windowed_result(window_s, op, windows);
        if let Sink::Rate(r) = whole {
            result.budget = ErrorBudget::with_budget_ratio(r.total, r.trues, objective_good, budget_ratio);
        }
        result.verdict = if whole.samples() == 0 {
            result.reason = Some(format!("no samples of {} in the evaluated range", ps.key));
            Verdict::NoData
        } else {
            if result.windows.verdict == Verdict::NoData {
                result.reason = Some(format!("no window has at least {needed} samples of {}", ps.key));
            }
            result.windows.verdict
        };
        result
    }

    /// Index of a metric's slot, for tests.
    #[cfg(test)]
    fn knows(&self, metric: &str) -> bool {
        self.index.contains_key(metric)
    }
}

fn check_objective(spec: &SloSpec) -> Result<(), AnalyzeError> {
    let o = spec.objective;
    let bad = |why: &str| AnalyzeError::SloObjective { slo: spec.name.clone(), objective: o, why: why.to_string() };
    match spec.kind {
        SloKind::Availability if !(o > 0.0 && o <= 1.0) => {
            Err(bad("an availability objective is a good-event ratio in (0, 1], e.g. 0.999 for 99.9 %"))
        }
        SloKind::ErrorRate if !(0.0..1.0).contains(&o) => Err(bad("an error-rate objective is a ratio in [0, 1), e.g. 0.001 for 0.1 %")),
        SloKind::Latency { percentile } if !(0.0..=100.0).contains(&percentile) => {
            Err(bad("the latency percentile must be a number in [0, 100]"))
        }
        SloKind::Latency { .. } | SloKind::Throughput if !o.is_finite() || o < 0.0 => Err(bad("the objective must be a finite number ≥ 0")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slo_config::{Location, ThresholdExpr};
    use slo_model::{RunStatus, Tags};

    const S: i64 = 1_000_000_000;

    fn run() -> RunInfo {
        RunInfo {
            id: "t".into(),
            origin: "test".into(),
            scenario: None,
            status: RunStatus::Complete,
            start_ns: Some(0),
            end_ns: Some(100 * S),
            points: 0,
            slo_version: "0".into(),
        }
    }

    fn th(metric: &str, filters: &[(&str, &str)], source: &str, agg: Aggregation, op: Op, value: f64) -> MetricThresholds {
        let key = MetricKey { metric: metric.into(), filters: filters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        MetricThresholds {
            key_source: key.canonical(),
            key,
            location: Location::default(),
            thresholds: vec![Threshold {
                source: source.into(),
                expr: ThresholdExpr { agg, op, value },
                abort_on_fail: false,
                delay_abort_eval: None,
                location: Location { file: "t.yaml".into(), line: 3, column: 5 },
            }],
        }
    }

    fn plan<'a>(ths: &'a [MetricThresholds], slos: &'a [SloSpec], options: Options) -> Plan<'a> {
        Plan {
            thresholds: ths,
            slos,
            metrics: &[],
            run: run(),
            range: TimeRange { start_ns: 0, end_ns: 100 * S },
            rate_duration_s: Some(100.0),
            rate_duration_source: None,
            options,
        }
    }

    #[test]
    fn windowed_threshold_names_late_breach() {
        // 90 s of 100 ms requests, then 10 s of 900 ms. Whole run: 900 values of 100 and
        // 100 of 900, p(50) index 0.5*999 = 499.5 -> 100 (passes); last window: 900 (fails).
        let ths = [th("http_req_duration", &[], "p(50)<500", Aggregation::P(50.0), Op::Lt, 500.0)];
        let opts = Options { threshold_window: Some(Duration::from_secs(10)), ..Options::default() };
        let mut a = Analysis::new(plan(&ths, &[], opts)).unwrap();
        let tags = Tags::default();
        for i in 0..1000 {
            let t = i as i64 * S / 10;
            a.push("http_req_duration", t, if t >= 90 * S { 900.0 } else { 100.0 }, &tags);
        }
        let r = a.finish();
        let t = &r.thresholds[0];
        assert_eq!(t.observed, Some(100.0));
        assert_eq!(t.verdict, Verdict::Fail);
        let w = t.windows.as_ref().unwrap();
        assert_eq!(w.windows_total, 10);
        assert_eq!(w.windows_compliant, 9);
        assert_eq!(w.worst, Some(9));
        assert_eq!(w.windows[9].value, Some(900.0));
    }

    #[test]
    fn windowed_threshold_names_the_worst_window_also_when_the_whole_range_passes() {
        let ths = [th("http_req_duration", &[], "p(50)<500", Aggregation::P(50.0), Op::Lt, 500.0)];
        let opts = Options { threshold_window: Some(Duration::from_secs(10)), ..Options::default() };
        let mut a = Analysis::new(plan(&ths, &[], opts)).unwrap();
        for i in 0..1000 {
            let t = i as i64 * S / 10;
            a.push("http_req_duration", t, if t >= 90 * S { 900.0 } else { 100.0 }, &Tags::default());
        }
        let r = a.finish();
        let reason = r.thresholds[0].reason.as_deref().unwrap();
        assert_eq!(reason, "the whole-range aggregate passes but 1 of 10 windows fail; worst: 900 ms in window 10 of 10 (+90s to +100s)");
    }

    /// 10 requests/s for 100 s but none from 40 s to 60 s, judged by `th` per 10 s window.
    fn with_a_gap(th: MetricThresholds) -> CheckReport {
        let ths = [th];
        let opts = Options { threshold_window: Some(Duration::from_secs(10)), ..Options::default() };
        let mut a = Analysis::new(plan(&ths, &[], opts)).unwrap();
        for i in 0..1000 {
            let t = i as i64 * S / 10;
            if !(40 * S..60 * S).contains(&t) {
                a.push("http_reqs", t, 1.0, &Tags::default());
            }
        }
        a.finish()
    }

    /// The whole range has 800 / 100 s = 8/s (`rate>5` passes), while the two empty
    /// windows counted 0/s and fail.
    #[test]
    fn windowed_counter_threshold_counts_empty_windows_as_zero() {
        let r = with_a_gap(th("http_reqs", &[], "rate>5", Aggregation::Rate, Op::Gt, 5.0));
        let t = &r.thresholds[0];
        assert_eq!(t.observed, Some(8.0));
        assert_eq!(t.verdict, Verdict::Fail);
        let w = t.windows.as_ref().unwrap();
        assert_eq!((w.windows_with_data, w.windows_compliant), (10, 8));
        assert_eq!(w.windows[4].value, Some(0.0));
        assert!(t.reason.as_deref().unwrap().contains("2 of 10 windows fail; worst: 0/s in window 5 of 10"), "{:?}", t.reason);
        // With the whole range failing too (8/s), the worst window is named all the same.
        let r = with_a_gap(th("http_reqs", &[], "rate>9", Aggregation::Rate, Op::Gt, 9.0));
        assert_eq!(r.thresholds[0].verdict, Verdict::Fail);
        assert!(
            r.thresholds[0].reason.as_deref().unwrap().starts_with("2 of 10 windows fail; worst: 0/s in window 5"),
            "{:?}",
            r.thresholds[0].reason
        );
    }

    #[test]
    fn wrong_aggregation_is_a_config_error_naming_the_place() {
        let ths = [th("http_req_duration", &[], "count>0", Aggregation::Count, Op::Gt, 0.0)];
        let err = Analysis::new(plan(&ths, &[], Options::default())).unwrap_err();
        assert!(err.to_string().contains("t.yaml:3:5"), "{err}");
        let ths = [th("http_req_duration", &[], "p(101)<1", Aggregation::P(101.0), Op::Lt, 1.0)];
        assert!(Analysis::new(plan(&ths, &[], Options::default())).is_err());
        let ths = [th("http_reqs", &[], "count<NaN", Aggregation::Count, Op::Lt, f64::NAN)];
        assert!(Analysis::new(plan(&ths, &[], Options::default())).is_err());
    }

    #[test]
    fn out_of_range_and_undeclared_points_are_counted() {
        let mut a = Analysis::new(plan(&[], &[], Options::default())).unwrap();
        let tags = Tags::default();
        a.push("http_reqs", -1, 1.0, &tags);
        a.push("http_reqs", 5 * S, 1.0, &tags);
        a.push("mystery", 5 * S, 1.0, &tags);
        a.push("mystery", 6 * S, 1.0, &tags);
        assert!(a.knows("vus"));
        let r = a.finish();
        assert_eq!(r.points.accepted, 1);
        assert_eq!(r.points.outside_range, 1);
        assert_eq!(r.points.undeclared.get("mystery"), Some(&2));
        assert!(!r.metrics.contains_key("mystery"));
        // Built-ins absent from the catalog appear once they have samples.
        assert!(r.metrics.contains_key("http_reqs"));
        assert!(!r.metrics.contains_key("vus"));
    }

    #[test]
    fn slo_objective_validation() {
        let s = [SloSpec::new("a", SloKind::Availability, 99.9, Duration::from_secs(60))];
        let err = Analysis::new(plan(&[], &s, Options::default())).unwrap_err();
        assert!(err.to_string().contains("0.999"), "{err}");
        let s = [SloSpec::new("a", SloKind::Availability, 0.999, Duration::ZERO)];
        assert!(Analysis::new(plan(&[], &s, Options::default())).is_err());
        let mut s = SloSpec::new("a", SloKind::Latency { percentile: 95.0 }, 500.0, Duration::from_secs(60));
        s.metric = Some("http_req_failed".into());
        assert!(Analysis::new(plan(&[], &[s], Options::default())).is_err());
    }

    #[test]
    fn plan_for_run_uses_the_runs_catalog_range_and_duration() {
        let meta = RunMeta {
            id: slo_model::RunId("r".into()),
            created_ns: 0,
            start_ns: Some(10 * S),
            end_ns: Some(20 * S),
            duration_s: Some(12.5),
            duration_source: Some("wall clock".into()),
            status: RunStatus::Complete,
            origin: "slo run".into(),
            scenario: None,
            tags: Default::default(),
            metrics: vec![MetricInfo { name: "items".into(), kind: MetricType::Counter, contains: ValueType::Default }],
            points: 2,
            slo_version: "0".into(),
        };
        let mut a = Analysis::new(Plan::for_run(&meta, &[], &[], Options::default())).unwrap();
        let tags = Tags::default();
        a.push("items", 10 * S, 20.0, &tags);
        a.push("items", 21 * S, 5.0, &tags); // after the run's end: skipped
        let r = a.finish();
        assert_eq!((r.range.start_ns, r.range.end_ns, r.range.rate_duration_s), (10 * S, 20 * S, 12.5));
        assert_eq!(r.range.rate_duration_source, "wall clock");
        match &r.metrics["items"] {
            MetricSummary::Counter(c) => assert_eq!((c.count, c.rate), (20.0, Some(20.0 / 12.5))),
            o => panic!("{o:?}"),
        }
        assert_eq!(r.points.outside_range, 1);
        assert_eq!(r.range.start, "1970-01-01T00:00:10Z");
    }
}
