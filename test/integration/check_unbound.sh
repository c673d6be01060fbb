#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe check` against a real unbound on loopback must give the same
# audit as the same records given as a fixture: test/data/check/
# domains.json is served on 127.0.3.57:5357 and the batch of
# test/data/check/batch.txt runs both ways with every check (local block
# lists); the JSON Lines must be identical.  A --dns-record of the real
# run, replayed, must give the same output again.
#
# Usage: bash check_unbound.sh PATH/TO/probe [GENDIR]
set -u
probe=${1:?usage: check_unbound.sh PATH/TO/probe [GENDIR]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
data=$top/test/data/check
listen=${PROBE_TEST_CHECK_DNS:-127.0.3.57:5357}
addr=${listen%:*}
port=${listen##*:}
# shellcheck source=lib/unbound.sh
. "$here/lib/unbound.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_unbound.XXXXXX") || exit 1
cleanup() {
    unbound_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unbound_start check_unbound "$data/domains.json" "$addr" "$port" "$tmp" || exit 1

opts=(check --batch "$data/batch.txt" --json --dnsbl ip:bl.test
    --dnsbl domain:dbl.test --concurrency 4)
pass=0 fail=0
"$probe" "${opts[@]}" --dns-fixture "$data/domains.json" >"$tmp/fixture.jsonl" 2>"$tmp/fixture.err"
rc_f=$?
"$probe" "${opts[@]}" --dns-server "$listen" --dns-timeout 1000 \
    --dns-record "$tmp/rec.json" >"$tmp/real.jsonl" 2>"$tmp/real.err"
rc_r=$?
"$probe" "${opts[@]}" --dns-fixture "$tmp/rec.json" >"$tmp/replay.jsonl" 2>"$tmp/replay.err"
rc_p=$?

for run in real replay; do
    if cmp -s "$tmp/fixture.jsonl" "$tmp/$run.jsonl"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: the $run run differs from the fixture run:"
        diff <(python3 -m json.tool --json-lines "$tmp/fixture.jsonl") \
            <(python3 -m json.tool --json-lines "$tmp/$run.jsonl") | head -40
    fi
done
if [[ $rc_f -eq $rc_r && $rc_r -eq $rc_p && $rc_f -eq 2 ]]; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL: exit codes fixture $rc_f, real $rc_r, replay $rc_p (want 2)"
fi
lines=$(wc -l <"$tmp/real.jsonl")
if [[ $lines -eq 5 ]]; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL: $lines result lines, want 5"
fi
echo "$pass passed, $fail failed"
((fail == 0))
