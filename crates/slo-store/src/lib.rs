//! Sample stores of `slo`: the local Parquet run store (default `.slo/`) and the
//! streaming importer of k6 `--out json` NDJSON.
//!
//! - [`LocalStore`]: open a store directory, list and resolve runs (`latest`, id, unique
//!   prefix), record a run with a [`RunWriter`], read it back with [`LocalStore::scan`].
//! - [`import_k6_json`]: k6 NDJSON (plain or gzip) into a new run, all or nothing.
//!
//! Part files are plain Parquet (see [`layout`]): HTTP requests one row each with a
//! column per k6 metric (`runs/*/req-*.parquet`), every other point one row each (`runs/*/part-*.parquet`),
//! so DuckDB, pandas or polars open them as they are.
#![deny(missing_docs)]

pub mod error;
mod fastline;
#[cfg(feature = "influxdb")]
pub mod influx;
mod json;
pub mod k6json;
pub mod layout;
pub mod local;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod remote;
pub mod scan;
pub mod time;

pub use error::{ErrorClass, StoreError};
pub use k6json::{import_k6_json, ImportOptions, ImportReport, SkippedLine};
pub use layout::{part_schema, FIXED_TAGS};
pub use local::{LocalStore, RunEnd, RunState, RunWriter};
pub use scan::{PointColumn, PointVisitor, ScanOptions, ScanStats, ALL_EXTRA_KEY};
pub use slo_model::TagLookup;
