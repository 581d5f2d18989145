//! Renderings of a [`CheckReport`].

use std::fmt::Write as _;

use slo_analyze::{CheckReport, SloKind, SloResult, ThresholdResult, Unit, Verdict};

use crate::fmt::{columns, format_number, format_percent, format_seconds, format_value, md_escape, xml_escape};
use crate::Format;

/// Renders a check report in `format`. JSON is the report's serde form (stable schema,
/// see the README); the others are for people and CI systems.
pub fn render_check(report: &CheckReport, format: Format) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(report).expect("CheckReport serializes");
            v.push(b'\n');
            v
        }
        Format::Table => table(report).into_bytes(),
        Format::Markdown => markdown(report).into_bytes(),
        Format::Junit => junit(report).into_bytes(),
    }
}

/// The observed value of a threshold as people read it.
pub(crate) fn observed(t: &ThresholdResult) -> String {
    match t.observed {
        Some(v) => format_value(v, t.unit),
        None => "no data".into(),
    }
}

pub(crate) fn margin(t: &ThresholdResult) -> String {
    match t.margin {
        Some(m) => format_value(m, t.unit),
        None => "-".into(),
    }
}

/// An SLO's objective as written: `99.9%`, `≤ 0.1%`, `≤ 500 ms`, `≥ 1000 1/s`.
pub(crate) fn objective(s: &SloResult) -> String {
    match s.kind {
        SloKind::Availability => format!(">= {}", format_percent(s.objective)),
        SloKind::ErrorRate => format!("<= {}", format_percent(s.objective)),
        SloKind::Latency { .. } => format!("<= {}", format_value(s.objective, s.unit)),
        SloKind::Throughput => format!(">= {}", format_value(s.objective, s.unit)),
    }
}

/// An SLO's observed value: the event-weighted ratio over the range for availability
/// and error rate; the worst window's value for latency and throughput.
pub(crate) fn slo_observed(s: &SloResult) -> String {
    match s.kind {
        SloKind::Availability => s.budget.as_ref().map(|b| format_percent(b.good_ratio)),
        SloKind::ErrorRate => s.budget.as_ref().map(|b| format_percent(b.error_ratio)),
        SloKind::Latency { .. } | SloKind::Throughput => {
            s.windows.worst.and_then(|i| s.windows.windows.get(i)).and_then(|w| w.value).map(|v| {
                let worst = if s.windows.windows_with_data > 1 { " (worst window)" } else { "" };
                format!("{}{worst}", format_value(v, s.unit))
            })
        }
    }
    .unwrap_or_else(|| "no data".into())
}

/// Budget or window detail of an SLO.
pub(crate) fn slo_detail(s: &SloResult) -> String {
    let w = &s.windows;
    let mut parts = Vec::new();
    if let Some(b) = &s.budget {
        parts.push(format!(
            "{} bad of {} (allowed {}), budget burned {}",
            b.bad,
            b.total,
            format_number(b.allowed_errors),
            if b.budget_burned.is_finite() { format_percent(b.budget_burned) } else { "∞ (zero budget)".into() }
        ));
    }
    if w.windows_total > 1 {
        parts.push(format!("{}/{} windows compliant", w.windows_compliant, w.windows_with_data));
    }
    if let Some(r) = &s.reason {
        parts.push(r.clone());
    }
    parts.join("; ")
}

fn window_label(s: &SloResult) -> String {
    let mut l = format_seconds(s.window_s);
    if s.clipped {
        l.push('*');
    }
    l
}

fn status(v: Verdict) -> &'static str {
    v.label()
}

fn headline(r: &CheckReport) -> String {
    format!(
        "{}{}: {} pass, {} warn, {} fail, {} no data",
        r.verdict.label(),
        if r.allow_no_data && r.tally.no_data > 0 { " (no data allowed by --allow-no-data)" } else { "" },
        r.tally.pass,
        r.tally.warn,
        r.tally.fail,
        r.tally.no_data
    )
}

