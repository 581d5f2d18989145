//! Writes a synthetic k6 `--out json` NDJSON file shaped like real k6 v1.x output
//! (Metric lines before first use, 11 HTTP metrics per request, iteration metrics).
//! Usage: `cargo run --release -p slo-store --example k6gen -- OUT LINES`
use std::io::{BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).expect("usage: k6gen OUT LINES");
    let lines: u64 = args.get(2).map_or(2_000_000, |s| s.parse().expect("LINES is a number"));
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out).expect("create OUT"));
    let http = [
        ("http_reqs", "counter", "default"),
        ("http_req_duration", "trend", "time"),
        ("http_req_blocked", "trend", "time"),
        ("http_req_connecting", "trend", "time"),
        ("http_req_tls_handshaking", "trend", "time"),
        ("http_req_sending", "trend", "time"),
        ("http_req_waiting", "trend", "time"),
        ("http_req_receiving", "trend", "time"),
        ("http_req_failed", "rate", "default"),
        ("data_sent", "counter", "data"),
        ("data_received", "counter", "data"),
    ];
    let names = ["home", "login", "GET /api/items/${id}", "checkout"];
    let mut declared = std::collections::HashSet::new();
    let mut n = 0u64;
    let mut t_ns: i64 = 1_714_557_600_000_000_000;
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    while n < lines {
        t_ns += (rnd() % 2_000_000) as i64;
        let name = names[(rnd() % 4) as usize];
        let status = if rnd() % 50 == 0 { "500" } else { "200" };
        let time = chrono::DateTime::from_timestamp_nanos(t_ns).format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string();
        let tags = format!(
            r#"{{"expected_response":"{}","group":"","method":"GET","name":"{name}","proto":"HTTP/1.1","scenario":"default","status":"{status}","url":"http://127.0.0.1:8080/{name}"}}"#,
            status == "200"
        );
        for (m, ty, contains) in http.iter().chain([("iteration_duration", "trend", "time"), ("iterations", "counter", "default")].iter()) {
            if n >= lines {
                break;
            }
            if declared.insert(*m) {
                writeln!(w, r#"{{"metric":"{m}","type":"Metric","data":{{"name":"{m}","type":"{ty}","contains":"{contains}","thresholds":[],"submetrics":null}}}}"#).unwrap();
                n += 1;
            }
            let v = match *ty {
                "counter" if *contains == "data" => (rnd() % 5000) as f64,
                "counter" | "rate" => (status != "200") as u8 as f64,
                _ => (rnd() % 10_000_000) as f64 / 1000.0,
            };
            let t = if m.starts_with("iteration") { r#"{"group":"","scenario":"default"}"#.to_string() } else { tags.clone() };
            writeln!(w, r#"{{"metric":"{m}","type":"Point","data":{{"time":"{time}","value":{v},"tags":{t}}}}}"#).unwrap();
            n += 1;
        }
    }
    w.flush().unwrap();
}
