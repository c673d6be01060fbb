#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe send` against a hostile SMTP server (test/support/hostile_smtp.py)
# for the faults no real server produces on demand: a 1 MiB reply line,
# 100,000 continuation lines, silence, one byte every 20 s, STARTTLS
# missing or with injected bytes (RFC 3207 §5, CVE-2021-22947), malformed
# reply codes, drops and silence after DATA, mixed RCPT replies, a Gmail
# 5.7.26 rejection, AUTH failure and a 421 greeting.  Each must end in a
# clean error at the right stage with the right code, within its deadline
# (--stage-timeout 2: the trickle ends after ~2 s, not 20) and in bounded
# memory (peak RSS from GNU time).  The normal cases prove success with
# TLS verified against a throwaway CA for hostile.test.
#
# Installs nothing: it says what is missing (scripts/deps installs it).
# Every server listens on 127.0.5.1 (PROBE_TEST_HOSTILE_ADDR) on a free port.
# PROBE_TEST_KEEP=1 keeps the temporary directory (reports, server logs).
# Usage: bash send_hostile.sh PATH/TO/probe [GENDIR]
set -u
probe=${1:?usage: send_hostile.sh PATH/TO/probe [GENDIR]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/hostile.sh
source "$here/lib/hostile.sh"
server_py=$here/../support/hostile_smtp.py
addr=${PROBE_TEST_HOSTILE_ADDR:-127.0.5.1}
timeout=2     # --stage-timeout: every greeting, command and data deadline
margin=2.5    # seconds a failure may take past its deadline
rss_max=65536 # KB: peak RSS for the 1 MiB line and the 100,000 lines
cap=30        # seconds: a probe run still going then is killed (exit 124)
hostile_setup send_hostile

# --- what the test needs -------------------------------------------------
hostile_need python3 openssl timeout time
hostile_loopback
hostile_has_send "$probe"

# --- a throwaway CA and a certificate for hostile.test ------------------
hostile_pki "probe hostile test CA"

# --- the server ---------------------------------------------------------
# start_server CASE SCENARIO [hostile_smtp.py options...]: sets srv_port;
# $tmp/CASE.server.log gets every byte the client sent
start_server() {
    local case=$1 scenario=$2
    shift 2
    hostile_start "$case" "$server_py" --scenario "$scenario" "$@"
}

# run_probe CASE [probe send options...]: runs probe under GNU time with
# the common options, the JSON report in $tmp/CASE.json; sets rc (124: it
# hung and was killed after $cap s)
run_probe() {
    local case=$1
    shift
    hostile_timed "$case" "$probe" send --from probe@hostile.test \
        --stage-timeout "$timeout" --set address="$addr" \
        --set ca_file="$tmp/pki/ca.pem" --json "$tmp/$case.json" -v "$@"
}

# expect CASE CHECK...: each CHECK is PATH OP VALUE, OP one of = != <= >=
# ~ (a Python regex, searched) !~ (not found).  PATH is rc, time (s), rss (KB), stderr,
# server (the server's log), or a path into the JSON report with / between
# keys: a number indexes a list, @ADDR picks the element whose "address"
# is ADDR (seeds/@a@b.test/smtp/rcpt/@a@b.test/code).  JSON null is
# "null", booleans "true"/"false".  On a failure: what probe did.
expect() {
    local case=$1
    shift
    hostile_py "$tmp" "$case" "$rc" "$@" <<'EOF'
import json, sys
from hostile_expect import MISSING, Case

c = Case(*sys.argv[1:4])
report, report_err = None, None
try:
    with open(c.path("json")) as f:
        report = json.load(f)
except (OSError, ValueError) as e:
    report_err = str(e)

def more(path):
    if path == "stderr":
        return c.text("err")
    node = report
    if node is None:
        return MISSING
    for key in path.split("/"):
        if isinstance(node, list) and key.startswith("@"):
            node = next((e for e in node if isinstance(e, dict)
                         and e.get("address") == key[1:]), MISSING)
        elif isinstance(node, list) and key.isdigit():
            node = node[int(key)] if int(key) < len(node) else MISSING
        elif isinstance(node, dict):
            node = node.get(key, MISSING)
        else:
            node = MISSING
        if node is MISSING:
            return MISSING
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, (dict, list)):
        return json.dumps(node)
    return str(node)

c.more = more
failed = c.failures(sys.argv[4:], 200)
if not failed:
    sys.exit(0)
c.say_failed(failed)
err = c.text("err").strip().splitlines()
for line in err[-6:]:
    print("    stderr: %s" % line[:300])
if report is None:
    print("    report: %s" % (report_err or "none"))
else:
    for seed in report.get("seeds", [])[:3]:
        smtp = seed.get("smtp") or {}
        print("    seed %s: outcome %s, stage %s, error %s" % (
            seed.get("address"), seed.get("outcome"), smtp.get("stage"),
            json.dumps(smtp.get("error"))[:400]))
        tr = seed.get("transcript") or smtp.get("transcript") or []
        for e in tr[-4:]:
            print("      %s %s" % (e.get("dir"), str(e.get("text"))[:160]))
sys.exit(1)
EOF
    tally $?
}

