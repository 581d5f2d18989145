//! Tests against a real server on 127.0.0.1:0 with a tiny blocking HTTP/1.1 client.

use super::*;
use crate::config::Latency;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// A keep-alive HTTP/1.1 client over one TCP connection; enough for these tests.
struct Client {
    reader: BufReader<TcpStream>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client { reader: BufReader::new(s) }
    }

    fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let body = body.unwrap_or("");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader.get_mut().write_all(head.as_bytes()).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .expect("content-length");
        let mut buf = vec![0; len];
        self.reader.read_exact(&mut buf).unwrap();
        Reply { status, headers, body: String::from_utf8(buf).unwrap() }
    }

    fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, None)
    }
}

fn start(cfg: DemoConfig) -> DemoServer {
    DemoServer::start("127.0.0.1:0".parse().unwrap(), cfg).unwrap()
}

#[test]
fn every_route_answers_with_the_documented_status_and_shape() {
    let server = start(DemoConfig::fast());
    let mut c = Client::connect(server.addr);

    let r = c.request("POST", "/auth/login", Some(r#"{"username":"user1","password":"password"}"#));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["token"].as_str().unwrap().len(), 32);
    assert_eq!(r.json()["user"], "user1");
    assert_eq!(c.request("POST", "/auth/login", Some("not json")).status, 400);
    assert_eq!(c.get("/auth/login").status, 405);

    let r = c.get("/api/products");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 100);
    assert_eq!(data[0]["id"], 1);
    assert_eq!(data[0]["name"], "Product 1");
    assert!(data[0]["price"].as_f64().unwrap() > 0.0);

    let r = c.get("/api/products/1");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), data[0]);
    assert_eq!(c.get("/api/products/100").json()["id"], 100);
    assert_eq!(c.get("/api/products/0").status, 404);
    assert_eq!(c.get("/api/products/101").status, 404);
    assert_eq!(c.get("/api/products/abc").status, 404);
    assert_eq!(c.get("/api/products/1/reviews").status, 404);

    let r = c.request("POST", "/api/cart", Some(r#"{"product_id":1,"quantity":1}"#));
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["cart_id"], 1);
    assert_eq!(c.request("POST", "/api/cart", Some("{}")).json()["cart_id"], 2);

    assert_eq!(c.get("/admin/dashboard").status, 200);
    let r = c.get("/health");
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    assert_eq!(c.get("/nope").status, 404);
    assert_eq!(c.get("/").status, 404);

    // Hand count of the requests above: login 3 (1×200, 1×400, 1×405), products 1,
    // product_detail 5 (2×200, 3×404), cart 2, admin 1, health 1, not_found 3
    // (`/api/products/1/reviews`, `/nope`, `/`).
    let snap = server.stats();
    assert_eq!(snap.route(Route::Login), crate::RouteCounts { requests: 3, status_2xx: 1, status_4xx: 2, status_5xx: 0 });
    assert_eq!(snap.route(Route::Products).requests, 1);
    assert_eq!(snap.route(Route::ProductDetail), crate::RouteCounts { requests: 5, status_2xx: 2, status_4xx: 3, status_5xx: 0 });
    assert_eq!(snap.route(Route::Cart).status_2xx, 2);
    assert_eq!(snap.route(Route::AdminDashboard).requests, 1);
    assert_eq!(snap.route(Route::Health).requests, 1);
    assert_eq!(snap.route(Route::NotFound).requests, 3);
    assert_eq!(snap.total, 16);

    // /__stats serves the same counters (plus itself).
    let r = c.get("/__stats");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["total"], 16);
    assert_eq!(v["routes"]["product_detail"]["status_4xx"], 3);
    assert_eq!(server.stats().route(Route::Stats).requests, 1);
    server.stop().unwrap();
}

