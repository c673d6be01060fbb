#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe explain` as a user meets it: a reply line on stdin, a multi-line
# provider reply, a probe send report and a transcript (JSON), bounce
# messages, something that is not a bounce; several files as JSON Lines;
# and inputs it cannot read: one clear line on stderr and exit 3.
#
# Usage: bash explain_cli.sh PATH/TO/probe [GENDIR]
set -u
probe=${1:?usage: explain_cli.sh PATH/TO/probe [GENDIR]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=$here/../data
export PROBE_RULES_DIR=$here/../../profiles/rules
tmp=$(mktemp -d "${TMPDIR:-/tmp}/explain_cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect NAME EXIT PYTHON-EXPR INPUT-FILE...: run probe explain --json on
# the files (or stdin from $tmp/in when no file), check the exit status and
# the expression over r = the first result line's object, rs = all lines.
expect() {
    local name=$1 want=$2 expr=$3
    shift 3
    if (($#)); then
        "$probe" explain --json "$@" >"$tmp/out" 2>"$tmp/err"
    else
        "$probe" explain --json <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
    fi
    local got=$?
    if [[ $got != "$want" ]]; then
        bad "$name: exit $got, expected $want"
        cat "$tmp/out" "$tmp/err"
        return
    fi
    if python3 - "$tmp/out" "$expr" <<'PY'; then ok; else bad "$name: $expr"; fi
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = rs[0] if rs else {}
x = (r.get("results") or [{}])[0]
if not eval(sys.argv[2]):
    print(json.dumps(rs, indent=1)[:3000])
    sys.exit(1)
PY
}

# A Gmail reply naming DMARC: high confidence, permanent, exit 2.
printf '550-5.7.26 Unauthenticated email from example.com is not accepted due to domain'"'"'s\r\n550-5.7.26 DMARC policy. Please contact the administrator of example.com domain\r\n550 5.7.26 if this was a legitimate mail. https://support.google.com/mail/answer/2451690 gsmtp\r\n' >"$tmp/in"
expect gmail-dmarc 2 'r["kind"] == "reply" and x["category"] == "dmarc" and x["confidence"] == "high" and x["permanent"] and x["reply"] == 550 and x["status"] == "5.7.26"'

# One line, LF only, SPF named.
printf '550 5.7.23 The message was rejected because of Sender Policy Framework violation\n' >"$tmp/in"
expect spf-line 2 'x["category"] == "spf" and x["status_meaning"]'

# A temporary refusal: transient, exit 1.
printf '421 4.7.0 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your IP address. gsmtp\r\n' >"$tmp/in"
expect gmail-rate 1 'not x["permanent"] and x["category"] in ("rate-limit", "reputation")'

# Nothing names the check: policy-other, low confidence, said plainly.
printf '550 5.7.0 Local policy violation\r\n' >"$tmp/in"
expect generic 2 'x["category"] == "policy-other" and x["confidence"] == "low" and x["remedy"]'

# A 2xx reply: nothing refused, exit 0.
printf '250 2.0.0 Ok: queued as 4ABC\r\n' >"$tmp/in"
expect accepted 0 'r["kind"] == "reply" and r["results"] == []'

# A probe send report (JSON) and a transcript.
cat >"$tmp/report.json" <<'EOF'
{"command": "send", "relay": {"host": "smtp.office365.com"}, "seeds": [
 {"address": "a@example.com", "outcome": "rejected", "smtp": {"stage": "auth",
  "error": {"stage": "auth", "code": "permfail", "reply": 535, "status": "5.7.139",
   "evidence": "5.7.139 Authentication unsuccessful, basic authentication is disabled."}}},
 {"address": "b@example.com", "outcome": "accepted", "smtp": {"stage": "data", "error": null}}]}
EOF
expect report 2 'r["kind"] == "report" and len(r["results"]) == 1 and x["recipient"] == "a@example.com" and x["category"] == "smtp-auth" and x["stage"] == "auth"' "$tmp/report.json"
cat >"$tmp/transcript.json" <<'EOF'
[{"dir": "S", "text": "220 mx.example.net ESMTP"}, {"dir": "C", "text": "EHLO client.example.com"},
 {"dir": "S", "text": "250 mx.example.net"}, {"dir": "C", "text": "MAIL FROM:<a@example.com>"},
 {"dir": "S", "text": "250 2.1.0 Ok"}, {"dir": "C", "text": "RCPT TO:<nobody@example.net>"},
 {"dir": "S", "text": "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"},
 {"dir": "C", "text": "QUIT"}, {"dir": "S", "text": "221 2.0.0 Bye"}]
EOF
expect transcript 2 'r["kind"] == "transcript" and len(r["results"]) == 1 and x["stage"] == "rcpt" and x["category"] == "recipient-unknown"' "$tmp/transcript.json"

# Bounce messages: an RFC 3464 DSN built here (CRLF) and a plain message.
cat >"$tmp/dsn.eml" <<'EOF'
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: probe@example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; seed@example.net
Action: failed
Status: 5.7.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.7.1 Client host rejected: cannot find your
 reverse hostname, [192.0.2.13]

--B1
Content-Type: text/rfc822-headers

From: probe@example.com
To: seed@example.net
Message-ID: <0123456789abcdef0123456789abcdef@example.com>
X-Probe-Id: 0123456789abcdef0123456789abcdef
Subject: Your update

--B1--
EOF
sed -i 's/$/\r/' "$tmp/dsn.eml"
expect dsn 2 'r["kind"] == "bounce" and x["recipient"] == "seed@example.net" and x["category"] == "ptr" and r["probe_token"] == "0123456789abcdef0123456789abcdef"' "$tmp/dsn.eml"
# A generic refusal in a bounce whose returned headers carry the
# receiver's Authentication-Results: the failed check, medium confidence.
sed -e 's/^Status: 5.7.1/Status: 5.7.0/' -e 's/550 5.7.1 Client host rejected: cannot find your/550 5.7.0 Local policy violation/' \
    -e '/^ reverse hostname/d' \
    -e 's/^X-Probe-Id: .*/Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.com;\r\n dkim=fail header.d=example.com; dmarc=fail header.from=example.com\r/' \
    "$tmp/dsn.eml" >"$tmp/dsn-ar.eml"
expect dsn-authres 2 'x["category"] == "dmarc" and x["confidence"] == "medium" and "dmarc=fail" in x["explanation"]' "$tmp/dsn-ar.eml"
printf 'From: a@example.com\nTo: b@example.com\nSubject: lunch?\n\nAre you free at noon?\n' >"$tmp/plain.eml"
expect not-bounce 0 'r["kind"] == "not-bounce" and r["results"] == []' "$tmp/plain.eml"

# Several inputs: one JSON line each, in order; the worst exit wins.
expect several 2 'len(rs) == 3 and [q["kind"] for q in rs] == ["not-bounce", "bounce", "report"]' \
    "$tmp/plain.eml" "$tmp/dsn.eml" "$tmp/report.json"

# The vendored corpus, when present: every file explained, none crashes.
if [[ -d $data/bounces/eml ]]; then
    "$probe" explain --json "$data"/bounces/eml/*.eml >"$tmp/corpus.jsonl" 2>"$tmp/corpus.err"
    rc=$?
    n=$(wc -l <"$tmp/corpus.jsonl")
    files=$(ls "$data"/bounces/eml/*.eml | wc -l)
    [[ $rc -le 2 && $n == "$files" ]] && ok || bad "corpus: exit $rc, $n lines for $files files"
fi

# What it cannot read: exit 3 and one line on stderr.
"$probe" explain "$tmp/missing.eml" >/dev/null 2>"$tmp/err"
rc=$?
[[ $rc == 3 ]] && grep -q "missing.eml: cannot open" "$tmp/err" && ok || bad "missing file: exit $rc: $(cat "$tmp/err")"
printf '{"seeds": [' >"$tmp/broken.json"
"$probe" explain "$tmp/broken.json" >/dev/null 2>"$tmp/err"
rc=$?
[[ $rc == 3 && $(wc -l <"$tmp/err") == 1 ]] && ok || bad "broken JSON: exit $rc: $(cat "$tmp/err")"
printf '' | "$probe" explain >/dev/null 2>"$tmp/err"
rc=$?
[[ $rc == 3 ]] && grep -q "empty" "$tmp/err" && ok || bad "empty input: exit $rc"
"$probe" explain --bogus >/dev/null 2>"$tmp/err"
[[ $? == 3 ]] && ok || bad "unknown option"
"$probe" explain --help | grep -q "Usage: probe explain" && ok || bad "--help"

echo "explain_cli: $pass passed, $fail failed"
((fail == 0))
