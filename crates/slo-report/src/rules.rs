//! Prometheus recording rules and multi-window, multi-burn-rate alerts from a
//! `slo-config.yaml` (`slo rules export`).
//!
//! # What is generated
//! One rule group per SLO, named `slo:<service>:<slo>`:
//! - **Recording rules** `slo:sli_error:ratio_rate<W>` (a ratio in [0, 1]: share of bad
//!   requests over the window `W`), for every window the SLO's alerts read plus the SLO
//!   period, and `slo:error_budget_remaining:ratio` (1 − error ratio over the period /
//!   budget; negative once the budget is spent). Labels `service`, `slo`.
//! - **Alerts** `SloErrorBudgetBurn`, one rule per burn-rate tier, firing only when the
//!   error ratio is above `burn × budget` over **both** the long and the short window
//!   (SRE workbook ch. 5 "Multiwindow, Multi-Burn-Rate Alerts"; case 10 of the suite).
//!   Labels `severity` (`page`/`ticket`), `slo`, `service`, `long_window`, `short_window`;
//!   annotations `summary` and `description` (objective, budget, windows, budget share).
//! - Throughput SLOs have no error budget: a recording rule
//!   `slo:sli_throughput:rps_rate<W>` (requests per second over the SLO window) and a
//!   `SloThroughputBelowTarget` ticket alert.
//!
//! # SLIs (metric names of slo's Prometheus sink)
//! - availability and error rate: `sum(rate(k6_http_req_failed_total[W])) /
//!   sum(rate(k6_http_reqs_total[W]))`; budget `1 − target/100` (availability) or
//!   `target/100` (error rate).
//! - latency pNN < T: the share of requests slower than T, `1 −
//!   sum(rate(k6_http_req_duration_seconds_bucket{le="T"}[W])) /
//!   sum(rate(k6_http_req_duration_seconds_count[W]))`; budget `1 − NN/100` (p95 < 500ms
//!   means at most 5 % of requests slower than 0.5 s). T must be a bucket boundary: when it
//!   is not, the nearest boundary above is used, a warning is returned and the alert's
//!   description says so; a T above the largest finite boundary is refused.
//!
//! # Burn-rate tiers per period (case 09)
//! The SRE workbook's factors 14.4/6/3/1 hold for a 30-day period only. Each tier is kept
//! as the share of the budget it lets burn: page 2 % in 1h (short 5m), page 5 % in 6h
//! (30m), ticket 10 % in 1d (2h), ticket 10 % in 3d (6h). For an SLO period `P`:
//! `burn = consumed × P / long window`, short window = long / 12. Rules applied:
//! 1. a tier whose long window is longer than `P` is dropped, with a warning;
//! 2. a burn below 1 is raised to 1, with a warning (below 1 the alert fires while the SLO
//!    is still met over its period);
//! 3. a tier with `burn × budget ≥ 1` is dropped, with a warning (it can never fire);
//! 4. an SLO left with no tier is refused ([`RulesError::NoAlertWindow`], file:line:col).

use std::fmt::Write as _;
use std::time::Duration;

use slo_config::{Location, Objective, Slo, SloConfig};

/// Metric names of slo's own Prometheus sink (`--metrics slo`).
pub mod metric {
    /// Counter of requests; labels `testid scenario name method status expected_response`.
    pub const HTTP_REQS: &str = "k6_http_reqs_total";
    /// Counter of failed requests (k6's `http_req_failed` true), same labels.
    pub const HTTP_REQ_FAILED: &str = "k6_http_req_failed_total";
    /// Classic histogram of `http_req_duration` in seconds: `_bucket{le}`, `_sum`, `_count`.
    pub const HTTP_REQ_DURATION: &str = "k6_http_req_duration_seconds";
}

/// Default histogram bucket boundaries in seconds (`le` labels): the Prometheus client
/// libraries' `DefBuckets` (client_golang `prometheus.DefBuckets`). Latency SLO targets are
/// matched against these unless [`RulesOptions::buckets_seconds`] says otherwise.
pub const DEFAULT_BUCKETS_SECONDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The period the SRE workbook's burn-rate factors were written for: 30 days.
pub const SRE_WORKBOOK_PERIOD: Duration = Duration::from_secs(30 * 86_400);

