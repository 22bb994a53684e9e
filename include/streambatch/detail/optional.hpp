// streambatch/detail/optional.hpp: "is this a std::optional, and of what?", asked once for the
// whole library (record_bytes, the CSV reader and writer, the SQL rows and statements).
//
// In:     a type T.
// Out:    optional_traits<T>: std::true_type with value_type for std::optional<U>, else
//         std::false_type; is_optional_v<T>.
// Models: a type trait; no run-time cost.
// Memory: none.
// Errors: none.
// Example:
//     static_assert(streambatch::detail::is_optional_v<std::optional<int>>);

#ifndef STREAMBATCH_DETAIL_OPTIONAL_HPP_INCLUDED
#define STREAMBATCH_DETAIL_OPTIONAL_HPP_INCLUDED

#include <optional>
#include <type_traits>

namespace streambatch::detail {

template <class T>
struct optional_traits : std::false_type {};
template <class T>
struct optional_traits<std::optional<T>> : std::true_type {
    using value_type = T;
};

template <class T>
inline constexpr bool is_optional_v = optional_traits<T>::value;

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_OPTIONAL_HPP_INCLUDED
