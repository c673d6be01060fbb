#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""scripts/lab selftest: one message per scenario, sent with swaks (signed
with python3-dkim where the scenario has a key), and each documented outcome
asserted: the reply line swaks saw, or what came back over IMAP (the message
in the right folder with the right Authentication-Results, or the relay's DSN
with the receiver's reply line in its Diagnostic-Code).  Every wait is
bounded.  Prints one line per check and "N passed, M failed".

  selftest.py LAB_DIR
"""

import email
import email.policy
import email.utils
import imaplib
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import time

import dkim

SWAKS_TIMEOUT = 20   # seconds for one SMTP session
IMAP_DEADLINE = 40   # seconds for every expected message to arrive

AR_RE = re.compile(r"\b(spf|dkim|dmarc)=([a-z]+)", re.I)


def norm(s):
    return " ".join(str(s).split())


def read_secret(path):
    with open(path) as f:
        return f.read().strip()


class Lab:
    def __init__(self, lab_dir):
        with open(os.path.join(lab_dir, "lab.json")) as f:
            self.doc = json.load(f)
        self.dir = lab_dir
        self.ca = self.doc["ca_file"]
        self.seeds = {s["address"]: s for s in self.doc["seeds"]}


# ------------------------------------------------------------------ sending

def build_message(sc, tag, to):
    sender = sc["sender"]
    lines = [
        "From: Lab Selftest <%s>" % sender,
        "To: %s" % ", ".join(to),
        "Subject: lab selftest %s" % tag,
        "Date: %s" % email.utils.formatdate(localtime=False),
        "Message-ID: <%s@selftest.lab.test>" % tag,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "scripts/lab selftest, scenario %s." % tag,
        "Expected: %s" % json.dumps(sc["expected"], sort_keys=True)[:200],
    ]
    if sc.get("body_token"):
        lines += ["", sc["body_token"]]
    msg = ("\r\n".join(lines) + "\r\n").encode()
    if sc.get("dkim_key"):
        with open(sc["dkim_key"], "rb") as f:
            key = f.read()
        sig = dkim.sign(msg, sc["dkim_selector"].encode(),
                        sc["domain"].encode(), key,
                        include_headers=[b"from", b"to", b"subject", b"date",
                                         b"message-id", b"mime-version",
                                         b"content-type"])
        msg = sig + msg
    return msg


def swaks_cmd(lab, relay, sc, to, datafile, source=None):
    cmd = ["swaks", "--server", relay["host"], "--port", str(relay["port"]),
           "--from", sc["sender"], "--to", ",".join(to),
           "--data", "@" + datafile, "--timeout", "%ds" % SWAKS_TIMEOUT,
           "--helo", "selftest.client.test"]
    env = dict(os.environ)
    if relay["tls"] == "starttls":
        cmd += ["--tls", "--tls-verify", "--tls-ca-path", relay["ca_file"]]
    if relay["user"]:
        cmd += ["--auth", "PLAIN", "--auth-user", relay["user"],
                "--auth-hide-password"]
        # the password stays out of argv (ps): swaks reads SWAKS_OPT_* too
        env["SWAKS_OPT_auth_password"] = read_secret(relay["password_file"])
    if source:
        cmd += ["--local-interface", source]
    return cmd, env


REPLY_RE = re.compile(r"^<([-~])(\*?)\s+(\d{3}[ -].*)$")


def parse_swaks(out):
    """(all reply lines, first error reply or None)."""
    replies, error = [], None
    for line in out.splitlines():
        m = REPLY_RE.match(line)
        if not m:
            continue
        replies.append(m.group(3))
        if m.group(2) and error is None:
            error = m.group(3)
    return replies, error


# --------------------------------------------------------------------- IMAP

class Mailbox:
    def __init__(self, lab, user, password_file, imap):
        ctx = ssl.create_default_context(cafile=lab.ca)
        self.user = user
        self.conn = imaplib.IMAP4_SSL(imap["host"], imap["port"],
                                      ssl_context=ctx, timeout=10)
        self.conn.login(user, read_secret(password_file))

    def find(self, folder, needle):
        """Raw messages in folder whose text contains needle."""
        typ, _ = self.conn.select('"%s"' % folder, readonly=True)
        if typ != "OK":
            raise RuntimeError("%s: cannot select %s" % (self.user, folder))
        typ, data = self.conn.uid("SEARCH", None, "TEXT", '"%s"' % needle)
        out = []
        for uid in (data[0] or b"").split():
            typ, msg = self.conn.uid("FETCH", uid, "(BODY.PEEK[])")
            for part in msg:
                if isinstance(part, tuple):
                    out.append(part[1])
        return out

    def close(self):
        try:
            self.conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def auth_results(msg, authserv_id):
    """{method: result} from the A-R headers of authserv_id (RFC 8601: the
    others are not believed)."""
    res = {}
    for h in msg.get_all("Authentication-Results") or []:
        h = norm(h)
        if h.split(";", 1)[0].strip().lower() != authserv_id.lower():
            continue
        for m in AR_RE.finditer(h.split(";", 1)[1] if ";" in h else ""):
            res.setdefault(m.group(1).lower(), m.group(2).lower())
    return res


def dsn_fields(msg):
    """Per-recipient fields of the first message/delivery-status part."""
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            for b in blocks[1:] if len(blocks) > 1 else blocks:
                if b.get("Diagnostic-Code") or b.get("Status"):
                    return {k: norm(v) for k, v in b.items()}
    return None


# ------------------------------------------------------------------- checks

class Check:
    def __init__(self, name, sc, tag, to):
        self.name, self.sc, self.tag, self.to = name, sc, tag, to
        self.proc = None
        self.ok = None
        self.detail = ""
        self.replies = []
        self.error = None
        self.pending = {}  # what still has to arrive over IMAP
        self.found = {}

    def done(self, ok, detail):
        if self.ok is None or (self.ok and not ok):
            self.ok, self.detail = ok, detail


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    lab = Lab(argv[1])
    doc = lab.doc
    run = "st" + secrets.token_hex(4)
    work = os.path.join(lab.dir, "selftest", run)
    os.makedirs(work, mode=0o700)
    t0 = time.monotonic()

    checks = []
    for name, sc in doc["scenarios"].items():
        checks.append(Check(name, sc, "%s-%s" % (run, name), sc["to"]))
    # control: a client registered on the allowlist relay is served (so
    # relay-denied cannot pass for the wrong reason, recipe pitfall 15)
    ctl = dict(doc["scenarios"]["good"], relay="allowlist",
               expected={"result": "delivered", "folder": "INBOX",
                         "authentication_results": {"spf": "pass",
                                                    "dkim": "pass",
                                                    "dmarc": "pass"}},
               to=[doc["seeds"][0]["address"]])
    allowed_src = doc["relays"]["allowlist"]["allowed_clients"][0].split("/")[0]
    ctl_check = Check("allowlist-registered-client", ctl, "%s-allowlisted" % run,
                      ctl["to"])
    ctl_check.source = allowed_src
    checks.append(ctl_check)

    # send everything at once
    for c in checks:
        relay = doc["relays"][c.sc["relay"]]
        data = os.path.join(work, c.name + ".eml")
        with open(data, "wb") as f:
            f.write(build_message(c.sc, c.tag, c.to))
        cmd, env = swaks_cmd(lab, relay, c.sc, c.to, data,
                             getattr(c, "source", None))
        c.log = open(os.path.join(work, c.name + ".swaks"), "w+")
        c.proc = subprocess.Popen(cmd, env=env, stdout=c.log,
                                  stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
    for c in checks:
        try:
            c.proc.wait(timeout=SWAKS_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.proc.wait()
            c.done(False, "swaks did not finish in %ds" % (SWAKS_TIMEOUT + 10))
        c.log.seek(0)
        c.replies, c.error = parse_swaks(c.log.read())
        c.log.close()

    # immediate outcomes, and what to wait for
    bounce = doc["bounce_mailbox"]
    for c in checks:
        if c.ok is not None:
            continue
        exp = c.sc["expected"]
        last = c.replies[-1] if c.replies else "(no reply)"
        if exp.get("seen_as") == "reply":
            want = exp["reply"]
            if c.error and norm(c.error).startswith(want):
                c.done(True, "reply %s" % norm(c.error))
            else:
                c.done(False, "expected reply %s, got %s"
                       % (want, norm(c.error or last)))
            continue
        if c.error:
            c.done(False, "relay refused the message: %s" % norm(c.error))
            continue
        if not any(r.startswith("250 ") and "queued" in r for r in c.replies):
            c.done(False, "no 250 queued from the relay; last reply %s" % last)
            continue
        if exp["result"] == "delivered":
            for addr in c.to:
                c.pending[addr] = exp["folder"]
        else:
            c.pending[bounce["address"]] = "INBOX"

    # read back over IMAP until everything arrived or the deadline passes
    boxes = {}

    def box(addr):
        if addr not in boxes:
            if addr == bounce["address"]:
                boxes[addr] = Mailbox(lab, bounce["user"],
                                      bounce["password_file"],
                                      doc["imap"][bounce["imap"]])
            else:
                s = lab.seeds[addr]
                boxes[addr] = Mailbox(lab, s["user"], s["password_file"],
                                      s["imap"])
        return boxes[addr]

    deadline = time.monotonic() + IMAP_DEADLINE
    try:
        while True:
            waiting = [c for c in checks if c.ok is None and c.pending]
            for c in waiting:
                for addr, folder in list(c.pending.items()):
                    found = box(addr).find(folder, c.tag)
                    if found:
                        c.found[addr] = email.message_from_bytes(
                            found[-1], policy=email.policy.compat32)
                        del c.pending[addr]
            if not [c for c in checks if c.ok is None and c.pending]:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.4)

        for c in checks:
            if c.ok is not None:
                continue
            if c.pending:
                where = ", ".join("%s %s" % (a, f) for a, f in c.pending.items())
                c.done(False, "nothing arrived in %s within %ds"
                       % (where, IMAP_DEADLINE))
                continue
            exp = c.sc["expected"]
            if exp["result"] == "delivered":
                parts = []
                for addr in c.to:
                    seed = lab.seeds[addr]
                    ar = auth_results(c.found[addr], seed["authserv_id"])
                    want = exp["authentication_results"]
                    bad = {k: ar.get(k) for k, v in want.items()
                           if ar.get(k) != v}
                    got = " ".join("%s=%s" % (k, ar.get(k, "none"))
                                   for k in ("spf", "dkim", "dmarc"))
                    if bad:
                        c.done(False, "%s %s: A-R %s; %s" % (
                            addr, exp["folder"], seed["authserv_id"], got))
                    parts.append("%s %s (%s: %s)" % (
                        addr, exp["folder"], seed["authserv_id"], got))
                c.done(True, "; ".join(parts))
            else:
                dsn = c.found[bounce["address"]]
                f = dsn_fields(dsn)
                if not f:
                    c.done(False, "DSN without a delivery-status part")
                    continue
                diag = re.sub(r"^smtp;\s*", "", f.get("Diagnostic-Code", ""),
                              flags=re.I)
                ar = auth_results(dsn, bounce["authserv_id"])
                ar_txt = " ".join("%s=%s" % (k, ar.get(k, "none"))
                                  for k in ("spf", "dkim", "dmarc"))
                if not diag.startswith(exp["reply"]):
                    c.done(False, "DSN Diagnostic-Code %r, expected %s..."
                           % (diag, exp["reply"]))
                elif ar.get("dkim") != "pass" or ar.get("dmarc") != "pass":
                    c.done(False, "the DSN itself did not pass the checks: "
                           "%s: %s" % (bounce["authserv_id"], ar_txt))
                else:
                    c.done(True, "DSN: %s (DSN at %s: %s)"
                           % (diag, bounce["authserv_id"], ar_txt))
                    # and nothing of it reached the seed
                    for addr in c.to:
                        for folder in ("INBOX", "Junk"):
                            if box(addr).find(folder, c.tag):
                                c.done(False, "rejected, yet a copy is in "
                                       "%s %s" % (addr, folder))
    finally:
        for b in boxes.values():
            b.close()

    passed = sum(1 for c in checks if c.ok)
    failed = len(checks) - passed
    for c in checks:
        print("%s %-28s %s" % ("PASS" if c.ok else "FAIL", c.name, c.detail))
    print("%d passed, %d failed (%.1fs; messages and swaks transcripts in %s)"
          % (passed, failed, time.monotonic() - t0, work))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
