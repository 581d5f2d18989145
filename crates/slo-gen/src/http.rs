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

/// Longest response head accepted (status line plus headers), in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Most response headers accepted.
const MAX_HEADERS: usize = 100;
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
/// what it sent and received.
#[derive(Default)]
struct Trace {
    first_write: u64,
    last_write: u64,
    first_read: u64,
    written: u64,
    read: u64,
}

/// A VU's connection to one endpoint; reconnects after errors or `Connection: close`.
/// After [`Slot::send`] the response head stays readable through [`Slot::header`] until
/// the next request.
#[derive(Default)]
pub(crate) struct Slot {
    conn: Option<TcpStream>,
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

    /// Sends the serialized request `req` (`head_request`: the method was HEAD, so the
    /// response has no body) and reads the whole response, keeping the body in `body`
    /// when `keep_body`. Never fails: transport errors come back as status 0 plus a k6
    /// error code; a request not answered within `timeout` gets k6's 1050. `base` is
    /// the run's base instant for the socket trace.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send(
        &mut self,
        addr: SocketAddr,
        req: &[u8],
        head_request: bool,
        keep_body: bool,
        body: &mut Vec<u8>,
        base: Instant,
        timeout: Duration,
    ) -> Outcome {
        let t0 = Instant::now();
        self.trace = Trace::default();
        self.headers.clear();
        match tokio::time::timeout_at(t0 + timeout, self.send_inner(addr, req, head_request, keep_body, body, base, t0, timeout)).await {
            Ok(o) => o,
            Err(_) => {
                // The connection is in an unknown state: drop it.
                self.conn = None;
                self.headers.clear();
                Outcome {
                    error_code: error_code::REQUEST_TIMEOUT,
                    duration_ms: ms((Instant::now() - t0).as_nanos() as u64),
                    bytes_sent: self.trace.written,
                    bytes_received: self.trace.read,
                    ..Default::default()
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_inner(
        &mut self,
        addr: SocketAddr,
        req: &[u8],
        head_request: bool,
        keep_body: bool,
        body: &mut Vec<u8>,
        base: Instant,
        t0: Instant,
        timeout: Duration,
    ) -> Outcome {
        let mut out = Outcome::default();
        body.clear();
        let now_ns = |t: Instant| ((t - base).as_nanos() as u64).max(1);
        let mut connecting_ns = 0u64;
        let reused = self.conn.is_some();
        if !reused {
            let c0 = Instant::now();
            let connected = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Err(_) => Err(error_code::TCP_DIAL_TIMEOUT),
                Ok(Err(e)) => Err(io_code(&e, true)),
                Ok(Ok(s)) => Ok(s),
            };
            connecting_ns = (Instant::now() - c0).as_nanos() as u64;
            match connected {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    self.conn = Some(s);
                }
                Err(code) => {
                    out.error_code = code;
                    out.connecting_ms = ms(connecting_ns);
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
                read_response(stream, &mut self.rbuf, &mut self.headers, &mut self.trace, base, head_request, keep_body, body).await
            }
            Err(e) => Err(Fail::Io(e)),
        };
        let end = now_ns(Instant::now());
        out.bytes_sent = self.trace.written;
        out.bytes_received = self.trace.read;
        match result {
            Ok((status, keep_alive)) => {
                if !keep_alive {
                    self.conn = None;
                }
                let start = now_ns(t0);
                let fw = self.trace.first_write.max(start);
                let lw = self.trace.last_write.max(fw);
                let fr = self.trace.first_read.max(lw);
                let end = end.max(fr);
                out.connecting_ms = ms(connecting_ns);
                out.blocked_ms = ms((fw - start).saturating_sub(connecting_ns));
                out.sending_ms = ms(lw - fw);
                out.waiting_ms = ms(fr - lw);
                out.receiving_ms = ms(end - fr);
                out.duration_ms = out.sending_ms + out.waiting_ms + out.receiving_ms;
                out.status = status;
                out.error_code = error_code::for_status(status);
            }
            Err(f) => {
                self.conn = None;
                self.headers.clear();
                out.error_code = f.code();
                out.duration_ms = ms(end.saturating_sub(now_ns(t0)));
                // A reused connection the server closed while idle fails before any
                // byte is read; like Go's transport (k6), the caller retries once.
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
    head_request: bool,
    keep_body: bool,
    body: &mut Vec<u8>,
) -> Result<(u16, bool), Fail> {
    let head = loop {
        match parse_head(rbuf, headers, head_request)? {
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
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hs);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Fail::Protocol),
    };
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
    Ok(Some(Head { status, len, framing, keep_alive }))
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
        let o = slot.send(addr, req, head, true, &mut body, Instant::now(), Duration::from_secs(5)).await;
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
        let o = slot.send(addr, b"GET / HTTP/1.1\r\n\r\n", false, false, &mut body, Instant::now(), Duration::from_millis(100)).await;
        assert_eq!((o.status, o.error_code, o.bytes_sent), (0, error_code::REQUEST_TIMEOUT, 18));
        assert!(o.duration_ms >= 100.0);
    }
}
