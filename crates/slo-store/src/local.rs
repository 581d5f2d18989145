//! The local run store: a directory (default `.slo/`) with one folder per run.
//!
//! ```text
//! <dir>/runs/<run-id>/run.json              RunMeta, pretty JSON
//! <dir>/runs/<run-id>/part-000001.parquet   points in arrival order (see `layout`)
//! <dir>/runs/<run-id>/req-000001.parquet    HTTP requests, one row each (see `layout`)
//! <dir>/runs/<run-id>/.part-000002.parquet.tmp   a part being written (ignored by readers)
//! <dir>/runs/<run-id>/writer.pid            present while a writer holds the run
//! <dir>/.tmp/<random>/                      imports being assembled
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use slo_model::{builtin_metric, MetricInfo, Point, RunId, RunMeta, RunStatus};

use crate::error::StoreError;
use crate::layout::{
    parse_part_name, request_metric_index, request_only, BatchBuilder, PartKind, PartSink, RequestBuilder, BATCH_ROWS, REQUEST_METRICS,
};

/// Name of the metadata file in each run folder.
pub const RUN_FILE: &str = "run.json";
const PID_FILE: &str = "writer.pid";

/// Nanoseconds since the Unix epoch now.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// A local store rooted at a directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
}

/// Where a run's recording stands, as seen by a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// A writer (this or another live process) is still recording it.
    Live,
    /// Status `running` but no writer holds it: the writer died or was dropped without
    /// `finish`. Its closed parts are readable; the end was never recorded.
    Incomplete,
    /// Finished normally.
    Complete,
    /// Stopped by Ctrl-C or abortOnFail; what was recorded is whole.
    Interrupted,
}

