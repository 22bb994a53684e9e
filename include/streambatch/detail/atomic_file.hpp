// streambatch/detail/atomic_file.hpp: the one atomic file writer (checkpoints, run records,
// merges).
//
// In:     a path and the file's whole text.
// Out:    detail::write_file_atomically(path, text): the text is written to "<path>.tmp" in the
//         same directory, fsync'ed, renamed over `path`, and the directory fsync'ed; after a
//         crash `path` holds the old text or the new, never a mix. On failure no "<path>.tmp"
//         made by this call is left behind (removed after a failed write, fsync, close or
//         rename; a "<path>.tmp" that cannot be created was not made here).
// Models: a blocking call; POSIX open/write/fsync/rename.
// Memory: none beyond the caller's text.
// Errors: streambatch::atomic_file_error (a std::runtime_error) naming the file, the step that
//         failed and errno's text; callers with their own error type (checkpoint_error,
//         run_record_error, run_merge_error) wrap it. See docs/runner.md.
// Example:
//     streambatch::detail::write_file_atomically("runs/today/run_record.json", json);

#ifndef STREAMBATCH_DETAIL_ATOMIC_FILE_HPP_INCLUDED
#define STREAMBATCH_DETAIL_ATOMIC_FILE_HPP_INCLUDED

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace streambatch {

/// A file could not be written atomically. what(): "streambatch: <file>: <step>: <errno's text>".
class atomic_file_error : public std::runtime_error {
public:
    atomic_file_error(std::filesystem::path file, std::string step, int err)
        : std::runtime_error("streambatch: " + file.string() + ": " + step + ": " +
                             std::strerror(err)),
          file_(std::move(file)), step_(std::move(step)), errno_(err)
    {}
    /// The file that was being written (not its temp file).
    std::filesystem::path const& file() const noexcept { return file_; }
    /// What failed: "cannot create <file>.tmp", "write failed", "fsync failed", ...
    std::string const& step() const noexcept { return step_; }
    /// errno's value when it failed.
    int error_number() const noexcept { return errno_; }
    /// "<step>: <errno's text>", for callers that name the file their own way.
    std::string reason() const { return step_ + ": " + std::strerror(errno_); }

private:
    std::filesystem::path file_;
    std::string step_;
    int errno_ = 0;
};

namespace detail {

/// Writes `text` to `path` atomically: temp file in the same directory, fsync, rename, fsync(dir).
inline void write_file_atomically(std::filesystem::path const& path, std::string const& text)
{
    auto const dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    auto const tmp = std::filesystem::path(path.string() + ".tmp");
    // Fails with errno kept, after removing the temp file when `drop` (unlink may change errno).
    auto fail = [&](std::string step, bool drop) {
        int const err = errno;
        if (drop)
            ::unlink(tmp.c_str());
        throw atomic_file_error(path, std::move(step), err);
    };
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fail("cannot create " + tmp.string(), false);
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { // 0 for a non-empty write: no progress, never loop on it
            int const err = n < 0 ? errno : EIO;
            ::close(fd);
            errno = err;
            fail("write failed", true);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        int const err = errno;
        ::close(fd);
        errno = err;
        fail("fsync failed", true);
    }
    if (::close(fd) != 0)
        fail("close failed", true);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        fail("rename from " + tmp.string() + " failed", true);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        fail("cannot open directory " + dir.string(), false);
    int const rc = ::fsync(dfd);
    int const err = errno;
    ::close(dfd);
    if (rc != 0) {
        errno = err;
        fail("fsync of directory " + dir.string() + " failed", false);
    }
}

} // namespace detail
} // namespace streambatch

#endif // STREAMBATCH_DETAIL_ATOMIC_FILE_HPP_INCLUDED
