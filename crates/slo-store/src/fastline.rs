//! A fast path for the common k6 `Point` line: a hand-rolled scanner that accepts only
//! the plain shape (`type`, `metric`, `data{time,value,tags}`, strings without escapes)
//! and gives up (`None`) on anything else, so the caller falls back to the full
//! serde_json parse, which has the complete JSON semantics and the error messages.
//! Whatever it accepts, it must read exactly as serde_json would (tested below).

use std::borrow::Cow;

use crate::json::TagVec;

/// A `Point` line's fields, borrowed from the line.
pub(crate) struct FastPoint<'a> {
    pub(crate) metric: &'a str,
    pub(crate) time: &'a str,
    pub(crate) value: f64,
    /// The `tags` value's text as written (`{...}`, `null`, or `""` when absent): two
    /// lines with equal texts have equal tags.
    pub(crate) tags_raw: &'a str,
}

struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// A string without escapes or control characters.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        // Eight bytes at a time up to the first '"', '\\' or control byte.
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        while self.i + 8 <= self.b.len() {
            let w = u64::from_le_bytes(self.b[self.i..self.i + 8].try_into().expect("8 bytes"));
            let q = w ^ (LO * b'"' as u64);
            let bs = w ^ (LO * b'\\' as u64);
            // zero-byte and below-0x20 tests; the lowest flagged byte is exact.
            let hit = (q.wrapping_sub(LO) & !q) | (bs.wrapping_sub(LO) & !bs) | (w.wrapping_sub(LO * 0x20) & !w);
            let hit = hit & HI;
            if hit != 0 {
                self.i += (hit.trailing_zeros() / 8) as usize;
                break;
            }
            self.i += 8;
        }
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    let v = &self.s[start..self.i];
                    self.i += 1;
                    return Some(v);
                }
                b'\\' | 0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        None
    }

    /// A JSON number (RFC 8259 grammar), parsed exactly by Rust's `f64` parser.
    fn number(&mut self) -> Option<f64> {
        self.ws();
        let b = self.b;
        let start = self.i;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return None;
            }
        }
        self.i = i;
        let v: f64 = self.s[start..i].parse().ok()?;
        // serde_json rejects numbers that overflow to infinity.
        v.is_finite().then_some(v)
    }

    fn null(&mut self) -> bool {
        self.ws();
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    /// `,` (true) or the closing `}` (false).
    #[inline]
    fn next_member(&mut self) -> Option<bool> {
        self.ws();
        match self.b.get(self.i) {
            Some(b',') => {
                self.i += 1;
                Some(true)
            }
            Some(b'}') => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    fn tags(&mut self, tags: &mut TagVec<'a>) -> Option<()> {
        if self.null() {
            return Some(());
        }
        self.eat(b'{')?;
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Some(());
        }
        loop {
            let k = self.string()?;
            self.eat(b':')?;
            let v = self.string()?;
            tags.push((Cow::Borrowed(k), Cow::Borrowed(v)));
            if !self.next_member()? {
                return Some(());
            }
        }
    }

    /// The `data` object. `tags` holds the tags of the line whose tags text was `prev`;
    /// when this line's tags text is the same, they are kept without parsing.
    fn data(&mut self, tags: &mut TagVec<'a>, prev: &str) -> Option<(&'a str, f64, &'a str)> {
        self.eat(b'{')?;
        let (mut time, mut value, mut raw) = (None, None, None);
        loop {
            let k = self.string()?;
            self.eat(b':')?;
            match k {
                "time" if time.is_none() => time = Some(self.string()?),
                "value" if value.is_none() => value = Some(self.number()?),
                "tags" if raw.is_none() => {
                    self.ws();
                    let start = self.i;
                    if !prev.is_empty() && self.b[start..].starts_with(prev.as_bytes()) {
                        self.i += prev.len();
                    } else {
                        tags.clear();
                        self.tags(tags)?;
                    }
                    raw = Some(&self.s[start..self.i]);
                }
                _ => return None,
            }
            if !self.next_member()? {
                break;
            }
        }
        if raw.is_none() {
            tags.clear();
        }
        Some((time?, value?, raw.unwrap_or("")))
    }
}

/// Parses a plain k6 `Point` line into `tags` and the returned fields; `None` when the
/// line is anything else (the caller must then clear `tags` and use the full parser).
/// `prev` is the [`FastPoint::tags_raw`] of the line whose tags `tags` holds (`""` for
/// none): an equal tags text keeps them as they are, unparsed.
pub(crate) fn fast_point<'a>(line: &'a str, tags: &mut TagVec<'a>, prev: &str) -> Option<FastPoint<'a>> {
    let mut p = Scan { s: line, b: line.as_bytes(), i: 0 };
    p.eat(b'{')?;
    let (mut is_point, mut metric, mut data) = (false, None, None);
    loop {
        let k = p.string()?;
        p.eat(b':')?;
        match k {
            "type" if !is_point => {
                if p.string()? != "Point" {
                    return None;
                }
                is_point = true;
            }
            "metric" if metric.is_none() => metric = Some(p.string()?),
            "data" if data.is_none() => data = Some(p.data(tags, prev)?),
            _ => return None,
        }
        if !p.next_member()? {
            break;
        }
    }
    p.ws();
    if p.i != p.b.len() || !is_point {
        return None;
    }
    let (time, value, tags_raw) = data?;
    Some(FastPoint { metric: metric?, time, value, tags_raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_at_every_length_and_stop_byte() {
        for n in 0..24 {
            for stop in ["\"", "\\", "\u{1}"] {
                let body = "é".repeat(n / 2) + &"a".repeat(n % 2);
                let text = format!("\"{body}{stop}rest\"");
                let mut p = Scan { s: &text, b: text.as_bytes(), i: 0 };
                let got = p.string();
                if stop == "\"" {
                    assert_eq!(got, Some(body.as_str()));
                } else {
                    assert_eq!(got, None, "{text:?}");
                }
            }
        }
    }

    /// The fast path either declines or agrees with serde_json on every line.
    #[test]
    fn agrees_with_serde_or_declines() {
        let lines = [
            r#"{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-29T17:03:02.333004854Z","value":1,"tags":{"group":"","name":"home"}}}"#,
            r#"{"metric": "vus", "type": "Point", "data": {"time": "2020-03-06T16:48:02.7835683+08:00", "value": 2, "tags": null}}"#,
            r#"{"type":"Point","data":{"tags":{},"value":-2.5e-3,"time":"t"},"metric":"m"}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":4.629122,"tags":{"a":"b"}}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":0.1,"tags":{"a":"caf\u00e9"}}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":1,"tags":{}},"metadata":{"x":"1"}}"#,
            r#"{"type":"Metric","metric":"m","data":{"name":"m","type":"trend"}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":01}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":1.}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":1e999}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":1}} x"#,
            r#"{"type":"Point","metric":"m","metric":"n","data":{"time":"t","value":1}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":"1"}}"#,
            r#"{"type":"Point","metric":"m","data":{"time":"t","value":123456789.123456789e-5,"tags":{"k":"é ü 日本"}}}"#,
        ];
        let mut accepted = 0;
        for l in lines {
            let mut tags = Vec::new();
            let Some(fp) = fast_point(l, &mut tags, "") else { continue };
            accepted += 1;
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["type"], "Point");
            assert_eq!(v["metric"].as_str().unwrap(), fp.metric, "{l}");
            assert_eq!(v["data"]["time"].as_str().unwrap(), fp.time, "{l}");
            assert_eq!(v["data"]["value"].as_f64().unwrap().to_bits(), fp.value.to_bits(), "{l}");
            let want: Vec<(String, String)> = match &v["data"]["tags"] {
                serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect(),
                _ => vec![],
            };
            let mut got: Vec<(String, String)> = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            got.sort();
            assert_eq!(got, want, "{l}");
        }
        // lines 1-4 and 14 are the plain shape
        assert_eq!(accepted, 5);
    }

    /// A line whose tags text equals the previous line's keeps the parsed tags; any
    /// other text (even a prefix of it) is parsed afresh.
    #[test]
    fn equal_tags_text_is_reused_and_different_is_parsed() {
        let a = r#"{"type":"Point","metric":"m","data":{"time":"t","value":1,"tags":{"name":"a","k":"v"}}}"#;
        let b = r#"{"type":"Point","metric":"n","data":{"time":"t","value":2,"tags":{"name":"a","k":"v"}}}"#;
        let c = r#"{"type":"Point","metric":"n","data":{"time":"t","value":3,"tags":{"name":"a"}}}"#;
        let d = r#"{"type":"Point","metric":"n","data":{"time":"t","value":4}}"#;
        let mut tags = Vec::new();
        let fa = fast_point(a, &mut tags, "").unwrap();
        assert_eq!(fa.tags_raw, r#"{"name":"a","k":"v"}"#);
        let raw = fa.tags_raw;
        let fb = fast_point(b, &mut tags, raw).unwrap();
        assert_eq!(fb.tags_raw, raw);
        assert_eq!(tags.len(), 2);
        let fc = fast_point(c, &mut tags, fb.tags_raw).unwrap();
        assert_eq!(fc.tags_raw, r#"{"name":"a"}"#);
        assert_eq!(tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect::<Vec<_>>(), vec![("name", "a")]);
        let fd = fast_point(d, &mut tags, fc.tags_raw).unwrap();
        assert_eq!(fd.tags_raw, "");
        assert!(tags.is_empty());
    }
}
