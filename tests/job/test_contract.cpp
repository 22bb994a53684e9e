// The job contract's own parts: holder (who holds a fence, and whether it still runs), job_key.
#include <streambatch/job/contract.hpp>

#include <catch2/catch.hpp>

#include <csignal>

#include <sys/wait.h>
#include <unistd.h>

namespace sb = streambatch;

TEST_CASE("holder: this process round-trips through text and is alive", "[job][contract]")
{
    auto const me = sb::holder::self();
    CHECK(me.pid == ::getpid());
    CHECK_FALSE(me.host.empty());
    CHECK(me.proc_start != 0);
    CHECK(me.alive());
    auto const back = sb::holder::from_text(me.to_text());
    REQUIRE(back);
    CHECK(*back == me);
    CHECK_THAT(me.str(), Catch::Matches("host .+, pid [0-9]+, since 20[0-9-]+T[0-9:]+Z"));
    CHECK_FALSE(sb::holder::from_text("no tabs here"));
}

TEST_CASE("holder: a process that exited, or a reused pid, is not alive", "[job][contract]")
{
    pid_t const child = ::fork();
    if (child == 0)
        ::_exit(0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    sb::holder gone = sb::holder::self();
    gone.pid = child;
    CHECK_FALSE(gone.alive());

    sb::holder reused = sb::holder::self(); // our pid, but another start time
    reused.proc_start += 12345;
    CHECK_FALSE(reused.alive());

    sb::holder elsewhere = gone; // another host: only its own fence can tell
    elsewhere.host += ".other";
    CHECK(elsewhere.alive());
}

TEST_CASE("holder: a killed process not yet reaped (a zombie) is not alive", "[job][contract]")
{
    pid_t const child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    sb::holder h = sb::holder::self();
    h.pid = child;
    h.proc_start = sb::detail::process_start_ticks(child);
    CHECK(h.alive());
    REQUIRE(::kill(child, SIGKILL) == 0);
    for (int i = 0; i < 500 && sb::detail::process_stat(child).first != 'Z'; ++i)
        ::usleep(10'000); // until the kernel has made it a zombie
    CHECK(sb::detail::process_stat(child).first == 'Z');
    CHECK_FALSE(h.alive());
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK_FALSE(h.alive());
    sb::holder none = h;
    none.pid = 0;
    CHECK_FALSE(none.alive());
}

TEST_CASE("job_key: the partition joins the text", "[job][contract]")
{
    CHECK(sb::job_key{"load"}.str() == "load");
    CHECK(sb::job_key{"load", {3, 8}}.str() == "load 3/8");
}
