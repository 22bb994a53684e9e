// streambatch/io/csv/errors.hpp: what the CSV reader throws, and the words for each bad record.
//
// Out:    csv::error_kind and to_string(kind); csv::parse_error (a std::runtime_error) with
//         kind(), file(), line(), line_partition(), byte_offset(), column(), column_name() and
//         reason(); what() reads "customers.csv:12 (byte 4711): reason". The scanner's bad
//         records (detail::bad_record) and the seven functions that word them, one per kind
//         the scanner finds, kept out of the parser's hot path. Values in messages are
//         quoted as everywhere in the io family (io/detail/quote.hpp). See docs/csv.md.
// Memory: an error owns its strings.
// Errors: none thrown here.

#ifndef STREAMBATCH_IO_CSV_ERRORS_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_ERRORS_HPP_INCLUDED

#include <streambatch/io/csv/attributes.hpp>
#include <streambatch/io/csv/file_info.hpp>
#include <streambatch/io/detail/quote.hpp>
#include <streambatch/partition.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace streambatch::csv {

enum class error_kind : unsigned char {
    unclosed_quote,
    stray_quote,
    text_after_quote,
    record_too_long,
    field_count,
    nul_byte,
    conversion,
    missing_column,
    too_many_bad_rows,
    ambiguous_split, ///< a partition's first record cannot be told (see options::partition)
    quoted_newline,  ///< a line break inside quotes with options::quoted_newlines = false
};

inline constexpr char const* to_string(error_kind k) noexcept
{
    switch (k) {
    case error_kind::unclosed_quote:
        return "unclosed_quote";
    case error_kind::stray_quote:
        return "stray_quote";
    case error_kind::text_after_quote:
        return "text_after_quote";
    case error_kind::record_too_long:
        return "record_too_long";
    case error_kind::field_count:
        return "field_count";
    case error_kind::nul_byte:
        return "nul_byte";
    case error_kind::conversion:
        return "conversion";
    case error_kind::missing_column:
        return "missing_column";
    case error_kind::too_many_bad_rows:
        return "too_many_bad_rows";
    case error_kind::ambiguous_split:
        return "ambiguous_split";
    case error_kind::quoted_newline:
        return "quoted_newline";
    }
    return "unknown";
}

/// A bad record or field, and where: what() is "file:line (byte N): reason"; with the line
/// unknown (0), "file:? (byte N): reason"; with a line counted from a partition's first record,
/// "file:? (byte N; line L of partition 3/8): reason".
class parse_error : public std::runtime_error {
    error_kind kind_;
    std::string file_;
    std::uint64_t line_;
    std::uint64_t byte_offset_;
    std::string reason_;
    std::optional<std::size_t> column_;
    std::string column_name_;
    std::optional<streambatch::partition> line_partition_;

    static std::string format(std::string const& file, std::uint64_t line, std::uint64_t byte,
                              std::string const& reason,
                              std::optional<streambatch::partition> const& lp)
    {
        std::string const b = "byte " + std::to_string(byte);
        if (line == 0)
            return file + ":? (" + b + "): " + reason;
        if (lp)
            return file + ":? (" + b + "; line " + std::to_string(line) + " of partition " +
                   lp->str() + "): " + reason;
        return file + ":" + std::to_string(line) + " (" + b + "): " + reason;
    }

public:
    parse_error(error_kind kind, std::string file, std::uint64_t line, std::uint64_t byte_offset,
                std::string reason, std::optional<std::size_t> column = std::nullopt,
                std::string column_name = {},
                std::optional<streambatch::partition> line_partition = std::nullopt)
        : std::runtime_error(format(file, line, byte_offset, reason, line_partition)), kind_(kind),
          file_(std::move(file)), line_(line), byte_offset_(byte_offset),
          reason_(std::move(reason)), column_(column), column_name_(std::move(column_name)),
          line_partition_(line_partition)
    {}

    error_kind kind() const noexcept { return kind_; }
    std::string const& file() const noexcept { return file_; }
    /// The physical line (from 1); 0 when unknown; with line_partition(), the line counted
    /// from that partition's first record (line 1).
    std::uint64_t line() const noexcept { return line_; }
    /// Set when line() counts from the first record of this partition, not from the top of the
    /// input: a partitioned reader after the first never reads what comes before its range.
    std::optional<streambatch::partition> line_partition() const noexcept
    {
        return line_partition_;
    }
    std::uint64_t byte_offset() const noexcept { return byte_offset_; }
    /// The column (from 0) the error is in, when it is in one.
    std::optional<std::size_t> column() const noexcept { return column_; }
    /// The header's name of that column ("" without a header).
    std::string const& column_name() const noexcept { return column_name_; }
    /// The message without the location.
    std::string const& reason() const noexcept { return reason_; }
};

