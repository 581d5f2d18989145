//! The HTTP/1.1 server: routing, delays, injected errors, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::config::{DemoConfig, RouteConfig};
use crate::stats::{Route, Stats, StatsSnapshot};

/// Number of products in the catalogue: `GET /api/products/{id}` answers 200 for
/// `1..=PRODUCT_COUNT` and 404 otherwise.
pub const PRODUCT_COUNT: u32 = 100;

/// Largest request body read, in bytes; a larger body gets 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long [`serve`] waits for in-flight requests after the shutdown signal before it
/// drops the remaining connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A demo target running on its own thread with its own multi-threaded tokio runtime
/// (one worker per core), so synchronous callers and tests can use it.
///
/// [`DemoServer::stop`] or dropping the value shuts it down: the listener closes, open
/// connections finish their in-flight request (at most [`SHUTDOWN_GRACE`]) and the thread
/// is joined.
pub struct DemoServer {
    /// The address actually bound (the port is filled in when started on port 0).
    pub addr: SocketAddr,
    stats: Arc<Stats>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for DemoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl DemoServer {
    /// Binds `addr` (use port 0 for a free port) and serves `cfg` on a new thread.
    /// Returns once the socket is bound, so `addr` can be used at once.
    ///
    /// # Errors
    /// `InvalidInput` if `cfg` fails [`DemoConfig::validate`]; the bind error (e.g.
    /// `AddrInUse`); an error creating the runtime or thread.
    pub fn start(addr: SocketAddr, cfg: DemoConfig) -> io::Result<DemoServer> {
        cfg.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(workers).thread_name("slo-demo-worker").enable_all().build()?;
        let stats = Arc::new(Stats::new());
        let (tx, rx) = oneshot::channel::<()>();
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new().name("slo-demo".into()).spawn(move || {
            let result = runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener)?;
                serve_with_stats(listener, cfg, thread_stats, async {
                    // A dropped sender (DemoServer leaked its half) also means stop.
                    let _ = rx.await;
                })
                .await
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
            result
        })?;
        Ok(DemoServer { addr, stats, shutdown: Some(tx), thread: Some(thread) })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The per-route request counters so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Stops the server and waits for its thread.
    ///
    /// # Errors
    /// The error the server loop ended with, or `Other` if its thread panicked.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown_and_join()
    }

    fn shutdown_and_join(&mut self) -> io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| io::Error::other("slo-demo server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.shutdown_and_join();
    }
}

/// Serves the demo API on `listener` until `shutdown` completes, with fresh counters.
/// Runs on the caller's runtime; each connection is its own task, so a multi-threaded
/// runtime uses all its workers.
///
/// # Errors
/// `InvalidInput` if `cfg` fails [`DemoConfig::validate`]. Accept errors (e.g. too many
/// open files) are retried after 10 ms, not returned.
pub async fn serve(listener: TcpListener, cfg: DemoConfig, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    serve_with_stats(listener, cfg, Arc::new(Stats::new()), shutdown).await
}

/// Like [`serve`], counting requests into `stats`, which the caller keeps to read them.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with_stats(
    listener: TcpListener,
    cfg: DemoConfig,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    cfg.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let app = Arc::new(App::new(cfg, stats));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut accepted: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            res = listener.accept() => match res {
                Ok((stream, _peer)) => {
                    accepted += 1;
                    let rng = SmallRng::seed_from_u64(splitmix64(app.cfg.seed ^ splitmix64(accepted)));
                    conns.spawn(connection(stream, Arc::clone(&app), rng, stop_rx.clone()));
                }
                // Per-connection failures (ECONNABORTED) and resource limits (EMFILE) are
                // transient for a listener; back off briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
    Ok(())
}

/// SplitMix64's finaliser (Steele, Lea & Flood 2014), to derive well-spread per-connection
/// seeds from one seed.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn connection(stream: tokio::net::TcpStream, app: Arc<App>, rng: SmallRng, mut stop: watch::Receiver<bool>) {
    // Small responses must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let rng = Arc::new(Mutex::new(rng));
    let svc = service_fn(move |req| {
        let app = Arc::clone(&app);
        let rng = Arc::clone(&rng);
        async move { Ok::<_, Infallible>(app.handle(req, &rng).await) }
    });
    let conn = http1::Builder::new().timer(TokioTimer::new()).keep_alive(true).serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|s| *s) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// The body of a login request: `{"username": "...", "password": "..."}`.
#[derive(Deserialize)]
struct Login {
    username: String,
    #[allow(dead_code)]
    password: String,
}

struct App {
    cfg: DemoConfig,
    stats: Arc<Stats>,
    products_json: Bytes,
    carts: AtomicU64,
}

type Resp = Response<Full<Bytes>>;

impl App {
    fn new(cfg: DemoConfig, stats: Arc<Stats>) -> Self {
        let data: Vec<serde_json::Value> = (1..=PRODUCT_COUNT).map(product).collect();
        let products_json = Bytes::from(serde_json::json!({ "data": data }).to_string());
        App { cfg, stats, products_json, carts: AtomicU64::new(0) }
    }

