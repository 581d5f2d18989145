//! `slo run SCENARIO`: the load generator, recording every request into the store.
//!
//! Order of work: parse the scenario and every flag (errors exit 2 with file:line:col,
//! before any request), check the scenario's thresholds against the metric catalog,
//! create the run in the store, start the generator with a fan-out of sample sinks
//! (the local store; an abortOnFail watcher when the scenario has such thresholds),
//! show live progress until the run ends, record how it ended, then read the run back
//! and print k6's end-of-test summary and the threshold verdicts.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use slo_analyze::{Analysis, CheckReport, Options, Sink};
use slo_config::scenario::ScenarioFile;
use slo_config::{Aggregation, MetricKey, MetricThresholds, Threshold};
use slo_gen::{Plan as GenPlan, PlanOverrides, Progress, Run, SampleSink, Segment, SinkError, Summary};
use slo_model::{builtin_metric, MetricInfo, MetricType, RunId, RunMeta, RunStatus, SampleBatch, TagLookup, ValueType, BUILTIN_METRICS};
use slo_store::{RunEnd, RunWriter};

use crate::cli::RunArgs;
use crate::cmd::source::{self, Store};
use crate::cmd::{open_store, store_result};
use crate::exit::{Exit, WithExit};

/// Name of the trend metric holding each request's scheduling lag (ms).
const LAG_METRIC: &str = slo_model::sample::SCHEDULING_LAG_METRIC;

/// Runs `slo run`.
pub fn run(a: RunArgs) -> anyhow::Result<Exit> {
    let file = ScenarioFile::load(&a.scenario).exit_with(Exit::InvalidInput)?;
    Ok(record(&a, &file)?.exit)
}

/// What one recorded run came to.
#[derive(Debug)]
pub struct Outcome {
    /// The run's id in the store.
    pub run_id: RunId,
    /// The exit code `slo run` ends with (0, 1, 3 or 130).
    pub exit: Exit,
}

/// Sinks `--out` accepts: `local` (always on anyway), `influxdb=URL`, `prometheus=URL`.
/// Returns the remote stores, in the order given.
fn check_outputs(outs: &[String]) -> anyhow::Result<Vec<Store>> {
    let mut v = Vec::new();
    for o in outs {
        if o != "local" {
            v.push(source::parse("--out", o)?);
        }
    }
    Ok(v)
}

