#!/usr/bin/env bash
# N workers started by Debian's Open MPI split one CSV exactly: csv_to_postgres runs under
#     mpirun --allow-run-as-root --oversubscribe -np 4 csv_to_postgres --partition auto ...
# and the table must then equal the one a single uninterrupted worker loads from the same CSV:
# same count, every id once, same md5 of all rows ordered by id, nothing missing, nothing
# extra; merge_runs must account for every record and exit 0.
#
#     mpi_csv_to_postgres.sh whole|kill CSV_TO_POSTGRES MERGE_RUNS [NP]
#
#   whole  all NP workers run to the end.
#   kill   worker 2 is slowed down and killed with SIGKILL mid-run, after the other workers
#          have finished; then only that worker is restarted, outside mpirun, with the same
#          variables a relaunch gives it (OMPI_COMM_WORLD_RANK=2, OMPI_COMM_WORLD_SIZE=NP).
#          It resumes from its own checkpoint row; the table must still hold every row once.
#
# The server: STREAMBATCH_PG_ENV (the env file of tests/io/sql/pg_server.sh; CTest sets it).
# psql: STREAMBATCH_PSQL, else psql on PATH. mpirun: STREAMBATCH_MPIRUN, else mpirun on PATH.
set -euo pipefail
mode=$1 exe=$2 merge=$3 np=${4:-4}
if [[ -n ${STREAMBATCH_PG_ENV:-} ]]; then
    set -a; . "$STREAMBATCH_PG_ENV"; set +a
fi
psql=${STREAMBATCH_PSQL:-psql}
mpirun=${STREAMBATCH_MPIRUN:-mpirun}
export PGOPTIONS="-c client_min_messages=warning"
q() { "$psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

ref=mpi_ref_$$ out=mpi_out_$$
work=$(mktemp -d)
cleanup() {
    [[ -n ${mpi_pid:-} ]] && kill -9 "$mpi_pid" 2>/dev/null || true
    q "DROP TABLE IF EXISTS $ref; DROP TABLE IF EXISTS $out;
       DELETE FROM streambatch_job_state WHERE job = '$ref' OR job LIKE '$out %'" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
# Open MPI as root, in a container, with no network but loopback: the workers never talk to
# each other, so only the launcher's own needs matter.
export OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_rmaps_base_oversubscribe=1

rows=40000
# The CSV (with quoted line breaks in some names, so split points land inside quotes too) and
# the reference: one worker, whole file.
"$exe" --rows "$rows" --csv in.csv --table "$ref" --fresh --batch 500 > reference.log
# The output table, created once before the workers start (workers never drop it).
"$exe" --csv in.csv --table "$out" --partition "0/$np" --fresh --setup-only > setup.log

run_worker_cmd=("$exe" --csv in.csv --table "$out" --partition auto --batch 200 --jobs 1 --record-dir runs)
if [[ $mode == whole ]]; then
    "$mpirun" --allow-run-as-root --oversubscribe -np "$np" "${run_worker_cmd[@]}" > mpirun.log 2>&1 ||
        { echo "mpirun failed:"; cat mpirun.log; exit 1; }
else
    # Each rank writes its pid; rank 2 is throttled so that it is still loading when the
    # others are done.
    cat > worker.sh <<EOF
#!/usr/bin/env bash
echo \$\$ > pid.\$OMPI_COMM_WORLD_RANK
if [[ \$OMPI_COMM_WORLD_RANK == 2 ]]; then exec ${run_worker_cmd[*]} --throttle-us 50000; fi
exec ${run_worker_cmd[*]}
EOF
    chmod +x worker.sh
    "$mpirun" --allow-run-as-root --oversubscribe -np "$np" ./worker.sh > mpirun.log 2>&1 &
    mpi_pid=$!
    # Wait for every other rank to finish, and for rank 2 to have committed some batches.
    for _ in $(seq 600); do
        done_ranks=0
        for r in $(seq 0 $((np - 1))); do
            [[ $r == 2 ]] && continue
            grep -qs '"status": "completed"' "runs/part-$(printf %04d "$r")-of-$(printf %04d "$np")/latest/run_record.json" && done_ranks=$((done_ranks + 1))
        done
        part2=$(q "SELECT coalesce(max(records), 0) FROM streambatch_job_state WHERE job = '$out 2/$np'" 2>/dev/null || echo 0)
        (( done_ranks == np - 1 && part2 >= 1000 )) && break
        sleep 0.1
    done
    (( done_ranks == np - 1 && part2 >= 1000 )) || { echo "workers did not get there:"; cat mpirun.log; exit 1; }
    kill -9 "$(cat pid.2)"
    wait "$mpi_pid" && { echo "mpirun succeeded although rank 2 was killed"; exit 1; }
    mpi_pid=
    echo "rank 2 killed after $part2 of its rows were committed"
    ! grep -qs '"status": "completed"' "runs/part-0002-of-$(printf %04d "$np")/latest/run_record.json" || { echo "rank 2 finished before the kill"; exit 1; }
    # Restart only that worker, as a relaunch would.
    OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=$np "${run_worker_cmd[@]}" > restart.log 2>&1 ||
        { echo "the restarted worker failed:"; cat restart.log; exit 1; }
    grep -q "resumed at line" restart.log || { echo "the restarted worker did not resume:"; cat restart.log; exit 1; }
fi

# A worker of another split is refused: its partitions are not these, rows would load twice.
if "$exe" --csv in.csv --table "$out" --partition "0/$((np + 1))" > other_n.log 2>&1; then
    echo "a worker of a $((np + 1))-way split was not refused"; exit 1
fi
grep -q "another number of partitions" other_n.log || { cat other_n.log; exit 1; }
if "$exe" --csv in.csv --table "$out" --partition "0/$np" --fresh > fresh.log 2>&1; then
    echo "--fresh with --partition was not refused"; exit 1
fi
grep -q "would drop the other workers' rows" fresh.log || { cat fresh.log; exit 1; }

"$merge" runs > merged.md || { echo "merge_runs failed:"; cat merged.md; exit 1; }
cat merged.md

stats() { q "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' ||
                    md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM $1 t"; }
want=$(stats "$ref")
got=$(stats "$out")
missing=$(q "SELECT count(*) FROM (SELECT * FROM $ref EXCEPT ALL SELECT * FROM $out) d")
extra=$(q "SELECT count(*) FROM (SELECT * FROM $out EXCEPT ALL SELECT * FROM $ref) d")
merged_records=$(sed -n 's/^| records | \([0-9]*\) |$/\1/p' merged.md)
echo "reference      (count distinct md5): $want"
echo "$np workers ($mode) (count distinct md5): $got"
echo "missing $missing, not in the reference $extra, merge_runs counts $merged_records records"
read -r n_ref d_ref _ <<<"$want"
[[ $n_ref -eq $rows && $d_ref -eq $rows && "$got" == "$want" && $missing -eq 0 && $extra -eq 0 &&
   $merged_records -eq $rows ]]
