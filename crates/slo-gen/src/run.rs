//! Running a plan: k6's executors on a multi-thread tokio runtime, a collector thread
//! that hands a [`SampleBatch`] to the [`SampleSink`] every second, live [`Progress`],
//! and a [`StopHandle`] for Ctrl-C.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slo_config::scenario::{Executor, Stage};
use slo_model::{DroppedSample, SampleBatch, SampleTags, VuSample};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use crate::plan::Plan;
use crate::schedule::{ramping_vu_steps, vus_at, Arrivals, Segment};
use crate::vu::{IterEnd, Vu};

/// An error a sink reports; the run stops and [`Run::wait`] returns it.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Receives the samples of a run, batch by batch, from one thread, at least once per
/// second while the run goes (and once more at its end). The generator never knows
/// what is behind it (a store, a file, a test vector).
pub trait SampleSink: Send {
    /// Takes one batch. The batch is reused after the call; copy what you keep.
    ///
    /// # Errors
    /// Any error stops the run (in-flight requests are abandoned) and is returned by
    /// [`Run::wait`] as [`GenError::Sink`].
    fn write(&mut self, batch: &SampleBatch) -> Result<(), SinkError>;

    /// Called once after the last batch.
    ///
    /// # Errors
    /// As [`SampleSink::write`].
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl<S: SampleSink + ?Sized> SampleSink for Box<S> {
    fn write(&mut self, batch: &SampleBatch) -> Result<(), SinkError> {
        (**self).write(batch)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The tokio runtime or a thread could not be created.
    #[error("cannot start the load generator runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The sample sink failed; the run was stopped.
    #[error("sample sink failed: {0}")]
    Sink(#[source] SinkError),
    /// A generator thread panicked (a bug).
    #[error("load generator thread panicked")]
    Panicked,
}

/// A live view of the run, refreshed every second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Scheduled length (without graceful stops).
    pub total: Duration,
    /// Active VUs.
    pub vus: u32,
    /// Allocated VUs.
    pub vus_max: u32,
    /// Requests per second over the last (up to) 5 seconds.
    pub rps: f64,
    /// 95th percentile of `http_req_duration` over the last (up to) 5 seconds, in
    /// milliseconds (k6 interpolation over at most 20 000 samples per second).
    pub p95_ms: Option<f64>,
    /// Share of failed requests (`http_req_failed`) over the last (up to) 5 seconds.
    pub error_rate: f64,
    /// Requests so far.
    pub requests: u64,
    /// Completed iterations so far.
    pub iterations: u64,
    /// Dropped iterations so far.
    pub dropped_iterations: u64,
    /// Whether a stop was requested.
    pub stopping: bool,
}

/// Totals of a finished run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Run start, ns since the Unix epoch.
    pub start_ns: i64,
    /// Run end, ns since the Unix epoch.
    pub end_ns: i64,
    /// Wall-clock run time.
    pub duration: Duration,
    /// HTTP requests (`http_reqs`).
    pub requests: u64,
    /// Requests with an unexpected response (`http_req_failed` = 1).
    pub failed_requests: u64,
    /// Completed iterations.
    pub iterations: u64,
    /// Dropped iterations.
    pub dropped_iterations: u64,
    /// Passed checks.
    pub checks_passed: u64,
    /// Failed checks.
    pub checks_failed: u64,
    /// Bytes sent.
    pub data_sent: u64,
    /// Bytes received.
    pub data_received: u64,
    /// Most VUs allocated at once.
    pub vus_max: u32,
    /// Stopped early by [`StopHandle::stop`] or [`StopHandle::abort`].
    pub interrupted: bool,
    /// Iterations that ended early because a `capture` found nothing (Artillery ends
    /// the user's scenario there).
    pub captures_failed: u64,
}

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const ABORTING: u8 = 2;

/// State shared by every VU and the collector.
pub(crate) struct Shared {
    pub plan: Arc<Plan>,
    pub base: Instant,
    wall_base_ns: i64,
    /// The last timestamp [`Shared::stamp`] handed out (ns since the epoch).
    last_stamp: AtomicI64,
    pub seed: u64,
    batch: Mutex<SampleBatch>,
    /// Every VU's sample buffer, which the collector empties each tick.
    vu_buffers: Mutex<Vec<Weak<Mutex<SampleBatch>>>>,
    state: AtomicU8,
    stop_tx: watch::Sender<u8>,
    pub payload_cursor: Vec<AtomicU64>,
    active_vus: AtomicU32,
    max_vus: AtomicU32,
    dropped: Vec<AtomicU64>,
    /// Iterations ended by a failed capture.
    pub captures_failed: AtomicU64,
    next_vu: AtomicU32,
}

impl Shared {
    /// Appends a VU's local samples to the batch being filled.
    pub fn push(&self, local: &mut SampleBatch) {
        let mut b = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        b.append(local);
    }

