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
# Usage: bash tests/bench/sinks.sh [SECONDS] [ROUNDS]   (defaults 10 and 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}"
DUR="${1:-10}"
ROUNDS="${2:-3}"
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

# ROUNDS rounds of the four runs, interleaved, so drift of the machine hits all alike;
# each round's ratios divide by that round's local run; the table gives the medians.
: >"$W/results"
for r in $(seq "$ROUNDS"); do
  for kind in local influx prom discard; do
    case $kind in
      local) out=() ;;
      influx) out=(--out "influxdb=$INFLUX_URL/bench") ;;
      prom) out=(--out "prometheus=$PROM_URL") ;;
      discard) out=(--out "influxdb=http://127.0.0.1:$DPORT/bench") ;;
    esac
    read -r n rps wall < <(bench "$kind-$r" "${out[@]}")
    delivered=0
    if [ "$kind" = influx ]; then
      delivered=$(grep "^out influxdb=" "$W/$kind-$r.out" | sed -E 's/.*: ([0-9]+) delivered.*/\1/')
    fi
    echo "$r $kind $n $rps $wall $delivered" >>"$W/results"
  done
done
grep -h "^out " "$W"/*-1.out | sed 's/^/  /'

python3 - "$W/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for r, kind, n, rps, wall, d in rows:
    by.setdefault(kind, []).append((int(r), int(n), float(rps), float(wall), int(d)))
local = {r: rps for r, _, rps, _, _ in by["local"]}
names = {"local": "local only", "influx": "+ influxdb", "prom": "+ prometheus", "discard": "+ influxdb, discarding receiver"}
print(f"{len(local)} rounds; medians, and the range of the per-round ratios")
print("| sinks | requests | req/s (load phase) | ÷ local only | per-round range | wall s (final delivery included) |")
print("|---|---|---|---|---|---|")
for kind in ["local", "influx", "prom", "discard"]:
    v = by[kind]
    ratios = [rps / local[r] for r, _, rps, _, _ in v]
    print(f"| {names[kind]} | {int(statistics.median(x[1] for x in v)):,} | {statistics.median(x[2] for x in v):,.0f} | "
          f"{statistics.median(ratios):.2f} | {min(ratios):.2f}–{max(ratios):.2f} | {statistics.median(x[3] for x in v):.1f} |")
rates = [d / wall for _, _, _, wall, d in by["influx"]]
print(f"InfluxDB sink delivered a median {statistics.median(rates):,.0f} samples/s (points the server acknowledged ÷ slo run wall time)")
EOF
