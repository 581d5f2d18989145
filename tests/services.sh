# tests/services.sh -- throwaway InfluxDB 1.6, Prometheus 2.42 and VictoriaMetrics for the
# `slo` store tests, on 127.0.0.1 only, each a plain background process with its data in a
# temp dir, stopped by pid. Copied from the team's tested library (shared services.sh);
# adapted: SVC_ROOT defaults to $CARGO_TARGET_DIR/svc when set, `influx_create_db` and
# `influx_count` helpers, and a `--selftest` entry point.
#
#   source tests/services.sh
#   svc_install                  # apt-get install the Debian packages if missing
#   trap stop_all EXIT
#   start_influxdb     || exit 1 # sets INFLUX_URL INFLUX_PORT INFLUX_PID INFLUX_DIR
#   start_prometheus   || exit 1 # sets PROM_URL   PROM_PORT   PROM_PID   PROM_DIR
#   start_victoriametrics || exit 1 # sets VM_URL  VM_PORT     VM_PID     VM_DIR
#   ...; stop_all                # kills exactly the pids started here, removes temp dirs
#
#   bash tests/services.sh --selftest   # start/stop InfluxDB once, write and count a point
#
# The Rust tests (crates/slo-store/src/influx/integration_tests.rs) start influxd with the
# same configuration themselves; this file is for shell-driven checks and CI.
#
# Optional first argument of each start_*: a fixed port (default: a free port).
# SVC_ROOT: parent of the temp dirs (default ${TMPDIR:-/tmp}).
# SVC_KEEP=1: keep the temp dirs (logs/data) after stop.
# SVC_TIMEOUT: readiness timeout in seconds (default 30).
# Safe under `set -euo pipefail`. Needs curl; uses python3 (free port) and ss if present.
# Note: a subshell inherits SVC_PIDS, so `stop_all` inside ( ... ) also stops the
# parent's servers -- reset SVC_PIDS=() SVC_DIRS=() first in such a subshell.

SVC_PIDS=()
SVC_DIRS=()
if [ -z "${SVC_ROOT:-}" ] && [ -n "${CARGO_TARGET_DIR:-}" ]; then
  mkdir -p "$CARGO_TARGET_DIR/svc" 2>/dev/null && SVC_ROOT="$CARGO_TARGET_DIR/svc"
fi

