// bench/harness.cpp: the whole-process workload behind bench/RESULTS.md. One run = one process,
// so its peak RSS (VmHWM, read from /proc/self/status at the end) is that configuration's own.
//
//     harness --mode naive|batch|stream|guard [--records N] [--batch K] [--payload-bytes B]
//             [--sample-every-ms T]
//
// The job: N records of about 500 bytes made lazily (id and name as padded text, a distinct
// 450-byte payload), cleaned (trim and lower-case the name, parse the id, build a new record),
// and sent to a sink (a checksum that python/etl_design.py computes identically). Modes:
//   naive   load every record into a vector, clean them all into a second vector, keep all
//           the results, then sink them;
//   batch   load every record into a vector, then clean and sink batch by batch (chunk(K)
//           over the vector): the input is in memory, the results are not;
//   stream  records pulled from the lazy source in batches (chunk(K), records moved into a
//           reused buffer), each batch cleaned into a reused vector and sunk, nothing kept;
//   guard   stream, through views::memory_guarded(K) with the default memory_guard (the real
//           /proc + cgroup probe): the main job (examples/stream_records.cpp).
// --sample-every-ms sets the guard's rate limit (memory_guard_options::sample_every = T ms,
// sample_every_near = T/5 ms; the defaults are 5 and 1). bench/run.py scales it up under
// valgrind, which runs the job ~50x slower, so that the guard reads the probe as often per
// record as it does natively and the instruction counts compare like with like.
// Prints one line of key=value pairs: mode records batch seconds records_per_s peak_rss_kib
// batches guard_samples guard_events checksum. seconds covers the job only (not the process
// start, nor making the payload pool).
//
// Defaults: 1 000 000 records, batches of 100 (the Python design's size).
// Each mode is an out-of-line run_<mode>() so that callgrind can count one job alone:
//     valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*::run_guard(*' harness
//     --mode guard

#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "peak_rss.hpp"
#include "records.hpp"

namespace sb = streambatch;

namespace {

struct outcome {
    std::uint64_t records = 0;
    std::uint64_t batches = 0;
    std::uint64_t checksum = 0;
    std::uint64_t guard_samples = 0;
    std::uint64_t guard_events = 0;
};

/// Cleans one batch into `cleaned` (reused), sinks it, and forgets it.
template <class Batch>
void clean_and_sink(Batch&& b, std::vector<bench::customer>& cleaned, outcome& out)
{
    cleaned.clear();
    for (auto& r : b)
        cleaned.push_back(bench::clean(std::move(r)));
    for (auto const& c : cleaned) // stands in for sink.insert(batch)
        out.checksum += bench::sink_value(c);
    out.records += cleaned.size();
    ++out.batches;
}

std::vector<bench::raw_record> load_all(std::uint64_t n, std::size_t payload)
{
    std::vector<bench::raw_record> all;
    for (auto& r : bench::raw_records(n, payload))
        all.push_back(std::move(r));
    return all;
}

[[gnu::noinline]] outcome run_naive(std::uint64_t n, std::size_t, std::size_t payload)
{
    outcome out;
    auto all = load_all(n, payload);
    std::vector<bench::customer> results;
    for (auto& r : all)
        results.push_back(bench::clean(std::move(r)));
    for (auto const& c : results)
        out.checksum += bench::sink_value(c);
    out.records = results.size();
    out.batches = 1;
    return out;
}

[[gnu::noinline]] outcome run_batch(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    auto all = load_all(n, payload);
    std::vector<bench::customer> cleaned;
    for (auto b : all | sb::views::chunk(k))
        clean_and_sink(b, cleaned, out);
    return out;
}

[[gnu::noinline]] outcome run_stream(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    std::vector<bench::customer> cleaned;
    for (auto b : bench::raw_records(n, payload) | sb::views::chunk(k))
        clean_and_sink(b, cleaned, out);
    return out;
}

double sample_every_ms = 5.0; // --sample-every-ms

[[gnu::noinline]] outcome run_guard(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    sb::memory_guard_options opts;
    opts.sample_every = std::chrono::nanoseconds(static_cast<std::int64_t>(sample_every_ms * 1e6));
    opts.sample_every_near = opts.sample_every / 5;
    sb::memory_guard guard(opts); // /proc and this process's memory cgroup
    guard.on_event([&](sb::guard_event const& e) {
        ++out.guard_events;
        std::fprintf(stderr, "harness: guard: %s\n", e.describe().c_str());
    });
    std::vector<bench::customer> cleaned;
    for (auto b : bench::raw_records(n, payload) | sb::views::memory_guarded(k, std::ref(guard)))
        clean_and_sink(b, cleaned, out);
    out.guard_samples = guard.samples();
    return out;
}

[[noreturn]] void usage(int code)
{
    std::fputs("usage: harness --mode naive|batch|stream|guard [--records N] [--batch K] "
               "[--payload-bytes B]\n"
               "               [--sample-every-ms T]\n",
               code == 0 ? stdout : stderr);
    std::exit(code);
}

std::uint64_t number(char const* flag, char const* text)
{
    std::uint64_t v = 0;
    std::string_view s = text;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0) {
        std::fprintf(stderr, "harness: %s wants a positive whole number, got '%s'\n", flag, text);
        std::exit(2);
    }
    return v;
}

} // namespace

