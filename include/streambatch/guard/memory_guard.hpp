// streambatch/guard/memory_guard.hpp: the policy that picks each batch's size from memory pressure.
//
// In:     the size the last batch had (`current`), at every batch boundary; a probe (default
//         proc_memory_probe: /proc + the memory cgroup) and a clock (default: the coarse
//         monotonic clock, ~5 ns a read), both injectable; memory_guard_options.
// Out:    next_batch_size(current) -> the size of the next batch:
//         - used >= shrink_at (0.80): current x shrink_factor (halve), not below floor (10),
//           at most once per call (= per completed batch); then the allocator is asked once to
//           give free memory back (glibc malloc_trim, or jemalloc's / mimalloc's own call when
//           that is the allocator), so RSS that is merely cached does not ratchet to the floor;
//         - used <= grow_at (0.60) for grow_after (3) samples in a row: grow by grow_factor
//           (x1.25, at least +1), never above the size of the first call;
//         - in between: hold;
//         - at the floor with used >= critical_at (0.95) for critical_for (2 s), or at once
//           with used >= exhausted_at (0.98): the action -
//           throw streambatch::memory_exhausted (the figures and the files they came from),
//           wait (back-pressure: sleep, trim and re-sample until used < critical_at), or carry on.
//         Every change and every critical action is a streambatch::guard_event for on_event().
// Models: a batch-size policy: `std::size_t next_batch_size(std::size_t current)`, the
//         interface views::memory_guarded takes; any type with that member works there.
//         Sampling is rate-limited: the probe is read when sample_every (5 ms) has passed since
//         the last reading, or sample_every_near (1 ms) once used >= grow_at; otherwise the
//         call is a clock read and a comparison.
// Memory: the probe's file descriptors and buffer; no allocation per call.
// Errors: invalid options throw std::invalid_argument naming memory_guard, option and value.
// Example:
//     streambatch::memory_guard guard({.shrink_at = 0.75});
//     guard.on_event([](streambatch::guard_event const& e) { log(e.describe()); });
//     for (auto&& batch : records | streambatch::views::memory_guarded(1000, std::ref(guard)))
//         sink.insert(batch);

#ifndef STREAMBATCH_GUARD_MEMORY_GUARD_HPP_INCLUDED
#define STREAMBATCH_GUARD_MEMORY_GUARD_HPP_INCLUDED

#include <streambatch/guard/memory_probe.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <dlfcn.h>
#include <time.h>
#if defined(__GLIBC__)
#    include <malloc.h>
#endif

namespace streambatch {

/// What the guard does when memory stays critical with batches already at the floor.
enum class critical_action {
    throw_exception, ///< throw memory_exhausted (the default: fail loudly, not be OOM-killed)
    wait,            ///< block at the batch boundary until memory falls (back-pressure)
    carry_on,        ///< report it as an event and go on
};

struct memory_guard_options {
    double shrink_at = 0.80;    ///< used fraction at or above which batches shrink
    double grow_at = 0.60;      ///< used fraction at or below which they may grow back
    double critical_at = 0.95;  ///< used fraction that, at the floor, triggers `on_critical`
    std::size_t floor = 10;     ///< smallest batch the guard asks for
    double shrink_factor = 0.5; ///< new size = current x this
    double grow_factor = 1.25;  ///< new size = current x this (at least +1)
    unsigned grow_after = 3;    ///< consecutive low samples before growing
    std::chrono::nanoseconds sample_every = std::chrono::milliseconds(5);
    std::chrono::nanoseconds sample_every_near =
        std::chrono::milliseconds(1);                                ///< once used >= grow_at
    std::chrono::nanoseconds critical_for = std::chrono::seconds(2); ///< grace at the floor
    /// At the floor with used at or above this (and critical_at), throw or wait at once, without
    /// critical_for's grace: memory still climbing at the floor is killed long before that.
    double exhausted_at = 0.98;
    critical_action on_critical = critical_action::throw_exception;
    std::chrono::nanoseconds wait_poll =
        std::chrono::milliseconds(50); ///< re-sample period while waiting
    std::chrono::nanoseconds wait_timeout = std::chrono::nanoseconds(0); ///< 0: wait for ever
    bool release_memory = true; ///< ask the allocator to return free memory after a shrink
    /// While batches are below the starting size and used stays above grow_at (memory freed by
    /// batches that drained since the last shrink may still sit in the allocator), ask again at
    /// most this often; 0: only right after a shrink.
    std::chrono::nanoseconds release_every = std::chrono::milliseconds(100);
};

/// One decision of the guard.
struct guard_event {
    enum class kind { shrink, grow, critical, waiting, resumed, exhausted };
    kind what = kind::shrink;
    std::size_t old_size = 0;
    std::size_t new_size = 0;
    std::uint64_t batch = 0;       ///< how many batch sizes the guard had been asked for
    std::chrono::nanoseconds at{}; ///< clock time of the decision
    memory_snapshot snapshot;      ///< the figures it acted on

