#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `probe health` and `probe history` without the lab: domain audits on DNS
# fixtures (docs/health.md).  Checks the plugin line and exit codes, change
# detection (new, recovered, changed record), the history, alerts to a
# local webhook receiver that is down and then up (delivered exactly
# once), the lock (a second run exits UNKNOWN, or waits), SIGTERM (the run
# recorded as aborted, the lock released), cron's environment, config
# errors, a corrupt / read-only / full database (UNKNOWN, nothing
# re-created), and 100 runs killed with SIGKILL at random points
# (integrity_check passes, each run wholly present or absent, the metrics
# file never truncated).
#
# Usage: bash health_cli.sh PATH/TO/probe
set -u
probe=${1:?usage: health_cli.sh PATH/TO/probe}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sink_py=$here/../support/webhook_sink.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/health_cli.XXXXXX") || exit 1
sink_pid=
cleanup() {
    [[ -n $sink_pid ]] && kill "$sink_pid" 2>/dev/null
    mountpoint -q "$tmp/ro" 2>/dev/null && umount "$tmp/ro"
    mountpoint -q "$tmp/full" 2>/dev/null && umount "$tmp/full"
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# fixture NAME DMARC-POLICY SPF: a zone for ok.test
fixture() {
    cat >"$tmp/$1.json" <<EOF
{
  "ok.test": {"TXT": ["$3"], "MX": [{"preference": 10, "exchange": "mx.ok.test"}]},
  "mx.ok.test": {"A": ["192.0.2.25"]},
  "_dmarc.ok.test": {"TXT": ["v=DMARC1; p=$2; rua=mailto:d@ok.test"]},
  "sel._domainkey.ok.test": {"TXT": ["v=DKIM1; k=rsa; p=$dkim_p"]},
  "slow.test": "TIMEOUT"
}
EOF
}
dkim_p=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
    openssl pkey -pubout -outform DER 2>/dev/null | base64 -w0)
fixture zone-a none "v=spf1 ip4:192.0.2.0/24 -all"
fixture zone-b reject "v=spf1 ip4:192.0.2.0/24 -all"
fixture zone-c reject "v=spf1 ip4:192.0.2.0/24 +all"

# config NAME ZONE [EXTRA-JSON]: three audits of ok.test on a fixture
config() {
    cat >"$tmp/$1.cfg" <<EOF
{
  "history": "$tmp/history.db",
  "dns_fixture": "$tmp/$2.json",
  ${3:-}
  "checks": [
    {"name": "ok.test", "audit": {"domain": "ok.test", "selectors": ["sel"], "checks": "spf,dkim,dmarc,mx"}},
    {"name": "ok.test spf", "audit": {"domain": "ok.test", "checks": "spf"}},
    {"name": "ok.test dmarc", "audit": {"domain": "ok.test", "checks": "dmarc"}}
  ]
}
EOF
}

# run NAME EXPECTED-EXIT CONFIG [probe health options]
run() {
    local name=$1 want=$2 cfg=$3 got
    shift 3
    "$probe" health --config "$tmp/$cfg.cfg" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    got=$?
    if [[ $got != "$want" ]]; then
        bad "$name: exit $got, expected $want"
        cat "$tmp/$name.out" "$tmp/$name.err"
        return 1
    fi
    if [[ $(wc -l <"$tmp/$name.out") != 1 ]] || ! grep -qE '^PROBE (OK|WARNING|CRITICAL|UNKNOWN) - ' "$tmp/$name.out"; then
        bad "$name: not one monitoring-plugins line"
        cat "$tmp/$name.out"
        return 1
    fi
    return 0
}

# 1. The first run, then a change of record, then a new failure, then back.
config a zone-a
config b zone-b
config c zone-c
run first 1 a --prom "$tmp/probe.prom" && ok "first run: $(cut -d'|' -f1 "$tmp/first.out")"
grep -q '^probe_check_status{check="ok.test spf"} 0$' "$tmp/probe.prom" && ok "metrics written" || bad "metrics: $(cat "$tmp/probe.prom")"
run changed 0 b && grep -q "changed: dmarc.policy none -> reject" "$tmp/changed.out" &&
    ok "a changed record is named" || { bad "changed record"; cat "$tmp/changed.out"; }
if run newfail 2 c && grep -q "ok.test spf CRITICAL (new: " "$tmp/newfail.out"; then
    ok "a new failure: $(grep -o 'ok.test spf CRITICAL ([^)]*)' "$tmp/newfail.out")"
else
    bad "new failure"
    cat "$tmp/newfail.out"
fi
run back 0 b && grep -q "ok.test spf OK (recovered: " "$tmp/back.out" &&
    ok "a recovery is named" || { bad "recovery"; cat "$tmp/back.out"; }
run same 0 b && ! grep -q "new:\|recovered:\|changed:" "$tmp/same.out" &&
    ok "no change, nothing named" || { bad "unchanged run"; cat "$tmp/same.out"; }

# 2. probe history: every run, oldest first, with a trend per check.
if "$probe" history --history "$tmp/history.db" >"$tmp/hist.out" 2>&1 &&
    grep -q "ok.test spf  *OOCOO" "$tmp/hist.out"; then
    ok "history trend"
