// streambatch/record_bytes.hpp: how many bytes a record holds, for byte-budgeted batches.
//
// In:     any object r.
// Out:    std::size_t: sizeof(r) plus the heap memory r owns, counted recursively through
//         std::basic_string (only past the small-string buffer), std::vector, std::deque,
//         std::optional, std::variant, std::unique_ptr / std::shared_ptr (the pointee), pairs,
//         tuples, std::array, node containers (std::map, std::set, std::list, the unordered
//         ones: nodes and buckets, estimated) and any user type that has an overload.
// Models: a customisation point object (a niebloid): `streambatch::record_bytes(r)` first looks
//         for `record_bytes(r)` by argument-dependent lookup in r's namespace, then falls back to
//         the rules above; views (std::string_view, std::span, ...) own nothing and count as
//         sizeof only; a plain struct without an overload counts as sizeof only.
// Memory: none; it walks r, it does not copy it. Cost: O(elements that own heap memory).
// Example:
//     namespace shop {
//     struct order { long id; std::string note; std::vector<std::string> lines; };
//     std::size_t record_bytes(order const& o) {   // found by ADL
//         return sizeof o + (streambatch::record_bytes(o.note) - sizeof o.note)
//                         + (streambatch::record_bytes(o.lines) - sizeof o.lines);
//     }
//     }
//     streambatch::record_bytes(std::string(100, 'x'));  // sizeof(std::string) + 101

#ifndef STREAMBATCH_RECORD_BYTES_HPP_INCLUDED
#define STREAMBATCH_RECORD_BYTES_HPP_INCLUDED

#include <streambatch/detail/optional.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace streambatch {

namespace detail::record_bytes_impl {

void record_bytes() = delete; // poison pill: only ADL finds user overloads

template <class T>
concept has_adl_overload = requires(T const& t) {
    {
        record_bytes(t)
    } -> std::convertible_to<std::size_t>;
};

template <class T>
inline constexpr bool is_basic_string_v = false;
template <class C, class Tr, class A>
inline constexpr bool is_basic_string_v<std::basic_string<C, Tr, A>> = true;

using streambatch::detail::is_optional_v;

template <class T>
inline constexpr bool is_variant_v = false;
template <class... Ts>
inline constexpr bool is_variant_v<std::variant<Ts...>> = true;

template <class T>
inline constexpr bool is_smart_pointer_v = false;
template <class T, class D>
inline constexpr bool is_smart_pointer_v<std::unique_ptr<T, D>> = !std::is_array_v<T>;
template <class T>
inline constexpr bool is_smart_pointer_v<std::shared_ptr<T>> = !std::is_array_v<T>;

template <class T>
inline constexpr bool is_std_array_v = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array_v<std::array<T, N>> = true;

template <class T>
concept tuple_like = !std::ranges::range<T> && requires { std::tuple_size<T>::value; };

// Nothing on the heap and no overload: no need to visit each element of a container of these.
template <class T>
concept flat = std::is_trivially_copyable_v<T> && !has_adl_overload<T>;

template <class T>
concept owning_container = std::ranges::sized_range<T const> && !std::ranges::view<T>;

// Extra bytes a node of a node-based container costs beyond its value (pointers and colour).
inline constexpr std::size_t node_overhead = 4 * sizeof(void*);

struct fn;

template <class T>
constexpr std::size_t heap_bytes(T const& r);

struct fn {
    template <class T>
    [[nodiscard]] constexpr std::size_t operator()(T const& r) const
    {
        if constexpr (has_adl_overload<T>)
            return static_cast<std::size_t>(record_bytes(r));
        else
            return sizeof(T) + heap_bytes(r);
    }
};

// Heap bytes of an element whose own size is already counted inline by its parent.
template <class T>
constexpr std::size_t inner_heap_bytes(T const& r)
{
    if constexpr (flat<T>) {
        return 0;
    } else {
        std::size_t const total = fn{}(r);
        return total > sizeof(T) ? total - sizeof(T) : 0;
    }
}

template <class Range>
constexpr std::size_t elements_heap_bytes(Range const& r)
{
    using V = std::ranges::range_value_t<Range const>;
    std::size_t sum = 0;
    if constexpr (!flat<V>)
        for (auto const& e : r)
            sum += inner_heap_bytes(e);
    return sum;
}

template <class T>
constexpr std::size_t heap_bytes(T const& r)
{
    if constexpr (is_basic_string_v<T>) {
        auto const* p = reinterpret_cast<unsigned char const*>(r.data());
        auto const* self = reinterpret_cast<unsigned char const*>(std::addressof(r));
        bool const in_place = p >= self && p < self + sizeof(T); // small-string buffer
        return in_place ? 0 : (r.capacity() + 1) * sizeof(typename T::value_type);
    } else if constexpr (is_optional_v<T>) {
        return r ? inner_heap_bytes(*r) : 0;
    } else if constexpr (is_variant_v<T>) {
        return r.valueless_by_exception()
                   ? 0
                   : std::visit([](auto const& x) { return inner_heap_bytes(x); }, r);
    } else if constexpr (is_smart_pointer_v<T>) {
        return r ? fn{}(*r) : 0;
    } else if constexpr (is_std_array_v<T>) {
        return elements_heap_bytes(r);
    } else if constexpr (tuple_like<T>) {
        return std::apply(
            [](auto const&... xs) { return (std::size_t{0} + ... + inner_heap_bytes(xs)); }, r);
    } else if constexpr (owning_container<T>) {
        using V = std::ranges::range_value_t<T const>;
        std::size_t own;
        if constexpr (requires { r.capacity(); })
            own = static_cast<std::size_t>(r.capacity()) * sizeof(V); // vector-like
        else if constexpr (std::ranges::contiguous_range<T const>)
            own = std::ranges::size(r) * sizeof(V);
        else if constexpr (requires { r.bucket_count(); })
            own = std::ranges::size(r) * (sizeof(V) + 2 * sizeof(void*)) +
                  static_cast<std::size_t>(r.bucket_count()) * sizeof(void*);
        else if constexpr (
            requires { typename T::key_type; } || requires(T& t) { t.splice(t.begin(), t); })
            own = std::ranges::size(r) * (sizeof(V) + node_overhead); // tree and list nodes
        else
            own = std::ranges::size(r) * sizeof(V); // deque and other block containers
        return own + elements_heap_bytes(r);
    } else {
        return 0; // scalars, views, and user types without an overload
    }
}

} // namespace detail::record_bytes_impl

inline namespace cpo {
/// Estimated bytes of a record: sizeof plus owned heap memory; customise with an ADL overload.
inline constexpr detail::record_bytes_impl::fn record_bytes{};
} // namespace cpo

} // namespace streambatch

#endif // STREAMBATCH_RECORD_BYTES_HPP_INCLUDED
