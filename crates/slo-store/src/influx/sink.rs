//! The InfluxDB sink: raw points as k6-style line protocol, batched, gzip-compressed and
//! written by background threads; what cannot be delivered is spooled locally.
//!
//! Flow: [`PointSink::write`] encodes a line into the current batch on the caller's thread
//! (no I/O). A full batch (or one older than `flush_interval`, checked on write and on
//! [`PointSink::flush`]) goes into a bounded queue of `queue_batches`; `max_in_flight`
//! writer threads take batches, gzip them (level 1) and `POST` them with retries
//! ([`super::RetryPolicy`]: backoff with jitter on 5xx/408/timeouts/connection errors,
//! `Retry-After` on 429/503). The caller never waits for the network: when the queue is
//! full, the batch goes to the spool right away.
//!
//! The spool is a directory of `batch-NNNNNNNN.lp.gz` files (gzip line protocol, one file
//! per batch, written to a temporary name and renamed). A batch lands there when the queue
//! is full, when every attempt failed, or when the server refused it (4xx). At
//! [`PointSink::close`], if the server is reachable, spooled batches are sent once more;
//! [`push_spool`] sends the rest later. [`DeliveryReport`] accounts for every point.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use slo_model::{builtin_metric, MetricInfo, MetricType, RunMeta, RunStatus, ValueType};

use super::client::{Client, WriteResult};
use super::config::InfluxConfig;
use super::line_protocol::{escape_key, escape_string_field, LineEncoder};
use super::{InfluxError, REGISTRY_MEASUREMENT};

/// Where raw points go while a run is recorded. Writing never blocks on the network and
/// never fails: points that cannot be delivered are kept and counted (see
/// [`DeliveryReport`]).
pub trait PointSink {
    /// One point: k6 metric name, time in ns since the epoch (UTC), value (ms for time
    /// metrics, bytes for data metrics, 0/1 for rates) and its tags in any order (an
    /// empty value is a present tag with an empty value, like k6's root `group`).
    fn write(&mut self, metric: &str, time_ns: i64, value: f64, tags: &[(&str, &str)]);
    /// Hands the points written so far to the writers (does not wait for delivery).
    fn flush(&mut self);
    /// Delivers or spools everything, records the run's end, stops the writers and says
    /// what happened to every point. Later calls return the same report.
    fn close(&mut self) -> DeliveryReport;
}

/// What happened to the points of a run. `points == delivered + spooled + lost`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Points accepted by `write` (rejected ones excluded).
    pub points: u64,
    /// Points the server acknowledged (2xx), including spooled ones sent again at close.
    pub delivered: u64,
    /// Points left in the spool (send them with [`push_spool`]).
    pub spooled: u64,
    /// Points neither delivered nor spooled (the spool could not be written); each such
    /// failure is in `errors`.
    pub lost: u64,
    /// Points refused by `write` because InfluxDB cannot store them (NaN, ±inf, empty name).
    pub rejected: u64,
    /// Write requests retried.
    pub retries: u64,
    /// Batches delivered.
    pub batches_delivered: u64,
    /// Batch files left in the spool.
    pub batches_spooled: u64,
    /// Timestamps moved by 1 ns or more so that no point replaced another.
    pub timestamps_bumped: u64,
    /// Whether the run's registry point (`slo_run`) reached the server with its end.
    pub registry_delivered: bool,
    /// The spool directory, when something is in it.
    pub spool_dir: Option<PathBuf>,
    /// The first distinct errors (at most 10), without credentials.
    pub errors: Vec<String>,
}

/// What [`push_spool`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Spool files delivered and removed.
    pub files_delivered: u64,
    /// Data points in them (registry lines not counted).
    pub points_delivered: u64,
    /// Spool files still there (refused by the server; see `errors`).
    pub files_left: u64,
    /// Data points in them.
    pub points_left: u64,
    /// Why files were left, without credentials.
    pub errors: Vec<String>,
}

struct Batch {
    lines: String,
    points: u64,
}

struct Spool {
    dir: PathBuf,
    seq: AtomicU64,
}

impl Spool {
    fn new(dir: PathBuf) -> Spool {
        let next = spool_files(&dir).ok().and_then(|f| f.last().and_then(|p| file_seq(p))).map_or(0, |s| s + 1);
        Spool { dir, seq: AtomicU64::new(next) }
    }