int main(int argc, char** argv)
{
    std::string mode;
    std::uint64_t records = 1'000'000;
    std::uint64_t batch = 100;
    std::uint64_t payload = bench::default_payload_bytes;
    for (int i = 1; i < argc; ++i) {
        std::string_view const a = argv[i];
        if (a == "--help" || a == "-h")
            usage(0);
        if (i + 1 >= argc)
            usage(2);
        if (a == "--mode")
            mode = argv[++i];
        else if (a == "--records")
            records = number(argv[i], argv[i + 1]), ++i;
        else if (a == "--batch")
            batch = number(argv[i], argv[i + 1]), ++i;
        else if (a == "--payload-bytes")
            payload = number(argv[i], argv[i + 1]), ++i;
        else if (a == "--sample-every-ms") {
            char* end = nullptr;
            sample_every_ms = std::strtod(argv[++i], &end);
            if (*end != '\0' || !(sample_every_ms >= 0)) {
                std::fprintf(
                    stderr, "harness: --sample-every-ms wants a number of milliseconds, got '%s'\n",
                    argv[i]);
                return 2;
            }
        } else
            usage(2);
    }
    if (payload > bench::max_payload_bytes) {
        std::fprintf(stderr, "harness: --payload-bytes at most %zu\n", bench::max_payload_bytes);
        return 2;
    }
    outcome (*job)(std::uint64_t, std::size_t, std::size_t) = nullptr;
    if (mode == "naive")
        job = run_naive;
    else if (mode == "batch")
        job = run_batch;
    else if (mode == "stream")
        job = run_stream;
    else if (mode == "guard")
        job = run_guard;
    else
        usage(2);

    (void)bench::payload_pool(); // made before the clock starts, as Python's is
    try {
        auto const t0 = std::chrono::steady_clock::now();
        outcome const out = job(records, batch, payload);
        double const secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf(
            "mode=%s records=%llu batch=%llu seconds=%.6f records_per_s=%.0f peak_rss_kib=%llu "
            "batches=%llu guard_samples=%llu guard_events=%llu checksum=%llu\n",
            mode.c_str(), static_cast<unsigned long long>(out.records),
            static_cast<unsigned long long>(batch), secs,
            secs > 0 ? double(out.records) / secs : 0.0,
            static_cast<unsigned long long>(bench::peak_rss_bytes() / 1024),
            static_cast<unsigned long long>(out.batches),
            static_cast<unsigned long long>(out.guard_samples),
            static_cast<unsigned long long>(out.guard_events),
            static_cast<unsigned long long>(out.checksum));
        if (out.records != records) {
            std::fprintf(stderr, "harness: %llu records in, %llu out\n",
                         static_cast<unsigned long long>(records),
                         static_cast<unsigned long long>(out.records));
            return 1;
        }
    } catch (std::exception const& e) {
        std::fprintf(stderr, "harness: %s\n", e.what());
        return 1;
    }
    return 0;
}
