#!/usr/bin/env bash
# bench/tools/compare.sh: streambatch against the tools users know, one command.
#
#     bash bench/tools/compare.sh [--reps N] [--smoke] [--out-dir DIR]
#
# What it runs (every figure: wall time, CPU time and peak RSS of the whole process, taken with
# /usr/bin/time: %M is the "Maximum resident set size" of `time -v`):
#   CSV reading  the same work for each tool: the data rows counted, their fields counted and
#                their byte lengths summed; each tool prints "rows=R fields=F bytes=B" and the
#                script stops unless all agree with streambatch's. Tools: streambatch's
#                csv::reader (sb_csv_count.cpp), libcsv (libcsv_count.c), Python's csv module
#                (py_csv_count.py), pandas read_csv(chunksize=100000) (pandas_count.py), DuckDB
#                read_csv through npm @duckdb/node-api with threads=1 and threads=2
#                (duckdb_count.mjs), and `wc -l` (a floor: it only counts '\n').
#                Two files: the main job's CSV (examples/csv_to_sqlite's generator, 3 200 000
#                rows, ~198 MB) and bench/bench_csv.cpp's file (50 MiB, quoted fields, doubled
#                quotes and embedded newlines; gen_bench_csv.cpp).
#   SQLite load  examples/csv_to_sqlite --jobs 1 (default batch 1000, cleaning, checkpoint row in
#                every batch's transaction) against the sqlite3 shell's `.import --csv --skip 1`
#                into the same table with the same pragmas (16 KiB pages, WAL,
#                synchronous=NORMAL), a new database file each run, 1 000 000 rows.
#   PostgreSQL   examples/csv_to_postgres (defaults: --jobs 1, batch 1 000 in transactions of 50 000 rows, binary COPY, exactly-once) against
#                `psql \copy ... (FORMAT csv, HEADER true)` of the same file into a table of the
#                same schema (each truncated first), on a throw-away server started here
#                (tests/io/sql/pg_server.sh: temp dir, 127.0.0.1, a free port, fsync=off),
#                stopped by a trap. 1 000 000 rows. psql's and the job's RSS are the clients'.
# Runs are paired: for each rep and each other tool, streambatch runs, then the tool (A B A C ...),
# and each ratio is the tool's time over the streambatch run just before it. Medians with
# min-max over --reps reps (default 5; pandas, the slow one, min(3, reps)); `uptime` before and
# after. The raw runs go into the results file too.
#
# Writes DIR/RESULTS-tools.md (default bench/) and DIR/plots/tools_*.svg (gnuplot). --smoke:
# tiny files, one rep, into build/release/bench-smoke/ unless --out-dir says otherwise.
# DuckDB is installed with `npm install --prefix SCRATCH` into the run's scratch directory and
# deleted with it: never a dependency of the library. Needs: cmake, ninja, g++, libcsv-dev,
# python3-pandas, sqlite3, postgresql-15, node + npm, gnuplot-nox, time (scripts/install-deps.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
command_line="bash bench/tools/compare.sh${*:+ $*}"

reps=5 smoke=0 out_dir=""
while (($#)); do
    case $1 in
    --reps) reps=${2:?--reps N}; shift ;;
    --smoke) smoke=1 ;;
    --out-dir) out_dir=${2:?--out-dir DIR}; shift ;;
    *) echo "compare.sh: unknown option '$1' (--reps N, --smoke, --out-dir DIR)" >&2; exit 2 ;;
    esac
    shift
done
if ((smoke)); then
    main_rows=20000 bench_mb=1 load_rows=20000 reps=1
    out_dir=${out_dir:-build/release/bench-smoke}
else
    main_rows=3200000 bench_mb=50 load_rows=1000000
    out_dir=${out_dir:-bench}
fi
duckdb_pkg=@duckdb/node-api@1.5.6-r.1 # pinned: a newer DuckDB is another comparison