    fn put(&self, gz: &[u8]) -> Result<PathBuf, InfluxError> {
        let io = |p: &Path, e| InfluxError::Io { path: p.to_path_buf(), source: e };
        fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("batch-{n:08}.lp.gz"));
        let tmp = self.dir.join(format!(".batch-{n:08}.lp.gz.tmp"));
        let mut f = fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(gz).and_then(|_| f.sync_data()).map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        Ok(path)
    }
}

fn file_seq(p: &Path) -> Option<u64> {
    p.file_name()?.to_str()?.strip_prefix("batch-")?.split('.').next()?.parse().ok()
}

/// The spool's batch files in order (`batch-*.lp.gz` and `batch-*.lp`).
fn spool_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("batch-") && (n.ends_with(".lp.gz") || n.ends_with(".lp")))
        })
        .collect();
    v.sort_by_key(|p| (file_seq(p), p.clone()));
    Ok(v)
}

fn gzip(lines: &str) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::with_capacity(lines.len() / 6 + 64), Compression::fast());
    let _ = e.write_all(lines.as_bytes());
    e.finish().unwrap_or_default()
}

/// Counts data lines and registry lines of a line-protocol text.
fn count_lines(text: &str) -> (u64, u64) {
    let reg = format!("{REGISTRY_MEASUREMENT},");
    let mut data = 0;
    let mut regs = 0;
    for l in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if l.starts_with(&reg) {
            regs += 1;
        } else {
            data += 1;
        }
    }
    (data, regs)
}

struct Shared {
    client: Client,
    spool: Spool,
    delivered: AtomicU64,
    spooled: AtomicU64,
    lost: AtomicU64,
    retries: AtomicU64,
    batches_delivered: AtomicU64,
    batches_spooled: AtomicU64,
    down_until: Mutex<Option<Instant>>,
    errors: Mutex<Vec<String>>,
}

impl Shared {
    fn note_error(&self, e: String) {
        let mut errs = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errs.len() < 10 && !errs.contains(&e) {
            errs.push(e);
        }
    }

    fn is_down(&self) -> bool {
        let d = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        d.is_some_and(|t| Instant::now() < t)
    }

    fn spool(&self, gz: &[u8], points: u64) {
        match self.spool.put(gz) {
            Ok(_) => {
                self.spooled.fetch_add(points, Ordering::Relaxed);
                self.batches_spooled.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.lost.fetch_add(points, Ordering::Relaxed);
                self.note_error(format!("{points} points lost: cannot write the spool: {e}"));
            }
        }
    }

    /// Sends one compressed batch with retries, or spools it. Returns whether it was delivered.
    fn deliver(&self, gz: &[u8], points: u64, max_attempts: u32) -> bool {
        if self.is_down() {
            self.spool(gz, points);
            return false;
        }
        let mut sleep = |d: Duration| std::thread::sleep(d);
        let mut jitter = rand::random::<f64>;
        let (res, retries) = self.client.write_with_retries(gz, max_attempts, &mut sleep, &mut jitter);
        self.retries.fetch_add(retries as u64, Ordering::Relaxed);
        match res {
            WriteResult::Delivered => {
                self.delivered.fetch_add(points, Ordering::Relaxed);
                self.batches_delivered.fetch_add(1, Ordering::Relaxed);
                true
            }
            WriteResult::Rejected(msg) => {
                self.note_error(format!("{}: batch refused: {msg}", self.client.cfg.display_url()));
                self.spool(gz, points);
                false
            }
            WriteResult::GaveUp { msg, network } => {
                if network {
                    let cool = Instant::now() + self.client.cfg.retry.cooldown;
                    *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(cool);
                    self.note_error(format!("InfluxDB at {} is unreachable: {msg}", self.client.cfg.display_url()));
                } else {
                    self.note_error(format!("{}: gave up after retries: {msg}", self.client.cfg.display_url()));
                }
                self.spool(gz, points);
                false
            }
        }
    }
}

fn writer_loop(shared: Arc<Shared>, rx: Arc<Mutex<Receiver<Batch>>>) {
    loop {
        let next = {
            let guard = rx.lock().unwrap_or_else(|p| p.into_inner());
            guard.recv()
        };
        let Ok(batch) = next else { return };
        let gz = gzip(&batch.lines);
        shared.deliver(&gz, batch.points, shared.client.cfg.retry.max_attempts);
    }
}

