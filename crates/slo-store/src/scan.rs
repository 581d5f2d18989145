//! Reading a run back: every point, in file order, to a visitor.
//!
//! One thread decodes Parquet into Arrow batches while the calling thread walks the
//! previous batch's arrays and calls the visitor; nothing is allocated per row. Tags
//! in the fixed columns are read from string arrays (measured faster than asking the
//! Parquet reader for dictionaries); other tags are parsed from the `tags` JSON only
//! when the visitor asks for one. Request tables (`req-*.parquet`) give a batch's points
//! metric by metric ([`REQUEST_METRICS`] order), each in row order; only the metric
//! columns asked for are decoded.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::sync_channel;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType};
use arrow_array::{Array, DictionaryArray, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::statistics::Statistics;
use slo_model::{Point, RunMeta, TagLookup, Tags};

use crate::error::StoreError;
use crate::json::parse_tag_object;
use crate::layout::{
    fixed_index, is_data_metric, request_metric_index, PartKind, EXTRA_TAGS_COLUMN, FIXED_TAGS, N_FIXED, N_REQ, REQUEST_METRICS,
};
use crate::local::LocalStore;

/// Receives the points of a scan, in file order.
pub trait PointVisitor {
    /// One point: metric name, time in ns since the epoch (UTC), value (ms for time
    /// metrics, bytes for data metrics) and its tags. `tags` is valid only during the call.
    fn point(&mut self, metric: &str, time_ns: i64, value: f64, tags: &dyn TagLookup);

    /// Many points of one metric at once (a request table's column), in order. The
    /// default delivers them one by one to [`PointVisitor::point`].
    fn points(&mut self, metric: &str, column: &PointColumn<'_, '_>) {
        for &r in column.rows {
            let r = r as usize;
            column.with_row_tags(r, &mut |tags| self.point(metric, column.times[r], column.values[r], tags));
        }
    }
}

/// The points of one metric in one decoded batch: row `r` (of the batch) has time
/// `times[r]` (ns since the epoch), value `values[r]` and the tags of tag set
/// `sets[r]`; `rows` lists the rows that hold a point of the metric (and lie in the
/// scan's time range), in order. Rows with equal tags share a set, so a consumer can
/// decide per set what per point would cost a tag lookup each.
pub struct PointColumn<'a, 'c> {
    /// Time of every row of the batch, ns since the epoch.
    pub times: &'a [i64],
    /// Value of every row of the batch (meaningful for the rows listed in `rows`).
    pub values: &'a [f64],
    /// The rows holding a point, ascending.
    pub rows: &'c [u32],
    /// Tag set of every row of the batch, `< n_sets`.
    pub sets: &'c [u32],
    /// Number of tag sets.
    pub n_sets: usize,
    reps: &'c [u32],
    cols: &'c Cols<'a>,
    data_only: bool,
}

impl PointColumn<'_, '_> {
    /// Calls `f` with the tags of row `r`.
    pub fn with_row_tags(&self, r: usize, f: &mut dyn FnMut(&dyn TagLookup)) {
        f(&RowTagsAll::new(RowTags { cols: self.cols, row: r, data_only: self.data_only, extra: OnceCell::new() }))
    }

    /// Calls `f` with the tags of tag set `set` (`< n_sets`).
    pub fn with_set_tags(&self, set: u32, f: &mut dyn FnMut(&dyn TagLookup)) {
        self.with_row_tags(self.reps[set as usize] as usize, f)
    }
}

impl<F: FnMut(&str, i64, f64, &dyn TagLookup)> PointVisitor for F {
    fn point(&mut self, metric: &str, time_ns: i64, value: f64, tags: &dyn TagLookup) {
        self(metric, time_ns, value, tags)
    }
}

/// What a scan reads. `Default` reads everything.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Only points of these metrics (`None`: all).
    pub metrics: Option<Vec<String>>,
    /// Only points with `time_ns >= from_ns` (inclusive).
    pub from_ns: Option<i64>,
    /// Only points with `time_ns < to_ns` (exclusive).
    pub to_ns: Option<i64>,
    /// The tag keys the visitor will ask for (`None`: any). When given, only those
    /// columns are decoded and every other key reads as absent — a speed-up for scans
    /// that group by one or two tags.
    pub tag_keys: Option<Vec<String>>,
}

