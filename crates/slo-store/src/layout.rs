//! The Parquet layout of a run's part files, the column builder that fills it, and the
//! part writer that closes each file atomically (`.part-NNNNNN.parquet.tmp` renamed to
//! `part-NNNNNN.parquet`).
//!
//! Point parts (`part-NNNNNN.parquet`): long format, one row per point, rows in arrival
//! order:
//!
//! | column | Arrow type | notes |
//! |---|---|---|
//! | `metric` | `Dictionary(Int32, Utf8)` | Parquet dictionary-encoded string |
//! | `time` | `Timestamp(Nanosecond, "UTC")` | ns since the Unix epoch |
//! | `value` | `Float64` | ms for time metrics, bytes for data metrics |
//! | `scenario` … `check` | `Utf8`, nullable | k6's common tags ([`FIXED_TAGS`]); null = tag absent |
//! | `tags` | `Utf8`, nullable | JSON object of the other tags, keys sorted; null when none |
//!
//! HTTP requests have a wide table of their own (`req-NNNNNN.parquet`), one row per
//! request, because a request is eleven k6 points with one tag set and one timestamp:
//! the same `time`, fixed tag and `tags` columns, then one nullable `Float64` column per
//! metric of [`REQUEST_METRICS`] (`http_reqs` … `http_req_failed`, `data_sent`,
//! `data_received`, `slo_scheduling_lag`); null = no such point. `data_sent` and
//! `data_received` points carry only the row's `group`, `scenario` and extra tags (not
//! `error`), as k6 tags them. A metric's points are all in one table kind, in arrival
//! order, so readers keep k6's arithmetic (running sums in arrival order): k6's nine HTTP
//! request metrics and `slo_scheduling_lag` always go to request tables, whoever writes
//! them (a k6 import merges the consecutive points of one request into one row; a
//! point pushed alone is a row of its own); `data_sent`/`data_received` go there only
//! from the generator, which records them per request.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_array::builder::StringBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::StoreError;

/// k6's common tags, each stored in its own nullable `Utf8` column (in this order, after
/// `metric`, `time`, `value`). Every other tag goes into the `tags` JSON column.
pub const FIXED_TAGS: [&str; 10] =
    ["scenario", "group", "name", "method", "status", "url", "expected_response", "error_code", "proto", "check"];

/// Number of fixed tag columns.
pub(crate) const N_FIXED: usize = FIXED_TAGS.len();
/// Name of the JSON column holding the remaining tags.
pub const EXTRA_TAGS_COLUMN: &str = "tags";
/// Index of the first fixed tag column in the schema.
#[cfg(test)]
pub(crate) const FIRST_TAG_COL: usize = 3;

/// The index in [`FIXED_TAGS`] of `key`, if it has its own column.
#[inline]
pub(crate) fn fixed_index(key: &str) -> Option<usize> {
    Some(match key {
        "scenario" => 0,
        "group" => 1,
        "name" => 2,
        "method" => 3,
        "status" => 4,
        "url" => 5,
        "expected_response" => 6,
        "error_code" => 7,
        "proto" => 8,
        "check" => 9,
        _ => return None,
    })
}

fn field_list() -> Vec<Field> {
    let mut f = vec![
        Field::new("metric", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false),
        Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false),
        Field::new("value", DataType::Float64, false),
    ];
    for t in FIXED_TAGS {
        f.push(Field::new(t, DataType::Utf8, true));
    }
    f.push(Field::new(EXTRA_TAGS_COLUMN, DataType::Utf8, true));
    f
}

/// The Arrow schema part files are written with.
pub fn part_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| Arc::new(Schema::new(field_list()))).clone()
}

/// The metrics of one HTTP request, each a nullable `Float64` column of the request
/// table, in the order a row's points are delivered (the model's, k6's order for one
/// request). Units: ms for the trends, 1 for `http_reqs`, 0/1 for `http_req_failed`,
/// bytes for `data_sent`/`data_received`.
pub use slo_model::REQUEST_METRICS;
/// Number of [`REQUEST_METRICS`].
pub(crate) const N_REQ: usize = REQUEST_METRICS.len();

