//! The InfluxDB sink: raw points as k6-style line protocol, batched, gzip-compressed and
//! written by background threads; what cannot be delivered is spooled locally.
//!
//! Flow: [`PointSink::write`] only copies the raw point (metric id, tag-set id, time,
//! value: 24 bytes) into a batch on the caller's thread; a tag set equal to the previous
//! point's costs a comparison, a new one a hash lookup (interned once, sent along with the
//! batch). Full batches (`batch_points`), and the partial one on [`PointSink::flush`] or
//! after `flush_interval`, go to the encoder thread over an unbounded channel (the caller
//! never waits). The encoder keeps each distinct metric + tag set's escaped line prefix
//! ([`super::line_protocol::SeriesParts`]) and appends per point only the value (ryu),
//! the timestamp (itoa) and a newline. Full line batches go into a bounded queue of
//! `queue_batches`; `max_in_flight` writer threads take them, gzip them (level 1) and
//! `POST` them with retries ([`super::RetryPolicy`]: backoff with jitter on
//! 5xx/408/timeouts/connection errors, `Retry-After` on 429/503). When the queue is full,
//! the encoder spools the batch right away.
//!
//! The spool is a directory of `batch-NNNNNNNN.lp.gz` files (gzip line protocol, one file
//! per batch, written to a temporary name and renamed). A batch lands there when the queue
//! is full, when every attempt failed, or when the server refused it (4xx). At
//! [`PointSink::close`], if the server is reachable, spooled batches are sent once more;
//! [`push_spool`] sends the rest later. [`DeliveryReport`] accounts for every point.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use slo_model::{builtin_metric, MetricInfo, MetricType, RunMeta, RunStatus, ValueType};

use super::client::{Client, WriteResult};
use super::config::InfluxConfig;
use super::line_protocol::{escape_key, escape_string_field, fnv1a, LineEncoder, SeriesParts};
use super::{InfluxError, REGISTRY_MEASUREMENT};

/// Where raw points go while a run is recorded. Writing never blocks on the network and
/// never fails: points that cannot be delivered are kept and counted (see
/// [`DeliveryReport`]).
pub trait PointSink {
    /// One point: k6 metric name, time in ns since the epoch (UTC), value (ms for time
    /// metrics, bytes for data metrics, 0/1 for rates) and its tags in any order (an
    /// empty value is a present tag with an empty value, like k6's root `group`).
    fn write(&mut self, metric: &str, time_ns: i64, value: f64, tags: &[(&str, &str)]);
    /// Like [`PointSink::write`], for a point whose tags equal those of the previous write
    /// (the caller knows, e.g. for the points of one request), so they need not be
    /// compared again. Returns false, writing nothing, when the sink cannot use the
    /// shortcut (the caller then calls [`PointSink::write`]); the default always does.
    fn write_same_tags(&mut self, _metric: &str, _time_ns: i64, _value: f64) -> bool {
        false
    }
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

/// One raw point as the caller hands it over: ids of its metric and tag set (see
/// [`RawBatch`]), time (ns) and value.
#[derive(Clone, Copy)]
struct Raw {
    metric: u32,
    tags: u32,
    time_ns: i64,
    value: f64,
}

/// Raw points for the encoder thread, with the metrics and tag sets first seen in them.
#[derive(Default)]
struct RawBatch {
    /// The caller cleared its tables before this batch: forget every id.
    reset: bool,
    metrics: Vec<(u32, String)>,
    tag_sets: Vec<(u32, Vec<(String, String)>)>,
    points: Vec<Raw>,
    /// Hand the encoded lines to the writers after these points.
    flush: bool,
}

/// Distinct tag sets remembered before the tables are cleared (bounded memory).
const MAX_TAG_SETS: usize = 100_000;

/// Interns metric names and tag sets on the caller's thread.
#[derive(Default)]
struct Interner {
    metrics: HashMap<String, u32>,
    /// Metric names by id.
    metric_names: Vec<String>,
    /// The id after the last point's metric: points of a request come in the same metric
    /// order every time, so this guess saves the hash lookup.
    next_metric: u32,
    sets: Vec<Vec<(String, String)>>,
    by_hash: HashMap<u64, Vec<u32>, slo_model::hash::FastBuildHasher>,
    last: Option<u32>,
}

fn same_tags(a: &[(String, String)], b: &[(&str, &str)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ak, av), (bk, bv))| ak == bk && av == bv)
}

