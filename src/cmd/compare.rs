//! `slo compare`: a candidate run against a baseline, per endpoint, with statistics.

use anyhow::Context;
use slo_analyze::compare::collect::endpoint_inputs;
use slo_analyze::compare::{compare, ChangeVerdict, CompareOptions, ComparisonInput, EndpointInput, RunSide, Tolerance};
use slo_config::load_slo_config;
use slo_model::RunMeta;
use slo_store::LocalStore;

use crate::cli::{CompareArgs, FailOn};
use crate::cmd::{open_store_to_read, store_result, write_output};
use crate::exit::{Exit, WithExit};

/// Runs `slo compare`.
pub fn run(a: CompareArgs) -> anyhow::Result<Exit> {
    let mut opts = CompareOptions { min_samples: a.min_samples, seed: a.seed, ..CompareOptions::default() };
    if let Some(p) = &a.config {
        let cfg = load_slo_config(p).exit_with(Exit::InvalidInput)?;
        opts.tolerances = opts.tolerances.with_latency(Tolerance::relative(cfg.tolerance_percent / 100.0));
    }
    let store = open_store_to_read(&a.store.store)?;
    let candidate = resolve(&store, &a.candidate, None).context("--candidate")?;
    let baseline = resolve(&store, &a.baseline, Some(&candidate.id.0)).context("--baseline")?;
    if baseline.id == candidate.id {
        return Err(anyhow::anyhow!("--baseline and --candidate are the same run {}", baseline.id)).exit_with(Exit::InvalidInput);
    }
    let warnings = comparability(&baseline, &candidate);
    for w in &warnings {
        say!("warning: {w}");
    }
    let b = crate::cmd::collect_run(&store, &baseline)?;
    let c = crate::cmd::collect_run(&store, &candidate)?;
    let (b_all, c_all) = (b.overall(), c.overall());
    let input = ComparisonInput {
        baseline: RunSide { id: baseline.id.0.clone(), duration_s: baseline.duration_s },
        candidate: RunSide { id: candidate.id.0.clone(), duration_s: candidate.duration_s },
        overall: Some(EndpointInput { name: "all requests".into(), baseline: b_all.sample(b.checks), candidate: c_all.sample(c.checks) }),
        endpoints: endpoint_inputs(&b, &c),
    };
    let cmp = compare(&input, &opts).exit_with(Exit::InvalidInput)?;
    let strict = a.fail_on == Some(FailOn::Inconclusive) && cmp.verdict == ChangeVerdict::Inconclusive;
    let exit = if cmp.has_regression() || strict { Exit::Failed } else { Exit::Pass };
    let bytes = match crate::cmd::text_format(a.format) {
        // Like `slo check`'s JSON: with the schema version and the exit code.
        Some(slo_report::Format::Json) => {
            let mut v = serde_json::json!({ "schema_version": slo_analyze::SCHEMA_VERSION, "exit_code": exit as i32 });
            if let (Some(o), serde_json::Value::Object(c)) = (v.as_object_mut(), serde_json::to_value(&cmp)?) {
                o.extend(c);
            }
            serde_json::to_string_pretty(&v)?.into_bytes().into_iter().chain(*b"\n").collect()
        }
        Some(f) => slo_report::render_compare(&cmp, f),
        None => {
            let charts = slo_report::charts::CompareCharts {
                baseline: crate::cmd::run_charts(&b, &baseline),
                candidate: crate::cmd::run_charts(&c, &candidate),
                endpoints: Vec::new(),
                endpoint_statistic: "p(95)".into(),
            };
            let mut view = slo_report::html::ComparisonView::new(cmp.clone());
            view.baseline_run = Some(slo_analyze::RunInfo::from_meta(&baseline));
            view.candidate_run = Some(slo_analyze::RunInfo::from_meta(&candidate));
            view.comparability = warnings.clone();
            slo_report::html::render_compare_html(&view, &charts).into_bytes()
        }
    };
    write_output(a.output.as_deref(), &bytes)?;
    Ok(exit)
}

/// Resolves `latest`, an id, a prefix, or `latest:k=v,...` (the newest run carrying every
/// tag, other than `exclude`).
fn resolve(store: &LocalStore, spec: &str, exclude: Option<&str>) -> anyhow::Result<RunMeta> {
    let Some(query) = spec.strip_prefix("latest:") else {
        return store_result(store.resolve(spec));
    };
    let mut want = Vec::new();
    for kv in query.split(',') {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{spec:?}: expected latest:KEY=VALUE[,KEY=VALUE]"))
            .exit_with(Exit::InvalidInput)?;
        want.push((k.trim().to_string(), v.trim().to_string()));
    }
    let runs = store_result(store.list_runs())?;
    runs.into_iter()
        .rev()
        .find(|m| Some(m.id.0.as_str()) != exclude && want.iter().all(|(k, v)| m.tags.get(k) == Some(v)))
        .ok_or_else(|| anyhow::anyhow!("no run with tags {query} in {}", store.dir().display()))
        .exit_with(Exit::NoData)
}

/// What makes two runs hard to compare (DESIGN.md: same load profile, completeness,
/// generator version), as warnings.
fn comparability(b: &RunMeta, c: &RunMeta) -> Vec<String> {
    let mut w = Vec::new();
    // Imports name their scenario after the file, so only slo's own runs are compared by it.
    if b.origin == "slo run" && b.scenario != c.scenario {
        w.push(format!(
            "the runs come from different scenarios ({:?} vs {:?})",
            b.scenario.as_deref().unwrap_or("-"),
            c.scenario.as_deref().unwrap_or("-")
        ));
    }
    if b.origin != c.origin {
        w.push(format!("the runs come from different tools ({} vs {})", b.origin, c.origin));
    } else if b.slo_version != c.slo_version {
        w.push(format!("the runs were recorded by different slo versions ({} vs {})", b.slo_version, c.slo_version));
    }
    if let (Some(x), Some(y)) = (b.duration_s, c.duration_s) {
        if x > 0.0 && ((y - x) / x).abs() > 0.2 {
            w.push(format!("the run durations differ by more than 20% ({x:.1}s vs {y:.1}s)"));
        }
    }
    for m in [b, c] {
        if m.status == slo_model::RunStatus::Running {
            w.push(format!("run {} is incomplete (its recording never ended)", m.id));
        }
    }
    w
}
