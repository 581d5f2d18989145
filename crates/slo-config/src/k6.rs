//! k6 options as `k6 inspect SCRIPT` prints them (JSON): the thresholds and
//! `summaryTrendStats` of a k6 script, so k6 users can judge a run with their script's
//! own thresholds. Other options are ignored (k6 has dozens; only these matter here).
//!
//! ```json
//! { "thresholds": { "http_req_duration{name:login}": [ "p(95)\u003c500",
//!       { "threshold": "max\u003c3000", "abortOnFail": true, "delayAbortEval": "10s" } ] },
//!   "summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)"] }
//! ```
//!
//! Syntax errors come from serde_json (line and column); every later error names the
//! line and column of the offending JSON value, read from a marked tree of the same text
//! (JSON is YAML 1.2).

use std::path::Path;

use serde::Serialize;

use crate::error::ConfigError;
use crate::grammar::parse_go_float;
use crate::slo::read_threshold_set;
use crate::threshold::{Location, ThresholdSet};
use crate::yaml::{self, Reader};

/// The parts of a k6 script's options that `slo` uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K6Options {
    /// The file as the user named it.
    pub file: String,
    /// `thresholds`, metric keys in the order written (k6 inspect sorts them by name).
    pub thresholds: ThresholdSet,
    /// `summaryTrendStats` (e.g. `["avg", "p(95)"]`); `None` when k6 printed `null`
    /// (k6's default `avg, min, med, max, p(90), p(95)` then applies).
    pub summary_trend_stats: Option<Vec<String>>,
}

/// Reads the JSON that `k6 inspect SCRIPT` printed, from `path`.
///
/// # Errors
/// [`ConfigError::Io`] when the file cannot be read, else as [`parse_k6_options`].
pub fn load_k6_options(path: &Path) -> Result<K6Options, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io { file: file.clone(), cause })?;
    parse_k6_options(&text, &file)
}

/// Parses the JSON that `k6 inspect` printed; `file_name` names it in errors.
///
/// # Errors
/// [`ConfigError::Syntax`] for malformed JSON (serde_json's line and column), then
/// positioned errors for a non-object document, a bad metric key or expression, an
/// unknown field in an object threshold, or a `summaryTrendStats` entry k6 would refuse
/// (allowed: `avg min med max count p(N)` with 0 ≤ N ≤ 100).
pub fn parse_k6_options(text: &str, file_name: &str) -> Result<K6Options, ConfigError> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(ConfigError::Syntax {
            location: Location { file: file_name.to_string(), line: e.line().max(1), column: e.column().max(1) },
            message: format!("invalid JSON: {e}"),
        });
    }
    let r = Reader { file: file_name };
    let Some(root) = yaml::parse(text, file_name)? else {
        return Err(ConfigError::Syntax {
            location: Location { file: file_name.to_string(), line: 1, column: 1 },
            message: "empty document".into(),
        });
    };
    let top = r.map(&root, "k6 options", None)?;
    let get = |name: &str| top.iter().find(|(k, _, _)| k == name).map(|(_, _, v)| *v);

    let thresholds = match get("thresholds") {
        Some(n) => read_threshold_set(&r, n, "thresholds")?,
        None => ThresholdSet::default(),
    };
    let summary_trend_stats = match get("summaryTrendStats") {
        Some(n) if !n.is_null() => {
            let mut stats = Vec::new();
            for item in r.seq(n, "summaryTrendStats")? {
                let s = r.string(item, "summaryTrendStats")?;
                if !is_valid_trend_stat(s) {
                    return Err(r.invalid(
                        item,
                        "summaryTrendStats",
                        format!("{s:?} is not a trend stat: expected avg, min, med, max, count or p(N) with 0 <= N <= 100"),
                    ));
                }
                stats.push(s.to_string());
            }
            Some(stats)
        }
        _ => None,
    };
    Ok(K6Options { file: file_name.to_string(), thresholds, summary_trend_stats })
}