/// Whether the `i`-th request metric is `data_sent`/`data_received`, whose points carry
/// only `group`, `scenario` and the extra tags.
#[inline]
pub(crate) fn is_data_metric(i: usize) -> bool {
    slo_model::RequestSample::is_data_metric(i)
}

/// Whether the `i`-th request metric is always stored in request tables, whoever writes
/// it (every writer routes it there; `data_sent`/`data_received` may be points too, as
/// k6 emits them per iteration), so scans of these metrics skip point parts.
#[inline]
pub(crate) fn request_only(i: usize) -> bool {
    !is_data_metric(i)
}

/// The index in [`REQUEST_METRICS`] of `metric`, if it is one.
#[inline]
pub(crate) fn request_metric_index(metric: &str) -> Option<usize> {
    REQUEST_METRICS.iter().position(|m| *m == metric)
}

/// The Arrow schema of request tables (`req-NNNNNN.parquet`; see the module docs).
pub fn request_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let mut f = vec![Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false)];
        for t in FIXED_TAGS {
            f.push(Field::new(t, DataType::Utf8, true));
        }
        f.push(Field::new(EXTRA_TAGS_COLUMN, DataType::Utf8, true));
        for m in REQUEST_METRICS {
            f.push(Field::new(m, DataType::Float64, true));
        }
        Arc::new(Schema::new(f))
    })
    .clone()
}

/// The two kinds of part files of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PartKind {
    /// `part-NNNNNN.parquet`: long format, one row per point.
    Points,
    /// `req-NNNNNN.parquet`: one row per HTTP request.
    Requests,
}

impl PartKind {
    fn prefix(self) -> &'static str {
        match self {
            PartKind::Points => "part-",
            PartKind::Requests => "req-",
        }
    }

    fn schema(self) -> SchemaRef {
        match self {
            PartKind::Points => part_schema(),
            PartKind::Requests => request_schema(),
        }
    }
}

