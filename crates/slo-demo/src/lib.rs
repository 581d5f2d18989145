//! The demo target service: a small shop API (the reference document's Locust and
//! Artillery routes) with a configurable latency distribution and error rate per route,
//! used by `slo demo` and by the tests of the generator, stores and analyzer.
//!
//! | route | answer |
//! |---|---|
//! | `POST /auth/login` `{"username","password"}` | 200 `{"token": "..", "user": ".."}`, 400 on a bad body |
//! | `GET /api/products` | 200 `{"data": [{"id","name","price"}, ..]}` (100 products) |
//! | `GET /api/products/{id}` | 200 `{"id","name","price"}` for `1..=100`, 404 otherwise |
//! | `POST /api/cart` | 201 `{"cart_id": n}` |
//! | `GET /admin/dashboard` | 200 `{"carts": n, "requests": n}` |
//! | `GET /health` | 200 `ok`, never delayed, never failed |
//! | `GET /__stats` | 200 [`StatsSnapshot`] as JSON |
//! | anything else | 404; a known path with another method gets 405 |
//!
//! Each configurable route sleeps for a delay drawn from its [`Latency`] and then, with
//! probability `error_rate`, answers 500 instead. [`DemoConfig::baseline`],
//! [`DemoConfig::candidate`] (product detail 1.5 × slower) and [`DemoConfig::fast`] are
//! built in; users can write their own shape in YAML or JSON.
//!
//! ```no_run
//! use slo_demo::{DemoConfig, DemoServer};
//! let server = DemoServer::start("127.0.0.1:0".parse().unwrap(), DemoConfig::baseline())?;
//! println!("target at {}", server.url());
//! // ... drive load ...
//! println!("{:?}", server.stats().routes["product_detail"]);
//! server.stop()?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod error;
pub mod server;
pub mod stats;

pub use config::{DemoConfig, Latency, Profile, RouteConfig, Routes};
pub use error::DemoError;
pub use server::{serve, serve_with_stats, DemoServer, PRODUCT_COUNT};
pub use stats::{Route, RouteCounts, Stats, StatsSnapshot};
