// bench/bench_adaptive_chunk.cpp: what weighing every record costs. adaptive_chunk closes a
// batch by bytes (streambatch::record_bytes of each record); with a budget of k records' worth
// of bytes it makes the same batches as chunk(k), so the difference is the weighing.
//
// Questions answered:
//   - adaptive_chunk_*         versus chunk_* (same batches, no weighing), over a vector of
//                              records and over a single-pass source;
//   - adaptive_chunk_*_handwritten: the byte-budget loop written by hand, with the same rule
//                              (first record always ships; close before passing the budget).
// Arguments: {records, k}; the budget is k x the weight of one record (~520 bytes), so
// k = 100 is a ~52 KB batch, k = 1000 a ~520 KB one. bench::record has an ADL record_bytes
// overload (struct + the payload's heap), as a user's record type would.

#include <streambatch/views/adaptive_chunk.hpp>
#include <streambatch/views/chunk.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "bench_support.hpp"

namespace {

namespace sb = streambatch;
using bench::records_vector;
using bench::sink;

sb::adaptive_chunk_options options(std::size_t k)
{
    static std::size_t const w = bench::record_size();
    return {.target_bytes = k * w, .min_records = 1, .max_records = 1'000'000};
}

// --- vector ---------------------------------------------------------------------------------

STREAMBATCH_VARIANT adaptive_chunk_vector_handwritten(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::size_t const target = options(k).target_bytes;
    std::uint64_t sum = 0, batches = 0;
    std::size_t first = 0, bytes = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::size_t const w = sb::record_bytes(v[i]);
        if (i > first && bytes + w > target) {
            sink(std::span<bench::record const>(v.data() + first, i - first), sum, batches);
            first = i;
            bytes = 0;
        }
        bytes += w;
    }
    if (first < v.size())
        sink(std::span<bench::record const>(v.data() + first, v.size() - first), sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT adaptive_chunk_vector(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (auto b : v | sb::views::adaptive_chunk(options(k)))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT adaptive_chunk_vector_chunk(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (auto b : v | sb::views::chunk(k))
        sink(b, sum, batches);
    return sum + batches;
}

// --- single-pass source ---------------------------------------------------------------------

STREAMBATCH_VARIANT adaptive_chunk_single_pass_handwritten(std::size_t n, std::size_t k)
{
    std::size_t const target = options(k).target_bytes;
    std::uint64_t sum = 0, batches = 0;
    std::vector<bench::record> batch;
    std::size_t bytes = 0;
    auto src = bench::records(n);
    for (auto it = src.begin(); it != src.end(); ++it) {
        std::size_t const w = sb::record_bytes(*it);
        if (!batch.empty() && bytes + w > target) {
            sink(batch, sum, batches);
            batch.clear();
            bytes = 0;
        }
        batch.push_back(std::move(*it));
        bytes += w;
    }
    if (!batch.empty())
        sink(batch, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT adaptive_chunk_single_pass(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto b : bench::records(n) | sb::views::adaptive_chunk(options(k)))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT adaptive_chunk_single_pass_chunk(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto b : bench::records(n) | sb::views::chunk(k))
        sink(b, sum, batches);
    return sum + batches;
}

void args(benchmark::internal::Benchmark* b)
{
    for (std::int64_t k : {100, 1000})
        b->Args({100'000, k});
    b->Unit(benchmark::kMillisecond);
}

STREAMBATCH_BENCH(adaptive_chunk_vector_handwritten, true, args);
STREAMBATCH_BENCH(adaptive_chunk_vector, true, args);
STREAMBATCH_BENCH(adaptive_chunk_vector_chunk, true, args);
STREAMBATCH_BENCH(adaptive_chunk_single_pass_handwritten, false, args);
STREAMBATCH_BENCH(adaptive_chunk_single_pass, false, args);
STREAMBATCH_BENCH(adaptive_chunk_single_pass_chunk, false, args);

} // namespace
