// streambatch/io/csv/reject.hpp: the reject path: where a bad record ends, and the reject file
// it goes to under on_error::skip.
//
// In:     options::reject_path (truncated on a fresh start, appended to on a resume) or
//         options::reject_stream (not owned); the block buffer holding the bad record.
// Out:    take_bad_line(buffer, anchor, max): the bad row's raw bytes (from the record's start
//         to the first line break at or after `anchor`; at most max kept), its length, where
//         the next record begins and how many line breaks it spans. reject_sink::write: one
//         reject record: file, line (empty for a line counted within a partition), byte offset,
//         the full message, the raw bytes.
// Format: CSV with the header file,line,byte_offset,error,raw; raw text cut to
//         max_record_bytes, or base64 when it holds NUL, each said in the error column.
// Memory: the bad row's first max_record_bytes bytes; the buffer keeps at most
//         max_record_bytes + 3 x block_size while the row's end is found.
// Errors: std::system_error naming the reject file when it cannot be opened or written.

#ifndef STREAMBATCH_IO_CSV_REJECT_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_REJECT_HPP_INCLUDED

#include <streambatch/io/csv/buffer.hpp>
#include <streambatch/io/csv/options.hpp>
#include <streambatch/io/csv/scan.hpp>
#include <streambatch/io/csv/source.hpp>
#include <streambatch/io/csv/writer.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>

namespace streambatch::csv::detail {

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
    std::unique_ptr<std::ofstream> file_;
    std::optional<writer> out_;

public:
    /// Opens options::reject_path (appended to when `resuming`, else truncated) or takes
    /// options::reject_stream; writes the header unless it goes on after earlier rows.
    void open(options const& o, bool resuming)
    {
        if (o.bad_rows != on_error::skip)
            return;
        std::ostream* out = o.reject_stream;
        bool write_header = !resuming;
        if (out == nullptr) {
            std::error_code ec;
            bool const had_rows = resuming && std::filesystem::exists(o.reject_path, ec) &&
                                  std::filesystem::file_size(o.reject_path, ec) > 0;
            write_header = !had_rows;
            file_ = std::make_unique<std::ofstream>(
                o.reject_path, std::ios::binary | (resuming ? std::ios::app : std::ios::trunc));
            if (!*file_)
                throw_io_error(errno != 0 ? errno : EIO,
                               "streambatch::csv: cannot open the reject file " +
                                   o.reject_path.string());
            out = file_.get();
        }
        out_.emplace(*out, writer_options{},
                     out == o.reject_stream ? "<reject stream>" : o.reject_path.string());
        if (write_header) {
            out_->write_row({"file", "line", "byte_offset", "error", "raw"});
            out_->flush();
        }
    }

    /// One bad record: `line` is nullopt where it counts within a partition (no line of the
    /// file; the message says "line L of partition i/n"); `row` its raw text as kept.
    void write(std::string const& file, std::optional<std::uint64_t> line, std::uint64_t offset,
               std::string message, bad_line const& row)
    {
        if (!out_)
            return;
        std::string raw = row.raw;
        if (row.total > raw.size())
            message += " [raw text cut to its first " + std::to_string(raw.size()) + " of " +
                       std::to_string(row.total) + " bytes]";
        if (raw.find('\0') != std::string::npos) { // CSV cannot carry NUL: keep the bytes as base64
            raw = base64(raw);
            message += " [raw is base64: it holds NUL bytes]";
        }
        if (line)
            out_->write(file, *line, offset, message, raw);
        else
            out_->write(file, std::string_view(), offset, message, raw);
        out_->flush();
    }
};

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_REJECT_HPP_INCLUDED