/// What a scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Part files opened.
    pub parts: u64,
    /// Row groups decoded.
    pub row_groups_read: u64,
    /// Row groups skipped because their time range lies outside `from_ns..to_ns`.
    pub row_groups_skipped: u64,
    /// Rows decoded.
    pub rows_read: u64,
    /// Points delivered to the visitor.
    pub points: u64,
}

/// A fixed tag column as decoded: dictionary-encoded or plain strings.
enum TagCol<'a> {
    Dict(&'a DictionaryArray<Int32Type>, &'a StringArray),
    Plain(&'a StringArray),
}

impl<'a> TagCol<'a> {
    #[inline]
    fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            TagCol::Dict(d, v) => {
                if d.is_null(row) {
                    None
                } else {
                    Some(v.value(d.keys().values()[row] as usize))
                }
            }
            TagCol::Plain(s) => {
                if s.is_null(row) {
                    None
                } else {
                    Some(s.value(row))
                }
            }
        }
    }
}

/// The decoded tag columns of a batch.
pub struct Cols<'a> {
    tags: [Option<TagCol<'a>>; N_FIXED],
    extra: Option<&'a StringArray>,
}

/// The tags of one row, read from the batch's columns.
struct RowTags<'a, 'c> {
    cols: &'c Cols<'a>,
    row: usize,
    /// A `data_sent`/`data_received` point of a request row: only `group`, `scenario`
    /// and the extra tags other than `error`.
    data_only: bool,
    extra: OnceCell<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
}

impl TagLookup for RowTags<'_, '_> {
    fn tag(&self, key: &str) -> Option<&str> {
        if let Some(i) = fixed_index(key) {
            if self.data_only && !matches!(key, "group" | "scenario") {
                return None;
            }
            return self.cols.tags[i].as_ref()?.get(self.row);
        }
        if self.data_only && key == "error" {
            return None;
        }
        let arr = self.cols.extra?;
        if arr.is_null(self.row) {
            return None;
        }
        let pairs = self.extra.get_or_init(|| parse_tag_object(arr.value(self.row)).unwrap_or_default());
        pairs.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok().map(|i| pairs[i].1.as_ref())
    }
}

fn corrupt(path: &std::path::Path, msg: impl Into<String>) -> StoreError {
    StoreError::Corrupt { path: path.to_path_buf(), msg: msg.into() }
}

