//! Grafana dashboards from a `slo-config.yaml` (`slo dashboard export`).
//!
//! The dashboard (JSON model, `schemaVersion` [`SCHEMA_VERSION`]) uses only `timeseries`,
//! `stat` and `table` panels and has two template variables: `datasource` (a datasource
//! picker of the chosen type) and `testid` (multi-value, fed by
//! `label_values(k6_http_reqs_total, testid)` or InfluxQL
//! `SHOW TAG VALUES FROM "http_reqs" WITH KEY = "testid"`). Rows:
//! 1. **Overview**: the reference document's four panels: request rate by method and URL
//!    name (requests/s), p95 response time, error % and virtual users.
//! 2. **One row per SLO**: the SLI over time with the SLO target drawn as a threshold line
//!    (`fieldConfig.defaults.thresholds` + `custom.thresholdsStyle.mode = "line"`) and a
//!    stat of the SLI over the dashboard's time range, coloured by the same threshold.
//!    The SLO's tag filter restricts both queries.
//! 3. **Endpoints**: p95 per URL name over time and a table of p50/p95/p99 and request count
//!    per name over the time range.
//! 4. **Checks and iterations**: check pass %, iteration rate, dropped iterations.
//!
//! Data layouts (metric names are fixed by the sinks):
//! - Prometheus, [`MetricsSource::Slo`]: slo's remote-write sink: counters
//!   `k6_http_reqs_total`, `k6_http_req_failed_total`, `k6_checks_total{result}`,
//!   `k6_iterations_total`, `k6_dropped_iterations_total`, gauges `k6_vus`, `k6_vus_max`,
//!   classic histogram `k6_http_req_duration_seconds_bucket{le}` (seconds).
//! - Prometheus, [`MetricsSource::K6`]: k6's `experimental-prometheus-rw` output with
//!   `K6_PROMETHEUS_RW_TREND_STATS` including `p(95)`, `p(99)` and each SLO's `p(NN)`:
//!   `k6_http_req_duration_p95` (seconds, cumulative since the test started), failures as
//!   `k6_http_reqs_total{expected_response="false"}`, `k6_checks_rate`.
//! - InfluxDB 1.x (k6's `--out influxdb` and slo's sink alike): one measurement per k6
//!   metric, field `value`, tags `testid scenario name method status expected_response`;
//!   durations in milliseconds. Identifiers are always double-quoted.
//!
//! Label values of SLO filters are escaped for the query language
//! ([`crate::rules::promql_string`], [`influxql_string`]); JSON escaping is serde_json's.
//! A `$` in a filter value would still be read by Grafana as a variable reference.

use serde_json::{json, Value};
use slo_config::{Objective, Slo, SloConfig};

use crate::rules::{label_matcher, label_name, prom_duration};

/// The dashboard JSON model version written (Grafana 10.3+ reads it without migration).
pub const SCHEMA_VERSION: u32 = 39;

/// Which kind of datasource the queries are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datasource {
    /// PromQL against Prometheus (or Mimir, VictoriaMetrics).
    Prometheus,
    /// InfluxQL against InfluxDB 1.x (or 2.x/3.x through the v1 API).
    Influxdb,
}

impl Datasource {
    /// Grafana's plugin id: `prometheus` or `influxdb`.
    pub fn plugin_id(self) -> &'static str {
        match self {
            Datasource::Prometheus => "prometheus",
            Datasource::Influxdb => "influxdb",
        }
    }
}

/// Which writer's metric names a Prometheus dashboard reads (InfluxDB layouts are the same
/// for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSource {
    /// slo's own Prometheus sink (counters and a classic latency histogram).
    Slo,
    /// k6's `experimental-prometheus-rw` output (trend stats as gauges).
    K6,
}

/// Options of [`export_dashboard`].
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardOptions {
    /// Query language and datasource type.
    pub datasource: Datasource,
    /// Metric names to read (Prometheus only).
    pub metrics: MetricsSource,
}

