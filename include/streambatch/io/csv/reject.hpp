// streambatch/io/csv/reject.hpp: the CSV reader's reject path: where a bad record ends, and
// the reject record it becomes under on_error::skip.
//
// In:     options::reject_path (truncated on a fresh start, appended to on a resume) or
//         options::reject_stream (not owned); the block buffer holding the bad record.
// Out:    take_bad_line(buffer, anchor, max): the bad row's raw bytes (from the record's start
//         to the first line break at or after `anchor`; at most max kept), its length, where
//         the next record begins and how many line breaks it spans. reject_sink::write: one
//         io::reject, written as one JSON Lines record by io::reject_writer: the io family's one
//         reject format (docs/rejects.md), so one tool reads rejects from CSV, SQLite and
//         PostgreSQL alike. The raw bytes are kept exactly (NUL and bytes that are not UTF-8
//         included); raw_size says the whole length when a row longer than max_record_bytes
//         was cut.
// Memory: the bad row's first max_record_bytes bytes; the buffer keeps at most
//         max_record_bytes + 3 x block_size while the row's end is found.
// Errors: std::system_error naming the reject file when it cannot be opened or written.

#ifndef STREAMBATCH_IO_CSV_REJECT_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_REJECT_HPP_INCLUDED

#include <streambatch/io/csv/buffer.hpp>
#include <streambatch/io/csv/options.hpp>
#include <streambatch/io/csv/scan.hpp>
#include <streambatch/io/csv/source.hpp>
#include <streambatch/io/detail/reject.hpp>
#include <streambatch/io/detail/reject_writer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace streambatch::csv::detail {

/// A bad row as the reject path keeps it.
struct bad_line {
    std::string raw;         ///< its first max bytes
    std::uint64_t total = 0; ///< its length before the cut
    std::size_t next = 0;    ///< where the next record begins, relative to the row's start
    std::uint64_t lines = 0; ///< line breaks from the row's start to `next`
};

/// The bad row that begins at b.beg_ and ends at the first line break at or after `anchor`
/// (relative to b.beg_), and that line break. A row longer than the buffer may hold is read
/// through: its first `max` bytes are kept, the rest dropped (b.beg_ moves past them).
inline bad_line take_bad_line(block_buffer& b, std::size_t anchor, std::size_t max)
{
    stop_set const newline('\n', '\r', '\n', '\n', '\n');
    bad_line out;
    std::size_t i = anchor;
    bool dropped = false;
    for (;;) {
        i += find_stop(b.buf_.get() + b.beg_ + i, (b.end_ - b.beg_) - i, newline);
        if (b.beg_ + i < b.end_)
            break;
        if (!b.more())
            break;
        if (b.end_ - b.beg_ > max + 2 * b.block_size_) {
            // No line break for a long way: keep the first max bytes, drop the rest.
            if (!dropped)
                out.raw.assign(b.buf_.get() + b.beg_, std::min(i, max));
            dropped = true;
            out.lines += count_line_breaks(b.buf_.get() + b.beg_, i);
            out.total += i;
            b.beg_ += i;
            i = 0;
        }
    }
    if (!dropped)
        out.raw.assign(b.buf_.get() + b.beg_, std::min(i, max));
    out.total += i;
    out.next = i;
    if (b.beg_ + out.next < b.end_) { // a line break
        ++out.next;
        if (b.buf_[b.beg_ + i] == '\r') {
            if (b.beg_ + out.next == b.end_)
                b.more();
            if (b.beg_ + out.next < b.end_ && b.buf_[b.beg_ + out.next] == '\n')
                ++out.next;
        }
    }
    out.lines += count_line_breaks(b.buf_.get() + b.beg_, out.next);
    return out;
}

/// The reject file of a reader with on_error::skip (nothing otherwise).
class reject_sink {
    std::optional<io::reject_writer> out_;

public:
    /// Opens options::reject_path now (appended to when `resuming`, else truncated) or takes
    /// options::reject_stream.
    void open(options const& o, bool resuming)
    {
        if (o.bad_rows != on_error::skip)
            return;
        if (o.reject_stream != nullptr) {
            out_.emplace(*o.reject_stream, "streambatch::csv");
            return;
        }
        out_.emplace(o.reject_path,
                     resuming ? io::reject_writer::open_mode::append
                              : io::reject_writer::open_mode::truncate,
                     "streambatch::csv");
        out_->open();
    }

    /// One bad record, flushed.
    void write(io::reject const& r)
    {
        if (out_)
            out_->write(r);
    }
};

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_REJECT_HPP_INCLUDED