    fn route_config(&self, route: Route) -> Option<&RouteConfig> {
        let r = &self.cfg.routes;
        match route {
            Route::Login => Some(&r.login),
            Route::Products => Some(&r.products),
            Route::ProductDetail => Some(&r.product_detail),
            Route::Cart => Some(&r.cart),
            Route::AdminDashboard => Some(&r.admin_dashboard),
            Route::Health | Route::Stats | Route::NotFound => None,
        }
    }

    async fn handle(&self, req: Request<Incoming>, rng: &Mutex<SmallRng>) -> Resp {
        let (route, allowed) = route_of(req.uri().path());
        let resp = self.respond(route, allowed, req, rng).await;
        self.stats.record(route, resp.status().as_u16());
        resp
    }

    async fn respond(&self, route: Route, allowed: &'static str, req: Request<Incoming>, rng: &Mutex<SmallRng>) -> Resp {
        if route == Route::NotFound {
            return json(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#);
        }
        if req.method().as_str() != allowed {
            let mut r = json(StatusCode::METHOD_NOT_ALLOWED, r#"{"error":"method not allowed"}"#);
            r.headers_mut().insert(ALLOW, HeaderValue::from_static(allowed));
            return r;
        }
        match route {
            Route::Health => return text(StatusCode::OK, "ok"),
            Route::Stats => {
                let body = serde_json::to_string(&self.stats.snapshot()).unwrap_or_else(|_| "{}".into());
                return json(StatusCode::OK, body);
            }
            _ => {}
        }
        let rc = self.route_config(route).copied().unwrap_or_default();
        // Draw everything up front so the lock is never held across an await.
        let (delay, fail, token) = {
            let mut r = rng.lock().unwrap_or_else(|p| p.into_inner());
            let delay = rc.latency.sample(&mut *r);
            let fail = r.random::<f64>() < rc.error_rate;
            (delay, fail, (r.random::<u64>(), r.random::<u64>()))
        };
        let path = req.uri().path().to_string();
        let body = if req.method() == Method::POST {
            match Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return json(StatusCode::PAYLOAD_TOO_LARGE, r#"{"error":"body too large or unreadable"}"#),
            }
        } else {
            Bytes::new()
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if fail {
            return json(StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"injected failure"}"#);
        }
        match route {
            Route::Login => match serde_json::from_slice::<Login>(&body) {
                Ok(login) => json(
                    StatusCode::OK,
                    serde_json::json!({ "token": format!("{:016x}{:016x}", token.0, token.1), "user": login.username }).to_string(),
                ),
                Err(_) => json(StatusCode::BAD_REQUEST, r#"{"error":"expected JSON {\"username\":..,\"password\":..}"}"#),
            },
            Route::Products => json(StatusCode::OK, self.products_json.clone()),
            Route::ProductDetail => {
                let id = path.strip_prefix("/api/products/").and_then(|s| s.parse::<u32>().ok());
                match id {
                    Some(id) if (1..=PRODUCT_COUNT).contains(&id) => json(StatusCode::OK, product(id).to_string()),
                    _ => json(StatusCode::NOT_FOUND, r#"{"error":"product not found"}"#),
                }
            }
            Route::Cart => {
                let id = self.carts.fetch_add(1, Ordering::Relaxed) + 1;
                json(StatusCode::CREATED, serde_json::json!({ "cart_id": id }).to_string())
            }
            Route::AdminDashboard => json(
                StatusCode::OK,
                serde_json::json!({ "carts": self.carts.load(Ordering::Relaxed), "requests": self.stats.snapshot().total }).to_string(),
            ),
            Route::Health | Route::Stats | Route::NotFound => unreachable!("answered above"),
        }
    }
}

/// The route of a path and the one method it accepts.
fn route_of(path: &str) -> (Route, &'static str) {
    match path {
        "/auth/login" => (Route::Login, "POST"),
        "/api/products" => (Route::Products, "GET"),
        "/api/cart" => (Route::Cart, "POST"),
        "/admin/dashboard" => (Route::AdminDashboard, "GET"),
        "/health" => (Route::Health, "GET"),
        "/__stats" => (Route::Stats, "GET"),
        p if p.strip_prefix("/api/products/").is_some_and(|rest| !rest.is_empty() && !rest.contains('/')) => (Route::ProductDetail, "GET"),
        _ => (Route::NotFound, "GET"),
    }
}

/// Product `id` of the catalogue: `{"id": id, "name": "Product {id}", "price": dollars}`
/// with a price between 4.99 and 99.98 that depends only on the id.
fn product(id: u32) -> serde_json::Value {
    let cents = 499 + (id as u64 * 3779) % 9500;
    serde_json::json!({ "id": id, "name": format!("Product {id}"), "price": cents as f64 / 100.0 })
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    with_type(status, body.into(), "application/json")
}

fn text(status: StatusCode, body: &'static str) -> Resp {
    with_type(status, Bytes::from_static(body.as_bytes()), "text/plain; charset=utf-8")
}

fn with_type(status: StatusCode, body: Bytes, content_type: &'static str) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[cfg(test)]
mod tests;
