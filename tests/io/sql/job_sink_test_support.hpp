// tests/io/sql/job_sink_test_support.hpp: forked writers for the job sink tests (SQLite and
// PostgreSQL).
//
// gate             a pipe the parent opens for its children: each child's wait() blocks until
//                  the parent's open(n) writes n bytes (a barrier that releases n children at
//                  once).
// child            a forked process running a function that returns a report (one line of text);
//                  the parent's report() reads it, finish() waits for the exit status. The child
//                  never returns into Catch2: it _exits (1 if the function threw, reporting
//                  "error: <what>"). One not finish()ed (a failed test) is killed by the
//                  destructor, so a child waiting at a gate never hangs the run.
// rows(first, n)   n records (id, "row <id>").

#ifndef STREAMBATCH_TESTS_IO_SQL_JOB_SINK_SUPPORT_HPP
#define STREAMBATCH_TESTS_IO_SQL_JOB_SINK_SUPPORT_HPP

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace test {

using job_record = std::tuple<std::int64_t, std::string>;

inline std::vector<job_record> rows(std::int64_t first, std::int64_t n)
{
    std::vector<job_record> v;
    for (std::int64_t i = first; i < first + n; ++i)
        v.emplace_back(i, "row " + std::to_string(i));
    return v;
}

class gate {
    int fd_[2] = {-1, -1};

public:
    gate()
    {
        if (::pipe(fd_) != 0)
            throw std::runtime_error("pipe() failed");
    }
    gate(gate const&) = delete;
    gate& operator=(gate const&) = delete;
    ~gate()
    {
        ::close(fd_[0]);
        ::close(fd_[1]);
    }
    /// In a child: blocks until the parent opens the gate.
    void wait() const
    {
        char c;
        while (::read(fd_[0], &c, 1) < 0) {
        }
    }
    /// In the parent: lets n waiting children through.
    void open(int n) const
    {
        std::string const bytes(static_cast<std::size_t>(n), 'g');
        if (::write(fd_[1], bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
            throw std::runtime_error("write() to the gate failed");
    }
};

class child {
    pid_t pid_ = -1;
    int report_fd_ = -1;

public:
    /// Forks; the child runs f() -> std::string (its report) and _exits.
    template <class F>
    explicit child(F&& f)
    {
        int fd[2];
        if (::pipe(fd) != 0)
            throw std::runtime_error("pipe() failed");
        pid_ = ::fork();
        if (pid_ < 0)
            throw std::runtime_error("fork() failed");
        if (pid_ == 0) {
            ::close(fd[0]);
            int status = 0;
            std::string line;
            try {
                line = f(fd[1]);
            } catch (std::exception const& e) {
                line = std::string("error: ") + e.what();
                status = 1;
            } catch (...) {
                line = "error: unknown exception";
                status = 1;
            }
            line += '\n';
            (void)!::write(fd[1], line.data(), line.size());
            ::_exit(status);
        }
        ::close(fd[1]);
        report_fd_ = fd[0];
    }
    child(child const&) = delete;
    child& operator=(child const&) = delete;
    ~child()
    {
        if (report_fd_ >= 0)
            ::close(report_fd_);
        if (pid_ > 0) { // not finish()ed: a test failed while it waits at a gate
            ::kill(pid_, SIGKILL);
            int status;
            ::waitpid(pid_, &status, 0);
        }
    }
    pid_t pid() const noexcept { return pid_; }

    /// The child's next line: what it reports (blocks until it writes a newline or exits).
    std::string report() const
    {
        std::string line;
        char c;
        while (::read(report_fd_, &c, 1) == 1 && c != '\n')
            line += c;
        return line;
    }
    /// Waits for the child; its exit status (-1: killed by a signal).
    int finish()
    {
        int status = 0;
        ::waitpid(std::exchange(pid_, -1), &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
};

/// In a child: writes an early report line (before the function's final one).
inline void report_now(int fd, std::string line)
{
    line += '\n';
    (void)!::write(fd, line.data(), line.size());
}

} // namespace test

#endif // STREAMBATCH_TESTS_IO_SQL_JOB_SINK_SUPPORT_HPP
