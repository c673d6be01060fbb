#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""relay-gate: a minimal milter for the lab relay's IP-allowlist port.

Like smtp-relay.gmail.com, the port relays only for registered client
addresses.  Any other client is refused at MAIL FROM with Google's wording:
  550 5.7.0 Mail relay denied [IP]. Invalid credentials for relay ...
Postfix's own access maps cannot produce that reply (they always prefix
"<addr>: ... rejected:"), a milter reply is passed on verbatim.

Speaks the Sendmail milter protocol (version 6) with the standard library
only; see libmilter's mfdef.h for the command letters.

  relay-gate.py LISTEN_HOST:PORT ALLOWLIST_FILE

Runs in the foreground; scripts/lab starts it in the background and keeps
its pid.  The allowlist is read again for every client.
"""

import ipaddress
import os
import signal
import socketserver
import struct
import sys

# MTA -> milter commands that expect no reply
NO_REPLY = {b"D", b"A"}


def load_allowlist(path):
    nets = []
    with open(path) as f:
        for line in f:
            for tok in line.split("#", 1)[0].replace(",", " ").split():
                nets.append(ipaddress.ip_network(tok, strict=False))
    return nets


class Gate(socketserver.StreamRequestHandler):
    def recv_packet(self):
        head = self.rfile.read(4)
        if len(head) < 4:
            return None, None
        (n,) = struct.unpack("!I", head)
        if n < 1 or n > 1 << 20:
            return None, None
        body = self.rfile.read(n)
        if len(body) < n:
            return None, None
        return body[:1], body[1:]

    def send_packet(self, cmd, data=b""):
        self.wfile.write(struct.pack("!I", len(data) + 1) + cmd + data)
        self.wfile.flush()

    def handle(self):
        client = None
        while True:
            cmd, data = self.recv_packet()
            if cmd is None or cmd == b"Q":
                return
            if cmd == b"K":  # quit, new connection follows
                client = None
                continue
            if cmd in NO_REPLY:
                continue
            if cmd == b"O":
                version, _actions, _proto = struct.unpack("!III", data[:12])
                self.send_packet(b"O", struct.pack("!III", min(version, 6), 0, 0))
                continue
            if cmd == b"C":
                # hostname NUL family [port(2) address NUL]
                host_end = data.find(b"\0")
                rest = data[host_end + 1:]
                if rest[:1] in (b"4", b"6") and len(rest) > 3:
                    client = rest[3:].split(b"\0", 1)[0].decode("ascii", "replace")
                self.send_packet(b"c")
                continue
            if cmd == b"M":
                sender = data.split(b"\0", 1)[0].decode("utf-8", "replace").strip("<>")
                if not self.server.allowed(client):
                    domain = sender.rpartition("@")[2] or "(null sender)"
                    text = ("550 5.7.0 Mail relay denied [%s]. Invalid credentials "
                            "for relay for one of the domains in: %s (as obtained "
                            "from HELO and MAIL FROM). The client address is not "
                            "registered for this relay. - lab" % (client, domain))
                    self.send_packet(b"y", text.encode() + b"\0")
                    continue
                self.send_packet(b"c")
                continue
            self.send_packet(b"c")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, allowlist):
        self.allowlist_path = allowlist
        super().__init__(addr, Gate)

    def allowed(self, client):
        if not client:
            return False
        try:
            ip = ipaddress.ip_address(client)
            return any(ip in n for n in load_allowlist(self.allowlist_path))
        except (ValueError, OSError):
            return False


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    host, _, port = sys.argv[1].rpartition(":")
    load_allowlist(sys.argv[2])  # fail early on a bad file
    server = Server((host, int(port)), sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
