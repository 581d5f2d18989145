//! `slo check`: judge a stored run against slo-config.yaml SLOs and k6 thresholds.

use anyhow::Context;
use slo_analyze::{Options, SloSpec};
use slo_config::{load_k6_options, load_slo_config, MetricThresholds};

use crate::cli::CheckArgs;
use crate::cmd::{open_store, open_store_to_read, store_result, write_output};
use crate::exit::{Exit, WithExit};

/// Runs `slo check`.
pub fn run(a: CheckArgs) -> anyhow::Result<Exit> {
    // Parse every input before touching data, so bad input fails fast with exit 2.
    let config = match &a.config {
        Some(p) => Some(load_slo_config(p).exit_with(Exit::InvalidInput)?),
        None => None,
    };
    let mut thresholds: Vec<MetricThresholds> = Vec::new();
    if let Some(name) = &a.profile {
        let cfg = config.as_ref().expect("clap: --profile requires --config");
        match cfg.profile(name) {
            Some(set) => thresholds.extend(set.iter().cloned()),
            None => {
                let known: Vec<&str> = cfg.thresholds.keys().map(String::as_str).collect();
                return Err(anyhow::anyhow!(
                    "--profile {name:?}: no such threshold profile in {} (profiles: {})",
                    cfg.file,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
                .exit_with(Exit::InvalidInput);
            }
        }
    }
    if let Some(p) = &a.k6_options {
        let opts = load_k6_options(p).exit_with(Exit::InvalidInput)?;
        thresholds.extend(opts.thresholds.iter().cloned());
    }
    let slos: Vec<SloSpec> = config.as_ref().map(|c| c.slos.iter().map(SloSpec::from).collect()).unwrap_or_default();

    if a.threshold_window.is_some_and(|w| w.is_zero()) {
        return Err(anyhow::anyhow!("--threshold-window: the window must be longer than 0 s (e.g. 1m)")).exit_with(Exit::InvalidInput);
    }
    let options = Options {
        allow_no_data: a.allow_no_data,
        threshold_window: a.threshold_window,
        min_samples: config.as_ref().and_then(|c| c.min_samples).unwrap_or(0),
        // Table, Markdown and JUnit show verdicts only: read just the metrics judged.
        verdicts_only: !matches!(a.format, crate::cli::ReportFormat::Json | crate::cli::ReportFormat::Html),
    };
    if let Some(spec) = &a.source {
        return check_source(&a, spec, thresholds, &slos, options);
    }
    if a.from.is_some() {
        return Err(anyhow::anyhow!("--from/--to need --source influxdb=URL or prometheus=URL")).exit_with(Exit::InvalidInput);
    }

    let store = open_store_to_read(&a.store.store)?;
    let meta = store_result(store.resolve(&a.run)).with_context(|| format!("--run {}", a.run))?;
    if thresholds.is_empty() && slos.is_empty() {
        // Nothing given: the thresholds the run was recorded with (slo run keeps them),
        // else refuse — a check that judges nothing must not pass in CI.
        let own = store.run_dir(&meta.id).join(crate::cmd::RUN_THRESHOLDS_FILE);
        if !own.exists() {
            return Err(anyhow::anyhow!(
                "nothing to judge: run {} has no thresholds of its own; give --config FILE (with slos:) and/or --profile NAME, or --k6-options FILE",
                meta.id
            ))
            .exit_with(Exit::InvalidInput);
        }
        thresholds.extend(load_k6_options(&own).exit_with(Exit::InvalidInput)?.thresholds.iter().cloned());
    }
    let mut report = crate::cmd::analyze_run(&store, &meta, &thresholds, &slos, options)?;
    if store.run_state(&meta) == slo_store::RunState::Interrupted {
        report.notes.insert(0, format!("run {} was stopped early (Ctrl-C or abortOnFail); judged on what it recorded", meta.id));
    }
    if store.run_state(&meta) == slo_store::RunState::Live {
        report.notes.insert(0, format!("run {} is still recording: judged on what it has recorded so far", meta.id));
    }
    if store.run_state(&meta) == slo_store::RunState::Incomplete {
        report.notes.insert(
            0,
            format!(
                "run {} is incomplete: its recording never ended (was the generator killed?); judged on the {} points recorded",
                meta.id, meta.points
            ),
        );
    }

    let bytes = match crate::cmd::text_format(a.format) {
        Some(f) => slo_report::render_check(&report, f),
        None => {
            let charts = crate::cmd::run_charts(&crate::cmd::collect_run(&store, &meta)?, &meta);
            slo_report::html::render_check_html(&report, &charts).into_bytes()
        }
    };
    finish(&a, &report, &bytes)
}

fn finish(a: &CheckArgs, report: &slo_analyze::CheckReport, bytes: &[u8]) -> anyhow::Result<Exit> {
    write_output(a.output.as_deref(), bytes)?;
    Ok(match report.exit_code() {
        0 => Exit::Pass,
        3 => Exit::NoData,
        _ => Exit::Failed,
    })
}

/// `slo check --source influxdb=URL|prometheus=URL`: the run (or `--from/--to` range)
/// read from a real store; without thresholds or SLOs given, the run's own thresholds
/// as `slo run` kept them in --store (if this machine recorded it).
fn check_source(
    a: &CheckArgs,
    spec: &str,
    mut thresholds: Vec<MetricThresholds>,
    slos: &[SloSpec],
    options: Options,
) -> anyhow::Result<Exit> {
    use crate::cmd::source::{self, Selection, Store};
    let store = source::parse("--source", spec)?;
    let sel = match (&a.from, &a.to) {
        (Some(f), Some(t)) => {
            let (from, to) = (source::parse_time("--from", f)?, source::parse_time("--to", t)?);
            if to <= from {
                return Err(anyhow::anyhow!("--to {t} is not after --from {f}")).exit_with(Exit::InvalidInput);
            }
            Selection::Range(from, to)
        }
        _ => Selection::Run(a.run.clone()),
    };
    let given = !(thresholds.is_empty() && slos.is_empty());
    let local = a.store.store.clone();
    let mut own = |meta: &slo_model::RunMeta, th: &mut Vec<MetricThresholds>| -> anyhow::Result<()> {
        if given {
            return Ok(());
        }
        if local.is_dir() {
            let store = open_store(&local)?;
            let f = store.run_dir(&meta.id).join(crate::cmd::RUN_THRESHOLDS_FILE);
            if f.exists() {
                th.extend(load_k6_options(&f).exit_with(Exit::InvalidInput)?.thresholds.iter().cloned());
                return Ok(());
            }
        }
        Err(anyhow::anyhow!(
            "nothing to judge: run {} has no thresholds of its own in --store {}; give --config FILE (with slos:) and/or --profile NAME, or --k6-options FILE",
            meta.id,
            local.display()
        ))
        .exit_with(Exit::InvalidInput)
    };
    let (report, _meta) = match store {
        Store::Influx(cfg) => source::check_influx(cfg, &sel, &mut thresholds, slos, options, &mut own)?,
        Store::Prometheus(cfg) => source::check_prometheus(cfg, &sel, &mut thresholds, slos, options, &mut own)?,
    };
    let bytes = match crate::cmd::text_format(a.format) {
        Some(f) => slo_report::render_check(&report, f),
        // Charts need raw samples; a report read from a remote store has none.
        None => slo_report::html::render_check_html(&report, &Default::default()).into_bytes(),
    };
    finish(a, &report, &bytes)
}
