//! One keep-alive HTTP/1.1 connection per VU and endpoint, driven inside the VU's own
//! task: the VU writes the request bytes it built and reads the response on the same
//! `TcpStream`, parsing the head with `httparse` (RFC 9112 framing: `Content-Length`,
//! `chunked`, or until close). No connection task, no channel: one task wake-up per
//! response, as wrk does. The socket calls time k6's phases: connecting (TCP connect),
//! sending (first to last byte written), waiting (last byte written to first byte read)
//! and receiving (first byte read to the end of the body).

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use slo_model::sample::error_code;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest response head accepted (status line plus headers), in bytes (Go's default,
/// hence k6's, is 1 MB too).
const MAX_HEAD: usize = 1 << 20;
/// Response headers parsed without a heap allocation; a head with more is parsed again
/// with room for as many as `MAX_HEAD` bytes can hold.
const MAX_HEADERS: usize = 64;
/// Read buffer growth step, in bytes.
const READ_CHUNK: usize = 16 * 1024;

/// What one request produced. Times in milliseconds, sizes in bytes.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// HTTP status; 0 when no complete response head arrived.
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
    /// Failed on a reused connection before any response byte: safe to retry once
    /// (Go's transport, hence k6, does the same).
    pub retryable: bool,
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

/// How the response body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A parsed response head.
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    keep_alive: bool,
}

/// Why a response could not be read. `Io` carries the socket error; `Protocol` is a
/// malformed or oversized response; `Eof` is the peer closing before the response ended.
enum Fail {
    Io(io::Error),
    Protocol,
    Eof,
}

impl Fail {
    fn code(&self) -> u32 {
        match self {
            Fail::Io(e) => io_code(e, false),
            Fail::Protocol | Fail::Eof => error_code::GENERIC,
        }
    }
}

/// Byte counts and socket event times (ns since the run's base instant; 0 = not yet)
/// of the request in progress. Kept in the slot so a timed-out request still reports
/// what it sent and received, and how long each phase took.
#[derive(Default)]
struct Trace {
    connecting_ns: u64,
    first_write: u64,
    last_write: u64,
    first_read: u64,
    written: u64,
    read: u64,
}

impl Trace {
    /// k6's phases in ms for a request that started at `start` and ended (or was cut
    /// off) at `end`: blocked (start to first byte written: k6's GetConn to GotConn, so
    /// the TCP connect is inside it), sending, waiting and receiving; the phases not
    /// reached are 0 and the one in progress runs to `end`.
    fn phases(&self, out: &mut Outcome, start: u64, end: u64) {
        out.connecting_ms = ms(self.connecting_ns);
        if self.first_write == 0 {
            out.blocked_ms = ms(end.saturating_sub(start));
            return;
        }
        let fw = self.first_write.max(start);
        let lw = if self.last_write == 0 { end } else { self.last_write }.max(fw);
        let fr = if self.first_read == 0 { end.max(lw) } else { self.first_read.max(lw) };
        let end = end.max(fr);
        out.blocked_ms = ms(fw - start);
        out.sending_ms = ms(lw - fw);
        out.waiting_ms = ms(fr - lw);
        out.receiving_ms = ms(end - fr);
        out.duration_ms = out.sending_ms + out.waiting_ms + out.receiving_ms;
    }
}

/// How one request is sent and its response read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SendOpts {
    /// The method was HEAD: the response has no body whatever its headers say.
    pub head: bool,
    /// The request said `Connection: close`: the connection ends after the response.
    pub close: bool,
    /// Keep the response body (captures and expectations read it).
    pub keep_body: bool,
}

/// A connection idle for this long is checked for a close or stray bytes (a `408` some
/// servers send before closing an idle connection) before it is reused.
const IDLE_CHECK: Duration = Duration::from_millis(1);

/// A VU's connection to one endpoint; reconnects after errors or `Connection: close`.
/// After [`Slot::send`] the response head stays readable through [`Slot::header`] until
/// the next request.
#[derive(Default)]
pub(crate) struct Slot {
    conn: Option<TcpStream>,
    /// When the last response on `conn` ended.
    idle_since: Option<Instant>,
    /// Response bytes: the head of the last response at the front, then unread data.
    rbuf: Vec<u8>,
    /// Header (name, value) byte ranges into `rbuf` of the last response head.
    headers: Vec<(Range<usize>, Range<usize>)>,
    trace: Trace,
}