fn run_line(r: &CheckReport) -> String {
    let mut s = format!("run {} ({}", r.run.id, r.run.origin);
    if let Some(sc) = &r.run.scenario {
        let _ = write!(s, ", {sc}");
    }
    let _ = write!(s, ", {:?})", r.run.status);
    s = s.replace("Complete)", "complete)").replace("Running)", "INCOMPLETE)").replace("Interrupted)", "interrupted)");
    let _ = write!(
        s,
        "\nrange {} .. {} ({}); counter rates per {} ({})",
        r.range.start,
        r.range.end,
        format_seconds(r.range.span_s),
        format_seconds(r.range.rate_duration_s),
        r.range.rate_duration_source
    );
    s
}

fn table(r: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "slo check — {}\n", run_line(r));
    if !r.thresholds.is_empty() {
        out.push_str("THRESHOLDS\n");
        let rows: Vec<Vec<String>> = r
            .thresholds
            .iter()
            .map(|t| {
                vec![
                    status(t.verdict).into(),
                    t.metric_key.clone(),
                    t.expression.clone(),
                    observed(t),
                    margin(t),
                    t.samples.to_string(),
                    t.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str(&columns(&["STATUS", "METRIC", "THRESHOLD", "OBSERVED", "MARGIN", "SAMPLES", "DETAIL"], &rows));
        out.push('\n');
    }
    if !r.slos.is_empty() {
        out.push_str("SLOS\n");
        let rows: Vec<Vec<String>> = r
            .slos
            .iter()
            .map(|s| {
                vec![
                    status(s.verdict).into(),
                    s.name.clone(),
                    s.metric_key.clone(),
                    window_label(s),
                    slo_observed(s),
                    objective(s),
                    slo_detail(s),
                ]
            })
            .collect();
        out.push_str(&columns(&["STATUS", "SLO", "SLI METRIC", "WINDOW", "OBSERVED", "OBJECTIVE", "DETAIL"], &rows));
        if r.slos.iter().any(|s| s.clipped) {
            out.push_str("  * clipped: the run is shorter than the SLO window, judged as one partial window\n");
        }
        out.push('\n');
    }
    if r.thresholds.is_empty() && r.slos.is_empty() {
        out.push_str("nothing to judge: give --config with slos:/--profile, or --k6-options\n\n");
        out.push_str(&render_summary(r));
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "{}", headline(r));
    out
}

/// k6's end-of-test summary: one line per metric or sub-metric that has samples, dots up
/// to a column, then trend statistics (k6's default `summaryTrendStats`: avg, min, med,
/// max, p(90), p(95)), counters with their rate per second, rates as a percentage with the
/// counts, gauges with min and max.
pub fn render_summary(r: &CheckReport) -> String {
    use slo_analyze::MetricSummary as M;
    let fmt = |v: Option<f64>, u: Unit| v.map(|x| format_value(x, u)).unwrap_or_else(|| "-".into());
    let width = r.metrics.keys().map(|k| k.chars().count()).max().unwrap_or(10) + 3;
    let mut out = String::new();
    for (name, m) in &r.metrics {
        let detail = match m {
            M::Trend(t) if t.count == 0 => continue,
            M::Trend(t) => format!(
                "avg={} min={} med={} max={} p(90)={} p(95)={}",
                fmt(t.avg, t.unit),
                fmt(t.min, t.unit),
                fmt(t.med, t.unit),
                fmt(t.max, t.unit),
                fmt(t.p90, t.unit),
                fmt(t.p95, t.unit)
            ),
            M::Rate(x) if x.total == 0 => continue,
            M::Rate(x) => format!("{:<9} {} out of {}", x.value.map(format_percent).unwrap_or_else(|| "-".into()), x.passes, x.total),
            M::Counter(c) if c.samples == 0 => continue,
            M::Counter(c) => format!("{:<12} {}", format_value(c.count, c.unit), fmt(c.rate, c.rate_unit)),
            M::Gauge(g) if g.samples == 0 => continue,
            M::Gauge(g) => format!("{:<12} min={} max={}", fmt(g.value, g.unit), fmt(g.min, g.unit), fmt(g.max, g.unit)),
        };
        let dots = ".".repeat(width.saturating_sub(name.chars().count()));
        let _ = writeln!(out, "  {name}{dots}: {detail}");
    }
    out
}

fn markdown(r: &CheckReport) -> String {
    let icon = |v: Verdict| match v {
        Verdict::Pass => "✅ PASS",
        Verdict::Warn => "⚠️ WARN",
        Verdict::Fail => "❌ FAIL",
        Verdict::NoData => "❔ NO DATA",
    };
    let mut out = String::new();
    let _ = writeln!(out, "### slo check: {}\n", icon(r.verdict));
    let _ = writeln!(
        out,
        "Run `{}` ({}), {} .. {} ({}). {} pass, {} warn, {} fail, {} no data.\n",
        md_escape(&r.run.id),
        md_escape(&r.run.origin),
        r.range.start,
        r.range.end,
        format_seconds(r.range.span_s),
        r.tally.pass,
        r.tally.warn,
        r.tally.fail,
        r.tally.no_data
    );
    if !r.thresholds.is_empty() {
        out.push_str("| Status | Metric | Threshold | Observed | Margin | Samples | Detail |\n|---|---|---|---|---:|---:|---|\n");
        for t in &r.thresholds {
            let _ = writeln!(
                out,
                "| {} | `{}` | `{}` | {} | {} | {} | {} |",
                icon(t.verdict),
                t.metric_key.replace('`', "'"),
                t.expression.replace('`', "'"),
                md_escape(&observed(t)),
                md_escape(&margin(t)),
                t.samples,
                md_escape(t.reason.as_deref().unwrap_or(""))
            );
        }
        out.push('\n');
    }
    if !r.slos.is_empty() {
        out.push_str("| Status | SLO | Window | Observed | Objective | Detail |\n|---|---|---|---|---|---|\n");
        for s in &r.slos {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                icon(s.verdict),
                md_escape(&s.name),
                md_escape(&window_label(s)),
                md_escape(&slo_observed(s)),
                md_escape(&objective(s)),
                md_escape(&slo_detail(s))
            );
        }
        if r.slos.iter().any(|s| s.clipped) {
            out.push_str("\n\\* clipped: the run is shorter than the SLO window, judged as one partial window.\n");
        }
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "> {}", md_escape(n));
    }
    out
}

