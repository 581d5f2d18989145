//! Helpers for tests that spawn the real `slo` binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the repository root.
pub fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

/// A `slo` command with `--store` set by the caller; nothing else inherited that matters.
pub fn slo() -> Command {
    let mut c = Command::cargo_bin("slo").expect("slo binary");
    c.env_remove("SLO_STORE");
    c
}

/// A scratch directory removed on drop.
pub struct Scratch(pub tempfile::TempDir);

impl Scratch {
    /// A new scratch directory.
    pub fn new() -> Scratch {
        Scratch(tempfile::tempdir().expect("tempdir"))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `<scratch>/store` as a string for `--store`.
    pub fn store(&self) -> String {
        self.0.path().join("store").display().to_string()
    }
}

/// Runs `slo ARGS... --store STORE`, returns the output.
pub fn run(store: &str, args: &[&str]) -> Output {
    let mut c = slo();
    c.args(args).arg("--store").arg(store);
    c.output().expect("spawn slo")
}

/// Exit code of an output (panics on a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Imports a k6 NDJSON file as run `id`; panics with slo's stderr when it fails.
pub fn import(store: &str, file: &Path, id: &str) {
    let o = run(store, &["import", "k6-json", &file.display().to_string(), "--run-id", id]);
    assert_eq!(code(&o), 0, "import {} failed: {}", file.display(), stderr(&o));
}

/// `slo check --format json` output parsed.
pub fn check_json(store: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let o = run(store, &all);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("check output is not JSON ({e}); stderr: {}", stderr(&o)));
    (code(&o), v)
}
