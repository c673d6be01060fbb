#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The IMAP client (probe/imap.c, through test/imap_drive) against the
# lab's real Dovecot (scripts/lab up; docs/lab.md): seed@gmail.test over
# IMAPS on 127.0.1.20:993 and over STARTTLS on :143, verified against the
# lab CA for imap.gmail.test.  The \Junk folder found by SPECIAL-USE; a
# message delivered with dovecot-lda (as the receiver's Postfix does)
# found by its X-Probe-Id and fetched; IDLE reporting a delivery within a
# second; the message deleted again; a wrong password refused at the auth
# stage; a host name the certificate does not have refused at the TLS
# stage.  The password appears in nothing the driver prints.
#
# Usage: bash imap_lab.sh PATH/TO/probe   (scripts/test runs it)
#   (the driver is PATH/TO/test/imap_drive, built with the tests)
set -u
probe=${1:?usage: imap_lab.sh PATH/TO/probe}
lab=${PROBE_LAB_DIR:-/tmp/probe-lab}
drive=${PROBE_IMAP_DRIVE:-$(dirname "$probe")/test/imap_drive}
lda=/usr/lib/dovecot/dovecot-lda
tmp=$(mktemp -d "${TMPDIR:-/tmp}/imap_lab.XXXXXX") || exit 1
bg_pid=
cleanup() {
    if [[ -n $bg_pid ]]; then
        kill "$bg_pid" 2>/dev/null
        wait "$bg_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if [[ ! -f $lab/lab.json ]]; then
    echo "imap_lab: the lab is not up (scripts/lab up)" >&2
    exit 1
fi
if [[ ! -x $drive ]]; then
    echo "imap_lab: no driver at $drive (build the tests: target imap_drive)" >&2
    exit 1
fi
if [[ ! -x $lda ]]; then
    echo "imap_lab: no $lda (dovecot-core; scripts/lab up installs it)" >&2
    exit 1
fi

user=seed@gmail.test
password=$(head -n1 "$lab/secrets/seed-gmail.pass")
wrong=$(head -n1 "$lab/secrets/wrong.pass")
common=(--address 127.0.1.20 --ca-file "$lab/tls/ca.crt" --user "$user"
    --password-env IMAP_LAB_SECRET --timeout-ms 10000)
imaps=(--host imap.gmail.test --port 993 --tls implicit "${common[@]}")
starttls=(--host imap.gmail.test --port 143 --tls starttls "${common[@]}")
# IMAP SEARCH HEADER matches substrings: neither token contains the other
token=imap-lab-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
token2=imap-lab-idle-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# run NAME EXPECTED-EXIT [SECRET=...] DRIVER-ARGS...: the driver's output in
# $tmp/NAME.out and .err
run() {
    local name=$1 want=$2 secret=$password
    shift 2
    if [[ $1 == SECRET=* ]]; then
        secret=${1#SECRET=}
        shift
    fi
    IMAP_LAB_SECRET=$secret "$drive" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    local got=$?
    if [[ $got != "$want" ]]; then
        bad "$name: exit $got, expected $want"
        tail -n 5 "$tmp/$name.out" "$tmp/$name.err"
        return 1
    fi
    return 0
}
has() { grep -qE -- "$2" "$tmp/$1.out"; }

# deliver TOKEN: a message for seed@gmail.test into its INBOX through
# Dovecot's LDA, as the receiver's Postfix delivers (scripts/lab.d/conf/
# receiver-master.cf), run as the mail user like there
deliver() {
    printf 'From: <x@good.test>\r\nTo: <%s>\r\nSubject: imap lab %s\r\nMessage-ID: <%s@good.test>\r\nX-Probe-Id: %s\r\n\r\nA probe copy for the IMAP lab test.\r\n' \
        "$user" "$1" "$1" "$1" >"$tmp/$1.eml"
    runuser -u mail -- "$lda" -c "$lab/dovecot/dovecot.conf" -f x@good.test \
        -d "$user" <"$tmp/$1.eml" >"$tmp/lda.out" 2>&1
}

# 1. IMAPS: verified TLS, LOGIN redacted, SPECIAL-USE \Junk is "Junk".
if run imaps 0 "${imaps[@]}" find-junk examine INBOX log; then
    has imaps 'verified=yes' && has imaps 'TLSv1\.[23]' && ok ||
        bad "imaps: TLS not verified"
    has imaps '^junk: Junk$' && ok || bad "imaps: find-junk did not give Junk"
    has imaps 'C: 1 LOGIN "seed@gmail\.test" \[redacted\]' && has imaps 'idle=1 uidplus=1' &&
        ok || bad "imaps: login line or capabilities"
fi

# 2. STARTTLS on 143 with AUTHENTICATE PLAIN (Dovecot has SASL-IR).
if run starttls 0 "${starttls[@]}" --auth plain find-junk examine Junk log; then
    has starttls 'verified=yes' && has starttls 'C: [0-9]+ STARTTLS' && ok ||
        bad "starttls: no verified STARTTLS"
    has starttls 'AUTHENTICATE PLAIN \[redacted\]' && has starttls '^junk: Junk$' &&
        ok || bad "starttls: AUTHENTICATE PLAIN or find-junk"
fi

# 3. A delivered message: found by its X-Probe-Id, fetched whole.
if deliver "$token"; then
    ok
    if run found 0 "${imaps[@]}" select INBOX search-header X-Probe-Id "$token" \
        fetch-header last fetch last 0; then
        has found '^search: 1 [0-9]+$' && ok || bad "found: search-header did not find $token"
        has found "^X-Probe-Id: $token" && has found 'A probe copy for the IMAP lab test' &&
            has found 'internaldate [1-9][0-9]+' && ok || bad "found: fetch"
    fi
else
    bad "deliver: dovecot-lda failed: $(cat "$tmp/lda.out")"
fi

# 4. IDLE: a delivery during the wait is reported within a second.
IMAP_LAB_SECRET=$password "$drive" "${imaps[@]}" select INBOX wait 15000 \
    search-header X-Probe-Id "$token2" >"$tmp/idle.out" 2>"$tmp/idle.err" &
bg_pid=$!
for _ in $(seq 100); do
    grep -q '^select INBOX' "$tmp/idle.out" 2>/dev/null && break
    sleep 0.05
done
sleep 0.5 # into the IDLE
t0=$(date +%s%N)
deliver "$token2" || bad "deliver (idle): $(cat "$tmp/lda.out")"
wait "$bg_pid"
rc=$?
t1=$(date +%s%N)
bg_pid=
ms=$(((t1 - t0) / 1000000))
if [[ $rc == 0 ]] && has idle '^wait: 1 ' && has idle '^search: 1 '; then
    ok
else
    bad "idle: exit $rc, expected wait: 1 and the message found"
    tail -n 5 "$tmp/idle.out" "$tmp/idle.err"
fi
echo "imap_lab: IDLE reported the delivery after $ms ms"
((ms < 1000)) && ok || bad "idle: the delivery was reported after $ms ms (limit 1000)"

# 5. Delete both: gone from the mailbox afterwards (UID EXPUNGE, UIDPLUS).
if run delete 0 "${imaps[@]}" select INBOX search-header X-Probe-Id "$token" \
    delete last search-header X-Probe-Id "$token2" delete last \
    search-header X-Probe-Id "$token" search-header X-Probe-Id "$token2"; then
    [[ $(grep -cE '^delete [1-9][0-9]*: ok$' "$tmp/delete.out") == 2 ]] && ok ||
        bad "delete: not ok"
    [[ $(grep -c '^search: 0$' "$tmp/delete.out") == 2 ]] && ok ||
        bad "delete: still found"
fi

# 6. A wrong password: refused at the auth stage, the server's words kept.
if run wrong-password 2 SECRET="$wrong" "${imaps[@]}" examine INBOX; then
    has wrong-password '^error: stage=auth code=permfail .*evidence=1 NO' && ok ||
        bad "wrong-password: $(head -c 300 "$tmp/wrong-password.out")"
fi

# 7. A host name the lab certificate does not name: TLS verification fails.
if run wrong-host 2 --host imap.yahoo.test --port 993 --tls implicit \
    "${common[@]}" examine INBOX; then
    has wrong-host '^error: stage=tls code=network .*verification failed.*hostname mismatch' &&
        ok || bad "wrong-host: $(head -c 300 "$tmp/wrong-host.out")"
fi
#    ... and over STARTTLS too, before any credential is sent.
if run wrong-host-starttls 2 --host imap.yahoo.test --port 143 --tls starttls \
    "${common[@]}" examine INBOX; then
    has wrong-host-starttls '^error: stage=tls code=network' && ok ||
        bad "wrong-host-starttls: $(head -c 300 "$tmp/wrong-host-starttls.out")"
fi

# 8. The password is in nothing the driver printed.
b64=$(printf '\0%s\0%s' "$user" "$password" | base64 -w0)
if grep -qF -e "$password" -e "$b64" "$tmp"/*.out "$tmp"/*.err; then
    bad "the password reached the driver's output"
else
    ok
fi

echo "imap_lab: $pass passed, $fail failed"
((fail == 0))
