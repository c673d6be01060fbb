#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The mail lab's model: addresses, hosts, receivers, scenarios and the files
derived from them (DNS data, daemon configurations, Postfix tables, relay
profiles, seeds files as JSON and in the format of docs/seeds.md, and the
status document).  scripts/lab is the only caller; the selftest imports this
module for the scenario table.

  labmodel.py prepare LAB_DIR        make keys, certs, passwords, configs
  labmodel.py status-json LAB_DIR    print the status document (live state
                                     of the daemons is read as JSON on stdin)

Only the system python (/usr/bin/python3) is used: python3-dkim lives there.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "conf")

# --- addresses: only 127.0.1.0/24 (127.0.3.x and 127.0.4.x belong to other tests)
IP = {
    "dns": "127.0.1.53",
    "submission": "127.0.1.10",  # smtp.relay.test: 587, STARTTLS + AUTH
    "allowlist": "127.0.1.11",   # smtp-relay.relay.test: 25, IP allowlist
    "out": "127.0.1.12",         # relay outbound: PTR, in SPF
    "out-noptr": "127.0.1.13",   # relay outbound: no PTR, in SPF
    "gmail": "127.0.1.20",       # mx.gmail.test + imap.gmail.test
    "outlook": "127.0.1.21",     # mx.outlook.test + imap.outlook.test
    "app": "127.0.1.40",         # app.client.test: registered on the allowlist
}
NEVER_RESOLVED = "127.0.1.99"  # what the failing SPF records list instead

PORTS = {
    "dns": 53, "submission": 587, "allowlist": 25, "smtp": 25,
    "imap": 143, "imaps": 993,
    "dkim-verify": 8891, "dkim-sign": 8892, "dmarc": 8893, "gate": 8894,
}

