//! A checked, compiled run plan: the scenario file with CLI overrides applied, targets
//! resolved (local only by default), templates compiled to variable slots, request
//! tags interned. Building it sends nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use slo_config::scenario::{Body, Capture, ExecutorConfig, Expect, JsonTemplate, Part, PayloadOrder, ScenarioFile, Step, Template};
use slo_config::Location;
use slo_model::{Method, SampleTags, Tags};

use crate::schedule::Segment;

/// Why a plan could not be built. Messages name the flag or the file position.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A target host off the loopback (127.0.0.0/8, localhost, [::1]) without `allow_remote`.
    #[error("{at}: target host {host:?} refused: slo run only sends traffic to the loopback (127.0.0.0/8, localhost, [::1]; safety default); pass --target http://127.0.0.1:PORT")]
    RemoteTarget {
        /// Where the URL came from (`--target` or file:line:col).
        at: String,
        /// The host.
        host: String,
    },
    /// A URL that is not `http://host[:port][/path]`.
    #[error("{at}: invalid target URL {url:?}: {reason}")]
    BadUrl {
        /// Where the URL came from.
        at: String,
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Relative request URLs and no target.
    #[error("{at}: request URL {url:?} is relative but no target is set: add config.target or pass --target http://127.0.0.1:PORT")]
    NoTarget {
        /// The step's position.
        at: Location,
        /// The URL.
        url: String,
    },
    /// A `--tag` that is not `key=value` or collides with a system tag.
    #[error("--tag {0:?}: {1}")]
    BadTag(String, String),
    /// A header value that HTTP does not allow.
    #[error("{at}: invalid header {name:?}: {reason}")]
    BadHeader {
        /// Where.
        at: Location,
        /// Header name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The segment leaves nothing to run.
    #[error("--segment {0}: this segment gets no VUs and no iterations in any scenario")]
    EmptySegment(String),
}

/// What the command line changes in a scenario file.
#[derive(Debug, Clone, Default)]
pub struct PlanOverrides {
    /// `--target URL`: replaces `config.target` (e.g. `http://127.0.0.1:8080`).
    pub target: Option<String>,
    /// `--segment from:to`: run this k6 execution segment only.
    pub segment: Option<Segment>,
    /// `--tag k=v`: run tags, added to every sample (override file tags of the same key).
    pub tags: Vec<(String, String)>,
    /// Permit hosts other than loopback. Off by default; the `slo` binary does not
    /// expose it in tests, so no test sends traffic off the machine.
    pub allow_remote: bool,
}

/// k6 system tags a user tag may not replace.
const SYSTEM_TAGS: &[&str] =
    &["expected_response", "group", "method", "name", "proto", "scenario", "status", "url", "error_code", "error", "check"];

/// A resolved HTTP endpoint (scheme http, host, port).
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub addr: SocketAddr,
    pub host_header: HeaderValue,
    /// Path prefix of the target (no trailing `/`), prepended to relative URLs.
    pub base_path: String,
}

/// Compiled template part; variables are slot numbers.
#[derive(Debug, Clone)]
pub(crate) enum CPart {
    Lit(Box<str>),
    Var(usize),
    RandomNumber(i64, i64),
    RandomString(usize),
}

/// Compiled template.
#[derive(Debug, Clone, Default)]
pub(crate) struct CTemplate {
    pub parts: Vec<CPart>,
}

