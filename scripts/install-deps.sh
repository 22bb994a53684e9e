#!/usr/bin/env bash
# Installs what building, testing and benchmarking streambatch needs: Debian 12 packages only.
# Safe to run again (apt-get install of installed packages changes nothing).
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config catch2 librange-v3-dev libfmt-dev libbenchmark-dev
          clang-16 libclang-rt-16-dev time valgrind
          libsqlite3-dev sqlite3 libpq-dev postgresql-15 libcsv-dev prometheus
          libtbb-dev python3 python3-psutil gnuplot-nox
          openmpi-bin)  # mpirun, for the partitioned-workers tests (no MPI library is linked)

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${packages[@]}"
