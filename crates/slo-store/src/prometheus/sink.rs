//! The remote-write sink: aggregates k6 long-format points into cumulative series and
//! pushes one snapshot per push interval from a background thread.
//!
//! - [`PrometheusSink::write`] runs on the generator's thread: a hash lookup and an
//!   addition per point, never I/O. When a point's time passes the next push time (data
//!   time, so imports of recorded points push at their own times), or [`PrometheusSink::flush`]
//!   finds the push interval elapsed on the wall clock, a snapshot of every series (one
//!   sample per series, at one timestamp in ms) goes to a bounded channel. When the channel
//!   is full the snapshot is skipped and counted (`pushes_coalesced`): counters and
//!   histograms are cumulative, so the next snapshot carries the same counts; only time
//!   resolution is lost.
//! - The sender thread POSTs each snapshot with retries (exponential backoff with jitter
//!   on 5xx, 408, connection errors and timeouts; 429/503 honour `Retry-After`). A push that
//!   still fails, or that the server refuses (other 4xx, reported in `errors`), is written
//!   to the spool as the exact request body (protobuf + snappy), one file per push, names in
//!   push order. [`push_spool`] sends the files later, oldest first. Prometheus accepts
//!   spooled samples older than ones it already has only with `out_of_order_time_window`;
//!   VictoriaMetrics accepts any.
//! - [`PrometheusSink::close`] sends the final snapshot, then, in a request of its own and
//!   only if that snapshot was delivered, the final `slo_run_info` series (status complete,
//!   `end_ms`) and a staleness marker for the `running` one; if the final snapshot went to
//!   the spool, the registry request goes there after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slo_model::RunStatus;

use super::client::{Client, WriteResult};
use super::config::PromConfig;
use super::histogram::{le_label, Classic, Native};
use super::remote_write::{decode_body, encode_body, labels_sorted, sample_count, Label, Sample, TimeSeries, WriteRequest, STALE_NAN_BITS};
use super::*;

/// The run the sink records, as the `slo_run_info` labels give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The run id: the `testid` label of every series.
    pub testid: String,
    /// Scenario name or file (the `scenario` label of `slo_run_info`).
    pub scenario: String,
    /// Version of slo (`slo_version` label).
    pub slo_version: String,
    /// Run start, ms since the Unix epoch (`start_ms` label).
    pub start_ms: i64,
}

/// What happened to the pushes of a run. Every sample of every push was either delivered
/// or spooled, or is counted in `samples_lost` with its error in `errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Pushes made (snapshots handed to the sender, the final registry request included).
    pub pushes: u64,
    /// Pushes the server acknowledged with 2xx.
    pub pushes_delivered: u64,
    /// Pushes written to the spool.
    pub pushes_spooled: u64,
    /// Periodic snapshots skipped because the sender was busy (no counts lost: the next
    /// snapshot is cumulative).
    pub pushes_coalesced: u64,
    /// Samples (float + histogram) in delivered pushes.
    pub samples_delivered: u64,
    /// Samples in spooled pushes.
    pub samples_spooled: u64,
    /// Samples neither delivered nor spooled (the spool could not be written).
    pub samples_lost: u64,
    /// HTTP retries made.
    pub retries: u64,
    /// Points given to `write`.
    pub points: u64,
    /// Points of metrics that are not exported (see the module docs).
    pub points_ignored: u64,
    /// Points with a non-finite value, not counted.
    pub points_rejected: u64,
    /// Whether the final `slo_run_info` (complete/interrupted) reached the server.
    pub registry_delivered: bool,
    /// The spool directory of this run, when something is in it.
    pub spool_dir: Option<PathBuf>,
    /// The first distinct errors (at most 10), without credentials.
    pub errors: Vec<String>,
}

/// What [`push_spool`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolReport {
    /// Files delivered and removed.
    pub files_sent: u64,
    /// Samples in them.
    pub samples_delivered: u64,
    /// Files still in the spool.
    pub files_left: u64,
    /// Errors, without credentials.
    pub errors: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    HttpReqs,
    HttpDuration,
    HttpFailed,
    Iterations,
    Dropped,
    DataSent,
    DataReceived,
    Vus,
    VusMax,
    Checks,
    IterationDuration,
}

