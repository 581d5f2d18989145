#!/usr/bin/env bash
# Benchmark: `slo compare` of two runs of N requests each (default 5,000,000), release
# build. Prints wall seconds and peak RSS (/usr/bin/time '%e %M') of the comparison, against
# the targets of 10 s and 1 GB on a 2-core machine.
#
# "A 5 M-sample run" here is 5 M requests, i.e. 5 M latency samples (`http_req_duration`
# points) plus, per request, its `http_reqs` and `http_req_failed` points: the three
# metrics `slo compare` reads, so 15 M points a run. (k6 would add six more per request,
# which `slo compare` never decodes.) Each run is written as k6 NDJSON by a generator
# below and streamed through a FIFO into `slo import k6-json`, so nothing of ~4 GB
# lands on disk; the store then holds the run as Parquet parts, as any import does.
#
# Requests: 8 routes (`route_0`..`route_7`), 10,000/s (a 500 s run), log-normal
# latencies with route-dependent medians, 1 % failures; the candidate's `route_3` is
# 10 % slower. Seeds differ between the runs.
#
# Usage: bash tests/bench/compare.sh [REQUESTS]   (needs python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}"
cargo build --release --bin slo >/dev/null
SLO="$CARGO_TARGET_DIR/release/slo"
N="${1:-5000000}"
W=$(mktemp -d); [ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
STORE="$W/store"; [ -z "${KEEP:-}" ] || echo "keeping $W"

gen() { # gen SEED SLOW_ROUTE_FACTOR OUT
  python3 - "$N" "$1" "$2" "$3" <<'PY'
import json, math, random, sys
n, seed, slow, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rnd = random.Random(seed)
routes = [f"route_{i}" for i in range(8)]
def tags(name, ok):
    return json.dumps({"expected_response": "true" if ok else "false", "group": "", "method": "GET", "name": name,
                       "proto": "HTTP/1.1", "scenario": "default", "status": "200" if ok else "500", "url": name},
                      separators=(",", ":"))
TAGS = {(r, ok): tags(r, ok) for r in routes for ok in (True, False)}
o = open(out, "w", buffering=1 << 22)
for m, t, c in (("http_reqs", "counter", "default"), ("http_req_duration", "trend", "time"), ("http_req_failed", "rate", "default")):
    o.write(json.dumps({"type": "Metric", "data": {"name": m, "type": t, "contains": c, "thresholds": [], "submetrics": None},
                        "metric": m}, separators=(",", ":")) + "\n")
lognorm, rand = rnd.lognormvariate, rnd.random
buf = []
for i in range(n):
    us = i * 100                                   # 10,000 requests a second
    s, frac = divmod(us, 1_000_000)
    t = "2026-11-29T12:%02d:%02d.%06d000Z" % (s // 60, s % 60, frac)
    k = i % 8
    ok = rand() >= 0.01
    d = lognorm(3.0 + k * 0.1, 0.5) * (slow if k == 3 else 1.0)
    tg = TAGS[(routes[k], ok)]
    buf.append('{"metric":"http_reqs","type":"Point","data":{"time":"%s","value":1,"tags":%s}}\n'
               '{"metric":"http_req_duration","type":"Point","data":{"time":"%s","value":%.6f,"tags":%s}}\n'
               '{"metric":"http_req_failed","type":"Point","data":{"time":"%s","value":%d,"tags":%s}}\n'
               % (t, tg, t, d, tg, t, 0 if ok else 1, tg))
    if len(buf) >= 4096:
        o.write("".join(buf)); buf.clear()
o.write("".join(buf))
o.close()
PY
}

for side in baseline:1:1.0 candidate:2:1.1; do
  IFS=: read -r id seed slow <<<"$side"
  mkfifo "$W/$id.ndjson"
  gen "$seed" "$slow" "$W/$id.ndjson" &
  gen_pid=$!
  t0=$(date +%s.%N)
  "$SLO" import k6-json "$W/$id.ndjson" --run-id "$id" --store "$STORE" >"$W/$id.import" 2>&1
  wait "$gen_pid"
  awk -v a="$t0" -v b="$(date +%s.%N)" -v id="$id" 'BEGIN{printf "generated and imported %s in %.1f s\n", id, b-a}'
  rm -f "$W/$id.ndjson"
done
du -sh "$STORE/runs/baseline" "$STORE/runs/candidate"

rc=0
/usr/bin/time -f '%e %M' -o "$W/time" "$SLO" compare --baseline baseline --candidate candidate --store "$STORE" >"$W/compare.out" 2>"$W/compare.err" || rc=$?
[ "$rc" -le 1 ] || { cat "$W/compare.err" >&2; exit "$rc"; }
read -r secs rss < <(tail -n 1 "$W/time")  # after "Command exited with non-zero status 1"
sed -n '1,14p' "$W/compare.out"
echo "slo compare exit $rc (1 = a regression found; route_3 is 10 % slower by construction)"
awk -v n="$N" -v s="$secs" -v k="$rss" 'BEGIN{
  printf "slo compare of two %d-request runs: %.2f s wall, peak RSS %.0f MiB (targets: < 10 s, < 1024 MiB): %s\n",
    n, s, k/1024, (s < 10 && k < 1048576) ? "met" : "NOT met"}'
