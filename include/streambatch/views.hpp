// streambatch/views.hpp: the batch adaptors, one include.
//
// In:     any std::ranges::input_range of records that is a viewable_range.
// Out:    views::chunk(n), views::adaptive_chunk(opts), views::memory_guarded(n [, policy]):
//         ranges of batches (views/batch_view.hpp says what a batch is).
// Models: see each header's "Models" line; docs/adaptors.md has the table.
// Memory: O(batch) for single-pass sources, O(1) for forward ones.
// Errors: std::invalid_argument for a zero size or a bad option, naming the adaptor.
// Example:
//     #include <streambatch/views.hpp>
//     for (auto&& batch : rows | streambatch::views::chunk(1000)) sink.insert(batch);

#ifndef STREAMBATCH_VIEWS_HPP_INCLUDED
#define STREAMBATCH_VIEWS_HPP_INCLUDED

#include <streambatch/views/adaptive_chunk.hpp>
#include <streambatch/views/batch_view.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#endif // STREAMBATCH_VIEWS_HPP_INCLUDED