    /// Wall-clock ns since the epoch of a monotonic instant.
    pub fn wall_ns(&self, t: Instant) -> i64 {
        self.wall_base_ns + t.saturating_duration_since(self.base).as_nanos() as i64
    }

    /// The timestamp (ns since the epoch) of an event happening now that `n` samples of
    /// one metric share out as `t, t+1, …, t+n-1`: the wall time of `now`, or, when another
    /// VU got that nanosecond already, the first free one after it (a move of a few ns).
    /// So no two samples of one metric in a run share a timestamp, which InfluxDB needs
    /// (it keeps one point per series and timestamp) and the InfluxDB sink relies on.
    /// Call it when the event happens: stamps only grow.
    pub fn stamp(&self, now: Instant, n: u64) -> i64 {
        let want = self.wall_ns(now);
        let span = n.max(1) as i64 - 1;
        let mut cur = self.last_stamp.load(Relaxed);
        loop {
            let t = want.max(cur.saturating_add(1));
            match self.last_stamp.compare_exchange_weak(cur, t + span, Relaxed, Relaxed) {
                Ok(_) => return t,
                Err(c) => cur = c,
            }
        }
    }

    pub fn stopping(&self) -> bool {
        self.state.load(Relaxed) != RUNNING
    }

    fn set_state(&self, s: u8) {
        if self.state.fetch_max(s, Relaxed) < s {
            self.stop_tx.send_replace(s);
        }
    }

    /// Sleeps `d`; false when a stop came first.
    pub async fn sleep_or_stop(&self, d: Duration) -> bool {
        self.sleep_until_or_stop(Instant::now() + d).await
    }

    /// Waits until `t` to within microseconds, for arrival-rate executors: the timer
    /// (1 ms resolution, firing on the tick after `t`) brings it to `SPIN` before `t`,
    /// then the task yields in a loop until `t`, so the scheduling lag it records is the
    /// generator's, not the timer wheel's. False when a stop came first.
    pub async fn arrive_at(&self, t: Instant) -> bool {
        const SPIN: Duration = Duration::from_micros(1_500);
        if t > Instant::now() + SPIN && !self.sleep_until_or_stop(t - SPIN).await {
            return false;
        }
        while Instant::now() < t {
            if self.stopping() {
                return false;
            }
            tokio::task::yield_now().await;
        }
        !self.stopping()
    }

    /// Sleeps until `t`; false when a stop came first.
    pub async fn sleep_until_or_stop(&self, t: Instant) -> bool {
        let mut rx = self.stop_tx.subscribe();
        if self.stopping() {
            return false;
        }
        tokio::select! {
            _ = sleep_until(t) => !self.stopping(),
            _ = rx.wait_for(|s| *s != RUNNING) => false,
        }
    }

    async fn aborted(&self) {
        let mut rx = self.stop_tx.subscribe();
        let _ = rx.wait_for(|s| *s == ABORTING).await;
    }

    fn new_vu(self: &Arc<Self>) -> Vu {
        let id = self.next_vu.fetch_add(1, Relaxed);
        self.max_vus.fetch_add(1, Relaxed);
        let local = Arc::new(Mutex::new(SampleBatch::default()));
        self.vu_buffers.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(&local));
        Vu::new(id, self.clone(), local)
    }

    /// Moves every VU's buffered samples into the batch being filled (VUs that ended
    /// handed theirs over already and are forgotten).
    fn take_vu_samples(&self) {
        let mut taken = SampleBatch::default();
        self.vu_buffers.lock().unwrap_or_else(|e| e.into_inner()).retain(|w| match w.upgrade() {
            Some(local) => {
                taken.append(&mut local.lock().unwrap_or_else(|e| e.into_inner()));
                true
            }
            None => false,
        });
        if !taken.is_empty() {
            self.push(&mut taken);
        }
    }
}

