// streambatch/io/csv/split.hpp: where a partition of a CSV input begins (the split finder).
//
// In:     a partition {i, n} of options::partition, the data's byte range [D, S), and the
//         block buffer to read from.
// Out:    nominal_range(part, D, S): the partition's nominal byte range (Hadoop's and Spark's
//         text splits: [D + (S - D) * i / n, D + (S - D) * (i + 1) / n)). split_finder::
//         resolve(N): the input offset of the first record that begins at or after N, telling
//         whether byte N is inside a quoted field by reading the bytes from there twice (as if
//         outside quotes, and as if inside) until one reading fails; after_line_break(N): the
//         same with quoted_newlines = false (the first byte after a line break at or after
//         N - 1). The rule and its cost are told under "Partitions" in streambatch/io/csv.hpp.
// Memory: none beyond the buffer's: the readings keep a few counters each.
// Errors: csv::parse_error ambiguous_split (both readings valid for max_record_bytes bytes),
//         or of the later failure's kind when both readings fail without finding a record
//         start; std::invalid_argument when the input cannot be read at N.

#ifndef STREAMBATCH_IO_CSV_SPLIT_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_SPLIT_HPP_INCLUDED

#include <streambatch/io/csv/attributes.hpp>
#include <streambatch/io/csv/buffer.hpp>
#include <streambatch/io/csv/errors.hpp>
#include <streambatch/io/csv/options.hpp>
#include <streambatch/io/csv/scan.hpp>
#include <streambatch/partition.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace streambatch::csv::detail {

/// `a * k / n` without overflow, for a < 2^64 and k <= n < 2^32.
constexpr std::uint64_t scale(std::uint64_t a, std::uint32_t k, std::uint32_t n) noexcept
{
    return a / n * k + a % n * k / n;
}

/// Partition `part`'s nominal range of the data [data_begin, data_end).
constexpr partition_range nominal_range(streambatch::partition part, std::uint64_t data_begin,
                                        std::uint64_t data_end) noexcept
{
    auto const cut = [&](std::uint32_t k) {
        return data_begin + scale(data_end - data_begin, k, part.count);
    };
    return partition_range{data_begin, data_end, cut(part.index), cut(part.index + 1)};
}

/// One reading of the bytes after a split point: byte `split` outside a quoted field, or inside
/// one. split_finder runs it as RFC 4180's state machine until it fails (a syntax error, a
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

/// Finds where a partition's first record begins, reading the block buffer `b` (which it
/// moves). `expected`: the field count that judges a reading, set only where a bad count would
/// stop the whole-input reader too (strict_field_count with on_error::fail and a known count);
/// the record cut by the split point is never counted.
class split_finder {
    block_buffer& b_;
    options const& opt_;
    std::optional<std::size_t> expected_;
    std::string const& name_;

public:
    split_finder(block_buffer& b, options const& o, std::optional<std::size_t> expected,
                 std::string const& name) noexcept
        : b_(b), opt_(o), expected_(expected), name_(name)
    {}

    /// quoted_newlines = false: every line break ends a record, so the first record at or
    /// after `split` begins after the first line break at or after split - 1 (the Hadoop rule).
    std::uint64_t after_line_break(std::uint64_t split)
    {
        b_.jump_to(split - 1, "split", name_);
        for (;;) {
            if (b_.beg_ == b_.end_ && !b_.more())
                return b_.base_ + b_.beg_;
            std::size_t const n = find_stop(b_.buf_.get() + b_.beg_, b_.end_ - b_.beg_,
                                            stop_set('\n', '\r', '\n', '\n', '\n'));
            if (b_.beg_ + n < b_.end_)
                return b_.base_ + b_.beg_ + n + 1; // a CRLF's LF is skipped as a blank line
            b_.beg_ = b_.end_;
        }
    }

    void fail_reading(split_reading& h, error_kind kind, std::uint64_t at, std::string why)
    {
        h.st = split_reading::state::failed;
        h.kind = kind;
        h.failed_at = at;
        h.why = std::move(why);
    }

    void end_reading_record(split_reading& h, std::uint64_t at)
    {
        if (!h.cut && expected_.has_value() && h.fields + 1 != *expected_)
            return fail_reading(h, error_kind::field_count, h.rec_begin,
                                "the record at byte " + std::to_string(h.rec_begin) + " has " +
                                    std::to_string(h.fields + 1) + " fields, not " +
                                    std::to_string(*expected_));
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

    /// Runs `h` over b_.buf_[i, to), skipping runs of bytes that change nothing: inside quotes,
    /// all but quotes and NUL; outside, all but quotes, line breaks and NUL (delimiters there
    /// only end fields: they are counted, and the last byte of the run says whether the next
    /// one begins a field).
    void run_reading(split_reading& h, std::size_t i, std::size_t to)
    {
        using st = split_reading::state;
        char const q = opt_.quote, d = opt_.delimiter;
        stop_set const quoted(q, '\0', q, q, q);
        stop_set const unquoted(q, '\n', '\r', '\0', q);
        bool const counting = expected_.has_value();
        char const* const p = b_.buf_.get();
        while (i < to && h.alive()) {
            if (h.st == st::quoted || h.st == st::unquoted || h.st == st::field_start) {
                std::uint64_t const x = b_.base_ + i;
                std::uint64_t const limit = h.rec_begin + opt_.max_record_bytes; // first byte over
                if (limit > x) {
                    std::size_t const lim =
                        static_cast<std::size_t>(std::min<std::uint64_t>(to, limit - b_.base_));
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
            step_reading(h, p[i], b_.base_ + i);
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

    /// options::quoted_newlines: where the first record at or after `split` (> data start) begins:
    /// the bytes from there are read twice, as if byte `split` were outside a quoted field and as
    /// if it were inside one (byte split - 1 sets each reading's state). Quote parity makes the two
    /// readings disagree about every byte's quotedness, so at most one of them reaches the end of
    /// input valid; the first to fail is wrong. See "Partitions" at the top of this header.
    std::uint64_t resolve(std::uint64_t split)
    {
        using st = split_reading::state;
        b_.jump_to(split - 1, "split", name_);
        if (b_.beg_ == b_.end_ && !b_.more()) // the input is shorter than it was (it shrank)
            return b_.base_ + b_.beg_;
        char const before = b_.buf_[b_.beg_++];
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
            bool const eof = b_.beg_ == b_.end_ && !b_.more();
            if (!eof) {
                std::size_t to = b_.end_;
                if (both_before)
                    to = static_cast<std::size_t>(
                        std::min<std::uint64_t>({to, b_.beg_ + step, bound - b_.base_}));
                for (split_reading& h : r)
                    if (h.alive())
                        run_reading(h, b_.beg_, to);
                b_.beg_ = to;
            } else {
                for (split_reading& h : r)
                    end_reading(h, b_.base_ + b_.beg_);
            }
            if (r[0].alive() && r[1].alive()) {
                if (eof || b_.base_ + b_.beg_ >= bound)
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
                    return b_.base_ + b_.beg_; // no record begins at or after the split point
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
            error_kind::ambiguous_split, name_, 0, split,
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
        return parse_error(later.kind, name_, 0, later.failed_at,
                           "no record can begin after " + split_text(split) +
                               ": read as outside a quoted field, the text there fails at byte " +
                               std::to_string(r[0].failed_at) + " (" + r[0].why +
                               "); read as inside one, at byte " + std::to_string(r[1].failed_at) +
                               " (" + r[1].why + ")");
    }
};

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_SPLIT_HPP_INCLUDED
