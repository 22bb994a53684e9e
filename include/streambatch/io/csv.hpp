// streambatch/io/csv.hpp: a single-pass CSV source of rows that reads fixed-size blocks, and a
// CSV writer (RFC 4180).
//
// In:     a path, a std::istream, a std::FILE* or a file descriptor, and csv::options:
//         delimiter (','), quote ('"'), has_header (true), strict_field_count (true),
//         block_size (64 KiB), max_record_bytes (16 MiB), bad_rows (on_error::fail; or
//         on_error::skip with max_skipped (100) and reject_path or reject_stream), name (the
//         file name in messages), partition ({0, 1}: the whole input; see Partitions below),
//         quoted_newlines (true). Optionally a csv::position saved earlier, to resume there.
// Out:    csv::rows(...) / csv::reader: a view of csv::row. A row owns its bytes in one
//         allocation (a 32-byte head with line, byte offset and sizes; 8 bytes of bounds per
//         field; the record's text, unquoted in place; 16 bytes of slack). It has size(),
//         operator[](i) / at(i) / at("name") -> std::string_view, get<T>(i or "name") for
//         integers, floats, bool, std::string(_view) and std::optional of those (empty field ->
//         nullopt), line() and byte_offset() where it starts, and iterates its fields.
//         reader::position() -> {byte_offset, line, rows, skipped} of the row at the iterator
//         (the first one not yet passed); a reader opened with it continues there (it re-reads
//         the header, then seeks; an unseekable input is read forward). csv::writer writes
//         records with the quoting they need.
// Syntax: RFC 4180. Fields are separated by the delimiter; a field that begins with the quote
//         is quoted: it may hold delimiters, CR, LF and doubled quotes (one quote each), and ends
//         with a quote followed by a delimiter, a line break or the end of input. Records end at
//         LF, CRLF or a lone CR outside quotes; the last may lack one. Blank lines (no bytes at
//         all) are skipped; a line of spaces is a record: spaces are data, never trimmed. A UTF-8
//         BOM at byte 0 is skipped (byte offsets still count it); elsewhere it is data. Bytes are
//         not checked as UTF-8. With has_header, an empty file (or one with only a header) gives
//         no rows and no error. Lines count from 1; columns and byte offsets from 0.
// Models: reader: std::ranges::input_range and view; move-only, not forward. begin() reads the
//         first row on its first call (later calls continue where the reader is); end() is
//         std::default_sentinel; *it is a row& that ++ overwrites, and that the caller may move
//         from: the batch adaptors move rows into batches, and the next row then gets its own
//         allocation (a row left in place is reused: a plain loop allocates nearly nothing).
//         Iterators survive moves of the reader. An lvalue reader is not a viewable_range (it
//         is a move-only view): to keep it for position() while batching, pipe
//         std::ranges::ref_view(reader). row: a regular value type; copy = one allocation; move
//         = three words, noexcept; sizeof(row) == 24; streambatch::record_bytes(row) is its
//         real heap size (found by ADL), so adaptive_chunk weighs rows right.
// Memory: the reader's buffer: 2 x block_size, more only for a record longer than a block, and
//         never more than max_record_bytes + 3 x block_size; plus the header and the rows the
//         caller keeps. So an unclosed quote fails at max_record_bytes instead of reading the
//         file into memory. Speed: delimiters and specials are found 64 bytes at a time with
//         SSE2 (AVX2 when compiled for it) masks, walked a set bit at a time.
// Errors: csv::parse_error (a std::runtime_error) with kind(), file(), line(), byte_offset(),
//         column(), column_name() and reason(); what() reads
//         "customers.csv:12 (byte 4711): unclosed quote: reached end of file inside a quoted
//         field that began at line 9 (byte 4530), column 2 ("note")". Kinds: unclosed_quote,
//         stray_quote (a quote inside an unquoted field), text_after_quote, record_too_long,
//         field_count (strict: every row has the header's count, or without a header the first
//         row's), nul_byte, conversion (get<T>), missing_column (at/get by a name the header
//         lacks), too_many_bad_rows, ambiguous_split and quoted_newline (see Partitions).
//         on_error::fail (default): the first bad record throws and the reader ends;
//         position() then points at it. on_error::skip: a bad record (from its start to the
//         end of the line where the error lies; for an unclosed quote, of the line
//         where the quote opened) goes to the reject CSV (file,line,byte_offset,error,raw: the
//         record's start, the full message, the raw bytes - cut to max_record_bytes, or base64
//         if they hold NUL, each said in the error column), is counted in skipped(), and reading
//         goes on; the (max_skipped + 1)-th bad record is written, then throws
//         too_many_bad_rows. The reject file is truncated on a fresh start, appended to on a
//         resume. A bad header always throws. I/O failures throw std::system_error naming the
//         file; invalid options, std::invalid_argument.
// Partitions: options::partition = {i, n} (n > 1) makes a reader of partition i's records
//         only, which reads (about) only partition i's bytes, so that n copies of a job (MPI
//         ranks, a Slurm array, a Kubernetes Indexed Job) share one file.
//         The rule (Hadoop's and Spark's text splits): the data [D, S) (D: the first byte
//         after the BOM and the header; S: the input's size when the reader opens it) is cut
//         into n nominal ranges [D + (S - D) * k / n, D + (S - D) * (k + 1) / n); a record is
//         partition k's iff its first byte (after any blank lines) lies in range k. Partition
//         i reads the header at byte 0 (for the names), seeks to its nominal begin N, finds the
//         first record that begins at or after N, and reads records while they begin before
//         its nominal end, finishing the one that crosses it. position() before the first row
//         is that first record (or, with none, where the next begins, or the end of input);
//         after the last row, the first record at or after the nominal end (or the end of
//         input): partition i's end byte_offset == partition i + 1's beginning, which a merge
//         step can check; partition_range() gives D, S and the nominal range. Every record is
//         read by exactly one partition; a partition with no record begin yields nothing.
//         Finding the first record: a line break after N may be inside a quoted field, so the
//         bytes from N are read twice, as if byte N were outside quotes and as if it were
//         inside a quoted field (byte N - 1 says where the first reading stands: after a line
//         break, a delimiter, a quote, or inside an unquoted field), each by RFC 4180 as the
//         parser reads it: a quote opens only a field, a closing quote is followed by the
//         delimiter, a line break or the end of input, no NUL, no record longer than
//         max_record_bytes, and with on_error::fail and strict_field_count the known field
//         count. Each quote flips both readings, so they disagree about every byte and at most
//         one reaches the end of input valid: the first to fail is wrong, and the other says
//         where the first record begins. Both still valid after max_record_bytes bytes:
//         parse_error ambiguous_split, naming the file and byte N (its line is unknown) and the
//         ways out. Both failing (the input is bad there): the one that failed later decides
//         if it found a record start before failing (reading then meets that error where it
//         lies); if not, a parse_error of the later failure's kind naming both failures.
//         quoted_newlines = false (no quoted field holds a line break): the first record begins
//         after the first line break at or after byte N - 1 (Hadoop's rule), with no second
//         reading; the promise is checked: a line break inside quotes is a quoted_newline error
//         (under on_error::skip the bad row ends at that line break, as a partition sees it).
//         Lines: partition 0 counts the file's lines. A later partition never reads what comes
//         before its range, so its lines count from its first record, line 1: row.line(),
//         position().line and parse_error::line() are those, parse_error::line_partition()
//         says whose, what() reads "f.csv:? (byte 4711; line 3 of partition 2/8): ...", and
//         its reject rows leave the line empty. Byte offsets are exact everywhere;
//         position().rows and skipped() count the partition's own.
//         Resume: csv::reader(path, same options, saved) goes on at `saved` inside the
//         partition and still stops at its end. on_error::skip works within each partition
//         (each needs its own reject file). An input of unknown size or that cannot seek (a
//         pipe, an unseekable stream) throws std::invalid_argument for n > 1: read it whole,
//         with views::every_nth. The input must not change while partitions read it.
//         Cost: the two readings usually part within a record or two; in a file with hardly
//         any quotes, the reading inside a quote fails only at max_record_bytes, so each
//         partition scans that far (16 MiB by default, without keeping it) before reading: set
//         max_record_bytes near the longest record, or quoted_newlines = false. A whole reader
//         (n == 1) pays one compare per record.
// Example:
//     csv::options const opts{.bad_rows = csv::on_error::skip, .reject_path = "rej.csv"};
//     csv::reader rows("customers.csv", opts);
//     for (auto&& batch : std::ranges::ref_view(rows) | streambatch::views::memory_guarded(100)) {
//         for (csv::row& r : batch)
//             total += r.get<double>("amount"); // parse_error names the line and the column
//         save(rows.position());                 // csv::reader(path, opts, pos) resumes here
//     }

#ifndef STREAMBATCH_IO_CSV_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_HPP_INCLUDED

#include <streambatch/io/csv/scan.hpp>
#include <streambatch/io/csv/source.hpp>
#include <streambatch/partition.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <istream>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <ostream>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__GNUC__) || defined(__clang__)
#    define STREAMBATCH_CSV_INLINE [[gnu::always_inline]] inline
#    define STREAMBATCH_CSV_COLD [[gnu::noinline, gnu::cold]]
#else
#    define STREAMBATCH_CSV_INLINE inline
#    define STREAMBATCH_CSV_COLD
#endif

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
    std::filesystem::path reject_path{};   ///< on_error::skip: bad records go here (CSV) ...
    std::ostream* reject_stream = nullptr; ///< ... or here (not owned)
    std::string name{}; ///< the file name in messages (default: path or "<stream>")
    /// Read only this share of the records: those that begin in the partition's byte range
    /// (see "Partitions" at the top of this header). {0, 1}: the whole input.
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

class row;
class reader;
class writer;

