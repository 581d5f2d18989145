//! `slo`: load generator, sample store and SLO analyzer in one binary. This file only
//! parses the command line, runs the command and turns its outcome into an exit code.

/// Writes a line to standard error, ignoring a closed stderr (`slo ... 2>&1 | head`):
/// progress and notes must never crash a run.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod cmd;
mod exit;

use std::process::ExitCode;

use clap::Parser;

use crate::exit::{exit_of, Exit};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap's own exit codes: 0 for --help/--version, 2 for usage errors (= invalid input).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::InvalidInput.code() } else { 0 });
        }
    };
    match cmd::run(cli.command) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            // A closed pipe (`slo check | head`) is not an error (ripgrep does the same).
            if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
                return ExitCode::SUCCESS;
            }
            say!("Error: {e:#}");
            ExitCode::from(exit_of(&e).code())
        }
    }
}
