//! A virtual user: its connections, variables, random source and local sample buffer,
//! and the execution of one iteration of a flow.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING, USER_AGENT};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slo_config::scenario::{Expect, PathStep, PayloadOrder};
use slo_model::sample::error_code;
use slo_model::{CheckSample, IterationSample, Method, RequestSample, SampleBatch, SampleTags};
use tokio::time::Instant;

/// Samples after which a VU hands its buffer to the shared batch.
const LOCAL_FLUSH: usize = 256;
/// Longest a VU keeps a sample before handing its buffer over (the collector takes any
/// that wait longer, e.g. behind a slow request, at its next tick).
const LOCAL_MAX_AGE: std::time::Duration = std::time::Duration::from_millis(200);

use crate::http::{Outcome, SendOpts, Slot};
use crate::plan::{CBody, CCaptureSource, CHeaderValue, CJson, CPart, CRequest, CStep, CTemplate};
use crate::run::Shared;

#[derive(Default, Clone)]
struct Var {
    set: bool,
    raw: bool,
    text: String,
}

/// What serializing a request found.
#[derive(Debug, Default, Clone, Copy)]
struct Built {
    /// A header value rendered with control characters: the request is not sent.
    invalid_header: bool,
    /// The request says `Connection: close`.
    close: bool,
}

/// How an iteration ended.
pub(crate) enum IterEnd {
    /// Ran to the end (or stopped on a failed capture, as Artillery does).
    Done,
    /// The run is stopping: the iteration ended at a step boundary.
    Stopped,
}

pub(crate) struct Vu {
    pub id: u32,
    pub iteration: u64,
    slots: Vec<Slot>,
    vars: Vec<Var>,
    rng: SmallRng,
    body: Vec<u8>,
    /// The serialized request being sent.
    wire: Vec<u8>,
    scratch: String,
    /// This VU's samples not yet in the shared batch. The VU hands them over in chunks
    /// ([`LOCAL_FLUSH`] samples or [`LOCAL_MAX_AGE`]), which keeps the shared batch near
    /// time order; the collector also takes what is left each tick, so a request in
    /// flight holds back nothing that finished.
    local: Arc<Mutex<SampleBatch>>,
    /// When the oldest sample in `local` was added (as far as this VU knows).
    first_buffered: Option<Instant>,
    capture_failed: bool,
    shared: Arc<Shared>,
}

impl Vu {
    /// A VU whose samples go into `local` (registered with the collector by the caller).
    pub fn new(id: u32, shared: Arc<Shared>, local: Arc<Mutex<SampleBatch>>) -> Vu {
        let plan = &shared.plan;
        Vu {
            id,
            iteration: 0,
            slots: (0..plan.endpoints.len()).map(|_| Slot::default()).collect(),
            vars: vec![Var::default(); plan.n_slots],
            rng: SmallRng::seed_from_u64(0x5eed_0000 ^ u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ shared.seed),
            body: Vec::new(),
            wire: Vec::new(),
            scratch: String::new(),
            local,
            first_buffered: None,
            capture_failed: false,
            shared,
        }
    }

    /// Hands buffered samples to the shared batch now (a VU that ends or pauses).
    pub fn flush(&mut self) {
        self.first_buffered = None;
        let mut taken = std::mem::take(&mut *self.local.lock().unwrap_or_else(|e| e.into_inner()));
        if !taken.is_empty() {
            self.shared.push(&mut taken);
        }
    }

