//! Self-contained HTML reports: one file with an inline `<style>` and inline SVG charts
//! ([`crate::charts`]); no scripts, no fonts, nothing fetched over the network, so it
//! opens from a CI artifact or an e-mail attachment and prints cleanly (print CSS keeps
//! the verdict colours, avoids breaking a chart across pages).
//!
//! Order, for people who read the top and stop: the verdict first, then the table
//! (thresholds and SLOs, or per-endpoint changes), then the charts, then the run
//! metadata. Every string that comes from data (run ids, metric keys with tag values,
//! SLO names, URLs, notes) goes through [`xml_escape`], so a tag value
//! `<script>alert(1)</script>` is shown as text.
//!
//! [`render_check_html`] renders `slo check --format html`; [`render_compare_html`]
//! renders `slo compare`'s report.

use std::fmt::Write as _;

use slo_analyze::compare::{ChangeVerdict, Comparison, EndpointComparison, MetricComparison, MetricKind};
use slo_analyze::{CheckReport, MetricSummary, RunInfo, SloResult, ThresholdResult, Unit, Verdict};
use slo_model::RunStatus;

use crate::charts::{self, BurnDown, ChartError, CompareCharts, DeltaRow, EndpointEstimates, Estimate, Labeled, RunCharts, SloWindows};
use crate::fmt::{format_number, format_percent, format_seconds, format_value, xml_escape as esc};

/// What `slo compare` found, with what the HTML report shows beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonView {
    /// The comparison itself (values, deltas, intervals, p-values, verdicts).
    pub comparison: Comparison,
    /// The baseline run's metadata, when known.
    pub baseline_run: Option<RunInfo>,
    /// The candidate run's metadata, when known.
    pub candidate_run: Option<RunInfo>,
    /// Where the two runs are not comparable (different load profile, achieved vs
    /// intended rate, dropped iterations, generator version), one sentence each; shown
    /// right under the verdict.
    pub comparability: Vec<String>,
    /// Other remarks a reader must see.
    pub notes: Vec<String>,
}

impl ComparisonView {
    /// A view of `comparison` without run metadata or remarks.
    pub fn new(comparison: Comparison) -> ComparisonView {
        ComparisonView { comparison, baseline_run: None, candidate_run: None, comparability: Vec::new(), notes: Vec::new() }
    }
}

