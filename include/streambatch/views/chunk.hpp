// streambatch/views/chunk.hpp: split a range of records into batches of n.
//
// In:     any std::ranges::viewable_range R that is an input_range; n > 0 (any integer type).
// Out:    a streambatch::chunk_view: batches of n records, the last one possibly short, never
//         an empty one. Over a forward R a batch is a sized subrange into R (no copy); over a
//         single-pass R it is a streambatch::batch<T> holding the moved records (see
//         batch_view.hpp).
// Models: input_range; forward_range when R is forward; sized_range when R is sized.
//         Like C++23 std::views::chunk, except that single-pass batches are materialised.
// Memory: forward R: O(1). Single-pass R: one batch of records, in a buffer reused each batch.
// Errors: n <= 0 throws std::invalid_argument naming chunk and the value.
// Example:
//     std::vector<int> v{1, 2, 3, 4, 5};
//     for (auto batch : v | streambatch::views::chunk(2)) sum += batch.size();  // 2, 2, 1
//     auto same = streambatch::views::chunk(v, 2);

#ifndef STREAMBATCH_VIEWS_CHUNK_HPP_INCLUDED
#define STREAMBATCH_VIEWS_CHUNK_HPP_INCLUDED

#include <streambatch/detail/checks.hpp>
#include <streambatch/detail/closure.hpp>
#include <streambatch/views/batch_view.hpp>

#include <concepts>
#include <cstddef>
#include <ranges>
#include <utility>

namespace streambatch {

namespace detail {
/// Closes a batch at n records.
struct count_rule {
    static constexpr bool multipass = true;
    static constexpr bool fixed_count = true;
    std::size_t n;
    constexpr std::size_t limit() const noexcept { return n; }
};

struct chunk_fn {
    template <std::ranges::viewable_range R, std::integral I>
        requires std::ranges::input_range<R>
    [[nodiscard]] constexpr auto operator()(R&& r, I n) const
    {
        return batch_view(std::forward<R>(r), count_rule{positive_count("chunk", "n", n)});
    }

    template <std::integral I>
    [[nodiscard]] constexpr auto operator()(I n) const
    {
        return adaptor_closure<chunk_fn, std::size_t>(*this, positive_count("chunk", "n", n));
    }
};
} // namespace detail

/// The type views::chunk returns.
template <class V>
using chunk_view = batch_view<V, detail::count_rule>;

namespace views {
/// `r | views::chunk(n)` or `views::chunk(r, n)`: batches of n records.
inline constexpr detail::chunk_fn chunk{};
} // namespace views

} // namespace streambatch

#endif // STREAMBATCH_VIEWS_CHUNK_HPP_INCLUDED
