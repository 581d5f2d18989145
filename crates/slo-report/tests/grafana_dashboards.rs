//! `slo dashboard export`: the committed seed dashboards are current, validate against
//! Grafana's dashboard schema (tests/fixtures/grafana/dashboard.schema.json, generated from
//! @grafana/schema), and carry the reference document's panels and one row per SLO with
//! its target as a threshold line.
//!
//! `SLO_UPDATE_DASHBOARDS=1 cargo test -p slo-report --test grafana_dashboards` rewrites
//! `dashboards/seed-prometheus.json` and `dashboards/seed-influxdb.json`; without it the test
//! fails when they drift.

use std::path::{Path, PathBuf};

use serde_json::Value;
use slo_config::parse_slo_config;
use slo_report::grafana::{dashboard_queries, export_dashboard, render_dashboard, DashboardOptions, Datasource, MetricsSource};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seed() -> slo_config::SloConfig {
    // Named as the committed dashboards name it, whatever the working directory.
    let text = std::fs::read_to_string(root().join("slo/seed.slo-config.yaml")).unwrap();
    parse_slo_config(&text, "slo/seed.slo-config.yaml").unwrap()
}

fn opts(ds: Datasource, m: MetricsSource) -> DashboardOptions {
    DashboardOptions { datasource: ds, metrics: m }
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/grafana/dashboard.schema.json")).unwrap()).unwrap();
    jsonschema::draft7::new(&schema).expect("Grafana schema compiles")
}

fn assert_valid(v: &jsonschema::Validator, d: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(d).take(5).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} fails Grafana's schema: {errors:#?}");
}

#[test]
fn committed_seed_dashboards_are_current() {
    let cfg = seed();
    for (ds, file) in [(Datasource::Prometheus, "seed-prometheus.json"), (Datasource::Influxdb, "seed-influxdb.json")] {
        let text = render_dashboard(&cfg, &opts(ds, MetricsSource::Slo));
        let path = root().join("dashboards").join(file);
        if std::env::var("SLO_UPDATE_DASHBOARDS").as_deref() == Ok("1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else {
            let have =
                std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (SLO_UPDATE_DASHBOARDS=1 writes it)", path.display()));
            assert!(
                have == text,
                "{} drifted from `slo dashboard export`; rerun with SLO_UPDATE_DASHBOARDS=1 and review the diff",
                path.display()
            );
        }
    }
}

#[test]
fn every_export_validates_against_grafana_schema() {
    let v = validator();
    let cfg = seed();
    for ds in [Datasource::Prometheus, Datasource::Influxdb] {
        for m in [MetricsSource::Slo, MetricsSource::K6] {
            let d = export_dashboard(&cfg, &opts(ds, m));
            assert_valid(&v, &d, &format!("{ds:?}/{m:?}"));
        }
    }
    for file in ["seed-prometheus.json", "seed-influxdb.json"] {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(root().join("dashboards").join(file)).unwrap()).unwrap();
        assert_valid(&v, &d, file);
    }
}

#[test]
fn the_schema_check_can_fail() {
    let v = validator();
    let mut d = export_dashboard(&seed(), &opts(Datasource::Prometheus, MetricsSource::Slo));
    d["panels"][1]["gridPos"]["h"] = Value::from("8");
    assert!(!v.is_valid(&d), "a string gridPos.h must be refused");
    let mut d = export_dashboard(&seed(), &opts(Datasource::Prometheus, MetricsSource::Slo));
    d["__inputs"] = Value::Array(vec![]);
    assert!(!v.is_valid(&d), "an unknown top-level key must be refused");
}

fn panels(d: &Value) -> Vec<&Value> {
    d["panels"].as_array().unwrap().iter().collect()
}

#[test]
fn panel_types_variables_and_reference_panels() {
    for ds in [Datasource::Prometheus, Datasource::Influxdb] {
        let d = export_dashboard(&seed(), &opts(ds, MetricsSource::Slo));
        assert!(d["schemaVersion"].as_u64().unwrap() >= 39);
        for p in panels(&d) {
            let t = p["type"].as_str().unwrap();
            assert!(["row", "timeseries", "stat", "table"].contains(&t), "panel type {t}");
            if t != "row" {
                assert_eq!(p["datasource"]["uid"], "${datasource}");
            }
        }
        let vars = d["templating"]["list"].as_array().unwrap();
        assert_eq!(vars[0]["type"], "datasource");
        assert_eq!(vars[0]["query"], ds.plugin_id());
        assert_eq!(vars[1]["name"], "testid");
        let want = match ds {
            Datasource::Prometheus => "label_values(k6_http_reqs_total, testid)",
            Datasource::Influxdb => "SHOW TAG VALUES FROM \"http_reqs\" WITH KEY = \"testid\"",
        };
        assert_eq!(vars[1]["query"], want);
        let titles: Vec<&str> = panels(&d).iter().map(|p| p["title"].as_str().unwrap()).collect();
        for t in [
            "Request rate by method and URL name",
            "Response time p95",
            "Error %",
            "Virtual users",
            "p95 response time by endpoint",
            "Checks passed %",
            "Dropped iterations",
        ] {
            assert!(titles.contains(&t), "{ds:?}: no panel {t:?} in {titles:?}");
        }
        // No two panels overlap on the 24-column grid.
        let boxes: Vec<(u64, u64, u64, u64)> = panels(&d)
            .iter()
            .map(|p| {
                let g = &p["gridPos"];
                (g["x"].as_u64().unwrap(), g["y"].as_u64().unwrap(), g["w"].as_u64().unwrap(), g["h"].as_u64().unwrap())
            })
            .collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.0 + a.2 <= 24);
            for b in &boxes[i + 1..] {
                let overlap = a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3;
                assert!(!overlap, "{a:?} overlaps {b:?}");
            }
        }
    }
}

