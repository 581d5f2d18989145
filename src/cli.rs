//! The command line: one clap derive tree, parsed before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// slo: load generator, sample store and SLO analyzer in one binary.
#[derive(Debug, Parser)]
#[command(name = "slo", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Where runs are stored locally.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Local store directory (one folder per run, Parquet samples + run.json).
    #[arg(long, env = "SLO_STORE", default_value = ".slo", value_name = "DIR")]
    pub store: PathBuf,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge a stored run against slo-config.yaml SLOs and k6 thresholds (exit 0 pass, 1 breach, 3 no data).
    Check(CheckArgs),
    /// Import results written by other tools into the store.
    #[command(subcommand)]
    Import(ImportCommand),
    /// The run registry of a store.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// The main job on embedded defaults; `slo demo serve` runs the demo target alone.
    Demo(DemoArgs),
    /// Run a load test from a scenario file, recording every request as a raw sample.
    Run(RunArgs),
    /// Compare a candidate run with a baseline, per endpoint, with statistics (exit 1 on a regression).
    Compare(CompareArgs),
    /// Grafana dashboards generated from slo-config.yaml.
    #[command(subcommand)]
    Dashboard(DashboardCommand),
    /// Prometheus recording rules and multi-window burn-rate alerts generated from slo-config.yaml.
    #[command(subcommand)]
    Rules(RulesCommand),
}

/// `slo run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (YAML: k6 options and/or Artillery config + flows).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Base URL requests go to, overriding `config.target` (loopback only).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Where samples go, repeatable: `local` (always on: the --store directory keeps every
    /// sample), `influxdb=URL` (1.x `http://host:8086/DB`, 2.x/3.x `?org=&bucket=`, token in
    /// SLO_INFLUXDB_TOKEN), `prometheus=URL` (remote write; token in SLO_PROMETHEUS_TOKEN).
    #[arg(long = "out", value_name = "SINK", default_value = "local")]
    pub out: Vec<String>,
    /// A tag for the run, repeatable: `--tag branch=main`.
    #[arg(long = "tag", value_name = "K=V", value_parser = parse_key_value)]
    pub tags: Vec<(String, String)>,
    /// Run only this execution segment of every executor, k6 style: `0:1/4`, `1/4:2/4`.
    #[arg(long, value_name = "FROM:TO")]
    pub segment: Option<String>,
    /// Id for the new run (default: start time + random suffix).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Do not print the live progress line or periodic lines.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Stop the run gracefully after this long (e.g. `5s`), whatever the scenario schedules;
    /// the run is recorded as complete. For smoke runs of long scenarios.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub max_duration: Option<std::time::Duration>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `slo import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import k6 `--out json` NDJSON (plain or gzip) as one run.
    #[command(name = "k6-json")]
    K6Json(ImportK6JsonArgs),
}

/// `slo import k6-json`
#[derive(Debug, Args)]
pub struct ImportK6JsonArgs {
    /// The k6 NDJSON file (`k6 run --out json=FILE`), plain or gzip.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Id for the new run (default: start time + random suffix).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// A tag for the run, repeatable: `--tag branch=main`.
    #[arg(long = "tag", value_name = "K=V", value_parser = parse_key_value)]
    pub tags: Vec<(String, String)>,
    /// Skip malformed lines (counted and reported) instead of failing the whole import.
    #[arg(long)]
    pub skip_bad_lines: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `slo runs ...`
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List stored runs in the order they were recorded or imported (`latest` is the last).
    List(RunsListArgs),
    /// Show one run's metadata, metric catalog and k6-style end-of-test summary.
    Show(RunsShowArgs),
    /// Deliver a run to InfluxDB or Prometheus: its spool (what `slo run --out` could not
    /// deliver), or, without a spool, the whole run from the local store.
    Push(RunsPushArgs),
}

/// `slo runs push`
#[derive(Debug, Args)]
pub struct RunsPushArgs {
    /// `latest`, a full run id, or a unique prefix of one (in the local store).
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Where to deliver, repeatable: `influxdb=URL` or `prometheus=URL`.
    #[arg(long = "out", value_name = "SINK", required = true)]
    pub out: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `slo runs list`
#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// List the runs of this store instead of --store: `influxdb=URL` or `prometheus=URL`.
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `slo runs show`
#[derive(Debug, Args)]
pub struct RunsShowArgs {
    /// `latest`, a full run id, or a unique prefix of one.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Formats of listings.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    /// A table for people.
    Table,
    /// JSON for programs.
    Json,
}

/// `slo check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The run to judge: `latest`, a full run id, or a unique prefix.
    #[arg(long, default_value = "latest", value_name = "RUN")]
    pub run: String,
    /// slo-config.yaml with `slos:` and threshold profiles.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Threshold profile of the config to apply (e.g. load_test); default: none, SLOs only.
    #[arg(long, value_name = "NAME", requires = "config")]
    pub profile: Option<String>,
    /// A k6 script's options as `k6 inspect SCRIPT` prints them; its thresholds are judged too.
    #[arg(long, value_name = "FILE")]
    pub k6_options: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Treat NO DATA (a threshold or SLO with no samples) as a warning instead of a failure.
    #[arg(long)]
    pub allow_no_data: bool,
    /// Also judge every threshold per tumbling window of this length (e.g. 1m); the worst window decides.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub threshold_window: Option<std::time::Duration>,
    /// Read the run from this store instead of --store: `influxdb=URL` (slo's or k6's
    /// `--out influxdb` data; exact values) or `prometheus=URL` (slo's sink or k6's
    /// experimental-prometheus-rw; counts exact, latency estimated from histogram buckets).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Judge every sample from this time on (RFC 3339) instead of one run; needs --to and --source.
    #[arg(long, value_name = "TIME", requires_all = ["to", "source"])]
    pub from: Option<String>,
    /// End of the range --from starts (RFC 3339, exclusive).
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Formats of `slo check` reports.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// A terminal table read at a glance.
    Table,
    /// JSON with a stable schema (README, "The JSON report").
    Json,
    /// JUnit XML: one testcase per threshold and SLO (check) or per endpoint metric (compare).
    Junit,
    /// Markdown for pull-request comments.
    Markdown,
    /// One self-contained HTML file with charts (no network, no scripts).
    Html,
}

