//! Reading runs back from InfluxDB with InfluxQL (`/query`, `epoch=ns`), whether `slo`
//! or k6's `--out influxdb` wrote them.
//!
//! - Runs: the registry measurement `slo_run` (newest row per `testid`; field `meta` holds
//!   the [`RunMeta`] as JSON); `testid` values without a registry row are k6 runs, whose
//!   metadata is computed (`count`, `first`, `last` of `value`): duration = first to last
//!   point, `created_ns` = last point.
//! - Points: one chunked `SELECT * FROM "<metric>" WHERE "testid" = '<id>'` per measurement,
//!   merged by time (ties: measurement name order), so a visitor sees the run in time
//!   order with memory bounded by one chunk (10,000 rows) per measurement.
//! - Tags: every column but `time` and `value` is a tag, so k6's tags-as-fields come back
//!   as tags (`url` string field; `vu`, `iter` integer fields as decimal strings). Empty
//!   tag values, which InfluxDB cannot store, come back as `""`: the keys the `slo` sink
//!   recorded in the registry's `empty_tags`, or for k6 data `group` on every metric but
//!   `vus` and `vus_max` (k6 tags all of them with `group`; the root group is `""`; case 06).
//!   The `testid` tag the `slo` sink adds is removed again; k6's own `testid` tag stays.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde_json::Value;
use slo_model::{builtin_metric, MetricInfo, MetricType, RunId, RunMeta, RunStatus, Tags, ValueType};

use super::client::{quote_ident, quote_str, ChunkReader, Client};
use super::config::InfluxConfig;
use super::{InfluxError, REGISTRY_MEASUREMENT};
use crate::scan::{PointVisitor, ScanOptions, ScanStats};

/// Origin stated for runs k6 wrote (no registry row).
pub const K6_ORIGIN: &str = "k6 influxdb output";

/// Reads runs from one InfluxDB database (1.x) or bucket (2.x/3.x, via the v1-compatible
/// query API).
pub struct InfluxSource {
    client: Client,
}

/// How to turn stored rows back into the points that were written.
#[derive(Debug, Clone, Default)]
struct TagRules {
    /// Remove `testid` (the `slo` sink added it).
    strip_testid: bool,
    /// Per metric: tag keys to restore as `""` when missing.
    empty: HashMap<String, Vec<String>>,
    /// k6 data: restore `group = ""` on every metric but `vus`/`vus_max`.
    k6_group: bool,
}

struct Cursor {
    metric: String,
    reader: ChunkReader,
    columns: Vec<String>,
    rows: std::vec::IntoIter<Vec<Value>>,
    time_col: usize,
    value_col: Option<usize>,
    current: Option<(i64, Vec<Value>)>,
}

impl Cursor {
    /// Moves to the next row, reading chunks as needed; `false` at the end.
    fn advance(&mut self, c: &Client) -> Result<bool, InfluxError> {
        loop {
            if let Some(row) = self.rows.next() {
                let t = row
                    .get(self.time_col)
                    .and_then(Value::as_i64)
                    .ok_or_else(|| c.query_error(format!("measurement {:?}: a row without an integer time (epoch=ns)", self.metric)))?;
                self.current = Some((t, row));
                return Ok(true);
            }
            match self.reader.next_chunk()? {
                None => {
                    self.current = None;
                    return Ok(false);
                }
                Some(resp) => {
                    let mut rows = Vec::new();
                    for s in resp.into_series() {
                        if s.columns != self.columns {
                            self.time_col = s.columns.iter().position(|c| c == "time").unwrap_or(0);
                            self.value_col = s.columns.iter().position(|c| c == "value");
                            self.columns = s.columns;
                        }
                        rows.extend(s.values);
                    }
                    self.rows = rows.into_iter();
                }
            }
        }
    }
}