/// Each SLO of the seed has a row whose timeseries draws the target as a threshold line.
/// Targets from slo/seed.slo-config.yaml: availability 99.9 %, p50 100 ms, p95 500 ms,
/// p99 1000 ms, 1000 requests/s, error rate 0.1 %; Prometheus latency is in seconds.
#[test]
fn one_row_per_slo_with_its_target_as_a_threshold_line() {
    for (ds, lat) in [(Datasource::Prometheus, [0.1, 0.5, 1.0]), (Datasource::Influxdb, [100.0, 500.0, 1000.0])] {
        let d = export_dashboard(&seed(), &opts(ds, MetricsSource::Slo));
        let all = panels(&d);
        let rows: Vec<&str> = all.iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().unwrap()).collect();
        let want = [
            ("availability", 99.9, "percent"),
            ("latency.p50", lat[0], if lat[0] < 1.0 { "s" } else { "ms" }),
            ("latency.p95", lat[1], if lat[0] < 1.0 { "s" } else { "ms" }),
            ("latency.p99", lat[2], if lat[0] < 1.0 { "s" } else { "ms" }),
            ("throughput", 1000.0, "reqps"),
            ("error_rate", 0.1, "percent"),
        ];
        for (name, target, unit) in want {
            assert!(rows.iter().any(|r| r.starts_with(&format!("SLO {name}"))), "{ds:?}: no row for {name} in {rows:?}");
            let ts = all.iter().find(|p| p["title"] == format!("{name} over time")).unwrap();
            assert_eq!(ts["type"], "timeseries");
            let f = &ts["fieldConfig"]["defaults"];
            assert_eq!(f["custom"]["thresholdsStyle"]["mode"], "line", "{name}");
            assert_eq!(f["unit"], unit, "{name}");
            let steps: Vec<f64> = f["thresholds"]["steps"].as_array().unwrap().iter().filter_map(|s| s["value"].as_f64()).collect();
            assert_eq!(steps, [target], "{ds:?} {name}");
            let stat = all.iter().find(|p| p["title"] == format!("{name} (time range)")).unwrap();
            assert_eq!(stat["type"], "stat");
            assert_eq!(stat["fieldConfig"]["defaults"]["thresholds"], f["thresholds"]);
        }
    }
}

#[test]
fn filter_values_are_escaped_for_each_query_language() {
    let cfg = parse_slo_config(
        "service: s\nslos:\n  availability: {target: 99, window: 7d, filter: {name: \"it's \\\"q\\\" \\\\x\"}}\n",
        "e.yaml",
    )
    .unwrap();
    assert_eq!(cfg.slos[0].filter, [("name".to_string(), "it's \"q\" \\x".to_string())]);
    let p = export_dashboard(&cfg, &opts(Datasource::Prometheus, MetricsSource::Slo));
    let q: Vec<String> = dashboard_queries(&p).into_iter().map(|q| q.text).collect();
    assert!(q.iter().any(|t| t.contains(r#"name="it's \"q\" \\x""#)), "{q:#?}");
    let i = export_dashboard(&cfg, &opts(Datasource::Influxdb, MetricsSource::Slo));
    let q: Vec<String> = dashboard_queries(&i).into_iter().map(|q| q.text).collect();
    assert!(q.iter().any(|t| t.contains(r#""name" = 'it\'s "q" \\x'"#)), "{q:#?}");
}

#[test]
fn k6_metrics_read_k6_names() {
    let d = export_dashboard(&seed(), &opts(Datasource::Prometheus, MetricsSource::K6));
    let q: Vec<String> = dashboard_queries(&d).into_iter().map(|q| q.text).collect();
    assert!(q.iter().any(|t| t.contains("k6_http_req_duration_p95")));
    assert!(q.iter().any(|t| t.contains("k6_checks_rate")));
    assert!(!q.iter().any(|t| t.contains("_bucket") || t.contains("k6_http_req_failed_total") || t.contains("k6_checks_total")));
}
