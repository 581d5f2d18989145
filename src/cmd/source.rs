//! Real stores behind `--out` and `--source`: InfluxDB and Prometheus (VictoriaMetrics,
//! Mimir) as sinks of `slo run`, sources of `slo check` and `slo runs list`, and targets
//! of `slo runs push`.
//!
//! # InfluxDB as a source: exact
//!
//! InfluxDB keeps every raw sample, so `slo check --source influxdb=URL` streams the run
//! through [`slo_store::influx::InfluxSource::scan`] into the very analyzer path the local
//! store uses ([`crate::cmd::analyze_with`]): same verdicts, same values to the last digit.
//! `--from/--to` scans every point in the range whatever its `testid` (k6 data written
//! without one).
//!
//! # Prometheus as a source: counts exact, latency estimated
//!
//! Prometheus keeps counters and histograms, not samples. The design, in three steps:
//!
//! 1. [`PrometheusSource::run_aggregates`] computes, per tumbling window and per `name`,
//!    the request and failed-request counts (exact: from the raw counter samples) and the
//!    latency quantiles the thresholds and SLOs ask for (estimates from histogram buckets,
//!    within the layout's relative error bound, ±5 % by default).
//! 2. The counts become points fed to the normal analyzer at each window's midpoint:
//!    `http_reqs` (value = count, tags `name`, `expected_response`) and `http_req_failed`
//!    (one 0/1 point per request, so its `rate` and the availability / error-rate SLOs are
//!    exact). The window length is the greatest common divisor of every SLO window and
//!    `--threshold-window`, so every analyzer window is a union of whole aggregate windows.
//! 3. Latency is never turned into synthetic samples. Thresholds on `http_req_duration`
//!    (`p(N)`, `med`) and latency SLOs take the estimated quantiles directly (whole range,
//!    per `name` filter, per window); their `reason` says "estimate from histogram buckets,
//!    error bound ±X%", and the report carries the same note. `avg`, `min`, `max` and other
//!    tag filters cannot be computed from buckets: NO DATA with that reason. For runs k6
//!    wrote with trend stats, k6's own values are used (exact, k6's).

use std::path::{Path, PathBuf};

use anyhow::Context;
use slo_analyze::{CheckReport, Options, SloSpec, Verdict};
use slo_config::{Aggregation, MetricThresholds, Op};
use slo_model::{MetricInfo, RunId, RunMeta, RunStatus, BUILTIN_METRICS};
use slo_store::influx::{InfluxConfig, InfluxError, InfluxSource};
use slo_store::prometheus::{PromConfig, PromRun, PrometheusError, PrometheusSource, RunOrigin, RunSelector};

use crate::exit::{Exit, ExitError};

/// A store named by `--out` / `--source`.
#[derive(Debug, Clone)]
pub enum Store {
    /// `influxdb=URL`
    Influx(InfluxConfig),
    /// `prometheus=URL`
    Prometheus(PromConfig),
}

impl Store {
    /// The `kind=URL` form to print, without credentials (re-runnable after adding them back).
    pub fn display(&self) -> String {
        match self {
            Store::Influx(c) => format!("influxdb={}", c.display_url()),
            Store::Prometheus(c) => format!("prometheus={}", c.display_url()),
        }
    }

    /// The `kind=URL` to repeat in a `slo runs push` hint: the URL as given (Mimir's
    /// `/api/v1/push` kept), with a `USER:PASSWORD@` placeholder where it carried
    /// credentials, which are never printed.
    pub fn push_spec(&self) -> String {
        let (kind, url, credentials) = match self {
            Store::Influx(c) => {
                let user = matches!(
                    &c.api,
                    slo_store::influx::InfluxApi::V1 { user: Some(_), .. } | slo_store::influx::InfluxApi::V1 { password: Some(_), .. }
                );
                ("influxdb", c.display_url(), user)
            }
            Store::Prometheus(c) => {
                let url = if c.write_path == "/api/v1/write" { c.display_url() } else { format!("{}{}", c.display_url(), c.write_path) };
                ("prometheus", url, c.user.is_some() || c.password.is_some())
            }
        };
        match (credentials, url.split_once("://")) {
            (true, Some((scheme, rest))) => format!("{kind}={scheme}://USER:PASSWORD@{rest}"),
            _ => format!("{kind}={url}"),
        }
    }
}