/// The metrics `slo run` emits, declared in `run.json` before the first sample so that
/// even a run killed early lists them: k6's built-ins (`group_duration` excepted:
/// flows have no groups) and `slo_scheduling_lag` (trend, ms).
fn declared_metrics() -> Vec<MetricInfo> {
    let mut v: Vec<MetricInfo> = BUILTIN_METRICS
        .iter()
        .filter(|(n, _, _)| *n != "group_duration")
        .map(|(n, k, c)| MetricInfo { name: (*n).to_string(), kind: *k, contains: *c })
        .collect();
    v.push(MetricInfo { name: LAG_METRIC.to_string(), kind: MetricType::Trend, contains: ValueType::Time });
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Records one run of `file` with the flags of `a`; prints progress (stderr), the
/// summary and verdicts (stdout). The file's own errors were reported by the caller.
pub fn record(a: &RunArgs, file: &ScenarioFile) -> anyhow::Result<Outcome> {
    // 1. Everything the user gave is checked before the store or the target is touched.
    let remotes = check_outputs(&a.out)?;
    let segment = match &a.segment {
        Some(s) => Some(Segment::parse(s).map_err(|e| anyhow::anyhow!("--segment {s}: {e}")).exit_with(Exit::InvalidInput)?),
        None => None,
    };
    if let Some(id) = &a.run_id {
        if !RunId::is_valid(id) {
            return Err(anyhow::anyhow!("--run-id {id:?}: 1 to 128 of A-Z a-z 0-9 - _ . : (not starting with .)"))
                .exit_with(Exit::InvalidInput);
        }
    }
    let overrides = PlanOverrides { target: a.target.clone(), segment, tags: a.tags.clone(), allow_remote: false };
    let plan = GenPlan::build(file, &overrides).exit_with(Exit::InvalidInput)?;
    let thresholds: Vec<MetricThresholds> = file.thresholds.iter().cloned().collect();

    let start_ns = now_ns();
    let id = match &a.run_id {
        Some(id) => RunId(id.clone()),
        None => RunId::new(start_ns, (std::process::id() ^ (start_ns as u32).rotate_left(11)) & 0xff_ffff),
    };
    let scenario_name = file_name(&a.scenario);
    let meta = RunMeta {
        id: id.clone(),
        created_ns: 0,
        start_ns: None,
        end_ns: None,
        duration_s: None,
        duration_source: None,
        status: RunStatus::Running,
        origin: "slo run".into(),
        scenario: Some(scenario_name),
        tags: a.tags.iter().cloned().collect(),
        metrics: declared_metrics(),
        points: 0,
        slo_version: env!("CARGO_PKG_VERSION").into(),
    };
    // The thresholds must be judgeable on this catalog (a `rate` on a trend is refused).
    Analysis::new(slo_analyze::Plan::for_run(&meta, &thresholds, &[], Options::default()))
        .with_context(|| format!("thresholds of {}", a.scenario.display()))
        .exit_with(Exit::InvalidInput)?;
    let watch = AbortWatch::new(&thresholds);

    // 2. The run in the store, the sinks, the generator.
    let store = open_store(&a.store.store)?;
    let mut remote_meta = meta.clone();
    remote_meta.created_ns = start_ns;
    let writer = store_result(store.create_run(meta)).with_context(|| format!("creating run {id}"))?;
    crate::cmd::save_run_thresholds(&store, &id, &thresholds)?;
    let writer = Arc::new(Mutex::new(Some(writer)));
    let mut sinks: Vec<Box<dyn SampleSink>> = vec![Box::new(LocalSink { writer: writer.clone() })];
    let remotes = open_remotes(&remotes, &remote_meta, &store.run_dir(&id))?;
    for r in &remotes {
        sinks.push(Box::new(RemoteSink(r.sink.clone())));
    }
    let abort_reason = Arc::new(Mutex::new(None::<String>));
    if let Some(mut w) = watch {
        w.reason = abort_reason.clone();
        sinks.push(Box::new(w));
    }
    sigint_install()?;
    let sigints_before = SIGINTS.load(Ordering::SeqCst);
    let scenario_names: Vec<String> = plan.scenario_names().into_iter().map(|(n, _)| n).collect();
    let run = Run::start(plan, Box::new(FanOut(sinks))).context("starting the load generator")?;
    let stop = run.stop_handle();
    let started = Instant::now();

    // 3. Live view and stop conditions.
    let live = Live::new(a.quiet);
    let mut interrupts = 0u32;
    let mut aborted_by: Option<String> = None;
    let mut cut = false;
    let mut next_view = started + Duration::from_secs(1);
    while !run.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        let n = SIGINTS.load(Ordering::SeqCst).wrapping_sub(sigints_before);
        if n > interrupts {
            interrupts = n;
            if n == 1 {
                live.say("interrupted: stopping gracefully (requests in flight finish); Ctrl-C again aborts at once");
                stop.stop();
            } else {
                live.say("aborting: requests in flight are abandoned");
                stop.abort();
            }
        }
        if aborted_by.is_none() {
            if let Some(r) = abort_reason.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                live.say(&format!("threshold crossed with abortOnFail: {r}; stopping the run"));
                aborted_by = Some(r);
                stop.stop();
            }
        }
        if let Some(max) = a.max_duration {
            if !cut && started.elapsed() >= max {
                cut = true;
                live.say(&format!("--max-duration {}: stopping the run gracefully", slo_model::duration::format_duration(max)));
                stop.stop();
            }
        }
        if Instant::now() >= next_view {
            next_view += Duration::from_secs(1);
            live.update(&run.progress());
        }
    }
    let last = run.progress();
    let result = run.wait();
    live.finish(&last);

    // 4. How it ended, into the store.
    let w = writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    let summary: Summary = match result {
        Ok(s) => s,
        Err(e) => {
            if let Some(w) = w {
                let _ = w.finish(RunStatus::Interrupted, RunEnd::default());
            }
            return Err(anyhow::Error::new(e).context(format!("run {id}"))).exit_with(Exit::Failed);
        }
    };
    // k6 writes a counter only when it counts something; slo states its zeros, so that
    // `dropped_iterations: ['count<1']` on a healthy run is 0, not NO DATA.
    let mut w = w;
    if let Some(w) = w.as_mut() {
        for name in &scenario_names {
            for metric in ["iterations", "dropped_iterations"] {
                store_result(w.push(metric, summary.end_ns, 0.0, &[("scenario", name.as_str())]))?;
                for r in &remotes {
                    r.sink.lock().unwrap_or_else(|e| e.into_inner()).write(metric, summary.end_ns, 0.0, &[("scenario", name.as_str())]);
                }
            }
        }
    }
    let status = if interrupts > 0 || aborted_by.is_some() { RunStatus::Interrupted } else { RunStatus::Complete };
    let deliveries: Vec<String> = remotes.iter().map(|r| r.close(status, summary.duration.as_secs_f64(), &id, &a.store.store)).collect();
    let lost = remotes.iter().any(|r| r.lost.load(Ordering::SeqCst) > 0);
    let end = RunEnd {
        end_ns: Some(summary.end_ns),
        duration_s: Some(summary.duration.as_secs_f64()),
        duration_source: Some("wall clock".into()),
    };
    let meta = match w {
        Some(w) => store_result(w.finish(status, end)).with_context(|| format!("recording the end of run {id}"))?,
        None => return Err(anyhow::anyhow!("run {id}: the store writer was lost")).exit_with(Exit::Failed),
    };
    let folder = store.run_dir(&id);
    if interrupts > 1 {
        say!("run {id} aborted; {} points kept in {}", meta.points, folder.display());
        return Ok(Outcome { run_id: id, exit: Exit::Interrupted });
    }

    // 5. Read the run back: k6's end-of-test summary and the verdicts.
    let report = crate::cmd::analyze_run(&store, &meta, &thresholds, &[], Options::default())?;
    let mut out = String::new();
    out.push_str(&end_of_test_summary(&report, &summary));
    if !thresholds.is_empty() {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(&slo_report::render_check(&report, slo_report::Format::Table)));
    }
    let state = match status {
        RunStatus::Complete if cut => "complete (cut at --max-duration)",
        RunStatus::Complete => "complete",
        _ => "interrupted",
    };
    out.push_str(&format!("\nrun {id} {state}: {} points in {}\n", meta.points, folder.display()));
    if let Some(r) = &aborted_by {
        out.push_str(&format!("aborted by a threshold with abortOnFail: {r}\n"));
    }
    for d in &deliveries {
        out.push_str(d);
    }
    crate::cmd::write_output(None, out.as_bytes())?;
    let exit = if aborted_by.is_some() || lost {
        Exit::Failed
    } else if interrupts > 0 {
        Exit::Interrupted
    } else if thresholds.is_empty() {
        Exit::Pass
    } else {
        match report.exit_code() {
            0 => Exit::Pass,
            3 => Exit::NoData,
            _ => Exit::Failed,
        }
    };
    Ok(Outcome { run_id: id, exit })
}

