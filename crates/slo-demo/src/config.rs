//! The demo target's shape: per-route latency distributions and error rates, the named
//! profiles (`baseline`, `candidate`, `fast`) and loading a user's own shape from YAML or
//! JSON.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::DemoError;

/// The standard normal quantile at 0.99, Φ⁻¹(0.99) (Abramowitz & Stegun table 26.5;
/// also `scipy.stats.norm.ppf(0.99)`), used to turn a lognormal's p99 into its σ.
pub const Z_99: f64 = 2.326_347_874_040_841;

/// A latency distribution for one route. Every parameter is in milliseconds.
///
/// Written in YAML/JSON with a `kind` field, e.g. `{kind: fixed, ms: 50}`,
/// `{kind: uniform, min_ms: 10, max_ms: 30}`, `{kind: lognormal, median_ms: 20, p99_ms: 80}`
/// or `{kind: none}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// No added delay: the route answers as fast as the server can.
    #[default]
    None,
    /// Always the same delay of `ms` milliseconds.
    Fixed {
        /// The delay in milliseconds (≥ 0).
        ms: f64,
    },
    /// A delay drawn uniformly from `[min_ms, max_ms]` milliseconds.
    Uniform {
        /// Lower bound in milliseconds (≥ 0).
        min_ms: f64,
        /// Upper bound in milliseconds (≥ `min_ms`).
        max_ms: f64,
    },
    /// A lognormal delay given by its median and 99th percentile in milliseconds:
    /// `μ = ln(median_ms)`, `σ = ln(p99_ms / median_ms) / Φ⁻¹(0.99)`, so that the draws'
    /// median is `median_ms` and their p99 is `p99_ms`.
    Lognormal {
        /// The median delay in milliseconds (> 0).
        median_ms: f64,
        /// The 99th-percentile delay in milliseconds (≥ `median_ms`).
        p99_ms: f64,
    },
}

impl Latency {
    /// Checks the parameters; `route` names the route in the error message.
    ///
    /// # Errors
    /// [`DemoError::InvalidConfig`] for negative, non-finite or inverted bounds.
    pub fn validate(&self, route: &str) -> Result<(), DemoError> {
        let bad = |msg: String| Err(DemoError::InvalidConfig(format!("routes.{route}.latency: {msg}")));
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match *self {
            Latency::None => Ok(()),
            Latency::Fixed { ms } if !ok(ms) => bad(format!("ms must be a finite number ≥ 0, got {ms}")),
            Latency::Fixed { .. } => Ok(()),
            Latency::Uniform { min_ms, max_ms } if !ok(min_ms) || !ok(max_ms) || min_ms > max_ms => {
                bad(format!("need 0 ≤ min_ms ≤ max_ms, got min_ms={min_ms}, max_ms={max_ms}"))
            }
            Latency::Uniform { .. } => Ok(()),
            Latency::Lognormal { median_ms, p99_ms }
                if !(median_ms.is_finite() && median_ms > 0.0 && p99_ms.is_finite() && p99_ms >= median_ms) =>
            {
                bad(format!("need 0 < median_ms ≤ p99_ms, got median_ms={median_ms}, p99_ms={p99_ms}"))
            }
            Latency::Lognormal { .. } => Ok(()),
        }
    }

    /// Draws one delay. Assumes [`Latency::validate`] passed.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let ms = match *self {
            Latency::None => 0.0,
            Latency::Fixed { ms } => ms,
            Latency::Uniform { min_ms, max_ms } => {
                if max_ms > min_ms {
                    rng.random_range(min_ms..=max_ms)
                } else {
                    min_ms
                }
            }
            Latency::Lognormal { median_ms, p99_ms } => {
                let sigma = (p99_ms / median_ms).ln() / Z_99;
                median_ms * (sigma * standard_normal(rng)).exp()
            }
        };
        Duration::from_secs_f64((ms / 1000.0).max(0.0))
    }

    /// This distribution with every time parameter multiplied by `factor` (e.g. 1.5 for a
    /// route made 50 % slower).
    pub fn scaled(&self, factor: f64) -> Latency {
        match *self {
            Latency::None => Latency::None,
            Latency::Fixed { ms } => Latency::Fixed { ms: ms * factor },
            Latency::Uniform { min_ms, max_ms } => Latency::Uniform { min_ms: min_ms * factor, max_ms: max_ms * factor },
            Latency::Lognormal { median_ms, p99_ms } => Latency::Lognormal { median_ms: median_ms * factor, p99_ms: p99_ms * factor },
        }
    }
}

