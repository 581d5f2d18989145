//! `slo-config.yaml`: the service's SLOs and its k6-style threshold profiles, in the
//! shape of the reference document (`slo/seed.slo-config.yaml`):
//!
//! ```yaml
//! service: api-gateway              # required
//! environment: production           # optional
//! min_samples: 100                  # optional: fewer samples than this is NO DATA
//! tolerance: 5%                     # optional: noise tolerance of baseline comparisons (default 5%)
//! slos:                             # optional
//!   availability: {target: 99.9, window: 30d}     # percent of requests that succeed
//!   latency:
//!     p95: {target: 500ms, window: 1h}           # pNN, any 0 <= NN <= 100 (p99.9 too)
//!   throughput: {target: 1000rps, window: 1m}    # requests per second (also 1000/s)
//!   error_rate: {target: 0.1%, window: 1h}       # percent of requests that fail
//! thresholds:                       # optional: profile name -> k6 thresholds
//!   load_test:
//!     http_req_duration: ['p(95)<500', {threshold: 'max<3000', abortOnFail: true, delayAbortEval: 10s}]
//!     http_req_duration{name:login}: ['p(95)<1000']
//! ```
//!
//! Every SLO entry takes `target` and `window` (both required) and, optionally,
//! `min_samples`, `tolerance` (both override the top-level ones) and `filter`, a k6 tag
//! filter such as `'{name:login}'` (quoted, or written as a YAML mapping
//! `{name: login}`) that restricts the SLO to matching samples.
//!
//! Units: percentages are written `99.9` or `99.9%` (both mean 99.9 %); times need a
//! unit (`100ms`, `1s`, `1.5s`) and are kept in milliseconds; rates are `1000rps` or
//! `1000/s`, requests per second; windows are durations (`90s`, `5m`, `1h`, `30d`,
//! `1h30m`, [`slo_model::parse_duration`]). Unknown fields, duplicate keys and values out
//! of range are errors that name file:line:column.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::ConfigError;
use crate::grammar::{parse_metric_key, parse_tag_filter, parse_threshold_expr};
use crate::threshold::{Location, MetricThresholds, Threshold, ThresholdSet};
use crate::yaml::{self, Kind, Node, Reader};

/// Default noise tolerance for baseline comparisons, percent.
pub const DEFAULT_TOLERANCE_PERCENT: f64 = 5.0;

/// A parsed `slo-config.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloConfig {
    /// The file as the user named it (used in every location).
    pub file: String,
    /// `service`: the service's name, shown in reports.
    pub service: String,
    /// `environment`, e.g. `production`.
    pub environment: Option<String>,
    /// The SLOs in the order written (latency ones in their written order).
    pub slos: Vec<Slo>,
    /// `thresholds`: profile name (`smoke_test`, `load_test`, any name) to its thresholds.
    pub thresholds: BTreeMap<String, ThresholdSet>,
    /// Top-level `min_samples`: fewer samples than this makes a verdict NO DATA.
    pub min_samples: Option<u64>,
    /// Top-level `tolerance` in percent (default [`DEFAULT_TOLERANCE_PERCENT`]): a
    /// baseline-vs-candidate difference smaller than this is noise.
    pub tolerance_percent: f64,
}

impl SloConfig {
    /// The thresholds of profile `name`, if it exists.
    pub fn profile(&self, name: &str) -> Option<&ThresholdSet> {
        self.thresholds.get(name)
    }

    /// Checks every profile's aggregations against metric types (see
    /// [`ThresholdSet::validate_types`]; profiles in name order).
    ///
    /// # Errors
    /// The first [`ConfigError::Aggregation`] found.
    pub fn validate_types(&self, lookup: impl Fn(&str) -> Option<slo_model::MetricType>) -> Result<(), ConfigError> {
        for set in self.thresholds.values() {
            set.validate_types(&lookup)?;
        }
        Ok(())
    }
}

