//! k6's threshold grammar: expressions (`p(95)<500`) and metric keys with tag filters
//! (`http_req_duration{name:login}`), parsed exactly as k6 v1.1.0 does (k6
//! `metrics/thresholds_parser.go`, `metrics/metric.go` `ParseMetricName`,
//! `metrics/submetric.go`), checked against the truth table of
//! `shared/cases/03-threshold-grammar-and-tag-filters`.
//!
//! # Threshold expression
//!
//! ```text
//! expression  ::= ws* aggregation ws* operator ws* number ws*
//! aggregation ::= trend | rate | counter | gauge
//! trend       ::= "avg" | "min" | "max" | "med" | percentile
//! percentile  ::= "p(" float ")"          ; no blanks inside; 0 <= float <= 100, not NaN
//! rate        ::= "rate"
//! counter     ::= "count" | "rate"
//! gauge       ::= "value"
//! operator    ::= "<" | "<=" | ">" | ">=" | "==" | "===" | "!="   ; "===" means "=="
//! number      ::= float
//! float       ::= Go strconv.ParseFloat syntax:
//!                 sign? ( digits ("." digits?)? | "." digits ) ( ("e"|"E") sign? digits )?
//!               | sign? "0" ("x"|"X") hexmantissa ("p"|"P") sign? digits
//!               | sign? ("inf" | "infinity")   ; any case
//!               | "nan"                        ; any case, no sign
//! sign        ::= "+" | "-"
//! ws          ::= " " | "\t" | "\n" | "\r" | "\v" | "\f"   ; Go strings.TrimSpace
//! ```
//!
//! Methods are case-sensitive (`COUNT` is refused), `mean` and `p95` are refused, a lone
//! `=` is refused and there is no `&&`/`||`: the first operator splits the expression and
//! everything right of it must be one number. A finite decimal that overflows f64
//! (`1e400`) is refused, as Go's `ErrRange` is. `NaN` on the right is accepted as in k6;
//! [`crate::Op::holds`] makes such a threshold always fail. Differences from k6 v1.1.0:
//! `p(101)`, `p(-1)`, `p(NaN)` are refused here where k6 panics (exit 109), and Go's
//! digit-separating underscores (allowed only in hex floats) are refused.
//!
//! # Metric key
//!
//! ```text
//! key        ::= name | name "{" filter ("," filter)* "}"
//! name       ::= [A-Za-z_] [A-Za-z0-9_]{1,128}      ; k6 v1.1.0 metric name rule
//! filter     ::= tagkey ":" tagvalue               ; only the first ":" splits
//! tagkey     ::= any text without "," or ":", trimmed, quotes ' " stripped at both ends; not empty
//! tagvalue   ::= any text without ",", not empty as written; trimmed, quotes stripped
//! ```
//!
//! A key-only filter `{key}` and an empty value `{group:}` are refused (k6: "tag
//! expression is malformed"); `{group:""}` is a present, empty value (k6's root group).
//! Blanks around keys and values are dropped, so `{ name: login }` is `{name:login}`; a
//! blank before `{` makes the name invalid (k6: unknown metric). Filters are AND; the same
//! key twice keeps the last value (k6 fills a map).

use crate::threshold::{Aggregation, MetricKey, Op, ThresholdExpr};

/// Parses a k6 threshold expression such as `p(95)<500`, `rate<0.01`, `count === 5`.
///
/// The number on the right is in the metric's unit (milliseconds for time trends).
///
/// # Errors
/// A message saying what is malformed (no operator, unknown method, bad number,
/// percentile out of 0..=100), quoting the part at fault.
pub fn parse_threshold_expr(s: &str) -> Result<ThresholdExpr, String> {
    let (pos, op, op_len) = find_operator(s).ok_or_else(|| {
        "malformed threshold expression: expected `method operator number` with operator one of < <= > >= == === !=".to_string()
    })?;
    let left = go_trim(&s[..pos]);
    let right = go_trim(&s[pos + op_len..]);
    if left.is_empty() || right.is_empty() {
        return Err(format!(
            "malformed threshold expression: {} of the operator `{}` is empty",
            if left.is_empty() { "left" } else { "right" },
            &s[pos..pos + op_len]
        ));
    }
    let agg = parse_aggregation(left)?;
    let value = parse_go_float(right).map_err(|e| {
        if right.contains("&&") || right.contains("||") {
            format!("right-hand side {right:?}: k6 has no && or ||; write each condition as its own threshold")
        } else {
            format!("right-hand side {right:?}: {e}")
        }
    })?;
    Ok(ThresholdExpr { agg, op, value })
}