SELECTOR = "lab"
GTUBE = ("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
RELAY_USER = "probe@good.test"  # relay account; also receives every DSN

RECEIVERS = {
    "gmail": {
        "provider": "gmail", "ip": IP["gmail"], "mx": "mx.gmail.test",
        "imap_host": "imap.gmail.test", "authserv_id": "mx.gmail.test",
        "domain": "gmail.test", "seed": "seed@gmail.test",
        "mailbox_domains": ["gmail.test", "good.test"],
        "spf_mail_from_reject": "Fail",
        "role": "Gmail-like MX; also hosts the sender's mailbox "
                "(probe@good.test) that receives the relay's DSNs",
    },
    "outlook": {
        "provider": "outlook", "ip": IP["outlook"], "mx": "mx.outlook.test",
        "imap_host": "imap.outlook.test", "authserv_id": "mx.outlook.test",
        "domain": "outlook.test", "seed": "seed@outlook.test",
        "mailbox_domains": ["outlook.test"],
        "spf_mail_from_reject": "False",  # SPF fail -> generic 5.7.0 instead
        "role": "Outlook-like MX; answers an SPF failure with only "
                "550 5.7.0 Local policy violation",
    },
}

SPF_RELAY = "v=spf1 include:_spf.relay.test -all"
DMARC_REJECT = "v=DMARC1; p=reject; adkim=r; aspf=r"
DMARC_NONE = "v=DMARC1; p=none; adkim=r; aspf=r"


def _sc(name, domain, setup, expected, *, spf=SPF_RELAY, dmarc=DMARC_REJECT,
        dkim="match", relay="submission", source="out", to=("gmail",),
        envelope=None, body_token=None):
    return {
        "name": name, "domain": domain, "setup": setup, "expected": expected,
        "spf": spf, "dmarc": dmarc, "dkim": dkim, "relay": relay,
        "source": source, "to": list(to), "envelope": envelope,
        "body_token": body_token,
    }


def _rej(stage, reply, category, cause=None, receiver="gmail", seen_as="dsn"):
    e = {"result": "rejected", "by": receiver, "stage": stage,
         "reply": reply, "category": category, "seen_as": seen_as}
    if cause:
        e["root_cause"] = cause
    return e


SCENARIOS = [
    _sc("good", "good.test", "SPF, DKIM and DMARC (p=reject) all pass",
        {"result": "delivered", "folder": "INBOX", "category": None,
         "authentication_results": {"spf": "pass", "dkim": "pass",
                                    "dmarc": "pass"}},
        to=("gmail", "outlook")),
    _sc("spf-fail", "spf-fail.test",
        "SPF -all does not list the relay's outbound address",
        _rej("rcpt", "550 5.7.23", "spf"),
        spf="v=spf1 ip4:%s -all" % NEVER_RESOLVED),
    _sc("dkim-fail", "dkim-fail.test",
        "the published DKIM key does not match the signing key; the relay "
        "rewrites the envelope sender to its bounce domain esp.test, so SPF "
        "passes unaligned",
        _rej("data", "550 5.7.1 rejected by DMARC policy for dkim-fail.test",
             "dmarc", "dkim"),
        dkim="mismatch", envelope="bounces-dkim-fail@esp.test"),
    _sc("dmarc-reject", "dmarc-reject.test",
        "no DKIM signature; SPF passes for esp.test (the envelope sender the "
        "relay sets), which is not aligned; p=reject",
        _rej("data", "550 5.7.1 rejected by DMARC policy for dmarc-reject.test",
             "dmarc", "alignment"),
        dkim=None, envelope="bounces-dmarc-reject@esp.test"),
    _sc("generic-5.7.0", "generic-570.test",
        "SPF -all does not list the relay; DKIM and DMARC pass; the "
        "Outlook-like receiver names no check",
        _rej("data", "550 5.7.0 Local policy violation", "policy-other", "spf",
             receiver="outlook"),
        spf="v=spf1 ip4:%s -all" % NEVER_RESOLVED, to=("outlook",)),
    _sc("no-ptr", "no-ptr.test",
        "the relay sends this domain's mail from %s, which has no PTR "
        "(SPF, DKIM, DMARC pass)" % IP["out-noptr"],
        _rej("rcpt", "550 5.7.1 Client host rejected: cannot find your "
             "reverse hostname, [%s]" % IP["out-noptr"], "ptr"),
        source="out-noptr"),
    _sc("content", "content.test",
        "SPF, DKIM, DMARC pass; the body carries the GTUBE token the "
        "receivers' body filter refuses",
        _rej("data", "550 5.7.1 Message content rejected", "content",
             receiver="outlook"),
        to=("outlook",), body_token=GTUBE),
    _sc("spam-folder", "spam-folder.test",
        "no DKIM; SPF passes unaligned for esp.test; DMARC fails under p=none",
        {"result": "delivered", "folder": "Junk", "category": None,
         "authentication_results": {"spf": "pass", "dmarc": "fail"}},
        dmarc=DMARC_NONE, dkim=None, envelope="bounces-spam-folder@esp.test"),
    _sc("relay-denied", "relay-denied.test",
        "client address not registered on the allowlist relay",
        _rej("mail", "550 5.7.0 Mail relay denied", "relay-denied",
             receiver="relay", seen_as="reply"),
        relay="allowlist", source="client"),
    _sc("auth-fail", "auth-fail.test", "wrong submission password",
        _rej("auth", "535 5.7.8", "smtp-auth", receiver="relay",
             seen_as="reply"),
        relay="submission-wrong-password", source="client"),
]

ALIAS_DOMAINS = sorted({s["domain"] for s in SCENARIOS} - {"good.test"}
                       | {"esp.test"})


# --- paths -------------------------------------------------------------------

class Paths:
    def __init__(self, lab):
        self.lab = os.path.abspath(lab)

    def __call__(self, *parts):
        return os.path.join(self.lab, *parts)

    def key(self, domain, name=SELECTOR):
        return self("keys", domain, name + ".private")


def scenario_key(p, s):
    """The key a client signs with (for dkim-fail: not the published one)."""
    if not s["dkim"]:
        return None
    return p.key(s["domain"])


def published_key(p, domain):
    for s in SCENARIOS:
        if s["domain"] == domain and s["dkim"] == "mismatch":
            return p.key(domain, "published")
    return p.key(domain)


def signing_domains():
    return [s["domain"] for s in SCENARIOS if s["dkim"]] + ["relay.test"]


# --- small helpers -----------------------------------------------------------

def write(path, text, mode=0o644, owner=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    if owner:
        shutil.chown(tmp, *owner)
    os.replace(tmp, path)


def render(template, values):
    with open(os.path.join(CONF, template)) as f:
        text = f.read()

    def sub(m):
        key = m.group(1)
        if key not in values:
            raise KeyError("%s: no value for @%s@" % (template, key))
        return str(values[key])
    return re.sub(r"@([A-Z][A-Z0-9_]*)@", sub, text)


def run_parallel(cmds):
    procs = [(c, subprocess.Popen(c, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)) for c in cmds]
    for c, pr in procs:
        _, err = pr.communicate()
        if pr.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(c), err.decode()))


