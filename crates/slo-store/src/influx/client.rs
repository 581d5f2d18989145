//! The blocking HTTP side: one write with its retry schedule, `/ping`, and InfluxQL
//! `/query` (whole or chunked). Every message is built from the URL without credentials
//! and scrubbed of secrets.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use serde::Deserialize;

use super::config::{percent_encode, InfluxApi, InfluxConfig};
use super::{scrub, InfluxError};

/// How one write request ended.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// 2xx.
    Ok,
    /// Worth another try: 5xx, 408, 429 (with the server's `Retry-After`), timeouts.
    Retry { retry_after: Option<Duration>, msg: String, network: bool },
    /// v1: the database does not exist (404 "database not found").
    DbNotFound,
    /// Will not get better by retrying (400 bad line, 401, 403, 413, …).
    Fatal { msg: String },
}

/// The end result of a write with retries.
#[derive(Debug)]
pub(crate) enum WriteResult {
    Delivered,
    /// The server refused the batch (a 4xx other than 404/408/429).
    Rejected(String),
    /// Every attempt failed with a connection error or a retryable status.
    GaveUp {
        msg: String,
        network: bool,
    },
}

#[derive(Clone)]
pub(crate) struct Client {
    pub cfg: InfluxConfig,
    write_agent: ureq::Agent,
    query_agent: ureq::Agent,
    auth: Option<String>,
}

impl Client {
    pub fn new(cfg: InfluxConfig) -> Client {
        let write_agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout))
            .max_idle_connections_per_host(cfg.max_in_flight.max(1) + 2)
            .build()
            .into();
        let query_agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(cfg.timeout))
            .timeout_recv_response(Some(cfg.timeout * 6))
            .timeout_per_read(Some(cfg.timeout * 6))
            .build()
            .into();
        let auth = cfg.authorization();
        Client { cfg, write_agent, query_agent, auth }
    }

    fn url(&self) -> String {
        self.cfg.display_url()
    }

    pub fn clean(&self, s: &str) -> String {
        scrub(s, &self.cfg.secrets())
    }

    fn net_msg(&self, e: &ureq::Error) -> String {
        self.clean(&e.to_string())
    }

    /// `GET /ping`: `Ok` when the server answers at all with 2xx.
    pub fn ping(&self) -> Result<(), InfluxError> {
        let url = format!("{}/ping", self.cfg.base);
        let mut req = self.write_agent.get(&url);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        match req.call() {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(mut r) => Err(InfluxError::Http { url: self.url(), status: r.status().as_u16(), body: self.body_snippet(r.body_mut()) }),
            Err(e) => Err(InfluxError::Unreachable { url: self.url(), msg: self.net_msg(&e) }),
        }
    }

    fn body_snippet(&self, body: &mut ureq::Body) -> String {
        crate::remote::body_snippet(body, &self.cfg.secrets())
    }

    /// One `POST` of a gzip-compressed line-protocol body.
    pub fn write_once(&self, gz_body: &[u8]) -> Attempt {
        let mut req = self
            .write_agent
            .post(self.cfg.write_url())
            .header("Content-Encoding", "gzip")
            .header("Content-Type", "text/plain; charset=utf-8");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        match req.send(gz_body) {
            Ok(mut r) => {
                let status = r.status().as_u16();
                if (200..300).contains(&status) {
                    return Attempt::Ok;
                }
                let retry_after = crate::remote::retry_after(r.headers());
                let body = self.body_snippet(r.body_mut());
                match status {
                    404 if matches!(self.cfg.api, InfluxApi::V1 { .. }) && body.contains("database not found") => Attempt::DbNotFound,
                    408 | 429 | 500..=599 => Attempt::Retry { retry_after, msg: format!("HTTP {status}: {body}"), network: false },
                    _ => Attempt::Fatal { msg: format!("HTTP {status}: {body}") },
                }
            }
            Err(e) => Attempt::Retry { retry_after: None, msg: self.net_msg(&e), network: true },
        }
    }

    /// Writes with the config's retry schedule. `sleep` waits (tests pass a recorder);
    /// `jitter` yields numbers in `[0, 1)`. Returns the result and the number of retries.
    pub fn write_with_retries(
        &self,
        gz_body: &[u8],
        max_attempts: u32,
        sleep: &mut dyn FnMut(Duration),
        jitter: &mut dyn FnMut() -> f64,
    ) -> (WriteResult, u32) {
        let policy = &self.cfg.retry;
        let mut retries = 0u32;
        let mut created_db = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.write_once(gz_body) {
                Attempt::Ok => return (WriteResult::Delivered, retries),
                Attempt::DbNotFound if !created_db => {
                    created_db = true;
                    if let Err(e) = self.create_database() {
                        return (WriteResult::Rejected(e.to_string()), retries);
                    }
                    attempt -= 1; // creating the database is not a failed attempt
                    continue;
                }
                Attempt::DbNotFound => {
                    return (WriteResult::Rejected("HTTP 404: database not found".into()), retries);
                }
                Attempt::Fatal { msg, .. } => return (WriteResult::Rejected(msg), retries),
                Attempt::Retry { retry_after, msg, network } => {
                    if attempt >= max_attempts.max(1) {
                        return (WriteResult::GaveUp { msg, network }, retries);
                    }
                    retries += 1;
                    sleep(policy.after_retry_after(retries, jitter(), retry_after));
                }
            }
        }
    }

    /// v1: `CREATE DATABASE "db"` (no-op when it exists), as k6 does at start.
    pub fn create_database(&self) -> Result<(), InfluxError> {
        if let InfluxApi::V1 { db, .. } = &self.cfg.api {
            let q = format!("CREATE DATABASE {}", quote_ident(db));
            self.post_query(&q)?;
        }
        Ok(())
    }

    /// A statement with side effects (`POST /query`), answer checked for errors.
    pub fn post_query(&self, q: &str) -> Result<QueryResponse, InfluxError> {
        let url = format!("{}/query?q={}", self.cfg.base, percent_encode(q));
        let mut req = self.query_agent.post(&url);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send_empty().map_err(|e| InfluxError::Unreachable { url: self.url(), msg: self.net_msg(&e) })?;
        self.read_whole(resp)
    }

    fn get_query(&self, q: &str, chunked: bool) -> Result<ureq::http::Response<ureq::Body>, InfluxError> {
        let url = format!("{}/query", self.cfg.base);
        let mut req = self.query_agent.get(&url).query("db", self.cfg.query_db()).query("epoch", "ns").query("q", q);
        if let InfluxApi::V1 { rp: Some(rp), .. } = &self.cfg.api {
            req = req.query("rp", rp);
        }
        if chunked {
            req = req.query("chunked", "true").query("chunk_size", "10000");
        }
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| InfluxError::Unreachable { url: self.url(), msg: self.net_msg(&e) })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = self.body_snippet(resp.body_mut());
            return Err(InfluxError::Http { url: self.url(), status, body });
        }
        Ok(resp)
    }

    fn read_whole(&self, resp: ureq::http::Response<ureq::Body>) -> Result<QueryResponse, InfluxError> {
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        if !(200..300).contains(&status) {
            return Err(InfluxError::Http { url: self.url(), status, body: self.body_snippet(&mut body) });
        }
        let text = body
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(|e| InfluxError::Unreachable { url: self.url(), msg: self.net_msg(&e) })?;
        let r: QueryResponse = serde_json::from_str(&text)
            .map_err(|e| InfluxError::Query { url: self.url(), msg: format!("answer is not InfluxDB JSON: {e}") })?;
        r.check(self)?;
        Ok(r)
    }

    /// A read-only statement, whole answer in memory (for small answers: SHOW, aggregates).
    pub fn query(&self, q: &str) -> Result<QueryResponse, InfluxError> {
        let resp = self.get_query(q, false)?;
        self.read_whole(resp)
    }

    /// A read-only statement answered in chunks (`chunked=true`): one JSON document per
    /// line, read as the caller asks for them.
    pub fn query_chunked(&self, q: &str) -> Result<ChunkReader, InfluxError> {
        let resp = self.get_query(q, true)?;
        Ok(ChunkReader {
            reader: BufReader::with_capacity(256 * 1024, Box::new(resp.into_body().into_reader())),
            line: String::new(),
            client: self.clone(),
        })
    }

    pub fn query_error(&self, msg: impl Into<String>) -> InfluxError {
        InfluxError::Query { url: self.url(), msg: self.clean(&msg.into()) }
    }
}

