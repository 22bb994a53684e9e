// examples/common/csv_load.hpp: what csv_to_sqlite and csv_to_postgres share: their command-line
// options, the customer CSV (generated when missing), the clean step, the CSV position as
// checkpoint text, the run itself (for_each_batch under a memory guard) and the summary. Each
// example keeps only its database: the table, where the checkpoint is kept, and the load.

#ifndef STREAMBATCH_EXAMPLES_COMMON_CSV_LOAD_HPP
#define STREAMBATCH_EXAMPLES_COMMON_CSV_LOAD_HPP

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>
#include <streambatch/io/csv.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "args.hpp"
#include "data.hpp"

namespace examples {

namespace csv = streambatch::csv;

/// A cleaned customer: id, name, email, country, balance (the table's columns, in order).
using customer = std::tuple<std::int64_t, std::string, std::string, std::string, double>;

struct csv_load_settings {
    std::filesystem::path csv = "customers.csv";
    std::uint64_t rows = 1'000'000;
    std::size_t batch = 1000;
    std::size_t jobs = 1;
    std::uint64_t throttle_us = 0; ///< for the kill tests: a pause after each batch
    std::string record_dir;
    bool fresh = false;

    void add_to(command_line& cli)
    {
        cli.path("--csv", csv, "the CSV of customers; generated when it does not exist");
        cli.number("--rows", rows, "rows to generate when the CSV does not exist");
        cli.number("--batch", batch, "records per batch (fewer while memory is tight)");
        cli.number("--jobs", jobs, "batches in flight, cleaned on up to this many threads",
                   std::size_t{1}, std::size_t{1024});
        cli.number("--throttle-us", throttle_us,
                   "pause after each batch, in microseconds (kill tests)", std::uint64_t{0},
                   std::uint64_t{60'000'000});
        cli.text("--record-dir", record_dir, "write the run records into this directory");
        cli.flag("--fresh", fresh, "start over: drop the table and its checkpoint first");
    }
};

/// Writes `rows` customers to `path` unless it exists: to PATH.part first, renamed when complete.
inline void generate_csv_if_missing(std::filesystem::path const& path, std::uint64_t rows)
{
    if (std::filesystem::exists(path))
        return;
    fmt::print("generating {} with {} rows\n", path.string(), rows);
    auto const tmp = std::filesystem::path(path.string() + ".part");
    {
        csv::writer w(tmp);
        w.write_row({"id", "name", "email", "country", "balance"});
        for (std::uint64_t i = 1; i <= rows; ++i) {
            customer_fields const c = make_customer(i);
            w.write_row({c.id, c.name, c.email, c.country, c.balance});
        }
    }
    std::filesystem::rename(tmp, path);
}

/// The clean step: id parsed, name trimmed, email lower-cased, balance parsed. A bad number
/// throws csv::parse_error naming the line and column.
inline customer clean(csv::row const& r)
{
    std::string_view name = r.at("name");
    while (!name.empty() && name.front() == ' ')
        name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ')
        name.remove_suffix(1);
    std::string email(r.at("email"));
    std::transform(email.begin(), email.end(), email.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return {r.get<std::int64_t>("id"), std::string(name), std::move(email),
            std::string(r.at("country")), r.get<double>("balance")};
}

inline void print_resuming(csv::position const& from)
{
    fmt::print("resuming at line {} (byte {}, {} rows done)\n", from.line, from.byte_offset,
               from.rows);
    std::fflush(stdout); // a kill -9 must not eat the line
}

/// The job: `reader`'s rows in batches of settings.batch under a memory guard, cleaned on up to
/// settings.jobs threads; each cleaned batch goes, in batch order, to load(cleaned, position):
/// `position` is where the CSV stands after that batch (what a checkpoint must hold).
/// `options` brings the job's name, record_dir (set it before set_partition, which appends the
/// partition's name to it), expected records and the like; this sets in-flight, resume and
/// position.
template <class Load>
streambatch::run_report run_load(csv_load_settings const& settings, csv::reader& reader,
                                 std::optional<csv::position> const& from,
                                 streambatch::run_options options, Load&& load)
{
    namespace sb = streambatch;
    sb::memory_guard guard;
    options.max_in_flight = settings.jobs;
    options.resume_from.records = from ? from->rows : 0;
    options.position = [&reader] {
        return csv::to_string(reader.position());
    }; // when a batch is pulled
    options.watch(guard);
    auto const pause = std::chrono::microseconds(settings.throttle_us);
    return sb::for_each_batch(
        std::ranges::ref_view(reader) | sb::views::memory_guarded(settings.batch, std::ref(guard)),
        [](auto& b) { // clean: on up to --jobs threads
            std::vector<customer> cleaned;
            cleaned.reserve(b.size());
            for (csv::row const& r : b)
                cleaned.push_back(clean(r));
            return cleaned;
        },
        [&](std::vector<customer>&& cleaned, sb::batch_info const& info) { // load: in order
            load(cleaned, csv::parse_position(info.position));
            if (pause.count() > 0)
                std::this_thread::sleep_for(pause);
        },
        options);
}

/// The lines after "loaded ...": batches, records/s, peak RSS, checkpoint files, guard events.
inline void print_summary(streambatch::run_report const& r, csv_load_settings const& settings)
{
    fmt::print("batches      {} (starting size {}, {} in flight at most)\n", r.batches,
               settings.batch, settings.jobs);
    fmt::print("records/s    {:.0f} over {:.3f} s\n", r.records_per_second,
               std::chrono::duration<double>(r.elapsed).count());
    fmt::print("peak RSS     {:.1f} MiB\n", double(r.peak_rss_bytes) / (1 << 20));
    if (r.checkpoints_written != 0)
        fmt::print("checkpoints  {} files, {:.3f} s writing them (on a thread of their own)\n",
                   r.checkpoints_written, std::chrono::duration<double>(r.checkpoint_time).count());
    fmt::print("guard events {}\n", r.guard_events.size());
    for (auto const& e : r.guard_events)
        fmt::print("  {}\n", e);
}

} // namespace examples

#endif
