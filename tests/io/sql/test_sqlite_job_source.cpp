// SQLite keyset source (io/sql/job_source.hpp, io/sqlite/job_source.hpp): every row in key order
// with INT64_MIN, INT64_MAX and gaps; resume after every batch; partitions; positions under chunk
// and memory_guarded (page boundaries inside batches); identities refused with both named; seek;
// errors (NULL and repeated keys, a key not selected, bad parameters); no lock between pages.
#include <streambatch/io/sqlite.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "job_source_test_support.hpp"
#include "partition_test_support.hpp"
#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace sq = streambatch::sqlite;

namespace {

static_assert(sb::job_source<sq::keyset_source<>>);
static_assert(sb::job_source<sq::keyset_source<sb::sql::detail::tuple_parse<test::record>>>);
using rows_t = decltype(std::declval<sq::keyset_source<>&>().rows());
static_assert(std::ranges::view<rows_t> && std::ranges::input_range<rows_t>);
static_assert(std::same_as<std::ranges::range_reference_t<rows_t>, sq::row&>);

constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

/// `name`(id INTEGER PRIMARY KEY, name, v) holding test::expected_records(keys).
void make_table(sq::database& db, std::string const& name,
                std::vector<std::int64_t> const& keys = test::job_keys())
{
    db.exec("CREATE TABLE " + name + "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, v INTEGER)");
    db.exec("BEGIN");
    for (auto const& [id, n, v] : test::expected_records(keys))
        db.exec("INSERT INTO " + name + " VALUES (?, ?, ?)", id, n, v);
    db.exec("COMMIT");
}

sq::keyset_spec spec_of(std::string const& table)
{
    return {.table = table, .columns = {"id", "name", "v"}, .key = "id"};
}

struct person {
    std::int64_t id;
    std::string name;
};

} // namespace

TEST_CASE("sqlite: a keyset source reads every row in key order, INT64_MIN and INT64_MAX included",
          "[sqlite][job_source]")
{
    test::temp_dir dir;
    sq::database db((dir / "k.db").string());
    make_table(db, "t");
    std::vector<test::record> const expected = test::expected_records(test::job_keys());
    for (std::size_t page : {1, 2, 3, 4, 5, 18, 19, 20, 1000}) {
        INFO("page size " << page);
        auto source = sq::read_keyset_as<test::record>(db, spec_of("t"), {.page_size = page});
        CHECK(source.sql() == "SELECT \"id\", \"name\", \"v\" FROM \"t\" ORDER BY \"id\"");
        CHECK(source.position().empty());
        std::vector<test::record> const got = test::read_all(source);
        CHECK(got == expected);
        CHECK(test::checksum(got) == test::checksum(expected));
        CHECK(source.pages() == expected.size() / page + 1); // the short page is the last
        CHECK(source.position() == std::to_string(int64_max));
        CHECK(source.stats()->rows_read == expected.size());
    }
    SECTION("rows as sqlite::row, and as a struct through a parse function")
    {
        auto raw = sq::read_keyset(db, spec_of("t"), {.page_size = 4});
        std::vector<std::int64_t> keys;
        for (sq::row& r : raw.rows()) {
            CHECK(r.column_names() == std::vector<std::string>{"id", "name", "v"});
            keys.push_back(r.get<std::int64_t>("id"));
        }
        CHECK(keys == test::job_keys());
        auto typed =
            sq::read_keyset_as(db, {.table = "t", .columns = {"name", "id"}, .key = "id"},
                               [](sq::row const& r) {
                                   return person{r.get<std::int64_t>(1), r.get<std::string>(0)};
                               },
                               {.page_size = 5});
        std::vector<person> const people = test::read_all(typed);
        REQUIRE(people.size() == expected.size());
        CHECK(people.front().id == int64_min);
        CHECK(people.back().name == std::get<1>(expected.back()));
        CHECK(typed.position() == std::to_string(int64_max));
    }
    SECTION("a where predicate with parameters, and a table in a schema")
    {
        auto source = sq::read_keyset_as<test::record>(db,
                                                       {.table = {"main", "t"},
                                                        .columns = {"id", "name", "v"},
                                                        .key = "id",
                                                        .where = "v = ? AND name <> ?"},
                                                       {.page_size = 2}, 1, "nobody");
        CHECK(source.sql() == "SELECT \"id\", \"name\", \"v\" FROM \"main\".\"t\" WHERE (v = ? AND "
                              "name <> ?) ORDER BY \"id\"");
        std::vector<test::record> want;
        for (auto const& r : expected)
            if (std::get<2>(r) == 1)
                want.push_back(r);
        CHECK(test::read_all(source) == want);
        CHECK(source.describe() ==
              "query on \"main\".\"t\" in database \"" + (dir / "k.db").string() + "\"");
    }
    SECTION("an empty table: no rows, the position stays where it was")
    {
        make_table(db, "none", {});
        auto source = sq::read_keyset_as<test::record>(db, spec_of("none"));
        CHECK(test::read_all(source).empty());
        CHECK(source.position().empty());
        auto resumed = sq::read_keyset_as<test::record>(db, spec_of("none"));
        resumed.seek("42");
        CHECK(test::read_all(resumed).empty());
        CHECK(resumed.position() == "42");
    }
}

