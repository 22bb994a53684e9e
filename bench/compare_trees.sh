#!/usr/bin/env bash
# bench/compare_trees.sh: the same benchmarks on two revisions, side by side, to show that a
# refactor changed no behaviour (times within noise, instruction counts within ±1 %).
#     bash bench/compare_trees.sh [BASE [NEW]]      (default: fa1deb0 HEAD; any git revision)
#     R=5                 rounds of timed runs (default 5)
#     BENCH_ARGS="..."    extra flags for every timed Google Benchmark run (e.g. --benchmark_filter=chunk)
#     REPO=/path          the repository (default: the one this script is in)
#     SHARED_BENCH="..."  benchmark files BASE takes from NEW (default: bench/records.hpp; "" for
#                         none), so both trees make the same records the same way
# Each revision gets a `git worktree add --detach` under a mktemp -d dir (removed on exit) and a
# Release build of the four targets below; only committed work is compared. BASE's copy of the
# SHARED_BENCH files is NEW's: the record maker is benchmark code, not the library under
# comparison, and since issue 11 it is out of line and flattened (bench/records.hpp), so its
# count no longer depends on how much inlining budget the library left in the translation unit;
# an older BASE would otherwise count its own, differently inlined maker. Then:
#   1. times, R rounds, BASE and NEW alternating (ABBA): every case of bench_csv, bench_chunk and
#      bench_memory_guarded (cpu_time, as bench/run.py), and csv_to_sqlite on one generated 1 M-row
#      CSV into a fresh DB (process wall time, and the job time it reports);
#   2. callgrind instructions per iteration, for BASE, NEW and BASE again (the counts' own noise):
#      the CSV reader (bm_csv_streambatch, 50 MB) and the memory-guarded pipeline
#      (memory_guarded_single_pass_real_guard, 1 M records, batches of 1 000) without
#      proc_memory_probe::sample(), called as often as wall time says, once with the benchmark's
#      record maker (bench::make_record) and once without it; 1 iteration each;
#   3. Markdown tables on stdout (progress on stderr). ~18 min at R=5 on 2 quiet cores.
set -euo pipefail
BASE=${1:-fa1deb0} NEW=${2:-HEAD} R=${R:-5} BENCH_ARGS=${BENCH_ARGS:-}
SHARED_BENCH=${SHARED_BENCH-bench/records.hpp}
REPO=${REPO:-$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)}
for tool in cmake ninja valgrind jq python3; do
    command -v "$tool" >/dev/null || { echo "compare_trees.sh: $tool is missing" >&2; exit 1; }
done
declare -A rev=([base]=$(git -C "$REPO" rev-parse --verify "$BASE^{commit}")
                [new]=$(git -C "$REPO" rev-parse --verify "$NEW^{commit}"))