def dkim_txt_strings(keyfile):
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import base64
    txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    return [txt[i:i + 250] for i in range(0, len(txt), 250)]


# --- preparation -------------------------------------------------------------

def make_keys_and_certs(p):
    cmds = []
    os.makedirs(p("keys"), mode=0o755, exist_ok=True)
    wanted = {p.key(d) for d in signing_domains()}
    wanted |= {published_key(p, s["domain"]) for s in SCENARIOS if s["dkim"]}
    for k in sorted(wanted):
        if not os.path.exists(k):
            os.makedirs(os.path.dirname(k), exist_ok=True)
            cmds.append(["openssl", "genpkey", "-algorithm", "RSA",
                         "-pkeyopt", "rsa_keygen_bits:2048", "-out", k])
    tls = p("tls")
    os.makedirs(tls, exist_ok=True)
    need_ca = not os.path.exists(p("tls", "ca.crt"))
    need_srv = need_ca or not os.path.exists(p("tls", "server.crt"))
    if need_ca:
        cmds.append(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                     "-nodes", "-days", "3650", "-subj",
                     "/O=probe mail lab/CN=probe lab CA",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                     "-keyout", p("tls", "ca.key"), "-out", p("tls", "ca.crt")])
    if need_srv:
        cmds.append(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                     "rsa_keygen_bits:2048", "-out", p("tls", "server.key")])
    run_parallel(cmds)
    if need_srv:
        names = ["smtp.relay.test", "smtp-relay.relay.test", "mx.gmail.test",
                 "imap.gmail.test", "mx.outlook.test", "imap.outlook.test"]
        ips = [IP["submission"], IP["allowlist"], IP["gmail"], IP["outlook"]]
        san = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
        ext = p("tls", "server.ext")
        write(ext, "subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n" % san)
        csr = subprocess.run(["openssl", "req", "-new", "-key",
                              p("tls", "server.key"), "-subj",
                              "/O=probe mail lab/CN=smtp.relay.test"],
                             check=True, capture_output=True).stdout
        subprocess.run(["openssl", "x509", "-req", "-days", "3650",
                        "-CA", p("tls", "ca.crt"), "-CAkey", p("tls", "ca.key"),
                        "-CAcreateserial", "-extfile", ext,
                        "-out", p("tls", "server.crt")],
                       input=csr, check=True, capture_output=True)
    for f in ("ca.key", "server.key"):
        os.chmod(p("tls", f), 0o600)
    for k in wanted:
        os.chmod(k, 0o600)


def make_passwords(p):
    os.makedirs(p("secrets"), mode=0o700, exist_ok=True)
    os.chmod(p("secrets"), 0o700)
    pw = {}
    for name in ("relay", "seed-gmail", "seed-outlook", "wrong"):
        f = p("secrets", name + ".pass")
        if not os.path.exists(f):
            write(f, secrets.token_urlsafe(18) + "\n", mode=0o600)
        os.chmod(f, 0o600)
        with open(f) as fh:
            pw[name] = fh.read().strip()
    if pw["wrong"] == pw["relay"]:
        raise RuntimeError("wrong.pass equals relay.pass")
    return pw


