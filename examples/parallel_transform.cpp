// examples/parallel_transform.cpp: a CPU-bound clean step over both cores, under the memory
// guard. Copy it as the template of a job whose time goes into transforming records.
//
//     parallel_transform [--records N] [--batch N] [--jobs K] [--passes P] [--compare]
//                        [--push URL]
//                        [--advise [--advise-sample N] [--advise-memory BYTES] ...]
//
// The source is a std::views pipeline (iota | transform: a record of ~300 bytes per id, made
// when it is reached); views::memory_guarded cuts it into batches of --batch records (fewer
// when memory passes 80 %); for_each_batch runs the clean step (P passes of a hash over each
// record's text: the CPU-bound part) on up to --jobs threads, and sums the results in batch
// order. Memory: at most --jobs batches of records and their results are alive at once.
// With --compare it runs the same job with 1 batch in flight and then with --jobs, and prints
// the speed-up it measured on this machine (bench/RESULTS*.md publishes no figure for it).
// With --push http://host:port the run's metrics go to that Prometheus Pushgateway while it
// runs and at the end (run_options::push_url; docs/runner.md, Metrics).
// With --advise it runs the batch-size advisor on the first --advise-sample records with the
// same step (examples/common/advise.hpp, docs/batch-size.md) and prints --batch and --jobs.
//
// test-args: --records 20000 --batch 500 --jobs 2 --passes 2 --compare

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include "common/advise.hpp"
#include "common/args.hpp"
#include "common/data.hpp"

namespace sb = streambatch;

namespace {

struct record {
    std::uint64_t id = 0;
    std::string text;
};

record make_record(std::uint64_t id)
{
    record r{id, std::string(300, ' ')};
    examples::fill_payload(r.text, id);
    return r;
}

/// The clean step: CPU-bound, independent per record.
std::uint64_t clean(record const& r, int passes)
{
    std::uint64_t h = 1469598103934665603ull ^ r.id;
    for (int p = 0; p < passes; ++p)
        for (unsigned char c : r.text)
            h = (h ^ c) * 1099511628211ull;
    return h;
}

struct outcome {
    sb::run_report report;
    std::uint64_t checksum = 0;
};

outcome run(std::uint64_t records, std::size_t batch, std::size_t jobs, int passes,
            std::string const& push_url = "")
{
    sb::memory_guard guard;
    sb::run_options options{.max_in_flight = jobs, .job = "parallel_transform"};
    options.push_url = push_url; // "": none
    options.expected_records = records;
    options.watch(guard); // memory pressure lowers the batches in flight as well as their size
    outcome out;
    out.report = sb::for_each_batch(
        std::views::iota(std::uint64_t{0}, records) | std::views::transform(make_record) |
            sb::views::memory_guarded(batch, std::ref(guard)),
        [passes](auto& b) { // on up to `jobs` threads
            std::vector<std::uint64_t> cleaned;
            cleaned.reserve(b.size());
            for (record const& r : b)
                cleaned.push_back(clean(r, passes));
            return cleaned;
        },
        [&](std::vector<std::uint64_t>&& cleaned) { // one thread at a time, in batch order
            for (std::uint64_t h : cleaned)
                out.checksum ^= h;
        },
        options);
    return out;
}

void print(std::string const& what, outcome const& o)
{
    fmt::print("{:<12} {} records, {:.0f} records/s, p95 batch {:.2f} ms, peak RSS {:.1f} MiB, {} "
               "guard events, "
               "checksum {:016x}\n",
               what, o.report.records, o.report.records_per_second,
               std::chrono::duration<double, std::milli>(o.report.latency_p95).count(),
               double(o.report.peak_rss_bytes) / (1 << 20), o.report.guard_events.size(),
               o.checksum);
}

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli(
        "parallel_transform", "A CPU-bound clean step on several threads, under the memory guard.");
    std::uint64_t records = 2'000'000;
    std::size_t batch = 1000, jobs = 2;
    int passes = 4;
    bool compare = false;
    std::string push_url;
    cli.number("--records", records, "records to make");
    cli.number("--batch", batch, "records per batch (fewer while memory is tight)");
    cli.number("--jobs", jobs, "batches in flight, cleaned on up to this many threads",
               std::size_t{1}, std::size_t{1024});
    cli.number("--passes", passes, "hash passes over each record (the CPU work)", 1, 1000);
    cli.flag("--compare", compare,
             "run with 1 batch in flight, then with --jobs, and print the speed-up");
    cli.text("--push", push_url,
             "a Prometheus Pushgateway (http://host:port) to push the run's metrics to");
    examples::advise_settings advise;
    advise.add_to(cli);
    cli.parse(argc, argv);
    if (advise.on) { // the same source and step; the sink sums into a checksum nobody reads
        return examples::run_advise(
            "parallel_transform", advise,
            [records] {
                return std::views::iota(std::uint64_t{0}, records) |
                       std::views::transform(make_record);
            },
            [passes](auto& b) {
                std::vector<std::uint64_t> cleaned;
                cleaned.reserve(b.size());
                for (record const& r : b)
                    cleaned.push_back(clean(r, passes));
                return cleaned;
            },
            [] {
                return [sum = std::uint64_t{0}](std::vector<std::uint64_t>&& cleaned) mutable {
                    for (std::uint64_t h : cleaned)
                        sum ^= h;
                    return sum; // the sink's result: a checksum nobody reads
                };
            });
    }
    try {
        if (compare) {
            outcome const one = run(records, batch, 1, passes);
            print("1 in flight", one);
            outcome const k = run(records, batch, jobs, passes);
            print(std::to_string(jobs) + " in flight", k);
            fmt::print("speed-up     {:.2f}x with {} batches in flight\n",
                       k.report.records_per_second / one.report.records_per_second, jobs);
            if (one.checksum != k.checksum) {
                std::fprintf(stderr, "parallel_transform: the two runs disagree\n");
                return 1;
            }
            return 0;
        }
        print(std::to_string(jobs) + " in flight", run(records, batch, jobs, passes, push_url));
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "parallel_transform: %s\n", e.what());
        return 1;
    }
}