fn exit_of_code(c: u8) -> Exit {
    match c {
        2 => Exit::InvalidInput,
        3 => Exit::NoData,
        4 => Exit::BackendUnreachable,
        _ => Exit::Failed,
    }
}

/// An InfluxDB error carrying its exit code (4 unreachable, 3 not found, 2 bad URL).
pub fn influx_err(e: InfluxError) -> anyhow::Error {
    anyhow::Error::new(ExitError { exit: exit_of_code(e.exit_code()), error: e.into() })
}

/// A Prometheus error carrying its exit code (4 unreachable, 3 not found, 2 bad URL).
pub fn prom_err(e: PrometheusError) -> anyhow::Error {
    anyhow::Error::new(ExitError { exit: exit_of_code(e.exit_code()), error: e.into() })
}

/// Parses `influxdb=URL` or `prometheus=URL` for `flag`; tokens come from the environment
/// only (SLO_INFLUXDB_TOKEN, SLO_PROMETHEUS_TOKEN). Errors exit 2 naming the flag.
pub fn parse(flag: &str, spec: &str) -> anyhow::Result<Store> {
    let bad = |m: String| anyhow::Error::new(ExitError { exit: Exit::InvalidInput, error: anyhow::anyhow!("{flag} {m}") });
    match spec.split_once('=') {
        Some(("influxdb", url)) => {
            let token = std::env::var(slo_store::influx::TOKEN_ENV).ok().filter(|t| !t.is_empty());
            InfluxConfig::from_url(url, token).map(Store::Influx).map_err(|e| bad(e.to_string()))
        }
        Some(("prometheus", url)) => PromConfig::from_url(url).map(Store::Prometheus).map_err(|e| bad(e.to_string())),
        _ => Err(bad(format!("{:?}: expected influxdb=URL or prometheus=URL", redact(spec)))),
    }
}

pub use slo_model::redact_url as redact;

/// Whether a Prometheus server answers its query API (exit 4 when it cannot be reached).
pub fn prom_healthcheck(cfg: &PromConfig) -> Result<(), PrometheusError> {
    PrometheusSource::new(cfg).query("vector(1)", chrono::Utc::now().timestamp_millis()).map(|_| ())
}

/// Parses an RFC 3339 time of `flag` to ns since the epoch.
pub fn parse_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().and_then(|t| t.timestamp_nanos_opt()).ok_or_else(|| {
        anyhow::Error::new(ExitError {
            exit: Exit::InvalidInput,
            error: anyhow::anyhow!("{flag} {s:?}: expected an RFC 3339 time such as 2024-05-01T12:00:00Z"),
        })
    })
}

/// The metadata of a `--from/--to` range judged as one run: k6's built-in catalog, the
/// range as its span and duration.
pub fn range_meta(from_ns: i64, to_ns: i64, origin: String) -> RunMeta {
    RunMeta {
        id: RunId("range".into()),
        created_ns: to_ns,
        start_ns: Some(from_ns),
        end_ns: Some(to_ns),
        duration_s: Some((to_ns - from_ns) as f64 / 1e9),
        duration_source: Some("--from/--to".into()),
        status: RunStatus::Complete,
        origin,
        scenario: None,
        tags: Default::default(),
        metrics: BUILTIN_METRICS.iter().map(|(n, k, c)| MetricInfo { name: (*n).to_string(), kind: *k, contains: *c }).collect(),
        points: 0,
        slo_version: String::new(),
    }
}

/// What `slo check` judges: a run id or a time range.
pub enum Selection {
    /// `--run latest|ID|prefix`.
    Run(String),
    /// `--from/--to`, ns since the epoch, end exclusive.
    Range(i64, i64),
}