fn junit(r: &CheckReport) -> String {
    let failing = |v: Verdict| v.is_failing(r.allow_no_data);
    let total = r.thresholds.len() + r.slos.len();
    let failures = r.thresholds.iter().map(|t| t.verdict).chain(r.slos.iter().map(|s| s.verdict)).filter(|v| failing(*v)).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"slo check\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\">");
    let suite = |out: &mut String, name: &str, cases: Vec<(String, String, Verdict, String)>| {
        let f = cases.iter().filter(|c| failing(c.2)).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"0\" skipped=\"0\">",
            xml_escape(name),
            cases.len()
        );
        for (class, name, v, msg) in cases {
            let _ = write!(out, "    <testcase classname=\"{}\" name=\"{}\"", xml_escape(&class), xml_escape(&name));
            if failing(v) {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    xml_escape(&msg),
                    v.label(),
                    xml_escape(&msg)
                );
            } else if v == Verdict::Pass {
                out.push_str(" />\n");
            } else {
                let _ = writeln!(out, ">\n      <system-out>{}: {}</system-out>\n    </testcase>", v.label(), xml_escape(&msg));
            }
        }
        out.push_str("  </testsuite>\n");
    };
    let th = r
        .thresholds
        .iter()
        .map(|t| {
            let msg = format!(
                "{} {}: observed {}, margin {} ({} samples){}",
                t.metric_key,
                t.expression,
                observed(t),
                margin(t),
                t.samples,
                t.reason.as_ref().map(|x| format!("; {x}")).unwrap_or_default()
            );
            (format!("thresholds.{}", t.metric_key), t.expression.clone(), t.verdict, msg)
        })
        .collect();
    suite(&mut out, &format!("thresholds ({})", r.run.id), th);
    let sl = r
        .slos
        .iter()
        .map(|s| {
            let detail = slo_detail(s);
            let detail = if detail.is_empty() { String::new() } else { format!("; {detail}") };
            let msg = format!("{} over {}: observed {}, objective {}{detail}", s.name, window_label(s), slo_observed(s), objective(s));
            (format!("slos.{}", s.kind.label()), s.name.clone(), s.verdict, msg)
        })
        .collect();
    suite(&mut out, &format!("slos ({})", r.run.id), sl);
    out.push_str("</testsuites>\n");
    out
}
