// examples/common/csv_load.hpp: what csv_to_sqlite and csv_to_postgres share: their command-line
// options, the customer CSV (generated when missing), the clean step (clean, or clean_full with
// --validate), the job itself (streambatch::run_job over a csv::file_source: resume, the input's
// identity, the fence, a graceful stop; run_csv_job, timed by a stage_timer with --stage-times),
// the summary and the exit codes. Each example keeps only its database: the
// table and its job_sink.

#ifndef STREAMBATCH_EXAMPLES_COMMON_CSV_LOAD_HPP
#define STREAMBATCH_EXAMPLES_COMMON_CSV_LOAD_HPP

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/job.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
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

#include <sys/resource.h>
#include <time.h>

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
    bool append = false;      ///< the CSV may have grown since the checkpoint: load the new rows
    bool sampled = false;     ///< check the input's identity by samples, not every consumed byte
    bool validate = false;    ///< clean_full: every field validated and normalised (benchmarks)
    bool stage_times = false; ///< print where the time went (benchmarks): see stage_timer

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
        cli.flag("--validate", validate,
                 "validate and normalise every field as well (name, email, country, balance): "
                 "a cleaning step of realistic cost, for benchmarks");
        cli.flag("--stage-times", stage_times,
                 "print the CPU and wall time of the clean step and the sink, and the sink's "
                 "idle time (for benchmarks)");
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
    for (char& c : email) // ASCII: std::tolower is a call per byte into the C locale
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return {r.get<std::int64_t>("id"), std::string(name), std::move(email),
            std::string(r.at("country")), r.get<double>("balance")};
}