/// Judges a run (or range) read from InfluxDB. `own_thresholds` gets the run's metadata and
/// returns the thresholds to add when none were given (the run's own, from --store).
pub fn check_influx(
    cfg: InfluxConfig,
    sel: &Selection,
    thresholds: &mut Vec<MetricThresholds>,
    slos: &[SloSpec],
    options: Options,
    own_thresholds: &mut dyn FnMut(&RunMeta, &mut Vec<MetricThresholds>) -> anyhow::Result<()>,
) -> anyhow::Result<(CheckReport, RunMeta)> {
    let src = InfluxSource::open(cfg).map_err(influx_err)?;
    let meta = match sel {
        Selection::Run(spec) => src.resolve(spec).map_err(influx_err)?,
        Selection::Range(a, b) => range_meta(*a, *b, format!("InfluxDB {}", src.config().display_url())),
    };
    own_thresholds(&meta, thresholds)?;
    let range = match sel {
        Selection::Range(a, b) => Some((*a, *b)),
        Selection::Run(_) => None,
    };
    let report = crate::cmd::analyze_with(&meta, thresholds, slos, options, &mut |opts, visitor| {
        match range {
            Some((a, b)) => {
                let o = slo_store::ScanOptions { from_ns: Some(a), to_ns: Some(b), ..opts.clone() };
                src.scan_range(&o, visitor).map_err(influx_err)?;
            }
            None => {
                src.scan(&meta, opts, visitor).map_err(influx_err).with_context(|| format!("reading run {}", meta.id))?;
            }
        }
        Ok(())
    })?;
    Ok((report, meta))
}

/// The metadata of a run found in Prometheus (catalog: k6's built-ins).
fn prom_meta(r: &PromRun) -> RunMeta {
    let end = r.end_ms.map(|e| e * 1_000_000);
    let mut m = range_meta(r.start_ms * 1_000_000, end.unwrap_or(r.start_ms * 1_000_000), String::new());
    m.id = RunId(r.testid.clone());
    m.end_ns = end;
    m.created_ns = end.unwrap_or(r.start_ms * 1_000_000);
    m.duration_s = r.end_ms.map(|e| (e - r.start_ms) as f64 / 1e3);
    m.duration_source = Some("run start to end".into());
    m.status = match r.status.as_str() {
        "running" => RunStatus::Running,
        "interrupted" => RunStatus::Interrupted,
        _ => RunStatus::Complete,
    };
    m.origin = match r.origin {
        RunOrigin::Slo => "slo run (prometheus)".into(),
        RunOrigin::K6 => "k6 prometheus-rw output".into(),
    };
    m.scenario = r.scenario.clone();
    m.slo_version = r.slo_version.clone().unwrap_or_default();
    m
}

