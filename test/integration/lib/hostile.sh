# SPDX-License-Identifier: MIT
# Sourced by the integration tests that run a scripted hostile server
# (test/support/hostile_smtp.py, hostile_imap.py): the temporary
# directory, starting and stopping the server, the pass/fail count, runs
# under GNU time.  Not a test itself (ctest runs only ../*.sh).  Sources
# pki.sh.  The caller sets addr (the server's loopback address) and, for
# hostile_timed, cap (seconds).
#
#   hostile_setup NAME
#       NAME (the test's) starts every message; makes $tmp and sets the
#       traps that stop the servers (the variables named in hostile_pids,
#       (srv_pid) unless the caller adds more) and remove $tmp, or keep it
#       with PROBE_TEST_KEEP=1; sets pass=0 fail=0
#   ok / bad MESSAGE... / tally STATUS
#       count a pass / a failure (saying FAIL: MESSAGE) / either by STATUS
#   stop_pid VAR / stop_server
#       stop the process whose id is in VAR and empty VAR / stop_pid srv_pid
#   hostile_need COMMAND...
#       exit 1, saying what is missing, unless every COMMAND is there
#       (timeout: coreutils; time: GNU time as /usr/bin/time)
#   hostile_loopback
#       exit 1 unless $addr is in 127.0.0.0/8
#   hostile_has_send PROBE
#       exit 1 unless PROBE has a working `send` command
#   hostile_pki CA_NAME
#       a throwaway CA named CA_NAME and a certificate for hostile.test in
#       $tmp/pki (pki_make), or exit 1
#   hostile_start CASE SERVER_PY [server options...]
#       stops the server running and starts SERVER_PY on $addr, a free port,
#       with the certificate and --log $tmp/CASE.server.log (every byte the
#       client sent); sets srv_pid and srv_port, or says why not and
#       returns 1
#   hostile_timed CASE COMMAND...
#       COMMAND under GNU time and `timeout $cap`, stdout in $tmp/CASE.out,
#       stderr in $tmp/CASE.err, "SECONDS RSS_KB" in $tmp/CASE.time1; sets
#       rc (124: it hung and was killed)
#   hostile_deadline SECONDS
#       sets within (time<=SECONDS+$margin) and not_early (time>=SECONDS-0.3),
#       the bounds of a failure at a deadline of SECONDS (a Python
#       expression: "$timeout_ms / 1000")
#   hostile_asan_rss BINARY CASE
#       when BINARY runs under ASan, sets rss_max to 32 MB above the peak
#       RSS of CASE (the absolute bound means nothing with shadow memory)
#   hostile_py ARGS... <<'EOF'
#       python3 on the program on stdin, able to import hostile_expect
#   hostile_done
#       says "N passed, M failed"; returns non-zero on a failure

# shellcheck source=pki.sh
source "$(dirname "${BASH_SOURCE[0]}")/pki.sh"
hostile_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hostile_pids=(srv_pid)
srv_pid=

hostile_setup() {
    hostile_name=$1
    pass=0 fail=0
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$hostile_name.XXXXXX") || exit 1
    trap hostile_cleanup EXIT
    trap 'exit 130' INT TERM
}

hostile_cleanup() {
    local var
    for var in "${hostile_pids[@]}"; do
        stop_pid "$var"
    done
    if [[ -n ${PROBE_TEST_KEEP:-} ]]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}

stop_pid() { # VAR
    local pid=${!1}
    if [[ -n $pid ]]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    printf -v "$1" ''
}

stop_server() { stop_pid srv_pid; }

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
tally() {
    if (($1 == 0)); then
        ok
    else
        fail=$((fail + 1))
    fi
}

hostile_need() {
    local missing=() what
    for what; do
        case $what in
        timeout) command -v timeout >/dev/null 2>&1 || missing+=("timeout (coreutils)") ;;
        time) [[ -x /usr/bin/time ]] || missing+=("time (GNU time, /usr/bin/time)") ;;
        *) command -v "$what" >/dev/null 2>&1 || missing+=("$what") ;;
        esac
    done
    if ((${#missing[@]})); then
        echo "$hostile_name: missing ${missing[*]}; install them (scripts/deps does) and run again"
        exit 1
    fi
}

hostile_loopback() {
    if [[ ! $addr =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        echo "$hostile_name: $addr: loopback (127.0.0.0/8) only"
        exit 1
    fi
}

hostile_has_send() {
    if ! "$1" send --help >"$tmp/help" 2>&1; then
        echo "$hostile_name: $1 has no working \`send\` command:"
        head -5 "$tmp/help"
        exit 1
    fi
}

hostile_pki() {
    if ! pki_make "$tmp/pki" "$1" hostile.test; then
        echo "$hostile_name: openssl could not make the test certificates:"
        cat "$tmp/pki/openssl.log"
        exit 1
    fi
}

hostile_start() {
    local case=$1 server_py=$2
    shift 2
    stop_server
    : >"$tmp/$case.server.log"
    : >"$tmp/$case.port"
    python3 "$server_py" --listen "$addr" --port 0 \
        --cert "$tmp/pki/server.pem" --key "$tmp/pki/server.key" \
        --log "$tmp/$case.server.log" "$@" \
        >"$tmp/$case.port" 2>"$tmp/$case.server.err" &
    srv_pid=$!
    srv_port=$(pki_wait_port "$tmp/$case.port" "$srv_pid") && return 0
    echo "$hostile_name: $case: ${server_py##*/} did not start:"
    cat "$tmp/$case.server.err"
    stop_server
    return 1
}

hostile_timed() {
    local case=$1
    shift
    /usr/bin/time -f '%e %M' -o "$tmp/$case.time" timeout -k 5 "$cap" "$@" \
        >"$tmp/$case.out" 2>"$tmp/$case.err"
    rc=$?
    # GNU time writes "Command exited with non-zero status N" first
    tail -n 1 "$tmp/$case.time" >"$tmp/$case.time1"
}

hostile_deadline() {
    within="time<=$(python3 -c "print($1 + $margin)")"
    not_early="time>=$(python3 -c "print($1 - 0.3)")"
}

hostile_asan_rss() {
    local base_rss
    base_rss=$(cut -d' ' -f2 "$tmp/$2.time1" 2>/dev/null)
    if ldd "$1" 2>/dev/null | grep -q 'libasan' && [[ $base_rss =~ ^[0-9]+$ ]]; then
        rss_max=$((base_rss + 32768))
    fi
}

hostile_py() {
    PYTHONPATH=$hostile_lib${PYTHONPATH:+:$PYTHONPATH} python3 - "$@"
}

hostile_done() {
    stop_server
    echo "$pass passed, $fail failed"
    ((fail == 0))
}
