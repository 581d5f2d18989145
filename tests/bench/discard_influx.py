#!/usr/bin/env python3
"""A stand-in InfluxDB 1.x for tests/bench/sinks.sh: answers /ping and /query, and reads
every /write body in full and throws it away (204). Measuring `slo run --out influxdb=`
against it isolates the sink's own cost (encoding, gzip, HTTP) from the CPU a real
InfluxDB server takes on the same cores.

Usage: discard_influx.py PORT   (listens on 127.0.0.1 only)
"""
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            parts = line.split(b" ")
            path = parts[1] if len(parts) > 1 else b""
            length = 0
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":", 1)[1])
            if length:
                self.rfile.read(length)
            if path.startswith(b"/query"):
                body = b'{"results":[{"statement_id":0}]}'
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                self.wfile.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
