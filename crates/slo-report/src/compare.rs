//! Renderings of a baseline-vs-candidate [`Comparison`]: terminal table, JSON, JUnit
//! XML, Markdown. The verdict comes first, then one line per endpoint and metric with
//! both values, the delta (absolute and %), the interval, the sample counts.

use std::fmt::Write as _;

use slo_analyze::compare::{ChangeVerdict, Comparison, EndpointComparison, MetricComparison, MetricKind};
use slo_analyze::Unit;

use crate::fmt::{columns, format_sig, md_escape, xml_escape};
use crate::Format;

/// Renders a comparison in `format` (the HTML report is rendered by [`crate::html`]).
pub fn render_compare(c: &Comparison, format: Format) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(c).expect("Comparison serializes");
            v.push(b'\n');
            v
        }
        Format::Table => table(c).into_bytes(),
        Format::Markdown => markdown(c).into_bytes(),
        Format::Junit => junit(c).into_bytes(),
    }
}

/// `REGRESSED`, `IMPROVED`, `UNCHANGED`, `INCONCLUSIVE`.
pub fn verdict_label(v: ChangeVerdict) -> &'static str {
    match v {
        ChangeVerdict::Regressed => "REGRESSED",
        ChangeVerdict::Improved => "IMPROVED",
        ChangeVerdict::Unchanged => "UNCHANGED",
        ChangeVerdict::Inconclusive => "INCONCLUSIVE",
    }
}

/// Short metric label: `median`, `p(95)`, `p(99)`, `error rate`, `throughput`, `checks`.
pub fn metric_label(m: MetricKind) -> &'static str {
    match m {
        MetricKind::LatencyMedian => "median",
        MetricKind::LatencyP95 => "p(95)",
        MetricKind::LatencyP99 => "p(99)",
        MetricKind::ErrorRate => "error rate",
        MetricKind::Throughput => "throughput",
        MetricKind::ChecksPassRate => "checks",
    }
}

/// `v` with `digits` significant digits and its unit; ratios as percentages.
fn with_unit(v: f64, unit: Unit, digits: i32, ratio_suffix: &str) -> String {
    match unit {
        Unit::None => format!("{}{ratio_suffix}", format_sig(v * 100.0, digits)),
        Unit::Millis => format!("{} ms", format_sig(v, digits)),
        u => format!("{} {}", format_sig(v, digits), u.symbol()),
    }
}

/// A value in its metric's unit, 4 significant digits; ratios as percentages.
pub fn value_text(v: Option<f64>, unit: Unit) -> String {
    v.map(|x| with_unit(x, unit, 4, "%")).unwrap_or_else(|| "-".into())
}

/// A signed difference, 3 significant digits; ratio differences in percentage points.
fn signed(v: f64, unit: Unit) -> String {
    format!("{}{}", if v < 0.0 { "-" } else { "+" }, with_unit(v.abs(), unit, 3, " pp"))
}

/// The delta as people read it: `+12.3 ms (+8.1%)`; rates in percentage points.
pub fn delta_text(m: &MetricComparison) -> String {
    match m.delta {
        None => "-".into(),
        Some(d) => {
            let pct = m.delta_pct.map(|p| format!(" ({}{:.1}%)", if p < 0.0 { "-" } else { "+" }, p.abs())).unwrap_or_default();
            format!("{}{pct}", signed(d, m.unit))
        }
    }
}

/// The interval of the difference: `[+4.1 ms, +20 ms]`.
pub fn interval_text(m: &MetricComparison) -> String {
    match m.interval {
        None => "-".into(),
        Some(i) => format!("[{}, {}]", signed(i.lower, m.unit), signed(i.upper, m.unit)),
    }
}

/// A metric's verdict beside its delta: `[regressed]`, `[improved]`, `[=]` (unchanged),
/// `[?]` (inconclusive).
fn short_verdict(v: ChangeVerdict) -> &'static str {
    match v {
        ChangeVerdict::Regressed => "[regressed]",
        ChangeVerdict::Improved => "[improved]",
        ChangeVerdict::Unchanged => "[=]",
        ChangeVerdict::Inconclusive => "[?]",
    }
}

fn endpoints(c: &Comparison) -> impl Iterator<Item = &EndpointComparison> {
    c.overall.iter().chain(c.endpoints.iter())
}

/// One line: the verdict and the tally.
pub fn headline(c: &Comparison) -> String {
    format!(
        "{}: {} regressed, {} improved, {} unchanged, {} inconclusive (baseline {}, candidate {})",
        verdict_label(c.verdict),
        c.tally.regressed,
        c.tally.improved,
        c.tally.unchanged,
        c.tally.inconclusive,
        c.baseline.id,
        c.candidate.id
    )
}

const HEADER: [&str; 8] = ["VERDICT", "ENDPOINT", "METRIC", "BASELINE", "CANDIDATE", "DELTA", "95% INTERVAL", "N (B/C)"];

