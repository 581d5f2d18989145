//! Scenario files for `slo run`: k6 `options` written as YAML (`scenarios` with k6's six
//! common executors, the `vus`/`duration`/`iterations`/`stages` shortcuts, `thresholds`,
//! `tags`) and flows in Artillery's shape (`config.target`, weighted `scenarios` with
//! `flow` steps, `think`, `loop`, `{{ var }}` templates, `variables`, CSV `payload`,
//! `config.phases`, `config.ensure`, `config.defaults.headers`).
//!
//! Everything is checked here, before any request is sent, and every error names
//! `file:line:column` ([`ConfigError`]).
//!
//! # Shape
//!
//! ```yaml
//! config:                  # Artillery's config block (all keys optional)
//!   target: http://127.0.0.1:8080
//!   phases: [{duration: 60, arrivalRate: 5, rampTo: 20}]   # → ramping-arrival-rate
//!   defaults: {headers: {Content-Type: application/json}}
//!   ensure: {p95: 500, maxErrorRate: 1}                      # → thresholds
//!   variables: {userId: [1, 2, 3]}
//!   payload: {path: users.csv, fields: [user, pass], order: sequence}
//!   http: {timeout: 10}                                      # seconds
//!   plugins: {...}                                           # ignored
//! scenarios:               # a LIST: Artillery flows; a MAPPING: k6 scenarios
//!   - name: browse
//!     weight: 2
//!     flow:
//!       - get: {url: "/api/products/{{ $randomNumber(1, 100) }}", name: product}
//!       - think: 1
//!       - loop: [{get: {url: /}}]
//!         count: 3
//! flows: [...]             # Artillery-shaped flows when `scenarios` is a k6 mapping
//! vus: 10                  # k6 shortcuts (refused together with a `scenarios` mapping)
//! duration: 30s
//! thresholds: {http_req_duration: ['p(95)<500']}
//! tags: {team: checkout}
//! ```
//!
//! `options:` may wrap the k6 keys (`scenarios` mapping, shortcuts, `thresholds`,
//! `tags`) as in a k6 script.
//!
//! # Mapping of Artillery onto k6
//!
//! * Each arrival of an Artillery phase is one iteration of an arrival-rate executor;
//!   all phases become one `ramping-arrival-rate` scenario named `default` whose stages
//!   follow the phases (a constant phase after a different rate is a 0 s jump stage).
//!   `maxVusers` of a phase caps `maxVUs`; otherwise `maxVUs` is 1000 or 60 s of the
//!   peak rate if larger, `preAllocatedVUs` the peak rate per second (at least 1).
//! * `ensure.p95: N` → `http_req_duration: p(95)<=N`; `p99`, `median`→`med`, `max`,
//!   `min` likewise; `maxErrorRate: P` (percent) → `http_req_failed: rate<=P/100`.
//!   Artillery fails a run when the value *exceeds* the limit, hence `<=`.
//! * `variables` lists: each iteration picks one value at random.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use slo_model::{parse_duration, Method};

use crate::error::ConfigError;
use crate::grammar::{parse_metric_key, parse_threshold_expr};
use crate::threshold::{Location, MetricThresholds, Threshold, ThresholdSet};
use crate::yaml::{self, Kind, Node, Reader};

/// A parsed and checked scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    /// The file as the user named it.
    pub path: String,
    /// `config.target` as written, with where; `None` when absent (then `--target` is
    /// required for relative URLs).
    pub target: Option<(String, Location)>,
    /// Load model: the k6 scenarios (executors), in the order written.
    pub scenarios: Vec<ExecutorConfig>,
    /// Flows (Artillery scenarios), in the order written.
    pub flows: Vec<Flow>,
    /// `config.variables`: name → values (one picked at random per iteration).
    pub variables: Vec<Variable>,
    /// `config.payload` CSV feeders, rows loaded.
    pub payloads: Vec<Payload>,
    /// `config.defaults.headers`, sent with every request unless the step overrides.
    pub default_headers: Vec<(String, Template)>,
    /// k6 `thresholds` plus the ones `config.ensure` implies.
    pub thresholds: ThresholdSet,
    /// k6 `tags`: tags of every sample of the run.
    pub tags: Vec<(String, String)>,
    /// Request timeout (Artillery `config.http.timeout` in seconds; k6's default 60 s).
    pub request_timeout: Duration,
}

/// One k6 scenario: an executor with its common options.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorConfig {
    /// Scenario name (the k6 `scenario` tag).
    pub name: String,
    /// Where it was written (the file start for derived scenarios).
    pub location: Location,
    /// Executor and its own options.
    pub executor: Executor,
    /// k6 `startTime`: offset from the run start (default 0 s).
    pub start_time: Duration,
    /// k6 `gracefulStop`: how long running iterations may go on past the end (default 30 s).
    pub graceful_stop: Duration,
    /// k6 `exec`: the flow to run; `None` picks among all flows by weight.
    pub exec: Option<String>,
    /// k6 scenario `tags`.
    pub tags: Vec<(String, String)>,
}

/// A k6 ramp stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Stage length.
    pub duration: Duration,
    /// Target reached at the stage end: VUs, or iterations per `timeUnit`.
    pub target: f64,
}

/// k6's executors with their options (k6 `lib/executor/*.go`; defaults from there).
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// `constant-vus`: `vus` (default 1) VUs loop for `duration`.
    ConstantVus {
        /// VUs.
        vus: u64,
        /// Run time.
        duration: Duration,
    },
    /// `ramping-vus`: the VU count follows `stages` from `startVUs` (default 1).
    RampingVus {
        /// VUs at the start.
        start_vus: u64,
        /// Stages; `target` is a VU count.
        stages: Vec<Stage>,
        /// `gracefulRampDown` (default 30 s).
        graceful_ramp_down: Duration,
    },
    /// `constant-arrival-rate`: `rate` iterations per `timeUnit` for `duration`.
    ConstantArrivalRate {
        /// Iterations per `time_unit`.
        rate: f64,
        /// `timeUnit` (default 1 s).
        time_unit: Duration,
        /// Run time.
        duration: Duration,
        /// VUs allocated at the start.
        pre_allocated_vus: u64,
        /// Most VUs (default = preAllocatedVUs).
        max_vus: u64,
    },
    /// `ramping-arrival-rate`: the rate follows `stages` from `startRate` (default 0).
    RampingArrivalRate {
        /// Iterations per `time_unit` at the start.
        start_rate: f64,
        /// `timeUnit` (default 1 s).
        time_unit: Duration,
        /// Stages; `target` is a rate.
        stages: Vec<Stage>,
        /// VUs allocated at the start.
        pre_allocated_vus: u64,
        /// Most VUs (default = preAllocatedVUs).
        max_vus: u64,
    },
    /// `per-vu-iterations`: each of `vus` VUs runs `iterations` iterations.
    PerVuIterations {
        /// VUs (default 1).
        vus: u64,
        /// Iterations per VU (default 1).
        iterations: u64,
        /// `maxDuration` (default 10 m).
        max_duration: Duration,
    },
    /// `shared-iterations`: `vus` VUs share `iterations` iterations.
    SharedIterations {
        /// VUs (default 1).
        vus: u64,
        /// Iterations in total (default 1).
        iterations: u64,
        /// `maxDuration` (default 10 m).
        max_duration: Duration,
    },
}

impl Executor {
    /// k6's name of the executor, e.g. `constant-arrival-rate`.
    pub fn kind(&self) -> &'static str {
        match self {
            Executor::ConstantVus { .. } => "constant-vus",
            Executor::RampingVus { .. } => "ramping-vus",
            Executor::ConstantArrivalRate { .. } => "constant-arrival-rate",
            Executor::RampingArrivalRate { .. } => "ramping-arrival-rate",
            Executor::PerVuIterations { .. } => "per-vu-iterations",
            Executor::SharedIterations { .. } => "shared-iterations",
        }
    }

    /// Scheduled length without `gracefulStop`: `duration`, the sum of stages, or
    /// `maxDuration` for the iteration-count executors (an upper bound).
    pub fn scheduled_duration(&self) -> Duration {
        match self {
            Executor::ConstantVus { duration, .. } | Executor::ConstantArrivalRate { duration, .. } => *duration,
            Executor::RampingVus { stages, .. } | Executor::RampingArrivalRate { stages, .. } => stages.iter().map(|s| s.duration).sum(),
            Executor::PerVuIterations { max_duration, .. } | Executor::SharedIterations { max_duration, .. } => *max_duration,
        }
    }
}

/// One flow (an Artillery scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Its name (Artillery `name`; `flow-N` when absent, N from 1).
    pub name: String,
    /// Selection weight (default 1).
    pub weight: u32,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Where it was written.
    pub location: Location,
}

/// One flow step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An HTTP request.
    Request(Box<RequestStep>),
    /// Artillery `think`: pause.
    Think(Duration),
    /// Artillery `loop` with `count`.
    Loop {
        /// Repetitions.
        count: u64,
        /// Steps repeated.
        steps: Vec<Step>,
    },
}

