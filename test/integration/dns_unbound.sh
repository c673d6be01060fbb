#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real DNS: `probe spf` against unbound on loopback must agree with the same
# zone given as a fixture.  test/data/spf/realdns.json is served by unbound
# (scripts/fixture-to-unbound) on 127.0.3.53:5353, and every case in
# realdns-cases.txt runs with --dns-fixture and with --dns-server: both must
# give the expected result and the same result, explanation, dns_lookups and
# void_lookups; a --dns-record of the real run, replayed, must give the same
# JSON.  Then timeouts: no server listening, and a name unbound drops.
#
# Usage: bash dns_unbound.sh PATH/TO/probe [GENDIR]
# PROBE_TEST_DNS=ADDR:PORT moves unbound (127.0.0.0/8 only) when another
# server holds 127.0.3.53:5353.
set -u

probe=${1:?usage: dns_unbound.sh PATH/TO/probe [GENDIR]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=lib/unbound.sh
. "$here/lib/unbound.sh"
fixture=$top/test/data/spf/realdns.json
cases=$top/test/data/spf/realdns-cases.txt
listen=${PROBE_TEST_DNS:-127.0.3.53:5353}
addr=${listen%:*}
port=${listen##*:}
dead=127.0.3.54:$port # nothing may listen there (checked below)
dnsopt=(--dns-timeout 500 --dns-tries 2)
time_bound_ms=5000 # 500 ms x 2 tries per query, with room for backoff

if [[ ! -f $probe || ! -x $probe ]]; then
    echo "dns_unbound: $probe is not an executable" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dns_unbound.XXXXXX") || exit 1
cleanup() {
    unbound_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ unbound

unbound_start dns_unbound "$fixture" "$addr" "$port" "$tmp" "$dead" || exit 1

# ------------------------------------------------------------ helpers

passed=0
failed=0
fail() {
    echo "FAIL $*"
    failed=$((failed + 1))
}

# check_case EXPECTED FIXTURE.json RC REAL.json RC REPLAY.json RC RECORDED
# prints what is wrong with one case, a problem a line; exit 1 if anything.
check_case() {
    python3 - "$@" <<'EOF'
import json, sys

EXIT = {"pass": 0, "neutral": 1, "none": 1, "softfail": 1, "fail": 2,
        "permerror": 2, "temperror": 3}
want, f, rc_f, r, rc_r, p, rc_p, rec = sys.argv[1:]
problems = []


def load(path, what):
    try:
        with open(path, encoding="utf-8") as fp:
            d = json.load(fp)
        if isinstance(d, dict) and isinstance(d.get("result"), str):
            return d
    except (OSError, ValueError):
        pass
    problems.append("%s: stdout is not a JSON object with a result" % what)
    return None


def fields(d):
    return [d.get(k) for k in ("result", "explanation", "dns_lookups",
                               "void_lookups")]


fx, real, replay = load(f, "fixture"), load(r, "real DNS"), load(p, "replay")
if fx is not None:
    if fx["result"] != want:
        problems.append("fixture gave %s, expected %s" % (fx["result"], want))
    elif int(rc_f) != EXIT[want]:
        problems.append("fixture exit %s, expected %d" % (rc_f, EXIT[want]))
if fx is not None and real is not None:
    if fields(fx) != fields(real):
        problems.append("real DNS gave %s, fixture %s" % (
            json.dumps(fields(real)), json.dumps(fields(fx))))
    elif rc_r != rc_f:
        problems.append("real DNS exit %s, fixture %s" % (rc_r, rc_f))
try:
    with open(rec, encoding="utf-8") as fp:
        json.load(fp)
except (OSError, ValueError) as e:
    problems.append("--dns-record output unusable: %s" % e)


def differences(a, b, path=""):
    """Where two JSON values differ, as paths.  A TIMEOUT query's "detail"
    says how the real resolver waited; a replay cannot say the same."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if (k == "detail" and a.get("status") == "TIMEOUT"
                    and b.get("status") == "TIMEOUT"):
                continue
            out += differences(a.get(k), b.get(k), "%s.%s" % (path, k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in differences(x, y, "%s[%d]" % (path, i))]
    return [] if a == b else [path or "."]


if real is not None and replay is not None:
    diff = differences(real, replay)
    if diff:
        problems.append("replaying --dns-record differs at %s"
                        % ", ".join(diff[:3]))
    if rc_p != rc_r:
        problems.append("replaying --dns-record: exit %s, real DNS %s"
                        % (rc_p, rc_r))
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
}

# The result in a JSON file, or "no JSON".
result_of() {
    python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["result"])' "$1" 2>/dev/null ||
        echo "no JSON"
}

now_ms() {
    date +%s%3N
}

# spf OUT IP SENDER HELO [OPTION...]: run probe, stdout to OUT, stderr to
# OUT.err; the exit code is the function's.
spf() {
    local out=$1 ip=$2 sender=$3 helo=$4
    shift 4
    "$probe" spf --ip "$ip" --sender "$sender" --helo "$helo" --json "$@" \
        </dev/null >"$out" 2>"$out.err"
}

# ------------------------------------------------------------ the cases

n=0
while read -r ip sender helo expected rest; do
    [[ -z ${ip:-} || $ip == \#* ]] && continue
    if [[ -z ${expected:-} || -n ${rest:-} ]]; then
        fail "$cases: bad line: $ip $sender $helo ${expected:-} ${rest:-}"
        continue
    fi
    [[ $sender == '""' ]] && sender=
    n=$((n + 1))
    what="case $n ($ip ${sender:-\"\"} $helo)"
    f=$tmp/$n.fixture.json r=$tmp/$n.real.json p=$tmp/$n.replay.json
    rec=$tmp/$n.recorded.json

    spf "$f" "$ip" "$sender" "$helo" --dns-fixture "$fixture"
    rc_f=$?
    spf "$r" "$ip" "$sender" "$helo" --dns-server "$addr:$port" \
        "${dnsopt[@]}" --dns-record "$rec"
    rc_r=$?
    spf "$p" "$ip" "$sender" "$helo" --dns-fixture "$rec"
    rc_p=$?

    if ! problems=$(check_case "$expected" "$f" $rc_f "$r" $rc_r "$p" $rc_p \
        "$rec"); then
        fail "$what: ${problems//$'\n'/; }"
        for e in "$f.err" "$r.err" "$p.err"; do
            [[ -s $e ]] && sed "s|^|    ${e##*/}: |" "$e"
        done
    else
        passed=$((passed + 1))
    fi
done <"$cases"
if ((n == 0)); then
    fail "$cases: no cases"
fi

# The 1487-byte TXT answer cannot fit a 1232-byte UDP reply: unbound's log
# must show it answered in full (over TCP), not only truncated.
if ! awk '/ big\.spf\.test\. TXT IN NOERROR / && $NF > 1232 { ok = 1 }
          END { exit !ok }' "$tmp/unbound.log"; then
    fail "no full-size answer for big.spf.test in unbound's log (TCP fallback)"
else
    passed=$((passed + 1))
fi

# ------------------------------------------------------------ timeouts

# A temperror with exit 3 within time_bound_ms; NAME says which setup.
expect_temperror() {
    local name=$1 server=$2 sender=$3 out=$tmp/timeout.$1.json t0 t1 rc s
    t0=$(now_ms)
    spf "$out" 192.0.2.10 "$sender" mail.spf.test --dns-server "$server" \
        "${dnsopt[@]}"
    rc=$?
    t1=$(now_ms)
    s=$(result_of "$out")
    echo "$name: exit $rc in $((t1 - t0)) ms: $s"
    if [[ $rc != 3 ]]; then
        fail "$name: exit $rc, expected 3 (temperror)"
    elif [[ $s != "no JSON" && $s != temperror ]]; then
        fail "$name: $s, expected temperror"
    elif ((t1 - t0 > time_bound_ms)); then
        fail "$name: took $((t1 - t0)) ms, bound $time_bound_ms ms"
    else
        passed=$((passed + 1))
    fi
}
expect_temperror no-server "$dead" user@ip4.spf.test
expect_temperror dropped-query "$addr:$port" user@slow.spf.test

if ((failed)); then
    echo "unbound log (last 40 lines):"
    tail -n 40 "$tmp/unbound.log"
fi
echo "$passed passed, $failed failed"
((failed == 0))
