//! Where and how to talk to InfluxDB: the `--out influxdb=URL` / `--source URL` parser,
//! credentials (kept out of every message), batching and retry settings.
//!
//! URL forms (the scheme is `http`; `https` needs the `influxdb-tls` cargo feature):
//!
//! - **v1** (InfluxDB 1.x, k6's form): `http://[user[:password]@]host:port[/prefix]/DB[?rp=RP]`.
//!   The last path segment is the database. User and password (percent-decoded) are sent
//!   as HTTP basic auth, which InfluxDB 1.x accepts like its `u`/`p` parameters but which
//!   keeps them out of request lines and logs.
//! - **v2/v3** (InfluxDB 2.x, 3.x): `http://host:port[/prefix]?org=ORG&bucket=BUCKET`.
//!   Writes go to `/api/v2/write`, reads to the v1-compatible `/query` with `db=BUCKET`.
//!   The token comes from the environment variable [`TOKEN_ENV`] (`Authorization: Token …`),
//!   never from the URL: a `token=` parameter is refused.

use std::path::PathBuf;
use std::time::Duration;

use super::line_protocol::{parse_tags_as_fields, FieldKind, K6_DEFAULT_TAGS_AS_FIELDS};
use super::InfluxError;

/// The environment variable holding the InfluxDB 2.x/3.x API token.
pub const TOKEN_ENV: &str = "SLO_INFLUXDB_TOKEN";

pub use crate::remote::Secret;

/// Which InfluxDB HTTP API to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfluxApi {
    /// InfluxDB 1.x: `/write?db=&rp=&precision=ns`, `/query?db=`.
    V1 {
        /// Database name.
        db: String,
        /// Retention policy (`None`: the database default).
        rp: Option<String>,
        /// Basic-auth user.
        user: Option<String>,
        /// Basic-auth password.
        password: Option<Secret>,
    },
    /// InfluxDB 2.x/3.x: `/api/v2/write?org=&bucket=&precision=ns` with a token.
    V2 {
        /// Organization name.
        org: String,
        /// Bucket (also the `db` of v1-compatible queries).
        bucket: String,
        /// API token (`Authorization: Token …`).
        token: Secret,
    },
}

/// Retry schedule for writes: exponential backoff with "equal jitter" (half the delay
/// fixed, half random; AWS Architecture Blog, "Exponential Backoff and Jitter", 2015).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per batch, the first one included (default 6).
    pub max_attempts: u32,
    /// Backoff before the first retry (default 200 ms); doubles with every retry.
    pub initial: Duration,
    /// Upper bound of one backoff (default 10 s).
    pub max_backoff: Duration,
    /// Upper bound of an honoured `Retry-After` (default 60 s).
    pub max_retry_after: Duration,
    /// After a batch failed every attempt because the server was unreachable, further
    /// batches go straight to the spool for this long (default 5 s), so a dead server does
    /// not stall the run's end by a full schedule per batch.
    pub cooldown: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            cooldown: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 = the first retry), given `jitter` in
    /// `[0, 1)`: with `base = min(max_backoff, initial * 2^(retry-1))`, the delay is
    /// `base/2 + jitter * base/2`, so it lies in `[base/2, base)`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// The delay before a retry the server asked for with `Retry-After: seconds` (429,
    /// 503): at least the backoff, at most `max_retry_after`.
    pub fn after_retry_after(&self, retry: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let b = self.backoff(retry, jitter);
        match retry_after {
            Some(ra) => ra.min(self.max_retry_after).max(b),
            None => b,
        }
    }
}