/// One query of a dashboard, as found by [`dashboard_queries`].
#[derive(Debug, Clone, PartialEq)]
pub struct PanelQuery {
    /// Title of the panel (or `variable NAME` for a template variable).
    pub panel: String,
    /// `refId` of the target.
    pub ref_id: String,
    /// PromQL `expr` or InfluxQL `query`, with Grafana variables still in it.
    pub text: String,
    /// Whether the target is an instant query (PromQL).
    pub instant: bool,
}

/// A dashboard as pretty JSON text with a final newline (what `slo dashboard export` writes).
pub fn render_dashboard(config: &SloConfig, options: &DashboardOptions) -> String {
    let mut s = serde_json::to_string_pretty(&export_dashboard(config, options)).unwrap_or_default();
    s.push('\n');
    s
}

/// Builds the dashboard JSON model for `config` (module docs list the panels).
pub fn export_dashboard(config: &SloConfig, options: &DashboardOptions) -> Value {
    let q = Queries { ds: options.datasource, metrics: options.metrics };
    let mut b = Builder::new(options.datasource);

    b.row("Overview");
    let (e, l) = q.request_rate();
    b.timeseries(
        "Request rate by method and URL name",
        "Requests per second by HTTP method and URL name (k6 `http_reqs`).",
        12,
        q.target("A", &e, &l),
        "reqps",
        None,
    );
    let (e, l, unit) = q.latency(95.0, &[]);
    b.timeseries("Response time p95", "95th percentile of `http_req_duration` over all requests.", 12, q.target("A", &e, &l), unit, None);
    let (e, l) = q.error_percent(&[]);
    b.timeseries("Error %", "Share of requests that failed (k6 `http_req_failed`), percent.", 12, q.target("A", &e, &l), "percent", None);
    let targets = q.vus();
    b.timeseries_multi("Virtual users", "Active virtual users (k6 `vus`).", 12, targets, "short", None);

    for slo in &config.slos {
        slo_row(&mut b, &q, slo);
    }

    b.row("Endpoints");
    let (e, l, unit) = q.latency_by_name(95.0);
    b.timeseries(
        "p95 response time by endpoint",
        "95th percentile of `http_req_duration` per URL name (`name` tag).",
        12,
        q.target("A", &e, &l),
        unit,
        None,
    );
    let (targets, unit) = q.latency_table();
    b.table(
        "Latency by endpoint (time range)",
        "Percentiles and request count per URL name over the dashboard's time range.",
        12,
        targets,
        unit,
    );

    b.row("Checks and iterations");
    let (e, l) = q.checks();
    b.timeseries("Checks passed %", "Share of k6 checks that passed, per check, percent.", 8, q.target("A", &e, &l), "percent", None);
    let (e, l) = q.counter_by_scenario("iterations", true);
    b.timeseries("Iterations per second", "Completed iterations per second, per scenario.", 8, q.target("A", &e, &l), "short", None);
    let (e, l) = q.counter_by_scenario("dropped_iterations", false);
    b.timeseries(
        "Dropped iterations",
        "Iterations the executor could not start (open-model executors fell behind), per interval and scenario.",
        8,
        q.target("A", &e, &l),
        "short",
        None,
    );
    let e = q.dropped_total();
    let th = thresholds(&[("green", None), ("red", Some(1.0))]);
    b.stat(
        "Dropped iterations (time range)",
        "Total dropped iterations over the dashboard's time range; any is red.",
        6,
        q.instant_target("A", &e, ""),
        "short",
        th,
    );

    let title = format!("{} — load tests ({})", config.service, options.datasource.plugin_id());
    let uid = uid_of(&config.service, options);
    let ds_var = json!({
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": options.datasource.plugin_id(),
        "hide": 0,
        "includeAll": false,
        "multi": false,
        "refresh": 1,
        "regex": "",
        "skipUrlSync": false
    });
    let testid_query = match options.datasource {
        Datasource::Prometheus => format!("label_values({}, testid)", "k6_http_reqs_total"),
        Datasource::Influxdb => "SHOW TAG VALUES FROM \"http_reqs\" WITH KEY = \"testid\"".to_string(),
    };
    let testid_var = json!({
        "name": "testid",
        "label": "Test id",
        "type": "query",
        "datasource": b.ds.clone(),
        "query": testid_query,
        "refresh": 2,
        "hide": 0,
        "includeAll": false,
        "multi": true,
        "regex": "",
        "sort": 2,
        "skipUrlSync": false
    });
    let mut tags = vec![json!("slo"), json!("k6"), json!(options.datasource.plugin_id())];
    if let Some(env) = &config.environment {
        tags.push(json!(env));
    }
    json!({
        "title": title,
        "uid": uid,
        "description": format!("Generated by `slo dashboard export` from {} (service {}).", file_name(&config.file), config.service),
        "tags": tags,
        "editable": true,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": [ds_var, testid_var]},
        "annotations": {"list": []},
        "links": [],
        "panels": b.panels
    })
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| path.to_string())
}

