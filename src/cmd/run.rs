//! `slo run SCENARIO`: the load generator, recording every request into the store.

use crate::cli::RunArgs;
use crate::exit::{Exit, WithExit};

/// Runs `slo run`.
pub fn run(_a: RunArgs) -> anyhow::Result<Exit> {
    Err(anyhow::anyhow!("slo run: being wired")).exit_with(Exit::Failed)
}
