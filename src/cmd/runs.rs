//! `slo runs list|show`: the run registry of the local store.

use slo_model::RunMeta;
use slo_store::{LocalStore, RunState};

use crate::cli::{ListFormat, RunsCommand};
use crate::cmd::{open_store, store_result, write_output};
use crate::exit::Exit;

/// Runs `slo runs ...`.
pub fn run(cmd: RunsCommand) -> anyhow::Result<Exit> {
    match cmd {
        RunsCommand::List(a) => {
            let store = open_store(&a.store.store)?;
            let runs = store_result(store.list_runs())?;
            let out = match a.format {
                ListFormat::Json => {
                    let v: Vec<serde_json::Value> = runs.iter().map(|m| meta_json(&store, m)).collect();
                    serde_json::to_string_pretty(&v)? + "\n"
                }
                ListFormat::Table => list_table(&store, &runs),
            };
            write_output(None, out.as_bytes())?;
            Ok(Exit::Pass)
        }
        RunsCommand::Show(a) => {
            let store = open_store(&a.store.store)?;
            let meta = store_result(store.resolve(&a.run))?;
            // k6's end-of-test summary of every metric, judged against nothing.
            let report = crate::cmd::analyze_run(&store, &meta, &[], &[], slo_analyze::Options::default())?;
            let out = match a.format {
                ListFormat::Json => {
                    let mut v = meta_json(&store, &meta);
                    v["summary"] = serde_json::to_value(&report.metrics)?;
                    v["notes"] = serde_json::to_value(&report.notes)?;
                    serde_json::to_string_pretty(&v)? + "\n"
                }
                ListFormat::Table => show_table(&store, &meta) + "\nsummary:\n" + &slo_report::render_summary(&report),
            };
            write_output(None, out.as_bytes())?;
            Ok(Exit::Pass)
        }
    }
}

/// `complete`, `interrupted`, `incomplete` (the writer died) or `recording`.
fn state_label(store: &LocalStore, m: &RunMeta) -> &'static str {
    match store.run_state(m) {
        RunState::Live => "recording",
        RunState::Incomplete => "incomplete",
        RunState::Complete => "complete",
        RunState::Interrupted => "interrupted",
    }
}

fn meta_json(store: &LocalStore, m: &RunMeta) -> serde_json::Value {
    let mut v = serde_json::to_value(m).expect("RunMeta serializes");
    v["state"] = state_label(store, m).into();
    v
}

fn time(ns: Option<i64>) -> String {
    ns.map(|n| chrono_fmt(n)).unwrap_or_else(|| "-".into())
}

fn chrono_fmt(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let sub = ns.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, sub) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        None => ns.to_string(),
    }
}

fn duration(m: &RunMeta) -> String {
    match (m.start_ns, m.end_ns) {
        (Some(a), Some(b)) => format!("{:.1}s", (b - a) as f64 / 1e9),
        _ => "-".into(),
    }
}

fn list_table(store: &LocalStore, runs: &[RunMeta]) -> String {
    if runs.is_empty() {
        return format!("no runs in {}\n", store.dir().display());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|m| {
            let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![
                m.id.to_string(),
                time(m.start_ns),
                duration(m),
                state_label(store, m).into(),
                m.points.to_string(),
                m.origin.clone(),
                m.scenario.clone().unwrap_or_default(),
                tags.join(","),
            ]
        })
        .collect();
    slo_report::columns(&["RUN", "START (UTC)", "DURATION", "STATE", "POINTS", "ORIGIN", "SCENARIO", "TAGS"], &rows)
}

fn show_table(store: &LocalStore, m: &RunMeta) -> String {
    let mut s = String::new();
    let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for (k, v) in [
        ("run", m.id.to_string()),
        ("state", state_label(store, m).to_string()),
        ("origin", m.origin.clone()),
        ("scenario", m.scenario.clone().unwrap_or_default()),
        ("start", time(m.start_ns)),
        ("end", time(m.end_ns)),
        ("duration", duration(m)),
        (
            "rate duration",
            match (&m.duration_s, &m.duration_source) {
                (Some(d), Some(src)) => format!("{d:.3}s ({src})"),
                (Some(d), None) => format!("{d:.3}s"),
                _ => "-".into(),
            },
        ),
        ("points", m.points.to_string()),
        ("tags", tags.join(",")),
        ("recorded at", chrono_fmt(m.created_ns)),
        ("slo version", m.slo_version.clone()),
        ("folder", store.run_dir(&m.id).display().to_string()),
    ] {
        s.push_str(&format!("{k:<14} {v}\n"));
    }
    s.push_str("\nmetrics:\n");
    let rows: Vec<Vec<String>> = m
        .metrics
        .iter()
        .map(|x| vec![x.name.clone(), x.kind.as_str().to_string(), format!("{:?}", x.contains).to_lowercase()])
        .collect();
    s.push_str(&slo_report::columns(&["METRIC", "TYPE", "CONTAINS"], &rows));
    s
}