/// One SLO: an objective judged over tumbling windows of `window`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    /// `availability`, `latency.p95`, `throughput` or `error_rate`.
    pub name: String,
    /// What is measured and the target.
    pub objective: Objective,
    /// Window length.
    pub window: Duration,
    /// The window as written (`30d`).
    pub window_source: String,
    /// Effective minimum sample count: this SLO's `min_samples`, else the top-level one.
    pub min_samples: Option<u64>,
    /// Effective noise tolerance in percent: this SLO's `tolerance`, else the top-level
    /// one, else [`DEFAULT_TOLERANCE_PERCENT`].
    pub tolerance_percent: f64,
    /// Tag filter `(key, value)` pairs (AND, sorted by key; empty = all samples).
    pub filter: Vec<(String, String)>,
    /// Where the SLO's name is written.
    pub location: Location,
}

/// What an SLO measures and its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Objective {
    /// Share of requests that succeed (not `http_req_failed`) must be at least
    /// `target_percent` (0 < target < 100).
    Availability {
        /// Target in percent, e.g. 99.9.
        target_percent: f64,
    },
    /// The `percentile`-th percentile of `http_req_duration` must be at most `target_ms`.
    Latency {
        /// N of pN, 0 ≤ N ≤ 100 (e.g. 95, 99.9).
        percentile: f64,
        /// Target in milliseconds (> 0).
        target_ms: f64,
    },
    /// Requests per second (`http_reqs` rate) must be at least `target_rps` (> 0).
    Throughput {
        /// Target in requests per second.
        target_rps: f64,
    },
    /// Share of failed requests (`http_req_failed`) must be at most `target_percent`
    /// (0 < target < 100).
    ErrorRate {
        /// Target in percent, e.g. 0.1.
        target_percent: f64,
    },
}

/// Reads and parses `slo-config.yaml` at `path` (the path as given names the file in
/// errors).
///
/// # Errors
/// [`ConfigError::Io`] when the file cannot be read, else as [`parse_slo_config`].
pub fn load_slo_config(path: &Path) -> Result<SloConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io { file: file.clone(), cause })?;
    parse_slo_config(&text, &file)
}

const TOP_FIELDS: &[&str] = &["service", "environment", "slos", "thresholds", "min_samples", "tolerance"];
const SLO_KINDS: &[&str] = &["availability", "latency", "throughput", "error_rate"];
const SLO_FIELDS: &[&str] = &["target", "window", "min_samples", "tolerance", "filter"];