/// How urgent an alert is (the `severity` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Wake someone up.
    Page,
    /// Look at it during working hours.
    Ticket,
}

impl Severity {
    /// `page` or `ticket`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One alert tier as a budget share: fire when `budget_consumed` of the period's error
/// budget is spent within `long` (and the burn is still going on over `short`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    /// `severity` label.
    pub severity: Severity,
    /// Share of the whole period's budget (0.02 = 2 %) spent over `long`.
    pub budget_consumed: f64,
    /// Long window.
    pub long: Duration,
    /// Short window (`long / 12`).
    pub short: Duration,
}

/// The SRE workbook's four tiers (ch. 5, table 5-8): page 2 %/1h, page 5 %/6h, ticket
/// 10 %/1d, ticket 10 %/3d; short windows 5m, 30m, 2h, 6h. On 30 days these are the burn
/// rates 14.4, 6, 3 and 1.
pub fn sre_workbook_tiers() -> [Tier; 4] {
    let h = |n: u64| Duration::from_secs(n * 3600);
    let t = |severity, budget_consumed, long: Duration| Tier { severity, budget_consumed, long, short: long / 12 };
    [t(Severity::Page, 0.02, h(1)), t(Severity::Page, 0.05, h(6)), t(Severity::Ticket, 0.10, h(24)), t(Severity::Ticket, 0.10, h(72))]
}

/// Burn rate that spends `consumed` (a fraction) of a `period`'s budget in `long`:
/// `consumed × period / long` (case 09; SRE workbook ch. 5).
pub fn burn_rate(consumed: f64, period: Duration, long: Duration) -> f64 {
    consumed * period.as_secs_f64() / long.as_secs_f64()
}

/// Share of a `period`'s budget that burning at `burn` for `long` spends:
/// `burn × long / period` (case 09).
pub fn budget_consumed(burn: f64, long: Duration, period: Duration) -> f64 {
    burn * long.as_secs_f64() / period.as_secs_f64()
}

/// A tier as planned for one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTier {
    /// The tier (budget share and windows).
    pub tier: Tier,
    /// Burn-rate factor used (≥ 1).
    pub burn: f64,
    /// `consumed × period / long` before raising it to 1.
    pub raw_burn: f64,
    /// Error-ratio threshold: `burn × budget` (a fraction of requests).
    pub threshold: f64,
}

/// What an SLO's SLI reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// Failed requests over all requests (availability, error rate).
    ErrorRatio,
    /// Requests slower than a bucket boundary over all requests.
    Latency {
        /// Boundary used, seconds (the `le` label).
        le_seconds: f64,
        /// Target the config asks for, seconds.
        target_seconds: f64,
    },
    /// Requests per second; no error budget.
    Throughput {
        /// Target, requests per second.
        target_rps: f64,
    },
}

/// Everything generated for one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct SloPlan {
    /// SLO name (`availability`, `latency.p95`, …), the `slo` label.
    pub name: String,
    /// The SLI.
    pub sli: Sli,
    /// Error budget as a fraction of requests (0.001 for 99.9 %); 0 for throughput.
    pub budget: f64,
    /// The SLO period (`window` in the config).
    pub period: Duration,
    /// Kept alert tiers, in the workbook's order.
    pub tiers: Vec<PlannedTier>,
    /// Windows with a recording rule, shortest first (alert windows and the period).
    pub windows: Vec<Duration>,
    /// PromQL label matchers of the SLO's filter, e.g. `name="login"` (may be empty).
    pub matchers: String,
    /// One line stating the objective, for annotations.
    pub objective_text: String,
    /// Where the SLO is written.
    pub location: Location,
}

/// The rules for one config.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesPlan {
    /// `service` of the config (the `service` label).
    pub service: String,
    /// `environment` of the config, if any.
    pub environment: Option<String>,
    /// One per SLO, in config order.
    pub slos: Vec<SloPlan>,
    /// Things the user should know (dropped or raised tiers, bucket substitutions), each
    /// starting with `file:line:col: `.
    pub warnings: Vec<String>,
}