TEST_CASE("sqlite: a keyset source resumed after batch k reads exactly the rows after, for every k",
          "[sqlite][job_source]")
{
    test::temp_dir dir;
    sq::database db((dir / "r.db").string());
    make_table(db, "t");
    for (auto [page, batch] : std::vector<std::pair<std::size_t, std::size_t>>{
             {4, 3}, {3, 3}, {2, 5}, {7, 1}, {1, 2}, {100, 4}, {5, 19}}) {
        INFO("page " << page << ", batch " << batch);
        test::check_resume_at_every_batch(
            [&] { return sq::read_keyset_as<test::record>(db, spec_of("t"), {.page_size = page}); },
            batch);
    }
    SECTION("resuming at INT64_MIN reads every row but the first; at INT64_MAX, none")
    {
        auto source = sq::read_keyset_as<test::record>(db, spec_of("t"));
        source.seek(std::to_string(int64_min));
        auto const rest = test::read_all(source);
        REQUIRE(rest.size() == test::job_keys().size() - 1);
        CHECK(std::get<0>(rest.front()) == int64_min + 1);
        auto at_end = sq::read_keyset_as<test::record>(db, spec_of("t"));
        at_end.seek(std::to_string(int64_max));
        CHECK(test::read_all(at_end).empty());
        CHECK(at_end.position() == std::to_string(int64_max));
    }
}

TEST_CASE("sqlite: after each batch the position is that batch's last key, under chunk and "
          "memory_guarded, with page boundaries inside batches",
          "[sqlite][job_source]")
{
    test::temp_dir dir;
    sq::database db((dir / "p.db").string());
    make_table(db, "t");
    std::vector<test::record> const expected = test::expected_records(test::job_keys());
    auto open = [&](std::size_t page) {
        return sq::read_keyset_as<test::record>(db, spec_of("t"), {.page_size = page});
    };
    for (std::size_t page : {1, 3, 4, 19}) {
        INFO("page size " << page);
        for (std::size_t n : {1, 3, 4, 5, 19, 50}) {
            INFO("chunk(" << n << ")");
            auto source = open(page);
            CHECK(test::check_positions(source, source.rows() | sb::views::chunk(n)) == expected);
        }
        {
            INFO("memory_guarded(3) with batch sizes 1, 2, 5, 3, 7");
            auto source = open(page);
            CHECK(test::check_positions(source, source.rows() |
                                                    sb::views::memory_guarded(
                                                        3, test::cycling_sizes{{1, 2, 5, 3, 7}})) ==
                  expected);
        }
        {
            INFO("memory_guarded(4) with the real memory guard");
            auto source = open(page);
            CHECK(test::check_positions(source, source.rows() | sb::views::memory_guarded(4)) ==
                  expected);
        }
    }
    SECTION("a batch that spans two pages: the position is the second page's row")
    {
        auto source = open(4);
        std::size_t b = 0;
        for (auto&& batch : source.rows() | sb::views::chunk(3)) {
            if (++b == 2) { // rows 4, 5, 6: the end of page 1 and the start of page 2
                CHECK(std::get<0>(batch[0]) == test::job_keys()[3]);
                CHECK(source.pages() == 2);
                CHECK(source.position() == std::to_string(test::job_keys()[5]));
                break;
            }
        }
    }
    SECTION("a row compared or looked at, but not passed, is not in the position")
    {
        auto source = open(4);
        auto rows = source.rows();
        auto it = rows.begin();
        REQUIRE(it != rows.end()); // reads row 1
        CHECK(source.position().empty());
        CHECK(std::get<0>(*it) == int64_min); // looks at it
        CHECK(source.position().empty());
        ++it; // passes it
        CHECK(source.position() == std::to_string(int64_min));
        REQUIRE(it != rows.end()); // reads row 2
        CHECK(std::get<0>(*it) == int64_min + 1);
        CHECK(source.position() == std::to_string(int64_min));
        ++it;
        ++it; // passes row 3 without looking at it: it was pulled all the same
        CHECK(source.position() == std::to_string(test::job_keys()[2]));
        CHECK(source.stats()->rows_read == 3);
    }
}