fn writer_properties(kind: PartKind) -> WriterProperties {
    let mut b = WriterProperties::builder();
    // Min/max of tag strings cost a comparison per value and prune nothing; `time`
    // statistics are what scans prune row groups with.
    for t in FIXED_TAGS.iter().chain([&EXTRA_TAGS_COLUMN]) {
        b = b.set_column_statistics_enabled(ColumnPath::from(*t), EnabledStatistics::None);
    }
    // Times and latencies are nearly all distinct: a dictionary would only be abandoned.
    // Counts, 0/1 rates, byte sizes and connect times repeat and keep theirs.
    let distinct: &[&str] = match kind {
        PartKind::Points => &["time", "value"],
        PartKind::Requests => &[
            "time",
            "http_req_duration",
            "http_req_blocked",
            "http_req_sending",
            "http_req_waiting",
            "http_req_receiving",
            slo_model::SCHEDULING_LAG_METRIC,
        ],
    };
    for c in distinct {
        b = b.set_column_dictionary_enabled(ColumnPath::from(*c), false);
    }
    b.set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(kind.rows_per_part()))
        .set_created_by(format!("slo {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Rows after which a part file is closed and the next one begun, bounding the memory
/// the Parquet encoder holds (one row group per part).
pub const ROWS_PER_PART: usize = 1_000_000;
/// [`ROWS_PER_PART`] for request tables, whose rows are about four times wider.
pub const REQUEST_ROWS_PER_PART: usize = 262_144;

impl PartKind {
    /// Rows per part file of this kind.
    pub fn rows_per_part(self) -> usize {
        match self {
            PartKind::Points => ROWS_PER_PART,
            PartKind::Requests => REQUEST_ROWS_PER_PART,
        }
    }
}
/// Rows per Arrow record batch handed to the Parquet encoder.
pub(crate) const BATCH_ROWS: usize = 65_536;

/// The fixed tag columns and the `tags` JSON column, shared by both table kinds.
struct TagColumns {
    cols: Vec<StringBuilder>,
    extra: StringBuilder,
    scratch: Vec<u32>,
    json: String,
}

impl TagColumns {
    fn new() -> Self {
        TagColumns {
            cols: (0..N_FIXED).map(|_| StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8)).collect(),
            extra: StringBuilder::new(),
            scratch: Vec::new(),
            json: String::new(),
        }
    }

    /// Appends one row's tags: fixed keys to their columns, the others as a JSON object
    /// with sorted keys. For a key given twice, the later value wins.
    fn append<K: AsRef<str>, V: AsRef<str>>(&mut self, tags: &[(K, V)]) {
        let mut slots: [Option<&str>; N_FIXED] = [None; N_FIXED];
        self.scratch.clear();
        for (i, (k, v)) in tags.iter().enumerate() {
            match fixed_index(k.as_ref()) {
                Some(c) => slots[c] = Some(v.as_ref()),
                None => self.scratch.push(i as u32),
            }
        }
        for (b, s) in self.cols.iter_mut().zip(slots) {
            match s {
                Some(v) => b.append_value(v),
                None => b.append_null(),
            }
        }
        if self.scratch.is_empty() {
            self.extra.append_null();
        } else {
            // Sort by key (stable, so equal keys keep input order), then keep the last of
            // each run of equal keys.
            self.scratch.sort_by(|&a, &b| tags[a as usize].0.as_ref().cmp(tags[b as usize].0.as_ref()));
            self.json.clear();
            let scratch = std::mem::take(&mut self.scratch);
            extra_json(&mut self.json, scratch.iter().map(|&i| (tags[i as usize].0.as_ref(), tags[i as usize].1.as_ref())));
            self.scratch = scratch;
            self.extra.append_value(&self.json);
        }
    }

    /// Appends one row given as fixed-column values and the `tags` JSON text.
    fn append_slots(&mut self, slots: [Option<&str>; N_FIXED], extra: Option<&str>) {
        for (b, s) in self.cols.iter_mut().zip(slots) {
            match s {
                Some(v) => b.append_value(v),
                None => b.append_null(),
            }
        }
        match extra {
            Some(j) => self.extra.append_value(j),
            None => self.extra.append_null(),
        }
    }

    /// The fixed tag columns then the `tags` column; empties the builders.
    fn finish(&mut self, cols: &mut Vec<ArrayRef>) {
        for b in &mut self.cols {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.extra.finish()));
    }
}

/// Writes `{"k":"v",...}` for `pairs` sorted by key, keeping the last of equal keys.
fn extra_json<'a>(out: &mut String, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push('{');
    let mut pending: Option<(&str, &str)> = None;
    let mut first = true;
    let mut emit = |out: &mut String, (k, v): (&str, &str)| {
        if !first {
            out.push(',');
        }
        first = false;
        write_json_str(out, k);
        out.push(':');
        write_json_str(out, v);
    };
    for (k, v) in pairs {
        if let Some(p) = pending {
            if p.0 != k {
                emit(out, p);
            }
        }
        pending = Some((k, v));
    }
    if let Some(p) = pending {
        emit(out, p);
    }
    out.push('}');
}

/// Accumulates points into Arrow columns in the part layout.
pub(crate) struct BatchBuilder {
    metric_keys: Vec<i32>,
    metric_dict: Vec<String>,
    metric_index: HashMap<String, i32>,
    last_metric: i32,
    time: Vec<i64>,
    value: Vec<f64>,
    tags: TagColumns,
}

impl BatchBuilder {
    pub(crate) fn new() -> Self {
        BatchBuilder {
            metric_keys: Vec::with_capacity(BATCH_ROWS),
            metric_dict: Vec::new(),
            metric_index: HashMap::new(),
            last_metric: -1,
            time: Vec::with_capacity(BATCH_ROWS),
            value: Vec::with_capacity(BATCH_ROWS),
            tags: TagColumns::new(),
        }
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.time.len()
    }