/// Double-quotes an InfluxQL identifier (`"duration"` is a keyword otherwise).
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Single-quotes an InfluxQL string literal.
pub(crate) fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// InfluxDB's `/query` JSON.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct QueryResponse {
    #[serde(default)]
    pub results: Vec<StatementResult>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct StatementResult {
    #[serde(default)]
    pub series: Vec<Series>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Series {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
}

impl QueryResponse {
    fn check(&self, c: &Client) -> Result<(), InfluxError> {
        if let Some(e) = &self.error {
            return Err(c.query_error(e.clone()));
        }
        for r in &self.results {
            if let Some(e) = &r.error {
                return Err(c.query_error(e.clone()));
            }
        }
        Ok(())
    }

    /// All series of all statements.
    pub fn into_series(self) -> impl Iterator<Item = Series> {
        self.results.into_iter().flat_map(|r| r.series)
    }
}

/// Reads a chunked `/query` answer one JSON document at a time.
pub(crate) struct ChunkReader {
    reader: BufReader<Box<dyn Read + Send>>,
    line: String,
    client: Client,
}

impl ChunkReader {
    /// The next chunk, or `None` at the end of the answer.
    pub fn next_chunk(&mut self) -> Result<Option<QueryResponse>, InfluxError> {
        loop {
            self.line.clear();
            let n = self
                .reader
                .read_line(&mut self.line)
                .map_err(|e| InfluxError::Unreachable { url: self.client.url(), msg: self.client.clean(&e.to_string()) })?;
            if n == 0 {
                return Ok(None);
            }
            if self.line.trim().is_empty() {
                continue;
            }
            let r: QueryResponse =
                serde_json::from_str(&self.line).map_err(|e| self.client.query_error(format!("chunk is not InfluxDB JSON: {e}")))?;
            r.check(&self.client)?;
            return Ok(Some(r));
        }
    }
}
