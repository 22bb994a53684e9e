// streambatch/interop/fmt.hpp: fmt formatters for what a job logs.
//
// In:     nothing; include it (fmt 9 or later available, link fmt::fmt) where you log with fmt.
// Out:    fmt::formatter specialisations, each one line of text:
//           memory_snapshot     "83.1% used (cgroup), rss 201.3 MiB"
//           guard_event         "shrink 1000 -> 500 at batch 12: 83.1% used (cgroup), rss 201.3
//           MiB"
//                               (the same text as guard_event::describe())
//           guard_event::kind   "shrink"
//           partition           "3/8"
//           csv::position       "line 12, byte 3456 (10 rows, 1 skipped)"
//           run_report          "JOB[ part I/N]: R records in B batches, 0.125 s, 160000 records/s,
//                                batch p50/p95/max 1.000/2.000/3.000 ms, peak RSS 12.3 MiB,
//                                G guard events[, resumed after N records][, C checkpoints]
//                                [; failed: WHAT]"  (one line; "JOB: " only when job is set)
//         Each takes a string's format spec (fill, alignment, width): fmt::format("{:>60}", e).
// Models: fmt::formatter<T> for the types above.
// Memory: formats into a small buffer, then copies it out.
// Errors: fmt::format_error for a spec a string would refuse.
// Example:
//     fmt::print("{}\n", report);
//     guard.on_event([](streambatch::guard_event const& e) { fmt::print(stderr, "guard: {}\n", e);
//     });
// See docs/fmt.md.

#ifndef STREAMBATCH_INTEROP_FMT_HPP_INCLUDED
#define STREAMBATCH_INTEROP_FMT_HPP_INCLUDED

#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/guard/memory_probe.hpp>
#include <streambatch/io/csv/options.hpp>
#include <streambatch/partition.hpp>
#include <streambatch/runner/run_report.hpp>

#include <fmt/format.h>

#include <chrono>
#include <iterator>
#include <string_view>

namespace streambatch::detail::fmt_interop {

inline double mib(std::uint64_t bytes) noexcept
{
    return double(bytes) / (1 << 20);
}
inline double ms(std::chrono::nanoseconds d) noexcept
{
    return std::chrono::duration<double, std::milli>(d).count();
}

template <class Out>
Out snapshot(Out out, memory_snapshot const& s)
{
    return fmt::format_to(out, "{:.1f}% used ({}), rss {:.1f} MiB", 100.0 * s.used_fraction,
                          s.source == memory_source::cgroup ? "cgroup" : "system",
                          mib(s.rss_bytes));
}

/// Formats T as text with one of the functions below, then applies a string's spec to it.
template <class T>
struct text_formatter : fmt::formatter<fmt::string_view> {
    template <class Context>
    auto format(T const& value, Context& ctx) const -> decltype(ctx.out())
    {
        fmt::memory_buffer buf;
        write(std::back_inserter(buf), value);
        return fmt::formatter<fmt::string_view>::format(fmt::string_view(buf.data(), buf.size()),
                                                        ctx);
    }

private:
    template <class Out>
    static void write(Out out, memory_snapshot const& s)
    {
        snapshot(out, s);
    }
    template <class Out>
    static void write(Out out, guard_event::kind k)
    {
        fmt::format_to(out, "{}", guard_event::name(k));
    }
    template <class Out>
    static void write(Out out, guard_event const& e)
    {
        out = fmt::format_to(out, "{} {} -> {} at batch {}: ", guard_event::name(e.what),
                             e.old_size, e.new_size, e.batch);
        snapshot(out, e.snapshot);
    }
    template <class Out>
    static void write(Out out, partition const& p)
    {
        fmt::format_to(out, "{}/{}", p.index, p.count);
    }
    template <class Out>
    static void write(Out out, csv::position const& p)
    {
        fmt::format_to(out, "line {}, byte {} ({} rows, {} skipped)", p.line, p.byte_offset, p.rows,
                       p.skipped);
    }
    template <class Out>
    static void write(Out out, run_report const& r)
    {
        if (!r.job.empty())
            out = fmt::format_to(out, "{}", r.job);
        if (!r.part.whole())
            out = fmt::format_to(out, "{}part {}/{}", r.job.empty() ? "" : " ", r.part.index,
                                 r.part.count);
        if (!r.job.empty() || !r.part.whole())
            out = fmt::format_to(out, ": ");
        out = fmt::format_to(
            out,
            "{} records in {} batches, {:.3f} s, {:.0f} records/s, batch p50/p95/max "
            "{:.3f}/{:.3f}/{:.3f} ms, peak RSS {:.1f} MiB, {} guard events",
            r.records, r.batches, std::chrono::duration<double>(r.elapsed).count(),
            r.records_per_second, ms(r.latency_p50), ms(r.latency_p95), ms(r.latency_max),
            mib(r.peak_rss_bytes), r.guard_events.size());
        if (r.resumed_from_records != 0)
            out = fmt::format_to(out, ", resumed after {} records", r.resumed_from_records);
        if (r.checkpoints_written != 0)
            out = fmt::format_to(out, ", {} checkpoints", r.checkpoints_written);
        if (r.status == run_status::stopped)
            out = fmt::format_to(out, " (stopped)");
        if (!r.completed && !r.error.empty())
            fmt::format_to(out, "; failed: {}", r.error);
    }
};

} // namespace streambatch::detail::fmt_interop

template <>
struct fmt::formatter<streambatch::memory_snapshot>
    : streambatch::detail::fmt_interop::text_formatter<streambatch::memory_snapshot> {};
template <>
struct fmt::formatter<streambatch::guard_event::kind>
    : streambatch::detail::fmt_interop::text_formatter<streambatch::guard_event::kind> {};
template <>
struct fmt::formatter<streambatch::guard_event>
    : streambatch::detail::fmt_interop::text_formatter<streambatch::guard_event> {};
template <>
struct fmt::formatter<streambatch::partition>
    : streambatch::detail::fmt_interop::text_formatter<streambatch::partition> {};
template <>
struct fmt::formatter<streambatch::csv::position>
    : streambatch::detail::fmt_interop::text_formatter<streambatch::csv::position> {};
template <>
struct fmt::formatter<streambatch::run_report>
    : streambatch::detail::fmt_interop::text_formatter<streambatch::run_report> {};

#endif // STREAMBATCH_INTEROP_FMT_HPP_INCLUDED
