#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe spf` as a user meets it: bad input gives one clear line on stderr,
# nothing on stdout and exit 3; results give the documented exit codes, the
# result word alone on the first line, valid JSON; --dns-record replays.
#
# Usage: bash cli_spf.sh PATH/TO/probe GENDIR
set -u
probe=${1:?usage: cli_spf.sh PATH/TO/probe GENDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
zone=$here/../data/spf/engine.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# usage_error "what" ARGS... : exit 3, empty stdout, exactly one stderr line
usage_error() {
    local what=$1
    shift
    "$probe" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [[ $rc -ne 3 || -s $tmp/out || $lines -ne 1 ]]; then
        bad "$what: exit $rc, stdout $(wc -c <"$tmp/out") bytes, $lines stderr lines: $(head -c 300 "$tmp/err")"
    else
        ok
    fi
}

printf '{"x.example": {"MX": [{"preference": "ten"}]}}' >"$tmp/shape.json"
printf '{"x.example": {\n  "TXT": [1,}' >"$tmp/syntax.json"
printf '{"x.example": {"A": ["999.1.1.1"]}}' >"$tmp/addr.json"
long=$(printf 'a%.0s' {1..300})

usage_error "no arguments" spf
usage_error "missing --ip" spf --sender a@example.com
usage_error "invalid IP" spf --ip 192.0.2 --sender a@example.com
usage_error "IP with prefix" spf --ip 192.0.2.1/32 --sender a@example.com
usage_error "no sender, no helo" spf --ip 192.0.2.1
usage_error "null sender without helo" spf --ip 192.0.2.1 --sender ""
usage_error "empty helo" spf --ip 192.0.2.1 --sender a@example.com --helo ""
usage_error "overlong sender" spf --ip 192.0.2.1 --sender "a@$long.example"
usage_error "overlong helo" spf --ip 192.0.2.1 --helo "$long.example"
usage_error "non-ASCII sender" spf --ip 192.0.2.1 --sender "$(printf 'a@\xc3\xa9.example')"
usage_error "control char" spf --ip 192.0.2.1 --sender "$(printf 'a@x\x01.example')"
usage_error "unknown option" spf --ip 192.0.2.1 --sender a@example.com --bogus
usage_error "option without value" spf --sender a@example.com --ip
usage_error "stray argument" spf --ip 192.0.2.1 --sender a@example.com extra
usage_error "bad timeout" spf --ip 192.0.2.1 --sender a@example.com --dns-timeout 0
usage_error "bad tries" spf --ip 192.0.2.1 --sender a@example.com --dns-tries x
usage_error "bad server" spf --ip 192.0.2.1 --sender a@example.com --dns-server dns.example
usage_error "server and fixture" spf --ip 192.0.2.1 --sender a@example.com --dns-server 127.0.0.1 --dns-fixture "$zone"
usage_error "missing fixture" spf --ip 192.0.2.1 --sender a@example.com --dns-fixture "$tmp/nope.json"
usage_error "fixture not JSON" spf --ip 192.0.2.1 --sender a@example.com --dns-fixture "$tmp/syntax.json"
usage_error "fixture wrong shape" spf --ip 192.0.2.1 --sender a@example.com --dns-fixture "$tmp/shape.json"
usage_error "fixture bad address" spf --ip 192.0.2.1 --sender a@example.com --dns-fixture "$tmp/addr.json"
usage_error "unknown command" frobnicate

# the error names the file and where: line:col or JSON path
"$probe" spf --ip 192.0.2.1 --sender a@example.com --dns-fixture "$tmp/syntax.json" 2>"$tmp/err"
grep -q "syntax.json:2:" "$tmp/err" && ok || bad "syntax error without line: $(cat "$tmp/err")"
"$probe" spf --ip 192.0.2.1 --sender a@example.com --dns-fixture "$tmp/shape.json" 2>"$tmp/err"
grep -q 'MX\[0\].preference' "$tmp/err" && ok || bad "shape error without path: $(cat "$tmp/err")"

# result -> exit code, first line, JSON
expect() { # expect RESULT CODE ARGS...
    local want=$1 code=$2
    shift 2
    "$probe" spf --dns-fixture "$zone" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    local first
    first=$(head -n 1 "$tmp/out")
    [[ $rc -eq $code && $first == "$want" ]] && ok || bad "$*: want $want/$code, got '$first'/$rc"
    if [[ $code -ne 0 ]]; then
        [[ $(wc -l <"$tmp/err") -eq 1 ]] && ok || bad "$*: non-zero exit without one stderr line"
    fi
    "$probe" spf --dns-fixture "$zone" "$@" --json >"$tmp/json" 2>/dev/null
    python3 - "$tmp/json" "$want" <<'PY' && ok || bad "$*: JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["result"] == sys.argv[2], d["result"]
for k in ("explanation", "dns_lookups", "void_lookups", "trace", "reason"):
    assert k in d, k
PY
}
expect pass 0 --ip 203.0.113.7 --sender alice@example.com
expect fail 2 --ip 192.0.2.200 --sender alice@example.com
expect softfail 1 --ip 2001:db8::1 --sender a@soft.example.org --helo x.example
expect pass 0 --ip 2001:db8:5::1 --sender a@soft.example.org
expect none 1 --ip 192.0.2.1 --sender a@nonexistent.example.org
expect permerror 2 --ip 192.0.2.1 --sender x@voids.example.org
expect temperror 3 --ip 192.0.2.1 --sender x@slow.example.org
expect pass 0 --ip 192.0.2.50 --helo mail.example.org

# --help teaches, --version names the libraries
"$probe" spf --help | grep -q "Exit status" && ok || bad "spf --help"
"$probe" --version | grep -q "c-ares" && ok || bad "--version"

# record, then replay: identical JSON
"$probe" spf --dns-fixture "$zone" --ip 198.51.100.22 --sender alice@example.com --json \
    --dns-record "$tmp/rec.json" >"$tmp/a.json"
"$probe" spf --dns-fixture "$tmp/rec.json" --ip 198.51.100.22 --sender alice@example.com --json >"$tmp/b.json"
cmp -s "$tmp/a.json" "$tmp/b.json" && ok || bad "replay of --dns-record differs"

# outside text is escaped: a TXT record with control bytes and 8-bit
printf '{"e.example": {"TXT": ["v=spf1 a:x.example\\u0007\\u00ff -all"]}}' >"$tmp/esc.json"
"$probe" spf --dns-fixture "$tmp/esc.json" --ip 192.0.2.1 --sender a@e.example >"$tmp/out" 2>&1
if LC_ALL=C grep -q $'[\x01-\x08\x7f-\xff]' "$tmp/out"; then bad "raw control/8-bit bytes reached the terminal"; else ok; fi
"$probe" spf --dns-fixture "$tmp/esc.json" --ip 192.0.2.1 --sender a@e.example --json 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["result"]=="permerror"' && ok || bad "escaped JSON"

echo "$pass passed, $fail failed"
((fail == 0))