def zone_data(p):
    """unbound local-data lines for the zone test. and the reverse zone."""
    rr = []

    def add(name, rtype, *vals):
        for v in vals:
            if rtype == "TXT":
                strings = v if isinstance(v, list) else [v]
                v = " ".join('"%s"' % s for s in strings)
            rr.append("    local-data: '%s. 300 IN %s %s'" % (name, rtype, v))

    add("ns.lab.test", "A", IP["dns"])
    add("smtp.relay.test", "A", IP["submission"])
    add("smtp-relay.relay.test", "A", IP["allowlist"])
    add("out.relay.test", "A", IP["out"])
    add("out.relay.test", "TXT", "v=spf1 a -all")
    add("out2.relay.test", "A", IP["out-noptr"])
    add("out2.relay.test", "TXT", "v=spf1 a -all")
    add("_spf.relay.test", "TXT", "v=spf1 ip4:%s ip4:%s -all"
        % (IP["out"], IP["out-noptr"]))
    add("relay.test", "TXT", SPF_RELAY)
    add("relay.test", "MX", "10 mx.gmail.test.")
    add("_dmarc.relay.test", "TXT", DMARC_REJECT)
    add("%s._domainkey.relay.test" % SELECTOR, "TXT",
        dkim_txt_strings(p.key("relay.test")))
    add("app.client.test", "A", IP["app"])
    for r in RECEIVERS.values():
        add(r["mx"], "A", r["ip"])
        add(r["imap_host"], "A", r["ip"])
        add(r["domain"], "MX", "10 %s." % r["mx"])
        add(r["domain"], "TXT", "v=spf1 ip4:%s -all" % r["ip"])
        add("_dmarc." + r["domain"], "TXT", DMARC_NONE)
    add("esp.test", "TXT", SPF_RELAY)
    add("esp.test", "MX", "10 mx.gmail.test.")
    for s in SCENARIOS:
        d = s["domain"]
        add(d, "MX", "10 mx.gmail.test.")
        add(d, "TXT", s["spf"])
        add("_dmarc." + d, "TXT", s["dmarc"])
        if s["dkim"]:
            add("%s._domainkey.%s" % (SELECTOR, d), "TXT",
                dkim_txt_strings(published_key(p, d)))
    ptr = [(IP["dns"], "ns.lab.test"), (IP["submission"], "smtp.relay.test"),
           (IP["allowlist"], "smtp-relay.relay.test"),
           (IP["out"], "out.relay.test"), (IP["app"], "app.client.test")]
    ptr += [(r["ip"], r["mx"]) for r in RECEIVERS.values()]
    for ip, name in ptr:  # IP["out-noptr"] deliberately has none
        rr.append('    local-data-ptr: "%s %s."' % (ip, name))
    return "\n".join(rr)


def ownership(p):
    """Owners the daemons need (recipe pitfalls 8 and 10)."""
    for d in ("dkim-sign", "dkim-gmail", "dkim-outlook"):
        shutil.chown(p("milter", d), "opendkim", "opendkim")
    for d in ("dmarc-gmail", "dmarc-outlook"):
        shutil.chown(p("milter", d), "opendmarc", "opendmarc")
    shutil.chown(p("milter", "gate"), "nobody", "nogroup")
    shutil.chown(p.key("relay.test"), "opendkim", "opendkim")
    for inst in ("relay", "gmail", "outlook"):
        shutil.chown(p(inst, "data"), "postfix", "postfix")
    for root, dirs, files in os.walk(p("mail")):
        for n in dirs + files:
            shutil.chown(os.path.join(root, n), "mail", "mail")
    shutil.chown(p("mail"), "mail", "mail")


