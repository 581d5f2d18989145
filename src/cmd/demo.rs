//! `slo demo`: the main job on embedded defaults; `slo demo serve`: the demo target alone.

use anyhow::Context;
use slo_demo::{DemoConfig, DemoServer, Profile};

use crate::cli::{DemoArgs, DemoCommand, DemoServeArgs};
use crate::exit::{Exit, WithExit};

/// Runs `slo demo ...`.
pub fn run(a: DemoArgs) -> anyhow::Result<Exit> {
    match a.command {
        Some(DemoCommand::Serve(s)) => serve(s),
        None => Err(anyhow::anyhow!("`slo demo` needs the load generator (not built yet); `slo demo serve` runs the target")).exit_with(Exit::Failed),
    }
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
    eprintln!("demo target ({}) listening on {}; Ctrl-C stops it", a.profile, server.url());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(tokio::signal::ctrl_c()).context("waiting for Ctrl-C")?;
    let stats = server.stats();
    server.stop()?;
    eprintln!("stopped; {} requests served", stats.total);
    Ok(Exit::Interrupted)
}
