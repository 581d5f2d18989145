//! Charts of a run or of a baseline-vs-candidate comparison, drawn with `plotters`'
//! SVG backend and returned as SVG strings (`<svg ... viewBox=...>...</svg>`). Every
//! function is pure: plain data in (time series, per-endpoint estimates, window
//! verdicts), SVG text out; no analysis happens here beyond arranging what it is given.
//!
//! Charts:
//!
//! | function | shows | x | y |
//! |---|---|---|---|
//! | [`latency_over_time`] | p50, p95, p99 per window, one panel each, one line per run | seconds since the run's start | ms |
//! | [`latency_spectrum`] | the percentile spectrum (HdrHistogram's plot) | percentile on a log scale of `1/(1-p)` | ms |
//! | [`endpoint_estimates`] | a statistic (p95) per endpoint with confidence-interval whiskers, one bar per run | ms | endpoint |
//! | [`traffic_over_time`] | throughput and error rate, one panel each | seconds since start | requests/s; % |
//! | [`vus_over_time`] | active virtual users | seconds since start | VUs |
//! | [`delta_intervals`] | change `candidate − baseline` per endpoint with its interval and tolerance band (forest plot) | Δ in the metric's unit | endpoint |
//! | [`slo_windows`] | one SLO's value per window, coloured by the window's verdict, with the objective | seconds since the range start | the SLO's unit |
//! | [`budget_burndown`] | remaining error budget of availability/error-rate SLOs | seconds since the range start | % of the budget |
//!
//! Runs are told apart by colour (Okabe & Ito's colour-blind-safe palette, see
//! [`RUN_COLORS`]) and named in a legend drawn above the plot. Text is left to the
//! viewer's sans-serif font (plotters estimates text widths; no font files are read).
//! Non-finite values are dropped before drawing; a chart with nothing to draw says
//! "no data" instead of drawing empty axes.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use slo_analyze::compare::ChangeVerdict;
use slo_analyze::{SloKind, SloResult, Unit, Verdict};

use crate::fmt::{format_number, format_percent, format_seconds};

/// A time series: `(seconds since the start of the run or range, value)` pairs, in time
/// order. The value's unit is stated by the field holding the series.
pub type TimeSeries = Vec<(f64, f64)>;

/// Why a chart could not be drawn. With the SVG backend writing into a `String` this
/// does not happen in practice; it carries plotters' own error text if it does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("chart '{chart}': {message}")]
pub struct ChartError {
    /// Which chart failed (the function's name).
    pub chart: &'static str,
    /// plotters' description of the failure.
    pub message: String,
}

/// Data labelled with the run it belongs to (`"baseline"`, `"candidate"`, a run id).
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled<T> {
    /// Legend text of the run.
    pub label: String,
    /// The run's data.
    pub data: T,
}

impl<T> Labeled<T> {
    /// `data` labelled `label`.
    pub fn new(label: impl Into<String>, data: T) -> Labeled<T> {
        Labeled { label: label.into(), data }
    }
}

/// One run's latency percentiles per window, in milliseconds, each point at its
/// window's start (seconds since the run's start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyPercentiles {
    /// Median (k6 `p(50)`) per window, ms.
    pub p50: TimeSeries,
    /// k6 `p(95)` per window, ms.
    pub p95: TimeSeries,
    /// k6 `p(99)` per window, ms.
    pub p99: TimeSeries,
}

/// One run's request traffic per window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    /// Requests per second in each window (window's `http_reqs` / window length).
    pub throughput: TimeSeries,
    /// Failed share of requests in each window, a ratio in `[0, 1]`
    /// (`http_req_failed` passes / total); drawn as a percentage.
    pub error_rate: TimeSeries,
}

/// One run's data for the per-run charts of an HTML report; `None` or empty series
/// leave a chart out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunCharts {
    /// Latency percentiles per window (ms).
    pub latency: Option<LatencyPercentiles>,
    /// Percentile spectrum: `(percentile in [0, 100), ms)` points, e.g. from
    /// [`spectrum_points`].
    pub spectrum: Option<Vec<(f64, f64)>>,
    /// Throughput and error rate per window.
    pub traffic: Option<Traffic>,
    /// Active VUs over time (k6 `vus` gauge), `(seconds since start, VUs)`.
    pub vus: Option<TimeSeries>,
}

/// Chart data of `slo check --format html` beyond what the [`slo_analyze::CheckReport`]
/// itself holds (the SLO window and burn-down charts come from the report).
pub type CheckCharts = RunCharts;

/// Chart data of `slo compare`'s HTML report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareCharts {
    /// The baseline run's series.
    pub baseline: RunCharts,
    /// The candidate run's series.
    pub candidate: RunCharts,
    /// Per-endpoint estimates for [`endpoint_estimates`] (index 0 baseline, 1 candidate).
    pub endpoints: Vec<EndpointEstimates>,
    /// What the estimates are, for the axis: `"p(95)"`.
    pub endpoint_statistic: String,
}

/// A point estimate with an optional confidence interval, in one unit (ms for latency).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Interval `(lower, upper)`; `None` when none was computed.
    pub interval: Option<(f64, f64)>,
}

/// One endpoint's estimates, one entry per run in the order of the chart's run labels.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointEstimates {
    /// Endpoint name (k6 `name` tag or URL).
    pub endpoint: String,
    /// Per run: the estimate, `None` when the run has no samples there.
    pub values: Vec<Option<Estimate>>,
}

/// One SLO window for [`slo_windows`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowBar {
    /// Window start, seconds since the range start.
    pub start_s: f64,
    /// Window end, seconds since the range start.
    pub end_s: f64,
    /// The window's value in the SLO's unit (ratio, ms, 1/s); `None` without data.
    pub value: Option<f64>,
    /// The window's verdict.
    pub verdict: Verdict,
}

/// One SLO judged per window, for [`slo_windows`].
#[derive(Debug, Clone, PartialEq)]
pub struct SloWindows {
    /// SLO name.
    pub name: String,
    /// What a window's value is (`"good ratio"`, `"p(95)"`, `"requests per second"`).
    pub value_label: String,
    /// Unit of values and objective; [`Unit::None`] values are ratios drawn as %.
    pub unit: Unit,
    /// The objective in `unit`.
    pub objective: f64,
    /// The objective is a minimum (availability, throughput) rather than a maximum.
    pub objective_is_minimum: bool,
    /// Nominal window length, seconds.
    pub window_s: f64,
    /// Length of the evaluated range, seconds.
    pub range_s: f64,
    /// Every window, in time order.
    pub windows: Vec<WindowBar>,
}

