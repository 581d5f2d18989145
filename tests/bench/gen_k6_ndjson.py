#!/usr/bin/env python3
"""Writes a synthetic k6 `--out json` NDJSON file of about N points, shaped like k6 v1.1.0's
output (Metric lines first use, then Point lines; k6's tag set on http_req_* points).

Usage: gen_k6_ndjson.py POINTS OUT.ndjson [--names 8] [--seed 1]
Each simulated request writes 9 points (http_reqs, http_req_duration, http_req_blocked,
http_req_connecting, http_req_sending, http_req_waiting, http_req_receiving, http_req_failed,
data_received); every 20 requests an iteration adds iterations + iteration_duration.
"""
import argparse, datetime, json, random, sys

ap = argparse.ArgumentParser()
ap.add_argument("points", type=int)
ap.add_argument("out")
ap.add_argument("--names", type=int, default=8)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rnd = random.Random(a.seed)
names = [f"route_{i}" for i in range(a.names)]
start = datetime.datetime(2026, 11, 29, 12, 0, 0, tzinfo=datetime.timezone.utc)
declared = set()
TYPES = {"http_reqs": ("counter", "default"), "http_req_duration": ("trend", "time"),
         "http_req_blocked": ("trend", "time"), "http_req_connecting": ("trend", "time"),
         "http_req_sending": ("trend", "time"), "http_req_waiting": ("trend", "time"),
         "http_req_receiving": ("trend", "time"), "http_req_failed": ("rate", "default"),
         "data_received": ("counter", "data"), "iterations": ("counter", "default"),
         "iteration_duration": ("trend", "time")}

out = open(a.out, "w", buffering=1 << 20)
def point(metric, t, value, tags):
    if metric not in declared:
        declared.add(metric)
        typ, contains = TYPES[metric]
        out.write(json.dumps({"type": "Metric", "data": {"name": metric, "type": typ, "contains": contains,
                  "thresholds": [], "submetrics": None}, "metric": metric}, separators=(",", ":")) + "\n")
    out.write('{"metric":"%s","type":"Point","data":{"time":"%s","value":%s,"tags":%s}}\n'
              % (metric, t, repr(value), json.dumps(tags, separators=(",", ":"))))

written = 0
req = 0
while written < a.points:
    req += 1
    ts = start + datetime.timedelta(microseconds=req * 137)
    t = ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    name = names[req % len(names)]
    failed = rnd.random() < 0.01
    status = "500" if failed else "200"
    dur = round(rnd.lognormvariate(3.0 + (req % len(names)) * 0.1, 0.5), 6)
    tags = {"expected_response": "false" if failed else "true", "group": "", "method": "GET",
            "name": name, "proto": "HTTP/1.1", "scenario": "default", "status": status, "url": name}
    point("http_reqs", t, 1, tags)
    point("http_req_duration", t, dur, tags)
    point("http_req_blocked", t, round(rnd.random() * 0.01, 6), tags)
    point("http_req_connecting", t, 0, tags)
    point("http_req_sending", t, round(rnd.random() * 0.05, 6), tags)
    point("http_req_waiting", t, round(dur * 0.95, 6), tags)
    point("http_req_receiving", t, round(dur * 0.05, 6), tags)
    point("http_req_failed", t, 1 if failed else 0, tags)
    point("data_received", t, 512, {"group": "", "scenario": "default"})
    written += 9
    if req % 20 == 0:
        point("iterations", t, 1, {"group": "", "scenario": "default"})
        point("iteration_duration", t, round(dur * 20, 6), {"group": "", "scenario": "default"})
        written += 2
out.close()
print(f"{a.out}: {written} points, {req} requests", file=sys.stderr)