relay() { echo "smtp://hostile.test:$srv_port"; }
seed=seed@hostile.test
hostile_deadline "$timeout"

# failed_case CASE SCENARIO STAGE CODE [--server-option VALUE | CHECK]...:
# the case fails at STAGE with CODE (a regex), exit 2, within the deadline,
# with no reply code or status (no valid reply said so)
failed_case() {
    local case=$1 scenario=$2 stage=$3 code=$4
    shift 4
    local sopts=() checks=()
    while (($#)); do
        case $1 in
        --*) sopts+=("$1" "$2"); shift 2 ;;
        *) checks+=("$1"); shift ;;
        esac
    done
    start_server "$case" "$scenario" "${sopts[@]}" || { bad "$case: no server"; return; }
    run_probe "$case" --relay "$(relay)" --to "$seed"
    expect "$case" rc=2 seeds/0/outcome=failed seeds/0/smtp/error/stage="$stage" \
        "seeds/0/smtp/error/code~^($code)\$" seeds/0/smtp/error/reply=null \
        "seeds/0/smtp/error/status~^(null|)\$" "$within" "stderr~." "${checks[@]}"
}

# --- success first: the baseline for everything else -------------------
start_server normal normal || exit 1
run_probe normal --relay "$(relay)" --to "$seed"
expect normal rc=0 seeds/0/address=$seed seeds/0/outcome=accepted \
    seeds/0/smtp/error=null seeds/0/smtp/final/code=250 \
    seeds/0/smtp/final/status=2.0.0 "seeds/0/smtp/final/text~queued as" \
    seeds/0/smtp/rcpt/0/code=250 seeds/0/smtp/tls/verified=true \
    seeds/0/smtp/tls/verify_result=ok "seeds/0/smtp/tls/version~TLS" \
    "seeds/0/smtp/tls/subject~hostile\\.test" \
    "seeds/0/smtp/tls/issuer~probe hostile test CA" \
    "seeds/0/smtp/tls/not_after~^20[0-9][0-9]-" \
    "seeds/0/transcript~\"dir\": \"S\"" "seeds/0/transcript~STARTTLS" \
    "server~(?m)^#### conn 1 tls " "server~(?i)MAIL FROM:<probe@hostile\\.test>" \
    "server~(?i)RCPT TO:<seed@hostile\\.test>" "server~X-Probe-Id: " \
    "time<=$timeout"
# Under ASan (shadow memory, quarantine) the absolute bound means nothing:
# then a hostile case may use at most 32 MB more than the normal one.
hostile_asan_rss "$probe" normal

# implicit TLS (RFC 8314), the same server with TLS from the first byte
start_server smtps normal --implicit-tls || exit 1
run_probe smtps --relay "smtps://hostile.test:$srv_port" --to "$seed"
expect smtps rc=0 seeds/0/outcome=accepted seeds/0/smtp/tls/verified=true \
    "server~(?m)^#### conn 1 tls " "server~(?i)DATA"

# a CA we were not told about: certificate verification is on by default
start_server wrong-ca normal || exit 1
hostile_timed wrong-ca "$probe" send --from probe@hostile.test \
    --stage-timeout "$timeout" --set address="$addr" \
    --json "$tmp/wrong-ca.json" -v --relay "$(relay)" --to "$seed"
expect wrong-ca rc=2 seeds/0/outcome=failed seeds/0/smtp/error/stage=tls \
    "$within" "server!~(?i)MAIL FROM" "server!~(?im)^AUTH"

# the greeting after 1.5 s of a 2 s deadline: we must not give up early
start_server slow-accept slow-accept --delay 1.5 || exit 1
run_probe slow-accept --relay "$(relay)" --to "$seed"
expect slow-accept rc=0 seeds/0/outcome=accepted "time>=1.4"

# every reply 0.8 s late: each stage is within 2 s, the session is not
start_server slow-replies slow-replies --delay 0.8 || exit 1
run_probe slow-replies --relay "$(relay)" --to "$seed"
expect slow-replies rc=0 seeds/0/outcome=accepted "time>=$((timeout + 2))"

# --- RCPT and DATA verdicts ---------------------------------------------
start_server rcpt-mixed rcpt-mixed || exit 1
ok_a=ok@hostile.test unk_a=unknown@hostile.test later_a=later@hostile.test
run_probe rcpt-mixed --relay "$(relay)" --to "$ok_a,$unk_a,$later_a"
expect rcpt-mixed rc=2 \
    seeds/@$ok_a/outcome=accepted seeds/@$ok_a/smtp/rcpt/@$ok_a/code=250 \
    seeds/@$ok_a/smtp/rcpt/@$ok_a/status=2.1.5 \
    seeds/@$unk_a/outcome=rejected seeds/@$unk_a/smtp/rcpt/@$unk_a/code=550 \
    seeds/@$unk_a/smtp/rcpt/@$unk_a/status=5.1.1 \
    "seeds/@$unk_a/smtp/rcpt/@$unk_a/text~User unknown" \
    seeds/@$unk_a/smtp/error/stage=rcpt seeds/@$unk_a/smtp/error/reply=550 \
    seeds/@$later_a/outcome=deferred seeds/@$later_a/smtp/rcpt/@$later_a/code=450 \
    seeds/@$later_a/smtp/rcpt/@$later_a/status=4.2.1 \
    seeds/@$later_a/smtp/error/stage=rcpt seeds/@$later_a/smtp/error/reply=450 \
    seeds/@$later_a/smtp/error/code=tempfail

