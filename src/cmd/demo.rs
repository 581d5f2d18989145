//! `slo demo`: the main job on embedded defaults; `slo demo serve`: the demo target alone.
//!
//! The main job: the demo target in-process on a free loopback port (baseline profile),
//! the embedded scenario (`slo/demo.scenario.yaml`) recorded as a baseline run (tag
//! `role=baseline`), the target restarted with the candidate profile (product detail
//! 1.5 × slower) and a candidate run (tag `role=candidate`), then `slo check --run latest`
//! with the embedded `slo/demo.slo-config.yaml` and its threshold profile `demo`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use slo_config::scenario::ScenarioFile;
use slo_demo::{DemoConfig, DemoServer, Profile};

use crate::cli::{CheckArgs, DemoArgs, DemoCommand, DemoServeArgs, ReportFormat, RunArgs, StoreArgs};
use crate::exit::{Exit, WithExit};

/// The scenario `slo demo` runs.
pub const DEMO_SCENARIO: &str = include_str!("../../slo/demo.scenario.yaml");
/// The slo-config.yaml `slo demo` checks with (threshold profile `demo`).
pub const DEMO_CONFIG: &str = include_str!("../../slo/demo.slo-config.yaml");
/// Threshold profile of [`DEMO_CONFIG`] the demo applies.
const DEMO_PROFILE: &str = "demo";

/// Runs `slo demo ...`.
pub fn run(a: DemoArgs) -> anyhow::Result<Exit> {
    match a.command {
        Some(DemoCommand::Serve(s)) => serve(s),
        None => main_job(&a.store),
    }
}

/// Writes `text` to `path` (the demo's copies of its embedded files).
fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display())).exit_with(Exit::Failed)
}

/// One run of the demo scenario against a fresh demo target with `profile`.
fn demo_run(store: &StoreArgs, scenario: &Path, file: &ScenarioFile, profile: Profile) -> anyhow::Result<super::run::Outcome> {
    let server = DemoServer::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), profile.config())
        .context("starting the demo target on 127.0.0.1")
        .exit_with(Exit::Failed)?;
    say!("\n== {profile} run: demo target ({profile} profile) at {} ==", server.url());
    let args = RunArgs {
        scenario: scenario.to_path_buf(),
        target: Some(server.url()),
        out: vec!["local".into()],
        tags: vec![("role".into(), profile.name().into())],
        segment: None,
        run_id: None,
        quiet: false,
        max_duration: None,
        store: store.clone(),
    };
    let outcome = super::run::record(&args, file);
    let served = server.stats();
    server.stop().context("stopping the demo target")?;
    let outcome = outcome?;
    say!("demo target served {} requests", served.total);
    Ok(outcome)
}

fn main_job(store: &StoreArgs) -> anyhow::Result<Exit> {
    let dir = store.store.join("demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display())).exit_with(Exit::Failed)?;
    let scenario: PathBuf = dir.join("demo.scenario.yaml");
    let config: PathBuf = dir.join("demo.slo-config.yaml");
    write_file(&scenario, DEMO_SCENARIO)?;
    write_file(&config, DEMO_CONFIG)?;
    let file = ScenarioFile::load(&scenario).exit_with(Exit::InvalidInput)?;

    let baseline = demo_run(store, &scenario, &file, Profile::Baseline)?;
    if baseline.exit == Exit::Interrupted {
        return Ok(Exit::Interrupted);
    }
    let candidate = demo_run(store, &scenario, &file, Profile::Candidate)?;
    if candidate.exit == Exit::Interrupted {
        return Ok(Exit::Interrupted);
    }

    println!("\n== slo check --run latest (the candidate) --config {} --profile {DEMO_PROFILE} ==\n", config.display());
    let check = super::check::run(CheckArgs {
        run: "latest".into(),
        config: Some(config.clone()),
        profile: Some(DEMO_PROFILE.into()),
        k6_options: None,
        format: ReportFormat::Table,
        output: None,
        allow_no_data: false,
        threshold_window: None,
        source: None,
        from: None,
        to: None,
        store: store.clone(),
    })?;

    let s = store.store.display();
    let c = config.display();
    println!("\nresults in {s}:");
    println!("  baseline run   {} (tag role=baseline, exit {})", baseline.run_id, baseline.exit.code());
    println!("  candidate run  {} (tag role=candidate, exit {})", candidate.run_id, candidate.exit.code());
    println!("  scenario       {}", scenario.display());
    println!("  slo-config     {c}");
    println!("re-run the checks:");
    println!("  slo check --store {s} --run {} --config {c} --profile {DEMO_PROFILE}", baseline.run_id);
    println!("  slo check --store {s} --run {} --config {c} --profile {DEMO_PROFILE}", candidate.run_id);
    println!("  slo runs list --store {s}");
    println!("record another run against your own target:");
    println!("  slo run {} --target http://127.0.0.1:PORT --store {s}", scenario.display());

    Ok([baseline.exit, candidate.exit, check].into_iter().find(|e| *e != Exit::Pass).unwrap_or(Exit::Pass))
}

/// Resolves `--profile`: a built-in profile name or a YAML/JSON file of per-route settings.
pub fn demo_config(profile: &str) -> anyhow::Result<DemoConfig> {
    if let Ok(p) = profile.parse::<Profile>() {
        return Ok(p.config());
    }
    let path = std::path::Path::new(profile);
    if path.exists() {
        return DemoConfig::from_path(path).exit_with(Exit::InvalidInput);
    }
    Err(anyhow::anyhow!("--profile {profile:?}: not one of {} nor a file", Profile::NAMES.join(", "))).exit_with(Exit::InvalidInput)
}

fn serve(a: DemoServeArgs) -> anyhow::Result<Exit> {
    if !a.addr.ip().is_loopback() {
        return Err(anyhow::anyhow!("--addr {}: the demo target listens on loopback only (127.0.0.1 or [::1])", a.addr))
            .exit_with(Exit::InvalidInput);
    }
    let cfg = demo_config(&a.profile)?;
    let server = DemoServer::start(a.addr, cfg).with_context(|| format!("listening on {}", a.addr)).exit_with(Exit::InvalidInput)?;
    say!("demo target ({}) listening on {}; Ctrl-C stops it", a.profile, server.url());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(tokio::signal::ctrl_c()).context("waiting for Ctrl-C")?;
    let stats = server.stats();
    server.stop()?;
    say!("stopped; {} requests served", stats.total);
    Ok(Exit::Interrupted)
}