/// Every run in InfluxDB or Prometheus, oldest first.
pub fn list_runs(store: &Store) -> anyhow::Result<Vec<RunMeta>> {
    match store {
        Store::Influx(c) => {
            let src = InfluxSource::open(c.clone()).map_err(influx_err)?;
            src.list_runs().map_err(influx_err)
        }
        Store::Prometheus(c) => {
            prom_healthcheck(c).map_err(prom_err)?;
            let runs = PrometheusSource::new(c).list_runs().map_err(prom_err)?;
            let mut v: Vec<RunMeta> = runs.iter().map(prom_meta).collect();
            v.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then_with(|| a.id.cmp(&b.id)));
            Ok(v)
        }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// What a latency threshold or SLO reads: the quantile (0..1) and the `name` filter.
/// `None` when buckets cannot answer it (avg/min/max, filters other than `name` and
/// `expected_response:true`), with the reason.
fn latency_target(agg: Aggregation, filters: &[(String, String)]) -> Result<(f64, Option<String>), String> {
    let q = match agg {
        Aggregation::P(p) => p / 100.0,
        Aggregation::Med => 0.5,
        other => return Err(format!("{} cannot be computed from Prometheus histogram buckets", agg_name(other))),
    };
    let mut name = None;
    for (k, v) in filters {
        match (k.as_str(), v.as_str()) {
            ("name", v) => name = Some(v.to_string()),
            // slo's histogram holds every response; the filter is noted, not applied
            ("expected_response", "true") => {}
            _ => return Err(format!("tag filter {k}:{v} is not available from Prometheus histograms (only name)")),
        }
    }
    Ok((q, name))
}

fn agg_name(a: Aggregation) -> String {
    match a {
        Aggregation::Avg => "avg".into(),
        Aggregation::Min => "min".into(),
        Aggregation::Max => "max".into(),
        Aggregation::Med => "med".into(),
        Aggregation::P(p) => format!("p({p})"),
        Aggregation::Count => "count".into(),
        Aggregation::Rate => "rate".into(),
        Aggregation::Value => "value".into(),
    }
}

fn margin(op: Op, observed: f64, target: f64) -> Option<f64> {
    match op {
        Op::Lt | Op::Le => Some(target - observed),
        Op::Gt | Op::Ge => Some(observed - target),
        _ => None,
    }
}

/// Judges a run (or range) read from Prometheus; see the module docs for what is exact
/// and what is estimated.
pub fn check_prometheus(
    cfg: PromConfig,
    sel: &Selection,
    thresholds: &mut Vec<MetricThresholds>,
    slos: &[SloSpec],
    options: Options,
    own_thresholds: &mut dyn FnMut(&RunMeta, &mut Vec<MetricThresholds>) -> anyhow::Result<()>,
) -> anyhow::Result<(CheckReport, RunMeta)> {
    prom_healthcheck(&cfg).map_err(prom_err)?;
    let src = PrometheusSource::new(&cfg);
    let (selector, meta, k6_run) = match sel {
        Selection::Run(spec) => {
            let r = src.resolve_run(spec).map_err(prom_err)?;
            (RunSelector::for_run(&r), prom_meta(&r), r.origin == RunOrigin::K6)
        }
        Selection::Range(a, b) => (
            RunSelector { testid: None, from_ms: a.div_euclid(1_000_000), to_ms: b.div_euclid(1_000_000) },
            range_meta(*a, *b, format!("Prometheus {}", cfg.display_url())),
            false,
        ),
    };
    let mut meta = meta;
    // The analyzer's range is the selector's, at ms resolution.
    meta.start_ns = Some(selector.from_ms * 1_000_000);
    meta.end_ns = Some(selector.to_ms * 1_000_000);
    own_thresholds(&meta, thresholds)?;

    // Quantiles wanted, and the aggregate window (gcd of every window used).
    let mut quantiles: Vec<f64> = Vec::new();
    let mut want = |q: f64| {
        if !quantiles.iter().any(|x| (x - q).abs() < 1e-12) {
            quantiles.push(q);
        }
    };
    for mt in thresholds.iter().filter(|t| t.key.metric == "http_req_duration") {
        for th in &mt.thresholds {
            if let Ok((q, _)) = latency_target(th.expr.agg, &mt.key.filters) {
                want(q);
            }
        }
    }
    for s in slos {
        if let slo_analyze::SloKind::Latency { percentile } = s.kind {
            want(percentile / 100.0);
        }
    }
    let span_ms = (selector.to_ms - selector.from_ms).max(1);
    let mut window_ms: Option<i64> = None;
    let lens = slos.iter().map(|s| s.window.as_millis() as i64).chain(options.threshold_window.map(|w| w.as_millis() as i64));
    for l in lens.filter(|l| *l > 0) {
        window_ms = Some(window_ms.map_or(l, |w| gcd(w, l)));
    }
    let window_ms = window_ms.map(|w| w.max(span_ms / 10_000 + 1));
    let agg = src.run_aggregates(&selector, window_ms, &quantiles).map_err(prom_err).with_context(|| format!("reading run {}", meta.id))?;

    // Counts into the analyzer, at window midpoints.
    let report = crate::cmd::analyze_with(&meta, thresholds, slos, options, &mut |_opts, visitor| {
        let mut feed = |t_ns: i64, e: &slo_store::prometheus::EndpointAggregates| {
            let name = e.name.clone().unwrap_or_default();
            let failed = e.failed.round().max(0.0) as u64;
            let ok = (e.requests.round().max(0.0) as u64).saturating_sub(failed);
            for (er, n) in [("true", ok), ("false", failed)] {
                if n == 0 {
                    continue;
                }
                let mut pairs = vec![("expected_response", er)];
                if !name.is_empty() {
                    pairs.push(("name", name.as_str()));
                }
                let t = slo_model::Tags::from_pairs(pairs);
                visitor.point("http_reqs", t_ns, n as f64, &t);
                for _ in 0..n {
                    visitor.point("http_req_failed", t_ns, if er == "false" { 1.0 } else { 0.0 }, &t);
                }
            }
        };
        if agg.windows.is_empty() {
            let mid = (selector.from_ms + selector.to_ms) / 2 * 1_000_000;
            for e in &agg.by_name {
                feed(mid, e);
            }
        } else {
            for w in &agg.windows {
                let mid = (w.start_ms + w.end_ms) / 2 * 1_000_000;
                for e in &w.by_name {
                    feed(mid, e);
                }
            }
        }
        Ok(())
    })?;
    let mut report = report;
    apply_latency(&mut report, thresholds, slos, &agg, k6_run);
    Ok((report, meta))
}

fn estimate_ms(e: &slo_store::prometheus::EndpointAggregates, q: f64) -> Option<f64> {
    e.latency.iter().find(|l| (l.q - q).abs() < 1e-12).map(|l| l.seconds * 1000.0).filter(|v| v.is_finite())
}

fn endpoint<'a>(
    list: &'a [slo_store::prometheus::EndpointAggregates],
    total: &'a slo_store::prometheus::EndpointAggregates,
    name: &Option<String>,
) -> Option<&'a slo_store::prometheus::EndpointAggregates> {
    match name {
        None => Some(total),
        Some(n) => list.iter().find(|e| e.name.as_deref() == Some(n.as_str())),
    }
}