/// Options of [`plan_rules`].
#[derive(Debug, Clone, PartialEq)]
pub struct RulesOptions {
    /// Histogram bucket boundaries (`le`) in seconds the sink writes, ascending.
    pub buckets_seconds: Vec<f64>,
}

impl Default for RulesOptions {
    fn default() -> Self {
        RulesOptions { buckets_seconds: DEFAULT_BUCKETS_SECONDS.to_vec() }
    }
}

/// Why no rules can be made for a config. Messages start with `file:line:col: `.
#[derive(Debug, Clone, PartialEq)]
pub enum RulesError {
    /// No burn-rate tier fits the SLO (its window is shorter than 1h, the shortest long
    /// window, or every tier could never fire).
    NoAlertWindow {
        /// Where the SLO is written.
        location: Location,
        /// SLO name.
        slo: String,
        /// Why, in words.
        reason: String,
    },
    /// A latency target above the largest finite histogram bucket.
    LatencyAboveBuckets {
        /// Where the SLO is written.
        location: Location,
        /// SLO name.
        slo: String,
        /// Target in seconds.
        target_seconds: f64,
        /// Largest finite bucket boundary in seconds.
        largest_seconds: f64,
    },
    /// An SLO with no error budget (latency p100).
    NoBudget {
        /// Where the SLO is written.
        location: Location,
        /// SLO name.
        slo: String,
    },
    /// `--buckets` is empty, unsorted or not finite positive numbers.
    BadBuckets(String),
}

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RulesError::NoAlertWindow { location, slo, reason } => {
                write!(f, "{location}: slos.{slo}: no burn-rate alert can be built: {reason}")
            }
            RulesError::LatencyAboveBuckets { location, slo, target_seconds, largest_seconds } => write!(
                f,
                "{location}: slos.{slo}.target: {}s is above the largest histogram bucket le=\"{}\"; \
                 the share of requests under it cannot be read (add a bucket with --buckets)",
                num(*target_seconds),
                num(*largest_seconds)
            ),
            RulesError::NoBudget { location, slo } => {
                write!(f, "{location}: slos.{slo}: the objective leaves no error budget (100%); burn rates are undefined")
            }
            RulesError::BadBuckets(m) => write!(f, "--buckets: {m}"),
        }
    }
}

impl std::error::Error for RulesError {}

/// Plans the rules of `config`: SLIs, budgets, kept tiers and windows (module docs give
/// the rules).
///
/// # Errors
/// [`RulesError`] when an SLO cannot get alerts (see the variants).
pub fn plan_rules(config: &SloConfig, options: &RulesOptions) -> Result<RulesPlan, RulesError> {
    let b = &options.buckets_seconds;
    if b.is_empty() || b.iter().any(|v| !v.is_finite() || *v <= 0.0) || b.windows(2).any(|w| w[0] >= w[1]) {
        return Err(RulesError::BadBuckets(format!("{b:?}: expected ascending positive finite seconds")));
    }
    let mut warnings = Vec::new();
    let mut slos = Vec::new();
    for slo in &config.slos {
        slos.push(plan_slo(slo, options, &mut warnings)?);
    }
    Ok(RulesPlan { service: config.service.clone(), environment: config.environment.clone(), slos, warnings })
}