    /// After adding `n` samples to `local` (which then holds `held`): hands them over
    /// once there are enough or the oldest is old enough.
    fn buffered(&mut self, held: usize) {
        let now = Instant::now();
        let first = *self.first_buffered.get_or_insert(now);
        if held >= LOCAL_FLUSH || now - first >= LOCAL_MAX_AGE {
            self.flush();
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, SampleBatch> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        self.shared.stopping()
    }

    /// Runs one iteration of scenario `sc`; `lag_ms` is the scheduling lag for
    /// arrival-rate executors.
    pub async fn iterate(&mut self, sc: usize, lag_ms: Option<f64>) -> IterEnd {
        let shared = self.shared.clone();
        let plan = &shared.plan;
        let scenario = &plan.scenarios[sc];
        let Some(&(_, total)) = scenario.flows.last() else { return IterEnd::Done };
        let pick = self.rng.random_range(0..total.max(1));
        let fi = scenario.flows.partition_point(|(_, cum)| *cum <= pick).min(scenario.flows.len() - 1);
        let (flow_idx, _) = scenario.flows[fi];
        let tags = scenario.tags[fi].clone();
        // Per-iteration variables (an Artillery arrival is a fresh user).
        for v in &mut self.vars {
            v.set = false;
        }
        for v in &plan.variables {
            let (text, raw) = &v.values[self.rng.random_range(0..v.values.len())];
            let var = &mut self.vars[v.slot];
            var.text.clear();
            var.text.push_str(text);
            var.raw = *raw;
            var.set = true;
        }
        for (pi, p) in plan.payloads.iter().enumerate() {
            let row = match p.order {
                PayloadOrder::Random => self.rng.random_range(0..p.rows.len()),
                PayloadOrder::Sequence => (shared.payload_cursor[pi].fetch_add(1, Relaxed) % p.rows.len() as u64) as usize,
            };
            for (slot, cell) in p.slots.iter().zip(&p.rows[row]) {
                let var = &mut self.vars[*slot];
                var.text.clear();
                var.text.push_str(cell);
                var.raw = false;
                var.set = true;
            }
        }
        self.capture_failed = false;
        let start = Instant::now();
        let end = self.steps(&plan.flows[flow_idx].steps, &tags, lag_ms).await;
        if matches!(end, IterEnd::Done) {
            let now = Instant::now();
            let mut local = self.local();
            local.iterations.push(IterationSample {
                time_ns: shared.stamp(now, 1),
                tags,
                duration_ms: (now - start).as_secs_f64() * 1e3,
                vu: self.id,
            });
            let held = local.requests.len() + local.iterations.len();
            drop(local);
            self.buffered(held);
        }
        self.iteration += 1;
        end
    }

    fn steps<'a>(
        &'a mut self,
        steps: &'a [CStep],
        tags: &'a Arc<SampleTags>,
        lag_ms: Option<f64>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = IterEnd> + Send + 'a>> {
        Box::pin(async move {
            for step in steps {
                if self.stopping() {
                    return IterEnd::Stopped;
                }
                match step {
                    CStep::Think(d) => {
                        self.flush();
                        if !self.shared.sleep_or_stop(*d).await {
                            return IterEnd::Stopped;
                        }
                    }
                    CStep::Loop(count, inner) => {
                        for _ in 0..*count {
                            match self.steps(inner, tags, lag_ms).await {
                                IterEnd::Done => {}
                                IterEnd::Stopped => return IterEnd::Stopped,
                            }
                            if self.vars_failed() {
                                return IterEnd::Done;
                            }
                        }
                    }
                    CStep::Request(r) => {
                        if !self.request(r, tags, lag_ms).await {
                            // Failed capture: Artillery ends the user's scenario here.
                            self.shared.captures_failed.fetch_add(1, Relaxed);
                            self.mark_failed();
                            return IterEnd::Done;
                        }
                    }
                }
            }
            IterEnd::Done
        })
    }

    /// A failed capture inside a loop ends the enclosing loops too.
    fn mark_failed(&mut self) {
        self.capture_failed = true;
    }

    fn vars_failed(&mut self) -> bool {
        std::mem::take(&mut self.capture_failed)
    }

