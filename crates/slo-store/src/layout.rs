//! The Parquet layout of a run's part files, the column builder that fills it, and the
//! part writer that closes each file atomically (`.part-NNNNNN.parquet.tmp` renamed to
//! `part-NNNNNN.parquet`).
//!
//! Long format, one row per point, rows in arrival order:
//!
//! | column | Arrow type | notes |
//! |---|---|---|
//! | `metric` | `Dictionary(Int32, Utf8)` | Parquet dictionary-encoded string |
//! | `time` | `Timestamp(Nanosecond, "UTC")` | ns since the Unix epoch |
//! | `value` | `Float64` | ms for time metrics, bytes for data metrics |
//! | `scenario` … `check` | `Utf8`, nullable | k6's common tags ([`FIXED_TAGS`]); null = tag absent |
//! | `tags` | `Utf8`, nullable | JSON object of the other tags, keys sorted; null when none |

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

fn writer_properties() -> WriterProperties {
    let mut b = WriterProperties::builder();
    // Min/max of tag strings cost a comparison per value and prune nothing; `time`
    // statistics are what scans prune row groups with.
    for t in FIXED_TAGS.iter().chain([&EXTRA_TAGS_COLUMN]) {
        b = b.set_column_statistics_enabled(ColumnPath::from(*t), EnabledStatistics::None);
    }
    b.set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(true)
        // Times and values are nearly all distinct: a dictionary would only be abandoned.
        .set_column_dictionary_enabled(ColumnPath::from("time"), false)
        .set_column_dictionary_enabled(ColumnPath::from("value"), false)
        .set_max_row_group_row_count(Some(ROWS_PER_PART))
        .set_created_by(format!("slo {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Rows after which a part file is closed and the next one begun, bounding the memory
/// the Parquet encoder holds (one row group per part).
pub const ROWS_PER_PART: usize = 1_000_000;
/// Rows per Arrow record batch handed to the Parquet encoder.
pub(crate) const BATCH_ROWS: usize = 65_536;

/// Accumulates points into Arrow columns in the part layout.
pub(crate) struct BatchBuilder {
    metric_keys: Vec<i32>,
    metric_dict: Vec<String>,
    metric_index: HashMap<String, i32>,
    last_metric: i32,
    time: Vec<i64>,
    value: Vec<f64>,
    tag_cols: Vec<StringBuilder>,
    extra: StringBuilder,
    scratch: Vec<u32>,
    json: String,
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
            tag_cols: (0..N_FIXED).map(|_| StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8)).collect(),
            extra: StringBuilder::new(),
            scratch: Vec::new(),
            json: String::new(),
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

        let mut slots: [Option<&str>; N_FIXED] = [None; N_FIXED];
        self.scratch.clear();
        for (i, (k, v)) in tags.iter().enumerate() {
            match fixed_index(k.as_ref()) {
                Some(c) => slots[c] = Some(v.as_ref()),
                None => self.scratch.push(i as u32),
            }
        }
        for (b, s) in self.tag_cols.iter_mut().zip(slots) {
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
            self.json.push('{');
            let n = self.scratch.len();
            let mut first = true;
            for j in 0..n {
                let (k, v) = &tags[self.scratch[j] as usize];
                if j + 1 < n && tags[self.scratch[j + 1] as usize].0.as_ref() == k.as_ref() {
                    continue;
                }
                if !first {
                    self.json.push(',');
                }
                first = false;
                write_json_str(&mut self.json, k.as_ref());
                self.json.push(':');
                write_json_str(&mut self.json, v.as_ref());
            }
            self.json.push('}');
            self.extra.append_value(&self.json);
        }
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
        for b in &mut self.tag_cols {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.extra.finish()));
        RecordBatch::try_new(part_schema(), cols).expect("columns match the part schema")
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

/// File name of part `n` once closed.
pub(crate) fn part_name(n: u32) -> String {
    format!("part-{n:06}.parquet")
}

/// The part number of a closed part file name, `None` for anything else (tmp files).
pub(crate) fn parse_part_name(name: &str) -> Option<u32> {
    let d = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    if d.len() >= 6 && d.bytes().all(|c| c.is_ascii_digit()) {
        d.parse().ok()
    } else {
        None
    }
}

/// Writes record batches into numbered part files of one run directory. A part being
/// written is `.part-NNNNNN.parquet.tmp`; closing it renames it to `part-NNNNNN.parquet`,
/// so readers never see a half-written file.
pub(crate) struct PartSink {
    dir: PathBuf,
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
    /// A sink that writes parts numbered from `first` into `dir`.
    pub(crate) fn new(dir: &Path, first: u32) -> Self {
        PartSink { dir: dir.to_path_buf(), next: first, current: None, parts_closed: 0 }
    }

    /// Writes a batch into the open part (opening one if none), closing the part once it
    /// holds [`ROWS_PER_PART`] rows.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.current.is_none() {
            let n = self.next;
            self.next += 1;
            let tmp = self.dir.join(format!(".{}.tmp", part_name(n)));
            let fin = self.dir.join(part_name(n));
            let f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
            let writer = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, f), part_schema(), Some(writer_properties()))
                .map_err(|e| StoreError::parquet(&tmp, e))?;
            self.current = Some(OpenPart { writer, tmp, fin, rows: 0 });
        }
        let p = self.current.as_mut().expect("opened above");
        p.writer.write(batch).map_err(|e| StoreError::parquet(&p.tmp, e))?;
        p.rows += batch.num_rows();
        if p.rows >= ROWS_PER_PART {
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
        assert_eq!(part_name(1), "part-000001.parquet");
        assert_eq!(parse_part_name("part-000012.parquet"), Some(12));
        assert_eq!(parse_part_name(".part-000012.parquet.tmp"), None);
        assert_eq!(parse_part_name("part-1.parquet"), None);
    }
}
