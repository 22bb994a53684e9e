#!/usr/bin/env bash
# Installs the Parquet oracles (issue 14) from npm into a scratch directory, never into the
# repository and never as a dependency of the library:
#   @duckdb/node-api (ships libduckdb), hyparquet, hyparquet-writer, hyparquet-compressors,
#   parquet-wasm, and apache-arrow (parquet-wasm hands back Arrow IPC bytes; read.mjs reads them).
# Usage: install.sh [DIR]   (DIR: default $STREAMBATCH_PARQUET_ORACLES, else
#        ${XDG_CACHE_HOME:-~/.cache}/streambatch/parquet-oracles). The scripts of this directory
#        (read.mjs ...) are copied beside node_modules, so that `node DIR/read.mjs` finds them.
# Exit: 0 installed (or already there); 77 when node or npm is missing (tests skip), unless
#       CI=true or STREAMBATCH_REQUIRE_ALL=ON/1 (then 1); 1 when npm fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${STREAMBATCH_PARQUET_ORACLES:-${XDG_CACHE_HOME:-$HOME/.cache}/streambatch/parquet-oracles}}
required=0
[[ "${CI:-}" == true || "${STREAMBATCH_REQUIRE_ALL:-}" == ON || "${STREAMBATCH_REQUIRE_ALL:-}" == 1 ]] && required=1
for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "install.sh: $tool not found (Debian: nodejs npm; scripts/install-deps.sh)" >&2
        if ((required)); then exit 1; fi
        exit 77
    fi
done
repo=$(cd "$here/../../../.." && pwd)
if [[ "$(realpath -m "$dir")/" == "$repo/"* && "$(realpath -m "$dir")" != "$repo"/build* ]]; then
    echo "install.sh: refusing to install into the repository ($dir); give a scratch directory" >&2
    exit 1
fi
mkdir -p "$dir"
packages=(@duckdb/node-api hyparquet hyparquet-writer hyparquet-compressors parquet-wasm apache-arrow)
stamp="$dir/.installed"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "${packages[*]}" ]]; then
    [[ -f "$dir/package.json" ]] || echo '{"name":"streambatch-parquet-oracles","private":true,"type":"module"}' >"$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "${packages[@]}") >&2
    echo "${packages[*]}" >"$stamp"
fi
cp "$here"/*.mjs "$dir"/
echo "$dir"
