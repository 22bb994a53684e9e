#!/usr/bin/env bash
# tests/metrics/pushgateway_server.sh: the CTest fixture of the Pushgateway tests.
#   pushgateway_server.sh start STATE_DIR PUSHGATEWAY METRICS_JOB
#       starts PUSHGATEWAY on a free loopback port, persistence off (metrics in memory only),
#       and writes STATE_DIR/env: PUSHGATEWAY_PORT, PUSHGATEWAY_PID; returns once it answers
#   pushgateway_server.sh stop STATE_DIR
#       stops the gateway that `start` started (its own pid, from STATE_DIR/env)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cmd=$1 state=$2
case $cmd in
start)
    gateway=$3 job=$4
    if [[ -f $state/env ]]; then # a previous run's gateway left running: stop it first
        "$0" stop "$state"
    fi
    rm -rf "$state"
    mkdir -p "$state"
    port=$("$job" free-port)
    setsid "$gateway" --web.listen-address="127.0.0.1:$port" --persistence.file="" \
        >"$state/pushgateway.log" 2>&1 </dev/null &
    pid=$!
    printf 'PUSHGATEWAY_PORT=%s\nPUSHGATEWAY_PID=%s\n' "$port" "$pid" >"$state/env"
    if ! wait_until 30 http_get "$port" /-/ready >/dev/null; then
        cat "$state/pushgateway.log" >&2
        "$0" stop "$state"
        fail "the Pushgateway did not answer on 127.0.0.1:$port within 30 s"
    fi
    echo "Pushgateway $("$gateway" --version 2>&1 | head -n 1) on 127.0.0.1:$port (pid $pid)"
    ;;
stop)
    [[ -f $state/env ]] || exit 0
    # shellcheck disable=SC1091
    . "$state/env"
    kill "$PUSHGATEWAY_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$PUSHGATEWAY_PID" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$state/env"
    echo "Pushgateway (pid $PUSHGATEWAY_PID) stopped"
    ;;
*) fail "pushgateway_server.sh: start or stop" ;;
esac