/// Stable uid: `slo-<service>-<datasource>[-k6]`, non-alphanumerics as `-`, at most 40
/// characters (Grafana's limit).
fn uid_of(service: &str, o: &DashboardOptions) -> String {
    let svc: String = service.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let suffix = match (o.datasource, o.metrics) {
        (Datasource::Prometheus, MetricsSource::K6) => "-prom-k6",
        (Datasource::Prometheus, MetricsSource::Slo) => "-prom",
        (Datasource::Influxdb, _) => "-influx",
    };
    let keep = 40 - 4 - suffix.len();
    let svc: String = svc.chars().take(keep).collect();
    format!("slo-{svc}{suffix}")
}

/// One row per SLO: the SLI over time with its target as a threshold line, and the SLI
/// over the time range.
fn slo_row(b: &mut Builder, q: &Queries, slo: &Slo) {
    let f = &slo.filter;
    let window = prom_duration(slo.window);
    let filter_text = if f.is_empty() {
        String::new()
    } else {
        format!(" [{}]", f.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(","))
    };
    let (title, series, range, unit, steps, what) = match &slo.objective {
        Objective::Availability { target_percent } => {
            let (e, l) = q.availability(f, false);
            let (r, _) = q.availability(f, true);
            let steps = thresholds(&[("red", None), ("green", Some(*target_percent))]);
            (
                format!("SLO {}{filter_text}: ≥ {}% over {window}", slo.name, fmtn(*target_percent)),
                (e, l),
                r,
                "percent",
                steps,
                "Share of requests that succeeded, percent",
            )
        }
        Objective::ErrorRate { target_percent } => {
            let (e, l) = q.error_percent(f);
            let r = q.error_percent_range(f);
            let steps = thresholds(&[("green", None), ("red", Some(*target_percent))]);
            (
                format!("SLO {}{filter_text}: ≤ {}% over {window}", slo.name, fmtn(*target_percent)),
                (e, l),
                r,
                "percent",
                steps,
                "Share of requests that failed, percent",
            )
        }
        Objective::Latency { percentile, target_ms } => {
            let (e, l, unit) = q.latency(*percentile, f);
            let r = q.latency_range(*percentile, f);
            let target = if unit == "s" { target_ms / 1000.0 } else { *target_ms };
            let steps = thresholds(&[("green", None), ("red", Some(target))]);
            (
                format!("SLO {}{filter_text}: p{} ≤ {}ms over {window}", slo.name, fmtn(*percentile), fmtn(*target_ms)),
                (e, l),
                r,
                unit,
                steps,
                "Response time percentile",
            )
        }
        Objective::Throughput { target_rps } => {
            let (e, l) = q.throughput(f);
            let r = q.throughput_range(f);
            let steps = thresholds(&[("red", None), ("green", Some(*target_rps))]);
            (
                format!("SLO {}{filter_text}: ≥ {} req/s over {window}", slo.name, fmtn(*target_rps)),
                (e, l),
                r,
                "reqps",
                steps,
                "Requests per second",
            )
        }
    };
    b.row(&title);
    let desc = format!("{what}; the line is the SLO target (slo-config.yaml `slos.{}`).", slo.name);
    b.timeseries(&format!("{} over time", slo.name), &desc, 16, q.target("A", &series.0, &series.1), unit, Some(steps.clone()));
    let desc = format!("{what} over the dashboard's time range, coloured against the SLO target.");
    b.stat(&format!("{} (time range)", slo.name), &desc, 8, q.instant_target("A", &range, ""), unit, steps);
}

