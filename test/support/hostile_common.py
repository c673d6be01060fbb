# SPDX-License-Identifier: MIT
"""What the scripted hostile servers (hostile_smtp.py, hostile_imap.py)
share: the log of what the client sent, a session's bytes in and out, TLS,
the credentials check, the common options and the accept loop.  Not a
server itself.  Python 3 stdlib only.

Each server subclasses BaseSession (setting LINE_MAX and LINE_TOO_LONG and
defining greet() and next_command()) and ends in serve(cfg, Session).
"""

import ipaddress
import itertools
import socket
import ssl
import sys
import threading


class Closed(Exception):
    """The client went away (or we are done with it)."""


class Log:
    """--log: the client's bytes, exactly, with event lines between."""

    def __init__(self, path, verbose):
        self.lock = threading.Lock()
        self.file = open(path, "ab", buffering=0) if path else None
        self.verbose = verbose

    def client(self, conn_id, data):
        with self.lock:
            if self.file:
                self.file.write(data)
            if self.verbose:
                sys.stderr.write("[%d] C: %r\n" % (conn_id, bytes(data)))

    def server(self, conn_id, data):
        if self.verbose:
            with self.lock:
                shown = data if len(data) <= 300 else \
                    data[:300] + b"...(%d bytes)" % len(data)
                sys.stderr.write("[%d] S: %r\n" % (conn_id, shown))

    def event(self, conn_id, text):
        with self.lock:
            line = "#### conn %d %s\n" % (conn_id, text)
            if self.file:
                self.file.write(line.encode())
            if self.verbose:
                sys.stderr.write(line)


class BaseSession:
    """One client connection, in its own thread."""

    LINE_MAX = 1024 * 1024  # our own bound on a client line
    LINE_TOO_LONG = b""  # what we say before closing on a longer one

    def __init__(self, cfg, log, sock, peer, conn_id, tls_ctx):
        self.cfg = cfg
        self.log = log
        self.sock = sock
        self.peer = peer
        self.id = conn_id
        self.tls_ctx = tls_ctx
        self.buf = bytearray()
        self.tls = False
        self.authed = False

    # --- bytes in and out ------------------------------------------------

    def recv_more(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise
        except (OSError, ssl.SSLError):
            raise Closed()
        if not data:
            raise Closed()
        self.log.client(self.id, data)
        self.buf += data

    def readline(self):
        """One line without its CRLF (or bare LF), as bytes."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) > self.LINE_MAX:
                self.send(self.LINE_TOO_LONG)
                raise Closed()
            self.recv_more()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.log.server(self.id, data)
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            raise Closed()

    def drain(self, seconds=None):
        """Read (and log) until the client closes, or for seconds."""
        self.sock.settimeout(seconds)
        try:
            while True:
                self.recv_more()
        except (Closed, socket.timeout, OSError):
            pass

    def close_gently(self):
        """Close after what we sent, letting the client read it first: in
        plain text a FIN and then drain; under TLS (where a TCP shutdown
        would leave the record layer) drain until the client closes."""
        if not self.tls:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self.drain(2)
        raise Closed()

    # --- the session -------------------------------------------------

    def run(self):
        self.log.event(self.id, "open %s:%d" % self.peer[:2])
        try:
            if self.cfg.implicit_tls:
                self.start_tls()
            self.greet()
            while True:
                self.next_command()
        except Closed:
            pass
        finally:
            self.log.event(self.id, "close")
            try:
                self.sock.close()
            except OSError:
                pass

    def greet(self):
        raise NotImplementedError

    def next_command(self):
        """Read one command and answer it."""
        raise NotImplementedError

    def discard_pipelined(self):
        """RFC 3207 §5 (and the same for IMAP): what the client sent after
        STARTTLS in plain text must be thrown away, never read as
        commands under TLS."""
        if self.buf:
            self.log.event(self.id, "note discarded %d plain-text bytes "
                           "pipelined after STARTTLS" % len(self.buf))
            self.buf.clear()

    def start_tls(self):
        self.sock.settimeout(30)
        try:
            self.sock = self.tls_ctx.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.log.event(self.id, "note TLS handshake failed: %s" % e)
            raise Closed()
        self.sock.settimeout(None)
        self.tls = True
        self.log.event(self.id, "tls %s %s" % (self.sock.version(),
                                               self.sock.cipher()[0]))

    # --- authentication ----------------------------------------------

    def creds_ok(self, user, secret, want):
        if self.cfg.user is not None and user != self.cfg.user.encode():
            return False
        return want is None or secret == want.encode()

    def xoauth2_ok(self, resp):
        """The XOAUTH2 string `user=USER ^A auth=Bearer TOKEN ^A ^A` names
        the expected user and carries --token."""
        fields = dict(f.split(b"=", 1) for f in resp.split(b"\x01")
                      if b"=" in f)
        bearer = fields.get(b"auth", b"")
        token = bearer[7:] if bearer[:7].lower() == b"bearer " else None
        return token is not None and \
            self.creds_ok(fields.get(b"user", b""), token, self.cfg.token)


# --- options -------------------------------------------------------------

def add_listen_args(p, default):
    p.add_argument("--listen", default=default,
                   help="loopback address to bind (127.0.0.0/8 only)")
    p.add_argument("--port", type=int, default=0, help="0: any free port")


def add_tls_args(p, implicit):
    """--cert, --key and --implicit-tls (IMPLICIT: smtps, imaps)."""
    p.add_argument("--cert", help="server certificate chain (PEM)")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--implicit-tls", action="store_true",
                   help="TLS from the first byte (%s, RFC 8314)" % implicit)


def check_common_args(p, args):
    """--listen on loopback only; --cert and --key both or neither."""
    try:
        if not ipaddress.ip_address(args.listen).is_loopback:
            raise ValueError
    except ValueError:
        p.error("--listen %s: loopback IPv4 addresses only" % args.listen)
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")


# --- the server ----------------------------------------------------------

def serve(cfg, session_class):
    """Listen, print `PORT <n>`, and serve each client with a
    session_class in its own thread until killed."""
    try:
        tls_ctx = None
        if cfg.cert:
            tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_ctx.load_cert_chain(cfg.cert, cfg.key)
        log = Log(cfg.log, cfg.verbose)
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((cfg.listen, cfg.port))
        srv.listen(64)
        print("PORT %d" % srv.getsockname()[1], flush=True)
        for conn_id in itertools.count(1):
            sock, peer = srv.accept()
            session = session_class(cfg, log, sock, peer, conn_id, tls_ctx)
            threading.Thread(target=session.run, daemon=True).start()
    except KeyboardInterrupt:
        pass
