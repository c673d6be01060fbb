#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A scriptable hostile SMTP server for the integration tests.

It does what real servers (Postfix in the lab) will not do on demand: huge
or endless replies, silence, a byte every 20 s, STARTTLS missing or with
injected bytes, malformed reply codes, a drop after DATA.  Each scenario is
a normal ESMTP server (RFC 5321, STARTTLS per RFC 3207, AUTH PLAIN, LOGIN
and XOAUTH2) that deviates at exactly one point.  Python 3 stdlib only.

    hostile_smtp.py --listen 127.0.5.1 --port 0 --scenario NAME
                    [--variant V] [--cert C --key K] [--implicit-tls]
                    [--user U --password P --token T] [--log FILE]
                    [--delay S] [--interval S] [--lines N] [-v]

Prints `PORT <n>` on stdout once listening and serves until killed.  --log
gets every byte received from the client, exactly (after TLS decryption),
with a line `#### conn N EVENT` at each connection event (open, tls, close,
and `note ...`); with -v, both directions go to stderr.  Listens only on
127.0.0.0/8.  `--help-scenarios` lists the scenarios.
"""

import argparse
import base64
import binascii
import ipaddress
import itertools
import socket
import ssl
import sys
import threading
import time

HOST = "hostile.test"
MIB = 1024 * 1024
LINE_MAX = 4 * MIB  # our own bound on a client line (a message line)
MSG_MAX = 64 * MIB  # and on a message

SCENARIOS = {
    "normal": "a well-behaved ESMTP server (STARTTLS, AUTH, queued as ...)",
    "long-line": "a 1 MiB reply line (variant greeting | ehlo, default ehlo)",
    "many-lines": "--lines (100,000) 250- continuation lines in the EHLO "
                  "reply (`250-line 000042`; variant short: `250-x`)",
    "silence": "accept the connection, never send anything",
    "trickle": "the greeting one byte every --interval seconds (20)",
    "no-starttls": "EHLO reply without STARTTLS; STARTTLS answers 502",
    "starttls-inject": "`220 go ahead\\r\\n250-injected\\r\\n` in one write "
                       "after STARTTLS, then TLS",
    "bad-code": "a malformed reply: variant letters (greeting `2x0 hi`), "
                "999 (greeting `999 nope`), binary (EHLO `250` then binary "
                "garbage), mismatch (EHLO `250-...` then `251 ...`), "
                "mail (MAIL answered `25O 2.1.0 Ok`)",
    "drop-after-data": "read the message to the final `.`, close without "
                       "a reply",
    "data-silence": "read the message to the final `.`, never reply",
    "rcpt-mixed": "RCPT answers by local part (ok* 250, unknown* 550 5.1.1, "
                  "later* 450 4.2.1), else by position in the transaction "
                  "(250, 550, 450, then 250)",
    "reject-data": "550 5.7.26 with Gmail's multi-line text after the message",
    "auth-fail": "535 5.7.8 to any AUTH (after reading the credentials)",
    "tempfail-greeting": "421 4.7.0 as the greeting, then close",
    "drop-at-greeting": "accept the connection and close it at once",
    "slow-accept": "the greeting after --delay seconds (1.5), then normal",
    "slow-replies": "every reply after --delay seconds (1.5), otherwise "
                    "normal: per-stage deadlines must not add up",
    "tls-garbage": "after the STARTTLS 220, plain-text garbage instead of "
                   "a TLS handshake",
}

GMAIL_5726 = [
    "This mail is unauthenticated, which poses a security risk to the",
    "sender and Gmail users, and has been blocked. The sender must",
    "authenticate with at least one of SPF or DKIM. For this message,",
    "DKIM checks did not pass and SPF check for [hostile.test] did not",
    "pass with ip: [127.0.5.1]. To best protect our users from spam, the",
    "message has been blocked. For instructions on setting up",
    "authentication, go to",
    " https://support.google.com/mail/answer/81126#authentication "
    "a640c23a62f3a-99f1d3c5e8bsi7.1 - gsmtp",
]


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


class Session:
    """One client connection, in its own thread."""

    def __init__(self, cfg, log, sock, peer, conn_id, tls_ctx):
        self.cfg = cfg
        self.peer = peer
        self.log = log
        self.sock = sock
        self.id = conn_id
        self.tls_ctx = tls_ctx
        self.buf = bytearray()
        self.tls = False
        self.helo = None
        self.authed = False
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpts = []
        self.accepted = 0

    # --- bytes in and out ------------------------------------------------

    def recv_more(self):
        try:
            data = self.sock.recv(65536)
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
            if len(self.buf) > LINE_MAX:
                self.send(b"500 5.5.6 Line too long\r\n")
                raise Closed()
            self.recv_more()

    def send(self, data):
        self.log.server(self.id, data)
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            raise Closed()

    def send_slowly(self, data, chunk=64 * 1024):
        """A big reply in pieces: the client may hang up half-way."""
        self.log.server(self.id, data)
        try:
            for i in range(0, len(data), chunk):
                self.sock.sendall(data[i:i + chunk])
        except (OSError, ssl.SSLError):
            raise Closed()

    def reply(self, code, status, *lines):
        """A reply: the enhanced status (or None) starts every line."""
        if self.cfg.scenario == "slow-replies":
            time.sleep(self.cfg.delay)
        lines = lines or ("",)
        out = []
        for n, text in enumerate(lines):
            sep = " " if n == len(lines) - 1 else "-"
            body = ("%s %s" % (status, text)) if status else text
            out.append("%d%s%s\r\n" % (code, sep, body.rstrip()))
        self.send("".join(out).encode())

    def drain(self, seconds=None):
        """Read (and log) until the client closes, or for seconds."""
        if seconds is not None:
            self.sock.settimeout(seconds)
        try:
            while True:
                self.recv_more()
        except (Closed, socket.timeout):
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
                self.command(self.readline())
        except Closed:
            pass
        finally:
            self.log.event(self.id, "close")
            try:
                self.sock.close()
            except OSError:
                pass

    def greet(self):
        sc, var = self.cfg.scenario, self.cfg.variant
        if sc == "silence":
            self.drain()
            raise Closed()
        if sc == "drop-at-greeting":
            raise Closed()
        if sc == "slow-accept":
            time.sleep(self.cfg.delay)
        if sc == "tempfail-greeting":
            self.reply(421, "4.7.0",
                       "%s Try again later, closing connection." % HOST)
            self.close_gently()
        if sc == "trickle":
            for b in ("220 %s ESMTP trickle\r\n" % HOST).encode():
                self.send(bytes([b]))
                time.sleep(self.cfg.interval)
            return
        if sc == "long-line" and var == "greeting":
            self.send_slowly(b"220 " + b"x" * MIB + b"\r\n")
            return
        if sc == "bad-code" and var == "letters":
            self.send(b"2x0 hi\r\n")
            return
        if sc == "bad-code" and var == "999":
            self.send(b"999 nope\r\n")
            return
        self.send(("220 %s ESMTP hostile (%s)\r\n" % (HOST, sc)).encode())

    def command(self, line):
        verb, _, arg = line.partition(b" ")
        verb = verb.upper().decode("latin-1")
        arg = arg.decode("latin-1")
        handler = {
            "EHLO": self.do_ehlo, "HELO": self.do_helo,
            "STARTTLS": self.do_starttls, "AUTH": self.do_auth,
            "MAIL": self.do_mail, "RCPT": self.do_rcpt, "DATA": self.do_data,
            "RSET": self.do_rset, "NOOP": self.do_noop, "QUIT": self.do_quit,
            "VRFY": self.do_vrfy,
        }.get(verb)
        if handler is None:
            self.reply(502, "5.5.2", "Error: command not recognized")
            return
        handler(arg)

    def do_helo(self, arg):
        self.helo = arg or "?"
        self.reset()
        self.reply(250, None, HOST)

    def ehlo_lines(self):
        lines = [HOST, "SIZE 10485760", "8BITMIME", "ENHANCEDSTATUSCODES"]
        if self.tls or not self.cfg.cert:
            # Postfix's smtpd_tls_auth_only: no AUTH in plain text.
            lines.append("AUTH PLAIN LOGIN XOAUTH2")
        if (self.cfg.cert and not self.tls
                and self.cfg.scenario != "no-starttls"):
            lines.append("STARTTLS")
        return lines

    def do_ehlo(self, arg):
        if not arg:
            self.reply(501, "5.5.4", "Syntax: EHLO hostname")
            return
        self.helo = arg
        self.reset()
        sc, var = self.cfg.scenario, self.cfg.variant
        if sc == "long-line" and var != "greeting":
            self.send_slowly(("250-%s\r\n250 " % HOST).encode() +
                             b"x" * MIB + b"\r\n")
            return
        if sc == "many-lines":
            out = ["250-%s\r\n" % HOST]
            line = "250-x\r\n" if var == "short" else "250-line %06d\r\n"
            out += [line % n if "%" in line else line
                    for n in range(self.cfg.lines)]
            out.append("250 8BITMIME\r\n")
            self.send_slowly("".join(out).encode())
            return
        if sc == "bad-code" and var == "binary":
            self.send(b"250\x00\xff\xfe\x1b[2J\x07\x80garbage\x7f\r\n")
            return
        if sc == "bad-code" and var == "mismatch":
            self.send(("250-%s\r\n250-STARTTLS\r\n251 8BITMIME\r\n" %
                       HOST).encode())
            return
        self.reply(250, None, *self.ehlo_lines())

    def do_starttls(self, arg):
        if arg:
            self.reply(501, "5.5.4", "Syntax: STARTTLS")
            return
        if self.cfg.scenario == "no-starttls":
            self.reply(502, "5.5.2", "Error: command not recognized")
            return
        if self.tls or not self.cfg.cert:
            self.reply(454, "4.7.0", "TLS not available")
            return
        if self.buf:
            # RFC 3207 §5: what the client sent after STARTTLS in plain
            # text must be thrown away, never read as commands under TLS.
            self.log.event(self.id, "note discarded %d plain-text bytes "
                           "pipelined after STARTTLS" % len(self.buf))
            self.buf.clear()
        if self.cfg.scenario == "starttls-inject":
            self.send(b"220 go ahead\r\n250-injected\r\n")
        else:
            self.reply(220, "2.0.0", "Ready to start TLS")
        if self.cfg.scenario == "tls-garbage":
            self.send(b"this is not a TLS handshake\r\n" * 4)
            self.close_gently()
        self.start_tls()

    def start_tls(self):
        self.sock.settimeout(30)
        try:
            self.sock = self.tls_ctx.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.log.event(self.id, "note TLS handshake failed: %s" % e)
            raise Closed()
        self.sock.settimeout(None)
        self.tls = True
        self.helo = None
        self.authed = False
        self.reset()
        self.log.event(self.id, "tls %s %s" % (self.sock.version(),
                                               self.sock.cipher()[0]))

    # --- AUTH (RFC 4954) ---------------------------------------------

    def sasl_line(self, challenge):
        """334 challenge; the client's answer decoded, or None on `*`."""
        self.send(b"334 " + base64.b64encode(challenge) + b"\r\n")
        line = self.readline()
        if line == b"*":
            return None
        return self.b64(line)

    @staticmethod
    def b64(data):
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return False

    def do_auth(self, arg):
        if not self.helo:
            self.reply(503, "5.5.1", "Error: send HELO/EHLO first")
            return
        if self.cfg.cert and not self.tls:
            self.reply(538, "5.7.11", "Encryption required for requested "
                       "authentication mechanism")
            return
        if self.authed:
            self.reply(503, "5.5.1", "Error: already authenticated")
            return
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if initial == "=":
            initial = b""  # RFC 4954 §4: an empty initial response
        elif initial:
            initial = self.b64(initial.encode())
        else:
            initial = None
        if initial is False:
            self.reply(501, "5.5.2", "Cannot decode response")
            return
        cfg = self.cfg
        if mech == "PLAIN":
            resp = initial if initial is not None else self.sasl_line(b"")
            if resp is None or resp is False:
                return self.auth_bad(resp)
            parts = resp.split(b"\0")
            if len(parts) != 3:
                self.reply(535, "5.7.8", "Error: authentication failed: "
                           "malformed PLAIN response")
                return
            ok = self.creds_ok(parts[1], parts[2], cfg.password)
        elif mech == "LOGIN":
            user = initial if initial is not None else \
                self.sasl_line(b"Username:")
            if user is None or user is False:
                return self.auth_bad(user)
            password = self.sasl_line(b"Password:")
            if password is None or password is False:
                return self.auth_bad(password)
            ok = self.creds_ok(user, password, cfg.password)
        elif mech == "XOAUTH2":
            resp = initial if initial is not None else self.sasl_line(b"")
            if resp is None or resp is False:
                return self.auth_bad(resp)
            # user=USER ^A auth=Bearer TOKEN ^A ^A
            fields = dict(f.split(b"=", 1) for f in resp.split(b"\x01")
                          if b"=" in f)
            bearer = fields.get(b"auth", b"")
            token = bearer[7:] if bearer[:7].lower() == b"bearer " else None
            ok = token is not None and \
                self.creds_ok(fields.get(b"user", b""), token, cfg.token)
        else:
            self.reply(504, "5.5.4", "Unrecognized authentication type")
            return
        if ok and cfg.scenario != "auth-fail":
            self.authed = True
            self.reply(235, "2.7.0", "Authentication successful")
        else:
            self.reply(535, "5.7.8", "Username and Password not accepted")

    def creds_ok(self, user, secret, want):
        if self.cfg.user is not None and user != self.cfg.user.encode():
            return False
        return want is None or secret == want.encode()

    def auth_bad(self, resp):
        if resp is None:
            self.reply(501, "5.7.0", "Authentication aborted")
        else:
            self.reply(501, "5.5.2", "Cannot decode response")

    # --- the transaction ---------------------------------------------

    def do_mail(self, arg):
        if not self.helo:
            self.reply(503, "5.5.1", "Error: send HELO/EHLO first")
            return
        if self.mail_from is not None:
            self.reply(503, "5.5.1", "Error: nested MAIL command")
            return
        if not arg.upper().startswith("FROM:"):
            self.reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
            return
        self.mail_from = arg[5:].strip()
        if self.cfg.scenario == "bad-code" and self.cfg.variant == "mail":
            self.send(b"25O 2.1.0 Ok\r\n")
            return
        self.reply(250, "2.1.0", "Ok")

    def do_rcpt(self, arg):
        if self.mail_from is None:
            self.reply(503, "5.5.1", "Error: need MAIL command")
            return
        if not arg.upper().startswith("TO:"):
            self.reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
            return
        addr = arg[3:].strip().split(" ")[0].strip("<>")
        n = len(self.rcpts)
        self.rcpts.append(addr)
        if self.cfg.scenario == "rcpt-mixed":
            local = addr.split("@")[0].lower()
            if local.startswith("ok"):
                pick = 0
            elif local.startswith("unknown"):
                pick = 1
            elif local.startswith("later"):
                pick = 2
            else:
                pick = n if n < 3 else 0
            if pick == 1:
                self.reply(550, "5.1.1", "<%s>: Recipient address rejected: "
                           "User unknown in virtual mailbox table" % addr)
                return
            if pick == 2:
                self.reply(450, "4.2.1", "<%s>: Recipient address rejected: "
                           "try again later" % addr)
                return
        self.accepted += 1
        self.reply(250, "2.1.5", "Ok")

    def do_data(self, arg):
        if self.mail_from is None:
            self.reply(503, "5.5.1", "Error: need MAIL command")
            return
        if not self.accepted:
            self.reply(554, "5.5.1", "Error: no valid recipients")
            return
        self.reply(354, None, "End data with <CR><LF>.<CR><LF>")
        size = 0
        while True:
            line = self.readline()
            if line == b".":
                break
            size += len(line) + 2
            if size > MSG_MAX:
                self.reply(552, "5.3.4", "Message too big")
                raise Closed()
        sc = self.cfg.scenario
        self.reset()
        if sc == "drop-after-data":
            self.log.event(self.id, "note dropping after the message "
                           "(%d bytes)" % size)
            raise Closed()
        if sc == "data-silence":
            self.drain()
            raise Closed()
        if sc == "reject-data":
            self.reply(550, "5.7.26", *GMAIL_5726)
            return
        self.reply(250, "2.0.0", "Ok: queued as H%05dX%d" % (self.id, size))

    def do_rset(self, arg):
        self.reset()
        self.reply(250, "2.0.0", "Ok")

    def do_noop(self, arg):
        self.reply(250, "2.0.0", "Ok")

    def do_vrfy(self, arg):
        self.reply(252, "2.0.0", "Cannot VRFY user")

    def do_quit(self, arg):
        self.reply(221, "2.0.0", "Bye")
        self.close_gently()


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="A scriptable hostile SMTP server (tests only).")
    p.add_argument("--listen", default="127.0.5.1",
                   help="loopback address to bind (127.0.0.0/8 only)")
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--scenario", default="normal")
    p.add_argument("--variant", default="",
                   help="the scenario's variant (long-line, bad-code)")
    p.add_argument("--cert", help="server certificate chain (PEM)")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--implicit-tls", action="store_true",
                   help="TLS from the first byte (smtps, RFC 8314)")
    p.add_argument("--user", help="AUTH: the expected user")
    p.add_argument("--password", help="AUTH PLAIN/LOGIN: the password")
    p.add_argument("--token", help="AUTH XOAUTH2: the access token")
    p.add_argument("--log", help="append the client's bytes here")
    p.add_argument("--delay", type=float, default=1.5,
                   help="slow-accept, slow-replies: seconds")
    p.add_argument("--interval", type=float, default=20.0,
                   help="trickle: seconds between bytes")
    p.add_argument("--lines", type=int, default=100000,
                   help="many-lines: how many continuation lines")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="both directions on stderr")
    p.add_argument("--help-scenarios", action="store_true")
    args = p.parse_args(argv)
    if args.help_scenarios:
        for name, text in SCENARIOS.items():
            print("%-18s %s" % (name, text))
        sys.exit(0)
    if args.scenario not in SCENARIOS:
        p.error("unknown scenario %r (try --help-scenarios)" % args.scenario)
    variants = {"long-line": ("", "greeting", "ehlo"),
                "many-lines": ("", "short"),
                "bad-code": ("letters", "999", "binary", "mismatch", "mail")}
    allowed = variants.get(args.scenario, ("",))
    if args.variant not in allowed:
        p.error("scenario %s: variant must be one of %s" %
                (args.scenario, ", ".join(v or "''" for v in allowed)))
    try:
        if not ipaddress.ip_address(args.listen).is_loopback:
            raise ValueError
    except ValueError:
        p.error("--listen %s: loopback IPv4 addresses only" % args.listen)
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    if (args.implicit_tls or args.scenario in
            ("starttls-inject", "tls-garbage")) and not args.cert:
        p.error("scenario %s needs --cert and --key" % args.scenario)
    return args


def main(argv):
    cfg = parse_args(argv)
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
        session = Session(cfg, log, sock, peer, conn_id, tls_ctx)
        threading.Thread(target=session.run, daemon=True).start()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