fn fmtn(v: f64) -> String {
    crate::rules::num(v)
}

/// Threshold steps: `(colour, value)`; the first has no value (the base).
fn thresholds(steps: &[(&str, Option<f64>)]) -> Value {
    let steps: Vec<Value> = steps.iter().map(|(c, v)| json!({"color": c, "value": v})).collect();
    json!({"mode": "absolute", "steps": steps})
}

struct Builder {
    ds: Value,
    panels: Vec<Value>,
    next_id: u64,
    x: u64,
    y: u64,
    line_h: u64,
}

impl Builder {
    fn new(ds: Datasource) -> Builder {
        Builder { ds: json!({"type": ds.plugin_id(), "uid": "${datasource}"}), panels: Vec::new(), next_id: 1, x: 0, y: 0, line_h: 0 }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn newline(&mut self) {
        if self.x > 0 || self.line_h > 0 {
            self.y += self.line_h;
        }
        self.x = 0;
        self.line_h = 0;
    }

    fn place(&mut self, w: u64, h: u64) -> Value {
        if self.x + w > 24 {
            self.newline();
        }
        let pos = json!({"h": h, "w": w, "x": self.x, "y": self.y});
        self.x += w;
        self.line_h = self.line_h.max(h);
        pos
    }

    fn row(&mut self, title: &str) {
        self.newline();
        let id = self.id();
        self.panels.push(json!({"type": "row", "title": title, "id": id, "collapsed": false, "panels": [], "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}}));
        self.y += 1;
    }

    fn with_ds(&self, mut targets: Vec<Value>) -> Vec<Value> {
        for t in &mut targets {
            t["datasource"] = self.ds.clone();
        }
        targets
    }

    fn timeseries(&mut self, title: &str, desc: &str, w: u64, target: Value, unit: &str, steps: Option<Value>) {
        self.timeseries_multi(title, desc, w, vec![target], unit, steps)
    }

    fn timeseries_multi(&mut self, title: &str, desc: &str, w: u64, targets: Vec<Value>, unit: &str, steps: Option<Value>) {
        let id = self.id();
        let pos = self.place(w, 8);
        let (steps, style) = match steps {
            Some(s) => (s, "line"),
            None => (thresholds(&[("green", None)]), "off"),
        };
        let targets = self.with_ds(targets);
        self.panels.push(json!({
            "type": "timeseries",
            "id": id,
            "title": title,
            "description": desc,
            "datasource": self.ds.clone(),
            "gridPos": pos,
            "targets": targets,
            "fieldConfig": {
                "defaults": {
                    "unit": unit,
                    "thresholds": steps,
                    "custom": {
                        "drawStyle": "line",
                        "lineWidth": 1,
                        "fillOpacity": 10,
                        "showPoints": "never",
                        "spanNulls": false,
                        "thresholdsStyle": {"mode": style}
                    }
                },
                "overrides": []
            },
            "options": {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                "tooltip": {"mode": "multi", "sort": "desc"}
            }
        }));
    }

    fn stat(&mut self, title: &str, desc: &str, w: u64, target: Value, unit: &str, steps: Value) {
        let id = self.id();
        let pos = self.place(w, 8);
        let targets = self.with_ds(vec![target]);
        self.panels.push(json!({
            "type": "stat",
            "id": id,
            "title": title,
            "description": desc,
            "datasource": self.ds.clone(),
            "gridPos": pos,
            "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": steps, "color": {"mode": "thresholds"}}, "overrides": []},
            "options": {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "colorMode": "background",
                "graphMode": "none",
                "justifyMode": "auto",
                "textMode": "value"
            }
        }));
    }

    fn table(&mut self, title: &str, desc: &str, w: u64, targets: Vec<Value>, unit: &str) {
        let id = self.id();
        let pos = self.place(w, 8);
        let targets = self.with_ds(targets);
        self.panels.push(json!({
            "type": "table",
            "id": id,
            "title": title,
            "description": desc,
            "datasource": self.ds.clone(),
            "gridPos": pos,
            "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds(&[("green", None)])}, "overrides": []},
            "options": {"showHeader": true, "cellHeight": "sm"},
            "transformations": [
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {"excludeByName": {"Time": true}, "renameByName": {}}}
            ]
        }));
    }
}

/// Query text per datasource and metrics source.
struct Queries {
    ds: Datasource,
    metrics: MetricsSource,
}

const RATE: &str = "$__rate_interval";
const RANGE: &str = "$__range";

impl Queries {
    fn prom(&self) -> bool {
        self.ds == Datasource::Prometheus
    }

