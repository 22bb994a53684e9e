// streambatch/interop/range_v3.hpp: lets streambatch views and batches flow into range-v3.
//
// In:     nothing; include it (after range-v3 is available) where you mix the two libraries.
// Out:    ranges::enable_view is true for streambatch::batch_view and streambatch::batch, so
//         range-v3 treats them as views (it cannot see std::ranges::view_interface).
// Models: a trait specialisation only.
// Memory: none.
// Limits (range-v3 0.12): a range-v3 view must be default-constructible and copyable, so an
//         rvalue of ours over a std::ranges::ref_view (which lost its default constructor in
//         P2325) or over a move-only source cannot be piped into a range-v3 closure. Pipe an
//         lvalue instead, or start from a default-constructible view (std::views::iota).
// Example:
//     auto batches = std::views::iota(0, 100) | streambatch::views::chunk(10);
//     auto sizes = batches | ranges::views::transform([](auto b) { return b.size(); });

#ifndef STREAMBATCH_INTEROP_RANGE_V3_HPP_INCLUDED
#define STREAMBATCH_INTEROP_RANGE_V3_HPP_INCLUDED

#include <streambatch/views/batch_view.hpp>

#include <range/v3/range/concepts.hpp>

namespace ranges {
template <class V, class Rule>
inline constexpr bool enable_view<streambatch::batch_view<V, Rule>> = true;
template <class T>
inline constexpr bool enable_view<streambatch::batch<T>> = true;
} // namespace ranges

#endif // STREAMBATCH_INTEROP_RANGE_V3_HPP_INCLUDED