def prepare(lab):
    p = Paths(lab)
    for d in ("dns", "log", "relay/etc", "relay/queue", "relay/data",
              "gmail/etc", "gmail/queue", "gmail/data", "outlook/etc",
              "outlook/queue", "outlook/data", "milter/dkim-sign",
              "milter/dkim-gmail", "milter/dkim-outlook", "milter/dmarc-gmail",
              "milter/dmarc-outlook", "milter/gate", "spf", "dovecot/run",
              "dovecot/state", "mail", "profiles"):
        os.makedirs(p(d), exist_ok=True)
    os.chmod(p(), 0o755)
    make_keys_and_certs(p)
    pw = make_passwords(p)

    v = {"LAB": p.lab, "DNS_IP": IP["dns"], "SELECTOR": SELECTOR,
         "SUBMISSION_IP": IP["submission"], "ALLOWLIST_IP": IP["allowlist"],
         "OUT_IP": IP["out"], "OUT_NOPTR_IP": IP["out-noptr"],
         "GMAIL_IP": IP["gmail"], "OUTLOOK_IP": IP["outlook"]}
    v.update({k.upper().replace("-", "_") + "_PORT": n
              for k, n in PORTS.items()})

    # DNS
    write(p("dns", "unbound.conf"),
          render("unbound.conf", dict(v, ZONE_DATA=zone_data(p))))
    write(p("dns", "resolv.conf"),
          "# lab resolver, bind-mounted over /etc/resolv.conf inside the\n"
          "# lab's mount namespace only\nnameserver %s\n"
          "options timeout:1 attempts:2\n" % IP["dns"])
    write(p("dns", "libunbound.conf"), render("libunbound.conf", v))

    master_base = render("master-base.cf", v)

    # relay Postfix
    write(p("relay", "etc", "main.cf"), render("relay-main.cf", v))
    write(p("relay", "etc", "master.cf"),
          master_base + render("relay-master.cf", v))
    write(p("relay", "etc", "sender_transport"),
          "# sender_dependent_default_transport_maps: outbound source per "
          "sender domain\n" + "".join(
              "@%s out-noptr:\n" % s["domain"] for s in SCENARIOS
              if s["source"] == "out-noptr"))
    write(p("relay", "etc", "sender_canonical"),
          "# envelope sender rewriting to the ESP bounce domain (SPF passes "
          "for esp.test, unaligned)\n" + "".join(
              "@%s %s\n" % (s["domain"], s["envelope"]) for s in SCENARIOS
              if s["envelope"]))
    write(p("milter", "gate", "allowlist"),
          "# clients registered on the allowlist relay (%s:25)\n%s/32\n"
          % (IP["allowlist"], IP["app"]))

    # receivers
    for name, r in RECEIVERS.items():
        rv = dict(v, NAME=name, IP=r["ip"], MX=r["mx"], DOMAIN=r["domain"],
                  AUTHSERV_ID=r["authserv_id"],
                  AUTHSERV_RE=re.escape(r["authserv_id"]),
                  PROVIDER=r["provider"],
                  MAILBOX_DOMAINS=" ".join(r["mailbox_domains"]),
                  ALIAS_DOMAINS=" ".join(ALIAS_DOMAINS) if name == "gmail"
                  else "",
                  SPF_MAIL_FROM_REJECT=r["spf_mail_from_reject"])
        etc = p(name, "etc")
        write(os.path.join(etc, "main.cf"), render("receiver-main.cf", rv))
        write(os.path.join(etc, "master.cf"),
              master_base + render("receiver-master.cf", rv))
        boxes = [r["seed"], "postmaster@" + r["domain"]]
        if name == "gmail":
            boxes.append(RELAY_USER)
        write(os.path.join(etc, "vmailbox"),
              "".join("%s ok\n" % b for b in boxes))
        aliases = ["postmaster@%s %s" % (r["domain"], r["seed"])]
        if name == "gmail":
            # every scenario domain's (and the ESP's) mail, DSNs included,
            # lands in the relay account's mailbox
            aliases += ["@%s %s" % (d, RELAY_USER) for d in ALIAS_DOMAINS]
            aliases += ["postmaster@good.test %s" % RELAY_USER]
        write(os.path.join(etc, "virtual"), "\n".join(aliases) + "\n")
        hc = "# header_checks (%s)\n" % name
        if name == "outlook":
            hc += ("# an SPF failure is rejected without naming the check\n"
                   "/^Authentication-Results: %s; spf=fail/ "
                   "REJECT 5.7.0 Local policy violation\n"
                   % re.escape(r["authserv_id"]))
        write(os.path.join(etc, "header_checks"), hc)
        write(os.path.join(etc, "body_checks"),
              "# content filter: the GTUBE test token\n/%s/ REJECT 5.7.1 "
              "Message content rejected\n" % re.escape(GTUBE))
        write(os.path.join(etc, "milter_header_checks"),
              "# DMARC failure accepted (p=none) goes to Junk\n"
              "/^Authentication-Results: %s; dmarc=fail/ FILTER junk:dummy\n"
              % re.escape(r["authserv_id"]))
        write(p("spf", name + ".conf"), render("policyd-spf.conf", rv))
        write(p("milter", "dkim-" + name, "opendkim.conf"),
              render("opendkim-verify.conf", rv))
        write(p("milter", "dmarc-" + name, "opendmarc.conf"),
              render("opendmarc.conf", rv))
        write(p("milter", "dmarc-" + name, "ignore.hosts"), "127.0.0.1\n")
    write(p("milter", "dkim-sign", "opendkim.conf"),
          render("opendkim-sign.conf", v))

    # Dovecot: one instance, IMAP on both receivers' addresses
    write(p("dovecot", "dovecot.conf"), render("dovecot.conf", v))
    users = "%s:{PLAIN}%s\n%s:{PLAIN}%s\n%s:{PLAIN}%s\n" % (
        RELAY_USER, pw["relay"], RECEIVERS["gmail"]["seed"], pw["seed-gmail"],
        RECEIVERS["outlook"]["seed"], pw["seed-outlook"])
    write(p("dovecot", "users"), users, mode=0o640, owner=("root", "dovecot"))
    lda_log = p("log", "dovecot-lda.log")
    if not os.path.exists(lda_log):
        write(lda_log, "")
    shutil.chown(lda_log, "mail", "mail")

    ownership(p)
    doc = status_doc(p)
    write(p("lab.json"), json.dumps(doc, indent=2) + "\n")
    for name, prof in doc["relays"].items():
        keys = ("host", "port", "tls", "user", "password_file", "ca_file")
        profile = {k: prof[k] for k in keys}
        # where the relay's DSNs land, for `probe` to read them back
        profile["bounce_mailbox"] = doc["bounce_mailbox"]["seeds_line"]
        write(prof["profile"], json.dumps(profile, indent=2) + "\n")
    for s in doc["scenarios"].values():
        if s["body_file"]:
            write(s["body_file"],
                  "A probe message with a body the receiver refuses:\n\n"
                  "%s\n" % s["body_token"])
    for name, path in doc["seeds_files"].items():
        seeds = [s for s in doc["seeds"] if name == "all"
                 or s["provider"] == name]
        write(path, json.dumps({"seeds": seeds}, indent=2) + "\n")
        write(doc["seeds_txt_files"][name], seeds_txt(seeds, name))


