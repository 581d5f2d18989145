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

use std::collections::{BTreeMap, HashMap};
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
use crate::json::{BStr, TagVec, TagsSeed};
use crate::layout::{BatchBuilder, PartSink, BATCH_ROWS};
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
/// RFC 3339 with any offset and 1–9 fraction digits, stored as UTC ns; a point of a
/// metric with no earlier `Metric` line takes its type from the k6 built-ins and is
/// otherwise a bad line; metric names must follow k6's rule `^[a-zA-Z_][a-zA-Z0-9_]{1,127}$`.
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
    let mut file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut magic = [0u8; 2];
    let got = read_full(&mut file, &mut magic).map_err(|e| StoreError::io(path, e))?;
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
        let (ctx, crx) = sync_channel::<Result<Chunk, StoreError>>(3);
        let (btx, brx) = sync_channel::<Result<Msg, StoreError>>(3);
        s.spawn(move || read_chunks(input, path, ctx));
        let skip = opts.skip_bad_lines;
        s.spawn(move || parse_chunks(crx, path, skip, btx));
        let mut sink = PartSink::new(&tmp, 1);
        for msg in brx {
            match msg? {
                Msg::Batch(b) => sink.write(&b)?,
                Msg::Done(summary) => {
                    sink.close_part()?;
                    return Ok(*summary);
                }
            }
        }
        Err(StoreError::Corrupt { path: path.to_path_buf(), msg: "import stopped without a result".into() })
    })?;

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

/// Whole lines of input (the last one may lack its `\n` at end of file).
struct Chunk {
    data: Vec<u8>,
}

/// Reads the input in chunks that end at a line end.
fn read_chunks(mut input: Box<dyn Read + Send>, path: &Path, tx: SyncSender<Result<Chunk, StoreError>>) {
    let mut carry: Vec<u8> = Vec::new();
    loop {
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
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    let _ = tx.send(Err(StoreError::io(path, e)));
                    return;
                }
            };
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
            let cut = buf.iter().rposition(|&c| c == b'\n').map_or(buf.len(), |i| i + 1);
            carry.extend_from_slice(&buf[cut..]);
            buf.truncate(cut);
        }
        if !buf.is_empty() && tx.send(Ok(Chunk { data: buf })).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}

enum Msg {
    Batch(RecordBatch),
    Done(Box<ParseSummary>),
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

/// State of the parser across chunks.
struct Parser {
    builder: BatchBuilder,
    metrics: BTreeMap<String, MetricInfo>,
    known: HashMap<String, ()>,
    last_metric: String,
    summary: ParseSummary,
}

fn parse_chunks(
    rx: Receiver<Result<Chunk, StoreError>>,
    path: &Path,
    skip: bool,
    tx: SyncSender<Result<Msg, StoreError>>,
) {
    let mut p = Parser {
        builder: BatchBuilder::new(),
        metrics: BTreeMap::new(),
        known: HashMap::new(),
        last_metric: String::new(),
        summary: ParseSummary {
            lines: 0,
            points: 0,
            bytes: 0,
            min_t: None,
            max_t: None,
            metrics: BTreeMap::new(),
            skipped_lines: 0,
            skipped: Vec::new(),
        },
    };
    let mut first = true;
    for chunk in rx {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        p.summary.bytes += chunk.data.len() as u64;
        let mut data: &[u8] = &chunk.data;
        if first {
            first = false;
            data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data); // UTF-8 BOM
        }
        if let Err(e) = p.parse_chunk(data, path, skip, &tx) {
            let _ = tx.send(Err(e));
            return;
        }
    }
    if p.builder.len() > 0 {
        let b = p.builder.finish();
        if tx.send(Ok(Msg::Batch(b))).is_err() {
            return;
        }
    }
    p.summary.metrics = std::mem::take(&mut p.metrics);
    let _ = tx.send(Ok(Msg::Done(Box::new(p.summary))));
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

impl Parser {
    fn parse_chunk(
        &mut self,
        mut data: &[u8],
        path: &Path,
        skip: bool,
        tx: &SyncSender<Result<Msg, StoreError>>,
    ) -> Result<(), StoreError> {
        let mut tags: TagVec<'_> = Vec::with_capacity(16);
        while !data.is_empty() {
            let (line, rest) = match find_newline(data) {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (data, &data[data.len()..]),
            };
            data = rest;
            self.summary.lines += 1;
            let line_no = self.summary.lines;
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            tags.clear();
            if let Err(msg) = self.parse_line(trimmed, &mut tags) {
                if skip {
                    self.summary.skipped_lines += 1;
                    if self.summary.skipped.len() < MAX_LISTED_SKIPS {
                        self.summary.skipped.push(SkippedLine { line: line_no, msg });
                    }
                    continue;
                }
                return Err(StoreError::BadLine { file: path.to_path_buf(), line: line_no, msg });
            }
            if self.builder.len() >= BATCH_ROWS {
                let b = self.builder.finish();
                if tx.send(Ok(Msg::Batch(b))).is_err() {
                    // The writer stopped (it failed); it reports its own error.
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Parses one non-blank line; a point is appended to the builder only when the whole
    /// line is valid.
    fn parse_line<'de>(&mut self, line: &'de [u8], tags: &mut TagVec<'de>) -> Result<(), String> {
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
                if metric != self.last_metric {
                    if !self.known.contains_key(metric.as_ref()) {
                        let info = builtin_metric(&metric).ok_or_else(|| {
                            format!(
                                "metric {metric:?} has no \"Metric\" line before its first point and is not a k6 built-in metric"
                            )
                        })?;
                        self.known.insert(metric.to_string(), ());
                        self.metrics.insert(metric.to_string(), info);
                    }
                    self.last_metric.clear();
                    self.last_metric.push_str(&metric);
                }
                self.builder.push(&metric, t, value, tags);
                self.summary.points += 1;
                self.summary.min_t = Some(self.summary.min_t.map_or(t, |m| m.min(t)));
                self.summary.max_t = Some(self.summary.max_t.map_or(t, |m| m.max(t)));
                Ok(())
            }
            Kind::Metric => {
                let name = match (data.name, l.metric) {
                    (Some(n), _) => n.0,
                    (None, Some(m)) => m.0,
                    (None, None) => return Err("Metric line has no data.name".into()),
                };
                if !valid_metric_name(&name) {
                    return Err(format!(
                        "invalid metric name {name:?}: k6 needs 2-128 ASCII letters, digits or _, not starting with a digit"
                    ));
                }
                let ty = data.mtype.ok_or("Metric data has no \"type\"")?.0;
                let kind = MetricType::parse(&ty).ok_or_else(|| format!("unknown metric type {ty:?}"))?;
                let contains = data.contains.map_or(ValueType::Default, |c| ValueType::parse(&c.0));
                let info = MetricInfo { name: name.to_string(), kind, contains };
                if let Some(old) = self.metrics.get(name.as_ref()) {
                    if old.kind != kind {
                        return Err(format!(
                            "metric {name:?} declared as {} but was {} before",
                            kind.as_str(),
                            old.kind.as_str()
                        ));
                    }
                }
                self.known.insert(info.name.clone(), ());
                self.metrics.insert(info.name.clone(), info);
                Ok(())
            }
            Kind::Other(t) => Err(format!("unknown line type {t:?} (k6 writes \"Metric\" and \"Point\")")),
            Kind::Missing => Err("line has no \"type\"".into()),
        }
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
