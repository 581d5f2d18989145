//! `slo import k6-json FILE`: k6 NDJSON into the local store as one run.

use slo_store::{import_k6_json, ImportOptions};

use crate::cli::{ImportCommand, ImportK6JsonArgs};
use crate::cmd::{open_store, store_result};
use crate::exit::Exit;

/// Runs `slo import ...`.
pub fn run(cmd: ImportCommand) -> anyhow::Result<Exit> {
    match cmd {
        ImportCommand::K6Json(a) => k6_json(a),
    }
}

fn k6_json(a: ImportK6JsonArgs) -> anyhow::Result<Exit> {
    let store = open_store(&a.store.store)?;
    let opts = ImportOptions { run_id: a.run_id, tags: a.tags.into_iter().collect(), skip_bad_lines: a.skip_bad_lines };
    // The store's errors name the file (and line) already.
    let report = store_result(import_k6_json(&store, &a.file, opts))?;
    let secs = report.elapsed_s.max(1e-9);
    say!(
        "imported {} points ({} lines{}) from {} as run {} in {:.2}s ({:.1} M lines/s)",
        report.points,
        report.lines,
        if report.gzip { ", gzip" } else { "" },
        a.file.display(),
        report.run.id,
        secs,
        report.lines as f64 / secs / 1e6
    );
    if report.skipped_lines > 0 {
        let first: Vec<String> = report.skipped.iter().map(|s| format!("line {}: {}", s.line, s.msg)).collect();
        say!("skipped {} malformed lines (--skip-bad-lines): {}", report.skipped_lines, first.join("; "));
    }
    crate::cmd::write_output(None, format!("{}\n", report.run.id).as_bytes())?;
    Ok(Exit::Pass)
}