impl Slot {
    /// Value of header `name` (ASCII case-insensitive) in the last response, if it was
    /// valid UTF-8.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| self.rbuf.get(n.clone()).is_some_and(|b| b.eq_ignore_ascii_case(name.as_bytes())))
            .and_then(|(_, v)| std::str::from_utf8(self.rbuf.get(v.clone())?).ok())
    }

    /// Sends the serialized request `req` and reads the whole response, keeping the body
    /// in `body` when `opts.keep_body`. Never fails: transport errors come back as status
    /// 0 plus a k6 error code; a request not answered within `timeout` gets k6's 1050 with
    /// the phases it reached. `base` is the run's base instant for the socket trace.
    pub(crate) async fn send(
        &mut self,
        addr: SocketAddr,
        req: &[u8],
        opts: SendOpts,
        body: &mut Vec<u8>,
        base: Instant,
        timeout: Duration,
    ) -> Outcome {
        let t0 = Instant::now();
        self.trace = Trace::default();
        self.headers.clear();
        match tokio::time::timeout_at(t0 + timeout, self.send_inner(addr, req, opts, body, base, t0, timeout)).await {
            Ok(o) => o,
            Err(_) => {
                // The connection is in an unknown state: drop it.
                self.conn = None;
                self.headers.clear();
                let mut o = Outcome { error_code: error_code::REQUEST_TIMEOUT, ..Default::default() };
                let now = ((Instant::now() - base).as_nanos() as u64).max(1);
                self.trace.phases(&mut o, ((t0 - base).as_nanos() as u64).max(1), now);
                if self.trace.first_write == 0 {
                    o.duration_ms = ms(now.saturating_sub((t0 - base).as_nanos() as u64));
                }
                o.bytes_sent = self.trace.written;
                o.bytes_received = self.trace.read;
                o
            }
        }
    }

    /// Drops the connection if the server closed it or sent bytes while it was idle.
    fn check_idle(&mut self) {
        let (Some(stream), Some(since)) = (&self.conn, self.idle_since) else { return };
        if since.elapsed() < IDLE_CHECK {
            return;
        }
        let mut probe = [0u8; 64];
        // No system call unless the reactor saw the socket become readable.
        match stream.try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // Closed, reset, or bytes no request asked for (a 408 before closing): the
            // next request gets a fresh connection.
            _ => self.conn = None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_inner(
        &mut self,
        addr: SocketAddr,
        req: &[u8],
        opts: SendOpts,
        body: &mut Vec<u8>,
        base: Instant,
        t0: Instant,
        timeout: Duration,
    ) -> Outcome {
        let mut out = Outcome::default();
        body.clear();
        let now_ns = |t: Instant| ((t - base).as_nanos() as u64).max(1);
        self.check_idle();
        let reused = self.conn.is_some();
        if !reused {
            let c0 = Instant::now();
            let connected = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Err(_) => Err(error_code::TCP_DIAL_TIMEOUT),
                Ok(Err(e)) => Err(io_code(&e, true)),
                Ok(Ok(s)) => Ok(s),
            };
            self.trace.connecting_ns = (Instant::now() - c0).as_nanos() as u64;
            match connected {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    self.conn = Some(s);
                }
                Err(code) => {
                    out.error_code = code;
                    out.connecting_ms = ms(self.trace.connecting_ns);
                    return out;
                }
            }
        }
        let Some(stream) = self.conn.as_mut() else { return out };
        self.rbuf.clear();
        self.trace.first_write = now_ns(Instant::now());
        let wrote = stream.write_all(req).await;
        self.trace.last_write = now_ns(Instant::now());
        let result = match wrote {
            Ok(()) => {
                self.trace.written = req.len() as u64;
                read_response(stream, &mut self.rbuf, &mut self.headers, &mut self.trace, base, opts, body).await
            }
            Err(e) => Err(Fail::Io(e)),
        };
        let end = Instant::now();
        out.bytes_sent = self.trace.written;
        out.bytes_received = self.trace.read;
        match result {
            Ok((status, keep_alive)) => {
                if keep_alive && !opts.close {
                    self.idle_since = Some(end);
                } else {
                    self.conn = None;
                }
                self.trace.phases(&mut out, now_ns(t0), now_ns(end));
                out.status = status;
                out.error_code = error_code::for_status(status);
            }
            Err(f) => {
                self.conn = None;
                self.headers.clear();
                out.error_code = f.code();
                out.duration_ms = ms(now_ns(end).saturating_sub(now_ns(t0)));
                // A reused connection the server closed while idle fails before any
                // byte is read; like Go's transport (k6), the caller may retry once
                // (an idempotent method only).
                out.retryable = reused && self.trace.read == 0;
            }
        }
        out
    }
}

