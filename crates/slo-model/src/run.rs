//! Run identity and metadata, as every store keeps them in its run registry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metric::MetricInfo;

/// A run id: `YYYYMMDDTHHMMSSZ-xxxxxx` (UTC start time, then 6 hex digits), so ids sort
/// by time; or, for imports and k6 data, any id the user gave (`--run-id`, k6 `testid`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub String);

impl RunId {
    /// A new time-ordered id for a run that starts at `start_ns` (ns since the epoch);
    /// `salt` supplies the 6 hex digits that separate runs started in the same second.
    pub fn new(start_ns: i64, salt: u32) -> Self {
        let t = chrono::DateTime::from_timestamp_nanos(start_ns);
        RunId(format!("{}-{:06x}", t.format("%Y%m%dT%H%M%SZ"), salt & 0xff_ffff))
    }

    /// Whether `s` is safe as a run id: 1 to 128 characters of ASCII letters, digits and
    /// `- _ . :`, not starting with `.`, and not `latest` (which `--run latest` means).
    /// Ids become folder names, so nothing else passes.
    pub fn is_valid(s: &str) -> bool {
        s != "latest"
            && !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a run's recording finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still being written, or the writer died (`kill -9`) before recording its end:
    /// readers treat it as incomplete.
    Running,
    /// Ended normally; every sample was written.
    Complete,
    /// Stopped by Ctrl-C or `abortOnFail`; what was recorded is whole.
    Interrupted,
}

/// A run's metadata, as stored beside its samples (local store `run.json`, the
/// `slo_run` registry in InfluxDB/Prometheus).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// The run's id.
    pub id: RunId,
    /// When the run was recorded or imported into this store, ns since the epoch; `latest`
    /// means the largest.
    pub created_ns: i64,
    /// First sample time, ns since the epoch (`None` with no samples).
    pub start_ns: Option<i64>,
    /// Last sample time, ns since the epoch.
    pub end_ns: Option<i64>,
    /// Test duration in seconds that counters' per-second `rate` divides by, and where it
    /// came from (`"first to last point"` for an NDJSON import, `"wall clock"` for slo run).
    pub duration_s: Option<f64>,
    /// Where `duration_s` came from, stated in reports.
    pub duration_source: Option<String>,
    /// Whether the recording finished.
    pub status: RunStatus,
    /// Where the samples came from: `"slo run"`, `"k6 json import"`, ...
    pub origin: String,
    /// Scenario file or imported file name (never a URL with credentials).
    pub scenario: Option<String>,
    /// User tags of the run (`--tag k=v`).
    pub tags: BTreeMap<String, String>,
    /// Declared metrics (name, type, contains), sorted by name.
    pub metrics: Vec<MetricInfo>,
    /// Number of points stored.
    pub points: u64,
    /// Version of slo that wrote the run.
    pub slo_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_validate() {
        let a = RunId::new(1_700_000_000_000_000_000, 0xabc);
        let b = RunId::new(1_700_000_001_000_000_000, 0x1);
        assert!(a < b);
        assert_eq!(a.0, "20231114T221320Z-000abc");
        assert!(RunId::is_valid(&a.0));
        assert!(!RunId::is_valid("../etc"));
        assert!(!RunId::is_valid(""));
        assert!(!RunId::is_valid("latest"), "reserved for --run latest");
        assert!(RunId::is_valid("latest-2"));
    }
}
