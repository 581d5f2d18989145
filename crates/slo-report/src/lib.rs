//! Renderers of `slo` results. Every renderer is pure: it takes a result (plain data from
//! `slo-analyze`) and returns bytes; the binary decides where they go (hyperfine's
//! `Exporter`, oha's `PrintMode`).
//!
//! Formats of a [`CheckReport`](slo_analyze::CheckReport): [`Format::Table`] (a terminal
//! table read at a glance), [`Format::Json`] (the report's serde form, schema version
//! [`slo_analyze::SCHEMA_VERSION`], documented in the README), [`Format::Junit`] (one
//! testcase per threshold and SLO) and [`Format::Markdown`] (for pull-request comments).
#![deny(missing_docs)]

pub mod charts;
mod check;
pub mod compare;
pub mod fmt;
pub mod grafana;
pub mod html;
pub mod rules;

pub use check::{render_check, render_summary};
pub use compare::render_compare;
pub use fmt::{columns, format_number, format_percent, format_seconds, format_value, md_escape, xml_escape};

/// Output formats of `slo check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain-text table for terminals.
    Table,
    /// Pretty-printed JSON.
    Json,
    /// JUnit XML.
    Junit,
    /// GitHub-flavoured Markdown.
    Markdown,
}