    /// Serializes request `r` into `self.wire` as HTTP/1.1 (RFC 9112): request line
    /// (without a `#fragment`, which never goes on the wire), `host`, `user-agent:
    /// slo/VERSION` (unless the step sets one), the step's headers
    /// (a user `host` replaces the default; `content-length` is always computed and a
    /// user `transfer-encoding` left out, since bodies are sent whole), then the body.
    fn build(&mut self, r: &CRequest) -> Built {
        // Field-disjoint borrows: the plan is read while the rng and scratch change,
        // so nothing shared is cloned per request.
        let plan: &crate::plan::Plan = &self.shared.plan;
        let (rng, vars, scratch, w) = (&mut self.rng, &self.vars[..], &mut self.scratch, &mut self.wire);
        let ep = &plan.endpoints[r.endpoint];
        w.clear();
        w.extend_from_slice(r.method.as_str().as_bytes());
        w.push(b' ');
        let target = w.len();
        w.extend_from_slice(ep.base_path.as_bytes());
        match r.path.literal() {
            Some(p) => target_encode(p, w),
            None => {
                scratch.clear();
                render(rng, vars, &r.path, scratch);
                target_encode(scratch, w);
            }
        }
        if let Some(i) = w[target..].iter().position(|&b| b == b'#') {
            w.truncate(target + i);
        }
        if w.len() == target {
            w.push(b'/');
        }
        let mut has_query = w[target..].contains(&b'?');
        for (k, v) in &r.qs {
            w.push(if has_query { b'&' } else { b'?' });
            has_query = true;
            pct_encode(k, w);
            w.push(b'=');
            scratch.clear();
            render(rng, vars, v, scratch);
            pct_encode(scratch, w);
        }
        w.extend_from_slice(b" HTTP/1.1\r\n");
        if !r.headers.iter().any(|(n, _)| n == HOST) {
            header(w, HOST.as_str(), ep.host_header.as_bytes());
        }
        if !r.headers.iter().any(|(n, _)| n == USER_AGENT) {
            // k6 and Artillery name themselves too; some servers refuse a request without.
            header(w, USER_AGENT.as_str(), concat!("slo/", env!("CARGO_PKG_VERSION")).as_bytes());
        }
        let mut built = Built::default();
        for (n, v) in &r.headers {
            if n == CONTENT_LENGTH || n == TRANSFER_ENCODING {
                continue;
            }
            let value: &[u8] = match v {
                CHeaderValue::Static(v) => v.as_bytes(),
                CHeaderValue::Template(t) => {
                    scratch.clear();
                    render(rng, vars, t, scratch);
                    // A rendered value with control characters would split the head:
                    // the request is not sent (Go's client, hence k6, refuses it too).
                    if scratch.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
                        built.invalid_header = true;
                    }
                    scratch.as_bytes()
                }
            };
            if n == CONNECTION && value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close")) {
                built.close = true;
            }
            header(w, n.as_str(), value);
        }
        scratch.clear();
        let body: &[u8] = match &r.body {
            None => &[],
            Some(CBody::Static(b)) => b,
            Some(CBody::Json(j)) => {
                let mut s = String::with_capacity(128);
                render_json(rng, vars, &mut s, j, scratch);
                scratch.as_bytes()
            }
            Some(CBody::Raw(t)) => {
                render(rng, vars, t, scratch);
                scratch.as_bytes()
            }
        };
        if !body.is_empty() || matches!(r.method, Method::Post | Method::Put | Method::Patch) {
            let _ = write!(w, "content-length: {}\r\n", body.len());
        }
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(body);
        built
    }

    /// Sends one request step, records its sample and checks, applies captures.
    /// Returns false when a capture failed.
    async fn request(&mut self, r: &CRequest, tags: &Arc<SampleTags>, lag_ms: Option<f64>) -> bool {
        let (addr, timeout, base) = (self.shared.plan.endpoints[r.endpoint].addr, self.shared.plan.request_timeout, self.shared.base);
        let mut body = std::mem::take(&mut self.body);
        // One stamp for the request's points and one more per check (see Shared::stamp).
        let stamps = 1 + r.expects.len() as u64;
        let mut time_ns = self.shared.stamp(Instant::now(), stamps);
        let built = self.build(r);
        let opts = SendOpts { head: matches!(r.method, Method::Head), close: built.close, keep_body: r.needs_body };
        let slot = &mut self.slots[r.endpoint];
        let mut out = if built.invalid_header {
            Outcome { error_code: error_code::GENERIC, ..Default::default() }
        } else {
            slot.send(addr, &self.wire, opts, &mut body, base, timeout).await
        };
        // Go's transport (k6) sends a request again on a fresh connection only when the
        // reused one failed before any response byte and the method is idempotent.
        if out.retryable && replayable(r.method) {
            time_ns = self.shared.stamp(Instant::now(), stamps);
            out = slot.send(addr, &self.wire, opts, &mut body, base, timeout).await;
        }
        let slot = &self.slots[r.endpoint];
        let expected = slo_model::default_expected_status(out.status);
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.requests.push(RequestSample {
            time_ns,
            tags: tags.clone(),
            name: r.name.clone(),
            url: r.url.clone(),
            method: r.method,
            status: out.status,
            error_code: out.error_code,
            expected_response: expected,
            duration_ms: out.duration_ms,
            blocked_ms: out.blocked_ms,
            connecting_ms: out.connecting_ms,
            tls_handshaking_ms: 0.0,
            sending_ms: out.sending_ms,
            waiting_ms: out.waiting_ms,
            receiving_ms: out.receiving_ms,
            bytes_sent: out.bytes_sent,
            bytes_received: out.bytes_received,
            vu: self.id,
            iteration: self.iteration,
            scheduling_lag_ms: lag_ms,
        });
        let parsed: Option<serde_json::Value> = if r.needs_body && out.status != 0 { serde_json::from_slice(&body).ok() } else { None };
        for (i, e) in r.expects.iter().enumerate() {
            let pass = match &e.rule {
                Expect::StatusCode(codes) => codes.contains(&out.status),
                Expect::ContentType(t) => {
                    slot.header("content-type").is_some_and(|v| v.to_ascii_lowercase().contains(&t.to_ascii_lowercase()))
                }
                Expect::HasProperty(p) => parsed.as_ref().is_some_and(|v| v.get(p).is_some()),
                Expect::HasHeader(_) => e.header.as_ref().is_some_and(|n| slot.header(n.as_str()).is_some()),
            };
            local.checks.push(CheckSample { time_ns: time_ns + i as i64, tags: tags.clone(), name: e.check_name.clone(), pass });
        }
        let held = local.requests.len() + local.iterations.len();
        drop(local);
        let mut ok = true;
        for c in &r.captures {
            let var = &mut self.vars[c.slot];
            var.set = false;
            match &c.source {
                CCaptureSource::Header(n) => {
                    if let Some(v) = slot.header(n.as_str()) {
                        var.text.clear();
                        var.text.push_str(v);
                        var.raw = false;
                        var.set = true;
                    }
                }
                CCaptureSource::Json(path) => {
                    let mut cur = parsed.as_ref();
                    for s in path {
                        cur = match s {
                            PathStep::Key(k) => cur.and_then(|v| v.get(k.as_str())),
                            PathStep::Index(i) => cur.and_then(|v| v.get(*i)),
                        };
                    }
                    match cur {
                        None | Some(serde_json::Value::Null) => {}
                        Some(serde_json::Value::String(s)) => {
                            var.text.clear();
                            var.text.push_str(s);
                            var.raw = false;
                            var.set = true;
                        }
                        Some(other) => {
                            var.text.clear();
                            let _ = write!(var.text, "{other}");
                            var.raw = true;
                            var.set = true;
                        }
                    }
                }
            }
            ok &= var.set;
        }
        self.body = body;
        self.buffered(held);
        ok
    }
}