/// Parses the text of a `slo-config.yaml`; `file_name` names it in errors.
///
/// # Errors
/// A [`ConfigError`] at the offending spot: YAML syntax, unknown or duplicate field,
/// missing `service`/`target`/`window`, a target out of range (availability and
/// error rate in (0, 100), latency and throughput > 0), a window that is not a positive
/// duration, a bad tag filter, metric key or threshold expression.
pub fn parse_slo_config(text: &str, file_name: &str) -> Result<SloConfig, ConfigError> {
    let r = Reader { file: file_name };
    let Some(root) = yaml::parse(text, file_name)? else {
        return Err(ConfigError::MissingField {
            location: Location { file: file_name.to_string(), line: 1, column: 1 },
            field: "service".into(),
            context: "an empty slo-config file".into(),
        });
    };
    let top = r.map(&root, "slo-config", Some(TOP_FIELDS))?;
    let get = |name: &str| top.iter().find(|(k, _, _)| k == name).map(|(_, k, v)| (*k, *v));

    let service = match get("service") {
        Some((_, v)) => r.string(v, "service")?.to_string(),
        None => return Err(ConfigError::MissingField { location: r.at(&root), field: "service".into(), context: "slo-config".into() }),
    };
    let environment = match get("environment") {
        Some((_, v)) if !v.is_null() => Some(r.string(v, "environment")?.to_string()),
        _ => None,
    };
    let min_samples = match get("min_samples") {
        Some((_, v)) => Some(read_min_samples(&r, v, "min_samples")?),
        None => None,
    };
    let tolerance_percent = match get("tolerance") {
        Some((_, v)) => read_tolerance(&r, v, "tolerance")?,
        None => DEFAULT_TOLERANCE_PERCENT,
    };
    let defaults = Defaults { min_samples, tolerance_percent };

    let mut slos = Vec::new();
    if let Some((_, node)) = get("slos") {
        if !node.is_null() {
            for (kind, knode, vnode) in r.map(node, "slos", Some(SLO_KINDS))? {
                if kind == "latency" {
                    for (pname, pk, pv) in r.map(vnode, "slos.latency", None)? {
                        let percentile = latency_percentile(&pname).ok_or_else(|| ConfigError::UnknownField {
                            location: r.at(pk),
                            field: pname.clone(),
                            context: "slos.latency".into(),
                            expected: "p50, p95, p99 or any pNN with 0 <= NN <= 100 (p99.9)".into(),
                        })?;
                        let name = format!("latency.{pname}");
                        slos.push(read_slo(&r, &name, pk, pv, &defaults, |t| {
                            let target_ms = parse_time_ms(text_of(t)).map_err(|m| r.invalid(t, &format!("slos.{name}.target"), m))?;
                            Ok(Objective::Latency { percentile, target_ms })
                        })?);
                    }
                } else {
                    let what = format!("slos.{kind}.target");
                    slos.push(read_slo(&r, &kind, knode, vnode, &defaults, |t| {
                        let s = text_of(t);
                        Ok(match kind.as_str() {
                            "availability" => {
                                Objective::Availability { target_percent: parse_percent(s, false).map_err(|m| r.invalid(t, &what, m))? }
                            }
                            "error_rate" => {
                                Objective::ErrorRate { target_percent: parse_percent(s, false).map_err(|m| r.invalid(t, &what, m))? }
                            }
                            _ => Objective::Throughput { target_rps: parse_rps(s).map_err(|m| r.invalid(t, &what, m))? },
                        })
                    })?);
                }
            }
        }
    }

    let mut thresholds = BTreeMap::new();
    if let Some((_, node)) = get("thresholds") {
        if !node.is_null() {
            for (profile, _, pnode) in r.map(node, "thresholds", None)? {
                let set = read_threshold_set(&r, pnode, &format!("thresholds.{profile}"))?;
                thresholds.insert(profile, set);
            }
        }
    }

    Ok(SloConfig { file: file_name.to_string(), service, environment, slos, thresholds, min_samples, tolerance_percent })
}

struct Defaults {
    min_samples: Option<u64>,
    tolerance_percent: f64,
}

fn text_of(n: &Node) -> &str {
    match &n.kind {
        Kind::Scalar { text, .. } => text,
        _ => "",
    }
}

/// Reads one SLO entry `{target, window, min_samples?, tolerance?, filter?}`;
/// `objective` turns the target node into the objective.
fn read_slo(
    r: &Reader<'_>,
    name: &str,
    key: &Node,
    node: &Node,
    defaults: &Defaults,
    objective: impl FnOnce(&Node) -> Result<Objective, ConfigError>,
) -> Result<Slo, ConfigError> {
    let ctx = format!("slos.{name}");
    let fields = r.map(node, &ctx, Some(SLO_FIELDS))?;
    let get = |f: &str| fields.iter().find(|(k, _, _)| k == f).map(|(_, _, v)| *v);
    let missing = |field: &str| ConfigError::MissingField { location: r.at(key), field: field.into(), context: ctx.clone() };

    let target = get("target").ok_or_else(|| missing("target"))?;
    r.string(target, &format!("{ctx}.target"))?;
    let objective = objective(target)?;

    let wnode = get("window").ok_or_else(|| missing("window"))?;
    let window_source = r.string(wnode, &format!("{ctx}.window"))?.to_string();
    let window = slo_model::parse_duration(&window_source).map_err(|e| r.invalid(wnode, &format!("{ctx}.window"), e.to_string()))?;
    if window.is_zero() {
        return Err(r.invalid(wnode, &format!("{ctx}.window"), format!("{window_source:?}: a window must be longer than zero")));
    }

    let min_samples = match get("min_samples") {
        Some(v) => Some(read_min_samples(r, v, &format!("{ctx}.min_samples"))?),
        None => defaults.min_samples,
    };
    let tolerance_percent = match get("tolerance") {
        Some(v) => read_tolerance(r, v, &format!("{ctx}.tolerance"))?,
        None => defaults.tolerance_percent,
    };
    let filter = match get("filter") {
        Some(v) => read_filter(r, v, &format!("{ctx}.filter"))?,
        None => Vec::new(),
    };
    Ok(Slo { name: name.to_string(), objective, window, window_source, min_samples, tolerance_percent, filter, location: r.at(key) })
}

