#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe send` against the running mail lab (scripts/lab up; docs/lab.md):
# real Postfix relays and receivers with OpenDKIM, OpenDMARC, policyd-spf
# and Dovecot on loopback.  Authenticated submission delivered (and the
# copy found in the seed's Maildir by its token), a wrong password seen at
# the auth stage with 535, relay denied for an unregistered client, the
# receivers' rejections when sending straight to an MX, connection reuse,
# and a bad seeds file that sends nothing.
#
# Usage: bash send_lab.sh PATH/TO/probe   (scripts/test runs it)
set -u
probe=${1:?usage: send_lab.sh PATH/TO/probe}
lab=${PROBE_LAB_DIR:-/tmp/probe-lab}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/send_lab.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if [[ ! -f $lab/lab.json ]]; then
    echo "send_lab: the lab is not up (scripts/lab up)" >&2
    exit 1
fi

# json_has FILE PYTHON-EXPR: the expression holds for d = the report
json_has() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["seeds"][0] if d.get("seeds") else None
e = (s or {}).get("smtp", {}).get("error") or {}
t = "\n".join(x.get("text", "") for x in (s or {}).get("transcript", []))
if not eval(sys.argv[2]):
    print(json.dumps(d, indent=1)[:4000])
    sys.exit(1)
PY
}

# run NAME EXPECTED-EXIT ARGS...: probe send with a JSON report in $tmp/NAME.json
run() {
    local name=$1 want=$2
    shift 2
    "$probe" send --wait 0 --json "$tmp/$name.json" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    local got=$?
    if [[ $got != "$want" ]]; then
        bad "$name: exit $got, expected $want"
        cat "$tmp/$name.out" "$tmp/$name.err"
        return 1
    fi
    return 0
}

dkim=(--dkim-key "$lab/keys/good.test/lab.private" --dkim-selector lab)
mx_gmail=(--relay smtp://mx.gmail.test:25 --set address=127.0.1.20
    --set "ca_file=$lab/tls/ca.crt" --set helo=out.relay.test)

# 1. Authenticated submission through the lab relay, DKIM-signed: accepted,
#    TLS verified, AUTH redacted, the password nowhere, the copy delivered.
if run good 0 --relay lab --to seed@gmail.test --from probe@good.test "${dkim[@]}"; then
    json_has "$tmp/good.json" 's["outcome"] == "accepted" and s["smtp"]["final"]["code"] == 250' \
        && ok || bad "good: not accepted"
    json_has "$tmp/good.json" 's["smtp"]["tls"]["verified"] and s["smtp"]["tls"]["version"].startswith("TLS")' \
        && ok || bad "good: TLS facts"
    json_has "$tmp/good.json" '"AUTH PLAIN [redacted]" in t or "AUTH LOGIN [redacted]" in t' \
        && ok || bad "good: AUTH line not redacted as expected"
    json_has "$tmp/good.json" 'd["message"]["dkim"][0]["domain"] == "good.test"' \
        && ok || bad "good: DKIM in the report"
    password=$(head -n1 "$lab/secrets/relay.pass")
    b64=$(printf '\0probe@good.test\0%s' "$password" | base64 -w0)
    if grep -qF -e "$password" -e "$b64" "$tmp/good.json" "$tmp/good.out" "$tmp/good.err"; then
        bad "good: the relay password reached the output"
    else
        ok
    fi
    token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seeds"][0]["token"])' "$tmp/good.json")
    found=
    for _ in $(seq 1 50); do
        if grep -rlq "X-Probe-Id: $token" "$lab/mail/gmail.test/seed/Maildir/" 2>/dev/null; then
            found=1
            break
        fi
        sleep 0.2
    done
    [[ -n $found ]] && ok || bad "good: message $token not delivered to seed@gmail.test"
fi

# 2. Wrong password: refused at the auth stage with 535 5.7.8.
if run auth-fail 2 --relay lab --set "password_file=$lab/secrets/wrong.pass" \
    --to seed@gmail.test --from probe@good.test; then
    json_has "$tmp/auth-fail.json" 's["outcome"] == "rejected" and e["stage"] == "auth" and e["reply"] == 535 and e["status"] == "5.7.8"' \
        && ok || bad "auth-fail: not rejected at auth with 535 5.7.8"
    grep -q "rejected (smtp-auth, high confidence): the relay refused it at auth: 535" "$tmp/auth-fail.err" && ok || bad "auth-fail: stderr line"
