//! Configuration `slo` reads: `slo-config.yaml` (SLOs and threshold profiles), k6
//! threshold expressions, and k6 options as `k6 inspect` prints them. Every error names
//! file:line:column.
#![deny(missing_docs)]

pub mod threshold;

pub use threshold::{Aggregation, Location, MetricKey, Op, Threshold, ThresholdExpr, MetricThresholds};