impl SloWindows {
    /// The windows of an SLO result, times relative to `range_start_ns` (ns since the
    /// epoch, the report's `range.start_ns`); `range_s` is the report's `range.span_s`.
    pub fn from_result(slo: &SloResult, range_start_ns: i64, range_s: f64) -> SloWindows {
        let (value_label, minimum) = match slo.kind {
            SloKind::Availability => ("good ratio".to_string(), true),
            SloKind::ErrorRate => ("error ratio".to_string(), false),
            SloKind::Latency { percentile } => (format!("p({}) latency", format_number(percentile)), false),
            SloKind::Throughput => ("throughput".to_string(), true),
        };
        let rel = |ns: i64| (ns as i128 - range_start_ns as i128) as f64 / 1e9;
        SloWindows {
            name: slo.name.clone(),
            value_label,
            unit: slo.unit,
            objective: slo.objective,
            objective_is_minimum: minimum,
            window_s: slo.window_s,
            range_s,
            windows: slo
                .windows
                .windows
                .iter()
                .map(|w| WindowBar { start_s: rel(w.span.start_ns), end_s: rel(w.span.end_ns), value: w.value, verdict: w.verdict })
                .collect(),
        }
    }
}

/// Remaining error budget of one SLO over the range, for [`budget_burndown`].
#[derive(Debug, Clone, PartialEq)]
pub struct BurnDown {
    /// SLO name and objective as the legend shows it.
    pub label: String,
    /// `(seconds since the range start, remaining budget)`: 1 = untouched, 0 = spent,
    /// negative = overspent.
    pub points: TimeSeries,
}

impl BurnDown {
    /// Cumulative burn-down of an availability or error-rate SLO: at the end of each
    /// window, `1 - (bad events so far) / (allowed bad events over the whole range)`,
    /// where the allowed count is the range budget's `allowed_errors` (SRE workbook
    /// ch. 2: budget = `(1 - objective) * events`), starting at 1 at the range start.
    /// `None` for latency and throughput SLOs, without a range budget, or with a zero
    /// budget (an objective of 100 %: any bad event spends an infinite share).
    pub fn from_result(slo: &SloResult, range_start_ns: i64) -> Option<BurnDown> {
        let total = slo.budget.as_ref()?;
        if !matches!(slo.kind, SloKind::Availability | SloKind::ErrorRate) || total.allowed_errors <= 0.0 {
            return None;
        }
        let objective = match slo.kind {
            SloKind::Availability => format!("≥ {}", format_percent(slo.objective)),
            _ => format!("≤ {} errors", format_percent(slo.objective)),
        };
        let mut points = vec![(0.0, 1.0)];
        let mut bad = 0u64;
        for w in &slo.windows.windows {
            bad += w.budget.as_ref().map_or(0, |b| b.bad);
            let t = (w.span.end_ns as i128 - range_start_ns as i128) as f64 / 1e9;
            points.push((t, 1.0 - bad as f64 / total.allowed_errors));
        }
        Some(BurnDown { label: format!("{} ({objective})", slo.name), points })
    }
}

/// Percentile-spectrum points of a sorted sample (ascending, ms): k6's percentile
/// ([`slo_analyze::percentile_sorted`]) at `x = log10(1/(1-p))` from 0 in steps of 0.05
/// up to `log10(n)`, the highest percentile `n` values resolve (`1 - 1/n`), plus the
/// maximum at that last position. Returns `(percentile in [0, 100), ms)` pairs; empty
/// for an empty sample.
pub fn spectrum_points(sorted_ms: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted_ms.len();
    if n == 0 {
        return Vec::new();
    }
    let x_top = (n.max(2) as f64).log10();
    let steps = (x_top / 0.05).floor() as usize;
    let mut out = Vec::with_capacity(steps + 2);
    for i in 0..=steps {
        let x = i as f64 * 0.05;
        let p = 1.0 - 10f64.powf(-x);
        if let Some(v) = slo_analyze::percentile_sorted(sorted_ms, p) {
            out.push((p * 100.0, v));
        }
    }
    out.push(((1.0 - 10f64.powf(-x_top)) * 100.0, sorted_ms[n - 1]));
    out
}

/// The reports' one look for axes and grids: label and description fonts, light grid
/// lines, axis colour.
trait HouseStyle {
    fn house_style(&mut self) -> &mut Self;
}

impl<'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend> HouseStyle for MeshStyle<'a, 'b, X, Y, DB> {
    fn house_style(&mut self) -> &mut Self {
        self.label_style((FONT, LABEL_SIZE).into_font().color(&TEXT))
            .axis_desc_style((FONT, DESC_SIZE).into_font().color(&TEXT))
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .max_light_lines(1)
            .axis_style(AXIS)
    }
}

/// Colours of runs in order (baseline, candidate, ...): Okabe & Ito (2008) blue,
/// vermillion, bluish green, reddish purple, orange, sky blue.
pub const RUN_COLORS: [RGBColor; 6] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
];

const PASS_COLOR: RGBColor = RGBColor(0x00, 0x9E, 0x73);
const FAIL_COLOR: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
const WARN_COLOR: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
const NODATA_COLOR: RGBColor = RGBColor(0x99, 0x99, 0x99);
const NODATA_FILL: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const AXIS: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID_BOLD: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const GRID_LIGHT: RGBColor = RGBColor(0xF0, 0xF0, 0xF0);
const FONT: &str = "sans-serif";

/// Width of every chart, px (the HTML scales it to the page).
pub const CHART_WIDTH: u32 = 960;
const LEGEND_H: u32 = 58;
/// plotters divides font sizes by 1.24 in SVG output; these are the sizes passed in.
const TITLE_SIZE: f64 = 19.0;
const LABEL_SIZE: f64 = 15.5;
const DESC_SIZE: f64 = 16.0;

fn run_color(i: usize) -> RGBColor {
    RUN_COLORS[i % RUN_COLORS.len()]
}