impl CTemplate {
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [CPart::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

/// Compiled JSON body.
#[derive(Debug, Clone)]
pub(crate) enum CJson {
    /// Pre-rendered JSON text (no templates below).
    Raw(Box<str>),
    Str(CTemplate),
    Arr(Vec<CJson>),
    Obj(Vec<(Box<str>, CJson)>),
}

#[derive(Debug, Clone)]
pub(crate) enum CBody {
    Static(Bytes),
    Json(CJson),
    Raw(CTemplate),
}

#[derive(Debug, Clone)]
pub(crate) enum CHeaderValue {
    Static(HeaderValue),
    Template(CTemplate),
}

#[derive(Debug, Clone)]
pub(crate) enum CCaptureSource {
    Json(Vec<slo_config::scenario::PathStep>),
    Header(HeaderName),
}

#[derive(Debug, Clone)]
pub(crate) struct CCapture {
    pub source: CCaptureSource,
    pub slot: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct CExpect {
    pub rule: Expect,
    pub header: Option<HeaderName>,
    pub check_name: Arc<str>,
}

#[derive(Debug, Clone)]
pub(crate) struct CRequest {
    pub method: Method,
    pub endpoint: usize,
    /// Path (template), without the endpoint's base path.
    pub path: CTemplate,
    pub qs: Vec<(Box<str>, CTemplate)>,
    pub headers: Vec<(HeaderName, CHeaderValue)>,
    pub body: Option<CBody>,
    pub captures: Vec<CCapture>,
    pub expects: Vec<CExpect>,
    pub name: Arc<str>,
    pub url: Arc<str>,
    /// Whether the body must be kept (captures or expectations read it).
    pub needs_body: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum CStep {
    Request(Box<CRequest>),
    Think(Duration),
    Loop(u64, Vec<CStep>),
}

#[derive(Debug, Clone)]
pub(crate) struct CFlow {
    pub name: String,
    pub weight: u32,
    pub steps: Vec<CStep>,
}

#[derive(Debug, Clone)]
pub(crate) struct CVariable {
    pub slot: usize,
    pub values: Vec<(String, bool)>,
}

#[derive(Debug, Clone)]
pub(crate) struct CPayload {
    pub slots: Vec<usize>,
    pub rows: Vec<Vec<String>>,
    pub order: PayloadOrder,
}

/// A scenario (executor) ready to run.
#[derive(Debug, Clone)]
pub(crate) struct CScenario {
    pub config: ExecutorConfig,
    /// Flow indices selectable, with cumulative weights.
    pub flows: Vec<(usize, u64)>,
    /// Tags per selectable flow (same order as `flows`).
    pub tags: Vec<Arc<SampleTags>>,
}

/// A checked, compiled run plan. Build it with [`Plan::build`]; run it with
/// [`crate::Run::start`].
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) scenarios: Vec<CScenario>,
    pub(crate) flows: Vec<CFlow>,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) n_slots: usize,
    pub(crate) variables: Vec<CVariable>,
    pub(crate) payloads: Vec<CPayload>,
    pub(crate) request_timeout: Duration,
    pub(crate) segment: Segment,
    pub(crate) run_tags: Arc<Tags>,
    scenario_file: String,
}

impl Plan {
    /// Compiles a scenario file with command-line overrides.
    ///
    /// # Errors
    /// [`PlanError`] for a remote or malformed target, relative URLs without a target,
    /// a bad `--tag`, a bad header value, or a segment that gets nothing to run.
    pub fn build(file: &ScenarioFile, ov: &PlanOverrides) -> Result<Plan, PlanError> {
        let mut c = Compiler { slots: Vec::new(), endpoints: Vec::new(), allow_remote: ov.allow_remote };
        // Variables first so their slots are stable.
        for v in &file.variables {
            c.slot(&v.name);
        }
        let default_target = match (&ov.target, &file.target) {
            (Some(t), _) => Some(c.endpoint(t, "--target")?),
            (None, Some((t, loc))) => Some(c.endpoint(t, &loc.to_string())?),
            (None, None) => None,
        };
        let mut default_headers = Vec::new();
        let file_loc = Location { file: file.path.clone(), line: 1, column: 1 };
        for (name, t) in &file.default_headers {
            default_headers.push(c.header(name, t, &file_loc)?);
        }
        let variables: Vec<CVariable> = file
            .variables
            .iter()
            .map(|v| CVariable { slot: c.slot(&v.name), values: v.values.iter().map(|x| (x.text.clone(), x.raw_json)).collect() })
            .collect();
        let payloads: Vec<CPayload> = file
            .payloads
            .iter()
            .map(|p| CPayload { slots: p.fields.iter().map(|f| c.slot(f)).collect(), rows: p.rows.clone(), order: p.order })
            .collect();
        let mut flows = Vec::new();
        for f in &file.flows {
            flows.push(CFlow { name: f.name.clone(), weight: f.weight, steps: c.steps(&f.steps, default_target, &default_headers)? });
        }

        let mut run_tags: Vec<(String, String)> = file.tags.clone();
        for (k, v) in &ov.tags {
            if k.is_empty() {
                return Err(PlanError::BadTag(format!("{k}={v}"), "empty key".into()));
            }
            run_tags.push((k.clone(), v.clone()));
        }
        for (k, _) in &run_tags {
            if SYSTEM_TAGS.contains(&k.as_str()) {
                return Err(PlanError::BadTag(k.clone(), format!("`{k}` is a k6 system tag and cannot be set")));
            }
        }
        let run_tags_t = Arc::new(Tags::from_pairs(run_tags.iter().cloned()));

        let segment = ov.segment.unwrap_or_default();
        let mut scenarios = Vec::new();
        for s in &file.scenarios {
            let selectable: Vec<usize> = match &s.exec {
                Some(name) => flows.iter().position(|f| &f.name == name).into_iter().collect(),
                None => (0..flows.len()).filter(|i| flows[*i].weight > 0).collect(),
            };
            let mut cum = 0u64;
            let mut fl = Vec::new();
            let mut tags = Vec::new();
            for i in selectable {
                cum += u64::from(flows[i].weight.max(u32::from(s.exec.is_some())));
                fl.push((i, cum));
                let mut extra: Vec<(String, String)> = run_tags.clone();
                extra.extend(s.tags.iter().cloned());
                if file.flows.len() > 1 || s.exec.is_none() {
                    extra.push(("flow".into(), flows[i].name.clone()));
                }
                for (k, _) in &extra {
                    if SYSTEM_TAGS.contains(&k.as_str()) {
                        return Err(PlanError::BadTag(k.clone(), format!("scenario {:?}: `{k}` is a k6 system tag", s.name)));
                    }
                }
                tags.push(Arc::new(SampleTags {
                    scenario: s.name.as_str().into(),
                    group: "".into(),
                    extra: Arc::new(Tags::from_pairs(extra)),
                }));
            }
            scenarios.push(CScenario { config: s.clone(), flows: fl, tags });
        }
        let plan = Plan {
            scenarios,
            flows,
            endpoints: c.endpoints.into_iter().map(|(_, e)| e).collect(),
            n_slots: c.slots.len(),
            variables,
            payloads,
            request_timeout: file.request_timeout,
            segment,
            run_tags: run_tags_t,
            scenario_file: file.path.clone(),
        };
        if !segment.is_full() && plan.scenarios.iter().all(|s| !crate::run::has_work(&s.config.executor, &segment)) {
            return Err(PlanError::EmptySegment(segment.to_string()));
        }
        Ok(plan)
    }

