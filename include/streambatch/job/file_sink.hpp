// streambatch/job/file_sink.hpp: a job_sink that appends each batch to a file and keeps its
// state in a checkpoint beside it, so that a resumed job's output holds each committed batch
// exactly once, and an output that lost bytes (a crash, a restore, a copy) is refused.
//
// In:     the output's path; format(batch, std::string& out), which appends a batch's bytes to
//         `out`; file_sink_options: checkpoint (default "<output>.checkpoint"), header (bytes
//         written once, before the first batch), start_over (truncate the output and drop its
//         checkpoint at open).
// Out:    file_sink<Format>: open(key) -> std::optional<job_state>; commit(batch, state);
//         close(); describe() (the output's path); recovered_bytes() and note() (what open
//         repaired or took over); committed_bytes(), output(), checkpoint_path(), lock_path().
//         file_sink_error.
// Models: streambatch::job_sink<file_sink<Format>, Batch> for every Batch that Format takes as
//         format(batch&, std::string&). Move-only (it owns two descriptors).
//         open(key): takes the fence, a flock(LOCK_EX | LOCK_NB) on "<checkpoint>.lock" (a file
//         never replaced, unlike the checkpoint, which is renamed over); the lock file holds the
//         holder's holder::to_text() line and the job for others to read. A killed holder's
//         flock is freed by the kernel, so the next open takes over with no cleanup (and says
//         so in note()). Then it reads the checkpoint and checks the output against it:
//         - no checkpoint: the output must be absent or empty (start_over: it is truncated);
//           open writes a checkpoint of nothing committed under `key` before any batch, so a
//           crash in the first commit is repaired as any other, and another job is refused;
//         - the checkpoint's job key must be `key`;
//         - the output must hold at least the committed length, and the last 64 KiB up to it
//           must hash (detail::stream_hash) as the checkpoint says, and start with the header;
//         - bytes past the committed length are a batch written but never committed (a crash
//           between the data's fsync and the checkpoint): they are cut off (ftruncate, fsync),
//           counted in recovered_bytes() and described in note().
//         commit(batch, state): formats the batch (the header first when nothing is committed
//         yet), checks the fence (the checkpoint on disk is the text this writer last wrote or
//         read, the lock file and the output are the files it opened, and the output is the
//         length it committed; else fence_lost, nothing written), writes the bytes at the
//         committed end (pwrite), fdatasync's the output, THEN writes the checkpoint
//         atomically (detail::write_file_atomically: temp file, fsync, rename, fsync of the
//         directory) with the job_state, the job key, the committed length and the hash of the
//         output's last 64 KiB up to it. A crash at any point leaves the old state or the new,
//         and the next open cuts off an uncommitted batch. After a failed commit the sink
//         refuses further commits: close and open it again (open repairs the output).
//         The fence is advisory: it holds among processes that use it, on one host or on a
//         file system whose flock is shared (local, or NFSv4 byte-range locks).
// Memory: one batch's bytes (reused), the output's last 64 KiB, and one checkpoint's text.
// Errors: fence_held (another process holds the lock: names it from the lock file, .by, and
//         the files); fence_lost (commit: the checkpoint, the lock file or the output changed
//         under this writer; nothing was written); file_sink_error (a std::runtime_error):
//         open's refusals (an output without a checkpoint, another job's checkpoint, an output
//         behind its checkpoint or edited in its tail: each names the files, the lengths or
//         the byte range, and what the user can do), and system failures naming the file and
//         errno's text (error_number()). std::logic_error: commit() on a sink not open, or
//         open() on one already open.
// Example:
//     streambatch::file_sink sink("out.txt", [](std::vector<std::string> const& b, std::string&
//     out) { for (auto const& s : b) out += s + '\n'; });
//     auto state = sink.open({.job = "export"});        // nullopt: nothing committed yet
//     sink.commit(lines, {.position = "42", .batches = 1, .records = lines.size()});
//     sink.close();