impl LocalStore {
    /// Opens the store at `dir`, creating `dir` and `dir/runs` when missing.
    /// Errors: [`StoreError::Io`] naming the directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<LocalStore, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let runs = dir.join("runs");
        fs::create_dir_all(&runs).map_err(|e| StoreError::io(&runs, e))?;
        Ok(LocalStore { dir })
    }

    /// The store's root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder that holds (or would hold) run `id`.
    pub fn run_dir(&self, id: &RunId) -> PathBuf {
        self.dir.join("runs").join(&id.0)
    }

    /// Every run in the store, sorted by `created_ns` (then id). Folders without a
    /// readable `run.json` are not runs and are skipped. A run whose status is `running`
    /// gets `points`, `start_ns` and `end_ns` recomputed from its closed parts' footers,
    /// since its `run.json` was written before any point. Errors: the runs folder
    /// cannot be listed.
    pub fn list_runs(&self) -> Result<Vec<RunMeta>, StoreError> {
        let runs = self.dir.join("runs");
        let rd = fs::read_dir(&runs).map_err(|e| StoreError::io(&runs, e))?;
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| StoreError::io(&runs, e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !RunId::is_valid(name) {
                continue;
            }
            if let Ok(meta) = self.load_meta(&ent.path()) {
                out.push(meta);
            }
        }
        out.sort_by(|a, b| a.created_ns.cmp(&b.created_ns).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Reads one run folder's metadata (see [`LocalStore::list_runs`] for `running` runs).
    fn load_meta(&self, run_dir: &Path) -> Result<RunMeta, StoreError> {
        let p = run_dir.join(RUN_FILE);
        let text = fs::read_to_string(&p).map_err(|e| StoreError::io(&p, e))?;
        let mut meta: RunMeta = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt { path: p.clone(), msg: e.to_string() })?;
        if meta.status == RunStatus::Running {
            let (points, min, max) = footer_stats(&part_files_in(run_dir)?)?;
            meta.points = points;
            meta.start_ns = min;
            meta.end_ns = max;
        }
        Ok(meta)
    }

    /// Finds a run by `spec`: `latest` (largest `created_ns`), a full id, or a prefix of
    /// exactly one id. Errors: [`StoreError::RunNotFound`] when nothing matches (exit 3),
    /// [`StoreError::AmbiguousRun`] for a prefix of several ids and
    /// [`StoreError::InvalidRunId`] for an empty spec (exit 2).
    pub fn resolve(&self, spec: &str) -> Result<RunMeta, StoreError> {
        if spec.is_empty() {
            return Err(StoreError::InvalidRunId(String::new()));
        }
        let runs = self.list_runs()?;
        if spec == "latest" {
            // list_runs sorts by created_ns, so the last is the latest.
            return runs.into_iter().last().ok_or_else(|| StoreError::RunNotFound(spec.to_string()));
        }
        if let Some(m) = runs.iter().find(|m| m.id.0 == spec) {
            return Ok(m.clone());
        }
        let mut hits: Vec<RunMeta> = runs.into_iter().filter(|m| m.id.0.starts_with(spec)).collect();
        match hits.len() {
            0 => Err(StoreError::RunNotFound(spec.to_string())),
            1 => Ok(hits.pop().expect("one hit")),
            _ => {
                let mut candidates: Vec<String> = hits.into_iter().map(|m| m.id.0).collect();
                candidates.sort();
                Err(StoreError::AmbiguousRun { spec: spec.to_string(), candidates })
            }
        }
    }

    /// Whether the run is being written, complete, interrupted or incomplete (a
    /// `running` run no live writer holds). Liveness is the `writer.pid` file naming a
    /// process that exists (`/proc/<pid>`; where `/proc` is missing, never live).
    pub fn run_state(&self, meta: &RunMeta) -> RunState {
        match meta.status {
            RunStatus::Complete => RunState::Complete,
            RunStatus::Interrupted => RunState::Interrupted,
            RunStatus::Running => {
                let pid_file = self.run_dir(&meta.id).join(PID_FILE);
                let live = fs::read_to_string(pid_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .is_some_and(|pid| Path::new("/proc").join(pid.to_string()).exists());
                if live {
                    RunState::Live
                } else {
                    RunState::Incomplete
                }
            }
        }
    }

    /// The closed part files of a run (both kinds, tmp files excluded), in part-number
    /// order, a number's point part before its request part.
    pub fn part_files(&self, meta: &RunMeta) -> Result<Vec<PathBuf>, StoreError> {
        Ok(part_files_in(&self.run_dir(&meta.id))?.into_iter().map(|(_, p)| p).collect())
    }

    /// Starts recording a run: creates its folder, writes `run.json` with status
    /// `running` (whatever `meta.status` says) and a `writer.pid` file. `meta.created_ns`
    /// of 0 is replaced by now. Errors: invalid id, [`StoreError::RunExists`], I/O.
    pub fn create_run(&self, mut meta: RunMeta) -> Result<RunWriter, StoreError> {
        if !RunId::is_valid(&meta.id.0) {
            return Err(StoreError::InvalidRunId(meta.id.0.clone()));
        }
        let dir = self.run_dir(&meta.id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(StoreError::RunExists(meta.id.0)),
            Err(e) => return Err(StoreError::io(&dir, e)),
        }
        meta.status = RunStatus::Running;
        if meta.created_ns == 0 {
            meta.created_ns = now_ns();
        }
        meta.points = 0;
        let pid_path = dir.join(PID_FILE);
        fs::write(&pid_path, std::process::id().to_string()).map_err(|e| StoreError::io(&pid_path, e))?;
        write_meta(&dir, &meta)?;
        let declared = meta.metrics.iter().map(|m| (m.name.clone(), m.clone())).collect();
        Ok(RunWriter {
            sink: PartSink::new(&dir, 1, PartKind::Points),
            req_sink: PartSink::new(&dir, 1, PartKind::Requests),
            dir,
            meta,
            builder: BatchBuilder::new(),
            requests: RequestBuilder::new(),
            declared,
            used: HashSet::new(),
            req_used: [false; REQUEST_METRICS.len()],
            min_t: None,
            max_t: None,
            points: 0,
            done: false,
        })
    }
}

/// Closed part files of a run folder with their kinds, in (number, kind) order.
pub(crate) fn part_files_in(run_dir: &Path) -> Result<Vec<(PartKind, PathBuf)>, StoreError> {
    let rd = fs::read_dir(run_dir).map_err(|e| StoreError::io(run_dir, e))?;
    let mut parts = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| StoreError::io(run_dir, e))?;
        if let Some((kind, n)) = ent.file_name().to_str().and_then(parse_part_name) {
            parts.push((n, kind, ent.path()));
        }
    }
    parts.sort();
    Ok(parts.into_iter().map(|(_, k, p)| (k, p)).collect())
}

