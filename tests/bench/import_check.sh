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

# best OUTFILE cmd... -> prints the best wall seconds of REPS runs (each a fresh process,
# timed from Python around the spawn, so both tools are timed the same way: best of
# REPS); the first run's peak RSS KiB (/usr/bin/time) goes into OUTFILE.rss. A command
# given RUN_K in its arguments gets the repetition number there (a new import id each).
REPS=${REPS:-5}
best() {
  local out=$1; shift
  python3 - "$out" "$REPS" "$@" <<'PY' || { cat "$out.err" >&2; return 1; }
import subprocess, sys, time
out, reps, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = []
for k in range(reps):
    args = [a.replace("RUN_K", str(k)) for a in cmd]
    if k == 0:
        args = ["/usr/bin/time", "-f", "%M", "-o", out + ".rss"] + args
    t = time.perf_counter()
    r = subprocess.run(args, stdout=open(out, "wb"), stderr=open(out + ".err", "wb"))
    times.append(time.perf_counter() - t)
    if r.returncode not in (0, 1):
        sys.exit(1)
print(f"{min(times):.3f}")
PY
}

printf '%-10s %-34s %9s %9s %8s\n' points step slo_s duckdb_s ratio
for n in "${sizes[@]}"; do
  f="$W/k6-$n.ndjson"
  python3 tests/bench/gen_k6_ndjson.py "$n" "$f" 2>/dev/null
  store="$W/store-$n"
  t_imp=$(best "$W/imp" "$SLO" import k6-json "$f" --run-id "bench-$n-RUN_K" --store "$store")
  rss_imp=$(cat "$W/imp.rss")
  # The default (table) output: verdicts only, so slo reads what the thresholds judge,
  # as DuckDB does; `--format json` adds k6's summary of every metric (timed apart).
  t_chk=$(best "$W/chk" "$SLO" check --run "bench-$n-0" --k6-options "$W/options.json" --store "$store")
  rss_chk=$(cat "$W/chk.rss")
  t_json=$(best "$W/chkj" "$SLO" check --run "bench-$n-0" --k6-options "$W/options.json" --format json --store "$store")
  # DuckDB: a fresh connection per repetition (no cache carried over), best of REPS.
  read -r d_json d_parq <<<"$(python3 - "$f" "$store/runs/bench-$n-0" "$REPS" <<'PY'
import duckdb, sys, time
f, run, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
def best(q):
    ts = []
    for _ in range(reps):
        con = duckdb.connect()
        t = time.perf_counter()
        con.execute(q).fetchall()
        ts.append(time.perf_counter() - t)
        con.close()
    return min(ts)
a = best(f"""SELECT data.tags.name AS name, count(*), avg(data.value),
  quantile_cont(data.value, 0.95), quantile_cont(data.value, 0.99)
  FROM read_json('{f}', format='newline_delimited',
     columns={{'metric':'VARCHAR','type':'VARCHAR','data':'STRUCT("time" VARCHAR, value DOUBLE, tags STRUCT(name VARCHAR))'}})
  WHERE type='Point' AND metric='http_req_duration' GROUP BY 1""")
b = best(f"""SELECT name, count(http_req_duration), avg(http_req_duration),
  quantile_cont(http_req_duration, 0.95), quantile_cont(http_req_duration, 0.99), count(http_reqs)
  FROM read_parquet('{run}/req-*.parquet') GROUP BY 1""")
print(f"{a:.3f} {b:.3f}")
PY
)"
  awk -v n="$n" -v a="$t_imp" -v b="$d_json" 'BEGIN{printf "%-10s %-34s %9.3f %9.3f %8.2f\n", n, "import NDJSON (duckdb: query it)", a, b, b/a}'
  awk -v n="$n" -v a="$t_chk" -v b="$d_parq" 'BEGIN{printf "%-10s %-34s %9.3f %9.3f %8.2f\n", n, "check Parquet (duckdb: query it)", a, b, b/a}'
  echo "$n slo check --format json (k6 summary of every metric too): $t_json s"
  echo "$n peak RSS KiB: import $rss_imp, check $rss_chk"
  rm -f "$f"; rm -rf "$store"
done
