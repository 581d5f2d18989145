//! Where and how to talk to Prometheus: the `--out prometheus=URL` / `--source
//! prometheus=URL` parser, credentials (kept out of every message), push and retry settings.
//!
//! URL form: `http://[user[:password]@]host:port[/prefix]`. A trailing `/api/v1/write`
//! (as k6's `K6_PROMETHEUS_RW_SERVER_URL` has it) or Mimir's `/api/v1/push` is accepted
//! and removed from the base: writes go to `{base}` plus that path (default
//! `/api/v1/write`), reads to `{base}/api/v1/query` and `query_range`. User and
//! password (percent-decoded) are sent as basic auth; the token in [`TOKEN_ENV`] as
//! `Authorization: Bearer`. `https` needs the crate's `influxdb-tls` feature (ureq with
//! rustls); without it such a URL is refused.

use std::path::PathBuf;
use std::time::Duration;

use super::histogram::BucketLayout;
use super::PrometheusError;

/// The environment variable holding a bearer token for Prometheus (or Mimir, Grafana
/// Cloud, VictoriaMetrics with `-bearerToken`).
pub const TOKEN_ENV: &str = "SLO_PROMETHEUS_TOKEN";

pub use crate::remote::Secret;

/// Retry schedule of a push: exponential backoff with "equal jitter" (half the delay fixed,
/// half random; AWS Architecture Blog, "Exponential Backoff and Jitter", 2015).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per push, the first included (default 5).
    pub max_attempts: u32,
    /// Backoff before the first retry (default 200 ms); doubles with every retry.
    pub initial: Duration,
    /// Upper bound of one backoff (default 5 s).
    pub max_backoff: Duration,
    /// Upper bound of an honoured `Retry-After` (default 30 s).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 = the first retry), given `jitter` in
    /// `[0, 1)`: with `base = min(max_backoff, initial · 2^(retry−1))` the delay is
    /// `base/2 + jitter · base/2`, in `[base/2, base)`. A server's `Retry-After` (429, 503)
    /// raises it to that many seconds, capped at `max_retry_after`.
    pub fn delay(&self, retry: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max_backoff);
        let half = base / 2;
        let b = half + half.mul_f64(jitter.clamp(0.0, 1.0));
        match retry_after {
            Some(ra) => ra.min(self.max_retry_after).max(b),
            None => b,
        }
    }
}

/// Everything the Prometheus sink and source need. Build it with [`PromConfig::from_url`].
#[derive(Debug, Clone)]
pub struct PromConfig {
    /// `scheme://host:port[/prefix]` without credentials and without a trailing `/`.
    pub base: String,
    /// The remote-write path after `base`: `/api/v1/write` (Prometheus, VictoriaMetrics)
    /// unless the URL ended in Mimir's `/api/v1/push`.
    pub write_path: String,
    /// Basic-auth user (from the URL).
    pub user: Option<String>,
    /// Basic-auth password (from the URL).
    pub password: Option<Secret>,
    /// Bearer token (from [`TOKEN_ENV`]).
    pub token: Option<Secret>,
    /// How often the sink sends a snapshot (default 5 s, like k6's prometheus-rw output).
    pub push_interval: Duration,
    /// Snapshots waiting for the sender thread; when full a periodic snapshot is skipped
    /// (counters are cumulative, so the next one carries its counts) (default 4).
    pub queue_pushes: usize,
    /// Time limit of one HTTP request, connect to last byte (default 10 s; queries ×3).
    pub timeout: Duration,
    /// Retry schedule of pushes.
    pub retry: RetryPolicy,
    /// Where pushes that could not be delivered are written (default `.slo/spool/prometheus`).
    pub spool_dir: PathBuf,
    /// Also send native histograms (default false; see the module docs).
    pub native_histograms: bool,
    /// Classic histogram buckets.
    pub buckets: BucketLayout,
    /// How far back the source looks for runs (default 90 days).
    pub lookback: Duration,
    /// Completes a run the server holds only part of (its generator was killed before the
    /// end): the sink sends one snapshot, the run's totals, 10 ms after its last point and
    /// without first zeros, so it lands after every stored sample and conflicts with none
    /// (default false; `slo runs push` sets it).
    pub resume: bool,
}

impl PromConfig {
    /// Parses `http://[user[:password]@]host:port[/prefix][/api/v1/write]`, reads the token
    /// from [`TOKEN_ENV`] and sets every other field to its default.
    ///
    /// Errors: [`PrometheusError::Config`] for another scheme, a missing host, a query
    /// string, or `https` without TLS support; the message shows the URL without credentials.
    pub fn from_url(url: &str) -> Result<PromConfig, PrometheusError> {
        let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()).map(Secret::new);
        Self::from_url_with_token(url, token)
    }

    /// [`PromConfig::from_url`] with the token given instead of read from the environment.
    pub fn from_url_with_token(url: &str, token: Option<Secret>) -> Result<PromConfig, PrometheusError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| PrometheusError::Config { url: redact_url(url), msg: "expected http://host:port[/prefix]".into() })?;
        let scheme = scheme.to_ascii_lowercase();
        let err = |msg: &str| PrometheusError::Config { url: redact_url(url), msg: msg.into() };
        if scheme != "http" && scheme != "https" {
            return Err(err("the scheme must be http or https"));
        }
        if scheme == "https" && !cfg!(feature = "influxdb-tls") {
            return Err(err("https needs slo built with the `influxdb-tls` feature (TLS support)"));
        }
        if rest.contains('?') || rest.contains('#') {
            return Err(err("a query string is not supported; put the token in SLO_PROMETHEUS_TOKEN"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(err("missing host"));
        }
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(Secret::new(percent_decode(p)))),
                None => (Some(percent_decode(ui)), None),
            },
        };
        let mut path = path.trim_end_matches('/');
        let mut write_path = "/api/v1/write";
        for suffix in ["/api/v1/write", "/api/v1/push"] {
            if let Some(p) = path.strip_suffix(suffix) {
                path = p;
                write_path = suffix;
                break;
            }
        }
        Ok(PromConfig {
            base: format!("{scheme}://{host}{path}"),
            write_path: write_path.to_string(),
            user,
            password,
            token,
            push_interval: Duration::from_secs(5),
            queue_pushes: 4,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            spool_dir: PathBuf::from(".slo/spool/prometheus"),
            native_histograms: false,
            buckets: BucketLayout::default(),
            lookback: Duration::from_secs(90 * 24 * 3600),
            resume: false,
        })
    }

    /// The server URL as messages show it (no credentials).
    pub fn display_url(&self) -> String {
        self.base.clone()
    }

    /// The remote-write endpoint.
    pub fn write_url(&self) -> String {
        format!("{}{}", self.base, self.write_path)
    }

    /// The `Authorization` header value, if any: bearer token first, else basic auth.
    pub(crate) fn authorization(&self) -> Option<String> {
        if let Some(t) = &self.token {
            return Some(format!("Bearer {}", t.expose()));
        }
        self.user.as_ref().map(|u| {
            let pw = self.password.as_ref().map(|p| p.expose()).unwrap_or("");
            format!("Basic {}", base64(format!("{u}:{pw}").as_bytes()))
        })
    }

    /// The secret strings to scrub from any message.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut v = Vec::new();
        if let Some(t) = &self.token {
            v.push(t.expose());
        }
        if let Some(p) = &self.password {
            v.push(p.expose());
        }
        v
    }
}

pub use slo_model::redact_url;

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (RFC 4648 §4), for basic auth.
pub(crate) fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { A[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { A[n as usize & 63] as char } else { '=' });
    }
    out
}
