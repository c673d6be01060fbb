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
import os
import ssl
import sys
import time

# hostile_common.py sits next to this file (on sys.path when run as a
# script, but not under python3 -P or -I, nor when imported from elsewhere)
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from hostile_common import (BaseSession, Closed, add_listen_args,  # noqa: E402
                            add_tls_args, check_common_args, serve)

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


class Session(BaseSession):
    """One SMTP client connection, in its own thread."""

    LINE_MAX = LINE_MAX
    LINE_TOO_LONG = b"500 5.5.6 Line too long\r\n"

    def __init__(self, cfg, log, sock, peer, conn_id, tls_ctx):
        super().__init__(cfg, log, sock, peer, conn_id, tls_ctx)
        self.helo = None
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpts = []
        self.accepted = 0

    # --- bytes in and out ------------------------------------------------

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

    # --- the session -------------------------------------------------

    def next_command(self):
        self.command(self.readline())

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
        self.discard_pipelined()
        if self.cfg.scenario == "starttls-inject":
            self.send(b"220 go ahead\r\n250-injected\r\n")
        else:
            self.reply(220, "2.0.0", "Ready to start TLS")
        if self.cfg.scenario == "tls-garbage":
            self.send(b"this is not a TLS handshake\r\n" * 4)
            self.close_gently()
        self.start_tls()

    def start_tls(self):
        super().start_tls()
        # RFC 3207 §4.2: forget all we learnt from the client in plain text
        self.helo = None
        self.authed = False
        self.reset()

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
            ok = self.xoauth2_ok(resp)
        else:
            self.reply(504, "5.5.4", "Unrecognized authentication type")
            return
        if ok and cfg.scenario != "auth-fail":
            self.authed = True
            self.reply(235, "2.7.0", "Authentication successful")
        else:
            self.reply(535, "5.7.8", "Username and Password not accepted")

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
    add_listen_args(p, "127.0.5.1")
    p.add_argument("--scenario", default="normal")
    p.add_argument("--variant", default="",
                   help="the scenario's variant (long-line, bad-code)")
    add_tls_args(p, "smtps")
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
    check_common_args(p, args)
    if (args.implicit_tls or args.scenario in
            ("starttls-inject", "tls-garbage")) and not args.cert:
        p.error("scenario %s needs --cert and --key" % args.scenario)
    return args


if __name__ == "__main__":
    serve(parse_args(sys.argv[1:]), Session)
