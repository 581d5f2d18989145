//! InfluxDB line protocol, written exactly as k6's `--out influxdb` writes it.
//!
//! k6 (xk6-output-influxdb over `influxdb1-client/models`) writes one line per sample:
//!
//! ```text
//! http_req_duration,expected_response=true,method=GET,name=login,status=200,testid=x url="login",value=1.2357 1795971830433555395
//! ```
//!
//! - measurement = the k6 metric name; escape `,` and space with a backslash;
//! - tags sorted by key; keys and values escape `,`, `=` and space; a tag with an empty
//!   value is dropped (InfluxDB cannot store it; k6 drops the root `group=""`);
//! - the tags named in `K6_INFLUXDB_TAGS_AS_FIELDS` (default `vu:int,iter:int,url`)
//!   become fields instead: `name:int` as an integer field (`3i`), others as string fields
//!   (`url="login"`, with `\` and `"` escaped);
//! - field `value` is a float printed in the shortest form that reads back to the same
//!   f64 (`1`, `1.538383`), fields sorted by key together with the tag-fields;
//! - the timestamp is in nanoseconds.
//!
//! Source of the rules: the lines k6 v1.1.0 wrote in `../shared/cases/06-…`
//! (copied to `testdata/`), which the unit tests reproduce byte for byte.
//!
//! One deviation, for safety: a line feed or carriage return anywhere is written as the two
//! characters `\n` / `\r` (k6 would break the line and lose the point).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

/// How a tag that is written as a field is typed (k6 `K6_INFLUXDB_TAGS_AS_FIELDS`, `key:int`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string field: `url="login"`.
    String,
    /// An integer field: `vu=3i` (falls back to a string field when the value is not an integer).
    Int,
}

/// k6's default `K6_INFLUXDB_TAGS_AS_FIELDS`: `vu:int,iter:int,url`.
pub const K6_DEFAULT_TAGS_AS_FIELDS: &str = "vu:int,iter:int,url";

/// Parses a `K6_INFLUXDB_TAGS_AS_FIELDS`-style list: comma-separated tag keys, each with an
/// optional `:int` (or `:string`) type. Empty items are ignored; an unknown type reads as string.
pub fn parse_tags_as_fields(spec: &str) -> Vec<(String, FieldKind)> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.rsplit_once(':') {
            Some((k, "int")) => (k.to_string(), FieldKind::Int),
            Some((k, "string" | "str")) => (k.to_string(), FieldKind::String),
            _ => (item.to_string(), FieldKind::String),
        })
        .collect()
}

/// Why a point could not be encoded (it is counted as rejected, never silently dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// NaN or ±infinity: InfluxDB has no representation for them.
    NonFiniteValue,
    /// An empty metric name.
    EmptyMetric,
}

fn push_escaped(out: &mut String, s: &str, specials: &[char]) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if specials.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

/// Appends a measurement name, escaping `,` and space.
pub fn escape_measurement(out: &mut String, s: &str) {
    push_escaped(out, s, &[',', ' ']);
}

/// Appends a tag key, tag value or field key, escaping `,`, `=` and space.
pub fn escape_key(out: &mut String, s: &str) {
    push_escaped(out, s, &[',', '=', ' ']);
}

/// Appends a string field value with its quotes, escaping `\` and `"`.
pub fn escape_string_field(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s, &['\\', '"']);
    out.push('"');
}

/// Appends a float field value: the shortest decimal form that parses back to the same
/// f64, never in exponent notation (as Go's `strconv.FormatFloat(v, 'f', -1, 64)`).
pub fn push_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        let _ = write!(out, "{v}");
        return;
    }
    let mut b = ryu::Buffer::new();
    let s = b.format_finite(v);
    if s.contains('e') {
        // ryu switches to exponent notation for very large and small magnitudes; Rust's
        // `Display` prints the same shortest digits in plain decimal.
        let _ = write!(out, "{v}");
    } else {
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
    }
}

/// Encodes points into line protocol, one line each, k6's way (see the module docs), and
/// keeps each series' timestamps unique (see [`UniqueTimestamps`]).
#[derive(Debug)]
pub struct LineEncoder {
    tags_as_fields: Vec<(String, FieldKind)>,
    extra_tag: Option<(String, String)>,
    unique: UniqueTimestamps,
    /// Timestamps are unique per measurement already: `unique` is not consulted.
    trusted: bool,
    scratch_tags: Vec<usize>,
    scratch_fields: Vec<usize>,
}

/// Index used in the scratch vectors for the extra (`testid`) tag and the `value` field.
const EXTRA: usize = usize::MAX;

impl LineEncoder {
    /// An encoder that writes `tags_as_fields` as fields and adds `extra_tag` (e.g.
    /// `("testid", run id)`) to every point, replacing a tag of the same key.
    pub fn new(tags_as_fields: Vec<(String, FieldKind)>, extra_tag: Option<(String, String)>) -> Self {
        LineEncoder {
            tags_as_fields,
            extra_tag,
            unique: UniqueTimestamps::default(),
            trusted: false,
            scratch_tags: Vec::new(),
            scratch_fields: Vec::new(),
        }
    }