impl LocalStore {
    /// Delivers the run's points to `visitor` in file order (parts in number order, rows
    /// in arrival order), filtered by `opts`. Decoding runs on a second thread. Errors:
    /// a part that cannot be read or does not have the store's columns, naming the file.
    pub fn scan<V: PointVisitor + ?Sized>(&self, meta: &RunMeta, opts: &ScanOptions, visitor: &mut V) -> Result<ScanStats, StoreError> {
        let parts = crate::local::part_files_in(&self.run_dir(&meta.id))?;
        let mut stats = ScanStats::default();
        let from = opts.from_ns.unwrap_or(i64::MIN);
        let to = opts.to_ns.unwrap_or(i64::MAX);
        let want_tag = |k: &str| opts.tag_keys.as_ref().is_none_or(|ks| ks.iter().any(|x| x == k));
        let want_extra = opts.tag_keys.as_ref().is_none_or(|ks| ks.iter().any(|k| fixed_index(k).is_none()));
        let want_metric = |m: &str| opts.metrics.as_ref().is_none_or(|ms| ms.iter().any(|x| x == m));
        let tag_names = FIXED_TAGS.iter().copied().filter(|k| want_tag(k)).chain(want_extra.then_some(EXTRA_TAGS_COLUMN));
        let point_cols: Vec<&str> = ["metric", "time", "value"].into_iter().chain(tag_names.clone()).collect();
        let req_metrics: Vec<&str> = REQUEST_METRICS.iter().copied().filter(|m| want_metric(m)).collect();
        // `time` first, as for point parts (row groups are pruned by it).
        let req_cols: Vec<&str> = ["time"].into_iter().chain(tag_names).chain(req_metrics.iter().copied()).collect();

        std::thread::scope(|s| {
            let (tx, rx) = sync_channel::<Result<(RecordBatch, PathBuf, PartKind, TagSets), StoreError>>(2);
            let (point_cols, req_cols) = (&point_cols, &req_cols);
            let no_req_metric = req_metrics.is_empty();
            // Metrics only request tables hold (see `layout::request_only`): no point part to read.
            let no_point_metric =
                opts.metrics.as_ref().is_some_and(|ms| ms.iter().all(|m| request_metric_index(m).is_some_and(crate::layout::request_only)));
            let decoder = s.spawn(move || -> (u64, u64, u64) {
                let (mut nparts, mut read, mut skipped) = (0u64, 0u64, 0u64);
                for (kind, path) in &parts {
                    let kind = *kind;
                    if (kind == PartKind::Requests && no_req_metric) || (kind == PartKind::Points && no_point_metric) {
                        continue;
                    }
                    let col_names = if kind == PartKind::Points { point_cols } else { req_cols };
                    let time_at = if kind == PartKind::Points { 1 } else { 0 };
                    let r = (|| -> Result<(), StoreError> {
                        let f = File::open(path).map_err(|e| StoreError::io(path, e))?;
                        // Request tables: tags as dictionaries, whose keys give each row's tag set.
                        let options = match kind {
                            PartKind::Points => ArrowReaderOptions::new(),
                            PartKind::Requests => ArrowReaderOptions::new().with_schema(request_read_schema()),
                        };
                        let b =
                            ParquetRecordBatchReaderBuilder::try_new_with_options(f, options).map_err(|e| StoreError::parquet(path, e))?;
                        let pschema = b.parquet_schema();
                        let mut idx = Vec::new();
                        for name in col_names {
                            let i = pschema
                                .columns()
                                .iter()
                                .position(|c| c.name() == *name)
                                .ok_or_else(|| corrupt(path, format!("part has no column {name:?}")))?;
                            idx.push(i);
                        }
                        let time_i = idx[time_at];
                        let mut groups = Vec::new();
                        for (g, rg) in b.metadata().row_groups().iter().enumerate() {
                            let keep = match rg.column(time_i).statistics() {
                                Some(Statistics::Int64(st)) => match (st.min_opt(), st.max_opt()) {
                                    (Some(&lo), Some(&hi)) => hi >= from && lo < to,
                                    _ => true,
                                },
                                _ => true,
                            };
                            if keep {
                                groups.push(g);
                            } else {
                                skipped += 1;
                            }
                        }
                        read += groups.len() as u64;
                        if groups.is_empty() {
                            return Ok(());
                        }
                        let mask = ProjectionMask::leaves(pschema, idx);
                        let reader = b
                            .with_projection(mask)
                            .with_row_groups(groups)
                            .with_batch_size(65_536)
                            .build()
                            .map_err(|e| StoreError::parquet(path, e))?;
                        for batch in reader {
                            let batch = batch.map_err(|e| StoreError::parquet(path, e))?;
                            // Tag sets are numbered here, off the visitor's thread.
                            let sets = match kind {
                                PartKind::Points => TagSets::default(),
                                PartKind::Requests => tag_sets(&tag_columns(&batch, path)?, batch.num_rows()),
                            };
                            if tx.send(Ok((batch, path.clone(), kind, sets))).is_err() {
                                return Ok(());
                            }
                        }
                        Ok(())
                    })();
                    nparts += 1;
                    if let Err(e) = r {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
                (nparts, read, skipped)
            });

            let mut result = Ok(());
            for msg in rx {
                match msg {
                    Ok((batch, path, kind, sets)) => {
                        let r = match kind {
                            PartKind::Points => visit_batch(&batch, &path, opts, from, to, visitor, &mut stats),
                            PartKind::Requests => visit_request_batch(&batch, &path, &sets, from, to, visitor, &mut stats),
                        };
                        if let Err(e) = r {
                            result = Err(e);
                            break;
                        }
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let (nparts, read, skipped) = decoder.join().unwrap_or((0, 0, 0));
            stats.parts = nparts;
            stats.row_groups_read = read;
            stats.row_groups_skipped = skipped;
            result
        })?;
        Ok(stats)
    }

    /// Reads the run's points into memory (convenience for small runs and tests). Points
    /// of request tables come after the point parts of the same number.
    pub fn read_points(&self, meta: &RunMeta, opts: &ScanOptions) -> Result<Vec<Point>, StoreError> {
        let mut out = Vec::new();
        let keys: Vec<String> = FIXED_TAGS.iter().map(|s| s.to_string()).collect();
        let mut v = |metric: &str, t: i64, value: f64, tags: &dyn TagLookup| {
            let mut pairs: Vec<(String, String)> = keys.iter().filter_map(|k| tags.tag(k).map(|v| (k.clone(), v.to_string()))).collect();
            if let Some(all) = tags.tag(ALL_EXTRA_KEY) {
                if let Some(extra) = parse_tag_object(all) {
                    pairs.extend(extra.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())));
                }
            }
            out.push(Point { metric: metric.to_string(), time_ns: t, value, tags: Tags::from_pairs(pairs) });
        };
        self.scan(meta, opts, &mut v)?;
        Ok(out)
    }
}

/// A pseudo tag key (not a valid k6 tag name) under which [`TagLookup::tag`] returns
/// a row's whole `tags` JSON text, so callers can enumerate the non-fixed tags.
pub const ALL_EXTRA_KEY: &str = "\u{0}tags";

impl<'a> RowTags<'a, '_> {
    fn raw_extra(&self) -> Option<Cow<'a, str>> {
        let arr = self.cols.extra?;
        if arr.is_null(self.row) {
            return None;
        }
        let text = arr.value(self.row);
        if self.data_only && text.contains("\"error\"") {
            // Rare (transport errors): the object without its `error` tag.
            let pairs = parse_tag_object(text).unwrap_or_default();
            let mut out = String::from("{");
            for (k, v) in pairs.iter().filter(|(k, _)| k != "error") {
                if out.len() > 1 {
                    out.push(',');
                }
                crate::layout::write_json_str(&mut out, k);
                out.push(':');
                crate::layout::write_json_str(&mut out, v);
            }
            out.push('}');
            return (out.len() > 2).then_some(Cow::Owned(out));
        }
        Some(Cow::Borrowed(text))
    }
}

fn visit_batch<V: PointVisitor + ?Sized>(
    batch: &RecordBatch,
    path: &std::path::Path,
    opts: &ScanOptions,
    from: i64,
    to: i64,
    visitor: &mut V,
    stats: &mut ScanStats,
) -> Result<(), StoreError> {
    let n = batch.num_rows();
    stats.rows_read += n as u64;
    let col = |name: &str| batch.column_by_name(name).ok_or_else(|| corrupt(path, format!("part has no column {name:?}")));
    let metric =
        col("metric")?.as_dictionary_opt::<Int32Type>().ok_or_else(|| corrupt(path, "column \"metric\" is not a string dictionary"))?;
    let mnames = metric.values().as_string_opt::<i32>().ok_or_else(|| corrupt(path, "column \"metric\" is not a string dictionary"))?;
    let names: Vec<&str> = (0..mnames.len()).map(|i| mnames.value(i)).collect();
    let wanted: Vec<bool> = names.iter().map(|nm| opts.metrics.as_ref().is_none_or(|ms| ms.iter().any(|m| m == nm))).collect();
    let mkeys = metric.keys().values();
    let times = col("time")?
        .as_primitive_opt::<TimestampNanosecondType>()
        .ok_or_else(|| corrupt(path, "column \"time\" is not a ns timestamp"))?
        .values();
    let values = col("value")?.as_primitive_opt::<Float64Type>().ok_or_else(|| corrupt(path, "column \"value\" is not float64"))?.values();
    let cols = tag_columns(batch, path)?;
    let all_metrics = wanted.iter().all(|&w| w);
    let all_times = from == i64::MIN && to == i64::MAX;
    for row in 0..n {
        let k = mkeys[row] as usize;
        if !all_metrics && !wanted[k] {
            continue;
        }
        let t = times[row];
        if !all_times && (t < from || t >= to) {
            continue;
        }
        let rt = RowTagsAll::new(RowTags { cols: &cols, row, data_only: false, extra: OnceCell::new() });
        visitor.point(names[k], t, values[row], &rt);
        stats.points += 1;
    }
    Ok(())
}

/// The fixed tag and `tags` columns of a batch (those decoded).
fn tag_columns<'a>(batch: &'a RecordBatch, path: &std::path::Path) -> Result<Cols<'a>, StoreError> {
    let mut tags: [Option<TagCol>; N_FIXED] = Default::default();
    for (i, k) in FIXED_TAGS.iter().enumerate() {
        if let Some(a) = batch.column_by_name(k) {
            tags[i] = Some(if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
                let v = d.values().as_string_opt::<i32>().ok_or_else(|| corrupt(path, format!("column {k:?} is not strings")))?;
                TagCol::Dict(d, v)
            } else {
                TagCol::Plain(a.as_string_opt::<i32>().ok_or_else(|| corrupt(path, format!("column {k:?} is not strings")))?)
            });
        }
    }
    let extra = match batch.column_by_name(EXTRA_TAGS_COLUMN) {
        Some(a) => Some(a.as_string_opt::<i32>().ok_or_else(|| corrupt(path, "column \"tags\" is not strings"))?),
        None => None,
    };
    Ok(Cols { tags, extra })
}

