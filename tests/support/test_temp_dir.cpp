// tests/support/temp_dir.hpp: the helper every test's files live in.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>

#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

TEST_CASE("temp_dir makes a fresh directory and removes it, with its files, when it goes",
          "[support]")
{
    fs::path kept;
    {
        test::temp_dir dir;
        kept = dir.path();
        REQUIRE(fs::is_directory(kept));
        CHECK(kept.filename().string().rfind("streambatch-test-", 0) == 0);
        auto file = dir.write("sub.txt", "a,b\n");
        fs::create_directory(dir / "nested");
        dir.write("nested/x", "x");
        std::ifstream in(file);
        std::string line;
        std::getline(in, line);
        CHECK(line == "a,b");
        test::temp_dir other;
        CHECK(other.path() != kept); // mkdtemp: a new name each time
    }
    CHECK(!fs::exists(kept));
}

TEST_CASE("temp_dir moves ownership: only the last owner removes the directory", "[support]")
{
    test::temp_dir a;
    fs::path const p = a.path();
    test::temp_dir b(std::move(a));
    CHECK(b.path() == p);
    CHECK(a.path().empty());
    {
        test::temp_dir c;
        fs::path const old = c.path();
        c = std::move(b); // c's own directory goes now
        CHECK(!fs::exists(old));
        CHECK(fs::is_directory(p));
    }
    CHECK(!fs::exists(p));
}

TEST_CASE("temp_dir::write says which file it could not write", "[support]")
{
    test::temp_dir dir;
    CHECK_THROWS_WITH(dir.write("no/such/dir/f", "x"), Catch::Matchers::Contains("no/such/dir/f"));
}

TEST_CASE("temp_dir under a parent of the caller's choice, and its error names the path",
          "[support]")
{
    test::temp_dir parent;
    fs::path made;
    {
        test::temp_dir dir(parent.path(), "chosen-");
        made = dir.path();
        CHECK(made.parent_path() == parent.path());
        CHECK(made.filename().string().rfind("chosen-", 0) == 0);
        CHECK(made.filename().string().size() == std::string("chosen-XXXXXX").size());
        CHECK(fs::is_directory(made));
    }
    CHECK(!fs::exists(made));
    CHECK(fs::is_directory(parent.path())); // only its own directory goes
    CHECK_THROWS_AS(test::temp_dir(parent / "missing", "x-"), std::system_error);
    CHECK_THROWS_WITH(test::temp_dir(parent / "missing", "x-"),
                      Catch::Matchers::Contains((parent / "missing" / "x-XXXXXX").string()));
}
