// streambatch/job/stop_signals.hpp: SIGINT and SIGTERM as a graceful stop, with a deadline.
//
// In:     a deadline (default 10 s: well under Kubernetes' 30 s grace period).
// Out:    stop_on_signals: while it lives, the first SIGINT or SIGTERM requests a stop on its
//         std::stop_token (run_options::stop: no new batch is pulled; batches in flight finish
//         and commit) and prints one line to stderr; if the job has not called finished()
//         within the deadline, the process exits with 128 + the signal (what is uncommitted is
//         rolled back by the sink: its transaction never commits); a second signal exits at
//         once with 128 + that signal. signal() says which signal stopped the job (0: none).
// Models: one at a time per process (a second live instance is a std::logic_error); the
//         handler only stores the signal and writes a byte to a pipe (async-signal-safe); a
//         watcher thread does the rest. SA_RESTART: interrupted reads and writes resume. The
//         previous handlers come back when it is destroyed.
// Memory: one thread, one pipe.
// Errors: std::system_error if the pipe, the thread or sigaction cannot be set up.
// Example:
//     streambatch::stop_on_signals stop;             // SIGINT/SIGTERM: stop, 10 s deadline
//     options.stop = stop.token();
//     auto report = streambatch::for_each_batch(batches, process, commit, options);
//     stop.finished();
//     return stop.signal() ? 128 + stop.signal() : 0;

#ifndef STREAMBATCH_JOB_STOP_SIGNALS_HPP_INCLUDED
#define STREAMBATCH_JOB_STOP_SIGNALS_HPP_INCLUDED

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

namespace streambatch {

class stop_on_signals {
    // What the handler may touch: lock-free atomics and a pipe's write end.
    static inline std::atomic<int> signal_{0};
    static inline std::atomic<int> write_fd_{-1};
    static inline std::atomic<bool> live_{false};

    int pipe_[2] = {-1, -1};
    std::stop_source source_;
    std::chrono::milliseconds deadline_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool finished_ = false;
    bool closing_ = false;
    struct sigaction old_int_ {
    }, old_term_{};
    std::thread watcher_;

    static void on_signal(int sig) noexcept
    {
        int expected = 0;
        if (!signal_.compare_exchange_strong(expected, sig)) {
            static char const msg[] = "streambatch: second signal: exiting now\n";
            [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
            ::_exit(128 + sig);
        }
        char const c = static_cast<char>(sig);
        [[maybe_unused]] auto n = ::write(write_fd_.load(), &c, 1);
    }

    static char const* name(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

    void watch()
    {
        pollfd p{pipe_[0], POLLIN, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        char c = 0;
        if (::read(pipe_[0], &c, 1) != 1 || c == 0) // 0: the destructor's wake-up
            return;
        int const sig = signal_.load();
        std::string const line = "streambatch: " + std::string(name(sig)) +
                                 ": stopping after the batches in flight (deadline " +
                                 std::to_string(deadline_.count()) +
                                 " ms; a second signal exits at once)\n";
        [[maybe_unused]] auto n = ::write(2, line.data(), line.size());
        source_.request_stop();
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, deadline_, [this] { return finished_ || closing_; })) {
            std::string const late = "streambatch: " + std::string(name(sig)) +
                                     ": the batches in flight did not finish within " +
                                     std::to_string(deadline_.count()) +
                                     " ms: exiting; what they had not committed is rolled back\n";
            [[maybe_unused]] auto m = ::write(2, late.data(), late.size());
            ::_exit(128 + sig);
        }
    }

    static void install(int sig, struct sigaction& old)
    {
        struct sigaction sa {};
        sa.sa_handler = &on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (::sigaction(sig, &sa, &old) != 0)
            throw std::system_error(errno, std::generic_category(), "streambatch: sigaction");
    }

public:
    explicit stop_on_signals(std::chrono::milliseconds deadline = std::chrono::seconds(10))
        : deadline_(deadline)
    {
        if (live_.exchange(true))
            throw std::logic_error("streambatch::stop_on_signals: another one is already live");
        if (::pipe2(pipe_, O_CLOEXEC) != 0) {
            live_ = false;
            throw std::system_error(errno, std::generic_category(), "streambatch: pipe");
        }
        signal_ = 0;
        write_fd_ = pipe_[1];
        try {
            watcher_ = std::thread([this] { watch(); });
            install(SIGINT, old_int_);
            install(SIGTERM, old_term_);
        } catch (...) {
            cleanup();
            throw;
        }
    }
    stop_on_signals(stop_on_signals const&) = delete;
    stop_on_signals& operator=(stop_on_signals const&) = delete;
    ~stop_on_signals() { cleanup(); }

    /// The token to hand to run_options::stop.
    std::stop_token token() const noexcept { return source_.get_token(); }
    /// SIGINT or SIGTERM if one arrived, else 0.
    int signal() const noexcept { return signal_.load(); }
    /// 0 when no signal arrived, else 128 + the signal (130 for SIGINT, 143 for SIGTERM).
    int exit_code() const noexcept { return signal() ? 128 + signal() : 0; }
    /// The job has returned: the deadline no longer applies.
    void finished()
    {
        std::lock_guard lock(mutex_);
        finished_ = true;
        cv_.notify_all();
    }

private:
    void cleanup() noexcept
    {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
        {
            std::lock_guard lock(mutex_);
            closing_ = true;
            cv_.notify_all();
        }
        if (watcher_.joinable()) {
            char const c = 0;
            [[maybe_unused]] auto n = ::write(pipe_[1], &c, 1);
            watcher_.join();
        }
        write_fd_ = -1;
        for (int& fd : pipe_)
            if (fd >= 0)
                ::close(std::exchange(fd, -1));
        live_ = false;
    }
};

} // namespace streambatch

#endif // STREAMBATCH_JOB_STOP_SIGNALS_HPP_INCLUDED
