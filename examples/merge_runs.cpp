// examples/merge_runs.cpp: adds up the run records of the N workers of a partitioned job.
//
//     merge_runs RECORD_DIR
//
// Each worker of a job started by mpirun, a Slurm array or a Kubernetes Indexed Job calls
// run_options::set_partition, so its run records land in RECORD_DIR/part-IIII-of-NNNN/, one
// directory per run, with `latest` pointing at the newest. This command reads every
// RECORD_DIR/part-*/latest/run_record.json (or the 0.2 flat part-*/run_record.json), prints one
// account of the job (total
// records, wall time of the slowest partition, records/s of all workers together, peak memory
// per worker, a table per partition) and writes it to RECORD_DIR/merged_summary.md and
// RECORD_DIR/merged_record.json.
//
// Exit status: 0 when every partition 0..N-1 has a record and its latest run completed; 1 when
// one is missing, failed, was stopped or killed, is still running, or disagrees on the job or
// on N (each is listed under "Problems"); 2 when the records
// cannot be read at all (the message names the file and byte).
//
// test: run by tests/mpi (after mpirun) and by the example.parallel_partitions test.

#include <streambatch/runner/run_merge.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        std::fputs("usage: merge_runs RECORD_DIR   (the record_dir given to the workers)\n",
                   stderr);
        return 2;
    }
    try {
        auto const merged = streambatch::merge_run_records(argv[1]);
        streambatch::write_merged(argv[1], merged);
        std::fputs(streambatch::summary_markdown(merged).c_str(), stdout);
        return merged.complete() ? 0 : 1;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "merge_runs: %s\n", e.what());
        return 2;
    }
}
