// streambatch/detail/parse.hpp: the one whole-number parser of the library and its examples.
//
// In:     text: a checkpoint member, an environment variable, a /proc field, a command-line value.
// Out:    parse_whole<T>(text) -> std::optional<T>: the number when the whole text is a decimal
//         integer that fits T (no sign for unsigned T, no blanks, no "1e3", no "10x", not empty);
//         std::nullopt otherwise. The caller words the error: it knows where the text came from.
// Models: T is a std::integral type other than bool.
// Memory: none.
// Errors: none thrown.
// Example:
//     if (auto n = streambatch::detail::parse_whole<std::uint64_t>("1000")) use(*n);

#ifndef STREAMBATCH_DETAIL_PARSE_HPP_INCLUDED
#define STREAMBATCH_DETAIL_PARSE_HPP_INCLUDED

#include <charconv>
#include <concepts>
#include <optional>
#include <string_view>
#include <system_error>

namespace streambatch::detail {

template <std::integral T>
    requires(!std::same_as<T, bool>)
constexpr std::optional<T> parse_whole(std::string_view text) noexcept
{
    if (text.empty() || text.front() == '+')
        return std::nullopt;
    T value{};
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_PARSE_HPP_INCLUDED
