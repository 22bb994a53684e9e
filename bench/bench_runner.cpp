// bench/bench_runner.cpp: why for_each_batch runs on std::thread and not oneTBB.
//
// Question answered: on the same job (200 000 generated records of ~500 bytes, batches of
// 1 000, a CPU-bound clean step per record in parallel, an in-order commit), what records/s
// does for_each_batch with k batches in flight reach, against oneTBB's parallel_pipeline with
// the same shape (serial_in_order source -> parallel process -> serial_in_order commit, k
// tokens) and against the sequential loop? Same binary, same run, so the ratios are
// comparable; every variant calls the same out-of-line process() (see there). Counters: peak
// RSS growth during the benchmark against k batches of records (bound_MiB).
//
// Answer: `bash scripts/bench.sh --only runner` runs this binary with repetitions and writes every
// repetition's ratios (for_each_batch against sequential and against oneTBB, at k = 2 and 4,
// whichever way each went) to bench/RESULTS-runner.md; the docs quote that file only. Why the
// runner stays on std::thread: earlier runs put it on par with oneTBB on this job, which is not
// worth a dependency; RESULTS-runner.md says whether that still holds. The 10-15 %
// that oneTBB once led by was this file's: process() was inlined into each variant and
// compiled differently in each (see process() below).

#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/views/chunk.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>

#include "peak_rss.hpp"

namespace sb = streambatch;

namespace {

struct record {
    std::uint64_t id = 0;
    std::string payload;
};

/// A single-pass generator of records with distinct ~450-byte payloads.
class records : public std::ranges::view_interface<records> {
    std::uint64_t n_ = 0;

public:
    class iterator {
        std::uint64_t i_ = 0, n_ = 0;
        mutable record cur_;
        void make()
        {
            cur_.id = i_;
            cur_.payload.resize(450);
            std::uint64_t x = i_ * 0x9E3779B97F4A7C15ull + 1;
            for (char& c : cur_.payload) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                c = static_cast<char>('a' + x % 26);
            }
        }

    public:
        using value_type = record;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(std::uint64_t i, std::uint64_t n) : i_(i), n_(n)
        {
            if (i_ < n_)
                make();
        }
        record& operator*() const { return cur_; }
        iterator& operator++()
        {
            if (++i_ < n_)
                make();
            return *this;
        }
        void operator++(int) { ++*this; }
        bool done() const { return i_ >= n_; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) { return it.done(); }
    };
    records() = default;
    explicit records(std::uint64_t n) : n_(n) {}
    iterator begin() const { return {0, n_}; }
    std::default_sentinel_t end() const { return {}; }
};

/// The CPU-bound step: a few passes of FNV-1a over the payload.
std::uint64_t work(record const& r)
{
    std::uint64_t h = 1469598103934665603ull ^ r.id;
    for (int pass = 0; pass < 4; ++pass)
        for (unsigned char c : r.payload)
            h = (h ^ c) * 1099511628211ull;
    return h;
}

/// The per-batch work, the same machine code for every variant: out of line, and aligned so that
/// its inner loop sits at the same place in a cache line in every build. Inlined into each
/// caller instead, each variant got its own copy of the loop, and the copies differed: in
/// for_each_batch's worker the FNV constant was reloaded on every byte (+8.5 % instructions,
/// callgrind) and the loop straddled a 64-byte boundary; moving code around moved the loss from
/// one variant to another by 5-15 % - more than the runners differ by.
[[gnu::noinline, gnu::aligned(64)]] std::uint64_t process(std::span<record const> b)
{
    std::uint64_t s = 0;
    for (auto const& r : b)
        s += work(r);
    return s;
}

constexpr std::uint64_t n_records = 200'000;
constexpr std::size_t batch = 1000;

/// Peak RSS during a benchmark against what k batches weigh. Records alive in a batch: the
/// record and its 450-byte payload (one allocation). reset_peak_rss() restarts VmHWM, so the
/// figure is this benchmark's own; run one benchmark per process (--benchmark_filter) for
/// figures free of memory an earlier benchmark left in the allocator.
struct rss_meter {
    std::uint64_t start = (bench::reset_peak_rss(), bench::current_rss_bytes());
    void report(benchmark::State& state, std::size_t k) const
    {
        constexpr double batch_bytes = double(batch) * double(sizeof(record) + 450);
        double const grew =
            double(bench::peak_rss_bytes() - std::min(start, bench::peak_rss_bytes()));
        state.counters["peak_rss_growth_MiB"] = grew / double(1 << 20);
        state.counters["bound_MiB"] = double(k) * batch_bytes / double(1 << 20);
        state.counters["growth_in_batches"] = grew / batch_bytes;
    }
};

void bm_sequential_loop(benchmark::State& state)
{
    rss_meter rss;
    for (auto _ : state) {
        std::uint64_t total = 0;
        for (auto&& b : records(n_records) | sb::views::chunk(batch))
            total += process(b);
        benchmark::DoNotOptimize(total);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n_records));
    rss.report(state, 1);
}

void bm_for_each_batch(benchmark::State& state)
{
    auto const k = static_cast<std::size_t>(state.range(0));
    rss_meter rss;
    for (auto _ : state) {
        std::uint64_t total = 0;
        sb::for_each_batch(
            records(n_records) | sb::views::chunk(batch),
            [](sb::batch<record>& b) { return process(b); }, [&](std::uint64_t s) { total += s; },
            {.max_in_flight = k, .progress = sb::progress_mode::never});
        benchmark::DoNotOptimize(total);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n_records));
    rss.report(state, k);
}

void bm_tbb_parallel_pipeline(benchmark::State& state)
{
    auto const k = static_cast<std::size_t>(state.range(0));
    tbb::global_control threads(tbb::global_control::max_allowed_parallelism, k);
    rss_meter rss;
    for (auto _ : state) {
        std::uint64_t total = 0;
        auto view = records(n_records) | sb::views::chunk(batch);
        auto it = view.begin();
        bool first = true;
        tbb::parallel_pipeline(
            k, tbb::make_filter<void, std::vector<record>>(
                   tbb::filter_mode::serial_in_order,
                   [&](tbb::flow_control& fc) -> std::vector<record> {
                       if (!first)
                           ++it;
                       first = false;
                       if (it == std::default_sentinel) {
                           fc.stop();
                           return {};
                       }
                       return (*it).take();
                   }) &
                   tbb::make_filter<std::vector<record>, std::uint64_t>(
                       tbb::filter_mode::parallel,
                       [](std::vector<record> const& b) { return process(b); }) &
                   tbb::make_filter<std::uint64_t, void>(tbb::filter_mode::serial_in_order,
                                                         [&](std::uint64_t s) { total += s; }));
        benchmark::DoNotOptimize(total);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n_records));
    rss.report(state, k);
}

} // namespace

BENCHMARK(bm_sequential_loop)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_for_each_batch)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_tbb_parallel_pipeline)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
