// streambatch/io/csv/source.hpp: where the CSV reader's blocks come from.
//
// In:     a path (opened here, closed with the source), a POSIX file descriptor or a std::FILE*
//         (borrowed: the caller closes it), or any std::istream (borrowed).
// Out:    a detail::byte_source: read(buf, n) -> bytes read, 0 only at end of input (a short
//         read is not the end); seek(offset) -> whether the source could move to `offset`
//         bytes after where it started (false: not seekable, or past the end of a regular
//         file; the reader then reads forward); size() -> the input's length from where the
//         source started, when it is a regular file or a seekable stream (nullopt for a pipe,
//         a socket, a terminal: a partitioned reader needs it).
// Models: a small virtual interface: one virtual call per block, not per byte.
// Memory: none beyond the object; blocks go straight into the reader's buffer.
// Errors: std::system_error naming the file when open or read fails (errno as the code); a
//         stream whose streambuf throws passes its exception on.
// Example:
//     auto src = streambatch::csv::detail::open_path("customers.csv");
//     char buf[4096];
//     while (std::size_t n = src->read(buf, sizeof buf)) consume(buf, n);

#ifndef STREAMBATCH_IO_CSV_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_SOURCE_HPP_INCLUDED

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <ios>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace streambatch::csv::detail {

class byte_source {
public:
    virtual ~byte_source() = default;
    /// Reads up to n bytes; returns how many, 0 only at the end of the input.
    virtual std::size_t read(char* buf, std::size_t n) = 0;
    /// Moves to `offset` bytes after the source's starting point; false if it cannot.
    virtual bool seek(std::uint64_t offset) = 0;
    /// Bytes from the source's starting point to the end of the input, when that is known
    /// (a regular file, a seekable stream); nullopt otherwise.
    virtual std::optional<std::uint64_t> size() = 0;
};

/// A regular file's size past `start` (nullopt for anything else).
inline std::optional<std::uint64_t> regular_file_size(int fd, off_t start)
{
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return std::nullopt;
    return st.st_size > start ? static_cast<std::uint64_t>(st.st_size - start) : 0;
}

[[noreturn]] inline void throw_io_error(int err, std::string const& what)
{
    throw std::system_error(err, std::generic_category(), what);
}

class fd_source final : public byte_source {
    int fd_;
    bool owned_;
    std::string name_;
    off_t start_ = 0;

public:
    fd_source(int fd, bool owned, std::string name) : fd_(fd), owned_(owned), name_(std::move(name))
    {
        start_ = ::lseek(fd_, 0, SEEK_CUR);
        if (start_ < 0)
            start_ = 0; // a pipe or a socket: not seekable
    }
    fd_source(fd_source const&) = delete;
    fd_source& operator=(fd_source const&) = delete;
    ~fd_source() override
    {
        if (owned_)
            ::close(fd_);
    }

    std::size_t read(char* buf, std::size_t n) override
    {
        for (;;) {
            ssize_t const got = ::read(fd_, buf, n);
            if (got >= 0)
                return static_cast<std::size_t>(got);
            if (errno != EINTR)
                throw_io_error(errno, "streambatch::csv: cannot read " + name_);
        }
    }
    bool seek(std::uint64_t offset) override
    {
        struct stat st {};
        if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) &&
            start_ + static_cast<off_t>(offset) > st.st_size)
            return false; // past the end: the reader reads forward and says how long the file is
        return ::lseek(fd_, start_ + static_cast<off_t>(offset), SEEK_SET) >= 0;
    }
    std::optional<std::uint64_t> size() override { return regular_file_size(fd_, start_); }
};

inline std::unique_ptr<byte_source> open_path(std::filesystem::path const& path)
{
    int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw_io_error(errno, "streambatch::csv: cannot open " + path.string());
#if defined(POSIX_FADV_SEQUENTIAL)
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return std::make_unique<fd_source>(fd, true, path.string());
}

class file_source final : public byte_source {
    std::FILE* f_;
    std::string name_;
    off_t start_;

public:
    file_source(std::FILE* f, std::string name) : f_(f), name_(std::move(name)), start_(::ftello(f))
    {
        if (start_ < 0)
            start_ = 0;
    }
    std::size_t read(char* buf, std::size_t n) override
    {
        std::size_t const got = std::fread(buf, 1, n, f_);
        if (got == 0 && std::ferror(f_))
            throw_io_error(errno != 0 ? errno : EIO, "streambatch::csv: cannot read " + name_);
        return got;
    }
    bool seek(std::uint64_t offset) override
    {
        return ::fseeko(f_, start_ + static_cast<off_t>(offset), SEEK_SET) == 0;
    }
    std::optional<std::uint64_t> size() override { return regular_file_size(::fileno(f_), start_); }
};

class stream_source final : public byte_source {
    std::istream* in_;
    std::streambuf* sb_;
    std::streamoff start_;

public:
    explicit stream_source(std::istream& in) : in_(&in), sb_(in.rdbuf()), start_(-1)
    {
        if (sb_ != nullptr)
            start_ = sb_->pubseekoff(0, std::ios_base::cur, std::ios_base::in);
    }
    std::size_t read(char* buf, std::size_t n) override
    {
        if (sb_ == nullptr)
            return 0;
        std::streamsize const got = sb_->sgetn(buf, static_cast<std::streamsize>(n));
        if (got <= 0) {
            in_->setstate(std::ios_base::eofbit);
            return 0;
        }
        return static_cast<std::size_t>(got);
    }
    bool seek(std::uint64_t offset) override
    {
        if (sb_ == nullptr || start_ < 0)
            return false;
        auto const target = std::streampos(start_ + static_cast<std::streamoff>(offset));
        return sb_->pubseekpos(target, std::ios_base::in) == target;
    }
    std::optional<std::uint64_t> size() override
    {
        if (sb_ == nullptr || start_ < 0)
            return std::nullopt;
        std::streampos const here = sb_->pubseekoff(0, std::ios_base::cur, std::ios_base::in);
        std::streampos const end = sb_->pubseekoff(0, std::ios_base::end, std::ios_base::in);
        if (here == std::streampos(-1) || end == std::streampos(-1))
            return std::nullopt;
        sb_->pubseekpos(here, std::ios_base::in);
        std::streamoff const n = std::streamoff(end) - start_;
        return n > 0 ? static_cast<std::uint64_t>(n) : 0;
    }
};

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_SOURCE_HPP_INCLUDED