    /// The scheduled run length: latest `startTime` + duration (or `maxDuration`) over
    /// the scenarios, without `gracefulStop`. For the progress line's total.
    pub fn scheduled_duration(&self) -> Duration {
        self.scenarios.iter().map(|s| s.config.start_time + s.config.executor.scheduled_duration()).max().unwrap_or_default()
    }

    /// The run tags (file `tags` plus `--tag`), for the run's metadata.
    pub fn run_tags(&self) -> &Tags {
        &self.run_tags
    }

    /// The scenario file the plan came from, as named.
    pub fn scenario_file(&self) -> &str {
        &self.scenario_file
    }

    /// Scenario names with their executor kinds, in file order.
    pub fn scenario_names(&self) -> Vec<(String, &'static str)> {
        self.scenarios.iter().map(|s| (s.config.name.clone(), s.config.executor.kind())).collect()
    }

    /// The execution segment this plan runs.
    pub fn segment(&self) -> Segment {
        self.segment
    }
}

struct Compiler {
    slots: Vec<String>,
    endpoints: Vec<(String, Endpoint)>,
    allow_remote: bool,
}

impl Compiler {
    fn slot(&mut self, name: &str) -> usize {
        match self.slots.iter().position(|s| s == name) {
            Some(i) => i,
            None => {
                self.slots.push(name.to_string());
                self.slots.len() - 1
            }
        }
    }