/// A request step (`get`, `post`, `put`, `patch`, `delete`).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestStep {
    /// Method.
    pub method: Method,
    /// URL template as written; relative (`/path`) or absolute `http://host:port/path`.
    pub url_source: String,
    /// The compiled URL template.
    pub url: Template,
    /// `name` tag (defaults to `url_source`).
    pub name: String,
    /// Headers (`headers`).
    pub headers: Vec<(String, Template)>,
    /// Query string parameters (`qs`), appended percent-encoded.
    pub qs: Vec<(String, Template)>,
    /// Body (`json` or `body`).
    pub body: Option<Body>,
    /// `capture` rules.
    pub captures: Vec<Capture>,
    /// `expect` rules (checks).
    pub expects: Vec<Expect>,
    /// Where the step was written.
    pub location: Location,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `json:` any YAML value with templates in strings; sent as JSON with
    /// `Content-Type: application/json` unless a header says otherwise.
    Json(JsonTemplate),
    /// `body:` a string template sent as is.
    Raw(Template),
}

/// A JSON value whose strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written (valid JSON number text).
    Number(String),
    /// A string template. When it is exactly one `{{ }}` expression whose value is a
    /// number (`$randomNumber`, a numeric variable, a captured JSON number), the value
    /// is sent unquoted, as Artillery does.
    String(Template),
    /// An array.
    Array(Vec<JsonTemplate>),
    /// An object, keys in the order written.
    Object(Vec<(String, JsonTemplate)>),
}

/// A `{{ }}` template: literal text and expressions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    /// Parts in order.
    pub parts: Vec<Part>,
}

impl Template {
    /// Whether the template is plain text (no expressions).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The text when it is literal.
    pub fn literal(&self) -> Option<String> {
        self.is_literal().then(|| self.parts.iter().map(|p| if let Part::Lit(s) = p { s.as_str() } else { "" }).collect())
    }

    /// Names of the variables it uses.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| if let Part::Var(v) = p { Some(v.as_str()) } else { None })
    }
}

/// One part of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// `{{ name }}`: a variable (from `variables`, `payload` fields or a capture).
    Var(String),
    /// `{{ $randomNumber(min, max) }}`: an integer uniformly in `min..=max`.
    RandomNumber(i64, i64),
    /// `{{ $randomString(n) }}`: `n` random ASCII letters and digits.
    RandomString(usize),
}

/// A `capture` rule: where from, and the variable it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// Where the value comes from.
    pub source: CaptureSource,
    /// The variable (`as`).
    pub var: String,
}

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureSource {
    /// `json: "$.data[0].id"` on the response body.
    Json(JsonPath),
    /// `header: name` of the response.
    Header(String),
}

/// A JSONPath of the form `$`, `.key`, `['key']`, `[index]` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    /// As written.
    pub source: String,
    /// Steps from the root.
    pub steps: Vec<PathStep>,
}

/// One JSONPath step.
#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    /// Object member.
    Key(String),
    /// Array element (0-based).
    Index(usize),
}

/// An `expect` rule (artillery-plugin-expect), recorded as a k6 check.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// `statusCode: 200` or `[200, 201]`.
    StatusCode(Vec<u16>),
    /// `contentType: json` (substring of the `Content-Type` header; `json` matches
    /// `application/json`).
    ContentType(String),
    /// `hasProperty: data`: the JSON body (an object) has the top-level key.
    HasProperty(String),
    /// `hasHeader: name`: the response has the header.
    HasHeader(String),
}

impl Expect {
    /// The check name, as the expect plugin prints it: `statusCode 200`,
    /// `hasProperty data`, ...
    pub fn describe(&self) -> String {
        match self {
            Expect::StatusCode(c) => {
                format!("statusCode {}", c.iter().map(u16::to_string).collect::<Vec<_>>().join(","))
            }
            Expect::ContentType(t) => format!("contentType {t}"),
            Expect::HasProperty(p) => format!("hasProperty {p}"),
            Expect::HasHeader(h) => format!("hasHeader {h}"),
        }
    }
}

/// A variable value.
#[derive(Debug, Clone, PartialEq)]
pub struct VarValue {
    /// The text substituted.
    pub text: String,
    /// Whether `text` is a JSON number or boolean (sent unquoted when a JSON string is
    /// exactly this one expression).
    pub raw_json: bool,
}

/// A `config.variables` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Name.
    pub name: String,
    /// Values (at least one).
    pub values: Vec<VarValue>,
}

/// How payload rows are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadOrder {
    /// A random row per iteration (Artillery's default).
    Random,
    /// Rows in order, wrapping around, shared by all VUs.
    Sequence,
}

/// A CSV feeder (`config.payload`), rows loaded from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The CSV file as resolved (relative to the scenario file's folder).
    pub path: PathBuf,
    /// Variable names of the columns.
    pub fields: Vec<String>,
    /// Rows (each with `fields.len()` cells, extra cells dropped).
    pub rows: Vec<Vec<String>>,
    /// Hand-out order.
    pub order: PayloadOrder,
}

impl ScenarioFile {
    /// Reads and checks a scenario file; CSV payload paths resolve against its folder.
    ///
    /// # Errors
    /// [`ConfigError`] with file:line:column for any syntax, shape or value error;
    /// [`ConfigError::Io`] when the file (or a payload CSV) cannot be read.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io { file: file.clone(), cause })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &file, &base)
    }

    /// Parses scenario text; `file` names it in errors, `base_dir` resolves payload paths.
    ///
    /// # Errors
    /// As [`ScenarioFile::load`].
    pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        let r = Reader { file };
        let Some(root) = yaml::parse(text, file)? else {
            return Err(ConfigError::InvalidValue {
                location: Location { file: file.into(), line: 1, column: 1 },
                what: "scenario file".into(),
                message: "the file is empty".into(),
            });
        };
        Parser { r, base_dir }.file(&root)
    }

    /// The scheduled length of the whole run: the latest `startTime + duration`
    /// over the scenarios, without `gracefulStop`.
    pub fn scheduled_duration(&self) -> Duration {
        self.scenarios.iter().map(|s| s.start_time + s.executor.scheduled_duration()).max().unwrap_or_default()
    }
}

const TOP_KEYS: &[&str] = &["config", "scenarios", "flows", "options", "vus", "duration", "iterations", "stages", "thresholds", "tags"];
const OPTION_KEYS: &[&str] = &["scenarios", "vus", "duration", "iterations", "stages", "thresholds", "tags"];
const CONFIG_KEYS: &[&str] =
    &["target", "phases", "defaults", "plugins", "ensure", "variables", "payload", "http", "environments", "processor", "tls"];
const SCENARIO_COMMON: &[&str] = &["executor", "startTime", "gracefulStop", "exec", "tags", "env"];

struct Parser<'a> {
    r: Reader<'a>,
    base_dir: &'a Path,
}

/// Collected top-level entries.
#[derive(Default)]
struct Top<'n> {
    config: Option<&'n Node>,
    scenarios: Option<&'n Node>,
    flows: Option<&'n Node>,
    vus: Option<&'n Node>,
    duration: Option<&'n Node>,
    iterations: Option<&'n Node>,
    stages: Option<&'n Node>,
    thresholds: Option<&'n Node>,
    tags: Option<&'n Node>,
}

impl<'a> Parser<'a> {
    fn loc(&self, n: &Node) -> Location {
        self.r.at(n)
    }

    fn bad(&self, n: &Node, what: &str, msg: impl Into<String>) -> ConfigError {
        self.r.invalid(n, what, msg)
    }