fn verdict_color(v: Verdict) -> RGBColor {
    match v {
        Verdict::Pass => PASS_COLOR,
        Verdict::Fail => FAIL_COLOR,
        Verdict::Warn => WARN_COLOR,
        Verdict::NoData => NODATA_COLOR,
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn err<E: std::error::Error + Send + Sync>(chart: &'static str) -> impl Fn(DrawingAreaErrorKind<E>) -> ChartError {
    move |e| ChartError { chart, message: e.to_string() }
}

/// Text as plotters should draw it: control characters dropped (the SVG backend
/// escapes `<>&"'` itself), at most `max` characters with an ellipsis.
fn clean_label(s: &str, max: usize) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Estimated width in px of `s` drawn at plotters size `size` (sans-serif averages
/// about 0.52 em per character; the SVG font size is `size / 1.24`).
fn text_width(s: &str, size: f64) -> i32 {
    (s.chars().count() as f64 * size / 1.24 * 0.52).ceil() as i32
}

fn finite(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect()
}

/// A time axis in the unit that gives round ticks: seconds up to 3 minutes, minutes up
/// to 3 hours, hours beyond; its end rounded up to a whole tick step (1, 2 or 5 times a
/// power of ten in that unit).
#[derive(Debug, Clone, Copy, PartialEq)]
struct TimeAxis {
    /// Seconds per axis unit (1, 60, 3600).
    div: f64,
    /// Unit shown in the axis description.
    unit: &'static str,
    /// End of the axis, in axis units.
    max: f64,
}

impl TimeAxis {
    fn new(max_s: f64) -> TimeAxis {
        let max_s = if max_s.is_finite() && max_s > 0.0 { max_s } else { 1.0 };
        let (div, unit) = if max_s >= 3.0 * 3600.0 {
            (3600.0, "h")
        } else if max_s >= 180.0 {
            (60.0, "min")
        } else {
            (1.0, "s")
        };
        let m = max_s / div;
        let raw = m / 8.0;
        let p = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|k| k * p).find(|st| *st >= raw).unwrap_or(10.0 * p);
        // Round up to the step, but never past a value already at a step boundary.
        let max = ((m / step) - 1e-9).ceil().max(1.0) * step;
        TimeAxis { div, unit, max }
    }

    fn x(&self, seconds: f64) -> f64 {
        seconds / self.div
    }

    fn desc(&self, from: &str) -> String {
        format!("time since {from} ({})", self.unit)
    }
}

fn pct_tick(v: &f64) -> String {
    let p = *v * 100.0;
    format!("{}%", format_number((p * 1e6).round() / 1e6))
}

fn num_tick(v: &f64) -> String {
    format_number((*v * 1e9).round() / 1e9)
}

/// Upper end of a value axis starting at 0: the largest value plus 10 %, 1 when
/// everything is 0.
fn upper(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.1
    } else {
        1.0
    }
}

fn max_of<'a>(it: impl IntoIterator<Item = &'a (f64, f64)>, f: impl Fn(&(f64, f64)) -> f64) -> f64 {
    it.into_iter().map(f).filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max)
}

/// How a legend entry and its series are drawn.
#[derive(Clone, Copy)]
enum Mark {
    Line,
    Dashed,
    Box,
}

struct LegendEntry {
    label: String,
    color: RGBColor,
    mark: Mark,
}

fn entry(label: impl Into<String>, color: RGBColor, mark: Mark) -> LegendEntry {
    LegendEntry { label: clean_label(&label.into(), 60), color, mark }
}

/// Draws the title and a one-row legend (wrapping when it runs out of width) into the
/// strip at the top of a chart.
fn draw_header(area: &Area, title: &str, entries: &[LegendEntry]) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let title_style = (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold).color(&TEXT);
    area.draw(&Text::new(clean_label(title, 110), (12, 8), title_style))?;
    let label_style = (FONT, LABEL_SIZE).into_font().color(&TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    let (w, _) = area.dim_in_pixel();
    let (mut x, mut y) = (14i32, 38i32);
    for e in entries {
        let need = 30 + text_width(&e.label, LABEL_SIZE) + 22;
        if x + need > w as i32 && x > 14 {
            x = 14;
            y += 20;
        }
        match e.mark {
            Mark::Line => {
                area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], e.color.stroke_width(3)))?;
            }
            Mark::Dashed => {
                for k in 0..3 {
                    let x0 = x + k * 9;
                    area.draw(&PathElement::new(vec![(x0, y), (x0 + 6, y)], e.color.stroke_width(3)))?;
                }
            }
            Mark::Box => {
                area.draw(&Rectangle::new([(x + 4, y - 7), (x + 20, y + 7)], e.color.filled()))?;
            }
        }
        area.draw(&Text::new(e.label.clone(), (x + 30, y), label_style.clone()))?;
        x += need;
    }
    Ok(())
}

/// An SVG of `height` px with a title, legend strip and a body drawn by `body`.
fn svg(
    chart: &'static str,
    height: u32,
    title: &str,
    entries: &[LegendEntry],
    body: impl FnOnce(&Area) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
) -> Result<String, ChartError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (CHART_WIDTH, height)).into_drawing_area();
        let e = err(chart);
        root.fill(&WHITE).map_err(&e)?;
        let rows = entries.iter().fold((14i32, 0u32), |(x, r), en| {
            let need = 30 + text_width(&en.label, LABEL_SIZE) + 22;
            if x + need > CHART_WIDTH as i32 && x > 14 {
                (14 + need, r + 1)
            } else {
                (x + need, r)
            }
        });
        let (top, rest) = root.split_vertically(LEGEND_H + rows.1 * 20);
        draw_header(&top, title, entries).map_err(&e)?;
        body(&rest).map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(buf)
}

/// The "no data" placeholder in a chart body.
fn no_data(area: &Area, what: &str) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let (w, h) = area.dim_in_pixel();
    let style = (FONT, DESC_SIZE).into_font().color(&AXIS).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Rectangle::new([(10, 4), (w as i32 - 10, h as i32 - 10)], GRID_BOLD.stroke_width(1)))?;
    area.draw(&Text::new(format!("no data: {what}"), (w as i32 / 2, h as i32 / 2), style))
}

struct Line<'a> {
    color: RGBColor,
    dashed: bool,
    points: &'a [(f64, f64)],
}

/// One time panel: x = time on `axis` (series in seconds), y over `y`, grid, axis
/// descriptions, lines.
fn time_panel(
    area: &Area,
    axis: TimeAxis,
    y: Range<f64>,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
    lines: &[Line],
    x_desc: bool,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(28)
        .margin_top(8)
        .margin_bottom(4)
        .x_label_area_size(if x_desc { 46 } else { 26 })
        .y_label_area_size(78)
        .build_cartesian_2d(0f64..axis.max, y)?;
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(y_desc).x_label_formatter(&num_tick).y_label_formatter(y_fmt).x_labels(10).y_labels(6).house_style();
    if x_desc {
        mesh.x_desc(axis.desc("start"));
    }
    mesh.draw()?;
    for (i, l) in lines.iter().enumerate() {
        let pts: Vec<(f64, f64)> = finite(l.points).into_iter().map(|(t, v)| (axis.x(t), v)).collect();
        let style = l.color.stroke_width(line_width(i, lines.len()));
        if l.dashed {
            chart.draw_series(DashedLineSeries::new(pts, 7, 5, style))?;
        } else {
            chart.draw_series(LineSeries::new(pts, style))?;
        }
    }
    Ok(())
}

