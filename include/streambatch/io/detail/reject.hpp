// streambatch/io/detail/reject.hpp: the one reject record of every io source (CSV, SQLite,
// PostgreSQL) and its JSON Lines text, both ways. See docs/rejects.md (the schema).
//
// In:     a streambatch::io::reject: what failed (error), where (source, name, query; line,
//         byte_offset, row, partition; column, column_name) and the record itself: raw (CSV: the
//         record's bytes, raw_size its whole length when raw was cut) or columns and values (SQL).
// Out:    to_json_line(r) -> one line of JSON, no line break; every member is always written, in
//         the schema's order, null when unknown. parse_reject(line) -> the reject again, equal
//         to the one written (operator==): bytes that are not UTF-8 travel as {"base64":...}.
// Errors: parse_reject throws streambatch::detail::json_error (the line's byte offset and what
//         was expected) for a line that is not a reject.
// Example:
//     io::reject r{.source = "csv", .name = "in.csv", .line = 3, .byte_offset = 42, .error = "...",
//     .raw = "a,b"}; assert(io::parse_reject(io::to_json_line(r)) == r);

#ifndef STREAMBATCH_IO_DETAIL_REJECT_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_REJECT_HPP_INCLUDED

#include <streambatch/detail/json.hpp>
#include <streambatch/detail/parse.hpp>
#include <streambatch/io/detail/base64.hpp>
#include <streambatch/io/detail/json_text.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace streambatch::io {

/// One value of a rejected SQL row, as the database held it.
struct reject_value {
    enum class kind : unsigned char { null, integer, real, text, blob };
    kind type = kind::null;
    std::int64_t integer = 0; ///< kind::integer
    double real = 0;          ///< kind::real (NaN compares equal to NaN here)
    std::string bytes{};      ///< kind::text, kind::blob

    static reject_value null_value() { return {}; }
    static reject_value of_integer(std::int64_t v) { return {kind::integer, v, 0, {}}; }
    static reject_value of_real(double v) { return {kind::real, 0, v, {}}; }
    static reject_value of_text(std::string_view v) { return {kind::text, 0, 0, std::string(v)}; }
    static reject_value of_blob(std::string_view v) { return {kind::blob, 0, 0, std::string(v)}; }

    friend bool operator==(reject_value const& a, reject_value const& b) noexcept
    {
        if (a.type != b.type)
            return false;
        switch (a.type) {
        case kind::integer:
            return a.integer == b.integer;
        case kind::real:
            return a.real == b.real || (std::isnan(a.real) && std::isnan(b.real));
        case kind::text:
        case kind::blob:
            return a.bytes == b.bytes;
        case kind::null:
            break;
        }
        return true;
    }
};

/// One rejected record. Members that do not apply to a source stay empty (written as null).
struct reject {
    std::string source{};                       ///< "csv", "sqlite", "postgres"
    std::string name{};                         ///< the file (CSV, SQLite) or host:port/dbname
    std::optional<std::string> query{};         ///< SQL: the query's text
    std::optional<std::uint64_t> line{};        ///< CSV: 1-based line where the record starts
    std::optional<std::uint64_t> byte_offset{}; ///< CSV: offset of the record's first byte
    std::optional<std::uint64_t> row{};         ///< 1-based record (CSV: data row; SQL: result row)
    std::optional<std::string> partition{};     ///< "index/count" when read as a partition
    std::optional<std::uint64_t> column{};      ///< 0-based column, when one is to blame
    std::optional<std::string> column_name{};
    std::string error{};                     ///< the message, without the location prefix
    std::optional<std::string> raw{};        ///< CSV: the record's bytes, exactly
    std::optional<std::uint64_t> raw_size{}; ///< the record's whole size when raw holds fewer bytes
    std::optional<std::vector<std::string>> columns{}; ///< SQL: the column names
    std::optional<std::vector<reject_value>> values{}; ///< SQL: the row's values

    friend bool operator==(reject const&, reject const&) = default;
};

