#!/usr/bin/env bash
# The Slurm recipe that docs/partitions.md shows is the one the tests submit: the first ```sh
# block after the heading "### A Slurm job array" must equal examples/slurm/load_array.sbatch,
# byte for byte (diff -u shows where they differ).
#
#     recipe_matches_docs.sh RECIPE DOCS_MD
set -euo pipefail
(($# == 2)) || { echo "usage: recipe_matches_docs.sh RECIPE DOCS_MD" >&2; exit 2; }
recipe=$1 docs=$2
extracted=$(mktemp)
trap 'rm -f "$extracted"' EXIT
awk '/^### A Slurm job array[ \t]*$/ { section = 1; next }
     section && !inside && /^#+ / { exit }                      # the next heading: no block found
     section && !inside && /^```sh[ \t]*$/ { inside = 1; found = 1; next }
     inside && /^```[ \t]*$/ { exit }
     inside { print }
     END { if (!found) exit 3 }' "$docs" >"$extracted" || {
    echo "$docs: no \`\`\`sh block under \"### A Slurm job array\"" >&2
    exit 1
}
if ! diff -u --label "$recipe" --label "$docs (### A Slurm job array)" "$recipe" "$extracted"; then
    echo "$docs shows another Slurm recipe than $recipe, which the slurm.* tests submit:" \
        "make them the same text" >&2
    exit 1
fi
echo "$docs shows $recipe as it is ($(wc -l <"$recipe") lines)"