/// Stops a run from another thread (a Ctrl-C handler).
#[derive(Clone)]
pub struct StopHandle {
    shared: Arc<Shared>,
}

impl StopHandle {
    /// Graceful stop: no new iteration or request starts, requests in flight finish,
    /// think times are cut short, everything recorded is flushed to the sink.
    pub fn stop(&self) {
        self.shared.set_state(STOPPING);
    }

    /// Abort: requests in flight are abandoned (not recorded); what was recorded is
    /// still flushed.
    pub fn abort(&self) {
        self.shared.set_state(ABORTING);
    }

    /// Whether a stop or abort was requested.
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping()
    }
}

/// A running load test. Start with [`Run::start`], finish with [`Run::wait`].
pub struct Run {
    shared: Arc<Shared>,
    progress: Arc<Mutex<Progress>>,
    thread: Option<JoinHandle<Result<Summary, GenError>>>,
}

impl Run {
    /// Starts `plan` on its own thread with a tokio multi-thread runtime using every
    /// core, and a collector thread that feeds `sink` every second. Returns at once;
    /// the first requests go out immediately.
    ///
    /// # Errors
    /// [`GenError::Runtime`] when the threads cannot be created.
    pub fn start(plan: Plan, sink: Box<dyn SampleSink>) -> Result<Run, GenError> {
        let wall_base_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
        let (stop_tx, _) = watch::channel(RUNNING);
        let n_scen = plan.scenarios.len();
        let shared = Arc::new(Shared {
            payload_cursor: plan.payloads.iter().map(|_| AtomicU64::new(0)).collect(),
            plan: Arc::new(plan),
            base: Instant::now(),
            wall_base_ns,
            last_stamp: AtomicI64::new(i64::MIN),
            seed: wall_base_ns as u64,
            batch: Mutex::new(SampleBatch::default()),
            vu_buffers: Mutex::new(Vec::new()),
            state: AtomicU8::new(RUNNING),
            stop_tx,
            active_vus: AtomicU32::new(0),
            max_vus: AtomicU32::new(0),
            dropped: (0..n_scen).map(|_| AtomicU64::new(0)).collect(),
            captures_failed: AtomicU64::new(0),
            next_vu: AtomicU32::new(1),
        });
        let progress = Arc::new(Mutex::new(Progress { total: shared.plan.scheduled_duration(), ..Default::default() }));
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .thread_name("slo-gen")
            .build()
            .map_err(GenError::Runtime)?;
        let (s2, p2) = (shared.clone(), progress.clone());
        let thread = std::thread::Builder::new()
            .name("slo-gen-run".into())
            .spawn(move || drive(runtime, s2, p2, sink))
            .map_err(GenError::Runtime)?;
        Ok(Run { shared, progress, thread: Some(thread) })
    }

    /// A handle to stop the run from elsewhere.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { shared: self.shared.clone() }
    }

    /// The latest progress snapshot (refreshed every second).
    pub fn progress(&self) -> Progress {
        self.progress.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the run has ended (then [`Run::wait`] returns at once).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Blocks until the run ends and every sample went to the sink.
    ///
    /// # Errors
    /// [`GenError::Sink`] when the sink failed, [`GenError::Panicked`] on a bug.
    pub fn wait(mut self) -> Result<Summary, GenError> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| GenError::Panicked)?,
            None => Err(GenError::Panicked),
        }
    }
}

/// Whether an executor gets anything to do in `seg`.
pub(crate) fn has_work(e: &Executor, seg: &Segment) -> bool {
    match e {
        Executor::ConstantVus { vus, .. } | Executor::PerVuIterations { vus, .. } => seg.scale(*vus) > 0,
        Executor::SharedIterations { iterations, .. } => seg.scale(*iterations) > 0,
        Executor::RampingVus { start_vus, stages, .. } => {
            ramping_vu_steps(*start_vus, stages, |v| seg.scale(v)).iter().any(|(_, v)| *v > 0)
        }
        Executor::ConstantArrivalRate { .. } | Executor::RampingArrivalRate { .. } => {
            let mut a = arrivals(e);
            while let Some((i, _)) = a.next_arrival() {
                if seg.owns(i) {
                    return true;
                }
            }
            false
        }
    }
}