    static char const* name(kind k) noexcept
    {
        switch (k) {
        case kind::shrink:
            return "shrink";
        case kind::grow:
            return "grow";
        case kind::critical:
            return "critical";
        case kind::waiting:
            return "waiting";
        case kind::resumed:
            return "resumed";
        case kind::exhausted:
            return "exhausted";
        }
        return "?";
    }

    /// "shrink 1000 -> 500 at batch 12: 83.1% used (cgroup), rss 201.3 MiB"
    std::string describe() const
    {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "%s %zu -> %zu at batch %llu: %.1f%% used (%s), rss %.1f MiB", name(what),
                      old_size, new_size, static_cast<unsigned long long>(batch),
                      100.0 * snapshot.used_fraction,
                      snapshot.source == memory_source::cgroup ? "cgroup" : "system",
                      double(snapshot.rss_bytes) / (1 << 20));
        return buf;
    }
};

/// Thrown when memory stays critical with batches at the floor (critical_action::throw_exception).
class memory_exhausted : public std::runtime_error {
public:
    memory_exhausted(std::string const& message, memory_snapshot s, std::size_t size)
        : std::runtime_error(message), snapshot(s), batch_size(size)
    {}
    memory_snapshot snapshot; ///< the figures at the time
    std::size_t batch_size;   ///< the batch size it could not go below
};

/// The guard's clock: now() as nanoseconds of a monotonic clock, and sleep_for().
struct coarse_clock {
    std::chrono::nanoseconds now() const noexcept
    {
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    }
    void sleep_for(std::chrono::nanoseconds d) const { std::this_thread::sleep_for(d); }
};

template <class P>
concept memory_probe = requires(P& p) {
    {
        p.sample()
    } -> std::same_as<memory_snapshot>;
    {
        p.sources()
    } -> std::convertible_to<std::string>;
};

template <class C>
concept guard_clock = requires(C& c, std::chrono::nanoseconds d) {
    {
        c.now()
    } -> std::same_as<std::chrono::nanoseconds>;
    c.sleep_for(d);
};

namespace detail {

/// Asks whichever allocator this process runs on to return free memory to the system.
/// jemalloc and mimalloc are found at run time (dlsym), so linking neither is needed.
inline void release_free_memory() noexcept
{
    using mallctl_fn = int (*)(char const*, void*, std::size_t*, void*, std::size_t);
    using mi_collect_fn = void (*)(bool);
    static auto const mallctl = reinterpret_cast<mallctl_fn>(::dlsym(RTLD_DEFAULT, "mallctl"));
    static auto const mi_collect =
        reinterpret_cast<mi_collect_fn>(::dlsym(RTLD_DEFAULT, "mi_collect"));
    if (mallctl) {
        mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0); // 4096 = MALLCTL_ARENAS_ALL
    } else if (mi_collect) {
        mi_collect(true);
    } else {
#if defined(__GLIBC__)
        ::malloc_trim(0);
#endif
    }
}

inline memory_guard_options const& checked(memory_guard_options const& o)
{
    auto fail = [](char const* name, double v, std::string const& why) {
        char num[64];
        std::snprintf(num, sizeof num, "%g", v);
        throw std::invalid_argument(std::string("streambatch::memory_guard: ") + name + " = " +
                                    num + ": " + why);
    };
    auto fraction = [&](char const* name, double v) {
        if (!(v > 0.0 && v <= 1.0))
            fail(name, v, "must be a fraction in (0, 1]");
    };
    fraction("shrink_at", o.shrink_at);
    fraction("grow_at", o.grow_at);
    fraction("critical_at", o.critical_at);
    if (o.grow_at >= o.shrink_at)
        fail("grow_at", o.grow_at, "must be below shrink_at");
    if (o.critical_at < o.shrink_at)
        fail("critical_at", o.critical_at, "must not be below shrink_at");
    fraction("exhausted_at", o.exhausted_at);
    if (o.floor == 0)
        fail("floor", 0, "a batch holds at least one record");
    if (!(o.shrink_factor > 0.0 && o.shrink_factor < 1.0))
        fail("shrink_factor", o.shrink_factor, "must be in (0, 1)");
    if (!(o.grow_factor > 1.0))
        fail("grow_factor", o.grow_factor, "must be above 1");
    if (o.sample_every.count() < 0 || o.sample_every_near.count() < 0 ||
        o.critical_for.count() < 0 || o.wait_timeout.count() < 0)
        fail("a duration", -1, "must not be negative");
    if (o.wait_poll.count() <= 0)
        fail("wait_poll", double(o.wait_poll.count()), "must be positive");
    return o;
}

} // namespace detail