namespace detail {

inline bool is_blank(unsigned char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

inline std::string_view trimmed(std::string_view s) noexcept
{
    while (!s.empty() && is_blank(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && is_blank(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

/// Length of the UTF-8 sequence at s[i] (1 to 4), or 0 when it is not well formed (overlong
/// forms, surrogates and code points past U+10FFFF included).
inline std::size_t utf8_length(std::string_view s, std::size_t i) noexcept
{
    auto const at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char const c = at(i);
    if (c < 0x80)
        return 1;
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0)
        n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (i + n > s.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((at(i + k) & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (at(i + k) & 0x3F);
    }
    static constexpr std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

[[noreturn]] inline void invalid(csv::row const& r, char const* field, std::string const& why)
{
    throw std::invalid_argument("line " + std::to_string(r.line()) + ", " + field + ": " + why);
}

/// A person's name: blanks trimmed, runs of blanks (line breaks too) made one space, each
/// word's first ASCII letter upper-case; well-formed UTF-8 without control characters, 1 to
/// 200 bytes.
inline std::string normal_name(csv::row const& r, std::string_view in)
{
    in = trimmed(in);
    if (in.empty() || in.size() > 200)
        invalid(r, "name", "empty or longer than 200 bytes");
    std::string out;
    out.reserve(in.size());
    bool word_start = true;
    for (std::size_t i = 0; i < in.size();) {
        auto const c = static_cast<unsigned char>(in[i]);
        if (is_blank(c)) {
            if (!word_start)
                out += ' ';
            word_start = true;
            ++i;
            continue;
        }
        if (c < 0x20 || c == 0x7F)
            invalid(r, "name", "a control character");
        std::size_t const n = utf8_length(in, i);
        if (n == 0)
            invalid(r, "name", "not UTF-8 at byte " + std::to_string(i));
        if (n == 1 && word_start && c >= 'a' && c <= 'z')
            out += static_cast<char>(c - 'a' + 'A');
        else
            out.append(in.substr(i, n));
        word_start = false;
        i += n;
    }
    if (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

/// An e-mail address: trimmed, lower-case, local@domain with a dot-separated domain whose labels
/// are letters, digits and inner hyphens and whose last label is 2+ letters; the local part
/// letters, digits and . _ % + - without a dot at either end or two in a row.
inline std::string normal_email(csv::row const& r, std::string_view in)
{
    in = trimmed(in);
    std::string e(in);
    for (char& c : e)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    auto const at = e.find('@');
    if (at == std::string::npos || at == 0 || e.find('@', at + 1) != std::string::npos ||
        e.size() > 254)
        invalid(r, "email", "not one local part and one domain: '" + e + "'");
    auto const alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    std::string_view const local(e.data(), at);
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
        invalid(r, "email", "a misplaced dot in '" + e + "'");
    for (char c : local)
        if (!alnum(c) && c != '.' && c != '_' && c != '%' && c != '+' && c != '-')
            invalid(r, "email", "a bad character in '" + e + "'");
    std::string_view domain(e.data() + at + 1, e.size() - at - 1);
    std::size_t labels = 0;
    std::string_view label;
    while (true) {
        auto const dot = domain.find('.');
        label = domain.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            invalid(r, "email", "a bad domain in '" + e + "'");
        for (char c : label)
            if (!alnum(c) && c != '-')
                invalid(r, "email", "a bad domain in '" + e + "'");
        ++labels;
        if (dot == std::string_view::npos)
            break;
        domain.remove_prefix(dot + 1);
    }
    if (labels < 2 || label.size() < 2 ||
        !std::all_of(label.begin(), label.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
        invalid(r, "email", "no top-level domain in '" + e + "'");
    return e;
}

/// A country: trimmed, upper-case, one of the ISO 3166-1 alpha-2 codes below.
inline std::string normal_country(csv::row const& r, std::string_view in)
{
    static constexpr std::string_view codes[] = {
        "AR", "AT", "AU", "BE", "BG", "BR", "CA", "CH", "CL", "CN", "CO", "CY", "CZ",
        "DE", "DK", "EE", "EG", "ES", "FI", "FR", "GB", "GH", "GR", "HK", "HR", "HU",
        "ID", "IE", "IL", "IN", "IS", "IT", "JP", "KE", "KR", "LT", "LU", "LV", "MA",
        "MT", "MX", "MY", "NG", "NL", "NO", "NZ", "PE", "PH", "PK", "PL", "PT", "RO",
        "RS", "SA", "SE", "SG", "SI", "SK", "TH", "TR", "TW", "UA", "US", "VN", "ZA"};
    in = trimmed(in);
    std::string c(in);
    for (char& ch : c)
        if (ch >= 'a' && ch <= 'z')
            ch = static_cast<char>(ch - 'a' + 'A');
    if (!std::binary_search(std::begin(codes), std::end(codes), std::string_view(c)))
        invalid(r, "country", "not a known ISO 3166 code: '" + c + "'");
    return c;
}

} // namespace detail

/// The clean step with --validate: the id a positive number, every text field trimmed,
/// validated and normalised (detail::normal_name, normal_email, normal_country), the balance
/// finite, within +-1e12, rounded to cents. A bad field throws std::invalid_argument naming the
/// line and the field (a bad number: csv::parse_error, as clean()).
inline customer clean_full(csv::row const& r)
{
    auto const id = r.get<std::int64_t>("id");
    if (id <= 0)
        detail::invalid(r, "id", "not positive: " + std::to_string(id));
    double balance = r.get<double>("balance");
    if (!std::isfinite(balance) || std::fabs(balance) > 1e12)
        detail::invalid(r, "balance", "out of range: " + std::string(r.at("balance")));
    balance = std::round(balance * 100) / 100;
    return {id, detail::normal_name(r, r.at("name")), detail::normal_email(r, r.at("email")),
            detail::normal_country(r, r.at("country")), balance};
}

/// --stage-times: where a run's time went. The clean step's and the sink's commits' time, as
/// CPU time of the thread that ran them (which a loaded machine does not inflate) and as wall
/// time; the sink's idle time (wall: from the start to its first commit, and between commits);
/// the process's CPU time (getrusage), whose rest is the source's and the runner's.
class stage_timer {
    std::atomic<std::int64_t> clean_cpu_{0}, clean_wall_{0};
    // Commits run one at a time (the runner hands them over under its lock).
    std::int64_t commit_cpu_ = 0, commit_wall_ = 0, sink_idle_ = 0, commits_ = 0;
    std::chrono::steady_clock::time_point start_{}, last_end_{};
    std::int64_t cpu_start_ = 0;

    static std::int64_t process_cpu_ns()
    {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        auto const ns = [](timeval t) {
            return std::int64_t(t.tv_sec) * 1'000'000'000 + std::int64_t(t.tv_usec) * 1000;
        };
        return ns(u.ru_utime) + ns(u.ru_stime);
    }
    static double s(std::int64_t ns) { return double(ns) / 1e9; }

public:
    bool on = false;

    static std::int64_t thread_cpu_ns() noexcept
    {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }
    static std::int64_t ns_between(std::chrono::steady_clock::time_point a,
                                   std::chrono::steady_clock::time_point b) noexcept
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
    }

    void start()
    {
        start_ = last_end_ = std::chrono::steady_clock::now();
        cpu_start_ = process_cpu_ns();
    }
    void add_clean(std::int64_t cpu, std::int64_t wall) noexcept
    {
        clean_cpu_.fetch_add(cpu, std::memory_order_relaxed);
        clean_wall_.fetch_add(wall, std::memory_order_relaxed);
    }
    /// The sink's time in a commit (or a send: `batch` true), or in a confirm (false).
    void add_commit(std::chrono::steady_clock::time_point t0,
                    std::chrono::steady_clock::time_point t1, std::int64_t cpu,
                    bool batch = true) noexcept
    {
        sink_idle_ += ns_between(last_end_, t0);
        commit_wall_ += ns_between(t0, t1);
        commit_cpu_ += cpu;
        last_end_ = t1;
        commits_ += batch ? 1 : 0;
    }
    /// One line of key=value pairs, seconds (bench/jobs_scaling.sh reads it).
    void print() const
    {
        std::int64_t const elapsed = ns_between(start_, std::chrono::steady_clock::now());
        std::int64_t const cpu = process_cpu_ns() - cpu_start_;
        std::int64_t const clean_cpu = clean_cpu_.load(), clean_wall = clean_wall_.load();
        fmt::print("stage times  clean_cpu={:.3f} clean_wall={:.3f} sink_cpu={:.3f} "
                   "sink_wall={:.3f} sink_idle={:.3f} commits={} process_cpu={:.3f} "
                   "source_runner_cpu={:.3f} elapsed={:.3f} sink_busy={:.1f}%\n",
                   s(clean_cpu), s(clean_wall), s(commit_cpu_), s(commit_wall_), s(sink_idle_),
                   commits_, s(cpu), s(cpu - clean_cpu - commit_cpu_), s(elapsed),
                   elapsed > 0 ? 100.0 * double(commit_wall_) / double(elapsed) : 0.0);
    }
};

/// A job_sink that times each commit into a stage_timer when it is on.
template <class Sink>
class timed_sink {
    Sink& sink_;
    stage_timer& t_;

    template <class F>
    void timed(F f, bool batch)
    {
        if (!t_.on)
            return f();
        auto const t0 = std::chrono::steady_clock::now();
        std::int64_t const c0 = stage_timer::thread_cpu_ns();
        f();
        t_.add_commit(t0, std::chrono::steady_clock::now(), stage_timer::thread_cpu_ns() - c0,
                      batch);
    }

public:
    timed_sink(Sink& sink, stage_timer& t) : sink_(sink), t_(t) {}
    std::optional<streambatch::job_state> open(streambatch::job_key const& key)
    {
        auto state = sink_.open(key);
        if (t_.on)
            t_.start();
        return state;
    }
    template <class Batch>
    void commit(Batch&& b, streambatch::job_state const& state)
    {
        timed([&] { sink_.commit(std::forward<Batch>(b), state); }, true);
    }
    /// A sink that confirms later (postgres::job_sink) stays one: send now, confirm later.
    template <class Batch>
        requires streambatch::confirming_job_sink<Sink, Batch&&>
    void send(Batch&& b, streambatch::job_state const& state)
    {
        timed([&] { sink_.send(std::forward<Batch>(b), state); }, true);
    }
    void confirm()
        requires requires(Sink& s) { s.confirm(); }
    {
        timed([&] { sink_.confirm(); }, false);
    }
    /// A sink that holds batches in one transaction (postgres::job_sink with transaction_rows)
    /// stays one: the verdict on each batch, a commit now and then.
    bool confirm_or_hold()
        requires requires(Sink& s) { s.confirm_or_hold(); }
    {
        bool committed = true;
        timed([&] { committed = sink_.confirm_or_hold(); }, false);
        return committed;
    }
    void close() noexcept { sink_.close(); }
    std::string describe() const { return sink_.describe(); }
};

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

/// The clean step of a batch, on up to --jobs threads (with --throttle-us, a pause after it):
/// clean(), or clean_full() with --validate. With a stage_timer that is on, its time is added.
inline auto clean_step(csv_load_settings const& settings, stage_timer* timer = nullptr)
{
    return [pause = std::chrono::microseconds(settings.throttle_us), full = settings.validate,
            timer = timer && timer->on ? timer : nullptr](auto& batch) {
        auto const t0 = std::chrono::steady_clock::now();
        std::int64_t const c0 = timer ? stage_timer::thread_cpu_ns() : 0;
        std::vector<customer> cleaned;
        cleaned.reserve(std::ranges::size(batch));
        if (full)
            for (csv::row const& r : batch)
                cleaned.push_back(clean_full(r));
        else
            for (csv::row const& r : batch)
                cleaned.push_back(clean(r));
        if (timer)
            timer->add_clean(stage_timer::thread_cpu_ns() - c0,
                             stage_timer::ns_between(t0, std::chrono::steady_clock::now()));
        if (pause.count() > 0)
            std::this_thread::sleep_for(pause);
        return cleaned;
    };
}

/// streambatch::run_job(in, clean_step(settings), out, options), and with --stage-times the
/// clean step and the sink's commits timed (stage_timer), its line printed at the end.
template <class Source, class Sink>
streambatch::job_result run_csv_job(Source& in, Sink& out, streambatch::job_options options,
                                    csv_load_settings const& settings)
{
    stage_timer timer;
    timer.on = settings.stage_times;
    timed_sink<Sink> timed(out, timer);
    streambatch::job_result r =
        streambatch::run_job(in, clean_step(settings, &timer), timed, std::move(options));
    if (timer.on)
        timer.print();
    return r;
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
