// examples/hello.cpp: start here. A range of records -> batches under a memory guard -> a job
// that processes each batch and commits its result in order; then it prints the run's report.
//     hello
// Copy it and swap in your source (any input range), your processing and your sink. The guard
// shrinks batches while memory is tight. See docs/getting-started.md.

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp> // fmt::print("{}", report), guard events, ...

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <ranges>
#include <vector>

namespace sb = streambatch;

int main()
{
    auto records = std::views::iota(std::uint64_t{1}, std::uint64_t{100'001}); // your source
    sb::memory_guard guard; // watches /proc and the memory cgroup
    sb::run_options options{.max_in_flight = 2, .job = "hello"}; // 2 batches at once, at most
    options.watch(guard);

    std::uint64_t sum = 0;
    sb::run_report const report = sb::for_each_batch(
        records | sb::views::memory_guarded(1000, std::ref(guard)), // batches of up to 1000
        [](auto& batch) {
            // process: on up to 2 threads at once
            std::vector<std::uint64_t> squares;
            for (std::uint64_t x : batch)
                squares.push_back(x * x);
            return squares;
        },
        [&](std::vector<std::uint64_t>&& squares) {
            // commit: one at a time, in batch order
            for (std::uint64_t s : squares)
                sum += s;
        },
        options);
    fmt::print("sum of squares {}\n{}\n", sum, report);
    return sum == 333'338'333'350'000 ? 0 : 1; // 1^2 + ... + 100000^2
}
