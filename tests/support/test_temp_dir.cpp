// tests/support/temp_dir.hpp: the helper every test's files live in.
#include <catch2/catch.hpp>

#include "support/temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace fs = std::filesystem;

TEST_CASE("temp_dir makes a fresh directory and removes it, with its files, when it goes", "[support]")
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
