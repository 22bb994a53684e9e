#!/usr/bin/env bash
# Keeps README.md true: every ```cpp block in it is a whole program that must compile with
# -Wall -Wextra -Wpedantic -Werror and run to exit 0.
#     readme_snippets.sh README.md WORK_DIR CXX "CXXFLAGS" INCLUDE_DIR
set -euo pipefail
readme=$1 work=$2 cxx=$3 flags=$4 include=$5
rm -rf "$work" # a fresh start: snippets write files (shop.db) and must work from nothing
mkdir -p "$work"
awk -v dir="$work" '
    /^```cpp[ \t]*$/ { n++; file = sprintf("%s/snippet_%02d.cpp", dir, n); printf "// README.md, line %d\n", NR + 1 > file; inside = 1; next }
    /^```/ && inside { inside = 0; close(file); next }
    inside { print > file }
' "$readme"
count=0
# Snippets of the I/O components link their libraries (found by their #include); a PostgreSQL
# snippet needs a server: CTest names the postgres_server fixture's env file (PGHOST, PGPORT, ...).
if [[ -n ${STREAMBATCH_PG_ENV:-} && -f $STREAMBATCH_PG_ENV ]]; then
    set -a
    # shellcheck disable=SC1090
    . "$STREAMBATCH_PG_ENV"
    set +a
fi
for src in "$work"/snippet_*.cpp; do
    [[ -e "$src" ]] || { echo "no \`\`\`cpp block in $readme" >&2; exit 1; }
    exe=${src%.cpp}
    libs=()
    if grep -q '<streambatch/io/sqlite.hpp>' "$src"; then
        read -ra more <<<"$(pkg-config --cflags --libs sqlite3)"
        libs+=("${more[@]}")
    fi
    if grep -q '<streambatch/io/postgres.hpp>' "$src"; then
        read -ra more <<<"$(pkg-config --cflags --libs libpq)"
        libs+=("${more[@]}")
    fi
    # shellcheck disable=SC2086
    if ! "$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Werror $flags -I"$include" "$src" -o "$exe" "${libs[@]}" -ldl -pthread; then
        echo "FAILED to compile: $(head -n 1 "$src") ($src)" >&2
        exit 1
    fi
    if grep -q '<streambatch/io/postgres.hpp>' "$src" && [[ -z ${PGHOST:-} ]]; then
        echo "compiled, not run (no PostgreSQL server in this build): $(head -n 1 "$src")"
        count=$((count + 1))
        continue
    fi
    if ! (cd "$work" && "$exe") >"$exe.out" 2>&1; then # files a snippet writes stay in $work
        echo "FAILED to run: $(head -n 1 "$src") ($src)" >&2
        cat "$exe.out" >&2
        exit 1
    fi
    count=$((count + 1))
done
echo "$count README snippets compiled and ran"
