// bench/bench_memory_guarded.cpp: what the memory guard costs a job, with the real probe
// (/proc/self/statm, /proc/meminfo and this process's memory cgroup).
//
// Questions answered:
//   - memory_guarded_single_pass_real_guard versus memory_guarded_single_pass_chunk: the main
//     job's shape (1 M records made once, batches of k moved out, read) with
//     views::memory_guarded(k) and its default streambatch::memory_guard, versus plain
//     views::chunk(k). (target: <= 1.01 x chunk at 1 M records; bench/run.py adds callgrind
//     instruction counts)
//   - memory_guarded_single_pass_fixed_policy: the same with a policy that always answers k:
//     what asking a policy before every batch costs, without the probe.
//   - memory_guarded_vector_real_guard versus memory_guarded_vector_chunk: the worst case for the
//     guard, a vector, where a record costs about a nanosecond, so that making the guard
//     (bm_memory_guard_construct) weighs on 100 k records; memory_guarded_vector_reused_guard
//     makes it once, leaving the per-batch cost.
//   - bm_probe_sample: one proc_memory_probe::sample() (every file re-read and parsed);
//     bm_guard_next_batch_size: one memory_guard::next_batch_size() call as the view makes it
//     (usually a clock read: the probe is read at most every 5 ms);
//     bm_memory_guard_construct: making a guard (opens the files, walks the cgroup hierarchy).

#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/guard/memory_probe.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "bench_support.hpp"

namespace {

namespace sb = streambatch;
using bench::records_vector;
using bench::sink;

struct fixed_policy {
    std::size_t n;
    std::size_t next_batch_size(std::size_t) const noexcept { return n; }
};

// --- single-pass source: the main job's shape -----------------------------------------------

STREAMBATCH_VARIANT memory_guarded_single_pass_chunk(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto b : bench::records(n) | sb::views::chunk(k))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT memory_guarded_single_pass_real_guard(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto b : bench::records(n) | sb::views::memory_guarded(k)) // its own memory_guard
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT memory_guarded_single_pass_fixed_policy(std::size_t n, std::size_t k)
{
    std::uint64_t sum = 0, batches = 0;
    for (auto b : bench::records(n) | sb::views::memory_guarded(k, fixed_policy{k}))
        sink(b, sum, batches);
    return sum + batches;
}

// --- vector: a record costs ~1 ns, so the guard's share is largest here ---------------------

STREAMBATCH_VARIANT memory_guarded_vector_chunk(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (auto b : v | sb::views::chunk(k))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT memory_guarded_vector_real_guard(std::size_t n, std::size_t k)
{
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (auto b : v | sb::views::memory_guarded(k))
        sink(b, sum, batches);
    return sum + batches;
}

STREAMBATCH_VARIANT memory_guarded_vector_reused_guard(std::size_t n, std::size_t k)
{
    static sb::memory_guard guard; // made once: shows the per-batch cost without construction
    auto const& v = records_vector(n);
    std::uint64_t sum = 0, batches = 0;
    for (auto b : v | sb::views::memory_guarded(k, std::ref(guard)))
        sink(b, sum, batches);
    return sum + batches;
}

void single_pass_args(benchmark::internal::Benchmark* b)
{
    for (std::int64_t k : {100, 1000})
        b->Args({1'000'000, k});
    b->Unit(benchmark::kMillisecond);
}

void vector_args(benchmark::internal::Benchmark* b)
{
    for (std::int64_t k : {100, 1000})
        b->Args({100'000, k});
    b->Unit(benchmark::kMicrosecond);
}

STREAMBATCH_BENCH(memory_guarded_single_pass_chunk, false, single_pass_args);
STREAMBATCH_BENCH(memory_guarded_single_pass_real_guard, false, single_pass_args);
STREAMBATCH_BENCH(memory_guarded_single_pass_fixed_policy, false, single_pass_args);
STREAMBATCH_BENCH(memory_guarded_vector_chunk, true, vector_args);
STREAMBATCH_BENCH(memory_guarded_vector_real_guard, true, vector_args);
STREAMBATCH_BENCH(memory_guarded_vector_reused_guard, true, vector_args);

// --- the guard's parts ----------------------------------------------------------------------

void bm_probe_sample(benchmark::State& state)
{
    sb::proc_memory_probe probe;
    for (auto _ : state)
        benchmark::DoNotOptimize(probe.sample());
    state.SetLabel(probe.sources());
}
BENCHMARK(bm_probe_sample)->Unit(benchmark::kMicrosecond);

void bm_guard_next_batch_size(benchmark::State& state)
{
    sb::memory_guard guard;
    std::size_t n = 1000;
    for (auto _ : state)
        benchmark::DoNotOptimize(n = guard.next_batch_size(n));
    state.counters["samples_per_call"] = double(guard.samples()) / double(guard.batches());
}
BENCHMARK(bm_guard_next_batch_size);

void bm_memory_guard_construct(benchmark::State& state)
{
    for (auto _ : state) {
        sb::memory_guard guard;
        benchmark::DoNotOptimize(guard);
    }
}
BENCHMARK(bm_memory_guard_construct)->Unit(benchmark::kMicrosecond);

} // namespace