/// The version written as "streambatch_reject" (the first member of each line).
inline constexpr int reject_format_version = 1;

namespace detail {

inline void append_json_value(std::string& out, reject_value const& v)
{
    switch (v.type) {
    case reject_value::kind::integer:
        out += std::to_string(v.integer);
        return;
    case reject_value::kind::real:
        if (std::isnan(v.real)) {
            out += "{\"real\":\"NaN\"}";
        } else if (std::isinf(v.real)) {
            out += v.real > 0 ? "{\"real\":\"Infinity\"}" : "{\"real\":\"-Infinity\"}";
        } else {
            char buf[64];
            auto const r = std::to_chars(buf, buf + sizeof buf, v.real); // shortest that reads back
            std::string_view const s(buf, static_cast<std::size_t>(r.ptr - buf));
            out += s;
            if (s.find_first_of(".eEn") == std::string_view::npos)
                out += ".0"; // 2.0 stays a real when read back
        }
        return;
    case reject_value::kind::text:
        append_json_text(out, v.bytes);
        return;
    case reject_value::kind::blob:
        out += "{\"blob\":\"" + base64_encode(v.bytes) + "\"}";
        return;
    case reject_value::kind::null:
        break;
    }
    out += "null";
}

template <class T, class F>
void append_member(std::string& out, char const* key, std::optional<T> const& v, F&& write)
{
    out += ",\"";
    out += key;
    out += "\":";
    if (v)
        write(*v);
    else
        out += "null";
}

inline reject_value read_json_value(streambatch::detail::json_cursor& in, std::string const& key)
{
    char const c = in.peek();
    if (c == '"')
        return reject_value::of_text(in.string());
    if (c != '{') {
        std::string const s = in.scalar(key);
        if (s == "null")
            return {};
        if (s.find_first_of(".eE") == std::string::npos) {
            if (auto v = streambatch::detail::parse_whole<std::int64_t>(s))
                return reject_value::of_integer(*v);
        } else {
            double d = 0;
            auto const r = std::from_chars(s.data(), s.data() + s.size(), d);
            if (r.ec == std::errc{} && r.ptr == s.data() + s.size())
                return reject_value::of_real(d);
        }
        in.fail("member \"" + key + "\": expected a 64-bit integer or a number, found " + s);
    }
    reject_value v;
    bool seen = false;
    in.members([&](std::string const& tag) {
        if (seen)
            in.fail("member \"" + key + "\": a tagged value has one member");
        seen = true;
        std::string const s = in.string();
        if (tag == "base64" || tag == "blob") {
            auto bytes = base64_decode(s);
            if (!bytes)
                in.fail("member \"" + key + "\": \"" + tag + "\" does not hold base64");
            v.type = tag == "blob" ? reject_value::kind::blob : reject_value::kind::text;
            v.bytes = std::move(*bytes);
        } else if (tag == "real" && (s == "NaN" || s == "Infinity" || s == "-Infinity")) {
            v.type = reject_value::kind::real;
            v.real = s == "NaN" ? std::nan("") : s == "Infinity" ? HUGE_VAL : -HUGE_VAL;
        } else {
            in.fail("member \"" + key + "\": unknown tagged value {\"" + tag + "\": ...}");
        }
    });
    if (!seen)
        in.fail("member \"" + key + "\": an empty object is no value");
    return v;
}

} // namespace detail

