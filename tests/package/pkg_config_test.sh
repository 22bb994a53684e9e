#!/usr/bin/env bash
# Run by ctest as package.pkg_config (see tests/CMakeLists.txt):
#   bash pkg_config_test.sh <install prefix> <work dir> <expected version> <c++ compiler> [flags]
# Builds tests/package/main.cpp with nothing but `pkg-config --cflags --libs streambatch`
# against the installed prefix, and runs it.
set -euo pipefail

prefix=$1 work=$2 version=$3 cxx=$4 flags=${5:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pkg_config=${PKG_CONFIG:-pkg-config}

export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
export PKG_CONFIG_LIBDIR="$prefix/share/pkgconfig"   # only our prefix, never the system's

got=$("$pkg_config" --modversion streambatch)
if [[ "$got" != "$version" ]]; then
    echo "pkg-config reports version '$got', expected '$version'" >&2
    exit 1
fi

mkdir -p "$work"
read -r -a pc_flags <<<"$("$pkg_config" --cflags --libs streambatch)"
read -r -a extra_flags <<<"$flags"
set -x
"$cxx" "${extra_flags[@]}" -Wall -Wextra -Werror "$here/main.cpp" "${pc_flags[@]}" -o "$work/consumer"
"$work/consumer"
