#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Verify every DKIM signature of messages with dkimpy (python3-dkim),
answering key lookups from a table instead of DNS.

Usage: dkim_verify.py [--dns NAME=RECORD]... [--dns-file FILE] [--expect N]
                      MESSAGE...

--dns NAME=RECORD   the TXT record at NAME (selector._domainkey.domain)
--dns-file FILE     lines "NAME RECORD" (a record may have spaces)
--expect N          each message must carry exactly N signatures

Prints one line per message: "pass FILE (N signatures)" or
"fail FILE: signature I (a=..., s=...): reason".  Exit 0 when every
signature of every message verifies, 1 otherwise, 2 on bad usage.
LF-only messages are read as if each LF were CRLF, as an MTA would.
"""
import logging
import re
import sys

try:
    import dkim
except ImportError:
    sys.stderr.write("dkim_verify.py: python3-dkim (dkimpy) is not installed\n")
    sys.exit(2)


def main(argv):
    keys = {}
    expect = None
    files = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--dns":
            name, _, rec = argv[i + 1].partition("=")
            keys[name.lower().rstrip(".")] = rec.encode()
            i += 2
        elif a == "--dns-file":
            with open(argv[i + 1], "rb") as f:
                for line in f:
                    line = line.strip()
                    if not line or line.startswith(b"#"):
                        continue
                    name, _, rec = line.partition(b" ")
                    keys[name.decode().lower().rstrip(".")] = rec.strip()
            i += 2
        elif a == "--expect":
            expect = int(argv[i + 1])
            i += 2
        else:
            files.append(a)
            i += 1
    if not files:
        sys.stderr.write(__doc__)
        return 2

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        return keys.get(n.lower().rstrip("."))

    log = logging.getLogger("dkim_verify")
    log.addHandler(logging.NullHandler())
    ok = True
    for path in files:
        with open(path, "rb") as f:
            msg = f.read()
        # an MTA sees CRLF; dkimpy itself splits on either
        msg = re.sub(rb"(?<!\r)\n", b"\r\n", msg)
        d = dkim.DKIM(msg, logger=log, minkey=1024)
        sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
        if expect is not None and len(sigs) != expect:
            print("fail %s: %d signatures, expected %d" % (path, len(sigs), expect))
            ok = False
            continue
        if not sigs:
            print("fail %s: no signature" % path)
            ok = False
            continue
        bad = None
        for idx in range(len(sigs)):
            try:
                good = d.verify(idx=idx, dnsfunc=dnsfunc)
                why = "signature or body hash mismatch"
            except dkim.DKIMException as e:
                good, why = False, str(e)
            if not good:
                tags = dict(
                    (k.strip(), v.strip())
                    for k, _, v in (t.partition(b"=") for t in sigs[idx][1].split(b";"))
                )
                bad = "signature %d (a=%s, s=%s): %s" % (
                    idx,
                    tags.get(b"a", b"?").decode(),
                    tags.get(b"s", b"?").decode(),
                    why,
                )
                break
        if bad:
            print("fail %s: %s" % (path, bad))
            ok = False
        else:
            print("pass %s (%d signatures)" % (path, len(sigs)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
