#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe check` as a user meets it: exit codes, text and JSON, IDN and odd
# spellings of a domain, hostile records (64 KB TXT, garbage keys, two
# DMARC records, timeouts) giving findings and never a crash, bad input
# giving one clear line and exit 3, and --batch: order, error lines that
# name file:line, stdin, record and replay.
#
# Usage: bash check_cli.sh PATH/TO/probe [GENDIR]
set -u
probe=${1:?usage: check_cli.sh PATH/TO/probe [GENDIR]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=$here/../data/check
zone=$data/domains.json
bl=(--dnsbl ip:bl.test --dnsbl domain:dbl.test)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# json_has FILE PYTHON-EXPR: the expression holds for d = the JSON object
json_has() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ids = lambda c: {f["id"] for f in d["checks"][c]["findings"]}
if not eval(sys.argv[2]):
    print(json.dumps(d, indent=1)[:3000])
    sys.exit(1)
PY
}

# ---- one domain
"$probe" check good.example --ip 192.0.2.10 --selector sel1 "${bl[@]}" \
    --dns-fixture "$zone" >"$tmp/out" 2>"$tmp/err"
rc=$?
[[ $rc -eq 0 && $(head -n 1 "$tmp/out") == "good.example: ok" && ! -s $tmp/err ]] &&
    ok || bad "good.example: exit $rc, first line '$(head -n 1 "$tmp/out")'"

"$probe" check good.example --ip 192.0.2.10 --selector sel1 "${bl[@]}" \
    --dns-fixture "$zone" --json >"$tmp/good.json"
json_has "$tmp/good.json" 'd["status"] == "ok" and sorted(d["checks"]) == ["dkim", "dmarc", "dnsbl", "mx", "ptr", "spf"] and d["checks"]["spf"]["ip_results"][0]["result"] == "pass" and d["checks"]["dkim"]["selectors"][0]["key_bits"] == 2048' &&
    ok || bad "good.example JSON"

"$probe" check bad.example --ip 198.51.100.7 --selector old "${bl[@]}" \
    --dns-fixture "$zone" --json >"$tmp/bad.json" 2>"$tmp/err"
rc=$?
[[ $rc -eq 2 && $(wc -l <"$tmp/err") -eq 1 ]] && ok || bad "bad.example: exit $rc"
json_has "$tmp/bad.json" '{"spf-plus-all", "spf-ptr", "spf-too-many-lookups"} <= ids("spf") and {"dkim-rsa-1024", "dkim-testing-mode"} <= ids("dkim") and {"dmarc-policy-none", "dmarc-external-rua-unauthorized"} <= ids("dmarc") and "mx-host-no-address" in ids("mx") and {"ptr-generic", "ptr-not-confirmed"} <= ids("ptr") and "dnsbl-listed" in ids("dnsbl") and d["checks"]["spf"]["dns_lookups"] == 16' &&
    ok || bad "bad.example findings"
# every finding carries id, severity, message and a remedy or evidence
python3 - "$tmp/bad.json" <<'PY' && ok || bad "finding shape"
import json, sys
d = json.load(open(sys.argv[1]))
for name, c in d["checks"].items():
    assert c["status"] in ("ok", "warn", "fail", "error"), name
    for f in c["findings"]:
        assert f["id"].startswith(name + "-"), f["id"]
        assert f["severity"] in ("info", "warn", "fail", "error")
        assert f["message"]
        assert f["severity"] == "info" or f["remedy"], f["id"]
PY

# spellings of a domain: trailing dot, upper case, U-labels
"$probe" check GOOD.Example. --checks spf --dns-fixture "$zone" --json >"$tmp/x.json" 2>/dev/null
json_has "$tmp/x.json" 'd["domain"] == "good.example"' && ok || bad "trailing dot, case"
"$probe" check "bücher.example" --checks spf --dns-fixture "$zone" --json >"$tmp/x.json" 2>/dev/null
json_has "$tmp/x.json" 'd["domain"] == "xn--bcher-kva.example" and d["domain_unicode"] == "bücher.example"' &&
    ok || bad "IDN"

# hostile records: findings, never a crash
big=$(python3 -c 'print("v=spf1 " + "ip4:192.0.2.1 " * 4600 + "-all")')
key=$(python3 -c 'print("v=DKIM1; k=rsa; p=" + "!@#$" * 50)')
cat >"$tmp/hostile.json" <<EOF
{
  "huge.example": {"TXT": ["$big"]},
  "_dmarc.huge.example": {"TXT": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]},
  "junk._domainkey.huge.example": {"TXT": ["$key"]},
  "slow.example": "TIMEOUT",
  "_dmarc.slow.example": "TIMEOUT"
}
EOF
"$probe" check huge.example --selector junk --checks spf,dkim,dmarc \
    --dns-fixture "$tmp/hostile.json" --json >"$tmp/x.json" 2>"$tmp/err"