TEST_CASE("sqlite: keyset partitions: together they are the table, each resumable",
          "[sqlite][job_source][partition]")
{
    test::temp_dir dir;
    sq::database db((dir / "part.db").string());
    make_table(db, "t");
    std::vector<std::int64_t> const keys = test::job_keys();
    for (auto scheme : {sq::partition_scheme::key_range, sq::partition_scheme::hash}) {
        for (std::uint32_t count : {1u, 2u, 3u, 4u, 7u}) {
            INFO((scheme == sq::partition_scheme::key_range ? "key range" : "hash")
                 << ", " << count << " partitions");
            std::vector<std::int64_t> seen;
            for (std::uint32_t i = 0; i < count; ++i) {
                sq::partition_clause const part =
                    scheme == sq::partition_scheme::key_range
                        ? sq::key_range_partition(db, "t", "id", {i, count})
                        : sq::hash_partition(db, "t", "id", {i, count});
                sq::keyset_spec spec = spec_of("t");
                spec.partition = part;
                auto make = [&] {
                    return sq::read_keyset_as<test::record>(db, spec, {.page_size = 2});
                };
                auto source = make();
                CHECK(source.describe() == "query on \"t\", partition " +
                                               sb::partition{i, count}.str() + ", in database \"" +
                                               db.file() + "\"");
                auto const rows = test::read_all(source);
                for (std::size_t j = 0; j < rows.size(); ++j) {
                    seen.push_back(std::get<0>(rows[j]));
                    if (j > 0)
                        CHECK(std::get<0>(rows[j - 1]) < std::get<0>(rows[j]));
                }
                test::check_resume_at_every_batch(make, 3);
            }
            std::sort(seen.begin(), seen.end());
            CHECK(seen == keys); // each row in exactly one partition
        }
    }
    SECTION("a partition of another table is refused")
    {
        make_table(db, "u", {1, 2});
        sq::keyset_spec spec = spec_of("t");
        spec.partition = sq::key_range_partition(db, "u", "id", {0, 2});
        CHECK_THROWS_MATCHES(sq::read_keyset(db, spec), std::invalid_argument,
                             Catch::Message("streambatch::sqlite: keyset source: the partition is "
                                            "of \"u\", but the source reads \"t\""));
    }
}

TEST_CASE("sqlite: a keyset source refuses a checkpoint taken on another query, parameter, "
          "partition or column list, naming both",
          "[sqlite][job_source]")
{
    test::temp_dir dir;
    sq::database db((dir / "id.db").string());
    make_table(db, "t");
    test::check_identity_refusals(
        [&](std::string const& where, std::int64_t param, std::uint32_t part,
            std::vector<std::string> const& columns, std::size_t page) {
            return sq::read_keyset(db,
                                   {.table = "t",
                                    .columns = columns,
                                    .key = "id",
                                    .partition = sq::key_range_partition(db, "t", "id", {part, 4}),
                                    .where = where},
                                   {.page_size = page}, param);
        },
        "v >= ?", "v > ?");
    SECTION("the identity is one line, names the query, its parameters and the partition")
    {
        auto source = sq::read_keyset(db,
                                      {.table = "t",
                                       .columns = {"id", "name"},
                                       .key = "id",
                                       .partition = sq::hash_partition(db, "t", "id", {1, 3}),
                                       .where = "name <> ?\n  AND v <> ?"},
                                      std::string("it's"), nullptr);
        CHECK(source.identity() ==
              "query SELECT \"id\", \"name\" FROM \"t\" WHERE (streambatch_hash(\"id\") % 3 = 1) "
              "AND (name <> ?\\n  AND v <> ?) ORDER BY \"id\"\tparameters ('it''s', NULL)\t"
              "partition 1/3 by hash of \"id\"");
    }
}

