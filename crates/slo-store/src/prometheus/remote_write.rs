//! Prometheus remote write 1.0 wire types, hand-written for `prost` (no `build.rs`, no
//! `protoc`), and the snappy block framing of a request body.
//!
//! The field numbers and types are those of Prometheus `prompb/remote.proto` and
//! `prompb/types.proto` (2.42): `WriteRequest.timeseries = 1`, `TimeSeries.labels = 1`,
//! `samples = 2`, `histograms = 4`, `Label.name = 1`, `value = 2`, `Sample.value = 1`
//! (double), `timestamp = 2` (int64, ms since the epoch), and the native `Histogram`
//! message with its `BucketSpan`s. Exemplars and metadata are not sent.
//!
//! A request body is the protobuf `WriteRequest` compressed with snappy's *block* format
//! (not the framed/stream format), sent with `Content-Encoding: snappy`,
//! `Content-Type: application/x-protobuf` and `X-Prometheus-Remote-Write-Version: 0.1.0`
//! (see [`HEADERS`]).

use prost::Message;

/// The headers every remote-write POST carries, as Prometheus' remote-write 1.0 spec asks.
pub const HEADERS: [(&str, &str); 3] =
    [("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf"), ("X-Prometheus-Remote-Write-Version", "0.1.0")];

/// The value of a staleness marker (Prometheus `value.StaleNaN`, bits `0x7ff0000000000002`):
/// a sample with this value ends a series, so instant queries stop returning it at once.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// `prometheus.WriteRequest`: the body of one push.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series of this push (field 1).
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: one label set and its samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels sorted by name, `__name__` included (field 1).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples in time order (field 2).
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histogram samples (field 4), only with `native_histograms: true`.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, prost::Message)]
pub struct Label {
    /// Label name (field 1).
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value (field 2); an empty value means "no such label" to Prometheus.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: one float value at one instant.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (field 1, double).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch (field 2, int64).
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.BucketSpan` of a native histogram: `length` consecutive buckets starting
/// `offset` buckets after the end of the previous span (or at index `offset` for the first).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct BucketSpan {
    /// Gap to the previous span, in buckets (field 1, sint32).
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Number of consecutive buckets (field 2).
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// `prometheus.Histogram`: one native (sparse, exponential) histogram sample with integer
/// counts. Bucket `i` of schema `s` holds values in `(2^((i-1)·2^-s), 2^(i·2^-s)]`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Number of observations (field 1, `count_int` of the `count` oneof).
    #[prost(uint64, tag = "1")]
    pub count_int: u64,
    /// Sum of the observations (field 3).
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Resolution: bucket growth factor `2^(2^-schema)` (field 4).
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Observations with `|v| <= zero_threshold` go to the zero bucket (field 5).
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Observations in the zero bucket (field 6, `zero_count_int`).
    #[prost(uint64, tag = "6")]
    pub zero_count_int: u64,
    /// Spans of populated positive buckets (field 11).
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Bucket counts of the positive spans, each as the difference to the previous
    /// bucket's count (field 12, sint64).
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// `ResetHint` (field 14): 0 unknown, 1 yes, 2 no, 3 gauge.
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch (field 15).
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// A series' labels from `(name, value)` pairs: sorted by name as Prometheus requires,
/// pairs with an empty value dropped (Prometheus treats them as absent).
pub fn labels_sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Label> {
    let mut v: Vec<Label> = pairs
        .into_iter()
        .filter(|(_, val)| !val.is_empty())
        .map(|(n, val)| Label { name: n.to_string(), value: val.to_string() })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The request body: `req` as protobuf, snappy block-compressed.
pub fn encode_body(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    compress(&raw)
}

/// Snappy block compression (`snap::raw`), the framing remote write uses.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    // snap's block encoder only fails for inputs over 2^32 bytes, which a push never is;
    // fall back to an uncompressed (literal-only) block instead of panicking.
    snap::raw::Encoder::new().compress_vec(raw).unwrap_or_else(|_| literal_block(raw))
}

/// Decodes a request body (snappy block, then protobuf), as a receiver does.
pub fn decode_body(body: &[u8]) -> Result<WriteRequest, String> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|e| format!("snappy: {e}"))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))
}

/// A valid snappy block holding `data` as literals only (no compression), the same
/// framing as `tools/promrw.py` `snappy_literal`.
pub fn literal_block(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65536 * 3 + 8);
    let mut n = data.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    for chunk in data.chunks(65536) {
        let len = chunk.len() - 1;
        if len < 60 {
            out.push((len as u8) << 2);
        } else if len < 256 {
            out.push(60 << 2);
            out.push(len as u8);
        } else {
            out.push(61 << 2);
            out.extend_from_slice(&(len as u16).to_le_bytes());
        }
        out.extend_from_slice(chunk);
    }
    out
}

/// Number of float samples plus histogram samples in `req`.
pub fn sample_count(req: &WriteRequest) -> u64 {
    req.timeseries.iter().map(|t| (t.samples.len() + t.histograms.len()) as u64).sum()
}