const HTTP_KEYS: &[&str] = &["scenario", "name", "method", "status", "expected_response"];
const SCENARIO_KEYS: &[&str] = &["scenario"];

impl Family {
    fn of(metric: &str) -> Option<Family> {
        Some(match metric {
            "http_reqs" => Family::HttpReqs,
            "http_req_duration" => Family::HttpDuration,
            "http_req_failed" => Family::HttpFailed,
            "iterations" => Family::Iterations,
            "dropped_iterations" => Family::Dropped,
            "data_sent" => Family::DataSent,
            "data_received" => Family::DataReceived,
            "vus" => Family::Vus,
            "vus_max" => Family::VusMax,
            "checks" => Family::Checks,
            "iteration_duration" => Family::IterationDuration,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Family::HttpReqs => HTTP_REQS,
            Family::HttpDuration => HTTP_REQ_DURATION,
            Family::HttpFailed => HTTP_REQ_FAILED,
            Family::Iterations => ITERATIONS,
            Family::Dropped => DROPPED_ITERATIONS,
            Family::DataSent => DATA_SENT,
            Family::DataReceived => DATA_RECEIVED,
            Family::Vus => VUS,
            Family::VusMax => VUS_MAX,
            Family::Checks => CHECKS,
            Family::IterationDuration => ITERATION_DURATION,
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Family::HttpReqs | Family::HttpDuration | Family::HttpFailed => HTTP_KEYS,
            Family::Vus | Family::VusMax => &[],
            Family::Checks => &["scenario", "check"],
            _ => SCENARIO_KEYS,
        }
    }
}

enum State {
    Counter(f64),
    Gauge {
        value: f64,
        time_ns: i64,
    },
    Histogram {
        classic: Classic,
        native: Option<Native>,
        bucket_labels: Vec<Vec<Label>>,
        sum_labels: Vec<Label>,
        count_labels: Vec<Label>,
        native_labels: Vec<Label>,
    },
}

struct Series {
    labels: Vec<Label>,
    state: State,
    /// For a counter or histogram not yet in a queued push: a zero sample 1 ms before
    /// its first point (ms since the epoch) goes out with its first value, so
    /// `increase()` and `rate()` count from 0 instead of from that first value.
    zero_ms: Option<i64>,
}

enum Msg {
    /// A data snapshot; `last` marks the final one of the run.
    Data { req: WriteRequest, last: bool },
    /// The final registry request (sent only if the final snapshot was delivered).
    Registry(WriteRequest),
}

/// Remote-write sink of one run. See the module docs for the flow; `write` never blocks
/// on the network. Dropping it without `close` closes it with status `interrupted` (and
/// waits for delivery like `close`).
pub struct PrometheusSink {
    cfg: PromConfig,
    run: RunInfo,
    bounds: Vec<f64>,
    index: HashMap<Box<str>, usize>,
    series: Vec<Series>,
    key: String,
    run_info_running: Vec<Label>,
    tx: Option<SyncSender<Msg>>,
    handle: Option<JoinHandle<Stats>>,
    next_push_ns: Option<i64>,
    last_push: Instant,
    last_ts_ms: i64,
    max_time_ns: Option<i64>,
    dirty: bool,
    running_sent: bool,
    pushes: u64,
    coalesced: u64,
    points: u64,
    ignored: u64,
    rejected: u64,
    report: Option<DeliveryReport>,
}

#[derive(Default)]
struct Stats {
    pushes_delivered: u64,
    pushes_spooled: u64,
    samples_delivered: u64,
    samples_spooled: u64,
    samples_lost: u64,
    retries: u64,
    registry_delivered: bool,
    errors: Vec<String>,
    spooled_any: bool,
}

impl Stats {
    fn error(&mut self, e: String) {
        if self.errors.len() < 10 && !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }
}

impl PrometheusSink {
    /// Starts the sender thread. Nothing is sent before the first push interval has passed
    /// (or `flush`/`close`). Errors: [`PrometheusError::Io`] if the thread cannot start.
    pub fn new(cfg: PromConfig, run: RunInfo) -> Result<PrometheusSink, PrometheusError> {
        let (tx, rx) = sync_channel(cfg.queue_pushes.max(1));
        let client = Client::new(cfg.clone());
        let spool = cfg.spool_dir.join(&run.testid);
        let handle = std::thread::Builder::new()
            .name("slo-prom-push".into())
            .spawn(move || sender(client, rx, spool))
            .map_err(|e| PrometheusError::Io { path: cfg.spool_dir.clone(), source: e })?;
        let start = run.start_ms.to_string();
        let run_info_running = labels_sorted([
            ("__name__", RUN_INFO),
            ("testid", run.testid.as_str()),
            ("status", "running"),
            ("scenario", run.scenario.as_str()),
            ("slo_version", run.slo_version.as_str()),
            ("start_ms", start.as_str()),
        ]);
        Ok(PrometheusSink {
            bounds: cfg.buckets.bounds(),
            cfg,
            run,
            index: HashMap::new(),
            series: Vec::new(),
            key: String::new(),
            run_info_running,
            tx: Some(tx),
            handle: Some(handle),
            next_push_ns: None,
            last_push: Instant::now(),
            last_ts_ms: i64::MIN,
            max_time_ns: None,
            dirty: false,
            running_sent: false,
            pushes: 0,
            coalesced: 0,
            points: 0,
            ignored: 0,
            rejected: 0,
            report: None,
        })
    }