#[test]
fn a_fixed_50ms_route_takes_at_least_50ms_and_health_does_not_wait() {
    let mut cfg = DemoConfig::fast();
    cfg.routes.products.latency = Latency::Fixed { ms: 50.0 };
    let server = start(cfg);
    let mut c = Client::connect(server.addr);
    c.get("/health"); // connection warm
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(c.get("/api/products").status, 200);
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(50), "took {took:?}");
        assert!(took < Duration::from_millis(1000), "took {took:?}");
    }
    let t = Instant::now();
    assert_eq!(c.get("/health").status, 200);
    assert!(t.elapsed() < Duration::from_millis(40), "health took {:?}", t.elapsed());
}

#[test]
fn error_rate_one_always_gives_500_and_zero_never() {
    let mut cfg = DemoConfig::fast();
    cfg.routes.cart.error_rate = 1.0;
    cfg.routes.login.error_rate = 1.0;
    let server = start(cfg);
    let mut c = Client::connect(server.addr);
    for _ in 0..20 {
        assert_eq!(c.request("POST", "/api/cart", Some("{}")).status, 500);
        assert_eq!(c.get("/api/products").status, 200);
    }
    assert_eq!(c.request("POST", "/auth/login", Some(r#"{"username":"a","password":"b"}"#)).status, 500);
    assert_eq!(c.get("/health").status, 200);
    let snap = server.stats();
    assert_eq!(snap.route(Route::Cart).status_5xx, 20);
    assert_eq!(snap.route(Route::Products).status_2xx, 20);
}

#[test]
fn a_partial_error_rate_is_near_its_probability() {
    let mut cfg = DemoConfig::fast();
    cfg.routes.products.error_rate = 0.3;
    let server = start(cfg);
    let mut c = Client::connect(server.addr);
    let n = 2000;
    let fails = (0..n).filter(|_| c.get("/api/products").status == 500).count();
    // Binomial(2000, 0.3): mean 600, sd ≈ 20.5; ±5 sd.
    assert!((497..=703).contains(&fails), "{fails} failures of {n}");
}

#[test]
fn a_bad_config_is_refused_and_a_busy_port_is_an_error() {
    let mut cfg = DemoConfig::fast();
    cfg.routes.cart.error_rate = 2.0;
    let e = DemoServer::start("127.0.0.1:0".parse().unwrap(), cfg).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("routes.cart.error_rate"), "{e}");

    let server = start(DemoConfig::fast());
    let e = DemoServer::start(server.addr, DemoConfig::fast()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn stop_closes_the_port_and_drop_does_too() {
    let server = start(DemoConfig::fast());
    let addr = server.addr;
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/health").status, 200);
    let t = Instant::now();
    server.stop().unwrap();
    assert!(t.elapsed() < Duration::from_secs(3), "stop took {:?}", t.elapsed());
    assert!(TcpStream::connect(addr).is_err());

    let addr = {
        let s = start(DemoConfig::fast());
        s.addr
    };
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn concurrent_clients_are_all_counted() {
    let server = start(DemoConfig::fast());
    let addr = server.addr;
    let per = 500;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                (0..per).filter(|_| c.get("/health").status == 200).count()
            })
        })
        .collect();
    let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(ok, 8 * per);
    assert_eq!(server.stats().route(Route::Health).requests, 8 * per as u64);
}

#[test]
fn async_serve_stops_when_its_shutdown_future_completes() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::new());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with_stats(listener, DemoConfig::fast(), Arc::clone(&stats), async {
            let _ = rx.await;
        }));
        let body = tokio::task::spawn_blocking(move || Client::connect(addr).get("/health").body).await.unwrap();
        assert_eq!(body, "ok");
        assert_eq!(stats.snapshot().route(Route::Health).requests, 1);
        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(3), task).await.unwrap().unwrap().unwrap();
    });
}

#[test]
fn start_works_from_inside_an_async_runtime() {
    // DemoServer owns its runtime on its own thread, so an async caller can start it too.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let server = rt.block_on(async { start(DemoConfig::fast()) });
    let mut c = Client::connect(server.addr);
    assert_eq!(c.get("/health").status, 200);
    server.stop().unwrap();
}