scratch=$(mktemp -d)
cleanup() {
    for t in base new; do git -C "$REPO" worktree remove --force "$scratch/$t" 2>/dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT
export TMPDIR=$scratch/tmp # bench_csv writes its 50 MB file there, under a fixed name
mkdir -p "$TMPDIR"
log() { echo "[$(date +%T)] $*" >&2; }
started=$SECONDS load_start=$(cut -d' ' -f1-3 /proc/loadavg)
results=$scratch/results.tsv # kind, name, tree, round, value, unit
: > "$results"

# --- build ----------------------------------------------------------------------------------
targets=(bench_csv bench_chunk bench_memory_guarded example_csv_to_sqlite)
declare -A bin=()
for t in base new; do
    log "$t: ${rev[$t]}: worktree and Release build (${targets[*]})"
    git -C "$REPO" worktree add --detach --quiet "$scratch/$t" "${rev[$t]}"
    if [[ $t == base ]]; then
        for f in $SHARED_BENCH; do
            log "base: $f from NEW (${rev[new]:0:12})"
            git -C "$REPO" show "${rev[new]}:$f" > "$scratch/base/$f"
        done
    fi
    if ! { cmake -S "$scratch/$t" -B "$scratch/$t/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
               -DSTREAMBATCH_BUILD_BENCHMARKS=ON -DSTREAMBATCH_BUILD_TESTS=OFF \
               -DSTREAMBATCH_BUILD_EXAMPLES=ON -DSTREAMBATCH_INSTALL=OFF &&
           ninja -C "$scratch/$t/build" -j2 "${targets[@]}"; } > "$scratch/$t.build.log" 2>&1; then
        tail -40 "$scratch/$t.build.log" >&2; exit 1
    fi
    for name in bench_csv bench_chunk bench_memory_guarded csv_to_sqlite; do
        bin[$t.$name]=$(find "$scratch/$t/build" -type f -perm -u+x -name "$name" -print -quit)
        [[ -n ${bin[$t.$name]} ]] || { echo "compare_trees.sh: no $name under $scratch/$t/build" >&2; exit 1; }
    done
done
order() { (( $1 % 2 )) && echo base new || echo new base; } # ABBA

# --- 1. timed runs --------------------------------------------------------------------------
for b in bench_csv bench_chunk bench_memory_guarded; do
    for ((r = 1; r <= R; ++r)); do
        for t in $(order "$r"); do
            log "$b, round $r/$R, $t"
            # shellcheck disable=SC2086 # BENCH_ARGS is split on purpose
            "${bin[$t.$b]}" --benchmark_repetitions=1 --benchmark_out="$scratch/run.json" \
                --benchmark_out_format=json $BENCH_ARGS > /dev/null 2> "$scratch/run.err" ||
                { tail -20 "$scratch/run.err" >&2; exit 1; }
            jq -r --arg b "$b" --arg t "$t" --arg r "$r" '.benchmarks[]
                | select(.run_type == "iteration" and (.name | startswith("warm") | not))
                | ["time", $b + "/" + .name, $t, $r, .cpu_time, .time_unit] | @tsv' \
                "$scratch/run.json" >> "$results"
        done
    done
done

log "csv_to_sqlite: generating the 1 M-row CSV (and a warm-up load, not counted)"
job=$scratch/job && mkdir -p "$job"
"${bin[base.csv_to_sqlite]}" --rows 1000000 --csv "$job/in.csv" --db "$job/warm.db" --fresh > /dev/null
rm -f "$job"/warm.db*
for ((r = 1; r <= R; ++r)); do
    for t in $(order "$r"); do
        log "csv_to_sqlite, round $r/$R, $t"
        t0=$EPOCHREALTIME
        out=$("${bin[$t.csv_to_sqlite]}" --csv "$job/in.csv" --db "$job/$t.$r.db" --fresh --record-dir "$job/rec.$t.$r")
        t1=$EPOCHREALTIME
        grep -q '^loaded *1000000 rows' <<< "$out" || { echo "csv_to_sqlite ($t) did not load 1 M rows:" >&2; echo "$out" >&2; exit 1; }
        printf 'time\tcsv_to_sqlite 1M rows: process wall\t%s\t%s\t%s\ts\n' "$t" "$r" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >> "$results"
        job_s=$(sed -n 's/^records\/s .* over \([0-9.]*\) s$/\1/p' <<< "$out")
        [[ -z $job_s ]] || printf 'time\tcsv_to_sqlite 1M rows: job (its report)\t%s\t%s\t%s\ts\n' "$t" "$r" "$job_s" >> "$results"
        rm -rf "$job/$t.$r.db"* "$job/rec.$t.$r"
    done
done

# --- 2. callgrind ---------------------------------------------------------------------------
# callgrind_case LABEL TREE BINARY CASE FILTER TOGGLE...: instructions per iteration of CASE,
# counted inside the functions the --toggle-collect patterns switch on (and off, when nested).
callgrind_case() {
    local label=$1 t=$2 exe=${bin[$2.$3]} case=$4 filter=$5 out=$scratch/cg.$RANDOM; shift 5
    log "callgrind: $label, $t"
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" --collect-atstart=no "${@/#/--toggle-collect=}" \
        "$exe" --benchmark_filter="$filter" --benchmark_min_time=0.000000001 \
        --benchmark_out="$out.json" --benchmark_out_format=json > /dev/null 2> "$out.log" ||
        { tail -20 "$out.log" >&2; exit 1; }
    local ir iters
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out.cg")
    iters=$(jq --arg c "$case" '[.benchmarks[] | select(.name == $c) | .iterations] | add' "$out.json")
    (( ir > 0 && iters > 0 )) || { echo "callgrind counted nothing for $label ($t)" >&2; exit 1; }
    printf 'ir\t%s\t%s\t1\t%s\tIr\n' "$label" "$t" "$((ir / iters))" >> "$results"
}
csv_case=(bench_csv bm_csv_streambatch '^(warm|bm_csv_streambatch)(/.*)?$' '*bm_csv_streambatch(*')
mg_case=(bench_memory_guarded bm_memory_guarded_single_pass_real_guard/1000000/1000
         '^bm_memory_guarded_single_pass_real_guard/1000000/1000$'
         '*::memory_guarded_single_pass_real_guard(*' '*proc_memory_probe::sample(*')
# The same without the record maker: a nested toggle switches counting off inside it. (Outside
# the pipeline a call toggles counting on for its length: bench::run's one record_size() call,
# a few hundred instructions, the same in both trees.)
for t in base new base; do # BASE twice: the counts' own noise
    callgrind_case "CSV reader (bm_csv_streambatch, 50 MB)" "$t" "${csv_case[@]}"
    callgrind_case "memory-guarded pipeline (single_pass_real_guard/1M/1000)" "$t" "${mg_case[@]}"
    callgrind_case "memory-guarded pipeline, record maker not counted" "$t" "${mg_case[@]}" '*bench::make_record(*'
done

# --- 3. the tables --------------------------------------------------------------------------
python3 - "$results" "${rev[base]}" "${rev[new]}" "$R" "$((SECONDS - started))" "$BENCH_ARGS" \
    "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import collections, statistics, sys
path, base, new, reps, secs, extra, load0, load1 = sys.argv[1:9]
times, ir, units = collections.defaultdict(dict), collections.defaultdict(list), {}
for line in open(path):
    kind, name, tree, rnd, value, unit = line.rstrip("\n").split("\t")
    units[name] = unit
    if kind == "time":
        times[name].setdefault(tree, {})[int(rnd)] = float(value)
    else:
        ir[name].append((tree, int(value)))
def g(x): return f"{x:.4g}"
def stat(v): return f"{g(statistics.median(v))} ({g(min(v))}–{g(max(v))})"
print(f"## {base[:12]} (BASE) against {new[:12]} (NEW)\n")
print(f"Times: median (min–max) of {reps} runs, BASE and NEW alternating; Google Benchmark cases are cpu_time"
      f" per iteration{' (' + extra + ')' if extra else ''}. Ratio: NEW median / BASE median, and in brackets"
      " the range of the per-round ratios NEW/BASE. `*`: the BASE and NEW ranges do not overlap.\n")
print("| benchmark | BASE median (min–max) | NEW median (min–max) | ratio NEW/BASE |")
print("|---|---|---|---|")
for name, by in times.items():
    b, n = by.get("base", {}), by.get("new", {})
    if not b or not n:
        continue
    bv, nv = list(b.values()), list(n.values())
    pairs = [n[r] / b[r] for r in b if r in n and b[r] > 0]
    flag = " *" if len(pairs) > 1 and (max(bv) < min(nv) or max(nv) < min(bv)) else ""
    print(f"| {name} [{units[name]}] | {stat(bv)} | {stat(nv)} | {statistics.median(nv) / statistics.median(bv):.3f}"
          f" ({min(pairs):.3f}–{max(pairs):.3f}){flag} |")
print("\nCallgrind: instructions per iteration (Ir); target: NEW within ±1 % of BASE.\n")
print("| case | BASE | BASE, again | NEW | NEW vs BASE | BASE again vs BASE | within ±1 % |")
print("|---|---|---|---|---|---|---|")
for name, runs in ir.items():
    b = [v for t, v in runs if t == "base"]
    n = [v for t, v in runs if t == "new"][0]
    d, again = 100 * (n - b[0]) / b[0], 100 * (b[1] - b[0]) / b[0]
    print(f"| {name} | {b[0]:,} | {b[1]:,} | {n:,} | {d:+.4f} % | {again:+.4f} % | {'yes' if abs(d) <= 1 else '**no**'} |")
print(f"\nRun time {int(secs) // 60} min {int(secs) % 60} s; load average {load0} at the start, {load1} at the end.")
EOF
