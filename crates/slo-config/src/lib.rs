//! Configuration `slo` reads: `slo-config.yaml` (SLOs and threshold profiles), k6
//! threshold expressions, and k6 options as `k6 inspect` prints them. Every error names
//! file:line:column.
#![deny(missing_docs)]

pub mod error;
pub mod grammar;
pub mod scenario;
pub mod k6;
pub mod slo;
pub mod threshold;
mod yaml;

pub use error::ConfigError;
pub use k6::{load_k6_options, parse_k6_options, K6Options};
pub use slo::{load_slo_config, parse_slo_config, Objective, Slo, SloConfig, DEFAULT_TOLERANCE_PERCENT};
pub use grammar::{is_valid_metric_name, parse_go_float, parse_metric_key, parse_tag_filter, parse_threshold_expr};
pub use threshold::{Aggregation, Location, MetricKey, MetricThresholds, Op, Threshold, ThresholdExpr, ThresholdSet};
