#!/usr/bin/env bash
# Benchmark of the real-store sinks: req/s of `slo run` with `--out influxdb=URL` and with
# `--out prometheus=URL`, each divided by req/s with the local store only (target ≥ 0.9),
# and the samples/s the InfluxDB sink delivers (points the server acknowledged ÷ the wall
# time of the `slo run` process, final flush included).
#
# Same closed model as generator.sh: `slo demo serve --profile fast` on a free loopback
# port, 32 VUs looping GET /health for SECONDS (default 10). InfluxDB 1.x and Prometheus
# are started with tests/services.sh and stopped by pid at exit. req/s = http_reqs ÷ the
# run's duration (`slo runs show --format json`: the load phase, from the generator's start
# until its last sample reached the sinks; the remote sinks' final delivery comes after it
# and is in the "wall s" column, the `slo run` process's wall time).
#
# A third run writes to tests/bench/discard_influx.py, a stand-in InfluxDB that reads and
# discards every batch: its ratio is the sink's own cost (encoding, gzip, HTTP) without a
# real server's CPU on the same cores.
#
# Usage: bash tests/bench/sinks.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}"
DUR="${1:-10}"
VUS=32

cargo build --release --locked --bin slo >/dev/null 2>"${TMPDIR:-/tmp}/slo-bench-build.log" \
  || { cat "${TMPDIR:-/tmp}/slo-bench-build.log" >&2; exit 1; }
SLO="$CARGO_TARGET_DIR/release/slo"
W=$(mktemp -d)
source tests/services.sh
PORT=$(svc_free_port)
"$SLO" demo serve --profile fast --addr "127.0.0.1:$PORT" >"$W/target.log" 2>&1 &
TARGET_PID=$!
DPORT=$(svc_free_port)
python3 tests/bench/discard_influx.py "$DPORT" >"$W/discard.log" 2>&1 &
DISCARD_PID=$!
trap 'kill "$TARGET_PID" "$DISCARD_PID" 2>/dev/null || true; wait "$TARGET_PID" 2>/dev/null || true; stop_all; rm -rf "$W"' EXIT
URL="http://127.0.0.1:$PORT"
for _ in $(seq 50); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
start_influxdb >/dev/null || exit 1
start_prometheus >/dev/null || exit 1

cat >"$W/closed.yaml" <<EOF
scenarios:
  bench: {executor: constant-vus, vus: $VUS, duration: ${DUR}s}
flows:
  - flow:
      - get: {url: /health}
EOF

# bench NAME [--out ...]: runs slo, prints "requests req/s wall_s"
bench() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$SLO" run "$W/closed.yaml" --target "$URL" -q --run-id "$name" --store "$W/store" "$@" >"$W/$name.out" 2>"$W/$name.err" || true
  t1=$(date +%s.%N)
  "$SLO" runs show "$name" --format json --store "$W/store" | python3 -c '
import json, sys
m = json.load(sys.stdin)
n = int(m["summary"]["http_reqs"]["count"])
print(n, n / m["duration_s"], float(sys.argv[2]) - float(sys.argv[1]))' "$t0" "$t1"
}

read -r n_local rps_local wall_local < <(bench local)
read -r n_influx rps_influx wall_influx < <(bench influx --out "influxdb=$INFLUX_URL/bench")
read -r n_prom rps_prom wall_prom < <(bench prom --out "prometheus=$PROM_URL")
read -r n_disc rps_disc wall_disc < <(bench discard --out "influxdb=http://127.0.0.1:$DPORT/bench")
line=$(grep "^out influxdb=" "$W/influx.out")
delivered=$(echo "$line" | sed -E 's/.*: ([0-9]+) delivered.*/\1/')
grep "^out " "$W/influx.out" "$W/prom.out" "$W/discard.out" | sed 's/^/  /'

python3 - "$n_local" "$rps_local" "$n_influx" "$rps_influx" "$wall_influx" "$n_prom" "$rps_prom" "$delivered" "$wall_local" "$wall_prom" "$n_disc" "$rps_disc" "$wall_disc" <<'EOF'
import sys
nl, rl, ni, ri, wi, np_, rp, d, wl, wp, nd, rd, wd = sys.argv[1:]
rl, ri, wi, rp, wl, wp, rd, wd = float(rl), float(ri), float(wi), float(rp), float(wl), float(wp), float(rd), float(wd)
print(f"| sinks | requests | req/s (load phase) | ÷ local only | wall s (slo run, final delivery included) |")
print(f"|---|---|---|---|---|")
print(f"| local only | {int(nl):,} | {rl:,.0f} | 1.00 | {wl:.1f} |")
print(f"| + influxdb | {int(ni):,} | {ri:,.0f} | {ri / rl:.2f} | {wi:.1f} |")
print(f"| + prometheus | {int(np_):,} | {rp:,.0f} | {rp / rl:.2f} | {wp:.1f} |")
print(f"| + influxdb, discarding receiver | {int(nd):,} | {rd:,.0f} | {rd / rl:.2f} | {wd:.1f} |")
print(f"InfluxDB sink delivered {int(d):,} points in {wi:.1f} s of slo run wall time: {int(d) / wi:,.0f} samples/s")
EOF
