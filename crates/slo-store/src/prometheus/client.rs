//! The blocking HTTP side: one remote-write POST with its retry schedule, and GET
//! requests to the query API. Every message is built from the URL without credentials and
//! scrubbed of secrets.

use std::time::Duration;

use super::config::PromConfig;
use super::remote_write::HEADERS;
use super::{scrub, PrometheusError};

/// How one write request ended.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// 2xx.
    Ok,
    /// Worth another try: 5xx, 408, 429 (with the server's `Retry-After`), connection errors.
    Retry { retry_after: Option<Duration>, msg: String },
    /// Will not get better by retrying (400 bad data, 401, 403, 413, …).
    Fatal { msg: String },
}

/// The end result of a write with retries.
#[derive(Debug, PartialEq)]
pub(crate) enum WriteResult {
    Delivered,
    /// The server refused the push (a 4xx other than 408/429).
    Rejected(String),
    /// Every attempt failed with a connection error or a retryable status.
    GaveUp(String),
}

#[derive(Clone)]
pub(crate) struct Client {
    pub cfg: PromConfig,
    write_agent: ureq::Agent,
    query_agent: ureq::Agent,
    auth: Option<String>,
}

impl Client {
    pub fn new(cfg: PromConfig) -> Client {
        let write_agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(cfg.timeout)).build().into();
        let query_agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(cfg.timeout))
            .timeout_global(Some(cfg.timeout * 3))
            .build()
            .into();
        let auth = cfg.authorization();
        Client { cfg, write_agent, query_agent, auth }
    }

    pub fn url(&self) -> String {
        self.cfg.display_url()
    }

    pub fn clean(&self, s: &str) -> String {
        scrub(s, &self.cfg.secrets())
    }

    fn body_snippet(&self, body: &mut ureq::Body) -> String {
        crate::remote::body_snippet(body, &self.cfg.secrets())
    }

    /// One `POST /api/v1/write` of a snappy-compressed `WriteRequest`.
    pub fn write_once(&self, body: &[u8]) -> Attempt {
        let mut req = self.write_agent.post(self.cfg.write_url());
        for (k, v) in HEADERS {
            req = req.header(k, v);
        }
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        match req.send(body) {
            Ok(mut r) => {
                let status = r.status().as_u16();
                if (200..300).contains(&status) {
                    return Attempt::Ok;
                }
                let retry_after = crate::remote::retry_after(r.headers());
                let body = self.body_snippet(r.body_mut());
                match status {
                    408 | 429 | 500..=599 => Attempt::Retry { retry_after, msg: format!("HTTP {status}: {body}") },
                    _ => Attempt::Fatal { msg: format!("HTTP {status}: {body}") },
                }
            }
            Err(e) => Attempt::Retry { retry_after: None, msg: self.clean(&e.to_string()) },
        }
    }

    /// Writes with the config's retry schedule. `sleep` waits; `jitter` yields numbers in
    /// `[0, 1)`. Returns the result and the number of retries.
    pub fn write_with_retries(&self, body: &[u8], sleep: &mut dyn FnMut(Duration), jitter: &mut dyn FnMut() -> f64) -> (WriteResult, u32) {
        let policy = &self.cfg.retry;
        let mut retries = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.write_once(body) {
                Attempt::Ok => return (WriteResult::Delivered, retries),
                Attempt::Fatal { msg } => return (WriteResult::Rejected(msg), retries),
                Attempt::Retry { retry_after, msg } => {
                    if attempt >= policy.max_attempts.max(1) {
                        return (WriteResult::GaveUp(msg), retries);
                    }
                    retries += 1;
                    sleep(policy.delay(retries, jitter(), retry_after));
                }
            }
        }
    }

    /// `GET {base}{path}?params` on the query API; the JSON `data` of a `"status":"success"`
    /// answer. Errors: unreachable, HTTP status with Prometheus' `error` text, bad JSON.
    pub fn get_json(&self, path: &str, params: &[(&str, String)], what: &str) -> Result<serde_json::Value, PrometheusError> {
        let mut req = self.query_agent.get(format!("{}{}", self.cfg.base, path));
        for (k, v) in params {
            req = req.query(*k, v);
        }
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| PrometheusError::Unreachable { url: self.url(), msg: self.clean(&e.to_string()) })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(|e| PrometheusError::Unreachable { url: self.url(), msg: self.clean(&e.to_string()) })?;
        let v: Result<serde_json::Value, _> = serde_json::from_str(&text);
        match v {
            Ok(v) if v.get("status").and_then(|s| s.as_str()) == Some("success") => {
                Ok(v.get("data").cloned().unwrap_or(serde_json::Value::Null))
            }
            Ok(v) if v.get("error").is_some() => Err(PrometheusError::Query {
                url: self.url(),
                query: what.to_string(),
                msg: self.clean(&format!(
                    "HTTP {status}: {}: {}",
                    v.get("errorType").and_then(|s| s.as_str()).unwrap_or(""),
                    v.get("error").and_then(|s| s.as_str()).unwrap_or("")
                )),
            }),
            _ if !(200..300).contains(&status) => {
                let body: String = text.trim().chars().take(300).collect();
                Err(PrometheusError::Http { url: self.url(), status, body: self.clean(&body) })
            }
            _ => Err(PrometheusError::Query {
                url: self.url(),
                query: what.to_string(),
                msg: "the answer is not the query API's JSON".into(),
            }),
        }
    }
}
