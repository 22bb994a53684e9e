// streambatch/runner/run_report.hpp: what a job did, as for_each_batch reports it.
//
// In:     filled in by streambatch::for_each_batch as batches complete.
// Out:    streambatch::run_report: records, batches, elapsed, records/s, batch latency
//         p50/p95/max, peak RSS (VmHWM), time the producer waited on the in-flight limit, the
//         largest number of batches in flight, how often memory pressure lowered that limit, the
//         guard's events, where the run started (a resumed run) and how it ended (its
//         run_status: running, completed, failed, stopped, killed), the partition it processed
//         (run_options::set_partition) and its run directory (run_dir, with a record_dir).
//         to_text(run_status) and run_status_from_text(text) convert a status to and from the
//         word that run_record.json and metrics.prom carry.
// Models: a plain aggregate; latency_histogram is a fixed log-scale histogram (12.5 % wide
//         buckets from 1 ns to ~584 years), so percentiles cost O(1) memory however many batches.
// Memory: the histogram (512 counters) and the guard events (one per decision; decisions are rare).
// Errors: none thrown (run_status_from_text returns nullopt for an unknown word). See
//         docs/runner.md.
// Example:
//     streambatch::run_report r = streambatch::for_each_batch(batches, fn);
//     std::printf("%llu records, p95 %.1f ms\n", (unsigned long long)r.records,
//                 std::chrono::duration<double, std::milli>(r.latency_p95).count());

#ifndef STREAMBATCH_RUNNER_RUN_REPORT_HPP_INCLUDED
#define STREAMBATCH_RUNNER_RUN_REPORT_HPP_INCLUDED

#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/partition.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streambatch {

/// Latencies in log-scale buckets: 8 per power of two.
class latency_histogram {
    static constexpr int per_octave = 8;
    std::array<std::uint64_t, 64 * per_octave> counts_{};
    std::uint64_t total_ = 0;
    std::chrono::nanoseconds max_{0};

    static std::size_t bucket(std::uint64_t ns)
    {
        if (ns < 2)
            return 0;
        int const octave = 63 - std::countl_zero(ns);
        // the next 3 bits below the leading one pick the sub-bucket
        std::uint64_t const sub = octave >= 3 ? (ns >> (octave - 3)) & 7 : (ns << (3 - octave)) & 7;
        return static_cast<std::size_t>(octave) * per_octave + static_cast<std::size_t>(sub);
    }
    static std::uint64_t upper_bound(std::size_t b)
    {
        int const octave = static_cast<int>(b / per_octave);
        double const sub = double(b % per_octave);
        return static_cast<std::uint64_t>(std::ldexp(1.0 + (sub + 1) / per_octave, octave));
    }

public:
    void add(std::chrono::nanoseconds d)
    {
        auto const ns = static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0);
        ++counts_[bucket(ns)];
        ++total_;
        if (d > max_)
            max_ = d;
    }
    std::uint64_t count() const noexcept { return total_; }
    std::chrono::nanoseconds max() const noexcept { return max_; }

    /// The q-quantile (0 < q <= 1), as its bucket's upper bound (never above max()).
    std::chrono::nanoseconds quantile(double q) const
    {
        if (total_ == 0)
            return std::chrono::nanoseconds(0);
        auto const rank = static_cast<std::uint64_t>(std::ceil(q * double(total_)));
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < counts_.size(); ++b) {
            seen += counts_[b];
            if (seen >= rank && counts_[b] != 0) {
                auto const ub = std::chrono::nanoseconds(static_cast<std::int64_t>(upper_bound(b)));
                return ub < max_ ? ub : max_;
            }
        }
        return max_;
    }
};

/// How a run stands or ended. `running` while for_each_batch runs (run_record.json is rewritten
/// with the current figures every run_options::record_every); `completed`: every batch done;
/// `failed`: an exception ended it; `stopped`: run_options::stop was requested and the batches
/// already pulled were finished; `killed`: the process died without finishing its record (set
/// by the next run in the same record_dir, which finds the process gone).
enum class run_status { running, completed, failed, stopped, killed };

/// The status's word: "running", "completed", "failed", "stopped", "killed".
constexpr std::string_view to_text(run_status s) noexcept
{
    switch (s) {
    case run_status::running:
        return "running";
    case run_status::completed:
        return "completed";
    case run_status::failed:
        return "failed";
    case run_status::stopped:
        return "stopped";
    case run_status::killed:
        return "killed";
    }
    return "unknown";
}

/// The status a word names (to_text's inverse); nullopt for any other word.
constexpr std::optional<run_status> run_status_from_text(std::string_view text) noexcept
{
    for (auto s : {run_status::running, run_status::completed, run_status::failed,
                   run_status::stopped, run_status::killed})
        if (to_text(s) == text)
            return s;
    return std::nullopt;
}

struct run_report {
    std::string job;
    partition part{};          ///< which share of the input ({0, 1}: all of it)
    std::uint64_t records = 0; ///< records processed by this run
    std::uint64_t batches = 0; ///< batches processed by this run
    std::chrono::nanoseconds elapsed{0};
    double records_per_second = 0;
    std::chrono::nanoseconds latency_p50{0}; ///< of process + commit, per batch
    std::chrono::nanoseconds latency_p95{0};
    std::chrono::nanoseconds latency_max{0};
    std::uint64_t peak_rss_bytes = 0;            ///< VmHWM of the process at the end
    std::chrono::nanoseconds waited_for_slot{0}; ///< producer time blocked on the in-flight limit
    std::size_t max_in_flight = 1;               ///< the limit asked for
    std::size_t peak_in_flight = 0;              ///< the most batches alive at once
    std::uint64_t in_flight_lowered =
        0; ///< batches started under a limit lowered by memory pressure
    std::vector<guard_event> guard_events;
    std::uint64_t resumed_from_records = 0; ///< where the run started (a checkpoint), 0 if fresh
    std::uint64_t resumed_from_batches = 0;
    std::uint64_t checkpoints_written = 0;
    std::chrono::nanoseconds checkpoint_time{
        0};                     ///< spent writing them (a writer thread's, but the last)
    std::string first_position; ///< the source position before the first batch
    std::string last_position;  ///< after the batches completed contiguously (as checkpointed)
    run_status status = run_status::running; ///< how the run ended (see run_status)
    bool completed = false;                  ///< status == run_status::completed
    std::string error;               ///< what() of the exception that ended it ("" unless failed)
    std::filesystem::path run_dir;   ///< this run's directory under record_dir ("" without one)
    std::uint64_t push_failures = 0; ///< metric pushes that failed (run_options::push_url)
};

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_RUN_REPORT_HPP_INCLUDED