# --- the status document -----------------------------------------------------

def relay_profiles(p):
    ca = p("tls", "ca.crt")
    sub = {"host": IP["submission"], "hostname": "smtp.relay.test",
           "port": PORTS["submission"], "tls": "starttls", "user": RELAY_USER,
           "password_file": p("secrets", "relay.pass"), "ca_file": ca,
           "auth": "required (SASL PLAIN/LOGIN after STARTTLS)",
           "profile": p("profiles", "relay-submission.json"),
           "like": "smtp.gmail.com:587 / smtp.office365.com:587"}
    wrong = dict(sub, password_file=p("secrets", "wrong.pass"),
                 profile=p("profiles", "relay-wrong-password.json"),
                 like="the submission relay with a wrong password")
    allow = {"host": IP["allowlist"], "hostname": "smtp-relay.relay.test",
             "port": PORTS["allowlist"], "tls": "starttls", "user": None,
             "password_file": None, "ca_file": ca,
             "auth": "none: the client address must be registered",
             "allowed_clients": [IP["app"] + "/32"],
             "profile": p("profiles", "relay-allowlist.json"),
             "like": "smtp-relay.gmail.com / a Microsoft 365 connector"}
    return {"submission": sub, "submission-wrong-password": wrong,
            "allowlist": allow}


