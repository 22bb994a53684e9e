// streambatch/io/detail/reject_writer.hpp: writes rejects (reject.hpp) as JSON Lines, one line
// per record, flushed after each, for every io source. See docs/rejects.md.
//
// In:     a file path (opened on the first write, or by open(): append keeps earlier runs'
//         lines, truncate starts afresh) or a std::ostream the caller owns; `who` prefixes error
//         messages ("streambatch::csv").
// Out:    write(reject const&) appends one line and flushes; lines_written() counts them.
// Memory: one line at a time.
// Errors: std::system_error naming the file (or "<reject stream>") when it cannot be opened or
//         written; the record is then not known to be kept, so the caller must stop.
// Example:
//     io::reject_writer out("rejects.jsonl", io::reject_writer::open_mode::append,
//     "streambatch::sqlite"); out.write(io::reject{.source = "sqlite", .name = "shop.db", .row = 3,
//     .error = "bad"});

#ifndef STREAMBATCH_IO_DETAIL_REJECT_WRITER_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_REJECT_WRITER_HPP_INCLUDED

#include <streambatch/io/detail/reject.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace streambatch::io {

class reject_writer {
public:
    enum class open_mode : unsigned char {
        append,   ///< keep what the file holds (a later run, a resumed one)
        truncate, ///< start the file afresh
    };

    /// Writes nothing; write() throws std::logic_error.
    reject_writer() = default;
    /// To the file `path`, opened on the first write() (or open()).
    explicit reject_writer(std::filesystem::path path, open_mode mode = open_mode::append,
                           std::string who = "streambatch")
        : path_(std::move(path)), who_(std::move(who)), mode_(mode)
    {}
    /// To `out` (not owned; it must outlive the writer).
    explicit reject_writer(std::ostream& out, std::string who = "streambatch")
        : who_(std::move(who)), stream_(std::addressof(out))
    {}
    reject_writer(reject_writer&& o) noexcept
        : path_(std::move(o.path_)), who_(std::move(o.who_)), mode_(o.mode_),
          stream_(std::exchange(o.stream_, nullptr)), file_(std::exchange(o.file_, nullptr)),
          lines_(o.lines_)
    {}
    reject_writer& operator=(reject_writer&& o) noexcept
    {
        if (this != &o) {
            close();
            path_ = std::move(o.path_);
            who_ = std::move(o.who_);
            mode_ = o.mode_;
            stream_ = std::exchange(o.stream_, nullptr);
            file_ = std::exchange(o.file_, nullptr);
            lines_ = o.lines_;
        }
        return *this;
    }
    ~reject_writer() { close(); }

    /// The file's path; empty when writing to a stream.
    std::filesystem::path const& path() const noexcept { return path_; }
    /// The path, or "<reject stream>", for messages.
    std::string target() const { return stream_ ? std::string("<reject stream>") : path_.string(); }
    /// Lines this writer has written.
    std::uint64_t lines_written() const noexcept { return lines_; }

    /// Opens the file now (truncating it in open_mode::truncate); a no-op for a stream or when
    /// open.
    void open()
    {
        if (stream_ || file_)
            return;
        if (path_.empty())
            throw std::logic_error(who_ + ": a reject_writer without a file or stream");
        file_ = std::fopen(path_.c_str(), mode_ == open_mode::append ? "ab" : "wb");
        if (!file_)
            fail(errno, "cannot open the reject file ");
    }

    void write(reject const& r) { write_line(to_json_line(r)); }

    /// Writes one line (a reject made with to_json_line), a line break and flushes.
    void write_line(std::string line)
    {
        open();
        line += '\n';
        if (stream_) {
            stream_->write(line.data(), static_cast<std::streamsize>(line.size()));
            stream_->flush();
            if (!*stream_)
                fail(EIO, "cannot write the reject file ");
        } else if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
                   std::fflush(file_) != 0) {
            fail(errno != 0 ? errno : EIO, "cannot write the reject file ");
        }
        ++lines_;
    }

private:
    [[noreturn]] void fail(int err, char const* what) const
    {
        throw std::system_error(err, std::generic_category(), who_ + ": " + what + target());
    }
    void close() noexcept
    {
        if (file_)
            std::fclose(std::exchange(file_, nullptr));
    }

    std::filesystem::path path_{};
    std::string who_ = "streambatch";
    open_mode mode_ = open_mode::append;
    std::ostream* stream_ = nullptr;
    std::FILE* file_ = nullptr;
    std::uint64_t lines_ = 0;
};

} // namespace streambatch::io

#endif // STREAMBATCH_IO_DETAIL_REJECT_WRITER_HPP_INCLUDED
