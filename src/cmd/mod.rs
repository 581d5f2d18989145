//! One module per subcommand; each `run` returns the exit code or an error carrying one.

mod check;
mod compare;
mod dashboard;
mod demo;
mod import;
mod rules;
pub mod run;
mod runs;
mod source;

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use slo_store::{LocalStore, StoreError};

use crate::cli::Command;
use crate::exit::{Exit, WithExit};

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Check(a) => check::run(a),
        Command::Import(a) => import::run(a),
        Command::Runs(a) => runs::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Run(a) => run::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Dashboard(a) => dashboard::run(a),
        Command::Rules(a) => rules::run(a),
    }
}

/// The exit code of a store error (not found 3, invalid input 2, failure 1).
pub fn store_exit(e: &StoreError) -> Exit {
    match e.exit_code() {
        2 => Exit::InvalidInput,
        3 => Exit::NoData,
        _ => Exit::Failed,
    }
}

/// Turns a store result into one whose error carries the right exit code.
pub fn store_result<T>(r: Result<T, StoreError>) -> anyhow::Result<T> {
    r.map_err(|e| {
        let exit = store_exit(&e);
        anyhow::Error::new(crate::exit::ExitError { exit, error: e.into() })
    })
}

/// Opens the local store named by `--store` for reading: a missing one (no folder, or a
/// folder without `runs/`) is not created (a typo in `--store` must not look like an empty
/// store) but reported with the "not found" exit code.
pub fn open_store_to_read(dir: &Path) -> anyhow::Result<LocalStore> {
    if !dir.exists() || (dir.is_dir() && !dir.join("runs").is_dir()) {
        return Err(anyhow::anyhow!(
            "store {} (--store or SLO_STORE): no store there (slo run and slo import create it; give --store DIR for another one)",
            dir.display()
        ))
        .exit_with(Exit::NoData);
    }
    open_store(dir)
}

/// Opens (creating when missing) the local store named by `--store`; a path that is not
/// a directory is a bad flag.
pub fn open_store(dir: &Path) -> anyhow::Result<LocalStore> {
    if dir.exists() && !dir.is_dir() {
        return Err(anyhow::anyhow!("store {} (--store or SLO_STORE): not a directory", dir.display())).exit_with(Exit::InvalidInput);
    }
    store_result(LocalStore::open(dir)).with_context(|| format!("store {} (--store or SLO_STORE)", dir.display()))
}

/// Scans a stored run and judges `thresholds` and `slos` over it. Only the tag columns
/// the filters read are decoded (k6 always adds `http_req_duration{expected_response:true}`),
/// and with `options.verdicts_only` only the metrics judged.
/// Errors: a threshold that does not fit its metric's type (exit 2), an unreadable run.
pub fn analyze_run(
    store: &LocalStore,
    meta: &slo_model::RunMeta,
    thresholds: &[slo_config::MetricThresholds],
    slos: &[slo_analyze::SloSpec],
    options: slo_analyze::Options,
) -> anyhow::Result<slo_analyze::CheckReport> {
    analyze_with(meta, thresholds, slos, options, &mut |scan, visitor| {
        store_result(store.scan(meta, scan, visitor)).map(|_| ()).with_context(|| format!("reading run {}", meta.id))
    })
}

/// Reads the points of a run through one store's scan, whichever the store.
/// It gets the scan options (tag keys the filters read) and the visitor to feed, in time
/// order; its error keeps its exit code.
pub type Scanner<'a> = dyn FnMut(&slo_store::ScanOptions, &mut dyn slo_store::PointVisitor) -> anyhow::Result<()> + 'a;

/// [`analyze_run`] with any store behind `scan` (local, InfluxDB): the same analyzer
/// path, so verdicts and values do not depend on where the run is stored.
pub fn analyze_with(
    meta: &slo_model::RunMeta,
    thresholds: &[slo_config::MetricThresholds],
    slos: &[slo_analyze::SloSpec],
    options: slo_analyze::Options,
    scan: &mut Scanner<'_>,
) -> anyhow::Result<slo_analyze::CheckReport> {
    // k6's summary always has `http_req_duration{expected_response:true}`; verdicts alone
    // read only the tags the filters name.
    let mut tag_keys: Vec<String> = if options.verdicts_only { Vec::new() } else { vec!["expected_response".into()] };
    tag_keys.extend(thresholds.iter().flat_map(|t| t.key.filters.iter().map(|(k, _)| k.clone())));
    tag_keys.extend(slos.iter().flat_map(|s| s.filter.iter().map(|(k, _)| k.clone())));
    tag_keys.sort();
    tag_keys.dedup();
    let metrics = options.verdicts_only.then(|| {
        let mut m: Vec<String> =
            thresholds.iter().map(|t| t.key.metric.clone()).chain(slos.iter().map(|s| s.metric_name().to_string())).collect();
        m.sort();
        m.dedup();
        m
    });
    let opts = slo_store::ScanOptions { tag_keys: Some(tag_keys), metrics, ..Default::default() };
    let plan = slo_analyze::Plan::for_run(meta, thresholds, slos, options);
    let mut analysis = slo_analyze::Analysis::new(plan).exit_with(Exit::InvalidInput)?;
    scan(&opts, &mut Feed(&mut analysis))?;
    Ok(analysis.finish())
}

