//! Per-route request counters, so tests of a load generator can compare the samples they
//! recorded with what the target actually served.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The routes the demo target knows. Each has its own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `POST /auth/login`.
    Login,
    /// `GET /api/products`.
    Products,
    /// `GET /api/products/{id}`.
    ProductDetail,
    /// `POST /api/cart`.
    Cart,
    /// `GET /admin/dashboard`.
    AdminDashboard,
    /// `GET /health`.
    Health,
    /// `GET /__stats`.
    Stats,
    /// Any other path (answered 404).
    NotFound,
}

impl Route {
    /// Every route, in counter order.
    pub const ALL: [Route; 8] = [
        Route::Login,
        Route::Products,
        Route::ProductDetail,
        Route::Cart,
        Route::AdminDashboard,
        Route::Health,
        Route::Stats,
        Route::NotFound,
    ];

    /// The route's key in [`StatsSnapshot::routes`] and in `GET /__stats`:
    /// `login`, `products`, `product_detail`, `cart`, `admin_dashboard`, `health`,
    /// `stats`, `not_found`.
    pub fn name(self) -> &'static str {
        match self {
            Route::Login => "login",
            Route::Products => "products",
            Route::ProductDetail => "product_detail",
            Route::Cart => "cart",
            Route::AdminDashboard => "admin_dashboard",
            Route::Health => "health",
            Route::Stats => "stats",
            Route::NotFound => "not_found",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    s2xx: AtomicU64,
    s4xx: AtomicU64,
    s5xx: AtomicU64,
}

/// Live counters of one server, shared between its connections. A request is counted
/// once its response head is built (after the route's delay), so a request whose client
/// gave up during the delay is not counted.
#[derive(Default)]
pub struct Stats {
    routes: [Counters; 8],
}

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.snapshot().fmt(f)
    }
}

impl Stats {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        Stats::default()
    }

    /// Counts one response of `route` with HTTP status `status`.
    pub fn record(&self, route: Route, status: u16) {
        let c = &self.routes[route.index()];
        c.requests.fetch_add(1, Ordering::Relaxed);
        match status {
            200..=299 => c.s2xx.fetch_add(1, Ordering::Relaxed),
            400..=499 => c.s4xx.fetch_add(1, Ordering::Relaxed),
            500..=599 => c.s5xx.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// A copy of the counters. Each counter is read atomically, but not all together:
    /// under load the totals can be a few requests apart from the per-class counts.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut routes = BTreeMap::new();
        let mut total = 0;
        for r in Route::ALL {
            let c = &self.routes[r.index()];
            let rc = RouteCounts {
                requests: c.requests.load(Ordering::Relaxed),
                status_2xx: c.s2xx.load(Ordering::Relaxed),
                status_4xx: c.s4xx.load(Ordering::Relaxed),
                status_5xx: c.s5xx.load(Ordering::Relaxed),
            };
            total += rc.requests;
            routes.insert(r.name().to_string(), rc);
        }
        StatsSnapshot { total, routes }
    }
}

/// Counts of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteCounts {
    /// Responses sent.
    pub requests: u64,
    /// Of those, status 200–299.
    pub status_2xx: u64,
    /// Of those, status 400–499.
    pub status_4xx: u64,
    /// Of those, status 500–599.
    pub status_5xx: u64,
}

/// The counters at one instant, as served by `GET /__stats`:
/// `{"total": N, "routes": {"login": {"requests": .., "status_2xx": .., ..}, ..}}`.
/// `total` includes the `/__stats` requests themselves (route `stats`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Sum of `requests` over all routes.
    pub total: u64,
    /// Counts per route, keyed by [`Route::name`].
    pub routes: BTreeMap<String, RouteCounts>,
}

impl StatsSnapshot {
    /// The counts of one route (zero if absent).
    pub fn route(&self, route: Route) -> RouteCounts {
        self.routes.get(route.name()).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_route_and_status_class() {
        let s = Stats::new();
        s.record(Route::Cart, 201);
        s.record(Route::Cart, 500);
        s.record(Route::ProductDetail, 404);
        s.record(Route::Health, 200);
        let snap = s.snapshot();
        assert_eq!(snap.total, 4);
        assert_eq!(snap.route(Route::Cart), RouteCounts { requests: 2, status_2xx: 1, status_4xx: 0, status_5xx: 1 });
        assert_eq!(snap.route(Route::ProductDetail).status_4xx, 1);
        assert_eq!(snap.route(Route::Login), RouteCounts::default());
        assert_eq!(snap.routes.len(), 8);
    }
}