/// The InfluxDB sink of one run. Create it with [`InfluxSink::new`]; use it through
/// [`PointSink`].
pub struct InfluxSink {
    enc: LineEncoder,
    buf: String,
    buf_points: u64,
    batch_started: Instant,
    since_clock_check: u32,
    batch_points: u64,
    flush_interval: Duration,
    tx: Option<SyncSender<Batch>>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    meta: RunMeta,
    points: u64,
    rejected: u64,
    min_t: Option<i64>,
    max_t: Option<i64>,
    metrics: BTreeMap<String, MetricInfo>,
    end: Option<(RunStatus, Option<f64>, Option<String>)>,
    report: Option<DeliveryReport>,
}

impl InfluxSink {
    /// Starts the writer threads for the run `meta` (its id becomes the `testid` tag) and
    /// queues the run's registry point (status `running`). `spool_dir` (e.g. the run's
    /// folder + `influx-spool`) is created only if something has to be spooled. Does not
    /// contact the server: an unreachable server shows in the [`DeliveryReport`] (call
    /// [`InfluxSink::healthcheck`] first to fail fast with exit code 4).
    pub fn new(config: InfluxConfig, meta: RunMeta, spool_dir: PathBuf) -> InfluxSink {
        let client = Client::new(config.clone());
        let shared = Arc::new(Shared {
            client,
            spool: Spool::new(spool_dir),
            delivered: AtomicU64::new(0),
            spooled: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            batches_delivered: AtomicU64::new(0),
            batches_spooled: AtomicU64::new(0),
            down_until: Mutex::new(None),
            errors: Mutex::new(Vec::new()),
        });
        let (tx, rx) = sync_channel::<Batch>(config.queue_batches.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..config.max_in_flight.max(1))
            .map(|i| {
                let (s, r) = (shared.clone(), rx.clone());
                std::thread::Builder::new()
                    .name(format!("influx-writer-{i}"))
                    .spawn(move || writer_loop(s, r))
                    .expect("spawn InfluxDB writer thread")
            })
            .collect();
        let enc = LineEncoder::new(config.tags_as_fields.clone(), Some(("testid".to_string(), meta.id.0.clone())));
        let mut metrics = BTreeMap::new();
        for m in &meta.metrics {
            metrics.insert(m.name.clone(), m.clone());
        }
        let mut sink = InfluxSink {
            enc,
            buf: String::with_capacity(config.batch_points.max(1) * 200),
            buf_points: 0,
            batch_started: Instant::now(),
            since_clock_check: 0,
            batch_points: config.batch_points.max(1) as u64,
            flush_interval: config.flush_interval,
            tx: Some(tx),
            workers,
            shared,
            meta,
            points: 0,
            rejected: 0,
            min_t: None,
            max_t: None,
            metrics,
            end: None,
            report: None,
        };
        let line = sink.registry_line(RunStatus::Running);
        sink.buf.push_str(&line);
        sink
    }

    /// `GET /ping` (and, for 1.x, `CREATE DATABASE` if missing): `Err` with
    /// [`InfluxError::Unreachable`] (exit code 4) when the server cannot be reached.
    pub fn healthcheck(config: &InfluxConfig) -> Result<(), InfluxError> {
        let c = Client::new(config.clone());
        c.ping()?;
        c.create_database()
    }

    /// Declares a metric's type for the registry's catalog (k6 built-ins are known; other
    /// metrics default to a trend of plain numbers).
    pub fn declare_metric(&mut self, info: MetricInfo) {
        self.metrics.insert(info.name.clone(), info);
    }

    /// Records how the run ended, for the registry point written by `close` (default:
    /// complete, duration = first to last point).
    pub fn set_end(&mut self, status: RunStatus, duration_s: Option<f64>, duration_source: Option<String>) {
        self.end = Some((status, duration_s, duration_source));
    }

    /// The run's metadata as it stands (points, start/end so far).
    pub fn meta(&self) -> RunMeta {
        let mut m = self.meta.clone();
        m.points = self.points;
        m.start_ns = self.min_t.or(m.start_ns);
        m.end_ns = self.max_t.or(m.end_ns);
        m.metrics = self.metrics.values().cloned().collect();
        m
    }

    fn registry_line(&self, status: RunStatus) -> String {
        let mut meta = self.meta();
        meta.status = status;
        if status != RunStatus::Running {
            let (st, d, src) = self.end.clone().unwrap_or((status, None, None));
            meta.status = st;
            match d {
                Some(d) => {
                    meta.duration_s = Some(d);
                    meta.duration_source = src.or_else(|| Some("wall clock".into()));
                }
                None => {
                    if let (Some(a), Some(b)) = (meta.start_ns, meta.end_ns) {
                        meta.duration_s = Some((b - a) as f64 / 1e9);
                        meta.duration_source = Some("first to last point".into());
                    }
                }
            }
        }
        registry_point(&meta, &empty_tags_json(&self.enc))
    }