svc_install() {
  local need=()
  command -v influxd >/dev/null          || need+=(influxdb)
  command -v prometheus >/dev/null       || need+=(prometheus)
  command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
  [ ${#need[@]} -eq 0 ] && return 0
  # policy-rc.d (exit 101) in this image stops the packages' services from auto-starting
  apt-get update -qq || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${need[@]}" >/dev/null || return 1
}

# Print a currently free TCP port on 127.0.0.1.
svc_free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
  else
    local p
    while :; do
      p=$(( 20000 + RANDOM % 40000 ))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
  fi
}

# svc_port_busy PORT -> 0 if something already listens on 127.0.0.1:PORT
svc_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# svc_wait URL PID PORT [timeout_s] -> 0 once URL answers 2xx *and* PID is alive and
# (where `ss` exists) PID owns the listening socket; 1 if PID died or on timeout.
svc_wait() {
  local url=$1 pid=$2 port=$3 t=${4:-${SVC_TIMEOUT:-30}} i=0
  while [ $i -lt $((t * 20)) ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    if curl -sf -o /dev/null --max-time 1 "$url"; then
      kill -0 "$pid" 2>/dev/null || return 1
      command -v ss >/dev/null || return 0
      ss -ltnpH "sport = :$port" 2>/dev/null | grep -q "pid=$pid," && return 0
    fi
    sleep 0.05; i=$((i + 1))
  done
  return 1
}

# svc_stop PID [DIR] -> SIGTERM, wait up to 10 s, then SIGKILL; rm DIR unless SVC_KEEP=1.
svc_stop() {
  local pid=$1 dir=$2 i=0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true   # reap if it is our child (no-op otherwise)
  fi
  if [ -n "$dir" ] && [ -d "$dir" ] && [ "${SVC_KEEP:-0}" != 1 ]; then rm -rf "$dir"; fi
  # forget it, so a later stop_all never signals a recycled pid
  local np=() nd=() j
  for j in "${!SVC_PIDS[@]}"; do
    [ "${SVC_PIDS[$j]}" = "$pid" ] && continue
    np+=("${SVC_PIDS[$j]}"); nd+=("${SVC_DIRS[$j]}")
  done
  SVC_PIDS=("${np[@]}"); SVC_DIRS=("${nd[@]}")
  return 0
}

_svc_fail() {  # name dir pid
  echo "$1 failed to start; last log lines:" >&2
  tail -n 20 "$2"/*.log >&2 2>/dev/null
  svc_stop "$3" "$2"
  return 1
}

# start_influxdb [http_port]
start_influxdb() {
  local port=${1:-$(svc_free_port)} rpc dir pid
  rpc=$(svc_free_port)
  svc_port_busy "$port" && { echo "influxdb: port $port busy" >&2; return 1; }
  dir=$(mktemp -d "${SVC_ROOT:-${TMPDIR:-/tmp}}/influxdb.XXXXXX") || return 1
  cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
  suppress-logo = true
EOF
  influxd run -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  svc_wait "http://127.0.0.1:$port/ping" "$pid" "$port" || { _svc_fail influxdb "$dir" "$pid"; return 1; }
  SVC_PIDS+=("$pid"); SVC_DIRS+=("$dir")
  INFLUX_PORT=$port; INFLUX_URL="http://127.0.0.1:$port"; INFLUX_PID=$pid; INFLUX_DIR=$dir
  export INFLUX_PORT INFLUX_URL INFLUX_PID INFLUX_DIR
}

# start_prometheus [port]   (remote-write receiver + native histograms + 1h out-of-order window)
start_prometheus() {
  local port=${1:-$(svc_free_port)} dir pid
  svc_port_busy "$port" && { echo "port $port busy" >&2; return 1; }
  dir=$(mktemp -d "${SVC_ROOT:-${TMPDIR:-/tmp}}/prometheus.XXXXXX") || return 1
  cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 15s
  evaluation_interval: 15s
storage:
  tsdb:
    out_of_order_time_window: ${PROM_OOO_WINDOW:-1h}
EOF
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms --storage.tsdb.retention.time=100y \
    --log.level=warn >"$dir/prometheus.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  svc_wait "http://127.0.0.1:$port/-/ready" "$pid" "$port" || { _svc_fail prometheus "$dir" "$pid"; return 1; }
  SVC_PIDS+=("$pid"); SVC_DIRS+=("$dir")
  PROM_PORT=$port; PROM_URL="http://127.0.0.1:$port"; PROM_PID=$pid; PROM_DIR=$dir
  export PROM_PORT PROM_URL PROM_PID PROM_DIR
}

# start_victoriametrics [port]
start_victoriametrics() {
  local port=${1:-$(svc_free_port)} dir pid
  svc_port_busy "$port" && { echo "port $port busy" >&2; return 1; }
  dir=$(mktemp -d "${SVC_ROOT:-${TMPDIR:-/tmp}}/victoria-metrics.XXXXXX") || return 1
  victoria-metrics -httpListenAddr="127.0.0.1:$port" -storageDataPath="$dir/data" \
    -retentionPeriod=100y -search.latencyOffset=0s -search.disableCache \
    -loggerLevel=WARN >"$dir/victoria-metrics.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  svc_wait "http://127.0.0.1:$port/health" "$pid" "$port" || { _svc_fail victoria-metrics "$dir" "$pid"; return 1; }
  SVC_PIDS+=("$pid"); SVC_DIRS+=("$dir")
  VM_PORT=$port; VM_URL="http://127.0.0.1:$port"; VM_PID=$pid; VM_DIR=$dir
  export VM_PORT VM_URL VM_PID VM_DIR
}

stop_influxdb()        { svc_stop "$INFLUX_PID" "$INFLUX_DIR"; }
stop_prometheus()      { svc_stop "$PROM_PID" "$PROM_DIR"; }
stop_victoriametrics() { svc_stop "$VM_PID" "$VM_DIR"; }

# Stop everything started through this file (by pid), newest first.
stop_all() {
  local i
  for ((i = ${#SVC_PIDS[@]} - 1; i >= 0; i--)); do svc_stop "${SVC_PIDS[$i]}" "${SVC_DIRS[$i]}"; done
  SVC_PIDS=(); SVC_DIRS=()
}

# influx_create_db NAME -> CREATE DATABASE on the running InfluxDB (INFLUX_URL)
influx_create_db() {
  curl -sf -o /dev/null -XPOST "$INFLUX_URL/query" --data-urlencode "q=CREATE DATABASE \"$1\""
}

# influx_count DB MEASUREMENT [WHERE-clause] -> prints count("value")
influx_count() {
  local q="SELECT count(\"value\") FROM \"$2\" ${3:-}"
  curl -sf -G "$INFLUX_URL/query" --data-urlencode "db=$1" --data-urlencode "q=$q" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(sum(v[1] for s in r.get("series",[]) for v in s["values"]))'
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = "--selftest" ]; then
  set -euo pipefail
  command -v influxd >/dev/null || { echo "influxd not installed (svc_install)" >&2; exit 1; }
  trap stop_all EXIT
  start_influxdb
  influx_create_db selftest
  printf 'm,t=a value=1 1\nm,t=a value=2 2\n' | curl -sf -XPOST "$INFLUX_URL/write?db=selftest" --data-binary @-
  n=$(influx_count selftest m)
  [ "$n" = 2 ] || { echo "selftest: expected 2 points, got $n" >&2; exit 1; }
  echo "selftest ok: influxd pid $INFLUX_PID on $INFLUX_URL, 2 points"
fi