    fn k6(&self) -> bool {
        self.metrics == MetricsSource::K6
    }

    /// A range target.
    fn target(&self, ref_id: &str, text: &str, legend: &str) -> Value {
        match self.ds {
            Datasource::Prometheus => {
                json!({"refId": ref_id, "expr": text, "legendFormat": legend, "range": true, "instant": false, "editorMode": "code"})
            }
            Datasource::Influxdb => {
                json!({"refId": ref_id, "query": text, "rawQuery": true, "resultFormat": "time_series", "alias": legend})
            }
        }
    }

    /// An instant (PromQL) or whole-range (InfluxQL) target.
    fn instant_target(&self, ref_id: &str, text: &str, legend: &str) -> Value {
        match self.ds {
            Datasource::Prometheus => {
                json!({"refId": ref_id, "expr": text, "legendFormat": legend, "range": false, "instant": true, "editorMode": "code"})
            }
            Datasource::Influxdb => {
                json!({"refId": ref_id, "query": text, "rawQuery": true, "resultFormat": "time_series", "alias": legend})
            }
        }
    }

    /// A table target.
    fn table_target(&self, ref_id: &str, text: &str, legend: &str) -> Value {
        match self.ds {
            Datasource::Prometheus => {
                json!({"refId": ref_id, "expr": text, "legendFormat": legend, "range": false, "instant": true, "format": "table", "editorMode": "code"})
            }
            Datasource::Influxdb => json!({"refId": ref_id, "query": text, "rawQuery": true, "resultFormat": "table"}),
        }
    }

    /// PromQL selector body: `testid=~"$testid"` plus the filter and `extra` matchers.
    fn sel(&self, filter: &[(String, String)], extra: &[(&str, &str)]) -> String {
        let mut parts = vec!["testid=~\"$testid\"".to_string()];
        parts.extend(filter.iter().map(|(k, v)| label_matcher(&label_name(k), v)));
        parts.extend(extra.iter().map(|(k, v)| label_matcher(k, v)));
        format!("{{{}}}", parts.join(","))
    }

    /// InfluxQL `WHERE` body: testid, the filter and `$timeFilter`.
    fn whr(&self, filter: &[(String, String)]) -> String {
        let mut s = "\"testid\" =~ /^$testid$/".to_string();
        for (k, v) in filter {
            s.push_str(&format!(" AND {} = {}", influxql_ident(k), influxql_string(v)));
        }
        s.push_str(" AND $timeFilter");
        s
    }

    fn request_rate(&self) -> (String, String) {
        if self.prom() {
            (format!("sum by (method, name) (rate(k6_http_reqs_total{}[{RATE}]))", self.sel(&[], &[])), "{{method}} {{name}}".into())
        } else {
            (
                format!(
                    "SELECT sum(\"value\") / 10 FROM \"http_reqs\" WHERE {} GROUP BY time(10s), \"method\", \"name\" fill(0)",
                    self.whr(&[])
                ),
                "$tag_method $tag_name".into(),
            )
        }
    }

    fn failed_and_total(&self, f: &[(String, String)], window: &str) -> (String, String) {
        let total = format!("sum(rate(k6_http_reqs_total{}[{window}]))", self.sel(f, &[]));
        let failed = if self.k6() {
            format!("(sum(rate(k6_http_reqs_total{}[{window}])) or vector(0))", self.sel(f, &[("expected_response", "false")]))
        } else {
            format!("(sum(rate(k6_http_req_failed_total{}[{window}])) or vector(0))", self.sel(f, &[]))
        };
        (failed, total)
    }

