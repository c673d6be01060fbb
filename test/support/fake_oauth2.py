#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A tiny OAuth2 token endpoint for test/probe/test_secret.c (RFC 6749 §6).

Listens on 127.0.6.1 (loopback only) on a port the kernel picks, prints
that port on the first line of stdout, and answers POST /token with a
refresh-token grant.  It checks every form field against its arguments,
so a test proves what probe sent; it never echoes a credential unless
--mode echo asks for exactly that (to test that probe hides it).

  --client-id ID          the client_id expected
  --client-secret S       the client_secret expected (absent: none may come)
  --refresh-token R       the refresh token accepted
  --scope S               the scope expected (absent: none may come)
  --mode MODE             ok (default) | error | echo | rotate | status500
                          | html | huge | mac
  --new-refresh-token T   with rotate: answer it, and accept only it after
  --expires-in N          expires_in of the answer (default 3600)
  --log FILE              append one line per request: "ok" or "refused: why"

It exits when its parent exits or after --lifetime seconds (default 120),
so a crashed test leaves nothing running.
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

HOST = "127.0.6.1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret")
    ap.add_argument("--refresh-token", required=True)
    ap.add_argument("--scope")
    ap.add_argument("--mode", default="ok",
                    choices=["ok", "error", "echo", "rotate", "status500",
                             "html", "huge", "mac"])
    ap.add_argument("--new-refresh-token")
    ap.add_argument("--expires-in", type=int, default=3600)
    ap.add_argument("--log")
    ap.add_argument("--lifetime", type=float, default=120)
    args = ap.parse_args()
    state = {"refresh": args.refresh_token, "n": 0}
    lock = threading.Lock()

    def log(line):
        if args.log:
            with open(args.log, "a") as f:
                f.write(line + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):  # quiet: stderr is the test's
            pass

        def answer(self, status, body, ctype="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def refuse(self, error, why):
            log("refused: " + why)
            self.answer(400, {"error": error, "error_description": why})

        def do_GET(self):
            self.answer(405, {"error": "invalid_request",
                              "error_description": "POST only"})

        def do_POST(self):
            with lock:
                self.token()

        def token(self):
            if self.path != "/token":
                return self.answer(404, {"error": "not_found"})
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                return self.refuse("invalid_request", "not a form")
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n).decode("ascii")
            try:
                form = urllib.parse.parse_qs(raw, keep_blank_values=True,
                                             strict_parsing=True)
            except ValueError:
                return self.refuse("invalid_request", "form does not parse")
            for k, v in form.items():
                if len(v) != 1:
                    return self.refuse("invalid_request", k + " given twice")
            f = {k: v[0] for k, v in form.items()}
            allowed = {"grant_type", "client_id", "client_secret",
                       "refresh_token", "scope"}
            if set(f) - allowed:
                return self.refuse("invalid_request", "unknown field")
            if f.get("grant_type") != "refresh_token":
                return self.refuse("unsupported_grant_type", "grant_type")
            if f.get("client_id") != args.client_id:
                return self.refuse("invalid_client", "client_id")
            if f.get("client_secret") != args.client_secret:
                return self.refuse("invalid_client", "client_secret")
            if f.get("scope") != args.scope:
                return self.refuse("invalid_scope", "scope")
            if args.mode == "echo":
                log("refused: echo")
                return self.answer(400, {
                    "error": "invalid_grant",
                    "error_description": "bad token " + f.get("refresh_token", "")})
            if f.get("refresh_token") != state["refresh"]:
                return self.refuse("invalid_grant", "refresh_token")
            if args.mode == "error":
                log("refused: error mode")
                return self.answer(400, {
                    "error": "invalid_grant",
                    "error_description": "AADSTS70000: the grant is expired"})
            if args.mode == "status500":
                log("refused: 500")
                return self.answer(503, {"error": "temporarily_unavailable"})
            if args.mode == "html":
                log("refused: html")
                return self.answer(502, b"<html>bad gateway</html>", "text/html")
            if args.mode == "huge":
                log("ok: huge")
                return self.answer(200, {"access_token": "a" * 70000,
                                         "token_type": "Bearer"})
            state["n"] += 1
            body = {"access_token": "fake-access-%d.%d" % (state["n"], os.getpid()),
                    "token_type": "mac" if args.mode == "mac" else "Bearer",
                    "expires_in": args.expires_in}
            if args.mode == "rotate":
                body["refresh_token"] = args.new_refresh_token
                state["refresh"] = args.new_refresh_token
            log("ok")
            self.answer(200, body)

    srv = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    parent = os.getppid()

    def watch():
        end = time.monotonic() + args.lifetime
        while os.getppid() == parent and time.monotonic() < end:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
