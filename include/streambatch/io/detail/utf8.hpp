// streambatch/io/detail/utf8.hpp: the one UTF-8 check of the io family (used by the message
// quoter and the JSON text writer, so both agree on what is text).
//
// utf8_sequence(s, i): the length (1-4) of the well-formed UTF-8 character at byte i of s, or 0
// when the bytes there are not one: a stray continuation byte, an overlong form (C0, C1, E0 80..9F,
// F0 80..8F), a UTF-16 surrogate (ED A0..BF), a code point above U+10FFFF (F4 90.., F5..FF) or a
// sequence cut by the end of s. This is Unicode's Table 3-7; NUL (00) is a character like any
// other. is_utf8(s): every byte of s belongs to such a character.

#ifndef STREAMBATCH_IO_DETAIL_UTF8_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_UTF8_HPP_INCLUDED

#include <cstddef>
#include <string_view>

namespace streambatch::io::detail {

inline std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept
{
    auto const byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char const c = byte(i);
    if (c < 0x80)
        return 1;
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF; // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (s.size() - i < len)
        return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi)
        return 0;
    for (std::size_t k = 2; k < len; ++k)
        if ((byte(i + k) & 0xC0) != 0x80)
            return 0;
    return len;
}

inline bool is_utf8(std::string_view s) noexcept
{
    for (std::size_t i = 0; i < s.size();) {
        std::size_t const n = utf8_sequence(s, i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

} // namespace streambatch::io::detail

#endif // STREAMBATCH_IO_DETAIL_UTF8_HPP_INCLUDED
