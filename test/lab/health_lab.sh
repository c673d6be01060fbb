#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe health` against the mail lab (scripts/lab up; docs/health.md): a
# probe-run check switched from the good scenario to spf-fail between two
# runs is CRITICAL "new: spf", and back again OK "recovered: spf"; a
# SIGTERM while the check waits for its copies ends the run as aborted,
# and the mailboxes it was watching were logged out of (Dovecot logs
# "Logged out", not a dropped connection).
#
# Usage: bash health_lab.sh PATH/TO/probe   (scripts/test runs it)
set -u
probe=${1:?usage: health_lab.sh PATH/TO/probe}
lab=${PROBE_LAB_DIR:-/tmp/probe-lab}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/health_lab.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if [[ ! -f $lab/lab.json ]]; then
    echo "health_lab: the lab is not up (scripts/lab up)" >&2
    exit 1
fi

# config NAME SCENARIO-DOMAIN [WAIT] [BOUNCE-MAILBOX]
config() {
    local bm=""
    [[ -n ${4:-} ]] && bm=", \"bounce_mailbox\": \"$4\""
    cat >"$tmp/$1.json" <<EOF
{
  "history": "$tmp/history.db",
  "dns_server": "127.0.1.53:53",
  "checks": [
    {"name": "lab gmail", "probe": {
      "relay": "$lab/profiles/relay-submission.json", "to": "$lab/seeds-gmail.txt",
      "from": "probe@$2", "dkim_key": "$lab/keys/$2/lab.private", "dkim_selector": "lab",
      "wait": ${3:-20}$bm}},
    {"name": "$2 dns", "audit": {"domain": "$2", "ips": ["127.0.1.12"], "checks": "spf,dmarc"}}
  ]
}
EOF
}

# run NAME EXPECTED-EXIT
run() {
    "$probe" health --config "$tmp/$1.json" >"$tmp/$1.out" 2>"$tmp/$1.err"
    local got=$?
    if [[ $got != "$2" ]]; then
        bad "$1: exit $got, expected $2"
        cat "$tmp/$1.out" "$tmp/$1.err"
        return 1
    fi
    return 0
}

config good good.test
config spf spf-fail.test
if run good 0 && grep -q "^PROBE OK - lab gmail OK" "$tmp/good.out"; then
    ok "good: $(cut -d'|' -f1 "$tmp/good.out")"
else
    bad "good"
    cat "$tmp/good.out"
fi
# the check keeps its name; its sender is now the spf-fail scenario's
sed 's/"spf-fail.test dns"/"good.test dns"/' "$tmp/spf.json" >"$tmp/spf2.json"
if run spf2 2 && grep -q "^PROBE CRITICAL - lab gmail CRITICAL (new: spf)" "$tmp/spf2.out"; then
    ok "switched to spf-fail: $(cut -d'|' -f1 "$tmp/spf2.out")"
else
    bad "spf-fail"
    cat "$tmp/spf2.out"
fi
if run good 0 && grep -q "^PROBE OK - lab gmail OK (recovered: spf)" "$tmp/good.out"; then
    ok "back to good: $(cut -d'|' -f1 "$tmp/good.out")"
else
    bad "recovery"
    cat "$tmp/good.out"
fi

# SIGTERM while the run waits: the probe-run check waits for a bounce that
# the lab never sends (spam-folder's copy lands in Junk, but the seed line
# is rewritten to read only an INBOX that never gets it: junk=INBOX is not
# allowed, so the seed reads the outlook mailbox for a gmail seed).
sed "s#$lab/seeds-gmail.txt#$tmp/seeds-elsewhere.txt#" "$tmp/good.json" | sed 's/"wait": 20/"wait": 60/' >"$tmp/term.json"
sed -e 's/^seed@gmail.test /seed+never@gmail.test /' -e 's#imaps://imap.gmail.test:993#imaps://imap.outlook.test:993#' \
    -e 's/address=127.0.1.20/address=127.0.1.21/' -e 's/user=seed@gmail.test/user=seed@outlook.test/' \
    -e 's/seed-gmail.pass/seed-outlook.pass/' "$lab/seeds-gmail.txt" >"$tmp/seeds-elsewhere.txt"
log_before=$(wc -l <"$lab/log/dovecot.log")
"$probe" health --config "$tmp/term.json" >"$tmp/term.out" 2>"$tmp/term.err" &
pid=$!
sleep 3
kill -TERM "$pid"
wait "$pid"
got=$?
if [[ $got == 3 ]] && grep -q "aborted by signal 15" "$tmp/term.out"; then
    ok "SIGTERM: $(cat "$tmp/term.out")"
else
    bad "SIGTERM: exit $got"
    cat "$tmp/term.out" "$tmp/term.err"
fi
sleep 0.5
if tail -n +"$((log_before + 1))" "$lab/log/dovecot.log" | grep "seed@outlook.test" | grep -q "Logged out"; then
    ok "the watched mailbox was logged out of"
else
    bad "no LOGOUT in dovecot.log"
    tail -n +"$((log_before + 1))" "$lab/log/dovecot.log" | tail -5
fi
"$probe" history --history "$tmp/history.db" --json --last 1 | python3 -c 'import json,sys
r = json.load(sys.stdin)["runs"][-1]
assert r["aborted"], r' && ok "recorded as aborted" || bad "not recorded as aborted"

echo "health_lab: $pass passed, $fail failed"
((fail == 0))