missing=()
for t in cmake ninja g++ sqlite3 psql node npm gnuplot /usr/bin/time /usr/bin/python3 wc; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
[[ -f /usr/include/csv.h ]] || missing+=(libcsv-dev)
/usr/bin/python3 -c 'import pandas' 2>/dev/null || missing+=(python3-pandas)
if ((${#missing[@]})); then
    echo "compare.sh: missing: ${missing[*]} (bash scripts/install-deps.sh installs them; node/npm: apt-get install nodejs npm)" >&2
    exit 1
fi

mkdir -p "$out_dir/plots"
out_dir=$(cd "$out_dir" && pwd)
load_before=$(uptime)
echo "== compare.sh: uptime before: $load_before" >&2

cmake --preset release >/dev/null
cmake --build --preset release --target bench_tool_sb_csv_count bench_tool_libcsv_count \
    bench_tool_gen_bench_csv example_csv_to_sqlite example_csv_to_postgres >&2
bin=$repo/build/release
sb_count=$bin/bench/tools/sb_csv_count
lib_count=$bin/bench/tools/libcsv_count
gen_bench=$bin/bench/tools/gen_bench_csv
to_sqlite=$bin/examples/csv_to_sqlite
to_postgres=$bin/examples/csv_to_postgres
tools=$repo/bench/tools

scratch=$(mktemp -d "${TMPDIR:-/tmp}/streambatch-compare.XXXXXX")
pg_state=$scratch/pg
cleanup() {
    [[ -f $pg_state/datadir ]] && bash "$repo/tests/io/sql/pg_server.sh" stop "$pg_state" >/dev/null 2>&1
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tsv=$scratch/runs.tsv
: >"$tsv"

echo "== compare.sh: npm install --prefix $scratch/npm $duckdb_pkg" >&2
npm install --prefix "$scratch/npm" --no-audit --no-fund --loglevel=error "$duckdb_pkg" >&2
export NODE_PATH=$scratch/npm/node_modules

# measure PART FILE TOOL REP ROWS CMD...: one run; a line of the TSV. Wall time from the shell
# (ns), user/sys/RSS from /usr/bin/time. The command's last output line goes into the TSV.
measure() {
    local part=$1 file=$2 tool=$3 rep=$4 rows=$5
    shift 5
    local t0 t1 u s m
    t0=$(date +%s%N)
    if ! /usr/bin/time -f '%U %S %M' -o "$scratch/time" "$@" >"$scratch/out" 2>"$scratch/err"; then
        echo "compare.sh: $tool failed: $*" >&2
        cat "$scratch/err" "$scratch/out" >&2
        exit 1
    fi
    t1=$(date +%s%N)
    read -r u s m <"$scratch/time"
    last=$(tail -n 1 "$scratch/out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$part" "$file" "$tool" "$rep" \
        "$(((t1 - t0) / 1000))" "$u" "$s" "$m" "$rows" >>"$tsv"
    echo "   $part $file rep $rep $tool: $(((t1 - t0) / 1000000)) ms, ${m} KiB: $last" >&2
}

# --- the files ---------------------------------------------------------------------------
echo "== compare.sh: generating the files" >&2
(cd "$scratch" && "$to_sqlite" --csv main.csv --rows "$main_rows" --db gen.db >/dev/null)
(cd "$scratch" && TMPDIR=$scratch STREAMBATCH_BENCH_CSV_MB=$bench_mb "$gen_bench" bench.csv >/dev/null)
(cd "$scratch" && "$to_sqlite" --csv load.csv --rows "$load_rows" --db gen.db --fresh >/dev/null)
rm -f "$scratch"/gen.db*
declare -A file_path=([main]=$scratch/main.csv [bench]=$scratch/bench.csv)
declare -A file_rows file_bytes file_check
for f in main bench; do
    cat "${file_path[$f]}" >/dev/null # into the page cache
    file_check[$f]=$("$sb_count" "${file_path[$f]}")
    r=${file_check[$f]#rows=}
    file_rows[$f]=${r%% *}
    file_bytes[$f]=$(stat -c %s "${file_path[$f]}")
    echo "   $f.csv: ${file_bytes[$f]} bytes, ${file_check[$f]}" >&2
done

# --- CSV reading ---------------------------------------------------------------------------
csv_tool() { # TOOL FILE -> the command
    local p=$2
    case $1 in
    streambatch) echo "$sb_count $p" ;;
    libcsv) echo "$lib_count $p" ;;
    python_csv) echo "/usr/bin/python3 $tools/py_csv_count.py $p" ;;
    pandas) echo "/usr/bin/python3 $tools/pandas_count.py $p 100000" ;;
    duckdb_t1) echo "node $tools/duckdb_count.mjs $p 1" ;;
    duckdb_t2) echo "node $tools/duckdb_count.mjs $p 2" ;;
    wc_l) echo "wc -l $p" ;;
    esac
}
others=(libcsv python_csv pandas duckdb_t1 duckdb_t2 wc_l)
slow_reps=$((reps < 3 ? reps : 3)) # pandas: ~70x streambatch's time
for f in main bench; do
    p=${file_path[$f]}
    for ((rep = 1; rep <= reps; ++rep)); do
        for t in "${others[@]}"; do
            [[ $t == pandas ]] && ((rep > slow_reps)) && continue
            # shellcheck disable=SC2046 # the commands are words without spaces
            measure csv "$f" streambatch "$rep" "${file_rows[$f]}" $(csv_tool streambatch "$p")
            measure csv "$f" "$t" "$rep" "${file_rows[$f]}" $(csv_tool "$t" "$p")
            if [[ $t != wc_l && $last != "${file_check[$f]}" ]]; then
                echo "compare.sh: $t on $f.csv printed '$last', streambatch '${file_check[$f]}': not the same work" >&2
                exit 1
            fi
        done
    done
