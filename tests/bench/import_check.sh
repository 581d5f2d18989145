#!/usr/bin/env bash
# Benchmark: `slo import k6-json` + `slo check` against DuckDB on the same k6 NDJSON and the
# same Parquet, in one run. Prints times, ratios (DuckDB time / slo time: >= 1.0 means slo is
# no slower) and slo's peak RSS. Usage: bash tests/bench/import_check.sh [POINTS...]
# (default: 2000000 8000000). Needs python3; installs duckdb from PyPI if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}"
cargo build --release --locked --bin slo >/dev/null
SLO="$CARGO_TARGET_DIR/release/slo"
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(2000000 8000000)

# Thresholds that make slo compute the same per-name count/avg/p95/p99 DuckDB computes.
python3 - "$W/options.json" <<'PY'
import json, sys
th = {}
for i in range(8):
    th[f"http_req_duration{{name:route_{i}}}"] = ["p(95)<100000", "p(99)<100000", "avg<100000"]
    th[f"http_reqs{{name:route_{i}}}"] = ["count>0"]
json.dump({"thresholds": th}, open(sys.argv[1], "w"))
PY

timed() { # timed OUTFILE cmd... -> prints wall seconds (ns clock); peak RSS KiB into OUTFILE.rss
  local out=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%e %M' -o "$out.time" "$@" >"$out" 2>"$out.err" || { cat "$out.err" >&2; return 1; }
  t1=$(date +%s%N)
  read -r _ rss <"$out.time"; echo "$rss" >"$out.rss"
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f\n", (b - a) / 1e9}'
}

printf '%-10s %-34s %9s %9s %8s\n' points step slo_s duckdb_s ratio
for n in "${sizes[@]}"; do
  f="$W/k6-$n.ndjson"
  python3 tests/bench/gen_k6_ndjson.py "$n" "$f" 2>/dev/null
  store="$W/store-$n"
  t_imp=$(timed "$W/imp" "$SLO" import k6-json "$f" --run-id "bench-$n" --store "$store")
  rss_imp=$(cat "$W/imp.rss")
  # The default (table) output: verdicts only, so slo reads what the thresholds judge,
  # as DuckDB does; `--format json` adds k6's summary of every metric (timed apart).
  t_chk=$(timed "$W/chk" "$SLO" check --run "bench-$n" --k6-options "$W/options.json" --store "$store")
  t_json=$(timed "$W/chkj" "$SLO" check --run "bench-$n" --k6-options "$W/options.json" --format json --store "$store")
  rss_chk=$(cat "$W/chk.rss")
  read -r d_json d_parq <<<"$(python3 - "$f" "$store/runs/bench-$n" <<'PY'
import duckdb, sys, time
f, run = sys.argv[1], sys.argv[2]
con = duckdb.connect()
t = time.perf_counter()
con.execute(f"""SELECT data.tags.name AS name, count(*), avg(data.value),
  quantile_cont(data.value, 0.95), quantile_cont(data.value, 0.99)
  FROM read_json('{f}', format='newline_delimited',
     columns={{'metric':'VARCHAR','type':'VARCHAR','data':'STRUCT("time" VARCHAR, value DOUBLE, tags STRUCT(name VARCHAR))'}})
  WHERE type='Point' AND metric='http_req_duration' GROUP BY 1""").fetchall()
a = time.perf_counter() - t
t = time.perf_counter()
con.execute(f"""SELECT name, count(http_req_duration), avg(http_req_duration),
  quantile_cont(http_req_duration, 0.95), quantile_cont(http_req_duration, 0.99), count(http_reqs)
  FROM read_parquet('{run}/req-*.parquet') GROUP BY 1""").fetchall()
b = time.perf_counter() - t
print(f"{a:.3f} {b:.3f}")
PY
)"
  awk -v n="$n" -v a="$t_imp" -v b="$d_json" 'BEGIN{printf "%-10s %-34s %9.3f %9.3f %8.2f\n", n, "import NDJSON (duckdb: query it)", a, b, b/a}'
  awk -v n="$n" -v a="$t_chk" -v b="$d_parq" 'BEGIN{printf "%-10s %-34s %9.3f %9.3f %8.2f\n", n, "check Parquet (duckdb: query it)", a, b, b/a}'
  echo "$n slo check --format json (k6 summary of every metric too): $t_json s"
  echo "$n peak RSS KiB: import $rss_imp, check $rss_chk"
  rm -f "$f"; rm -rf "$store"
done