fn plan_slo(slo: &Slo, options: &RulesOptions, warnings: &mut Vec<String>) -> Result<SloPlan, RulesError> {
    let loc = &slo.location;
    let period = slo.window;
    let period_text = prom_duration(period);
    let matchers = label_matchers(&slo.filter);
    let filter_text = if slo.filter.is_empty() { String::new() } else { format!(" (requests with {matchers})") };
    let (sli, budget, objective_text) = match &slo.objective {
        Objective::Availability { target_percent } => (
            Sli::ErrorRatio,
            round12(1.0 - target_percent / 100.0),
            format!("{}% of requests succeed{filter_text} over {period_text}", num(*target_percent)),
        ),
        Objective::ErrorRate { target_percent } => (
            Sli::ErrorRatio,
            round12(target_percent / 100.0),
            format!("at most {}% of requests fail{filter_text} over {period_text}", num(*target_percent)),
        ),
        Objective::Latency { percentile, target_ms } => {
            let target_seconds = target_ms / 1000.0;
            let le = options.buckets_seconds.iter().copied().find(|b| *b >= target_seconds * (1.0 - 1e-9));
            let Some(le_seconds) = le else {
                return Err(RulesError::LatencyAboveBuckets {
                    location: loc.clone(),
                    slo: slo.name.clone(),
                    target_seconds,
                    largest_seconds: *options.buckets_seconds.last().unwrap_or(&0.0),
                });
            };
            let mut text = format!("{}% of requests{filter_text} take at most {}ms over {period_text}", num(*percentile), num(*target_ms));
            if (le_seconds - target_seconds).abs() > target_seconds * 1e-9 {
                let note = format!(
                    "{}s is not a histogram bucket boundary; the nearest boundary above, le=\"{}\", is used, so requests up to {}s count as good",
                    num(target_seconds),
                    num(le_seconds),
                    num(le_seconds)
                );
                warnings.push(format!("{loc}: slos.{}.target: {note}", slo.name));
                text.push_str(&format!(" (note: {note})"));
            }
            (Sli::Latency { le_seconds, target_seconds }, round12(1.0 - percentile / 100.0), text)
        }
        Objective::Throughput { target_rps } => {
            let text = format!("at least {} requests/s{filter_text} over {period_text}", num(*target_rps));
            return Ok(SloPlan {
                name: slo.name.clone(),
                sli: Sli::Throughput { target_rps: *target_rps },
                budget: 0.0,
                period,
                tiers: Vec::new(),
                windows: vec![period],
                matchers,
                objective_text: text,
                location: loc.clone(),
            });
        }
    };
    if budget <= 0.0 {
        return Err(RulesError::NoBudget { location: loc.clone(), slo: slo.name.clone() });
    }
    let mut tiers = Vec::new();
    let (mut dropped_long, mut raised, mut never) = (Vec::new(), Vec::new(), Vec::new());
    for tier in sre_workbook_tiers() {
        let name = format!("{} {}/{}", tier.severity.as_str(), prom_duration(tier.long), prom_duration(tier.short));
        if tier.long > period {
            dropped_long.push(name);
            continue;
        }
        let raw_burn = round12(burn_rate(tier.budget_consumed, period, tier.long));
        let burn = raw_burn.max(1.0);
        if raw_burn < 1.0 {
            raised.push(format!(
                "{name} burn {} (= {}% × {period_text} / {}) raised to 1 ({}% of the budget in {})",
                crate::fmt::format_number(raw_burn),
                num(tier.budget_consumed * 100.0),
                prom_duration(tier.long),
                crate::fmt::format_number(budget_consumed(1.0, tier.long, period) * 100.0),
                prom_duration(tier.long)
            ));
        }
        let threshold = burn * budget;
        if threshold >= 1.0 {
            never.push(format!("{name} (burn {} × budget {} ≥ 1)", num(burn), num(budget)));
            continue;
        }
        tiers.push(PlannedTier { tier, burn, raw_burn, threshold: round12(threshold) });
    }
    let w = |m: String| format!("{loc}: slos.{}: {m}", slo.name);
    if !dropped_long.is_empty() {
        warnings.push(w(format!(
            "alert tiers {} dropped: their long window is longer than the SLO window {period_text}",
            dropped_long.join(", ")
        )));
    }
    if !raised.is_empty() {
        warnings.push(w(format!("{}: a burn rate below 1 would fire while the SLO is met over its window", raised.join("; "))));
    }
    if !never.is_empty() {
        warnings.push(w(format!("alert tiers {} dropped: they could never fire", never.join(", "))));
    }
    if tiers.is_empty() {
        return Err(RulesError::NoAlertWindow {
            location: loc.clone(),
            slo: slo.name.clone(),
            reason: format!(
                "its window {period_text} is shorter than 1h, the shortest long alert window, or no tier could fire; \
                 use a window of at least 1h"
            ),
        });
    }
    let mut windows: Vec<Duration> = tiers.iter().flat_map(|t| [t.tier.long, t.tier.short]).chain([period]).collect();
    windows.sort();
    windows.dedup();
    Ok(SloPlan { name: slo.name.clone(), sli, budget, period, tiers, windows, matchers, objective_text, location: loc.clone() })
}

