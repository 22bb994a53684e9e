// streambatch/io/parquet/sink.hpp: a job sink that writes a Parquet dataset directory of part
// files, each finished atomically, with a checkpoint naming the last finished part, so that a
// resumed job's dataset holds each committed batch exactly once.
//
// In:     a directory (created if missing); the columns (column_spec, as parquet::writer takes
//         them); dataset_sink_options: writer (the parts' writer_options), batches_per_part (a
//         part every N batches; default 1), part_byte_size (or when a part's bytes pass this;
//         0: off). Batches: ranges of rows as parquet::writer::write_row takes them (tuples,
//         simple aggregates, or ranges of parquet::cell).
// Out:    parquet::dataset_sink: open(key) -> std::optional<job_state>; commit(batch, state);
//         flush() (finishes a part holding uncommitted batches); close(); describe() (the
//         directory); directory(), checkpoint_path(), lock_path(), last_part(),
//         part_path(seq), parts() (the finished parts, in order), removed() (what open()
//         removed) and note(). dataset_sink_error. Part files are "part-<seq>.parquet" (seq
//         from 1, 8 digits), the checkpoint "_streambatch_checkpoint.json", the lock
//         "_streambatch.lock"; a part being written is ".part-<seq>.parquet.tmp".
// Models: streambatch::job_sink<dataset_sink, Batch>. Neither copied nor moved.
//         open(key): takes the fence (flock(LOCK_EX | LOCK_NB) on the lock file, which holds
//         the holder's holder::to_text() line and the job; a killed holder's lock is freed by
//         the kernel and the next open takes over, saying so in note()); reads the checkpoint
//         (none: the directory must hold no part file, and a checkpoint of nothing committed is
//         written first; another job's checkpoint is refused); checks that every part up to
//         the checkpoint's last part is there; then removes what a killed writer left: temp
//         files (names starting with '.' or ending in ".tmp") and every part past the
//         checkpoint (finished but never committed), and fsyncs the directory.
//         commit(batch, state): checks the fence (the checkpoint on disk is the text this
//         writer last wrote or read, and the lock file is the one it locked; else fence_lost,
//         nothing written), writes the batch as a row group of the current part (created under
//         its temp name), and when the part is due (batches_per_part, part_byte_size) finishes
//         it: footer, fsync, rename to "part-<seq>.parquet", fsync of the directory, THEN the
//         checkpoint (state, job, last part) written atomically (temp file, fsync, rename,
//         directory fsync). A batch in a part not yet finished is not committed: after a crash
//         the source resumes before it (its state is stored when the part finishes, by a later
//         commit, flush() or close()). A reader of the dataset (DuckDB's
//         read_parquet('dir/*.parquet'), Arrow, Spark) never sees a half file: part names
//         appear only by rename of a whole, fsync'ed file, and temp names are hidden. After a
//         failed commit the sink refuses more commits: close and open it again.
//         close(): finishes a pending part, releases the fence, then throws what finishing
//         the part threw, if it failed (the unfinished part is removed; its batches were not
//         committed). The destructor abandons a pending part (removes it) and releases the fence.
// Memory: one part's current row group (parquet::writer's), and one checkpoint's text.
// Errors: fence_held (another live process holds the lock: names it, .by, the directory and
//         job); fence_lost (commit: the checkpoint or the lock file changed under this writer;
//         nothing written); dataset_sink_error (a std::runtime_error): open's refusals (parts
//         without a checkpoint, another job's checkpoint, a committed part missing, a damaged
//         checkpoint: each names the directory and the file), system failures naming the file
//         and errno's text; parquet::error from the writer (names the part's temp file, the
//         row and the column). std::logic_error: commit() on a sink not open, open() twice.
// Example:
//     namespace pq = streambatch::parquet;
//     pq::dataset_sink sink("out/customers", {pq::column_spec::int64("id"),
//                                             pq::column_spec::string("name")});
//     auto state = sink.open({.job = "load customers"});     // nullopt: nothing committed
//     sink.commit(rows, {.position = "1000", .batches = 1, .records = rows.size()});
//     sink.close();

#ifndef STREAMBATCH_IO_PARQUET_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_SINK_HPP_INCLUDED

#include <streambatch/detail/atomic_file.hpp>
#include <streambatch/detail/json.hpp>
#include <streambatch/detail/parse.hpp>
#include <streambatch/io/parquet/writer.hpp>
#include <streambatch/job/contract.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace streambatch::parquet {

