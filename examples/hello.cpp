// examples/hello.cpp: start here. A range of records -> batches under a memory guard -> a job
// that processes each batch and commits the results in order, then prints what the run did.
//
//     hello
//
// Copy it and swap in your source (any input range: a file's lines, a cursor, a generator),
// your processing and your sink. The guard shrinks the batches while memory is tight; at most
// max_in_flight batches are alive at once. See docs/getting-started.md.

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp> // fmt::print("{}", report) and friends

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <ranges>
#include <vector>

namespace sb = streambatch;

int main()
{
    auto records = std::views::iota(std::uint64_t{1}, std::uint64_t{100'001}); // your source
    sb::memory_guard guard;                                    // watches /proc and the cgroup
    sb::run_options options{.max_in_flight = 2, .job = "hello"};
    options.watch(guard);

    std::uint64_t sum = 0;
    sb::run_report const report = sb::for_each_batch(
        records | sb::views::memory_guarded(1000, std::ref(guard)), // batches of up to 1000
        [](auto& batch) { // process: on up to 2 threads at once
            std::vector<std::uint64_t> squares;
            for (std::uint64_t x : batch)
                squares.push_back(x * x);
            return squares;
        },
        [&](std::vector<std::uint64_t>&& squares) { // commit: one at a time, in batch order
            for (std::uint64_t s : squares)
                sum += s;
        },
        options);
    fmt::print("sum of squares {}\n{}\n", sum, report);
    return report.records == 100'000 ? 0 : 1;
}
