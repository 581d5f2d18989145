//! Configuration `slo` reads: `slo-config.yaml` (SLOs and threshold profiles), k6
//! threshold expressions, k6 options as `k6 inspect` prints them, and scenario files.
//! Every error names file:line:column.
//!
//! - [`load_slo_config`] / [`parse_slo_config`] give a [`SloConfig`] (module [`slo`]
//!   documents the file's shape, units and optional extras).
//! - [`parse_threshold_expr`] and [`parse_metric_key`] implement k6's threshold grammar
//!   (BNF in [`grammar`]); [`ThresholdSet::validate_types`] checks aggregations against
//!   metric types once those are known.
//! - [`load_k6_options`] reads the thresholds and `summaryTrendStats` of `k6 inspect`.
//! - Every failure is a [`ConfigError`] whose message starts with `file:line:col: `; the
//!   binary maps them all to exit code 2.
#![deny(missing_docs)]

pub mod error;
pub mod grammar;
pub mod k6;
pub mod scenario;
pub mod slo;
pub mod threshold;
mod yaml;

pub use error::ConfigError;
pub use grammar::{is_valid_metric_name, parse_go_float, parse_metric_key, parse_tag_filter, parse_threshold_expr};
pub use k6::{load_k6_options, parse_k6_options, K6Options};
pub use slo::{load_slo_config, parse_slo_config, Objective, Slo, SloConfig, DEFAULT_TOLERANCE_PERCENT};
pub use threshold::{Aggregation, Location, MetricKey, MetricThresholds, Op, Threshold, ThresholdExpr, ThresholdSet};