/// Reads more bytes onto the end of `rbuf`; Ok(0) at end of stream.
async fn fill(stream: &mut TcpStream, rbuf: &mut Vec<u8>, trace: &mut Trace, base: Instant) -> io::Result<usize> {
    if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
        rbuf.reserve(READ_CHUNK);
    }
    let n = stream.read_buf(rbuf).await?;
    if n > 0 {
        if trace.first_read == 0 {
            trace.first_read = ((Instant::now() - base).as_nanos() as u64).max(1);
        }
        trace.read += n as u64;
    }
    Ok(n)
}

/// Reads one response: its head (skipping 1xx interim responses), then its body as the
/// head frames it. Returns the status and whether the connection may be reused.
#[allow(clippy::too_many_arguments)]
async fn read_response(
    stream: &mut TcpStream,
    rbuf: &mut Vec<u8>,
    headers: &mut Vec<(Range<usize>, Range<usize>)>,
    trace: &mut Trace,
    base: Instant,
    opts: SendOpts,
    body: &mut Vec<u8>,
) -> Result<(u16, bool), Fail> {
    let keep_body = opts.keep_body;
    let head = loop {
        match parse_head(rbuf, headers, opts.head)? {
            Some(h) if (100..200).contains(&h.status) => {
                rbuf.drain(..h.len);
                headers.clear();
            }
            Some(h) => break h,
            None if rbuf.len() > MAX_HEAD => return Err(Fail::Protocol),
            None => {
                if fill(stream, rbuf, trace, base).await.map_err(Fail::Io)? == 0 {
                    return Err(Fail::Eof);
                }
            }
        }
    };
    // The body is consumed from `rbuf[pos..]`; the head stays in front of it.
    let mut pos = head.len;
    let mut keep_alive = head.keep_alive;
    let mut take = |rbuf: &mut Vec<u8>, pos: &mut usize, n: usize| {
        if keep_body {
            body.extend_from_slice(&rbuf[*pos..*pos + n]);
        }
        *pos += n;
        // Drop consumed body bytes so a large body never accumulates.
        if *pos == rbuf.len() {
            rbuf.truncate(head.len);
            *pos = head.len;
        }
    };
    match head.framing {
        Framing::None => {}
        Framing::Length(mut left) => loop {
            let n = (rbuf.len() - pos).min(usize::try_from(left).unwrap_or(usize::MAX));
            take(rbuf, &mut pos, n);
            left -= n as u64;
            if left == 0 {
                break;
            }
            if fill(stream, rbuf, trace, base).await.map_err(Fail::Io)? == 0 {
                return Err(Fail::Eof);
            }
        },
        Framing::UntilClose => {
            keep_alive = false;
            loop {
                let n = rbuf.len() - pos;
                take(rbuf, &mut pos, n);
                if fill(stream, rbuf, trace, base).await.map_err(Fail::Io)? == 0 {
                    break;
                }
            }
        }
        Framing::Chunked => {
            // State: bytes left in the current chunk's data (then its CRLF), or None
            // while a size line is expected.
            let mut left: Option<u64> = None;
            loop {
                let avail = &rbuf[pos..];
                match left {
                    None => match httparse::parse_chunk_size(avail) {
                        Ok(httparse::Status::Complete((used, 0))) => {
                            // Last chunk: optional trailers, then an empty line.
                            let rest = &rbuf[pos + used..];
                            if rest.starts_with(b"\r\n") {
                                pos += used + 2;
                                break;
                            }
                            if let Some(i) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
                                pos += used + i + 4;
                                break;
                            }
                            if rest.len() > MAX_HEAD {
                                return Err(Fail::Protocol);
                            }
                        }
                        Ok(httparse::Status::Complete((used, size))) => {
                            pos += used;
                            left = Some(size);
                            continue;
                        }
                        Ok(httparse::Status::Partial) => {}
                        Err(_) => return Err(Fail::Protocol),
                    },
                    Some(0) => {
                        if avail.len() >= 2 {
                            if &avail[..2] != b"\r\n" {
                                return Err(Fail::Protocol);
                            }
                            pos += 2;
                            left = None;
                            continue;
                        }
                    }
                    Some(n) => {
                        let k = (avail.len() as u64).min(n) as usize;
                        if k > 0 {
                            take(rbuf, &mut pos, k);
                            left = Some(n - k as u64);
                            continue;
                        }
                    }
                }
                // Need more bytes: keep the head and the unconsumed tail only.
                rbuf.drain(head.len..pos);
                pos = head.len;
                if fill(stream, rbuf, trace, base).await.map_err(Fail::Io)? == 0 {
                    return Err(Fail::Eof);
                }
            }
        }
    }
    // Bytes beyond the response (not pipelined by us) mean the stream is out of step.
    if pos != rbuf.len() {
        keep_alive = false;
    }
    rbuf.truncate(head.len);
    Ok((head.status, keep_alive))
}

