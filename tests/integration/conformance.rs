//! Conformance with k6 itself: every real k6 v1.1.0 recording in sample-data/ and
//! tests/fixtures/k6/ is imported, judged with the script's own thresholds (from `k6
//! inspect`), and every metric and sub-metric value `slo check --format json` reports is
//! compared with k6's own `--summary-export` of the same run: equal to relative 1e-12.
//! The one allowed difference is a counter's per-second `rate`: k6 divides by the test's
//! wall clock, which NDJSON does not carry; slo divides by first-to-last point (<= 1%).

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{check_json, import, repo, Scratch};

/// One recording: samples, k6's summary export, k6 inspect output.
struct Recording {
    name: String,
    samples: PathBuf,
    summary: PathBuf,
    inspect: PathBuf,
}

fn recordings() -> Vec<Recording> {
    let mut v = Vec::new();
    for which in ["baseline", "candidate"] {
        v.push(Recording {
            name: format!("sample-data/{which}"),
            samples: repo(&format!("sample-data/{which}.json.gz")),
            summary: repo(&format!("sample-data/{which}.summary.json")),
            inspect: repo("sample-data/shop.inspect.json"),
        });
    }
    let dir = repo("tests/fixtures/k6");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("tests/fixtures/k6").flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for d in dirs {
        let samples = ["samples.json.gz", "samples.ndjson", "samples.json"].iter().map(|f| d.join(f)).find(|p| p.exists());
        let (Some(samples), true) = (samples, d.join("summary-export.json").exists()) else { continue };
        v.push(Recording {
            name: format!("fixtures/{}", d.file_name().unwrap().to_string_lossy()),
            samples,
            summary: d.join("summary-export.json"),
            inspect: d.join("inspect.json"),
        });
    }
    v
}

/// k6's summary key with tag filters normalised the way slo keys sub-metrics: filters
/// trimmed, unquoted and sorted by key.
fn normalise_key(k: &str) -> String {
    let Some(open) = k.find('{') else { return k.to_string() };
    let metric = &k[..open];
    let inner = k[open + 1..].trim_end_matches('}');
    let mut filters: Vec<(String, String)> = inner
        .split(',')
        .map(|f| {
            let (a, b) = f.split_once(':').expect("k6 filter has ':'");
            let b = b.trim();
            let b = b
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| b.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(b);
            (a.trim().to_string(), b.to_string())
        })
        .collect();
    filters.sort();
    let f: Vec<String> = filters.iter().map(|(a, b)| format!("{a}:{b}")).collect();
    format!("{metric}{{{}}}", f.join(","))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// Compares one recording; returns the number of values compared.
fn conform(r: &Recording) -> usize {
    let scratch = Scratch::new();
    let store = scratch.store();
    import(&store, &r.samples, "run");
    let (_, report) = check_json(&store, &["--run", "run", "--k6-options", &r.inspect.display().to_string()]);
    let k6: Value = serde_json::from_slice(&std::fs::read(&r.summary).unwrap()).unwrap();
    let slo_metrics = report["metrics"].as_object().expect("metrics object");
    let mut compared = 0;
    let mut failures = Vec::new();
    for (key, stats) in k6["metrics"].as_object().unwrap() {
        let nkey = normalise_key(key);
        let Some(ours) = slo_metrics.get(&nkey) else {
            // k6 summarises a metric that got no sample at all as zeros (case 01); slo
            // has nothing to summarise and must judge its thresholds NO DATA instead.
            let all_zero = stats.as_object().unwrap().iter().filter(|(s, _)| *s != "thresholds").all(|(_, v)| v.as_f64() == Some(0.0));
            let judged: Vec<&Value> = report["thresholds"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| {
                    // A parent metric k6 lists only because a sub-metric of it has thresholds.
                    let tk = normalise_key(t["metric_key"].as_str().unwrap());
                    tk == nkey || (!nkey.contains('{') && tk.split('{').next() == Some(nkey.as_str()))
                })
                .collect();
            if !all_zero {
                failures.push(format!("{key}: missing from slo's report though k6 has values"));
            } else if judged.is_empty() || judged.iter().any(|t| t["verdict"] != "no_data") {
                failures.push(format!("{key}: no samples, but slo's thresholds on it are not all no_data: {judged:?}"));
            }
            compared += 1;
            continue;
        };
        let no_data = match ours["type"].as_str().unwrap() {
            "trend" => ours["count"] == 0,
            "rate" => ours["total"] == 0,
            "counter" | "gauge" => ours["samples"] == 0,
            t => panic!("unknown type {t}"),
        };
        for (stat, k6v) in stats.as_object().unwrap() {
            if stat == "thresholds" {
                continue;
            }
            let k6v = k6v.as_f64().unwrap();
            let ours_v = &ours[stat.as_str()];
            if ours_v.is_null() {
                // k6 reports 0 for a (sub-)metric without samples; slo reports no data.
                if no_data && k6v == 0.0 {
                    continue;
                }
                failures.push(format!("{key} {stat}: slo has no value, k6 {k6v}"));
                continue;
            }
            let v = ours_v.as_f64().unwrap();
            let is_counter_rate = ours["type"] == "counter" && stat == "rate";
            let tol = if is_counter_rate { 0.01 } else { 1e-12 };
            compared += 1;
            if !close(v, k6v, tol) {
                failures.push(format!("{key} {stat}: slo {v:?} vs k6 {k6v:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}: {} of the values differ from k6's summary:\n  {}", r.name, failures.len(), failures.join("\n  "));
    compared
}

#[test]
fn every_k6_recording_agrees_with_k6s_summary() {
    let recs = recordings();
    assert!(recs.len() >= 8, "expected sample-data's 2 runs and at least 6 fixture runs, found {}", recs.len());
    let mut total = 0;
    for r in &recs {
        let n = conform(r);
        assert!(n > 20, "{}: only {n} values compared", r.name);
        total += n;
    }
    eprintln!("compared {total} values over {} recordings", recs.len());
}

#[test]
fn keys_normalise_like_slo() {
    assert_eq!(normalise_key("http_reqs{status:500, name:login}"), "http_reqs{name:login,status:500}");
    assert_eq!(normalise_key("http_reqs{name:\"login\"}"), "http_reqs{name:login}");
    assert_eq!(normalise_key("http_reqs"), "http_reqs");
}