fn render(rng: &mut SmallRng, vars: &[Var], t: &CTemplate, out: &mut String) {
    for p in &t.parts {
        match p {
            CPart::Lit(s) => out.push_str(s),
            CPart::Var(i) => out.push_str(&vars[*i].text),
            CPart::RandomNumber(a, b) => {
                let _ = write!(out, "{}", rng.random_range(*a..=*b));
            }
            CPart::RandomString(n) => {
                const CH: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
                for _ in 0..*n {
                    out.push(CH[rng.random_range(0..CH.len())] as char);
                }
            }
        }
    }
}

/// Whether a JSON string template renders unquoted: exactly one expression that is a
/// number function or a variable holding raw JSON (Artillery keeps such values typed).
fn raw_json(vars: &[Var], t: &CTemplate) -> bool {
    match t.parts.as_slice() {
        [CPart::RandomNumber(..)] => true,
        [CPart::Var(i)] => vars[*i].raw,
        _ => false,
    }
}

fn render_json(rng: &mut SmallRng, vars: &[Var], scratch: &mut String, j: &CJson, out: &mut String) {
    match j {
        CJson::Raw(s) => out.push_str(s),
        CJson::Str(t) => {
            if raw_json(vars, t) {
                render(rng, vars, t, out);
            } else {
                scratch.clear();
                render(rng, vars, t, scratch);
                json_escape(scratch, out);
            }
        }
        CJson::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render_json(rng, vars, scratch, x, out);
            }
            out.push(']');
        }
        CJson::Obj(items) => {
            out.push('{');
            for (i, (k, x)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push(':');
                render_json(rng, vars, scratch, x, out);
            }
            out.push('}');
        }
    }
}

fn json_escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether a request may be sent again after its reused connection failed before any
/// response byte: only methods safe to repeat (Go's `http.Transport`, hence k6, has the
/// same rule), so a POST the server may have acted on is never sent twice.
fn replayable(m: Method) -> bool {
    matches!(m, Method::Get | Method::Head | Method::Options)
}

/// Appends `name: value` and CRLF.
fn header(w: &mut Vec<u8>, name: &str, value: &[u8]) {
    w.extend_from_slice(name.as_bytes());
    w.extend_from_slice(b": ");
    w.extend_from_slice(value);
    w.extend_from_slice(b"\r\n");
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass).
fn pct_encode(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Appends a request target, percent-encoding the bytes RFC 3986 never allows in one
/// (controls, space, non-ASCII, `"<>\\^`{|}`), so a rendered path with a space stays
/// one request line; everything else, `%` included, passes as written.
fn target_encode(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        if b <= b' ' || b >= 0x7f || b"\"<>\\^`{|}".contains(&b) {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(b);
        }
    }
}

impl Drop for Vu {
    /// A VU cut off (an aborted run) still hands over what it recorded.
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_methods_are_replayed() {
        assert!(replayable(Method::Get) && replayable(Method::Head) && replayable(Method::Options));
        assert!(!replayable(Method::Post) && !replayable(Method::Put) && !replayable(Method::Patch) && !replayable(Method::Delete));
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        json_escape("a\"b\\\n\u{1}", &mut s);
        assert_eq!(s, r#""a\"b\\\n\u0001""#);
        let mut q = Vec::new();
        pct_encode("a b&c=ü", &mut q);
        assert_eq!(q, b"a%20b%26c%3D%C3%BC");
        let mut t = Vec::new();
        target_encode("/a b/%41?x=\"ü\"&y", &mut t);
        assert_eq!(t, b"/a%20b/%41?x=%22%C3%BC%22&y");
    }
}
