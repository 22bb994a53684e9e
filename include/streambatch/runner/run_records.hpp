// streambatch/runner/run_records.hpp: run records a person and a monitoring system can read,
// that survive the process being killed.
//
// In:     a record_dir of the user's choosing; per-batch samples while the job runs; the
//         report's figures while it runs and at the end; the run's configuration (name/value
//         pairs).
// Out:    run_recorder(record_dir, job) makes this run's own directory,
//         <record_dir>/<UTC yyyymmddThhmmssZ>-<pid>[-N]/ (directory()), points the symlink
//         <record_dir>/latest at it (relative, replaced atomically), and marks "killed" every
//         sibling run of this host whose record says "running" but whose process is gone
//         (killed_runs()). In the run directory:
//         - memory_profile.json: JSON Lines, one complete object per completed batch
//           ({"index", "size", "rss_bytes", "used_fraction", "latency_ms", "t_s"}), each line
//           one write(2) to a file opened O_APPEND, so a kill leaves at most a torn last line;
//         - run_record.json: {"report": {..., "status", ...}, "run": {"pid", "host", "boot_id",
//           "start_ticks", "started_utc", "updated_utc", "run_dir"}, "configuration": {...}},
//           written at the start with status "running", rewritten by update() while the job
//           runs and by finish() at the end (completed, failed, stopped);
//         - metrics.prom: the Prometheus text format for node_exporter's textfile collector,
//           written with run_record.json each time (streambatch_run_status{status="..."},
//           streambatch_push_failures_total: pushes to run_options::push_url that failed);
//           prometheus_text(report, false) is the same without the job/partition labels (what
//           is pushed to a Pushgateway, whose group path carries them; runner/detail/push.hpp);
//         - execution_summary.md: a readable summary with a table, at the end.
//         The last three are written atomically (temp file, fsync, rename), so a collector
//         never reads half a file. read_memory_profile(path) reads memory_profile.json back
//         (skipping a torn last line, and saying so); to_text/run_status_from_text (run_report.hpp)
//         name the status.
// Models: run_recorder writes; prometheus_text(), summary_markdown() and run_record_json() only
//         format; read_memory_profile() only reads.
// Memory: one open file (the profile); nothing per batch is kept in memory.
// Errors: run_record_error naming the file, with errno's text (the atomic writer's
//         atomic_file_error, detail/atomic_file.hpp, rewrapped); finish() tries every file and
//         throws the first failure with the others appended ("; also: ..."). read_memory_profile:
//         run_record_error naming the file, the line and its byte offset for a malformed line
//         that is not the last. See docs/runner.md.
// Example:
//     streambatch::run_recorder rec("runs/nightly", "load customers");   // runs/nightly/2026...
//     rec.add({.index = 0, .size = 1000, .rss_bytes = 5 << 20, .used_fraction = 0.1});
//     report.status = streambatch::run_status::completed;
//     rec.finish(report, {{"batch", "1000"}});
//     auto profile = streambatch::read_memory_profile("runs/nightly/latest/memory_profile.json");

#ifndef STREAMBATCH_RUNNER_RUN_RECORDS_HPP_INCLUDED
#define STREAMBATCH_RUNNER_RUN_RECORDS_HPP_INCLUDED

#include <streambatch/detail/atomic_file.hpp>
#include <streambatch/detail/json.hpp>
#include <streambatch/detail/parse.hpp>
#include <streambatch/detail/process.hpp>
#include <streambatch/runner/run_report.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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