/// The default batch-size policy; see the header comment. Probe and Clock are injectable.
template <memory_probe Probe, guard_clock Clock = coarse_clock>
class basic_memory_guard {
public:
    using observer = std::function<void(guard_event const&)>;

    explicit basic_memory_guard(memory_guard_options const& opts = {}, Probe probe = Probe(),
                                Clock clock = Clock())
        : opts_(detail::checked(opts)), probe_(std::move(probe)), clock_(std::move(clock))
    {}

    /// Called before every batch with the last size (the first call: the starting size).
    std::size_t next_batch_size(std::size_t current)
    {
        ++batches_;
        if (start_ == 0)
            start_ = std::max<std::size_t>(current, 1);
        current = std::max<std::size_t>(current, 1);
        auto const now = clock_.now();
        auto const every =
            last_.used_fraction >= opts_.grow_at ? opts_.sample_every_near : opts_.sample_every;
        // At critical, every batch boundary is sampled: a few fast batches can be the kill.
        if (samples_ != 0 && now - last_sample_at_ < every &&
            last_.used_fraction < opts_.critical_at)
            return current;
        sample(now);
        double const used = last_.used_fraction;
        std::size_t const floor = std::min(opts_.floor, start_);

        if (used >= opts_.shrink_at) {
            low_streak_ = 0;
            if (current > floor) {
                auto const next = std::max(
                    floor, static_cast<std::size_t>(double(current) * opts_.shrink_factor));
                emit(guard_event::kind::shrink, current, next, now);
                ++shrinks_;
                if (opts_.release_memory) {
                    release_();
                    ++releases_;
                    last_release_at_ = now;
                }
                critical_since_.reset();
                return next;
            }
            release_again(current, now);
            if (used >= opts_.critical_at)
                return at_critical(current, now);
            critical_since_.reset();
            return current;
        }
        critical_since_.reset();
        if (used <= opts_.grow_at) {
            if (++low_streak_ >= opts_.grow_after && current < start_) {
                low_streak_ = 0;
                auto grown = std::max(
                    current + 1, static_cast<std::size_t>(double(current) * opts_.grow_factor));
                auto const next = std::min(start_, grown);
                emit(guard_event::kind::grow, current, next, now);
                ++grows_;
                return next;
            }
            return current;
        }
        low_streak_ = 0;
        release_again(current, now);
        return current;
    }

    /// Adds `fn` to the observers called with every decision (shrink, grow, critical, waiting,
    /// resumed, exhausted), in the order they were added.
    void on_event(observer fn) { observers_.push_back(std::move(fn)); }
    /// Replaces the allocator call made after a shrink (tests count it).
    void on_release(std::function<void()> fn) { release_ = std::move(fn); }

    memory_guard_options const& options() const noexcept { return opts_; }
    memory_snapshot const& last_snapshot() const noexcept { return last_; }
    Probe& probe() noexcept { return probe_; }
    Clock& clock() noexcept { return clock_; }
    std::size_t starting_size() const noexcept { return start_; }
    std::uint64_t batches() const noexcept { return batches_; } ///< calls so far
    std::uint64_t samples() const noexcept { return samples_; } ///< probe readings so far
    std::uint64_t shrinks() const noexcept { return shrinks_; }
    std::uint64_t grows() const noexcept { return grows_; }
    std::uint64_t releases() const noexcept { return releases_; } ///< allocator calls so far

private:
    memory_guard_options opts_;
    Probe probe_;
    Clock clock_;
    std::vector<observer> observers_;
    std::function<void()> release_ = [] { detail::release_free_memory(); };
    memory_snapshot last_{};
    std::chrono::nanoseconds last_sample_at_{};
    std::optional<std::chrono::nanoseconds> last_release_at_;
    std::optional<std::chrono::nanoseconds> critical_since_;
    std::size_t start_ = 0;
    unsigned low_streak_ = 0;
    std::uint64_t batches_ = 0, samples_ = 0, shrinks_ = 0, grows_ = 0, releases_ = 0;