/// The PromQL expression of an SLO's error ratio over `window` (a fraction in [0, 1]);
/// `None` for throughput.
pub fn error_ratio_expr(slo: &SloPlan, window: Duration) -> Option<String> {
    let w = prom_duration(window);
    let m = &slo.matchers;
    match &slo.sli {
        Sli::ErrorRatio => {
            Some(format!("sum(rate({}[{w}])) / sum(rate({}[{w}]))", selector(metric::HTTP_REQ_FAILED, m), selector(metric::HTTP_REQS, m)))
        }
        Sli::Latency { le_seconds, .. } => {
            let le = label_matcher("le", &num(*le_seconds));
            let bm = if m.is_empty() { le } else { format!("{m},{le}") };
            Some(format!(
                "1 - sum(rate({}[{w}])) / sum(rate({}[{w}]))",
                selector(&format!("{}_bucket", metric::HTTP_REQ_DURATION), &bm),
                selector(&format!("{}_count", metric::HTTP_REQ_DURATION), m)
            ))
        }
        Sli::Throughput { .. } => None,
    }
}

/// Name of the recording rule holding the error ratio over `window`:
/// `slo:sli_error:ratio_rate5m`.
pub fn error_ratio_record(window: Duration) -> String {
    format!("slo:sli_error:ratio_rate{}", prom_duration(window))
}

/// Name of the throughput recording rule over `window`: `slo:sli_throughput:rps_rate1m`.
pub fn throughput_record(window: Duration) -> String {
    format!("slo:sli_throughput:rps_rate{}", prom_duration(window))
}

/// Whether a rule records a series or raises an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `record: NAME`.
    Record(String),
    /// `alert: NAME`.
    Alert(String),
}

/// One Prometheus rule. Alert label and annotation values are written as Prometheus
/// reads them: Go-template delimiters in user text are escaped (`{{` → `{{ "{{" }}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Record or alert, with its name.
    pub kind: RuleKind,
    /// PromQL expression.
    pub expr: String,
    /// `labels:` in order.
    pub labels: Vec<(String, String)>,
    /// `annotations:` in order (alerts only).
    pub annotations: Vec<(String, String)>,
}

/// A rule group (one per SLO, named `slo:<service>:<slo>`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// Group name.
    pub name: String,
    /// Rules in evaluation order: recording rules first, then the alerts that read them.
    pub rules: Vec<Rule>,
}