/// Stroke width of run `i` of `n`: with several runs the first is drawn widest and
/// later ones narrower on top, so a run that coincides with another still shows both
/// colours.
fn line_width(i: usize, n: usize) -> u32 {
    if n > 1 && i == 0 {
        4
    } else {
        2
    }
}

fn x_extent<'a>(series: impl IntoIterator<Item = &'a [(f64, f64)]>) -> TimeAxis {
    TimeAxis::new(series.into_iter().flat_map(|s| s.iter()).map(|p| p.0).filter(|v| v.is_finite()).fold(0.0, f64::max))
}

fn run_entries<T>(runs: &[Labeled<T>]) -> Vec<LegendEntry> {
    runs.iter().enumerate().map(|(i, r)| entry(r.label.clone(), run_color(i), Mark::Line)).collect()
}

/// Latency percentiles over time: three stacked panels (p50, p95, p99), x = seconds
/// since the run's start, y = ms from 0, one line per run (colour per run, legend on
/// top). Both runs share each panel's axes so a shift reads directly.
pub fn latency_over_time(runs: &[Labeled<LatencyPercentiles>]) -> Result<String, ChartError> {
    const PANEL_H: u32 = 200;
    type Pick = fn(&LatencyPercentiles) -> &TimeSeries;
    let panels: [(&str, Pick); 3] = [("p50 (ms)", |l| &l.p50), ("p95 (ms)", |l| &l.p95), ("p99 (ms)", |l| &l.p99)];
    let x_max = x_extent(runs.iter().flat_map(|r| [&r.data.p50[..], &r.data.p95[..], &r.data.p99[..]]));
    let any = runs.iter().any(|r| !finite(&r.data.p50).is_empty() || !finite(&r.data.p95).is_empty() || !finite(&r.data.p99).is_empty());
    svg("latency_over_time", LEGEND_H + 3 * PANEL_H + 20, "Latency percentiles per window", &run_entries(runs), |area| {
        if !any {
            return no_data(area, "no latency samples");
        }
        let parts = area.split_evenly((3, 1));
        for (k, ((desc, get), part)) in panels.iter().zip(parts.iter()).enumerate() {
            let y_max = upper(max_of(runs.iter().flat_map(|r| get(&r.data).iter()), |p| p.1));
            let lines: Vec<Line> =
                runs.iter().enumerate().map(|(i, r)| Line { color: run_color(i), dashed: false, points: get(&r.data) }).collect();
            time_panel(part, x_max, 0.0..y_max, desc, &num_tick, &lines, k == 2)?;
        }
        Ok(())
    })
}

/// x position of percentile `pct` (in `[0, 100)`) on the spectrum axis:
/// `log10(1 / (1 - pct/100))` (0 → 0, 90 → 1, 99 → 2, 99.9 → 3).
pub fn spectrum_x(pct: f64) -> f64 {
    -(1.0 - pct / 100.0).log10()
}

fn spectrum_tick(x: &f64) -> String {
    let k = x.round() as i32;
    if (x - k as f64).abs() > 1e-9 {
        return String::new();
    }
    if k <= 0 {
        return "0%".into();
    }
    // 1 - 10^-k as a percentage: 90%, 99%, 99.9%, 99.99%, ...
    match k {
        1 => "90%".into(),
        2 => "99%".into(),
        k => format!("99.{}%", "9".repeat(k as usize - 2)),
    }
}

/// The latency distribution as a percentile spectrum (Gil Tene's HdrHistogram plot):
/// x = percentile on a log scale of `1/(1-p)` with ticks at 0 %, 90 %, 99 %, 99.9 %,
/// ..., y = ms from 0, one line per run. Input points are `(percentile in [0, 100),
/// ms)`; percentiles of 100 or more (the maximum itself) cannot be placed on this axis
/// and are dropped.
pub fn latency_spectrum(runs: &[Labeled<Vec<(f64, f64)>>]) -> Result<String, ChartError> {
    let series: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| finite(&r.data).into_iter().filter(|(p, _)| (0.0..100.0).contains(p)).map(|(p, v)| (spectrum_x(p), v)).collect())
        .collect();
    let any = series.iter().any(|s| !s.is_empty());
    let x_top = series.iter().flat_map(|s| s.iter()).map(|p| p.0).fold(0.0, f64::max);
    // End at the data's last percentile (at least 99 %), rounded up to a tenth of a decade.
    let x_max = ((x_top * 10.0).ceil() / 10.0).max(2.0);
    let y_max = upper(max_of(series.iter().flat_map(|s| s.iter()), |p| p.1));
    svg("latency_spectrum", LEGEND_H + 380, "Latency by percentile (log scale of 1/(1−p))", &run_entries(runs), |area| {
        if !any {
            return no_data(area, "no latency samples");
        }
        let mut chart = ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(28)
            .margin_top(8)
            .margin_bottom(4)
            .x_label_area_size(46)
            .y_label_area_size(78)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&spectrum_tick)
            // One label per decade: plotters picks step 1 when allowed x_max + 1 labels.
            .x_labels(x_max.floor() as usize + 1)
            .y_label_formatter(&num_tick)
            .y_labels(6)
            .house_style()
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            chart.draw_series(LineSeries::new(s.iter().copied(), run_color(i).stroke_width(line_width(i, series.len()))))?;
        }
        Ok(())
    })
}

