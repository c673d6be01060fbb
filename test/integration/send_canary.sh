#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Canary: secrets never leak.  `probe send` at its highest verbosity, with
# a known password (AUTH PLAIN, AUTH LOGIN, and a refused AUTH) and with an
# OAuth2 access token got by the refresh flow from test/support/
# fake_oauth2.py (AUTH XOAUTH2; then again from probe's token cache; and
# a token endpoint that echoes the refresh token in its error).  The
# hostile SMTP server's log must show that the credentials really
# arrived; and neither the password, the access token (learnt from what
# the server got), the refresh token nor the client secret, nor any base64
# form of them (alone, inside the SASL strings `\0user\0password` and
# `user=...^Aauth=Bearer TOKEN^A^A`, or at any offset inside a longer
# base64 text, and the base64url forms of those), may appear in probe's
# stdout, stderr, the JSON report with its transcripts, or the files it
# wrote under XDG_CACHE_HOME (where only the access token may be cached,
# in an owner-only file).  Secrets reach probe only through the
# environment, never argv.
#
# Installs nothing: it says what is missing (scripts/deps installs it).
# SMTP on 127.0.5.1 (PROBE_TEST_HOSTILE_ADDR), OAuth2 on 127.0.6.1.
# PROBE_TEST_KEEP=1 keeps the temporary directory (outputs, server logs).
# Usage: bash send_canary.sh PATH/TO/probe [GENDIR]
set -u
probe=${1:?usage: send_canary.sh PATH/TO/probe [GENDIR]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/hostile.sh
source "$here/lib/hostile.sh"
smtp_py=$here/../support/hostile_smtp.py
oauth_py=$here/../support/fake_oauth2.py
addr=${PROBE_TEST_HOSTILE_ADDR:-127.0.5.1}
oauth_addr=127.0.6.1

user=canary@hostile.test
password=Canary-Pa55-7f3a9c
client_id=canary-client.apps.hostile.test
client_secret=GOCSPX-Canary-Secret-4b2a91
refresh_token=1//Canary-Refresh-0c9d8e7f6a5b

oauth_pid=''
hostile_pids+=(oauth_pid)
hostile_setup send_canary

hostile_need python3 openssl
hostile_has_send "$probe"

# --- a throwaway CA and a certificate for hostile.test ------------------
hostile_pki "probe canary test CA"

# start_smtp CASE SCENARIO: sets srv_port; the log in $tmp/CASE.server.log
start_smtp() {
    hostile_start "$1" "$smtp_py" --scenario "$2" --user "$user" \
        --password "$password" || exit 1
}

# run_probe CASE [options...]: probe send at its highest verbosity with
# its own HOME and XDG_CACHE_HOME ($cache if set, else $tmp/CASE.cache);
# sets rc (124: hung, killed after 60 s).  Secrets only in the environment.
run_probe() {
    local case=$1
    shift
    mkdir -p "$tmp/$case.home" "${cache:=$tmp/$case.cache}"
    XDG_CACHE_HOME=$cache HOME=$tmp/$case.home timeout -k 5 60 \
        "$probe" send -v -v -v --from probe@hostile.test --to seed@hostile.test \
        --stage-timeout 5 --set address="$addr" --set ca_file="$tmp/pki/ca.pem" \
        "$@" >"$tmp/$case.out" 2>"$tmp/$case.err"
    rc=$?
}

# check_case CASE RC AUTH_WANT OUTCOME: the exit code is RC; the report's
# outcome is OUTCOME ("-": no report wanted); the server got the
# credentials of mechanism AUTH_WANT (plain, login, xoauth2; "-": none
# sent); no secret in any form in what probe printed or wrote (stdout,
# stderr, the report, the files under $cache or $tmp/CASE.cache)
check_case() {
    local case=$1 want_rc=$2 mech=$3 outcome=$4
    local report=$tmp/$case.json
    [[ -f $report || $outcome == - ]] || report=$tmp/$case.out # --json -
    python3 - "$tmp" "$case" "$rc" "$want_rc" "$mech" "$outcome" "$report" \
        "${cache:-$tmp/$case.cache}" "$user" "$password" "$refresh_token" \
        "$client_secret" "$client_id" "${oauth_pid:-0}" <<'EOF'
import base64, json, os, re, stat, sys

(tmp, case, rc, want_rc, mech, outcome, report, cache, user, password,
 refresh, csecret, client_id, oauth_pid) = sys.argv[1:]
problems = []

def read(path):
    with open(path, "rb") as f:
        return f.read().decode("latin-1")

# What the server received, decoded: the lines of the client's AUTH
# exchange (an initial response and the two next lines).
try:
    log = read("%s/%s.server.log" % (tmp, case)).encode("latin-1")
except OSError:
    log = b""
lines = [l.rstrip(b"\r") for l in log.split(b"\n")]
decoded = []
for n, line in enumerate(lines):
    m = re.match(rb"(?i)AUTH (\S+)(?: (\S+))?$", line)
    if not m:
        continue
    parts = ([m.group(2)] if m.group(2) else []) + lines[n + 1:n + 3]
    for part in parts:
        try:
            decoded.append(base64.b64decode(part, validate=True))
        except ValueError:
            pass
# The access token is fake_oauth2.py's own: learn it from the XOAUTH2
# string the server got (and check that it is that server's).
access = None
for d in decoded:
    m = re.match(rb"user=[^\x01]*\x01auth=Bearer ([^\x01]+)\x01\x01$", d)
    if m:
        access = m.group(1).decode("latin-1")
        if not re.match(r"fake-access-\d+\.%s$" % oauth_pid, access):
            problems.append("the access token %r is not fake_oauth2.py's"
                            % access)

def b64(b):
    return base64.b64encode(b).decode()

def forms(name, secret, containers=()):
    """The secret and every base64 form of it that can show up: alone,
    inside each container (the whole container encoded), and the part
    that stays the same wherever it sits in a longer base64 text (the
    three alignments), each also as base64url."""
    s = secret.encode()
    out = {secret: name}
    for c in (s,) + tuple(containers):
        out[b64(c)] = "base64 of %s" % ("it" if c == s else repr(c))
        out[b64(c).rstrip("=")] = "base64 of %s" % repr(c)
    for start in range(3):
        n = (len(s) - start) // 3
        inner = b64(s[start:start + 3 * n])
        out[inner] = "base64 of %s from byte %d" % (name, start)
    for k, v in list(out.items()):
        url = k.replace("+", "-").replace("/", "_")
        if url != k:
            out[url] = v + " (base64url)"
    return {k: "%s: %s" % (name, v) for k, v in out.items()}

u, p = user.encode(), password.encode()
banned = forms("password", password, (b"\0" + u + b"\0" + p,
                                      u + b"\0" + u + b"\0" + p))
if access:
    xo = b"user=" + u + b"\x01auth=Bearer " + access.encode() + b"\x01\x01"
    banned.update(forms("access token", access, (xo,)))
banned.update(forms("refresh token", refresh))
banned.update(forms("client secret", csecret,
                    ((client_id + ":" + csecret).encode(),)))

# 1. what probe printed and wrote
places = [("stdout", "%s/%s.out" % (tmp, case)),
          ("stderr", "%s/%s.err" % (tmp, case))]
if os.path.exists(report) and report != places[0][1]:
    places.append(("report", report))
for root, _, files in os.walk(cache):
    for f in files:
        places.append(("cache file " + os.path.relpath(os.path.join(root, f),
                                                       cache),
                       os.path.join(root, f)))
for where, path in places:
    try:
        text = read(path)
    except OSError as e:
        problems.append("cannot read %s: %s" % (where, e))
        continue
    for form, what in sorted(banned.items()):
        i = text.find(form)
        if i < 0:
            continue
        if where.startswith("cache file") and what.startswith("access"):
            mode = os.stat(path).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                problems.append("%s holds the access token and is mode %o"
                                % (where, stat.S_IMODE(mode)))
            continue
        problems.append("%s holds the %s, at byte %d: ...%s..." % (
            where, what, i, text[max(0, i - 40):i + len(form) + 20]
            .encode("unicode_escape").decode()))

# 2. the report: the outcome, and the credentials redacted, not dropped
rep = None
if outcome != "-":
    try:
        rep = json.loads(read(report))
    except (OSError, ValueError) as e:
        problems.append("no JSON report: %s" % e)
if rc != want_rc:
    problems.append("exit %s, want %s" % (rc, want_rc))
if rep is not None and outcome != "-":
    seeds = rep.get("seeds") or [{}]
    got = seeds[0].get("outcome")
    if got != outcome:
        problems.append("outcome %s, want %s (error %s)" % (
            got, outcome, json.dumps((seeds[0].get("smtp") or {})
                                     .get("error"))))
    tr = json.dumps(seeds[0].get("transcript"))
    if not re.search(r"AUTH (PLAIN|LOGIN|XOAUTH2)", tr):
        problems.append("the transcript has no AUTH command")

# 3. the server really got the credentials
want = {"plain": [b"\0" + u + b"\0" + p], "login": [u, p], "-": []}
if mech == "xoauth2" and not access:
    problems.append("the server never got an XOAUTH2 string for %s with a "
                    "bearer token (decoded: %r)" % (user, decoded[:4]))
for w in want.get(mech, []):
    if w not in decoded:
        problems.append("the server never got %r (decoded: %r)" % (
            w, decoded[:4]))
if mech == "-" and log.strip():
    problems.append("probe talked to an SMTP server it should not have "
                    "reached")

if not problems:
    sys.exit(0)
for p_ in problems:
    print("FAIL: %s: %s" % (case, p_))
for line in read("%s/%s.err" % (tmp, case)).splitlines()[-4:]:
    print("    stderr: %s" % line[:300])
sys.exit(1)
EOF
    tally $?
}

# --- password: AUTH PLAIN and AUTH LOGIN, and a refused AUTH ------------
export PROBE_CANARY_PASS=$password
for mech in plain login; do
    start_smtp "$mech" normal
    run_probe "$mech" --relay "smtp://hostile.test:$srv_port" --transcript \
        --json "$tmp/$mech.json" \
        --set user="$user" --set password_env=PROBE_CANARY_PASS --set auth="$mech"
    check_case "$mech" 0 "$mech" accepted
done
# the report on stdout this time
start_smtp plain-stdout normal
run_probe plain-stdout --relay "smtp://hostile.test:$srv_port" --json - \
    --set user="$user" --set password_env=PROBE_CANARY_PASS --set auth=plain
check_case plain-stdout 0 plain accepted
# refused: the failure path (error, evidence) must not leak either
start_smtp auth-fail auth-fail
run_probe auth-fail --relay "smtp://hostile.test:$srv_port" --transcript \
    --json "$tmp/auth-fail.json" \
    --set user="$user" --set password_env=PROBE_CANARY_PASS --set auth=login
check_case auth-fail 2 login rejected
unset PROBE_CANARY_PASS

# --- OAuth2: the refresh flow, then AUTH XOAUTH2 ------------------------
# start_oauth CASE [fake_oauth2.py options...]: sets oauth_pid, oauth_port
# (it binds 127.0.6.1 and prints its port on the first line)
start_oauth() {
    local case=$1
    shift
    stop_pid oauth_pid
    : >"$tmp/$case.oauth.port"
    python3 "$oauth_py" --client-id "$client_id" --client-secret "$client_secret" \
        --refresh-token "$refresh_token" --log "$tmp/$case.oauth.log" "$@" \
        >"$tmp/$case.oauth.port" 2>"$tmp/$case.oauth.err" &
    oauth_pid=$!
    oauth_port=
    for _ in $(seq 100); do
        oauth_port=$(sed -n '1s/^\([0-9][0-9]*\)$/\1/p' "$tmp/$case.oauth.port")
        [[ -n $oauth_port ]] && return 0
        kill -0 "$oauth_pid" 2>/dev/null || break
        sleep 0.05
    done
    bad "$case: fake_oauth2.py did not start: $(head -3 "$tmp/$case.oauth.err")"
    return 1
}

# xoauth2_profile FILE: a relay profile for the SMTP server, auth xoauth2,
# the token endpoint of fake_oauth2.py, the secrets named by variables
xoauth2_profile() {
    cat >"$1" <<EOP
{
  "description": "canary: XOAUTH2 through a fake token endpoint",
  "host": "hostile.test",
  "address": "$addr",
  "port": $srv_port,
  "tls": "starttls",
  "ca_file": "$tmp/pki/ca.pem",
  "auth": "xoauth2",
  "user": "$user",
  "oauth2": {
    "token_url": "http://$oauth_addr:$oauth_port/token",
    "client_id": "$client_id",
    "client_secret_env": "PROBE_CANARY_CLIENT_SECRET",
    "refresh_token_env": "PROBE_CANARY_REFRESH"
  }
}
EOP
}
export PROBE_CANARY_CLIENT_SECRET=$client_secret PROBE_CANARY_REFRESH=$refresh_token

if [[ ! -f $oauth_py ]]; then
    bad "xoauth2: $oauth_py is missing"
elif start_oauth xoauth2; then
    # a token from the endpoint, then the same token from probe's cache
    cache=$tmp/xoauth2.cache
    for case in xoauth2 xoauth2-cached; do
        start_smtp "$case" normal
        xoauth2_profile "$tmp/$case-profile.json"
        run_probe "$case" --relay "$tmp/$case-profile.json" --transcript \
            --json "$tmp/$case.json"
        check_case "$case" 0 xoauth2 accepted
    done
    unset cache
    grants=$(grep -c '^ok' "$tmp/xoauth2.oauth.log" 2>/dev/null || true)
    if [[ $grants == 1 ]]; then
        ok
    else
        bad "xoauth2: $grants good token requests for two runs, want 1 (the" \
            "second from the cache): $(tr '\n' ' ' 2>/dev/null <"$tmp/xoauth2.oauth.log")"
    fi

    # a token endpoint that puts the refresh token into its error answer
    if start_oauth xoauth2-echo --mode echo; then
        start_smtp xoauth2-echo normal
        xoauth2_profile "$tmp/xoauth2-echo-profile.json"
        run_probe xoauth2-echo --relay "$tmp/xoauth2-echo-profile.json" \
            --transcript --json "$tmp/xoauth2-echo.json"
        check_case xoauth2-echo 3 - -
    fi
fi
unset PROBE_CANARY_CLIENT_SECRET PROBE_CANARY_REFRESH

hostile_done
