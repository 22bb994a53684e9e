# tests/metrics/lib.sh: what the metrics system tests share (sourced, bash).
#   http_get PORT PATH          the body of GET http://127.0.0.1:PORT/PATH (bash's /dev/tcp: no
#                               curl), or nothing and status 1 when nobody answers
#   sample TEXT SERIES_REGEX    the value of the first sample line whose series (name and
#                               labels) matches SERIES_REGEX (an extended regex), or nothing
#   wait_until SECONDS CMD...   runs CMD every 0.1 s until it succeeds; 1 after SECONDS (a bound
#                               on a hang, never an assertion on timing)
#   fail MESSAGE                prints "FAIL: MESSAGE" and exits 1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

http_get() {
    local port=$1 path=$2 reply
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" >&"$fd"
    reply=$(cat <&"$fd")
    exec {fd}>&-
    [[ $reply == "HTTP/1."?" 200 "* ]] || return 1
    printf '%s\n' "${reply#*$'\r\n\r\n'}"
}

sample() {
    printf '%s\n' "$1" | awk -v re="^($2) " '$0 ~ re { print $NF; exit }'
}

wait_until() {
    local seconds=$1 i
    shift
    for ((i = 0; i < seconds * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}