TEST_CASE("sqlite: keyset source seek", "[sqlite][job_source]")
{
    test::temp_dir dir;
    sq::database db((dir / "s.db").string());
    make_table(db, "t");
    auto source = sq::read_keyset_as<test::record>(db, spec_of("t"), {.page_size = 3});
    for (std::string bad : {"abc", "12x", " 5", "+5", "5 ", "9223372036854775808", "1.5"}) {
        INFO(bad);
        CHECK_THROWS_MATCHES(
            source.seek(bad), std::invalid_argument,
            Catch::Message("streambatch::sqlite: query on \"t\" in database \"" + db.file() +
                           "\": cannot resume at position \"" + bad +
                           "\": a keyset source's position is the key of the last row read, a "
                           "64-bit integer"));
    }
    source.seek("1000");
    CHECK(source.position() == "1000");
    source.seek(""); // back to the start: INT64_MIN is read
    CHECK(source.position().empty());
    auto rows = source.rows();
    auto it = rows.begin();
    REQUIRE(it != rows.end());
    CHECK(std::get<0>(*it) == int64_min);
    CHECK_THROWS_MATCHES(source.seek("5"), std::logic_error,
                         Catch::Message("streambatch::sqlite: query on \"t\" in database \"" +
                                        db.file() +
                                        "\": seek() after the rows were read; seek first, then "
                                        "rows()"));
}

