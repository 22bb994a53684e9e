// streambatch/runner/run_report.hpp: what a job did, as for_each_batch reports it.
//
// In:     filled in by streambatch::for_each_batch as batches complete.
// Out:    streambatch::run_report: records, batches, elapsed, records/s, batch latency
//         p50/p95/max, peak RSS (VmHWM), time the producer waited on the in-flight limit, the
//         largest number of batches in flight, how often memory pressure lowered that limit, the
//         guard's events, where the run started (a resumed run) and how it ended, and the
//         partition it processed (run_options::set_partition).
// Models: a plain aggregate; latency_histogram is a fixed log-scale histogram (12.5 % wide
//         buckets from 1 ns to ~584 years), so percentiles cost O(1) memory however many batches.
// Memory: the histogram (512 counters) and the guard events (one per decision; decisions are rare).
// Errors: none thrown. See docs/runner.md.
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
#include <string>
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
    bool completed = false;     ///< false when the run ended with an exception
    std::string error;          ///< what() of that exception
};

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_RUN_REPORT_HPP_INCLUDED
