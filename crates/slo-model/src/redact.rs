//! Credentials out of anything that is shown: URLs in messages, logs and reports.

/// `url` fit to print: user info (`user:password@`) becomes `***@`, and the values of
/// credential query parameters (`token`, `p`, `password`, `u`) become `***`. Works on a
/// bare URL, on a `kind=URL` spec and on a URL without a scheme (`user:pw@host/db`);
/// anything else comes back unchanged.
pub fn redact_url(url: &str) -> String {
    // Where the authority starts: after `://`, else at the start (a schemeless URL) or
    // after a `kind=` prefix.
    let start = match url.find("://") {
        Some(i) => i + 3,
        None => url.find('=').filter(|&i| !url[..i].contains(['/', '?', '@'])).map_or(0, |i| i + 1),
    };
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..start]);
    match rest[..end].rfind('@') {
        Some(at) => {
            out.push_str("***@");
            out.push_str(&rest[at + 1..end]);
        }
        None => out.push_str(&rest[..end]),
    }
    let tail = &rest[end..];
    match tail.split_once('?') {
        None => out.push_str(tail),
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((k, _)) if matches!(k, "token" | "p" | "password" | "u") => {
                        out.push_str(k);
                        out.push_str("=***");
                    }
                    _ => out.push_str(pair),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn credentials_never_survive() {
        assert_eq!(redact_url("http://user:secret@127.0.0.1:8086/k6"), "http://***@127.0.0.1:8086/k6");
        assert_eq!(redact_url("influxdb=http://u:pw@h:1/db?p=pw&rp=x"), "influxdb=http://***@h:1/db?p=***&rp=x");
        assert_eq!(redact_url("user:secret@h/db"), "***@h/db");
        assert_eq!(redact_url("http://h:9090/api/v1/write"), "http://h:9090/api/v1/write");
        assert_eq!(redact_url("notaurl"), "notaurl");
        assert_eq!(redact_url("http://h/x?token=abc"), "http://h/x?token=***");
    }
}