#ifndef STREAMBATCH_JOB_FILE_SINK_HPP_INCLUDED
#define STREAMBATCH_JOB_FILE_SINK_HPP_INCLUDED

#include <streambatch/detail/atomic_file.hpp>
#include <streambatch/detail/json.hpp>
#include <streambatch/detail/parse.hpp>
#include <streambatch/detail/stream_hash.hpp>
#include <streambatch/job/contract.hpp>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace streambatch {

/// A file sink refused its output, or a system call on it failed. what() names the files; for a
/// system failure it ends with errno's text, and error_number() is errno's value (0 otherwise).
class file_sink_error : public std::runtime_error {
public:
    explicit file_sink_error(std::string const& what, int err = 0)
        : std::runtime_error(what), errno_(err)
    {}
    int error_number() const noexcept { return errno_; }

private:
    int errno_ = 0;
};

struct file_sink_options {
    std::filesystem::path checkpoint{}; ///< empty: "<output>.checkpoint"
    std::string header{};               ///< written once, with the first batch
    bool start_over = false;            ///< open(): drop the checkpoint, truncate the output
};

namespace detail {

/// The bytes of the output's tail that its checkpoint hashes.
inline constexpr std::uint64_t file_sink_tail = 64 * 1024;

/// An owned file descriptor.
class unique_fd {
    int fd_ = -1;

public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept
    {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~unique_fd() { reset(); }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset() noexcept
    {
        if (fd_ >= 0)
            ::close(std::exchange(fd_, -1));
    }
};

[[noreturn]] inline void file_sink_fail(std::string const& what, int err)
{
    throw file_sink_error("streambatch: " + what + ": " + std::strerror(err), err);
}

/// The whole of a small file; nullopt when it does not exist.
inline std::optional<std::string> read_small_file(std::filesystem::path const& p)
{
    unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT)
            return std::nullopt;
        file_sink_fail("cannot open " + p.string(), errno);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t const n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            file_sink_fail("cannot read " + p.string(), errno);
        if (n == 0)
            return text;
        text.append(buf, static_cast<std::size_t>(n));
    }
}

/// `n` bytes at `offset` of `fd` (fewer only at the end of the file).
inline std::string read_at(int fd, std::uint64_t offset, std::uint64_t n,
                           std::filesystem::path const& p)
{
    std::string out(static_cast<std::size_t>(n), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t const r =
            ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            file_sink_fail("cannot read " + p.string(), errno);
        if (r == 0)
            break;
        done += static_cast<std::size_t>(r);
    }
    out.resize(done);
    return out;
}