/// Points and min/max `time` of part files, from their footers only (a request row
/// holds one point per non-null metric column).
fn footer_stats(parts: &[(PartKind, PathBuf)]) -> Result<(u64, Option<i64>, Option<i64>), StoreError> {
    let mut points = 0u64;
    let (mut lo, mut hi): (Option<i64>, Option<i64>) = (None, None);
    for (kind, p) in parts {
        let f = fs::File::open(p).map_err(|e| StoreError::io(p, e))?;
        let r = SerializedFileReader::new(f).map_err(|e| StoreError::parquet(p, e))?;
        let md = r.metadata();
        let cols = md.file_metadata().schema_descr().columns().to_vec();
        let time_col = cols.iter().position(|c| c.name() == "time");
        for rg in md.row_groups() {
            match kind {
                PartKind::Points => points += rg.num_rows() as u64,
                PartKind::Requests => {
                    for (i, c) in cols.iter().enumerate() {
                        if REQUEST_METRICS.contains(&c.name()) {
                            let nulls = rg.column(i).statistics().and_then(|s| s.null_count_opt()).unwrap_or(0);
                            points += (rg.num_rows() as u64).saturating_sub(nulls);
                        }
                    }
                }
            }
            if let Some(Statistics::Int64(s)) = time_col.and_then(|i| rg.column(i).statistics()) {
                if let Some(&m) = s.min_opt() {
                    lo = Some(lo.map_or(m, |x| x.min(m)));
                }
                if let Some(&m) = s.max_opt() {
                    hi = Some(hi.map_or(m, |x| x.max(m)));
                }
            }
        }
    }
    Ok((points, lo, hi))
}

/// Writes `run.json` atomically (tmp file, then rename).
pub(crate) fn write_meta(dir: &Path, meta: &RunMeta) -> Result<(), StoreError> {
    let tmp = dir.join(".run.json.tmp");
    let fin = dir.join(RUN_FILE);
    let mut text = serde_json::to_string_pretty(meta).map_err(|e| StoreError::Corrupt { path: fin.clone(), msg: e.to_string() })?;
    text.push('\n');
    fs::write(&tmp, text).map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, &fin).map_err(|e| StoreError::io(&fin, e))
}

/// How a run ended, for [`RunWriter::finish`]. Fields left `None` are derived from the
/// points written: `end_ns` = last point time, `duration_s` = (last − first point) in
/// seconds with source `"first to last point"`.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// End of the run, ns since the epoch.
    pub end_ns: Option<i64>,
    /// Test duration in seconds (e.g. wall clock of `slo run`).
    pub duration_s: Option<f64>,
    /// Where `duration_s` came from, e.g. `"wall clock"`.
    pub duration_source: Option<String>,
}

/// Records the points of one run into the local store. Rows go to Arrow columns, then
/// in batches of 65,536 rows to the open Parquet part; [`RunWriter::flush`] closes the
/// part (callers flush at least every second during a live run), and a part is also
/// closed by itself at 1,000,000 rows, so memory stays bounded.
///
/// Dropping a writer without [`RunWriter::finish`] closes the buffered rows into a part
/// and removes `writer.pid`, leaving status `running`: the run reads back as
/// [`RunState::Incomplete`] with every closed part.
pub struct RunWriter {
    dir: PathBuf,
    meta: RunMeta,
    builder: BatchBuilder,
    sink: PartSink,
    requests: RequestBuilder,
    req_sink: PartSink,
    declared: BTreeMap<String, MetricInfo>,
    used: HashSet<String>,
    /// Which of [`REQUEST_METRICS`] `push_request` has recorded.
    req_used: [bool; REQUEST_METRICS.len()],
    min_t: Option<i64>,
    max_t: Option<i64>,
    points: u64,
    done: bool,
}

impl RunWriter {
    /// The run's metadata as given to `create_run` (status `running`).
    pub fn meta(&self) -> &RunMeta {
        &self.meta
    }

    /// Points pushed so far.
    pub fn points(&self) -> u64 {
        self.points
    }

    /// Declares a metric's type, so it is listed in `run.json`. Metrics pushed without a
    /// declaration are listed only when they are k6 built-ins.
    pub fn declare_metric(&mut self, info: MetricInfo) {
        self.declared.insert(info.name.clone(), info);
    }