/// k6's summary trend stats: `avg min med max count` or `p(N)`, 0 ≤ N ≤ 100.
fn is_valid_trend_stat(s: &str) -> bool {
    match s {
        "avg" | "min" | "med" | "max" | "count" => true,
        _ => s
            .strip_prefix("p(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| parse_go_float(n).ok())
            .is_some_and(|n| (0.0..=100.0).contains(&n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::Aggregation;
    use std::time::Duration;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn real_k6_inspect_output() {
        let o = load_k6_options(&fixture("k6-inspect.json")).unwrap();
        // k6 inspect sorts keys: checks, http_req_duration{name:login}, http_req_failed.
        let keys: Vec<&str> = o.thresholds.iter().map(|m| m.key_source.as_str()).collect();
        assert_eq!(keys, ["checks", "http_req_duration{name:login}", "http_req_failed"]);
        let checks = &o.thresholds.0[0];
        assert_eq!(checks.thresholds[0].source, "rate>0.99");
        // Line 32 of the fixture is `      "rate\u003e0.99"`: the quote at column 7.
        assert_eq!((checks.thresholds[0].location.line, checks.thresholds[0].location.column), (32, 7));
        let login = &o.thresholds.0[1];
        assert_eq!(login.key.filters, vec![("name".to_string(), "login".to_string())]);
        // Line 34: `    "http_req_duration{name:login}": [`.
        assert_eq!((login.location.line, login.location.column), (34, 5));
        assert_eq!(login.thresholds[0].expr.agg, Aggregation::P(95.0));
        assert_eq!(login.thresholds[0].expr.value, 500.0);
        assert!(!login.thresholds[0].abort_on_fail);
        assert_eq!(login.thresholds[1].source, "max<3000");
        assert!(login.thresholds[1].abort_on_fail);
        assert_eq!(login.thresholds[1].delay_abort_eval, Some(Duration::from_secs(10)));
        assert_eq!(o.thresholds.threshold_count(), 4);
        assert_eq!(o.summary_trend_stats.as_deref().unwrap(), ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99.9)"]);
    }

    #[test]
    fn nulls_and_empty_delay() {
        let o = parse_k6_options(
            r#"{"thresholds": {"http_reqs": [{"threshold": "count>1", "abortOnFail": false, "delayAbortEval": ""}]}, "summaryTrendStats": null}"#,
            "o.json",
        )
        .unwrap();
        assert_eq!(o.thresholds.0[0].thresholds[0].delay_abort_eval, None);
        assert!(o.summary_trend_stats.is_none());
        let o = parse_k6_options(r#"{"thresholds": null}"#, "o.json").unwrap();
        assert!(o.thresholds.is_empty());
    }

    fn err(text: &str) -> ConfigError {
        parse_k6_options(text, "o.json").unwrap_err()
    }

    fn at(e: &ConfigError, line: usize, column: usize) {
        let l = e.location().unwrap();
        assert_eq!((l.line, l.column), (line, column), "{e}");
        assert!(e.to_string().starts_with(&format!("o.json:{line}:{column}: ")), "{e}");
    }

    #[test]
    fn errors_name_line_and_column() {
        // Line 3 `    "http_req_failed": ["rate<0.01", "rate=0.01"]`: 2nd quote at column 38.
        let text = "{\n  \"thresholds\": {\n    \"http_req_failed\": [\"rate<0.01\", \"rate=0.01\"]\n  }\n}\n";
        let e = err(text);
        assert!(matches!(e, ConfigError::Expression { .. }), "{e}");
        at(&e, 3, 38);
        // Bad key at column 5 of line 3.
        at(&err("{\n  \"thresholds\": {\n    \"http_reqs{key}\": [\"count>1\"]\n  }\n}\n"), 3, 5);
        // Unknown field in the object form: `"abortOnFial"` at column 50 of line 1.
        at(&err(r#"{"thresholds": {"x_y": [{"threshold": "count>1", "abortOnFial": true}]}}"#), 1, 50);
        // Bad trend stat: `"p(101)"` at column 31.
        at(&err(r#"{"summaryTrendStats": ["avg", "p(101)"]}"#), 1, 31);
        // JSON syntax error: a trailing comma; serde_json reports the `}` that follows
        // it, line 2 column 1.
        let e = err("{\"thresholds\": {},\n}");
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
        at(&e, 2, 1);
        // Not an object.
        at(&err("[1]"), 1, 1);
    }
}