/// A statistic per endpoint with confidence-interval whiskers: one horizontal bar per
/// run within each endpoint's row (colours as [`RUN_COLORS`], named by `run_labels`),
/// x = ms from 0, endpoints top to bottom in the given order, names cut at 40
/// characters. `statistic` names the estimate on the axis (`"p(95)"`).
pub fn endpoint_estimates(rows: &[EndpointEstimates], run_labels: &[&str], statistic: &str) -> Result<String, ChartError> {
    let n = rows.len();
    let runs = run_labels.len().max(rows.iter().map(|r| r.values.len()).max().unwrap_or(0)).max(1);
    let names: Vec<String> = rows.iter().map(|r| clean_label(&r.endpoint, 40)).collect();
    let label_w = names.iter().map(|s| text_width(s, LABEL_SIZE)).max().unwrap_or(40).clamp(60, 330) + 16;
    let mut x_hi = 0.0f64;
    for e in rows.iter().flat_map(|r| r.values.iter().flatten()) {
        for v in [Some(e.value), e.interval.map(|i| i.0), e.interval.map(|i| i.1)].into_iter().flatten() {
            if v.is_finite() {
                x_hi = x_hi.max(v);
            }
        }
    }
    let x_max = if x_hi > 0.0 { x_hi * 1.15 } else { 1.0 };
    let row_h = (runs as u32 * 20 + 14).max(34);
    let height = LEGEND_H + 24 + n.max(1) as u32 * row_h + 60;
    let any_interval = rows.iter().flat_map(|r| r.values.iter().flatten()).any(|e| e.interval.is_some());
    let entries: Vec<LegendEntry> = (0..runs)
        .map(|i| entry(run_labels.get(i).copied().unwrap_or("run").to_string(), run_color(i), Mark::Box))
        .chain(any_interval.then(|| entry("confidence interval", TEXT, Mark::Line)))
        .collect();
    let title = if any_interval {
        format!("{} by endpoint, with confidence intervals", clean_label(statistic, 20))
    } else {
        format!("{} by endpoint", clean_label(statistic, 20))
    };
    svg("endpoint_estimates", height, &title, &entries, |area| {
        if n == 0 {
            return no_data(area, "no endpoints");
        }
        let mut chart = ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(28)
            .margin_top(8)
            .margin_bottom(4)
            .x_label_area_size(46)
            .y_label_area_size(label_w as u32)
            .build_cartesian_2d(0f64..x_max, 0f64..n as f64)?;
        chart
            .configure_mesh()
            .x_desc(format!("{} (ms)", clean_label(statistic, 20)))
            .x_label_formatter(&num_tick)
            .y_labels(0)
            .x_labels(8)
            .disable_y_mesh()
            .house_style()
            .draw()?;
        let band = 0.8 / runs as f64;
        row_names(area, &chart, &names, (0.0, x_max))?;
        for (row, r) in rows.iter().enumerate() {
            // Row 0 at the top.
            let base = (n - 1 - row) as f64 + 0.9;
            for (k, est) in r.values.iter().enumerate() {
                let y1 = base - k as f64 * band;
                let y0 = y1 - band * 0.85;
                let mid = (y0 + y1) / 2.0;
                let Some(est) = est else {
                    chart.draw_series(std::iter::once(Text::new(
                        "no samples",
                        (x_max * 0.005, mid),
                        (FONT, LABEL_SIZE * 0.85).into_font().color(&AXIS).pos(Pos::new(HPos::Left, VPos::Center)),
                    )))?;
                    continue;
                };
                if !est.value.is_finite() {
                    continue;
                }
                let c = run_color(k);
                chart.draw_series(std::iter::once(Rectangle::new([(0.0, y0), (est.value, y1)], c.mix(0.85).filled())))?;
                let mut right = est.value;
                if let Some((lo, hi)) = est.interval.filter(|(a, b)| a.is_finite() && b.is_finite()) {
                    let tick = band * 0.3;
                    let s = TEXT.stroke_width(2);
                    chart.draw_series(std::iter::once(PathElement::new(vec![(lo, mid), (hi, mid)], s)))?;
                    chart.draw_series(std::iter::once(PathElement::new(vec![(lo, mid - tick), (lo, mid + tick)], s)))?;
                    chart.draw_series(std::iter::once(PathElement::new(vec![(hi, mid - tick), (hi, mid + tick)], s)))?;
                    right = right.max(hi);
                }
                chart.draw_series(std::iter::once(Text::new(
                    format!("{} ms", format_number(est.value)),
                    (right + x_max * 0.008, mid),
                    (FONT, LABEL_SIZE * 0.9).into_font().color(&TEXT).pos(Pos::new(HPos::Left, VPos::Center)),
                )))?;
            }
        }
        Ok(())
    })
}

/// One endpoint's change for [`delta_intervals`], in one unit.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaRow {
    /// Endpoint name (or `"all requests"`).
    pub endpoint: String,
    /// Estimated change `candidate − baseline`; `None` when it could not be computed.
    pub delta: Option<f64>,
    /// Confidence interval of the change `(lower, upper)`.
    pub interval: Option<(f64, f64)>,
    /// Half-width of the noise-tolerance band around 0 (same unit, ≥ 0).
    pub tolerance: f64,
    /// The comparison's verdict on this change (colours the interval).
    pub verdict: ChangeVerdict,
}

fn change_color(v: ChangeVerdict) -> RGBColor {
    match v {
        ChangeVerdict::Regressed => FAIL_COLOR,
        ChangeVerdict::Improved => RGBColor(0x00, 0x72, 0xB2),
        ChangeVerdict::Unchanged => AXIS,
        ChangeVerdict::Inconclusive => WARN_COLOR,
    }
}

/// Left-aligned row names drawn right-aligned beside the plot of a horizontal chart,
/// with a separator between rows; row 0 at the top of `0..n`.
fn row_names<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &ChartContext<DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    names: &[String],
    x_range: (f64, f64),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = names.len();
    let (bx, by) = area.get_base_pixel();
    let style = (FONT, LABEL_SIZE).into_font().color(&TEXT).pos(Pos::new(HPos::Right, VPos::Center));
    let (lx, _) = chart.backend_coord(&(x_range.0, 0.0));
    let (rx, _) = chart.backend_coord(&(x_range.1, 0.0));
    for (row, name) in names.iter().enumerate() {
        let (_, py) = chart.backend_coord(&(x_range.0, (n - 1 - row) as f64 + 0.5));
        area.draw(&Text::new(name.clone(), (lx - bx - 8, py - by), style.clone()))?;
        if row > 0 {
            let (_, ly) = chart.backend_coord(&(x_range.0, (n - row) as f64));
            area.draw(&PathElement::new(vec![(lx - bx, ly - by), (rx - bx, ly - by)], GRID_BOLD.stroke_width(1)))?;
        }
    }
    Ok(())
}

