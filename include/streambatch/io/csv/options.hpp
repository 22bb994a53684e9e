// streambatch/io/csv/options.hpp: what a CSV reader is told (csv::options) and where it is
// (csv::position, csv::partition_range), and a position as text and back.
//
// In:     csv::options by designated initialisers: delimiter, quote, has_header,
//         strict_field_count, block_size, max_record_bytes, bad_rows (on_error::fail / skip),
//         max_skipped, reject_path or reject_stream, name, partition, quoted_newlines.
// Out:    csv::position {byte_offset, line, rows, skipped}: a reader opened with it goes on
//         there. to_string(position) -> "4711 12 10 1" (the four fields, space-separated: the
//         text checkpoints store); parse_position(text) reads it back.
// Errors: parse_position: std::invalid_argument naming the text and what is wrong with it.
//         detail::check(options): std::invalid_argument for options no reader can use.
// Example:
//     std::string const saved = csv::to_string(reader.position());   // "4711 12 10 1"
//     csv::reader again("customers.csv", opts, csv::parse_position(saved));
// See docs/csv.md.

#ifndef STREAMBATCH_IO_CSV_OPTIONS_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_OPTIONS_HPP_INCLUDED

#include <streambatch/detail/parse.hpp>
#include <streambatch/io/csv/errors.hpp>
#include <streambatch/io/detail/quote.hpp>
#include <streambatch/partition.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace streambatch::csv {

/// What the reader does with a bad record.
enum class on_error : unsigned char {
    fail, ///< throw csv::parse_error (the default)
    skip, ///< write it to the reject file, count it, go on (up to max_skipped)
};

/// The reader's options; designated initialisers name what you change.
struct options {
    char delimiter = ',';
    char quote = '"';
    bool has_header = true;         ///< the first record names the columns
    bool strict_field_count = true; ///< every row has as many fields as the header (first row)
    std::size_t block_size = std::size_t{64} << 10;       ///< bytes per read
    std::size_t max_record_bytes = std::size_t{16} << 20; ///< longest record, terminator excluded
    on_error bad_rows = on_error::fail;
    std::size_t max_skipped = 100;         ///< on_error::skip: the next bad record throws
    std::filesystem::path reject_path{};   ///< on_error::skip: bad records go here ...
    std::ostream* reject_stream = nullptr; ///< ... or here (not owned); JSON Lines, docs/rejects.md
    std::string name{}; ///< the file name in messages (default: path or "<stream>")
    /// Read only this share of the records: those that begin in the partition's byte range
    /// (see "Partitions" in streambatch/io/csv.hpp). {0, 1}: the whole input.
    streambatch::partition partition{};
    /// false: no quoted field holds a line break, so every line break ends a record. A
    /// partitioned reader then starts after the first line break past its split point instead
    /// of telling the two readings apart; a line break inside quotes is an error (quoted_newline).
    bool quoted_newlines = true;
};

/// Where a reader is: the start of the row at its iterator (or of the end of input).
struct position {
    std::uint64_t byte_offset = 0; ///< from the start of the input (a BOM counts)
    std::uint64_t line = 1;        ///< physical line, from 1
    std::uint64_t rows = 0;        ///< data rows before this one
    std::uint64_t skipped = 0;     ///< bad records skipped before this one
    friend bool operator==(position const&, position const&) = default;
};

/// A partitioned reader's share of the input, in byte offsets (see options::partition). The
/// partition's records are those that begin in [nominal_begin, nominal_end); where it really
/// begins and ends (a record's first byte, or the end of input) is reader::position() before
/// the first row and after the last: partition i's end is partition i + 1's beginning.
struct partition_range {
    std::uint64_t data_begin = 0;    ///< D: the first byte after the BOM and the header
    std::uint64_t data_end = 0;      ///< S: the input's size when the reader opened it
    std::uint64_t nominal_begin = 0; ///< D + (S - D) * index / count
    std::uint64_t nominal_end = 0;   ///< D + (S - D) * (index + 1) / count
    friend bool operator==(partition_range const&, partition_range const&) = default;
};