start_server reject-data reject-data || exit 1
run_probe reject-data --relay "$(relay)" --to "$seed"
expect reject-data rc=2 seeds/0/outcome=rejected seeds/0/smtp/error/stage=data \
    seeds/0/smtp/error/reply=550 seeds/0/smtp/error/status=5.7.26 \
    seeds/0/smtp/error/code=permfail seeds/0/smtp/final/code=550 \
    "seeds/0/smtp/error/evidence~unauthenticated" \
    "seeds/0/transcript~gsmtp" "server~(?m)^\\.\\r?$"

start_server tempfail-greeting tempfail-greeting || exit 1
run_probe tempfail-greeting --relay "$(relay)" --to "$seed"
expect tempfail-greeting rc=1 seeds/0/outcome=deferred \
    seeds/0/smtp/error/stage=greeting seeds/0/smtp/error/reply=421 \
    seeds/0/smtp/error/status=4.7.0 seeds/0/smtp/error/code=tempfail "$within"

# AUTH refused: 535 5.7.8 after the credentials arrived
start_server auth-fail auth-fail || exit 1
PROBE_HOSTILE_PASS=not-the-password run_probe auth-fail --relay "$(relay)" \
    --to "$seed" --set user=someone@hostile.test \
    --set password_env=PROBE_HOSTILE_PASS --set auth=plain
expect auth-fail rc=2 "seeds/0/outcome~^(rejected|failed)$" \
    seeds/0/smtp/error/stage=auth seeds/0/smtp/error/reply=535 \
    seeds/0/smtp/error/status=5.7.8 "server~(?m)^AUTH PLAIN" \
    "server!~(?i)MAIL FROM" "$within"

# --- faults: each a clean error at its stage within its deadline --------
# a 1 MiB line, as the greeting and as the EHLO reply; 100,000 lines
failed_case long-line-greeting long-line greeting limit --variant greeting \
    "rss<=$rss_max"
failed_case long-line-ehlo long-line ehlo limit --variant ehlo "rss<=$rss_max"
failed_case many-lines many-lines ehlo limit "rss<=$rss_max"
# 300 lines of 7 bytes (2 KB): our own line count limit (256) should stop it
failed_case many-lines-300 many-lines ehlo limit --variant short --lines 300

# nothing at all, and a byte every 20 s: the greeting deadline, not later
failed_case silence silence greeting timeout "$not_early"
failed_case trickle trickle greeting timeout --interval 20 "$not_early"
failed_case drop-at-greeting drop-at-greeting greeting network

# STARTTLS required: no downgrade to plain text (no AUTH, no MAIL sent)
start_server no-starttls no-starttls || exit 1
run_probe no-starttls --relay "$(relay)" --to "$seed"
expect no-starttls rc=2 seeds/0/outcome=failed seeds/0/smtp/error/stage=tls \
    "$within" "server!~(?i)MAIL FROM" "server!~(?im)^AUTH" "stderr~."

# bytes after the STARTTLS 220 (RFC 3207 §5, CVE-2021-22947): stop there
start_server starttls-inject starttls-inject || exit 1
run_probe starttls-inject --relay "$(relay)" --to "$seed"
expect starttls-inject rc=2 seeds/0/outcome=failed \
    seeds/0/smtp/error/stage=tls "$within" "server!~(?i)MAIL FROM" \
    "seeds/0/smtp/error/message~STARTTLS" "stderr~."

# no TLS handshake after the STARTTLS 220
failed_case tls-garbage tls-garbage tls "[a-z]+" "server!~(?i)MAIL FROM"

# malformed replies: a syntax error where they came, not a timeout
failed_case bad-code-letters bad-code greeting syntax --variant letters
failed_case bad-code-999 bad-code greeting syntax --variant 999
failed_case bad-code-binary bad-code ehlo syntax --variant binary
failed_case bad-code-mismatch bad-code ehlo syntax --variant mismatch \
    "server!~(?i)MAIL FROM"
failed_case bad-code-mail bad-code mail syntax --variant mail

# the message sent, then a drop, or silence, instead of the final reply
failed_case drop-after-data drop-after-data data network "server~(?m)^\\.\\r?$"
failed_case data-silence data-silence data timeout "$not_early" \
    "server~(?m)^\\.\\r?$"

hostile_done