/// A tag filter written as a string (`'{name:login}'`) or as a YAML mapping
/// (`{name: login}`, or unquoted `{name:login}`, which YAML reads as the key
/// `name:login` with no value).
fn read_filter(r: &Reader<'_>, node: &Node, what: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let text = match &node.kind {
        Kind::Scalar { .. } => r.string(node, what)?.to_string(),
        Kind::Map(_) => {
            let mut parts = Vec::new();
            for (k, _, v) in r.map(node, what, None)? {
                if v.is_null() {
                    parts.push(k);
                } else {
                    parts.push(format!("{k}:{}", r.string(v, what)?));
                }
            }
            format!("{{{}}}", parts.join(","))
        }
        Kind::Seq(_) => return Err(r.invalid(node, what, "expected a tag filter such as '{name:login}', found a list")),
    };
    parse_tag_filter(&text).map_err(|m| r.invalid(node, what, m))
}

fn read_min_samples(r: &Reader<'_>, node: &Node, what: &str) -> Result<u64, ConfigError> {
    let s = r.string(node, what)?;
    s.trim().parse::<u64>().map_err(|_| r.invalid(node, what, format!("{s:?} is not a whole number of samples (0 or more)")))
}

fn read_tolerance(r: &Reader<'_>, node: &Node, what: &str) -> Result<f64, ConfigError> {
    let s = r.string(node, what)?;
    parse_percent(s, true).map_err(|m| r.invalid(node, what, m))
}

/// `pNN` with 0 ≤ NN ≤ 100, digits and at most one `.`: `p50`, `p99.9`.
fn latency_percentile(key: &str) -> Option<f64> {
    let n = key.strip_prefix('p')?;
    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit() || c == b'.') || n.starts_with('.') {
        return None;
    }
    let v: f64 = n.parse().ok()?;
    (0.0..=100.0).contains(&v).then_some(v)
}

/// A plain decimal number (no `inf`, `nan` or hex, unlike Rust's `f64::from_str`).
fn plain_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A percentage: `99.9` or `99.9%`. Targets must lie in (0, 100); a tolerance
/// (`allow_zero`) in [0, 100).
fn parse_percent(s: &str, allow_zero: bool) -> Result<f64, String> {
    let num = s.trim().strip_suffix('%').unwrap_or(s.trim());
    let v = plain_number(num).ok_or_else(|| format!("{s:?} is not a percentage (write 99.9 or 99.9%)"))?;
    let low_ok = if allow_zero { v >= 0.0 } else { v > 0.0 };
    if !low_ok || v >= 100.0 {
        let range = if allow_zero { "0 to below 100" } else { "strictly between 0 and 100" };
        return Err(format!("{s:?} is {v}%, must be {range} percent"));
    }
    Ok(v)
}