/// The position as text: its four fields space-separated, "byte_offset line rows skipped"
/// (e.g. "4711 12 10 1"), the text checkpoints store. parse_position reads it back.
inline std::string to_string(position const& p)
{
    return std::to_string(p.byte_offset) + " " + std::to_string(p.line) + " " +
           std::to_string(p.rows) + " " + std::to_string(p.skipped);
}

/// The position that to_string wrote: exactly four whole numbers (decimal, no sign) separated
/// by one space each, the line at least 1. std::invalid_argument naming the text and what is
/// wrong with it otherwise.
inline position parse_position(std::string_view text)
{
    auto const fail = [&](std::string const& what) -> position {
        throw std::invalid_argument(
            "streambatch::csv::parse_position: " + io::detail::quote(text) +
            " is not a position (" +
            "\"byte_offset line rows skipped\", e.g. \"4711 12 10 1\"): " + what);
    };
    static constexpr char const* names[] = {"byte_offset", "line", "rows", "skipped"};
    std::uint64_t v[4] = {};
    std::string_view rest = text;
    for (std::size_t i = 0; i < 4; ++i) {
        std::size_t const sp = i < 3 ? rest.find(' ') : std::string_view::npos;
        if (i < 3 && sp == std::string_view::npos)
            return fail("it has " + std::to_string(i + 1) + " field" + (i == 0 ? "" : "s") +
                        ", not 4");
        std::string_view const field = rest.substr(0, sp);
        if (i == 3 && field.find(' ') != std::string_view::npos)
            return fail("it has more than 4 fields (or a space after the last)");
        auto const n = streambatch::detail::parse_whole<std::uint64_t>(field);
        if (!n)
            return fail(std::string(names[i]) + " (field " + std::to_string(i + 1) + ") " +
                        (field.empty()
                             ? std::string("is empty (two spaces in a row, or a space at "
                                           "either end?)")
                             : io::detail::quote(field) + " is not a whole number below 2^64"));
        v[i] = *n;
        if (i < 3)
            rest.remove_prefix(sp + 1);
    }
    if (v[1] == 0)
        return fail("line is 0; lines count from 1");
    return position{v[0], v[1], v[2], v[3]};
}

namespace detail {

/// std::invalid_argument("streambatch::csv: ...") for options no reader can use.
inline void check(options const& o)
{
    auto const fail = [](std::string const& what) {
        throw std::invalid_argument("streambatch::csv: " + what);
    };
    auto const special = [](char c) { return c == '\n' || c == '\r' || c == '\0'; };
    if (special(o.delimiter))
        fail("the delimiter must not be CR, LF or NUL");
    if (special(o.quote))
        fail("the quote must not be CR, LF or NUL");
    if (o.delimiter == o.quote)
        fail("the delimiter and the quote are both " + describe_byte(o.quote));
    if (o.block_size == 0 || o.block_size > (std::size_t{1} << 30))
        fail("block_size must be between 1 byte and 1 GiB, got " + std::to_string(o.block_size));
    if (o.max_record_bytes == 0 || o.max_record_bytes > (std::size_t{1} << 31))
        fail("max_record_bytes must be between 1 byte and 2 GiB, got " +
             std::to_string(o.max_record_bytes));
    if (o.bad_rows == on_error::skip && o.reject_path.empty() && o.reject_stream == nullptr)
        fail("on_error::skip needs a reject_path or a reject_stream, so that no bad row is lost "
             "silently");
    if (o.partition.count == 0)
        fail("options::partition {index " + std::to_string(o.partition.index) +
             ", count 0}: the count must be at least 1");
    if (o.partition.index >= o.partition.count)
        fail("options::partition " + o.partition.str() + " (index " +
             std::to_string(o.partition.index) + ", count " + std::to_string(o.partition.count) +
             "): the index must be below the count");
}

/// `o`, once check(o) has passed.
inline options const& checked(options const& o)
{
    check(o);
    return o;
}

} // namespace detail

} // namespace streambatch::csv

#endif // STREAMBATCH_IO_CSV_OPTIONS_HPP_INCLUDED
