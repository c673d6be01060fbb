#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole probe run against the mail lab (scripts/lab up; docs/lab.md):
# every lab scenario sent with its own `probe_args` (scripts/lab status
# --json), the copies read back over IMAP, the bounces collected from the
# relay account's mailbox, and each seed's verdict checked against what
# the scenario is built to produce:
#   good -> inbox with spf, dkim, dmarc pass; spf-fail -> spf;
#   dkim-fail -> dkim; dmarc-reject -> dmarc; generic-5.7.0 -> spf with
#   medium confidence naming the unauthorized address; no-ptr -> ptr;
#   content -> content; spam-folder -> spam with the dmarc failure shown;
#   relay-denied -> relay-denied; auth-fail -> smtp-auth.
# Also: a forged Authentication-Results inside the message is not believed,
# --cleanup removes what was found, and ten seeds are all found in one run.
#
# Usage: bash run_lab.sh PATH/TO/probe   (scripts/test runs it)
set -u
probe=${1:?usage: run_lab.sh PATH/TO/probe}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=${PROBE_LAB_DIR:-/tmp/probe-lab}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/run_lab.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if ! "$here/../../scripts/lab" status --json >"$tmp/status.json" 2>/dev/null; then
    echo "run_lab: the lab is not up (scripts/lab up)" >&2
    exit 1
fi

# args SCENARIO: the scenario's probe arguments, one per line
args() {
    python3 -c 'import json,sys
for a in json.load(open(sys.argv[1]))["scenarios"][sys.argv[2]]["probe_args"]:
    print(a)' "$tmp/status.json" "$1"
}

# check NAME PYTHON-EXPR: holds for every seed s of the report d, with v
# its verdict and ev its evidence in one string
check() {
    python3 - "$tmp/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["seeds"]:
    v = s["verdict"]
    ev = " ".join(v.get("evidence") or [])
    if not eval("(" + sys.argv[2] + ")"):
        print(json.dumps({"verdict": v, "delivery": s.get("delivery"),
                          "auth_results": s.get("auth_results")}, indent=1)[:3000])
        sys.exit(1)
PY
}

