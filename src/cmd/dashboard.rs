//! `slo dashboard export`: a Grafana dashboard for the config's SLOs (slo_report::grafana).

use slo_config::load_slo_config;
use slo_report::grafana::{render_dashboard, DashboardOptions, Datasource, MetricsSource};

use crate::cli::{DashboardCommand, DashboardDatasource, DashboardMetrics};
use crate::cmd::write_output;
use crate::exit::{Exit, WithExit};

/// Runs `slo dashboard ...`: exit 0, 2 on a bad config, 1 when the output cannot be written.
pub fn run(c: DashboardCommand) -> anyhow::Result<Exit> {
    let DashboardCommand::Export(a) = c;
    let config = load_slo_config(&a.config).exit_with(Exit::InvalidInput)?;
    let options = DashboardOptions {
        datasource: match a.datasource {
            DashboardDatasource::Prometheus => Datasource::Prometheus,
            DashboardDatasource::Influxdb => Datasource::Influxdb,
        },
        metrics: match a.metrics {
            DashboardMetrics::Slo => MetricsSource::Slo,
            DashboardMetrics::K6 => MetricsSource::K6,
        },
    };
    if a.metrics == DashboardMetrics::K6 && a.datasource == DashboardDatasource::Influxdb {
        say!("note: --metrics k6 only changes Prometheus dashboards; k6 and slo write the same InfluxDB measurements");
    }
    write_output(a.out.as_deref(), render_dashboard(&config, &options).as_bytes())?;
    if let Some(p) = &a.out {
        say!("wrote {}", p.display());
    }
    Ok(Exit::Pass)
}