/// k6's end-of-test summary of the run just recorded, then its totals.
fn end_of_test_summary(r: &CheckReport, s: &Summary) -> String {
    let mut out = slo_report::render_summary(r);
    out.push_str(&format!(
        "\n  {} requests ({} failed), {} iterations, {} dropped, {} max VUs in {:.1}s{}\n",
        s.requests,
        s.failed_requests,
        s.iterations,
        s.dropped_iterations,
        s.vus_max,
        s.duration.as_secs_f64(),
        if s.interrupted { " (stopped early)" } else { "" }
    ));
    if s.captures_failed > 0 {
        out.push_str(&format!(
            "  {} iterations ended early: a capture found nothing (as in Artillery, the rest of the flow is skipped)\n",
            s.captures_failed
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Sinks

/// Hands every batch to several sinks in order (the local store today; InfluxDB and
/// Prometheus sinks join here later).
struct FanOut(Vec<Box<dyn SampleSink>>);

impl SampleSink for FanOut {
    fn write(&mut self, batch: &SampleBatch) -> Result<(), SinkError> {
        for s in &mut self.0 {
            s.write(batch)?;
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        for s in &mut self.0 {
            s.flush()?;
        }
        Ok(())
    }
}

/// The sinks of InfluxDB and Prometheus behind one interface (both take k6 long-format
/// points and never block on the network).
pub enum Remote {
    /// The InfluxDB sink.
    Influx(slo_store::influx::InfluxSink),
    /// The Prometheus remote-write sink.
    Prometheus(slo_store::prometheus::PrometheusSink),
}

impl Remote {
    /// One point (see [`slo_store::influx::PointSink::write`]).
    pub fn write(&mut self, metric: &str, time_ns: i64, value: f64, tags: &[(&str, &str)]) {
        match self {
            Remote::Influx(s) => slo_store::influx::PointSink::write(s, metric, time_ns, value, tags),
            Remote::Prometheus(s) => s.write(metric, time_ns, value, tags),
        }
    }

    /// One point whose tags equal the previous point's, given as `tags` only if the sink
    /// needs them (see [`slo_store::influx::PointSink::write_same_tags`]).
    pub fn write_same_tags(&mut self, metric: &str, time_ns: i64, value: f64, tags: &slo_model::sample::PointTags<'_>) {
        let done = match self {
            Remote::Influx(s) => slo_store::influx::PointSink::write_same_tags(s, metric, time_ns, value),
            Remote::Prometheus(s) => s.skip_unexported(metric),
        };
        if !done {
            with_tag_slice(tags, |pairs| match self {
                Remote::Influx(s) => slo_store::influx::PointSink::write(s, metric, time_ns, value, pairs),
                Remote::Prometheus(s) => s.write(metric, time_ns, value, pairs),
            });
        }
    }

    fn flush(&mut self) {
        match self {
            Remote::Influx(s) => slo_store::influx::PointSink::flush(s),
            Remote::Prometheus(s) => s.flush(),
        }
    }
}

/// One `--out influxdb=|prometheus=` of a run: its sink (shared with the fan-out) and
/// what the end-of-run report needs.
pub struct RemoteOut {
    store: Store,
    sink: Arc<Mutex<Remote>>,
    reachable_at_start: bool,
    lost: std::sync::atomic::AtomicU64,
}

/// Healthchecks each remote store (an unreachable one is a warning: its sink spools) and
/// starts its sink for run `meta`; spools live in the run's folder (`influxdb-spool`,
/// `prometheus-spool`).
pub fn open_remotes(stores: &[Store], meta: &RunMeta, run_dir: &Path) -> anyhow::Result<Vec<RemoteOut>> {
    let mut v = Vec::new();
    for st in stores {
        let (remote, health) = match st {
            Store::Influx(cfg) => {
                let h = slo_store::influx::InfluxSink::healthcheck(cfg).map_err(|e| e.to_string());
                let mut cfg = cfg.clone();
                // The generator stamps no two samples of one metric alike.
                cfg.timestamps_unique = true;
                let sink = slo_store::influx::InfluxSink::new(cfg, meta.clone(), source::spool_dir(run_dir, "influxdb"));
                (Remote::Influx(sink), h)
            }
            Store::Prometheus(cfg) => {
                let h = source::prom_healthcheck(cfg).map_err(|e| e.to_string());
                let mut cfg = cfg.clone();
                cfg.spool_dir = source::spool_dir(run_dir, "prometheus");
                let info = slo_store::prometheus::RunInfo {
                    testid: meta.id.0.clone(),
                    scenario: meta.scenario.clone().unwrap_or_default(),
                    slo_version: meta.slo_version.clone(),
                    start_ms: meta.created_ns.div_euclid(1_000_000),
                };
                let sink = slo_store::prometheus::PrometheusSink::new(cfg, info)
                    .map_err(source::prom_err)
                    .with_context(|| format!("--out {}", st.display()))?;
                (Remote::Prometheus(sink), h)
            }
        };
        if let Err(e) = &health {
            say!("warning: --out {}: {e}; the run goes on, its samples are spooled and reported at the end", st.display());
        }
        v.push(RemoteOut { store: st.clone(), sink: Arc::new(Mutex::new(remote)), reachable_at_start: health.is_ok(), lost: 0.into() });
    }
    Ok(v)
}

impl RemoteOut {
    /// Closes the sink (final delivery, registry end) and says what happened to every
    /// sample: one or more lines, with the exact `slo runs push` command for what is left.
    pub fn close(&self, status: RunStatus, duration_s: f64, id: &RunId, store_dir: &Path) -> String {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let push = format!("slo runs push {id} --out {} --store {}", self.store.push_spec(), store_dir.display());
        let mut s = String::new();
        let unreachable = if self.reachable_at_start { "" } else { " (unreachable at start)" };
        match &mut *sink {
            Remote::Influx(x) => {
                x.set_end(status, Some(duration_s), Some("wall clock".into()));
                let r = slo_store::influx::PointSink::close(x);
                self.lost.store(r.lost, Ordering::SeqCst);
                s.push_str(&format!(
                    "out {}{unreachable}: {} points: {} delivered, {} spooled, {} lost ({} retries)\n",
                    self.store.display(),
                    r.points,
                    r.delivered,
                    r.spooled,
                    r.lost,
                    r.retries
                ));
                if r.spooled > 0 || !r.registry_delivered {
                    let dir = r.spool_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
                    s.push_str(&format!("  {} points spooled in {dir}; deliver them with: {push}\n", r.spooled));
                }
                for e in &r.errors {
                    s.push_str(&format!("  error: {e}\n"));
                }
            }
            Remote::Prometheus(x) => {
                let r = x.close_with(status);
                self.lost.store(r.samples_lost, Ordering::SeqCst);
                s.push_str(&format!(
                    "out {}{unreachable}: {} points in {} pushes: {} pushes ({} samples) delivered, {} pushes ({} samples) spooled, {} samples lost ({} retries)\n",
                    self.store.display(),
                    r.points,
                    r.pushes,
                    r.pushes_delivered,
                    r.samples_delivered,
                    r.pushes_spooled,
                    r.samples_spooled,
                    r.samples_lost,
                    r.retries
                ));
                if r.pushes_spooled > 0 || !r.registry_delivered {
                    let dir = r.spool_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
                    s.push_str(&format!("  {} samples spooled in {dir}; deliver them with: {push}\n", r.samples_spooled));
                }
                for e in &r.errors {
                    s.push_str(&format!("  error: {e}\n"));
                }
            }
        }
        s
    }
}

/// Hands every point to a remote sink (never waits for the network).
struct RemoteSink(Arc<Mutex<Remote>>);

impl SampleSink for RemoteSink {
    fn write(&mut self, batch: &SampleBatch) -> Result<(), SinkError> {
        let mut sink = self.0.lock().unwrap_or_else(|e| e.into_inner());
        batch.for_each_point_grouped(|m, t, v, tags, same| {
            if same {
                sink.write_same_tags(m, t, v, tags);
            } else {
                with_tag_slice(tags, |pairs| sink.write(m, t, v, pairs));
            }
        });
        sink.flush();
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush();
        Ok(())
    }
}

/// Calls `f` with a point's tags as a slice, on the stack for up to [`STACK_TAGS`] tags.
fn with_tag_slice<R>(tags: &slo_model::sample::PointTags<'_>, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
    let mut arr: [(&str, &str); STACK_TAGS] = [("", ""); STACK_TAGS];
    let mut n = 0;
    for p in tags.pairs() {
        if n == STACK_TAGS {
            let all: Vec<(&str, &str)> = tags.pairs().collect();
            return f(&all);
        }
        arr[n] = p;
        n += 1;
    }
    f(&arr[..n])
}

/// Writes every point of a batch to the local store and closes a Parquet part per
/// batch: the generator delivers a batch at least every second, so `kill -9` loses at
/// most the last second.
struct LocalSink {
    writer: Arc<Mutex<Option<RunWriter>>>,
}

/// Most tags a point carries without a heap allocation for the tag list.
const STACK_TAGS: usize = 24;

impl SampleSink for LocalSink {
    fn write(&mut self, batch: &SampleBatch) -> Result<(), SinkError> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = guard.as_mut() else { return Ok(()) };
        // Requests as rows of the request table; everything else point by point.
        for r in &batch.requests {
            w.push_request(r)?;
        }
        let mut err = None;
        let mut point = |m: &str, t: i64, v: f64, tags: &slo_model::PointTags<'_>| {
            if err.is_some() {
                return;
            }
            let mut arr: [(&str, &str); STACK_TAGS] = [("", ""); STACK_TAGS];
            let mut n = 0;
            let mut overflow = false;
            for p in tags.pairs() {
                if n == STACK_TAGS {
                    overflow = true;
                    break;
                }
                arr[n] = p;
                n += 1;
            }
            let r = if overflow {
                let all: Vec<(&str, &str)> = tags.pairs().collect();
                w.push(m, t, v, &all)
            } else {
                w.push(m, t, v, &arr[..n])
            };
            if let Err(e) = r {
                err = Some(e);
            }
        };
        batch.iterations.iter().for_each(|s| s.for_each_point(&mut point));
        batch.checks.iter().for_each(|s| s.for_each_point(&mut point));
        batch.dropped.iter().for_each(|s| s.for_each_point(&mut point));
        batch.vus.iter().for_each(|s| s.for_each_point(&mut point));
        if let Some(e) = err {
            return Err(Box::new(e));
        }
        w.flush()?;
        Ok(())
    }
}

/// One series an abortOnFail threshold reads: a metric, its tag filters, a k6 sink.
struct WatchSeries {
    metric: String,
    filters: Vec<(String, String)>,
    sink: Sink,
}

/// Evaluates the thresholds marked `abortOnFail` after every batch (k6 evaluates them
/// every 2 s; here every second), each only once `delayAbortEval` has passed since the
/// run started. A threshold with no data yet is not judged. The first one that fails
/// is reported through `reason`; the caller stops the run.
struct AbortWatch {
    series: Vec<WatchSeries>,
    rules: Vec<(usize, String, Threshold)>,
    started: Instant,
    reason: Arc<Mutex<Option<String>>>,
}

impl AbortWatch {
    fn new(thresholds: &[MetricThresholds]) -> Option<AbortWatch> {
        let mut w = AbortWatch { series: Vec::new(), rules: Vec::new(), started: Instant::now(), reason: Arc::default() };
        for mt in thresholds {
            for th in mt.thresholds.iter().filter(|t| t.abort_on_fail) {
                let MetricKey { metric, filters } = &mt.key;
                let kind = if metric == LAG_METRIC { Some(MetricType::Trend) } else { builtin_metric(metric).map(|m| m.kind) };
                let Some(kind) = kind else { continue };
                let mut filters = filters.clone();
                filters.sort();
                let idx = match w.series.iter().position(|s| &s.metric == metric && s.filters == filters) {
                    Some(i) => i,
                    None => {
                        w.series.push(WatchSeries { metric: metric.clone(), filters, sink: Sink::new(kind) });
                        w.series.len() - 1
                    }
                };
                w.rules.push((idx, format!("{}: {}", mt.key_source, th.source), th.clone()));
            }
        }
        (!w.rules.is_empty()).then_some(w)
    }

    fn observed(sink: &mut Sink, agg: Aggregation, elapsed_s: f64) -> Option<f64> {
        match (sink, agg) {
            (Sink::Trend(t), Aggregation::Avg) => t.avg(),
            (Sink::Trend(t), Aggregation::Min) => t.min(),
            (Sink::Trend(t), Aggregation::Max) => t.max(),
            (Sink::Trend(t), Aggregation::Med) => t.percentile(0.5),
            (Sink::Trend(t), Aggregation::P(p)) => t.percentile(p / 100.0),
            (Sink::Rate(r), Aggregation::Rate) => r.rate(),
            (Sink::Counter(c), Aggregation::Count) => (c.samples > 0).then_some(c.sum),
            (Sink::Counter(c), Aggregation::Rate) => c.rate(elapsed_s),
            (Sink::Gauge(g), Aggregation::Value) => g.value(),
            _ => None,
        }
    }
}

impl SampleSink for AbortWatch {
    fn write(&mut self, batch: &SampleBatch) -> Result<(), SinkError> {
        let series = &mut self.series;
        batch.for_each_point(|m, _, v, tags| {
            for s in series.iter_mut() {
                if s.metric == m && s.filters.iter().all(|(k, want)| tags.tag(k) == Some(want.as_str())) {
                    s.sink.add(v);
                }
            }
        });
        let elapsed = self.started.elapsed();
        let mut reason = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if reason.is_some() {
            return Ok(());
        }
        for (idx, label, th) in &self.rules {
            if th.delay_abort_eval.is_some_and(|d| elapsed < d) {
                continue;
            }
            let Some(v) = Self::observed(&mut self.series[*idx].sink, th.expr.agg, elapsed.as_secs_f64()) else { continue };
            if !th.expr.op.holds(v, th.expr.value) {
                *reason = Some(format!("{label} (observed {} after {:.0}s)", slo_report::format_number(v), elapsed.as_secs_f64()));
                break;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Ctrl-C and the live view

/// SIGINTs received since the listener was installed.
static SIGINTS: AtomicU32 = AtomicU32::new(0);
static SIGINT_LISTENER: OnceLock<Result<(), String>> = OnceLock::new();

/// Installs (once per process) a SIGINT listener that counts Ctrl-C presses instead of
/// letting the default action kill the process. Returns once the handler is in place.
fn sigint_install() -> anyhow::Result<()> {
    SIGINT_LISTENER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
            let spawned = std::thread::Builder::new().name("slo-sigint".into()).spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    use tokio::signal::unix::{signal, SignalKind};
                    // SIGTERM (`timeout`, `docker stop`, CI runners) stops a run as Ctrl-C does.
                    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
                        (Ok(mut int), Ok(mut term)) => {
                            let _ = tx.send(Ok(()));
                            loop {
                                tokio::select! {
                                    s = int.recv() => if s.is_none() { break },
                                    s = term.recv() => if s.is_none() { break },
                                }
                                SIGINTS.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        (Err(e), _) | (_, Err(e)) => {
                            let _ = tx.send(Err(e.to_string()));
                        }
                    }
                });
            });
            match spawned {
                Ok(_) => rx.recv().unwrap_or_else(|_| Err("signal thread ended".into())),
                Err(e) => Err(e.to_string()),
            }
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
}

/// The live view: one updating line on a terminal (indicatif), a plain line every 5 s
/// otherwise, nothing with `--quiet`. Always on stderr.
struct Live {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    tick: std::cell::Cell<u64>,
}

impl Live {
    fn new(quiet: bool) -> Live {
        if quiet {
            return Live { bar: None, plain: false, tick: 0.into() };
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template("{msg}") {
                bar.set_style(style);
            }
            bar.set_message("starting");
            Live { bar: Some(bar), plain: false, tick: 0.into() }
        } else {
            Live { bar: None, plain: true, tick: 0.into() }
        }
    }

    fn line(p: &Progress) -> String {
        format!(
            "{:>5.1}s/{}  vus {}/{}  {} req/s  p95 {}  errors {}  dropped {}  requests {}{}",
            p.elapsed.as_secs_f64(),
            slo_model::duration::format_duration(p.total),
            p.vus,
            p.vus_max,
            slo_report::format_number((p.rps * 10.0).round() / 10.0),
            p.p95_ms.map(|v| format!("{v:.2} ms")).unwrap_or_else(|| "-".into()),
            slo_report::format_percent(p.error_rate),
            p.dropped_iterations,
            p.requests,
            if p.stopping { "  (stopping)" } else { "" }
        )
    }

    fn update(&self, p: &Progress) {
        self.tick.set(self.tick.get() + 1);
        if let Some(b) = &self.bar {
            b.set_message(Self::line(p));
        } else if self.plain && self.tick.get() % 5 == 0 {
            say!("{}", Self::line(p));
        }
    }

    fn say(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => say!("{msg}"),
        }
    }

    fn finish(&self, p: &Progress) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
            say!("{}", Self::line(p));
        } else if self.plain {
            say!("{}", Self::line(p));
        }
    }
}

/// The scenario file name for `RunMeta::scenario`.
fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_local_influxdb_and_prometheus() {
        assert!(check_outputs(&["local".into()]).unwrap().is_empty());
        let v =
            check_outputs(&["local".into(), "influxdb=http://127.0.0.1:8086/db".into(), "prometheus=http://u:pw@127.0.0.1:9090".into()])
                .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].display(), "influxdb=http://127.0.0.1:8086/db");
        assert_eq!(v[1].display(), "prometheus=http://127.0.0.1:9090");
        let e = check_outputs(&["kafka=x".into()]).unwrap_err();
        assert_eq!(crate::exit::exit_of(&e), Exit::InvalidInput);
        assert!(e.to_string().contains("--out"), "{e}");
        let e = check_outputs(&["influxdb=ftp://u:secret@h/db".into()]).unwrap_err();
        assert!(!format!("{e:#}").contains("secret"), "{e:#}");
    }

    #[test]
    fn declared_metrics_cover_what_samples_expand_to() {
        let names: Vec<String> = declared_metrics().into_iter().map(|m| m.name).collect();
        for m in ["http_reqs", "http_req_duration", "http_req_failed", "iterations", "vus", "checks", "slo_scheduling_lag"] {
            assert!(names.iter().any(|n| n == m), "{m} missing");
        }
        assert!(!names.iter().any(|n| n == "group_duration"));
    }

    #[test]
    fn abort_watch_fails_after_delay() {
        let f = ScenarioFile::parse(
            "thresholds:\n  http_req_failed:\n    - threshold: rate<0.5\n      abortOnFail: true\n      delayAbortEval: 1h\n  http_reqs: ['count>0']\nflows:\n  - flow:\n      - get: {url: /x}\n",
            "t.yaml",
            Path::new("."),
        )
        .unwrap();
        let ths: Vec<MetricThresholds> = f.thresholds.iter().cloned().collect();
        let mut w = AbortWatch::new(&ths).expect("one abortOnFail rule");
        assert_eq!(w.rules.len(), 1);
        // every point fails, but delayAbortEval (1h) has not passed: no verdict
        let mut rs = Sink::new(MetricType::Rate);
        rs.add(1.0);
        w.series[0].sink = rs;
        w.write(&SampleBatch::default()).unwrap();
        assert!(w.reason.lock().unwrap().is_none());
        w.rules[0].2.delay_abort_eval = None;
        w.write(&SampleBatch::default()).unwrap();
        let r = w.reason.lock().unwrap().clone().expect("aborted");
        assert!(r.contains("http_req_failed: rate<0.5"), "{r}");
    }
}