    fn file(&self, root: &Node) -> Result<ScenarioFile, ConfigError> {
        let mut top = Top::default();
        for (k, key, v) in self.r.map(root, "scenario file", Some(TOP_KEYS))? {
            if k == "options" {
                for (k2, key2, v2) in self.r.map(v, "options", Some(OPTION_KEYS))? {
                    self.set_top(&mut top, &k2, key2, v2)?;
                }
            } else {
                self.set_top(&mut top, &k, key, v)?;
            }
        }
        let file_loc = Location { file: self.r.file.to_string(), line: 1, column: 1 };

        // config block
        let mut target = None;
        let mut phases = None;
        let mut default_headers = Vec::new();
        let mut ensure = None;
        let mut variables = Vec::new();
        let mut payloads = Vec::new();
        let mut request_timeout = Duration::from_secs(60);
        if let Some(cfg) = top.config {
            for (k, key, v) in self.r.map(cfg, "config", Some(CONFIG_KEYS))? {
                match k.as_str() {
                    "target" => target = Some((self.r.string(v, "config.target")?.to_string(), self.loc(v))),
                    "phases" => phases = Some(v),
                    "defaults" => {
                        for (dk, _, dv) in self.r.map(v, "config.defaults", Some(&["headers"]))? {
                            if dk == "headers" {
                                default_headers = self.headers(dv, "config.defaults.headers")?;
                            }
                        }
                    }
                    "plugins" => {} // Artillery plugins: ignored (expect is built in)
                    "ensure" => ensure = Some(v),
                    "variables" => variables = self.variables(v)?,
                    "payload" => payloads = self.payloads(v)?,
                    "http" => {
                        for (hk, _, hv) in self.r.map(v, "config.http", Some(&["timeout"]))? {
                            if hk == "timeout" {
                                request_timeout = self.seconds_or_duration(hv, "config.http.timeout")?;
                            }
                        }
                    }
                    other => {
                        return Err(self.bad(
                            key,
                            &format!("config.{other}"),
                            "not supported by slo run (Artillery environments, JS processors and TLS options have no equivalent)",
                        ))
                    }
                }
            }
        }

        // flows and the k6 scenarios mapping
        let mut flows = Vec::new();
        let mut k6_scenarios: Option<&Node> = None;
        if let Some(s) = top.scenarios {
            match &s.kind {
                Kind::Seq(_) => flows = self.flows(s, "scenarios")?,
                Kind::Map(_) => k6_scenarios = Some(s),
                _ => return Err(self.bad(s, "scenarios", "expected a list of flows (Artillery) or a mapping of k6 scenarios")),
            }
        }
        if let Some(f) = top.flows {
            if !flows.is_empty() {
                return Err(self.bad(f, "flows", "flows are already given as the `scenarios` list; write them in one place"));
            }
            flows = self.flows(f, "flows")?;
        }
        if flows.is_empty() {
            let at = top.scenarios.or(top.flows).unwrap_or(root);
            return Err(self.bad(at, "flows", "no flow to run: give `scenarios` as a list of flows (Artillery) or `flows`"));
        }

        // load model
        let shortcut = [top.vus, top.duration, top.iterations, top.stages].into_iter().flatten().next();
        let mut scenarios = Vec::new();
        if let Some(k6) = k6_scenarios {
            if let Some(sc) = shortcut {
                return Err(self.bad(
                    sc,
                    "options",
                    "vus/duration/iterations/stages shortcuts cannot be used together with a `scenarios` mapping (k6 refuses it too)",
                ));
            }
            if let Some(p) = phases {
                return Err(self.bad(p, "config.phases", "the load is already given by the k6 `scenarios` mapping; keep one"));
            }
            for (name, key, v) in self.r.map(k6, "scenarios", None)? {
                scenarios.push(self.k6_scenario(&name, key, v)?);
            }
        } else if shortcut.is_some() {
            if let Some(p) = phases {
                return Err(self.bad(p, "config.phases", "the load is already given by vus/duration/iterations/stages; keep one"));
            }
            scenarios.push(self.shortcuts(&top, file_loc.clone())?);
        } else if let Some(p) = phases {
            scenarios.push(self.phases(p)?);
        } else {
            // k6's default: one VU, one iteration.
            scenarios.push(ExecutorConfig {
                name: "default".into(),
                location: file_loc.clone(),
                executor: Executor::PerVuIterations { vus: 1, iterations: 1, max_duration: Duration::from_secs(600) },
                start_time: Duration::ZERO,
                graceful_stop: Duration::from_secs(30),
                exec: None,
                tags: Vec::new(),
            });
        }
        for s in &scenarios {
            if let Some(e) = &s.exec {
                if !flows.iter().any(|f| &f.name == e) {
                    let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
                    return Err(ConfigError::InvalidValue {
                        location: s.location.clone(),
                        what: format!("scenarios.{}.exec", s.name),
                        message: format!("no flow named {e:?}; flows: {}", names.join(", ")),
                    });
                }
            }
        }

        // thresholds
        let mut thresholds = match top.thresholds {
            Some(t) => self.thresholds(t)?,
            None => ThresholdSet::default(),
        };
        if let Some(e) = ensure {
            self.ensure(e, &mut thresholds)?;
        }
        let tags = match top.tags {
            Some(t) => self.string_map(t, "tags")?,
            None => Vec::new(),
        };

        // every variable used must be defined somewhere
        let mut defined: BTreeSet<String> = variables.iter().map(|v| v.name.clone()).collect();
        for p in &payloads {
            defined.extend(p.fields.iter().cloned());
        }
        for f in &flows {
            collect_captures(&f.steps, &mut defined);
        }
        for (_, t) in &default_headers {
            check_vars(t, &defined, &file_loc)?;
        }
        for f in &flows {
            check_steps(&f.steps, &defined)?;
        }

        Ok(ScenarioFile {
            path: self.r.file.to_string(),
            target,
            scenarios,
            flows,
            variables,
            payloads,
            default_headers,
            thresholds,
            tags,
            request_timeout,
        })
    }