/// A dataset sink refused its directory, or a system call on it failed. what() names the
/// directory and the file; error_number() is errno's value for a system failure (else 0).
class dataset_sink_error : public std::runtime_error {
public:
    explicit dataset_sink_error(std::string const& what, int err = 0)
        : std::runtime_error(what), errno_(err)
    {}
    int error_number() const noexcept { return errno_; }

private:
    int errno_ = 0;
};

struct dataset_sink_options {
    writer_options writer{};          ///< the parts' (fsync is forced on)
    std::size_t batches_per_part = 1; ///< a part is finished every N batches
    std::size_t part_byte_size = 0;   ///< ... or when its bytes pass this (0: no limit)
};

namespace sink_detail {

[[noreturn]] inline void fail(std::string const& what, int err)
{
    throw dataset_sink_error("streambatch::parquet: " + what + ": " + std::strerror(err), err);
}

inline std::optional<std::string> read_small_file(std::filesystem::path const& p)
{
    int const fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return std::nullopt;
        fail("cannot open " + p.string(), errno);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t const n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int const e = errno;
            ::close(fd);
            fail("cannot read " + p.string(), e);
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

inline void fsync_dir(std::filesystem::path const& dir)
{
    int const fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fail("cannot open directory " + dir.string(), errno);
    if (::fsync(fd) != 0) {
        int const e = errno;
        ::close(fd);
        fail("fsync of directory " + dir.string() + " failed", e);
    }
    ::close(fd);
}

inline bool same_file(std::filesystem::path const& p, int fd) noexcept
{
    struct stat a {
    }, b{};
    return ::stat(p.c_str(), &a) == 0 && ::fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/// The sequence number of "part-<digits>.parquet"; nullopt for other names.
inline std::optional<std::uint64_t> part_seq(std::string_view name)
{
    constexpr std::string_view pre = "part-", post = ".parquet";
    if (name.size() <= pre.size() + post.size() || name.substr(0, pre.size()) != pre ||
        name.substr(name.size() - post.size()) != post)
        return std::nullopt;
    auto const digits = name.substr(pre.size(), name.size() - pre.size() - post.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    return streambatch::detail::parse_whole<std::uint64_t>(digits);
}

} // namespace sink_detail

/// A Parquet dataset directory written part by part under the job sink contract. See the
/// header comment.
class dataset_sink {
public:
    dataset_sink(std::filesystem::path directory, std::vector<column_spec> columns,
                 dataset_sink_options options = {})
        : dir_(std::move(directory)), columns_(std::move(columns)), opt_(std::move(options))
    {
        opt_.writer.fsync = true;
        if (opt_.batches_per_part == 0)
            opt_.batches_per_part = 1;
        checkpoint_ = dir_ / "_streambatch_checkpoint.json";
        lock_ = dir_ / "_streambatch.lock";
    }
    dataset_sink(dataset_sink const&) = delete;
    dataset_sink& operator=(dataset_sink const&) = delete;
    ~dataset_sink()
    {
        abandon_part();
        release();
    }

    /// Takes the fence for `key` (or throws fence_held), checks the directory against its
    /// checkpoint, removes temp files and parts past it, and returns the state stored with the
    /// last committed batch (nullopt: nothing committed).
    std::optional<job_state> open(job_key const& key)
    {
        if (lock_fd_ >= 0)
            throw std::logic_error("streambatch::parquet::dataset_sink " + dir_.string() +
                                   ": open() while already open");
        note_.clear();
        removed_.clear();
        failed_.clear();
        std::error_code ec;
        std::filesystem::create_directories(dir_, ec);
        if (ec)
            throw dataset_sink_error("streambatch::parquet: cannot create the dataset directory " +
                                         dir_.string() + ": " + ec.message(),
                                     ec.value());
        take_fence(key);
        try {
            return check_directory(key);
        } catch (...) {
            release();
            throw;
        }
    }

    /// Writes `batch` as a row group of the current part; finishes the part when it is due and
    /// then stores `state` (see the header comment). Throws fence_lost (nothing written) when
    /// the checkpoint or the lock file changed under this writer.
    template <class Batch>
    void commit(Batch&& batch, job_state const& state)
    {
        if (lock_fd_ < 0)
            throw std::logic_error("streambatch::parquet::dataset_sink " + dir_.string() +
                                   ": commit() before open()");
        if (!failed_.empty())
            throw dataset_sink_error("streambatch::parquet: " + dir_.string() +
                                     ": an earlier commit failed (" + failed_ +
                                     "); close the sink and open it again (open removes a part "
                                     "that was not committed)");
        check_fence(state);
        try {
            if (!part_) {
                temp_ = dir_ / ("." + part_name(last_part_ + 1) + ".tmp");
                part_ = std::make_unique<writer>(temp_, columns_, opt_.writer);
            }
            part_->write_batch(batch);
            ++part_batches_;
            pending_ = state;
            if (part_batches_ >= opt_.batches_per_part ||
                (opt_.part_byte_size > 0 && part_->bytes_written() >= opt_.part_byte_size))
                finish_part();
        } catch (fence_lost const&) {
            throw;
        } catch (std::exception const& e) {
            failed_ = e.what();
            abandon_part();
            throw;
        }
    }

    /// Finishes the current part, if it holds batches, and stores the last one's state.
    void flush()
    {
        if (lock_fd_ < 0 || !part_ || part_batches_ == 0)
            return;
        check_fence(*pending_);
        try {
            finish_part();
        } catch (std::exception const& e) {
            failed_ = e.what();
            abandon_part();
            throw;
        }
    }

    /// Finishes a pending part, then releases the fence (also when finishing failed). A failure
    /// to finish the part is thrown after the fence is released (fence_lost, dataset_sink_error
    /// or parquet::error, as flush() throws it): the part's batches were not committed and its
    /// temp file is removed. Idempotent: a second close() does nothing and throws nothing.
    void close()
    {
        std::exception_ptr failure;
        try {
            if (failed_.empty())
                flush();
        } catch (...) {
            failure = std::current_exception();
        }
        abandon_part();
        release();
        if (failure)
            std::rethrow_exception(failure);
    }

    /// The directory, for messages.
    std::string describe() const { return dir_.string(); }
    std::filesystem::path const& directory() const noexcept { return dir_; }
    std::filesystem::path const& checkpoint_path() const noexcept { return checkpoint_; }
    std::filesystem::path const& lock_path() const noexcept { return lock_; }
    /// The last finished (committed) part's sequence number; 0: none.
    std::uint64_t last_part() const noexcept { return last_part_; }
    /// "<directory>/part-<seq>.parquet".
    std::filesystem::path part_path(std::uint64_t seq) const { return dir_ / part_name(seq); }
    /// The finished parts, in order.
    std::vector<std::filesystem::path> parts() const
    {
        std::vector<std::filesystem::path> v;
        for (std::uint64_t s = 1; s <= last_part_; ++s)
            v.push_back(part_path(s));
        return v;
    }
    /// The files open() removed (temp files, parts past the checkpoint).
    std::vector<std::filesystem::path> const& removed() const noexcept { return removed_; }
    /// What open() repaired or took over ("" when nothing).
    std::string const& note() const noexcept { return note_; }

    static std::string part_name(std::uint64_t seq)
    {
        char b[40];
        std::snprintf(b, sizeof b, "part-%08llu.parquet", static_cast<unsigned long long>(seq));
        return b;
    }

private:
    std::filesystem::path dir_;
    std::vector<column_spec> columns_;
    dataset_sink_options opt_;
    std::filesystem::path checkpoint_, lock_, temp_;
    int lock_fd_ = -1;
    std::string key_, holder_text_;
    std::optional<std::string> stored_;
    std::uint64_t last_part_ = 0, sequence_ = 0;
    std::unique_ptr<writer> part_;
    std::size_t part_batches_ = 0;
    std::optional<job_state> pending_;
    std::vector<std::filesystem::path> removed_;
    std::string note_, failed_;

    void release() noexcept
    {
        if (lock_fd_ >= 0) {
            (void)!::ftruncate(lock_fd_, 0);
            ::close(lock_fd_); // releases the flock
            lock_fd_ = -1;
        }
    }

    void abandon_part() noexcept
    {
        part_.reset();
        part_batches_ = 0;
        pending_.reset();
        if (!temp_.empty()) {
            std::error_code ec;
            std::filesystem::remove(temp_, ec);
            temp_.clear();
        }
    }

    void finish_part()
    {
        auto const seq = last_part_ + 1;
        auto const final_path = part_path(seq);
        part_->close(); // footer, fsync
        part_.reset();
        if (::rename(temp_.c_str(), final_path.c_str()) != 0)
            sink_detail::fail("cannot rename " + temp_.string() + " to " + final_path.string(),
                              errno);
        temp_.clear();
        sink_detail::fsync_dir(dir_);
        ++sequence_;
        std::string text = checkpoint_text(&*pending_, seq);
        try {
            streambatch::detail::write_file_atomically(checkpoint_, text);
        } catch (atomic_file_error const& e) {
            throw dataset_sink_error("streambatch::parquet: " + dir_.string() +
                                         ": cannot commit part " + final_path.filename().string() +
                                         ": checkpoint " + checkpoint_.string() + ": " +
                                         e.reason() +
                                         " (the part is finished but not "
                                         "committed: the next open removes it)",
                                     e.error_number());
        }
        last_part_ = seq;
        stored_ = std::move(text);
        part_batches_ = 0;
        pending_.reset();
    }

    // --- the fence -------------------------------------------------------------------------

    void take_fence(job_key const& key)
    {
        int fd = ::open(lock_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            sink_detail::fail("cannot open the lock file " + lock_.string(), errno);
        auto const give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
            if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
                break;
            if (errno == EINTR)
                continue;
            if (errno != EWOULDBLOCK) {
                int const e = errno;
                ::close(fd);
                sink_detail::fail("cannot lock " + lock_.string(), e);
            }
            std::string const text = sink_detail::read_small_file(lock_).value_or("");
            std::string const line = text.substr(0, text.find('\n'));
            auto const who = holder::from_text(line);
            bool const complete = text.find('\n') != std::string::npos && who && who->pid > 0;
            if ((complete && who->alive()) || std::chrono::steady_clock::now() > give_up) {
                ::close(fd);
                throw fence_held("streambatch::parquet: dataset " + dir_.string() +
                                     " is being written by another process (" +
                                     (complete ? who->str() : "one that has not named itself") +
                                     "), which holds the lock " + lock_.string() + "; job '" +
                                     key.str() +
                                     "' wrote nothing. Wait for it to finish, or "
                                     "stop it; a holder that died releases the lock "
                                     "by itself",
                                 who.value_or(holder{}));
            }
            timespec t{0, 1'000'000L};
            ::nanosleep(&t, nullptr);
        }
        std::string const before = sink_detail::read_small_file(lock_).value_or("");
        if (auto const prev = holder::from_text(before.substr(0, before.find('\n'))))
            note_ += "took over the lock " + lock_.string() + " from " + prev->str() +
                     ", which ended without closing. ";
        holder_text_ = holder::self().to_text();
        std::string const line = holder_text_ + "\njob " + key.str() + "\n";
        if (::ftruncate(fd, 0) != 0 ||
            ::pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
            int const e = errno;
            ::close(fd);
            sink_detail::fail("cannot write the lock file " + lock_.string(), e);
        }
        lock_fd_ = fd;
        key_ = key.str();
    }

    void check_fence(job_state const& state)
    {
        auto lost = [&](std::string const& why) {
            throw fence_lost("streambatch::parquet: dataset " + dir_.string() + ": " + why +
                             ": another writer took the job over, or the files were restored "
                             "or moved; batch " +
                             std::to_string(state.batches) + " was not written");
        };
        if (!sink_detail::same_file(lock_, lock_fd_))
            lost("the lock file " + lock_.string() + " was removed or replaced");
        if (sink_detail::read_small_file(checkpoint_) != stored_)
            lost("its checkpoint " + checkpoint_.string() +
                 " is no longer the one this writer last wrote");
    }

    // --- the checkpoint --------------------------------------------------------------------

    std::string checkpoint_text(job_state const* s, std::uint64_t last_part) const
    {
        static job_state const none{};
        job_state const& st = s ? *s : none;
        auto const now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        return "{\"version\": 1, \"sink\": \"parquet_dataset\", \"job\": " +
               streambatch::detail::json_quote(key_) +
               ",\n \"has_state\": " + (s ? "true" : "false") +
               ", \"position\": " + streambatch::detail::json_quote(st.position) +
               ",\n \"identity\": " + streambatch::detail::json_quote(st.identity) +
               ",\n \"batches\": " + std::to_string(st.batches) +
               ", \"records\": " + std::to_string(st.records) +
               ",\n \"last_part\": " + std::to_string(last_part) + ", \"last_part_name\": " +
               streambatch::detail::json_quote(last_part ? part_name(last_part) : std::string()) +
               ",\n \"writer\": " + streambatch::detail::json_quote(holder_text_) +
               ", \"sequence\": " + std::to_string(sequence_) +
               ", \"written_unix_ms\": " + std::to_string(now) + "}\n";
    }

    std::optional<job_state> check_directory(job_key const& key)
    {
        std::string const where = "streambatch::parquet: dataset " + dir_.string();
        std::string const ck = checkpoint_.string();
        std::optional<std::string> text = sink_detail::read_small_file(checkpoint_);
        // what the directory holds
        std::map<std::uint64_t, std::filesystem::path> parts;
        std::vector<std::filesystem::path> temps;
        std::error_code ec;
        for (auto const& e : std::filesystem::directory_iterator(dir_, ec)) {
            auto const name = e.path().filename().string();
            if (name == checkpoint_.filename().string() || name == lock_.filename().string())
                continue;
            if (auto s = sink_detail::part_seq(name))
                parts[*s] = e.path();
            else if ((name.starts_with(".") || name.ends_with(".tmp")) &&
                     (name.find("part-") != std::string::npos ||
                      name.starts_with(checkpoint_.filename().string())))
                temps.push_back(e.path());
        }
        if (ec)
            sink_detail::fail("cannot list " + dir_.string(), ec.value());

        bool has_state = false;
        job_state state;
        std::uint64_t last = 0;
        if (!text) {
            if (!parts.empty())
                throw dataset_sink_error(
                    where + " holds " + std::to_string(parts.size()) + " part files (" +
                    parts.begin()->second.filename().string() + " ...) but no checkpoint " + ck +
                    ": they are not this sink's, or their checkpoint was lost; nothing was "
                    "written. Give the job an empty directory, or remove the parts");
        } else {
            std::map<std::string, std::string> m;
            try {
                m = streambatch::detail::parse_flat_object(*text, ck);
            } catch (streambatch::detail::json_error const& e) {
                throw dataset_sink_error(std::string(e.what()) + " (the checkpoint of dataset " +
                                         dir_.string() + " is damaged; nothing was written)");
            }
            auto member = [&](char const* name) -> std::string const& {
                auto const it = m.find(name);
                if (it == m.end())
                    throw dataset_sink_error(where + ": checkpoint " + ck + ": missing member \"" +
                                             name + "\"; nothing was written");
                return it->second;
            };
            auto number = [&](char const* name) {
                auto const v = streambatch::detail::parse_whole<std::uint64_t>(member(name));
                if (!v)
                    throw dataset_sink_error(where + ": checkpoint " + ck + ": member \"" + name +
                                             "\" must be a whole number, found '" + member(name) +
                                             "'; nothing was written");
                return *v;
            };
            if (number("version") != 1 || member("sink") != "parquet_dataset")
                throw dataset_sink_error(where + ": " + ck +
                                         " is not a version 1 parquet_dataset checkpoint; "
                                         "nothing was written");
            if (member("job") != key.str())
                throw dataset_sink_error(where + ": " + ck + " is the checkpoint of job '" +
                                         member("job") + "', not of job '" + key.str() +
                                         "'; nothing was written. Give this job another "
                                         "directory, or run job '" +
                                         member("job") + "'");
            has_state = member("has_state") == "true";
            state.position = member("position");
            state.identity = member("identity");
            state.batches = number("batches");
            state.records = number("records");
            last = number("last_part");
            sequence_ = number("sequence");
            for (std::uint64_t s = 1; s <= last; ++s)
                if (!parts.count(s))
                    throw dataset_sink_error(
                        where + ": committed part " + part_name(s) +
                        " is missing (the checkpoint " + ck + " names " + part_name(last) +
                        " as the last finished part): the dataset lost data; nothing was "
                        "written. Restore the part, or start over in an empty directory");
        }
        // what a killed writer left: temp files, parts finished but never committed
        for (auto const& t : temps)
            remove_left(t);
        for (auto const& [s, p] : parts)
            if (s > last)
                remove_left(p);
        if (!removed_.empty()) {
            sink_detail::fsync_dir(dir_);
            note_ += "removed " + std::to_string(removed_.size()) +
                     " file(s) a writer left unfinished or uncommitted (" +
                     removed_.front().filename().string() + (removed_.size() > 1 ? " ..." : "") +
                     "). ";
        }
        last_part_ = last;
        if (!text) {
            text = checkpoint_text(nullptr, 0);
            try {
                streambatch::detail::write_file_atomically(checkpoint_, *text);
            } catch (atomic_file_error const& e) {
                throw dataset_sink_error(where + ": checkpoint " + ck + ": " + e.reason() +
                                             "; nothing was written",
                                         e.error_number());
            }
        }
        stored_ = text;
        if (!has_state)
            return std::nullopt;
        return state;
    }

    void remove_left(std::filesystem::path const& p)
    {
        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
            sink_detail::fail("cannot remove " + p.string() +
                                  " (left by a writer that did not "
                                  "finish)",
                              errno);
        removed_.push_back(p);
    }
};

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_SINK_HPP_INCLUDED
