// streambatch/io/csv/reader.hpp: csv::reader, the view of a CSV input's rows, and csv::rows().
//
// In:     a path, a std::istream, a std::FILE* or a file descriptor; csv::options; optionally a
//         csv::position saved earlier, to go on there.
// Out:    a single-pass view of csv::row; position(), partition_range(), header(), column(),
//         skipped(), name(). detail::reader_state ties the parts together: the record scanner
//         (record_scanner.hpp, over the block buffer of buffer.hpp), the header, resuming, the
//         partition's start (split.hpp) and the reject path (reject.hpp).
// Models: std::ranges::input_range and view; move-only. The whole contract (syntax, memory,
//         errors, partitions) is at the top of streambatch/io/csv.hpp; see docs/csv.md.

#ifndef STREAMBATCH_IO_CSV_READER_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_READER_HPP_INCLUDED

#include <streambatch/io/csv/buffer.hpp>
#include <streambatch/io/csv/errors.hpp>
#include <streambatch/io/csv/file_info.hpp>
#include <streambatch/io/csv/options.hpp>
#include <streambatch/io/csv/record_scanner.hpp>
#include <streambatch/io/csv/reject.hpp>
#include <streambatch/io/csv/row.hpp>
#include <streambatch/io/csv/source.hpp>
#include <streambatch/io/csv/split.hpp>
#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/detail/reject.hpp>
#include <streambatch/partition.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <istream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streambatch::csv {

namespace detail {

/// The parser, its buffer and the reader's own state. Lives on the heap so that reader moves
/// keep iterators valid.
class reader_state : public record_scanner {
public:
    std::uint64_t rows_ = 0, skipped_ = 0;

    row current_;
    position current_pos_;
    bool has_current_ = false, done_ = false, started_ = false;
    reject_sink reject_;

    partition_range range_{0, std::numeric_limits<std::uint64_t>::max(), 0,
                           std::numeric_limits<std::uint64_t>::max()};

    reader_state(std::unique_ptr<byte_source> src, options const& o, std::string name,
                 std::optional<position> from)
        : record_scanner(std::move(src), checked(o), std::move(name))
    {
        bool const resuming = from && from->byte_offset > 0;
        reject_.open(opt_, resuming);

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

    /// Skip policy: write the bad record to the reject file and move past it.
    void reject_bad()
    {
        parse_error const err = error_of(bad_);
        std::uint64_t const rec_off = offset_of(0);
        bad_line bad;
        if (bad_.complete) {
            bad.raw.assign(buf_.get() + beg_, rec_len_);
            bad.total = rec_len_;
            bad.next = rec_next_;
            bad.lines = next_line_ - rec_line_;
        } else {
            bad = take_bad_line(*this, bad_.anchor, opt_.max_record_bytes);
        }
        // The io family's reject record (docs/rejects.md). A partition's own line count is no
        // line of the file: its line is left out, as is its row (counted within the partition).
        bool const whole = opt_.partition.whole();
        std::optional<std::string> column_name;
        if (bad_.column && *bad_.column < info_->columns.size())
            column_name = info_->columns[*bad_.column];
        std::optional<std::uint64_t> const raw_size =
            bad.total > bad.raw.size() ? std::optional<std::uint64_t>(bad.total) : std::nullopt;
        io::reject rec{
            .source = "csv",
            .name = info_->name,
            .line = info_->line_partition ? std::nullopt : std::optional<std::uint64_t>(rec_line_),
            .byte_offset = rec_off,
            .row = whole ? std::optional<std::uint64_t>(rows_ + skipped_ + 1) : std::nullopt,
            .partition = whole ? std::nullopt : std::optional<std::string>(opt_.partition.str()),
            .column = bad_.column,
            .column_name = std::move(column_name),
            .error = err.what(),
            .raw = std::move(bad.raw),
            .raw_size = raw_size,
        };
        reject_.write(rec);
        if (skipped_ + 1 > opt_.max_skipped) {
            done_ = true;
            throw parse_error(error_kind::too_many_bad_rows, info_->name, rec_line_, rec_off,
                              "too many bad rows: this is bad row " + std::to_string(skipped_ + 1) +
                                  " and max_skipped is " + std::to_string(opt_.max_skipped) +
                                  "; this one: " + err.reason(),
                              std::nullopt, std::string(), info_->line_partition);
        }
        ++skipped_;
        beg_ += bad.next;
        line_ = rec_line_ + bad.lines;
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
        jump_to(target, "resume", info_->name);
        line_ = from.line;
        rows_ = from.rows;
        skipped_ = from.skipped;
    }

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
        range_ = nominal_range(part, data_begin, std::max(*size, data_begin));
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
            // Field counts judge a reading only where a bad count would stop the whole-input
            // reader too (on_error::fail).
            bool const counting =
                opt_.strict_field_count && has_expected_ && opt_.bad_rows == on_error::fail;
            split_finder finder(
                *this, opt_, counting ? std::optional<std::size_t>(expected_fields_) : std::nullopt,
                info_->name);
            jump_to(opt_.quoted_newlines ? finder.resolve(split) : finder.after_line_break(split),
                    "start partition " + part.str() + " of", info_->name);
        }
        skip_blank_lines();
        if (part.index != 0)
            line_ = 1;
        stop_ = stop;
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

/// A single-pass view of the rows of a CSV input. See streambatch/io/csv.hpp and docs/csv.md.
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
                          "no column named " + io::detail::quote(name) +
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

#endif // STREAMBATCH_IO_CSV_READER_HPP_INCLUDED
