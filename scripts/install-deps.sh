#!/usr/bin/env bash
# Installs Debian 12 packages, as root or through sudo; installs nothing (and skips apt-get
# update) when every package is already there.
#   bash scripts/install-deps.sh            everything: building, testing, benchmarking
#                                           (scripts/test.sh and .ci/run call this)
#   bash scripts/install-deps.sh example    only what the main job needs
#                                           (scripts/run-example.sh calls this)
set -euo pipefail

# The main job (examples/csv_to_sqlite), configured with tests and benchmarks off: a compiler,
# CMake, Ninja and SQLite. The examples print through fmt and parse their command line with
# CLI11 (issue 11 items 6 and 7): both are small, and the examples' configure looks them up.
example=(g++ cmake ninja-build libsqlite3-dev libfmt-dev libcli11-dev)

everything=("${example[@]}"
            pkg-config catch2 librange-v3-dev libbenchmark-dev
            clang-16 libclang-rt-16-dev clang-format-16 time valgrind
            sqlite3 libpq-dev postgresql-15 libcsv-dev prometheus
            prometheus-pushgateway prometheus-node-exporter  # tests/metrics: the real collectors
            libtbb-dev python3 python3-psutil gnuplot-nox
            libsnappy-dev libzstd-dev zlib1g-dev liblz4-dev   # streambatch::parquet's codecs
            zstd          # the zstd command: hyparquet-writer's ZSTD in tests/io/parquet/oracle/write_files.mjs
            python3-pandas  # bench/tools/compare.sh: pandas read_csv beside the CSV reader
            util-linux    # script(1), for the progress line's pseudo-terminal test
            openmpi-bin   # mpirun, for the partitioned-workers tests (no MPI library is linked)
            slurmctld slurmd slurm-client munge)  # a one-node Slurm cluster, for tests/slurm

case ${1:-all} in
    example) packages=("${example[@]}") ;;
    all) packages=("${everything[@]}")
        # node and npm run the Parquet oracles (tests/io/parquet/oracle: DuckDB, hyparquet,
        # parquet-wasm from npm). Debian's only where either command is missing: a machine with
        # NodeSource's nodejs (which bundles npm) would see Debian's npm conflict with it.
        if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
            packages+=(nodejs npm)
        fi ;;
    *) echo "scripts/install-deps.sh: unknown set '$1' (example or all)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    echo "scripts/install-deps.sh: all ${#packages[@]} packages installed"
    exit 0
fi
echo "scripts/install-deps.sh: installing ${missing[*]}"

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
# The packages' own services are not started by the install: the tests start theirs (PostgreSQL,
# munge, slurmctld, slurmd, the Pushgateway, node_exporter) in temp dirs on loopback ports, and a
# slurmd started by its package's postinst without a slurm.conf fails the install where no init
# system or policy stops it. Where nothing decides yet (no /usr/sbin/policy-rc.d), a temporary
# one refuses every start for the length of the install.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# scripts/install-deps.sh: no service starts during the install\nexit 101\n' |
        "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
