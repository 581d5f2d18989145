//! The data model every `slo` crate shares: k6 metric kinds, points (one sample of one
//! metric), tag sets, run metadata and durations. No I/O happens here.
//!
//! The model follows k6's: a run is a stream of [`Point`]s, each the value of one named
//! metric at one instant with a set of string tags (k6 `metrics.Sample`). A metric has a
//! [`MetricType`] (counter, gauge, rate, trend) and a [`ValueType`] (k6's `contains`).
#![deny(missing_docs)]

pub mod duration;
pub mod hash;
pub mod metric;
pub mod redact;
pub mod run;
pub mod sample;

pub use duration::{parse_duration, DurationError};
pub use metric::{builtin_metric, MetricInfo, MetricType, Point, TagLookup, Tags, ValueType, BUILTIN_METRICS};
pub use redact::redact_url;
pub use run::{RunId, RunMeta, RunStatus};
pub use sample::{
    default_expected_status, CheckSample, DroppedSample, IterationSample, Method, NumBuf, PointTags, RequestSample, SampleBatch,
    SampleTags, VuSample, REQUEST_METRICS, SCHEDULING_LAG_METRIC,
};
