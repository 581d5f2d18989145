//! Number, unit and text formatting shared by the renderers.

use slo_analyze::Unit;

/// Formats a measured value with its unit for people: at most 6 significant digits
/// (never scientific notation for the magnitudes load tests produce), then the unit
/// symbol (`ms`, `bytes`, `1/s`, `bytes/s`; nothing for plain numbers and ratios).
pub fn format_value(v: f64, unit: Unit) -> String {
    let n = format_number(v);
    match unit {
        Unit::None => n,
        Unit::Millis => format!("{n} ms"),
        u => format!("{n} {}", u.symbol()),
    }
}

/// A number with at most 6 significant digits, trailing zeros trimmed: `123.457`,
/// `0.00123457`, `1234570` stays `1234570`. Infinities read `inf`, NaN reads `NaN`.
pub fn format_number(v: f64) -> String {
    format_sig(v, 6)
}

/// A number with at most `digits` significant digits (1..=15), trailing zeros trimmed;
/// integer parts are never rounded away: `format_sig(1234.6, 3)` is `1235`.
pub fn format_sig(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - mag).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A ratio in [0, 1] as a percentage with up to 4 decimals: `0.99912` → `99.912%`.
pub fn format_percent(r: f64) -> String {
    if !r.is_finite() {
        return format_number(r);
    }
    let s = format!("{:.4}", r * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// Seconds as a short duration: `45s`, `1h30m`, `30d`, `2.5s`.
pub fn format_seconds(s: f64) -> String {
    if s.fract() != 0.0 && s < 60.0 {
        return format!("{}s", format_number(s));
    }
    if s.fract() != 0.0 && s < 3600.0 {
        // 1m0.35s: minutes, then seconds to the hundredth.
        let m = (s / 60.0).floor();
        let rest = format!("{:.2}", s - m * 60.0);
        let rest = rest.trim_end_matches('0').trim_end_matches('.');
        return format!("{m}m{rest}s");
    }
    slo_model::duration::format_duration(std::time::Duration::from_secs(s.max(0.0).round() as u64))
}

/// Escapes text for XML and HTML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a Markdown table cell (pipes, backticks, line breaks, HTML).
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c)
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Lays out rows as aligned columns (2 spaces apart), header first, widths by chars.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            l.push_str(c);
            if i + 1 < cells.len() {
                l.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_number(123.456789), "123.457");
        assert_eq!(format_number(0.0012345678), "0.00123457");
        assert_eq!(format_number(500.0), "500");
        assert_eq!(format_number(1234567.0), "1234567");
        assert_eq!(format_value(4.5, Unit::Millis), "4.5 ms");
        assert_eq!(format_percent(0.99912), "99.912%");
        assert_eq!(format_seconds(5400.0), "1h30m");
        assert_eq!(format_seconds(2.5), "2.5s");
        assert_eq!(format_seconds(60.349836703), "1m0.35s");
        assert_eq!(format_seconds(3723.4), "1h2m3s");
        assert_eq!(format_sig(2.06151, 3), "2.06");
        assert_eq!(format_sig(1234.6, 3), "1235");
        assert_eq!(format_sig(0.000123456, 2), "0.00012");
    }

    #[test]
    fn escapes() {
        assert_eq!(xml_escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&apos;");
        assert_eq!(md_escape("a|b`c"), "a\\|b\\`c");
    }
}
