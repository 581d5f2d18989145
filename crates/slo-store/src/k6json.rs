//! Import of k6 `--out json` results (NDJSON, plain or gzip) into the local store.
//!
//! k6 writes one JSON object per line (k6 `output/json`):
//! `{"type":"Metric","data":{"name","type","contains","thresholds","submetrics"},"metric"}`
//! once per metric before its first sample, and
//! `{"type":"Point","metric":..,"data":{"time","value","tags"}}` per sample (newer k6
//! adds `"metadata"`, ignored here). Unused custom metrics get no `Metric` line.
//!
//! The import streams in constant memory over three threads: one reads (and
//! gunzips) 4 MiB chunks cut at line ends, one parses lines into Arrow columns, and the
//! calling thread encodes Parquet parts. Everything is written under `<store>/.tmp/`
//! and renamed into `runs/<id>` only when the whole file was read, so a failed import
//! leaves nothing behind.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use arrow_array::RecordBatch;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use slo_model::{builtin_metric, MetricInfo, MetricType, RunId, RunMeta, RunStatus, ValueType};

use crate::error::StoreError;
use crate::fastline::fast_point;
use crate::json::{BStr, TagVec, TagsSeed};
use crate::layout::{request_metric_index, BatchBuilder, PartKind, PartSink, RequestBuilder};
use crate::local::{now_ns, write_meta, LocalStore};
use crate::time::parse_rfc3339_ns;

/// What `origin` an import records in `run.json`.
pub const ORIGIN: &str = "k6 json import";
/// What `duration_source` an import records: the run lasted from its first to its last point.
pub const DURATION_SOURCE: &str = "first to last point in the NDJSON";
/// How many skipped lines an [`ImportReport`] lists by number.
pub const MAX_LISTED_SKIPS: usize = 10;

const CHUNK: usize = 4 << 20;

/// Options of [`import_k6_json`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Id of the new run (`--run-id`); default `RunId::new(first point time, random)`.
    pub run_id: Option<String>,
    /// User tags recorded on the run (`--tag k=v`), not on each point.
    pub tags: BTreeMap<String, String>,
    /// Skip malformed lines (counting them) instead of failing the import.
    pub skip_bad_lines: bool,
}

/// A line the import skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: u64,
    /// Why it was skipped.
    pub msg: String,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The stored run's metadata.
    pub run: RunMeta,
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Points stored.
    pub points: u64,
    /// Bytes of NDJSON read (after gunzip).
    pub bytes: u64,
    /// Whether the input was gzip (detected by its magic bytes).
    pub gzip: bool,
    /// Malformed lines skipped (only with `skip_bad_lines`).
    pub skipped_lines: u64,
    /// The first [`MAX_LISTED_SKIPS`] skipped lines.
    pub skipped: Vec<SkippedLine>,
    /// Wall-clock seconds the import took.
    pub elapsed_s: f64,
}

