// streambatch/io/detail/digits.hpp: a character's value as a digit of an alphabet (hex for
// PostgreSQL's bytea, base64 for rejects), from a table built at compile time.

#ifndef STREAMBATCH_IO_DETAIL_DIGITS_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_DIGITS_HPP_INCLUDED

#include <array>
#include <cstddef>
#include <string_view>

namespace streambatch::io::detail {

/// digits(c): c's position in `alphabet`, -1 if it is not in it; with `any_case`, an upper-case
/// letter counts as its lower-case one.
class digit_table {
    std::array<signed char, 256> value_{};

public:
    constexpr explicit digit_table(std::string_view alphabet, bool any_case = false) noexcept
    {
        value_.fill(-1);
        for (std::size_t i = 0; i < alphabet.size(); ++i) {
            auto const c = static_cast<unsigned char>(alphabet[i]);
            value_[c] = static_cast<signed char>(i);
            if (any_case && c >= 'a' && c <= 'z')
                value_[c - 'a' + 'A'] = static_cast<signed char>(i);
        }
    }
    constexpr int operator()(char c) const noexcept
    {
        return value_[static_cast<unsigned char>(c)];
    }
};

inline constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// 0-9, a-f, A-F.
inline constexpr digit_table hex_digit{"0123456789abcdef", true};
inline constexpr digit_table base64_digit{base64_alphabet};

} // namespace streambatch::io::detail

#endif // STREAMBATCH_IO_DETAIL_DIGITS_HPP_INCLUDED
