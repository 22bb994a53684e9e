// streambatch.hpp: the whole core of streambatch (no I/O components).
//
// In:     any std::ranges::input_range of records.
// Out:    views::chunk(n), views::adaptive_chunk(opts), views::memory_guarded(n [, policy]):
//         ranges of batches (see each header), and the memory guard they can use.
// Models: see streambatch/batch_view.hpp.
// Memory: O(batch) for single-pass sources, O(1) for forward ones.
// Example:
//     #include <streambatch.hpp>
//     for (auto&& batch : rows | streambatch::views::memory_guarded(1000)) sink.insert(batch);

#ifndef STREAMBATCH_HPP_INCLUDED
#define STREAMBATCH_HPP_INCLUDED

#include <streambatch/adaptive_chunk.hpp>
#include <streambatch/batch_view.hpp>
#include <streambatch/checkpoint.hpp>
#include <streambatch/chunk.hpp>
#include <streambatch/for_each_batch.hpp>
#include <streambatch/memory_guard.hpp>
#include <streambatch/memory_guarded.hpp>
#include <streambatch/memory_probe.hpp>
#include <streambatch/metrics.hpp>
#include <streambatch/partition.hpp>
#include <streambatch/record_bytes.hpp>
#include <streambatch/run_merge.hpp>
#include <streambatch/run_report.hpp>
#include <streambatch/version.hpp>

#endif // STREAMBATCH_HPP_INCLUDED