fn value_to_tag(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

impl InfluxSource {
    /// Connects (`GET /ping`). Errors: [`InfluxError::Unreachable`] (exit code 4) with the
    /// URL without credentials; [`InfluxError::Http`] for an error status (e.g. 401).
    pub fn open(config: InfluxConfig) -> Result<InfluxSource, InfluxError> {
        let client = Client::new(config);
        client.ping()?;
        Ok(InfluxSource { client })
    }

    /// The configuration this source reads with.
    pub fn config(&self) -> &InfluxConfig {
        &self.client.cfg
    }

    fn registry(&self) -> Result<BTreeMap<String, (RunMeta, String)>, InfluxError> {
        let q = format!("SELECT * FROM {}", quote_ident(REGISTRY_MEASUREMENT));
        let mut out: BTreeMap<String, (i64, RunMeta, String)> = BTreeMap::new();
        for s in self.client.query(&q)?.into_series() {
            let col = |name: &str| s.columns.iter().position(|c| c == name);
            let (Some(ti), Some(idi)) = (col("time"), col("testid")) else { continue };
            let (mi, ei) = (col("meta"), col("empty_tags"));
            for row in &s.values {
                let t = row.get(ti).and_then(Value::as_i64).unwrap_or(0);
                let Some(id) = row.get(idi).and_then(Value::as_str) else { continue };
                let meta_json = mi.and_then(|i| row.get(i)).and_then(Value::as_str).unwrap_or("");
                let Ok(meta) = serde_json::from_str::<RunMeta>(meta_json) else {
                    return Err(self.client.query_error(format!("registry row of run {id:?} has no readable `meta` field")));
                };
                let empty = ei.and_then(|i| row.get(i)).and_then(Value::as_str).unwrap_or("{}").to_string();
                if out.get(id).is_none_or(|(t0, _, _)| t >= *t0) {
                    out.insert(id.to_string(), (t, meta, empty));
                }
            }
        }
        let mut runs: BTreeMap<String, (RunMeta, String)> = out.into_iter().map(|(k, (_, m, e))| (k, (m, e))).collect();
        for (id, (meta, _)) in runs.iter_mut() {
            if meta.status == RunStatus::Running {
                // No end row: still recording, or the generator was killed. The points
                // tell how far it got, so the run can be judged (and listed) anyway.
                if let Some(d) = self.k6_meta(id)? {
                    meta.start_ns = d.start_ns;
                    meta.end_ns = d.end_ns;
                    meta.points = d.points;
                    meta.duration_s = d.duration_s;
                    meta.duration_source = Some("first to last point (the run has no end record yet)".into());
                }
            }
        }
        Ok(runs)
    }

    fn testids(&self) -> Result<BTreeSet<String>, InfluxError> {
        let mut ids = BTreeSet::new();
        for s in self.client.query("SHOW TAG VALUES WITH KEY = \"testid\"")?.into_series() {
            let vi = s.columns.iter().position(|c| c == "value").unwrap_or(1);
            for row in &s.values {
                if let Some(v) = row.get(vi).and_then(Value::as_str) {
                    ids.insert(v.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// Metadata of a run k6 wrote (no registry row), from `count`/`first`/`last` of `value`.
    fn k6_meta(&self, id: &str) -> Result<Option<RunMeta>, InfluxError> {
        let w = format!("WHERE \"testid\" = {}", quote_str(id));
        let q =
            format!("SELECT count(\"value\") FROM /.*/ {w}; SELECT first(\"value\") FROM /.*/ {w}; SELECT last(\"value\") FROM /.*/ {w}");
        let resp = self.client.query(&q)?;
        let mut points = 0u64;
        let mut first: Option<i64> = None;
        let mut last: Option<i64> = None;
        let mut metrics = BTreeMap::new();
        for (i, r) in resp.results.into_iter().enumerate() {
            for s in r.series {
                if s.name == REGISTRY_MEASUREMENT {
                    continue;
                }
                for row in &s.values {
                    match i {
                        0 => {
                            points += row.get(1).and_then(Value::as_u64).unwrap_or(0);
                            metrics.insert(s.name.clone(), metric_info(&s.name));
                        }
                        1 => {
                            let t = row.first().and_then(Value::as_i64);
                            first = match (first, t) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                        }
                        _ => {
                            let t = row.first().and_then(Value::as_i64);
                            last = match (last, t) {
                                (Some(a), Some(b)) => Some(a.max(b)),
                                (a, b) => a.or(b),
                            };
                        }
                    }
                }
            }
        }
        if points == 0 {
            return Ok(None);
        }
        Ok(Some(RunMeta {
            id: RunId(id.to_string()),
            created_ns: last.unwrap_or(0),
            start_ns: first,
            end_ns: last,
            duration_s: match (first, last) {
                (Some(a), Some(b)) => Some((b - a) as f64 / 1e9),
                _ => None,
            },
            duration_source: Some("first to last point".into()),
            status: RunStatus::Complete,
            origin: K6_ORIGIN.into(),
            scenario: None,
            tags: BTreeMap::new(),
            metrics: metrics.into_values().collect(),
            points,
            slo_version: String::new(),
        }))
    }

    /// Every run in the database, oldest first (by `created_ns`, then id): the registry's
    /// runs and the `testid` values k6 wrote without one.
    pub fn list_runs(&self) -> Result<Vec<RunMeta>, InfluxError> {
        let reg = self.registry()?;
        let mut runs: Vec<RunMeta> = reg.values().map(|(m, _)| m.clone()).collect();
        for id in self.testids()? {
            if !reg.contains_key(&id) {
                if let Some(m) = self.k6_meta(&id)? {
                    runs.push(m);
                }
            }
        }
        runs.sort_by(|a, b| a.created_ns.cmp(&b.created_ns).then_with(|| a.id.cmp(&b.id)));
        Ok(runs)
    }

    /// Resolves `latest` (largest `created_ns`: the registry's, or a k6 run's last point),
    /// an exact id, or a unique id prefix. Errors: [`InfluxError::RunNotFound`],
    /// [`InfluxError::AmbiguousRun`].
    pub fn resolve(&self, spec: &str) -> Result<RunMeta, InfluxError> {
        let not_found = || InfluxError::RunNotFound { url: self.client.cfg.display_url(), spec: spec.to_string() };
        if spec != "latest" {
            if let Some((m, _)) = self.registry()?.remove(spec) {
                return Ok(m);
            }
            if self.testids()?.contains(spec) {
                if let Some(m) = self.k6_meta(spec)? {
                    return Ok(m);
                }
            }
        }
        let runs = self.list_runs()?;
        if spec == "latest" {
            return runs.into_iter().last().ok_or_else(not_found);
        }
        let mut hits: Vec<RunMeta> = runs.into_iter().filter(|r| r.id.0.starts_with(spec)).collect();
        match hits.len() {
            0 => Err(not_found()),
            1 => Ok(hits.remove(0)),
            _ => Err(InfluxError::AmbiguousRun { spec: spec.to_string(), candidates: hits.into_iter().map(|r| r.id.0).collect() }),
        }
    }

    fn rules_for(&self, id: &str) -> Result<TagRules, InfluxError> {
        match self.registry()?.remove(id) {
            Some((_, empty)) => {
                let empty: HashMap<String, Vec<String>> = serde_json::from_str(&empty).unwrap_or_default();
                Ok(TagRules { strip_testid: true, empty, k6_group: false })
            }
            None => Ok(TagRules { strip_testid: false, empty: HashMap::new(), k6_group: true }),
        }
    }

    /// Delivers the points of run `meta` to `visitor` in time order (ties: metric name
    /// order, then storage order), filtered by `opts.metrics` and `opts.from_ns..opts.to_ns`
    /// (`opts.tag_keys` is ignored: all tags are read). Points carry the tags that were
    /// written (see the module docs).
    pub fn scan<V: PointVisitor + ?Sized>(&self, meta: &RunMeta, opts: &ScanOptions, visitor: &mut V) -> Result<ScanStats, InfluxError> {
        let rules = self.rules_for(&meta.id.0)?;
        self.scan_where(Some(&meta.id.0), opts, &rules, visitor)
    }

    /// Delivers every point in `opts.from_ns..opts.to_ns` whatever its `testid` (data k6
    /// wrote without one), in time order, with k6's tag rules (`testid` kept).
    pub fn scan_range<V: PointVisitor + ?Sized>(&self, opts: &ScanOptions, visitor: &mut V) -> Result<ScanStats, InfluxError> {
        let rules = TagRules { strip_testid: false, empty: HashMap::new(), k6_group: true };
        self.scan_where(None, opts, &rules, visitor)
    }

    fn measurements(&self, testid: Option<&str>) -> Result<Vec<String>, InfluxError> {
        let q = match testid {
            Some(id) => format!("SHOW MEASUREMENTS WHERE \"testid\" = {}", quote_str(id)),
            None => "SHOW MEASUREMENTS".to_string(),
        };
        let mut out = BTreeSet::new();
        for s in self.client.query(&q)?.into_series() {
            for row in &s.values {
                if let Some(m) = row.first().and_then(Value::as_str) {
                    if m != REGISTRY_MEASUREMENT {
                        out.insert(m.to_string());
                    }
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    fn scan_where<V: PointVisitor + ?Sized>(
        &self,
        testid: Option<&str>,
        opts: &ScanOptions,
        rules: &TagRules,
        visitor: &mut V,
    ) -> Result<ScanStats, InfluxError> {
        let mut ms = self.measurements(testid)?;
        if let Some(want) = &opts.metrics {
            ms.retain(|m| want.iter().any(|w| w == m));
        }
        let mut conds = Vec::new();
        if let Some(id) = testid {
            conds.push(format!("\"testid\" = {}", quote_str(id)));
        }
        if let Some(f) = opts.from_ns {
            conds.push(format!("time >= {f}"));
        }
        if let Some(t) = opts.to_ns {
            conds.push(format!("time < {t}"));
        }
        let wh = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
        let mut stats = ScanStats::default();
        let mut cursors = Vec::with_capacity(ms.len());
        for m in &ms {
            let q = format!("SELECT * FROM {}{}", quote_ident(m), wh);
            let reader = self.client.query_chunked(&q)?;
            stats.parts += 1;
            cursors.push(Cursor {
                metric: m.clone(),
                reader,
                columns: Vec::new(),
                rows: Vec::new().into_iter(),
                time_col: 0,
                value_col: None,
                current: None,
            });
        }
        let mut heap = BinaryHeap::new();
        for (i, c) in cursors.iter_mut().enumerate() {
            if c.advance(&self.client)? {
                heap.push(Reverse((c.current.as_ref().map_or(0, |x| x.0), i)));
            }
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        while let Some(Reverse((t, i))) = heap.pop() {
            let c = &mut cursors[i];
            let (_, row) = c.current.take().expect("cursor in heap has a row");
            stats.rows_read += 1;
            let value = c.value_col.and_then(|vi| row.get(vi)).and_then(Value::as_f64);
            if let Some(value) = value {
                pairs.clear();
                for (ci, v) in row.iter().enumerate() {
                    if ci == c.time_col || Some(ci) == c.value_col {
                        continue;
                    }
                    let key = &c.columns[ci];
                    if rules.strip_testid && key == "testid" {
                        continue;
                    }
                    if let Some(s) = value_to_tag(v) {
                        pairs.push((key.clone(), s));
                    }
                }
                if let Some(keys) = rules.empty.get(&c.metric) {
                    for k in keys {
                        if !pairs.iter().any(|(x, _)| x == k) {
                            pairs.push((k.clone(), String::new()));
                        }
                    }
                }
                if rules.k6_group && c.metric != "vus" && c.metric != "vus_max" && !pairs.iter().any(|(x, _)| x == "group") {
                    pairs.push(("group".into(), String::new()));
                }
                let tags = Tags::from_pairs(pairs.drain(..));
                visitor.point(&c.metric, t, value, &tags);
                stats.points += 1;
            }
            if c.advance(&self.client)? {
                heap.push(Reverse((c.current.as_ref().map_or(0, |x| x.0), i)));
            }
        }
        Ok(stats)
    }
}

fn metric_info(name: &str) -> MetricInfo {
    builtin_metric(name).unwrap_or(MetricInfo { name: name.to_string(), kind: MetricType::Trend, contains: ValueType::Default })
}