    fn set_top<'n>(&self, top: &mut Top<'n>, k: &str, key: &Node, v: &'n Node) -> Result<(), ConfigError> {
        let slot = match k {
            "config" => &mut top.config,
            "scenarios" => &mut top.scenarios,
            "flows" => &mut top.flows,
            "vus" => &mut top.vus,
            "duration" => &mut top.duration,
            "iterations" => &mut top.iterations,
            "stages" => &mut top.stages,
            "thresholds" => &mut top.thresholds,
            "tags" => &mut top.tags,
            _ => return Err(self.bad(key, k, "unexpected key")),
        };
        if slot.is_some() {
            return Err(self.bad(key, k, "given twice (at top level and under `options`)"));
        }
        *slot = Some(v);
        Ok(())
    }

    // ---- scalars ----

    fn uint(&self, n: &Node, what: &str) -> Result<u64, ConfigError> {
        let s = self.r.string(n, what)?;
        s.trim().parse::<u64>().map_err(|_| self.bad(n, what, format!("expected a whole number ≥ 0, found {s:?}")))
    }

    fn number(&self, n: &Node, what: &str) -> Result<f64, ConfigError> {
        let s = self.r.string(n, what)?;
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(self.bad(n, what, format!("expected a number ≥ 0, found {s:?}"))),
        }
    }

    fn duration(&self, n: &Node, what: &str) -> Result<Duration, ConfigError> {
        let s = self.r.string(n, what)?;
        if s.trim() == "0" {
            return Ok(Duration::ZERO);
        }
        parse_duration(s).map_err(|e| self.bad(n, what, e.to_string()))
    }

    /// Artillery durations: a bare number is seconds, else a duration string.
    fn seconds_or_duration(&self, n: &Node, what: &str) -> Result<Duration, ConfigError> {
        let s = self.r.string(n, what)?;
        if let Ok(v) = s.trim().parse::<f64>() {
            if v.is_finite() && v >= 0.0 {
                return Ok(Duration::from_secs_f64(v));
            }
            return Err(self.bad(n, what, format!("expected seconds ≥ 0, found {s:?}")));
        }
        parse_duration(s).map_err(|e| self.bad(n, what, e.to_string()))
    }

    fn string_map(&self, n: &Node, what: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out = Vec::new();
        for (k, _, v) in self.r.map(n, what, None)? {
            out.push((k, self.r.string(v, what)?.to_string()));
        }
        Ok(out)
    }

    fn headers(&self, n: &Node, what: &str) -> Result<Vec<(String, Template)>, ConfigError> {
        let mut out = Vec::new();
        for (k, key, v) in self.r.map(n, what, None)? {
            if !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) || k.is_empty() {
                return Err(self.bad(key, what, format!("{k:?} is not a valid header name")));
            }
            out.push((k, self.template(v, what)?));
        }
        Ok(out)
    }

    fn template(&self, n: &Node, what: &str) -> Result<Template, ConfigError> {
        let s = self.r.string(n, what)?;
        parse_template(s).map_err(|m| self.bad(n, what, m))
    }

    // ---- k6 load model ----

    fn stages(&self, n: &Node, what: &str) -> Result<Vec<Stage>, ConfigError> {
        let mut out = Vec::new();
        for item in self.r.seq(n, what)? {
            let mut duration = None;
            let mut target = None;
            for (k, _, v) in self.r.map(item, what, Some(&["duration", "target"]))? {
                match k.as_str() {
                    "duration" => duration = Some(self.duration(v, &format!("{what}.duration"))?),
                    _ => target = Some(self.number(v, &format!("{what}.target"))?),
                }
            }
            let (Some(duration), Some(target)) = (duration, target) else {
                return Err(ConfigError::MissingField {
                    location: self.loc(item),
                    field: if duration.is_none() { "duration" } else { "target" }.into(),
                    context: what.into(),
                });
            };
            out.push(Stage { duration, target });
        }
        if out.is_empty() {
            return Err(self.bad(n, what, "at least one stage is required"));
        }
        Ok(out)
    }

    fn k6_scenario(&self, name: &str, key: &Node, v: &Node) -> Result<ExecutorConfig, ConfigError> {
        let ctx = format!("scenarios.{name}");
        let entries = self.r.map(v, &ctx, None)?;
        let get = |f: &str| entries.iter().find(|(k, _, _)| k == f).map(|(_, _, v)| *v);
        let Some(exec_node) = get("executor") else {
            return Err(ConfigError::MissingField { location: self.loc(key), field: "executor".into(), context: ctx });
        };
        let kind = self.r.string(exec_node, &format!("{ctx}.executor"))?;
        let own: &[&str] = match kind {
            "constant-vus" => &["vus", "duration"],
            "ramping-vus" => &["startVUs", "stages", "gracefulRampDown"],
            "constant-arrival-rate" => &["rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"],
            "ramping-arrival-rate" => &["startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"],
            "per-vu-iterations" | "shared-iterations" => &["vus", "iterations", "maxDuration"],
            "externally-controlled" => {
                return Err(self.bad(exec_node, &format!("{ctx}.executor"), "externally-controlled is not supported"))
            }
            other => {
                return Err(self.bad(
                    exec_node,
                    &format!("{ctx}.executor"),
                    format!("unknown executor {other:?}; expected constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations or shared-iterations"),
                ))
            }
        };
        for (k, kn, _) in &entries {
            if !SCENARIO_COMMON.contains(&k.as_str()) && !own.contains(&k.as_str()) {
                return Err(ConfigError::UnknownField {
                    location: self.loc(kn),
                    field: k.clone(),
                    context: format!("{ctx} ({kind})"),
                    expected: SCENARIO_COMMON.iter().chain(own.iter()).copied().collect::<Vec<_>>().join(", "),
                });
            }
        }
        let f = |field: &str| format!("{ctx}.{field}");
        let req = |field: &str| -> Result<&Node, ConfigError> {
            get(field).ok_or_else(|| ConfigError::MissingField { location: self.loc(v), field: field.into(), context: ctx.clone() })
        };
        let uint_or = |field: &str, d: u64| -> Result<u64, ConfigError> {
            get(field).map(|n| self.uint(n, &f(field))).transpose().map(|o| o.unwrap_or(d))
        };
        let dur_or = |field: &str, d: Duration| -> Result<Duration, ConfigError> {
            get(field).map(|n| self.duration(n, &f(field))).transpose().map(|o| o.unwrap_or(d))
        };
        let positive = |n: &Node, field: &str, val: f64| -> Result<(), ConfigError> {
            if val <= 0.0 {
                Err(self.bad(n, &f(field), "must be greater than 0"))
            } else {
                Ok(())
            }
        };
        let executor = match kind {
            "constant-vus" => {
                let vus = uint_or("vus", 1)?;
                let d = req("duration")?;
                let duration = self.duration(d, &f("duration"))?;
                positive(d, "duration", duration.as_secs_f64())?;
                Executor::ConstantVus { vus, duration }
            }
            "ramping-vus" => Executor::RampingVus {
                start_vus: uint_or("startVUs", 1)?,
                stages: self.stages(req("stages")?, &f("stages"))?,
                graceful_ramp_down: dur_or("gracefulRampDown", Duration::from_secs(30))?,
            },
            "constant-arrival-rate" | "ramping-arrival-rate" => {
                let time_unit = dur_or("timeUnit", Duration::from_secs(1))?;
                if time_unit.is_zero() {
                    return Err(self.bad(get("timeUnit").unwrap_or(v), &f("timeUnit"), "must be greater than 0"));
                }
                let pre_node = req("preAllocatedVUs")?;
                let pre = self.uint(pre_node, &f("preAllocatedVUs"))?;
                let max = uint_or("maxVUs", pre)?;
                if max < pre {
                    return Err(self.bad(
                        get("maxVUs").unwrap_or(v),
                        &f("maxVUs"),
                        format!("maxVUs ({max}) must be at least preAllocatedVUs ({pre})"),
                    ));
                }
                if max == 0 {
                    return Err(self.bad(pre_node, &f("preAllocatedVUs"), "at least one VU is needed (preAllocatedVUs or maxVUs > 0)"));
                }
                if kind == "constant-arrival-rate" {
                    let rn = req("rate")?;
                    let rate = self.number(rn, &f("rate"))?;
                    positive(rn, "rate", rate)?;
                    let d = req("duration")?;
                    let duration = self.duration(d, &f("duration"))?;
                    positive(d, "duration", duration.as_secs_f64())?;
                    Executor::ConstantArrivalRate { rate, time_unit, duration, pre_allocated_vus: pre, max_vus: max }
                } else {
                    Executor::RampingArrivalRate {
                        start_rate: get("startRate").map(|n| self.number(n, &f("startRate"))).transpose()?.unwrap_or(0.0),
                        time_unit,
                        stages: self.stages(req("stages")?, &f("stages"))?,
                        pre_allocated_vus: pre,
                        max_vus: max,
                    }
                }
            }
            _ => {
                let vus = uint_or("vus", 1)?;
                let iterations = uint_or("iterations", 1)?;
                let max_duration = dur_or("maxDuration", Duration::from_secs(600))?;
                if vus == 0 {
                    return Err(self.bad(get("vus").unwrap_or(v), &f("vus"), "must be greater than 0"));
                }
                if kind == "per-vu-iterations" {
                    Executor::PerVuIterations { vus, iterations, max_duration }
                } else {
                    if iterations < vus {
                        return Err(self.bad(
                            get("iterations").unwrap_or(v),
                            &f("iterations"),
                            format!("the number of iterations ({iterations}) can't be less than the number of VUs ({vus}) (k6 rule)"),
                        ));
                    }
                    Executor::SharedIterations { vus, iterations, max_duration }
                }
            }
        };
        Ok(ExecutorConfig {
            name: name.to_string(),
            location: self.loc(key),
            executor,
            start_time: dur_or("startTime", Duration::ZERO)?,
            graceful_stop: dur_or("gracefulStop", Duration::from_secs(30))?,
            exec: get("exec").map(|n| self.r.string(n, &f("exec")).map(str::to_string)).transpose()?,
            tags: get("tags").map(|n| self.string_map(n, &f("tags"))).transpose()?.unwrap_or_default(),
        })
    }

    /// k6 `DeriveScenariosFromShortcuts`.
    fn shortcuts(&self, top: &Top<'_>, loc: Location) -> Result<ExecutorConfig, ConfigError> {
        let vus = top.vus.map(|n| self.uint(n, "vus")).transpose()?;
        let duration = top.duration.map(|n| self.duration(n, "duration")).transpose()?;
        let iterations = top.iterations.map(|n| self.uint(n, "iterations")).transpose()?;
        let executor = if let Some(st) = top.stages {
            if let Some(i) = top.iterations {
                return Err(self.bad(i, "iterations", "cannot be combined with `stages`"));
            }
            Executor::RampingVus {
                start_vus: vus.unwrap_or(1),
                stages: self.stages(st, "stages")?,
                graceful_ramp_down: Duration::from_secs(30),
            }
        } else if let (Some(iterations), Some(itn)) = (iterations, top.iterations) {
            let vus = vus.unwrap_or(1);
            if iterations < vus {
                return Err(self.bad(
                    itn,
                    "iterations",
                    format!("the number of iterations ({iterations}) can't be less than the number of VUs ({vus})"),
                ));
            }
            Executor::SharedIterations { vus, iterations, max_duration: duration.unwrap_or(Duration::from_secs(600)) }
        } else if let Some(duration) = duration.filter(|d| !d.is_zero()) {
            Executor::ConstantVus { vus: vus.unwrap_or(1), duration }
        } else {
            Executor::PerVuIterations { vus: vus.unwrap_or(1), iterations: 1, max_duration: Duration::from_secs(600) }
        };
        Ok(ExecutorConfig {
            name: "default".into(),
            location: loc,
            executor,
            start_time: Duration::ZERO,
            graceful_stop: Duration::from_secs(30),
            exec: None,
            tags: Vec::new(),
        })
    }

    /// Artillery `config.phases` → one ramping-arrival-rate scenario.
    fn phases(&self, n: &Node) -> Result<ExecutorConfig, ConfigError> {
        let items = self.r.seq(n, "config.phases")?;
        if items.is_empty() {
            return Err(self.bad(n, "config.phases", "at least one phase is required"));
        }
        let mut stages = Vec::new();
        let mut start_rate = None;
        let mut current = 0.0f64;
        let mut peak = 0.0f64;
        let mut max_vusers: Option<u64> = None;
        for (i, item) in items.iter().enumerate() {
            let what = format!("config.phases[{i}]");
            let mut duration = None;
            let mut arrival_rate = None;
            let mut ramp_to = None;
            let mut arrival_count = None;
            let mut pause = None;
            for (k, _, v) in
                self.r.map(item, &what, Some(&["duration", "arrivalRate", "rampTo", "arrivalCount", "pause", "name", "maxVusers"]))?
            {
                let w = format!("{what}.{k}");
                match k.as_str() {
                    "duration" => duration = Some(self.seconds_or_duration(v, &w)?),
                    "arrivalRate" => arrival_rate = Some(self.number(v, &w)?),
                    "rampTo" => ramp_to = Some(self.number(v, &w)?),
                    "arrivalCount" => arrival_count = Some(self.number(v, &w)?),
                    "pause" => pause = Some(self.seconds_or_duration(v, &w)?),
                    "maxVusers" => {
                        let m = self.uint(v, &w)?;
                        max_vusers = Some(max_vusers.map_or(m, |x| x.max(m)));
                    }
                    _ => {}
                }
            }
            let (from, to, d) = if let Some(p) = pause {
                (0.0, 0.0, p)
            } else {
                let Some(d) = duration else {
                    return Err(ConfigError::MissingField { location: self.loc(item), field: "duration".into(), context: what });
                };
                if let Some(c) = arrival_count {
                    let r = if d.is_zero() { 0.0 } else { c / d.as_secs_f64() };
                    (r, r, d)
                } else {
                    let Some(a) = arrival_rate else {
                        return Err(ConfigError::MissingField { location: self.loc(item), field: "arrivalRate".into(), context: what });
                    };
                    (a, ramp_to.unwrap_or(a), d)
                }
            };
            if start_rate.is_none() {
                start_rate = Some(from);
                current = from;
            }
            if current != from {
                stages.push(Stage { duration: Duration::ZERO, target: from });
            }
            stages.push(Stage { duration: d, target: to });
            current = to;
            peak = peak.max(from).max(to);
        }
        let pre = (peak.ceil() as u64).max(1);
        let max = max_vusers.unwrap_or_else(|| 1000u64.max((peak * 60.0).ceil() as u64)).max(1);
        Ok(ExecutorConfig {
            name: "default".into(),
            location: self.loc(n),
            executor: Executor::RampingArrivalRate {
                start_rate: start_rate.unwrap_or(0.0),
                time_unit: Duration::from_secs(1),
                stages,
                pre_allocated_vus: pre.min(max),
                max_vus: max,
            },
            start_time: Duration::ZERO,
            graceful_stop: Duration::from_secs(30),
            exec: None,
            tags: Vec::new(),
        })
    }

    // ---- thresholds ----

    fn thresholds(&self, n: &Node) -> Result<ThresholdSet, ConfigError> {
        let mut set = ThresholdSet::default();
        for (key, kn, v) in self.r.map(n, "thresholds", None)? {
            let parsed =
                parse_metric_key(&key).map_err(|reason| ConfigError::MetricKey { location: self.loc(kn), key: key.clone(), reason })?;
            let mut m = MetricThresholds { key_source: key.clone(), key: parsed, location: self.loc(kn), thresholds: Vec::new() };
            let items: Vec<&Node> = match &v.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![v],
            };
            for item in items {
                let what = format!("thresholds.{key}");
                let (src, src_node, abort, delay) = match &item.kind {
                    Kind::Map(_) => {
                        let mut src = None;
                        let mut abort = false;
                        let mut delay = None;
                        for (k, _, val) in self.r.map(item, &what, Some(&["threshold", "abortOnFail", "delayAbortEval"]))? {
                            match k.as_str() {
                                "threshold" => src = Some((self.r.string(val, &what)?.to_string(), val)),
                                "abortOnFail" => abort = self.r.bool(val, &what)?,
                                _ => delay = Some(self.duration(val, &format!("{what}.delayAbortEval"))?),
                            }
                        }
                        let Some((s, sn)) = src else {
                            return Err(ConfigError::MissingField { location: self.loc(item), field: "threshold".into(), context: what });
                        };
                        (s, sn, abort, delay)
                    }
                    _ => (self.r.string(item, &what)?.to_string(), item, false, None),
                };
                let expr = parse_threshold_expr(&src).map_err(|reason| ConfigError::Expression {
                    location: self.loc(src_node),
                    expr: src.clone(),
                    reason,
                })?;
                m.thresholds.push(Threshold {
                    source: src,
                    expr,
                    abort_on_fail: abort,
                    delay_abort_eval: delay,
                    location: self.loc(src_node),
                });
            }
            set.0.push(m);
        }
        Ok(set)
    }

    /// Artillery `ensure` → k6 thresholds (see the module docs).
    fn ensure(&self, n: &Node, set: &mut ThresholdSet) -> Result<(), ConfigError> {
        for (k, kn, v) in self.r.map(n, "config.ensure", Some(&["p95", "p99", "p50", "median", "max", "min", "maxErrorRate"]))? {
            let what = format!("config.ensure.{k}");
            let val = self.number(v, &what)?;
            let (metric, src) = match k.as_str() {
                "maxErrorRate" => ("http_req_failed", format!("rate<={}", val / 100.0)),
                "p95" => ("http_req_duration", format!("p(95)<={val}")),
                "p99" => ("http_req_duration", format!("p(99)<={val}")),
                "p50" | "median" => ("http_req_duration", format!("med<={val}")),
                "max" => ("http_req_duration", format!("max<={val}")),
                _ => ("http_req_duration", format!("min<={val}")),
            };
            let expr = parse_threshold_expr(&src).map_err(|reason| ConfigError::Expression {
                location: self.loc(v),
                expr: src.clone(),
                reason,
            })?;
            let t = Threshold { source: src, expr, abort_on_fail: false, delay_abort_eval: None, location: self.loc(v) };
            match set.0.iter_mut().find(|m| m.key_source == metric) {
                Some(m) => m.thresholds.push(t),
                None => set.0.push(MetricThresholds {
                    key_source: metric.into(),
                    key: parse_metric_key(metric).map_err(|reason| ConfigError::MetricKey {
                        location: self.loc(kn),
                        key: metric.into(),
                        reason,
                    })?,
                    location: self.loc(kn),
                    thresholds: vec![t],
                }),
            }
        }
        Ok(())
    }

    // ---- variables and payloads ----

    fn variables(&self, n: &Node) -> Result<Vec<Variable>, ConfigError> {
        let mut out = Vec::new();
        for (name, kn, v) in self.r.map(n, "config.variables", None)? {
            if !is_var_name(&name) {
                return Err(self.bad(kn, "config.variables", format!("{name:?} is not a valid variable name (letters, digits, _)")));
            }
            let items: Vec<&Node> = match &v.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![v],
            };
            let mut values = Vec::new();
            for item in items {
                match &item.kind {
                    Kind::Scalar { text, plain } => values.push(VarValue { raw_json: *plain && is_json_scalar(text), text: text.clone() }),
                    _ => return Err(self.bad(item, &format!("config.variables.{name}"), "values must be scalars")),
                }
            }
            if values.is_empty() {
                return Err(self.bad(v, &format!("config.variables.{name}"), "at least one value is required"));
            }
            out.push(Variable { name, values });
        }
        Ok(out)
    }

    fn payloads(&self, n: &Node) -> Result<Vec<Payload>, ConfigError> {
        let items: Vec<&Node> = match &n.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        let mut out = Vec::new();
        for item in items {
            let what = "config.payload";
            let mut path = None;
            let mut fields = Vec::new();
            let mut order = PayloadOrder::Random;
            let mut skip_header = false;
            let mut delimiter = b',';
            for (k, _, v) in self.r.map(item, what, Some(&["path", "fields", "order", "skipHeader", "delimiter", "name"]))? {
                match k.as_str() {
                    "path" => path = Some((self.r.string(v, what)?.to_string(), v)),
                    "fields" => {
                        for f in self.r.seq(v, "config.payload.fields")? {
                            let name = self.r.string(f, "config.payload.fields")?;
                            if !is_var_name(name) {
                                return Err(self.bad(f, "config.payload.fields", format!("{name:?} is not a valid variable name")));
                            }
                            fields.push(name.to_string());
                        }
                    }
                    "order" => {
                        order = match self.r.string(v, "config.payload.order")? {
                            "random" => PayloadOrder::Random,
                            "sequence" => PayloadOrder::Sequence,
                            o => return Err(self.bad(v, "config.payload.order", format!("{o:?}: expected random or sequence"))),
                        }
                    }
                    "skipHeader" => skip_header = self.r.bool(v, "config.payload.skipHeader")?,
                    "delimiter" => {
                        let d = self.r.string(v, "config.payload.delimiter")?;
                        if d.len() != 1 {
                            return Err(self.bad(v, "config.payload.delimiter", "expected one character"));
                        }
                        delimiter = d.as_bytes()[0];
                    }
                    _ => {}
                }
            }
            let Some((p, pn)) = path else {
                return Err(ConfigError::MissingField { location: self.loc(item), field: "path".into(), context: what.into() });
            };
            if fields.is_empty() {
                return Err(ConfigError::MissingField { location: self.loc(item), field: "fields".into(), context: what.into() });
            }
            let full = self.base_dir.join(&p);
            let text = std::fs::read_to_string(&full)
                .map_err(|e| self.bad(pn, "config.payload.path", format!("cannot read {}: {e}", full.display())))?;
            let mut rows = parse_csv(&text, delimiter).map_err(|(line, m)| ConfigError::InvalidValue {
                location: Location { file: full.display().to_string(), line, column: 1 },
                what: "CSV payload".into(),
                message: m,
            })?;
            if skip_header && !rows.is_empty() {
                rows.remove(0);
            }
            for (i, row) in rows.iter_mut().enumerate() {
                if row.len() < fields.len() {
                    return Err(ConfigError::InvalidValue {
                        location: Location { file: full.display().to_string(), line: i + 1 + usize::from(skip_header), column: 1 },
                        what: "CSV payload".into(),
                        message: format!("row has {} cells, {} fields are named", row.len(), fields.len()),
                    });
                }
                row.truncate(fields.len());
            }
            if rows.is_empty() {
                return Err(self.bad(pn, "config.payload.path", format!("{} has no data rows", full.display())));
            }
            out.push(Payload { path: full, fields, rows, order });
        }
        Ok(out)
    }

    // ---- flows ----

    fn flows(&self, n: &Node, what: &str) -> Result<Vec<Flow>, ConfigError> {
        let mut out: Vec<Flow> = Vec::new();
        for (i, item) in self.r.seq(n, what)?.iter().enumerate() {
            let ctx = format!("{what}[{i}]");
            let mut name = None;
            let mut weight = 1u32;
            let mut steps = None;
            for (k, _, v) in self.r.map(item, &ctx, Some(&["name", "weight", "flow"]))? {
                match k.as_str() {
                    "name" => name = Some(self.r.string(v, &format!("{ctx}.name"))?.to_string()),
                    "weight" => {
                        let w = self.uint(v, &format!("{ctx}.weight"))?;
                        weight = u32::try_from(w).map_err(|_| self.bad(v, &format!("{ctx}.weight"), "too large"))?;
                    }
                    _ => steps = Some(self.steps(v, &format!("{ctx}.flow"))?),
                }
            }
            let Some(steps) = steps else {
                return Err(ConfigError::MissingField { location: self.loc(item), field: "flow".into(), context: ctx });
            };
            let name = name.unwrap_or_else(|| format!("flow-{}", i + 1));
            if out.iter().any(|f| f.name == name) {
                return Err(self.bad(item, &ctx, format!("two flows are named {name:?}")));
            }
            out.push(Flow { name, weight, steps, location: self.loc(item) });
        }
        if !out.is_empty() && out.iter().all(|f| f.weight == 0) {
            return Err(self.bad(n, what, "every flow has weight 0"));
        }
        Ok(out)
    }

    fn steps(&self, n: &Node, what: &str) -> Result<Vec<Step>, ConfigError> {
        let mut out = Vec::new();
        for (i, item) in self.r.seq(n, what)?.iter().enumerate() {
            let ctx = format!("{what}[{i}]");
            let entries = self.r.map(item, &ctx, None)?;
            let Some((first, fk, fv)) = entries.first() else {
                return Err(self.bad(item, &ctx, "empty step"));
            };
            let step = match first.as_str() {
                "get" | "post" | "put" | "patch" | "delete" | "head" | "options" => {
                    if entries.len() > 1 {
                        return Err(self.bad(entries[1].1, &ctx, format!("unexpected key `{}` beside `{first}`", entries[1].0)));
                    }
                    let method = match first.as_str() {
                        "get" => Method::Get,
                        "post" => Method::Post,
                        "put" => Method::Put,
                        "patch" => Method::Patch,
                        "delete" => Method::Delete,
                        "head" => Method::Head,
                        _ => Method::Options,
                    };
                    Step::Request(Box::new(self.request(method, fv, &format!("{ctx}.{first}"))?))
                }
                "think" => {
                    if entries.len() > 1 {
                        return Err(self.bad(entries[1].1, &ctx, format!("unexpected key `{}` beside `think`", entries[1].0)));
                    }
                    Step::Think(self.seconds_or_duration(fv, &format!("{ctx}.think"))?)
                }
                "loop" | "count" => {
                    let mut steps = None;
                    let mut count = None;
                    for (k, kn, v) in &entries {
                        match k.as_str() {
                            "loop" => steps = Some(self.steps(v, &format!("{ctx}.loop"))?),
                            "count" => count = Some(self.uint(v, &format!("{ctx}.count"))?),
                            "over" => return Err(self.bad(kn, &ctx, "`loop` with `over` is not supported; use `count`")),
                            other => {
                                return Err(self.bad(kn, &ctx, format!("unexpected key `{other}` in a loop step (expected loop, count)")))
                            }
                        }
                    }
                    let Some(steps) = steps else {
                        return Err(ConfigError::MissingField { location: self.loc(item), field: "loop".into(), context: ctx });
                    };
                    let Some(count) = count else {
                        return Err(ConfigError::MissingField {
                            location: self.loc(item),
                            field: "count".into(),
                            context: format!("{ctx} (an endless loop is not supported)"),
                        });
                    };
                    Step::Loop { count, steps }
                }
                other => {
                    return Err(self.bad(
                        fk,
                        &ctx,
                        format!("unknown step `{other}`; expected get, post, put, patch, delete, think or loop"),
                    ))
                }
            };
            out.push(step);
        }
        Ok(out)
    }

    fn request(&self, method: Method, n: &Node, ctx: &str) -> Result<RequestStep, ConfigError> {
        let mut url = None;
        let mut name = None;
        let mut headers = Vec::new();
        let mut qs = Vec::new();
        let mut body = None;
        let mut captures = Vec::new();
        let mut expects = Vec::new();
        for (k, _, v) in self.r.map(n, ctx, Some(&["url", "headers", "json", "body", "qs", "name", "capture", "expect"]))? {
            let w = format!("{ctx}.{k}");
            match k.as_str() {
                "url" => {
                    let s = self.r.string(v, &w)?;
                    url = Some((s.to_string(), self.template(v, &w)?, v));
                }
                "name" => name = Some(self.r.string(v, &w)?.to_string()),
                "headers" => headers = self.headers(v, &w)?,
                "qs" => {
                    for (qk, _, qv) in self.r.map(v, &w, None)? {
                        let t = match &qv.kind {
                            Kind::Scalar { text, .. } => parse_template(text).map_err(|m| self.bad(qv, &w, m))?,
                            _ => return Err(self.bad(qv, &w, "query values must be scalars")),
                        };
                        qs.push((qk, t));
                    }
                }
                "json" | "body" => {
                    if body.is_some() {
                        return Err(self.bad(v, &w, "give either `json` or `body`, not both"));
                    }
                    body = Some(if k == "json" { Body::Json(self.json(v, &w)?) } else { Body::Raw(self.template(v, &w)?) });
                }
                "capture" => {
                    let items: Vec<&Node> = match &v.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => vec![v],
                    };
                    for item in items {
                        captures.push(self.capture(item, &w)?);
                    }
                }
                _ => {
                    let items: Vec<&Node> = match &v.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => vec![v],
                    };
                    for item in items {
                        expects.push(self.expect(item, &w)?);
                    }
                }
            }
        }
        let Some((url_source, url, un)) = url else {
            return Err(ConfigError::MissingField { location: self.loc(n), field: "url".into(), context: ctx.into() });
        };
        let lower = url_source.to_ascii_lowercase();
        if !(url_source.starts_with('/') || lower.starts_with("http://") || lower.starts_with("https://") || url_source.starts_with("{{")) {
            return Err(self.bad(un, &format!("{ctx}.url"), format!("{url_source:?}: expected a path starting with / or an http:// URL")));
        }
        Ok(RequestStep {
            method,
            name: name.unwrap_or_else(|| url_source.clone()),
            url_source,
            url,
            headers,
            qs,
            body,
            captures,
            expects,
            location: self.loc(n),
        })
    }

    fn json(&self, n: &Node, what: &str) -> Result<JsonTemplate, ConfigError> {
        Ok(match &n.kind {
            Kind::Scalar { text, plain } => {
                if *plain {
                    if n.is_null() {
                        return Ok(JsonTemplate::Null);
                    }
                    match text.as_str() {
                        "true" => return Ok(JsonTemplate::Bool(true)),
                        "false" => return Ok(JsonTemplate::Bool(false)),
                        _ => {}
                    }
                    if is_json_number(text) {
                        return Ok(JsonTemplate::Number(text.clone()));
                    }
                }
                JsonTemplate::String(parse_template(text).map_err(|m| self.bad(n, what, m))?)
            }
            Kind::Seq(items) => JsonTemplate::Array(items.iter().map(|i| self.json(i, what)).collect::<Result<_, _>>()?),
            Kind::Map(_) => {
                let mut out = Vec::new();
                for (k, _, v) in self.r.map(n, what, None)? {
                    let w = format!("{what}.{k}");
                    out.push((k, self.json(v, &w)?));
                }
                JsonTemplate::Object(out)
            }
        })
    }

    fn capture(&self, n: &Node, what: &str) -> Result<Capture, ConfigError> {
        let mut source = None;
        let mut var = None;
        for (k, kn, v) in self.r.map(n, what, None)? {
            match k.as_str() {
                "json" => {
                    let s = self.r.string(v, what)?;
                    source = Some(CaptureSource::Json(parse_json_path(s).map_err(|m| self.bad(v, what, m))?));
                }
                "header" => source = Some(CaptureSource::Header(self.r.string(v, what)?.to_ascii_lowercase())),
                "as" => {
                    let s = self.r.string(v, what)?;
                    if !is_var_name(s) {
                        return Err(self.bad(v, what, format!("{s:?} is not a valid variable name")));
                    }
                    var = Some(s.to_string());
                }
                "strict" => {}
                "regexp" | "xpath" | "selector" => {
                    return Err(self.bad(kn, what, format!("capture by `{k}` is not supported; use json or header")))
                }
                other => {
                    return Err(ConfigError::UnknownField {
                        location: self.loc(kn),
                        field: other.into(),
                        context: what.into(),
                        expected: "json, header, as".into(),
                    })
                }
            }
        }
        match (source, var) {
            (Some(source), Some(var)) => Ok(Capture { source, var }),
            (None, _) => Err(ConfigError::MissingField { location: self.loc(n), field: "json".into(), context: what.into() }),
            (_, None) => Err(ConfigError::MissingField { location: self.loc(n), field: "as".into(), context: what.into() }),
        }
    }

    fn expect(&self, n: &Node, what: &str) -> Result<Expect, ConfigError> {
        let entries = self.r.map(n, what, Some(&["statusCode", "contentType", "hasProperty", "hasHeader"]))?;
        if entries.len() != 1 {
            return Err(self.bad(n, what, "each expectation is a mapping with one key, e.g. `- statusCode: 200`"));
        }
        let (k, _, v) = &entries[0];
        Ok(match k.as_str() {
            "statusCode" => {
                let items: Vec<&Node> = match &v.kind {
                    Kind::Seq(items) => items.iter().collect(),
                    _ => vec![*v],
                };
                let mut codes = Vec::new();
                for i in items {
                    let c = self.uint(i, &format!("{what}.statusCode"))?;
                    if !(100..=599).contains(&c) {
                        return Err(self.bad(i, &format!("{what}.statusCode"), format!("{c} is not an HTTP status")));
                    }
                    codes.push(c as u16);
                }
                Expect::StatusCode(codes)
            }
            "contentType" => Expect::ContentType(self.r.string(v, what)?.to_string()),
            "hasProperty" => Expect::HasProperty(self.r.string(v, what)?.to_string()),
            _ => Expect::HasHeader(self.r.string(v, what)?.to_ascii_lowercase()),
        })
    }
}

