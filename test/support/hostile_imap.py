#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A scriptable hostile IMAP server for the integration tests.

It does what a real server (Dovecot in the lab) will not do on demand: a
literal of 4 GiB, a literal that stops half-way, one byte a second,
STARTTLS with an injected line, BYE in the middle of a FETCH, a BYE
greeting, a refused login, silence, absurd nesting and lines.  Each mode
is a minimal correct IMAP4rev1 server (RFC 3501 with IDLE, UIDPLUS,
SPECIAL-USE, SASL-IR, LITERAL+) that deviates at exactly one point.
Python 3 stdlib only.

    hostile_imap.py --listen 127.0.6.1 --port 0 --mode NAME
                    [--cert C --key K] [--implicit-tls] [--no-sasl-ir]
                    [--no-idle] [--no-uidplus] [--no-literal-plus]
                    [--user U --password P --token T]
                    [--log FILE] [-v]

Prints `PORT <n>` on stdout once listening and serves until killed.  --log
gets every byte received from the client (after TLS decryption), with a
line `#### conn N EVENT` at each connection event.  Listens only on
127.0.0.0/8.  `--help-modes` lists the modes.
"""

import argparse
import base64
import binascii
import itertools
import os
import re
import socket
import sys
import time

# hostile_common.py sits next to this file (on sys.path when run as a
# script, but not under python3 -P or -I, nor when imported from elsewhere)
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from hostile_common import (BaseSession, Closed, add_listen_args,  # noqa: E402
                            add_tls_args, check_common_args, serve)

MIB = 1024 * 1024
LINE_MAX = 1 * MIB  # our own bound on a client line
LITERAL_MAX = 1 * MIB  # and on a client literal

MODES = {
    "normal": "a well-behaved server: LOGIN, AUTHENTICATE PLAIN/XOAUTH2, "
              "LIST with \\Junk, SELECT/EXAMINE with UIDNEXT, UID SEARCH, "
              "UID FETCH, UID STORE, UID EXPUNGE, IDLE (`* 2 EXISTS` after "
              "0.5 s, a new message UID 2)",
    "literal-huge": "UID FETCH answered `* 1 FETCH (UID 1 BODY[] "
                    "{4294967295}` and then nothing",
    "literal-stall": "UID FETCH answered with a literal of 1000 octets of "
                     "which 10 come, then silence",
    "trickle": "the greeting one byte a second, forever",
    "starttls-inject": "`OK Begin TLS` and an injected untagged line in one "
                       "write after STARTTLS, then TLS",
    "bye-fetch": "UID FETCH answered with the FETCH data, `* BYE`, and a "
                 "close (no tagged reply); variant mid-line: BYE after half "
                 "a FETCH line",
    "greeting-bye": "`* BYE` as the greeting, then close",
    "login-no": "NO [AUTHENTICATIONFAILED] to LOGIN and AUTHENTICATE",
    "silent": "accept the connection, never send anything",
    "nesting": "UID FETCH answered with 100,000 nested parentheses",
    "long-line": "UID FETCH answered with a 3 MiB line",
    "search-flood": "UID SEARCH answered with 200,000 UIDs",
    "bad-flags": "SELECT answered with `* OK [PERMANENTFLAGS (%)]`: no "
                 "flag parsable after the `(` (libetpan 1.9.4 then frees a "
                 "NULL list)",
}

HEADER1 = (b"Return-Path: <x@good.test>\r\n"
           b"From: x@good.test\r\n"
           b"To: seed@hostile.test\r\n"
           b"Subject: hostile probe copy\r\n"
           b"Date: Wed, 17 Jul 2024 10:00:00 +0000\r\n"
           b"Message-ID: <hostile-1@good.test>\r\n"
           b"X-Probe-Id: hostile-token-1\r\n"
           b"\r\n")
BODY1 = b"Hello from the hostile IMAP server.\r\n" * 20
HEADER2 = HEADER1.replace(b"hostile-token-1", b"hostile-token-2") \
                 .replace(b"hostile-1@", b"hostile-2@")
INTERNALDATE = "17-Jul-2024 10:00:00 +0000"


class Message:
    def __init__(self, uid, header, body):
        self.uid = uid
        self.header = header
        self.raw = header + body
        self.deleted = False


class Session(BaseSession):
    """One IMAP client connection, in its own thread."""

    LINE_MAX = LINE_MAX
    LINE_TOO_LONG = b"* BYE line too long\r\n"

    def __init__(self, cfg, log, sock, peer, conn_id, tls_ctx):
        super().__init__(cfg, log, sock, peer, conn_id, tls_ctx)
        self.selected = None
        self.readonly = False
        self.messages = [Message(1, HEADER1, BODY1)]
        self.idle_sent = False

    # --- bytes in and out ------------------------------------------------

    def read_exact(self, n):
        while len(self.buf) < n:
            self.recv_more()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    # --- the command line, literals included (RFC 3501 §4.3, RFC 7888) --

    def read_command(self):
        """The tag and the arguments of one command: a list of tokens,
        each bytes (atom, quoted string or literal) or a list (a
        parenthesized list)."""
        raw = bytearray()
        while True:
            line = self.readline()
            m = re.search(rb"\{(\d+)(\+?)\}$", line)
            if not m:
                raw += line
                break
            n = int(m.group(1))
            if n > LITERAL_MAX:
                self.send(b"* BYE literal too long\r\n")
                raise Closed()
            if not m.group(2):
                self.send(b"+ go ahead\r\n")
            raw += line[:m.start()] + b"\x00LIT" + \
                base64.b16encode(self.read_exact(n)) + b"\x00"
        return self.tokens(bytes(raw))

    @staticmethod
    def tokens(raw):
        out, stack, i = [], [], 0
        cur = out
        while i < len(raw):
            c = raw[i:i + 1]
            if c == b" ":
                i += 1
            elif c == b"(":
                stack.append(cur)
                new = []
                cur.append(new)
                cur = new
                i += 1
            elif c == b")":
                cur = stack.pop() if stack else out
                i += 1
            elif c == b'"':
                j, val = i + 1, bytearray()
                while j < len(raw) and raw[j:j + 1] != b'"':
                    if raw[j:j + 1] == b"\\":
                        j += 1
                    val += raw[j:j + 1]
                    j += 1
                cur.append(bytes(val))
                i = j + 1
            elif raw.startswith(b"\x00LIT", i):
                j = raw.index(b"\x00", i + 4)
                cur.append(base64.b16decode(raw[i + 4:j]))
                i = j + 1
            else:
                j = i
                while j < len(raw) and raw[j:j + 1] not in (b" ", b"(", b")"):
                    # keep BODY.PEEK[...]<...> in one token
                    if raw[j:j + 1] == b"[":
                        k = raw.find(b"]", j)
                        j = k if k > 0 else j
                    j += 1
                cur.append(raw[i:j])
                i = j
        return out

    # --- the session -------------------------------------------------

    def next_command(self):
        toks = self.read_command()
        if len(toks) < 2 or not isinstance(toks[0], bytes) or \
                not isinstance(toks[1], bytes):
            self.send(b"* BAD syntax\r\n")
            return
        self.command(toks[0].decode("latin-1"),
                     toks[1].upper().decode("latin-1"), toks[2:])

    def caps(self):
        c = ["IMAP4rev1"] + ([] if self.cfg.no_literal_plus else ["LITERAL+"])
        if not self.authed:
            if self.cfg.cert and not self.tls and not self.cfg.implicit_tls:
                c.append("STARTTLS")
            if not self.cfg.no_sasl_ir:
                c.append("SASL-IR")
            c += ["AUTH=PLAIN", "AUTH=XOAUTH2"]
        else:
            if not self.cfg.no_idle:
                c.append("IDLE")
            c += ([] if self.cfg.no_uidplus else ["UIDPLUS"]) + ["SPECIAL-USE"]
        return " ".join(c)

    def greet(self):
        mode = self.cfg.mode
        if mode == "silent":
            self.drain()
            raise Closed()
        if mode == "trickle":
            for b in itertools.chain(b"* OK ", itertools.repeat(ord("x"))):
                self.send(bytes([b]))
                time.sleep(1)
        if mode == "greeting-bye":
            self.send(b"* BYE Too many connections from your IP (hostile)\r\n")
            self.close_gently()
        self.send("* OK [CAPABILITY %s] hostile IMAP ready (%s)\r\n" %
                  (self.caps(), mode))

    def command(self, tag, verb, args):
        handler = {
            "CAPABILITY": self.do_capability, "NOOP": self.do_noop,
            "LOGOUT": self.do_logout, "STARTTLS": self.do_starttls,
            "LOGIN": self.do_login, "AUTHENTICATE": self.do_authenticate,
            "LIST": self.do_list, "SELECT": self.do_select,
            "EXAMINE": self.do_select, "UID": self.do_uid,
            "IDLE": self.do_idle, "EXPUNGE": self.do_expunge,
        }.get(verb)
        if handler is None:
            self.send("%s BAD unknown command\r\n" % tag)
            return
        handler(tag, verb, args)

    def do_capability(self, tag, verb, args):
        self.send("* CAPABILITY %s\r\n%s OK done\r\n" % (self.caps(), tag))

    def do_noop(self, tag, verb, args):
        self.send("%s OK NOOP done\r\n" % tag)

    def do_logout(self, tag, verb, args):
        self.send("* BYE logging out\r\n%s OK LOGOUT done\r\n" % tag)
        self.close_gently()

    def do_starttls(self, tag, verb, args):
        if self.tls or not self.cfg.cert or self.cfg.implicit_tls:
            self.send("%s BAD TLS not available\r\n" % tag)
            return
        self.discard_pipelined()
        if self.cfg.mode == "starttls-inject":
            self.send("%s OK Begin TLS negotiation now\r\n"
                      "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
                      % tag)
        else:
            self.send("%s OK Begin TLS negotiation now\r\n" % tag)
        self.start_tls()

    # --- authentication ----------------------------------------------

    def login_result(self, tag, ok):
        if ok and self.cfg.mode != "login-no":
            self.authed = True
            self.send("%s OK [CAPABILITY %s] Logged in\r\n" %
                      (tag, self.caps()))
        else:
            self.send("%s NO [AUTHENTICATIONFAILED] Authentication failed."
                      "\r\n" % tag)

    def do_login(self, tag, verb, args):
        if self.cfg.cert and not self.tls:
            self.send("%s NO [PRIVACYREQUIRED] TLS first\r\n" % tag)
            return
        if len(args) != 2 or not all(isinstance(a, bytes) for a in args):
            self.send("%s BAD LOGIN user password\r\n" % tag)
            return
        self.login_result(tag, self.creds_ok(args[0], args[1],
                                             self.cfg.password))

    @staticmethod
    def b64(data):
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return None

    def do_authenticate(self, tag, verb, args):
        if self.cfg.cert and not self.tls:
            self.send("%s NO [PRIVACYREQUIRED] TLS first\r\n" % tag)
            return
        if not args or not isinstance(args[0], bytes):
            self.send("%s BAD AUTHENTICATE mechanism\r\n" % tag)
            return
        mech = args[0].upper()
        if len(args) > 1:
            if self.cfg.no_sasl_ir:
                self.send("%s BAD no SASL-IR here\r\n" % tag)
                return
            resp = self.b64(args[1]) if args[1] != b"=" else b""
        else:
            self.send(b"+ \r\n")
            line = self.readline()
            if line == b"*":
                self.send("%s BAD cancelled\r\n" % tag)
                return
            resp = self.b64(line)
        if resp is None:
            self.send("%s BAD cannot decode\r\n" % tag)
            return
        if mech == b"PLAIN":
            parts = resp.split(b"\0")
            ok = len(parts) == 3 and self.creds_ok(parts[1], parts[2],
                                                   self.cfg.password)
        elif mech == b"XOAUTH2":
            ok = self.xoauth2_ok(resp)
            if not ok or self.cfg.mode == "login-no":
                # Google's way: the error as a challenge, then NO
                err = b'{"status":"401","schemes":"bearer","scope":"x"}'
                self.send(b"+ " + base64.b64encode(err) + b"\r\n")
                self.readline()
        else:
            self.send("%s NO unsupported mechanism\r\n" % tag)
            return
        self.login_result(tag, ok)

    # --- mailboxes ---------------------------------------------------

    def need_auth(self, tag):
        if not self.authed:
            self.send("%s BAD log in first\r\n" % tag)
            return False
        return True

    def do_list(self, tag, verb, args):
        if not self.need_auth(tag):
            return
        self.send('* LIST (\\HasNoChildren) "/" INBOX\r\n'
                  '* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n'
                  '* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"\r\n'
                  '%s OK LIST done\r\n' % tag)

    def live(self):
        return [m for m in self.messages if not m.deleted]

    def do_select(self, tag, verb, args):
        if not self.need_auth(tag):
            return
        name = args[0] if args and isinstance(args[0], bytes) else b""
        if name.upper() != b"INBOX" and name != b"Junk":
            self.selected = None
            self.send("%s NO [NONEXISTENT] Mailbox doesn't exist: %s\r\n" %
                      (tag, name.decode("latin-1")))
            return
        if self.cfg.mode == "bad-flags":
            self.send("* OK [PERMANENTFLAGS (%%)] Limited\r\n"
                      "%s OK [READ-WRITE] done\r\n" % tag)
            return
        self.selected = name
        self.readonly = verb == "EXAMINE"
        msgs = self.live() if name.upper() == b"INBOX" else []
        uidnext = max([m.uid for m in self.messages] + [0]) + 1
        self.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                  "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
                  "* %d EXISTS\r\n* 0 RECENT\r\n"
                  "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
                  "* OK [UIDNEXT %d] Predicted next UID\r\n"
                  "%s OK [%s] %s completed\r\n" %
                  (len(msgs), uidnext, tag,
                   "READ-ONLY" if self.readonly else "READ-WRITE", verb))

    @staticmethod
    def uid_set(spec, top):
        uids = set()
        for part in spec.split(b","):
            a, _, b = part.partition(b":")
            lo = top if a == b"*" else int(a)
            hi = lo if not b else (top if b == b"*" else int(b))
            lo, hi = min(lo, hi), max(lo, hi)
            uids.update(range(lo, min(hi, top) + 1))
            if lo > top and b:
                uids.add(top)  # "n:*" matches the last message
        return uids

    def do_uid(self, tag, verb, args):
        if not self.need_auth(tag):
            return
        if self.selected is None:
            self.send("%s BAD select first\r\n" % tag)
            return
        sub = args[0].upper() if args and isinstance(args[0], bytes) else b""
        msgs = self.live() if self.selected.upper() == b"INBOX" else []
        top = max([m.uid for m in msgs] + [0])
        if sub == b"SEARCH":
            self.uid_search(tag, args[1:], msgs, top)
        elif sub == b"FETCH":
            self.uid_fetch(tag, args[1:], msgs, top)
        elif sub == b"STORE":
            if self.readonly:
                self.send("%s NO read-only\r\n" % tag)
                return
            for m in msgs:
                if m.uid in self.uid_set(args[1], top):
                    m.flag_deleted = True
            self.send("%s OK Store completed\r\n" % tag)
        elif sub == b"EXPUNGE" and self.cfg.no_uidplus:
            self.send("%s BAD no UIDPLUS here\r\n" % tag)
        elif sub == b"EXPUNGE":
            gone = self.uid_set(args[1], top)
            out = []
            for seq, m in reversed(list(enumerate(msgs, 1))):
                if m.uid in gone and getattr(m, "flag_deleted", False):
                    m.deleted = True
                    out.append("* %d EXPUNGE\r\n" % seq)
            self.send("".join(out) + "%s OK Expunge completed\r\n" % tag)
        else:
            self.send("%s BAD unknown UID command\r\n" % tag)

    def do_expunge(self, tag, verb, args):
        out = []
        for seq, m in reversed(list(enumerate(self.live(), 1))):
            if getattr(m, "flag_deleted", False):
                m.deleted = True
                out.append("* %d EXPUNGE\r\n" % seq)
        self.send("".join(out) + "%s OK Expunge completed\r\n" % tag)

    def uid_search(self, tag, args, msgs, top):
        if self.cfg.mode == "search-flood":
            out = ["* SEARCH"]
            out += [str(i) for i in range(1, 200001)]
            self.send(" ".join(out) + "\r\n%s OK Search completed\r\n" % tag)
            return
        hits = set(m.uid for m in msgs)
        i = 0
        while i < len(args):
            a = args[i].upper() if isinstance(args[i], bytes) else b""
            if a == b"CHARSET":
                i += 2
            elif a == b"UID":
                hits &= self.uid_set(args[i + 1], top)
                i += 2
            elif a == b"HEADER":
                field, value = args[i + 1], args[i + 2]
                pat = re.compile(rb"(?im)^" + re.escape(field) +
                                 rb":[^\r\n]*" + re.escape(value))
                hits &= set(m.uid for m in msgs if pat.search(m.header))
                i += 3
            elif a == b"ALL":
                i += 1
            else:
                self.send("%s BAD unknown search key\r\n" % tag)
                return
        self.send("* SEARCH%s\r\n%s OK Search completed\r\n" %
                  ("".join(" %d" % u for u in sorted(hits)), tag))

    @classmethod
    def flatten(cls, toks):
        out = []
        for t in toks:
            out += cls.flatten(t) if isinstance(t, list) else [t]
        return out

    def uid_fetch(self, tag, args, msgs, top):
        mode = self.cfg.mode
        if mode == "literal-huge":
            self.send(b"* 1 FETCH (UID 1 BODY[] {4294967295}\r\n")
            self.drain()
            raise Closed()
        if mode == "literal-stall":
            self.send(b"* 1 FETCH (UID 1 BODY[] {1000}\r\n0123456789")
            self.drain()
            raise Closed()
        if mode == "nesting":
            self.send(b"* 1 FETCH (UID 1 BODYSTRUCTURE " + b"(" * 100000 +
                      b")" * 100000 + b")\r\n" + tag.encode() +
                      b" OK Fetch completed\r\n")
            return
        if mode == "long-line":
            self.send(b"* 1 FETCH (UID 1 FLAGS (" + b"\\Seen " * (
                3 * MIB // 6) + b"))\r\n" + tag.encode() +
                b" OK Fetch completed\r\n")
            return
        want = self.uid_set(args[0], top)
        items = b" ".join(self.flatten(args[1:])).upper()
        out = []
        for seq, m in enumerate(msgs, 1):
            if m.uid not in want:
                continue
            if b"BODY.PEEK[HEADER]" in items:
                data, name = m.header, b"BODY[HEADER]"
            else:
                data, name = m.raw, b"BODY[]"
                part = re.search(rb"BODY\.PEEK\[\]<0\.(\d+)>", items)
                if part:
                    data = data[:int(part.group(1))]
                    name = b"BODY[]<0>"
            out.append(b"* %d FETCH (UID %d INTERNALDATE \"%s\" %s {%d}\r\n"
                       % (seq, m.uid, INTERNALDATE.encode(), name, len(data))
                       + data + b")\r\n")
        if mode == "bye-fetch":
            if self.cfg.variant == "mid-line":
                self.send(b"* 1 FETCH (UID 1 INTERNALDATE \r\n"
                          b"* BYE Server shutting down (hostile)\r\n")
            else:
                self.send(b"".join(out) +
                          b"* BYE Server shutting down (hostile)\r\n")
            self.close_gently()
        self.send(b"".join(out) + tag.encode() + b" OK Fetch completed\r\n")

    def do_idle(self, tag, verb, args):
        if not self.need_auth(tag):
            return
        if self.cfg.no_idle:
            self.send("%s BAD no IDLE here\r\n" % tag)
            return
        self.send(b"+ idling\r\n")
        self.sock.settimeout(0.5)
        got = None
        try:
            got = self.readline()
        except socket.timeout:
            pass
        except Closed:
            raise
        self.sock.settimeout(None)
        if got is None:
            if not self.idle_sent and self.selected.upper() == b"INBOX":
                self.idle_sent = True
                self.messages.append(Message(2, HEADER2, BODY1))
                self.send(b"* %d EXISTS\r\n* 1 RECENT\r\n" % len(self.live()))
            else:
                self.send(b"* OK Still here\r\n")
            got = self.readline()
        if got.upper() != b"DONE":
            self.send("%s BAD expected DONE\r\n" % tag)
            return
        self.send("%s OK Idle completed\r\n" % tag)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="A scriptable hostile IMAP server (tests only).")
    add_listen_args(p, "127.0.6.1")
    p.add_argument("--mode", default="normal")
    p.add_argument("--variant", default="", help="bye-fetch: mid-line")
    add_tls_args(p, "imaps")
    p.add_argument("--no-sasl-ir", action="store_true",
                   help="no SASL-IR: AUTHENTICATE waits for its +")
    p.add_argument("--no-idle", action="store_true", help="no IDLE")
    p.add_argument("--no-uidplus", action="store_true", help="no UIDPLUS")
    p.add_argument("--no-literal-plus", action="store_true",
                   help="no LITERAL+: literals wait for the server's +")
    p.add_argument("--user", help="the expected user")
    p.add_argument("--password", help="LOGIN, AUTHENTICATE PLAIN: password")
    p.add_argument("--token", help="AUTHENTICATE XOAUTH2: the access token")
    p.add_argument("--log", help="append the client's bytes here")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="both directions on stderr")
    p.add_argument("--help-modes", action="store_true")
    args = p.parse_args(argv)
    if args.help_modes:
        for name, text in MODES.items():
            print("%-16s %s" % (name, text))
        sys.exit(0)
    if args.mode not in MODES:
        p.error("unknown mode %r (try --help-modes)" % args.mode)
    check_common_args(p, args)
    if (args.implicit_tls or args.mode == "starttls-inject") and not args.cert:
        p.error("mode %s needs --cert and --key" % args.mode)
    return args


if __name__ == "__main__":
    serve(parse_args(sys.argv[1:]), Session)