/// Writes all of `data` at `offset`; false with errno set on failure.
inline bool write_all_at(int fd, char const* data, std::size_t n, std::uint64_t offset) noexcept
{
    std::size_t done = 0;
    while (done < n) {
        ssize_t const r = ::pwrite(fd, data + done, n - done, static_cast<off_t>(offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return false;
        if (r == 0) {
            errno = EIO;
            return false;
        }
        done += static_cast<std::size_t>(r);
    }
    return true;
}

inline void fsync_directory_of(std::filesystem::path const& p)
{
    auto const dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        file_sink_fail("cannot open directory " + dir.string(), errno);
    if (::fsync(fd.get()) != 0)
        file_sink_fail("fsync of directory " + dir.string() + " failed", errno);
}

/// Same file (device and inode) at `p` as open on `fd`.
inline bool same_file(std::filesystem::path const& p, int fd) noexcept
{
    struct stat a {
    }, b{};
    return ::stat(p.c_str(), &a) == 0 && ::fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

inline void sleep_ms(long ms) noexcept
{
    timespec t{ms / 1000, (ms % 1000) * 1'000'000L};
    while (::nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

} // namespace detail

/// Appends each committed batch to an output file and keeps the job's state in a checkpoint
/// beside it. See the header comment.
template <class Format>
class file_sink {
public:
    /// A sink for `output` (nothing is opened until open()).
    explicit file_sink(std::filesystem::path output, Format format = Format{},
                       file_sink_options options = {})
        : output_(std::move(output)), format_(std::move(format)), options_(std::move(options))
    {
        checkpoint_ = options_.checkpoint.empty()
                          ? std::filesystem::path(output_.string() + ".checkpoint")
                          : options_.checkpoint;
        lock_ = std::filesystem::path(checkpoint_.string() + ".lock");
    }
    file_sink(file_sink&&) = default;
    file_sink(file_sink const&) = delete;
    file_sink& operator=(file_sink const&) = delete;
    file_sink& operator=(file_sink&&) = delete;
    ~file_sink() { close(); }

    /// Takes the fence for `key` (or throws fence_held), checks the output against its
    /// checkpoint (or throws file_sink_error), cuts off an uncommitted batch, and returns the
    /// state stored with the last committed batch (nullopt: nothing committed).
    std::optional<job_state> open(job_key const& key)
    {
        if (lock_fd_)
            throw std::logic_error("streambatch: file_sink " + output_.string() +
                                   ": open() while already open");
        note_.clear();
        recovered_ = 0;
        failed_.clear();
        take_fence(key);
        try {
            return check_output(key);
        } catch (...) {
            close();
            throw;
        }
    }

    /// Writes the batch's bytes at the committed end, fdatasync's them, then writes `state`
    /// and the new committed length to the checkpoint atomically. Throws fence_lost (nothing
    /// written) when the checkpoint, the lock file or the output changed under this writer.
    template <class Batch>
        requires std::invocable<Format&, Batch&, std::string&>
    void commit(Batch&& batch, job_state const& state)
    {
        if (!lock_fd_)
            throw std::logic_error("streambatch: file_sink " + output_.string() +
                                   ": commit() before open()");
        if (!failed_.empty())
            throw file_sink_error("streambatch: " + output_.string() +
                                  ": an earlier commit failed (" + failed_ +
                                  "); close the sink and open it again (open cuts off a batch "
                                  "that was written but not committed)");
        buffer_.clear();
        if (committed_ == 0)
            buffer_ += options_.header;
        std::invoke(format_, batch, buffer_);
        check_fence(state);

        // From here a failure leaves bytes past the committed length (or a checkpoint this
        // writer cannot vouch for): the sink refuses more commits until it is opened again.
        std::uint64_t const end = committed_ + buffer_.size();
        if (!buffer_.empty()) {
            if (!detail::write_all_at(out_fd_.get(), buffer_.data(), buffer_.size(), committed_)) {
                int const err = errno;
                (void)!::ftruncate(out_fd_.get(), static_cast<off_t>(committed_));
                fail_commit("cannot write " + std::to_string(buffer_.size()) + " bytes at byte " +
                                std::to_string(committed_) + " of " + output_.string(),
                            err);
            }
            if (::fdatasync(out_fd_.get()) != 0)
                fail_commit("fdatasync of " + output_.string() + " failed", errno);
        }
        // The hash of the output's last 64 KiB up to `end`: the kept tail, then the new bytes.
        std::uint64_t const tail_from =
            end > detail::file_sink_tail ? end - detail::file_sink_tail : 0;
        std::size_t const from_buffer =
            buffer_.size() < detail::file_sink_tail ? buffer_.size() : detail::file_sink_tail;
        std::size_t const from_tail = static_cast<std::size_t>(end - tail_from) - from_buffer;
        detail::stream_hash h;
        h.update(std::string_view(tail_).substr(tail_.size() - from_tail));
        h.update(std::string_view(buffer_).substr(buffer_.size() - from_buffer));
        ++sequence_;
        std::string text = checkpoint_text(&state, end, tail_from, h.hex());
        try {
            detail::write_file_atomically(checkpoint_, text);
        } catch (atomic_file_error const& e) {
            failed_ = "checkpoint " + checkpoint_.string() + ": " + e.reason();
            throw file_sink_error("streambatch: " + output_.string() + ": cannot commit batch " +
                                      std::to_string(state.batches) + ": checkpoint " +
                                      checkpoint_.string() + ": " + e.reason() + " (bytes " +
                                      std::to_string(committed_) + " to " + std::to_string(end) +
                                      " are written but not committed: the next open cuts them "
                                      "off)",
                                  e.error_number());
        }
        tail_.erase(0, tail_.size() - from_tail);
        tail_.append(buffer_, buffer_.size() - from_buffer, from_buffer);
        committed_ = end;
        stored_ = std::move(text);
    }

    /// Releases the fence (and clears the holder's line in the lock file). Idempotent.
    void close() noexcept
    {
        out_fd_.reset();
        if (lock_fd_) {
            (void)!::ftruncate(lock_fd_.get(), 0);
            lock_fd_.reset(); // releases the flock
        }
    }

    /// The output's path, for messages.
    std::string describe() const { return output_.string(); }

    /// Bytes open() cut off past the committed length (a batch written but never committed).
    std::uint64_t recovered_bytes() const noexcept { return recovered_; }
    /// What open() repaired or took over, in a sentence or two ("" when nothing).
    std::string const& note() const noexcept { return note_; }
    /// The output's committed length (after open(), and after each commit()).
    std::uint64_t committed_bytes() const noexcept { return committed_; }
    std::filesystem::path const& output() const noexcept { return output_; }
    std::filesystem::path const& checkpoint_path() const noexcept { return checkpoint_; }
    std::filesystem::path const& lock_path() const noexcept { return lock_; }

private:
    std::filesystem::path output_;
    Format format_;
    file_sink_options options_;
    std::filesystem::path checkpoint_;
    std::filesystem::path lock_;
    detail::unique_fd lock_fd_;
    detail::unique_fd out_fd_;
    std::string key_;                   // job_key::str() of the open job
    std::string holder_text_;           // holder::to_text() of this writer
    std::optional<std::string> stored_; // the checkpoint's text as this writer last saw it
    std::uint64_t committed_ = 0;
    std::uint64_t sequence_ = 0;
    std::uint64_t recovered_ = 0;
    std::string tail_;   // the output's last (up to) 64 KiB before committed_
    std::string buffer_; // one batch's bytes
    std::string note_;
    std::string failed_; // why the last commit failed ("" = it did not)

    [[noreturn]] void fail_commit(std::string const& what, int err)
    {
        failed_ = what + ": " + std::strerror(err);
        detail::file_sink_fail(what, err);
    }

    // --- the fence -------------------------------------------------------------------------

    void take_fence(job_key const& key)
    {
        detail::unique_fd fd(::open(lock_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd)
            detail::file_sink_fail(
                "cannot open the lock file " + lock_.string() + " of " + output_.string(), errno);
        // The holder writes its line right after it locks: a reader may find the line empty,
        // half written, or a dead holder's, for a moment. It reads again (and tries the lock
        // again) until the line names a live process, for up to five seconds (a holder
        // descheduled on a loaded machine between its lock and its line).
        auto const give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
            if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0)
                break;
            if (errno == EINTR)
                continue;
            if (errno != EWOULDBLOCK)
                detail::file_sink_fail("cannot lock " + lock_.string(), errno);
            std::string const text = detail::read_small_file(lock_).value_or("");
            std::string const line = text.substr(0, text.find('\n'));
            auto const who = holder::from_text(line);
            bool const complete = text.find('\n') != std::string::npos && who && who->pid > 0;
            if ((complete && who->alive()) || std::chrono::steady_clock::now() > give_up) {
                std::string const job =
                    complete ? text.substr(line.size() + 1,
                                           text.find('\n', line.size() + 1) - line.size() - 1)
                             : std::string();
                throw fence_held(
                    "streambatch: " + output_.string() + " is being written by another process (" +
                        (complete ? who->str() : "one that has not named itself: '" + text + "'") +
                        (job.empty() ? std::string() : ", " + job) + "), which holds the lock " +
                        lock_.string() + " for job '" + key.str() +
                        "'; nothing was written. Wait for it to finish, or stop it; a holder "
                        "that died releases the lock by itself",
                    who.value_or(holder{}));
            }
            detail::sleep_ms(1);
        }
        // Taken. A line left in the file is a holder that ended without close(): say so.
        std::string const before = detail::read_small_file(lock_).value_or("");
        if (auto const prev = holder::from_text(before.substr(0, before.find('\n'))))
            note_ += "took over the lock " + lock_.string() + " from " + prev->str() +
                     ", which ended without closing. ";
        holder_text_ = holder::self().to_text();
        std::string const line = holder_text_ + "\njob " + key.str() + "\n";
        if (::ftruncate(fd.get(), 0) != 0 ||
            !detail::write_all_at(fd.get(), line.data(), line.size(), 0))
            detail::file_sink_fail("cannot write the lock file " + lock_.string(), errno);
        lock_fd_ = std::move(fd);
        key_ = key.str();
    }

    void check_fence(job_state const& state)
    {
        auto lost = [&](std::string const& why) {
            throw fence_lost("streambatch: " + output_.string() + ": " + why +
                             ": another writer took the job over, or the files were restored "
                             "or moved; batch " +
                             std::to_string(state.batches) + " was not written");
        };
        if (!detail::same_file(lock_, lock_fd_.get()))
            lost("the lock file " + lock_.string() + " was removed or replaced");
        if (!detail::same_file(output_, out_fd_.get()))
            lost("the output was removed or replaced");
        struct stat st {};
        if (::fstat(out_fd_.get(), &st) != 0)
            detail::file_sink_fail("cannot stat " + output_.string(), errno);
        if (static_cast<std::uint64_t>(st.st_size) != committed_)
            lost("the output is " + std::to_string(st.st_size) + " bytes, not the " +
                 std::to_string(committed_) + " this writer committed");
        if (detail::read_small_file(checkpoint_) != stored_)
            lost("its checkpoint " + checkpoint_.string() +
                 " is no longer the one this writer last wrote");
    }

    // --- the checkpoint --------------------------------------------------------------------

    /// The checkpoint's text; `s` null: nothing committed yet (the one open() writes).
    std::string checkpoint_text(job_state const* s, std::uint64_t end, std::uint64_t tail_from,
                                std::string const& hash) const
    {
        static job_state const none{};
        job_state const& st = s ? *s : none;
        auto const now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        return "{\"version\": 1, \"sink\": \"file\", \"job\": " + detail::json_quote(key_) +
               ",\n \"has_state\": " + (s ? "true" : "false") +
               ", \"position\": " + detail::json_quote(st.position) +
               ",\n \"identity\": " + detail::json_quote(st.identity) +
               ",\n \"batches\": " + std::to_string(st.batches) +
               ", \"records\": " + std::to_string(st.records) +
               ",\n \"output_bytes\": " + std::to_string(end) +
               ", \"tail_from\": " + std::to_string(tail_from) +
               ", \"tail_hash\": " + detail::json_quote(hash) +
               ",\n \"writer\": " + detail::json_quote(holder_text_) +
               ", \"sequence\": " + std::to_string(sequence_) +
               ", \"written_unix_ms\": " + std::to_string(now) + "}\n";
    }

    /// Writes the checkpoint of an output with nothing committed (open: before the output is
    /// written, so that a crash in the first commit leaves bytes that the next open cuts off).
    std::string write_empty_checkpoint()
    {
        std::string text = checkpoint_text(nullptr, 0, 0, detail::stream_hash{}.hex());
        try {
            detail::write_file_atomically(checkpoint_, text);
        } catch (atomic_file_error const& e) {
            throw file_sink_error("streambatch: " + output_.string() + ": checkpoint " +
                                      checkpoint_.string() + ": " + e.reason() +
                                      "; nothing was written",
                                  e.error_number());
        }
        return text;
    }

    struct stored_checkpoint {
        std::string job;
        bool has_state = false;
        job_state state;
        std::uint64_t output_bytes = 0;
        std::string tail_hash;
    };

    stored_checkpoint parse_checkpoint(std::string const& text) const
    {
        std::string const where = "streambatch: checkpoint " + checkpoint_.string();
        std::map<std::string, std::string> m;
        try {
            m = detail::parse_flat_object(text, where);
        } catch (detail::json_error const& e) {
            throw file_sink_error(std::string(e.what()) + " (the checkpoint of " +
                                  output_.string() + " is damaged; nothing was written)");
        }
        auto member = [&](char const* name) -> std::string const& {
            auto const it = m.find(name);
            if (it == m.end())
                throw file_sink_error(where + ": missing member \"" + name + "\" (is it a " +
                                      "file_sink checkpoint?); nothing was written");
            return it->second;
        };
        auto number = [&](char const* name) {
            auto const v = detail::parse_whole<std::uint64_t>(member(name));
            if (!v)
                throw file_sink_error(where + ": member \"" + name +
                                      "\" must be a whole number, found '" + member(name) +
                                      "'; nothing was written");
            return *v;
        };
        if (number("version") != 1 || member("sink") != "file")
            throw file_sink_error(where + ": not a version 1 file_sink checkpoint (version " +
                                  member("version") + ", sink '" + member("sink") +
                                  "'); nothing was written");
        stored_checkpoint c;
        c.job = member("job");
        c.has_state = member("has_state") == "true";
        c.state.position = member("position");
        c.state.identity = member("identity");
        c.state.batches = number("batches");
        c.state.records = number("records");
        c.output_bytes = number("output_bytes");
        c.tail_hash = member("tail_hash");
        return c;
    }

    // --- open: the output against its checkpoint ------------------------------------------

    std::optional<job_state> check_output(job_key const& key)
    {
        std::string const out = output_.string(), ckpt = checkpoint_.string();
        if (options_.start_over)
            return start_over();
        std::optional<std::string> text = detail::read_small_file(checkpoint_);
        std::optional<stored_checkpoint> c;
        if (text) {
            c = parse_checkpoint(*text);
            if (c->job != key.str())
                throw file_sink_error("streambatch: " + ckpt + " is the checkpoint of job '" +
                                      c->job + "', not of job '" + key.str() + "': " + out +
                                      " is that job's output; nothing was written. Give this "
                                      "job another output, or run job '" +
                                      c->job + "'");
        }
        std::uint64_t const committed = c ? c->output_bytes : 0;

        detail::unique_fd fd(::open(output_.c_str(), O_RDWR | O_CLOEXEC));
        if (!fd && errno == ENOENT && committed == 0) {
            fd = detail::unique_fd(::open(output_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
            if (!fd)
                detail::file_sink_fail("cannot create " + out, errno);
            detail::fsync_directory_of(output_);
        } else if (!fd && errno == ENOENT) {
            throw file_sink_error(
                "streambatch: " + out + " does not exist but its checkpoint " + ckpt + " says " +
                std::to_string(committed) +
                " bytes were committed: the output is behind its checkpoint (removed, or never "
                "restored with it?); nothing was written. Restore " +
                out + " as it was when " + ckpt + " was written, or start over (remove " + ckpt +
                ", or open with start_over)");
        }
        if (!fd)
            detail::file_sink_fail("cannot open " + out, errno);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0)
            detail::file_sink_fail("cannot stat " + out, errno);
        auto const size = static_cast<std::uint64_t>(st.st_size);

        if (!c) {
            if (size != 0)
                throw file_sink_error(
                    "streambatch: " + out + " holds " + std::to_string(size) +
                    " bytes but has no checkpoint (" + ckpt +
                    "): it was not written by this sink, or its checkpoint was removed; "
                    "nothing was written. Move it away, give another output, or open with "
                    "start_over to truncate it");
            install(std::move(fd), 0, {}, write_empty_checkpoint());
            return std::nullopt;
        }
        if (size < committed)
            throw file_sink_error(
                "streambatch: " + out + " is " + std::to_string(size) +
                " bytes but its checkpoint " + ckpt + " says " + std::to_string(committed) +
                " were committed: the output is behind its checkpoint (cut back by a crash, a "
                "restore or a copy?); nothing was written. Restore " +
                out + " as it was when " + ckpt +
                " was written, or start over (remove both files, or open with start_over)");
        std::uint64_t const tail_from =
            committed > detail::file_sink_tail ? committed - detail::file_sink_tail : 0;
        std::string tail = detail::read_at(fd.get(), tail_from, committed - tail_from, output_);
        detail::stream_hash h;
        h.update(tail);
        if (tail.size() != committed - tail_from || h.hex() != c->tail_hash)
            throw file_sink_error(
                "streambatch: " + out + ": bytes " + std::to_string(tail_from) + " to " +
                std::to_string(committed) + " (the last " + std::to_string(committed - tail_from) +
                " committed bytes) are not the bytes its checkpoint " + ckpt +
                " was written with (hash " + h.hex() + ", expected " + c->tail_hash +
                "): the output was edited or replaced; nothing was written. Restore " + out +
                " as it was when " + ckpt +
                " was written, or start over (remove both files, or open with start_over)");
        if (committed > 0 && !options_.header.empty()) {
            std::string const head = detail::read_at(fd.get(), 0, options_.header.size(), output_);
            if (head != options_.header)
                throw file_sink_error("streambatch: " + out +
                                      " does not begin with this sink's "
                                      "header ('" +
                                      options_.header.substr(0, options_.header.find('\n')) +
                                      "'): it was written with another header (other columns?); "
                                      "nothing was written. Give another output, or start "
                                      "over (remove both files, or open with start_over)");
        }
        if (size > committed) {
            if (::ftruncate(fd.get(), static_cast<off_t>(committed)) != 0)
                detail::file_sink_fail("cannot truncate " + out + " to its committed length " +
                                           std::to_string(committed),
                                       errno);
            if (::fsync(fd.get()) != 0)
                detail::file_sink_fail("fsync of " + out + " failed", errno);
            recovered_ = size - committed;
            note_ += "cut " + out + " back from " + std::to_string(size) + " to " +
                     std::to_string(committed) + " bytes: the last " + std::to_string(recovered_) +
                     " were a batch written but never committed (the writer stopped between "
                     "the data's fsync and the checkpoint); it will be written again. ";
        }
        install(std::move(fd), committed, std::move(tail), std::move(text));
        return c->has_state ? std::optional<job_state>(c->state) : std::nullopt;
    }

    std::optional<job_state> start_over()
    {
        std::string const out = output_.string();
        // The empty checkpoint first: a crash before the truncation leaves bytes past its
        // committed length 0, which the next open cuts off.
        std::string text = write_empty_checkpoint();
        detail::unique_fd fd(::open(output_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd)
            detail::file_sink_fail("cannot open " + out, errno);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0)
            detail::file_sink_fail("cannot stat " + out, errno);
        if (::ftruncate(fd.get(), 0) != 0)
            detail::file_sink_fail("cannot truncate " + out, errno);
        if (::fsync(fd.get()) != 0)
            detail::file_sink_fail("fsync of " + out + " failed", errno);
        detail::fsync_directory_of(output_);
        if (st.st_size != 0)
            note_ +=
                "started over: truncated " + out + " (" + std::to_string(st.st_size) + " bytes). ";
        install(std::move(fd), 0, {}, std::move(text));
        return std::nullopt;
    }

    void install(detail::unique_fd fd, std::uint64_t committed, std::string tail,
                 std::optional<std::string> stored)
    {
        out_fd_ = std::move(fd);
        committed_ = committed;
        tail_ = std::move(tail);
        stored_ = std::move(stored);
        sequence_ = 0;
        if (!note_.empty() && note_.back() == ' ')
            note_.pop_back();
    }
};

} // namespace streambatch

#endif // STREAMBATCH_JOB_FILE_SINK_HPP_INCLUDED