/// Finds the first operator: byte position, operator, length in bytes. A `=` or `!`
/// that does not start an operator makes the expression malformed (as in k6).
fn find_operator(s: &str) -> Option<(usize, Op, usize)> {
    let b = s.as_bytes();
    let i = b.iter().position(|c| matches!(c, b'<' | b'>' | b'=' | b'!'))?;
    let rest = &s[i..];
    let (op, len) = if rest.starts_with("===") {
        (Op::Eq, 3)
    } else if rest.starts_with("==") {
        (Op::Eq, 2)
    } else if rest.starts_with("!=") {
        (Op::Ne, 2)
    } else if rest.starts_with("<=") {
        (Op::Le, 2)
    } else if rest.starts_with(">=") {
        (Op::Ge, 2)
    } else if rest.starts_with('<') {
        (Op::Lt, 1)
    } else if rest.starts_with('>') {
        (Op::Gt, 1)
    } else {
        return None;
    };
    Some((i, op, len))
}

/// Go `strings.TrimSpace`: drops leading and trailing Unicode white space.
fn go_trim(s: &str) -> &str {
    s.trim_matches(char::is_whitespace)
}

fn parse_aggregation(s: &str) -> Result<Aggregation, String> {
    Ok(match s {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        "count" => Aggregation::Count,
        "rate" => Aggregation::Rate,
        "value" => Aggregation::Value,
        _ => {
            if let Some(inner) = s.strip_prefix("p(").and_then(|r| r.strip_suffix(')')) {
                let n = parse_go_float(inner).map_err(|e| format!("malformed percentile {s:?}: {e}"))?;
                if n.is_nan() || !(0.0..=100.0).contains(&n) {
                    return Err(format!("percentile {s:?} out of range: N in p(N) must be a number from 0 to 100"));
                }
                Aggregation::P(n)
            } else {
                return Err(format!(
                    "unknown aggregation method {s:?}: expected one of avg, min, max, med, p(N), count, rate, value (case-sensitive)"
                ));
            }
        }
    })
}

/// Parses a number the way Go's `strconv.ParseFloat(s, 64)` does (see the grammar in
/// the module docs): no surrounding blanks, `5e1`, `.5`, `1.`, `Inf`, `-infinity`, `NaN`,
/// hex floats with a `p` exponent (`0x1p4`); `0x10` (hex without exponent) and values
/// that overflow f64 are refused.
///
/// # Errors
/// A message quoting the input.
pub fn parse_go_float(s: &str) -> Result<f64, String> {
    let bad = || format!("{s:?} is not a number (Go ParseFloat syntax)");
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if lower == "nan" {
        // Go accepts "nan" only without a sign.
        return if body.len() == s.len() { Ok(f64::NAN) } else { Err(bad()) };
    }
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex).ok_or_else(bad)?
    } else {
        if !is_decimal_float(body) {
            return Err(bad());
        }
        body.parse::<f64>().map_err(|_| bad())?
    };
    if v.is_infinite() {
        return Err(format!("{s:?} is out of range for a 64-bit float"));
    }
    Ok(if neg { -v } else { v })
}

/// `( digits ("." digits?)? | "." digits ) ( [eE] [+-]? digits )?`
fn is_decimal_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut mant_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mant_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mant_digits += 1;
        }
    }
    if mant_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Hex float after `0x` (lowercased): `hexdigits ("." hexdigits?)? | "." hexdigits`, then
/// a mandatory `p[+-]?digits` binary exponent (Go requires it in ParseFloat).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once('p')?;
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let e: i32 = exp.parse().unwrap_or(if exp.starts_with('-') { i32::MIN } else { i32::MAX });
    Some(v * 2f64.powi(e))
}

