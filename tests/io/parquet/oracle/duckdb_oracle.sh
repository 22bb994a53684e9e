#!/usr/bin/env bash
# The DuckDB oracle for the Parquet reader's tests (CTest fixture parquet_duckdb_oracle):
# the npm oracles (install.sh: @duckdb/node-api among them) in ORACLES_DIR, the directory the
# fixture parquet_oracles installs into (never the repository), and a dump of every flat file of
# parquet-testing's data/ as DuckDB reads it into OUT_DIR (duckdb_dump.mjs).
# Usage: duckdb_oracle.sh PARQUET_TESTING OUT_DIR ORACLES_DIR
# Exit 77 (skipped) when node/npm or parquet-testing cannot be had, unless CI=true or
# STREAMBATCH_REQUIRE_ALL=ON/1, where that fails; 1 when install.sh fails otherwise (npm).
set -u
testing=$1 out=$2 oracles=$3
# cleared first, so that a skip leaves no earlier run's dump (nor its .done) behind
rm -rf -- "$out"
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
mkdir -p "$out"
dir=$(bash "$here/install.sh" "$oracles")
rc=$?
((rc == 77)) && skip "node/npm not found"
((rc == 0)) || { echo "install.sh failed (exit $rc)" >&2; exit 1; }
files=()
for f in "$testing"/data/*.parquet; do files+=("$f"); done
(cd "$dir" && node duckdb_dump.mjs "$out" "${files[@]}") || { echo "duckdb_dump failed" >&2; exit 1; }
echo ok >"$out/.done"
