// bench/bench_support.hpp: what the micro-benchmarks share: the records vector, the per-batch
// work, and the runner that turns one variant function into a Google Benchmark case.
//
// In:     a variant: `std::uint64_t variant(std::size_t records, std::size_t batch)`, declared
//         with STREAMBATCH_VARIANT (out of line, so callgrind can count its instructions alone:
//         `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*::<variant>(*'`).
// Out:    STREAMBATCH_BENCH(variant, uses_vector, apply) registers bm_<variant>, which reports
//         records/s (items_per_second), bytes/s and extra_peak_rss_KiB (VmHWM during the case
//         minus RSS before it; the shared records vector is built before, so it is not counted).
// Models: helpers for bench_*.cpp only.
// Memory: records_vector(n) keeps n records (n x ~520 bytes) for the whole run.
// Example:
//     STREAMBATCH_VARIANT sum_chunk(std::size_t n, std::size_t k) { ... return sum; }
//     STREAMBATCH_BENCH(sum_chunk, true, args);

#ifndef STREAMBATCH_BENCH_SUPPORT_HPP_INCLUDED
#define STREAMBATCH_BENCH_SUPPORT_HPP_INCLUDED

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "peak_rss.hpp"
#include "records.hpp"

#define STREAMBATCH_VARIANT [[gnu::noinline]] std::uint64_t

#define STREAMBATCH_BENCH(variant, uses_vector, apply)                                             \
    void bm_##variant(benchmark::State& state)                                                     \
    {                                                                                              \
        ::bench::run(state, variant, uses_vector);                                                 \
    }                                                                                              \
    BENCHMARK(bm_##variant)->Apply(apply)

namespace bench {

/// n records made once and kept (the source of the "vector" cases).
inline std::vector<record> const& records_vector(std::size_t n)
{
    static std::vector<record> v;
    if (v.size() != n) {
        v.clear();
        v.shrink_to_fit();
        v.reserve(n);
        for (std::size_t i = 0; i < n; ++i)
            v.push_back(make_record(i));
    }
    return v;
}

/// What every variant does with a batch: reads each record, counts the batch.
template <class Batch>
void sink(Batch const& b, std::uint64_t& sum, std::uint64_t& batches)
{
    for (auto const& r : b)
        sum += consume(r);
    ++batches;
}

inline std::size_t record_size()
{
    return record_bytes(make_record(0));
}

/// Runs one variant as a benchmark case; range(0) = records, range(1) = batch size.
inline void run(benchmark::State& state, std::uint64_t (*variant)(std::size_t, std::size_t),
                bool uses_vector)
{
    auto const n = static_cast<std::size_t>(state.range(0));
    auto const k = static_cast<std::size_t>(state.range(1));
    if (uses_vector)
        records_vector(n); // built outside the measured (and instruction-counted) function
    static std::size_t const bytes_per_record = record_size();
    reset_peak_rss();
    auto const rss_before = current_rss_bytes();
    for (auto _ : state)
        benchmark::DoNotOptimize(variant(n, k));
    auto const items = static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n);
    state.SetItemsProcessed(items);
    state.SetBytesProcessed(items * static_cast<std::int64_t>(bytes_per_record));
    auto const peak = peak_rss_bytes();
    state.counters["extra_peak_rss_KiB"] =
        peak > rss_before ? double(peak - rss_before) / 1024 : 0.0;
}

} // namespace bench

#endif // STREAMBATCH_BENCH_SUPPORT_HPP_INCLUDED