def bounce_line(p, gm):
    """The bounce mailbox as one seeds-file line (relay profiles'
    bounce_mailbox, docs/seeds.md)."""
    attrs = [("imap", "imaps://%s:%d" % (gm["imap_host"], PORTS["imaps"])),
             ("address", gm["ip"]), ("user", RELAY_USER),
             ("password_file", p("secrets", "relay.pass")),
             ("ca_file", p("tls", "ca.crt")), ("provider", gm["provider"]),
             ("authserv_id", gm["authserv_id"])]
    return RELAY_USER + "".join(
        "  %s=%s" % (k, seeds_value(v)) for k, v in attrs)


def seed_list(p):
    out = []
    for name, r in RECEIVERS.items():
        out.append({
            "address": r["seed"], "user": r["seed"],
            "password_file": p("secrets", "seed-%s.pass" % name),
            "provider": r["provider"], "authserv_id": r["authserv_id"],
            "imap": {"host": r["ip"], "hostname": r["imap_host"],
                     "port": PORTS["imaps"], "tls": "tls",
                     "starttls_port": PORTS["imap"],
                     "ca_file": p("tls", "ca.crt")},
            "folders": {"inbox": "INBOX", "junk": "Junk"},
        })
    return out


def seeds_value(v):
    """A value of the seeds file format (docs/seeds.md), quoted if need be."""
    v = str(v)
    if v and not re.search(r'[\s"#]', v):
        return v
    return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')


def seeds_txt(seeds, name):
    """The seeds as a seeds file for `probe --to` (docs/seeds.md)."""
    out = ["# probe mail lab: %s seeds, written by scripts/lab up "
           "(docs/seeds.md)" % name,
           "# IMAP over TLS to the receiver's address; the certificate "
           "names the host"]
    for s in seeds:
        im = s["imap"]
        attrs = [("imap", "imaps://%s:%d" % (im["hostname"], im["port"])),
                 ("address", im["host"]), ("user", s["user"]),
                 ("password_file", s["password_file"]),
                 ("ca_file", im["ca_file"]), ("provider", s["provider"]),
                 ("authserv_id", s["authserv_id"]),
                 ("inbox", s["folders"]["inbox"]),
                 ("junk", s["folders"]["junk"])]
        out.append(s["address"] + "".join(
            "  %s=%s" % (k, seeds_value(v)) for k, v in attrs))
    return "\n".join(out) + "\n"


