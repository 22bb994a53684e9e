// streambatch/detail/json.hpp: the little JSON that run records and checkpoints need.
//
// In:     strings and numbers to write; the text of a flat JSON object, or of an object of
//         objects (a run_record.json), to read.
// Out:    json_quote(s) -> "s" with JSON escapes; parse_flat_object(text, file) -> the object's
//         members as name -> raw value (strings unescaped, numbers and literals as written);
//         parse_sections(text, file) -> section -> member -> value (deeper arrays and objects
//         as their raw, checked JSON text).
// Models: a writer of escaped strings; json_cursor, a reader a value at a time. A checkpoint
//         is one flat object ({"k": "v", "n": 1}): nested values there are rejected.
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
        : std::runtime_error(file + " (byte " + std::to_string(offset) + "): " + what),
          file_name(file), byte_offset(offset)
    {}
    std::string file_name;
    std::size_t byte_offset;
};

/// What append_escaped escapes. Both: a backslash as \\, a line feed as \n, a carriage return as
/// \r, a tab as \t. json: also '"' as \" and the other control bytes as \u00XX (a JSON string's
/// body). line: nothing else (a text on one line whose tab-separated fields split back
/// exactly: the SQL sources' identities).
enum class escape_set { json, line };

inline void append_escaped(std::string& out, std::string_view s, escape_set set)
{
    bool const json = set == escape_set::json;
    for (char c : s) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '"':
            out += json ? "\\\"" : "\"";
            break;
        default:
            if (json && static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x",
                              static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += buf;
            } else {
                out += c;
            }
        }
    }
}

inline std::string json_quote(std::string_view s)
{
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    append_escaped(out, s, escape_set::json);
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

/// Reads JSON text a value at a time; errors name the file and the byte offset.
class json_cursor {
    std::string_view text_;
    std::string const& file_;

public:
    std::size_t i = 0;

    json_cursor(std::string_view text, std::string const& file) : text_(text), file_(file) {}

    [[noreturn]] void fail(std::string const& what) const { throw json_error(file_, i, what); }
    void ws()
    {
        while (i < text_.size() &&
               (text_[i] == ' ' || text_[i] == '\n' || text_[i] == '\r' || text_[i] == '\t'))
            ++i;
    }
    char peek()
    {
        ws();
        if (i >= text_.size())
            fail("expected a value, found the end");
        return text_[i];
    }
    bool at_end()
    {
        ws();
        return i >= text_.size();
    }
    void expect(char c)
    {
        ws();
        if (i >= text_.size() || text_[i] != c)
            fail(std::string("expected '") + c + "'" +
                 (i >= text_.size() ? ", found the end" : ""));
        ++i;
    }
    bool consume(char c)
    {
        ws();
        if (i < text_.size() && text_[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    std::string string()
    {
        expect('"');
        std::string out;
        while (true) {
            if (i >= text_.size())
                fail("unterminated string");
            char c = text_[i++];
            if (c == '"')
                return out;
            if (static_cast<unsigned char>(c) < 0x20)
                fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= text_.size())
                fail("unterminated escape");
            switch (char e = text_[i++]) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'u': {
                if (i + 4 > text_.size())
                    fail("truncated \\u escape");
                unsigned v = 0;
                for (int k = 0; k < 4; ++k) {
                    char h = text_[i++];
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
            default:
                fail(std::string("unknown escape '\\") + e + "'");
            }
        }
    }
    /// A number, true, false or null, as its text.
    std::string scalar(std::string const& key)
    {
        ws();
        std::size_t const b = i;
        while (i < text_.size() && text_[i] != ',' && text_[i] != '}' && text_[i] != ']' &&
               text_[i] != ' ' && text_[i] != '\n' && text_[i] != '\r' && text_[i] != '\t')
            ++i;
        std::string_view v = text_.substr(b, i - b);
        bool ok = v == "true" || v == "false" || v == "null";
        if (!ok && !v.empty()) {
            ok = true;
            for (char c : v)
                if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' ||
                      c == 'E'))
                    ok = false;
        }
        if (!ok) {
            i = b;
            fail("member \"" + key + "\": expected a string, a number, true, false or null");
        }
        return std::string(v);
    }
    /// Any value (an array or object too), checked, as its raw text.
    std::string raw(std::string const& key)
    {
        ws();
        std::size_t const b = i;
        char const c = peek();
        if (c == '"') {
            (void)string();
        } else if (c == '{' || c == '[') {
            char const close = c == '{' ? '}' : ']';
            ++i;
            if (!consume(close)) {
                do {
                    if (c == '{') {
                        (void)string();
                        expect(':');
                    }
                    (void)raw(key);
                } while (consume(','));
                expect(close);
            }
        } else {
            (void)scalar(key);
        }
        return std::string(text_.substr(b, i - b));
    }
    /// The members of an object; `value(key)` reads each one's value.
    template <class F>
    void members(F&& value)
    {
        expect('{');
        if (consume('}'))
            return;
        do {
            std::string key = string();
            expect(':');
            value(key);
        } while (consume(','));
        expect('}');
    }
};

inline std::map<std::string, std::string> parse_flat_object(std::string_view text,
                                                            std::string const& file)
{
    json_cursor in(text, file);
    std::map<std::string, std::string> out;
    in.members([&](std::string const& key) {
        if (out.count(key))
            in.fail("duplicate member \"" + key + "\"");
        char const c = in.peek();
        if (c == '"')
            out[key] = in.string();
        else if (c == '{' || c == '[')
            in.fail("member \"" + key + "\": nested values are not expected here");
        else
            out[key] = in.scalar(key);
    });
    if (!in.at_end())
        in.fail("unexpected text after the object");
    return out;
}

/// An object of objects ({"report": {...}, "configuration": {...}}): section -> member -> value
/// (strings unquoted; numbers, booleans and null as written; arrays and objects as raw JSON).
inline std::map<std::string, std::map<std::string, std::string>>
parse_sections(std::string_view text, std::string const& file)
{
    json_cursor in(text, file);
    std::map<std::string, std::map<std::string, std::string>> out;
    in.members([&](std::string const& section) {
        if (out.count(section))
            in.fail("duplicate member \"" + section + "\"");
        auto& m = out[section];
        if (in.peek() != '{')
            in.fail("member \"" + section + "\": expected an object");
        in.members([&](std::string const& key) {
            if (m.count(key))
                in.fail("duplicate member \"" + section + "." + key + "\"");
            char const c = in.peek();
            m[key] = c == '"' ? in.string() : in.raw(key);
        });
    });
    if (!in.at_end())
        in.fail("unexpected text after the object");
    return out;
}

} // namespace streambatch::detail

#endif // STREAMBATCH_DETAIL_JSON_HPP_INCLUDED
