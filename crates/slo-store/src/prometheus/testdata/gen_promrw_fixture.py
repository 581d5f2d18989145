#!/usr/bin/env python3
"""Regenerates promrw_fixture.hex from ../shared/tools/promrw.py (an independent,
hand-written remote-write encoder). Line 1: the WriteRequest protobuf; line 2: promrw's
literal-only snappy block of it. The Rust test encodes the same input with prost."""
import sys
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else '../shared/tools')
import promrw
series = [
    ({'__name__': 'k6_http_reqs_total', 'testid': 't1', 'scenario': 'default', 'status': '200',
      'name': 'http://127.0.0.1/é'}, [(3.0, 1700000000000), (7.5, 1700000005000)]),
    ({'__name__': 'slo_run_info', 'testid': 't1', 'status': 'running'}, [(1.0, 1700000005123)]),
    ({'__name__': 'k6_vus', 'testid': 't1'}, [(-2.25, 1), (1e300, 1700000005123)]),
]
wr = promrw.write_request(series)
print(wr.hex())
print(promrw.snappy_literal(wr).hex())