TEST_CASE("sqlite: keyset source errors", "[sqlite][job_source]")
{
    test::temp_dir dir;
    sq::database db((dir / "e.db").string());
    make_table(db, "t");
    SECTION("a key that is not selected, no columns, page size 0, an empty name")
    {
        CHECK_THROWS_MATCHES(
            sq::read_keyset(db, {.table = "t", .columns = {"name", "v"}, .key = "id"}),
            std::invalid_argument,
            Catch::Message("streambatch::sqlite: keyset source: the key \"id\" is not among the "
                           "columns (\"name\", \"v\"): select it, so that each row says where "
                           "it is"));
        CHECK_THROWS_MATCHES(sq::read_keyset(db, {.table = "t", .columns = {}, .key = "id"}),
                             std::invalid_argument,
                             Catch::Message("streambatch::sqlite: keyset source: no columns to "
                                            "select (the key must be one of them)"));
        CHECK_THROWS_MATCHES(sq::read_keyset(db, spec_of("t"), {.page_size = 0}),
                             std::invalid_argument,
                             Catch::Message("streambatch::sqlite: keyset source: page_size must "
                                            "be at least 1"));
        CHECK_THROWS_AS(sq::read_keyset(db, {.table = "", .columns = {"id"}, .key = "id"}),
                        std::invalid_argument);
    }
    SECTION("parameters the where predicate does not have")
    {
        CHECK_THROWS_MATCHES(
            sq::read_keyset(db, {.table = "t", .columns = {"id"}, .key = "id", .where = "v = ?"}),
            std::invalid_argument,
            Catch::Message("streambatch::sqlite: keyset source: \"SELECT \\\"id\\\" FROM "
                           "\\\"t\\\" WHERE (v = ?) ORDER BY \\\"id\\\"\" has 1 parameters, given "
                           "0 (the where predicate's; the key's is added after them, as ?1)"));
        CHECK_THROWS_AS(sq::read_keyset(db, {.table = "t", .columns = {"id"}, .key = "id"}, 5),
                        std::invalid_argument);
    }
    SECTION("an unknown column is the database's error, at construction (not a string)")
    {
        CHECK_THROWS_WITH(
            sq::read_keyset(db, {.table = "t", .columns = {"id", "nmae"}, .key = "id"}),
            Catch::Contains("no such column: nmae"));
        CHECK_THROWS_AS(sq::read_keyset(db, {.table = "t", .columns = {"id", "nmae"}, .key = "id"}),
                        sq::error);
    }
    SECTION("rows with a NULL key: refused at the first read, with their count")
    {
        db.exec("CREATE TABLE n(k INTEGER, x TEXT)");
        db.exec("INSERT INTO n VALUES (1, 'a'), (NULL, 'b'), (3, 'c'), (NULL, 'd')");
        auto source = sq::read_keyset(db, {.table = "n", .columns = {"k", "x"}, .key = "k"});
        auto rows = source.rows();
        CHECK_THROWS_MATCHES(
            rows.begin(), sb::partition_error,
            Catch::Message("streambatch::sqlite: query on \"n\" in database \"" + db.file() +
                           "\": 2 rows have a NULL \"k\": a keyset read (\"k\" > the last key, "
                           "ORDER BY \"k\") never reaches them; give them a key, or add \"k\" IS "
                           "NOT NULL to the where predicate to leave them out"));
        auto without = sq::read_keyset_as<std::tuple<std::int64_t, std::string>>(
            db, {.table = "n", .columns = {"k", "x"}, .key = "k", .where = "k IS NOT NULL"});
        CHECK(test::read_all(without) ==
              std::vector<std::tuple<std::int64_t, std::string>>{{1, "a"}, {3, "c"}});
    }
    SECTION("a repeated key inside a page, a key that is not an integer: row_error")
    {
        db.exec("CREATE TABLE d(k INTEGER, x TEXT)");
        db.exec("INSERT INTO d VALUES (1, 'a'), (2, 'b'), (2, 'c'), (3, 'd')");
        auto dup = sq::read_keyset(db, {.table = "d", .columns = {"k", "x"}, .key = "k"},
                                   {.page_size = 10});
        std::vector<std::string> xs;
        try {
            for (auto& r : dup.rows())
                xs.push_back(r.get<std::string>(1));
            FAIL("a repeated key was read");
        } catch (sq::row_error const& e) {
            CHECK(e.row() == 3);
            CHECK(e.column() == 0);
            CHECK_THAT(e.what(),
                       Catch::Contains("row 3, column 0 (\"k\"): the key 2 is not above the "
                                       "previous key 2: the key must be unique"));
        }
        CHECK(xs == std::vector<std::string>{"a", "b"}); // the rows before it were handed out
        CHECK(dup.position() == "2");
        db.exec("CREATE TABLE x(k, v)");
        db.exec("INSERT INTO x VALUES (1, 'a'), ('two', 'b')");
        auto text = sq::read_keyset(db, {.table = "x", .columns = {"k", "v"}, .key = "k"});
        CHECK_THROWS_MATCHES(
            test::read_all(text), sq::row_error,
            Catch::Message("streambatch::sqlite: query \"SELECT \\\"k\\\", \\\"v\\\" FROM "
                           "\\\"x\\\" ORDER BY \\\"k\\\"\", row 2, column 0 (\"k\"): expected a "
                           "64-bit signed integer, found text \"two\""));
    }
    SECTION("bad rows under on_error::skip: rejected; the position is the last row handed out")
    {
        auto source = sq::read_keyset_as(db, spec_of("t"),
                                         [](sq::row const& r) {
                                             if (r.get<std::int64_t>(2) == 2)
                                                 throw std::runtime_error("v is 2");
                                             return r.get<std::int64_t>(0);
                                         },
                                         {.page_size = 4,
                                          .bad_rows = sq::on_error::skip,
                                          .max_skipped = 100,
                                          .reject_path = dir / "rejects.jsonl"});
        std::vector<std::int64_t> const got = test::read_all(source);
        std::vector<std::int64_t> want;
        for (auto const& [id, n, v] : test::expected_records(test::job_keys()))
            if (v != 2)
                want.push_back(id);
        CHECK(got == want);
        CHECK(source.position() == std::to_string(want.back()));
        CHECK(source.stats()->rows_skipped == test::job_keys().size() - want.size());
        auto const lines = test::read_lines(dir / "rejects.jsonl");
        CHECK(lines.size() == source.stats()->rows_skipped);
        CHECK_THAT(lines.at(0), Catch::Contains("v is 2"));
    }
}

TEST_CASE("sqlite: a keyset source holds no lock between pages: another connection writes "
          "meanwhile",
          "[sqlite][job_source]")
{
    test::temp_dir dir;
    sq::database db((dir / "w.db").string());
    make_table(db, "t");
    db.exec("CREATE TABLE out(id INTEGER PRIMARY KEY)");
    sq::database writer((dir / "w.db").string());
    writer.exec("PRAGMA busy_timeout = 0"); // SQLITE_BUSY at once if the reader held a lock
    auto source = sq::read_keyset_as<test::record>(db, spec_of("t"), {.page_size = 4});
    std::size_t n = 0;
    for (auto&& batch : source.rows() | sb::views::chunk(3)) { // page ends inside batches too
        sq::inserter out(writer, "INSERT INTO out VALUES (?)");
        std::vector<std::tuple<std::int64_t>> ids;
        for (auto const& r : batch)
            ids.emplace_back(std::get<0>(r));
        out.write(ids);
        n += batch.size();
    }
    CHECK(n == test::job_keys().size());
    CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM out") ==
          static_cast<std::int64_t>(test::job_keys().size()));
}
