#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The IMAP client (probe/imap.c, through test/imap_drive) against a hostile
# IMAP server (test/support/hostile_imap.py) for the faults no real server
# produces on demand: a literal of 4 GiB, a literal that stops after 10 of
# 1000 octets, one byte a second, STARTTLS with an injected line, BYE in
# the middle of a FETCH, a BYE greeting, a refused login, silence, 100,000
# nested parentheses, a 3 MiB line, 200,000 UIDs.  Each must end in a
# clean error at the right stage with the right code, within its deadline
# (--timeout-ms 2000, plus 2.5 s) and in bounded memory (peak RSS from GNU
# time).  A PERMANENTFLAGS list libetpan cannot parse must not crash it.
# The normal cases prove success with TLS verified, implicit and STARTTLS,
# with LOGIN, AUTHENTICATE PLAIN (with and without SASL-IR) and XOAUTH2,
# IDLE and the NOOP fallback, UID STORE + UID EXPUNGE; and the secret
# never appears in anything the driver prints.
#
# Every server listens on 127.0.6.1 (PROBE_TEST_IMAP_ADDR) on a free port.
# PROBE_TEST_KEEP=1 keeps the temporary directory.
# Usage: bash imap_hostile.sh PATH/TO/probe [GENDIR]
#   (the driver is PATH/TO/test/imap_drive, built with the tests)
set -u
probe=${1:?usage: imap_hostile.sh PATH/TO/probe [GENDIR]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/hostile.sh
source "$here/lib/hostile.sh"
server_py=$here/../support/hostile_imap.py
drive=${PROBE_IMAP_DRIVE:-$(dirname "$probe")/test/imap_drive}
addr=${PROBE_TEST_IMAP_ADDR:-127.0.6.1}
timeout_ms=2000
margin=2.5     # seconds a failure may take past its deadline
rss_max=65536  # KB: peak RSS of any case
cap=30         # seconds: a run still going then is killed (exit 124)
user=seed@hostile.test
password="pw-$RANDOM$RANDOM-\"quoted\\back"
token="ya29.tok-$RANDOM$RANDOM"
hostile_setup imap_hostile

hostile_need python3 openssl timeout time
if [[ ! -x $drive ]]; then
    echo "imap_hostile: no driver at $drive (build the tests: target imap_drive)"
    exit 1
fi
hostile_loopback
hostile_pki "probe hostile test CA"

# start_server CASE MODE [hostile_imap.py options...]: sets srv_port
start_server() {
    local case=$1 mode=$2
    shift 2
    hostile_start "$case" "$server_py" --mode "$mode" --user "$user" \
        --password "$password" --token "$token" "$@"
}

# drive CASE [imap_drive options and commands...]: the driver under GNU
# time with the common options, --host $imap_host or hostile.test; sets rc
# (124: hung, killed after $cap s)
drive() {
    local case=$1
    shift
    IMAP_TEST_SECRET=$secret hostile_timed "$case" "$drive" \
        --host "${imap_host:-hostile.test}" --port "$srv_port" --address "$addr" \
        --user "$user" --password-env IMAP_TEST_SECRET \
        --timeout-ms "$timeout_ms" "$@"
}

# expect CASE CHECK...: each CHECK is WHAT OP VALUE, OP one of = != <= >=
# ~ (a Python regex, searched) !~ (not found); WHAT is rc, time (s), rss
# (KB), out (stdout), err (stderr) or server (the client's bytes as the
# server got them).  Every case also checks that no form of the password
# or the token (plain, or in a PLAIN or XOAUTH2 response) is in out or err.
expect() {
    local case=$1
    shift
    hostile_py "$tmp" "$case" "$rc" "$password" "$token" "$user" "$@" <<'EOF'
import base64, sys
from hostile_expect import MISSING, Case

c = Case(*sys.argv[1:4])
password, token, user = sys.argv[4:7]
c.more = lambda what: c.text(what) if what in ("out", "err") else MISSING
failed = c.failures(sys.argv[7:], 300)
# the secret, in any form we could have sent it, is nowhere in our output
forms = [password, token,
         base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode(),
         base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01" %
                           (user, token)).encode()).decode()]
for what in ("out", "err"):
    got = c.text(what)
    for f in forms:
        if f in got:
            failed.append("the secret is in %s" % what)
if not failed:
    sys.exit(0)
c.say_failed(failed)
for what in ("out", "err"):
    for line in c.text(what).strip().splitlines()[-8:]:
        print("    %s: %s" % (what, line[:300]))
sys.exit(1)
EOF
    tally $?
}

hostile_deadline "$timeout_ms / 1000"
tls=(--ca-file "$tmp/pki/ca.pem")
secret=$password