/// Change per endpoint with its confidence interval (a forest plot): x = `candidate −
/// baseline` in `unit` (ratios as percentage points), a line at 0, each endpoint's
/// tolerance band shaded grey, the interval as a whisker and the estimate as a dot,
/// coloured by the verdict (regressed vermillion, improved blue, unchanged grey,
/// inconclusive orange). `what` names the metric (`"p(95)"`).
pub fn delta_intervals(rows: &[DeltaRow], what: &str, unit: Unit) -> Result<String, ChartError> {
    let n = rows.len();
    let names: Vec<String> = rows.iter().map(|r| clean_label(&r.endpoint, 40)).collect();
    let label_w = names.iter().map(|s| text_width(s, LABEL_SIZE)).max().unwrap_or(40).clamp(60, 330) + 16;
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for r in rows {
        let t = if r.tolerance.is_finite() { r.tolerance.abs() } else { 0.0 };
        for v in [Some(-t), Some(t), r.delta, r.interval.map(|i| i.0), r.interval.map(|i| i.1)].into_iter().flatten() {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if hi - lo <= 0.0 {
        (lo, hi) = (-1.0, 1.0);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad);
    let row_h = 38u32;
    let height = LEGEND_H + 24 + n.max(1) as u32 * row_h + 60;
    let entries = vec![
        entry("regressed", FAIL_COLOR, Mark::Line),
        entry("improved", change_color(ChangeVerdict::Improved), Mark::Line),
        entry("unchanged", AXIS, Mark::Line),
        entry("inconclusive", WARN_COLOR, Mark::Line),
        entry("tolerance band", NODATA_FILL, Mark::Box),
    ];
    let (scale, unit_name) = match unit {
        Unit::None => (100.0, "percentage points"),
        u => (1.0, unit_desc(u)),
    };
    let what = clean_label(what, 30);
    let title = format!("Change in {what} by endpoint (candidate − baseline), with confidence intervals");
    let x_desc = format!("Δ {what} ({unit_name})");
    let x_fmt = move |v: &f64| num_tick(&(v * scale));
    svg("delta_intervals", height, &title, &entries, |area| {
        if n == 0 {
            return no_data(area, "no endpoints");
        }
        let mut chart = ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(28)
            .margin_top(8)
            .margin_bottom(4)
            .x_label_area_size(46)
            .y_label_area_size(label_w as u32)
            .build_cartesian_2d(lo..hi, 0f64..n as f64)?;
        chart
            .configure_mesh()
            .x_desc(x_desc.as_str())
            .x_label_formatter(&x_fmt)
            .y_labels(0)
            .x_labels(10)
            .disable_y_mesh()
            .house_style()
            .draw()?;
        row_names(area, &chart, &names, (lo, hi))?;
        for (row, r) in rows.iter().enumerate() {
            let mid = (n - 1 - row) as f64 + 0.5;
            let t = if r.tolerance.is_finite() { r.tolerance.abs() } else { 0.0 };
            if t > 0.0 {
                chart.draw_series(std::iter::once(Rectangle::new([(-t, mid - 0.3), (t, mid + 0.3)], NODATA_FILL.filled())))?;
            }
            let c = change_color(r.verdict);
            if let Some((a, b)) = r.interval.filter(|(a, b)| a.is_finite() && b.is_finite()) {
                let s = c.stroke_width(3);
                chart.draw_series(std::iter::once(PathElement::new(vec![(a, mid), (b, mid)], s)))?;
                chart.draw_series(std::iter::once(PathElement::new(vec![(a, mid - 0.18), (a, mid + 0.18)], s)))?;
                chart.draw_series(std::iter::once(PathElement::new(vec![(b, mid - 0.18), (b, mid + 0.18)], s)))?;
            }
            match r.delta.filter(|d| d.is_finite()) {
                Some(d) => {
                    chart.draw_series(std::iter::once(Circle::new((d, mid), 5, c.filled())))?;
                }
                None => {
                    chart.draw_series(std::iter::once(Text::new(
                        "no estimate",
                        (lo + (hi - lo) * 0.01, mid),
                        (FONT, LABEL_SIZE * 0.85).into_font().color(&AXIS).pos(Pos::new(HPos::Left, VPos::Center)),
                    )))?;
                }
            }
        }
        chart.draw_series(std::iter::once(PathElement::new(vec![(0.0, 0.0), (0.0, n as f64)], TEXT.stroke_width(1))))?;
        Ok(())
    })
}

/// Throughput (requests/s, from 0) and error rate (% of requests, from 0) over time,
/// two stacked panels sharing the time axis, one line per run.
pub fn traffic_over_time(runs: &[Labeled<Traffic>]) -> Result<String, ChartError> {
    const PANEL_H: u32 = 220;
    let x_max = x_extent(runs.iter().flat_map(|r| [&r.data.throughput[..], &r.data.error_rate[..]]));
    let any = runs.iter().any(|r| !finite(&r.data.throughput).is_empty() || !finite(&r.data.error_rate).is_empty());
    svg("traffic_over_time", LEGEND_H + 2 * PANEL_H + 20, "Throughput and error rate per window", &run_entries(runs), |area| {
        if !any {
            return no_data(area, "no requests");
        }
        let (top, bottom) = area.split_vertically(PANEL_H);
        let t_max = upper(max_of(runs.iter().flat_map(|r| r.data.throughput.iter()), |p| p.1));
        let lines: Vec<Line> =
            runs.iter().enumerate().map(|(i, r)| Line { color: run_color(i), dashed: false, points: &r.data.throughput }).collect();
        time_panel(&top, x_max, 0.0..t_max, "requests/s", &num_tick, &lines, false)?;
        // At least 1 % tall so a clean run's flat 0 % line sits on a readable axis.
        let e_max = upper(max_of(runs.iter().flat_map(|r| r.data.error_rate.iter()), |p| p.1)).clamp(0.01, 1.0);
        let lines: Vec<Line> =
            runs.iter().enumerate().map(|(i, r)| Line { color: run_color(i), dashed: false, points: &r.data.error_rate }).collect();
        time_panel(&bottom, x_max, 0.0..e_max, "errors (% of requests)", &pct_tick, &lines, true)
    })
}

/// Active virtual users over time, one line per run, y from 0.
pub fn vus_over_time(runs: &[Labeled<TimeSeries>]) -> Result<String, ChartError> {
    let x_max = x_extent(runs.iter().map(|r| &r.data[..]));
    let any = runs.iter().any(|r| !finite(&r.data).is_empty());
    let y_max = upper(max_of(runs.iter().flat_map(|r| r.data.iter()), |p| p.1));
    svg("vus_over_time", LEGEND_H + 260, "Virtual users", &run_entries(runs), |area| {
        if !any {
            return no_data(area, "no vus samples");
        }
        let lines: Vec<Line> = runs.iter().enumerate().map(|(i, r)| Line { color: run_color(i), dashed: false, points: &r.data }).collect();
        time_panel(area, x_max, 0.0..y_max, "VUs", &num_tick, &lines, true)
    })
}

fn unit_desc(unit: Unit) -> &'static str {
    match unit {
        Unit::None => "%",
        Unit::Millis => "ms",
        Unit::PerSecond => "1/s",
        Unit::Bytes => "bytes",
        Unit::BytesPerSecond => "bytes/s",
    }
}

fn unit_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::None => format_percent(v),
        u => crate::fmt::format_value(v, u),
    }
}