/// The report in the Prometheus text exposition format (one gauge family each, and the counter
/// streambatch_push_failures_total). With `grouping_labels` (metrics.prom) each sample carries
/// job="..." and, for one partition of several, partition="3",partitions="8"; without them (the
/// text pushed to a Pushgateway) it carries none: the group's path gives the same labels.
inline std::string prometheus_text(run_report const& r, bool grouping_labels = true)
{
    std::string const labels =
        !grouping_labels
            ? std::string()
            : "job=\"" + detail::prom_label(r.job) + "\"" +
                  (r.part.whole() ? std::string()
                                  : ",partition=\"" + std::to_string(r.part.index) +
                                        "\",partitions=\"" + std::to_string(r.part.count) + "\"");
    std::string const job = labels.empty() ? std::string() : "{" + labels + "}";
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
    metric("streambatch_completed", "1 if the last run completed, 0 otherwise.",
           r.completed ? "1" : "0");
    // The status as a state set: one sample per status, 1 for the run's own.
    out += "# HELP streambatch_push_failures_total Metric pushes to the Pushgateway that failed "
           "(run_options::push_url).\n"
           "# TYPE streambatch_push_failures_total counter\n"
           "streambatch_push_failures_total" +
           job + " " + std::to_string(r.push_failures) + "\n";
    out += "# HELP streambatch_run_status The last run's status (1 for the current one).\n"
           "# TYPE streambatch_run_status gauge\n";
    for (auto s : {run_status::running, run_status::completed, run_status::failed,
                   run_status::stopped, run_status::killed})
        out += "streambatch_run_status{" + labels + (labels.empty() ? "" : ",") + "status=\"" +
               std::string(to_text(s)) + "\"} " + (s == r.status ? "1" : "0") + "\n";
    return out;
}