/// Everything the InfluxDB sink and source need. Build it with [`InfluxConfig::from_url`].
#[derive(Debug, Clone)]
pub struct InfluxConfig {
    /// `scheme://host:port[/prefix]`, without credentials, path prefix without a trailing `/`.
    pub base: String,
    /// API version and its target (database or org/bucket) with credentials.
    pub api: InfluxApi,
    /// Points per write request (default 20,000).
    pub batch_points: usize,
    /// A partly filled batch is sent after this long (default 1 s).
    pub flush_interval: Duration,
    /// Write requests in flight at once = writer threads (default 2).
    pub max_in_flight: usize,
    /// Batches waiting for a writer; when full, the generator's thread spools the batch
    /// instead of waiting (default 16).
    pub queue_batches: usize,
    /// Time limit of one HTTP request, connect to last byte (default 10 s; queries: ×6).
    pub timeout: Duration,
    /// Retry schedule of writes.
    pub retry: RetryPolicy,
    /// Tags written as fields, k6's `K6_INFLUXDB_TAGS_AS_FIELDS` (default
    /// `vu:int,iter:int,url`, k6's default, which keeps `url` out of the series index).
    pub tags_as_fields: Vec<(String, FieldKind)>,
    /// Where undeliverable batches go (gzip line-protocol files); `None`: the sink's
    /// caller must give one to [`super::InfluxSink::new`].
    pub spool_dir: Option<PathBuf>,
    /// The writer promises that no two points of one measurement share a timestamp (the
    /// generator stamps its samples so, see `slo-gen`): the sink then skips its own
    /// per-series uniqueness bookkeeping ([`super::line_protocol::UniqueTimestamps`]).
    /// Default false: imported and pushed data are checked.
    pub timestamps_unique: bool,
}

impl InfluxConfig {
    /// Parses an InfluxDB URL (forms in the module docs). `token` is the 2.x/3.x API token
    /// (the binary passes `std::env::var(TOKEN_ENV)`); it is required for `?bucket=` URLs
    /// and ignored otherwise. Errors ([`InfluxError::Config`]) name the URL without its
    /// credentials.
    pub fn from_url(url: &str, token: Option<String>) -> Result<InfluxConfig, InfluxError> {
        let p = ParsedUrl::parse(url)?;
        let bad = |msg: &str| InfluxError::Config { url: p.redacted(), msg: msg.to_string() };
        if p.scheme == "https" && !cfg!(feature = "influxdb-tls") {
            return Err(bad("https needs slo built with the cargo feature `influxdb-tls`"));
        }
        let mut org = None;
        let mut bucket = None;
        let mut rp = None;
        for (k, v) in &p.query {
            match k.as_str() {
                "org" => org = Some(v.clone()),
                "bucket" => bucket = Some(v.clone()),
                "rp" => rp = Some(v.clone()),
                "db" => {}
                "token" | "p" | "password" | "u" => {
                    return Err(bad(&format!(
                        "credentials do not belong in the query string (`{k}=`): put user:password in the URL's \
                         user info (1.x) or the token in {TOKEN_ENV} (2.x/3.x)"
                    )))
                }
                other => return Err(bad(&format!("unknown parameter `{other}` (known: org, bucket, rp, db)"))),
            }
        }
        let db_param = p.query.iter().find(|(k, _)| k == "db").map(|(_, v)| v.clone());
        let (prefix, api) = if let Some(bucket) = bucket {
            let org = org.ok_or_else(|| bad("`bucket=` needs `org=` too"))?;
            let token = token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad(&format!("InfluxDB 2.x/3.x needs a token in the environment variable {TOKEN_ENV}")))?;
            (p.path.trim_end_matches('/').to_string(), InfluxApi::V2 { org, bucket, token: Secret::new(token) })
        } else {
            let path = p.path.trim_end_matches('/');
            let (prefix, db) = match db_param {
                Some(db) => (path.to_string(), db),
                None => match path.rsplit_once('/') {
                    Some((pre, db)) if !db.is_empty() => (pre.to_string(), percent_decode(db)),
                    _ => return Err(bad("no database: give it as the URL path, e.g. http://127.0.0.1:8086/k6")),
                },
            };
            if org.is_some() {
                return Err(bad("`org=` without `bucket=`"));
            }
            (prefix, InfluxApi::V1 { db, rp, user: p.user.clone(), password: p.password.clone().map(Secret::new) })
        };
        Ok(InfluxConfig {
            base: format!("{}://{}{}", p.scheme, p.hostport, prefix),
            api,
            batch_points: 20_000,
            flush_interval: Duration::from_secs(1),
            max_in_flight: 2,
            queue_batches: 16,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            tags_as_fields: parse_tags_as_fields(K6_DEFAULT_TAGS_AS_FIELDS),
            spool_dir: None,
            timestamps_unique: false,
        })
    }

    /// The URL without credentials, for messages: `http://host:port/db` or
    /// `http://host:port?org=O&bucket=B`.
    pub fn display_url(&self) -> String {
        match &self.api {
            InfluxApi::V1 { db, .. } => format!("{}/{}", self.base, db),
            InfluxApi::V2 { org, bucket, .. } => format!("{}?org={}&bucket={}", self.base, org, bucket),
        }
    }

    /// The database (v1) or bucket (v2) that `/query` reads.
    pub fn query_db(&self) -> &str {
        match &self.api {
            InfluxApi::V1 { db, .. } => db,
            InfluxApi::V2 { bucket, .. } => bucket,
        }
    }

    /// The `Authorization` header value, if any: `Basic …` (v1 with a user) or `Token …`.
    pub(crate) fn authorization(&self) -> Option<String> {
        match &self.api {
            InfluxApi::V1 { user: Some(u), password, .. } => {
                let pair = format!("{}:{}", u, password.as_ref().map(Secret::expose).unwrap_or(""));
                Some(format!("Basic {}", base64(pair.as_bytes())))
            }
            InfluxApi::V1 { .. } => None,
            InfluxApi::V2 { token, .. } => Some(format!("Token {}", token.expose())),
        }
    }

    /// The write endpoint with its query string (no credentials in it).
    pub(crate) fn write_url(&self) -> String {
        match &self.api {
            InfluxApi::V1 { db, rp, .. } => {
                let mut u = format!("{}/write?db={}&precision=ns", self.base, percent_encode(db));
                if let Some(rp) = rp {
                    u.push_str("&rp=");
                    u.push_str(&percent_encode(rp));
                }
                u
            }
            InfluxApi::V2 { org, bucket, .. } => {
                format!("{}/api/v2/write?org={}&bucket={}&precision=ns", self.base, percent_encode(org), percent_encode(bucket))
            }
        }
    }

    /// Every secret this config holds, so tests and callers can check messages for leaks.
    pub fn secrets(&self) -> Vec<&str> {
        match &self.api {
            InfluxApi::V1 { password, .. } => password.iter().map(Secret::expose).collect(),
            InfluxApi::V2 { token, .. } => vec![token.expose()],
        }
    }
}

