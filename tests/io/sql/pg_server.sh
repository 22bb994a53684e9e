#!/usr/bin/env bash
# tests/io/sql/pg_server.sh: a throw-away PostgreSQL server for the PostgreSQL tests.
#
#   pg_server.sh start DIR   initdb in a fresh temp dir (trust auth, loopback only), start a
#                            server on the first free port from 55432 (fsync=off), and write
#                            DIR/env: PGHOST=127.0.0.1 PGPORT=... PGUSER=postgres PGDATABASE=postgres
#   pg_server.sh stop DIR    stop the server recorded in DIR (pg_ctl, else kill by its pidfile)
#                            and delete its temp dir. Succeeds when there is nothing to stop.
#
# DIR holds only the bookkeeping (env, datadir, pid, log); the cluster itself lives in a
# `mktemp -d` owned by postgres, because the build tree may not be readable by that user.
# `start` first stops whatever an earlier, killed run left in DIR, so a stale server never
# blocks the next run; a server left by some other tree only costs a port (the next is tried).
# As root the server runs as the `postgres` user (runuser); as anyone else, as that user.
# Override the binaries' directory with PG_BINDIR.
set -euo pipefail
unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS

die() { echo "pg_server.sh: $*" >&2; exit 1; }

(($# == 2)) || die "usage: pg_server.sh start|stop DIR"
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)

find_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then echo "$PG_BINDIR"; return; fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then echo "$d"; return; fi
    done
    d=$(command -v initdb 2>/dev/null || true)
    [[ -n $d ]] && { dirname "$d"; return; }
    die "no PostgreSQL server binaries (initdb, pg_ctl) found; Debian: apt-get install postgresql-15, or set PG_BINDIR"
}

# Runs a command as the server's user: postgres when we are root, ourselves otherwise.
as_pg() {
    if (($(id -u) == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_server() {
    [[ -f $dir/datadir ]] || { rm -f "$dir/env" "$dir/pid"; return 0; }
    local tmp bindir pid
    tmp=$(cat "$dir/datadir")
    bindir=$(find_bindir)
    if [[ -f $tmp/data/postmaster.pid ]]; then
        as_pg "$bindir/pg_ctl" -D "$tmp/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    # pg_ctl could not (data dir gone, server wedged): kill the recorded postmaster, but
    # only if that pid is still a postgres process (pids are reused).
    if [[ -f $dir/pid ]]; then
        pid=$(cat "$dir/pid")
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
           grep -qa postgres "/proc/$pid/cmdline" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    case $tmp in
        */streambatch-pg.*) rm -rf "$tmp" ;;  # only ever what start created
    esac
    rm -f "$dir/datadir" "$dir/env" "$dir/pid"
}

start_server() {
    stop_server # whatever a killed run left behind
    local bindir tmp port=55432 last=55531 started=0
    bindir=$(find_bindir)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/streambatch-pg.XXXXXX")
    chmod 755 "$tmp"
    echo "$tmp" >"$dir/datadir"
    if (($(id -u) == 0)); then
        id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run the server as"
        chown postgres: "$tmp"
    fi
    as_pg "$bindir/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed (log above)"; }
    while ((port <= last)); do
        if port_in_use "$port"; then port=$((port + 1)); continue; fi
        if as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null 2>&1; then
            started=1
            break
        fi
        # Lost a race for the port to someone else: try the next one; anything else is fatal.
        if grep -qE 'could not (bind|create listen)|already in use' "$tmp/server.log" 2>/dev/null; then
            port=$((port + 1))
            continue
        fi
        cp "$tmp/server.log" "$dir/server.log" 2>/dev/null || true
        cat "$tmp/server.log" >&2 2>/dev/null || true
        die "the server did not start (log above)"
    done
    ((started)) || die "no free loopback port in 55432..$last"
    head -n 1 "$tmp/data/postmaster.pid" >"$dir/pid"
    as_pg "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'SELECT 1' >/dev/null ||
        die "the server started on port $port but does not answer"
    cat >"$dir/env" <<ENV
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=postgres
PGDATABASE=postgres
ENV
    echo "pg_server.sh: PostgreSQL ($("$bindir/postgres" --version)) on 127.0.0.1:$port, data in $tmp; env in $dir/env"
}

case $action in
    start) start_server ;;
    stop) stop_server; echo "pg_server.sh: stopped (if it was running)"; ;;
    *) die "usage: pg_server.sh start|stop DIR" ;;
esac
