#!/usr/bin/env bash
# The documented Slurm job array, run on a real one-node Slurm cluster (tests/slurm/cluster.sh:
# munged, slurmctld and slurmd started here, no systemd), against the test PostgreSQL server.
#
#     slurm_array.sh whole|requeue|guard RECIPE DOCS_MD CSV_TO_POSTGRES MERGE_RUNS GUARD_LIMIT
#
#   whole    `sbatch RECIPE` (examples/slurm/load_array.sbatch, the text docs/partitions.md
#            shows: checked first) from a directory holding customers.csv, made with
#            `csv_to_postgres --setup-only`, as the docs say; the 4 array tasks (--array=0-3)
#            each load their partition with `srun csv_to_postgres --partition auto`. Then: every
#            task COMPLETED with exit 0; the table holds the CSV exactly (count, every id once,
#            the md5 of the ids against the CSV's own, parsed by Python's csv module; the md5 of
#            all rows against one unpartitioned csv_to_postgres run of the same CSV; nothing
#            missing, nothing extra); merge_runs exits 0 saying "4 of 4 partitions, all completed"
#            with every row counted; with task/cgroup, slurmd gave each of the 4 tasks the
#            recipe's --mem=2G as its memory limit.
#   requeue  the same, submitted with `--batch 50 --throttle-us 50000` (arguments after the
#            recipe go to csv_to_postgres) so that a task takes seconds; once task 2's live run
#            record shows rows loaded, `scancel JOB_2`: the task ends CANCELLED, its run record
#            is not "completed", some but not all of its rows are committed; then
#            `scontrol requeue JOB_2`: it runs again (Restarts=1), says "resumed at line", its
#            new run record resumed from exactly the committed rows and loaded only the rest;
#            then the same checks as whole.
#   guard    jobs submitted with --mem=300M and --mem=700M run `srun guard_limit`: the memory
#            guard must read that limit from the job's own cgroup (slurm_localhost/.../job_N).
#            Needs slurmd's task/cgroup plugin: where it cannot run (no writable cgroup v1 memory
#            controller), exit 77 saying why, or fail with STREAMBATCH_REQUIRE_CGROUP=1 (CI).
#
# Exit 77 (skipped) without root or Slurm; every daemon and job started here is stopped on exit,
# failed or not. The server: STREAMBATCH_PG_ENV (tests/io/sql/pg_server.sh's env file; CTest
# sets it); each run uses a database of its own, dropped at the end. psql: STREAMBATCH_PSQL.
set -euo pipefail
(($# == 6)) || { echo "usage: slurm_array.sh whole|requeue|guard RECIPE DOCS_MD CSV_TO_POSTGRES MERGE_RUNS GUARD_LIMIT" >&2; exit 2; }
mode=$1 recipe=$(realpath "$2") docs=$3 exe=$(realpath "$4") merge=$(realpath "$5") guard=$(realpath "$6")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/cluster.sh"

fail() { echo "FAIL: $*"; slurm_dump; exit 1; }

if [[ $mode != guard ]]; then
    bash "$here/recipe_matches_docs.sh" "$recipe" "$docs" || fail "the recipe is not the docs' text"
fi

work=$(mktemp -d /tmp/streambatch-slurm.XXXXXX)
chmod 755 "$work"
db=streambatch_slurm_$$
psql=${STREAMBATCH_PSQL:-psql}
pg_ready=
cleanup() {
    local rc=$?
    slurm_cluster_stop
    if [[ -n $pg_ready ]]; then
        "$psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if ((rc != 0 && rc != 77)); then
        echo "(the work directory: $work; STREAMBATCH_SLURM_KEEP=1 keeps it)"
    fi
    [[ -n ${STREAMBATCH_SLURM_KEEP:-} ]] || rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

rc=0
slurm_cluster_start "$work/cluster" || rc=$?
((rc == 0)) || exit $rc

mkdir -p "$work/bin" "$work/job"
ln -s "$exe" "$work/bin/csv_to_postgres"
ln -s "$guard" "$work/bin/guard_limit"
export PATH=$work/bin:$PATH
cd "$work/job"

# --- guard: the limit of --mem, as the guard reads it --------------------------------------
if [[ $mode == guard ]]; then
    if [[ $slurm_cgroup != yes ]]; then
        echo "slurmd's task/cgroup plugin cannot run here: $slurm_cgroup_why"
        [[ ${STREAMBATCH_REQUIRE_CGROUP:-0} == 1 ]] && fail "STREAMBATCH_REQUIRE_CGROUP=1: the guard under --mem must be tested"
        echo "SKIP: the guard under Slurm's --mem is not tested"
        exit 77
    fi
    for mem in 300 700; do
        job=$(sbatch --parsable --mem=${mem}M --output=guard-$mem.out --wrap "srun guard_limit" | cut -d';' -f1)
        slurm_wait_done "$job" 120 || fail "the --mem=${mem}M job did not end"
        state=$(scontrol -o show job "$job" | grep -o 'JobState=[A-Z_]*' || true)
        cat "guard-$mem.out"
        [[ $state == JobState=COMPLETED ]] || fail "the --mem=${mem}M job ended $state"
        grep -qx "cgroup_limited 1" "guard-$mem.out" || fail "the guard found no cgroup limit under --mem=${mem}M"
        limit=$(sed -n 's/^cgroup_limit_bytes //p' "guard-$mem.out")
        ((limit == mem * 1024 * 1024)) || fail "the guard read a limit of $limit bytes under --mem=${mem}M, not $((mem * 1024 * 1024))"
        grep -q "^sources .*cgroup v1 .*/slurm_localhost/uid_0/job_$job/" "guard-$mem.out" ||
            fail "the guard did not read job $job's own cgroup"
        echo "--mem=${mem}M: the guard reads a limit of $limit bytes from job $job's cgroup"
    done
    exit 0
fi

# --- the database, the CSV, the reference ----------------------------------------------------
[[ -n ${STREAMBATCH_PG_ENV:-} ]] || fail "STREAMBATCH_PG_ENV is not set (the postgres_server fixture's env file)"
set -a; . "$STREAMBATCH_PG_ENV"; set +a
export PGOPTIONS="-c client_min_messages=warning"
"$psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null
pg_ready=1
# The jobs' environment (sbatch exports ours): the same server, this run's database.
sed "s/^PGDATABASE=.*/PGDATABASE=$db/" "$STREAMBATCH_PG_ENV" >"$work/pg.env"
export STREAMBATCH_PG_ENV=$work/pg.env PGDATABASE=$db
q() { "$psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

rows=40000
csv_to_postgres --csv customers.csv --rows $rows --table customers --fresh --setup-only >setup.log ||
    { cat setup.log; fail "--setup-only failed"; }
csv_to_postgres --csv customers.csv --table customers_ref --fresh >reference.log ||
    { cat reference.log; fail "the reference load failed"; }
# The CSV's own ids (Python's csv module: names hold quoted line breaks), as the table's query
# prints them: count, distinct, md5 of the ids in order, one a line.
csv_ids=$(python3 -c 'import csv, hashlib, sys
ids = [int(r["id"]) for r in csv.DictReader(open(sys.argv[1], newline=""))]
print(len(ids), len(set(ids)), hashlib.md5("\n".join(map(str, sorted(ids))).encode()).hexdigest())' customers.csv)

# --- submit the recipe ---------------------------------------------------------------------
extra=()
[[ $mode == requeue ]] && extra=(--batch 50 --throttle-us 50000)
job=$(sbatch --parsable "$recipe" "${extra[@]}" | cut -d';' -f1)
[[ $job =~ ^[0-9]+$ ]] || fail "sbatch printed '$job', not a job id"
echo "submitted $recipe ${extra[*]}: job $job"

k=2
part=runs/load/part-000$k-of-0004
if [[ $mode == requeue ]]; then
    # Task 2's live run record (rewritten every 2 s) shows rows loaded, the run still going.
    loaded=0
    for _ in $(seq 1200); do # a hang guard (120 s), not a timing
        if [[ -f $part/latest/run_record.json ]] && grep -q '"status": "running"' "$part/latest/run_record.json"; then
            loaded=$(sed -n 's/^ *"records": \([0-9]*\),$/\1/p' "$part/latest/run_record.json" | head -1)
            ((${loaded:-0} >= 200)) && break
        fi
        [[ $(slurm_task_field "$job" $k JobState) =~ ^(COMPLETED|FAILED|CANCELLED)$ ]] &&
            fail "task $k ended before it could be cancelled"
        sleep 0.1
    done
    ((${loaded:-0} >= 200)) || fail "task $k's run record never showed rows loaded"
    scancel "${job}_$k"
    echo "scancel ${job}_$k after its run record showed $loaded rows"
    for _ in $(seq 600); do
        state=$(slurm_task_field "$job" $k JobState)
        [[ $state == CANCELLED ]] && break
        sleep 0.1
    done
    [[ $state == CANCELLED ]] || fail "task $k is $state after scancel, not CANCELLED"
    grep -q '"status": "completed"' "$part/latest/run_record.json" && fail "task $k completed before scancel reached it"
    first_run=$(readlink -f "$part/latest")
    committed=$(q "SELECT coalesce(max(records), 0) FROM streambatch_job_state WHERE job = 'customers $k/4'")
    echo "task $k: CANCELLED, run record $(grep -o '"status": "[a-z]*"' "$part/latest/run_record.json"), $committed rows committed"
    ((committed > 0)) || fail "task $k had committed nothing when cancelled"
    scontrol requeue "${job}_$k"
    echo "scontrol requeue ${job}_$k"
fi

slurm_wait_done "$job" 400 || fail "the array did not end"
for t in 0 1 2 3; do
    state=$(slurm_task_field "$job" $t JobState) code=$(slurm_task_field "$job" $t ExitCode)
    restarts=$(slurm_task_field "$job" $t Restarts)
    echo "task $t: $state, exit $code, restarts $restarts"
    [[ $state == COMPLETED && $code == 0:0 ]] || { cat slurm-"${job}_$t".out; fail "task $t ended $state $code"; }
    want_restarts=0
    [[ $mode == requeue && $t == "$k" ]] && want_restarts=1
    [[ $restarts == "$want_restarts" ]] || fail "task $t restarted $restarts times, not $want_restarts"
done

# Each task ran in the memory cgroup of the recipe's --mem=2G (slurmd logs it per step).
if [[ $slurm_cgroup == yes ]]; then
    limited=$(grep -c '\[[0-9]*\.0\] task/cgroup: _memcg_initialize: job: alloc=2048MB mem.limit=2048MB' \
        "$slurm_dir/log/slurmd.log" || true)
    want=4
    [[ $mode == requeue ]] && want=5 # the requeued task's second step (the same job id) too
    ((limited == want)) || fail "$limited steps ran under a 2048MB memory limit, not $want"
    echo "$limited steps ran in a memory cgroup limited to 2048MB (--mem=2G)"
else
    echo "no memory cgroups (task/none): $slurm_cgroup_why"
fi

if [[ $mode == requeue ]]; then
    second_run=$(readlink -f "$part/latest")
    [[ $second_run != "$first_run" ]] || fail "task $k's latest run is still the cancelled one"
    rec=$part/latest/run_record.json
    field() { sed -n "s/^ *\"$1\": \\([0-9]*\\),\$/\\1/p" "$rec" | head -1; }
    grep -q '"status": "completed"' "$rec" || fail "task $k's second run did not complete"
    resumed=$(field resumed_from_records) again=$(field records)
    total=$(q "SELECT max(records) FROM streambatch_job_state WHERE job = 'customers $k/4'")
    echo "task $k's second run: resumed from $resumed rows, loaded $again, $total in all"
    ((resumed == committed)) || fail "task $k resumed from $resumed rows, not the $committed committed"
    ((again + resumed == total && again < total)) || fail "task $k reloaded rows: $again loaded + $resumed resumed != $total"
    grep -q "resumed at line" slurm-"${job}_$k".out || { cat slurm-"${job}_$k".out; fail "task $k's output does not say it resumed"; }
fi

# --- the table, exactly --------------------------------------------------------------------
stats() { q "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' ||
                    md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM $1 t"; }
ids=$(q "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || md5(coalesce(string_agg(id::text, E'\n' ORDER BY id), '')) FROM customers")
want=$(stats customers_ref) got=$(stats customers)
missing=$(q "SELECT count(*) FROM (SELECT * FROM customers_ref EXCEPT ALL SELECT * FROM customers) d")
extra_rows=$(q "SELECT count(*) FROM (SELECT * FROM customers EXCEPT ALL SELECT * FROM customers_ref) d")
echo "the CSV's ids            (count distinct md5): $csv_ids"
echo "the table's ids          (count distinct md5): $ids"
echo "one unpartitioned run    (count distinct md5 of rows): $want"
echo "the array, $mode$(printf "%*s" $((14 - ${#mode})) "")(count distinct md5 of rows): $got"
echo "missing $missing, not in the reference $extra_rows"
[[ $ids == "$csv_ids" ]] || fail "the table's ids are not the CSV's"
read -r n d _ <<<"$csv_ids"
((n == rows && d == rows)) || fail "the CSV has $n rows, $d distinct ids, not $rows"
[[ $got == "$want" && $missing == 0 && $extra_rows == 0 ]] || fail "the table is not one run's load of the CSV"

# --- merge_runs ----------------------------------------------------------------------------
merge_rc=0
"$merge" runs/load >merged.md || merge_rc=$?
((merge_rc == 0)) || { cat merged.md; fail "merge_runs exited $merge_rc"; }
cat merged.md
grep -q "4 of 4 partitions, all completed" merged.md || fail "merge_runs does not say 4 of 4 partitions, all completed"
# Where partitions meet: 3 of 3 neighbours; a resumed partition's first position is where it
# resumed, so the requeued task's neighbour on the left cannot be checked (2 of 3).
meet="3 of 3"
[[ $mode == requeue ]] && meet="2 of 3"
grep -qx "| neighbours checked to meet | $meet |" merged.md || fail "merge_runs did not check $meet neighbours"
merged=$(sed -n 's/^| records | \([0-9]*\) |$/\1/p' merged.md)
((merged == rows)) || fail "merge_runs counts $merged records, not $rows"
echo "PASS: slurm array ($mode): $rows rows loaded exactly once by 4 tasks; merge_runs: 4 of 4 completed, $merged records"