/// A time with a unit (`100ms`, `1s`, `1.5s`) in milliseconds, > 0.
fn parse_time_ms(s: &str) -> Result<f64, String> {
    if plain_number(s).is_some() {
        return Err(format!("{s:?} has no unit: write e.g. {}ms", s.trim()));
    }
    let d = slo_model::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err(format!("{s:?}: a latency target must be longer than zero"));
    }
    Ok(d.as_secs_f64() * 1000.0)
}

/// A rate in requests per second: `1000rps`, `1000 rps`, `1000/s`; > 0.
fn parse_rps(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let num = t
        .strip_suffix("rps")
        .or_else(|| t.strip_suffix("/s"))
        .ok_or_else(|| format!("{s:?} is not a rate: write requests per second as 1000rps or 1000/s"))?;
    let v = plain_number(num).ok_or_else(|| format!("{s:?} is not a rate: write requests per second as 1000rps or 1000/s"))?;
    if v <= 0.0 {
        return Err(format!("{s:?}: a throughput target must be above zero"));
    }
    Ok(v)
}

const THRESHOLD_OBJECT_FIELDS: &[&str] = &["threshold", "abortOnFail", "delayAbortEval"];

/// Reads k6 thresholds: a mapping from metric key to a list of expressions, each a
/// string `'p(95)<500'` or an object `{threshold, abortOnFail, delayAbortEval}` (k6
/// spelling). Used for profiles, k6 options JSON and scenario files.
pub(crate) fn read_threshold_set(r: &Reader<'_>, node: &Node, what: &str) -> Result<ThresholdSet, ConfigError> {
    let mut out = Vec::new();
    if node.is_null() {
        return Ok(ThresholdSet(out));
    }
    for (key_source, knode, vnode) in r.map(node, what, None)? {
        let key = parse_metric_key(&key_source).map_err(|reason| ConfigError::MetricKey {
            location: r.at(knode),
            key: key_source.clone(),
            reason,
        })?;
        let ctx = format!("{what}.{key_source}");
        let mut thresholds = Vec::new();
        for item in r.seq(vnode, &ctx)? {
            thresholds.push(read_threshold(r, item, &ctx)?);
        }
        out.push(MetricThresholds { key_source, key, location: r.at(knode), thresholds });
    }
    Ok(ThresholdSet(out))
}

fn read_threshold(r: &Reader<'_>, item: &Node, ctx: &str) -> Result<Threshold, ConfigError> {
    let (src_node, abort_on_fail, delay_abort_eval) = match &item.kind {
        Kind::Map(_) => {
            let fields = r.map(item, &format!("a threshold of {ctx}"), Some(THRESHOLD_OBJECT_FIELDS))?;
            let get = |f: &str| fields.iter().find(|(k, _, _)| k == f).map(|(_, _, v)| *v);
            let src = get("threshold").ok_or_else(|| ConfigError::MissingField {
                location: r.at(item),
                field: "threshold".into(),
                context: format!("a threshold of {ctx}"),
            })?;
            let abort = match get("abortOnFail") {
                Some(v) if !v.is_null() => r.bool(v, "abortOnFail")?,
                _ => false,
            };
            let delay = match get("delayAbortEval") {
                Some(v) if !v.is_null() && !text_of(v).is_empty() => {
                    let s = r.string(v, "delayAbortEval")?;
                    Some(slo_model::parse_duration(s).map_err(|e| r.invalid(v, "delayAbortEval", e.to_string()))?)
                }
                _ => None,
            };
            (src, abort, delay)
        }
        _ => (item, false, None),
    };
    let source = r.string(src_node, &format!("threshold of {ctx}"))?.to_string();
    let expr = parse_threshold_expr(&source).map_err(|reason| ConfigError::Expression {
        location: r.at(src_node),
        expr: source.clone(),
        reason,
    })?;
    Ok(Threshold { source, expr, abort_on_fail, delay_abort_eval, location: r.at(src_node) })
}

#[cfg(test)]
mod tests;