    /// Appends one point: metric name, time in ns since the epoch (UTC), value
    /// (milliseconds for time metrics, bytes for data metrics), tags as key/value pairs
    /// in any order (a repeated key: the later wins). Rows are stored in push order.
    pub fn push<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        metric: &str,
        time_ns: i64,
        value: f64,
        tags: &[(K, V)],
    ) -> Result<(), StoreError> {
        if !self.used.contains(metric) {
            self.used.insert(metric.to_string());
        }
        self.points += 1;
        self.min_t = Some(self.min_t.map_or(time_ns, |m| m.min(time_ns)));
        self.max_t = Some(self.max_t.map_or(time_ns, |m| m.max(time_ns)));
        // k6's HTTP request metrics always live in the request table (a row each here).
        if let Some(i) = request_metric_index(metric).filter(|&i| request_only(i)) {
            self.requests.push_point(i, time_ns, value, tags, false);
            if self.requests.len() >= BATCH_ROWS {
                let b = self.requests.finish();
                self.req_sink.write(&b)?;
            }
            return Ok(());
        }
        self.builder.push(metric, time_ns, value, tags);
        if self.builder.len() >= BATCH_ROWS {
            let b = self.builder.finish();
            self.sink.write(&b)?;
        }
        Ok(())
    }

    /// Appends one HTTP request as one row of the request table: the points
    /// [`slo_model::RequestSample::for_each_point`] lists, without expanding them.
    pub fn push_request(&mut self, s: &slo_model::RequestSample) -> Result<(), StoreError> {
        let vals = s.metric_values();
        for (used, v) in self.req_used.iter_mut().zip(vals) {
            *used |= v.is_some();
        }
        self.points += self.requests.push_request(s, vals);
        let t = s.time_ns;
        self.min_t = Some(self.min_t.map_or(t, |m| m.min(t)));
        self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
        if self.requests.len() >= BATCH_ROWS {
            let b = self.requests.finish();
            self.req_sink.write(&b)?;
        }
        Ok(())
    }

    /// Appends a [`Point`] (see [`RunWriter::push`]).
    pub fn push_point(&mut self, p: &Point) -> Result<(), StoreError> {
        self.push(&p.metric, p.time_ns, p.value, &p.tags.0)
    }

    /// Writes the buffered rows and closes the current part file, so that they survive
    /// a `kill -9`. Does nothing when no row is pending.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.builder.len() > 0 {
            let b = self.builder.finish();
            self.sink.write(&b)?;
        }
        if self.requests.len() > 0 {
            let b = self.requests.finish();
            self.req_sink.write(&b)?;
        }
        self.sink.close_part()?;
        self.req_sink.close_part()
    }

    /// Flushes, writes the final `run.json` with `status` and the end information, and
    /// returns that metadata. `points`, `start_ns` (first point time) and the metric list
    /// (declared ones, plus k6 built-ins that were pushed undeclared, sorted by name)
    /// come from what was pushed.
    pub fn finish(mut self, status: RunStatus, end: RunEnd) -> Result<RunMeta, StoreError> {
        self.flush()?;
        let mut meta = self.meta.clone();
        meta.status = status;
        meta.points = self.points;
        meta.start_ns = self.min_t.or(meta.start_ns);
        meta.end_ns = end.end_ns.or(self.max_t).or(meta.end_ns);
        match end.duration_s {
            Some(d) => {
                meta.duration_s = Some(d);
                meta.duration_source = end.duration_source.or(meta.duration_source);
            }
            None => {
                if let (Some(a), Some(b)) = (meta.start_ns, meta.end_ns) {
                    meta.duration_s = Some((b - a) as f64 / 1e9);
                    meta.duration_source = Some(end.duration_source.unwrap_or_else(|| "first to last point".into()));
                }
            }
        }
        let mut metrics = std::mem::take(&mut self.declared);
        let from_requests = REQUEST_METRICS.iter().zip(self.req_used).filter(|(_, u)| *u).map(|(m, _)| m.to_string());
        self.used.extend(from_requests);
        for m in &self.used {
            if !metrics.contains_key(m) {
                if let Some(b) = builtin_metric(m) {
                    metrics.insert(m.clone(), b);
                }
            }
        }
        meta.metrics = metrics.into_values().collect();
        write_meta(&self.dir, &meta)?;
        let _ = fs::remove_file(self.dir.join(PID_FILE));
        self.done = true;
        Ok(meta)
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: keep what was pushed, leave status `running` (incomplete).
            let _ = self.flush();
            let _ = fs::remove_file(self.dir.join(PID_FILE));
        }
    }
}
