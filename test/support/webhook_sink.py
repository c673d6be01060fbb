#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A webhook receiver for the `probe health` tests: accepts POSTs on a
loopback address, answers 200 (or --status), and appends one JSON line per
request to --log: {"path", "idempotency_key", "body"}.  Prints "PORT n"
when it listens.  Loopback only."""
import argparse
import http.server
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.8.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--status", type=int, default=200)
    a = ap.parse_args()
    if not a.addr.startswith("127."):
        sys.exit("webhook_sink: loopback addresses only")

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(min(n, 1 << 20)).decode("utf-8", "replace")
            with open(a.log, "a") as f:
                f.write(json.dumps({"path": self.path,
                                    "idempotency_key": self.headers.get("Idempotency-Key"),
                                    "body": body}) + "\n")
            self.send_response(a.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer((a.addr, a.port), H)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
