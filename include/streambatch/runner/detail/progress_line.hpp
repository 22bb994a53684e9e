// streambatch/runner/detail/progress_line.hpp: the runner's single updating line on a terminal.
//
// progress_mode::automatic draws it only when stderr is a terminal; at most four redraws a
// second, and a last one with a newline at the end. See docs/runner.md.

#ifndef STREAMBATCH_RUNNER_DETAIL_PROGRESS_LINE_HPP_INCLUDED
#define STREAMBATCH_RUNNER_DETAIL_PROGRESS_LINE_HPP_INCLUDED

#include <streambatch/runner/run_options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace streambatch::detail {

/// The single updating line on a terminal: records, rate, RSS, batch size, ETA.
class progress_line {
    bool on_ = false;
    std::chrono::steady_clock::time_point last_{};
    bool drawn_ = false;

public:
    explicit progress_line(progress_mode m)
        : on_(m == progress_mode::always || (m == progress_mode::automatic && ::isatty(2)))
    {}
    bool on() const noexcept { return on_; }

    void update(std::string const& job, std::uint64_t records, std::uint64_t expected, double secs,
                std::uint64_t rss, std::size_t batch_size, bool force = false)
    {
        if (!on_)
            return;
        auto const now = std::chrono::steady_clock::now();
        if (!force && drawn_ && now - last_ < std::chrono::milliseconds(250))
            return;
        last_ = now;
        drawn_ = true;
        double const rate = secs > 0 ? double(records) / secs : 0;
        char eta[48] = "";
        if (expected > records && rate > 0) {
            auto const left = static_cast<long long>(double(expected - records) / rate);
            std::snprintf(eta, sizeof eta, "  ETA %lld:%02lld:%02lld", left / 3600, left / 60 % 60,
                          left % 60);
        }
        std::fprintf(stderr, "\r\033[K%s: %llu records  %.0f rec/s  RSS %.1f MiB  batch %zu%s",
                     job.c_str(), static_cast<unsigned long long>(records), rate,
                     double(rss) / (1 << 20), batch_size, eta);
        std::fflush(stderr);
    }
    void finish()
    {
        if (on_ && drawn_) {
            std::fputc('\n', stderr);
            std::fflush(stderr);
        }
    }
};

} // namespace streambatch::detail

#endif // STREAMBATCH_RUNNER_DETAIL_PROGRESS_LINE_HPP_INCLUDED
