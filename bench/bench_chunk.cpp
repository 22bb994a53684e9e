// bench/bench_chunk.cpp: views::chunk side by side with a hand-written loop and range-v3's
// views::chunk, over the three kinds of source a job has, with records of about 500 bytes.
//
// Questions answered (run with --benchmark_enable_random_interleaving and repetitions, then
// take the ratios repetition by repetition, as bench/run.py does):
//   - vector:      what does chunk cost over a contiguous container, versus an index loop
//                  over spans and versus ranges::views::chunk? (target: <= 1.03 x range-v3)
//   - pipeline:    the same over a lazy forward pipeline, iota | transform(make a record).
//                  (target: <= 1.03 x range-v3)
//   - single_pass: over a source that makes each record once and keeps none. chunk moves the
//                  records into a buffer it reuses; the baseline is the loop a careful engineer
//                  writes by hand (move each record into a reused std::vector, flush when full);
//                  range-v3 gives lazy inner ranges, so "rangev3" materialises them the same way
//                  and "rangev3_lazy" shows what not materialising saves.
//                  (target: <= 1.03 x the hand-written loop)
// Every variant does the same work per record (bench::consume) and per batch (counts it).
// Arguments: {records, batch size}. Counters: records/s (items), bytes/s, peak RSS.

#include <streambatch/interop/range_v3.hpp>
#include <streambatch/views/chunk.hpp>

#include <range/v3/view/chunk.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <span>
#include <utility>
#include <vector>

#include "bench_support.hpp"

namespace ranges {
template <>
inline constexpr bool enable_view<bench::record_source> = true; // a copyable single-pass view
} // namespace ranges

namespace {

namespace sb = streambatch;
namespace rv = ranges::views;
using bench::records_vector;
using bench::sink;

auto pipeline(std::size_t n)
{
    return std::views::iota(std::uint64_t{0}, std::uint64_t{n}) |
           std::views::transform([](std::uint64_t i) { return bench::make_record(i); });
}

// --- vector ---------------------------------------------------------------------------------

STREAMBATCH_VARIANT chunk_vector_handwritten(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (std::size_t i = 0; i < v.size(); i += k)
        sink(std::span<bench::record const>(v.data() + i, std::min(k, v.size() - i)), sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT chunk_vector_streambatch(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (auto b : v | sb::views::chunk(k))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT chunk_vector_rangev3(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (auto b : v | rv::chunk(static_cast<std::ptrdiff_t>(k)))
        sink(b, sum, batches);
    return sum + batches;
}

// --- lazy forward pipeline: iota | transform(make a record) ---------------------------------

STREAMBATCH_VARIANT chunk_pipeline_handwritten(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (std::size_t i = 0; i < n; i += k) {
        std::size_t const e = std::min(n, i + k);
        for (std::size_t j = i; j < e; ++j)
            sum += bench::consume(bench::make_record(j));
        ++batches;
    }
    return sum + batches;
}

STREAMBATCH_VARIANT chunk_pipeline_streambatch(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto b : pipeline(n) | sb::views::chunk(k))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT chunk_pipeline_rangev3(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    auto p = pipeline(n); // a std view, which range-v3 takes by reference (its ref_view)
    for (auto b : p | rv::chunk(static_cast<std::ptrdiff_t>(k)))
        sink(b, sum, batches);
    return sum + batches;
}

// --- single-pass source: records made once, moved into a materialised batch -----------------

STREAMBATCH_VARIANT chunk_single_pass_handwritten(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    std::vector<bench::record> batch;
    batch.reserve(k);
    auto src = bench::records(n);
    for (auto it = src.begin(); it != src.end(); ++it) {
        batch.push_back(std::move(*it));
        if (batch.size() == k) {
            sink(batch, sum, batches);
            batch.clear();
        }
    }
    if (!batch.empty())
        sink(batch, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT chunk_single_pass_streambatch(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto b : bench::records(n) | sb::views::chunk(k))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT chunk_single_pass_rangev3(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    std::vector<bench::record> batch;
    batch.reserve(k);
    for (auto&& b : bench::records(n) | rv::chunk(static_cast<std::ptrdiff_t>(k))) {
        batch.clear();
        for (auto&& r : b)
            batch.push_back(std::move(r));
        sink(batch, sum, batches);
    }
    return sum + batches;
}

STREAMBATCH_VARIANT chunk_single_pass_rangev3_lazy(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto&& b : bench::records(n) | rv::chunk(static_cast<std::ptrdiff_t>(k)))
        sink(b, sum, batches); // reads each record where the source made it; keeps none
    return sum + batches;
}

void args(benchmark::internal::Benchmark* b)
{
    for (std::int64_t k : {10, 100, 1000})
        b->Args({100'000, k});
    b->Unit(benchmark::kMillisecond);
}

STREAMBATCH_BENCH(chunk_vector_handwritten, true, args);
STREAMBATCH_BENCH(chunk_vector_streambatch, true, args);
STREAMBATCH_BENCH(chunk_vector_rangev3, true, args);
STREAMBATCH_BENCH(chunk_pipeline_handwritten, false, args);
STREAMBATCH_BENCH(chunk_pipeline_streambatch, false, args);
STREAMBATCH_BENCH(chunk_pipeline_rangev3, false, args);
STREAMBATCH_BENCH(chunk_single_pass_handwritten, false, args);
STREAMBATCH_BENCH(chunk_single_pass_streambatch, false, args);
STREAMBATCH_BENCH(chunk_single_pass_rangev3, false, args);
STREAMBATCH_BENCH(chunk_single_pass_rangev3_lazy, false, args);

} // namespace
