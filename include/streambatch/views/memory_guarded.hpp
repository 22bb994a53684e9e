// streambatch/views/memory_guarded.hpp: batches whose size a memory policy decides, batch by batch.
//
// In:     any std::ranges::viewable_range R that is an input_range; a starting size n > 0;
//         optionally a policy: any object with `std::size_t next_batch_size(std::size_t current)`,
//         by value or as std::ref(policy). Without one, a streambatch::memory_guard reading /proc
//         and the process's memory cgroup is made for the view.
// Out:    a streambatch::memory_guarded_view. Before every batch, the first included, the view
//         calls policy.next_batch_size(current) (current = n at the start, then the size it
//         returned last) and closes the batch at that many records or at the source's end.
// Models: input_range (the policy has state, so the batches can be walked once). Batches as in
//         batch_view.hpp: subranges of a forward R; moved, reused buffers for a single-pass R.
// Memory: one batch of records for a single-pass R (the policy decides how many); O(1) for a
//         forward R; plus the policy (memory_guard: a few file descriptors and 16 KiB).
// Errors: n <= 0 throws std::invalid_argument naming memory_guarded and the value; so does a
//         policy that returns 0.
// Example:
//     for (auto&& batch : rows | streambatch::views::memory_guarded(1000))
//         sink.insert(batch);              // 1000 rows a batch, fewer while memory is tight

#ifndef STREAMBATCH_VIEWS_MEMORY_GUARDED_HPP_INCLUDED
#define STREAMBATCH_VIEWS_MEMORY_GUARDED_HPP_INCLUDED

#include <streambatch/detail/checks.hpp>
#include <streambatch/detail/closure.hpp>
#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/views/batch_view.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <ranges>
#include <string>
#include <utility>

namespace streambatch {

/// A batch-size policy: told the current size, answers the next one. std::ref() of one is one.
template <class P>
concept batch_size_policy =
    std::move_constructible<P> && requires(std::unwrap_reference_t<P>& p, std::size_t n) {
        {
            p.next_batch_size(n)
        } -> std::convertible_to<std::size_t>;
    };

namespace detail {

template <class P>
struct policy_rule {
    static constexpr bool multipass = false; // the policy has state
    P policy;
    std::size_t current;

    // Asked once per batch: kept out of line, so that a policy's body (memory_guard's is large)
    // does not crowd the per-record loop of batch_view::next_batch() out of GCC's inlining budget
    // (with it inlined, GCC 12 stops inlining the source's operator++ into that loop: +3 %
    // instructions in bench/harness --mode guard).
    [[gnu::noinline]] constexpr std::size_t limit()
    {
        std::unwrap_reference_t<P>& p = policy;
        std::size_t const n = static_cast<std::size_t>(p.next_batch_size(current));
        if (n == 0)
            invalid_argument("memory_guarded", "the policy returned a batch size of 0 (after " +
                                                   std::to_string(current) +
                                                   "); it must be positive");
        return current = n;
    }
};

struct memory_guarded_fn {
    template <std::ranges::viewable_range R, std::integral I, batch_size_policy P>
        requires std::ranges::input_range<R>
    [[nodiscard]] auto operator()(R&& r, I n, P policy) const
    {
        std::size_t const start = positive_count("memory_guarded", "n", n);
        return batch_view(std::forward<R>(r), policy_rule<P>{std::move(policy), start});
    }

    template <std::ranges::viewable_range R, std::integral I>
        requires std::ranges::input_range<R>
    [[nodiscard]] auto operator()(R&& r, I n) const
    {
        std::size_t const start = positive_count("memory_guarded", "n", n);
        return batch_view(std::forward<R>(r), policy_rule<memory_guard>{memory_guard(), start});
    }

    template <std::integral I, batch_size_policy P>
    [[nodiscard]] auto operator()(I n, P policy) const
    {
        return adaptor_closure<memory_guarded_fn, std::size_t, P>(
            *this, positive_count("memory_guarded", "n", n), std::move(policy));
    }

    template <std::integral I>
    [[nodiscard]] auto operator()(I n) const
    {
        return adaptor_closure<memory_guarded_fn, std::size_t>(
            *this, positive_count("memory_guarded", "n", n));
    }
};

} // namespace detail

/// The type views::memory_guarded returns.
template <class V, class P = memory_guard>
using memory_guarded_view = batch_view<V, detail::policy_rule<P>>;

namespace views {
/// `r | views::memory_guarded(n [, policy])` or `views::memory_guarded(r, n [, policy])`.
inline constexpr detail::memory_guarded_fn memory_guarded{};
} // namespace views

} // namespace streambatch

#endif // STREAMBATCH_VIEWS_MEMORY_GUARDED_HPP_INCLUDED