/// Imports a k6 NDJSON file (plain or gzip, told apart by the gzip magic bytes
/// `1f 8b`) as a new run of `store`, streaming in constant memory. Returns the report.
///
/// Rules: CRLF or LF line ends, blank lines skipped; `"tags": null` is no tags; times are
/// RFC 3339 with any offset and 1–9 fraction digits, stored as UTC ns; unknown fields
/// (`metadata`) are ignored. A metric with no `Metric` line anywhere in the file takes
/// its type from the k6 built-ins; otherwise the import fails with a `BadLine` at its
/// first point, even with `skip_bad_lines` (its points are a whole-file problem, not
/// one line's). Declared metric names must follow k6's rule
/// `^[a-zA-Z_][a-zA-Z0-9_]{1,127}$`; a metric declared twice with different types is a
/// bad line.
/// The run spans first to last point time (`duration_source` [`DURATION_SOURCE`]),
/// `origin` [`ORIGIN`], `scenario` = the file name.
///
/// Errors: [`StoreError::BadLine`] with the 1-based line (unless `skip_bad_lines`),
/// [`StoreError::InvalidRunId`], [`StoreError::RunExists`], I/O and Parquet errors. On
/// any error nothing is left in the store.
pub fn import_k6_json(store: &LocalStore, path: &Path, opts: ImportOptions) -> Result<ImportReport, StoreError> {
    let started = Instant::now();
    if let Some(id) = &opts.run_id {
        if !RunId::is_valid(id) {
            return Err(StoreError::InvalidRunId(id.clone()));
        }
        if store.run_dir(&RunId(id.clone())).exists() {
            return Err(StoreError::RunExists(id.clone()));
        }
    }
    let bad_input = |msg: String| StoreError::BadInput { file: path.to_path_buf(), msg };
    let mut file = File::open(path).map_err(|e| bad_input(format!("cannot open: {e}")))?;
    let mut magic = [0u8; 2];
    let got = read_full(&mut file, &mut magic).map_err(|e| bad_input(format!("cannot read: {e}")))?;
    let gzip = got == 2 && magic == [0x1f, 0x8b];
    let prefix = magic[..got].to_vec();

    let tmp_root = store.dir().join(".tmp");
    let tmp = tmp_root.join(format!("import-{:016x}", rand::random::<u64>()));
    fs::create_dir_all(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    let guard = TmpGuard(tmp.clone());

    let input: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, std::io::Cursor::new(prefix).chain(file))))
    } else {
        Box::new((std::io::Cursor::new(prefix)).chain(file))
    };

    let summary = std::thread::scope(|s| -> Result<ParseSummary, StoreError> {
        let mut work_tx = Vec::new();
        let mut result_rx = Vec::new();
        for _ in 0..PARSERS {
            let (wtx, wrx) = sync_channel::<Result<Chunk, StoreError>>(2);
            let (rtx, rrx) = sync_channel::<Result<ChunkResult, StoreError>>(2);
            s.spawn(move || parse_worker(wrx, rtx));
            work_tx.push(wtx);
            result_rx.push(rrx);
        }
        s.spawn(move || read_chunks(input, path, work_tx));
        let mut sink = PartSink::new(&tmp, 1, PartKind::Points);
        let mut req_sink = PartSink::new(&tmp, 1, PartKind::Requests);
        let mut merge = Merge::new(path, opts.skip_bad_lines);
        // Chunk i went to parser i % PARSERS, so reading results round-robin restores
        // file order; a parser that hangs up without chunk i means the input ended.
        let mut i = 0usize;
        loop {
            let r = match result_rx[i % PARSERS].recv() {
                Ok(r) => r?,
                Err(_) => break,
            };
            let (points, requests) = merge.take(r)?;
            if let Some(batch) = points {
                sink.write(&batch)?;
            }
            if let Some(batch) = requests {
                req_sink.write(&batch)?;
            }
            i += 1;
        }
        sink.close_part()?;
        req_sink.close_part()?;
        merge.finish()
    })?;
    if summary.points == 0 {
        return Err(bad_input(format!(
            "no k6 sample (`\"type\":\"Point\"` line) in {} lines: not the output of `k6 run --out json=FILE`, or a run that recorded nothing",
            summary.lines
        )));
    }

    let start = summary.min_t;
    let end = summary.max_t;
    let id = match &opts.run_id {
        Some(id) => RunId(id.clone()),
        None => RunId::new(start.unwrap_or_else(now_ns), rand::random::<u32>()),
    };
    let meta = RunMeta {
        id: id.clone(),
        created_ns: now_ns(),
        start_ns: start,
        end_ns: end,
        duration_s: match (start, end) {
            (Some(a), Some(b)) => Some((b - a) as f64 / 1e9),
            _ => None,
        },
        duration_source: start.map(|_| DURATION_SOURCE.to_string()),
        status: RunStatus::Complete,
        origin: ORIGIN.to_string(),
        scenario: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        tags: opts.tags.clone(),
        metrics: summary.metrics.into_values().collect(),
        points: summary.points,
        slo_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_meta(&tmp, &meta)?;
    let dest = store.run_dir(&id);
    if dest.exists() {
        return Err(StoreError::RunExists(id.0));
    }
    fs::rename(&tmp, &dest).map_err(|e| StoreError::io(&dest, e))?;
    std::mem::forget(guard);
    let _ = fs::remove_dir(&tmp_root); // only if empty
    Ok(ImportReport {
        run: meta,
        lines: summary.lines,
        points: summary.points,
        bytes: summary.bytes,
        gzip,
        skipped_lines: summary.skipped_lines,
        skipped: summary.skipped,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Removes the import's tmp folder unless defused (on error or panic).
struct TmpGuard(PathBuf);

impl Drop for TmpGuard {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        if let Some(p) = self.0.parent() {
            let _ = fs::remove_dir(p);
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whole lines of input (the last one may lack its `\n` at end of file), numbered in
/// file order.
struct Chunk {
    seq: u64,
    data: Vec<u8>,
}

/// How far back from a chunk's end [`request_start_before`] looks.
const REQUEST_SEARCH: usize = 64 * 1024;

/// The start of the last line before `end` (within [`REQUEST_SEARCH`] bytes) that opens
/// one request's points as k6 writes them (`{"metric":"http_reqs",...`), so that a chunk
/// ends between requests: parsers merge a request's points into one row only within a
/// chunk. `None` when there is no such line there.
fn request_start_before(buf: &[u8], end: usize) -> Option<usize> {
    const OPEN: &[u8] = b"{\"metric\":\"http_reqs\"";
    let floor = end.saturating_sub(REQUEST_SEARCH);
    let mut i = end.checked_sub(1)?; // the newline ending the last whole line
    while i > floor {
        let nl = buf[floor..i].iter().rposition(|&c| c == b'\n')? + floor;
        if buf[nl + 1..].starts_with(OPEN) {
            return Some(nl + 1);
        }
        i = nl;
    }
    None
}

/// Parser threads; chunk `i` goes to parser `i % PARSERS`.
const PARSERS: usize = 2;

/// Reads the input in chunks that end at a line end and deals them round-robin.
fn read_chunks(mut input: Box<dyn Read + Send>, path: &Path, txs: Vec<SyncSender<Result<Chunk, StoreError>>>) {
    let mut carry: Vec<u8> = Vec::new();
    let mut seq = 0u64;
    let mut total = 0u64;
    loop {
        let tx = &txs[seq as usize % txs.len()];
        let mut buf = Vec::with_capacity(CHUNK.max(carry.len() * 2));
        buf.extend_from_slice(&carry);
        carry.clear();
        let mut eof = false;
        // Fill to CHUNK bytes, or further until a newline shows up (very long lines).
        loop {
            let len = buf.len();
            let cap = if len < CHUNK { CHUNK } else { len + CHUNK };
            buf.resize(cap, 0);
            let n = match input.read(&mut buf[len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    buf.truncate(len);
                    continue;
                }
                Err(e) => {
                    let msg = format!("cannot read past byte {total} of the (decompressed) input: {e}; is the file truncated or corrupt?");
                    let _ = tx.send(Err(StoreError::BadInput { file: path.to_path_buf(), msg }));
                    return;
                }
            };
            total += n as u64;
            buf.truncate(len + n);
            if n == 0 {
                eof = true;
                break;
            }
            if buf.len() >= CHUNK && buf[len..].contains(&b'\n') {
                break;
            }
        }
        if !eof {
            let last = buf.iter().rposition(|&c| c == b'\n').map_or(buf.len(), |i| i + 1);
            let cut = request_start_before(&buf, last).unwrap_or(last);
            carry.extend_from_slice(&buf[cut..]);
            buf.truncate(cut);
        }
        if !buf.is_empty() {
            if tx.send(Ok(Chunk { seq, data: buf })).is_err() {
                return;
            }
            seq += 1;
        }
        if eof {
            return;
        }
    }
}

/// What a parser made of one chunk; line numbers are 1-based within the chunk.
struct ChunkResult {
    batch: Option<RecordBatch>,
    /// The chunk's HTTP request points, merged into request rows.
    req_batch: Option<RecordBatch>,
    bytes: u64,
    lines: u64,
    points: u64,
    min_t: Option<i64>,
    max_t: Option<i64>,
    /// `Metric` lines, in order.
    decls: Vec<(u64, MetricInfo)>,
    /// Each point metric's first line in the chunk.
    first_use: Vec<(String, u64)>,
    skipped: Vec<SkippedLine>,
    skipped_lines: u64,
    /// The first bad line (without `skip_bad_lines` parsing stops there).
    error: Option<SkippedLine>,
}

struct ParseSummary {
    lines: u64,
    points: u64,
    bytes: u64,
    min_t: Option<i64>,
    max_t: Option<i64>,
    metrics: BTreeMap<String, MetricInfo>,
    skipped_lines: u64,
    skipped: Vec<SkippedLine>,
}

/// Folds chunk results, in file order, into the import's summary and decides on
/// errors: bad lines, conflicting declarations, metrics never declared.
struct Merge<'p> {
    path: &'p Path,
    skip: bool,
    s: ParseSummary,
    /// First use (global line) of point metrics not declared when first met.
    undeclared: BTreeMap<String, u64>,
}

impl<'p> Merge<'p> {
    fn new(path: &'p Path, skip: bool) -> Self {
        Merge {
            path,
            skip,
            s: ParseSummary {
                lines: 0,
                points: 0,
                bytes: 0,
                min_t: None,
                max_t: None,
                metrics: BTreeMap::new(),
                skipped_lines: 0,
                skipped: Vec::new(),
            },
            undeclared: BTreeMap::new(),
        }
    }

    fn bad(&self, line: u64, msg: String) -> StoreError {
        StoreError::BadLine { file: self.path.to_path_buf(), line, msg }
    }

    fn skip_line(&mut self, line: u64, msg: String) -> Result<(), StoreError> {
        if !self.skip {
            return Err(self.bad(line, msg));
        }
        self.s.skipped_lines += 1;
        if self.s.skipped.len() < MAX_LISTED_SKIPS {
            self.s.skipped.push(SkippedLine { line, msg });
        }
        Ok(())
    }

    /// Takes the next chunk's result; returns its point and request batches to write.
    fn take(&mut self, r: ChunkResult) -> Result<(Option<RecordBatch>, Option<RecordBatch>), StoreError> {
        let base = self.s.lines;
        if let (false, Some(e)) = (self.skip, r.error) {
            return Err(self.bad(base + e.line, e.msg));
        }
        // Declarations and first uses interleave by line.
        let mut uses = r.first_use.iter().peekable();
        for (line, info) in &r.decls {
            while let Some((m, _)) = uses.next_if(|(_, l)| l < line) {
                if !self.s.metrics.contains_key(m) {
                    self.undeclared.entry(m.clone()).or_insert(base + line);
                }
            }
            if let Some(old) = self.s.metrics.get(&info.name) {
                if old.kind != info.kind {
                    let msg = format!("metric {:?} declared as {} but was {} before", info.name, info.kind.as_str(), old.kind.as_str());
                    self.skip_line(base + line, msg)?;
                    continue;
                }
            }
            self.s.metrics.insert(info.name.clone(), info.clone());
        }
        for (m, l) in uses {
            if !self.s.metrics.contains_key(m) {
                self.undeclared.entry(m.clone()).or_insert(base + l);
            }
        }
        self.s.skipped_lines += r.skipped_lines;
        for sk in r.skipped {
            if self.s.skipped.len() < MAX_LISTED_SKIPS {
                self.s.skipped.push(SkippedLine { line: base + sk.line, msg: sk.msg });
            }
        }
        self.s.lines += r.lines;
        self.s.bytes += r.bytes;
        self.s.points += r.points;
        self.s.min_t = opt_min(self.s.min_t, r.min_t);
        self.s.max_t = opt_max(self.s.max_t, r.max_t);
        Ok((r.batch, r.req_batch))
    }

    /// Resolves metrics used before (or without) a declaration: declared later in the
    /// file, or a k6 built-in; otherwise the import fails at the metric's first point.
    fn finish(mut self) -> Result<ParseSummary, StoreError> {
        let undeclared = std::mem::take(&mut self.undeclared);
        let mut first_bad: Option<(u64, String)> = None;
        for (m, line) in undeclared {
            if self.s.metrics.contains_key(&m) {
                continue;
            }
            match builtin_metric(&m) {
                Some(info) => {
                    self.s.metrics.insert(m, info);
                }
                None => {
                    if first_bad.as_ref().is_none_or(|(l, _)| line < *l) {
                        first_bad = Some((line, m));
                    }
                }
            }
        }
        if let Some((line, m)) = first_bad {
            return Err(self.bad(line, format!("metric {m:?} has no \"Metric\" line in the file and is not a k6 built-in metric")));
        }
        Ok(self.s)
    }
}

fn opt_min(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn opt_max(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// A parser thread: parses each chunk it is dealt into one record batch.
fn parse_worker(rx: Receiver<Result<Chunk, StoreError>>, tx: SyncSender<Result<ChunkResult, StoreError>>) {
    let mut builder = BatchBuilder::new();
    let mut requests = RequestBuilder::new();
    for chunk in rx {
        let r = chunk.map(|c| {
            let mut data: &[u8] = &c.data;
            if c.seq == 0 {
                data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data); // UTF-8 BOM
            }
            let mut r = parse_chunk(data, &mut builder, &mut requests);
            r.bytes = c.data.len() as u64;
            r
        });
        if tx.send(r).is_err() {
            return;
        }
    }
}

/// Position of the first `\n` in `b`, eight bytes at a time.
#[inline]
fn find_newline(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes")) ^ NL;
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c == b'\n').map(|p| i + p)
}

/// Parses a chunk's lines. Bad lines are collected (the merge decides whether they
/// fail the import); parsing goes on after one so `skip_bad_lines` can count them all.
/// Points of k6's HTTP request metrics go to `requests`, those of one request (same
/// time, same tags text, consecutive) into one row; the others to `builder`.
fn parse_chunk(mut data: &[u8], builder: &mut BatchBuilder, requests: &mut RequestBuilder) -> ChunkResult {
    let mut r = ChunkResult {
        batch: None,
        req_batch: None,
        bytes: 0,
        lines: 0,
        points: 0,
        min_t: None,
        max_t: None,
        decls: Vec::new(),
        first_use: Vec::new(),
        skipped: Vec::new(),
        skipped_lines: 0,
        error: None,
    };
    let mut tags: TagVec<'_> = Vec::with_capacity(16);
    // The tags text `tags` holds (of the last fast-parsed line), and the tags of the open
    // request row: its text when fast-parsed, else its parsed pairs (tags with JSON
    // escapes take the full parser).
    let mut prev_raw: &str = "";
    let mut row_raw: &str = "";
    let mut row_pairs: Option<Vec<(String, String)>> = None;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    // Chunks end at a line end, so a chunk of valid UTF-8 has valid lines: checked once.
    let whole = std::str::from_utf8(data).ok();
    let base = data.as_ptr() as usize;
    while !data.is_empty() {
        let (line, rest) = match find_newline(data) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &data[data.len()..]),
        };
        data = rest;
        r.lines += 1;
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let text = match whole {
            Some(w) => {
                let at = trimmed.as_ptr() as usize - base;
                w.get(at..at + trimmed.len())
            }
            None => std::str::from_utf8(trimmed).ok(),
        };
        let fast = text.and_then(|l| fast_point(l, &mut tags, prev_raw));
        let was_fast = fast.is_some();
        let (parsed, raw) = match fast {
            Some(fp) => (
                match parse_rfc3339_ns(fp.time) {
                    Ok(t) => Ok(Parsed::Point { metric: Cow::Borrowed(fp.metric), t, value: fp.value }),
                    Err(e) => Err(format!("bad time {:?}: {e}", fp.time)),
                },
                fp.tags_raw,
            ),
            None => {
                tags.clear();
                (parse_line(trimmed, &mut tags), "")
            }
        };
        prev_raw = if was_fast { raw } else { "" };
        match parsed {
            Ok(Parsed::Point { metric, t, value }) => {
                let new_metric = match request_metric_index(&metric).filter(|&i| crate::layout::request_only(i)) {
                    Some(idx) => {
                        let same = if was_fast {
                            !raw.is_empty() && raw == row_raw
                        } else {
                            row_pairs
                                .as_ref()
                                .is_some_and(|p| p.len() == tags.len() && p.iter().zip(tags.iter()).all(|(a, b)| a.0 == b.0 && a.1 == b.1))
                        };
                        let (new_metric, new_row) = requests.push_point(idx, t, value, &tags, same);
                        if new_row {
                            row_raw = if was_fast { raw } else { "" };
                            row_pairs = (!was_fast).then(|| tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
                        }
                        new_metric
                    }
                    None => builder.push(&metric, t, value, &tags),
                };
                if new_metric {
                    r.first_use.push((metric.into_owned(), r.lines));
                }
                r.points += 1;
                lo = lo.min(t);
                hi = hi.max(t);
            }
            Ok(Parsed::Metric(info)) => r.decls.push((r.lines, info)),
            Err(msg) => {
                if r.error.is_none() {
                    r.error = Some(SkippedLine { line: r.lines, msg: msg.clone() });
                }
                r.skipped_lines += 1;
                if r.skipped.len() < MAX_LISTED_SKIPS {
                    r.skipped.push(SkippedLine { line: r.lines, msg });
                }
            }
        }
    }
    if r.points > 0 {
        r.min_t = Some(lo);
        r.max_t = Some(hi);
    }
    if builder.len() > 0 {
        r.batch = Some(builder.finish());
    }
    if requests.len() > 0 {
        r.req_batch = Some(requests.finish());
    }
    r
}

enum Parsed<'de> {
    Point { metric: Cow<'de, str>, t: i64, value: f64 },
    Metric(MetricInfo),
}

/// Parses one non-blank line.
fn parse_line<'de>(line: &'de [u8], tags: &mut TagVec<'de>) -> Result<Parsed<'de>, String> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let l = LineSeed { tags }.deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    let data = l.data.ok_or("line has no \"data\" object")?;
    match l.kind {
        Kind::Point => {
            let metric = l.metric.ok_or("Point line has no \"metric\"")?.0;
            let time = data.time.ok_or("Point data has no \"time\"")?.0;
            let value = data.value.ok_or("Point data has no \"value\"")?;
            let t = parse_rfc3339_ns(&time).map_err(|e| format!("bad time {time:?}: {e}"))?;
            Ok(Parsed::Point { metric, t, value })
        }
        Kind::Metric => {
            let name = match (data.name, l.metric) {
                (Some(n), _) => n.0,
                (None, Some(m)) => m.0,
                (None, None) => return Err("Metric line has no data.name".into()),
            };
            if !valid_metric_name(&name) {
                return Err(format!("invalid metric name {name:?}: k6 needs 2-128 ASCII letters, digits or _, not starting with a digit"));
            }
            let ty = data.mtype.ok_or("Metric data has no \"type\"")?.0;
            let kind = MetricType::parse(&ty).ok_or_else(|| format!("unknown metric type {ty:?}"))?;
            let contains = data.contains.map_or(ValueType::Default, |c| ValueType::parse(&c.0));
            Ok(Parsed::Metric(MetricInfo { name: name.into_owned(), kind, contains }))
        }
        Kind::Other(t) => Err(format!("unknown line type {t:?} (k6 writes \"Metric\" and \"Point\")")),
        Kind::Missing => Err("line has no \"type\"".into()),
    }
}

/// k6's metric name rule (v0.50+): `^[a-zA-Z_][a-zA-Z0-9_]{1,127}$`.
pub fn valid_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=128).contains(&b.len())
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

enum Kind {
    Missing,
    Metric,
    Point,
    Other(String),
}

struct Line<'de> {
    kind: Kind,
    metric: Option<BStr<'de>>,
    data: Option<Data<'de>>,
}

