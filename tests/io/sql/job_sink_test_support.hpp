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
// race_round(with_sink, write)
//                  one round of two forked copies of the job "race" racing for its fence:
//                  with_sink(f) makes a child's sink on its own connection and returns f(sink);
//                  the winner write(sink)s its batches and holds the fence until the loser has
//                  tried; checks that exactly one won and that the loser's fence_held names the
//                  winner. Returns whether the first child won.
// check_takeover(sink, state, want, notes, gone_pid, why, where)
//                  what a sink that took over the fence of a killed holder (3 batches of 10
//                  committed) shows: the state (want), taken_over(), token 2, and the one note
//                  naming the holder, `why` and `where`.

#ifndef STREAMBATCH_TESTS_IO_SQL_JOB_SINK_SUPPORT_HPP
#define STREAMBATCH_TESTS_IO_SQL_JOB_SINK_SUPPORT_HPP

#include <streambatch/job/contract.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <exception>
#include <optional>
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

template <class WithSink, class Write>
bool race_round(WithSink&& with_sink, Write&& write)
{
    gate go, release;
    auto racer = [&](int out) {
        return with_sink([&](auto& sink) -> std::string {
            go.wait();
            try {
                sink.open({.job = "race"});
            } catch (streambatch::fence_held const& e) {
                return "held " + std::to_string(e.by.pid) + " " + e.what();
            }
            write(sink);
            report_now(out, "won");
            release.wait(); // hold the fence until the other one has tried
            sink.close();
            return std::string("closed");
        });
    };
    child a(racer), b(racer);
    go.open(2);
    std::string const ra = a.report(), rb = b.report();
    INFO(ra << " | " << rb);
    bool const a_won = ra == "won";
    child& winner = a_won ? a : b;
    std::string const lost = a_won ? rb : ra;
    REQUIRE((ra == "won") != (rb == "won"));
    CHECK_THAT(lost, Catch::StartsWith("held " + std::to_string(winner.pid()) + " "));
    CHECK_THAT(lost, Catch::Contains("pid " + std::to_string(winner.pid()) + ", since"));
    release.open(2);
    CHECK(winner.report() == "closed");
    CHECK(a.finish() == 0);
    CHECK(b.finish() == 0);
    return a_won;
}

template <class Sink>
void check_takeover(Sink const& sink, std::optional<streambatch::job_state> const& state,
                    streambatch::job_state const& want, std::vector<std::string> const& notes,
                    pid_t gone_pid, std::string const& why, std::string const& where)
{
    REQUIRE(state);
    CHECK(*state == want);
    REQUIRE(sink.taken_over());
    CHECK(sink.taken_over()->pid == gone_pid);
    CHECK(sink.token() == 2);
    REQUIRE(notes.size() == 1);
    CHECK_THAT(notes[0], Catch::Contains("job 'load customers': took over the fence of host ") &&
                             Catch::Contains("pid " + std::to_string(gone_pid)) &&
                             Catch::Contains(why) && Catch::Contains("batch 3, 30 records") &&
                             Catch::Contains(where));
}

} // namespace test

#endif // STREAMBATCH_TESTS_IO_SQL_JOB_SINK_SUPPORT_HPP
