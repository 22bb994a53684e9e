#!/usr/bin/env bash
# scripts/check-format.sh [--fix]: clang-format 16 (.clang-format) over every C++ file under
# include/ tests/ examples/ bench/ fuzz/ that git tracks. Without --fix it changes nothing and
# fails naming each file that is not formatted (clang-format-16 --dry-run -Werror); with --fix
# it formats them in place. Run by the CTest test format.check (dev preset) and so by CI.
#   CLANG_FORMAT   the formatter (default: clang-format-16; Debian: clang-format-16)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cf=${CLANG_FORMAT:-clang-format-16}
if ! command -v "$cf" >/dev/null 2>&1; then
    echo "scripts/check-format.sh: $cf not found (Debian: clang-format-16)" >&2
    exit 2
fi
"$cf" --version | grep -q 'version 16\.' || { echo "scripts/check-format.sh: $cf is not clang-format 16" >&2; exit 2; }

mapfile -t files < <(git ls-files -- include tests examples bench fuzz 2>/dev/null | grep -E '\.(c|cc|cpp|cxx|h|hh|hpp|hxx)$')
if ((${#files[@]} == 0)); then   # not a git checkout (a source archive): find them
    mapfile -t files < <(find include tests examples bench fuzz -type f \
                              \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) | sort)
fi
((${#files[@]})) || { echo "scripts/check-format.sh: no C++ file found" >&2; exit 2; }

if [[ ${1:-} == --fix ]]; then
    "$cf" -i "${files[@]}"
    echo "scripts/check-format.sh: formatted ${#files[@]} files"
    exit 0
fi
# Many files per clang-format process, as many processes as cores: a process per file was a
# minute of CI. A file that is not formatted is named in clang-format's own "file:line:col:
# error:" lines.
jobs=$(nproc 2>/dev/null || echo 2)
mapfile -t bad < <(printf '%s\0' "${files[@]}" |
    xargs -0 -n 25 -P "$jobs" "$cf" --dry-run -Werror 2>&1 |
    sed -nE 's/^([^:]+):[0-9]+:[0-9]+: error: .*/\1/p' | sort -u)
if ((${#bad[@]})); then
    echo "scripts/check-format.sh: ${#bad[@]} of ${#files[@]} files are not formatted (fix: bash scripts/check-format.sh --fix):"
    printf '  %s\n' "${bad[@]}"
    echo "the first differences:"
    "$cf" --dry-run "${bad[0]}" 2>&1 | head -20
    exit 1
fi
echo "scripts/check-format.sh: ${#files[@]} files formatted"
