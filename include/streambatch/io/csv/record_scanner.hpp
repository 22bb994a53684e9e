// streambatch/io/csv/record_scanner.hpp: the CSV parser proper: one record at a time from the
// block buffer into a field list, or the bad record that stops it.
//
// In:     a block_buffer (the scanner is one), the checked csv::options, the input's file_info.
// Out:    scan_record(header) -> record (spans_ holds the fields; rec_len_ the record's length,
//         rec_next_ where the next begins, rec_line_ its line), end (the end of input, or of a
//         partition: a record that begins at stop_ or later), or bad (bad_ says what and where;
//         the caller throws it or hands it to the reject path). consume() moves past a record.
// Syntax: RFC 4180, as the top of streambatch/io/csv.hpp says.
// Speed:  the bytes are never looked at one by one: the 64-bit masks of the buffer's window
//         (delimiters; quote, CR, LF, NUL) are walked a set bit at a time; inside a quoted field
//         only the specials stop the scan. The bad records are worded out of this path
//         (errors.hpp).
// Memory: the field list: 8 bytes per field of the longest record, and its quoted fields.
// Errors: none thrown for bad input (scan_result::bad); std::system_error from the source.

#ifndef STREAMBATCH_IO_CSV_RECORD_SCANNER_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_RECORD_SCANNER_HPP_INCLUDED

#include <streambatch/io/csv/attributes.hpp>
#include <streambatch/io/csv/buffer.hpp>
#include <streambatch/io/csv/errors.hpp>
#include <streambatch/io/csv/file_info.hpp>
#include <streambatch/io/csv/options.hpp>
#include <streambatch/io/csv/row.hpp>
#include <streambatch/io/csv/scan.hpp>
#include <streambatch/io/csv/source.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

namespace streambatch::csv::detail {

class record_scanner : public block_buffer {
public:
    enum class scan_result { record, end, bad };

    options opt_;
    std::shared_ptr<file_info const> info_;
    file_info* info_w_ = nullptr; // the same object, while the header is read

    std::uint64_t line_ = 1;
    std::size_t expected_fields_ = 0;
    bool has_expected_ = false;

    field_list spans_;
    std::size_t rec_len_ = 0, rec_next_ = 0;
    std::uint64_t rec_line_ = 1, next_line_ = 1;
    bad_record bad_;

    stop_set newline_{'\n', '\r', '\n', '\n', '\n'};
    // A partitioned reader: records that begin at stop_ or later are another partition's.
    std::uint64_t stop_ = std::numeric_limits<std::uint64_t>::max();

    /// `o` must have passed detail::check.
    record_scanner(std::unique_ptr<byte_source> src, options const& o, std::string name)
        : block_buffer(std::move(src), o.block_size, o.max_record_bytes, o.delimiter, o.quote),
          opt_(o)
    {
        auto info = std::make_shared<file_info>();
        info_w_ = info.get();
        info_ = std::move(info);
        info_w_->name = std::move(name);
    }

    /// The record at beg_, for wording its errors.
    record_context context() const noexcept { return {*info_, offset_of(0), rec_line_}; }

    /// The bad record, as the caller throws it.
    parse_error error_of(bad_record const& b) const { return detail::error_of(context(), b); }

    scan_result set_bad(bad_record&& b)
    {
        bad_ = std::move(b);
        return scan_result::bad;
    }

    // The bad records, out of the parser's hot path (worded in errors.hpp). The column is the
    // field being read.
    STREAMBATCH_CSV_COLD scan_result field_count_error()
    {
        return set_bad(
            bad_field_count(context(), expected_fields_, spans_.size(), opt_.has_header));
    }
    STREAMBATCH_CSV_COLD scan_result too_long_error(std::uint64_t line, bool quoted,
                                                    std::size_t qopen, std::uint64_t qline)
    {
        return set_bad(bad_too_long(context(), line, opt_.max_record_bytes, spans_.size(), quoted,
                                    qopen, qline));
    }
    STREAMBATCH_CSV_COLD scan_result nul_error(std::size_t at, std::uint64_t line)
    {
        return set_bad(bad_nul(context(), at, line, spans_.size()));
    }
    STREAMBATCH_CSV_COLD scan_result stray_quote_error(std::size_t at, std::uint64_t line)
    {
        return set_bad(bad_stray_quote(context(), at, line, spans_.size()));
    }
    STREAMBATCH_CSV_COLD scan_result unclosed_error(std::size_t at, std::uint64_t line,
                                                    std::size_t qopen, std::uint64_t qline)
    {
        return set_bad(bad_unclosed_quote(context(), at, line, spans_.size(), qopen, qline));
    }
    STREAMBATCH_CSV_COLD scan_result quoted_newline_error(std::size_t at, std::uint64_t line,
                                                          std::size_t qopen, std::uint64_t qline)
    {
        return set_bad(bad_quoted_newline(context(), at, line, spans_.size(), qopen, qline));
    }
    STREAMBATCH_CSV_COLD scan_result text_after_quote_error(std::size_t at, std::uint64_t line,
                                                            char c)
    {
        return set_bad(bad_text_after_quote(context(), at, line, spans_.size(), c, opt_.delimiter));
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
};

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_RECORD_SCANNER_HPP_INCLUDED