    /// `true`: the caller guarantees that no two points of one measurement share a
    /// timestamp, so timestamps are written as given (no per-series bookkeeping).
    pub fn set_timestamps_unique(&mut self, trusted: bool) {
        self.trusted = trusted;
    }

    /// Timestamps moved to keep series unique so far.
    pub fn bumped(&self) -> u64 {
        self.unique.bumped
    }

    /// The tag keys seen with an empty value, per metric (they are not written; a reader
    /// puts them back as `""`).
    pub fn empty_tags(&self) -> &HashMap<String, BTreeSet<String>> {
        &self.unique.empty_tags
    }

    /// Appends one point as a line ending in `\n` and returns the timestamp written (ns),
    /// which differs from `time_ns` when the series already holds that instant. A point
    /// that cannot be written leaves `out` unchanged.
    pub fn encode(&mut self, out: &mut String, metric: &str, time_ns: i64, value: f64, tags: &[(&str, &str)]) -> Result<i64, LineError> {
        if metric.is_empty() {
            return Err(LineError::EmptyMetric);
        }
        if !value.is_finite() {
            return Err(LineError::NonFiniteValue);
        }
        let parts = self.series(metric, tags)?;
        Ok(self.encode_cached(out, &parts, time_ns, value))
    }

    /// The parts of a line that depend only on the metric and its tags (see
    /// [`SeriesParts`]); notes the metric's empty tags. Encode points of the series with
    /// [`LineEncoder::encode_cached`].
    pub fn series(&mut self, metric: &str, tags: &[(&str, &str)]) -> Result<SeriesParts, LineError> {
        if metric.is_empty() {
            return Err(LineError::EmptyMetric);
        }
        let mut out = String::with_capacity(128);
        escape_measurement(&mut out, metric);
        let extra_key = self.extra_tag.as_ref().map(|(k, _)| k.as_str());
        // Pick tags and tag-fields; later duplicates win (sorted stable, keep the last).
        self.scratch_tags.clear();
        self.scratch_fields.clear();
        for (i, (k, v)) in tags.iter().enumerate() {
            if Some(*k) == extra_key {
                continue;
            }
            if self.tags_as_fields.iter().any(|(f, _)| f == k) {
                self.scratch_fields.push(i);
            } else if v.is_empty() {
                self.unique.note_empty(metric, k);
            } else {
                self.scratch_tags.push(i);
            }
        }
        if self.extra_tag.as_ref().is_some_and(|(_, v)| !v.is_empty()) {
            self.scratch_tags.push(EXTRA);
        }
        let extra = &self.extra_tag;
        let key_of = |i: usize| -> &str {
            if i == EXTRA {
                extra.as_ref().map(|(k, _)| k.as_str()).unwrap_or("")
            } else {
                tags[i].0
            }
        };
        self.scratch_tags.sort_by(|a, b| key_of(*a).as_bytes().cmp(key_of(*b).as_bytes()).then(a.cmp(b)));
        dedup_keep_last(&mut self.scratch_tags, |i| key_of(i));
        for &i in &self.scratch_tags {
            let (k, v) = if i == EXTRA {
                let (k, v) = self.extra_tag.as_ref().expect("extra tag present");
                (k.as_str(), v.as_str())
            } else {
                tags[i]
            };
            out.push(',');
            escape_key(&mut out, k);
            out.push('=');
            escape_key(&mut out, v);
        }
        let hash = fnv1a(out.as_bytes());
        out.push(' ');
        self.scratch_fields.push(EXTRA); // the `value` field
        let fkey = |i: usize| -> &str {
            if i == EXTRA {
                "value"
            } else {
                tags[i].0
            }
        };
        self.scratch_fields.sort_by(|a, b| fkey(*a).as_bytes().cmp(fkey(*b).as_bytes()).then(a.cmp(b)));
        dedup_keep_last(&mut self.scratch_fields, fkey);
        let mut suffix = String::new();
        let mut after_value = false;
        for (n, &i) in self.scratch_fields.iter().enumerate() {
            let o = if after_value { &mut suffix } else { &mut out };
            if n > 0 {
                o.push(',');
            }
            if i == EXTRA {
                o.push_str("value=");
                after_value = true;
                continue;
            }
            let (k, v) = tags[i];
            escape_key(o, k);
            o.push('=');
            let kind = self.tags_as_fields.iter().find(|(f, _)| f == k).map(|(_, t)| *t);
            match kind {
                Some(FieldKind::Int) if v.parse::<i64>().is_ok() => {
                    o.push_str(v);
                    o.push('i');
                }
                _ => escape_string_field(o, v),
            }
        }
        suffix.push(' ');
        Ok(SeriesParts { prefix: out, suffix, hash })
    }