done

# --- the SQLite load -----------------------------------------------------------------------
echo "== compare.sh: SQLite load, $load_rows rows" >&2
cat >"$scratch/import.sql" <<EOF
PRAGMA page_size=16384;
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE customers(id INTEGER, name TEXT, email TEXT, country TEXT, balance REAL);
.import --csv --skip 1 $scratch/load.csv customers
EOF
count_sqlite() {
    local n
    n=$(sqlite3 "$1" 'SELECT count(*) FROM customers')
    [[ $n == "$load_rows" ]] || { echo "compare.sh: $1 has $n rows, not $load_rows" >&2; exit 1; }
}
for ((rep = 1; rep <= reps; ++rep)); do
    rm -f "$scratch"/a.db* "$scratch"/b.db*
    (cd "$scratch" && measure sqlite load streambatch "$rep" "$load_rows" \
        "$to_sqlite" --csv load.csv --db a.db --jobs 1)
    count_sqlite "$scratch/a.db"
    measure sqlite load sqlite3_import "$rep" "$load_rows" sqlite3 -batch "$scratch/b.db" ".read $scratch/import.sql"
    count_sqlite "$scratch/b.db"
done
rm -f "$scratch"/a.db* "$scratch"/b.db*

# --- the PostgreSQL load -------------------------------------------------------------------
echo "== compare.sh: PostgreSQL load, $load_rows rows" >&2
bash "$repo/tests/io/sql/pg_server.sh" start "$pg_state" >&2
# shellcheck disable=SC1091
set -a && . "$pg_state/env" && set +a
conninfo="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$PGDATABASE"
psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_ -c 'CREATE TABLE customers_psql(id bigint, name text, email text, country text, balance double precision)'
count_pg() {
    local n
    n=$(psql_ -At -c "SELECT count(*) FROM $1")
    [[ $n == "$load_rows" ]] || { echo "compare.sh: $1 has $n rows, not $load_rows" >&2; exit 1; }
}
for ((rep = 1; rep <= reps; ++rep)); do
    (cd "$scratch" && measure postgres load streambatch "$rep" "$load_rows" \
        "$to_postgres" --csv load.csv --table customers_sb --conninfo "$conninfo" --fresh)
    count_pg customers_sb
    measure postgres load psql_copy "$rep" "$load_rows" psql -X -q -v ON_ERROR_STOP=1 \
        -c 'TRUNCATE customers_psql' \
        -c "\\copy customers_psql FROM '$scratch/load.csv' WITH (FORMAT csv, HEADER true)"
    count_pg customers_psql
done
pg_version=$(psql_ -At -c 'SHOW server_version')
bash "$repo/tests/io/sql/pg_server.sh" stop "$pg_state" >/dev/null

load_after=$(uptime)
echo "== compare.sh: uptime after: $load_after" >&2

duckdb_version=$(node -e "const r=require('module').createRequire('$NODE_PATH/x.js');console.log(r('@duckdb/node-api/package.json').version)" 2>/dev/null || echo "?")
/usr/bin/python3 "$tools/report.py" --tsv "$tsv" --out-dir "$out_dir" --smoke "$smoke" \
    --command "$command_line" --reps "$reps" \
    --load-before "$load_before" --load-after "$load_after" \
    --file "main|${file_bytes[main]}|${file_check[main]}|examples/csv_to_sqlite --csv main.csv --rows $main_rows" \
    --file "bench|${file_bytes[bench]}|${file_check[bench]}|bench/bench_csv.cpp's generator (gen_bench_csv, STREAMBATCH_BENCH_CSV_MB=$bench_mb)" \
    --load-rows "$load_rows" \
    --versions "libcsv $(dpkg-query -W -f='${Version}' libcsv-dev 2>/dev/null || echo '?'); Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())'); pandas $(/usr/bin/python3 -c 'import pandas; print(pandas.__version__)'); DuckDB node-api $duckdb_version (node $(node --version)); SQLite $(sqlite3 --version | cut -d' ' -f1); PostgreSQL $pg_version; $(wc --version | head -n 1)"
echo "== compare.sh: wrote $out_dir/RESULTS-tools.md and $out_dir/plots/tools_*.svg" >&2