    /// Appends one point. For a key given twice in `tags`, the later value wins.
    /// Returns whether `metric` is new to this batch.
    pub(crate) fn push<K: AsRef<str>, V: AsRef<str>>(&mut self, metric: &str, time_ns: i64, value: f64, tags: &[(K, V)]) -> bool {
        let mut new_metric = false;
        let key = if self.last_metric >= 0 && self.metric_dict[self.last_metric as usize] == metric {
            self.last_metric
        } else {
            let k = match self.metric_index.get(metric) {
                Some(&k) => k,
                None => {
                    let k = self.metric_dict.len() as i32;
                    self.metric_dict.push(metric.to_string());
                    self.metric_index.insert(metric.to_string(), k);
                    new_metric = true;
                    k
                }
            };
            self.last_metric = k;
            k
        };
        self.metric_keys.push(key);
        self.time.push(time_ns);
        self.value.push(value);
        self.tags.append(tags);
        new_metric
    }

    /// Takes the rows held as a record batch in [`part_schema`] and empties the builder.
    pub(crate) fn finish(&mut self) -> RecordBatch {
        let keys = Int32Array::from(std::mem::replace(&mut self.metric_keys, Vec::with_capacity(BATCH_ROWS)));
        let dict: ArrayRef = Arc::new(StringArray::from_iter_values(self.metric_dict.drain(..)));
        self.metric_index.clear();
        self.last_metric = -1;
        let metric = DictionaryArray::<Int32Type>::try_new(keys, dict).expect("metric keys index the dictionary");
        let time = TimestampNanosecondArray::from(std::mem::replace(&mut self.time, Vec::with_capacity(BATCH_ROWS))).with_timezone("UTC");
        let value = Float64Array::from(std::mem::replace(&mut self.value, Vec::with_capacity(BATCH_ROWS)));
        let mut cols: Vec<ArrayRef> = vec![Arc::new(metric), Arc::new(time), Arc::new(value)];
        self.tags.finish(&mut cols);
        RecordBatch::try_new(part_schema(), cols).expect("columns match the part schema")
    }
}

/// Accumulates HTTP requests into the columns of the request table, either whole
/// ([`RequestBuilder::push_request`]) or point by point, merging consecutive points of
/// one request ([`RequestBuilder::push_point`], for imports).
pub(crate) struct RequestBuilder {
    time: Vec<i64>,
    tags: TagColumns,
    values: Vec<Vec<Option<f64>>>,
    /// The row being filled point by point: its time and values so far.
    open: Option<(i64, [Option<f64>; N_REQ])>,
    seen: [bool; N_REQ],
    /// The `tags` JSON of the last `SampleTags::extra` seen, and that tag set.
    cached_extra: Option<(Arc<slo_model::Tags>, Option<String>)>,
    json: String,
}

impl RequestBuilder {
    pub(crate) fn new() -> Self {
        RequestBuilder {
            time: Vec::with_capacity(BATCH_ROWS),
            tags: TagColumns::new(),
            values: (0..N_REQ).map(|_| Vec::with_capacity(BATCH_ROWS)).collect(),
            open: None,
            seen: [false; N_REQ],
            cached_extra: None,
            json: String::new(),
        }
    }

    /// Rows held (the open one included).
    pub(crate) fn len(&self) -> usize {
        self.time.len()
    }

    fn close_open(&mut self) {
        if let Some((_, vals)) = self.open.take() {
            for (col, v) in self.values.iter_mut().zip(vals) {
                col.push(v);
            }
        }
    }

