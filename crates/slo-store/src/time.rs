//! A strict, allocation-free RFC 3339 timestamp parser (the form k6 writes in NDJSON:
//! Go's `time.RFC3339Nano`), returning UTC nanoseconds since the Unix epoch.

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)` into nanoseconds since the
/// Unix epoch, UTC (an offset is subtracted: `10:00+08:00` is `02:00Z`). `T` may also be
/// `t` or a space and `Z` may be `z` (RFC 3339 §5.6). Errors name what is wrong; a result
/// outside i64 nanoseconds (years before 1677 or after 2262) is an error.
pub fn parse_rfc3339_ns(s: &str) -> Result<i64, &'static str> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return Err("timestamp too short for RFC 3339 (YYYY-MM-DDTHH:MM:SSZ)");
    }
    let year = digits(&b[0..4])? as i64;
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return Err("timestamp is not RFC 3339 (YYYY-MM-DDTHH:MM:SS)");
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return Err("timestamp lacks the 'T' between date and time");
    }
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let mut i = 19;
    let mut frac_ns: i64 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err("no digits after the decimal point of the seconds");
        }
        if n > 9 {
            return Err("more than 9 fraction digits in the seconds");
        }
        for &c in &b[start..i] {
            frac_ns = frac_ns * 10 + (c - b'0') as i64;
        }
        for _ in n..9 {
            frac_ns *= 10;
        }
    }
    let offset_s: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = digits(&b[i + 1..i + 3])? as i64;
            let om = digits(&b[i + 4..i + 6])? as i64;
            if oh > 23 || om > 59 {
                return Err("UTC offset out of range");
            }
            let o = oh * 3600 + om * 60;
            if sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err("timestamp must end with Z or a +HH:MM/-HH:MM offset"),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64 - offset_s;
    secs.checked_mul(1_000_000_000)
        .and_then(|v| v.checked_add(frac_ns))
        .ok_or("timestamp outside the representable range (years 1677-2262)")
}

fn digits(b: &[u8]) -> Result<u32, &'static str> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return Err("non-digit where the timestamp needs a digit");
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Ok(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_ns(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap()
    }

    #[test]
    fn agrees_with_chrono() {
        for s in [
            "2020-03-06T16:48:02.7835683+08:00",
            "2024-05-01T10:00:00.000000001Z",
            "2024-05-01T10:00:10Z",
            "2026-11-29T17:03:02.333004854Z",
            "2024-02-29T23:59:59.5-05:30",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.9Z",
            "2000-03-01t00:00:00.1z",
        ] {
            assert_eq!(parse_rfc3339_ns(s), Ok(chrono_ns(s)), "{s}");
        }
    }

    #[test]
    fn offset_converts_to_utc() {
        // 16:48:02.7835683 at +08:00 is 08:48:02.7835683 UTC on 2020-03-06:
        // 2020-03-06 is day 18327 since the epoch (hand: 50 years incl. 12 leap days
        // = 18262 days to 2020-01-01, + 31 + 29 + 5).
        let want = (18_327i64 * 86_400 + 8 * 3600 + 48 * 60 + 2) * 1_000_000_000 + 783_568_300;
        assert_eq!(parse_rfc3339_ns("2020-03-06T16:48:02.7835683+08:00"), Ok(want));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "2024-05-01 10:00:00",
            "2024-05-01T10:00:00",
            "2024-13-01T10:00:00Z",
            "2023-02-29T10:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00.1234567890Z",
            "2024-05-01T10:00:00+0800",
            "2024-05-01T10:00:00Zjunk",
            "3000-01-01T00:00:00Z",
            "2024-05-0xT10:00:00Z",
        ] {
            assert!(parse_rfc3339_ns(s).is_err(), "{s}");
        }
    }
}
