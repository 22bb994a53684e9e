#!/usr/bin/env bash
# The files other writers produce, for the reader's test parquet.oracle: files written by ...
# (test_written_files.cpp; CTest fixture parquet_written_files): write_files.mjs, run from the
# oracles' directory that the fixture parquet_oracles installed (never the repository), writes
# DuckDB's, hyparquet-writer's and parquet-wasm's files and the values expected into OUT_DIR.
# Usage: written_files.sh OUT_DIR ORACLES_DIR
# Exit 77 (skipped) when node/npm or the zstd command cannot be had, unless CI=true or
# STREAMBATCH_REQUIRE_ALL=ON/1, where that fails; 1 when install.sh fails otherwise (npm).
set -u
out=$1 oracles=$2
# cleared first, so that a skip leaves no earlier run's files (nor its .done) behind
rm -rf -- "$out"
here=$(cd "$(dirname "$0")" && pwd)
required=0
[[ ${CI:-} == true || ${STREAMBATCH_REQUIRE_ALL:-} == ON || ${STREAMBATCH_REQUIRE_ALL:-} == 1 ]] && required=1
skip() {
    echo "written files: $*" >&2
    if ((required)); then exit 1; fi
    exit 77
}
command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm not found"
command -v zstd >/dev/null || skip "the zstd command not found (Debian: zstd)"
dir=$(bash "$here/install.sh" "$oracles")
rc=$?
((rc == 77)) && skip "node/npm not found"
((rc == 0)) || { echo "install.sh failed (exit $rc)" >&2; exit 1; }
(cd "$dir" && node write_files.mjs "$out") || { echo "write_files.mjs failed" >&2; exit 1; }
