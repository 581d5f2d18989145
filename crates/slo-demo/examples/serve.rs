//! Runs the demo target until SIGINT/SIGTERM, for recording k6 runs against it.
//!
//! ```text
//! cargo run --release -p slo-demo --example serve -- --addr 127.0.0.1:0 --profile baseline
//! ```
//!
//! Prints `listening on http://ADDR` on stdout once bound (port 0 picks a free port), and
//! on shutdown prints the per-route counters as one JSON line (the `GET /__stats` shape).
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use slo_demo::{DemoConfig, Profile, Stats};

#[derive(Parser)]
#[command(about = "Serve the slo demo target (shop API with injected latency and errors)")]
struct Opts {
    /// Address to bind; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Built-in profile.
    #[arg(long, default_value = "baseline", value_parser = clap::builder::PossibleValuesParser::new(Profile::NAMES))]
    profile: String,
    /// A YAML or JSON DemoConfig file (overrides --profile).
    #[arg(long, conflicts_with = "profile")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(opts: Opts) -> Result<(), Box<dyn std::error::Error>> {
    let cfg = match &opts.config {
        Some(path) => DemoConfig::from_path(path)?,
        None => opts.profile.parse::<Profile>()?.config(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(|e| format!("cannot bind --addr {}: {e}", opts.addr))?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let stats = Arc::new(Stats::new());
        slo_demo::serve_with_stats(listener, cfg, Arc::clone(&stats), stop_signal()?).await?;
        println!("{}", serde_json::to_string(&stats.snapshot())?);
        Ok(())
    })
}

/// Completes on SIGINT or (on Unix) SIGTERM, which is what `kill PID` sends.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