fn arrivals(e: &Executor) -> Arrivals {
    match e {
        Executor::ConstantArrivalRate { rate, time_unit, duration, .. } => {
            Arrivals::new(*rate, &[Stage { duration: *duration, target: *rate }], *time_unit)
        }
        Executor::RampingArrivalRate { start_rate, time_unit, stages, .. } => Arrivals::new(*start_rate, stages, *time_unit),
        _ => Arrivals::new(0.0, &[], Duration::from_secs(1)),
    }
}

fn drive(
    rt: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    progress: Arc<Mutex<Progress>>,
    sink: Box<dyn SampleSink>,
) -> Result<Summary, GenError> {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (s2, p2) = (shared.clone(), progress.clone());
    let collector = std::thread::Builder::new()
        .name("slo-gen-collect".into())
        .spawn(move || collect(s2, p2, sink, done_rx))
        .map_err(GenError::Runtime)?;
    rt.block_on(async {
        let mut set = JoinSet::new();
        for sc in 0..shared.plan.scenarios.len() {
            set.spawn(run_scenario(shared.clone(), sc));
        }
        while set.join_next().await.is_some() {}
    });
    // Connection tasks end when their senders drop; don't wait for idle peers.
    rt.shutdown_timeout(Duration::from_millis(100));
    let _ = done_tx.send(());
    let totals = collector.join().map_err(|_| GenError::Panicked)?.map_err(GenError::Sink)?;
    let end = Instant::now();
    Ok(Summary {
        start_ns: shared.wall_base_ns,
        end_ns: shared.wall_ns(end),
        duration: end - shared.base,
        vus_max: shared.max_vus.load(Relaxed),
        interrupted: shared.stopping(),
        captures_failed: shared.captures_failed.load(Relaxed),
        ..totals
    })
}

/// Races one iteration against the hard deadline and an abort.
async fn race(vu: &mut Vu, shared: &Shared, sc: usize, lag: Option<f64>, hard: Instant) -> Option<IterEnd> {
    tokio::select! {
        biased;
        _ = shared.aborted() => None,
        _ = sleep_until(hard) => None,
        r = vu.iterate(sc, lag) => Some(r),
    }
}

