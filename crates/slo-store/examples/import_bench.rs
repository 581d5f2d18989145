//! Imports a k6 NDJSON file into a fresh store and scans it back, printing lines/s and
//! points/s. Usage: `cargo run --release -p slo-store --example import_bench -- FILE STORE_DIR`
use std::time::Instant;

use slo_store::{import_k6_json, ImportOptions, LocalStore, ScanOptions, TagLookup};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = std::path::PathBuf::from(args.get(1).expect("usage: import_bench FILE STORE_DIR"));
    let dir = args.get(2).expect("usage: import_bench FILE STORE_DIR");
    let store = LocalStore::open(dir).expect("open store");
    let rep = import_k6_json(&store, &file, ImportOptions::default()).expect("import");
    println!(
        "import: {} lines, {} points, {:.1} MB in {:.3}s = {:.2} M lines/s, {:.0} MB/s (gzip: {})",
        rep.lines,
        rep.points,
        rep.bytes as f64 / 1e6,
        rep.elapsed_s,
        rep.lines as f64 / rep.elapsed_s / 1e6,
        rep.bytes as f64 / rep.elapsed_s / 1e6,
        rep.gzip
    );
    for (label, opts) in [
        ("scan all (metric,time,value only)", ScanOptions { tag_keys: Some(vec![]), ..Default::default() }),
        ("scan all, all tag columns", ScanOptions::default()),
        (
            "scan http_req_duration, tag name",
            ScanOptions { metrics: Some(vec!["http_req_duration".into()]), tag_keys: Some(vec!["name".into()]), ..Default::default() },
        ),
    ] {
        let t0 = Instant::now();
        let mut sum = 0.0f64;
        let mut named = 0u64;
        let st = store
            .scan(&rep.run, &opts, &mut |_m: &str, _t: i64, v: f64, tags: &dyn TagLookup| {
                sum += v;
                if opts.tag_keys.as_ref().is_some_and(|k| !k.is_empty()) && tags.tag("name") == Some("home") {
                    named += 1;
                }
            })
            .expect("scan");
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "{label}: {} points in {:.3}s = {:.1} M points/s (sum {sum:.1}, name=home {named})",
            st.points,
            dt,
            st.points as f64 / dt / 1e6
        );
    }
}
