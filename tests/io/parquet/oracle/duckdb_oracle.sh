#!/usr/bin/env bash
# The DuckDB oracle for the Parquet reader's tests (CTest fixture parquet_duckdb_oracle):
# installs @duckdb/node-api with npm into a scratch directory (never into the repository) and
# dumps every flat file of parquet-testing's data/ as DuckDB reads it into OUT_DIR
# (duckdb_dump.mjs). Usage: duckdb_oracle.sh PARQUET_TESTING OUT_DIR
# Exit 77 (skipped) when node/npm or the package cannot be had, unless CI=true or
# STREAMBATCH_REQUIRE_ALL=ON/1, where that fails.
set -u
testing=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
required=0
[[ ${CI:-} == true || ${STREAMBATCH_REQUIRE_ALL:-} == ON || ${STREAMBATCH_REQUIRE_ALL:-} == 1 ]] && required=1
skip() {
    echo "duckdb oracle: $*" >&2
    if ((required)); then exit 1; fi
    exit 77
}
command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm not found"
[[ -d $testing/data ]] || skip "no parquet-testing at $testing"
rm -rf "$out"
mkdir -p "$out"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$here/duckdb_dump.mjs" "$scratch/"
(cd "$scratch" && npm install --no-audit --no-fund --silent @duckdb/node-api >npm.log 2>&1) ||
    { cat "$scratch/npm.log" >&2; skip "npm install @duckdb/node-api failed"; }
files=()
for f in "$testing"/data/*.parquet; do files+=("$f"); done
(cd "$scratch" && node duckdb_dump.mjs "$out" "${files[@]}") || { echo "duckdb_dump failed" >&2; exit 1; }
echo ok >"$out/.done"