async fn run_scenario(shared: Arc<Shared>, sc: usize) {
    let cfg = shared.plan.scenarios[sc].config.clone();
    let seg = shared.plan.segment;
    let start = shared.base + cfg.start_time;
    if !shared.sleep_until_or_stop(start).await {
        return;
    }
    let graceful = cfg.graceful_stop;
    let mut set = JoinSet::new();
    match &cfg.executor {
        Executor::ConstantVus { vus, duration } => {
            let end = start + *duration;
            for _ in 0..seg.scale(*vus) {
                let shared = shared.clone();
                let mut vu = shared.new_vu();
                set.spawn(async move {
                    shared.active_vus.fetch_add(1, Relaxed);
                    while Instant::now() < end && !shared.stopping() {
                        match race(&mut vu, &shared, sc, None, end + graceful).await {
                            Some(IterEnd::Done) => {}
                            _ => break,
                        }
                    }
                    shared.active_vus.fetch_sub(1, Relaxed);
                    vu.flush();
                });
            }
        }
        Executor::PerVuIterations { vus, iterations, max_duration } | Executor::SharedIterations { vus, iterations, max_duration } => {
            let end = start + *max_duration;
            let shared_iters = matches!(cfg.executor, Executor::SharedIterations { .. });
            let pool = Arc::new(AtomicU64::new(0));
            let total = if shared_iters { seg.scale(*iterations) } else { *iterations };
            // A segment whose share of VUs rounds to 0 but that owns shared iterations
            // still needs one VU, or those iterations would be lost from the sum.
            let n_vus = if shared_iters && total > 0 { seg.scale(*vus).max(1) } else { seg.scale(*vus) };
            for _ in 0..n_vus {
                let shared = shared.clone();
                let pool = pool.clone();
                let mut vu = shared.new_vu();
                set.spawn(async move {
                    shared.active_vus.fetch_add(1, Relaxed);
                    let mut mine = 0u64;
                    while Instant::now() < end && !shared.stopping() {
                        let take = if shared_iters { pool.fetch_add(1, Relaxed) < total } else { mine < total };
                        if !take {
                            break;
                        }
                        mine += 1;
                        match race(&mut vu, &shared, sc, None, end + graceful).await {
                            Some(IterEnd::Done) => {}
                            _ => break,
                        }
                    }
                    shared.active_vus.fetch_sub(1, Relaxed);
                    vu.flush();
                });
            }
        }
        Executor::RampingVus { start_vus, stages, graceful_ramp_down } => {
            let steps = Arc::new(ramping_vu_steps(*start_vus, stages, |v| seg.scale(v)));
            let end = start + stages.iter().map(|s| s.duration).sum::<Duration>();
            let max = steps.iter().map(|(_, v)| *v).max().unwrap_or(0);
            let grd = *graceful_ramp_down;
            for i in 0..max {
                let shared = shared.clone();
                let steps = steps.clone();
                let mut vu = shared.new_vu();
                set.spawn(async move {
                    let mut active = false;
                    loop {
                        let now = Instant::now();
                        if now >= end || shared.stopping() {
                            break;
                        }
                        let off = now - start;
                        if vus_at(&steps, off) > i {
                            if !active {
                                active = true;
                                shared.active_vus.fetch_add(1, Relaxed);
                            }
                            // When this VU is ramped down mid-iteration it may finish
                            // within gracefulRampDown.
                            let deact = steps.iter().find(|(d, v)| *d > off && *v <= i).map(|(d, _)| start + *d + grd);
                            let hard = deact.map_or(end + graceful, |d| d.min(end + graceful));
                            match race(&mut vu, &shared, sc, None, hard).await {
                                Some(IterEnd::Done) => {}
                                _ if Instant::now() >= end || shared.stopping() => break,
                                _ => {}
                            }
                        } else {
                            if active {
                                active = false;
                                shared.active_vus.fetch_sub(1, Relaxed);
                            }
                            vu.flush();
                            let next = steps.iter().find(|(d, v)| *d > off && *v > i).map(|(d, _)| start + *d);
                            match next {
                                Some(t) if t < end => {
                                    if !shared.sleep_until_or_stop(t).await {
                                        break;
                                    }
                                }
                                _ => break,
                            }
                        }
                    }
                    if active {
                        shared.active_vus.fetch_sub(1, Relaxed);
                    }
                    vu.flush();
                });
            }
        }
        Executor::ConstantArrivalRate { pre_allocated_vus, max_vus, .. }
        | Executor::RampingArrivalRate { pre_allocated_vus, max_vus, .. } => {
            let mut arr = arrivals(&cfg.executor);
            let end = start + cfg.executor.scheduled_duration();
            let max = seg.scale(*max_vus).max(1);
            let pre = seg.scale(*pre_allocated_vus).min(max);
            let pool: Arc<Mutex<Vec<Vu>>> = Arc::new(Mutex::new((0..pre).map(|_| shared.new_vu()).collect()));
            let mut allocated = pre;
            while let Some((i, off)) = arr.next_arrival() {
                if !seg.owns(i) {
                    continue;
                }
                let intended = start + off;
                if intended >= end || !shared.arrive_at(intended).await {
                    break;
                }
                while set.try_join_next().is_some() {}
                let vu = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let mut vu = match vu {
                    Some(v) => v,
                    None if allocated < max => {
                        allocated += 1;
                        shared.new_vu()
                    }
                    None => {
                        // k6: no free VU → the iteration is dropped.
                        shared.dropped[sc].fetch_add(1, Relaxed);
                        continue;
                    }
                };
                let lag = Instant::now().saturating_duration_since(intended).as_secs_f64() * 1e3;
                let shared = shared.clone();
                let pool = pool.clone();
                set.spawn(async move {
                    shared.active_vus.fetch_add(1, Relaxed);
                    let _ = race(&mut vu, &shared, sc, Some(lag), end + graceful).await;
                    shared.active_vus.fetch_sub(1, Relaxed);
                    vu.flush();
                    pool.lock().unwrap_or_else(|e| e.into_inner()).push(vu);
                });
            }
        }
    }
    while set.join_next().await.is_some() {}
}

/// Rolling per-second statistics for the progress line.
#[derive(Default)]
struct Second {
    requests: u64,
    failed: u64,
    durations: Vec<f64>,
}