else
    bad "history"
    cat "$tmp/hist.out"
fi
if "$probe" history --history "$tmp/history.db" --check "ok.test spf" --json >"$tmp/hist.json" &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["runs"]) == 5 and all(len(r["checks"]) == 1 for r in d["runs"]); assert d["trend"]["ok.test spf"] == "OOCOO"' "$tmp/hist.json"; then
    ok "history --check --json"
else
    bad "history --json"
    cat "$tmp/hist.json"
fi
"$probe" history --history "$tmp/history.db" --since 2026-13-01 >/dev/null 2>&1
[[ $? == 3 ]] && ok "history --since checks its time" || bad "history --since bad time"

# 3. Alerts: the receiver is down, then up: each alert delivered once.
rm -f "$tmp/history.db"*
config wa zone-a '"webhook": {"url_env": "PROBE_TEST_WEBHOOK", "timeout": 2, "retries": 2},'
config wc zone-c '"webhook": {"url_env": "PROBE_TEST_WEBHOOK", "timeout": 2, "retries": 2},'
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.8.1",0)); print(s.getsockname()[1]); s.close()')
export PROBE_TEST_WEBHOOK="http://127.0.8.1:$port/hooks/secret-token-123"
run wh1 1 wa                       # first run: changes (new findings): alert, receiver down
run wh2 2 wc                       # a change: a second alert, receiver still down
grep -q "stays pending" "$tmp/wh2.err" && ok "undelivered alert stays pending" || { bad "pending"; cat "$tmp/wh2.err"; }
grep -q "secret-token-123" "$tmp"/wh*.out "$tmp"/wh*.err && bad "the webhook URL reached the output" || ok "webhook URL kept out of the output"
python3 "$sink_py" --addr 127.0.8.1 --port "$port" --log "$tmp/sink.log" >"$tmp/sink.port" 2>&1 &
sink_pid=$!
for _ in $(seq 50); do grep -q PORT "$tmp/sink.port" 2>/dev/null && break; sleep 0.1; done
run wh3 2 wc                       # no change: no new alert, the two pending go out
run wh4 2 wc                       # nothing pending, nothing sent
python3 - "$tmp/sink.log" <<'PY' && ok "two alerts, each delivered exactly once, in order" || bad "alert delivery: $(cat "$tmp/sink.log")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = [r["idempotency_key"] for r in rows]
assert len(rows) == 2, rows
assert len(set(keys)) == 2 and keys == sorted(keys), keys
assert all(r["path"] == "/hooks/secret-token-123" for r in rows)
assert all("text" in json.loads(r["body"]) for r in rows)
assert json.loads(rows[1]["body"])["text"].startswith("PROBE CRITICAL")
PY
kill "$sink_pid" 2>/dev/null
wait "$sink_pid" 2>/dev/null
sink_pid=
unset PROBE_TEST_WEBHOOK

# 4. The lock: a second run exits UNKNOWN at once, or waits when asked.
exec 9>"$tmp/history.db.lock"
flock -n 9
run locked 3 a && grep -q "already running" "$tmp/locked.out" && ok "a second run: UNKNOWN already running" ||
    { bad "lock"; cat "$tmp/locked.out"; }
config await zone-a '"lock_wait": 5,'
(sleep 1; flock -u 9) &
t0=$(date +%s%N)
run waited 1 await && ok "lock_wait: ran after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
exec 9>&-

# 5. SIGTERM during a check: recorded as aborted, the lock released.  The
#    check asks a DNS server that never answers (a UDP socket that reads
#    nothing), so it is still running when the signal comes.
python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.8.2", 0))
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$tmp/blackhole.port" &
bh_pid=$!
for _ in $(seq 50); do [[ -s $tmp/blackhole.port ]] && break; sleep 0.1; done
cat >"$tmp/slow.cfg" <<EOF
{"history": "$tmp/history.db", "dns_server": "127.0.8.2:$(cat "$tmp/blackhole.port")",
 "checks": [{"name": "slow", "audit": {"domain": "slow.test", "checks": "spf,dmarc"}}]}
EOF
"$probe" health --config "$tmp/slow.cfg" >"$tmp/term.out" 2>"$tmp/term.err" &
pid=$!
sleep 0.7
kill -TERM "$pid"
wait "$pid"
got=$?
if [[ $got == 3 ]] && grep -q "aborted by signal 15" "$tmp/term.out"; then
    ok "SIGTERM: UNKNOWN, aborted"
else
    bad "SIGTERM: exit $got"
    cat "$tmp/term.out" "$tmp/term.err"
fi
"$probe" history --history "$tmp/history.db" --json --last 1 >"$tmp/last.json" &&
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][-1]; assert r["aborted"], r' "$tmp/last.json" &&
    ok "the aborted run is recorded" || bad "aborted run not recorded"
kill "$bh_pid" 2>/dev/null
run afterterm 1 a && ok "the lock was released"

