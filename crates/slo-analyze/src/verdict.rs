//! Verdicts, how they combine into one, and the exit code class they map to, plus the
//! units every reported value carries.

use serde::Serialize;
use slo_model::ValueType;

/// The judgement of one threshold, one SLO, one window or the whole check.
///
/// Serialized as `"pass"`, `"warn"`, `"fail"`, `"no_data"`; displayed as `PASS`,
/// `WARN`, `FAIL`, `NO DATA`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within the limit.
    Pass,
    /// Not a breach, but needs a look (e.g. NO DATA downgraded by `allow_no_data`).
    Warn,
    /// Breached.
    Fail,
    /// No samples (or fewer than `min_samples`) in range: never a pass. Counts as a
    /// failure of the check unless `allow_no_data` downgrades it to a warning.
    NoData,
}

impl Verdict {
    /// Upper-case label for tables: `PASS`, `WARN`, `FAIL`, `NO DATA`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::NoData => "NO DATA",
        }
    }

    /// Combines item verdicts into the check's verdict:
    /// FAIL if any item failed; else NO DATA if any item had no data and
    /// `allow_no_data` is off; else WARN if any item warned or had no data (allowed);
    /// else PASS. With no items at all the result is PASS (nothing was asked).
    pub fn combine<I: IntoIterator<Item = Verdict>>(items: I, allow_no_data: bool) -> Verdict {
        let (mut fail, mut nodata, mut warn) = (false, false, false);
        for v in items {
            match v {
                Verdict::Fail => fail = true,
                Verdict::NoData => nodata = true,
                Verdict::Warn => warn = true,
                Verdict::Pass => {}
            }
        }
        if fail {
            Verdict::Fail
        } else if nodata && !allow_no_data {
            Verdict::NoData
        } else if warn || nodata {
            Verdict::Warn
        } else {
            Verdict::Pass
        }
    }

    /// The process exit code this verdict stands for when it is the check's overall
    /// verdict (DESIGN.md "Exit codes"): PASS and WARN → 0, FAIL → 1, NO DATA → 3.
    /// An overall NO DATA only arises when nothing failed outright but something had no
    /// data, so CI can tell "breached" from "measured nothing".
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass | Verdict::Warn => 0,
            Verdict::Fail => 1,
            Verdict::NoData => 3,
        }
    }

    /// Whether this verdict counts as a failure of the check (FAIL, or NO DATA without
    /// `allow_no_data`).
    pub fn is_failing(self, allow_no_data: bool) -> bool {
        matches!(self, Verdict::Fail) || (self == Verdict::NoData && !allow_no_data)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The unit of a reported value. Serialized as the short symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Unit {
    /// Milliseconds (k6 `contains: time`).
    #[serde(rename = "ms")]
    Millis,
    /// Bytes (k6 `contains: data`).
    #[serde(rename = "bytes")]
    Bytes,
    /// Bytes per second (a data counter's rate).
    #[serde(rename = "bytes/s")]
    BytesPerSecond,
    /// Events per second (a counter's rate, throughput).
    #[serde(rename = "1/s")]
    PerSecond,
    /// A plain number or a ratio in `[0, 1]` (rates, counts, gauges of plain numbers).
    #[serde(rename = "")]
    None,
}

impl Unit {
    /// The unit of a metric's own values.
    pub fn of_values(contains: ValueType) -> Unit {
        match contains {
            ValueType::Time => Unit::Millis,
            ValueType::Data => Unit::Bytes,
            ValueType::Default => Unit::None,
        }
    }

    /// The unit of a metric's per-second rate.
    pub fn of_rate(contains: ValueType) -> Unit {
        match contains {
            ValueType::Data => Unit::BytesPerSecond,
            _ => Unit::PerSecond,
        }
    }

    /// The symbol as serialized (`"ms"`, `"bytes"`, `"bytes/s"`, `"1/s"`, `""`).
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Bytes => "bytes",
            Unit::BytesPerSecond => "bytes/s",
            Unit::PerSecond => "1/s",
            Unit::None => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn combination_rules() {
        assert_eq!(Verdict::combine([Pass, Pass], false), Pass);
        assert_eq!(Verdict::combine([Pass, Warn], false), Warn);
        assert_eq!(Verdict::combine([Pass, NoData], false), NoData);
        assert_eq!(Verdict::combine([Pass, NoData], true), Warn);
        assert_eq!(Verdict::combine([NoData, Fail], false), Fail);
        assert_eq!(Verdict::combine([NoData, Fail], true), Fail);
        assert_eq!(Verdict::combine([], false), Pass);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Pass.exit_code(), 0);
        assert_eq!(Warn.exit_code(), 0);
        assert_eq!(Fail.exit_code(), 1);
        assert_eq!(NoData.exit_code(), 3);
        assert!(NoData.is_failing(false));
        assert!(!NoData.is_failing(true));
    }
}
