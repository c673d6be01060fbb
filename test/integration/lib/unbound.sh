# SPDX-License-Identifier: MIT
# Sourced by the integration tests: start a throwaway unbound on loopback
# that serves a DNS fixture (scripts/fixture-to-unbound) and nothing else,
# and stop it again.  Not a test itself (ctest runs only ../*.sh).
#
#   unbound_start NAME FIXTURE ADDR PORT TMPDIR [ALSO_FREE_ADDR:PORT...]
#       sets ub_pid; returns non-zero (after saying why on stderr) when
#       unbound is missing, the address is not loopback, something already
#       listens there, or unbound does not start
#   unbound_stop
#       stops it (call it from an EXIT trap)

ub_pid=

unbound_start() {
    local name=$1 fixture=$2 addr=$3 port=$4 tmp=$5
    shift 5
    local unbound=/usr/sbin/unbound top zone_lines a
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

    if [[ ! -x $unbound ]]; then
        echo "$name: $unbound is missing; scripts/test installs it" \
            "(apt-get install unbound)" >&2
        return 1
    fi
    if [[ ! $addr =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ || ! $port =~ ^[0-9]+$ ]]; then
        echo "$name: $addr:$port: expected 127.X.Y.Z:PORT (loopback only)" >&2
        return 1
    fi
    zone_lines=$(python3 "$top/scripts/fixture-to-unbound" "$fixture") || return 1
    cat >"$tmp/unbound.conf" <<EOC
server:
    interface: $addr
    port: $port
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$tmp"
    pidfile: "$tmp/unbound.pid"
    logfile: "$tmp/unbound.log"
    use-syslog: no
    verbosity: 1
    log-queries: yes
    log-replies: yes
    num-threads: 1
    module-config: "iterator"
    # Fail to start rather than share the port with another server.
    so-reuseport: no
    # A UDP answer is at most this big: a larger one must go over TCP.
    max-udp-size: 1232
    edns-buffer-size: 1232
    # No recursion at all: a name the fixture lacks is NXDOMAIN here too.
    local-zone: "." static
$zone_lines
remote-control:
    control-enable: no
EOC
    if ! "$unbound-checkconf" "$tmp/unbound.conf" >"$tmp/checkconf" 2>&1; then
        echo "$name: generated unbound.conf is invalid:" >&2
        cat "$tmp/checkconf" >&2
        return 1
    fi
    # unbound cannot tell that another server already holds the port (it
    # may use SO_REUSEPORT): look first.
    for a in "$addr:$port" "$@"; do
        if ss -Hlun "src $a" 2>/dev/null | grep -q . ||
            ss -Hltn "src $a" 2>/dev/null | grep -q .; then
            echo "$name: something already listens on $a; stop it" >&2
            return 1
        fi
    done
    "$unbound" -d -c "$tmp/unbound.conf" >"$tmp/unbound.out" 2>&1 &
    ub_pid=$!
    for _ in $(seq 100); do
        grep -qs "start of service" "$tmp/unbound.log" && break
        kill -0 "$ub_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -qs "start of service" "$tmp/unbound.log"; then
        echo "$name: unbound did not start on $addr:$port:" >&2
        cat "$tmp/unbound.out" "$tmp/unbound.log" >&2 2>/dev/null
        return 1
    fi
}

unbound_stop() {
    if [[ -n $ub_pid ]] && kill -0 "$ub_pid" 2>/dev/null; then
        kill "$ub_pid" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$ub_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$ub_pid" 2>/dev/null
        wait "$ub_pid" 2>/dev/null
    fi
    ub_pid=
}