    fn error_percent(&self, f: &[(String, String)]) -> (String, String) {
        if self.prom() {
            let (failed, total) = self.failed_and_total(f, RATE);
            (format!("100 * {failed} / {total}"), "errors %".into())
        } else {
            (
                format!(
                    "SELECT mean(\"value\") * 100 FROM \"http_req_failed\" WHERE {} GROUP BY time($__interval) fill(none)",
                    self.whr(f)
                ),
                "errors %".into(),
            )
        }
    }

    fn error_percent_range(&self, f: &[(String, String)]) -> String {
        if self.prom() {
            let (failed, total) = self.failed_and_total(f, RANGE);
            format!("100 * {failed} / {total}")
        } else {
            format!("SELECT mean(\"value\") * 100 FROM \"http_req_failed\" WHERE {}", self.whr(f))
        }
    }

    fn availability(&self, f: &[(String, String)], range: bool) -> (String, String) {
        if self.prom() {
            let (failed, total) = self.failed_and_total(f, if range { RANGE } else { RATE });
            (format!("100 * (1 - {failed} / {total})"), "availability %".into())
        } else {
            let group = if range { "" } else { " GROUP BY time($__interval) fill(none)" };
            (format!("SELECT 100 - mean(\"value\") * 100 FROM \"http_req_failed\" WHERE {}{group}", self.whr(f)), "availability %".into())
        }
    }

    /// k6 trend-stat gauge name for pNN: `p(95)` → `k6_http_req_duration_p95`,
    /// `p(99.9)` → `k6_http_req_duration_p999`.
    fn k6_trend(percentile: f64) -> String {
        format!("k6_http_req_duration_p{}", fmtn(percentile).replace('.', ""))
    }

    /// (expr, legend, unit) of the pNN latency over time.
    fn latency(&self, p: f64, f: &[(String, String)]) -> (String, String, &'static str) {
        let legend = format!("p{}", fmtn(p));
        match (self.ds, self.metrics) {
            (Datasource::Prometheus, MetricsSource::Slo) => (
                format!(
                    "histogram_quantile({}, sum by (le) (rate(k6_http_req_duration_seconds_bucket{}[{RATE}])))",
                    fmtn(p / 100.0),
                    self.sel(f, &[])
                ),
                legend,
                "s",
            ),
            (Datasource::Prometheus, MetricsSource::K6) => (format!("max({}{})", Self::k6_trend(p), self.sel(f, &[])), legend, "s"),
            (Datasource::Influxdb, _) => (
                format!(
                    "SELECT percentile(\"value\", {}) FROM \"http_req_duration\" WHERE {} GROUP BY time($__interval) fill(none)",
                    fmtn(p),
                    self.whr(f)
                ),
                legend,
                "ms",
            ),
        }
    }

    fn latency_range(&self, p: f64, f: &[(String, String)]) -> String {
        match (self.ds, self.metrics) {
            (Datasource::Prometheus, MetricsSource::Slo) => format!(
                "histogram_quantile({}, sum by (le) (increase(k6_http_req_duration_seconds_bucket{}[{RANGE}])))",
                fmtn(p / 100.0),
                self.sel(f, &[])
            ),
            (Datasource::Prometheus, MetricsSource::K6) => format!("max({}{})", Self::k6_trend(p), self.sel(f, &[])),
            (Datasource::Influxdb, _) => {
                format!("SELECT percentile(\"value\", {}) FROM \"http_req_duration\" WHERE {}", fmtn(p), self.whr(f))
            }
        }
    }

    fn latency_by_name(&self, p: f64) -> (String, String, &'static str) {
        match (self.ds, self.metrics) {
            (Datasource::Prometheus, MetricsSource::Slo) => (
                format!(
                    "histogram_quantile({}, sum by (name, le) (rate(k6_http_req_duration_seconds_bucket{}[{RATE}])))",
                    fmtn(p / 100.0),
                    self.sel(&[], &[])
                ),
                "{{name}}".into(),
                "s",
            ),
            (Datasource::Prometheus, MetricsSource::K6) => {
                (format!("max by (name) ({}{})", Self::k6_trend(p), self.sel(&[], &[])), "{{name}}".into(), "s")
            }
            (Datasource::Influxdb, _) => (
                format!(
                    "SELECT percentile(\"value\", {}) FROM \"http_req_duration\" WHERE {} GROUP BY time($__interval), \"name\" fill(none)",
                    fmtn(p),
                    self.whr(&[])
                ),
                "$tag_name".into(),
                "ms",
            ),
        }
    }

