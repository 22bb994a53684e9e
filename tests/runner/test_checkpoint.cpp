#include <streambatch/runner/checkpoint.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "support/temp_dir.hpp"

namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
/// <a fresh directory>/job.ckpt, not made yet; the directory goes at the end of the scope.
struct temp_file {
    test::temp_dir dir{"streambatch-ckpt-"};
    fs::path path = dir / "job.ckpt";
    void write(std::string const& text) const { dir.write("job.ckpt", text); }
};
std::string const good =
    R"({"version": 1, "job": "j", "fingerprint": "f", "batches": 2, "records": 20, "position": "p", "written_unix_ms": 5})";
} // namespace

TEST_CASE("a checkpoint round-trips, atomically, and an absent one is nullopt", "[checkpoint]")
{
    temp_file t;
    CHECK(!sb::read_checkpoint(t.path));
    sb::write_checkpoint(t.path, {.job = "load \"x\"\n",
                                  .fingerprint = "v1",
                                  .batches = 7,
                                  .records = 700,
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

TEST_CASE("a malformed checkpoint is refused with the file and the byte offset",
          "[checkpoint][errors]")
{
    temp_file t;
    struct bad {
        std::string text, expect;
    };
    for (
        auto const& [text, expect] : {
            bad{"", "(byte 0): expected '{', found the end"},
            bad{"[1]", "(byte 0): expected '{'"},
            bad{R"({"version": 1, "job": "unterminated)", "unterminated string"},
            bad{R"({"version": 1 "job": "x"})", "(byte 14): expected '}'"},
            bad{R"({"version": 1, "job": {"a": 1}})",
                "member \"job\": nested values are not expected here"},
            bad{R"({"version": 1, "job": "a", "job": "b"})", "duplicate member \"job\""},
            bad{R"({"version": 1, "job": nope})",
                "member \"job\": expected a string, a number, true, false or null"},
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
        CHECK_THROWS_WITH(sb::read_checkpoint(t.path),
                          Contains(t.path.string()) && Contains(expect));
    }
}

TEST_CASE("writing a checkpoint into a missing directory says so", "[checkpoint][errors]")
{
    CHECK_THROWS_WITH(sb::write_checkpoint("/nonexistent-dir/job.ckpt", {}),
                      Contains("/nonexistent-dir/job.ckpt") && Contains("cannot create"));
}

TEST_CASE("the atomic file writer names the file and the step, and leaves no temp file behind",
          "[checkpoint][errors]")
{
    temp_file t;
    SECTION("a missing directory: atomic_file_error with errno's text")
    {
        try {
            sb::detail::write_file_atomically(t.dir / "missing" / "f.json", "{}");
            FAIL("no atomic_file_error");
        } catch (sb::atomic_file_error const& e) {
            CHECK(e.file() == t.dir / "missing" / "f.json");
            CHECK(e.error_number() == ENOENT);
            CHECK_THAT(e.what(), Contains((t.dir / "missing" / "f.json").string()) &&
                                     Contains("cannot create") && Contains(std::strerror(ENOENT)));
        }
    }
    SECTION("a rename that fails (the target is a directory) removes the temp file")
    {
        fs::create_directory(t.path); // job.ckpt is a non-empty directory: rename onto it fails
        std::ofstream(t.path / "inside") << "x";
        CHECK_THROWS_AS(sb::detail::write_file_atomically(t.path, "{}"), sb::atomic_file_error);
        CHECK_THROWS_WITH(sb::detail::write_file_atomically(t.path, "{}"),
                          Contains(t.path.string()) &&
                              Contains("rename from " + t.path.string() + ".tmp failed"));
        CHECK_FALSE(fs::exists(t.path.string() + ".tmp"));
        // A checkpoint written there reports checkpoint_error, not the writer's own type.
        CHECK_THROWS_AS(sb::write_checkpoint(t.path, {}), sb::checkpoint_error);
        CHECK_THROWS_WITH(sb::write_checkpoint(t.path, {}),
                          Contains("streambatch: checkpoint " + t.path.string() + ": rename from"));
        CHECK_FALSE(fs::exists(t.path.string() + ".tmp"));
    }
    SECTION("success replaces the file and leaves only it")
    {
        sb::detail::write_file_atomically(t.path, "one");
        sb::detail::write_file_atomically(t.path, "two");
        std::ifstream in(t.path);
        std::string s;
        std::getline(in, s);
        CHECK(s == "two");
        CHECK(std::distance(fs::directory_iterator(t.dir), fs::directory_iterator()) == 1);
    }
}

TEST_CASE("checkpoint members are whole numbers, as detail::parse_whole reads them",
          "[checkpoint][errors]")
{
    temp_file t;
    for (std::string bad : {"-2", "2.0", "1e3", "+2", "18446744073709551616"}) {
        INFO(bad);
        std::string text = good;
        text.replace(text.find("\"batches\": 2"), 12, "\"batches\": " + bad);
        t.write(text);
        CHECK_THROWS_AS(sb::read_checkpoint(t.path), sb::checkpoint_error);
    }
}