# --- success first: the baseline ----------------------------------------
start_server normal normal --implicit-tls || exit 1
drive normal --tls implicit "${tls[@]}" find-junk select INBOX \
    search-header X-Probe-Id hostile-token-1 fetch-header last \
    fetch last 100 wait 3000 examine Junk log
expect normal rc=0 "out~verified=yes" "out~TLSv1\\.[23]" \
    "out~subject=CN = hostile\\.test" "out~idle=1 uidplus=1" \
    "out~(?m)^junk: Junk$" "out~(?m)^select INBOX: uidvalidity 1700000000 uidnext 2$" \
    "out~(?m)^search: 1 1$" "out~X-Probe-Id: hostile-token-1" \
    "out~fetch 1: 100 octets, internaldate 1721210400" \
    "out~(?m)^wait: 1 after [0-9]+ ms$" "out~(?m)^examine Junk: " \
    'out~C: 1 LOGIN "seed@hostile\.test" \[redacted\]' \
    'out~C: [0-9]+ LIST "" "\*" RETURN \(SPECIAL-USE\)' \
    'out~BODY\[HEADER\] \{[0-9]+\}\\r\\n\{[0-9]+ octets\}' \
    "server~BODY\\.PEEK\\[HEADER\\]" "server~(?m)^[0-9]+ IDLE" "time<=2"
# Under ASan the absolute bound means nothing: then a case may use at most
# 32 MB more than the normal one.
hostile_asan_rss "$drive" normal
# the wait returned within a second of the server's EXISTS (0.5 s)
python3 - "$tmp/normal.out" <<'EOF' && ok || bad "normal: wait took too long"
import re, sys
m = re.search(r"wait: 1 after (\d+) ms", open(sys.argv[1]).read())
sys.exit(0 if m and int(m.group(1)) < 1500 else 1)
EOF

# STARTTLS, AUTHENTICATE PLAIN with SASL-IR, then delete
start_server starttls-plain normal || exit 1
drive starttls-plain --tls starttls "${tls[@]}" --auth plain select INBOX \
    delete 1 search-from 1 log
expect starttls-plain rc=0 "out~verified=yes" "out~(?m)^delete 1: ok$" \
    "out~(?m)^search: 0$" 'out~C: [0-9]+ STARTTLS' \
    'out~C: [0-9]+ AUTHENTICATE PLAIN \[redacted\]' \
    'server~(?m)^[0-9]+ UID STORE 1 \+FLAGS\.SILENT \(\\Deleted\)' \
    'server~(?m)^[0-9]+ UID EXPUNGE 1' "server~(?m)^[0-9]+ STARTTLS"

# AUTHENTICATE PLAIN without SASL-IR: the response after the "+"
start_server plain-cont normal --implicit-tls --no-sasl-ir || exit 1
drive plain-cont --tls implicit "${tls[@]}" --auth plain examine INBOX log
expect plain-cont rc=0 'out~C: [0-9]+ AUTHENTICATE PLAIN\n' \
    'out~S: \+ \n.*C: \[redacted\]'

# XOAUTH2 with a token; a wrong token is refused after Google's challenge
secret=$token
start_server xoauth2 normal --implicit-tls || exit 1
drive xoauth2 --tls implicit "${tls[@]}" --auth xoauth2 examine INBOX log
expect xoauth2 rc=0 'out~AUTHENTICATE XOAUTH2 \[redacted\]'
secret=wrong-token-$RANDOM
drive xoauth2-wrong --tls implicit "${tls[@]}" --auth xoauth2 examine INBOX
expect xoauth2-wrong rc=2 "out~error: stage=auth code=permfail" \
    "out~AUTHENTICATIONFAILED" "$within"
secret=$password

# no IDLE: sleep, then NOOP
start_server no-idle normal --implicit-tls --no-idle || exit 1
drive no-idle --tls implicit "${tls[@]}" select INBOX wait 500 log
expect no-idle rc=0 "out~idle=0" "out~(?m)^wait: 0 after [0-9]+ ms$" \
    'out~C: [0-9]+ NOOP' "time>=0.45"

# no UIDPLUS: EXPUNGE, and the caller is told it removed all \Deleted
start_server no-uidplus normal --implicit-tls --no-uidplus || exit 1
drive no-uidplus --tls implicit "${tls[@]}" select INBOX delete 1 \
    search-from 1
expect no-uidplus rc=0 "out~uidplus=0" \
    "out~(?m)^delete 1: ok \(EXPUNGE: all \\\\Deleted removed\)$" \
    "out~(?m)^search: 0$" "server~(?m)^[0-9]+ EXPUNGE"

# an 8-bit search value goes as a literal with CHARSET UTF-8: LITERAL+,
# and without it after the server's "+"
drive literal-plus --tls implicit "${tls[@]}" select INBOX \
    search-header Subject "$(printf 'h\xc3\xa9llo')" log
