// job/file_sink.hpp: a file sink resumes exactly, refuses an output that lost or changed
// bytes, cuts off a batch written but never committed, and keeps one writer (a flock that a
// killed holder releases; a compare-and-set checkpoint).
#include <streambatch/job/file_sink.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace sb = streambatch;
namespace fs = std::filesystem;

namespace {

using batch = std::vector<std::string>;

struct lines_format {
    void operator()(batch const& b, std::string& out) const
    {
        for (auto const& s : b) {
            out += s;
            out += '\n';
        }
    }
};
using text_sink = sb::file_sink<lines_format>;
static_assert(sb::job_sink<text_sink, batch>);
static_assert(sb::job_sink<text_sink, batch&>);
static_assert(sb::job_sink<text_sink, batch const&>);

/// Batch i of a job: `rows` lines, each distinct across the job ("job j batch i row r").
batch make_batch(std::uint64_t i, std::size_t rows = 50, std::string const& tag = "job")
{
    batch b;
    for (std::size_t r = 0; r < rows; ++r)
        b.push_back(tag + " batch " + std::to_string(i) + " row " + std::to_string(r) +
                    (r % 7 == 0 ? " with a longer tail to vary the lengths" : ""));
    return b;
}

sb::job_state state_after(std::uint64_t i, std::size_t rows = 50)
{
    return {.position = "line " + std::to_string((i + 1) * rows),
            .identity = "input v1",
            .batches = i + 1,
            .records = (i + 1) * rows};
}

/// The output of batches [0, n).
std::string expected(std::uint64_t n, std::size_t rows = 50, std::string const& tag = "job")
{
    std::string out;
    for (std::uint64_t i = 0; i < n; ++i)
        lines_format{}(make_batch(i, rows, tag), out);
    return out;
}

/// Commits batches [from, to) the way a job does.
void commit_range(text_sink& sink, std::uint64_t from, std::uint64_t to, std::size_t rows = 50,
                  std::string const& tag = "job")
{
    for (std::uint64_t i = from; i < to; ++i)
        sink.commit(make_batch(i, rows, tag), state_after(i, rows));
}

std::string slurp(fs::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void put(fs::path const& p, std::string const& text)
{
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

std::vector<std::string> names_in(fs::path const& dir)
{
    std::vector<std::string> names;
    for (auto const& e : fs::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

/// A pipe whose ends close themselves.
struct pipe_fds {
    int r = -1, w = -1;
    pipe_fds()
    {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        r = fds[0];
        w = fds[1];
    }
    ~pipe_fds()
    {
        close_r();
        close_w();
    }
    pipe_fds(pipe_fds const&) = delete;
    pipe_fds& operator=(pipe_fds const&) = delete;
    void close_r()
    {
        if (r >= 0)
            ::close(std::exchange(r, -1));
    }
    void close_w()
    {
        if (w >= 0)
            ::close(std::exchange(w, -1));
    }
    /// Blocks until the other side writes a byte or closes its end.
    void wait() const
    {
        char c;
        while (::read(r, &c, 1) < 0 && errno == EINTR) {
        }
    }
    void signal() const { (void)!::write(w, "x", 1); }
};

/// Runs `f` in a child process; the child _exits with f's value (99 on an exception), so
/// nothing of Catch's (nor the temp_dir's destructor) runs there.
pid_t spawn(std::function<int()> const& f)
{
    pid_t const pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 99;
        try {
            code = f();
        } catch (...) {
        }
        ::_exit(code);
    }
    return pid;
}

int exit_code(pid_t pid)
{
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Lines, distinct lines, and a checksum of an output, to compare with the expected one.
struct summary {
    std::size_t lines = 0, distinct = 0;
    std::uint64_t checksum = 0;
    friend bool operator==(summary const&, summary const&) = default;
};
summary summarize(std::string const& text)
{
    summary s;
    std::set<std::string> seen;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        ++s.lines;
        seen.insert(line);
        sb::detail::stream_hash h;
        h.update(line);
        s.checksum += h.digest(); // order-independent
    }
    s.distinct = seen.size();
    return s;
}

} // namespace

TEST_CASE("file_sink: k batches committed, then reopened: the state and the output are exact",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    {
        text_sink sink(out);
        CHECK(sink.describe() == out.string());
        CHECK(sink.checkpoint_path() == fs::path(out.string() + ".checkpoint"));
        CHECK(sink.lock_path() == fs::path(out.string() + ".checkpoint.lock"));
        CHECK_FALSE(sink.open({"export"}));
        CHECK(sink.note().empty());
        commit_range(sink, 0, 5);
        CHECK(sink.committed_bytes() == expected(5).size());
        sink.close();
        sink.close(); // idempotent
    }
    CHECK(slurp(out) == expected(5));
    CHECK(names_in(dir) ==
          std::vector<std::string>{"out.txt", "out.txt.checkpoint", "out.txt.checkpoint.lock"});
    CHECK(slurp(out.string() + ".checkpoint.lock").empty()); // close() cleared the holder

    text_sink again(out);
    auto const state = again.open({"export"});
    REQUIRE(state);
    CHECK(*state == state_after(4));
    CHECK(again.recovered_bytes() == 0);
    CHECK(again.note().empty());
    CHECK(again.committed_bytes() == expected(5).size());
    // While open, the lock file names this process and the job.
    auto const lock_text = slurp(again.lock_path());
    auto const me = sb::holder::from_text(lock_text.substr(0, lock_text.find('\n')));
    REQUIRE(me);
    CHECK(me->pid == ::getpid());
    CHECK(lock_text.find("job export\n") != std::string::npos);
    commit_range(again, 5, 9);
    again.close();
    CHECK(slurp(out) == expected(9));
    CHECK(summarize(slurp(out)) == summarize(expected(9)));
    CHECK(summarize(slurp(out)).distinct == 9 * 50);
}

TEST_CASE("file_sink: a partition's key, a custom checkpoint path, an empty batch, a header",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "part.txt";
    sb::file_sink_options const opts{.checkpoint = dir / "state" / "part.ckpt", .header = "H\n"};
    fs::create_directory(dir / "state");
    sb::job_key const key{"export", {2, 4}};
    {
        text_sink sink(out, {}, opts);
        CHECK(sink.lock_path() == dir / "state" / "part.ckpt.lock");
        CHECK_FALSE(sink.open(key));
        sink.commit(batch{}, state_after(0, 0)); // the header alone
        CHECK(slurp(out) == "H\n");
        commit_range(sink, 1, 3);
    }
    CHECK(slurp(out) == "H\n" + expected(3).substr(expected(1).size()));
    text_sink again(out, {}, opts);
    auto const state = again.open(key);
    REQUIRE(state);
    CHECK(state->batches == 3);
    again.close();

    // The same output under another key, or with another header, is refused.
    text_sink other_key(out, {}, opts);
    try {
        other_key.open({"export", {3, 4}});
        FAIL("opened another job's output");
    } catch (sb::file_sink_error const& e) {
        std::string const what = e.what();
        CHECK_THAT(what, Catch::Contains("part.ckpt is the checkpoint of job 'export 2/4', not "
                                         "of job 'export 3/4'"));
        CHECK_THAT(what, Catch::Contains(out.string()));
        CHECK_THAT(what, Catch::Contains("nothing was written"));
    }
    auto other_opts = opts;
    other_opts.header = "G\n";
    text_sink other_header(out, {}, other_opts);
    CHECK_THROWS_WITH(other_header.open(key),
                      Catch::Contains(out.string() + " does not begin with this sink's header"));
    CHECK(slurp(out) == "H\n" + expected(3).substr(expected(1).size()));
}

TEST_CASE("file_sink: an output cut back (by a byte, by a batch, to zero, removed) is refused "
          "and nothing is written",
          "[job][file_sink]")
{
    struct cut {
        char const* name;
        std::uint64_t keep; // bytes kept of expected(4)
    };
    std::uint64_t const full = expected(4).size();
    for (cut const c : {cut{"a byte", full - 1}, cut{"a batch", expected(3).size()},
                        cut{"to zero", 0}, cut{"removed", ~std::uint64_t{0}}}) {
        SECTION(std::string("cut back ") + c.name)
        {
            test::temp_dir dir;
            auto const out = dir / "out.txt";
            {
                text_sink sink(out);
                sink.open({"export"});
                commit_range(sink, 0, 4);
            }
            std::string const checkpoint_before = slurp(out.string() + ".checkpoint");
            if (c.keep == ~std::uint64_t{0})
                fs::remove(out);
            else
                fs::resize_file(out, c.keep);
            std::string const output_before = slurp(out);

            text_sink sink(out);
            try {
                sink.open({"export"});
                FAIL("opened an output behind its checkpoint");
            } catch (sb::file_sink_error const& e) {
                std::string const what = e.what();
                std::string const says = " says " + std::to_string(full);
                if (c.keep == ~std::uint64_t{0}) {
                    CHECK_THAT(what, Catch::Contains(out.string() + " does not exist but its "
                                                                    "checkpoint"));
                    CHECK_THAT(what, Catch::Contains(says + " bytes were committed"));
                } else {
                    CHECK_THAT(what,
                               Catch::Contains(out.string() + " is " + std::to_string(c.keep) +
                                               " bytes but its checkpoint " + out.string() +
                                               ".checkpoint" + says + " were committed"));
                    CHECK_THAT(what, Catch::Contains("the output is behind its checkpoint (cut "
                                                     "back by a crash, a restore or a copy?)"));
                }
                CHECK_THAT(what, Catch::Contains("nothing was written"));
                CHECK_THAT(what, Catch::Contains("start over")); // what the user can do
            }
            CHECK(slurp(out) == output_before);
            CHECK(fs::exists(out) == (c.keep != ~std::uint64_t{0}));
            CHECK(slurp(out.string() + ".checkpoint") == checkpoint_before);
            // The refusal released the fence: the next open is refused the same way.
            CHECK_THROWS_AS(text_sink(out).open({"export"}), sb::file_sink_error);

            // start_over: the user's way out.
            text_sink fresh(out, {}, {.start_over = true});
            CHECK_FALSE(fresh.open({"export"}));
            commit_range(fresh, 0, 2);
            fresh.close();
            CHECK(slurp(out) == expected(2));
        }
    }
}

TEST_CASE("file_sink: an output edited in its tail is refused, naming the byte range",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    std::size_t const rows = 2000; // about 100 KiB a batch: the hashed tail starts past 0
    {
        text_sink sink(out);
        sink.open({"export"});
        commit_range(sink, 0, 3, rows);
    }
    std::string text = slurp(out);
    std::uint64_t const m = text.size();
    REQUIRE(m > 2 * 65536);
    SECTION("a byte near the end")
    {
        text[m - 10] = 'X';
    }
    SECTION("the first byte of the hashed tail")
    {
        text[m - 65536] ^= 1;
    }
    SECTION("the same length, other bytes (a copy of another run)")
    {
        std::reverse(text.end() - 100, text.end());
    }
    put(out, text);

    text_sink sink(out);
    try {
        sink.open({"export"});
        FAIL("opened an edited output");
    } catch (sb::file_sink_error const& e) {
        std::string const what = e.what();
        CHECK_THAT(what, Catch::Contains(out.string() + ": bytes " + std::to_string(m - 65536) +
                                         " to " + std::to_string(m) +
                                         " (the last 65536 committed bytes) are not the bytes "
                                         "its checkpoint " +
                                         out.string() + ".checkpoint was written with"));
        CHECK_THAT(what, Catch::Contains("the output was edited or replaced; nothing was written"));
    }
    CHECK(slurp(out) == text);
}

TEST_CASE("file_sink: bytes past the committed length (a batch written, never committed) are "
          "cut off, and the job resumes exactly",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    {
        text_sink sink(out);
        sink.open({"export"});
        commit_range(sink, 0, 3);
    }
    std::string extra;
    SECTION("a whole batch")
    {
        lines_format{}(make_batch(3), extra);
    }
    SECTION("part of a batch")
    {
        lines_format{}(make_batch(3), extra);
        extra.resize(extra.size() / 2 + 3);
    }
    {
        std::ofstream app(out, std::ios::binary | std::ios::app);
        app << extra;
    }
    text_sink sink(out);
    auto const state = sink.open({"export"});
    REQUIRE(state);
    CHECK(*state == state_after(2));
    CHECK(sink.recovered_bytes() == extra.size());
    CHECK_THAT(sink.note(), Catch::Contains("cut " + out.string() + " back from " +
                                            std::to_string(expected(3).size() + extra.size()) +
                                            " to " + std::to_string(expected(3).size()) +
                                            " bytes: the last " + std::to_string(extra.size()) +
                                            " were a batch written but never committed"));
    CHECK(fs::file_size(out) == expected(3).size());
    commit_range(sink, state->batches, 6);
    sink.close();
    CHECK(slurp(out) == expected(6));
    CHECK(summarize(slurp(out)) == summarize(expected(6)));
}

TEST_CASE("file_sink: a writer killed between the data's fsync and the checkpoint: the next "
          "open cuts its batch off",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    auto const tmp = fs::path(out.string() + ".checkpoint.tmp");
    pid_t const child = spawn([&] {
        text_sink sink(out);
        sink.open({"export"});
        commit_range(sink, 0, 2);
        fs::create_directory(tmp); // the checkpoint's temp file cannot be created
        try {
            commit_range(sink, 2, 3);
            return 1;
        } catch (sb::file_sink_error const& e) {
            std::string const what = e.what();
            if (what.find(out.string() + ": cannot commit batch 3: checkpoint") ==
                    std::string::npos ||
                what.find("Is a directory") == std::string::npos)
                return 2;
        }
        try { // the sink refuses more commits until it is opened again
            commit_range(sink, 3, 4);
            return 3;
        } catch (sb::file_sink_error const& e) {
            if (std::string(e.what()).find("an earlier commit failed") == std::string::npos)
                return 4;
        }
        ::_exit(0); // killed: no close()
    });
    REQUIRE(exit_code(child) == 0);
    fs::remove(tmp);
    CHECK(slurp(out) == expected(3)); // batch 2 written, fsync'ed, not committed

    text_sink sink(out);
    auto const state = sink.open({"export"});
    REQUIRE(state);
    CHECK(*state == state_after(1));
    CHECK(sink.recovered_bytes() == expected(3).size() - expected(2).size());
    CHECK_THAT(sink.note(),
               Catch::Contains("took over the lock " + sink.lock_path().string() + " from host "));
    CHECK_THAT(sink.note(), Catch::Contains("pid " + std::to_string(child) + ", since"));
    commit_range(sink, 2, 4);
    sink.close();
    CHECK(slurp(out) == expected(4));
}

TEST_CASE("file_sink: a second open while another process holds the fence is refused, naming "
          "the holder",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    {
        text_sink first(out);
        first.open({"export"});
        commit_range(first, 0, 2);
    }
    pipe_fds ready, go;
    pid_t const child = spawn([&] {
        ready.close_r();
        go.close_w();
        text_sink sink(out);
        sink.open({"export"});
        ready.signal();
        go.wait();
        sink.close();
        return 0;
    });
    ready.close_w();
    go.close_r();
    ready.wait();

    std::string const before = slurp(out);
    text_sink sink(out);
    try {
        sink.open({"export"});
        FAIL("opened an output another process holds");
    } catch (sb::fence_held const& e) {
        std::string const what = e.what();
        CHECK(e.by.pid == child);
        CHECK(e.by.host == sb::holder::self().host);
        CHECK_THAT(what, Catch::Contains(out.string() + " is being written by another process"));
        CHECK_THAT(what, Catch::Contains("pid " + std::to_string(child) + ", since "));
        CHECK_THAT(what, Catch::Contains("job export"));
        CHECK_THAT(what, Catch::Contains("holds the lock " + out.string() + ".checkpoint.lock"));
        CHECK_THAT(what, Catch::Contains("nothing was written"));
    }
    CHECK(slurp(out) == before);

    // In this process too: a second sink on the same output.
    go.close_w();
    REQUIRE(exit_code(child) == 0);
    text_sink mine(out);
    REQUIRE(mine.open({"export"}));
    CHECK(mine.note().empty()); // the child closed: nothing taken over
    try {
        text_sink(out).open({"export"});
        FAIL("two sinks of one process opened one output");
    } catch (sb::fence_held const& e) {
        CHECK(e.by.pid == ::getpid());
    }
    commit_range(mine, 2, 3);
    mine.close();
    CHECK(slurp(out) == expected(3));
}

TEST_CASE("file_sink: a killed holder's fence is taken over with no cleanup", "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    pipe_fds ready, never;
    pid_t const child = spawn([&] {
        ready.close_r();
        never.close_w();
        text_sink sink(out);
        sink.open({"export"});
        commit_range(sink, 0, 3);
        ready.signal();
        never.wait(); // until killed
        return 0;
    });
    ready.close_w();
    never.close_r();
    ready.wait();
    CHECK_THROWS_AS(text_sink(out).open({"export"}), sb::fence_held);
    REQUIRE(::kill(child, SIGKILL) == 0);
    CHECK(exit_code(child) == 128 + SIGKILL);

    text_sink sink(out);
    auto const state = sink.open({"export"});
    REQUIRE(state);
    CHECK(*state == state_after(2));
    CHECK_THAT(sink.note(), Catch::Contains("pid " + std::to_string(child)));
    CHECK_THAT(sink.note(), Catch::Contains("ended without closing"));
    commit_range(sink, 3, 5);
    sink.close();
    CHECK(slurp(out) == expected(5));
}

TEST_CASE("file_sink: the checkpoint, the lock file or the output changed under a writer: its "
          "next commit is fence_lost and writes nothing",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    auto const ckpt = fs::path(out.string() + ".checkpoint");
    text_sink sink(out);
    sink.open({"export"});
    commit_range(sink, 0, 2);
    std::string const old_checkpoint = slurp(ckpt);
    commit_range(sink, 2, 3);
    std::string expect_in_message;
    SECTION("the checkpoint replaced by an older one (a restore)")
    {
        sb::detail::write_file_atomically(ckpt, old_checkpoint);
        expect_in_message =
            "its checkpoint " + ckpt.string() + " is no longer the one this writer last wrote";
    }
    SECTION("the checkpoint rewritten by another writer")
    {
        std::string text = slurp(ckpt);
        text.replace(text.find("\"sequence\": "), 13, "\"sequence\": 9");
        put(ckpt, text);
        expect_in_message = "is no longer the one this writer last wrote";
    }
    SECTION("the checkpoint removed")
    {
        fs::remove(ckpt);
        expect_in_message = "is no longer the one this writer last wrote";
    }
    SECTION("the lock file removed (another writer could lock a new one)")
    {
        fs::remove(sink.lock_path());
        expect_in_message = "the lock file " + sink.lock_path().string() + " was removed";
    }
    SECTION("the output replaced")
    {
        fs::rename(out, dir / "moved.txt");
        fs::copy_file(dir / "moved.txt", out);
        expect_in_message = "the output was removed or replaced";
    }
    SECTION("the output appended to by someone else")
    {
        std::ofstream(out, std::ios::app) << "stranger\n";
        expect_in_message = "the output is " + std::to_string(expected(3).size() + 9) +
                            " bytes, not the " + std::to_string(expected(3).size()) +
                            " this writer committed";
    }
    std::string const output_before = slurp(out);
    std::string const checkpoint_before = slurp(ckpt);
    try {
        commit_range(sink, 3, 4);
        FAIL("committed after the fence moved");
    } catch (sb::fence_lost const& e) {
        std::string const what = e.what();
        CHECK_THAT(what, Catch::Contains(out.string() + ": "));
        CHECK_THAT(what, Catch::Contains(expect_in_message));
        CHECK_THAT(what, Catch::Contains("batch 4 was not written"));
    }
    CHECK(slurp(out) == output_before);
    CHECK(slurp(ckpt) == checkpoint_before);
    CHECK_FALSE(fs::exists(ckpt.string() + ".tmp"));
}

TEST_CASE("file_sink: open writes a checkpoint of nothing committed, claiming the output",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    text_sink sink(out);
    CHECK_FALSE(sink.open({"export"}));
    std::string const first = slurp(out.string() + ".checkpoint");
    CHECK_THAT(first, Catch::Contains("\"job\": \"export\",\n \"has_state\": false"));
    CHECK_THAT(first, Catch::Contains("\"output_bytes\": 0"));
    // Another job is refused before anything is committed.
    CHECK_THROWS_AS(text_sink(out).open({"other"}), sb::fence_held);
    sink.close();
    CHECK_THROWS_WITH(text_sink(out).open({"other"}),
                      Catch::Contains("is the checkpoint of job 'export', not of job 'other'"));
    // Reopened with nothing committed: still nothing.
    CHECK_FALSE(sink.open({"export"}));
    // A writer that replaced it (another run's empty checkpoint) fences this one out.
    std::string other = first;
    other.replace(other.find("\"sequence\": 0"), 14, "\"sequence\": 5");
    put(out.string() + ".checkpoint", other);
    CHECK_THROWS_WITH(sink.commit(make_batch(0), state_after(0)),
                      Catch::Contains("is no longer the one this writer last wrote"));
    CHECK(fs::file_size(out) == 0);
}

TEST_CASE("file_sink: an output without a checkpoint is refused unless start_over",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir.write("out.txt", "someone else's data\n");
    text_sink sink(out);
    try {
        sink.open({"export"});
        FAIL("opened a file it did not write");
    } catch (sb::file_sink_error const& e) {
        CHECK_THAT(e.what(), Catch::Contains(out.string() +
                                             " holds 20 bytes but has no "
                                             "checkpoint (" +
                                             out.string() + ".checkpoint)"));
        CHECK_THAT(e.what(), Catch::Contains("start_over"));
    }
    CHECK(slurp(out) == "someone else's data\n");

    put(out.string() + ".checkpoint", "{\"version\": 1, \"sink\": \"file\"");
    CHECK_THROWS_WITH(text_sink(out).open({"export"}),
                      Catch::Contains(out.string() + ".checkpoint (byte ") &&
                          Catch::Contains("is damaged"));
    fs::remove(out.string() + ".checkpoint");

    text_sink over(out, {}, {.start_over = true});
    CHECK_FALSE(over.open({"export"}));
    CHECK_THAT(over.note(), Catch::Contains("started over: truncated " + out.string() + " (20 "));
    CHECK(fs::file_size(out) == 0);
    commit_range(over, 0, 1);
    over.close();
    CHECK(slurp(out) == expected(1));
}

TEST_CASE("file_sink: two processes open one output at once, 50 rounds: one writes, the other "
          "is refused naming it, and the output is exact",
          "[job][file_sink]")
{
    test::temp_dir dir;
    constexpr std::uint64_t batches = 8;
    constexpr std::size_t rows = 20;
    std::string const want = expected(batches, rows);
    summary const want_summary = summarize(want);
    for (int round = 0; round < 50; ++round) {
        auto const out = dir / ("round" + std::to_string(round) + ".txt");
        pipe_fds barrier, reports, go;
        // A report: {pid, 0 opened / 1 fence_held (by, message names it) / 2 other error}.
        struct report {
            pid_t self, by;
            int kind;
            bool names_holder;
        };
        auto const copy = [&] {
            barrier.close_w();
            reports.close_r();
            go.close_w();
            barrier.wait();
            report r{::getpid(), 0, 0, false};
            text_sink sink(out);
            std::optional<sb::job_state> state;
            try {
                state = sink.open({"export"});
            } catch (sb::fence_held const& e) {
                r.kind = 1;
                r.by = static_cast<pid_t>(e.by.pid);
                r.names_holder = std::string(e.what()).find("pid " + std::to_string(e.by.pid) +
                                                            ", since ") != std::string::npos;
            } catch (...) {
                r.kind = 2;
            }
            (void)!::write(reports.w, &r, sizeof r); // < PIPE_BUF: atomic
            if (r.kind != 0)
                return r.kind == 1 ? 0 : 2;
            go.wait();
            commit_range(sink, state ? state->batches : 0, batches, rows);
            sink.close();
            return 0;
        };
        pid_t const a = spawn(copy);
        pid_t const b = spawn(copy);
        barrier.close_r();
        reports.close_w();
        go.close_r();
        barrier.close_w(); // both go
        report got[2]{};
        for (auto& r : got)
            REQUIRE(::read(reports.r, &r, sizeof r) == static_cast<ssize_t>(sizeof r));
        go.close_w();
        CHECK(exit_code(a) == 0);
        CHECK(exit_code(b) == 0);

        INFO("round " << round);
        report const& opened = got[0].kind == 0 ? got[0] : got[1];
        report const& refused = got[0].kind == 0 ? got[1] : got[0];
        CHECK(opened.kind == 0);
        CHECK(refused.kind == 1);
        CHECK(refused.by == opened.self);
        CHECK(refused.names_holder);
        std::string const text = slurp(out);
        CHECK(summarize(text) == want_summary);
        CHECK(text == want);
    }
    CHECK(want_summary.lines == batches * rows);
    CHECK(want_summary.distinct == batches * rows);
}

namespace {

/// What a child wrote on `fd` until it closed it.
std::string read_all(int fd)
{
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    return text;
}

/// Commits batches of `rows` rows into `out` until one fails (or `batches` are committed);
/// writes the failure's what() to `fd`. The child's exit code: 0 failed as expected.
int commit_until_failure(fs::path const& out, std::uint64_t batches, std::size_t rows, int fd)
{
    text_sink sink(out, {}, {.start_over = true});
    sink.open({"export"});
    try {
        commit_range(sink, 0, batches, rows);
    } catch (sb::file_sink_error const& e) {
        std::string const what = e.what();
        (void)!::write(fd, what.data(), what.size());
        return 0;
    }
    return 1;
}

/// After a failed commit: a new sink resumes from the last committed batch, output exact.
void check_resumes(fs::path const& out, std::size_t rows)
{
    text_sink sink(out);
    auto const state = sink.open({"export"});
    std::uint64_t const done = state ? state->batches : 0;
    CHECK(slurp(out) == expected(done, rows));
    commit_range(sink, done, done + 1, rows);
    CHECK(slurp(out) == expected(done + 1, rows));
}

} // namespace

TEST_CASE("file_sink: a write past the file size limit names the file and errno's text, and "
          "leaves no .tmp",
          "[job][file_sink]")
{
    test::temp_dir dir;
    auto const out = dir / "out.txt";
    // RLIMIT_FSIZE, in a child: a write past the limit fails with EFBIG as a full disk fails
    // with ENOSPC, on the same paths. 2 KiB batches meet a 4 KiB limit in the output; a
    // 60-byte batch whose state has a 1000-byte identity meets a 1 KiB limit in the checkpoint.
    auto const run = [&](rlim_t limit, std::size_t rows, std::string& what) {
        pipe_fds messages;
        pid_t const child = spawn([&] {
            messages.close_r();
            std::signal(SIGXFSZ, SIG_IGN);
            rlimit const l{limit, limit};
            if (::setrlimit(RLIMIT_FSIZE, &l) != 0)
                return 3;
            if (rows != 1)
                return commit_until_failure(out, 100, rows, messages.w);
            text_sink sink(out, {}, {.start_over = true});
            sink.open({"export"});
            commit_range(sink, 0, 1, 1);
            try {
                auto state = state_after(1, 1);
                state.identity.assign(1000, 'i');
                sink.commit(make_batch(1, 1), state);
            } catch (sb::file_sink_error const& e) {
                std::string const text = e.what();
                (void)!::write(messages.w, text.data(), text.size());
                return 0;
            }
            return 1;
        });
        messages.close_w();
        what = read_all(messages.r);
        return exit_code(child);
    };
    std::string what;
    SECTION("the output's write fails")
    {
        REQUIRE(run(4096, 50, what) == 0);
        CHECK_THAT(what, Catch::Contains("streambatch: cannot write "));
        CHECK_THAT(what, Catch::Contains(" of " + out.string() + ": " + std::strerror(EFBIG)));
        check_resumes(out, 50);
    }
    SECTION("the checkpoint's write fails")
    {
        REQUIRE(run(1024, 1, what) == 0);
        CHECK_THAT(what, Catch::Contains("streambatch: " + out.string() +
                                         ": cannot commit batch 2: checkpoint " + out.string() +
                                         ".checkpoint: write failed: " + std::strerror(EFBIG)));
        CHECK_THAT(what, Catch::Contains("are written but not committed"));
        check_resumes(out, 1);
    }
    for (auto const& name : names_in(dir))
        CHECK_FALSE(name.ends_with(".tmp"));
}

TEST_CASE("file_sink: a full disk (a 1 MiB tmpfs) names the file and errno's text, and leaves "
          "no .tmp",
          "[job][file_sink]")
{
    test::temp_dir dir;
    // The tmpfs is mounted in the child's own mount namespace: it goes when the child does.
    // That needs root (CAP_SYS_ADMIN); without it the case is not run (the size limit case
    // above covers the same paths with EFBIG).
    pipe_fds messages;
    pid_t const child = spawn([&] {
        messages.close_r();
        auto say = [&](std::string const& s) { (void)!::write(messages.w, s.data(), s.size()); };
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=1m") != 0) {
            say(std::string("cannot mount a tmpfs: ") + std::strerror(errno));
            return 77;
        }
        auto const out = dir / "out.txt";
        // 1) 100 KiB batches until the disk is full: the output's write fails.
        std::string what;
        {
            pipe_fds inner;
            commit_until_failure(out, 1000, 2000, inner.w);
            inner.close_w();
            what = read_all(inner.r);
        }
        say("data: " + what + "\n");
        for (auto const& name : names_in(dir))
            say("file: " + name + "\n");
        // 2) the disk full but for the output's last page: a small batch fits there, the
        //    checkpoint's new page does not.
        {
            text_sink sink(out, {}, {.start_over = true});
            sink.open({"export"});
            commit_range(sink, 0, 1, 1);
            std::ofstream fill(dir / "filler", std::ios::binary);
            std::string const block(4096, 'f');
            while (fill.write(block.data(), block.size()))
                fill.flush();
            try {
                commit_range(sink, 1, 2, 1);
                say("checkpoint: committed\n");
            } catch (sb::file_sink_error const& e) {
                say(std::string("checkpoint: ") + e.what() + "\n");
            }
            fs::remove(dir / "filler");
        }
        for (auto const& name : names_in(dir))
            say("file: " + name + "\n");
        return 0;
    });
    messages.close_w();
    std::string const report = read_all(messages.r);
    int const code = exit_code(child);
    if (code == 77) {
        WARN("not run: " << report);
        return;
    }
    REQUIRE(code == 0);
    INFO(report);
    auto const out = dir / "out.txt";
    std::string const nospace = std::strerror(ENOSPC);
    CHECK_THAT(report, Catch::Contains("data: streambatch: cannot write "));
    CHECK_THAT(report, Catch::Contains(" of " + out.string() + ": " + nospace));
    CHECK_THAT(report, Catch::Contains("checkpoint: streambatch: " + out.string() +
                                       ": cannot commit batch 2: checkpoint " + out.string() +
                                       ".checkpoint: write failed: " + nospace));
    CHECK_THAT(report, !Catch::Contains(".tmp\n"));
    CHECK_THAT(report, Catch::Contains("file: out.txt.checkpoint\n"));
}
