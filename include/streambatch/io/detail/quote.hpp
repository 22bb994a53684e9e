// streambatch/io/detail/quote.hpp: the one way the io family shows a value in an error message.
//
// quote(s) -> "s", one style everywhere (CSV, SQLite, PostgreSQL):
//   - in double quotes; a `"` or `\` inside is preceded by `\`;
//   - a control byte (00-1F, 7F) and a byte that is not part of well-formed UTF-8 (utf8.hpp)
//     is written \xNN, uppercase hex (a line break is \x0A): the message stays one line of text;
//   - well-formed UTF-8 is kept as is;
//   - at most quote_limit (60) bytes of s are shown, cut before a character that would pass the
//     limit, then `...` and the whole size: "SELECT ...long..."... (212 bytes).
// It is for people; to keep a value's exact bytes, write a reject (reject.hpp).

#ifndef STREAMBATCH_IO_DETAIL_QUOTE_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_QUOTE_HPP_INCLUDED

#include <streambatch/io/detail/utf8.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace streambatch::io::detail {

/// How many bytes of a value a message shows.
inline constexpr std::size_t quote_limit = 60;

inline void append_hex_byte(std::string& out, unsigned char c)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 0xF];
}

inline std::string quote(std::string_view s)
{
    std::string out = "\"";
    std::size_t i = 0;
    while (i < s.size()) {
        auto const c = static_cast<unsigned char>(s[i]);
        std::size_t const n = utf8_sequence(s, i);
        std::size_t const take = n == 0 ? 1 : n;
        if (i + take > quote_limit)
            break;
        if (n == 0 || c < 0x20 || c == 0x7F) {
            append_hex_byte(out, c);
        } else {
            if (c == '"' || c == '\\')
                out += '\\';
            out.append(s.data() + i, n);
        }
        i += take;
    }
    out += '"';
    if (i < s.size())
        out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

} // namespace streambatch::io::detail

#endif // STREAMBATCH_IO_DETAIL_QUOTE_HPP_INCLUDED