expect literal-plus rc=0 "out~(?m)^search: 0$" \
    'out~C: [0-9]+ UID SEARCH CHARSET UTF-8 HEADER "Subject" \{6\+\}'
start_server literal-sync normal --implicit-tls --no-literal-plus || exit 1
drive literal-sync --tls implicit "${tls[@]}" select INBOX \
    search-header Subject "$(printf 'probe \xc3\xa9')" log
expect literal-sync rc=0 "out~(?m)^search: 0$" 'out~S: \+ go ahead' \
    'server~UID SEARCH CHARSET UTF-8 HEADER "Subject" \{[0-9]+\}\r?\n'

# errors a caller must tell apart: no such mailbox, read-only delete
start_server usage normal --implicit-tls || exit 1
drive no-mailbox --tls implicit "${tls[@]}" select Nonexistent
expect no-mailbox rc=2 "out~error: stage=imap code=permfail" \
    "out~evidence=.*NONEXISTENT"
drive readonly-delete --tls implicit "${tls[@]}" examine INBOX delete 1
expect readonly-delete rc=2 "out~error: stage=usage code=usage.*read-only"

# TLS verification: a CA we were not told about, a name the cert lacks
drive wrong-ca --tls implicit examine INBOX
expect wrong-ca rc=2 "out~error: stage=tls code=network" \
    "out~certificate verification failed" "server!~LOGIN" "$within"
imap_host=other.test drive wrong-name --tls implicit "${tls[@]}" examine INBOX
expect wrong-name rc=2 "out~error: stage=tls code=network" \
    "out~certificate verification failed.*(hostname|host name)" "$within"
# --insecure: no verification, and the report says so
drive insecure --tls implicit --insecure examine INBOX
expect insecure rc=0 "out~verified=no"

# --- the hostile modes ---------------------------------------------------
# failed_case CASE MODE STAGE CODE [--server-option VALUE | CHECK]...
failed_case() {
    local case=$1 mode=$2 stage=$3 code=$4
    shift 4
    local sopts=() checks=() tlsmode=implicit
    while (($#)); do
        case $1 in
        --starttls) tlsmode=starttls; shift ;;
        --*) sopts+=("$1" "$2"); shift 2 ;;
        *) checks+=("$1"); shift ;;
        esac
    done
    if [[ $tlsmode == implicit ]]; then
        sopts+=(--implicit-tls)
    fi
    start_server "$case" "$mode" "${sopts[@]}" || { bad "$case: no server"; return; }
    drive "$case" --tls "$tlsmode" "${tls[@]}" select INBOX fetch 1 0
    expect "$case" rc=2 "out~(?m)^error: stage=$stage code=$code " "$within" \
        "rss<=$rss_max" "${checks[@]}"
}

failed_case literal-huge literal-huge imap limit \
    "out~literal of 4294967295 octets over the limit" "time<=1.5"
failed_case literal-stall literal-stall imap timeout "$not_early" \
    "out~no complete reply to UID FETCH within 2000 ms"
failed_case trickle trickle greeting timeout "$not_early"
failed_case silent silent greeting timeout "$not_early"
failed_case greeting-bye greeting-bye greeting tempfail \
    "out~evidence=\\* BYE Too many connections" "time<=1.5"
failed_case login-no login-no auth permfail \
    "out~evidence=1 NO \\[AUTHENTICATIONFAILED\\]" "time<=1.5"
failed_case starttls-inject starttls-inject tls syntax --starttls \
    "out~response injection" "out~evidence=\\* OK \\[CAPABILITY" \
    "server!~LOGIN" "time<=1.5"
failed_case bye-fetch bye-fetch imap network \
    "out~evidence=\\* BYE Server shutting down" "time<=1.5"
failed_case bye-fetch-mid bye-fetch imap network --variant mid-line \
    "out~evidence=\\* BYE Server shutting down" "time<=1.5"
failed_case nesting nesting imap limit "out~nests parentheses" "time<=1.5"
failed_case long-line long-line imap limit "out~IMAP_LIMIT_LINE"
# libetpan 1.9.4 frees a list it never made on "[PERMANENTFLAGS (%)]" (a
# crash without the NULL-safe clist_foreach/clist_free of probe/imap.c);
# with them it takes the line as text and the SELECT goes through
start_server bad-flags bad-flags --implicit-tls || exit 1
drive bad-flags --tls implicit "${tls[@]}" select INBOX
expect bad-flags rc=0 "out~(?m)^select INBOX: uidvalidity 0 uidnext 0$" \
    "time<=1.5"
start_server search-flood search-flood --implicit-tls || exit 1
drive search-flood --tls implicit "${tls[@]}" select INBOX search-from 1
expect search-flood rc=2 "out~(?m)^error: stage=imap code=limit " \
    "out~IMAP_LIMIT_(UIDS|WORDS)" "$within" "rss<=$rss_max"

hostile_done