#[derive(Default)]
struct Data<'de> {
    time: Option<BStr<'de>>,
    value: Option<f64>,
    name: Option<BStr<'de>>,
    mtype: Option<BStr<'de>>,
    contains: Option<BStr<'de>>,
}

struct LineSeed<'s, 'de> {
    tags: &'s mut TagVec<'de>,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_, 'de> {
    type Value = Line<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Line<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_, 'de> {
    type Value = Line<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a k6 JSON output object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Line<'de>, A::Error> {
        let mut line = Line { kind: Kind::Missing, metric: None, data: None };
        while let Some(k) = map.next_key::<BStr<'de>>()? {
            match k.0.as_ref() {
                "type" => {
                    let t: BStr<'de> = map.next_value()?;
                    line.kind = match t.0.as_ref() {
                        "Point" => Kind::Point,
                        "Metric" => Kind::Metric,
                        o => Kind::Other(o.to_string()),
                    };
                }
                "metric" => line.metric = Some(map.next_value()?),
                "data" => line.data = Some(map.next_value_seed(DataSeed { tags: &mut *self.tags })?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(line)
    }
}

struct DataSeed<'s, 'de> {
    tags: &'s mut TagVec<'de>,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_, 'de> {
    type Value = Data<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Data<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_, 'de> {
    type Value = Data<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a \"data\" object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data<'de>, A::Error> {
        let mut d = Data::default();
        while let Some(k) = map.next_key::<BStr<'de>>()? {
            match k.0.as_ref() {
                "time" => d.time = Some(map.next_value()?),
                "value" => d.value = Some(map.next_value()?),
                "tags" => {
                    // A repeated "tags" key: JSON says the later wins.
                    self.tags.clear();
                    map.next_value_seed(TagsSeed(&mut *self.tags))?
                }
                "name" => d.name = Some(map.next_value()?),
                "type" => d.mtype = Some(map.next_value()?),
                "contains" => d.contains = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_before_a_requests_first_line() {
        let text = b"{\"metric\":\"vus\"}\n{\"metric\":\"http_reqs\",\"a\":1}\n{\"metric\":\"http_req_duration\"}\n";
        let end = text.len();
        let at = request_start_before(text, end).unwrap();
        assert!(text[at..].starts_with(b"{\"metric\":\"http_reqs\""));
        assert_eq!(text[at - 1], b'\n');
        let vus = b"{\"metric\":\"vus\"}\n{\"metric\":\"vus\"}\n";
        assert_eq!(request_start_before(vus, vus.len()), None);
        // The very first line has no newline before it: not a cut (the chunk would be empty).
        let first = b"{\"metric\":\"http_reqs\"}\n";
        assert_eq!(request_start_before(first, first.len()), None);
    }

    #[test]
    fn newline_search() {
        let s = b"0123456789abcdef\nxyz\n";
        assert_eq!(find_newline(s), Some(16));
        assert_eq!(find_newline(b"ab\ncd"), Some(2));
        assert_eq!(find_newline(b"abcdefgh"), None);
        assert_eq!(find_newline(b""), None);
        for i in 0..40 {
            let mut v = vec![b'x'; 40];
            v[i] = b'\n';
            assert_eq!(find_newline(&v), Some(i));
        }
        // bytes above 0x80 next to the newline must not confuse the search
        assert_eq!(find_newline("éééé\n".as_bytes()), Some(8));
    }

    #[test]
    fn metric_names_follow_k6() {
        for ok in ["vus", "_x", "my_metric", "http_req_duration", "a1"] {
            assert!(valid_metric_name(ok), "{ok}");
        }
        for bad in ["x", "lätenz", "my-metric", "a.b", "9abc", ""] {
            assert!(!valid_metric_name(bad), "{bad}");
        }
    }
}