/// The parts of an `http(s)://` URL that matter here.
#[derive(Debug, Clone)]
pub(crate) struct ParsedUrl {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub hostport: String,
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl ParsedUrl {
    pub fn parse(url: &str) -> Result<ParsedUrl, InfluxError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| InfluxError::Config { url: redact_url(url), msg: "expected http://host:port/database".into() })?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(InfluxError::Config { url: redact_url(url), msg: format!("unsupported scheme `{scheme}` (http or https)") });
        }
        let (before_frag, _) = rest.split_once('#').unwrap_or((rest, ""));
        let (before_q, q) = before_frag.split_once('?').unwrap_or((before_frag, ""));
        let (authority, path) = match before_q.find('/') {
            Some(i) => (&before_q[..i], &before_q[i..]),
            None => (before_q, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if hostport.is_empty() {
            return Err(InfluxError::Config { url: redact_url(url), msg: "no host".into() });
        }
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((a, b)) => (Some(percent_decode(a)), Some(percent_decode(b))),
                None => (Some(percent_decode(u)), None),
            },
        };
        let query = q
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Ok(ParsedUrl { scheme, user, password, hostport: hostport.to_string(), path: path.to_string(), query })
    }

    /// `scheme://host:port/path?query` with the user info removed and the values of
    /// credential-like parameters replaced by `***`.
    pub fn redacted(&self) -> String {
        let mut s = format!("{}://{}{}", self.scheme, self.hostport, self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(k);
            s.push('=');
            if matches!(k.as_str(), "token" | "p" | "password" | "u") {
                s.push_str("***");
            } else {
                s.push_str(v);
            }
        }
        s
    }
}

pub use slo_model::redact_url;

/// Decodes `%XX` escapes (invalid ones stay as they are) and nothing else.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(x) = h {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4), for the basic-auth header.
pub(crate) fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}
