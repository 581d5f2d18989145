//! `slo runs list|show`: the run registry of the local store.

use slo_model::RunMeta;
use slo_store::{LocalStore, RunState};

use anyhow::Context;
use slo_store::influx::PointSink;

use crate::cli::{ListFormat, RunsCommand, RunsPushArgs};
use crate::cmd::source::{self, Store};
use crate::cmd::{open_store_to_read, store_result, write_output};
use crate::exit::Exit;

/// Runs of a remote store as a table (no local state: a stored status).
fn remote_table(st: &Store, runs: &[RunMeta]) -> String {
    if runs.is_empty() {
        return format!("no runs in {}\n", st.display());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|m| {
            let status = serde_json::to_value(m.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            vec![
                m.id.to_string(),
                time(m.start_ns),
                duration(m),
                status,
                // Prometheus keeps aggregates, not points: there is no count to show.
                if matches!(st, Store::Prometheus(_)) { "-".into() } else { m.points.to_string() },
                m.origin.clone(),
                m.scenario.clone().unwrap_or_default(),
            ]
        })
        .collect();
    slo_report::columns(&["RUN", "START (UTC)", "DURATION", "STATUS", "POINTS", "ORIGIN", "SCENARIO"], &rows)
}

/// Files under `dir`, recursively (0 when it does not exist).
fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    if e.path().is_dir() {
                        count_files(&e.path())
                    } else {
                        usize::from(!e.file_name().to_string_lossy().starts_with('.'))
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// `slo runs push RUN --out ...`: the run's spool of each store, or, without one, the
/// whole run re-sent from the local store (to Prometheus only when it holds nothing of the
/// run: see [`slo_store::prometheus::PrometheusSource::has_run`]). Exit 4 when a store
/// cannot be reached, 1 when something is still not delivered.
fn push(a: RunsPushArgs) -> anyhow::Result<Exit> {
    let stores: Vec<Store> = a.out.iter().map(|o| source::parse("--out", o)).collect::<anyhow::Result<_>>()?;
    let local = open_store_to_read(&a.store.store)?;
    let meta = store_result(local.resolve(&a.run)).with_context(|| format!("run {}", a.run))?;
    let run_dir = local.run_dir(&meta.id);
    let mut exit = Exit::Pass;
    for st in &stores {
        let kind = match st {
            Store::Influx(_) => "influxdb",
            Store::Prometheus(_) => "prometheus",
        };
        let dir = source::spool_dir(&run_dir, kind);
        let line = if count_files(&dir) > 0 {
            match st {
                Store::Influx(cfg) => {
                    let r = slo_store::influx::push_spool(&dir, cfg).map_err(source::influx_err)?;
                    if r.files_left > 0 {
                        exit = Exit::Failed;
                    }
                    let mut s = format!(
                        "{}: spool of run {}: {} points delivered ({} files), {} points left ({} files)\n",
                        st.display(),
                        meta.id,
                        r.points_delivered,
                        r.files_delivered,
                        r.points_left,
                        r.files_left
                    );
                    for e in &r.errors {
                        s.push_str(&format!("  error: {e}\n"));
                    }
                    s
                }
                Store::Prometheus(cfg) => {
                    let r = slo_store::prometheus::push_spool(cfg, &dir).map_err(source::prom_err)?;
                    if r.files_left > 0 {
                        exit = Exit::Failed;
                    }
                    let mut s = format!(
                        "{}: spool of run {}: {} samples delivered ({} pushes), {} pushes left\n",
                        st.display(),
                        meta.id,
                        r.samples_delivered,
                        r.files_sent,
                        r.files_left
                    );
                    for e in &r.errors {
                        s.push_str(&format!("  error: {e}\n"));
                    }
                    s
                }
            }
        } else {
            resend(&local, &meta, st, &dir, &mut exit)?
        };
        write_output(None, line.as_bytes())?;
    }
    Ok(exit)
}

/// Sends a whole run from the local store to `st` (no spool to push).
fn resend(local: &LocalStore, meta: &RunMeta, st: &Store, dir: &std::path::Path, exit: &mut Exit) -> anyhow::Result<String> {
    let mut created = meta.clone();
    if created.created_ns == 0 {
        created.created_ns = meta.start_ns.unwrap_or(0);
    }
    let mut remote = match st {
        Store::Influx(cfg) => {
            slo_store::influx::InfluxSink::healthcheck(cfg).map_err(source::influx_err)?;
            crate::cmd::run::Remote::Influx(slo_store::influx::InfluxSink::new(cfg.clone(), created, dir.to_path_buf()))
        }
        Store::Prometheus(cfg) => {
            source::prom_healthcheck(cfg).map_err(source::prom_err)?;
            // Snapshots re-built from the local samples would not be the ones stored
            // (other timestamps, other counts where the point order differs): conflicts or
            // counter drops that increase() counts twice. A run the server has stays as it is.
            let src = slo_store::prometheus::PrometheusSource::new(cfg);
            let held = src.has_run(&meta.id.0).map_err(source::prom_err)?;
            // A run whose registry still says running lost its generator before the end
            // (kill -9): what it pushed is stored, the rest is only here. One snapshot of the
            // totals, after everything stored, completes it without a conflict.
            let resume = held && src.resolve_run(&meta.id.0).is_ok_and(|r| r.status == "running");
            if held && !resume {
                return Ok(format!(
                    "{}: run {} is already there and nothing of it is spooled: not re-sent (its cumulative counters sent again \
                     would conflict with the stored ones or count twice)\n",
                    st.display(),
                    meta.id
                ));
            }
            let mut cfg = cfg.clone();
            cfg.spool_dir = dir.to_path_buf();
            cfg.resume = resume;
            let info = slo_store::prometheus::RunInfo {
                testid: meta.id.0.clone(),
                scenario: meta.scenario.clone().unwrap_or_default(),
                slo_version: meta.slo_version.clone(),
                start_ms: meta.start_ns.unwrap_or(meta.created_ns).div_euclid(1_000_000),
            };
            crate::cmd::run::Remote::Prometheus(slo_store::prometheus::PrometheusSink::new(cfg, info).map_err(source::prom_err)?)
        }
    };
    let keys: Vec<&str> = slo_store::FIXED_TAGS.to_vec();
    let mut n = 0u64;
    store_result(local.scan(meta, &slo_store::ScanOptions::default(), &mut |m: &str, t: i64, v: f64, tags: &dyn slo_model::TagLookup| {
        let mut pairs: Vec<(String, String)> = keys.iter().filter_map(|k| tags.tag(k).map(|v| (k.to_string(), v.to_string()))).collect();
        if let Some(all) = tags.tag(slo_store::ALL_EXTRA_KEY) {
            if let Ok(extra) = serde_json::from_str::<std::collections::BTreeMap<String, serde_json::Value>>(all) {
                for (k, v) in extra {
                    pairs.push((k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
                }
            }
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        remote.write(m, t, v, &refs);
        n += 1;
    }))
    .with_context(|| format!("reading run {}", meta.id))?;
    let line = match &mut remote {
        crate::cmd::run::Remote::Influx(x) => {
            x.set_end(meta.status, meta.duration_s, meta.duration_source.clone());
            let r = x.close();
            if r.spooled > 0 || r.lost > 0 {
                *exit = Exit::Failed;
            }
            format!(
                "{}: run {} re-sent from the local store: {n} points, {} delivered, {} spooled, {} lost\n",
                st.display(),
                meta.id,
                r.delivered,
                r.spooled,
                r.lost
            )
        }
        crate::cmd::run::Remote::Prometheus(x) => {
            let r = x.close_with(meta.status);
            if r.pushes_spooled > 0 || r.samples_lost > 0 {
                *exit = Exit::Failed;
            }
            format!(
                "{}: run {} re-sent from the local store: {n} points, {} samples delivered, {} spooled, {} lost\n",
                st.display(),
                meta.id,
                r.samples_delivered,
                r.samples_spooled,
                r.samples_lost
            )
        }
    };
    Ok(line)
}

/// Runs `slo runs ...`.
pub fn run(cmd: RunsCommand) -> anyhow::Result<Exit> {
    match cmd {
        RunsCommand::List(a) if a.source.is_some() => {
            let spec = a.source.as_deref().unwrap_or_default();
            let st = source::parse("--source", spec)?;
            let runs = source::list_runs(&st)?;
            let out = match a.format {
                ListFormat::Json => serde_json::to_string_pretty(&runs)? + "\n",
                ListFormat::Table => remote_table(&st, &runs),
            };
            write_output(None, out.as_bytes())?;
            Ok(Exit::Pass)
        }
        RunsCommand::Push(a) => push(a),
        RunsCommand::List(a) => {
            let store = open_store_to_read(&a.store.store)?;
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
            let store = open_store_to_read(&a.store.store)?;
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
    ns.map(chrono_fmt).unwrap_or_else(|| "-".into())
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
    let rows: Vec<Vec<String>> =
        m.metrics.iter().map(|x| vec![x.name.clone(), x.kind.as_str().to_string(), format!("{:?}", x.contains).to_lowercase()]).collect();
    s.push_str(&slo_report::columns(&["METRIC", "TYPE", "CONTAINS"], &rows));
    s
}