/// [`crate::layout::request_schema`] with the fixed tag columns as `Dictionary(Int32, Utf8)`.
fn request_read_schema() -> arrow_schema::SchemaRef {
    use arrow_schema::{DataType, Field, Schema};
    static S: std::sync::OnceLock<arrow_schema::SchemaRef> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let base = crate::layout::request_schema();
        let fields: Vec<Field> = base
            .fields()
            .iter()
            .map(|f| {
                if FIXED_TAGS.contains(&f.name().as_str()) {
                    Field::new(f.name(), DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        std::sync::Arc::new(Schema::new(fields))
    })
    .clone()
}

/// The tag sets of a batch's rows: `sets[r]` per row, and a representative row per set.
#[derive(Default)]
struct TagSets {
    sets: Vec<u32>,
    reps: Vec<u32>,
}

/// Numbers the distinct tag combinations of a batch's rows. Dictionary keys of up to
/// four columns are combined; a plain string column (the `tags` JSON) makes every row
/// its own set.
fn tag_sets(cols: &Cols<'_>, n: usize) -> TagSets {
    let mut keyed: Vec<(&DictionaryArray<Int32Type>, u64)> = Vec::new();
    let mut plain = cols.extra.is_some();
    for c in cols.tags.iter().flatten() {
        match c {
            TagCol::Dict(d, v) => keyed.push((d, v.len() as u64 + 1)),
            TagCol::Plain(_) => plain = true,
        }
    }
    if plain || keyed.len() > 4 {
        return TagSets { sets: (0..n as u32).collect(), reps: (0..n as u32).collect() };
    }
    let code = |r: usize| -> u64 {
        let mut c = 0u64;
        for (d, card) in &keyed {
            let k = if d.is_null(r) { 0 } else { d.keys().values()[r] as u64 + 1 };
            c = c * card + k;
        }
        c
    };
    let space: u64 = keyed.iter().map(|(_, c)| *c).try_fold(1u64, |a, c| a.checked_mul(c)).unwrap_or(u64::MAX);
    let mut sets = Vec::with_capacity(n);
    let mut reps = Vec::new();
    if space <= 1 << 16 {
        let mut dense = vec![u32::MAX; space as usize];
        for r in 0..n {
            let slot = &mut dense[code(r) as usize];
            if *slot == u32::MAX {
                *slot = reps.len() as u32;
                reps.push(r as u32);
            }
            sets.push(*slot);
        }
    } else {
        let mut map: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        for r in 0..n {
            let next = reps.len() as u32;
            let s = *map.entry(code(r)).or_insert(next);
            if s == next {
                reps.push(r as u32);
            }
            sets.push(s);
        }
    }
    TagSets { sets, reps }
}

/// Delivers the points of a request-table batch: each decoded metric column in
/// [`REQUEST_METRICS`] order, its non-null rows in order, as one [`PointColumn`].
fn visit_request_batch<V: PointVisitor + ?Sized>(
    batch: &RecordBatch,
    path: &std::path::Path,
    sets: &TagSets,
    from: i64,
    to: i64,
    visitor: &mut V,
    stats: &mut ScanStats,
) -> Result<(), StoreError> {
    let n = batch.num_rows();
    stats.rows_read += n as u64;
    let times = batch
        .column_by_name("time")
        .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
        .ok_or_else(|| corrupt(path, "column \"time\" missing or not a ns timestamp"))?
        .values();
    let mut metrics: Vec<(usize, &arrow_array::Float64Array)> = Vec::with_capacity(N_REQ);
    for (i, m) in REQUEST_METRICS.iter().enumerate() {
        if let Some(c) = batch.column_by_name(m) {
            metrics.push((i, c.as_primitive_opt::<Float64Type>().ok_or_else(|| corrupt(path, format!("column {m:?} is not float64")))?));
        }
    }
    let cols = tag_columns(batch, path)?;
    let all_times = from == i64::MIN && to == i64::MAX;
    let mut rows: Vec<u32> = Vec::with_capacity(n);
    // Column by column: each metric's points stay in row (arrival) order, and the
    // visitor meets one metric at a time.
    for &(i, arr) in &metrics {
        rows.clear();
        match arr.nulls().filter(|b| b.null_count() > 0) {
            None if all_times => rows.extend(0..n as u32),
            nulls => rows.extend(
                (0..n)
                    .filter(|&r| nulls.is_none_or(|b| b.is_valid(r)) && (all_times || (times[r] >= from && times[r] < to)))
                    .map(|r| r as u32),
            ),
        }
        stats.points += rows.len() as u64;
        let column = PointColumn {
            times,
            values: arr.values(),
            rows: &rows,
            sets: &sets.sets,
            n_sets: sets.reps.len(),
            reps: &sets.reps,
            cols: &cols,
            data_only: is_data_metric(i),
        };
        visitor.points(REQUEST_METRICS[i], &column);
    }
    Ok(())
}

/// [`RowTags`] plus the [`ALL_EXTRA_KEY`] pseudo key.
struct RowTagsAll<'a, 'c> {
    tags: RowTags<'a, 'c>,
    raw: OnceCell<Option<Cow<'a, str>>>,
}

impl<'a, 'c> RowTagsAll<'a, 'c> {
    fn new(tags: RowTags<'a, 'c>) -> Self {
        RowTagsAll { tags, raw: OnceCell::new() }
    }
}

impl TagLookup for RowTagsAll<'_, '_> {
    #[inline]
    fn tag(&self, key: &str) -> Option<&str> {
        if key == ALL_EXTRA_KEY {
            return self.raw.get_or_init(|| self.tags.raw_extra()).as_deref();
        }
        self.tags.tag(key)
    }
}