/// One draw from N(0, 1) by the Box–Muller transform (Box & Muller 1958).
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // u1 in (0, 1] so ln(u1) is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The behaviour of one route: how long it takes and how often it fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The delay added before the response is sent (default: none).
    #[serde(default)]
    pub latency: Latency,
    /// The probability in `[0, 1]` that a request gets `500 Internal Server Error`
    /// (after the delay) instead of its normal answer (default 0).
    #[serde(default)]
    pub error_rate: f64,
}

impl RouteConfig {
    /// A route with the given latency and error rate.
    pub fn new(latency: Latency, error_rate: f64) -> Self {
        RouteConfig { latency, error_rate }
    }

    fn validate(&self, route: &str) -> Result<(), DemoError> {
        self.latency.validate(route)?;
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(DemoError::InvalidConfig(format!("routes.{route}.error_rate: must be within [0, 1], got {}", self.error_rate)));
        }
        Ok(())
    }
}

/// The configurable routes of the shop API. `GET /health` and `GET /__stats` are not
/// configurable: they never sleep and never fail.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// `POST /auth/login`.
    #[serde(default)]
    pub login: RouteConfig,
    /// `GET /api/products`.
    #[serde(default)]
    pub products: RouteConfig,
    /// `GET /api/products/{id}`.
    #[serde(default)]
    pub product_detail: RouteConfig,
    /// `POST /api/cart`.
    #[serde(default)]
    pub cart: RouteConfig,
    /// `GET /admin/dashboard`.
    #[serde(default)]
    pub admin_dashboard: RouteConfig,
}

/// The whole shape of the demo target. Deserializable from YAML or JSON, e.g.
///
/// ```yaml
/// seed: 7
/// routes:
///   login: {latency: {kind: lognormal, median_ms: 25, p99_ms: 90}, error_rate: 0.001}
///   product_detail: {latency: {kind: fixed, ms: 50}}
/// ```
///
/// Routes left out have no delay and no errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Seed of the random draws (delays, injected errors, tokens). Each connection gets its
    /// own generator seeded from this seed and the connection's accept order, so one
    /// connection's sequence of draws is reproducible.
    #[serde(default)]
    pub seed: u64,
    /// Per-route behaviour.
    #[serde(default)]
    pub routes: Routes,
}

impl DemoConfig {
    /// The `baseline` profile: lognormal delays of a few tens of milliseconds and error
    /// rates of 0–0.2 % per route (overall well under 1 %).
    ///
    /// | route | median ms | p99 ms | error rate |
    /// |---|---|---|---|
    /// | login | 25 | 90 | 0.001 |
    /// | products | 15 | 60 | 0.001 |
    /// | product_detail | 20 | 80 | 0.001 |
    /// | cart | 30 | 120 | 0.002 |
    /// | admin_dashboard | 50 | 200 | 0 |
    pub fn baseline() -> Self {
        let ln = |median_ms, p99_ms| Latency::Lognormal { median_ms, p99_ms };
        DemoConfig {
            seed: 1,
            routes: Routes {
                login: RouteConfig::new(ln(25.0, 90.0), 0.001),
                products: RouteConfig::new(ln(15.0, 60.0), 0.001),
                product_detail: RouteConfig::new(ln(20.0, 80.0), 0.001),
                cart: RouteConfig::new(ln(30.0, 120.0), 0.002),
                admin_dashboard: RouteConfig::new(ln(50.0, 200.0), 0.0),
            },
        }
    }