/// The reject as one line of JSON (no line break): see docs/rejects.md.
inline std::string to_json_line(reject const& r)
{
    using detail::append_json_text;
    std::string out =
        "{\"streambatch_reject\":" + std::to_string(reject_format_version) + ",\"source\":";
    append_json_text(out, r.source);
    out += ",\"name\":";
    append_json_text(out, r.name);
    auto const text = [&](std::string const& s) { append_json_text(out, s); };
    auto const number = [&](std::uint64_t v) { out += std::to_string(v); };
    detail::append_member(out, "query", r.query, text);
    detail::append_member(out, "line", r.line, number);
    detail::append_member(out, "byte_offset", r.byte_offset, number);
    detail::append_member(out, "row", r.row, number);
    detail::append_member(out, "partition", r.partition, text);
    detail::append_member(out, "column", r.column, number);
    detail::append_member(out, "column_name", r.column_name, text);
    out += ",\"error\":";
    append_json_text(out, r.error);
    detail::append_member(out, "raw", r.raw, text);
    detail::append_member(out, "raw_size", r.raw_size, number);
    detail::append_member(out, "columns", r.columns, [&](std::vector<std::string> const& names) {
        out += '[';
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i)
                out += ',';
            append_json_text(out, names[i]);
        }
        out += ']';
    });
    detail::append_member(out, "values", r.values, [&](std::vector<reject_value> const& values) {
        out += '[';
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i)
                out += ',';
            detail::append_json_value(out, values[i]);
        }
        out += ']';
    });
    out += '}';
    return out;
}

/// Reads a line written by to_json_line (members in any order; unknown members are an error,
/// so that a misspelt name is not read as null). `where` names the line in errors ("rej.jsonl:3").
inline reject parse_reject(std::string_view line, std::string const& where = "reject line")
{
    using streambatch::detail::json_cursor;
    json_cursor in(line, where);
    reject r;
    bool versioned = false;
    auto const number = [&](std::string const& key) -> std::optional<std::uint64_t> {
        std::string const s = in.scalar(key);
        if (s == "null")
            return std::nullopt;
        if (auto v = streambatch::detail::parse_whole<std::uint64_t>(s))
            return v;
        in.fail("member \"" + key + "\": expected a whole number or null, found " + s);
    };
    auto const text = [&](std::string const& key) -> std::optional<std::string> {
        if (in.peek() != '"' && in.peek() != '{') {
            if (in.scalar(key) != "null")
                in.fail("member \"" + key + "\": expected a string or null");
            return std::nullopt;
        }
        return detail::read_json_text(in);
    };
    auto const array = [&](std::string const& key, auto&& element) {
        if (in.peek() != '[') {
            if (in.scalar(key) != "null")
                in.fail("member \"" + key + "\": expected an array or null");
            return false;
        }
        in.expect('[');
        if (!in.consume(']')) {
            do
                element();
            while (in.consume(','));
            in.expect(']');
        }
        return true;
    };
    in.members([&](std::string const& key) {
        if (key == "streambatch_reject") {
            auto const v = number(key);
            if (v != std::optional<std::uint64_t>(reject_format_version))
                in.fail("unknown reject format version");
            versioned = true;
        } else if (key == "source") {
            r.source = text(key).value_or("");
        } else if (key == "name") {
            r.name = text(key).value_or("");
        } else if (key == "query") {
            r.query = text(key);
        } else if (key == "line") {
            r.line = number(key);
        } else if (key == "byte_offset") {
            r.byte_offset = number(key);
        } else if (key == "row") {
            r.row = number(key);
        } else if (key == "partition") {
            r.partition = text(key);
        } else if (key == "column") {
            r.column = number(key);
        } else if (key == "column_name") {
            r.column_name = text(key);
        } else if (key == "error") {
            r.error = text(key).value_or("");
        } else if (key == "raw") {
            r.raw = text(key);
        } else if (key == "raw_size") {
            r.raw_size = number(key);
        } else if (key == "columns") {
            std::vector<std::string> names;
            if (array(key, [&] { names.push_back(detail::read_json_text(in)); }))
                r.columns = std::move(names);
        } else if (key == "values") {
            std::vector<reject_value> values;
            if (array(key, [&] { values.push_back(detail::read_json_value(in, key)); }))
                r.values = std::move(values);
        } else {
            in.fail("unknown member \"" + key + "\"");
        }
    });
    if (!in.at_end())
        in.fail("unexpected text after the object");
    if (!versioned)
        in.fail("no \"streambatch_reject\" member: not a reject line");
    return r;
}

} // namespace streambatch::io

#endif // STREAMBATCH_IO_DETAIL_REJECT_HPP_INCLUDED