/// A readable summary with a table.
inline std::string summary_markdown(run_report const& r, run_configuration const& config)
{
    std::string s =
        "# " + r.job + (r.part.whole() ? std::string() : " (partition " + r.part.str() + ")") +
        ": " +
        (r.status == run_status::failed ? std::string("FAILED") : std::string(to_text(r.status))) +
        "\n\n";
    if (!r.error.empty())
        s += "Error: `" + r.error + "`\n\n";
    if (r.status == run_status::stopped)
        s += "Stopped on request (run_options::stop): the batches already pulled were "
             "finished.\n\n";
    s += "| figure | value |\n|---|---|\n";
    auto row = [&](std::string const& k, std::string const& v) {
        s += "| " + k + " | " + v + " |\n";
    };
    row("status", std::string(to_text(r.status)));
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
    for (auto const& [k, v] : config)
        if (k == "push_url")
            row("metric pushes failed (" + v + ")", std::to_string(r.push_failures));
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

/// Who is writing a run's records: what run_record.json's "run" section holds, and what a
/// later run checks to tell a live run from a killed one.
struct run_process {
    long pid = 0;
    std::string host;
    std::string boot_id;           ///< /proc/sys/kernel/random/boot_id ("" when unreadable)
    std::uint64_t start_ticks = 0; ///< /proc/<pid>/stat field 22 (0 when unreadable)
    std::string started_utc;       ///< "2026-12-05T21:48:01Z"
    std::filesystem::path run_dir;
};

namespace detail {

inline std::string utc_text(std::chrono::system_clock::time_point t, char const* format)
{
    std::time_t const tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

inline run_process this_process(std::filesystem::path run_dir)
{
    run_process p;
    p.pid = static_cast<long>(::getpid());
    p.host = host_name();
    p.boot_id = boot_id();
    p.start_ticks = process_start_ticks(p.pid);
    p.started_utc = utc_text(std::chrono::system_clock::now(), "%Y-%m-%dT%H:%M:%SZ");
    p.run_dir = std::move(run_dir);
    return p;
}

/// Writes all of `text` to `fd`: one write(2) unless the kernel takes less.
inline bool write_all(int fd, std::string_view text)
{
    while (!text.empty()) {
        ssize_t const n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

inline std::string what_of(std::exception_ptr e)
{
    try {
        std::rethrow_exception(e);
    } catch (std::exception const& x) {
        return x.what();
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}

} // namespace detail

/// run_record.json's text: the report, the process that ran it, and the configuration.
inline std::string run_record_json(run_report const& r, run_process const& proc,
                                   run_configuration const& config)
{
    using detail::json_number;
    using detail::json_quote;
    std::string j = "{\n  \"report\": {\n";
    auto field = [&](char const* k, std::string const& v, bool last = false) {
        j += std::string("    \"") + k + "\": " + v + (last ? "\n" : ",\n");
    };
    field("job", json_quote(r.job));
    field("partition_index", std::to_string(r.part.index));
    field("partition_count", std::to_string(r.part.count));
    field("status", json_quote(to_text(r.status)));
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
    field("push_failures", std::to_string(r.push_failures));
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
    j += "  },\n  \"run\": {\n";
    field("pid", std::to_string(proc.pid));
    field("host", json_quote(proc.host));
    field("boot_id", json_quote(proc.boot_id));
    field("start_ticks", std::to_string(proc.start_ticks));
    field("started_utc", json_quote(proc.started_utc));
    field("updated_utc",
          json_quote(detail::utc_text(std::chrono::system_clock::now(), "%Y-%m-%dT%H:%M:%SZ")));
    field("run_dir", json_quote(proc.run_dir.string()), true);
    j += "  },\n  \"configuration\": {";
    for (std::size_t i = 0; i < config.size(); ++i)
        j += std::string(i ? ", " : "") + "\n    " + json_quote(config[i].first) + ": " +
             json_quote(config[i].second);
    j += config.empty() ? "}\n}\n" : "\n  }\n}\n";
    return j;
}

/// Writes a run's records into a directory of its own under record_dir (see the header comment).
class run_recorder {
    std::filesystem::path record_dir_;
    std::filesystem::path dir_;
    std::string job_;
    int profile_ = -1;
    run_process proc_;
    std::vector<std::filesystem::path> killed_;

    // <record_dir>/<yyyymmddThhmmssZ>-<pid>, with -2, -3, ... when it exists.
    void make_run_directory()
    {
        std::error_code ec;
        std::filesystem::create_directories(record_dir_, ec);
        if (ec)
            throw run_record_error("streambatch: run record " + record_dir_.string() +
                                   ": cannot create the directory: " + ec.message());
        std::string const base =
            detail::utc_text(std::chrono::system_clock::now(), "%Y%m%dT%H%M%SZ") + "-" +
            std::to_string(::getpid());
        for (int n = 1;; ++n) {
            dir_ = record_dir_ / (n == 1 ? base : base + "-" + std::to_string(n));
            if (::mkdir(dir_.c_str(), 0755) == 0)
                return;
            if (errno != EEXIST || n == 1000)
                detail::run_record_system_error("cannot create the run directory", dir_);
        }
    }

    // record_dir/latest -> this run's directory name: a new symlink renamed over the old one.
    void point_latest_here()
    {
        auto const latest = record_dir_ / "latest";
        auto const tmp = record_dir_ / ("latest.tmp-" + std::to_string(::getpid()));
        ::unlink(tmp.c_str());
        if (::symlink(dir_.filename().c_str(), tmp.c_str()) != 0)
            detail::run_record_system_error("cannot create the symlink", tmp);
        if (::rename(tmp.c_str(), latest.c_str()) != 0) {
            int const err = errno;
            ::unlink(tmp.c_str());
            errno = err;
            detail::run_record_system_error("cannot point it at " + dir_.filename().string(),
                                            latest);
        }
    }

    // Sibling runs of this host whose record says "running" but whose process is gone: their
    // records are rewritten with status "killed". Unreadable records are not ours to judge.
    void mark_killed_siblings()
    {
        std::error_code ec;
        for (auto const& e : std::filesystem::directory_iterator(record_dir_, ec)) {
            std::error_code ec2;
            if (e.path() == dir_ || e.is_symlink(ec2) || !e.is_directory(ec2))
                continue;
            auto const file = e.path() / "run_record.json";
            std::ifstream in(file, std::ios::binary);
            if (!in)
                continue;
            std::stringstream ss;
            ss << in.rdbuf();
            std::string text = ss.str();
            std::map<std::string, std::map<std::string, std::string>> sections;
            try {
                sections = detail::parse_sections(text, file.string());
            } catch (std::exception const&) {
                continue;
            }
            auto const& report = sections["report"];
            auto const& run = sections["run"];
            auto get = [](std::map<std::string, std::string> const& m, char const* k) {
                auto it = m.find(k);
                return it == m.end() ? std::string() : it->second;
            };
            if (get(report, "status") != "running" || get(run, "host") != proc_.host)
                continue;
            long const pid = detail::parse_whole<long>(get(run, "pid")).value_or(0);
            if (!detail::process_gone(
                    pid, get(run, "boot_id"),
                    detail::parse_whole<std::uint64_t>(get(run, "start_ticks")).value_or(0)))
                continue;
            auto replace = [&](std::string const& from, std::string const& to) {
                if (auto at = text.find(from); at != std::string::npos)
                    text.replace(at, from.size(), to);
            };
            replace("\"status\": \"running\"", "\"status\": \"killed\"");
            replace("\"error\": \"\"",
                    "\"error\": " + detail::json_quote("killed: process " + std::to_string(pid) +
                                                       " ended without finishing its record "
                                                       "(found by the run in " +
                                                       dir_.filename().string() + ")"));
            try {
                detail::write_file_atomically(file, text);
                killed_.push_back(e.path());
            } catch (atomic_file_error const&) {
                // another run may be marking it too; what is on disk stays whole
            }
        }
    }

    void write(std::filesystem::path const& p, std::string const& text, std::string& failures)
    {
        try {
            detail::write_run_record(p, text);
        } catch (run_record_error const& e) {
            failures += (failures.empty() ? "" : "; also: ") + std::string(e.what());
        }
    }

public:
    /// Makes <record_dir>/<UTC time>-<pid>/ and its memory_profile.json, points
    /// <record_dir>/latest at it and marks dead siblings killed. run_record.json is written by
    /// update() (for_each_batch calls it at once, with status running).
    run_recorder(std::filesystem::path record_dir, std::string job)
        : record_dir_(std::move(record_dir)), job_(std::move(job))
    {
        make_run_directory();
        proc_ = detail::this_process(dir_);
        auto const p = dir_ / "memory_profile.json";
        profile_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (profile_ < 0)
            detail::run_record_system_error("cannot create", p);
        try {
            point_latest_here();
        } catch (...) {
            ::close(profile_);
            throw;
        }
        mark_killed_siblings();
    }
    run_recorder(run_recorder const&) = delete;
    run_recorder& operator=(run_recorder const&) = delete;
    ~run_recorder()
    {
        if (profile_ >= 0)
            ::close(profile_);
    }

    /// This run's directory: <record_dir>/<yyyymmddThhmmssZ>-<pid>[-N].
    std::filesystem::path const& directory() const noexcept { return dir_; }
    /// The process writing it, as run_record.json records it.
    run_process const& process() const noexcept { return proc_; }
    /// Sibling runs this one found "running" with their process gone, and marked "killed".
    std::vector<std::filesystem::path> const& killed_runs() const noexcept { return killed_; }

    /// Appends one line to memory_profile.json, in one write(2).
    void add(batch_sample const& b)
    {
        char line[256];
        int const n = std::snprintf(
            line, sizeof line,
            "{\"index\": %llu, \"size\": %zu, \"rss_bytes\": %llu, \"used_fraction\": %.6f, "
            "\"latency_ms\": %.6f, \"t_s\": %.6f}\n",
            static_cast<unsigned long long>(b.index), b.size,
            static_cast<unsigned long long>(b.rss_bytes), b.used_fraction, detail::ms(b.latency),
            detail::seconds(b.at));
        if (n <= 0 || static_cast<std::size_t>(n) >= sizeof line ||
            !detail::write_all(profile_, std::string_view(line, static_cast<std::size_t>(n))))
            detail::run_record_system_error("write failed", dir_ / "memory_profile.json");
    }

    /// Rewrites run_record.json and metrics.prom with `r` (status running while the job runs).
    void update(run_report const& r, run_configuration const& config)
    {
        std::string failures;
        write(dir_ / "run_record.json", run_record_json(r, proc_, config), failures);
        write(dir_ / "metrics.prom", prometheus_text(r), failures);
        if (!failures.empty())
            throw run_record_error(failures);
    }

    /// The final records: closes memory_profile.json, writes run_record.json,
    /// execution_summary.md and metrics.prom. Tries each; throws the first failure, with the
    /// others appended.
    void finish(run_report const& r, run_configuration const& config)
    {
        std::string failures;
        if (profile_ >= 0) {
            bool const synced = ::fsync(profile_) == 0;
            int const err = errno;
            bool const closed = ::close(profile_) == 0;
            profile_ = -1;
            if (!synced || !closed) {
                try {
                    errno = synced ? errno : err;
                    detail::run_record_system_error(synced ? "close failed" : "fsync failed",
                                                    dir_ / "memory_profile.json");
                } catch (run_record_error const& e) {
                    failures = e.what();
                }
            }
        }
        write(dir_ / "run_record.json", run_record_json(r, proc_, config), failures);
        write(dir_ / "execution_summary.md", summary_markdown(r, config), failures);
        write(dir_ / "metrics.prom", prometheus_text(r), failures);
        if (!failures.empty())
            throw run_record_error(failures);
    }
};

/// memory_profile.json read back: its samples, and whether a torn last line was skipped.
struct memory_profile {
    std::vector<batch_sample> samples;
    bool torn = false;  ///< the last line was cut off (the run was killed while writing it)
    std::string notice; ///< "<file>: skipped a torn last line (line N, byte offset B): ..."
};

/// Reads a memory_profile.json (JSON Lines; the 0.2 array form, "[" ... "]", is read too). A
/// last line that ends without a newline and does not parse is skipped, with `torn` and
/// `notice` set; any other malformed line is a run_record_error naming the file, the line and
/// its byte offset. A missing file or a directory is a run_record_error.
inline memory_profile read_memory_profile(std::filesystem::path const& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw run_record_error("streambatch: " + path.string() +
                               ": is a directory; give the memory_profile.json in it");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        detail::run_record_system_error("cannot open", path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string const text = ss.str();
    memory_profile out;
    std::size_t at = 0, line_no = 0;
    while (at < text.size()) {
        std::size_t const nl = text.find('\n', at);
        bool const last = nl == std::string::npos || nl + 1 == text.size();
        bool const ended = nl != std::string::npos;
        std::string_view line(text.data() + at, (ended ? nl : text.size()) - at);
        std::size_t const offset = at;
        ++line_no;
        at = ended ? nl + 1 : text.size();
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos || line == "[" || line == "]")
            continue;
        if (line.back() == ',') // the 0.2 array form
            line.remove_suffix(1);
        auto fail = [&](std::size_t byte, std::string const& what) {
            std::string const where = path.string() + ":" + std::to_string(line_no) +
                                      " (byte offset " + std::to_string(byte) + ")";
            if (last && !ended) {
                out.torn = true;
                out.notice = path.string() + ": skipped a torn last line (line " +
                             std::to_string(line_no) + ", byte offset " + std::to_string(offset) +
                             "): the run was killed while writing it";
                return;
            }
            throw run_record_error("streambatch: " + where + ": " + what);
        };
        std::map<std::string, std::string> m;
        try {
            m = detail::parse_flat_object(line, "");
        } catch (detail::json_error const& e) {
            std::string const w = e.what();
            auto const colon = w.find("): ");
            fail(offset + e.byte_offset, colon == std::string::npos ? w : w.substr(colon + 3));
            continue;
        }
        batch_sample b;
        bool ok = true;
        auto whole = [&](char const* k) -> std::uint64_t {
            auto it = m.find(k);
            auto v = it == m.end() ? std::nullopt : detail::parse_whole<std::uint64_t>(it->second);
            ok = ok && v.has_value();
            return v.value_or(0);
        };
        auto real = [&](char const* k) -> double {
            auto it = m.find(k);
            if (it == m.end() || it->second.empty()) {
                ok = false;
                return 0;
            }
            char* end = nullptr;
            double const d = std::strtod(it->second.c_str(), &end);
            ok = ok && end == it->second.c_str() + it->second.size();
            return d;
        };
        b.index = whole("index");
        b.size = static_cast<std::size_t>(whole("size"));
        b.rss_bytes = whole("rss_bytes");
        b.used_fraction = real("used_fraction");
        b.latency = std::chrono::nanoseconds(static_cast<std::int64_t>(real("latency_ms") * 1e6));
        b.at = std::chrono::nanoseconds(static_cast<std::int64_t>(real("t_s") * 1e9));
        if (!ok) {
            fail(offset, "expected a batch object with whole index, size and rss_bytes, and "
                         "used_fraction, latency_ms and t_s numbers");
            continue;
        }
        out.samples.push_back(b);
    }
    return out;
}

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_RUN_RECORDS_HPP_INCLUDED