const PER_SECOND_KEEP: usize = 20_000;
const WINDOW: usize = 5;

/// k6's percentile: linear interpolation between closest ranks (k6 `metrics/sink.go`).
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

fn collect(
    shared: Arc<Shared>,
    progress: Arc<Mutex<Progress>>,
    mut sink: Box<dyn SampleSink>,
    done: mpsc::Receiver<()>,
) -> Result<Summary, SinkError> {
    let mut totals = Summary::default();
    let mut spare = SampleBatch::default();
    let mut window: std::collections::VecDeque<Second> = std::collections::VecDeque::new();
    let mut dropped_seen: Vec<u64> = vec![0; shared.dropped.len()];
    let drop_tags: Vec<Arc<SampleTags>> = shared
        .plan
        .scenarios
        .iter()
        .map(|s| Arc::new(SampleTags { scenario: s.config.name.as_str().into(), group: "".into(), extra: shared.plan.run_tags.clone() }))
        .collect();
    let start = std::time::Instant::now();
    let mut tick = 1u32;
    loop {
        let next = start + Duration::from_secs(u64::from(tick));
        let finished = match done.recv_timeout(next.saturating_duration_since(std::time::Instant::now())) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                tick += 1;
                false
            }
        };
        shared.take_vu_samples();
        {
            let mut b = shared.batch.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut *b, &mut spare);
        }
        let mut batch = std::mem::take(&mut spare);
        let now = Instant::now();
        let now_ns = shared.stamp(now, 1);
        for (i, d) in shared.dropped.iter().enumerate() {
            let v = d.load(Relaxed);
            if v > dropped_seen[i] {
                batch.dropped.push(DroppedSample { time_ns: shared.stamp(now, 1), tags: drop_tags[i].clone(), count: v - dropped_seen[i] });
                totals.dropped_iterations += v - dropped_seen[i];
                dropped_seen[i] = v;
            }
        }
        let vus = shared.active_vus.load(Relaxed);
        let vus_max = shared.max_vus.load(Relaxed);
        batch.vus.push(VuSample { time_ns: now_ns, vus, vus_max, run_tags: shared.plan.run_tags.clone() });

        let mut sec = Second::default();
        let stride = batch.requests.len().div_ceil(PER_SECOND_KEEP).max(1);
        for (i, r) in batch.requests.iter().enumerate() {
            sec.requests += 1;
            if !r.expected_response {
                sec.failed += 1;
            }
            if i % stride == 0 {
                sec.durations.push(r.duration_ms);
            }
            totals.data_sent += r.bytes_sent;
            totals.data_received += r.bytes_received;
        }
        totals.requests += sec.requests;
        totals.failed_requests += sec.failed;
        totals.iterations += batch.iterations.len() as u64;
        for c in &batch.checks {
            if c.pass {
                totals.checks_passed += 1;
            } else {
                totals.checks_failed += 1;
            }
        }
        window.push_back(sec);
        while window.len() > WINDOW {
            window.pop_front();
        }
        let (req, failed): (u64, u64) = window.iter().fold((0, 0), |a, s| (a.0 + s.requests, a.1 + s.failed));
        let mut ds: Vec<f64> = window.iter().flat_map(|s| s.durations.iter().copied()).collect();
        ds.sort_by(f64::total_cmp);
        {
            let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
            p.elapsed = start.elapsed();
            p.vus = vus;
            p.vus_max = vus_max;
            p.rps = req as f64 / window.len().max(1) as f64;
            p.p95_ms = percentile(&ds, 95.0);
            p.error_rate = if req == 0 { 0.0 } else { failed as f64 / req as f64 };
            p.requests = totals.requests;
            p.iterations = totals.iterations;
            p.dropped_iterations = totals.dropped_iterations;
            p.stopping = shared.stopping();
        }
        if let Err(e) = sink.write(&batch) {
            shared.set_state(ABORTING);
            return Err(e);
        }
        batch.clear();
        spare = batch;
        if finished {
            sink.flush()?;
            return Ok(totals);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6_percentile() {
        // k6: p(95) of 1..=100 = 95.05 (linear between ranks 94 and 95, 0-based).
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&v, 95.0).unwrap() - 95.05).abs() < 1e-9);
        assert_eq!(percentile(&[], 95.0), None);
    }
}