def status_doc(p):
    relays = relay_profiles(p)
    seeds = seed_list(p)
    seeds_files = {"all": p("seeds.json"), "gmail": p("seeds-gmail.json"),
                   "outlook": p("seeds-outlook.json")}
    seeds_txt_files = {k: v[:-len(".json")] + ".txt"
                       for k, v in seeds_files.items()}
    gm = RECEIVERS["gmail"]
    outbound = {
        "out": {"address": IP["out"], "ptr": "out.relay.test",
                "helo": "out.relay.test", "in_spf_of": "_spf.relay.test"},
        "out-noptr": {"address": IP["out-noptr"], "ptr": None,
                      "helo": "out2.relay.test",
                      "in_spf_of": "_spf.relay.test"},
    }
    scen = {}
    for s in SCENARIOS:
        relay = relays[s["relay"]]
        which = "all" if len(s["to"]) > 1 else s["to"][0]
        seeds_file = seeds_files[which]
        sender = "probe@" + s["domain"]
        key = scenario_key(p, s)
        args = ["send", "--relay", relay["profile"], "--to",
                seeds_txt_files[which], "--from", sender]
        if key:
            args += ["--dkim-key", key, "--dkim-selector", SELECTOR]
        body_file = None
        if s["body_token"]:
            body_file = p("body-%s.txt" % s["name"])
            args += ["--body", body_file]
        args += ["--dns-server", "%s:%d" % (IP["dns"], PORTS["dns"])]
        if s["source"] == "client":
            src = {"address": "127.0.0.1",
                   "note": "the client's own address (any address not on "
                           "the allowlist)"}
        else:
            src = dict(outbound[s["source"]], transport=s["source"])
        scen[s["name"]] = {
            "domain": s["domain"], "sender": sender,
            "envelope_sender": s["envelope"] or sender,
            "dkim_key": key, "dkim_selector": SELECTOR if key else None,
            "dkim_published_key_matches": s["dkim"] == "match" if key else None,
            "relay": s["relay"], "relay_host": relay["host"],
            "relay_port": relay["port"], "source_address": src["address"],
            "source": src, "to": [RECEIVERS[t]["seed"] for t in s["to"]],
            "seeds_file": seeds_file,
            "seeds_txt": seeds_txt_files[which], "setup": s["setup"],
            "dns": {"spf": s["spf"], "dmarc": s["dmarc"],
                    "dkim": ("%s._domainkey.%s" % (SELECTOR, s["domain"])
                             if s["dkim"] else None)},
            "body_token": s["body_token"],
            "body_file": body_file,
            "expected": dict(s["expected"], **(
                {"authserv_id": [RECEIVERS[t]["authserv_id"]
                                 for t in s["to"]]}
                if s["expected"]["result"] == "delivered" else {})),
            "probe_args": args,
        }
    return {
        "lab_dir": p.lab,
        "dns": {"server": IP["dns"], "port": PORTS["dns"],
                "zones": ["test.", "1.0.127.in-addr.arpa."],
                "resolv_conf": p("dns", "resolv.conf")},
        "ca_file": p("tls", "ca.crt"),
        "relays": relays,
        "outbound": outbound,
        "imap": {name: {"host": r["ip"], "hostname": r["imap_host"],
                        "port": PORTS["imaps"], "tls": "tls",
                        "starttls_port": PORTS["imap"],
                        "ca_file": p("tls", "ca.crt"),
                        "provider": r["provider"]}
                 for name, r in RECEIVERS.items()},
        "receivers": {name: {"mx": r["mx"], "host": r["ip"],
                             "port": PORTS["smtp"],
                             "authserv_id": r["authserv_id"],
                             "provider": r["provider"], "role": r["role"]}
                      for name, r in RECEIVERS.items()},
        "seeds": seeds,
        "seeds_files": seeds_files,
        "seeds_txt_files": seeds_txt_files,
        "bounce_mailbox": {"address": RELAY_USER, "user": RELAY_USER,
                           "password_file": p("secrets", "relay.pass"),
                           "imap": "gmail", "authserv_id": gm["authserv_id"],
                           "seeds_line": bounce_line(p, gm),
                           "note": "every DSN the relay sends lands here"},
        "dkim": {d: {"selector": SELECTOR, "key_file": p.key(d)}
                 for d in signing_domains()},
        "scenarios": scen,
    }


def main(argv):
    if len(argv) != 3 or argv[1] not in ("prepare", "status-json"):
        sys.stderr.write(__doc__)
        return 2
    if argv[1] == "prepare":
        prepare(argv[2])
        return 0
    p = Paths(argv[2])
    doc = status_doc(p)
    live = json.load(sys.stdin)
    out = {"up": live.get("up", False), "daemons": live.get("daemons", {})}
    out.update(doc)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