fn collect_captures(steps: &[Step], out: &mut BTreeSet<String>) {
    for s in steps {
        match s {
            Step::Request(r) => out.extend(r.captures.iter().map(|c| c.var.clone())),
            Step::Loop { steps, .. } => collect_captures(steps, out),
            Step::Think(_) => {}
        }
    }
}

fn check_vars(t: &Template, defined: &BTreeSet<String>, at: &Location) -> Result<(), ConfigError> {
    for v in t.variables() {
        if !defined.contains(v) {
            return Err(ConfigError::InvalidValue {
                location: at.clone(),
                what: "template".into(),
                message: format!(
                    "variable `{v}` is not defined (define it in config.variables, a config.payload field, or a capture `as`)"
                ),
            });
        }
    }
    Ok(())
}

fn check_json(j: &JsonTemplate, defined: &BTreeSet<String>, at: &Location) -> Result<(), ConfigError> {
    match j {
        JsonTemplate::String(t) => check_vars(t, defined, at),
        JsonTemplate::Array(a) => a.iter().try_for_each(|x| check_json(x, defined, at)),
        JsonTemplate::Object(o) => o.iter().try_for_each(|(_, x)| check_json(x, defined, at)),
        _ => Ok(()),
    }
}

fn check_steps(steps: &[Step], defined: &BTreeSet<String>) -> Result<(), ConfigError> {
    for s in steps {
        match s {
            Step::Request(r) => {
                check_vars(&r.url, defined, &r.location)?;
                for (_, t) in r.headers.iter().chain(r.qs.iter()) {
                    check_vars(t, defined, &r.location)?;
                }
                match &r.body {
                    Some(Body::Raw(t)) => check_vars(t, defined, &r.location)?,
                    Some(Body::Json(j)) => check_json(j, defined, &r.location)?,
                    None => {}
                }
            }
            Step::Loop { steps, .. } => check_steps(steps, defined)?,
            Step::Think(_) => {}
        }
    }
    Ok(())
}