/// Puts the latency estimates into the report's thresholds and latency SLOs and judges
/// them again (see the module docs).
fn apply_latency(
    report: &mut CheckReport,
    thresholds: &[MetricThresholds],
    slos: &[SloSpec],
    agg: &slo_store::prometheus::RunAggregates,
    k6_run: bool,
) {
    let bound = agg.bucket_error_bound;
    let est_note = match bound {
        Some(b) => format!("estimate from histogram buckets, error bound ±{:.1}%", b * 100.0),
        None => "estimate from histogram buckets".to_string(),
    };
    let flat: Vec<(&MetricThresholds, &slo_config::Threshold)> =
        thresholds.iter().flat_map(|mt| mt.thresholds.iter().map(move |t| (mt, t))).collect();
    let mut touched = false;
    for (i, r) in report.thresholds.iter_mut().enumerate() {
        let Some((mt, th)) = flat.get(i) else { continue };
        if mt.key.metric != "http_req_duration" {
            continue;
        }
        touched = true;
        // k6's own trend stats (exact, k6's values) for a k6 run without filters.
        let k6_stat = if k6_run && mt.key.filters.is_empty() {
            let stat = match th.expr.agg {
                Aggregation::P(p) => format!("p{p}"),
                other => agg_name(other),
            };
            // k6 writes one gauge per tag set; only a single series is the whole run.
            let hits: Vec<_> = agg.trend_stats.iter().filter(|s| s.metric == format!("k6_http_req_duration_{stat}")).collect();
            (hits.len() == 1).then(|| hits[0].value * 1000.0)
        } else {
            None
        };
        let (observed, samples, reason) = match (k6_stat, latency_target(th.expr.agg, &mt.key.filters)) {
            (Some(v), _) => (Some(v), agg.total.latency_count as u64, "k6's own trend stat from its prometheus-rw output".to_string()),
            (None, Err(why)) => (None, 0, why),
            (None, Ok((q, name))) => match endpoint(&agg.by_name, &agg.total, &name) {
                Some(e) => (estimate_ms(e, q), e.latency_count as u64, est_note.clone()),
                None => (None, 0, est_note.clone()),
            },
        };
        r.observed = observed;
        r.samples = samples;
        r.margin = observed.and_then(|v| margin(r.op, v, r.target));
        r.verdict = match observed {
            Some(v) if r.op.holds(v, r.target) => Verdict::Pass,
            Some(_) => Verdict::Fail,
            None if report.allow_no_data => Verdict::Warn,
            None => Verdict::NoData,
        };
        r.reason = Some(reason);
    }
    for (s, r) in slos.iter().zip(report.slos.iter_mut()) {
        let slo_analyze::SloKind::Latency { percentile } = s.kind else { continue };
        touched = true;
        let q = percentile / 100.0;
        let name = s.filter.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone());
        let unsupported = s.filter.iter().find(|(k, v)| k != "name" && !(k == "expected_response" && v == "true"));
        let mut with_data = 0;
        let mut compliant = 0;
        let mut worst: Option<(usize, f64)> = None;
        for (idx, wv) in r.windows.windows.iter_mut().enumerate() {
            let start_ms = wv.span.start_ns.div_euclid(1_000_000);
            let end_ms = wv.span.end_ns.div_euclid(1_000_000);
            // The aggregate windows inside this one (the analyzer's windows are unions of them).
            let parts: Vec<&slo_store::prometheus::WindowAggregates> =
                agg.windows.iter().filter(|w| w.start_ms >= start_ms && w.start_ms < end_ms.max(start_ms + 1)).collect();
            let value = if unsupported.is_some() || parts.len() != 1 {
                None
            } else {
                endpoint(&parts[0].by_name, &parts[0].total, &name).and_then(|e| estimate_ms(e, q))
            };
            let samples = if parts.len() == 1 {
                endpoint(&parts[0].by_name, &parts[0].total, &name).map_or(0, |e| e.latency_count as u64)
            } else {
                0
            };
            wv.value = value;
            wv.samples = samples;
            wv.verdict = match value {
                Some(v) if samples >= r.min_samples.max(1) => {
                    with_data += 1;
                    if worst.is_none_or(|(_, w)| v > w) {
                        worst = Some((idx, v));
                    }
                    if v <= s.objective {
                        compliant += 1;
                        Verdict::Pass
                    } else {
                        Verdict::Fail
                    }
                }
                _ => Verdict::NoData,
            };
        }
        let w = &mut r.windows;
        w.windows_with_data = with_data;
        w.windows_compliant = compliant;
        w.compliant_share = (with_data > 0).then(|| compliant as f64 / with_data as f64);
        w.worst = worst.map(|(i, _)| i);
        w.verdict = if with_data == 0 {
            Verdict::NoData
        } else if compliant < with_data {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        r.verdict = match w.verdict {
            Verdict::NoData if report.allow_no_data => Verdict::Warn,
            v => v,
        };
        r.reason = Some(match unsupported {
            Some((k, v)) => format!("tag filter {k}:{v} is not available from Prometheus histograms (only name)"),
            None if agg.window_ms.is_some_and(|wm| wm > 0 && ((r.window_s * 1e3).round() as i64) % wm != 0) => {
                format!("{est_note}; window {}s is not a whole number of aggregate windows", r.window_s)
            }
            None => est_note.clone(),
        });
    }
    if touched {
        report.notes.push(format!(
            "latency values are {} (Prometheus keeps no raw samples); counts are exact",
            est_note.replacen("estimate", "estimates", 1)
        ));
    }
    // The source's own remark on quantile estimates says what the note above says.
    report.notes.extend(
        agg.notes.iter().filter(|n| !(touched && n.starts_with("latency quantiles are estimates from histogram buckets"))).cloned(),
    );
    report.notes.push(
        "read from Prometheus: only http_reqs, http_req_failed and http_req_duration are judged; other metrics have no data here".into(),
    );
    // Verdict and tally again.
    let all: Vec<Verdict> = report.thresholds.iter().map(|t| t.verdict).chain(report.slos.iter().map(|s| s.verdict)).collect();
    report.verdict = Verdict::combine(all.iter().copied(), report.allow_no_data);
    report.exit_code = report.verdict.exit_code();
    let mut tally = slo_analyze::Tally::default();
    for v in all {
        match v {
            Verdict::Pass => tally.pass += 1,
            Verdict::Warn => tally.warn += 1,
            Verdict::Fail => tally.fail += 1,
            Verdict::NoData => tally.no_data += 1,
        }
    }
    report.tally = tally;
}

/// The spool directory of a sink of kind `kind` (`influxdb`, `prometheus`) for run `id`
/// in the local store: `<store>/runs/<id>/<kind>-spool`.
pub fn spool_dir(run_dir: &Path, kind: &str) -> PathBuf {
    run_dir.join(format!("{kind}-spool"))
}
