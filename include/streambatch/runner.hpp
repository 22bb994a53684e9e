// streambatch/runner.hpp: running a job over batches, one include.
//
// In:     a range of batches (views.hpp), a function called on each batch, run_options.
// Out:    for_each_batch(...) -> run_report; checkpoints (write_checkpoint, resume_point), run
//         records (run_recorder) and their merge over partitions (merge_run_records).
// Models: sequential, or at most max_in_flight batches at once (runner/for_each_batch.hpp).
// Memory: O(max_in_flight batches); run records stream to disk.
// Errors: the first exception of the job's function, rethrown with its batch (batch_failed);
//         checkpoint_error, run_record_error, run_merge_error, each naming its file.
// Example:
//     #include <streambatch/runner.hpp>
//     auto report = streambatch::for_each_batch(rows | streambatch::views::chunk(1000), load);

#ifndef STREAMBATCH_RUNNER_HPP_INCLUDED
#define STREAMBATCH_RUNNER_HPP_INCLUDED

#include <streambatch/runner/advisor.hpp>
#include <streambatch/runner/checkpoint.hpp>
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/runner/run_merge.hpp>
#include <streambatch/runner/run_options.hpp>
#include <streambatch/runner/run_records.hpp>
#include <streambatch/runner/run_report.hpp>

#endif // STREAMBATCH_RUNNER_HPP_INCLUDED