    /// Counts a point of a metric no family exports (`http_req_waiting`, …), which
    /// [`PrometheusSink::write`] would ignore, without its tags; false, counting nothing,
    /// for any other metric (the caller then calls `write`).
    pub fn skip_unexported(&mut self, metric: &str) -> bool {
        if Family::of(metric).is_some() {
            return false;
        }
        self.points += 1;
        self.ignored += 1;
        true
    }

    /// One k6 point: metric name, time (ns since the epoch), value (ms for
    /// `http_req_duration` and `iteration_duration`, bytes for `data_*`, 0/1 for
    /// `http_req_failed` and `checks`, counts otherwise) and its tags in any order.
    pub fn write(&mut self, metric: &str, time_ns: i64, value: f64, tags: &[(&str, &str)]) {
        self.points += 1;
        if self.report.is_some() {
            self.ignored += 1;
            return;
        }
        let Some(family) = Family::of(metric) else {
            self.ignored += 1;
            return;
        };
        if !value.is_finite() {
            self.rejected += 1;
            return;
        }
        match self.next_push_ns {
            None => self.next_push_ns = Some(time_ns.saturating_add(self.interval_ns())),
            Some(next) if time_ns >= next && self.dirty && !self.cfg.resume => {
                self.push(false);
                let iv = self.interval_ns();
                let k = (time_ns - next) / iv + 1;
                self.next_push_ns = Some(next.saturating_add(k.saturating_mul(iv)));
            }
            _ => {}
        }
        // checks are split by result: 1 is a pass, 0 a fail.
        let extra = (family == Family::Checks).then_some(("result", if value != 0.0 { "pass" } else { "fail" }));
        let known = self.series.len();
        let idx = self.series_index(family, tags, extra);
        let s = &mut self.series[idx];
        if idx >= known && !matches!(s.state, State::Gauge { .. }) {
            s.zero_ms = Some(time_ns.div_euclid(1_000_000) - 1);
        }
        match &mut s.state {
            State::Counter(c) => *c += if family == Family::Checks { 1.0 } else { value },
            State::Gauge { value: v, time_ns: t } => {
                if time_ns >= *t {
                    *v = value;
                    *t = time_ns;
                }
            }
            State::Histogram { classic, native, .. } => {
                let secs = value / 1000.0;
                classic.observe(&self.bounds, secs);
                if let Some(n) = native {
                    n.observe(secs);
                }
            }
        }
        self.max_time_ns = Some(self.max_time_ns.map_or(time_ns, |m| m.max(time_ns)));
        self.dirty = true;
    }

    /// Pushes a snapshot now if the push interval has passed on the wall clock since the
    /// last one and something changed. Never waits for the network.
    pub fn flush(&mut self) {
        if self.report.is_none() && self.dirty && !self.cfg.resume && self.last_push.elapsed() >= self.cfg.push_interval {
            self.push(false);
        }
    }

    /// [`PrometheusSink::close_with`] with status `complete`.
    pub fn close(&mut self) -> DeliveryReport {
        self.close_with(RunStatus::Complete)
    }