namespace detail {

/// What every row of one input shares: the name in messages and the header.
class file_info {
    std::unordered_map<std::string_view, std::size_t> index_; // first column of each name

public:
    std::string name;
    std::vector<std::string> columns;
    std::uint64_t header_line = 1;
    std::uint64_t header_byte = 0;
    /// Set in a partition after the first: its rows' lines count from its first record.
    std::optional<streambatch::partition> line_partition;

    file_info() = default;
    file_info(file_info const&) = delete; // index_ points into columns
    file_info& operator=(file_info const&) = delete;

    void set_columns(std::vector<std::string> c)
    {
        columns = std::move(c);
        index_.clear();
        for (std::size_t i = 0; i < columns.size(); ++i)
            index_.emplace(columns[i], i);
    }
    std::optional<std::size_t> find(std::string_view column) const
    {
        auto const it = index_.find(column);
        if (it == index_.end())
            return std::nullopt;
        return it->second;
    }
    std::string column_name(std::size_t i) const
    {
        return i < columns.size() ? columns[i] : std::string();
    }
    /// `column 2 ("age")`, or `column 2` without a header.
    std::string describe(std::size_t i) const
    {
        std::string s = "column " + std::to_string(i);
        if (i < columns.size())
            s += " (\"" + columns[i] + "\")";
        return s;
    }
    std::string column_list() const
    {
        std::string s;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i != 0)
                s += ", ";
            s += columns[i];
        }
        return s;
    }
};

/// The fields of the record being parsed, as the row stores them: a (begin, end) pair of
/// offsets from the record's first byte per field, quotes included for quoted fields, which
/// are listed apart (index, doubled quotes) to be unquoted when the row is made.
class field_list {
    struct quoted_field {
        std::uint32_t index;
        std::uint32_t escapes;
    };
    std::unique_ptr<std::uint32_t[]> bounds_;
    std::size_t size_ = 0, cap_ = 0;
    std::vector<quoted_field> quoted_;

    STREAMBATCH_CSV_COLD void grow()
    {
        std::size_t const cap = cap_ == 0 ? 128 : 2 * cap_; // always >= 72 free after growing
        std::unique_ptr<std::uint32_t[]> fresh(
            new std::uint32_t[2 * cap + 4]()); // + 16 bytes: row::copy16
        if (size_ != 0)
            std::memcpy(fresh.get(), bounds_.get(), 2 * size_ * sizeof(std::uint32_t));
        bounds_ = std::move(fresh);
        cap_ = cap;
    }

public:
    void clear() noexcept
    {
        size_ = 0;
        quoted_.clear();
    }
    std::size_t size() const noexcept { return size_; }
    std::uint32_t const* bounds() const noexcept { return bounds_.get(); }
    std::span<quoted_field const> quoted() const noexcept { return quoted_; }

    STREAMBATCH_CSV_INLINE void push(std::size_t b, std::size_t e)
    {
        if (size_ == cap_)
            grow();
        bounds_[2 * size_] = static_cast<std::uint32_t>(b);
        bounds_[2 * size_ + 1] = static_cast<std::uint32_t>(e);
        ++size_;
    }
    STREAMBATCH_CSV_INLINE void push_delimited(std::uint64_t delims, std::size_t at,
                                               std::size_t& fstart)
    {
        if (cap_ - size_ < 64)
            grow();
        std::uint32_t* b = bounds_.get() + 2 * size_;
        auto f = static_cast<std::uint32_t>(fstart);
        auto const base = static_cast<std::uint32_t>(at);
        std::size_t n = 0;
        for (; delims != 0; delims &= delims - 1) {
            auto const k = base + static_cast<std::uint32_t>(std::countr_zero(delims));
            b[2 * n] = f;
            b[2 * n + 1] = k;
            f = k + 1;
            ++n;
        }
        size_ += n;
        fstart = f;
    }
    void push_quoted(std::size_t b, std::size_t e, std::uint32_t escapes)
    {
        quoted_.push_back({static_cast<std::uint32_t>(size_), escapes});
        push(b, e);
    }
};

