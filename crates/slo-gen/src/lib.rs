//! The load generator of `slo`: runs a scenario file's k6 executors and Artillery-style
//! flows against a local HTTP/1.1 target and hands every request, iteration and check
//! to a [`SampleSink`] at least once a second. It knows nothing about stores.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use slo_gen::{Plan, PlanOverrides, Run, SampleSink};
//! let file = slo_config::scenario::ScenarioFile::load("slo/artillery.yaml".as_ref())?;
//! let plan = Plan::build(&file, &PlanOverrides { target: Some("http://127.0.0.1:8080".into()), ..Default::default() })?;
//! struct Print;
//! impl SampleSink for Print {
//!     fn write(&mut self, batch: &slo_model::SampleBatch) -> Result<(), slo_gen::SinkError> {
//!         println!("{} requests", batch.requests.len());
//!         Ok(())
//!     }
//! }
//! let run = Run::start(plan, Box::new(Print))?;
//! let stop = run.stop_handle(); // call stop.stop() on Ctrl-C, stop.abort() on a second one
//! let summary = run.wait()?;
//! println!("{} requests, {} dropped", summary.requests, summary.dropped_iterations);
//! # Ok(()) }
//! ```
//!
//! Safety default: only `127.0.0.1`, `localhost` and `[::1]` are accepted as targets
//! unless [`PlanOverrides::allow_remote`] is set, so tests never send traffic elsewhere.
#![deny(missing_docs)]

mod http;
pub mod plan;
mod run;
pub mod schedule;
mod vu;

pub use plan::{Plan, PlanError, PlanOverrides};
pub use run::{GenError, Progress, Run, SampleSink, SinkError, StopHandle, Summary};
pub use schedule::Segment;

#[cfg(test)]
mod tests;