    /// Sends the final snapshot and registry series with `status`, waits for the sender
    /// (at most one retry schedule per queued push) and reports. Later calls return the
    /// same report.
    pub fn close_with(&mut self, status: RunStatus) -> DeliveryReport {
        if let Some(r) = &self.report {
            return r.clone();
        }
        let ts = self.push(true);
        let end_ms = self.max_time_ns.map_or(self.run.start_ms, |t| t.div_euclid(1_000_000));
        let status = match status {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Interrupted => "interrupted",
        };
        let start = self.run.start_ms.to_string();
        let end = end_ms.to_string();
        let final_labels = labels_sorted([
            ("__name__", RUN_INFO),
            ("testid", self.run.testid.as_str()),
            ("status", status),
            ("scenario", self.run.scenario.as_str()),
            ("slo_version", self.run.slo_version.as_str()),
            ("start_ms", start.as_str()),
            ("end_ms", end.as_str()),
        ]);
        let mut reg = WriteRequest { timeseries: Vec::new() };
        if self.running_sent {
            reg.timeseries.push(TimeSeries {
                labels: self.run_info_running.clone(),
                samples: vec![Sample { value: f64::from_bits(STALE_NAN_BITS), timestamp: ts }],
                histograms: vec![],
            });
        }
        reg.timeseries.push(TimeSeries { labels: final_labels, samples: vec![Sample { value: 1.0, timestamp: ts }], histograms: vec![] });
        self.pushes += 1;
        let mut stats = Stats::default();
        if let Some(tx) = self.tx.take() {
            if tx.send(Msg::Registry(reg)).is_err() {
                stats.error("the sender thread stopped early".into());
            }
        }
        if let Some(h) = self.handle.take() {
            match h.join() {
                Ok(s) => stats = s,
                Err(_) => stats.error("the sender thread panicked".into()),
            }
        }
        let spool = self.cfg.spool_dir.join(&self.run.testid);
        let report = DeliveryReport {
            pushes: self.pushes,
            pushes_delivered: stats.pushes_delivered,
            pushes_spooled: stats.pushes_spooled,
            pushes_coalesced: self.coalesced,
            samples_delivered: stats.samples_delivered,
            samples_spooled: stats.samples_spooled,
            samples_lost: stats.samples_lost,
            retries: stats.retries,
            points: self.points,
            points_ignored: self.ignored,
            points_rejected: self.rejected,
            registry_delivered: stats.registry_delivered,
            spool_dir: stats.spooled_any.then_some(spool),
            errors: stats.errors,
        };
        self.report = Some(report.clone());
        report
    }

    fn interval_ns(&self) -> i64 {
        (self.cfg.push_interval.as_nanos() as i64).max(1_000_000)
    }

    fn series_index(&mut self, family: Family, tags: &[(&str, &str)], extra: Option<(&str, &str)>) -> usize {
        let tag = |k: &str| tags.iter().find(|(tk, _)| *tk == k).map(|(_, v)| *v).unwrap_or("");
        self.key.clear();
        self.key.push(char::from(b'a' + family as u8));
        for k in family.keys() {
            self.key.push('\u{1f}');
            self.key.push_str(tag(k));
        }
        if let Some((_, v)) = extra {
            self.key.push('\u{1f}');
            self.key.push_str(v);
        }
        if let Some(&i) = self.index.get(self.key.as_str()) {
            return i;
        }
        let mut pairs: Vec<(&str, &str)> = vec![("__name__", family.name()), ("testid", self.run.testid.as_str())];
        for k in family.keys() {
            pairs.push((k, tag(k)));
        }
        pairs.extend(extra);
        let state = match family {
            Family::HttpDuration | Family::IterationDuration => {
                let with = |name: String, extra: Option<(&str, &str)>| {
                    let mut p: Vec<(&str, &str)> = pairs.iter().skip(1).copied().collect();
                    p.push(("__name__", name.as_str()));
                    if let Some(e) = extra {
                        p.push(e);
                    }
                    labels_sorted(p)
                };
                let base = family.name();
                let bucket_labels = self
                    .bounds
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .map(|b| {
                        let le = le_label(b);
                        with(format!("{base}_bucket"), Some(("le", le.as_str())))
                    })
                    .collect();
                State::Histogram {
                    classic: Classic::new(self.bounds.len()),
                    native: self.cfg.native_histograms.then(Native::default),
                    bucket_labels,
                    sum_labels: with(format!("{base}_sum"), None),
                    count_labels: with(format!("{base}_count"), None),
                    native_labels: with(base.to_string(), None),
                }
            }
            Family::Vus | Family::VusMax => State::Gauge { value: 0.0, time_ns: i64::MIN },
            _ => State::Counter(0.0),
        };
        let labels = labels_sorted(pairs);
        self.series.push(Series { labels, state, zero_ms: None });
        let i = self.series.len() - 1;
        self.index.insert(self.key.clone().into_boxed_str(), i);
        i
    }