/// `"text"` for a message: at most 40 bytes, control bytes as \xNN.
inline std::string quote_for_message(std::string_view s)
{
    std::string out = "\"";
    std::size_t const shown = std::min<std::size_t>(s.size(), 40);
    for (std::size_t i = 0; i < shown; ++i) {
        auto const c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02X", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    if (shown < s.size())
        out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

/// RFC 4648 base64, for reject rows that hold NUL bytes.
inline std::string base64(std::string_view in)
{
    static constexpr char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        auto const v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                       (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                       std::uint32_t{static_cast<unsigned char>(in[i + 2])};
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += digits[(v >> 6) & 63];
        out += digits[v & 63];
    }
    if (i < in.size()) {
        std::uint32_t v = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
        if (i + 1 < in.size())
            v |= std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += i + 1 < in.size() ? digits[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

inline std::string describe_byte(char c)
{
    return quote_for_message(std::string_view(&c, 1));
}

template <class T>
struct optional_traits : std::false_type {};
template <class T>
struct optional_traits<std::optional<T>> : std::true_type {
    using value_type = T;
};

// Character types are not numbers here (signed and unsigned char are: std::int8_t, std::uint8_t).
template <class T>
concept character = std::same_as<T, char> || std::same_as<T, wchar_t> || std::same_as<T, char8_t> ||
    std::same_as<T, char16_t> || std::same_as<T, char32_t>;

template <class T>
concept scalar_field = std::same_as<T, std::string> || std::same_as<T, std::string_view> ||
                       std::same_as<T, bool> ||(std::integral<T> && !character<T>) ||
                       std::floating_point<T>;

template <class T>
concept field_type = scalar_field<T> ||
    (optional_traits<T>::value&& scalar_field<typename optional_traits<T>::value_type>);

template <class T>
std::string type_name()
{
    if constexpr (std::same_as<T, bool>)
        return "bool";
    else if constexpr (std::same_as<T, float>)
        return "float";
    else if constexpr (std::same_as<T, double>)
        return "double";
    else if constexpr (std::same_as<T, long double>)
        return "long double";
    else if constexpr (std::integral<T>)
        return std::string(std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
    else
        return "string";
}

/// Converts `s` to T; returns "" or why it cannot.
template <scalar_field T>
std::string convert(std::string_view s, T& out)
{
    if constexpr (std::same_as<T, std::string_view>) {
        out = s;
        return {};
    } else if constexpr (std::same_as<T, std::string>) {
        out.assign(s);
        return {};
    } else if constexpr (std::same_as<T, bool>) {
        auto const eq = [&](std::string_view w) {
            return s.size() == w.size() &&
                   std::equal(s.begin(), s.end(), w.begin(), [](char a, char b) {
                       return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
                   });
        };
        if (s == "1" || eq("true")) {
            out = true;
            return {};
        }
        if (s == "0" || eq("false")) {
            out = false;
            return {};
        }
        return "expected true, false, 1 or 0";
    } else {
        if (s.empty())
            return "the field is empty";
        char const* const first = s.data();
        char const* const last = s.data() + s.size();
        std::from_chars_result r;
        if constexpr (std::floating_point<T>)
            r = std::from_chars(first, last, out, std::chars_format::general);
        else
            r = std::from_chars(first, last, out, 10);
        if (r.ec == std::errc::result_out_of_range)
            return "out of range for " + type_name<T>();
        if (r.ec != std::errc{}) {
            if constexpr (std::unsigned_integral<T>)
                if (s.front() == '-')
                    return "negative number for " + type_name<T>();
            return "not a number";
        }
        if (r.ptr != last)
            return "unexpected " + describe_byte(*r.ptr) + " after the number";
        return {};
    }
}

class reader_state;

} // namespace detail

/// One record. Owns its bytes in a single allocation; moving it moves a pointer.
class row {
    struct head {
        std::uint64_t line;
        std::uint64_t byte_offset;
        std::uint32_t fields;
        std::uint32_t bytes;    ///< field bytes (raw record length)
        std::uint64_t capacity; ///< bytes allocated, head included
    };
    static_assert(sizeof(head) == 32 && alignof(head) <= alignof(std::max_align_t));

    head* rep_ = nullptr; // head, then 2 x fields std::uint32_t bounds, then the bytes
    std::shared_ptr<detail::file_info const> info_;

    friend class detail::reader_state;

    // Copies n bytes in 16-byte steps, so up to 15 bytes past both ends: most records are short,
    // and a call to memcpy costs more than the copy. The bounds are copied before the bytes,
    // which overwrite what the bounds' last step wrote past its end.
    static void copy16(char* dst, char const* src, std::size_t n) noexcept
    {
        for (std::size_t i = 0; i < n; i += 16)
            std::memcpy(dst + i, src + i, 16);
    }
    static std::size_t needed(std::size_t fields, std::size_t bytes) noexcept
    {
        return sizeof(head) + 2 * sizeof(std::uint32_t) * fields + bytes;
    }
    std::uint32_t const* bounds() const noexcept
    {
        return reinterpret_cast<std::uint32_t const*>(reinterpret_cast<char const*>(rep_) +
                                                      sizeof(head));
    }
    char const* bytes() const noexcept
    {
        return reinterpret_cast<char const*>(rep_) + sizeof(head) +
               2 * sizeof(std::uint32_t) * rep_->fields;
    }

    // Makes this row the record whose raw text is `raw` (fields as in `f`): one copy of the
    // bounds, one of the text, then quoted fields are unquoted in place. The allocation is
    // reused when this row still has one that is large enough (the caller did not move the
    // previous row out); otherwise it is the row's one allocation.
    void assign(std::shared_ptr<detail::file_info const> const& info, std::uint64_t line,
                std::uint64_t byte_offset, detail::field_list const& f, char const* raw,
                std::size_t len, char quote)
    {
        std::size_t const n = f.size();
        // Room for copying in whole 16-byte steps (the sources are padded: the block buffer
        // and the field list both have spare bytes past what they hold).
        std::size_t const size = needed(n, len) + 16;
        if (rep_ == nullptr || rep_->capacity < size) {
            // Replacing a row the caller kept in place: leave room to reuse it for the next.
            std::size_t const cap = rep_ == nullptr ? size : size + size / 2;
            ::operator delete(rep_);
            rep_ = nullptr;
            rep_ = ::new (::operator new(cap)) head{0, 0, 0, 0, cap};
        }
        if (!info_) // kept from the previous record when it was not moved out: no refcount traffic
            info_ = info;
        rep_->line = line;
        rep_->byte_offset = byte_offset;
        rep_->fields = static_cast<std::uint32_t>(n);
        rep_->bytes = static_cast<std::uint32_t>(len);
        auto* b = reinterpret_cast<std::uint32_t*>(reinterpret_cast<char*>(rep_) + sizeof(head));
        char* d = reinterpret_cast<char*>(b + 2 * n);
        copy16(reinterpret_cast<char*>(b), reinterpret_cast<char const*>(f.bounds()),
               2 * sizeof(std::uint32_t) * n);
        copy16(d, raw, len);
        for (auto const& qf : f.quoted()) {
            std::uint32_t const fb = b[2 * qf.index] + 1;
            std::uint32_t fe = b[2 * qf.index + 1] - 1;
            if (qf.escapes != 0) { // "" -> ": every quote inside is doubled; move the runs between
                char* w = d + fb;
                char const* r = d + fb;
                char const* const e = d + fe;
                for (std::uint32_t k = 0; k < qf.escapes; ++k) {
                    auto const* q = static_cast<char const*>(
                        std::memchr(r, quote, static_cast<std::size_t>(e - r)));
                    auto const run = static_cast<std::size_t>(q - r) + 1; // the run and one quote
                    std::memmove(w, r, run);
                    w += run;
                    r = q + 2;
                }
                std::memmove(w, r, static_cast<std::size_t>(e - r));
                fe = static_cast<std::uint32_t>(w + (e - r) - d);
            }
            b[2 * qf.index] = fb;
            b[2 * qf.index + 1] = fe;
        }
    }

    [[noreturn]] void throw_error(error_kind kind, std::size_t column, std::string reason) const
    {
        std::string const file = info_ ? info_->name : std::string("<row>");
        std::string cname = info_ ? info_->column_name(column) : std::string();
        throw parse_error(kind, file, line(), byte_offset(), std::move(reason), column,
                          std::move(cname), info_ ? info_->line_partition : std::nullopt);
    }
    std::string describe(std::size_t i) const
    {
        return info_ ? info_->describe(i) : "column " + std::to_string(i);
    }

public:
    /// Iterates the fields as std::string_view (random access).
    class iterator {
        row const* r_ = nullptr;
        std::ptrdiff_t i_ = 0;

    public:
        using iterator_concept = std::random_access_iterator_tag;
        using iterator_category = std::random_access_iterator_tag;
        using value_type = std::string_view;
        using difference_type = std::ptrdiff_t;
        using reference = std::string_view;
        using pointer = void;

        iterator() = default;
        iterator(row const* r, std::ptrdiff_t i) noexcept : r_(r), i_(i) {}
        std::string_view operator*() const noexcept { return (*r_)[static_cast<std::size_t>(i_)]; }
        std::string_view operator[](std::ptrdiff_t n) const noexcept { return *(*this + n); }
        iterator& operator++() noexcept { return ++i_, *this; }
        iterator operator++(int) noexcept { return {r_, i_++}; }
        iterator& operator--() noexcept { return --i_, *this; }
        iterator operator--(int) noexcept { return {r_, i_--}; }
        iterator& operator+=(std::ptrdiff_t n) noexcept { return i_ += n, *this; }
        iterator& operator-=(std::ptrdiff_t n) noexcept { return i_ -= n, *this; }
        friend iterator operator+(iterator a, std::ptrdiff_t n) noexcept { return a += n; }
        friend iterator operator+(std::ptrdiff_t n, iterator a) noexcept { return a += n; }
        friend iterator operator-(iterator a, std::ptrdiff_t n) noexcept { return a -= n; }
        friend std::ptrdiff_t operator-(iterator const& a, iterator const& b) noexcept
        {
            return a.i_ - b.i_;
        }
        friend bool operator==(iterator const& a, iterator const& b) noexcept
        {
            return a.i_ == b.i_;
        }
        friend auto operator<=>(iterator const& a, iterator const& b) noexcept
        {
            return a.i_ <=> b.i_;
        }
    };

    row() noexcept = default;
    row(row&& o) noexcept : rep_(std::exchange(o.rep_, nullptr)), info_(std::move(o.info_)) {}
    row& operator=(row&& o) noexcept
    {
        if (this != &o) {
            ::operator delete(rep_);
            rep_ = std::exchange(o.rep_, nullptr);
            info_ = std::move(o.info_);
        }
        return *this;
    }
    row(row const& o) : info_(o.info_)
    {
        if (o.rep_ != nullptr) {
            std::size_t const n = needed(o.rep_->fields, o.rep_->bytes);
            void* mem = ::operator new(n);
            std::memcpy(mem, o.rep_, n);
            rep_ = std::launder(static_cast<head*>(mem));
            rep_->capacity = n;
        }
    }
    row& operator=(row const& o)
    {
        if (this != &o)
            *this = row(o);
        return *this;
    }
    ~row() { ::operator delete(rep_); }

    /// Number of fields (0 for a default-constructed or moved-from row).
    std::size_t size() const noexcept { return rep_ ? rep_->fields : 0; }
    bool empty() const noexcept { return size() == 0; }
    /// Field i (from 0), unquoted. Precondition: i < size().
    std::string_view operator[](std::size_t i) const noexcept
    {
        std::uint32_t const* b = bounds();
        return std::string_view(bytes() + b[2 * i], b[2 * i + 1] - b[2 * i]);
    }
    /// Field i; std::out_of_range past the end.
    std::string_view at(std::size_t i) const
    {
        if (i >= size())
            throw std::out_of_range("streambatch::csv::row::at: column " + std::to_string(i) +
                                    " of a row with " + std::to_string(size()) + " fields");
        return (*this)[i];
    }
    /// The field under header name `column`; parse_error (missing_column) if there is none.
    std::string_view at(std::string_view column) const { return (*this)[index_of(column)]; }
    /// The column index of a header name, as at() finds it.
    std::size_t index_of(std::string_view column) const
    {
        std::optional<std::size_t> const i = info_ ? info_->find(column) : std::nullopt;
        if (!i) {
            std::string why = "no column named " + detail::quote_for_message(column);
            why += info_ && !info_->columns.empty() ? "; the header has: " + info_->column_list()
                                                    : std::string("; the file has no header");
            throw parse_error(error_kind::missing_column, info_ ? info_->name : "<row>", line(),
                              byte_offset(), std::move(why), std::nullopt, std::string(),
                              info_ ? info_->line_partition : std::nullopt);
        }
        if (*i >= size())
            at(*i); // throws std::out_of_range
        return *i;
    }

    /// Field i converted to T (integers and floats by std::from_chars, bool, std::string,
    /// std::string_view, std::optional of those: empty field -> nullopt). The whole field must
    /// convert: no spaces, no '+'. parse_error (conversion) names file, line, column and text.
    template <class T>
    T get(std::size_t i) const
    {
        static_assert(detail::field_type<T>,
                      "csv::row::get<T>: T must be an integer, a floating-point type, bool, "
                      "std::string, std::string_view, or std::optional of one of those");
        std::string_view const s = at(i);
        if constexpr (detail::optional_traits<T>::value) {
            if (s.empty())
                return std::nullopt;
            return T(get<typename detail::optional_traits<T>::value_type>(i));
        } else {
            T out{};
            std::string why = detail::convert(s, out);
            if (!why.empty())
                throw_error(error_kind::conversion, i,
                            describe(i) + ": cannot convert " + detail::quote_for_message(s) +
                                " to " + detail::type_name<T>() + ": " + why);
            return out;
        }
    }
    template <class T>
    T get(std::string_view column) const
    {
        return get<T>(index_of(column));
    }

    /// Physical line (from 1) and byte offset (from 0) where the record begins. In a partition
    /// after the first (options::partition), the line counts from the partition's first record
    /// (line 1): the reader never reads what comes before its range.
    std::uint64_t line() const noexcept { return rep_ ? rep_->line : 0; }
    std::uint64_t byte_offset() const noexcept { return rep_ ? rep_->byte_offset : 0; }
    /// The header's names (empty without a header) and the name in messages.
    std::span<std::string const> header() const noexcept
    {
        return info_ ? std::span<std::string const>(info_->columns)
                     : std::span<std::string const>();
    }

    iterator begin() const noexcept { return {this, 0}; }
    iterator end() const noexcept { return {this, static_cast<std::ptrdiff_t>(size())}; }

    /// Fields equal (line, offset and header are not compared).
    friend bool operator==(row const& a, row const& b) noexcept { return std::ranges::equal(a, b); }

    /// Heap bytes plus sizeof(row), for streambatch::record_bytes and adaptive_chunk.
    friend std::size_t record_bytes(row const& r) noexcept
    {
        return sizeof(row) + (r.rep_ ? static_cast<std::size_t>(r.rep_->capacity) : 0);
    }
};

/// How the writer ends a record.
enum class line_ending : unsigned char { lf, crlf };

struct writer_options {
    char delimiter = ',';
    char quote = '"';
    csv::line_ending line_ending = line_ending::lf;
    bool quote_all = false; ///< quote every field, not only those that need it
};

/// Writes records as RFC 4180 CSV. A field is quoted when it holds the delimiter, the quote,
/// CR or LF, starts or ends with a space or tab, or would otherwise read back differently (a
/// record of one empty field, a first field starting with a UTF-8 BOM); quotes are doubled.
/// Fields are anything convertible to std::string_view, arithmetic values (std::to_chars:
/// floats round-trip), bool (true/false) and std::optional of those (nullopt: empty).
/// A NUL byte throws std::invalid_argument (the reader rejects NUL). Write failures throw
/// std::system_error naming the file.
class writer {
    std::unique_ptr<std::ofstream> file_;
    std::ostream* out_;
    writer_options opt_;
    std::string name_;
    std::string line_;
    std::uint64_t rows_ = 0;
    std::size_t fields_in_line_ = 0;
    bool first_field_empty_ = false;

    void check_options() const
    {
        auto const bad = [](char c) { return c == '\n' || c == '\r' || c == '\0'; };
        if (opt_.delimiter == opt_.quote || bad(opt_.delimiter) || bad(opt_.quote))
            throw std::invalid_argument(
                "streambatch::csv::writer: the delimiter and the quote must "
                "differ, and be neither CR, LF nor NUL");
    }

    bool needs_quotes(std::string_view s, bool first_of_file) const noexcept
    {
        if (opt_.quote_all)
            return true;
        if (s.empty())
            return false;
        if (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t')
            return true;
        if (first_of_file && s.starts_with("\xEF\xBB\xBF")) // a reader would skip it as a BOM
            return true;
        for (char c : s)
            if (c == opt_.delimiter || c == opt_.quote || c == '\n' || c == '\r')
                return true;
        return false;
    }

    void append_text(std::string_view s)
    {
        if (s.find('\0') != std::string_view::npos)
            throw std::invalid_argument("streambatch::csv::writer: " + name_ + ": record " +
                                        std::to_string(rows_ + 1) + ", field " +
                                        std::to_string(fields_in_line_) +
                                        " holds a NUL byte, which CSV readers reject");
        bool const first_of_file = rows_ == 0 && fields_in_line_ == 0;
        if (fields_in_line_ != 0)
            line_ += opt_.delimiter;
        else
            first_field_empty_ = s.empty();
        ++fields_in_line_;
        if (!needs_quotes(s, first_of_file)) {
            line_ += s;
            return;
        }
        line_ += opt_.quote;
        for (std::size_t i = 0;;) {
            std::size_t const q = s.find(opt_.quote, i);
            if (q == std::string_view::npos) {
                line_.append(s.substr(i));
                break;
            }
            line_.append(s.substr(i, q + 1 - i));
            line_ += opt_.quote;
            i = q + 1;
        }
        line_ += opt_.quote;
    }

    template <class F>
    void append(F const& f)
    {
        using T = std::remove_cvref_t<F>;
        if constexpr (detail::optional_traits<T>::value) {
            if (f)
                append(*f);
            else
                append_text({});
        } else if constexpr (std::same_as<T, bool>) {
            append_text(f ? "true" : "false");
        } else if constexpr (std::is_arithmetic_v<T> && !std::same_as<T, char>) {
            char buf[64];
            auto const r = std::to_chars(buf, buf + sizeof buf, f);
            append_text(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
        } else if constexpr (std::same_as<T, char>) {
            append_text(std::string_view(&f, 1));
        } else {
            static_assert(std::convertible_to<F const&, std::string_view>,
                          "csv::writer: a field must be convertible to std::string_view, "
                          "arithmetic, bool, or std::optional of one of those");
            append_text(std::string_view(f));
        }
    }

    void end_line()
    {
        if (fields_in_line_ == 1 && first_field_empty_ && !opt_.quote_all) {
            line_ += opt_.quote; // a lone empty field would read back as a blank line
            line_ += opt_.quote;
        }
        line_ += opt_.line_ending == line_ending::crlf ? std::string_view("\r\n")
                                                       : std::string_view("\n");
        out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
        line_.clear();
        fields_in_line_ = 0;
        if (!*out_)
            detail::throw_io_error(errno != 0 ? errno : EIO,
                                   "streambatch::csv::writer: cannot write " + name_);
        ++rows_;
    }

public:
    /// Writes to `path` (created or truncated).
    explicit writer(std::filesystem::path const& path, writer_options const& o = {})
        : file_(std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc)),
          out_(file_.get()), opt_(o), name_(path.string())
    {
        check_options();
        if (!*file_)
            detail::throw_io_error(errno != 0 ? errno : EIO,
                                   "streambatch::csv::writer: cannot open " + name_);
    }
    /// Writes to `out` (not owned); `name` appears in messages.
    explicit writer(std::ostream& out, writer_options const& o = {}, std::string name = "<stream>")
        : out_(&out), opt_(o), name_(std::move(name))
    {
        check_options();
    }

    /// One record from a range of fields.
    template <std::ranges::input_range R>
    writer& write_row(R&& fields)
    {
        for (auto&& f : fields)
            append(f);
        end_line();
        return *this;
    }
    writer& write_row(std::initializer_list<std::string_view> fields)
    {
        for (std::string_view f : fields)
            append_text(f);
        end_line();
        return *this;
    }
    /// One record from its fields: w.write("id", 42, 3.5, std::optional<int>{}).
    template <class... F>
    writer& write(F const&... fields)
    {
        (append(fields), ...);
        end_line();
        return *this;
    }

    void flush()
    {
        out_->flush();
        if (!*out_)
            detail::throw_io_error(errno != 0 ? errno : EIO,
                                   "streambatch::csv::writer: cannot write " + name_);
    }
    std::uint64_t rows_written() const noexcept { return rows_; }
};

namespace detail {

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

/// `a * k / n` without overflow, for a < 2^64 and k <= n < 2^32.
constexpr std::uint64_t scale(std::uint64_t a, std::uint32_t k, std::uint32_t n) noexcept
{
    return a / n * k + a % n * k / n;
}

/// One reading of the bytes after a split point: byte `split` outside a quoted field, or inside
/// one. reader_state runs it as RFC 4180's state machine until it fails (a syntax error, a
/// record too long, a field count off) or tells where the first record at or after the split
/// point begins.
struct split_reading {
    enum class state : unsigned char {
        record_start,
        field_start,
        unquoted,
        quoted,
        after_quote, ///< after a closing quote, or the first of a doubled one
        failed,
    };
    state st = state::record_start;
    std::uint64_t rec_begin = 0; ///< where the current record began (the cut one: a lower bound)
    std::size_t fields = 0;      ///< fields ended in the current record
    bool cut = true;             ///< the current record began before the split point
    std::optional<std::uint64_t> first; ///< the first record's start found
    error_kind kind{};                  ///< why it failed, where, and in words
    std::uint64_t failed_at = 0;
    std::string why;

    bool alive() const noexcept { return st != state::failed; }
};

/// The parser and its buffer. Lives on the heap so that reader moves keep iterators valid.
class reader_state {
public:
    enum class scan_result { record, end, bad };

    struct bad_record {
        error_kind kind{};
        std::size_t at = 0; ///< relative to the record start
        std::uint64_t at_line = 1;
        std::string reason;
        std::optional<std::size_t> column;
        std::size_t anchor = 0; ///< the bad row runs to the first line break from here
        bool complete = false;  ///< the record was read to its end (field count)
    };

    options opt_;
    std::unique_ptr<byte_source> src_;
    std::shared_ptr<file_info const> info_;
    file_info* info_w_ = nullptr; // the same object, while the header is read

    std::unique_ptr<char[]> buf_;
    std::size_t cap_ = 0;           ///< usable bytes (scan_padding more are allocated)
    std::size_t beg_ = 0, end_ = 0; ///< [beg_, end_): bytes not consumed
    std::uint64_t base_ = 0;        ///< input offset of buf_[0]
    bool eof_ = false;

    std::uint64_t line_ = 1, rows_ = 0, skipped_ = 0;
    std::size_t expected_fields_ = 0;
    bool has_expected_ = false;

    field_list spans_;
    std::size_t rec_len_ = 0, rec_next_ = 0;
    std::uint64_t rec_line_ = 1, next_line_ = 1;
    bad_record bad_;

    row current_;
    position current_pos_;
    bool has_current_ = false, done_ = false, started_ = false;

    stop_set newline_;
    // The masks of the 64 bytes from buf_[mask_at_] (absolute index), reused across fields and
    // records; mask_none after every read, which may change or move the bytes.
    static constexpr std::size_t mask_none = std::size_t{1} << 63;
    std::size_t mask_at_ = mask_none;
    std::uint64_t delims_ = 0, specials_ = 0;
    std::unique_ptr<std::ofstream> reject_file_;
    std::optional<writer> reject_;

    // A partitioned reader: records that begin at stop_ or later are another partition's.
    std::uint64_t stop_ = std::numeric_limits<std::uint64_t>::max();
    partition_range range_{0, std::numeric_limits<std::uint64_t>::max(), 0,
                           std::numeric_limits<std::uint64_t>::max()};

    reader_state(std::unique_ptr<byte_source> src, options const& o, std::string name,
                 std::optional<position> from)
        : opt_(o), src_(std::move(src))
    {
        check(opt_);
        auto info = std::make_shared<file_info>();
        info_w_ = info.get();
        info_ = std::move(info);
        info_w_->name = std::move(name);
        newline_ = stop_set('\n', '\r', '\n', '\n', '\n');
        cap_ = 2 * opt_.block_size;
        buf_.reset(new char[cap_ + scan_padding]());
        bool const resuming = from && from->byte_offset > 0;
        open_reject(resuming);

        // A UTF-8 BOM at byte 0.
        while (end_ - beg_ < 3 && more()) {
        }
        if (end_ - beg_ >= 3 && std::memcmp(buf_.get() + beg_, "\xEF\xBB\xBF", 3) == 0)
            beg_ += 3;

        if (opt_.has_header)
            read_header();
        range_.data_begin = range_.nominal_begin = offset_of(0);
        if (!opt_.partition.whole())
            open_partition(resuming ? &*from : nullptr);
        else if (resuming)
            resume(*from);
    }

    // --- the buffer ------------------------------------------------------------------------

    /// Reads one more block after end_, keeping [beg_, end_); false at the end of input.
    bool more()
    {
        if (eof_)
            return false;
        std::size_t const block = opt_.block_size;
        if (cap_ - end_ < block) {
            std::size_t const keep = end_ - beg_;
            std::size_t cap = cap_;
            if (keep + block > cap_ || keep > cap_ / 2) // a long record: grow (doubling, but never
                cap = std::max(keep + block, // past what the longest record needs: max_buffer())
                               std::min(std::max(2 * cap_, keep + 2 * block), max_buffer()));
            if (cap > cap_) {
                std::unique_ptr<char[]> fresh(new char[cap + scan_padding]());
                std::memcpy(fresh.get(), buf_.get() + beg_, keep);
                buf_ = std::move(fresh);
                cap_ = cap;
            } else if (keep != 0) {
                std::memmove(buf_.get(), buf_.get() + beg_, keep);
            }
            base_ += beg_;
            beg_ = 0;
            end_ = keep;
        }
        mask_at_ = mask_none;
        std::size_t const got = src_->read(buf_.get() + end_, block);
        if (got == 0) {
            eof_ = true;
            return false;
        }
        end_ += got;
        return true;
    }

    std::uint64_t offset_of(std::size_t rel) const noexcept { return base_ + beg_ + rel; }

    /// The most the buffer needs: a record of max_record_bytes and its line break, plus the
    /// blocks read while skipping a bad line (reject_bad keeps at most that much).
    std::size_t max_buffer() const noexcept
    {
        return std::max(2 * opt_.block_size, opt_.max_record_bytes + 3 * opt_.block_size + 1);
    }

    /// The masks of the 64-byte window holding pos (relative to beg_), cut to [pos, lim):
    /// `at` is the relative position of bit 0. Precondition: pos < lim.
    STREAMBATCH_CSV_INLINE void window(std::size_t pos, std::size_t lim, std::size_t& at,
                                       std::uint64_t& delims, std::uint64_t& specials) noexcept
    {
        std::size_t const a = beg_ + pos;
        if (a - mask_at_ >= 64) { // not cached (unsigned: also when a < mask_at_)
            mask_at_ = a;
            masks64 const m = classify64(buf_.get() + a, opt_.delimiter, opt_.quote);
            delims_ = m.delims;
            specials_ = m.specials;
        }
        std::uint64_t keep = ~std::uint64_t{0} << (a - mask_at_);
        std::size_t const alim = beg_ + lim;
        if (alim - mask_at_ < 64)
            keep &= (std::uint64_t{1} << (alim - mask_at_)) - 1;
        at = mask_at_ - beg_;
        delims = delims_ & keep;
        specials = specials_ & keep;
    }

    scan_result set_bad(error_kind kind, std::size_t at, std::uint64_t at_line, std::string reason,
                        std::optional<std::size_t> column, std::size_t anchor,
                        bool complete = false)
    {
        bad_.kind = kind;
        bad_.at = at;
        bad_.at_line = at_line;
        bad_.reason = std::move(reason);
        bad_.column = column;
        bad_.anchor = anchor;
        bad_.complete = complete;
        return scan_result::bad;
    }

    /// "line 9", or "line 9 of partition 3/8" where lines count from the partition's start.
    std::string line_text(std::uint64_t line) const
    {
        std::string s = "line " + std::to_string(line);
        if (info_->line_partition)
            s += " of partition " + info_->line_partition->str();
        return s;
    }
    std::string where(std::uint64_t line, std::size_t rel) const
    {
        return line_text(line) + " (byte " + std::to_string(offset_of(rel)) + ")";
    }

    // The bad records, out of the parser's hot path. `column` is the field being read.
    STREAMBATCH_CSV_COLD scan_result field_count_error()
    {
        std::string why = "expected " + std::to_string(expected_fields_) + " field" +
                          (expected_fields_ == 1 ? "" : "s") +
                          (opt_.has_header ? " (as in the header)" : " (as in the first record)") +
                          ", found " + std::to_string(spans_.size());
        return set_bad(error_kind::field_count, 0, rec_line_, std::move(why), std::nullopt, 0,
                       true);
    }
    STREAMBATCH_CSV_COLD scan_result too_long_error(std::uint64_t line, bool quoted,
                                                    std::size_t qopen, std::uint64_t qline)
    {
        std::size_t const max = opt_.max_record_bytes;
        std::string why = "record longer than max_record_bytes = " + std::to_string(max) +
                          ": the record that began at " + where(rec_line_, 0) +
                          " has not ended after " + std::to_string(max) + " bytes";
        if (quoted)
            why += "; it is inside a quoted field that began at " + where(qline, qopen) + " (" +
                   info_->describe(spans_.size()) + "): is a quote unclosed?";
        return set_bad(error_kind::record_too_long, max, line, std::move(why), spans_.size(),
                       quoted ? qopen : max);
    }
    STREAMBATCH_CSV_COLD scan_result nul_error(std::size_t at, std::uint64_t line)
    {
        return set_bad(error_kind::nul_byte, at, line,
                       "NUL byte in " + info_->describe(spans_.size()) +
                           ": CSV text has none (is the file binary, or UTF-16?)",
                       spans_.size(), at);
    }
    STREAMBATCH_CSV_COLD scan_result stray_quote_error(std::size_t at, std::uint64_t line)
    {
        return set_bad(error_kind::stray_quote, at, line,
                       "quote inside an unquoted field (" + info_->describe(spans_.size()) +
                           "): expected the whole field in quotes, with each quote in it doubled",
                       spans_.size(), at);
    }
    STREAMBATCH_CSV_COLD scan_result unclosed_error(std::size_t at, std::uint64_t line,
                                                    std::size_t qopen, std::uint64_t qline)
    {
        return set_bad(error_kind::unclosed_quote, at, line,
                       "unclosed quote: reached end of file inside a quoted field that began at " +
                           where(qline, qopen) + ", " + info_->describe(spans_.size()),
                       spans_.size(), qopen);
    }
    STREAMBATCH_CSV_COLD scan_result quoted_newline_error(std::size_t at, std::uint64_t line,
                                                          std::size_t qopen, std::uint64_t qline)
    {
        // The bad row ends at this line break: the rest is read as the next record, as a
        // partitioned reader with quoted_newlines = false reads it.
        return set_bad(error_kind::quoted_newline, at, line,
                       "line break inside a quoted field that began at " + where(qline, qopen) +
                           ", " + info_->describe(spans_.size()) +
                           ", but options::quoted_newlines is false",
                       spans_.size(), at);
    }
    STREAMBATCH_CSV_COLD scan_result text_after_quote_error(std::size_t at, std::uint64_t line,
                                                            char c)
    {
        return set_bad(error_kind::text_after_quote, at, line,
                       "unexpected " + describe_byte(c) + " after the closing quote of " +
                           info_->describe(spans_.size()) + ": expected " +
                           describe_byte(opt_.delimiter) + ", a line break or the end of the file",
                       spans_.size(), at);
    }

    STREAMBATCH_CSV_INLINE scan_result finish(std::size_t len, std::size_t next,
                                              std::uint64_t next_line, bool header)
    {
        rec_len_ = len;
        rec_next_ = next;
        next_line_ = next_line;
        if (!header && opt_.strict_field_count) {
            if (!has_expected_) {
                expected_fields_ = spans_.size();
                has_expected_ = true;
            } else if (spans_.size() != expected_fields_) {
                return field_count_error();
            }
        }
        return scan_result::record;
    }

    /// The record ends at the line break at `t` (CR or LF).
    STREAMBATCH_CSV_INLINE scan_result terminate(std::size_t t, std::uint64_t line, bool header)
    {
        std::size_t next = t + 1;
        if (buf_[beg_ + t] == '\r') {
            if (beg_ + next == end_)
                more();
            if (beg_ + next < end_ && buf_[beg_ + next] == '\n')
                ++next;
        }
        return finish(t, next, line + 1, header);
    }

    /// Moves past blank lines; false at the end of input.
    STREAMBATCH_CSV_INLINE bool skip_blank_lines()
    {
        for (;;) {
            if (beg_ == end_ && !more())
                return false;
            char const c = buf_[beg_];
            if (c == '\n') {
                ++beg_;
                ++line_;
            } else if (c == '\r') {
                ++beg_;
                ++line_;
                if (beg_ == end_)
                    more();
                if (beg_ < end_ && buf_[beg_] == '\n')
                    ++beg_;
            } else {
                return true;
            }
        }
    }

    /// Skips blank lines; then scans one record at beg_ into spans_ (end: the end of input, or
    /// of a partition: a record that begins at stop_ or later).
    scan_result scan_record(bool header)
    {
        if (!skip_blank_lines() || base_ + beg_ >= stop_)
            return scan_result::end;

        spans_.clear();
        rec_line_ = line_;
        std::uint64_t ln = line_; // the line at pos
        std::size_t const max = opt_.max_record_bytes;
        std::size_t const window_end = max + 1; // content is [0, max); index max may only end it
        char const d = opt_.delimiter, q = opt_.quote;
        char const* p = buf_.get() + beg_;
        std::size_t lim = std::min(end_ - beg_, window_end);
        auto const refill = [&]() -> bool {
            if (!more())
                return false;
            p = buf_.get() + beg_;
            lim = std::min(end_ - beg_, window_end);
            return true;
        };

        std::size_t pos = 0;    // where scanning goes on
        std::size_t fstart = 0; // where the current field began
        std::size_t at = 0;
        std::uint64_t dm = 0, sm = 0;
        for (;;) {
            // Unquoted fields, until a quote opens a field or the record ends. Every delimiter
            // before the next special byte closes a field; bytes are never looked at one by one.
            std::size_t qopen = 0;
            for (;;) {
                if (pos == lim) {
                    if (lim == window_end)
                        return too_long_error(ln, false, 0, 0);
                    if (!refill()) { // the end of input ends the record
                        spans_.push(fstart, pos);
                        return finish(pos, pos, ln, header);
                    }
                }
                window(pos, lim, at, dm, sm);
                if (sm == 0) {
                    spans_.push_delimited(dm, at, fstart);
                    pos = std::min(at + 64, lim);
                    continue;
                }
                std::size_t const s = at + static_cast<std::size_t>(std::countr_zero(sm));
                spans_.push_delimited(dm & ((std::uint64_t{1} << (s - at)) - 1), at, fstart);
                pos = s;
                char const c = p[s];
                if (c == '\n' || c == '\r') {
                    spans_.push(fstart, s);
                    return terminate(s, ln, header);
                }
                if (s == max) // past the limit, only a line break may come
                    return too_long_error(ln, false, 0, 0);
                if (c == q) {
                    if (s == fstart) {
                        qopen = s;
                        break;
                    }
                    return stray_quote_error(s, ln);
                }
                return nul_error(s, ln);
            }

            // A quoted field: only quotes, line breaks (counted) and NUL stop the scan.
            std::uint64_t const qline = ln;
            std::uint32_t esc = 0;
            pos = qopen + 1;
            for (;;) {
                if (pos == lim) {
                    if (lim == window_end)
                        return too_long_error(ln, true, qopen, qline);
                    if (!refill())
                        return unclosed_error(pos, ln, qopen, qline);
                }
                window(pos, lim, at, dm, sm);
                if (sm == 0) {
                    pos = std::min(at + 64, lim);
                    continue;
                }
                pos = at + static_cast<std::size_t>(std::countr_zero(sm));
                if (pos == max) // inside quotes, nothing may come past the limit
                    return too_long_error(ln, true, qopen, qline);
                char const c = p[pos];
                if (c == q) {
                    if (pos + 1 == lim) {
                        if (lim == window_end)
                            return too_long_error(ln, true, qopen, qline);
                        if (!refill()) { // closing quote, then the end of input
                            spans_.push_quoted(qopen, pos + 1, esc);
                            return finish(pos + 1, pos + 1, ln, header);
                        }
                    }
                    char const n = p[pos + 1];
                    if (pos + 1 == max && n != '\n' && n != '\r')
                        return too_long_error(ln, true, qopen, qline);
                    if (n == q) {
                        ++esc;
                        pos += 2;
                        continue;
                    }
                    if (n == d) {
                        spans_.push_quoted(qopen, pos + 1, esc);
                        pos += 2;
                        fstart = pos;
                        break;
                    }
                    if (n == '\n' || n == '\r') {
                        spans_.push_quoted(qopen, pos + 1, esc);
                        return terminate(pos + 1, ln, header);
                    }
                    if (n == '\0')
                        return nul_error(pos + 1, ln);
                    return text_after_quote_error(pos + 1, ln, n);
                }
                if (c == '\n') {
                    if (!opt_.quoted_newlines)
                        return quoted_newline_error(pos, ln, qopen, qline);
                    if (p[pos - 1] != '\r')
                        ++ln;
                    ++pos;
                    continue;
                }
                if (c == '\r') {
                    if (!opt_.quoted_newlines)
                        return quoted_newline_error(pos, ln, qopen, qline);
                    ++ln;
                    ++pos;
                    continue;
                }
                return nul_error(pos, ln);
            }
        }
    }

    /// Moves past the record just scanned.
    void consume() noexcept
    {
        beg_ += rec_next_;
        line_ = next_line_;
    }

    parse_error error_of(bad_record const& b) const
    {
        std::string cname = b.column ? info_->column_name(*b.column) : std::string();
        return parse_error(b.kind, info_->name, b.at_line, offset_of(b.at), b.reason, b.column,
                           std::move(cname), info_->line_partition);
    }

    /// Skip policy: write the bad record to the reject file and move past it.
    void reject_bad()
    {
        parse_error const err = error_of(bad_);
        std::uint64_t const rec_off = offset_of(0);
        std::string raw;
        std::uint64_t total = 0; // raw length before truncation
        std::size_t next = 0;
        std::uint64_t lines = 0;
        std::size_t const max = opt_.max_record_bytes;
        if (bad_.complete) {
            raw.assign(buf_.get() + beg_, rec_len_);
            total = rec_len_;
            next = rec_next_;
            lines = next_line_ - rec_line_;
        } else {
            // The bad row ends at the first line break at or after the anchor.
            std::size_t i = bad_.anchor;
            bool dropped = false;
            for (;;) {
                i += find_stop(buf_.get() + beg_ + i, (end_ - beg_) - i, newline_);
                if (beg_ + i < end_)
                    break;
                if (!more())
                    break;
                if (end_ - beg_ > max + 2 * opt_.block_size) {
                    // No line break for a long way: keep the first max bytes, drop the rest.
                    if (!dropped)
                        raw.assign(buf_.get() + beg_, std::min(i, max));
                    dropped = true;
                    lines += count_line_breaks(buf_.get() + beg_, i);
                    total += i;
                    beg_ += i;
                    i = 0;
                }
            }
            if (!dropped)
                raw.assign(buf_.get() + beg_, std::min(i, max));
            total += i;
            next = i;
            if (beg_ + next < end_) { // a line break
                ++next;
                if (buf_[beg_ + i] == '\r') {
                    if (beg_ + next == end_)
                        more();
                    if (beg_ + next < end_ && buf_[beg_ + next] == '\n')
                        ++next;
                }
            }
            lines += count_line_breaks(buf_.get() + beg_, next);
        }
        std::string error = err.what();
        if (total > raw.size())
            error += " [raw text cut to its first " + std::to_string(raw.size()) + " of " +
                     std::to_string(total) + " bytes]";
        if (raw.find('\0') != std::string::npos) { // CSV cannot carry NUL: keep the bytes as base64
            raw = base64(raw);
            error += " [raw is base64: it holds NUL bytes]";
        }
        if (reject_) {
            // A partition's own line count is no line of the file: its line is left empty (the
            // error column says "line L of partition i/n").
            if (info_->line_partition)
                reject_->write(info_->name, std::string_view(), rec_off, error, raw);
            else
                reject_->write(info_->name, rec_line_, rec_off, error, raw);
            reject_->flush();
        }
        if (skipped_ + 1 > opt_.max_skipped) {
            done_ = true;
            throw parse_error(error_kind::too_many_bad_rows, info_->name, rec_line_, rec_off,
                              "too many bad rows: this is bad row " + std::to_string(skipped_ + 1) +
                                  " and max_skipped is " + std::to_string(opt_.max_skipped) +
                                  "; this one: " + err.reason(),
                              std::nullopt, std::string(), info_->line_partition);
        }
        ++skipped_;
        beg_ += next;
        line_ = rec_line_ + lines;
    }

    /// The next good record into spans_ (false at the end of input).
    bool next_record(bool header)
    {
        for (;;) {
            scan_result const r = scan_record(header);
            if (r == scan_result::record)
                return true;
            if (r == scan_result::end)
                return false;
            if (header || opt_.bad_rows == on_error::fail) {
                done_ = true;
                throw error_of(bad_);
            }
            reject_bad();
        }
    }

    /// The record just scanned, into `r` (reusing its allocation if it has one).
    void make_row(row& r) const
    {
        r.assign(info_, rec_line_, offset_of(0), spans_, buf_.get() + beg_, rec_len_, opt_.quote);
    }

    void read_header()
    {
        info_w_->header_line = line_;
        info_w_->header_byte = offset_of(0);
        if (!next_record(true)) {
            done_ = true;
            return;
        }
        info_w_->header_line = rec_line_;
        info_w_->header_byte = offset_of(0);
        row h;
        make_row(h);
        info_w_->set_columns(std::vector<std::string>(h.begin(), h.end()));
        expected_fields_ = h.size();
        has_expected_ = true;
        consume();
    }

    /// Without a header, the first record sets the field count: a reader that starts further
    /// on reads it first. (If it is bad, the first record read from there on sets it.)
    void learn_field_count()
    {
        if (opt_.has_header || !opt_.strict_field_count || has_expected_)
            return;
        try {
            if (next_record(true)) {
                expected_fields_ = spans_.size();
                has_expected_ = true;
            }
        } catch (parse_error const&) {
        }
        done_ = false;
    }

    /// Moves the buffer to input offset `target`: within the buffer, by seeking, or (a source
    /// that cannot seek) by reading forward.
    void jump_to(std::uint64_t target, std::string const& what)
    {
        if (target >= base_ && target <= base_ + end_) {
            beg_ = static_cast<std::size_t>(target - base_);
        } else if (src_->seek(target)) {
            base_ = target;
            beg_ = end_ = 0;
            eof_ = false;
        } else if (target > base_ + end_) { // not seekable (or past the end of a file)
            while (base_ + end_ < target) {
                beg_ = end_;
                if (!more())
                    throw std::invalid_argument("streambatch::csv: cannot " + what + " " +
                                                info_->name + " at byte " + std::to_string(target) +
                                                ": the input has only " +
                                                std::to_string(base_ + end_) + " bytes");
            }
            beg_ = static_cast<std::size_t>(target - base_);
        } else {
            throw std::invalid_argument("streambatch::csv: cannot " + what + " " + info_->name +
                                        " at byte " + std::to_string(target) +
                                        ": the input cannot seek back there");
        }
        mask_at_ = mask_none;
    }

    void resume(position const& from)
    {
        if (from.byte_offset > offset_of(0))
            learn_field_count();
        done_ = false;
        std::uint64_t const target = from.byte_offset;
        if (target < offset_of(0))
            throw std::invalid_argument("streambatch::csv: cannot resume " + info_->name +
                                        " at byte " + std::to_string(target) +
                                        ": it is inside the header, which ends at byte " +
                                        std::to_string(offset_of(0)));
        jump_to(target, "resume");
        line_ = from.line;
        rows_ = from.rows;
        skipped_ = from.skipped;
    }

    // --- partitions ------------------------------------------------------------------------

    /// Sets up partition opt_.partition (count > 1): its byte range, where it begins (or, from
    /// a saved position, where it goes on), and stop_.
    void open_partition(position const* from)
    {
        partition const part = opt_.partition;
        std::uint64_t const data_begin = offset_of(0);
        std::optional<std::uint64_t> const size = src_->size();
        if (!size)
            throw std::invalid_argument(
                "streambatch::csv: " + info_->name + ": partition " + part.str() +
                " needs an input of known size that can seek (a regular file or a seekable "
                "stream), and this one is a pipe or an unseekable stream; read it whole "
                "(partition count 1), with views::every_nth to share its rows, or save it to a "
                "file first");
        std::uint64_t const data_end = std::max(*size, data_begin);
        auto const cut = [&](std::uint32_t k) {
            return data_begin + scale(data_end - data_begin, k, part.count);
        };
        range_ = partition_range{data_begin, data_end, cut(part.index), cut(part.index + 1)};
        if (part.index != 0)
            info_w_->line_partition = part;
        // The last partition reads to the end of input, whatever the size was.
        std::uint64_t const stop = part.index + 1 == part.count
                                       ? std::numeric_limits<std::uint64_t>::max()
                                       : range_.nominal_end;
        if (from != nullptr) {
            if (from->byte_offset < range_.nominal_begin)
                throw std::invalid_argument("streambatch::csv: cannot resume partition " +
                                            part.str() + " of " + info_->name + " at byte " +
                                            std::to_string(from->byte_offset) +
                                            ": the partition's records begin at byte " +
                                            std::to_string(range_.nominal_begin) +
                                            " or later (was the position saved "
                                            "by another partition, or with other options?)");
            resume(*from);
            stop_ = stop;
            return;
        }
        if (done_) // an empty input: nothing at all
            return;
        if (range_.nominal_begin > data_begin) {
            learn_field_count();
            std::uint64_t const split = range_.nominal_begin;
            jump_to(opt_.quoted_newlines ? resolve_split(split) : after_line_break(split),
                    "start partition " + part.str() + " of");
        }
        skip_blank_lines();
        if (part.index != 0)
            line_ = 1;
        stop_ = stop;
    }

    /// quoted_newlines = false: every line break ends a record, so the first record at or
    /// after `split` begins after the first line break at or after split - 1 (the Hadoop rule).
    std::uint64_t after_line_break(std::uint64_t split)
    {
        jump_to(split - 1, "split");
        for (;;) {
            if (beg_ == end_ && !more())
                return base_ + beg_;
            std::size_t const n = find_stop(buf_.get() + beg_, end_ - beg_, newline_);
            if (beg_ + n < end_)
                return base_ + beg_ + n + 1; // a CRLF's LF is skipped as a blank line
            beg_ = end_;
        }
    }

    void fail_reading(split_reading& h, error_kind kind, std::uint64_t at, std::string why)
    {
        h.st = split_reading::state::failed;
        h.kind = kind;
        h.failed_at = at;
        h.why = std::move(why);
    }

    /// Field counts judge a reading only where a bad count would stop the whole-input reader
    /// too (on_error::fail); the record cut by the split point is not counted.
    bool reading_counts_fields() const noexcept
    {
        return opt_.strict_field_count && has_expected_ && opt_.bad_rows == on_error::fail;
    }

    void end_reading_record(split_reading& h, std::uint64_t at)
    {
        if (!h.cut && reading_counts_fields() && h.fields + 1 != expected_fields_)
            return fail_reading(h, error_kind::field_count, h.rec_begin,
                                "the record at byte " + std::to_string(h.rec_begin) + " has " +
                                    std::to_string(h.fields + 1) + " fields, not " +
                                    std::to_string(expected_fields_));
        (void)at;
        h.st = split_reading::state::record_start;
    }

    /// One byte at input offset x, as the parser would judge it.
    void step_reading(split_reading& h, char c, std::uint64_t x)
    {
        using st = split_reading::state;
        bool const nl = c == '\n' || c == '\r';
        if (h.st == st::record_start) {
            if (nl) // a blank line
                return;
            if (!h.first)
                h.first = x;
            h.rec_begin = x;
            h.fields = 0;
            h.cut = false;
            h.st = st::field_start;
        }
        // From max_record_bytes on, only the line break that ends the record may come.
        bool const over = x - h.rec_begin >= opt_.max_record_bytes;
        auto const too_long = [&] {
            fail_reading(h, error_kind::record_too_long, x,
                         "the record has not ended after max_record_bytes = " +
                             std::to_string(opt_.max_record_bytes) + " bytes");
        };
        switch (h.st) {
        case st::field_start:
        case st::unquoted:
            if (nl)
                return end_reading_record(h, x);
            if (over)
                return too_long();
            if (c == opt_.delimiter) {
                ++h.fields;
                h.st = st::field_start;
            } else if (c == opt_.quote) {
                if (h.st != st::field_start)
                    return fail_reading(h, error_kind::stray_quote, x,
                                        "quote inside an unquoted field");
                h.st = st::quoted;
            } else if (c == '\0') {
                return fail_reading(h, error_kind::nul_byte, x, "NUL byte");
            } else {
                h.st = st::unquoted;
            }
            return;
        case st::quoted:
            if (over)
                return too_long();
            if (c == opt_.quote)
                h.st = st::after_quote;
            else if (c == '\0')
                return fail_reading(h, error_kind::nul_byte, x, "NUL byte");
            return;
        case st::after_quote:
            if (nl)
                return end_reading_record(h, x);
            if (over)
                return too_long();
            if (c == opt_.quote) {
                h.st = st::quoted; // a doubled quote
            } else if (c == opt_.delimiter) {
                ++h.fields;
                h.st = st::field_start;
            } else if (c == '\0') {
                return fail_reading(h, error_kind::nul_byte, x, "NUL byte");
            } else {
                return fail_reading(h, error_kind::text_after_quote, x,
                                    "unexpected " + describe_byte(c) + " after a closing quote");
            }
            return;
        case st::record_start:
        case st::failed:
            return;
        }
    }

    /// Runs `h` over buf_[i, to), skipping runs of bytes that change nothing: inside quotes,
    /// all but quotes and NUL; outside, all but quotes, line breaks and NUL (delimiters there
    /// only end fields: they are counted, and the last byte of the run says whether the next
    /// one begins a field).
    void run_reading(split_reading& h, std::size_t i, std::size_t to)
    {
        using st = split_reading::state;
        char const q = opt_.quote, d = opt_.delimiter;
        stop_set const quoted(q, '\0', q, q, q);
        stop_set const unquoted(q, '\n', '\r', '\0', q);
        bool const counting = reading_counts_fields();
        char const* const p = buf_.get();
        while (i < to && h.alive()) {
            if (h.st == st::quoted || h.st == st::unquoted || h.st == st::field_start) {
                std::uint64_t const x = base_ + i;
                std::uint64_t const limit = h.rec_begin + opt_.max_record_bytes; // first byte over
                if (limit > x) {
                    std::size_t const lim =
                        static_cast<std::size_t>(std::min<std::uint64_t>(to, limit - base_));
                    bool const in_quotes = h.st == st::quoted;
                    std::size_t const n = find_stop(p + i, lim - i, in_quotes ? quoted : unquoted);
                    if (!in_quotes && n != 0) {
                        if (counting)
                            h.fields += count_byte(p + i, n, d);
                        h.st = p[i + n - 1] == d ? st::field_start : st::unquoted;
                    }
                    i += n;
                    if (i == to)
                        break;
                }
            }
            step_reading(h, p[i], base_ + i);
            ++i;
        }
    }

    /// The end of input: a record still open ends here, a quoted field still open fails.
    void end_reading(split_reading& h, std::uint64_t at)
    {
        using st = split_reading::state;
        if (h.st == st::quoted)
            fail_reading(h, error_kind::unclosed_quote, at, "end of input inside a quoted field");
        else if (h.st != st::record_start && h.alive())
            end_reading_record(h, at);
    }

    /// Where the first record at or after `split` (> data start) begins: the bytes from there
    /// are read twice, as if byte `split` were outside a quoted field and as if it were inside
    /// one (byte split - 1 sets each reading's state). Quote parity makes the two readings
    /// disagree about every byte's quotedness, so at most one of them reaches the end of input
    /// valid; the first to fail is wrong. See "Partitions" at the top of this header.
    std::uint64_t resolve_split(std::uint64_t split)
    {
        using st = split_reading::state;
        jump_to(split - 1, "split");
        if (beg_ == end_ && !more()) // the input is shorter than it was (it shrank)
            return base_ + beg_;
        char const before = buf_[beg_++];
        split_reading r[2]; // outside, inside
        r[0].rec_begin = r[1].rec_begin = split - 1;
        if (before == '\n' || before == '\r')
            r[0].st = st::record_start;
        else if (before == opt_.delimiter)
            r[0].st = st::field_start;
        else if (before == opt_.quote)
            r[0].st = st::after_quote;
        else
            r[0].st = st::unquoted;
        r[1].st = st::quoted;
        // Both valid after this: the split point is ambiguous.
        std::uint64_t const bound = split + opt_.max_record_bytes;
        std::size_t constexpr step = 4096; // while both live, stop soon after one fails
        for (;;) {
            bool const both_before = r[0].alive() && r[1].alive();
            bool const eof = beg_ == end_ && !more();
            if (!eof) {
                std::size_t to = end_;
                if (both_before)
                    to = static_cast<std::size_t>(
                        std::min<std::uint64_t>({to, beg_ + step, bound - base_}));
                for (split_reading& h : r)
                    if (h.alive())
                        run_reading(h, beg_, to);
                beg_ = to;
            } else {
                for (split_reading& h : r)
                    end_reading(h, base_ + beg_);
            }
            if (r[0].alive() && r[1].alive()) {
                if (eof || base_ + beg_ >= bound)
                    throw ambiguous_split_error(split, r);
                continue;
            }
            // The reading that is still valid decides; when both failed, the one that failed
            // later, if it found where a record begins before failing.
            split_reading const* w = nullptr;
            if (r[0].alive())
                w = &r[0];
            else if (r[1].alive())
                w = &r[1];
            else if (r[0].failed_at != r[1].failed_at)
                w = r[0].failed_at > r[1].failed_at ? &r[0] : &r[1];
            if (w != nullptr && w->first)
                return *w->first;
            if (w != nullptr && w->alive()) {
                if (eof)
                    return base_ + beg_; // no record begins at or after the split point
                continue;
            }
            throw unresolved_split_error(split, r);
        }
    }

    std::string split_text(std::uint64_t split) const
    {
        return "the split point of partition " + opt_.partition.str() + " at byte " +
               std::to_string(split);
    }

    STREAMBATCH_CSV_COLD parse_error ambiguous_split_error(std::uint64_t split,
                                                           split_reading const (&r)[2]) const
    {
        auto const first = [](split_reading const& h) {
            return h.first ? "at byte " + std::to_string(*h.first) : std::string("further on");
        };
        return parse_error(
            error_kind::ambiguous_split, info_->name, 0, split,
            "cannot tell where partition " + opt_.partition.str() + " begins: the " +
                std::to_string(opt_.max_record_bytes) + " bytes (max_record_bytes) after " +
                split_text(split) +
                " (line unknown) read as valid CSV both if that byte is "
                "outside a quoted field (the partition's first record would begin " +
                first(r[0]) + ") and if it is inside one (" + first(r[1]) +
                "); use fewer partitions, a larger max_record_bytes, or quoted_newlines = false "
                "if no quoted field holds a line break");
    }

    STREAMBATCH_CSV_COLD parse_error unresolved_split_error(std::uint64_t split,
                                                            split_reading const (&r)[2]) const
    {
        split_reading const& later = r[1].failed_at > r[0].failed_at ? r[1] : r[0];
        return parse_error(later.kind, info_->name, 0, later.failed_at,
                           "no record can begin after " + split_text(split) +
                               ": read as outside a quoted field, the text there fails at byte " +
                               std::to_string(r[0].failed_at) + " (" + r[0].why +
                               "); read as inside one, at byte " + std::to_string(r[1].failed_at) +
                               " (" + r[1].why + ")");
    }

    void open_reject(bool resuming)
    {
        if (opt_.bad_rows != on_error::skip)
            return;
        std::ostream* out = opt_.reject_stream;
        bool write_header = !resuming;
        if (out == nullptr) {
            std::error_code ec;
            bool const had_rows = resuming && std::filesystem::exists(opt_.reject_path, ec) &&
                                  std::filesystem::file_size(opt_.reject_path, ec) > 0;
            write_header = !had_rows;
            reject_file_ = std::make_unique<std::ofstream>(
                opt_.reject_path, std::ios::binary | (resuming ? std::ios::app : std::ios::trunc));
            if (!*reject_file_)
                throw_io_error(errno != 0 ? errno : EIO,
                               "streambatch::csv: cannot open the reject file " +
                                   opt_.reject_path.string());
            out = reject_file_.get();
        }
        reject_.emplace(*out, writer_options{},
                        out == opt_.reject_stream ? "<reject stream>" : opt_.reject_path.string());
        if (write_header) {
            reject_->write_row({"file", "line", "byte_offset", "error", "raw"});
            reject_->flush();
        }
    }

    // --- the view's side -------------------------------------------------------------------

    void advance()
    {
        has_current_ = false;
        if (done_) {
            current_ = row();
            return;
        }
        try {
            if (!next_record(false)) {
                done_ = true;
                current_ = row();
                return;
            }
        } catch (...) {
            done_ = true;
            current_ = row();
            throw;
        }
        current_pos_ = position{offset_of(0), rec_line_, rows_, skipped_};
        make_row(current_);
        has_current_ = true;
        ++rows_;
        consume();
    }

    position where_now() const noexcept
    {
        if (has_current_)
            return current_pos_;
        return position{offset_of(0), line_, rows_, skipped_};
    }
};

inline std::string default_name(std::string const& given, std::string fallback)
{
    return given.empty() ? std::move(fallback) : given;
}

} // namespace detail

/// A single-pass view of the rows of a CSV input. See the top of this header.
class reader : public std::ranges::view_interface<reader> {
    std::unique_ptr<detail::reader_state> s_;

public:
    class iterator {
        detail::reader_state* s_ = nullptr;

    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = row;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        explicit iterator(detail::reader_state* s) noexcept : s_(s) {}

        row& operator*() const noexcept { return s_->current_; }
        row* operator->() const noexcept { return &s_->current_; }
        iterator& operator++()
        {
            s_->advance();
            return *this;
        }
        void operator++(int) { s_->advance(); }
        friend bool operator==(iterator const& i, std::default_sentinel_t) noexcept
        {
            return i.s_ == nullptr || !i.s_->has_current_;
        }
    };

    reader() = default;
    reader(reader&&) noexcept = default;
    reader& operator=(reader&&) noexcept = default;

    /// Opens `path`; with `from`, continues at a position() saved from a reader of the same file.
    explicit reader(std::filesystem::path const& path, options const& o = {},
                    std::optional<csv::position> const& from = std::nullopt)
        : s_(std::make_unique<detail::reader_state>(
              detail::open_path(path), o, detail::default_name(o.name, path.string()), from))
    {}
    /// Reads `in` from where it is (byte offsets count from there); `in` must outlive the reader.
    explicit reader(std::istream& in, options const& o = {},
                    std::optional<csv::position> const& from = std::nullopt)
        : s_(std::make_unique<detail::reader_state>(std::make_unique<detail::stream_source>(in), o,
                                                    detail::default_name(o.name, "<stream>"), from))
    {}
    /// Reads `f` from where it is; the caller closes it.
    explicit reader(std::FILE* f, options const& o = {},
                    std::optional<csv::position> const& from = std::nullopt)
        : s_(std::make_unique<detail::reader_state>(
              std::make_unique<detail::file_source>(f, "<FILE>"), o,
              detail::default_name(o.name, "<FILE>"), from))
    {}
    /// Reads the file descriptor `fd` from where it is; the caller closes it.
    explicit reader(int fd, options const& o = {},
                    std::optional<csv::position> const& from = std::nullopt)
        : s_(std::make_unique<detail::reader_state>(
              std::make_unique<detail::fd_source>(fd, false, "<fd " + std::to_string(fd) + ">"), o,
              detail::default_name(o.name, "<fd " + std::to_string(fd) + ">"), from))
    {}

    /// Parses the first row (on the first call); later calls return the current position.
    iterator begin()
    {
        if (!s_)
            return iterator();
        if (!s_->started_) {
            s_->started_ = true;
            s_->advance();
        }
        return iterator(s_.get());
    }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }

    /// Where the row at the iterator begins (before begin(): where reading starts; at the
    /// end: the end of input). A reader opened with it yields that row next. Partitioned:
    /// before begin(), the partition's first record (or where the next one begins, or the end
    /// of input, when it has none); at the end, the first record that is not the partition's
    /// (or the end of input): partition i's end byte_offset is partition i + 1's beginning.
    csv::position position() const noexcept { return s_ ? s_->where_now() : csv::position{}; }
    /// The partition's byte range (options::partition). With count 1: {D, max, D, max}.
    csv::partition_range partition_range() const noexcept
    {
        return s_ ? s_->range_ : csv::partition_range{};
    }
    /// The header's names (empty without a header, or for an empty file).
    std::span<std::string const> header() const noexcept
    {
        return s_ ? std::span<std::string const>(s_->info_->columns)
                  : std::span<std::string const>();
    }
    /// The index of a header name; parse_error (missing_column) listing the header otherwise.
    std::size_t column(std::string_view name) const
    {
        if (auto i = s_->info_->find(name))
            return *i;
        throw parse_error(error_kind::missing_column, s_->info_->name, s_->info_->header_line,
                          s_->info_->header_byte,
                          "no column named " + detail::quote_for_message(name) +
                              (s_->info_->columns.empty()
                                   ? std::string("; the file has no header")
                                   : "; the header has: " + s_->info_->column_list()));
    }
    /// Bad records skipped so far (on_error::skip).
    std::uint64_t skipped() const noexcept { return s_ ? s_->skipped_ : 0; }
    /// The name used in messages.
    std::string const& name() const noexcept { return s_->info_->name; }
    /// Bytes the block buffer holds now (for memory tests).
    std::size_t buffer_bytes() const noexcept { return s_ ? s_->cap_ + detail::scan_padding : 0; }
};

/// The rows of a CSV file: `for (csv::row& r : csv::rows("x.csv")) ...`.
[[nodiscard]] inline reader rows(std::filesystem::path const& path, options const& o = {})
{
    return reader(path, o);
}
/// The rows of `path` from a position() saved earlier.
[[nodiscard]] inline reader rows(std::filesystem::path const& path, options const& o,
                                 position const& from)
{
    return reader(path, o, from);
}
/// The rows of a stream (which must outlive the reader).
[[nodiscard]] inline reader rows(std::istream& in, options const& o = {})
{
    return reader(in, o);
}
[[nodiscard]] inline reader rows(std::istream& in, options const& o, position const& from)
{
    return reader(in, o, from);
}
/// The rows of an open FILE* (the caller closes it).
[[nodiscard]] inline reader rows(std::FILE* f, options const& o = {})
{
    return reader(f, o);
}

} // namespace streambatch::csv

#undef STREAMBATCH_CSV_INLINE
#undef STREAMBATCH_CSV_COLD

#endif // STREAMBATCH_IO_CSV_HPP_INCLUDED