fn table(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "slo compare — baseline {} vs candidate {}\n", c.baseline.id, c.candidate.id);
    out.push_str("ENDPOINTS\n");
    let delta_of = |e: &EndpointComparison, k: MetricKind| {
        e.metrics
            .iter()
            .find(|m| m.metric == k)
            .map(|m| format!("{} {}", delta_text(m), short_verdict(m.verdict)))
            .unwrap_or_else(|| "-".into())
    };
    let summary: Vec<Vec<String>> = endpoints(c)
        .map(|e| {
            let n = e
                .metrics
                .iter()
                .find(|m| m.metric == MetricKind::ErrorRate)
                .map(|m| format!("{}/{}", m.baseline_n, m.candidate_n))
                .unwrap_or_default();
            vec![
                verdict_label(e.verdict).to_string(),
                e.name.clone(),
                n,
                delta_of(e, MetricKind::LatencyMedian),
                delta_of(e, MetricKind::LatencyP95),
                delta_of(e, MetricKind::ErrorRate),
            ]
        })
        .collect();
    out.push_str(&columns(&["VERDICT", "ENDPOINT", "REQUESTS (B/C)", "MEDIAN Δ", "P(95) Δ", "ERROR RATE Δ"], &summary));
    out.push_str("\nDETAILS\n");
    let rows: Vec<Vec<String>> = endpoints(c)
        .flat_map(|e| {
            e.metrics.iter().map(move |m| {
                vec![
                    verdict_label(m.verdict).to_string(),
                    e.name.clone(),
                    metric_label(m.metric).to_string(),
                    value_text(m.baseline, m.unit),
                    value_text(m.candidate, m.unit),
                    delta_text(m),
                    interval_text(m),
                    format!("{}/{}", m.baseline_n, m.candidate_n),
                ]
            })
        })
        .collect();
    out.push_str(&columns(&HEADER, &rows));
    let _ = writeln!(
        out,
        "\nmedian: Hodges–Lehmann shift, Moses interval, Mann–Whitney U (Holm-adjusted across endpoints); p(95), p(99): seeded percentile bootstrap; rates: Newcombe interval. Noise tolerance: latency ±{}. An endpoint is unchanged when its median is; [=] unchanged, [?] inconclusive.",
        format!("{}%", format_sig(c.options.tolerances.latency_p95.relative * 100.0, 3))
    );
    for e in endpoints(c) {
        for m in e.metrics.iter().filter(|m| m.verdict == ChangeVerdict::Regressed) {
            let _ = writeln!(out, "regressed: {} {}: {}", e.name, metric_label(m.metric), m.reason);
        }
    }
    let _ = writeln!(out, "{}", headline(c));
    out
}

fn markdown(c: &Comparison) -> String {
    let icon = |v: ChangeVerdict| match v {
        ChangeVerdict::Regressed => "🔴 regressed",
        ChangeVerdict::Improved => "🟢 improved",
        ChangeVerdict::Unchanged => "⚪ unchanged",
        ChangeVerdict::Inconclusive => "🟡 inconclusive",
    };
    let mut out = String::new();
    let _ = writeln!(out, "### slo compare: {}\n", icon(c.verdict));
    let _ = writeln!(
        out,
        "Baseline `{}` vs candidate `{}`: {} regressed, {} improved, {} unchanged, {} inconclusive.\n",
        c.baseline.id.replace('`', "'"),
        c.candidate.id.replace('`', "'"),
        c.tally.regressed,
        c.tally.improved,
        c.tally.unchanged,
        c.tally.inconclusive
    );
    out.push_str(
        "| Verdict | Endpoint | Metric | Baseline | Candidate | Delta | 95% interval | N (B/C) |\n|---|---|---|---:|---:|---:|---|---:|\n",
    );
    for e in endpoints(c) {
        for m in &e.metrics {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {}/{} |",
                icon(m.verdict),
                md_escape(&e.name),
                metric_label(m.metric),
                md_escape(&value_text(m.baseline, m.unit)),
                md_escape(&value_text(m.candidate, m.unit)),
                md_escape(&delta_text(m)),
                md_escape(&interval_text(m)),
                m.baseline_n,
                m.candidate_n
            );
        }
    }
    out
}

fn junit(c: &Comparison) -> String {
    let cases: Vec<(&EndpointComparison, &MetricComparison)> = endpoints(c).flat_map(|e| e.metrics.iter().map(move |m| (e, m))).collect();
    let failures = cases.iter().filter(|(_, m)| m.verdict == ChangeVerdict::Regressed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"slo compare\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">", cases.len());
    let _ = writeln!(
        out,
        "  <testsuite name=\"{} vs {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        xml_escape(&c.baseline.id),
        xml_escape(&c.candidate.id),
        cases.len()
    );
    for (e, m) in cases {
        let msg = format!(
            "{} {}: baseline {}, candidate {}, delta {}, interval {}; {}",
            e.name,
            metric_label(m.metric),
            value_text(m.baseline, m.unit),
            value_text(m.candidate, m.unit),
            delta_text(m),
            interval_text(m),
            m.reason
        );
        let _ = write!(out, "    <testcase classname=\"compare.{}\" name=\"{}\"", xml_escape(&e.name), metric_label(m.metric));
        if m.verdict == ChangeVerdict::Regressed {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"regressed\">{}</failure>\n    </testcase>",
                xml_escape(&msg),
                xml_escape(&msg)
            );
        } else {
            let _ = writeln!(out, ">\n      <system-out>{}: {}</system-out>\n    </testcase>", verdict_label(m.verdict), xml_escape(&msg));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
