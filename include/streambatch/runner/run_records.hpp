// streambatch/runner/run_records.hpp: run records a person and a monitoring system can read.
//
// In:     a directory of the user's choosing; per-batch samples while the job runs; the final
//         streambatch::run_report and the run's configuration (name/value pairs).
// Out:    in that directory:
//         - memory_profile.json: [{"index", "size", "rss_bytes", "used_fraction", "latency_ms",
//           "t_s"}, ...] one object per line, streamed while the job runs;
//         - run_record.json: {"report": {...}, "configuration": {...}} (the report names the
//           partition: partition_index, partition_count);
//         - execution_summary.md: a readable summary with a table;
//         - metrics.prom: the Prometheus text format for node_exporter's textfile collector.
//         run_record.json, execution_summary.md and metrics.prom are written atomically
//         (temp file, fsync, rename), so a collector never reads half a file.
// Models: run_recorder writes; prometheus_text() and summary_markdown() only format.
// Memory: one open file (the profile); nothing per batch is kept in memory.
// Errors: run_record_error naming the file, with errno's text (the atomic writer's
//         atomic_file_error, detail/atomic_file.hpp, rewrapped). See docs/runner.md.
// Example:
//     streambatch::run_recorder rec("runs/2026-11-25", "load customers");
//     rec.add({.index = 0, .size = 1000, .rss_bytes = 5 << 20, .used_fraction = 0.1});
//     rec.finish(report, {{"batch", "1000"}});

#ifndef STREAMBATCH_RUNNER_RUN_RECORDS_HPP_INCLUDED
#define STREAMBATCH_RUNNER_RUN_RECORDS_HPP_INCLUDED

#include <streambatch/detail/atomic_file.hpp>
#include <streambatch/detail/json.hpp>
#include <streambatch/runner/run_report.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace streambatch {

/// A run record (memory_profile.json, run_record.json, ...) could not be written; what() names
/// the file and gives errno's text.
class run_record_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One completed batch, as memory_profile.json records it.
struct batch_sample {
    std::uint64_t index = 0;
    std::size_t size = 0;
    std::uint64_t rss_bytes = 0;
    double used_fraction = 0;
    std::chrono::nanoseconds latency{0};
    std::chrono::nanoseconds at{0}; ///< since the run started
};

using run_configuration = std::vector<std::pair<std::string, std::string>>;

namespace detail {
[[noreturn]] inline void run_record_system_error(std::string const& what,
                                                 std::filesystem::path const& p)
{
    throw run_record_error("streambatch: run record " + p.string() + ": " + what + ": " +
                           std::strerror(errno));
}

/// write_file_atomically, reporting a failure as a run_record_error.
inline void write_run_record(std::filesystem::path const& p, std::string const& text)
{
    try {
        write_file_atomically(p, text);
    } catch (atomic_file_error const& e) {
        throw run_record_error("streambatch: run record " + p.string() + ": " + e.reason());
    }
}

inline double ms(std::chrono::nanoseconds d)
{
    return std::chrono::duration<double, std::milli>(d).count();
}
inline double seconds(std::chrono::nanoseconds d)
{
    return std::chrono::duration<double>(d).count();
}
inline std::string fmt(char const* f, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}
inline std::string prom_label(std::string const& s)
{
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}
} // namespace detail