/// `slo compare`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference run: `latest`, an id, a unique prefix, or `latest:KEY=VALUE[,KEY=VALUE]`
    /// (the newest run with those tags, e.g. `latest:branch=main`).
    #[arg(long, value_name = "RUN")]
    pub baseline: String,
    /// The run under judgement (same forms as --baseline).
    #[arg(long, default_value = "latest", value_name = "RUN")]
    pub candidate: String,
    /// slo-config.yaml whose `tolerance` (percent) sets the latency noise tolerance.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also exit 1 when the verdict is inconclusive (strict pipelines).
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub fail_on: Option<FailOn>,
    /// Fewest requests per side and endpoint for a verdict other than inconclusive.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub min_samples: u64,
    /// Seed of the bootstrap intervals (the same seed gives the same report).
    #[arg(long, default_value_t = 0x5EED, value_name = "N")]
    pub seed: u64,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Verdicts `--fail-on` can add to "regressed".
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    /// Fail when the comparison could not decide.
    Inconclusive,
}

/// `slo demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// `serve`: run only the demo target.
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `slo demo serve`
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Serve the demo target (the reference document's shop API) until Ctrl-C.
    Serve(DemoServeArgs),
}

/// `slo demo serve` arguments.
#[derive(Debug, Args)]
pub struct DemoServeArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub addr: std::net::SocketAddr,
    /// Latency/error profile: baseline, candidate, fast, or a YAML/JSON file of per-route settings.
    #[arg(long, default_value = "baseline", value_name = "NAME|FILE")]
    pub profile: String,
}

/// `slo dashboard ...`
#[derive(Debug, Subcommand)]
pub enum DashboardCommand {
    /// Write a Grafana dashboard (JSON model) for the config's SLOs and the k6 metrics.
    Export(DashboardExportArgs),
}

/// `slo dashboard export` arguments.
#[derive(Debug, Args)]
pub struct DashboardExportArgs {
    /// Query language of the panels.
    #[arg(long, value_enum, default_value_t = DashboardDatasource::Prometheus)]
    pub datasource: DashboardDatasource,
    /// slo-config.yaml whose SLOs get a row each.
    #[arg(long, default_value = "slo-config.yaml", value_name = "FILE")]
    pub config: PathBuf,
    /// Metric names to read (Prometheus): slo's remote-write sink, or k6's experimental-prometheus-rw output.
    #[arg(long, value_enum, default_value_t = DashboardMetrics::Slo)]
    pub metrics: DashboardMetrics,
    /// Write the dashboard here (e.g. dashboards/NAME.json) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Datasources of `slo dashboard export`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DashboardDatasource {
    /// PromQL (Prometheus, Mimir, VictoriaMetrics).
    Prometheus,
    /// InfluxQL (InfluxDB 1.x, or 2.x/3.x through the v1 API).
    Influxdb,
}

/// Metric layouts of `slo dashboard export --datasource prometheus`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DashboardMetrics {
    /// slo's Prometheus sink: counters and a classic histogram k6_http_req_duration_seconds.
    Slo,
    /// k6's own experimental-prometheus-rw output (trend stats such as k6_http_req_duration_p95).
    K6,
}

/// `slo rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Write Prometheus recording rules and multi-window multi-burn-rate alerts (YAML).
    Export(RulesExportArgs),
}

/// `slo rules export` arguments.
#[derive(Debug, Args)]
pub struct RulesExportArgs {
    /// slo-config.yaml whose SLOs get rules.
    #[arg(long, default_value = "slo-config.yaml", value_name = "FILE")]
    pub config: PathBuf,
    /// Write the rules here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Histogram bucket boundaries (le, seconds) of k6_http_req_duration_seconds, comma-separated
    /// (default: 0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub buckets: Option<Vec<f64>>,
}

/// Parses `key=value`.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    slo_model::parse_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