namespace detail {

/// One byte as a message shows it: io::detail::quote's style ("\x0A" for a line feed).
inline std::string describe_byte(char c)
{
    return io::detail::quote(std::string_view(&c, 1));
}

/// A bad record as the scanner found it: what, where (relative to the record's first byte), and
/// where the bad row ends for the reject path.
struct bad_record {
    error_kind kind{};
    std::size_t at = 0; ///< relative to the record start
    std::uint64_t at_line = 1;
    std::string reason;
    std::optional<std::size_t> column;
    std::size_t anchor = 0; ///< the bad row runs to the first line break from here
    bool complete = false;  ///< the record was read to its end (field count)
};

/// The record a bad_record is about: the input, the offset of its first byte and its line.
struct record_context {
    file_info const& info;
    std::uint64_t offset; ///< of the record's first byte
    std::uint64_t line;   ///< where the record began

    /// "line 9", or "line 9 of partition 3/8" where lines count from the partition's start.
    std::string line_text(std::uint64_t l) const
    {
        std::string s = "line " + std::to_string(l);
        if (info.line_partition)
            s += " of partition " + info.line_partition->str();
        return s;
    }
    /// "line 9 (byte 4530)" for the byte `rel` bytes into the record.
    std::string where(std::uint64_t l, std::size_t rel) const
    {
        return line_text(l) + " (byte " + std::to_string(offset + rel) + ")";
    }
};

// The seven bad records the scanner finds. `column` is the field being read (from 0); `at` and
// `qopen` (where the quoted field opened) are relative to the record's first byte; `l` and
// `qline` are the lines they are on.

STREAMBATCH_CSV_COLD inline bad_record
bad_field_count(record_context const& r, std::size_t expected, std::size_t found, bool has_header)
{
    std::string why = "expected " + std::to_string(expected) + " field" +
                      (expected == 1 ? "" : "s") +
                      (has_header ? " (as in the header)" : " (as in the first record)") +
                      ", found " + std::to_string(found);
    return {error_kind::field_count, 0, r.line, std::move(why), std::nullopt, 0, true};
}

STREAMBATCH_CSV_COLD inline bad_record bad_too_long(record_context const& r, std::uint64_t l,
                                                    std::size_t max, std::size_t column,
                                                    bool quoted, std::size_t qopen,
                                                    std::uint64_t qline)
{
    std::string why = "record longer than max_record_bytes = " + std::to_string(max) +
                      ": the record that began at " + r.where(r.line, 0) + " has not ended after " +
                      std::to_string(max) + " bytes";
    if (quoted)
        why += "; it is inside a quoted field that began at " + r.where(qline, qopen) + " (" +
               r.info.describe(column) + "): is a quote unclosed?";
    return {error_kind::record_too_long, max, l, std::move(why), column, quoted ? qopen : max};
}

STREAMBATCH_CSV_COLD inline bad_record bad_nul(record_context const& r, std::size_t at,
                                               std::uint64_t l, std::size_t column)
{
    return {error_kind::nul_byte,
            at,
            l,
            "NUL byte in " + r.info.describe(column) +
                ": CSV text has none (is the file binary, or UTF-16?)",
            column,
            at};
}

STREAMBATCH_CSV_COLD inline bad_record bad_stray_quote(record_context const& r, std::size_t at,
                                                       std::uint64_t l, std::size_t column)
{
    return {error_kind::stray_quote,
            at,
            l,
            "quote inside an unquoted field (" + r.info.describe(column) +
                "): expected the whole field in quotes, with each quote in it doubled",
            column,
            at};
}

STREAMBATCH_CSV_COLD inline bad_record bad_unclosed_quote(record_context const& r, std::size_t at,
                                                          std::uint64_t l, std::size_t column,
                                                          std::size_t qopen, std::uint64_t qline)
{
    return {error_kind::unclosed_quote,
            at,
            l,
            "unclosed quote: reached end of file inside a quoted field that began at " +
                r.where(qline, qopen) + ", " + r.info.describe(column),
            column,
            qopen};
}

/// The bad row ends at this line break: the rest is read as the next record, as a partitioned
/// reader with quoted_newlines = false reads it.
STREAMBATCH_CSV_COLD inline bad_record bad_quoted_newline(record_context const& r, std::size_t at,
                                                          std::uint64_t l, std::size_t column,
                                                          std::size_t qopen, std::uint64_t qline)
{
    return {error_kind::quoted_newline,
            at,
            l,
            "line break inside a quoted field that began at " + r.where(qline, qopen) + ", " +
                r.info.describe(column) + ", but options::quoted_newlines is false",
            column,
            at};
}

STREAMBATCH_CSV_COLD inline bad_record bad_text_after_quote(record_context const& r, std::size_t at,
                                                            std::uint64_t l, std::size_t column,
                                                            char c, char delimiter)
{
    return {error_kind::text_after_quote,
            at,
            l,
            "unexpected " + describe_byte(c) + " after the closing quote of " +
                r.info.describe(column) + ": expected " + describe_byte(delimiter) +
                ", a line break or the end of the file",
            column,
            at};
}

/// The parse_error for a bad record.
inline parse_error error_of(record_context const& r, bad_record const& b)
{
    std::string cname = b.column ? r.info.column_name(*b.column) : std::string();
    return parse_error(b.kind, r.info.name, b.at_line, r.offset + b.at, b.reason, b.column,
                       std::move(cname), r.info.line_partition);
}

} // namespace detail

} // namespace streambatch::csv

#endif // STREAMBATCH_IO_CSV_ERRORS_HPP_INCLUDED