fn is_var_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_') && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn is_json_number(s: &str) -> bool {
    // JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s0 = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == s0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let s0 = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == s0 {
            return false;
        }
    }
    i == b.len()
}

fn is_json_scalar(s: &str) -> bool {
    s == "true" || s == "false" || is_json_number(s)
}

/// Parses a `{{ }}` template: `{{ name }}`, `{{ $randomNumber(a, b) }}`,
/// `{{ $randomString(n) }}`.
///
/// # Errors
/// A message for an unclosed `{{`, an empty expression, an unknown `$function` or bad
/// arguments.
pub fn parse_template(s: &str) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Lit(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| format!("unclosed `{{{{` in {s:?}"))?;
        let expr = after[..close].trim();
        parts.push(parse_expr(expr).map_err(|m| format!("in {s:?}: {m}"))?);
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    Ok(Template { parts })
}

fn parse_expr(e: &str) -> Result<Part, String> {
    if e.is_empty() {
        return Err("empty `{{ }}`".into());
    }
    if let Some(f) = e.strip_prefix('$') {
        let (name, args) = match f.find('(') {
            Some(p) => {
                let a = f[p + 1..].strip_suffix(')').ok_or_else(|| format!("missing `)` in `{e}`"))?;
                (f[..p].trim(), a.trim())
            }
            None => (f, ""),
        };
        let nums: Vec<i64> = if args.is_empty() {
            Vec::new()
        } else {
            args.split(',')
                .map(|a| a.trim().parse::<i64>().map_err(|_| format!("argument {:?} of ${name} is not an integer", a.trim())))
                .collect::<Result<_, _>>()?
        };
        return match (name, nums.as_slice()) {
            ("randomNumber", [a, b]) if a <= b => Ok(Part::RandomNumber(*a, *b)),
            ("randomNumber", [a, b]) => Err(format!("$randomNumber({a}, {b}): min is greater than max")),
            ("randomNumber", []) => Ok(Part::RandomNumber(0, 10_000_000)),
            ("randomString", [n]) if *n >= 0 && *n <= 1_000_000 => Ok(Part::RandomString(*n as usize)),
            ("randomString", []) => Ok(Part::RandomString(10)),
            ("randomNumber" | "randomString", _) => {
                Err(format!("wrong arguments for ${name}: expected $randomNumber(min, max) or $randomString(length)"))
            }
            _ => Err(format!("unknown function ${name}; supported: $randomNumber(min, max), $randomString(length)")),
        };
    }
    if is_var_name(e) {
        Ok(Part::Var(e.to_string()))
    } else {
        Err(format!("`{e}` is not a variable name or a supported $function"))
    }
}

