//! What both remote stores (InfluxDB, Prometheus) share: credentials that never reach a
//! message, and reading an HTTP error reply.

use std::time::Duration;

/// A password or token. `Debug` and `Display` print `***`, so it never reaches a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for building the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every occurrence of each secret in `s` with `***` (server messages and
/// library errors pass through this before they become an error).
pub(crate) fn scrub(s: &str, secrets: &[&str]) -> String {
    let mut out = s.to_string();
    for sec in secrets {
        if !sec.is_empty() {
            out = out.replace(sec, "***");
        }
    }
    out
}

/// The first 300 characters of an error reply's body (at most 64 KiB read), trimmed and
/// scrubbed of `secrets`.
#[cfg(any(feature = "influxdb", feature = "prometheus"))]
pub(crate) fn body_snippet(body: &mut ureq::Body, secrets: &[&str]) -> String {
    let s = body.with_config().limit(64 * 1024).lossy_utf8(true).read_to_string().unwrap_or_default();
    let s: String = s.trim().chars().take(300).collect();
    scrub(&s, secrets)
}

/// A reply's `Retry-After` in seconds (the delta-seconds form; an HTTP date is ignored).
#[cfg(any(feature = "influxdb", feature = "prometheus"))]
pub(crate) fn retry_after(headers: &ureq::http::HeaderMap) -> Option<Duration> {
    headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}