# scenario NAME EXPECTED-EXIT PYTHON-EXPR [EXTRA-ARGS...]: run the lab
# scenario NAME (or SCENARIO for NAME=SCENARIO:LABEL) and check its verdict
scenario() {
    local name=${1%%:*} label=${1#*:} want=$2 expr=$3 got t0 t1
    shift 3
    mapfile -t a < <(args "$name")
    name=$label
    t0=$(date +%s.%N)
    "$probe" "${a[@]}" --wait 20 --json "$tmp/$name.json" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    got=$?
    t1=$(date +%s.%N)
    if [[ $got != "$want" ]]; then
        bad "$name: exit $got, expected $want"
        cat "$tmp/$name.out" "$tmp/$name.err"
        return
    fi
    if check "$name" "$expr"; then
        ok "$name ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
    else
        bad "$name: verdict"
        cat "$tmp/$name.out"
    fi
}

scenario good 0 'v["outcome"] == "inbox" and s["delivery"]["folder"] == "INBOX"
    and s["auth_results"]["spf"]["result"] == "pass"
    and s["auth_results"]["dkim"]["result"] == "pass"
    and s["auth_results"]["dmarc"]["result"] == "pass" and v["authenticated_aligned"]'
scenario spf-fail 2 'v["outcome"] == "bounced" and v["category"] == "spf" and v["confidence"] == "high"'
scenario dkim-fail 2 'v["outcome"] == "bounced" and v["category"] == "dkim" and v["confidence"] == "medium"'
scenario dmarc-reject 2 'v["outcome"] == "bounced" and v["category"] == "dmarc"'
scenario generic-5.7.0 2 'v["outcome"] == "bounced" and v["category"] == "spf"
    and v["confidence"] == "medium" and "127.0.1.12" in ev and "generic-570.test" in ev'
scenario no-ptr 2 'v["outcome"] == "bounced" and v["category"] == "ptr"'
scenario content 2 'v["outcome"] == "bounced" and v["category"] == "content"'
scenario spam-folder 1 'v["outcome"] == "spam" and s["delivery"]["folder"] == "Junk"
    and s["auth_results"]["dmarc"]["result"] == "fail" and v["category"] == "dmarc"'
scenario relay-denied 2 'v["outcome"] == "rejected" and v["category"] == "relay-denied" and v["stage"] == "mail"'
scenario auth-fail 2 'v["outcome"] == "rejected" and v["category"] == "smtp-auth" and v["stage"] == "auth"'

# A forged Authentication-Results in the message as sent: the receiver's
# own results (dmarc=fail) win, and the forged field is reported unbelieved.
scenario spam-folder:forged-ar 1 'v["outcome"] == "spam" and s["auth_results"]["dmarc"]["result"] == "fail"
    and any(f["in_message_as_sent"] and not f["believed"] for f in s["auth_results"]["fields"])' \
    --header "Authentication-Results: mx.gmail.test; spf=pass smtp.mailfrom=spam-folder.test; dkim=pass header.d=spam-folder.test; dmarc=pass header.from=spam-folder.test"

# --cleanup: the copy found is deleted from the seed's mailbox.
mapfile -t a < <(args good)
if "$probe" "${a[@]}" --wait 20 --cleanup --json "$tmp/cleanup.json" >"$tmp/cleanup.out" 2>&1; then
    token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seeds"][0]["token"])' "$tmp/cleanup.json")
    if check cleanup 's["delivery"]["deleted"]' &&
        ! grep -rlq "X-Probe-Id: $token" "$lab/mail/gmail.test/seed/Maildir/cur" "$lab/mail/gmail.test/seed/Maildir/new" 2>/dev/null; then
        ok "cleanup"
    else
        bad "cleanup: the copy is still there"
    fi
else
    bad "cleanup: exit $?"
    cat "$tmp/cleanup.out"
fi

# Ten seeds (seed+N@ reaches seed@ in the lab) in one run: all found.
# (How long that takes is measured in bench/run-lab, not asserted here.)
{
    for n in 1 2 3 4 5; do
        sed -n 's/^seed@gmail.test /seed+'"$n"'@gmail.test /p' "$lab/seeds.txt"
        sed -n 's/^seed@outlook.test /seed+'"$n"'@outlook.test /p' "$lab/seeds.txt"
    done
} >"$tmp/seeds10.txt"
mapfile -t a < <(args good)
for i in "${!a[@]}"; do
    [[ ${a[$i]} == --to ]] && a[$((i + 1))]=$tmp/seeds10.txt
done
t0=$(date +%s.%N)
"$probe" "${a[@]}" --wait 20 --json "$tmp/ten.json" >"$tmp/ten.out" 2>&1
got=$?
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
inbox=$(python3 -c 'import json,sys; print(sum(s["verdict"]["outcome"] == "inbox" for s in json.load(open(sys.argv[1]))["seeds"]))' "$tmp/ten.json" 2>/dev/null)
if [[ $got == 0 && $inbox == 10 ]]; then
    ok "ten seeds: 10 in the inbox in $wall s"
else
    bad "ten seeds: exit $got, $inbox in the inbox, $wall s"
    cat "$tmp/ten.out"
fi

# No password of the relay or of any mailbox read reaches any output,
# whether plain or in the base64 of AUTHENTICATE PLAIN.
leaked=
for f in "$lab"/secrets/*.pass; do
    pw=$(head -n1 "$f")
    for user in probe@good.test seed@gmail.test seed@outlook.test; do
        b64=$(printf '\0%s\0%s' "$user" "$pw" | base64 -w0)
        if grep -rqF -e "$pw" -e "$b64" "$tmp"/*.json "$tmp"/*.out "$tmp"/*.err 2>/dev/null; then
            leaked+=" $(basename "$f")"
            break
        fi
    done
done
[[ -z $leaked ]] && ok "no secret in any output" || bad "secrets in the output:$leaked"

echo "run_lab: $pass passed, $fail failed"
((fail == 0))