fi

# 3. Relay denied: the allowlist relay from an unregistered address.
if run relay-denied 2 --relay lab-allowlist --set source_address=127.0.1.41 \
    --to seed@gmail.test --from probe@good.test; then
    json_has "$tmp/relay-denied.json" 'e["stage"] == "mail" and e["reply"] == 550 and "relay denied" in e["evidence"]' \
        && ok || bad "relay-denied: not refused at MAIL with 550"
fi
#    ... and accepted from the registered client address.
run relay-allowed 0 --relay lab-allowlist --to seed@gmail.test --from probe@good.test && ok

# 4. Straight to the receiving MX: its checks reject at RCPT.
if run mx-spf 2 "${mx_gmail[@]}" --set source_address=127.0.1.12 \
    --to seed@gmail.test --from probe@spf-fail.test; then
    json_has "$tmp/mx-spf.json" 'e["stage"] == "rcpt" and e["reply"] == 550 and e["status"] == "5.7.23" and s["smtp"]["rcpt"][0]["code"] == 550' \
        && ok || bad "mx-spf: not 550 5.7.23 at RCPT"
fi
if run mx-ptr 2 "${mx_gmail[@]}" --set source_address=127.0.1.13 \
    --to seed@gmail.test --from probe@good.test "${dkim[@]}"; then
    json_has "$tmp/mx-ptr.json" 'e["stage"] == "rcpt" and e["reply"] == 550 and "reverse hostname" in e["evidence"]' \
        && ok || bad "mx-ptr: not refused for the missing PTR"
fi
#    The lab's DNS used to find the MX host's address (--dns-server).
if run mx-dns 0 --relay smtp://mx.gmail.test:25 --set "ca_file=$lab/tls/ca.crt" \
    --set helo=out.relay.test --set source_address=127.0.1.12 --dns-server 127.0.1.53:53 \
    --to seed@gmail.test --from probe@good.test "${dkim[@]}"; then
    json_has "$tmp/mx-dns.json" 'd["relay"]["address"] == "127.0.1.20" and s["outcome"] == "accepted"' \
        && ok || bad "mx-dns: relay address not taken from the lab DNS"
fi

# 5. Three seeds over one connection: reused, each with its own token.
if run reuse 0 --relay lab --to seed@gmail.test,seed@outlook.test,other@gmail.test \
    --from probe@good.test --parallel 1; then
    json_has "$tmp/reuse.json" '[x["smtp"]["connection_reused"] for x in d["seeds"]] == [False, True, True]' \
        && ok || bad "reuse: connections not reused"
    json_has "$tmp/reuse.json" 'len({x["token"] for x in d["seeds"]}) == 3 and d["summary"]["accepted"] == 3' \
        && ok || bad "reuse: tokens or summary"
fi

# 6. probe explain names the check behind each refusal in the reports.
explain_is() {
    local report=$1 want=$2
    [[ -f $tmp/$report.json ]] || return 0
    local got
    got=$(PROBE_RULES_DIR=$(dirname "$0")/../../profiles/rules "$probe" explain --json "$tmp/$report.json" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["category"])')
    [[ $got == "$want" ]] && ok || bad "explain $report: $got, expected $want"
}
explain_is auth-fail smtp-auth
explain_is relay-denied relay-denied
explain_is mx-spf spf
explain_is mx-ptr ptr

# 7. A bad seeds file: FILE:LINE on stderr, exit 3, nothing sent.
printf 'seed@gmail.test\nnot an address\n' >"$tmp/bad-seeds.txt"
"$probe" send --relay lab --to "$tmp/bad-seeds.txt" --from probe@good.test \
    --json "$tmp/bad-seeds.json" >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
[[ $rc == 3 ]] && ok || bad "bad seeds: exit $rc, expected 3"
grep -q "bad-seeds.txt:2:" "$tmp/bad.err" && ok || { bad "bad seeds: no FILE:LINE"; cat "$tmp/bad.err"; }
[[ ! -e $tmp/bad-seeds.json ]] && ok || bad "bad seeds: a report was written"

echo "send_lab: $pass passed, $fail failed"
((fail == 0))
