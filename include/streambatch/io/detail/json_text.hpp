// streambatch/io/detail/json_text.hpp: the one JSON string writer of the io family; it checks
// UTF-8, so a reject keeps every byte (docs/rejects.md, "Text").
//
// append_json_text(out, bytes) appends one JSON value for a byte string:
//   - well-formed UTF-8 (utf8.hpp; NUL included): a JSON string. `"` and `\` are escaped as \"
//     and \\; \n, \r and \t as such; every other control byte (00-1F) and 7F as \u00NN
//     (uppercase hex); everything else as is (no \u escapes above 7F, so no surrogate pairs);
//   - anything else: {"base64":"..."} holding all the bytes (RFC 4648), so nothing is lost or
//     guessed (a reader must not take \u00E9 for the byte E9).
// read_json_text(cursor) is the inverse: a string's UTF-8 bytes, or the decoded base64.

#ifndef STREAMBATCH_IO_DETAIL_JSON_TEXT_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_JSON_TEXT_HPP_INCLUDED

#include <streambatch/detail/json.hpp>
#include <streambatch/io/detail/base64.hpp>
#include <streambatch/io/detail/utf8.hpp>

#include <string>
#include <string_view>

namespace streambatch::io::detail {

/// Appends `s`, which must be well-formed UTF-8, as a JSON string.
inline void append_json_string(std::string& out, std::string_view s)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    out += '"';
    for (char ch : s) {
        auto const c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out += digits[c >> 4];
            out += digits[c & 0xF];
        } else {
            out += ch;
        }
    }
    out += '"';
}

/// Appends any bytes as JSON: a string when they are UTF-8, else {"base64":"..."}.
inline void append_json_text(std::string& out, std::string_view bytes)
{
    if (is_utf8(bytes)) {
        append_json_string(out, bytes);
    } else {
        out += "{\"base64\":\"";
        out += base64_encode(bytes);
        out += "\"}";
    }
}

/// Reads what append_json_text wrote (a string, or {"base64":"..."}): the bytes.
inline std::string read_json_text(streambatch::detail::json_cursor& in)
{
    if (in.peek() == '"')
        return in.string();
    if (in.peek() != '{')
        in.fail("expected a string or {\"base64\": ...}");
    std::string bytes;
    bool seen = false;
    in.members([&](std::string const& key) {
        if (key != "base64" || seen)
            in.fail("expected only the member \"base64\", found \"" + key + "\"");
        seen = true;
        auto decoded = base64_decode(in.string());
        if (!decoded)
            in.fail("\"base64\" does not hold base64");
        bytes = std::move(*decoded);
    });
    if (!seen)
        in.fail("expected the member \"base64\"");
    return bytes;
}

} // namespace streambatch::io::detail

#endif // STREAMBATCH_IO_DETAIL_JSON_TEXT_HPP_INCLUDED
