// job/stop_signals.hpp: the first SIGINT/SIGTERM requests a stop, a second exits at once, the
// deadline exits with 128 + the signal. Each case runs in a forked child (signals are global).
#include <streambatch/job/stop_signals.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace sb = streambatch;
using namespace std::chrono_literals;

namespace {

/// Runs `body` in a child; returns its exit status (or 1000 + the signal that killed it).
template <class F>
int in_child(F body)
{
    pid_t const pid = ::fork();
    if (pid == 0) {
        int code = 99;
        try {
            code = body();
        } catch (...) {
            code = 98;
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

bool wait_for_stop(std::stop_token const& t)
{
    for (int i = 0; i < 500 && !t.stop_requested(); ++i)
        std::this_thread::sleep_for(10ms);
    return t.stop_requested();
}

} // namespace

TEST_CASE("stop_on_signals: SIGTERM and SIGINT request a stop and set the exit code",
          "[job][signals]")
{
    for (int sig : {SIGTERM, SIGINT}) {
        INFO("signal " << sig);
        CHECK(in_child([sig] {
                  sb::stop_on_signals stop(5s);
                  if (stop.token().stop_requested() || stop.signal() != 0)
                      return 1;
                  ::raise(sig);
                  if (!wait_for_stop(stop.token()))
                      return 2;
                  stop.finished();
                  return stop.signal() == sig && stop.exit_code() == 128 + sig ? 0 : 3;
              }) == 0);
    }
}

TEST_CASE("stop_on_signals: a second signal exits at once with 128 + it", "[job][signals]")
{
    CHECK(in_child([] {
              sb::stop_on_signals stop(60s);
              ::raise(SIGTERM);
              if (!wait_for_stop(stop.token()))
                  return 2;
              ::raise(SIGINT); // exits here
              std::this_thread::sleep_for(5s);
              return 4;
          }) == 130);
}

TEST_CASE("stop_on_signals: a job that does not finish within the deadline exits 128 + signal",
          "[job][signals]")
{
    auto const t0 = std::chrono::steady_clock::now();
    CHECK(in_child([] {
              sb::stop_on_signals stop(300ms);
              ::raise(SIGTERM);
              std::this_thread::sleep_for(20s); // a batch that never finishes
              return 4;
          }) == 143);
    CHECK(std::chrono::steady_clock::now() - t0 < 15s);
}

TEST_CASE("stop_on_signals: one at a time, and the old handlers come back", "[job][signals]")
{
    CHECK(in_child([] {
              {
                  sb::stop_on_signals a;
                  try {
                      sb::stop_on_signals b;
                      return 1;
                  } catch (std::logic_error const&) {
                  }
              }
              sb::stop_on_signals again; // the first is gone
              return 0;
          }) == 0);
    CHECK(in_child([] {
              ::signal(SIGTERM, SIG_DFL); // not the test framework's handler
              {
                  sb::stop_on_signals s;
              }
              ::raise(SIGTERM); // default action again: killed
              return 5;
          }) == 1000 + SIGTERM);
}
