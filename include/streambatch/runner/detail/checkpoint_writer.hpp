// streambatch/runner/detail/checkpoint_writer.hpp: the runner's checkpoint files, written on a
// thread of their own. See docs/runner.md (checkpoints) and runner/checkpoint.hpp (the file).

#ifndef STREAMBATCH_RUNNER_DETAIL_CHECKPOINT_WRITER_HPP_INCLUDED
#define STREAMBATCH_RUNNER_DETAIL_CHECKPOINT_WRITER_HPP_INCLUDED

#include <streambatch/runner/checkpoint.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace streambatch::detail {

/// Writes checkpoint files on a thread of its own, so that the job never waits on their fsyncs
/// (what a checkpoint file costs csv_to_sqlite: bench/RESULTS-checkpoint.md).
/// submit() hands over the newest checkpoint and returns at once; one submitted while another
/// is being written replaces any still waiting (only the newest matters). The file therefore
/// always holds a low-water mark, at most one interval older than the job's. A failed write
/// is rethrown by the next submit() or by finish(), which writes the last one itself.
class checkpoint_writer {
    std::filesystem::path path_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<checkpoint> pending_;
    bool busy_ = false, stop_ = false;
    std::exception_ptr error_;
    std::chrono::nanoseconds time_{0};
    std::uint64_t written_ = 0;
    std::thread thread_;

    void loop()
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || pending_.has_value(); });
            if (!pending_)
                return; // stopping, nothing left
            checkpoint c = std::move(*pending_);
            pending_.reset();
            busy_ = true;
            lock.unlock();
            auto const t0 = std::chrono::steady_clock::now();
            std::exception_ptr err;
            try {
                write_checkpoint(path_, c);
            } catch (...) {
                err = std::current_exception();
            }
            auto const took = std::chrono::steady_clock::now() - t0;
            lock.lock();
            busy_ = false;
            time_ += took;
            if (err && !error_)
                error_ = err;
            else if (!err)
                ++written_;
            cv_.notify_all();
        }
    }

public:
    explicit checkpoint_writer(std::filesystem::path path)
        : path_(std::move(path)), thread_([this] { loop(); })
    {}
    checkpoint_writer(checkpoint_writer const&) = delete;
    checkpoint_writer& operator=(checkpoint_writer const&) = delete;
    ~checkpoint_writer()
    {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
            pending_.reset(); // an abandoned run: what is on disk stays valid
        }
        cv_.notify_all();
        thread_.join();
    }

    void submit(checkpoint c)
    {
        std::lock_guard lock(mutex_);
        if (error_)
            std::rethrow_exception(error_);
        pending_ = std::move(c);
        cv_.notify_all();
    }

    /// Waits until the thread has written what was submitted (or failed); rethrows its error.
    /// Only tests need this: the job never waits on the writer before finish().
    void flush()
    {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !busy_ && !pending_; });
        if (error_)
            std::rethrow_exception(error_);
    }

    /// Waits for the thread to finish what it has, stops it, then writes `last` here.
    /// Returns the checkpoints written and the time spent writing them.
    std::pair<std::uint64_t, std::chrono::nanoseconds> finish(std::optional<checkpoint> const& last)
    {
        {
            std::unique_lock lock(mutex_);
            pending_.reset(); // `last` supersedes it
            stop_ = true;
            cv_.notify_all();
            cv_.wait(lock, [&] { return !busy_; });
        }
        thread_.join();
        thread_ = std::thread([] {}); // the destructor joins something
        if (error_)
            std::rethrow_exception(error_);
        if (last) {
            auto const t0 = std::chrono::steady_clock::now();
            write_checkpoint(path_, *last);
            time_ += std::chrono::steady_clock::now() - t0;
            ++written_;
        }
        return {written_, time_};
    }
};

} // namespace streambatch::detail

#endif // STREAMBATCH_RUNNER_DETAIL_CHECKPOINT_WRITER_HPP_INCLUDED