    fn latency_table(&self) -> (Vec<Value>, &'static str) {
        let s = self.sel(&[], &[]);
        match (self.ds, self.metrics) {
            (Datasource::Prometheus, MetricsSource::Slo) => {
                let q = |p: &str| format!("histogram_quantile({p}, sum by (name, le) (increase(k6_http_req_duration_seconds_bucket{s}[{RANGE}])))");
                (
                    vec![
                        self.table_target("A", &q("0.5"), "p50"),
                        self.table_target("B", &q("0.95"), "p95"),
                        self.table_target("C", &q("0.99"), "p99"),
                        self.table_target("D", &format!("sum by (name) (increase(k6_http_reqs_total{s}[{RANGE}]))"), "requests"),
                    ],
                    "s",
                )
            }
            (Datasource::Prometheus, MetricsSource::K6) => (
                vec![
                    self.table_target("A", &format!("max by (name) ({}{s})", Self::k6_trend(95.0)), "p95"),
                    self.table_target("B", &format!("max by (name) ({}{s})", Self::k6_trend(99.0)), "p99"),
                    self.table_target("C", &format!("sum by (name) (increase(k6_http_reqs_total{s}[{RANGE}]))"), "requests"),
                ],
                "s",
            ),
            (Datasource::Influxdb, _) => (
                vec![self.table_target(
                    "A",
                    &format!(
                        "SELECT percentile(\"value\", 50) AS \"p50\", percentile(\"value\", 95) AS \"p95\", percentile(\"value\", 99) AS \"p99\", count(\"value\") AS \"requests\" FROM \"http_req_duration\" WHERE {} GROUP BY \"name\"",
                        self.whr(&[])
                    ),
                    "",
                )],
                "ms",
            ),
        }
    }

    fn throughput(&self, f: &[(String, String)]) -> (String, String) {
        if self.prom() {
            (format!("sum(rate(k6_http_reqs_total{}[{RATE}]))", self.sel(f, &[])), "requests/s".into())
        } else {
            (format!("SELECT sum(\"value\") / 10 FROM \"http_reqs\" WHERE {} GROUP BY time(10s) fill(0)", self.whr(f)), "requests/s".into())
        }
    }

    fn throughput_range(&self, f: &[(String, String)]) -> String {
        if self.prom() {
            format!("sum(rate(k6_http_reqs_total{}[{RANGE}]))", self.sel(f, &[]))
        } else {
            format!("SELECT sum(\"value\") / $__range_s FROM \"http_reqs\" WHERE {}", self.whr(f))
        }
    }

    fn vus(&self) -> Vec<Value> {
        if self.prom() {
            vec![
                self.target("A", &format!("sum(k6_vus{})", self.sel(&[], &[])), "VUs"),
                self.target("B", &format!("sum(k6_vus_max{})", self.sel(&[], &[])), "max VUs"),
            ]
        } else {
            vec![
                self.target(
                    "A",
                    &format!("SELECT max(\"value\") FROM \"vus\" WHERE {} GROUP BY time($__interval) fill(none)", self.whr(&[])),
                    "VUs",
                ),
                self.target(
                    "B",
                    &format!("SELECT max(\"value\") FROM \"vus_max\" WHERE {} GROUP BY time($__interval) fill(none)", self.whr(&[])),
                    "max VUs",
                ),
            ]
        }
    }

    fn checks(&self) -> (String, String) {
        match (self.ds, self.metrics) {
            (Datasource::Prometheus, MetricsSource::Slo) => {
                let all = format!("sum by (check) (rate(k6_checks_total{}[{RATE}]))", self.sel(&[], &[]));
                let pass = format!("sum by (check) (rate(k6_checks_total{}[{RATE}]))", self.sel(&[], &[("result", "pass")]));
                (format!("100 * ({pass} or 0 * {all}) / {all}"), "{{check}}".into())
            }
            (Datasource::Prometheus, MetricsSource::K6) => {
                (format!("100 * avg by (check) (k6_checks_rate{})", self.sel(&[], &[])), "{{check}}".into())
            }
            (Datasource::Influxdb, _) => (
                format!(
                    "SELECT mean(\"value\") * 100 FROM \"checks\" WHERE {} GROUP BY time($__interval), \"check\" fill(none)",
                    self.whr(&[])
                ),
                "$tag_check".into(),
            ),
        }
    }