/// The rule groups of a plan (module docs describe them).
pub fn rule_groups(plan: &RulesPlan) -> Vec<RuleGroup> {
    let mut groups = Vec::new();
    for slo in &plan.slos {
        let sel = format!("{{{},{}}}", label_matcher("service", &plan.service), label_matcher("slo", &slo.name));
        let base = vec![("service".to_string(), plan.service.clone()), ("slo".to_string(), slo.name.clone())];
        let alert_base = [("service".to_string(), template_escape(&plan.service)), ("slo".to_string(), template_escape(&slo.name))];
        let record =
            |name: String, expr: String| Rule { kind: RuleKind::Record(name), expr, labels: base.clone(), annotations: Vec::new() };
        let mut rules = Vec::new();
        if let Sli::Throughput { target_rps } = slo.sli {
            let rec = throughput_record(slo.period);
            rules.push(record(
                rec.clone(),
                format!("sum(rate({}[{}]))", selector(metric::HTTP_REQS, &slo.matchers), prom_duration(slo.period)),
            ));
            let summary = format!("{} {}: throughput below {} requests/s", plan.service, slo.name, num(target_rps));
            let desc = format!(
                "SLO {} of {}{}: {}. Requests per second over the last {} are below the target (no error budget: throughput is judged per window).",
                slo.name,
                plan.service,
                env_text(plan),
                slo.objective_text,
                prom_duration(slo.period)
            );
            let mut labels = vec![("severity".to_string(), "ticket".to_string())];
            labels.extend(alert_base.iter().cloned());
            rules.push(Rule {
                kind: RuleKind::Alert("SloThroughputBelowTarget".into()),
                expr: format!("{rec}{sel} < {}", num(target_rps)),
                labels,
                annotations: vec![("summary".into(), template_escape(&summary)), ("description".into(), template_escape(&desc))],
            });
            groups.push(RuleGroup { name: format!("slo:{}:{}", plan.service, slo.name), rules });
            continue;
        }
        for w in &slo.windows {
            rules.push(record(error_ratio_record(*w), error_ratio_expr(slo, *w).unwrap_or_default()));
        }
        rules.push(record(
            "slo:error_budget_remaining:ratio".into(),
            format!("1 - {}{sel} / {}", error_ratio_record(slo.period), num(slo.budget)),
        ));
        for t in &slo.tiers {
            let long = prom_duration(t.tier.long);
            let short = prom_duration(t.tier.short);
            let thr = format!("({} * {})", num(t.burn), num(slo.budget));
            let expr = format!("{}{sel} > {thr}\nand\n{}{sel} > {thr}", error_ratio_record(t.tier.long), error_ratio_record(t.tier.short));
            let consumed = budget_consumed(t.burn, t.tier.long, slo.period) * 100.0;
            let summary = format!("{} {}: error budget burning {}x over {long} and {short}", plan.service, slo.name, num(t.burn));
            let mut desc = format!(
                "SLO {} of {}{}: {}. Error budget: {}% of requests over {}. The error ratio is above {}x the budget ({}%) over both the last {long} and the last {short}; at this rate {long} spends {}% of the {} budget.",
                slo.name,
                plan.service,
                env_text(plan),
                slo.objective_text,
                num(round12(slo.budget * 100.0)),
                prom_duration(slo.period),
                num(t.burn),
                num(round12(t.threshold * 100.0)),
                crate::fmt::format_number(consumed),
                prom_duration(slo.period)
            );
            if t.raw_burn < 1.0 {
                let _ = write!(
                    desc,
                    " The tier's burn rate for a {} window would be {} (below 1); it was raised to 1.",
                    prom_duration(slo.period),
                    crate::fmt::format_number(t.raw_burn)
                );
            }
            let mut labels = vec![("severity".to_string(), t.tier.severity.as_str().to_string())];
            labels.extend(alert_base.iter().cloned());
            labels.push(("long_window".into(), long.clone()));
            labels.push(("short_window".into(), short.clone()));
            rules.push(Rule {
                kind: RuleKind::Alert("SloErrorBudgetBurn".into()),
                expr,
                labels,
                annotations: vec![("summary".into(), template_escape(&summary)), ("description".into(), template_escape(&desc))],
            });
        }
        groups.push(RuleGroup { name: format!("slo:{}:{}", plan.service, slo.name), rules });
    }
    groups
}

/// Renders the plan as a Prometheus rule file (YAML; every string JSON-quoted, which
/// YAML reads as a double-quoted scalar).
pub fn render_rules(plan: &RulesPlan) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut y = String::new();
    let _ = writeln!(y, "# Prometheus rules generated by `slo rules export` for service {:?}. Regenerate, do not edit.", plan.service);
    y.push_str("# Burn-rate alerts: SRE workbook ch.5 multi-window multi-burn-rate; tiers keep 2%/5%/10%/10% of the\n");
    y.push_str("# budget over 1h/6h/1d/3d, burn = consumed x SLO window / long window; both windows must be over.\n");
    y.push_str("groups:\n");
    for g in rule_groups(plan) {
        let _ = writeln!(y, "  - name: {}", q(&g.name));
        y.push_str("    rules:\n");
        for r in &g.rules {
            match &r.kind {
                RuleKind::Record(n) => {
                    let _ = writeln!(y, "      - record: {}", q(n));
                }
                RuleKind::Alert(n) => {
                    let _ = writeln!(y, "      - alert: {}", q(n));
                }
            }
            let _ = writeln!(y, "        expr: {}", q(&r.expr));
            for (key, list) in [("labels", &r.labels), ("annotations", &r.annotations)] {
                if list.is_empty() {
                    continue;
                }
                let _ = writeln!(y, "        {key}:");
                for (k, v) in list {
                    let _ = writeln!(y, "          {k}: {}", q(v));
                }
            }
        }
    }
    y
}

