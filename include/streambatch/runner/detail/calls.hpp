// streambatch/runner/detail/calls.hpp: how the runner calls the user's process and commit.
//
// process(batch [, batch_info]) may return a value or nothing; commit(result [, batch_info]),
// or commit([batch_info]) when process returns nothing. process is called through a function
// of its own that is never inlined (process_out_of_line): see its comment. See docs/runner.md.

#ifndef STREAMBATCH_RUNNER_DETAIL_CALLS_HPP_INCLUDED
#define STREAMBATCH_RUNNER_DETAIL_CALLS_HPP_INCLUDED

#include <streambatch/runner/run_options.hpp>
#include <streambatch/views/batch_view.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace streambatch::detail {

template <class T>
inline constexpr bool is_batch_v = false;
template <class T>
inline constexpr bool is_batch_v<batch<T>> = true;

template <class T>
struct batch_record {
    using type = void;
};
template <class T>
struct batch_record<batch<T>> {
    using type = T;
};

template <class F, class B>
decltype(auto) call_process(F& f, B& b, batch_info const& i)
{
    if constexpr (std::invocable<F&, B&, batch_info const&>)
        return std::invoke(f, b, i);
    else
        return std::invoke(f, b);
}

template <class F, class B>
using process_result_t = decltype(call_process(std::declval<F&>(), std::declval<B&>(),
                                               std::declval<batch_info const&>()));

/// Calls process from a function of its own: the caller's per-record loop is compiled (inlined)
/// here, in a small function, and not into the runner's loop, where the worker's own state takes
/// the registers the loop needs (bench_runner with its work inlined: a 64-bit constant reloaded
/// on every byte). The runner-against-oneTBB figures are in bench/RESULTS-runner.md.
template <class F, class B>
[[gnu::noinline]] decltype(auto) process_out_of_line(F& f, B& b, batch_info const& i)
{
    return call_process(f, b, i);
}

struct no_commit {
    template <class... A>
    void operator()(A&&...) const noexcept
    {}
};

template <class C, class R>
void call_commit(C& c, R&& r, batch_info const& i)
{
    if constexpr (std::is_same_v<std::remove_cvref_t<R>, std::monostate>) {
        if constexpr (std::invocable<C&, batch_info const&>)
            std::invoke(c, i);
        else
            std::invoke(c);
    } else if constexpr (std::invocable<C&, R&&, batch_info const&>) {
        std::invoke(c, std::forward<R>(r), i);
    } else {
        std::invoke(c, std::forward<R>(r));
    }
}

/// A commit step that confirms later: commit(result, info) returns once the batch is sent, and
/// confirm() waits until the last batch sent is committed (or throws why it was not). The runner
/// calls confirm() before the next commit and at the end, and counts a batch as committed only
/// when confirm() has returned for it (postgres::job_sink through run_job: the server commits
/// batch N while the job reads batch N+1).
template <class C>
concept confirming_commit = requires(C& c) { c.confirm(); };

/// A confirming commit step that may keep its transaction open over several batches (a
/// postgres::job_sink with job_sink_options::transaction_rows, through run_job): before each
/// commit the runner calls confirm_or_hold() instead of confirm(). It returns true if it has now
/// committed every batch sent so far (it may commit then, and throw why it could not), false if
/// it holds them in its open transaction for more. confirm() at the
/// end commits what is held. A failure of either, or of the commit of the next batch (the
/// step's operator()), rolls back every batch held: none of them is counted.
template <class C>
concept holding_commit = confirming_commit<C> && requires(C& c) {
    {
        c.confirm_or_hold()
    } -> std::convertible_to<bool>;
};

/// The batch a confirming commit step has sent and not yet confirmed: what the runner needs to
/// count it once confirmed.
struct sent_batch {
    std::uint64_t local = 0;
    batch_info info{};
    std::string position;             ///< owns what info.position views
    std::chrono::nanoseconds took{0}; ///< process and send; confirm's wait is added to it
    double used = 0;
};

inline std::string current_what()
{
    try {
        throw;
    } catch (std::exception const& e) {
        return e.what();
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}

template <class C>
std::size_t batch_size_of(C const& b)
{
    return static_cast<std::size_t>(std::ranges::size(b));
}

} // namespace streambatch::detail

#endif // STREAMBATCH_RUNNER_DETAIL_CALLS_HPP_INCLUDED
