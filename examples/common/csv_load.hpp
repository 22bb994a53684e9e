// examples/common/csv_load.hpp: what csv_to_sqlite and csv_to_postgres share: their command-line
// options, the customer CSV (generated when missing), the clean step, the job itself
// (streambatch::run_job over a csv::file_source: resume, the input's identity, the fence, a
// graceful stop), the summary and the exit codes. Each example keeps only its database: the
// table and its job_sink.

#ifndef STREAMBATCH_EXAMPLES_COMMON_CSV_LOAD_HPP
#define STREAMBATCH_EXAMPLES_COMMON_CSV_LOAD_HPP

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/job.hpp>

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
#include "job.hpp"

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
    bool append = false;  ///< the CSV may have grown since the checkpoint: load the new rows
    bool sampled = false; ///< check the input's identity by samples, not every consumed byte

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
        cli.text("--record-dir", record_dir,
                 "write the run records into DIR/<UTC time>-<pid>/ (DIR/latest: the newest)");
        cli.flag("--fresh", fresh, "start over: drop the table and its checkpoint first");
        cli.flag("--append", append,
                 "an incremental load: the CSV may have grown since the last run; load its new "
                 "rows (without it a grown CSV is refused)");
        cli.flag("--sampled-identity", sampled,
                 "on resume, check the CSV by size, head, tail and samples, not by re-reading "
                 "every byte already loaded (docs/guarantees.md)");
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

/// The file source of a CSV job: the settings' file, bad rows to FILE.rejects.jsonl (or
/// FILE.part-….rejects.jsonl), the identity check the user chose.
inline csv::file_source csv_source(csv_load_settings const& settings,
                                   streambatch::partition part = {})
{
    std::string const suffix = part == streambatch::partition{} ? "" : "." + part.name();
    return csv::file_source(settings.csv,
                            {.bad_rows = csv::on_error::skip,
                             .reject_path = settings.csv.string() + suffix + ".rejects.jsonl",
                             .partition = part},
                            {.mode = settings.sampled ? streambatch::io::identity_mode::sampled
                                                      : streambatch::io::identity_mode::full,
                             .allow_append = settings.append});
}

/// The job's options from the settings: batch, in flight, record directory, expected rows.
inline streambatch::job_options job_options(std::string job, csv_load_settings const& settings,
                                            streambatch::partition part = {})
{
    streambatch::job_options o{.job = std::move(job), .part = part, .batch = settings.batch};
    o.run.max_in_flight = settings.jobs;
    o.run.record_dir = settings.record_dir;
    o.run.expected_records = part == streambatch::partition{} ? settings.rows : 0;
    return o;
}

/// The clean step of a batch, on up to --jobs threads (with --throttle-us, a pause after it).
inline auto clean_step(csv_load_settings const& settings)
{
    return [pause = std::chrono::microseconds(settings.throttle_us)](auto& batch) {
        std::vector<customer> cleaned;
        cleaned.reserve(std::ranges::size(batch));
        for (csv::row const& r : batch)
            cleaned.push_back(clean(r));
        if (pause.count() > 0)
            std::this_thread::sleep_for(pause);
        return cleaned;
    };
}

/// "resuming at line 1201 (byte 80311, 1200 rows done)" when the sink had a state.
inline void print_resuming(std::optional<streambatch::job_state> const& from)
{
    if (!from)
        return;
    csv::position const p = csv::parse_position(from->position);
    fmt::print("resumed at line {} (byte {}, {} rows done)\n", p.line, p.byte_offset, p.rows);
}

/// What run_main adds to an input_changed error of a CSV job.
inline constexpr char const* csv_input_hint =
    "nothing was loaded; --append loads the new rows of a CSV that grew, --fresh starts over";

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
    if (!r.run_dir.empty())
        fmt::print("run records  {} ({})\n", r.run_dir.string(), streambatch::to_text(r.status));
    fmt::print("guard events {}\n", r.guard_events.size());
    for (auto const& e : r.guard_events)
        fmt::print("  {}\n", e);
}

} // namespace examples

#endif
