#!/usr/bin/env bash
# bench/pg_load.sh: csv_to_postgres (exactly once: each batch's COPY, its state's compare-and-set
# and COMMIT in one transaction) against `psql \copy` of the same CSV into the same schema, on a
# throw-away server of its own.
#
#     bash bench/pg_load.sh [--rows N] [--pairs P] [--batches "1000 10000"] [--jobs "1 2"]
#                           [--copy-paths "auto buffered row-by-row"]
#                           [--copy-formats "auto text binary"] [--transaction-rows "0 50000"]
#                           [--bin PATH]
#                           [--base-bin PATH] [--out FILE]
#
# - The server: tests/io/sql/pg_server.sh start (initdb in a mktemp -d, loopback, the first free
#   port from 55432, fsync=off, synchronous_commit=off, full_page_writes=off; autovacuum off
#   here), stopped by a trap.
# - The CSV: N rows (default 1 000 000) made by the example's own generator
#   (csv_to_postgres --setup-only --rows N).
# - Paired runs: per pair, psql \copy (TRUNCATE, then \copy ... FORMAT csv, HEADER) and then
#   csv_to_postgres --fresh --batch B --jobs J for each batch size B (default 1000, the other
#   examples' default, and 50000, csv_to_postgres's) and each J (default 1 and 2) and each
#   --copy-path (default auto only), each --copy-format (default auto only) and each
#   --transaction-rows (default 50000 only, the example's: batches share a transaction until it
#   holds that many rows; 0: a transaction per batch), each under
#   /usr/bin/time -v. With --base-bin, that binary (e.g. an older build) runs too, after the
#   others, at each batch and job count.
# - Prints, and writes to --out (markdown) if given: median rows/s with min-max; the ratio to
#   psql taken pair by pair (each run against the psql run of its pair), median and min-max; the
#   client's CPU (user+sys) and the server's CPU (every process of the throw-away cluster: the
#   postmaster's reaped children, i.e. the backend that served the run, and the background
#   processes), medians; peak RSS of the client.
# Needs: the release build of csv_to_postgres (cmake --preset release && cmake --build --preset
# release --target csv_to_postgres), PostgreSQL 15's server binaries, psql, /usr/bin/time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=1000000 pairs=5 batches="1000 50000" jobs="1 2" paths="auto" formats="auto" txs="50000" bin=$root/build/release/examples/csv_to_postgres
base_bin="" out=""
while (($#)); do
    case $1 in
    --rows) rows=$2; shift ;;
    --pairs) pairs=$2; shift ;;
    --batches) batches=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --copy-paths) paths=$2; shift ;;
    --copy-formats) formats=$2; shift ;;
    --transaction-rows) txs=$2; shift ;;
    --bin) bin=$2; shift ;;
    --base-bin) base_bin=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "bench/pg_load.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -x $bin ]] || { echo "bench/pg_load.sh: no $bin (build the release preset's csv_to_postgres)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "bench/pg_load.sh: needs /usr/bin/time (Debian: time)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pg_load.XXXXXX")
chmod 755 "$work"
cleanup() { bash "$root/tests/io/sql/pg_server.sh" stop "$work/server" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
bash "$root/tests/io/sql/pg_server.sh" start "$work/server" >&2
export STREAMBATCH_PG_ENV=$work/server/env
set -a; source "$STREAMBATCH_PG_ENV"; set +a
# No autovacuum: its VACUUM and ANALYZE of a loaded table would land in whichever run comes
# next and blur the server-CPU column; both loads leave the same work for it.
psql -X -q -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
cd "$work"
csv=$work/customers.csv
"$bin" --setup-only --rows "$rows" --csv "$csv" --table bench_setup --fresh >/dev/null
schema="(id bigint, name text, email text, country text, balance double precision)"
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS by_psql $schema" >/dev/null

# The cluster's CPU so far, in clock ticks: every process of it (user + sys), and the
# postmaster's reaped children (the backends of finished connections).
postmaster=$(cat "$work/server/pid")
server_ticks() {
    local total=0 p f
    for p in $(pgrep -u postgres 2>/dev/null); do
        f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        [[ $p == "$postmaster" || $(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ') == "$postmaster" ]] || continue
        f=${f##*) }
        read -r -a a <<<"$f"
        total=$((total + a[11] + a[12]))
        [[ $p == "$postmaster" ]] && total=$((total + a[13] + a[14]))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

# run PAIR NAME CMD...: one timed run; appends "NAME pair wall_s cpu_s rss_kib server_cpu_s" to
# $work/runs.
run() {
    local pair=$1 name=$2
    shift 2
    local t0
    t0=$(server_ticks)
    /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.txt" 2>&1 || {
        cat "$work/out.txt" >&2
        echo "bench/pg_load.sh: $name failed" >&2
        exit 1
    }
    sleep 0.2 # the backend's exit reaped
    local server
    server=$(awk -v a="$t0" -v b="$(server_ticks)" -v hz="$hz" 'BEGIN { printf "%.3f", (b - a) / hz }')
    awk -v name="$name" -v pair="$pair" -v server="$server" -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
        /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
        END { printf "%s %d %.3f %.3f %d %s\n", name, pair, w, u + s, r, server }' "$work/time.txt" >>"$work/runs"
}
copy_cmd="\\copy by_psql (id, name, email, country, balance) FROM '$csv' WITH (FORMAT csv, HEADER true)"
for ((p = 1; p <= pairs; p++)); do
    run "$p" psql psql -X -q -v ON_ERROR_STOP=1 -c "TRUNCATE by_psql" -c "$copy_cmd"
    for b in $batches; do
        for j in $jobs; do
            for c in $paths; do
                for fm in $formats; do
                    for tx in $txs; do
                        run "$p" "ours:$b:$j:$c:$fm:$tx" "$bin" --csv "$csv" --table by_example --fresh --batch "$b" --jobs "$j" --copy-path "$c" --copy-format "$fm" --transaction-rows "$tx"
                    done
                done
            done
        done
    done
    if [[ -n $base_bin ]]; then
        for b in $batches; do
            for j in $jobs; do
                run "$p" "base:$b:$j" "$base_bin" --csv "$csv" --table by_base --fresh --batch "$b" --jobs "$j"
            done
        done
    fi
    echo "pair $p of $pairs done" >&2
done
loaded=$(psql -X -qtA -c "SELECT count(*) FROM by_example")
((loaded == rows)) || { echo "bench/pg_load.sh: by_example has $loaded rows, not $rows" >&2; exit 1; }

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo "# PostgreSQL load: csv_to_postgres against psql \\copy"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $commit$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "- machine: $(nproc) CPUs, $(uname -sr); $(psql -X -qtA -c 'SHOW server_version') on 127.0.0.1 (fsync=off, synchronous_commit=off, full_page_writes=off, autovacuum=off)"
    echo "- load: \`$(uptime)\`"
    echo "- command: \`bash bench/pg_load.sh --rows $rows --pairs $pairs --batches \"$batches\" --jobs \"$jobs\"$([[ $paths == auto ]] || echo " --copy-paths \"$paths\"")$([[ $formats == auto ]] || echo " --copy-formats \"$formats\"")$([[ $txs == 50000 ]] || echo " --transaction-rows \"$txs\"")$([[ -n $base_bin ]] && echo " --base-bin ...")\`"
    echo "- $rows rows of the example's customers CSV ($(du -m "$csv" | cut -f1) MB); $pairs pairs (psql, then each batch size and job count), medians with min-max"
    echo
    echo "| run | rows/s median (min-max) | ratio to psql, pair by pair: median (min-max) | client CPU s | server CPU s | peak RSS MiB |"
    echo "|---|---|---|---|---|---|"
    awk -v rows="$rows" '
        function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
                                         return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
        { k = $1; if (!(k in n)) order[++names] = k; i = ++n[k]; pair[k, i] = $2; rate[k, i] = rows / $3; cpu[k, i] = $4; rss[k, i] = $5 / 1024; srv[k, i] = $6
          if (k == "psql") psql_rate[$2] = rows / $3 }
        END {
            for (o = 1; o <= names; o++) {
                k = order[o]; delete a; delete c; delete r; delete q; delete v; lo = 1e18; hi = 0; qlo = 1e18; qhi = 0
                for (i = 1; i <= n[k]; i++) {
                    a[i] = rate[k, i]; c[i] = cpu[k, i]; r[i] = rss[k, i]; v[i] = srv[k, i]
                    q[i] = rate[k, i] / psql_rate[pair[k, i]]
                    if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i]; if (q[i] < qlo) qlo = q[i]; if (q[i] > qhi) qhi = q[i]
                }
                mq = median(q, n[k]); ma = median(a, n[k]); mc = median(c, n[k]); mr = median(r, n[k]); mv = median(v, n[k])
                if (k == "psql") label = "psql \\copy"
                else { split(k, f, ":"); label = (f[1] == "base" ? "csv_to_postgres before" : "csv_to_postgres") " --batch " f[2] " --jobs " f[3] (f[1] == "base" || f[4] == "auto" ? "" : " --copy-path " f[4]) (f[1] == "base" || f[5] == "auto" ? "" : " --copy-format " f[5]) (f[1] == "base" || f[6] == "50000" ? "" : " --transaction-rows " f[6]) }
                printf "| %s | %.0f k (%.0f-%.0f k) | %.2fx (%.2f-%.2f) | %.2f | %.2f | %.1f |\n", label, ma / 1000, lo / 1000, hi / 1000, mq, qlo, qhi, mc, mv, mr
            }
        }' "$work/runs"
} | tee "$work/results.md"
[[ -z $out ]] || cp "$work/results.md" "$out"