fn tags_hash(tags: &[(&str, &str)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in tags {
        h = (h ^ fnv1a(k.as_bytes())).wrapping_mul(0x0000_0100_0000_01b3);
        h = (h ^ fnv1a(v.as_bytes()).rotate_left(17)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What the encoder thread hands back when it ends.
struct EncoderEnd {
    enc: LineEncoder,
    min_t: Option<i64>,
    max_t: Option<i64>,
}

struct Encoder {
    enc: LineEncoder,
    metrics: Vec<String>,
    sets: Vec<Vec<(String, String)>>,
    series: HashMap<u64, SeriesParts, slo_model::hash::FastBuildHasher>,
    buf: String,
    buf_points: u64,
    batch_points: u64,
    batch_started: Instant,
    tx: SyncSender<Batch>,
    shared: Arc<Shared>,
    min_t: Option<i64>,
    max_t: Option<i64>,
}

impl Encoder {
    fn take(&mut self, b: RawBatch) {
        if b.reset {
            self.metrics.clear();
            self.sets.clear();
            self.series.clear();
        }
        for (id, m) in b.metrics {
            let id = id as usize;
            if self.metrics.len() <= id {
                self.metrics.resize(id + 1, String::new());
            }
            self.metrics[id] = m;
        }
        for (id, t) in b.tag_sets {
            let id = id as usize;
            if self.sets.len() <= id {
                self.sets.resize(id + 1, Vec::new());
            }
            self.sets[id] = t;
        }
        for p in &b.points {
            let key = (u64::from(p.metric) << 32) | u64::from(p.tags);
            if !self.series.contains_key(&key) {
                let metric = &self.metrics[p.metric as usize];
                let pairs: Vec<(&str, &str)> = self.sets[p.tags as usize].iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                match self.enc.series(metric, &pairs) {
                    Ok(parts) => {
                        self.series.insert(key, parts);
                    }
                    // The caller refuses empty names; nothing else fails.
                    Err(_) => continue,
                }
            }
            let parts = &self.series[&key];
            let t = self.enc.encode_cached(&mut self.buf, parts, p.time_ns, p.value);
            self.min_t = Some(self.min_t.map_or(t, |m| m.min(t)));
            self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
            self.buf_points += 1;
            if self.buf_points >= self.batch_points {
                self.send();
            }
        }
        if b.flush {
            self.send();
        }
    }

    fn send(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // The next batch will be about as long as this one (a full batch is
        // `batch_points` lines of one run's series): size it so it does not regrow.
        let cap = (self.buf.len() + self.buf.len() / 8).clamp(4096, 64 << 20);
        let lines = std::mem::replace(&mut self.buf, String::with_capacity(cap));
        let batch = Batch { lines, points: self.buf_points };
        self.buf_points = 0;
        self.batch_started = Instant::now();
        if let Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) = self.tx.try_send(batch) {
            // Queue full: spool here rather than wait for the network.
            self.shared.spool(&gzip(&b.lines), b.points);
        }
    }
}

fn encoder_loop(mut e: Encoder, rx: Receiver<RawBatch>, flush_interval: Duration) -> EncoderEnd {
    loop {
        let wait = flush_interval.saturating_sub(e.batch_started.elapsed()).max(Duration::from_millis(1));
        match rx.recv_timeout(wait) {
            Ok(b) => e.take(b),
            Err(RecvTimeoutError::Timeout) => {
                if e.batch_started.elapsed() >= flush_interval {
                    e.send();
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if e.buf_points > 0 && e.batch_started.elapsed() >= flush_interval {
            e.send();
        }
    }
    e.send();
    EncoderEnd { enc: e.enc, min_t: e.min_t, max_t: e.max_t }
}

/// The InfluxDB sink of one run. Create it with [`InfluxSink::new`]; use it through
/// [`PointSink`].
pub struct InfluxSink {
    enc: LineEncoder,
    interner: Interner,
    raw: RawBatch,
    batch_started: Instant,
    since_clock_check: u32,
    batch_points: u64,
    flush_interval: Duration,
    raw_tx: Option<Sender<RawBatch>>,
    encoder: Option<JoinHandle<EncoderEnd>>,
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
    /// Starts the encoder and writer threads for the run `meta` (its id becomes the
    /// `testid` tag) and queues the run's registry point (status `running`). `spool_dir`
    /// (e.g. the run's folder + `influx-spool`) is created only if something has to be
    /// spooled. Does not contact the server: an unreachable server shows in the
    /// [`DeliveryReport`] (call [`InfluxSink::healthcheck`] first to fail fast with exit
    /// code 4).
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
        let testid = meta.id.0.clone();
        let new_enc = || {
            let mut e = LineEncoder::new(config.tags_as_fields.clone(), Some(("testid".to_string(), testid.clone())));
            e.set_timestamps_unique(config.timestamps_unique);
            e
        };
        let mut metrics = BTreeMap::new();
        for m in &meta.metrics {
            metrics.insert(m.name.clone(), m.clone());
        }
        let batch_points = config.batch_points.max(1) as u64;
        let mut sink = InfluxSink {
            enc: new_enc(),
            interner: Interner::default(),
            raw: RawBatch::default(),
            batch_started: Instant::now(),
            since_clock_check: 0,
            batch_points,
            flush_interval: config.flush_interval,
            raw_tx: None,
            encoder: None,
            workers,
            shared: shared.clone(),
            meta,
            points: 0,
            rejected: 0,
            min_t: None,
            max_t: None,
            metrics,
            end: None,
            report: None,
        };
        let mut buf = String::with_capacity((batch_points as usize).saturating_mul(160).min(64 << 20));
        buf.push_str(&sink.registry_line(RunStatus::Running));
        let e = Encoder {
            enc: new_enc(),
            metrics: Vec::new(),
            sets: Vec::new(),
            series: HashMap::default(),
            buf,
            buf_points: 0,
            batch_points,
            batch_started: Instant::now(),
            tx,
            shared,
            min_t: None,
            max_t: None,
        };
        let (raw_tx, raw_rx) = channel::<RawBatch>();
        let interval = config.flush_interval;
        sink.encoder = Some(
            std::thread::Builder::new()
                .name("influx-encoder".into())
                .spawn(move || encoder_loop(e, raw_rx, interval))
                .expect("spawn InfluxDB encoder thread"),
        );
        sink.raw_tx = Some(raw_tx);
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
}

impl InfluxSink {
    /// Hands the raw points so far to the encoder thread (`flush`: and their lines to the
    /// writers).
    fn send_raw(&mut self, flush: bool) {
        if self.raw.points.is_empty() && self.raw.metrics.is_empty() && self.raw.tag_sets.is_empty() && !self.raw.reset && !flush {
            return;
        }
        let cap = (self.batch_points as usize).min(1 << 20);
        let mut b = std::mem::replace(&mut self.raw, RawBatch { points: Vec::with_capacity(cap), ..RawBatch::default() });
        b.flush = flush;
        self.batch_started = Instant::now();
        if let Some(tx) = &self.raw_tx {
            if let Err(e) = tx.send(b) {
                // The encoder thread is gone (it panicked): count its points as lost.
                let n = e.0.points.len() as u64;
                self.shared.lost.fetch_add(n, Ordering::Relaxed);
                if n > 0 {
                    self.shared.note_error(format!("{n} points lost: the InfluxDB encoder thread ended"));
                }
            }
        }
    }

    /// The id of `tags` (interned; a new set goes into the raw batch).
    fn tag_set_id(&mut self, tags: &[(&str, &str)]) -> u32 {
        let it = &mut self.interner;
        if let Some(id) = it.last {
            if same_tags(&it.sets[id as usize], tags) {
                return id;
            }
        }
        let h = tags_hash(tags);
        if let Some(ids) = it.by_hash.get(&h) {
            for &id in ids {
                if same_tags(&it.sets[id as usize], tags) {
                    it.last = Some(id);
                    return id;
                }
            }
        }
        if it.sets.len() >= MAX_TAG_SETS {
            // Bounded memory: start over (the encoder forgets its ids in the same order).
            self.send_raw(false);
            self.interner = Interner::default();
            self.raw.reset = true;
            return self.tag_set_id(tags);
        }
        let owned: Vec<(String, String)> = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let id = it.sets.len() as u32;
        it.sets.push(owned.clone());
        it.by_hash.entry(h).or_default().push(id);
        it.last = Some(id);
        self.raw.tag_sets.push((id, owned));
        id
    }

    /// Queues one checked point of tag set `tags_id`.
    fn push_point(&mut self, metric: &str, time_ns: i64, value: f64, tags_id: u32) {
        let metric_id = self.metric_id(metric);
        self.raw.points.push(Raw { metric: metric_id, tags: tags_id, time_ns, value });
        self.points += 1;
        self.min_t = Some(self.min_t.map_or(time_ns, |m| m.min(time_ns)));
        self.max_t = Some(self.max_t.map_or(time_ns, |m| m.max(time_ns)));
        self.since_clock_check += 1;
        if self.raw.points.len() as u64 >= self.batch_points {
            self.send_raw(false);
        } else if self.since_clock_check >= 256 {
            self.since_clock_check = 0;
            if self.batch_started.elapsed() >= self.flush_interval {
                self.send_raw(true);
            }
        }
    }

    fn metric_id(&mut self, metric: &str) -> u32 {
        let it = &mut self.interner;
        let guess = it.next_metric as usize;
        let id = match it.metric_names.get(guess) {
            Some(name) if name == metric => Some(guess as u32),
            _ => it.metrics.get(metric).copied(),
        };
        if let Some(id) = id {
            it.next_metric = id + 1;
            return id;
        }
        let id = it.metrics.len() as u32;
        it.metrics.insert(metric.to_string(), id);
        it.metric_names.push(metric.to_string());
        it.next_metric = id + 1;
        self.raw.metrics.push((id, metric.to_string()));
        if !self.metrics.contains_key(metric) {
            let info = builtin_metric(metric).unwrap_or(MetricInfo {
                name: metric.to_string(),
                kind: MetricType::Trend,
                contains: ValueType::Default,
            });
            self.metrics.insert(metric.to_string(), info);
        }
        id
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
        if self.report.is_some() || metric.is_empty() || !value.is_finite() {
            self.rejected += 1;
            return;
        }
        let tags_id = self.tag_set_id(tags);
        self.push_point(metric, time_ns, value, tags_id);
    }

    fn write_same_tags(&mut self, metric: &str, time_ns: i64, value: f64) -> bool {
        match self.interner.last {
            Some(id) if self.report.is_none() && !metric.is_empty() && value.is_finite() => {
                self.push_point(metric, time_ns, value, id);
                true
            }
            _ => false,
        }
    }

    fn flush(&mut self) {
        self.send_raw(true);
    }

    fn close(&mut self) -> DeliveryReport {
        if let Some(r) = &self.report {
            return r.clone();
        }
        self.send_raw(true);
        self.raw_tx = None; // the encoder ends when its channel is empty
        if let Some(h) = self.encoder.take() {
            match h.join() {
                Ok(end) => {
                    self.enc = end.enc;
                    self.min_t = end.min_t;
                    self.max_t = end.max_t;
                }
                Err(_) => self.shared.note_error("the InfluxDB encoder thread panicked".into()),
            }
        }
        // The encoder dropped its queue sender: writers end when the queue is empty.
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