const CSS: &str = r#"
:root{--pass:#00704a;--fail:#b3261e;--warn:#8a5300;--nodata:#5f5f5f;--improved:#005a8e;--line:#e1e1e6;--muted:#5c5c66}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d1d22;background:#fff;margin:0 auto;max-width:1200px;padding:24px 28px 48px}
h1{font-size:22px;margin:0 0 4px;font-weight:650}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
p{margin:6px 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.9em;overflow-wrap:break-word}
.verdict{display:flex;gap:20px;align-items:center;border:2px solid var(--c);border-left-width:10px;border-radius:10px;padding:14px 18px;background:var(--bg)}
.verdict .badge{flex:none;font-weight:800;font-size:26px;letter-spacing:.04em;color:#fff;background:var(--c);border-radius:8px;padding:6px 14px}
.verdict .sub{color:var(--muted)}
.v-pass{--c:var(--pass);--bg:#eaf6f0}.v-fail{--c:var(--fail);--bg:#fbeceb}.v-warn{--c:var(--warn);--bg:#fdf3e4}.v-nodata{--c:var(--nodata);--bg:#f1f1f3}
.v-regressed{--c:var(--fail);--bg:#fbeceb}.v-improved{--c:var(--improved);--bg:#e8f1f8}.v-unchanged{--c:var(--pass);--bg:#eaf6f0}.v-inconclusive{--c:var(--warn);--bg:#fdf3e4}
.box{border:1px solid var(--line);border-left:6px solid var(--warn);border-radius:6px;padding:8px 14px;margin:14px 0;background:#fffaf1}
.box ul{margin:4px 0;padding-left:20px}
.wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:14px;margin:6px 0 14px}
th,td{padding:6px 7px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f4f4f7;font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody.group td{border-bottom-color:#f0f0f3}tbody.group tr:last-child td{border-bottom:1px solid #c9c9d1}
.st{font-weight:700;white-space:nowrap}
.s-pass,.s-unchanged{color:var(--pass)}.s-fail,.s-regressed{color:var(--fail)}.s-warn,.s-inconclusive{color:var(--warn)}.s-nodata{color:var(--nodata)}.s-improved{color:var(--improved)}
.small{font-size:12.5px;color:var(--muted)}
.reason{display:block;font-size:12.5px;color:var(--muted);font-weight:400;white-space:normal;max-width:30em}
figure.chart{margin:0 0 22px;border:1px solid var(--line);border-radius:8px;padding:6px;break-inside:avoid;page-break-inside:avoid}
figure.chart svg{display:block;width:100%;height:auto}
figure.chart figcaption{font-size:13px;color:var(--muted);padding:2px 6px 4px}
.chart-error{color:var(--fail)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:anywhere}
footer{margin-top:36px;font-size:12.5px;color:var(--muted);border-top:1px solid var(--line);padding-top:8px}
@media print{
 body{max-width:none;padding:0;font-size:10.5pt}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 h2{break-after:avoid;page-break-after:avoid}
 tr{break-inside:avoid}
 .wrap{overflow:visible}
 table{font-size:9pt}
 figure.chart{border:none;padding:0}
}
@page{margin:14mm}
"#;

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
        Verdict::NoData => "nodata",
    }
}

fn change_class(v: ChangeVerdict) -> &'static str {
    match v {
        ChangeVerdict::Regressed => "regressed",
        ChangeVerdict::Improved => "improved",
        ChangeVerdict::Unchanged => "unchanged",
        ChangeVerdict::Inconclusive => "inconclusive",
    }
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"slo {}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
}

fn foot(out: &mut String) {
    let _ = write!(
        out,
        "<footer>Generated by slo {}. This file is self-contained: no scripts, nothing loaded from the network.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
}

/// A time in ns since the epoch as RFC 3339 UTC with milliseconds.
fn time_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn status_label(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Complete => "complete",
        RunStatus::Running => "incomplete (still recording or crashed)",
        RunStatus::Interrupted => "interrupted",
    }
}

fn chart(out: &mut String, svg: Result<String, ChartError>, caption: &str) {
    out.push_str("<figure class=\"chart\">\n");
    match svg {
        Ok(s) => out.push_str(&s),
        Err(e) => {
            let _ = write!(out, "<p class=\"chart-error\">{}</p>", esc(&e.to_string()));
        }
    }
    if !caption.is_empty() {
        let _ = write!(out, "<figcaption>{}</figcaption>", esc(caption));
    }
    out.push_str("</figure>\n");
}

fn notes_box(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(out, "<div class=\"box\"><strong>{}</strong>\n<ul>\n", esc(heading));
    for n in items {
        let _ = writeln!(out, "<li>{}</li>", esc(n));
    }
    out.push_str("</ul></div>\n");
}

/// Per-run charts of `runs` (one entry per run, labelled), the ones with data.
fn run_charts(out: &mut String, runs: &[(&str, &RunCharts)]) {
    let lat: Vec<_> = runs.iter().filter_map(|(l, r)| r.latency.clone().map(|d| Labeled::new(*l, d))).collect();
    if !lat.is_empty() {
        chart(out, charts::latency_over_time(&lat), "k6 p(50), p(95) and p(99) of http_req_duration in each window, milliseconds.");
    }
    let spec: Vec<_> = runs.iter().filter_map(|(l, r)| r.spectrum.clone().map(|d| Labeled::new(*l, d))).collect();
    if !spec.is_empty() {
        chart(
            out,
            charts::latency_spectrum(&spec),
            "http_req_duration at each percentile; the x axis stretches the tail (each step is ten times closer to 100 %).",
        );
    }
    let tr: Vec<_> = runs.iter().filter_map(|(l, r)| r.traffic.clone().map(|d| Labeled::new(*l, d))).collect();
    if !tr.is_empty() {
        chart(out, charts::traffic_over_time(&tr), "Requests per second and failed share of requests (http_req_failed) in each window.");
    }
    let vus: Vec<_> = runs.iter().filter_map(|(l, r)| r.vus.clone().map(|d| Labeled::new(*l, d))).collect();
    if !vus.is_empty() {
        chart(out, charts::vus_over_time(&vus), "Active virtual users (k6 vus gauge).");
    }
}

// ---------------------------------------------------------------------------------
// slo check
// ---------------------------------------------------------------------------------

/// The text renderers' cells: one wording of observed values, margins, objectives and
/// SLO details for every format. `–` for no margin in HTML, as typeset.
fn t_observed(t: &ThresholdResult) -> String {
    crate::check::observed(t)
}

fn t_margin(t: &ThresholdResult) -> String {
    t.margin.map(|_| crate::check::margin(t)).unwrap_or_else(|| "–".into())
}

fn slo_objective(s: &SloResult) -> String {
    crate::check::objective(s).replace(">=", "≥").replace("<=", "≤")
}

use crate::check::{slo_detail, slo_observed};

/// A metric key escaped, with line-break opportunities before `{` and after each `,`
/// and `:` of its tag filter, so long sub-metric keys wrap between tags, not inside
/// words.
fn key_html(k: &str) -> String {
    let mut out = String::with_capacity(k.len() + 16);
    for c in k.chars() {
        if c == '{' {
            out.push_str("<wbr>");
        }
        out.push_str(&esc(c.encode_utf8(&mut [0; 4])));
        if c == ',' || c == ':' {
            out.push_str("<wbr>");
        }
    }
    out
}

fn status_cell(v: Verdict) -> String {
    format!("<td class=\"st s-{}\">{}</td>", verdict_class(v), v.label())
}

fn opt_value(v: Option<f64>, u: Unit) -> String {
    v.map(|x| format_value(x, u)).unwrap_or_else(|| "–".into())
}

fn check_tables(out: &mut String, r: &CheckReport) {
    if !r.thresholds.is_empty() {
        out.push_str("<h2>Thresholds</h2>\n<div class=\"wrap\"><table>\n<thead><tr><th>Status</th><th>Metric</th><th>Threshold</th><th class=\"num\">Observed</th><th class=\"num\">Margin</th><th class=\"num\">Samples</th><th>Detail</th></tr></thead>\n<tbody>\n");
        for t in &r.thresholds {
            let mut detail = Vec::new();
            if let Some(w) = &t.windows {
                let worst = w.worst.and_then(|i| w.windows.get(i)).and_then(|x| x.value.map(|v| (x, v)));
                let mut s = format!("{}/{} windows of {} compliant", w.windows_compliant, w.windows_with_data, format_seconds(w.window_s));
                if let Some((x, v)) = worst {
                    let _ = write!(s, ", worst {} at {}", format_value(v, t.unit), time_ns(x.span.start_ns));
                }
                detail.push(s);
            }
            if let Some(reason) = &t.reason {
                detail.push(reason.clone());
            }
            if t.abort_on_fail {
                detail.push("abortOnFail".into());
            }
            let _ = writeln!(
                out,
                "<tr>{}<td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                status_cell(t.verdict),
                key_html(&t.metric_key),
                esc(&t.expression),
                esc(&t_observed(t)),
                esc(&t_margin(t)),
                t.samples,
                esc(&detail.join("; "))
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !r.slos.is_empty() {
        out.push_str("<h2>SLOs</h2>\n<div class=\"wrap\"><table>\n<thead><tr><th>Status</th><th>SLO</th><th>SLI metric</th><th>Window</th><th class=\"num\">Observed</th><th class=\"num\">Objective</th><th>Detail</th></tr></thead>\n<tbody>\n");
        for s in &r.slos {
            let mut window = format_seconds(s.window_s);
            if s.clipped {
                window.push_str(" (clipped)");
            }
            let _ = writeln!(
                out,
                "<tr>{}<td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                status_cell(s.verdict),
                esc(&s.name),
                key_html(&s.metric_key),
                esc(&window),
                esc(&slo_observed(s)),
                esc(&slo_objective(s)),
                esc(&slo_detail(s))
            );
        }
        out.push_str("</tbody></table></div>\n");
        if r.slos.iter().any(|s| s.clipped) {
            out.push_str("<p class=\"small\">clipped: the range is shorter than the SLO window, judged as one partial window.</p>\n");
        }
    }
    // The k6-like summary; sub-metrics (`http_req_duration{name:login}`) are the
    // per-endpoint rows.
    let trends: Vec<_> = r.metrics.iter().filter_map(|(k, m)| if let MetricSummary::Trend(t) = m { Some((k, t)) } else { None }).collect();
    if !trends.is_empty() {
        out.push_str("<h2>Latency and other trends</h2>\n<div class=\"wrap\"><table>\n<thead><tr><th>Metric</th><th class=\"num\">Count</th><th class=\"num\">avg</th><th class=\"num\">min</th><th class=\"num\">med</th><th class=\"num\">p(90)</th><th class=\"num\">p(95)</th><th class=\"num\">p(99)</th><th class=\"num\">max</th></tr></thead>\n<tbody>\n");
        for (k, t) in trends {
            let _ = write!(out, "<tr><td><code>{}</code></td><td class=\"num\">{}</td>", key_html(k), t.count);
            for v in [t.avg, t.min, t.med, t.p90, t.p95, t.p99, t.max] {
                let _ = write!(out, "<td class=\"num\">{}</td>", esc(&opt_value(v, t.unit)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
    }
    let others: Vec<_> = r.metrics.iter().filter(|(_, m)| !matches!(m, MetricSummary::Trend(_))).collect();
    if !others.is_empty() {
        out.push_str("<h2>Rates, counters and gauges</h2>\n<div class=\"wrap\"><table>\n<thead><tr><th>Metric</th><th>Type</th><th class=\"num\">Value</th><th>Detail</th></tr></thead>\n<tbody>\n");
        for (k, m) in others {
            let (kind, value, detail) = match m {
                MetricSummary::Rate(x) => {
                    ("rate", x.value.map(format_percent).unwrap_or_else(|| "–".into()), format!("{} of {}", x.passes, x.total))
                }
                MetricSummary::Counter(c) => {
                    ("counter", format_value(c.count, c.unit), format!("{} over the rate duration", opt_value(c.rate, c.rate_unit)))
                }
                MetricSummary::Gauge(g) => (
                    "gauge",
                    opt_value(g.value, g.unit),
                    format!(
                        "min {}, max {}{}",
                        opt_value(g.min, g.unit),
                        opt_value(g.max, g.unit),
                        if g.differs_from_k6 { " (k6 would show max 0)" } else { "" }
                    ),
                ),
                MetricSummary::Trend(_) => continue,
            };
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{kind}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                key_html(k),
                esc(&value),
                esc(&detail)
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
}

fn run_meta(out: &mut String, r: &RunInfo) {
    let row = |out: &mut String, k: &str, v: &str| {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    };
    row(out, "run id", &r.id);
    row(out, "origin", &r.origin);
    if let Some(s) = &r.scenario {
        row(out, "scenario", s);
    }
    row(out, "status", status_label(r.status));
    if let Some(s) = r.start_ns {
        row(out, "first sample", &time_ns(s));
    }
    if let Some(e) = r.end_ns {
        row(out, "last sample", &time_ns(e));
    }
    row(out, "points stored", &r.points.to_string());
    row(out, "recorded by", &format!("slo {}", r.slo_version));
}

/// `slo check --format html`: the verdict and tally, the thresholds and SLOs tables,
/// the metric summaries (sub-metrics such as `http_req_duration{name:login}` are the
/// per-endpoint rows), the charts (`charts`' per-run series, then one
/// [`charts::slo_windows`] per SLO and one [`charts::budget_burndown`] of the
/// availability and error-rate SLOs, both from the report), then the run and range
/// metadata. A complete HTML document (UTF-8).
pub fn render_check_html(report: &CheckReport, charts: &crate::charts::CheckCharts) -> String {
    let r = report;
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, &format!("slo check: {} — run {}", r.verdict.label(), r.run.id));
    let _ = writeln!(
        out,
        "<header class=\"verdict v-{cls}\"><div class=\"badge\">{label}</div><div><h1>slo check — run <code>{id}</code></h1>\
         <p>{pass} pass, {warn} warn, {fail} fail, {nodata} no data · exit code {code}</p>\
         <p class=\"sub\">{start} → {end} ({span}){nd}</p></div></header>",
        cls = verdict_class(r.verdict),
        label = r.verdict.label(),
        id = esc(&r.run.id),
        pass = r.tally.pass,
        warn = r.tally.warn,
        fail = r.tally.fail,
        nodata = r.tally.no_data,
        code = r.exit_code,
        start = esc(&r.range.start),
        end = esc(&r.range.end),
        span = esc(&format_seconds(r.range.span_s)),
        nd = if r.allow_no_data { " · NO DATA downgraded to WARN" } else { "" },
    );
    if r.run.status != RunStatus::Complete {
        notes_box(&mut out, "Run", &[format!("The run is {}: the samples may not cover the whole test.", status_label(r.run.status))]);
    }
    notes_box(&mut out, "Notes", &r.notes);
    if r.thresholds.is_empty() && r.slos.is_empty() {
        out.push_str("<p>Nothing to judge: give <code>--config</code> with <code>slos:</code>, <code>--profile</code>, or <code>--k6-options</code>.</p>\n");
    }
    check_tables(&mut out, r);

    let has_run_charts = charts.latency.is_some() || charts.spectrum.is_some() || charts.traffic.is_some() || charts.vus.is_some();
    if has_run_charts || !r.slos.is_empty() {
        out.push_str("<h2>Charts</h2>\n");
    }
    let label = format!("run {}", r.run.id);
    run_charts(&mut out, &[(label.as_str(), charts)]);
    for s in &r.slos {
        let w = SloWindows::from_result(s, r.range.start_ns, r.range.span_s);
        chart(&mut out, charts::slo_windows(&w), "");
    }
    let burn: Vec<BurnDown> = r.slos.iter().filter_map(|s| BurnDown::from_result(s, r.range.start_ns)).collect();
    if !burn.is_empty() {
        chart(
            &mut out,
            charts::budget_burndown(&burn, r.range.span_s),
            "Share of each SLO's error budget over the range left after each window; below 0 % the budget is overspent.",
        );
    }

    out.push_str("<h2>Run</h2>\n<dl class=\"meta\">\n");
    run_meta(&mut out, &r.run);
    let row = |out: &mut String, k: &str, v: &str| {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    };
    row(&mut out, "range judged", &format!("{} → {} ({})", r.range.start, r.range.end, format_seconds(r.range.span_s)));
    row(&mut out, "counter rates per", &format!("{} ({})", format_seconds(r.range.rate_duration_s), r.range.rate_duration_source));
    row(&mut out, "points analyzed", &r.points.accepted.to_string());
    row(&mut out, "points outside the range", &r.points.outside_range.to_string());
    if !r.points.undeclared.is_empty() {
        let list: Vec<String> = r.points.undeclared.iter().map(|(k, v)| format!("{k} ({v})")).collect();
        row(&mut out, "undeclared metrics skipped", &list.join(", "));
    }
    row(&mut out, "report schema", &r.schema_version.to_string());
    out.push_str("</dl>\n");
    foot(&mut out);
    out
}

// ---------------------------------------------------------------------------------
// slo compare
// ---------------------------------------------------------------------------------

fn metric_label(m: MetricKind) -> &'static str {
    match m {
        MetricKind::LatencyMedian => "median latency",
        MetricKind::LatencyP95 => "p(95) latency",
        MetricKind::LatencyP99 => "p(99) latency",
        MetricKind::ErrorRate => "error rate",
        MetricKind::Throughput => "throughput",
        MetricKind::ChecksPassRate => "checks passed",
    }
}

/// `x` rounded to `n` significant digits (no exponent; integers keep all their
/// digits), trailing zeros trimmed: `sig(4.83952, 3) == "4.84"`.
fn sig(x: f64, n: i32) -> String {
    if !x.is_finite() || x == 0.0 {
        return format_number(x);
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = (n - 1 - mag).clamp(0, 12) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A value in a metric's unit, 4 significant digits: ratios as %, others with their
/// unit.
fn cmp_value(v: Option<f64>, u: Unit) -> String {
    match v.filter(|x| x.is_finite()) {
        None => "–".into(),
        Some(x) if u == Unit::None => format!("{}%", sig(x * 100.0, 4)),
        Some(x) if u == Unit::Millis => format!("{} ms", sig(x, 4)),
        Some(x) => format!("{} {}", sig(x, 4), u.symbol()),
    }
}

/// A signed number, 3 significant digits, with a real minus sign.
fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", sig(x, 3))
    } else if x < 0.0 {
        format!("−{}", sig(-x, 3))
    } else {
        "0".into()
    }
}

fn cmp_unit_suffix(u: Unit) -> &'static str {
    match u {
        Unit::None => " pp",
        Unit::Millis => " ms",
        Unit::PerSecond => " 1/s",
        Unit::Bytes => " bytes",
        Unit::BytesPerSecond => " bytes/s",
    }
}

/// Ratios are shown in percentage points.
fn scaled(x: f64, u: Unit) -> f64 {
    if u == Unit::None {
        x * 100.0
    } else {
        x
    }
}

/// A difference in a metric's unit (ratios in percentage points), 3 significant digits.
fn cmp_delta(d: f64, u: Unit) -> String {
    format!("{}{}", signed(scaled(d, u)), cmp_unit_suffix(u))
}

fn metric_row(out: &mut String, first: Option<(&EndpointComparison, usize)>, m: &MetricComparison) {
    out.push_str("<tr>");
    if let Some((e, span)) = first {
        let _ = write!(
            out,
            "<td rowspan=\"{span}\"><strong>{}</strong><br><span class=\"st s-{}\">{}</span></td>",
            esc(&e.name),
            change_class(e.verdict),
            e.verdict.label()
        );
    }
    let change = match m.delta.filter(|d| d.is_finite()) {
        Some(d) => {
            let pct = m
                .delta_pct
                .filter(|p| p.is_finite())
                .map(|p| format!("<br><span class=\"small\">{}%</span>", signed(p)))
                .unwrap_or_default();
            format!("{}{pct}", esc(&cmp_delta(d, m.unit)))
        }
        None => "–".into(),
    };
    let interval = match m.interval.filter(|i| i.lower.is_finite() && i.upper.is_finite()) {
        Some(i) => format!("[{}, {}]{}", signed(scaled(i.lower, m.unit)), signed(scaled(i.upper, m.unit)), cmp_unit_suffix(m.unit)),
        None => "–".into(),
    };
    let p = match m.p_value {
        Some(p) => {
            let adj = m
                .p_value_adjusted
                .filter(|a| *a != p)
                .map(|a| format!("<br><span class=\"small\">Holm {}</span>", format_p(a)))
                .unwrap_or_default();
            format!("{}{adj}", format_p(p))
        }
        None => "–".into(),
    };
    let tol = format!("tolerance ±{}{}", sig(scaled(m.tolerance, m.unit), 3), cmp_unit_suffix(m.unit));
    let detect = match (m.verdict, m.detectable_effect.filter(|d| d.is_finite())) {
        (ChangeVerdict::Inconclusive, Some(d)) => {
            format!("<span class=\"reason\">resolves ±{}{}</span>", sig(scaled(d, m.unit), 3), cmp_unit_suffix(m.unit))
        }
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "<td>{}<br><span class=\"small\">{}</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}<br><span class=\"small\">{}</span></td><td class=\"num\">{p}</td><td class=\"num\">{} / {}</td>\
         <td class=\"st s-{}\" title=\"{}\">{}{detect}</td></tr>",
        metric_label(m.metric),
        esc(m.k6_metric),
        esc(&cmp_value(m.baseline, m.unit)),
        esc(&cmp_value(m.candidate, m.unit)),
        change,
        esc(&interval),
        esc(&tol),
        m.baseline_n,
        m.candidate_n,
        change_class(m.verdict),
        esc(&m.reason),
        m.verdict.label(),
    );
}

fn format_p(p: f64) -> String {
    if p < 0.0001 {
        "< 0.0001".into()
    } else {
        format!("{:.4}", p)
    }
}

fn p95(e: &EndpointComparison) -> Option<&MetricComparison> {
    e.metrics.iter().find(|m| m.metric == MetricKind::LatencyP95)
}

fn endpoints_in_order(c: &Comparison) -> Vec<&EndpointComparison> {
    c.overall.iter().chain(c.endpoints.iter()).collect()
}

/// `slo compare`'s HTML report: the verdict (regressed, improved, unchanged,
/// inconclusive) with the run ids and tally, what makes the runs less comparable, the
/// per-endpoint table (whole run first; for each metric both values, the change and
/// its interval at the comparison's level, the tolerance, p-values raw and
/// Holm-adjusted, sample counts, the verdict and its reason), the charts (change of
/// p(95) per endpoint with intervals; p(95) per endpoint and run, with per-run
/// intervals when `charts.endpoints` gives them; then the runs' series), and both
/// runs' metadata. A complete HTML document (UTF-8).
pub fn render_compare_html(cmp: &ComparisonView, charts: &CompareCharts) -> String {
    let c = &cmp.comparison;
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, &format!("slo compare: {} — {} vs {}", c.verdict.label(), c.candidate.id, c.baseline.id));
    let level = format_percent(1.0 - c.options.alpha);
    let _ = writeln!(
        out,
        "<header class=\"verdict v-{cls}\"><div class=\"badge\">{label}</div><div><h1>slo compare — candidate <code>{cand}</code> vs baseline <code>{base}</code></h1>\
         <p>{reg} regressed, {imp} improved, {unch} unchanged, {inc} inconclusive metrics</p>\
         <p class=\"sub\">{level} confidence intervals of candidate − baseline; at least {min} samples per side; p-values {mt}-adjusted across endpoints</p></div></header>",
        cls = change_class(c.verdict),
        label = c.verdict.label(),
        cand = esc(&c.candidate.id),
        base = esc(&c.baseline.id),
        reg = c.tally.regressed,
        imp = c.tally.improved,
        unch = c.tally.unchanged,
        inc = c.tally.inconclusive,
        level = esc(&level),
        min = c.options.min_samples,
        mt = esc(c.multiple_testing),
    );
    notes_box(&mut out, "The runs differ — read the verdict with care", &cmp.comparability);
    notes_box(&mut out, "Notes", &cmp.notes);

    let eps = endpoints_in_order(c);
    out.push_str("<h2>Per endpoint</h2>\n");
    if eps.is_empty() {
        out.push_str("<p>No endpoints were compared.</p>\n");
    } else {
        let _ = write!(
            out,
            "<div class=\"wrap\"><table>\n<thead><tr><th>Endpoint</th><th>Metric</th><th class=\"num\">Baseline</th><th class=\"num\">Candidate</th><th class=\"num\">Change</th><th class=\"num\">{} interval</th><th class=\"num\">p-value</th><th class=\"num\">n (base / cand)</th><th>Verdict</th></tr></thead>\n",
            esc(&level)
        );
        for e in &eps {
            out.push_str("<tbody class=\"group\">\n");
            if e.metrics.is_empty() {
                let _ = writeln!(out, "<tr><td><strong>{}</strong></td><td colspan=\"8\">no metrics compared</td></tr>", esc(&e.name));
            }
            for (i, m) in e.metrics.iter().enumerate() {
                metric_row(&mut out, (i == 0).then_some((*e, e.metrics.len())), m);
            }
            out.push_str("</tbody>\n");
        }
        out.push_str("</table></div>\n");
    }

    out.push_str("<h2>Charts</h2>\n");
    let rows: Vec<DeltaRow> = eps
        .iter()
        .filter_map(|e| {
            p95(e).map(|m| DeltaRow {
                endpoint: e.name.clone(),
                delta: m.delta,
                interval: m.interval.map(|i| (i.lower, i.upper)),
                tolerance: m.tolerance,
                verdict: m.verdict,
            })
        })
        .collect();
    if !rows.is_empty() {
        chart(
            &mut out,
            charts::delta_intervals(&rows, "p(95)", Unit::Millis),
            "Dot: estimated change; whisker: its confidence interval; grey: the tolerance band. An interval wholly outside the band is a change.",
        );
    }
    let labels = ["baseline", "candidate"];
    let estimates: Vec<EndpointEstimates> = if !charts.endpoints.is_empty() {
        charts.endpoints.clone()
    } else {
        eps.iter()
            .filter_map(|e| {
                p95(e).map(|m| EndpointEstimates {
                    endpoint: e.name.clone(),
                    values: [m.baseline, m.candidate]
                        .into_iter()
                        .map(|v| v.filter(|x| x.is_finite()).map(|value| Estimate { value, interval: None }))
                        .collect(),
                })
            })
            .collect()
    };
    if !estimates.is_empty() {
        let stat = if charts.endpoint_statistic.is_empty() { "p(95)" } else { charts.endpoint_statistic.as_str() };
        let caption = if charts.endpoints.is_empty() {
            "Each run's value; the change's interval is in the chart above."
        } else {
            "Each run's value with its own confidence interval."
        };
        chart(&mut out, charts::endpoint_estimates(&estimates, &labels, stat), caption);
    }
    run_charts(
        &mut out,
        &[
            (format!("baseline {}", c.baseline.id).as_str(), &charts.baseline),
            (format!("candidate {}", c.candidate.id).as_str(), &charts.candidate),
        ],
    );

    out.push_str(
        "<h2>Runs</h2>\n<div class=\"wrap\"><table>\n<thead><tr><th></th><th>Baseline</th><th>Candidate</th></tr></thead>\n<tbody>\n",
    );
    let side = |r: &Option<RunInfo>, f: &dyn Fn(&RunInfo) -> String| r.as_ref().map(f).unwrap_or_else(|| "–".into());
    let rows: [(&str, String, String); 2] = [
        ("run id", c.baseline.id.clone(), c.candidate.id.clone()),
        (
            "duration (for throughput)",
            c.baseline.duration_s.map(format_seconds).unwrap_or_else(|| "unknown".into()),
            c.candidate.duration_s.map(format_seconds).unwrap_or_else(|| "unknown".into()),
        ),
    ];
    type Field<'f> = (&'f str, &'f dyn Fn(&RunInfo) -> String);
    let fields: [Field; 7] = [
        ("origin", &|r| r.origin.clone()),
        ("scenario", &|r| r.scenario.clone().unwrap_or_else(|| "–".into())),
        ("status", &|r| status_label(r.status).into()),
        ("first sample", &|r| r.start_ns.map(time_ns).unwrap_or_else(|| "–".into())),
        ("last sample", &|r| r.end_ns.map(time_ns).unwrap_or_else(|| "–".into())),
        ("points stored", &|r| r.points.to_string()),
        ("recorded by", &|r| format!("slo {}", r.slo_version)),
    ];
    for (k, b, cnd) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", esc(k), esc(&b), esc(&cnd));
    }
    for (k, f) in fields {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            esc(k),
            esc(&side(&cmp.baseline_run, f)),
            esc(&side(&cmp.candidate_run, f))
        );
    }
    let o = &c.options;
    let _ = writeln!(
        out,
        "</tbody></table></div>\n<p class=\"small\">alpha {}, bootstrap resamples {} (seed {}), minimum samples {}.</p>",
        format_number(o.alpha),
        o.resamples,
        o.seed,
        o.min_samples
    );
    foot(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_read_with_sign_and_unit() {
        assert_eq!(cmp_delta(12.5, Unit::Millis), "+12.5 ms");
        assert_eq!(cmp_delta(4.83952, Unit::Millis), "+4.84 ms");
        assert_eq!(cmp_delta(-0.005, Unit::None), "−0.5 pp");
        assert_eq!(cmp_delta(0.0, Unit::PerSecond), "0 1/s");
        assert_eq!(cmp_value(Some(0.0123), Unit::None), "1.23%");
        assert_eq!(cmp_value(Some(85.3283), Unit::Millis), "85.33 ms");
        assert_eq!(sig(1234.6, 3), "1235");
        assert_eq!(sig(0.00123456, 3), "0.00123");
        assert_eq!(format_p(0.00001), "< 0.0001");
        assert_eq!(format_p(0.04321), "0.0432");
    }

    #[test]
    fn metric_keys_break_between_tags_and_stay_escaped() {
        assert_eq!(key_html("m{a:<b>,c:d}"), "m<wbr>{a:<wbr>&lt;b&gt;,<wbr>c:<wbr>d}");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        // 2024-01-01T00:00:00Z is 1704067200 s after the epoch (date -d @1704067200 -u).
        assert_eq!(time_ns(1_704_067_200_123_000_000), "2024-01-01T00:00:00.123Z");
    }
}
