#!/usr/bin/env bash
# Keeps the docs true: every ```cpp block in the given Markdown files is a whole program that
# must compile with -Wall -Wextra -Wpedantic -Werror and run to exit 0 (README.md, docs/*.md,
# or any list of files). All compile first, STREAMBATCH_SNIPPET_JOBS (2) at a time; then each
# runs, in order.
#     docs_snippets.sh WORK_DIR CXX "CXXFLAGS" INCLUDE_DIR FILE.md...
# Each file's snippets run in WORK_DIR/<file name>/, in order, so a later snippet of a page may
# use what an earlier one wrote. A snippet that includes an io component's header links its
# library; a PostgreSQL snippet needs a server: CTest names the postgres_server fixture's env
# file (PGHOST, PGPORT, ...) in STREAMBATCH_PG_ENV. Without one it is compiled, not run, and
# the line says so and the script ends with exit 77 (CTest's SKIP_RETURN_CODE: a skip, never a
# silent pass). A file without any ```cpp block is fine (not every page has C++).
set -euo pipefail
(($# >= 5)) || { echo "usage: docs_snippets.sh WORK_DIR CXX CXXFLAGS INCLUDE_DIR FILE.md..." >&2; exit 2; }
work=$1 cxx=$2 flags=$3 include=$4
shift 4
if [[ -n ${STREAMBATCH_PG_ENV:-} && -f $STREAMBATCH_PG_ENV ]]; then
    set -a
    # shellcheck disable=SC1090
    . "$STREAMBATCH_PG_ENV"
    set +a
fi
rm -rf "$work" # a fresh start: snippets write files (shop.db) and must work from nothing
jobs=${STREAMBATCH_SNIPPET_JOBS:-2} # compiles at once (they dominate the time under ASan)

# 1. Extract every file's snippets, in order.
for md in "$@"; do
    [[ -f $md ]] || { echo "no such file: $md" >&2; exit 1; }
    dir=$work/$(basename "$md" .md)
    mkdir -p "$dir"
    awk -v dir="$dir" -v name="$(basename "$md")" '
        /^```cpp[ \t]*$/ { n++; file = sprintf("%s/snippet_%02d.cpp", dir, n); printf "// %s, line %d\n", name, NR + 1 > file; inside = 1; next }
        /^```/ && inside { inside = 0; close(file); next }
        inside { print > file }
        END { if (inside) { printf "%s: a ```cpp block is never closed\n", name > "/dev/stderr"; exit 1 } }
    ' "$md"
done

# 2. Compile them all, $jobs at a time; each compile's errors go to SNIPPET.err.
compile_one() { # SRC: compile it with the libraries its includes name
    local src=$1 exe=${1%.cpp} libs=() more=()
    if grep -q '<streambatch/io/sqlite.hpp>' "$src"; then
        read -ra more <<<"$(pkg-config --cflags --libs sqlite3)"
        libs+=("${more[@]}")
    fi
    if grep -q '<streambatch/io/postgres.hpp>' "$src"; then
        read -ra more <<<"$(pkg-config --cflags --libs libpq)"
        libs+=("${more[@]}")
    fi
    if grep -q '<streambatch/io/parquet.hpp>' "$src"; then
        read -ra more <<<"$(pkg-config --cflags --libs snappy zlib libzstd liblz4)"
        libs+=("${more[@]}")
    fi
    if grep -q '<streambatch/interop/fmt.hpp>' "$src"; then
        read -ra more <<<"$(pkg-config --cflags --libs fmt)"
        libs+=("${more[@]}")
    fi
    # shellcheck disable=SC2086
    "$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Werror $flags -I"$include" "$src" -o "$exe" \
        "${libs[@]}" -ldl -pthread >"$exe.err" 2>&1
}
export -f compile_one
export cxx flags include
find "$work" -name 'snippet_*.cpp' -print0 | sort -z | xargs -0 -r -n 1 -P "$jobs" bash -c 'compile_one "$1" || true' _

# 3. Run them in order: a later snippet of a page may use what an earlier one wrote.
total=0 not_run=0
for md in "$@"; do
    dir=$work/$(basename "$md" .md)
    count=0
    for src in "$dir"/snippet_*.cpp; do
        [[ -e $src ]] || break
        exe=${src%.cpp}
        if [[ ! -x $exe ]]; then
            echo "FAILED to compile: $(head -n 1 "$src") ($src)" >&2
            cat "$exe.err" >&2
            exit 1
        fi
        count=$((count + 1))
        if grep -q '<streambatch/io/postgres.hpp>' "$src" && [[ -z ${PGHOST:-} ]]; then
            echo "compiled, not run (no PostgreSQL server in this build): $(head -n 1 "$src")"
            not_run=$((not_run + 1))
            continue
        fi
        if ! (cd "$dir" && "$exe") >"$exe.out" 2>&1; then # files a snippet writes stay in $dir
            echo "FAILED to run: $(head -n 1 "$src") ($src)" >&2
            cat "$exe.out" >&2
            exit 1
        fi
    done
    echo "$(basename "$md"): $count snippet(s)"
    total=$((total + count))
done
echo "$total snippets compiled, $((total - not_run)) ran, $not_run compiled only (no PostgreSQL server)"
((not_run == 0)) || exit 77