    /// The `candidate` profile: [`DemoConfig::baseline`] with `GET /api/products/{id}`
    /// 1.5 × slower (median 30 ms, p99 120 ms); every other route unchanged. The seed is
    /// the baseline's: each connection draws the same delays for the same requests, so a
    /// baseline-vs-candidate comparison sees the one change and not the sampling noise of
    /// two different seeds (with seeds 1 and 2, ~2,200 login samples differ by +3 % in
    /// their median by chance alone — more than a 5 % tolerance can call unchanged).
    pub fn candidate() -> Self {
        let mut cfg = DemoConfig::baseline();
        cfg.routes.product_detail.latency = cfg.routes.product_detail.latency.scaled(1.5);
        cfg
    }

    /// The `fast` profile: no delays, no errors.
    pub fn fast() -> Self {
        DemoConfig::default()
    }

    /// Parses a YAML document (JSON is valid YAML, so this reads both). Validates.
    ///
    /// # Errors
    /// [`DemoError::Parse`] on syntax or unknown fields, [`DemoError::InvalidConfig`] on
    /// bad values; `source` names the input in the message.
    pub fn from_yaml_str(text: &str, source: &str) -> Result<Self, DemoError> {
        let cfg: DemoConfig =
            serde_yaml::from_str(text).map_err(|e| DemoError::Parse { input: source.to_string(), message: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a YAML or JSON file. Validates.
    ///
    /// # Errors
    /// [`DemoError::Read`] if the file cannot be read, otherwise as [`DemoConfig::from_yaml_str`].
    pub fn from_path(path: &Path) -> Result<Self, DemoError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| DemoError::Read { path: path.display().to_string(), message: e.to_string() })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// Checks every route's parameters.
    ///
    /// # Errors
    /// [`DemoError::InvalidConfig`] naming the first bad field, e.g. `routes.cart.error_rate`.
    pub fn validate(&self) -> Result<(), DemoError> {
        let r = &self.routes;
        r.login.validate("login")?;
        r.products.validate("products")?;
        r.product_detail.validate("product_detail")?;
        r.cart.validate("cart")?;
        r.admin_dashboard.validate("admin_dashboard")?;
        Ok(())
    }
}

/// A named built-in profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// [`DemoConfig::baseline`].
    Baseline,
    /// [`DemoConfig::candidate`].
    Candidate,
    /// [`DemoConfig::fast`].
    Fast,
}

impl Profile {
    /// Every profile, in the order of their names in [`Profile::NAMES`].
    pub const ALL: [Profile; 3] = [Profile::Baseline, Profile::Candidate, Profile::Fast];
    /// The profile names accepted by [`Profile::from_str`].
    pub const NAMES: [&'static str; 3] = ["baseline", "candidate", "fast"];

    /// The configuration of this profile.
    pub fn config(self) -> DemoConfig {
        match self {
            Profile::Baseline => DemoConfig::baseline(),
            Profile::Candidate => DemoConfig::candidate(),
            Profile::Fast => DemoConfig::fast(),
        }
    }

    /// The profile's name (`baseline`, `candidate`, `fast`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Baseline => "baseline",
            Profile::Candidate => "candidate",
            Profile::Fast => "fast",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = DemoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| DemoError::UnknownProfile { name: s.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    #[test]
    fn lognormal_draws_hit_the_configured_median_and_p99() {
        let lat = Latency::Lognormal { median_ms: 20.0, p99_ms: 80.0 };
        let mut rng = SmallRng::seed_from_u64(42);
        let mut v: Vec<f64> = (0..200_000).map(|_| lat.sample(&mut rng).as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        let (med, p99) = (quantile(&v, 0.5), quantile(&v, 0.99));
        assert!((med - 20.0).abs() < 0.5, "median {med}");
        assert!((p99 - 80.0).abs() < 3.0, "p99 {p99}");
    }

    #[test]
    fn uniform_and_fixed_stay_in_bounds() {
        let mut rng = SmallRng::seed_from_u64(1);
        let u = Latency::Uniform { min_ms: 10.0, max_ms: 30.0 };
        for _ in 0..10_000 {
            let ms = u.sample(&mut rng).as_secs_f64() * 1000.0;
            assert!((10.0 - 1e-6..=30.0 + 1e-6).contains(&ms), "{ms}");
        }
        assert_eq!(Latency::Fixed { ms: 50.0 }.sample(&mut rng), Duration::from_millis(50));
        assert_eq!(Latency::None.sample(&mut rng), Duration::ZERO);
    }

    #[test]
    fn same_seed_same_draws() {
        let lat = Latency::Lognormal { median_ms: 20.0, p99_ms: 80.0 };
        let a: Vec<_> = {
            let mut r = SmallRng::seed_from_u64(9);
            (0..100).map(|_| lat.sample(&mut r)).collect()
        };
        let b: Vec<_> = {
            let mut r = SmallRng::seed_from_u64(9);
            (0..100).map(|_| lat.sample(&mut r)).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn candidate_differs_from_baseline_only_on_product_detail() {
        let b = DemoConfig::baseline();
        let c = DemoConfig::candidate();
        assert_eq!(b.routes.login, c.routes.login);
        assert_eq!(b.routes.products, c.routes.products);
        assert_eq!(b.routes.cart, c.routes.cart);
        assert_eq!(b.routes.admin_dashboard, c.routes.admin_dashboard);
        assert_eq!(c.routes.product_detail.latency, Latency::Lognormal { median_ms: 30.0, p99_ms: 120.0 });
        assert_eq!(c.routes.product_detail.error_rate, b.routes.product_detail.error_rate);
        for p in Profile::ALL {
            p.config().validate().unwrap();
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
        }
        assert!("slow".parse::<Profile>().unwrap_err().to_string().contains("baseline, candidate, fast"));
    }

    #[test]
    fn yaml_and_json_shapes_parse() {
        let cfg = DemoConfig::from_yaml_str(
            "seed: 7\nroutes:\n  login: {latency: {kind: lognormal, median_ms: 25, p99_ms: 90}, error_rate: 0.001}\n  \
             product_detail: {latency: {kind: fixed, ms: 50}}\n  cart: {latency: {kind: uniform, min_ms: 1, max_ms: 2}}\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.routes.login.latency, Latency::Lognormal { median_ms: 25.0, p99_ms: 90.0 });
        assert_eq!(cfg.routes.product_detail.latency, Latency::Fixed { ms: 50.0 });
        assert_eq!(cfg.routes.cart.latency, Latency::Uniform { min_ms: 1.0, max_ms: 2.0 });
        assert_eq!(cfg.routes.products, RouteConfig::default());

        let json = r#"{"routes":{"cart":{"error_rate":1.0,"latency":{"kind":"none"}}}}"#;
        let cfg = DemoConfig::from_yaml_str(json, "t.json").unwrap();
        assert_eq!(cfg.routes.cart.error_rate, 1.0);
        // Round trip through serde_json.
        let back: DemoConfig = serde_json::from_str(&serde_json::to_string(&DemoConfig::baseline()).unwrap()).unwrap();
        assert_eq!(back, DemoConfig::baseline());
    }

    #[test]
    fn bad_shapes_are_rejected_with_the_field_named() {
        let e = DemoConfig::from_yaml_str("routes: {cart: {error_rate: 1.5}}", "x.yaml").unwrap_err();
        assert!(e.to_string().contains("routes.cart.error_rate"), "{e}");
        let e =
            DemoConfig::from_yaml_str("routes: {login: {latency: {kind: lognormal, median_ms: 50, p99_ms: 10}}}", "x.yaml").unwrap_err();
        assert!(e.to_string().contains("routes.login.latency"), "{e}");
        let e = DemoConfig::from_yaml_str("routes: {login: {latency: {kind: fixed, ms: 5, extra: 1}}}", "x.yaml").unwrap_err();
        assert!(e.to_string().contains("x.yaml"), "{e}");
        let e = DemoConfig::from_yaml_str("routes: {checkout: {}}", "y.yaml").unwrap_err();
        assert!(e.to_string().contains("y.yaml") && e.to_string().contains("checkout"), "{e}");
        let e = DemoConfig::from_path(Path::new("/nonexistent/demo.yaml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/demo.yaml"), "{e}");
    }
}