rc=$?
[[ $rc -eq 2 ]] && ok || bad "huge.example: exit $rc $(cat "$tmp/err")"
json_has "$tmp/x.json" '"spf-syntax" in ids("spf") and "dmarc-multiple-records" in ids("dmarc") and "dkim-bad-key" in ids("dkim")' &&
    ok || bad "hostile findings"
"$probe" check slow.example --checks spf,dmarc --dns-fixture "$tmp/hostile.json" \
    --json >"$tmp/x.json" 2>/dev/null
rc=$?
[[ $rc -eq 3 ]] && ok || bad "timeouts: exit $rc, want 3"
json_has "$tmp/x.json" 'd["status"] == "error" and "spf-dns-error" in ids("spf") and "dmarc-dns-error" in ids("dmarc")' &&
    ok || bad "timeouts: findings"

# ---- bad input: one line on stderr, nothing on stdout, exit 3
usage_error() {
    local what=$1
    shift
    "$probe" check "$@" --dns-fixture "$zone" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [[ $rc -ne 3 || -s $tmp/out || $(wc -l <"$tmp/err") -ne 1 ]]; then
        bad "$what: exit $rc, stdout $(wc -c <"$tmp/out") bytes: $(head -c 300 "$tmp/err")"
    else
        ok
    fi
}
label64=$(printf 'a%.0s' {1..64})
usage_error "no domain"
usage_error "two domains" a.example b.example
usage_error "domain and batch" a.example --batch "$data/batch.txt"
usage_error "empty label" "a..example"
usage_error "label over 63" "$label64.example"
usage_error "not qualified" localhost
usage_error "space in domain" "exa mple.com"
usage_error "bad IDN" "$(printf 'x\xff.example')"
usage_error "unknown check" good.example --checks spf,bogus
usage_error "concurrency 0" good.example --concurrency 0
usage_error "bad ip" good.example --ip 10.0.0
usage_error "bad selector" good.example --selector "no/pe"
usage_error "bad dnsbl zone" good.example --dnsbl "ip:"
usage_error "missing batch" --batch "$tmp/none.txt"
# shellcheck disable=SC2046
usage_error "seventeen ips" good.example $(for i in $(seq 17); do echo --ip 192.0.2.$i; done)

# ---- batch
"$probe" check --batch "$data/batch.txt" "${bl[@]}" --json --concurrency 3 \
    --dns-fixture "$zone" --dns-record "$tmp/rec.json" >"$tmp/b.jsonl" 2>"$tmp/err"
rc=$?
[[ $rc -eq 2 && $(wc -l <"$tmp/err") -eq 1 ]] && ok || bad "batch exit $rc: $(cat "$tmp/err")"
python3 - "$tmp/b.jsonl" <<'PY' && ok || bad "batch lines"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["domain"] for r in rows] == ["good.example", "bad.example",
    "unsigned.example", "not_a..domain", "xn--bcher-kva.example"], rows
assert [r["status"] for r in rows] == ["ok", "fail", "fail", "error", "error"]
assert rows[3]["error"].endswith("batch.txt:6: empty label in 'not_a..domain'"), rows[3]
assert "batch.txt:7:" in rows[4]["error"] and "999.1.1.1" in rows[4]["error"]
PY
"$probe" check --batch - "${bl[@]}" --json --dns-fixture "$tmp/rec.json" \
    <"$data/batch.txt" >"$tmp/replay.jsonl" 2>/dev/null
sed 's|"[^"]*batch.txt:|"-:|' "$tmp/b.jsonl" >"$tmp/b2.jsonl"
if cmp -s "$tmp/b2.jsonl" "$tmp/replay.jsonl"; then ok; else
    bad "stdin batch replayed from --dns-record differs"
    diff "$tmp/b2.jsonl" "$tmp/replay.jsonl" | head -5
fi
"$probe" check --batch "$data/batch.txt" "${bl[@]}" --dns-fixture "$zone" >"$tmp/t.txt" 2>/dev/null
[[ $(wc -l <"$tmp/t.txt") -eq 5 && $(sed -n 4p "$tmp/t.txt") == *"error"*"batch.txt:6:"* ]] &&
    ok || bad "batch text: $(cat "$tmp/t.txt")"

"$probe" check --help | grep -q -- "--batch FILE" && ok || bad "check --help"

echo "$pass passed, $fail failed"
((fail == 0))
