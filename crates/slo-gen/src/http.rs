//! One keep-alive HTTP/1.1 connection per VU and endpoint, on hyper's client conn API
//! over a `TcpStream` we connect ourselves, wrapped so that the socket reads and writes
//! time k6's phases: connecting (TCP connect), sending (first to last byte written),
//! waiting (last byte written to first byte read) and receiving (first byte read to the
//! end of the body).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use slo_model::sample::error_code;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Socket event times (ns since the run's base instant; 0 = not yet) and byte counts
/// for the request in progress. Written by the connection task, read by the VU after
/// hyper hands over the response (hyper's channel orders the accesses).
#[derive(Default)]
struct Trace {
    first_write: AtomicU64,
    last_write: AtomicU64,
    first_read: AtomicU64,
    written: AtomicU64,
    read: AtomicU64,
}

struct TimedStream {
    inner: TcpStream,
    trace: Arc<Trace>,
    base: Instant,
}

impl TimedStream {
    fn now(&self) -> u64 {
        (Instant::now() - self.base).as_nanos() as u64
    }
}

impl AsyncRead for TimedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            if self.trace.first_read.load(Relaxed) == 0 {
                let t = self.now().max(1);
                self.trace.first_read.store(t, Relaxed);
            }
            self.trace.read.fetch_add(n as u64, Relaxed);
        }
        r
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.trace.first_write.load(Relaxed) == 0 {
            let t = self.now().max(1);
            self.trace.first_write.store(t, Relaxed);
        }
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            let t = self.now().max(1);
            self.trace.last_write.store(t, Relaxed);
            self.trace.written.fetch_add(n as u64, Relaxed);
        }
        r
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        if self.trace.first_write.load(Relaxed) == 0 {
            let t = self.now().max(1);
            self.trace.first_write.store(t, Relaxed);
        }
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            let t = self.now().max(1);
            self.trace.last_write.store(t, Relaxed);
            self.trace.written.fetch_add(n as u64, Relaxed);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An open connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    trace: Arc<Trace>,
}

/// What one request produced. Times in milliseconds.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub status: u16,
    pub error_code: u32,
    pub blocked_ms: f64,
    pub connecting_ms: f64,
    pub sending_ms: f64,
    pub waiting_ms: f64,
    pub receiving_ms: f64,
    pub duration_ms: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Failed on a reused connection before any response byte: safe to retry once.
    pub retryable: bool,
    /// Response head (headers) when there was a response.
    pub head: Option<hyper::http::response::Parts>,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn io_code(e: &io::Error, dialing: bool) -> u32 {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => error_code::TCP_DIAL_REFUSED,
        io::ErrorKind::TimedOut if dialing => error_code::TCP_DIAL_TIMEOUT,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => error_code::TCP_RESET_BY_PEER,
        io::ErrorKind::BrokenPipe => error_code::TCP_BROKEN_PIPE,
        _ if dialing => error_code::TCP_DIAL,
        _ => error_code::TCP,
    }
}

fn hyper_code(e: &hyper::Error) -> u32 {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io_code(io, false);
        }
        src = s.source();
    }
    error_code::GENERIC
}

/// Connects, timing the TCP connect. Returns the connection or the k6 error code.
async fn connect(addr: SocketAddr, base: Instant, timeout: Duration) -> Result<Conn, u32> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => return Err(error_code::TCP_DIAL_TIMEOUT),
        Ok(Err(e)) => return Err(io_code(&e, true)),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let trace = Arc::new(Trace::default());
    let io = TokioIo::new(TimedStream { inner: stream, trace: trace.clone(), base });
    let (sender, conn) = http1::handshake::<_, Full<Bytes>>(io).await.map_err(|e| hyper_code(&e))?;
    tokio::spawn(async move {
        // Ends when the VU drops its sender or the peer closes; errors surface on the
        // request side.
        let _ = conn.await;
    });
    Ok(Conn { sender, trace })
}

/// A VU's connection to one endpoint; reconnects after errors.
#[derive(Default)]
pub(crate) struct Slot {
    conn: Option<Conn>,
}