/// Parses a response head at the start of `buf`. Ok(None) while incomplete. Fills
/// `headers` with byte ranges into `buf`.
fn parse_head(buf: &[u8], headers: &mut Vec<(Range<usize>, Range<usize>)>, head_request: bool) -> Result<Option<Head>, Fail> {
    let mut stack = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut heap = Vec::new();
    // Rare: more headers than the stack array holds; parse again with more room, up to as
    // many as a head of `MAX_HEAD` bytes can carry.
    for room in [MAX_HEADERS, 1024, MAX_HEAD / 4] {
        let hs: &mut [httparse::Header<'_>] = if room == MAX_HEADERS {
            &mut stack
        } else {
            heap.resize(room, httparse::EMPTY_HEADER);
            &mut heap
        };
        let mut resp = httparse::Response::new(hs);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(len)) => return frame(buf, &resp, len, headers, head_request).map(Some),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => continue,
            Err(_) => return Err(Fail::Protocol),
        }
    }
    Err(Fail::Protocol)
}

/// The framing of a parsed response head `resp` of `len` bytes at the start of `buf`;
/// fills `headers` with byte ranges into `buf`.
fn frame(
    buf: &[u8],
    resp: &httparse::Response<'_, '_>,
    len: usize,
    headers: &mut Vec<(Range<usize>, Range<usize>)>,
    head_request: bool,
) -> Result<Head, Fail> {
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut keep_alive = !http10;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    headers.clear();
    let at = |p: *const u8| p as usize - buf.as_ptr() as usize;
    for h in resp.headers.iter() {
        let n0 = at(h.name.as_ptr());
        let v0 = at(h.value.as_ptr());
        headers.push((n0..n0 + h.name.len(), v0..v0 + h.value.len()));
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or(Fail::Protocol)?;
            if length.is_some_and(|l| l != v) {
                return Err(Fail::Protocol);
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h.value.split(|&b| b == b',').next_back().is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if t.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n == 0 {
            Framing::None
        } else {
            Framing::Length(n)
        }
    } else {
        Framing::UntilClose
    };
    Ok(Head { status, len, framing, keep_alive })
}

#[cfg(test)]
mod tests {
    //! The client against scripted raw-socket servers: every framing of RFC 9112,
    //! responses split across reads, interim 1xx, `Connection: close`, and a server
    //! that drops an idle keep-alive connection.
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers each request (read up to the blank line) with the next of
    /// `replies`, each sent in pieces split at `|`, then closes after the last one.
    async fn server(replies: Vec<&'static str>) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = Vec::new();
            for r in replies {
                loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..i + 4);
                        break;
                    }
                    let mut b = [0u8; 4096];
                    let n = s.read(&mut b).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&b[..n]);
                }
                for piece in r.split('|') {
                    s.write_all(piece.as_bytes()).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        addr
    }

    async fn get(slot: &mut Slot, addr: SocketAddr, head: bool) -> (Outcome, String) {
        let mut body = Vec::new();
        let req = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let o =
            slot.send(addr, req, SendOpts { head, keep_body: true, close: false }, &mut body, Instant::now(), Duration::from_secs(5)).await;
        (o, String::from_utf8(body).unwrap())
    }

    #[tokio::test]
    async fn framings_on_one_connection() {
        let addr = server(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhe|llo",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n3\r\nabc\r\n|4;ext=1\r\nd|efg\r\n0\r\nTrailer: t\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\nuntil|close",
        ])
        .await;
        let mut slot = Slot::default();
        let (o, b) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, o.error_code, b.as_str()), (200, 0, "hello"));
        // k6's blocked runs from GetConn to GotConn: the connect is inside it.
        assert!(o.connecting_ms > 0.0 && o.blocked_ms >= o.connecting_ms, "{o:?}");
        assert_eq!(slot.header("x-a"), Some("1"));
        assert_eq!(o.bytes_received, 51);
        assert!(o.receiving_ms > 0.0, "body came in a second read");
        let (o, b) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, b.as_str()), (201, "abcdefg"));
        assert_eq!(slot.header("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(slot.header("x-a"), None);
        assert!(!o.retryable);
        let (o, b) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, b.as_str()), (204, ""));
        // A HEAD response announces a length but carries no body.
        let (o, b) = get(&mut slot, addr, true).await;
        assert_eq!((o.status, b.as_str()), (200, ""));
        let (o, b) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, b.as_str()), (200, "untilclose"));
        assert!(slot.conn.is_none(), "a close-delimited body ends the connection");
    }

    #[tokio::test]
    async fn idle_close_is_retryable_and_truncation_is_not() {
        let addr = server(vec!["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
        let mut slot = Slot::default();
        let (o, _) = get(&mut slot, addr, false).await;
        assert_eq!(o.status, 200);
        // The server closed after its only reply: the reused connection fails with
        // nothing read, which the VU may retry.
        let (o, _) = get(&mut slot, addr, false).await;
        assert_eq!(o.status, 0);
        assert!(o.retryable);
        assert!(o.error_code == error_code::GENERIC || o.error_code == error_code::TCP_RESET_BY_PEER, "{}", o.error_code);

        let addr = server(vec!["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"]).await;
        let mut slot = Slot::default();
        let (o, _) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, o.error_code, o.retryable), (0, error_code::GENERIC, false));
        assert_eq!(o.bytes_received, 44);
    }

    /// A server that answers, then while the connection is idle sends a `408` and closes
    /// it (Apache does): the stray response is not taken for the next request's.
    #[tokio::test]
    async fn bytes_sent_while_idle_are_not_the_next_response() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let reply = |s: &'static str| s.as_bytes();
            let (mut a, _) = l.accept().await.unwrap();
            let mut b = [0u8; 4096];
            let _ = a.read(&mut b).await.unwrap();
            a.write_all(reply("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            a.write_all(reply("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")).await.unwrap();
            drop(a);
            let (mut c, _) = l.accept().await.unwrap();
            let _ = c.read(&mut b).await.unwrap();
            c.write_all(reply("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let mut slot = Slot::default();
        let (o, b) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, b.as_str()), (200, "first"));
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (o, b) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, b.as_str()), (200, "second"));
        assert!(o.connecting_ms > 0.0, "a fresh connection");
    }

    /// More headers than the stack array holds; `Connection: close` on the request ends
    /// the connection after the response.
    #[tokio::test]
    async fn many_headers_and_request_close() {
        let mut many = String::from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
        for i in 0..300 {
            many.push_str(&format!("X-H{i}: {i}\r\n"));
        }
        many.push_str("\r\nok");
        let addr = server(vec![Box::leak(many.into_boxed_str()), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
        let mut slot = Slot::default();
        let mut body = Vec::new();
        let opts = SendOpts { head: false, close: true, keep_body: true };
        let o =
            slot.send(addr, b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n", opts, &mut body, Instant::now(), Duration::from_secs(5)).await;
        assert_eq!((o.status, o.error_code), (200, 0));
        assert_eq!(slot.header("x-h299"), Some("299"));
        assert!(slot.conn.is_none(), "the request asked to close");
    }

    #[tokio::test]
    async fn garbage_and_timeout() {
        let addr = server(vec!["SSH-2.0-OpenSSH\r\n\r\n"]).await;
        let mut slot = Slot::default();
        let (o, _) = get(&mut slot, addr, false).await;
        assert_eq!((o.status, o.error_code), (0, error_code::GENERIC));

        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let _hold = tokio::spawn(async move {
            let (_s, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let mut slot = Slot::default();
        let mut body = Vec::new();
        let o =
            slot.send(addr, b"GET / HTTP/1.1\r\n\r\n", SendOpts::default(), &mut body, Instant::now(), Duration::from_millis(100)).await;
        assert_eq!((o.status, o.error_code, o.bytes_sent), (0, error_code::REQUEST_TIMEOUT, 18));
        // The request was written and no answer came: the time went into waiting.
        assert!(o.duration_ms >= 100.0 && o.waiting_ms >= 99.0, "{o:?}");
        assert!((o.duration_ms - (o.sending_ms + o.waiting_ms + o.receiving_ms)).abs() < 1e-9);
    }
}