/// One SLO per window: a bar per window from the axis floor to the window's value,
/// green when the window complies, vermillion when it violates, grey (full height,
/// faint) without data; the objective as a dashed line. Ratios (availability, error
/// rate) are drawn as %; an availability axis starts just below the lowest of the
/// values and the objective, so 99.5 % vs 99.9 % stays visible.
pub fn slo_windows(slo: &SloWindows) -> Result<String, ChartError> {
    let values: Vec<f64> = slo.windows.iter().filter_map(|w| w.value).filter(|v| v.is_finite()).collect();
    let (lo, hi) = if slo.unit == Unit::None && slo.objective_is_minimum {
        let m = values.iter().copied().fold(slo.objective, f64::min).clamp(0.0, 1.0);
        let gap = (1.0 - m).max(1e-4);
        ((m - gap * 0.6).max(0.0), 1.0 + gap * 0.08)
    } else {
        let m = values.iter().copied().fold(slo.objective, f64::max);
        let hi = upper(m);
        (0.0, if slo.unit == Unit::None { hi.min(1.0) } else { hi })
    };
    let range = slo.range_s.max(slo.windows.last().map_or(0.0, |w| w.end_s)).max(1e-3);
    let axis = TimeAxis::new(range);
    let objective = format!("objective {} {}", if slo.objective_is_minimum { "≥" } else { "≤" }, unit_value(slo.objective, slo.unit));
    let entries = vec![
        entry("compliant window", PASS_COLOR, Mark::Box),
        entry("violating window", FAIL_COLOR, Mark::Box),
        entry("no data", NODATA_FILL, Mark::Box),
        entry(objective, TEXT, Mark::Dashed),
    ];
    let title = format!("SLO “{}”: {} per {} window", clean_label(&slo.name, 60), slo.value_label, format_seconds(slo.window_s));
    let y_desc = format!("{} ({})", slo.value_label, unit_desc(slo.unit));
    svg("slo_windows", LEGEND_H + 280, &title, &entries, |area| {
        if slo.windows.is_empty() {
            return no_data(area, "no windows");
        }
        let fmt: &dyn Fn(&f64) -> String = if slo.unit == Unit::None { &pct_tick } else { &num_tick };
        let mut chart = ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(28)
            .margin_top(8)
            .margin_bottom(4)
            .x_label_area_size(46)
            .y_label_area_size(78)
            .build_cartesian_2d(0f64..axis.max, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc(axis.desc("range start"))
            .y_desc(y_desc.as_str())
            .x_label_formatter(&num_tick)
            .y_label_formatter(fmt)
            .x_labels(10)
            .y_labels(6)
            .disable_x_mesh()
            .house_style()
            .draw()?;
        // Plot width ≈ CHART_WIDTH minus label area and margins; leave a 1 px gap between
        // bars when a window is wider than 4 px.
        let px_per_s = (CHART_WIDTH as f64 - 116.0) / (axis.max * axis.div);
        let gap = if slo.windows.iter().all(|w| (w.end_s - w.start_s) * px_per_s > 4.0) { 1.0 / px_per_s } else { 0.0 };
        chart.draw_series(slo.windows.iter().map(|w| {
            let (x0, x1) = (axis.x(w.start_s + gap), axis.x((w.end_s - gap).max(w.start_s + gap)));
            match w.value.filter(|v| v.is_finite()) {
                Some(v) => Rectangle::new([(x0, lo), (x1, v.clamp(lo, hi))], verdict_color(w.verdict).filled()),
                None => Rectangle::new([(x0, lo), (x1, hi)], NODATA_FILL.filled()),
            }
        }))?;
        chart.draw_series(DashedLineSeries::new(vec![(0.0, slo.objective), (axis.x(range), slo.objective)], 8, 5, TEXT.stroke_width(2)))?;
        Ok(())
    })
}

/// Error-budget burn-down over the range: remaining budget (100 % = untouched, 0 % =
/// spent, below 0 = overspent) after each window, one line per SLO, against the even
/// burn that spends exactly the budget by the range end (a straight line from 100 % at
/// 0 to 0 % at `range_s`). `range_s` is the range length in seconds.
pub fn budget_burndown(slos: &[BurnDown], range_s: f64) -> Result<String, ChartError> {
    let range = slos
        .iter()
        .flat_map(|b| b.points.iter())
        .map(|p| p.0)
        .filter(|v| v.is_finite())
        .fold(if range_s.is_finite() { range_s } else { 0.0 }, f64::max)
        .max(1e-3);
    let axis = TimeAxis::new(range);
    let lowest = slos.iter().flat_map(|b| b.points.iter()).map(|p| p.1).filter(|v| v.is_finite()).fold(0.0, f64::min);
    let lo = if lowest < 0.0 { lowest - 0.1 * (1.0 - lowest) } else { -0.1 };
    let mut entries: Vec<LegendEntry> = slos.iter().enumerate().map(|(i, b)| entry(b.label.clone(), run_color(i), Mark::Line)).collect();
    entries.push(entry("even burn over the range", NODATA_COLOR, Mark::Dashed));
    svg("budget_burndown", LEGEND_H + 300, "Error budget remaining", &entries, |area| {
        if slos.iter().all(|b| finite(&b.points).is_empty()) {
            return no_data(area, "no availability or error-rate SLO with a budget");
        }
        let mut chart = ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(28)
            .margin_top(8)
            .margin_bottom(4)
            .x_label_area_size(46)
            .y_label_area_size(78)
            .build_cartesian_2d(0f64..axis.max, lo..1.08)?;
        chart
            .configure_mesh()
            .x_desc(axis.desc("range start"))
            .y_desc("budget remaining (%)")
            .x_label_formatter(&num_tick)
            .y_label_formatter(&pct_tick)
            .x_labels(10)
            .y_labels(8)
            .house_style()
            .draw()?;
        chart.draw_series(LineSeries::new(vec![(0.0, 0.0), (axis.max, 0.0)], AXIS.stroke_width(1)))?;
        chart.draw_series(DashedLineSeries::new(vec![(0.0, 1.0), (axis.x(range), 0.0)], 7, 5, NODATA_COLOR.stroke_width(2)))?;
        for (i, b) in slos.iter().enumerate() {
            let pts: Vec<(f64, f64)> = finite(&b.points).into_iter().map(|(t, v)| (axis.x(t), v)).collect();
            chart.draw_series(LineSeries::new(pts, run_color(i).stroke_width(3)))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_axis_places_decades() {
        // log10(1/(1-p)): 0 % → 0, 90 % → 1, 99 % → 2, 99.9 % → 3 (by hand).
        assert_eq!(spectrum_x(0.0), 0.0);
        assert!((spectrum_x(90.0) - 1.0).abs() < 1e-12);
        assert!((spectrum_x(99.0) - 2.0).abs() < 1e-9);
        assert!((spectrum_x(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(spectrum_tick(&0.0), "0%");
        assert_eq!(spectrum_tick(&1.0), "90%");
        assert_eq!(spectrum_tick(&2.0), "99%");
        assert_eq!(spectrum_tick(&3.0), "99.9%");
        assert_eq!(spectrum_tick(&5.0), "99.999%");
        assert_eq!(spectrum_tick(&1.5), "");
    }

    #[test]
    fn spectrum_points_follow_k6_percentiles() {
        // 1..=100 ms: k6's p(0) = 1, p(90) = 1 + 0.9*99 = 90.1, last point = max 100.
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let pts = spectrum_points(&v);
        assert_eq!(pts[0], (0.0, 1.0));
        let p90 = pts.iter().find(|(p, _)| (p - 90.0).abs() < 1e-9).expect("p90 on the grid");
        assert!((p90.1 - 90.1).abs() < 1e-9);
        assert_eq!(*pts.last().unwrap(), (99.0, 100.0));
        assert!(spectrum_points(&[]).is_empty());
    }

    #[test]
    fn ticks_read_as_durations_and_percentages() {
        // 570 s → minutes, step 2 (9.5/8 → 2), end 10 min; 45 s → seconds, step 10, end 50;
        // 5 h → hours, step 1, end 5 (by hand).
        assert_eq!(TimeAxis::new(570.0), TimeAxis { div: 60.0, unit: "min", max: 10.0 });
        assert_eq!(TimeAxis::new(45.0), TimeAxis { div: 1.0, unit: "s", max: 50.0 });
        assert_eq!(TimeAxis::new(5.0 * 3600.0), TimeAxis { div: 3600.0, unit: "h", max: 5.0 });
        assert_eq!(TimeAxis::new(600.0).max, 10.0);
        assert_eq!(num_tick(&(0.1 + 0.2)), "0.3");
        assert_eq!(pct_tick(&0.999), "99.9%");
        assert_eq!(pct_tick(&-0.5), "-50%");
    }

    #[test]
    fn labels_lose_control_chars_and_get_cut() {
        assert_eq!(clean_label("a\u{7}b", 10), "ab");
        assert_eq!(clean_label("abcdefghij", 5), "abcd…");
    }

    #[test]
    fn charts_are_svg_with_labels_escaped() {
        let runs =
            [Labeled::new("baseline <b>", vec![(0.0, 1.0), (10.0, 3.0)]), Labeled::new("candidate", vec![(0.0, 2.0), (10.0, f64::NAN)])];
        let s = vus_over_time(&runs).unwrap();
        assert!(s.starts_with("<svg"), "{}", &s[..60]);
        assert!(s.contains("viewBox=\"0 0 960 "));
        assert!(s.contains("baseline &lt;b&gt;"));
        assert!(!s.contains("<b>"));
        assert!(!s.contains("NaN"));
        assert!(s.contains(">\nVUs\n<") || s.contains("VUs"));
    }

    #[test]
    fn empty_input_says_no_data() {
        let s = vus_over_time(&[Labeled::new("run", vec![])]).unwrap();
        assert!(s.contains("no data: no vus samples"));
        let s = endpoint_estimates(&[], &["baseline"], "p(95)").unwrap();
        assert!(s.contains("no data: no endpoints"));
    }

    #[test]
    fn burndown_counts_bad_events_against_the_range_budget() {
        use slo_analyze::{ErrorBudget, WindowSpan, WindowValue, WindowedResult};
        // 3 windows of 100 events at 99 % → range budget 3 allowed errors (by hand).
        let w = |i: usize, bad: u64| WindowValue {
            span: WindowSpan {
                index: i,
                start_ns: i as i64 * 60_000_000_000,
                end_ns: (i as i64 + 1) * 60_000_000_000,
                length_s: 60.0,
                clipped: false,
            },
            samples: 100,
            value: Some(1.0 - bad as f64 / 100.0),
            verdict: if bad <= 1 { Verdict::Pass } else { Verdict::Fail },
            budget: ErrorBudget::from_counts(100, bad, 0.99),
        };
        let slo = SloResult {
            name: "avail".into(),
            kind: SloKind::Availability,
            metric_key: "http_req_failed".into(),
            objective: 0.99,
            unit: Unit::None,
            window_s: 60.0,
            clipped: false,
            min_samples: 1,
            verdict: Verdict::Fail,
            reason: None,
            budget: ErrorBudget::from_counts(300, 4, 0.99),
            windows: WindowedResult {
                window_s: 60.0,
                windows_total: 3,
                windows_with_data: 3,
                windows_compliant: 2,
                compliant_share: Some(2.0 / 3.0),
                worst: Some(1),
                verdict: Verdict::Fail,
                windows: vec![w(0, 0), w(1, 3), w(2, 1)],
            },
        };
        let b = BurnDown::from_result(&slo, 0).unwrap();
        let expect = [(0.0, 1.0), (60.0, 1.0), (120.0, 0.0), (180.0, -1.0 / 3.0)];
        assert_eq!(b.points.len(), 4);
        for ((t, r), (et, er)) in b.points.iter().zip(expect) {
            assert_eq!(*t, et);
            assert!((r - er).abs() < 1e-9, "{r} vs {er}");
        }
        assert_eq!(b.label, "avail (≥ 99%)");
        let sw = SloWindows::from_result(&slo, 0, 180.0);
        assert_eq!(sw.windows[1], WindowBar { start_s: 60.0, end_s: 120.0, value: Some(0.97), verdict: Verdict::Fail });
        assert!(sw.objective_is_minimum);
        let svg = slo_windows(&sw).unwrap();
        // One bar per window in the verdict colours (plotters writes #RRGGBB fills).
        assert_eq!(svg.matches("fill=\"#009E73\"").count() - 1, 2, "2 compliant bars + 1 legend box");
        assert_eq!(svg.matches("fill=\"#D55E00\"").count() - 1, 1);
        assert!(budget_burndown(&[b], 180.0).unwrap().contains("avail (≥ 99%)"));
    }
}