    /// Appends one point of a series prepared by [`LineEncoder::series`] (no allocation
    /// once `out` has room) and returns the timestamp written (ns; see
    /// [`LineEncoder::encode`]). `value` must be finite (the caller checks).
    pub fn encode_cached(&mut self, out: &mut String, parts: &SeriesParts, time_ns: i64, value: f64) -> i64 {
        out.push_str(&parts.prefix);
        push_float(out, value);
        out.push_str(&parts.suffix);
        let t = if self.trusted { time_ns } else { self.unique.assign(parts.hash, time_ns) };
        let mut b = itoa::Buffer::new();
        out.push_str(b.format(t));
        out.push('\n');
        t
    }
}

/// A series' line parts, computed once per distinct metric + tag set:
/// `prefix` = measurement, sorted escaped tags (with `testid`), a space, the fields that
/// sort before `value` and `value=`; `suffix` = the fields after `value` and the space
/// before the timestamp; `hash` = FNV-1a of measurement + tag set (the series key of
/// [`UniqueTimestamps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesParts {
    /// Everything before the value.
    pub prefix: String,
    /// Everything between the value and the timestamp.
    pub suffix: String,
    /// The series key.
    pub hash: u64,
}

fn dedup_keep_last<'a>(v: &mut Vec<usize>, key: impl Fn(usize) -> &'a str) {
    // `v` is sorted by (key, index); keep the last index of each key.
    let mut w = 0;
    for r in 0..v.len() {
        if r + 1 < v.len() && key(v[r]) == key(v[r + 1]) {
            continue;
        }
        v[w] = v[r];
        w += 1;
    }
    v.truncate(w);
}

/// 64-bit FNV-1a (Fowler–Noll–Vo), used to key series; a collision only costs a needless
/// 1 ns move.
pub fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Keeps timestamps unique per series, because InfluxDB silently replaces a point with
/// the same measurement, tag set and timestamp.
///
/// Per series (hash of measurement + tag set) it remembers the timestamps written in the
/// last [`UniqueTimestamps::WINDOW_NS`] before the newest one (a hash set, so a point
/// arriving out of order — requests finish out of start order — costs O(1), not a shift of
/// the window). A colliding timestamp is moved forward by 1 ns until it is free, so the
/// points move by a few ns at most. A point older than the window is written unchanged (a
/// collision with it needs the very same nanosecond as a point more than a second older
/// within one series). Series beyond [`UniqueTimestamps::MAX_SERIES`] reset the map
/// (bounded memory).
#[derive(Debug, Default)]
pub struct UniqueTimestamps {
    series: HashMap<u64, SeriesTimes>,
    /// Timestamps moved so far.
    pub bumped: u64,
    empty_tags: HashMap<String, BTreeSet<String>>,
}

#[derive(Debug, Default)]
struct SeriesTimes {
    max: i64,
    /// Timestamps written within the window.
    taken: std::collections::HashSet<i64, slo_model::hash::FastBuildHasher>,
    /// The same, in the order written; the front is forgotten once older than the window.
    order: VecDeque<i64>,
}

impl UniqueTimestamps {
    /// How far back (ns) timestamps are remembered per series: 1 s.
    pub const WINDOW_NS: i64 = 1_000_000_000;
    /// Series remembered before the map is cleared: 1,000,000 (InfluxDB 1.x's default
    /// `max-series-per-database`).
    pub const MAX_SERIES: usize = 1_000_000;

    /// The timestamp to write for a point of `series` at `t` (ns): `t`, or the first free
    /// nanosecond after it.
    pub fn assign(&mut self, series: u64, t: i64) -> i64 {
        if self.series.len() >= Self::MAX_SERIES && !self.series.contains_key(&series) {
            self.series.clear();
        }
        let s = self.series.entry(series).or_insert_with(|| SeriesTimes { max: i64::MIN, ..Default::default() });
        if t < s.max.saturating_sub(Self::WINDOW_NS) {
            return t;
        }
        let mut free = t;
        while !s.taken.insert(free) {
            free = free.saturating_add(1);
        }
        s.order.push_back(free);
        s.max = s.max.max(free);
        let floor = s.max.saturating_sub(Self::WINDOW_NS);
        while let Some(&f) = s.order.front() {
            if f >= floor {
                break;
            }
            s.order.pop_front();
            s.taken.remove(&f);
        }
        self.bumped += u64::from(free != t);
        free
    }

    fn note_empty(&mut self, metric: &str, key: &str) {
        match self.empty_tags.get_mut(metric) {
            Some(set) => {
                if !set.contains(key) {
                    set.insert(key.to_string());
                }
            }
            None => {
                self.empty_tags.insert(metric.to_string(), BTreeSet::from([key.to_string()]));
            }
        }
    }
}
