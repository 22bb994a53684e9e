// streambatch/io/csv/convert.hpp: a CSV field's text to a C++ value, for csv::row::get<T>.
//
// In:     a field's bytes (std::string_view) and the type wanted.
// Out:    detail::convert(text, out) -> "" or why the text is no T; field_type<T>: integers
//         (not character types), floats, bool, std::string, std::string_view, and std::optional
//         of those (the writer takes the same). Integers and floats by std::from_chars: the
//         whole text must convert (no spaces, no '+'); bool: true/false (any case), 1 or 0.
// Memory: none beyond a std::string result.
// Errors: none thrown; row::get words the parse_error (conversion).

#ifndef STREAMBATCH_IO_CSV_CONVERT_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_CONVERT_HPP_INCLUDED

#include <streambatch/detail/optional.hpp>
#include <streambatch/io/csv/errors.hpp>

#include <algorithm>
#include <charconv>
#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace streambatch::csv::detail {

using streambatch::detail::optional_traits;

// Character types are not numbers here (signed and unsigned char are: std::int8_t, std::uint8_t).
template <class T>
concept character = std::same_as<T, char> || std::same_as<T, wchar_t> || std::same_as<T, char8_t> ||
                    std::same_as<T, char16_t> || std::same_as<T, char32_t>;

template <class T>
concept scalar_field =
    std::same_as<T, std::string> || std::same_as<T, std::string_view> || std::same_as<T, bool> ||
    (std::integral<T> && !character<T>) || std::floating_point<T>;

template <class T>
concept field_type = scalar_field<T> || (optional_traits<T>::value &&
                                         scalar_field<typename optional_traits<T>::value_type>);

template <class T>
std::string type_name()
{
    if constexpr (std::same_as<T, bool>)
        return "bool";
    else if constexpr (std::same_as<T, float>)
        return "float";
    else if constexpr (std::same_as<T, double>)
        return "double";
    else if constexpr (std::same_as<T, long double>)
        return "long double";
    else if constexpr (std::integral<T>)
        return std::string(std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
    else
        return "string";
}

/// Converts `s` to T; returns "" or why it cannot.
template <scalar_field T>
std::string convert(std::string_view s, T& out)
{
    if constexpr (std::same_as<T, std::string_view>) {
        out = s;
        return {};
    } else if constexpr (std::same_as<T, std::string>) {
        out.assign(s);
        return {};
    } else if constexpr (std::same_as<T, bool>) {
        auto const eq = [&](std::string_view w) {
            return s.size() == w.size() &&
                   std::equal(s.begin(), s.end(), w.begin(), [](char a, char b) {
                       return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
                   });
        };
        if (s == "1" || eq("true")) {
            out = true;
            return {};
        }
        if (s == "0" || eq("false")) {
            out = false;
            return {};
        }
        return "expected true, false, 1 or 0";
    } else {
        if (s.empty())
            return "the field is empty";
        char const* const first = s.data();
        char const* const last = s.data() + s.size();
        std::from_chars_result r;
        if constexpr (std::floating_point<T>)
            r = std::from_chars(first, last, out, std::chars_format::general);
        else
            r = std::from_chars(first, last, out, 10);
        if (r.ec == std::errc::result_out_of_range)
            return "out of range for " + type_name<T>();
        if (r.ec != std::errc{}) {
            if constexpr (std::unsigned_integral<T>)
                if (s.front() == '-')
                    return "negative number for " + type_name<T>();
            return "not a number";
        }
        if (r.ptr != last)
            return "unexpected " + describe_byte(*r.ptr) + " after the number";
        return {};
    }
}

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_CONVERT_HPP_INCLUDED