/// Whether `name` is a valid k6 metric name: ASCII letters, digits and `_`, starting
/// with a letter or `_`, 2 to 129 characters. This is what k6 v1.1.0 enforces
/// (`^[a-zA-Z_][a-zA-Z0-9_]{1,128}$`; seen running k6: 129 characters accepted, 130 and
/// a 1-character name refused with exit 107).
pub fn is_valid_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    (2..=129).contains(&b.len())
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Parses a threshold metric key: `http_req_duration`, `http_req_duration{name:login}`,
/// `http_reqs{status:500, name:"login"}` (grammar in the module docs).
///
/// Filters come back trimmed, unquoted and sorted by key (a repeated key keeps its last
/// value).
///
/// # Errors
/// A message saying what is malformed: an invalid metric name (including a blank before
/// `{`), unbalanced braces, text after `}`, a key-only or empty-valued filter.
pub fn parse_metric_key(s: &str) -> Result<MetricKey, String> {
    let open = s.find('{');
    let close = s.rfind('}');
    let (name, filters) = match (open, close) {
        (None, None) => (s, Vec::new()),
        (Some(o), Some(c)) if c > o => {
            if c != s.len() - 1 {
                return Err(format!("text after the closing `}}`: {:?}", &s[c + 1..]));
            }
            (&s[..o], parse_tag_filter_body(&s[o + 1..c])?)
        }
        _ => return Err("unbalanced `{` `}` in tag filter".to_string()),
    };
    if !is_valid_metric_name(name) {
        return Err(format!(
            "invalid metric name {name:?}: names are 2 to 129 ASCII letters, digits or underscores, starting with a letter or underscore, with nothing between the name and `{{`"
        ));
    }
    Ok(MetricKey { metric: name.to_string(), filters })
}

/// Parses a tag filter alone, with its braces: `{name:login}`, `{name:login,status:200}`
/// (same rules as the filter part of [`parse_metric_key`]).
///
/// # Errors
/// A message when the braces are missing or a filter is malformed.
pub fn parse_tag_filter(s: &str) -> Result<Vec<(String, String)>, String> {
    let t = s.trim();
    let body = t
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| format!("tag filter {s:?} must be written in braces, e.g. {{name:login}}"))?;
    parse_tag_filter_body(body)
}

fn parse_tag_filter_body(body: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in body.split(',') {
        let Some((k, v)) = part.split_once(':') else {
            return Err(format!("tag expression {part:?} is malformed: expected key:value"));
        };
        if v.is_empty() {
            return Err(format!("tag expression {part:?} is malformed: the value is empty"));
        }
        let key = unquote(k);
        if key.is_empty() {
            return Err(format!("tag expression {part:?} is malformed: the key is empty"));
        }
        let value = unquote(v).to_string();
        match out.binary_search_by(|(x, _)| x.as_str().cmp(key)) {
            Ok(i) => out[i].1 = value,
            Err(i) => out.insert(i, (key.to_string(), value)),
        }
    }
    Ok(out)
}