impl Slot {
    /// Sends `req` and reads the whole response, keeping the body in `body` when
    /// `keep_body`. Never fails: transport errors come back as status 0 plus a k6
    /// error code. `base` is the run's base instant for the socket trace.
    pub(crate) async fn send(
        &mut self,
        addr: SocketAddr,
        req: Request<Full<Bytes>>,
        keep_body: bool,
        body: &mut Vec<u8>,
        base: Instant,
        timeout: Duration,
    ) -> Outcome {
        let t0 = Instant::now();
        let deadline = t0 + timeout;
        match tokio::time::timeout_at(deadline, self.send_inner(addr, req, keep_body, body, base, t0, timeout)).await {
            Ok(o) => o,
            Err(_) => {
                // The connection is in an unknown state: drop it.
                let trace = self.conn.take().map(|c| c.trace);
                let mut o = Outcome { error_code: error_code::REQUEST_TIMEOUT, ..Default::default() };
                o.duration_ms = ms((Instant::now() - t0).as_nanos() as u64);
                if let Some(tr) = trace {
                    o.bytes_sent = tr.written.load(Relaxed);
                    o.bytes_received = tr.read.load(Relaxed);
                }
                o
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_inner(
        &mut self,
        addr: SocketAddr,
        req: Request<Full<Bytes>>,
        keep_body: bool,
        body: &mut Vec<u8>,
        base: Instant,
        t0: Instant,
        timeout: Duration,
    ) -> Outcome {
        let mut out = Outcome::default();
        body.clear();
        let mut connecting_ns = 0u64;
        let reused = self.conn.as_ref().is_some_and(|c| !c.sender.is_closed());
        if !reused {
            self.conn = None;
            let c0 = Instant::now();
            match connect(addr, base, timeout).await {
                Ok(c) => self.conn = Some(c),
                Err(code) => {
                    out.error_code = code;
                    out.connecting_ms = ms((Instant::now() - c0).as_nanos() as u64);
                    out.duration_ms = 0.0;
                    return out;
                }
            }
            connecting_ns = (Instant::now() - c0).as_nanos() as u64;
        }
        let Some(conn) = self.conn.as_mut() else { return out };
        if conn.sender.ready().await.is_err() {
            self.conn = None;
            out.error_code = error_code::TCP;
            out.retryable = reused;
            return out;
        }
        let tr = conn.trace.clone();
        tr.first_write.store(0, Relaxed);
        tr.last_write.store(0, Relaxed);
        tr.first_read.store(0, Relaxed);
        tr.written.store(0, Relaxed);
        tr.read.store(0, Relaxed);
        let resp: Response<hyper::body::Incoming> = match conn.sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                out.error_code = hyper_code(&e);
                out.bytes_sent = tr.written.load(Relaxed);
                out.bytes_received = tr.read.load(Relaxed);
                out.duration_ms = ms((Instant::now() - t0).as_nanos() as u64);
                // A reused connection the server closed while idle fails before any
                // byte is read; like Go's transport (k6), the caller retries once.
                out.retryable = reused && out.bytes_received == 0;
                return out;
            }
        };
        let (head, mut incoming) = resp.into_parts();
        let mut failed = 0u32;
        while let Some(frame) = incoming.frame().await {
            match frame {
                Ok(f) => {
                    if keep_body {
                        if let Some(d) = f.data_ref() {
                            body.extend_from_slice(d);
                        }
                    }
                }
                Err(e) => {
                    failed = hyper_code(&e);
                    break;
                }
            }
        }
        let end = (Instant::now() - base).as_nanos() as u64;
        let start = (t0 - base).as_nanos() as u64;
        let fw = tr.first_write.load(Relaxed).max(start);
        let lw = tr.last_write.load(Relaxed).max(fw);
        let fr = tr.first_read.load(Relaxed).max(lw);
        let end = end.max(fr);
        out.connecting_ms = ms(connecting_ns);
        out.blocked_ms = ms((fw - start).saturating_sub(connecting_ns));
        out.sending_ms = ms(lw - fw);
        out.waiting_ms = ms(fr - lw);
        out.receiving_ms = ms(end - fr);
        out.duration_ms = out.sending_ms + out.waiting_ms + out.receiving_ms;
        out.bytes_sent = tr.written.load(Relaxed);
        out.bytes_received = tr.read.load(Relaxed);
        if failed != 0 {
            self.conn = None;
            out.error_code = failed;
            return out;
        }
        out.status = head.status.as_u16();
        out.error_code = error_code::for_status(out.status);
        out.head = Some(head);
        out
    }
}