    /// Appends one request as one row: its tags, and `vals`, its
    /// [`slo_model::RequestSample::metric_values`]. Returns the number of points it holds
    /// (11, or 12 with a scheduling lag).
    pub(crate) fn push_request(&mut self, s: &slo_model::RequestSample, vals: [Option<f64>; N_REQ]) -> u64 {
        self.close_open();
        self.time.push(s.time_ns);
        let status = slo_model::NumBuf::new(u64::from(s.status));
        let code = slo_model::NumBuf::new(u64::from(s.error_code));
        let code = (s.error_code != 0).then(|| code.as_str());
        let slots: [Option<&str>; N_FIXED] = [
            Some(&s.tags.scenario),
            Some(&s.tags.group),
            Some(&s.name),
            Some(s.method.as_str()),
            Some(status.as_str()),
            Some(&s.url),
            Some(if s.expected_response { "true" } else { "false" }),
            code,
            Some("HTTP/1.1"),
            None,
        ];
        let error = if s.error_code != 0 && s.status == 0 { slo_model::sample::error_code::message(s.error_code) } else { None };
        let extra = &s.tags.extra;
        if let Some(msg) = error {
            // Rare (transport errors): the request's own JSON with `error` merged in.
            let mut pairs: Vec<(&str, &str)> = extra.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            pairs.push(("error", msg));
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            self.json.clear();
            extra_json(&mut self.json, pairs.into_iter());
            self.tags.append_slots(slots, Some(&self.json));
        } else {
            let hit = self.cached_extra.as_ref().is_some_and(|(t, _)| Arc::ptr_eq(t, extra));
            if !hit {
                let json = (!extra.0.is_empty()).then(|| {
                    let mut j = String::new();
                    extra_json(&mut j, extra.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                    j
                });
                self.cached_extra = Some((extra.clone(), json));
            }
            let json = self.cached_extra.as_ref().and_then(|(_, j)| j.as_deref());
            self.tags.append_slots(slots, json);
        }
        for (i, (col, v)) in self.values.iter_mut().zip(vals).enumerate() {
            self.seen[i] |= v.is_some();
            col.push(v);
        }
        vals.iter().filter(|v| v.is_some()).count() as u64
    }

    /// Appends the point of request metric `idx` (see [`REQUEST_METRICS`]) to the open
    /// row when it belongs there (same time, `same_tags` as the open row's, that metric
    /// not yet set), otherwise to a new row. Returns (whether the metric is new to this
    /// batch, whether a new row was begun).
    pub(crate) fn push_point<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        idx: usize,
        time_ns: i64,
        value: f64,
        tags: &[(K, V)],
        same_tags: bool,
    ) -> (bool, bool) {
        let new_metric = !self.seen[idx];
        self.seen[idx] = true;
        if let Some((t, vals)) = &mut self.open {
            if same_tags && *t == time_ns && vals[idx].is_none() {
                vals[idx] = Some(value);
                return (new_metric, false);
            }
        }
        self.close_open();
        self.time.push(time_ns);
        self.tags.append(tags);
        let mut vals = [None; N_REQ];
        vals[idx] = Some(value);
        self.open = Some((time_ns, vals));
        (new_metric, true)
    }

    /// Takes the rows held as a record batch in [`request_schema`] and empties the builder.
    pub(crate) fn finish(&mut self) -> RecordBatch {
        self.close_open();
        self.seen = [false; N_REQ];
        let time = TimestampNanosecondArray::from(std::mem::replace(&mut self.time, Vec::with_capacity(BATCH_ROWS))).with_timezone("UTC");
        let mut cols: Vec<ArrayRef> = vec![Arc::new(time)];
        self.tags.finish(&mut cols);
        for col in &mut self.values {
            let v = std::mem::replace(col, Vec::with_capacity(BATCH_ROWS));
            cols.push(Arc::new(Float64Array::from(v)));
        }
        RecordBatch::try_new(request_schema(), cols).expect("columns match the request schema")
    }
}