# 6. Cron's environment: no HOME, no TTY, LANG=C, a minimal PATH.
sed "/\"history\"/d" "$tmp/a.cfg" >"$tmp/cron.cfg"
mkdir -p "$tmp/state"
env -i PATH=/usr/bin:/bin LANG=C PROBE_STATE_DIR="$tmp/state" "$probe" health --config "$tmp/cron.cfg" \
    </dev/null >"$tmp/cron.out" 2>&1
if [[ $? == 1 ]] && grep -q "^PROBE WARNING - " "$tmp/cron.out" && [[ -f $tmp/state/history.db ]]; then
    ok "cron environment (no HOME, LANG=C, PATH=/usr/bin:/bin; history in \$PROBE_STATE_DIR)"
else
    bad "cron environment"
    cat "$tmp/cron.out"
fi

# 7. Config errors name the file and the JSON path; exit 3.
printf '{"checks": [{"name": "x", "audit": {"domian": "a.test"}}]}' >"$tmp/bad1.cfg"
printf '{"checks": [{"name": "x", "probe": {"relay": "lab"}}]}' >"$tmp/bad2.cfg"
printf '{"checks": [\n  {"name": "x"\n' >"$tmp/bad3.cfg"
# expect NAME PATTERN WHAT: the run's line matches, else a failure
expect() {
    if grep -q "$2" "$tmp/$1.out"; then
        ok "$3"
    else
        bad "$1: expected /$2/"
        cat "$tmp/$1.out"
    fi
}
run bad1 3 bad1 && expect bad1 'bad1.cfg: \$.checks\[0\].audit.domian: unknown key' "unknown key named with its path"
run bad2 3 bad2 && expect bad2 '`relay` and `to` are required' "missing key"
run bad3 3 bad3 && expect bad3 'bad3.cfg:[0-9]*:[0-9]*: not valid JSON' "JSON error with line:col"

# 8. A database that is not one, read-only, or on a full disk: UNKNOWN,
#    and nothing is re-created over it.
config junk zone-a
sed -i "s#$tmp/history.db#$tmp/junk.db#" "$tmp/junk.cfg"
head -c 8192 /dev/urandom >"$tmp/junk.db"
sum0=$(md5sum <"$tmp/junk.db")
run junk 3 junk && [[ $(md5sum <"$tmp/junk.db") == "$sum0" ]] && ok "a file that is not a database: UNKNOWN, left alone: $(cut -c1-120 "$tmp/junk.out")" ||
    { bad "junk database"; cat "$tmp/junk.out"; }
mkdir -p "$tmp/ro" "$tmp/full" "$tmp/rosrc"
cp "$tmp/history.db" "$tmp/rosrc/history.db"
if mount --bind "$tmp/rosrc" "$tmp/ro" 2>/dev/null && mount -o remount,ro,bind "$tmp/ro" 2>/dev/null; then
    config ro zone-a
    sed -i "s#\"history\": \"$tmp/history.db\"#\"history\": \"$tmp/ro/history.db\", \"lock_wait\": 0#" "$tmp/ro.cfg"
    # the lock lives beside the database: a read-only directory refuses it too
    run ro 3 ro && expect ro 'Read-only file system' "read-only database: $(cut -c1-140 "$tmp/ro.out")"
    umount "$tmp/ro"
else
    echo "skip: read-only database (cannot bind-mount here)"
fi
if mount -t tmpfs -o size=256k tmpfs "$tmp/full" 2>/dev/null; then
    config full zone-a
    sed -i "s#$tmp/history.db#$tmp/full/history.db#" "$tmp/full.cfg"
    run full0 1 full
    dd if=/dev/zero of="$tmp/full/fill" bs=4k 2>/dev/null
    run full 3 full && grep -qi "full\|space" "$tmp/full.out" && ok "full disk: $(cut -c1-140 "$tmp/full.out")" ||
        { bad "full disk"; cat "$tmp/full.out"; }
    umount "$tmp/full"
else
    echo "skip: full disk (cannot mount a tmpfs here)"
fi

# 9. SIGKILL at random points of 100 runs: the database stays consistent,
#    each run is wholly there or not at all, the metrics file is whole.
rm -f "$tmp/history.db"*
config k zone-c
for i in $(seq 1 100); do
    "$probe" health --config "$tmp/k.cfg" --prom "$tmp/k.prom" >/dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 60 + 1))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
python3 - "$tmp/history.db" "$tmp/k.prom" <<'PY' && ok "100 runs killed: integrity_check ok, runs whole, metrics whole" || bad "after SIGKILL"
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
runs = db.execute("select id, aborted from runs").fetchall()
for rid, aborted in runs:
    n = db.execute("select count(*) from checks where run_id = ?", (rid,)).fetchone()[0]
    assert aborted or n == 3, (rid, n)
print("runs recorded: %d of 100 killed" % len(runs))
if os.path.exists(sys.argv[2]):
    text = open(sys.argv[2]).read()
    assert text.endswith("\n") and "probe_health_status" in text and "probe_seeds" in text, text[-200:]
PY
run afterkill 2 k && ok "a run after the kills works"

echo "health_cli: $pass passed, $fail failed"
((fail == 0))