    fn send_batch(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let lines = std::mem::replace(&mut self.buf, String::with_capacity(self.batch_points as usize * 200));
        let batch = Batch { lines, points: self.buf_points };
        self.buf_points = 0;
        self.batch_started = Instant::now();
        let spill = match &self.tx {
            Some(tx) => match tx.try_send(batch) {
                Ok(()) => None,
                Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => Some(b),
            },
            None => Some(batch),
        };
        if let Some(b) = spill {
            // Queue full: spool on this thread rather than wait for the network.
            self.shared.spool(&gzip(&b.lines), b.points);
        }
    }
}

/// The registry line of a run: `slo_run,testid=ID created_ns=…i,…,meta="{json}" T`.
/// `T` is the run's `created_ns` for the start point (status `running`) and `created_ns + 1`
/// for the end point, so both survive whatever order they arrive in (a spooled start
/// point pushed later must not hide the end) and readers take the newest row per run.
pub(crate) fn registry_point(meta: &RunMeta, empty_tags: &str) -> String {
    let mut l = String::from(REGISTRY_MEASUREMENT);
    l.push_str(",testid=");
    escape_key(&mut l, &meta.id.0);
    l.push(' ');
    l.push_str(&format!("created_ns={}i", meta.created_ns));
    l.push_str(",empty_tags=");
    escape_string_field(&mut l, empty_tags);
    if let Some(e) = meta.end_ns {
        l.push_str(&format!(",end_ns={e}i"));
    }
    l.push_str(",meta=");
    escape_string_field(&mut l, &serde_json::to_string(meta).unwrap_or_default());
    l.push_str(",origin=");
    escape_string_field(&mut l, &meta.origin);
    l.push_str(&format!(",points={}i", meta.points));
    if let Some(s) = meta.start_ns {
        l.push_str(&format!(",start_ns={s}i"));
    }
    l.push_str(",status=");
    let st = serde_json::to_value(meta.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    escape_string_field(&mut l, &st);
    let t = if meta.status == RunStatus::Running { meta.created_ns } else { meta.created_ns.saturating_add(1) };
    l.push_str(&format!(" {t}\n"));
    l
}

fn empty_tags_json(enc: &LineEncoder) -> String {
    let m: BTreeMap<&String, Vec<&String>> = enc.empty_tags().iter().map(|(k, v)| (k, v.iter().collect())).collect();
    serde_json::to_string(&m).unwrap_or_else(|_| "{}".into())
}

impl PointSink for InfluxSink {
    fn write(&mut self, metric: &str, time_ns: i64, value: f64, tags: &[(&str, &str)]) {
        if self.report.is_some() {
            self.rejected += 1;
            return;
        }
        let t = match self.enc.encode(&mut self.buf, metric, time_ns, value, tags) {
            Ok(t) => t,
            Err(_) => {
                self.rejected += 1;
                return;
            }
        };
        if !self.metrics.contains_key(metric) {
            let info = builtin_metric(metric).unwrap_or(MetricInfo {
                name: metric.to_string(),
                kind: MetricType::Trend,
                contains: ValueType::Default,
            });
            self.metrics.insert(metric.to_string(), info);
        }
        self.points += 1;
        self.buf_points += 1;
        self.min_t = Some(self.min_t.map_or(t, |m| m.min(t)));
        self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
        self.since_clock_check += 1;
        if self.buf_points >= self.batch_points {
            self.send_batch();
        } else if self.since_clock_check >= 256 {
            self.since_clock_check = 0;
            if self.batch_started.elapsed() >= self.flush_interval {
                self.send_batch();
            }
        }
    }

    fn flush(&mut self) {
        self.send_batch();
    }

    fn close(&mut self) -> DeliveryReport {
        if let Some(r) = &self.report {
            return r.clone();
        }
        self.send_batch();
        self.tx = None; // writers end when the queue is empty
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let sh = &self.shared;
        // Send spooled batches once more if the server is reachable now.
        if sh.spooled.load(Ordering::Relaxed) > 0 && !sh.is_down() {
            if let Ok(r) = push_files(&sh.client, &sh.spool.dir, sh.client.cfg.retry.max_attempts.min(3)) {
                sh.spooled.fetch_sub(r.points_delivered, Ordering::Relaxed);
                sh.delivered.fetch_add(r.points_delivered, Ordering::Relaxed);
                sh.batches_spooled.fetch_sub(r.files_delivered.min(sh.batches_spooled.load(Ordering::Relaxed)), Ordering::Relaxed);
                sh.batches_delivered.fetch_add(r.files_delivered, Ordering::Relaxed);
            }
        }
        let status = self.end.as_ref().map_or(RunStatus::Complete, |e| e.0);
        let line = self.registry_line(status);
        let gz = gzip(&line);
        let attempts = if sh.is_down() { 1 } else { sh.client.cfg.retry.max_attempts };
        let registry_delivered = sh.deliver(&gz, 0, attempts);
        let spooled = sh.spooled.load(Ordering::Relaxed);
        let batches_spooled = sh.batches_spooled.load(Ordering::Relaxed);
        let report = DeliveryReport {
            points: self.points,
            delivered: sh.delivered.load(Ordering::Relaxed),
            spooled,
            lost: sh.lost.load(Ordering::Relaxed),
            rejected: self.rejected,
            retries: sh.retries.load(Ordering::Relaxed),
            batches_delivered: sh.batches_delivered.load(Ordering::Relaxed),
            batches_spooled,
            timestamps_bumped: self.enc.bumped(),
            registry_delivered,
            spool_dir: (batches_spooled > 0 || !registry_delivered).then(|| sh.spool.dir.clone()),
            errors: sh.errors.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        };
        self.report = Some(report.clone());
        report
    }
}

impl Drop for InfluxSink {
    fn drop(&mut self) {
        if self.report.is_none() {
            let _ = self.close();
        }
    }
}

/// Sends every batch file of a spool directory (as written by [`InfluxSink`]) to the
/// server in `config`, oldest first, with the config's retry schedule, and removes each
/// file the server acknowledged. Files the server refuses (4xx) stay and are listed in
/// `errors`. Errors: [`InfluxError::Unreachable`] when the server cannot be reached
/// (files sent before that are removed, so calling again is safe); [`InfluxError::Io`]
/// for an unreadable spool. A missing directory is an empty spool.
pub fn push_spool(dir: &Path, config: &InfluxConfig) -> Result<PushReport, InfluxError> {
    let client = Client::new(config.clone());
    push_files(&client, dir, config.retry.max_attempts)
}

fn push_files(client: &Client, dir: &Path, max_attempts: u32) -> Result<PushReport, InfluxError> {
    let files = match spool_files(dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PushReport::default()),
        Err(e) => return Err(InfluxError::Io { path: dir.to_path_buf(), source: e }),
    };
    let mut rep = PushReport::default();
    for f in files {
        let raw = fs::read(&f).map_err(|e| InfluxError::Io { path: f.clone(), source: e })?;
        let gz_in = f.extension().is_some_and(|x| x == "gz");
        let text = if gz_in {
            let mut s = String::new();
            GzDecoder::new(&raw[..]).read_to_string(&mut s).map_err(|e| InfluxError::Io { path: f.clone(), source: e })?;
            s
        } else {
            String::from_utf8_lossy(&raw).into_owned()
        };
        let (points, _) = count_lines(&text);
        let body = if gz_in { raw } else { gzip(&text) };
        let mut sleep = |d: Duration| std::thread::sleep(d);
        let mut jitter = rand::random::<f64>;
        match client.write_with_retries(&body, max_attempts, &mut sleep, &mut jitter).0 {
            WriteResult::Delivered => {
                fs::remove_file(&f).map_err(|e| InfluxError::Io { path: f.clone(), source: e })?;
                rep.files_delivered += 1;
                rep.points_delivered += points;
            }
            WriteResult::Rejected(msg) => {
                rep.files_left += 1;
                rep.points_left += points;
                rep.errors.push(format!("{}: {msg}", f.display()));
            }
            WriteResult::GaveUp { msg, network: true } => {
                return Err(InfluxError::Unreachable { url: client.cfg.display_url(), msg });
            }
            WriteResult::GaveUp { msg, network: false } => {
                rep.files_left += 1;
                rep.points_left += points;
                rep.errors.push(format!("{}: gave up after retries: {msg}", f.display()));
            }
        }
    }
    Ok(rep)
}

#[cfg(test)]
pub(crate) fn test_count_lines(text: &str) -> (u64, u64) {
    count_lines(text)
}