/// Appends `s` as a JSON string literal (RFC 8259 escapes).
pub(crate) fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: Option<&str> = match c {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c >> 4) as usize] as char);
                out.push(HEX[(c & 0xf) as usize] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// File name of part `n` of `kind` once closed.
pub(crate) fn part_name(kind: PartKind, n: u32) -> String {
    format!("{}{n:06}.parquet", kind.prefix())
}

/// The kind and number of a closed part file name, `None` for anything else (tmp files).
pub(crate) fn parse_part_name(name: &str) -> Option<(PartKind, u32)> {
    for kind in [PartKind::Points, PartKind::Requests] {
        let Some(d) = name.strip_prefix(kind.prefix()).and_then(|r| r.strip_suffix(".parquet")) else { continue };
        if d.len() >= 6 && d.bytes().all(|c| c.is_ascii_digit()) {
            return d.parse().ok().map(|n| (kind, n));
        }
    }
    None
}

/// Writes record batches into numbered part files of one run directory. A part being
/// written is `.part-NNNNNN.parquet.tmp`; closing it renames it to `part-NNNNNN.parquet`,
/// so readers never see a half-written file.
pub(crate) struct PartSink {
    dir: PathBuf,
    kind: PartKind,
    next: u32,
    current: Option<OpenPart>,
    /// Closed parts so far.
    pub(crate) parts_closed: u32,
}

struct OpenPart {
    writer: ArrowWriter<BufWriter<File>>,
    tmp: PathBuf,
    fin: PathBuf,
    rows: usize,
}

impl PartSink {
    /// A sink that writes parts of `kind` numbered from `first` into `dir`.
    pub(crate) fn new(dir: &Path, first: u32, kind: PartKind) -> Self {
        PartSink { dir: dir.to_path_buf(), kind, next: first, current: None, parts_closed: 0 }
    }

    /// Writes a batch into the open part (opening one if none), closing the part once it
    /// holds [`PartKind::rows_per_part`] rows.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.current.is_none() {
            let n = self.next;
            self.next += 1;
            let tmp = self.dir.join(format!(".{}.tmp", part_name(self.kind, n)));
            let fin = self.dir.join(part_name(self.kind, n));
            let f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
            let writer = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, f), self.kind.schema(), Some(writer_properties(self.kind)))
                .map_err(|e| StoreError::parquet(&tmp, e))?;
            self.current = Some(OpenPart { writer, tmp, fin, rows: 0 });
        }
        let p = self.current.as_mut().expect("opened above");
        p.writer.write(batch).map_err(|e| StoreError::parquet(&p.tmp, e))?;
        p.rows += batch.num_rows();
        if p.rows >= self.kind.rows_per_part() {
            self.close_part()?;
        }
        Ok(())
    }

    /// Closes the open part, if any, and renames it to its final name.
    pub(crate) fn close_part(&mut self) -> Result<(), StoreError> {
        if let Some(p) = self.current.take() {
            let buf = p.writer.into_inner().map_err(|e| StoreError::parquet(&p.tmp, e))?;
            let f = buf.into_inner().map_err(|e| StoreError::io(&p.tmp, e.into_error()))?;
            drop(f);
            std::fs::rename(&p.tmp, &p.fin).map_err(|e| StoreError::io(&p.fin, e))?;
            self.parts_closed += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_round_trip_through_serde() {
        let mut s = String::new();
        write_json_str(&mut s, "a\"b\\c\nd\u{1}é");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn extra_tags_sorted_and_last_duplicate_wins() {
        use arrow_array::Array;
        let mut b = BatchBuilder::new();
        b.push("m", 1, 2.0, &[("zeta", "1"), ("name", "n"), ("alpha", "x"), ("alpha", "y")]);
        b.push("m", 1, 2.0, &[("name", "n")]);
        let batch = b.finish();
        let tags = batch.column(batch.num_columns() - 1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(tags.value(0), r#"{"alpha":"y","zeta":"1"}"#);
        assert!(tags.is_null(1));
        let name = batch.column(FIRST_TAG_COL + 2).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(name.value(0), "n");
    }

    #[test]
    fn part_names() {
        assert_eq!(part_name(PartKind::Points, 1), "part-000001.parquet");
        assert_eq!(part_name(PartKind::Requests, 3), "req-000003.parquet");
        assert_eq!(parse_part_name("part-000012.parquet"), Some((PartKind::Points, 12)));
        assert_eq!(parse_part_name("req-000012.parquet"), Some((PartKind::Requests, 12)));
        assert_eq!(parse_part_name(".req-000012.parquet.tmp"), None);
        assert_eq!(parse_part_name(".part-000012.parquet.tmp"), None);
        assert_eq!(parse_part_name("part-1.parquet"), None);
    }
}