fn env_text(plan: &RulesPlan) -> String {
    plan.environment.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
}

/// Plans and renders in one step: the rule file text and the warnings.
///
/// # Errors
/// As [`plan_rules`].
pub fn export_rules(config: &SloConfig, options: &RulesOptions) -> Result<(String, Vec<String>), RulesError> {
    let plan = plan_rules(config, options)?;
    Ok((render_rules(&plan), plan.warnings))
}

/// A duration in Prometheus syntax (`5m`, `1h30m`, `30d`), whole milliseconds.
pub fn prom_duration(d: Duration) -> String {
    slo_model::duration::format_duration(Duration::from_millis(d.as_millis() as u64))
}

/// `metric{matchers}`, or the bare metric name when there are no matchers.
pub fn selector(metric: &str, matchers: &str) -> String {
    if matchers.is_empty() {
        metric.to_string()
    } else {
        format!("{metric}{{{matchers}}}")
    }
}

/// A PromQL string literal: double quotes, with `\`, `"` and line breaks escaped
/// (PromQL's string grammar follows Go's).
pub fn promql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One label matcher `name="value"` with the value escaped.
pub fn label_matcher(name: &str, value: &str) -> String {
    format!("{name}={}", promql_string(value))
}

/// Comma-joined label matchers of a tag filter (`name="login",method="GET"`); empty for
/// no filter. Tag names of k6 filters are valid label names only when they match
/// `[a-zA-Z_][a-zA-Z0-9_]*`; other characters are replaced by `_`, as Prometheus
/// remote-write exporters do.
pub fn label_matchers(filter: &[(String, String)]) -> String {
    filter.iter().map(|(k, v)| label_matcher(&label_name(k), v)).collect::<Vec<_>>().join(",")
}

/// A k6 tag name as a Prometheus label name (invalid characters become `_`).
pub fn label_name(k: &str) -> String {
    let mut s: String = k.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Escapes Go template delimiters in alert label and annotation text: `{{` → `{{ "{{" }}`.
pub fn template_escape(s: &str) -> String {
    s.replace("{{", "{{ \"{{\" }}")
}

/// A number rounded to 12 significant-ish decimals, so that `1 - 0.999` reads `0.001`.
pub(crate) fn round12(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(11 - mag);
    (v * scale).round() / scale
}

/// Shortest text of a number after [`round12`]: `0.001`, `14.4`, `1`.
pub(crate) fn num(v: f64) -> String {
    format!("{}", round12(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_strings_escape_quotes_backslashes_and_newlines() {
        assert_eq!(promql_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(promql_string("x\ny"), r#""x\ny""#);
        assert_eq!(label_matchers(&[("name".into(), "GET /a?b='c'".into())]), r#"name="GET /a?b='c'""#);
        assert_eq!(label_name("my-tag"), "my_tag");
        assert_eq!(label_name("1x"), "_1x");
    }

    #[test]
    fn numbers_print_without_float_noise() {
        assert_eq!(num(1.0 - 0.999), "0.001");
        assert_eq!(num(0.02 * 168.0), "3.36");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(14.4 * 0.001), "0.0144");
    }

    #[test]
    fn durations_in_prometheus_syntax() {
        assert_eq!(prom_duration(Duration::from_secs(300)), "5m");
        assert_eq!(prom_duration(Duration::from_secs(72 * 3600)), "3d");
        assert_eq!(prom_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(prom_duration(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn short_windows_are_a_twelfth_of_the_long_ones() {
        // case 09 short_window_check: 1h→5m, 6h→30m, 24h→2h, 72h→6h (360 minutes, not 260).
        let shorts: Vec<String> = sre_workbook_tiers().iter().map(|t| prom_duration(t.short)).collect();
        assert_eq!(shorts, ["5m", "30m", "2h", "6h"]);
    }
}