    /// Parses `http://host[:port][/base]` into an endpoint index.
    fn endpoint(&mut self, url: &str, at: &str) -> Result<usize, PlanError> {
        let shown = slo_model::redact_url(url);
        let bad = |reason: &str| PlanError::BadUrl { at: at.to_string(), url: shown.clone(), reason: reason.to_string() };
        let lower = url.to_ascii_lowercase();
        let rest = if lower.starts_with("http://") {
            &url[7..]
        } else if lower.starts_with("https://") {
            let host = url[8..].split(['/', ':']).next().unwrap_or("");
            if !self.allow_remote && !is_loopback_name(host.trim_start_matches('[').trim_end_matches(']')) {
                return Err(PlanError::RemoteTarget { at: at.to_string(), host: host.to_string() });
            }
            return Err(bad("https is not supported by slo run (plain HTTP/1.1 only)"));
        } else {
            return Err(bad("expected http://host[:port][/path]"));
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].trim_end_matches('/')),
            Some(_) => return Err(bad("a target takes no query or fragment (put `?…` in a step's url or qs)")),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err(bad("a target takes no query or fragment (put `?…` in a step's url or qs)"));
        }
        if authority.contains('@') {
            return Err(bad("credentials in URLs are not supported"));
        }
        if authority.contains("{{") || path.contains("{{") {
            return Err(bad("templates are not allowed in the scheme, host or port"));
        }
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let end = h.find(']').ok_or_else(|| bad("unclosed [ in IPv6 host"))?;
            let port = h[end + 1..].strip_prefix(':').map(|p| p.parse::<u16>().map_err(|_| bad("invalid port"))).transpose()?;
            (&h[..end], port.unwrap_or(80))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("invalid port"))?),
                None => (authority, 80),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let key = format!("{host}:{port}{path}");
        if let Some(i) = self.endpoints.iter().position(|(k, _)| *k == key) {
            return Ok(i);
        }
        let addr = if host.eq_ignore_ascii_case("localhost") {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            if !self.allow_remote && !ip.is_loopback() {
                return Err(PlanError::RemoteTarget { at: at.to_string(), host: host.to_string() });
            }
            SocketAddr::new(ip, port)
        } else if !self.allow_remote {
            return Err(PlanError::RemoteTarget { at: at.to_string(), host: host.to_string() });
        } else {
            (host, port)
                .to_socket_addrs()
                .map_err(|e| bad(&format!("cannot resolve host: {e}")))?
                .next()
                .ok_or_else(|| bad("host resolves to no address"))?
        };
        let host_header = if port == 80 { authority.split(':').next().unwrap_or(host).to_string() } else { authority.to_string() };
        let host_header = HeaderValue::from_str(&host_header).map_err(|_| bad("invalid host"))?;
        self.endpoints.push((key, Endpoint { addr, host_header, base_path: path.to_string() }));
        Ok(self.endpoints.len() - 1)
    }

    fn template(&mut self, t: &Template) -> CTemplate {
        let mut parts: Vec<CPart> = Vec::new();
        for p in &t.parts {
            parts.push(match p {
                Part::Lit(s) => CPart::Lit(s.as_str().into()),
                Part::Var(v) => CPart::Var(self.slot(v)),
                Part::RandomNumber(a, b) => CPart::RandomNumber(*a, *b),
                Part::RandomString(n) => CPart::RandomString(*n),
            });
        }
        CTemplate { parts }
    }

    fn header(&mut self, name: &str, t: &Template, at: &Location) -> Result<(HeaderName, CHeaderValue), PlanError> {
        let hn = HeaderName::from_bytes(name.as_bytes()).map_err(|e| PlanError::BadHeader {
            at: at.clone(),
            name: name.into(),
            reason: e.to_string(),
        })?;
        let v = match t.literal() {
            Some(s) => CHeaderValue::Static(HeaderValue::from_str(&s).map_err(|e| PlanError::BadHeader {
                at: at.clone(),
                name: name.into(),
                reason: e.to_string(),
            })?),
            None => CHeaderValue::Template(self.template(t)),
        };
        Ok((hn, v))
    }

    fn json(&mut self, j: &JsonTemplate) -> CJson {
        match j {
            JsonTemplate::Null => CJson::Raw("null".into()),
            JsonTemplate::Bool(b) => CJson::Raw(if *b { "true" } else { "false" }.into()),
            JsonTemplate::Number(n) => CJson::Raw(n.as_str().into()),
            JsonTemplate::String(t) => match t.literal() {
                Some(s) => CJson::Raw(serde_json::Value::String(s).to_string().into()),
                None => CJson::Str(self.template(t)),
            },
            JsonTemplate::Array(a) => {
                let items: Vec<CJson> = a.iter().map(|x| self.json(x)).collect();
                if items.iter().all(|x| matches!(x, CJson::Raw(_))) {
                    let parts: Vec<&str> = items.iter().map(|x| if let CJson::Raw(s) = x { &**s } else { "" }).collect();
                    CJson::Raw(format!("[{}]", parts.join(",")).into())
                } else {
                    CJson::Arr(items)
                }
            }
            JsonTemplate::Object(o) => {
                let items: Vec<(Box<str>, CJson)> =
                    o.iter().map(|(k, v)| (serde_json::Value::String(k.clone()).to_string().into(), self.json(v))).collect();
                if items.iter().all(|(_, x)| matches!(x, CJson::Raw(_))) {
                    let parts: Vec<String> =
                        items.iter().map(|(k, x)| format!("{k}:{}", if let CJson::Raw(s) = x { &**s } else { "" })).collect();
                    CJson::Raw(format!("{{{}}}", parts.join(",")).into())
                } else {
                    CJson::Obj(items)
                }
            }
        }
    }

    fn steps(
        &mut self,
        steps: &[Step],
        default_target: Option<usize>,
        default_headers: &[(HeaderName, CHeaderValue)],
    ) -> Result<Vec<CStep>, PlanError> {
        let mut out = Vec::new();
        for s in steps {
            out.push(match s {
                Step::Think(d) => CStep::Think(*d),
                Step::Loop { count, steps } => CStep::Loop(*count, self.steps(steps, default_target, default_headers)?),
                Step::Request(r) => {
                    let lower = r.url_source.to_ascii_lowercase();
                    let (endpoint, path) = if lower.starts_with("http://") || lower.starts_with("https://") {
                        // absolute: split scheme://authority from the path template
                        let after = r.url_source.find("://").map(|i| i + 3).unwrap_or(0);
                        let slash = r.url_source[after..].find(['/', '?', '#']).map(|i| i + after).unwrap_or(r.url_source.len());
                        let ep = self.endpoint(&r.url_source[..slash], &r.location.to_string())?;
                        let rest = &r.url_source[slash..];
                        let rest = if rest.starts_with('/') || rest.is_empty() { rest.to_string() } else { format!("/{rest}") };
                        let path = slo_config::scenario::parse_template(&rest).unwrap_or_default();
                        (ep, path)
                    } else {
                        let Some(ep) = default_target else {
                            return Err(PlanError::NoTarget { at: r.location.clone(), url: r.url_source.clone() });
                        };
                        (ep, r.url.clone())
                    };
                    let mut headers: Vec<(HeaderName, CHeaderValue)> = Vec::new();
                    for (n, t) in &r.headers {
                        headers.push(self.header(n, t, &r.location)?);
                    }
                    for (n, v) in default_headers {
                        if !headers.iter().any(|(h, _)| h == n) {
                            headers.push((n.clone(), v.clone()));
                        }
                    }
                    let body = match &r.body {
                        None => None,
                        Some(Body::Json(j)) => {
                            if !headers.iter().any(|(h, _)| h == CONTENT_TYPE) {
                                headers.push((CONTENT_TYPE, CHeaderValue::Static(HeaderValue::from_static("application/json"))));
                            }
                            Some(match self.json(j) {
                                CJson::Raw(s) => CBody::Static(Bytes::from(s.into_string())),
                                other => CBody::Json(other),
                            })
                        }
                        Some(Body::Raw(t)) => Some(match t.literal() {
                            Some(s) => CBody::Static(Bytes::from(s)),
                            None => CBody::Raw(self.template(t)),
                        }),
                    };
                    let captures =
                        r.captures
                            .iter()
                            .map(|c: &Capture| {
                                let source =
                                    match &c.source {
                                        slo_config::scenario::CaptureSource::Json(p) => CCaptureSource::Json(p.steps.clone()),
                                        slo_config::scenario::CaptureSource::Header(h) => {
                                            CCaptureSource::Header(HeaderName::from_bytes(h.as_bytes()).map_err(|e| {
                                                PlanError::BadHeader { at: r.location.clone(), name: h.clone(), reason: e.to_string() }
                                            })?)
                                        }
                                    };
                                Ok(CCapture { source, slot: self.slot(&c.var) })
                            })
                            .collect::<Result<Vec<_>, PlanError>>()?;
                    let method = r.method;
                    let expects =
                        r.expects
                            .iter()
                            .map(|e| {
                                let header = match e {
                                    Expect::HasHeader(h) => Some(HeaderName::from_bytes(h.as_bytes()).map_err(|err| {
                                        PlanError::BadHeader { at: r.location.clone(), name: h.clone(), reason: err.to_string() }
                                    })?),
                                    _ => None,
                                };
                                Ok(CExpect {
                                    rule: e.clone(),
                                    header,
                                    check_name: format!("{} {}: {}", method.as_str(), r.name, e.describe()).into(),
                                })
                            })
                            .collect::<Result<Vec<_>, PlanError>>()?;
                    let needs_body = captures.iter().any(|c| matches!(c.source, CCaptureSource::Json(_)))
                        || expects.iter().any(|e| matches!(e.rule, Expect::HasProperty(_)));
                    let qs = r.qs.iter().map(|(k, t)| (k.as_str().into(), self.template(t))).collect();
                    let path = self.template(&path);
                    CStep::Request(Box::new(CRequest {
                        method,
                        endpoint,
                        path,
                        qs,
                        headers,
                        body,
                        captures,
                        expects,
                        name: r.name.as_str().into(),
                        url: r.url_source.as_str().into(),
                        needs_body,
                    }))
                }
            });
        }
        Ok(out)
    }
}

fn is_loopback_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host == Ipv6Addr::LOCALHOST.to_string()
}