    /// `iterations` (per second when `per_second`) or `dropped_iterations` (per interval) by scenario.
    fn counter_by_scenario(&self, metric: &str, per_second: bool) -> (String, String) {
        if self.prom() {
            let f = if per_second { "rate" } else { "increase" };
            (format!("sum by (scenario) ({f}(k6_{metric}_total{}[{RATE}]))", self.sel(&[], &[])), "{{scenario}}".into())
        } else if per_second {
            (
                format!("SELECT sum(\"value\") / 10 FROM \"{metric}\" WHERE {} GROUP BY time(10s), \"scenario\" fill(0)", self.whr(&[])),
                "$tag_scenario".into(),
            )
        } else {
            (
                format!("SELECT sum(\"value\") FROM \"{metric}\" WHERE {} GROUP BY time($__interval), \"scenario\" fill(0)", self.whr(&[])),
                "$tag_scenario".into(),
            )
        }
    }

    fn dropped_total(&self) -> String {
        if self.prom() {
            format!("sum(increase(k6_dropped_iterations_total{}[{RANGE}])) or vector(0)", self.sel(&[], &[]))
        } else {
            format!("SELECT sum(\"value\") FROM \"dropped_iterations\" WHERE {}", self.whr(&[]))
        }
    }
}

/// An InfluxQL string literal: single quotes, `\` and `'` backslash-escaped.
pub fn influxql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// An InfluxQL identifier: double quotes, `\` and `"` backslash-escaped.
pub fn influxql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Every query of a dashboard: panel targets (rows' nested panels included) and the
/// template variables' queries.
pub fn dashboard_queries(dashboard: &Value) -> Vec<PanelQuery> {
    let mut out = Vec::new();
    if let Some(vars) = dashboard["templating"]["list"].as_array() {
        for v in vars {
            if v["type"] == "query" {
                if let Some(q) = v["query"].as_str() {
                    out.push(PanelQuery {
                        panel: format!("variable {}", v["name"].as_str().unwrap_or("")),
                        ref_id: String::new(),
                        text: q.to_string(),
                        instant: true,
                    });
                }
            }
        }
    }
    fn walk(panels: &Value, out: &mut Vec<PanelQuery>) {
        for p in panels.as_array().into_iter().flatten() {
            walk(&p["panels"], out);
            for t in p["targets"].as_array().into_iter().flatten() {
                let text = t["expr"].as_str().or_else(|| t["query"].as_str());
                if let Some(text) = text {
                    out.push(PanelQuery {
                        panel: p["title"].as_str().unwrap_or("").to_string(),
                        ref_id: t["refId"].as_str().unwrap_or("").to_string(),
                        text: text.to_string(),
                        instant: t["instant"].as_bool().unwrap_or(false),
                    });
                }
            }
        }
    }
    walk(&dashboard["panels"], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn influxql_literals_escape_quotes() {
        assert_eq!(influxql_string(r"it's a\b"), r"'it\'s a\\b'");
        assert_eq!(influxql_ident(r#"my"tag"#), r#""my\"tag""#);
    }

    #[test]
    fn k6_trend_names_follow_k6() {
        assert_eq!(Queries::k6_trend(95.0), "k6_http_req_duration_p95");
        assert_eq!(Queries::k6_trend(99.9), "k6_http_req_duration_p999");
    }

    #[test]
    fn uids_fit_grafana() {
        let o = DashboardOptions { datasource: Datasource::Prometheus, metrics: MetricsSource::K6 };
        let u = uid_of(&"x".repeat(100), &o);
        assert!(u.len() <= 40, "{u}");
        assert_eq!(uid_of("API gateway", &o), "slo-api-gateway-prom-k6");
    }
}