    // Memory freed since the last shrink (in-flight batches that drained) stays in the
    // allocator's free lists and in RSS; without asking again, used never falls below grow_at
    // and batches stay at the floor for the rest of the job.
    void release_again(std::size_t current, std::chrono::nanoseconds now)
    {
        if (!opts_.release_memory || opts_.release_every.count() == 0 || current >= start_ ||
            !last_release_at_ || now - *last_release_at_ < opts_.release_every)
            return;
        release_();
        ++releases_;
        last_release_at_ = now;
    }

    void sample(std::chrono::nanoseconds now)
    {
        last_ = probe_.sample();
        last_sample_at_ = now;
        ++samples_;
    }

    void emit(guard_event::kind k, std::size_t from, std::size_t to, std::chrono::nanoseconds at)
    {
        if (observers_.empty())
            return;
        guard_event const e{k, from, to, batches_, at, last_};
        for (auto const& fn : observers_)
            fn(e);
    }

    std::string figures() const
    {
        auto const& s = last_;
        char buf[400];
        int n = std::snprintf(
            buf, sizeof buf, "%.1f%% used (%s); rss %.1f MiB; system %.1f%% used of %.1f MiB%s",
            100.0 * s.used_fraction, s.source == memory_source::cgroup ? "cgroup" : "system",
            double(s.rss_bytes) / (1 << 20), 100.0 * s.system_used_fraction,
            double(s.system_total_bytes) / (1 << 20),
            s.available_estimated ? " (MemAvailable estimated)" : "");
        if (s.cgroup_limited && n > 0 && std::size_t(n) < sizeof buf)
            std::snprintf(buf + n, sizeof buf - std::size_t(n),
                          "; cgroup working set %.1f MiB of %.1f MiB limit",
                          double(s.cgroup_working_set_bytes) / (1 << 20),
                          double(s.cgroup_limit_bytes) / (1 << 20));
        return buf;
    }

    [[noreturn]] void exhausted(std::size_t current, std::chrono::nanoseconds now, char const* why)
    {
        emit(guard_event::kind::exhausted, current, current, now);
        throw memory_exhausted("streambatch: memory exhausted: " + figures() + "; " + why +
                                   " at batch size " + std::to_string(current) + "; read from " +
                                   probe_.sources(),
                               last_, current);
    }

    std::size_t at_critical(std::size_t current, std::chrono::nanoseconds now)
    {
        if (!critical_since_) {
            critical_since_ = now;
            emit(guard_event::kind::critical, current, current, now);
        }
        bool const urgent =
            last_.used_fraction >= std::max(opts_.exhausted_at, opts_.critical_at) &&
            opts_.on_critical != critical_action::carry_on;
        if (now - *critical_since_ < opts_.critical_for && !urgent)
            return current;
        switch (opts_.on_critical) {
        case critical_action::throw_exception: {
            auto const secs = std::chrono::duration<double>(now - *critical_since_).count();
            char why[120];
            if (urgent)
                std::snprintf(why, sizeof why, "at or above exhausted_at %.0f%%",
                              100.0 * opts_.exhausted_at);
            else
                std::snprintf(why, sizeof why, "above critical_at %.0f%% for %.1f s",
                              100.0 * opts_.critical_at, secs);
            exhausted(current, now, why);
        }
        case critical_action::carry_on:
            critical_since_ = now; // report again after another critical_for
            emit(guard_event::kind::critical, current, current, now);
            return current;
        case critical_action::wait: {
            emit(guard_event::kind::waiting, current, current, now);
            auto const began = now;
            while (last_.used_fraction >= opts_.critical_at) {
                if (opts_.wait_timeout.count() > 0 && now - began >= opts_.wait_timeout)
                    exhausted(current, now, "still above critical_at after waiting wait_timeout");
                clock_.sleep_for(opts_.wait_poll);
                if (opts_.release_memory) {
                    release_();
                    ++releases_;
                }
                now = clock_.now();
                sample(now);
            }
            critical_since_.reset();
            emit(guard_event::kind::resumed, current, current, now);
            return current;
        }
        }
        return current;
    }
};

/// The default guard: /proc and the process's memory cgroup, read with the coarse clock.
using memory_guard = basic_memory_guard<proc_memory_probe, coarse_clock>;

} // namespace streambatch

#endif // STREAMBATCH_GUARD_MEMORY_GUARD_HPP_INCLUDED