/// k6 `strings.Trim(strings.TrimSpace(x), "\"'")`: blanks, then every leading and
/// trailing quote of either kind.
fn unquote(s: &str) -> &str {
    go_trim(s).trim_matches(|c| c == '"' || c == '\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> (Aggregation, Op, f64) {
        let e = parse_threshold_expr(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        (e.agg, e.op, e.value)
    }

    #[test]
    fn expressions_k6_accepts() {
        assert_eq!(expr("p(95)<500"), (Aggregation::P(95.0), Op::Lt, 500.0));
        assert_eq!(expr("p(99.9)<10000"), (Aggregation::P(99.9), Op::Lt, 10000.0));
        assert_eq!(expr("p(0)>=0"), (Aggregation::P(0.0), Op::Ge, 0.0));
        assert_eq!(expr("p(100)<=1"), (Aggregation::P(100.0), Op::Le, 1.0));
        assert_eq!(expr("rate<0.01"), (Aggregation::Rate, Op::Lt, 0.01));
        assert_eq!(expr("count == 5"), (Aggregation::Count, Op::Eq, 5.0));
        assert_eq!(expr("  count==5  "), (Aggregation::Count, Op::Eq, 5.0));
        assert_eq!(expr("count===5"), (Aggregation::Count, Op::Eq, 5.0));
        assert_eq!(expr("count!=4"), (Aggregation::Count, Op::Ne, 4.0));
        assert_eq!(expr("count>=5.0"), (Aggregation::Count, Op::Ge, 5.0));
        assert_eq!(expr("count<5e1"), (Aggregation::Count, Op::Lt, 50.0));
        assert_eq!(expr("count<-1"), (Aggregation::Count, Op::Lt, -1.0));
        assert_eq!(expr("count<Inf"), (Aggregation::Count, Op::Lt, f64::INFINITY));
        assert_eq!(expr("value>-infinity"), (Aggregation::Value, Op::Gt, f64::NEG_INFINITY));
        assert_eq!(expr("avg < 10000 "), (Aggregation::Avg, Op::Lt, 10000.0));
        assert_eq!(expr("med<.5"), (Aggregation::Med, Op::Lt, 0.5));
        assert_eq!(expr("min>1."), (Aggregation::Min, Op::Gt, 1.0));
        assert_eq!(expr("max<0x1p4"), (Aggregation::Max, Op::Lt, 16.0));
        assert_eq!(expr("p(1e1)<1"), (Aggregation::P(10.0), Op::Lt, 1.0));
        let nan = parse_threshold_expr("count<NaN").unwrap();
        assert!(nan.value.is_nan());
        // NaN never passes, whatever the operator.
        for obs in [0.0, 5.0, f64::NAN] {
            assert!(!nan.passes(obs));
            assert!(!Op::Ne.holds(obs, f64::NAN));
        }
    }

    #[test]
    fn expressions_k6_refuses() {
        for s in [
            "count=5",
            "count<",
            "<5",
            "COUNT==5",
            "p95<1000",
            "mean<1000",
            "p( 95 )<10000",
            "p(101)<1",
            "p(-1)<1",
            "p(NaN)<1",
            "p(Inf)<1",
            "count<0x10",
            "count<10 && count>1",
            "count<5 || count>1",
            "count<1e400",
            "count<+nan",
            "count<1_000",
            "count<5ms",
            "count",
            "",
            "count!5",
            "p()<1",
            "p(95<1",
            "P(95)<1",
            "count<e5",
            "count<.",
            "avg<1e",
        ] {
            assert!(parse_threshold_expr(s).is_err(), "{s:?} was accepted");
        }
    }

    #[test]
    fn go_float_edge_cases() {
        assert_eq!(parse_go_float("+Inf").unwrap(), f64::INFINITY);
        assert_eq!(parse_go_float("-0x1.8p1").unwrap(), -3.0);
        assert_eq!(parse_go_float("1E-2").unwrap(), 0.01);
        for s in [" 1", "1 ", "0x10", "0x", "0xp1", "1e", "--1", "nan1", "-nan", "infinit"] {
            assert!(parse_go_float(s).is_err(), "{s:?} was accepted");
        }
    }

    fn key(s: &str) -> (String, Vec<(String, String)>) {
        let k = parse_metric_key(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        (k.metric, k.filters)
    }

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn metric_keys() {
        assert_eq!(key("http_req_duration"), ("http_req_duration".into(), vec![]));
        assert_eq!(key("http_req_duration{name:login}"), ("http_req_duration".into(), f(&[("name", "login")])));
        assert_eq!(key("http_reqs{ name:login }"), ("http_reqs".into(), f(&[("name", "login")])));
        assert_eq!(key("http_reqs{name: login}"), ("http_reqs".into(), f(&[("name", "login")])));
        assert_eq!(key("http_reqs{name:\"login\"}"), ("http_reqs".into(), f(&[("name", "login")])));
        assert_eq!(key("http_reqs{name:'login'}"), ("http_reqs".into(), f(&[("name", "login")])));
        assert_eq!(key("http_reqs{status:500,name:login}"), ("http_reqs".into(), f(&[("name", "login"), ("status", "500")])));
        assert_eq!(key("http_reqs{group:::g1}"), ("http_reqs".into(), f(&[("group", "::g1")])));
        assert_eq!(key("http_reqs{url:http://x:1/y}"), ("http_reqs".into(), f(&[("url", "http://x:1/y")])));
        assert_eq!(key("http_reqs{group:\"\"}"), ("http_reqs".into(), f(&[("group", "")])));
        assert_eq!(key("http_reqs{a:1,a:2}"), ("http_reqs".into(), f(&[("a", "2")])));
        assert_eq!(key("checks{check:status is 200}"), ("checks".into(), f(&[("check", "status is 200")])));
        let long = "a".repeat(129);
        assert_eq!(key(&long).0, long);
    }

    #[test]
    fn metric_keys_refused() {
        let too_long = "a".repeat(130);
        for s in [
            "http_reqs{key}",
            "http_reqs{group:}",
            "http_reqs {name:login}",
            "http_reqs{}",
            "http_reqs{a:1,}",
            "http_reqs{name:login",
            "http_reqs}",
            "http_reqs}{",
            "http_reqs{a:b}x",
            "x",
            "9abc",
            "lätenz",
            "my-metric",
            "a.b",
            "",
            "{a:b}",
            "http_reqs{:v}",
            too_long.as_str(),
            " http_reqs",
        ] {
            assert!(parse_metric_key(s).is_err(), "{s:?} was accepted");
        }
    }

    #[test]
    fn tag_filter_alone() {
        assert_eq!(parse_tag_filter("{name:login}").unwrap(), f(&[("name", "login")]));
        assert!(parse_tag_filter("name:login").is_err());
        assert!(parse_tag_filter("{name}").is_err());
    }
}
