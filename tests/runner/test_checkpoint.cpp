#include <streambatch/runner/checkpoint.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <stdlib.h>

namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
struct temp_file {
    fs::path dir, path;
    temp_file()
    {
        std::string t = (fs::temp_directory_path() / "streambatch-ckpt-XXXXXX").string();
        dir = ::mkdtemp(t.data());
        path = dir / "job.ckpt";
    }
    ~temp_file() { fs::remove_all(dir); }
    void write(std::string const& text) const { std::ofstream(path, std::ios::binary) << text; }
};
std::string const good = R"({"version": 1, "job": "j", "fingerprint": "f", "batches": 2, "records": 20, "position": "p", "written_unix_ms": 5})";
} // namespace

TEST_CASE("a checkpoint round-trips, atomically, and an absent one is nullopt", "[checkpoint]")
{
    temp_file t;
    CHECK(!sb::read_checkpoint(t.path));
    sb::write_checkpoint(t.path, {.job = "load \"x\"\n", .fingerprint = "v1", .batches = 7, .records = 700,
                                  .position = "byte=1 line=2"});
    auto c = sb::read_checkpoint(t.path);
    REQUIRE(c);
    CHECK(c->job == "load \"x\"\n");
    CHECK(c->records == 700);
    CHECK(c->position == "byte=1 line=2");
    CHECK(c->written_unix_ms > 0);
    CHECK(!fs::exists(t.path.string() + ".tmp")); // renamed over, not left behind
    t.write(good);
    CHECK(sb::read_checkpoint(t.path)->batches == 2);
}

TEST_CASE("a malformed checkpoint is refused with the file and the byte offset", "[checkpoint][errors]")
{
    temp_file t;
    struct bad {
        std::string text, expect;
    };
    for (auto const& [text, expect] : {
             bad{"", "(byte 0): expected '{', found the end"},
             bad{"[1]", "(byte 0): expected '{'"},
             bad{R"({"version": 1, "job": "unterminated)", "unterminated string"},
             bad{R"({"version": 1 "job": "x"})", "(byte 14): expected '}'"},
             bad{R"({"version": 1, "job": {"a": 1}})", "member \"job\": nested values are not expected here"},
             bad{R"({"version": 1, "job": "a", "job": "b"})", "duplicate member \"job\""},
             bad{R"({"version": 1, "job": nope})", "member \"job\": expected a string, a number, true, false or null"},
             bad{R"({"version": 2})", "unknown version 2"},
             bad{R"({"version": 1, "job": "j"})", "missing member \"fingerprint\""},
             bad{R"({"version": 1, "job": "j", "fingerprint": "f", "batches": -2, "records": 0, "position": "", "written_unix_ms": 0})",
                 "member \"batches\" must be a whole number, found '-2'"},
             bad{R"({"version": 1, "job": "j", "fingerprint": "f", "batches": 18446744073709551616, "records": 0, "position": "", "written_unix_ms": 0})",
                 "member \"batches\" must be a whole number"},
             bad{good + "x", "unexpected text after the object"},
             bad{"{\"version\": 1, \"job\": \"a\x01\"}", "control character in a string"},
             bad{R"({"version": 1, "job": "\q"})", "unknown escape"},
         }) {
        t.write(text);
        INFO(text);
        CHECK_THROWS_AS(sb::read_checkpoint(t.path), sb::checkpoint_error);
        CHECK_THROWS_WITH(sb::read_checkpoint(t.path), Contains(t.path.string()) && Contains(expect));
    }
}

TEST_CASE("writing a checkpoint into a missing directory says so", "[checkpoint][errors]")
{
    CHECK_THROWS_WITH(sb::write_checkpoint("/nonexistent-dir/job.ckpt", {}),
                      Contains("/nonexistent-dir/job.ckpt") && Contains("cannot create"));
}