/// The report in the Prometheus text exposition format (one gauge family each).
inline std::string prometheus_text(run_report const& r)
{
    std::string const job =
        "{job=\"" + detail::prom_label(r.job) + "\"" +
        (r.part.whole() ? std::string()
                        : ",partition=\"" + std::to_string(r.part.index) + "\",partitions=\"" +
                              std::to_string(r.part.count) + "\"") +
        "}";
    std::string out;
    auto metric = [&](char const* name, char const* help, std::string const& value) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
               job + " " + value + "\n";
    };
    metric("streambatch_records", "Records processed by the last run.", std::to_string(r.records));
    metric("streambatch_batches", "Batches processed by the last run.", std::to_string(r.batches));
    metric("streambatch_elapsed_seconds", "Wall time of the last run.",
           detail::json_number(detail::seconds(r.elapsed)));
    metric("streambatch_records_per_second", "Throughput of the last run.",
           detail::json_number(r.records_per_second));
    metric("streambatch_batch_latency_p50_seconds", "Median batch latency.",
           detail::json_number(detail::seconds(r.latency_p50)));
    metric("streambatch_batch_latency_p95_seconds", "95th percentile batch latency.",
           detail::json_number(detail::seconds(r.latency_p95)));
    metric("streambatch_batch_latency_max_seconds", "Slowest batch.",
           detail::json_number(detail::seconds(r.latency_max)));
    metric("streambatch_peak_rss_bytes", "Peak resident set size (VmHWM).",
           std::to_string(r.peak_rss_bytes));
    metric("streambatch_waited_for_slot_seconds",
           "Time the producer waited on the in-flight limit.",
           detail::json_number(detail::seconds(r.waited_for_slot)));
    metric("streambatch_guard_events", "Memory guard decisions during the last run.",
           std::to_string(r.guard_events.size()));
    metric("streambatch_checkpoint_seconds",
           "Time spent writing checkpoint files (on a writer thread, off the job's path).",
           detail::json_number(detail::seconds(r.checkpoint_time)));
    metric("streambatch_resumed_from_records", "Records already done by earlier runs (checkpoint).",
           std::to_string(r.resumed_from_records));
    metric("streambatch_completed", "1 if the last run completed, 0 if it failed.",
           r.completed ? "1" : "0");
    return out;
}

/// A readable summary with a table.
inline std::string summary_markdown(run_report const& r, run_configuration const& config)
{
    std::string s = "# " + r.job +
                    (r.part.whole() ? std::string() : " (partition " + r.part.str() + ")") + ": " +
                    (r.completed ? "completed" : "FAILED") + "\n\n";
    if (!r.completed)
        s += "Error: `" + r.error + "`\n\n";
    s += "| figure | value |\n|---|---|\n";
    auto row = [&](std::string const& k, std::string const& v) {
        s += "| " + k + " | " + v + " |\n";
    };
    row("records", std::to_string(r.records));
    row("batches", std::to_string(r.batches));
    row("elapsed", detail::fmt("%.3f s", detail::seconds(r.elapsed)));
    row("records/s", detail::fmt("%.0f", r.records_per_second));
    row("batch latency p50 / p95 / max", detail::fmt("%.3f", detail::ms(r.latency_p50)) + " / " +
                                             detail::fmt("%.3f", detail::ms(r.latency_p95)) +
                                             " / " +
                                             detail::fmt("%.3f ms", detail::ms(r.latency_max)));
    row("peak RSS", detail::fmt("%.1f MiB", double(r.peak_rss_bytes) / (1 << 20)));
    row("batches in flight (limit / peak)",
        std::to_string(r.max_in_flight) + " / " + std::to_string(r.peak_in_flight));
    row("waited for a slot", detail::fmt("%.3f s", detail::seconds(r.waited_for_slot)));
    row("batches started under a lowered limit", std::to_string(r.in_flight_lowered));
    row("checkpoints written", std::to_string(r.checkpoints_written) + " (" +
                                   detail::fmt("%.3f s", detail::seconds(r.checkpoint_time)) + ")");
    if (r.resumed_from_records != 0)
        row("resumed after", std::to_string(r.resumed_from_records) + " records (" +
                                 std::to_string(r.resumed_from_batches) + " batches)");
    row("memory guard events", std::to_string(r.guard_events.size()));
    if (!r.guard_events.empty()) {
        s += "\n## Memory guard events\n\n";
        for (auto const& e : r.guard_events)
            s += "- " + e.describe() + "\n";
    }
    if (!config.empty()) {
        s += "\n## Configuration\n\n| setting | value |\n|---|---|\n";
        for (auto const& [k, v] : config)
            s += "| " + k + " | " + v + " |\n";
    }
    return s;
}

/// Writes a run's records into a directory (see the header comment).
class run_recorder {
    std::filesystem::path dir_;
    std::string job_;
    std::FILE* profile_ = nullptr;
    bool first_ = true;

public:
    run_recorder(std::filesystem::path dir, std::string job)
        : dir_(std::move(dir)), job_(std::move(job))
    {
        std::filesystem::create_directories(dir_);
        auto const p = dir_ / "memory_profile.json";
        profile_ = std::fopen(p.c_str(), "w");
        if (!profile_)
            detail::run_record_system_error("cannot create", p);
        std::fputs("[\n", profile_);
    }
    run_recorder(run_recorder const&) = delete;
    run_recorder& operator=(run_recorder const&) = delete;
    ~run_recorder()
    {
        if (profile_)
            std::fclose(profile_);
    }

