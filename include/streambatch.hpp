// streambatch.hpp: the whole library but its I/O components (include those one by one:
// <streambatch/io/csv.hpp>, <streambatch/io/sqlite.hpp>, <streambatch/io/postgres.hpp>).
//
// In:     any std::ranges::input_range of records.
// Out:    the batch adaptors (views.hpp), the memory guard (guard.hpp), the job runner with its
//         checkpoints and run records (runner.hpp), partitions for many workers (partition.hpp),
//         record_bytes (record_bytes.hpp), the version (version.hpp) and run_job with its
//         guarantees (job.hpp).
// Models: see each sub-umbrella.
// Memory: O(batch) for single-pass sources, O(1) for forward ones.
// Errors: see each sub-umbrella.
// Example:
//     #include <streambatch.hpp>
//     for (auto&& batch : rows | streambatch::views::memory_guarded(1000)) sink.insert(batch);

#ifndef STREAMBATCH_HPP_INCLUDED
#define STREAMBATCH_HPP_INCLUDED

#include <streambatch/guard.hpp>
#include <streambatch/job.hpp>
#include <streambatch/partition.hpp>
#include <streambatch/record_bytes.hpp>
#include <streambatch/runner.hpp>
#include <streambatch/version.hpp>
#include <streambatch/views.hpp>

#endif // STREAMBATCH_HPP_INCLUDED