/// Parses the JSONPath subset `$`, `$.a.b`, `$.a[0]`, `$['a']`, `$.data[0].id`.
///
/// # Errors
/// A message when the path does not start with `$` or a step is malformed.
pub fn parse_json_path(s: &str) -> Result<JsonPath, String> {
    let b = s.trim();
    let mut rest = b.strip_prefix('$').ok_or_else(|| format!("JSONPath {s:?} must start with `$`"))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(format!("empty key in JSONPath {s:?}"));
            }
            steps.push(PathStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| format!("missing `]` in JSONPath {s:?}"))?;
            let inner = r[..end].trim();
            if let Some(q) = inner
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
            {
                steps.push(PathStep::Key(q.to_string()));
            } else {
                let i = inner.parse::<usize>().map_err(|_| {
                    format!("`[{inner}]` in JSONPath {s:?}: expected an index or a quoted key (filters and wildcards are not supported)")
                })?;
                steps.push(PathStep::Index(i));
            }
            rest = &r[end + 1..];
        } else {
            return Err(format!("unexpected {rest:?} in JSONPath {s:?}"));
        }
    }
    Ok(JsonPath { source: b.to_string(), steps })
}

/// Parses CSV (RFC 4180 quoting, `""` escapes a quote). Returns rows, or the 1-based
/// line of an unterminated quote.
fn parse_csv(text: &str, delim: u8) -> Result<Vec<Vec<String>>, (usize, String)> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = Vec::<u8>::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut quote_line = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut row_has_content = false;
    let to_s = |f: &mut Vec<u8>| String::from_utf8_lossy(&std::mem::take(f)).into_owned();
    while i < bytes.len() {
        let c = bytes[i];
        if in_quotes {
            if c == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    field.push(b'"');
                    i += 1;
                } else {
                    in_quotes = false;
                }
            } else {
                if c == b'\n' {
                    line += 1;
                }
                field.push(c);
            }
        } else if c == b'"' && field.is_empty() {
            in_quotes = true;
            quote_line = line;
            row_has_content = true;
        } else if c == delim {
            row.push(to_s(&mut field));
            row_has_content = true;
        } else if c == b'\n' || c == b'\r' {
            if c == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            if row_has_content || !field.is_empty() {
                row.push(to_s(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            row_has_content = false;
            line += 1;
        } else {
            field.push(c);
            row_has_content = true;
        }
        i += 1;
    }
    if in_quotes {
        return Err((quote_line, "unterminated quoted field".into()));
    }
    if row_has_content || !field.is_empty() {
        row.push(to_s(&mut field));
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ScenarioFile, ConfigError> {
        ScenarioFile::parse(s, "t.yaml", Path::new("."))
    }

    #[test]
    fn reference_artillery_yaml_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../slo/artillery.yaml");
        let f = ScenarioFile::load(&p).unwrap();
        assert_eq!(f.target.as_ref().unwrap().0, "https://api.example.com");
        assert_eq!(f.flows.len(), 2);
        assert_eq!((f.flows[0].weight, f.flows[1].weight), (8, 2));
        assert_eq!(f.flows[0].steps.len(), 5);
        // Phases: 60 s at 5/s, 300 s 20→100, 600 s at 100, 60 s 100→0 (hand-derived stages:
        // 60s→5, jump 0s→20, 300s→100, 600s→100, 60s→0).
        let Executor::RampingArrivalRate { start_rate, stages, .. } = &f.scenarios[0].executor else { panic!() };
        assert_eq!(*start_rate, 5.0);
        let got: Vec<(u64, f64)> = stages.iter().map(|s| (s.duration.as_secs(), s.target)).collect();
        assert_eq!(got, vec![(60, 5.0), (0, 20.0), (300, 100.0), (600, 100.0), (60, 0.0)]);
        assert_eq!(f.scheduled_duration(), Duration::from_secs(1020));
        // ensure → thresholds
        let srcs: Vec<(String, String)> =
            f.thresholds.iter().flat_map(|m| m.thresholds.iter().map(move |t| (m.key_source.clone(), t.source.clone()))).collect();
        assert_eq!(srcs, vec![("http_req_duration".into(), "p(95)<=500".into()), ("http_req_failed".into(), "rate<=0.01".into())]);
        assert_eq!(f.default_headers[0].0, "Content-Type");
        assert_eq!(f.variables[0].values.len(), 5);
        assert!(f.variables[0].values[0].raw_json);
        let Step::Request(login) = &f.flows[0].steps[0] else { panic!() };
        assert_eq!(login.method, Method::Post);
        assert_eq!(login.captures[0].var, "authToken");
        assert_eq!(login.expects, vec![Expect::StatusCode(vec![200])]);
        let Step::Request(prod) = &f.flows[0].steps[3] else { panic!() };
        assert_eq!(prod.name, "/api/products/{{ $randomNumber(1, 100) }}");
        assert!(matches!(prod.url.parts[1], Part::RandomNumber(1, 100)));
        let Step::Loop { count, steps } = &f.flows[1].steps[0] else { panic!() };
        assert_eq!((*count, steps.len()), (5, 2));
    }

    #[test]
    fn k6_scenarios_with_defaults() {
        let f = parse(
            "scenarios:\n  smoke:\n    executor: constant-vus\n    duration: 1m\n  stress:\n    executor: ramping-arrival-rate\n    startRate: 10\n    preAllocatedVUs: 50\n    maxVUs: 500\n    stages:\n      - {duration: 2m, target: 50}\n    exec: home\nflows:\n  - name: home\n    flow:\n      - get: {url: /}\nthresholds:\n  http_req_duration{name:login}: ['p(95)<1000', {threshold: 'max<3000', abortOnFail: true}]\ntags: {team: web}\n",
        )
        .unwrap();
        assert_eq!(f.scenarios[0].executor, Executor::ConstantVus { vus: 1, duration: Duration::from_secs(60) });
        assert_eq!(f.scenarios[0].graceful_stop, Duration::from_secs(30));
        assert_eq!(f.scenarios[1].exec.as_deref(), Some("home"));
        let Executor::RampingArrivalRate { time_unit, max_vus, .. } = &f.scenarios[1].executor else { panic!() };
        assert_eq!((*time_unit, *max_vus), (Duration::from_secs(1), 500));
        assert_eq!(f.thresholds.0[0].key.filters, vec![("name".to_string(), "login".to_string())]);
        assert!(f.thresholds.0[0].thresholds[1].abort_on_fail);
        assert_eq!(f.tags, vec![("team".to_string(), "web".to_string())]);
    }

    #[test]
    fn shortcuts_follow_k6() {
        let flow = "flows:\n  - flow:\n      - get: {url: /}\n";
        let f = parse(&format!("vus: 5\nduration: 10s\n{flow}")).unwrap();
        assert_eq!(f.scenarios[0].executor, Executor::ConstantVus { vus: 5, duration: Duration::from_secs(10) });
        let f = parse(&format!("vus: 2\niterations: 10\n{flow}")).unwrap();
        assert!(matches!(f.scenarios[0].executor, Executor::SharedIterations { vus: 2, iterations: 10, .. }));
        let f = parse(&format!("stages: [{{duration: 5s, target: 3}}]\n{flow}")).unwrap();
        assert!(matches!(f.scenarios[0].executor, Executor::RampingVus { start_vus: 1, .. }));
        let f = parse(flow).unwrap();
        assert!(matches!(f.scenarios[0].executor, Executor::PerVuIterations { vus: 1, iterations: 1, .. }));
    }

    #[test]
    fn errors_name_line_and_column() {
        // unknown executor at line 3 col 15
        let e = parse("scenarios:\n  a:\n    executor: constant-vu\n    duration: 1s\nflows: [{flow: [{get: {url: /}}]}]\n").unwrap_err();
        assert_eq!(e.location().map(|l| (l.line, l.column)), Some((3, 15)), "{e}");
        // bad duration
        let e = parse("scenarios:\n  a:\n    executor: constant-vus\n    duration: 5x\nflows: [{flow: [{get: {url: /}}]}]\n").unwrap_err();
        assert_eq!(e.location().map(|l| (l.line, l.column)), Some((4, 15)), "{e}");
        // unknown step
        let e = parse("scenarios:\n  - flow:\n      - fetch: {url: /}\n").unwrap_err();
        assert_eq!(e.location().map(|l| (l.line, l.column)), Some((3, 9)), "{e}");
        // undefined variable
        let e = parse("scenarios:\n  - flow:\n      - get: {url: '/x/{{ nope }}'}\n").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        // bad template function
        let e = parse("scenarios:\n  - flow:\n      - get: {url: '/x/{{ $uuid() }}'}\n").unwrap_err();
        assert!(e.to_string().contains("unknown function $uuid"), "{e}");
        // unknown field in a k6 scenario
        let e = parse("scenarios:\n  a:\n    executor: constant-vus\n    duration: 1s\n    rate: 3\nflows: [{flow: [{get: {url: /}}]}]\n")
            .unwrap_err();
        assert!(matches!(e, ConfigError::UnknownField { .. }), "{e}");
        // bad threshold
        let e = parse("thresholds: {http_req_duration: ['p95<1']}\nflows: [{flow: [{get: {url: /}}]}]\n").unwrap_err();
        assert!(matches!(e, ConfigError::Expression { .. }), "{e}");
        // syntax
        let e = parse("scenarios: [\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
        // shared-iterations needs iterations >= vus
        assert!(
            parse("scenarios:\n  a: {executor: shared-iterations, vus: 5, iterations: 2}\nflows: [{flow: [{get: {url: /}}]}]\n").is_err()
        );
    }

    #[test]
    fn templates_and_paths() {
        let t = parse_template("a{{ x }}b{{$randomString(4)}}").unwrap();
        assert_eq!(t.parts, vec![Part::Lit("a".into()), Part::Var("x".into()), Part::Lit("b".into()), Part::RandomString(4)]);
        assert!(parse_template("{{ x").is_err());
        assert!(parse_template("{{ $randomNumber(5, 1) }}").is_err());
        let p = parse_json_path("$.data[0]['id']").unwrap();
        assert_eq!(p.steps, vec![PathStep::Key("data".into()), PathStep::Index(0), PathStep::Key("id".into())]);
        assert!(parse_json_path("data").is_err());
        assert!(is_json_number("-1.5e3") && !is_json_number("01x") && !is_json_number("1."));
    }

    #[test]
    fn csv_parses_quotes() {
        let rows = parse_csv("a,b\n\"x,1\",\"say \"\"hi\"\"\"\r\n\nlast,1", b',').unwrap();
        assert_eq!(rows, vec![vec!["a", "b"], vec!["x,1", "say \"hi\""], vec!["last", "1"]]);
        assert_eq!(parse_csv("a,\"b\n", b',').unwrap_err().0, 1);
    }

    #[test]
    fn payload_loads_relative_to_file() {
        let dir = std::env::temp_dir().join(format!("slo-scn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("users.csv"), "name,pass\nann,1\nbob,2\n").unwrap();
        let f = ScenarioFile::parse(
            "config:\n  payload: {path: users.csv, fields: [user, pw], skipHeader: true, order: sequence}\nscenarios:\n  - flow:\n      - get: {url: '/u/{{ user }}'}\n",
            "t.yaml",
            &dir,
        )
        .unwrap();
        assert_eq!(f.payloads[0].rows, vec![vec!["ann", "1"], vec!["bob", "2"]]);
        assert_eq!(f.payloads[0].order, PayloadOrder::Sequence);
        let e = ScenarioFile::parse(
            "config:\n  payload: {path: nope.csv, fields: [a]}\nscenarios: [{flow: [{get: {url: /}}]}]\n",
            "t.yaml",
            &dir,
        )
        .unwrap_err();
        assert_eq!(e.location().map(|l| l.line), Some(2));
        std::fs::remove_dir_all(&dir).ok();
    }
}