    std::filesystem::path const& directory() const noexcept { return dir_; }

    void add(batch_sample const& b)
    {
        std::fprintf(
            profile_,
            "%s{\"index\": %llu, \"size\": %zu, \"rss_bytes\": %llu, \"used_fraction\": %.6f, "
            "\"latency_ms\": %.6f, \"t_s\": %.6f}",
            first_ ? "" : ",\n", static_cast<unsigned long long>(b.index), b.size,
            static_cast<unsigned long long>(b.rss_bytes), b.used_fraction, detail::ms(b.latency),
            detail::seconds(b.at));
        first_ = false;
    }

    void finish(run_report const& r, run_configuration const& config)
    {
        if (profile_) {
            std::fputs(first_ ? "]\n" : "\n]\n", profile_);
            std::fclose(profile_);
            profile_ = nullptr;
        }
        using detail::json_number;
        using detail::json_quote;
        std::string j = "{\n  \"report\": {\n";
        auto field = [&](char const* k, std::string const& v, bool last = false) {
            j += std::string("    \"") + k + "\": " + v + (last ? "\n" : ",\n");
        };
        field("job", json_quote(r.job));
        field("partition_index", std::to_string(r.part.index));
        field("partition_count", std::to_string(r.part.count));
        field("completed", r.completed ? "true" : "false");
        field("error", json_quote(r.error));
        field("records", std::to_string(r.records));
        field("batches", std::to_string(r.batches));
        field("elapsed_s", json_number(detail::seconds(r.elapsed)));
        field("records_per_second", json_number(r.records_per_second));
        field("latency_p50_ms", json_number(detail::ms(r.latency_p50)));
        field("latency_p95_ms", json_number(detail::ms(r.latency_p95)));
        field("latency_max_ms", json_number(detail::ms(r.latency_max)));
        field("peak_rss_bytes", std::to_string(r.peak_rss_bytes));
        field("waited_for_slot_s", json_number(detail::seconds(r.waited_for_slot)));
        field("max_in_flight", std::to_string(r.max_in_flight));
        field("peak_in_flight", std::to_string(r.peak_in_flight));
        field("in_flight_lowered", std::to_string(r.in_flight_lowered));
        field("checkpoints_written", std::to_string(r.checkpoints_written));
        field("checkpoint_time_s", json_number(detail::seconds(r.checkpoint_time)));
        field("resumed_from_records", std::to_string(r.resumed_from_records));
        field("resumed_from_batches", std::to_string(r.resumed_from_batches));
        field("first_position", json_quote(r.first_position));
        field("last_position", json_quote(r.last_position));
        std::string events = "[";
        for (std::size_t i = 0; i < r.guard_events.size(); ++i) {
            auto const& e = r.guard_events[i];
            events += std::string(i ? ", " : "") +
                      "{\"what\": " + json_quote(guard_event::name(e.what)) +
                      ", \"old_size\": " + std::to_string(e.old_size) +
                      ", \"new_size\": " + std::to_string(e.new_size) +
                      ", \"batch\": " + std::to_string(e.batch) +
                      ", \"used_fraction\": " + json_number(e.snapshot.used_fraction) +
                      ", \"rss_bytes\": " + std::to_string(e.snapshot.rss_bytes) + "}";
        }
        events += "]";
        field("guard_events", events, true);
        j += "  },\n  \"configuration\": {";
        for (std::size_t i = 0; i < config.size(); ++i)
            j += std::string(i ? ", " : "") + "\n    " + json_quote(config[i].first) + ": " +
                 json_quote(config[i].second);
        j += config.empty() ? "}\n}\n" : "\n  }\n}\n";
        detail::write_run_record(dir_ / "run_record.json", j);
        detail::write_run_record(dir_ / "execution_summary.md", summary_markdown(r, config));
        detail::write_run_record(dir_ / "metrics.prom", prometheus_text(r));
    }
};

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_RUN_RECORDS_HPP_INCLUDED
