//! `slo rules export`: Prometheus recording rules and multi-window multi-burn-rate alerts
//! (slo_report::rules).

use slo_config::load_slo_config;
use slo_report::rules::{export_rules, RulesOptions};

use crate::cli::RulesCommand;
use crate::cmd::write_output;
use crate::exit::{Exit, WithExit};

/// Runs `slo rules ...`: exit 0 (warnings on standard error), 2 on a config that cannot
/// get rules, 1 when the output cannot be written.
pub fn run(c: RulesCommand) -> anyhow::Result<Exit> {
    let RulesCommand::Export(a) = c;
    let config = load_slo_config(&a.config).exit_with(Exit::InvalidInput)?;
    let mut options = RulesOptions::default();
    if let Some(b) = a.buckets {
        options.buckets_seconds = b;
    }
    let (text, warnings) = export_rules(&config, &options).exit_with(Exit::InvalidInput)?;
    for w in &warnings {
        say!("warning: {w}");
    }
    write_output(a.out.as_deref(), text.as_bytes())?;
    if let Some(p) = &a.out {
        say!("wrote {}", p.display());
    }
    Ok(Exit::Pass)
}
