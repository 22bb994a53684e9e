// examples/stream_records.cpp: the main job. Streams generated customer-like records through
// views::memory_guarded, cleans each one, and prints records/s, batches, peak RSS and the
// guard's events. Copy it as the template of a job whose source is a single-pass range.
//
//     stream_records [--records N] [--record-bytes B] [--batch N] [--jobs K] [--record-dir DIR]
//
// Defaults: 1 000 000 records of about 500 bytes, batches of 1 000, one batch in flight.
// Peak RSS does not grow with --records: only --jobs batches of records are alive at a time.
// The job runs under streambatch::for_each_batch: cleaning on up to --jobs threads, the sink
// in batch order, a progress line when stderr is a terminal, run records with --record-dir.
//
// test-args is what CTest runs (small, quick); docs/examples.md runs the defaults.
// test-args: --records 20000 --record-bytes 300 --batch 500 --jobs 2 --record-dir run

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include "common/args.hpp"
#include "common/data.hpp"
#include "common/payloads.hpp"

namespace sb = streambatch;

namespace {

struct raw_record { // as it comes from the source: text fields
    std::string id;
    std::string name;
    std::string payload;
};

struct customer { // as the sink wants it
    std::int64_t id = 0;
    std::string name;
    std::string payload;
};

/// A single-pass source that makes records on the fly, like a file or a cursor would: each
/// record is built when the iterator reaches it, and nothing is kept.
class generated_records : public std::ranges::view_interface<generated_records> {
    std::uint64_t count_ = 0;
    std::size_t payload_bytes_ = 450;

public:
    class iterator {
        generated_records const* src_ = nullptr;
        std::uint64_t i_ = 0;
        mutable raw_record current_; // the source's buffer: the batch moves records out of it

        // Written into the source's own strings, reusing their capacity; the payload is a
        // window of a pool of random letters (a memcpy), distinct for every record.
        void make()
        {
            examples::assign_id(current_.id, i_ + 1);
            examples::assign_name(current_.name, i_ + 1);
            examples::assign_payload(current_.payload, src_->payload_bytes_, i_);
        }

    public:
        using value_type = raw_record;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(generated_records const& s) : src_(&s)
        {
            if (src_->count_ > 0)
                make();
        }
        raw_record& operator*() const { return current_; }
        iterator& operator++()
        {
            if (++i_ < src_->count_)
                make();
            return *this;
        }
        void operator++(int) { ++*this; }
        bool done() const { return i_ >= src_->count_; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) { return it.done(); }
    };

    generated_records() = default;
    generated_records(std::uint64_t count, std::size_t record_bytes)
        : count_(count), payload_bytes_(record_bytes > 50 ? record_bytes - 50 : 1)
    {}
    iterator begin() const
    {
        (void)examples::payload_pool(payload_bytes_); // made once, before the first record
        return iterator(*this);
    }
    std::default_sentinel_t end() const { return {}; }
};

/// The light clean step: trim and lower-case the name, parse the id, build a new record.
customer clean(raw_record&& r)
{
    auto trim = [](std::string_view s) {
        auto const b = s.find_first_not_of(' ');
        auto const e = s.find_last_not_of(' ');
        return b == std::string_view::npos ? std::string_view{} : s.substr(b, e - b + 1);
    };
    customer c;
    auto const id = trim(r.id);
    if (std::from_chars(id.data(), id.data() + id.size(), c.id).ec != std::errc())
        throw std::runtime_error("bad id '" + r.id + "'");
    c.name = trim(r.name);
    std::transform(c.name.begin(), c.name.end(), c.name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    c.payload = std::move(r.payload);
    return c;
}

/// Peak RSS of this process (VmHWM), in KiB.
long peak_rss_kib()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("stream_records",
                               "Streams generated customer-like records through a memory guard.");
    std::uint64_t records = 1'000'000;
    std::size_t record_bytes = 500, batch = 1'000, jobs = 1;
    std::string record_dir;
    cli.number("--records", records, "records to generate");
    cli.number("--record-bytes", record_bytes, "bytes per record, about", std::size_t{1},
               std::size_t{1} << 30);
    cli.number("--batch", batch, "records per batch (fewer while memory is tight)");
    cli.number("--jobs", jobs, "batches in flight (cleaned on up to K threads)", std::size_t{1},
               std::size_t{1024});
    cli.text("--record-dir", record_dir,
             "write run_record.json, memory_profile.json, execution_summary.md and metrics.prom "
             "into DIR/<UTC time>-<pid>/ (DIR/latest: the newest run)");
    cli.parse(argc, argv);

    (void)examples::payload_pool(record_bytes); // the payloads' pool, made before the clock starts
    sb::memory_guard guard;                     // reads /proc and this process's memory cgroup
    sb::run_options options{
        .max_in_flight = jobs, .record_dir = record_dir, .expected_records = records};
    options.job = "stream_records";
    options.configuration = {{"records", std::to_string(records)},
                             {"record_bytes", std::to_string(record_bytes)},
                             {"batch", std::to_string(batch)}};
    options.watch(guard); // guard events in the report; fewer batches in flight under pressure

    std::uint64_t seen = 0, checksum = 0; // touched by commit only: one thread at a time
    sb::run_report const report = sb::for_each_batch(
        generated_records(records, record_bytes) |
            sb::views::memory_guarded(batch, std::ref(guard)),
        // process: on up to --jobs threads
        [](sb::batch<raw_record>& b) {
            std::vector<customer> cleaned;
            cleaned.reserve(b.size());
            for (auto& r : b)
                cleaned.push_back(clean(std::move(r)));
            return cleaned;
        },
        // commit: in batch order, one at a time; stands in for sink.insert(batch)
        [&](std::vector<customer>&& cleaned) {
            for (auto const& c : cleaned)
                checksum += static_cast<std::uint64_t>(c.id) + c.name.size() +
                            static_cast<unsigned char>(c.payload[0]);
            seen += cleaned.size();
        },
        options);

    fmt::print("records      {}\n", report.records);
    fmt::print("batches      {} (starting size {}, {} in flight at most)\n", report.batches, batch,
               jobs);
    fmt::print("elapsed      {:.3f} s\n", std::chrono::duration<double>(report.elapsed).count());
    fmt::print("records/s    {:.0f}\n", report.records_per_second);
    fmt::print("batch p50/p95/max  {:.3f} / {:.3f} / {:.3f} ms\n",
               std::chrono::duration<double, std::milli>(report.latency_p50).count(),
               std::chrono::duration<double, std::milli>(report.latency_p95).count(),
               std::chrono::duration<double, std::milli>(report.latency_max).count());
    fmt::print("peak RSS     {:.1f} MiB (VmHWM)\n", double(peak_rss_kib()) / 1024);
    fmt::print("memory       {}, {} probe samples\n", guard.last_snapshot(), guard.samples());
    fmt::print("guard events {}\n", report.guard_events.size());
    for (auto const& e : report.guard_events)
        fmt::print("  {}\n", e);
    fmt::print("checksum     {}\n", checksum);
    if (!record_dir.empty())
        fmt::print("run records  {}\n", report.run_dir.string());
    fmt::print("report       {}\n", report);

    if (seen != records || report.records != records) {
        fmt::print(stderr, "stream_records: {} records in, {} out\n", records, seen);
        return 1;
    }
    return 0;
}
