//! End-to-end tests of the `slo` binary: each spawns the real binary as a process.

mod cases;
mod cli;
mod compare;
mod conformance;
mod exports;
mod run;
mod stores;
mod util;
