//! Durations as k6 and slo-config.yaml write them: `100ms`, `90s`, `5m`, `1h`, `30d`,
//! `1h30m`, `1.5s`. Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`. A bare number is
//! not a duration (k6 reads a bare number as milliseconds only in JS, never in YAML).

use std::time::Duration;

/// Why a duration string was refused. The message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("empty duration")]
    Empty,
    /// Something other than `<number><unit>` pairs.
    #[error("invalid duration {0:?}: expected <number><unit>..., units ns us ms s m h d (e.g. 90s, 5m, 1h30m, 30d)")]
    Invalid(String),
}

/// Parses a duration such as `90s`, `1h30m` or `30d` (a day is exactly 86 400 s).
///
/// # Errors
/// [`DurationError`] when the string is empty, has no unit, has an unknown unit or a
/// negative or non-finite number.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    let bad = || DurationError::Invalid(s.to_string());
    let mut total_ns: f64 = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest.char_indices().find(|(_, c)| !(c.is_ascii_digit() || *c == '.')).map(|(i, _)| i).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.char_indices().find(|(_, c)| c.is_ascii_digit() || *c == '.').map(|(i, _)| i).unwrap_or(rest.len());
        let unit_ns = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total_ns += num * unit_ns;
    }
    if !total_ns.is_finite() || total_ns < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

/// Formats a duration the way the input was written, largest units first: `1h30m`, `30d`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    let mut ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000_000_000u128),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if ns >= size {
            out.push_str(&format!("{}{}", ns / size, unit));
            ns %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn refuses_garbage() {
        for s in ["", "90", "5x", "m", "-1s", "1h30"] {
            assert!(parse_duration(s).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(30 * 86400)), "30d");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }
}
