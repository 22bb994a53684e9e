// streambatch/detail/json.hpp: the little JSON that run records and checkpoints need.
//
// In:     strings and numbers to write; the text of a flat JSON object to read.
// Out:    json_quote(s) -> "s" with JSON escapes; parse_flat_object(text, file) -> the object's
//         members as name -> raw value (strings unescaped, numbers and literals as written).
// Models: a writer of escaped strings and a reader of one flat object ({"k": "v", "n": 1}),
//         which is all a checkpoint file holds. Nested values are rejected.
// Memory: the returned map.
// Errors: json_error naming the file, the byte offset and what was expected.
// Example:
//     auto m = streambatch::detail::parse_flat_object(R"({"records": 42})", "ck.json");
//     m.at("records") == "42";

#ifndef STREAMBATCH_DETAIL_JSON_HPP_INCLUDED
#define STREAMBATCH_DETAIL_JSON_HPP_INCLUDED

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace streambatch::detail {

/// A JSON text did not parse; what() names the file and the byte offset.
class json_error : public std::runtime_error {
public:
    json_error(std::string const& file, std::size_t offset, std::string const& what)
        : std::runtime_error(file + " (byte " + std::to_string(offset) + "): " + what), file_name(file),
          byte_offset(offset)
    {
    }
    std::string file_name;
    std::size_t byte_offset;
};

inline std::string json_quote(std::string_view s)
{
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

/// A finite double as JSON (JSON has no NaN or infinity: those become null).
inline std::string json_number(double v)
{
    if (!(v == v) || v > 1e308 || v < -1e308)
        return "null";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

inline std::map<std::string, std::string> parse_flat_object(std::string_view text, std::string const& file)
{
    std::size_t i = 0;
    auto fail = [&](std::string const& what) -> void { throw json_error(file, i, what); };
    auto ws = [&] {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
            ++i;
    };
    auto expect = [&](char c) {
        ws();
        if (i >= text.size() || text[i] != c)
            fail(std::string("expected '") + c + "'" + (i >= text.size() ? ", found the end" : ""));
        ++i;
    };
    auto string = [&] {
        expect('"');
        std::string out;
        while (true) {
            if (i >= text.size())
                fail("unterminated string");
            char c = text[i++];
            if (c == '"')
                return out;
            if (static_cast<unsigned char>(c) < 0x20)
                fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= text.size())
                fail("unterminated escape");
            switch (char e = text[i++]) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                if (i + 4 > text.size())
                    fail("truncated \\u escape");
                unsigned v = 0;
                for (int k = 0; k < 4; ++k) {
                    char h = text[i++];
                    v <<= 4;
                    if (h >= '0' && h <= '9')
                        v |= unsigned(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        v |= unsigned(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        v |= unsigned(h - 'A' + 10);
                    else
                        fail("bad hex digit in \\u escape");
                }
                if (v < 0x80) {
                    out += static_cast<char>(v);
                } else if (v < 0x800) {
                    out += static_cast<char>(0xC0 | (v >> 6));
                    out += static_cast<char>(0x80 | (v & 0x3F));
                } else {
                    out += static_cast<char>(0xE0 | (v >> 12));
                    out += static_cast<char>(0x80 | ((v >> 6) & 0x3F));
                    out += static_cast<char>(0x80 | (v & 0x3F));
                }
                break;
            }
            default: fail(std::string("unknown escape '\\") + e + "'");
            }
        }
    };
    std::map<std::string, std::string> out;
    expect('{');
    ws();
    if (i < text.size() && text[i] == '}') {
        ++i;
    } else {
        while (true) {
            std::string key = string();
            if (out.count(key))
                fail("duplicate member \"" + key + "\"");
            expect(':');
            ws();
            if (i >= text.size())
                fail("expected a value, found the end");
            if (text[i] == '"') {
                out[key] = string();
            } else if (text[i] == '{' || text[i] == '[') {
                fail("member \"" + key + "\": nested values are not expected here");
            } else {
                std::size_t const b = i;
                while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ' ' && text[i] != '\n' &&
                       text[i] != '\r' && text[i] != '\t')
                    ++i;
                std::string_view v = text.substr(b, i - b);
                bool ok = v == "true" || v == "false" || v == "null";
                if (!ok && !v.empty()) {
                    ok = true;
                    for (char c : v)
                        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
                            ok = false;
                }
                if (!ok) {
                    i = b;
                    fail("member \"" + key + "\": expected a string, a number, true, false or null");
                }
                out[key] = std::string(v);
            }
            ws();
            if (i < text.size() && text[i] == ',') {
                ++i;
                continue;
            }
            expect('}');
            break;
        }
    }
    ws();
    if (i != text.size())
        fail("unexpected text after the object");
    return out;
}

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_JSON_HPP_INCLUDED