/// Feeds scanned points into an analysis, columns of request tables whole.
struct Feed<'a>(&'a mut slo_analyze::Analysis);

impl slo_store::PointVisitor for Feed<'_> {
    fn point(&mut self, metric: &str, time_ns: i64, value: f64, tags: &dyn slo_model::TagLookup) {
        self.0.push(metric, time_ns, value, tags);
    }

    fn points(&mut self, metric: &str, c: &slo_store::PointColumn<'_, '_>) {
        let points = slo_analyze::ColumnPoints { times: c.times, values: c.values, rows: c.rows, sets: c.sets, n_sets: c.n_sets };
        self.0.push_column(metric, &points, &mut |s, f| c.with_set_tags(s, f));
    }
}

/// The text formats of a report; `None` for HTML, which needs the run's series too.
pub fn text_format(f: crate::cli::ReportFormat) -> Option<slo_report::Format> {
    use crate::cli::ReportFormat as R;
    Some(match f {
        R::Table => slo_report::Format::Table,
        R::Json => slo_report::Format::Json,
        R::Junit => slo_report::Format::Junit,
        R::Markdown => slo_report::Format::Markdown,
        R::Html => return None,
    })
}

/// Reads what comparisons and charts need from a run: per-endpoint latencies, requests,
/// failures, checks, VUs.
pub fn collect_run(store: &LocalStore, meta: &slo_model::RunMeta) -> anyhow::Result<slo_analyze::compare::collect::RunData> {
    let mut data = slo_analyze::compare::collect::RunData::default();
    let scan = slo_store::ScanOptions {
        metrics: Some(["http_req_duration", "http_reqs", "http_req_failed", "checks", "vus"].map(String::from).to_vec()),
        tag_keys: Some(vec!["name".into(), "url".into()]),
        ..Default::default()
    };
    store_result(store.scan(meta, &scan, &mut |m: &str, t: i64, v: f64, tags: &dyn slo_model::TagLookup| data.push(m, t, v, tags)))
        .with_context(|| format!("reading run {}", meta.id))?;
    Ok(data)
}

/// The chart series of a run for the HTML reports (about 60 windows over the run).
pub fn run_charts(data: &slo_analyze::compare::collect::RunData, meta: &slo_model::RunMeta) -> slo_report::charts::RunCharts {
    use slo_report::charts::{LatencyPercentiles, RunCharts, Traffic};
    let (Some(start), Some(end)) = (meta.start_ns, meta.end_ns) else { return RunCharts::default() };
    let window = slo_analyze::compare::collect::chart_window_s((end - start) as f64 / 1e9);
    let s = data.series(start, end, window);
    RunCharts {
        latency: (!s.p50.is_empty()).then(|| LatencyPercentiles { p50: s.p50.clone(), p95: s.p95.clone(), p99: s.p99.clone() }),
        spectrum: (!s.sorted_latency_ms.is_empty()).then(|| slo_report::charts::spectrum_points(&s.sorted_latency_ms)),
        traffic: (!s.throughput.is_empty()).then(|| Traffic { throughput: s.throughput.clone(), error_rate: s.error_rate.clone() }),
        vus: (!s.vus.is_empty()).then(|| s.vus.clone()),
    }
}

/// The file in a run's folder holding the thresholds the run was recorded with, in the
/// JSON shape `k6 inspect` prints (`{"thresholds": {KEY: [EXPR | {threshold, abortOnFail,
/// delayAbortEval}]}}`), so that `slo check` judges them again without flags.
pub const RUN_THRESHOLDS_FILE: &str = "k6-options.json";

/// Saves `thresholds` beside run `id` (see [`RUN_THRESHOLDS_FILE`]); nothing when empty.
pub fn save_run_thresholds(store: &LocalStore, id: &slo_model::RunId, thresholds: &[slo_config::MetricThresholds]) -> anyhow::Result<()> {
    if thresholds.is_empty() {
        return Ok(());
    }
    let mut map = serde_json::Map::new();
    for t in thresholds {
        let list: Vec<serde_json::Value> = t
            .thresholds
            .iter()
            .map(|th| {
                if !th.abort_on_fail && th.delay_abort_eval.is_none() {
                    serde_json::Value::String(th.source.clone())
                } else {
                    let mut o = serde_json::json!({"threshold": th.source, "abortOnFail": th.abort_on_fail});
                    if let Some(d) = th.delay_abort_eval {
                        o["delayAbortEval"] = format!("{}ms", d.as_millis()).into();
                    }
                    o
                }
            })
            .collect();
        map.insert(t.key_source.clone(), list.into());
    }
    let path = store.run_dir(id).join(RUN_THRESHOLDS_FILE);
    let text = serde_json::to_string_pretty(&serde_json::json!({ "thresholds": map }))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display())).exit_with(Exit::Failed)
}

/// Writes `bytes` to `path`, or to standard output when `path` is `None` or `-`.
pub fn write_output(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(p) if p != Path::new("-") => {
            // A path that cannot be written is a bad flag (exit 2), named as such.
            std::fs::write(p, bytes).with_context(|| format!("--output {}", p.display())).exit_with(Exit::InvalidInput)
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}