    /// Builds a snapshot of every series and hands it to the sender; returns its timestamp.
    fn push(&mut self, last: bool) -> i64 {
        let mut data_ms = self.max_time_ns.map_or(self.run.start_ms, |t| t.div_euclid(1_000_000));
        if self.cfg.resume {
            // After every sample a live push of this run can have stored (stamped with the
            // newest point's ms, or 1 ms after the push before it).
            data_ms += 10;
        }
        let ts = if self.last_ts_ms == i64::MIN { data_ms } else { data_ms.max(self.last_ts_ms + 1) };
        self.last_ts_ms = ts;
        self.last_push = Instant::now();
        self.dirty = false;
        let mut req = WriteRequest { timeseries: Vec::with_capacity(self.series.len() + 1) };
        for s in &self.series {
            // A first zero (see `Series::zero_ms`), earlier than this push and than any
            // later one.
            let zero = s.zero_ms.filter(|&z| z < ts && !self.cfg.resume);
            let one = |labels: &Vec<Label>, v: f64| TimeSeries {
                labels: labels.clone(),
                samples: match zero {
                    Some(z) => vec![Sample { value: 0.0, timestamp: z }, Sample { value: v, timestamp: ts }],
                    None => vec![Sample { value: v, timestamp: ts }],
                },
                histograms: vec![],
            };
            match &s.state {
                State::Counter(c) => req.timeseries.push(one(&s.labels, *c)),
                State::Gauge { value, .. } => req.timeseries.push(one(&s.labels, *value)),
                State::Histogram { classic, native, bucket_labels, sum_labels, count_labels, native_labels } => {
                    let mut cum = 0u64;
                    for (c, l) in classic.counts.iter().zip(bucket_labels) {
                        cum += c;
                        req.timeseries.push(one(l, cum as f64));
                    }
                    req.timeseries.push(one(sum_labels, classic.sum));
                    req.timeseries.push(one(count_labels, classic.count as f64));
                    if let Some(n) = native {
                        req.timeseries.push(TimeSeries {
                            labels: native_labels.clone(),
                            samples: vec![],
                            histograms: vec![n.to_proto(ts)],
                        });
                    }
                }
            }
        }
        if !last {
            req.timeseries.push(TimeSeries {
                labels: self.run_info_running.clone(),
                samples: vec![Sample { value: 1.0, timestamp: ts }],
                histograms: vec![],
            });
        }
        let Some(tx) = &self.tx else { return ts };
        let queued = if last {
            self.pushes += 1;
            let _ = tx.send(Msg::Data { req, last: true });
            true
        } else {
            match tx.try_send(Msg::Data { req, last: false }) {
                Ok(()) => {
                    self.pushes += 1;
                    self.running_sent = true;
                    true
                }
                Err(TrySendError::Full(_)) => {
                    self.coalesced += 1;
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        };
        if queued {
            // Delivered or spooled from here on: the zeros went with it.
            for s in &mut self.series {
                s.zero_ms = None;
            }
        }
        ts
    }
}

impl Drop for PrometheusSink {
    fn drop(&mut self) {
        if self.report.is_none() {
            // Dropped without close: deliver what there is, marked interrupted.
            self.close_with(RunStatus::Interrupted);
        }
    }
}

fn sender(client: Client, rx: Receiver<Msg>, spool: PathBuf) -> Stats {
    let mut st = Stats::default();
    let mut seq = 0u64;
    let mut last_delivered = false;
    let mut sleep = |d: Duration| std::thread::sleep(d);
    let mut jitter = || rand::random::<f64>();
    while let Ok(msg) = rx.recv() {
        let (req, is_registry, last) = match msg {
            Msg::Data { req, last } => (req, false, last),
            Msg::Registry(req) => (req, true, true),
        };
        let n = sample_count(&req);
        let body = encode_body(&req);
        let result = if is_registry && !last_delivered {
            WriteResult::GaveUp("the final snapshot was not delivered; the run's end is spooled after it".into())
        } else {
            let (r, retries) = client.write_with_retries(&body, &mut sleep, &mut jitter);
            st.retries += u64::from(retries);
            r
        };
        match result {
            WriteResult::Delivered => {
                st.pushes_delivered += 1;
                st.samples_delivered += n;
                if is_registry {
                    st.registry_delivered = true;
                }
                if last {
                    last_delivered = true;
                }
            }
            WriteResult::Rejected(msg) | WriteResult::GaveUp(msg) => {
                if !is_registry || last_delivered {
                    st.error(format!("push to {}: {msg}", client.url()));
                }
                seq += 1;
                match write_spool(&spool, seq, &body) {
                    Ok(()) => {
                        st.pushes_spooled += 1;
                        st.samples_spooled += n;
                        st.spooled_any = true;
                    }
                    Err(e) => {
                        st.samples_lost += n;
                        st.error(e.to_string());
                    }
                }
            }
        }
    }
    st
}

/// Writes one spool file atomically (temp name, then rename): `{dir}/{epoch ms}-{seq}.rw`.
fn write_spool(dir: &Path, seq: u64, body: &[u8]) -> Result<(), PrometheusError> {
    let io = |path: &Path, e| PrometheusError::Io { path: path.to_path_buf(), source: e };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let name = format!("{now:015}-{seq:06}.rw");
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    std::fs::write(&tmp, body).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
}

/// Sends the spooled pushes under `dir` (a run's spool directory as
/// [`DeliveryReport::spool_dir`] gives it, or the spool root holding several runs' folders)
/// to `cfg`'s server, oldest first, removing each file once delivered. Stops at the first
/// push the server cannot be reached for.
///
/// Errors: [`PrometheusError::Unreachable`] when nothing could be sent because the server
/// is down; [`PrometheusError::Io`] when the spool cannot be read. Refused pushes (4xx) stay
/// in the spool and are listed in [`SpoolReport::errors`].
pub fn push_spool(cfg: &PromConfig, dir: &Path) -> Result<SpoolReport, PrometheusError> {
    let client = Client::new(cfg.clone());
    let mut files = Vec::new();
    collect_spool(dir, &mut files)?;
    // Names start with the ms time of spooling, then a sequence: sort by file name.
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()).then(a.cmp(b)));
    let mut rep = SpoolReport::default();
    let mut sleep = |d: Duration| std::thread::sleep(d);
    let mut jitter = || rand::random::<f64>();
    let mut stopped = false;
    for f in &files {
        if stopped {
            rep.files_left += 1;
            continue;
        }
        let body = std::fs::read(f).map_err(|e| PrometheusError::Io { path: f.clone(), source: e })?;
        let n = match decode_body(&body) {
            Ok(req) => sample_count(&req),
            Err(e) => {
                rep.errors.push(format!("{}: not a remote-write body: {e}", f.display()));
                rep.files_left += 1;
                continue;
            }
        };
        match client.write_with_retries(&body, &mut sleep, &mut jitter).0 {
            WriteResult::Delivered => {
                std::fs::remove_file(f).map_err(|e| PrometheusError::Io { path: f.clone(), source: e })?;
                rep.files_sent += 1;
                rep.samples_delivered += n;
            }
            WriteResult::Rejected(msg) => {
                rep.errors.push(format!("{}: {msg}", f.display()));
                rep.files_left += 1;
            }
            WriteResult::GaveUp(msg) => {
                if rep.files_sent == 0 {
                    return Err(PrometheusError::Unreachable { url: client.url(), msg });
                }
                rep.errors.push(format!("{}: {msg}", f.display()));
                rep.files_left += 1;
                stopped = true;
            }
        }
    }
    Ok(rep)
}

fn collect_spool(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PrometheusError> {
    let rd = std::fs::read_dir(dir).map_err(|e| PrometheusError::Io { path: dir.to_path_buf(), source: e })?;
    for e in rd {
        let e = e.map_err(|e| PrometheusError::Io { path: dir.to_path_buf(), source: e })?;
        let p = e.path();
        if p.is_dir() {
            collect_spool(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rw") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            out.push(p);
        }
    }
    Ok(())
}
