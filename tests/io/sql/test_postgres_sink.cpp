// The PostgreSQL sink: postgres::copy_sink, COPY text-format escaping, a transaction per batch,
// rollback with SQLSTATE and batch index, the hook. Runs against pg_server.sh's server.
#include <streambatch/io/postgres.hpp>
#include <streambatch/views/chunk.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace pg = streambatch::postgres;

namespace {

using record = std::tuple<std::int64_t, std::string>;
template <class Sink, class Batch, class... Hook>
concept can_write =
    requires(Sink& sink, Batch const& batch, Hook... hook) { sink.write(batch, hook...); };
static_assert(can_write<pg::copy_sink<>, std::vector<record>>);
static_assert(can_write<pg::copy_sink<>, std::vector<record>, decltype([](pg::connection&) {})>);
static_assert(!can_write<pg::copy_sink<>, std::vector<record>, decltype([](int) {})>);

pg::connection connect()
{
    test::use_test_server();
    return pg::connection();
}

std::vector<record> records(std::int64_t first, std::int64_t last)
{
    std::vector<record> v;
    for (std::int64_t i = first; i <= last; ++i)
        v.emplace_back(i, "name " + std::to_string(i));
    return v;
}

std::string encode(auto const& v)
{
    std::string out;
    pg::append_copy_field(out, v);
    return out;
}

std::vector<std::int64_t> ids(pg::connection& conn, std::string const& table)
{
    std::vector<std::int64_t> out;
    for (auto&& r : pg::query(conn, "SELECT id FROM " + table + " ORDER BY id"))
        out.push_back(r.get<std::int64_t>(0));
    return out;
}

} // namespace

TEST_CASE("postgres: COPY text format escapes backslash, tab, newline and CR, and writes NULL as "
          "backslash-N",
          "[postgres][sink]")
{
    CHECK(encode(std::string_view("plain")) == "plain");
    CHECK(encode(std::string_view("a\tb\nc\rd\\e")) == "a\\tb\\nc\\rd\\\\e");
    CHECK(encode(std::string_view("\\N")) == "\\\\N"); // the text, not NULL
    CHECK(encode(std::string_view("\\.")) == "\\\\."); // not the end-of-data marker
    CHECK(encode(nullptr) == "\\N");
    CHECK(encode(std::optional<int>{}) == "\\N");
    CHECK(encode(std::optional<int>{-3}) == "-3");
    CHECK(encode(true) == "t");
    CHECK(encode(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    CHECK(encode(-std::numeric_limits<double>::infinity()) == "-Infinity");
    CHECK(encode(0.1) == "0.1");
    CHECK(encode(std::vector<std::byte>{std::byte{0}, std::byte{0xfe}}) == "\\\\x00fe");
    CHECK(encode(std::string_view("\u2603")) == "\u2603");
}

TEST_CASE("postgres: copy_sink writes each batch with one COPY in one transaction",
          "[postgres][sink]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("copy");
    conn.exec("CREATE TABLE " + table +
              "(id bigint PRIMARY KEY, name text NOT NULL, xid bigint DEFAULT txid_current())");
    pg::copy_sink sink(conn, table, {"id", "name"});
    CHECK(sink.sql() == "COPY " + table + " (\"id\", \"name\") FROM STDIN (FORMAT text)");
    std::size_t written = 0;
    for (auto batch : records(1, 10) | sb::views::chunk(4))
        written += sink.write(batch);
    CHECK(written == 10);
    CHECK(sink.rows_written() == 10);
    CHECK(sink.batches() == 3);
    CHECK(!conn.in_transaction());
    CHECK(ids(conn, table) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    CHECK(conn.scalar<std::int64_t>("SELECT count(DISTINCT xid) FROM " + table) ==
          3); // one transaction each

    SECTION("big batches are sent in pieces")
    {
        std::string const wide = test::unique_name("wide");
        conn.exec("CREATE TABLE " + wide + "(id bigint, payload text)");
        pg::copy_sink big(conn, wide, {},
                          [](std::int64_t i) { return std::tuple(i, std::string(1000, 'x')); });
        std::vector<std::int64_t> batch(5000);
        for (std::size_t i = 0; i < batch.size(); ++i)
            batch[i] = static_cast<std::int64_t>(i);
        CHECK(big.write(batch) == 5000);
        CHECK(conn.scalar<std::int64_t>("SELECT sum(length(payload)) FROM " + wide) == 5'000'000);
    }
}

TEST_CASE("postgres: NULLs and special characters round-trip through COPY", "[postgres][sink]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("special");
    conn.exec("CREATE TABLE " + table +
              "(id int PRIMARY KEY, v text, d float8, b bool, bin bytea)");
    using rec = std::tuple<int, std::optional<std::string>, std::optional<double>,
                           std::optional<bool>, std::optional<std::vector<std::byte>>>;
    std::vector<rec> const batch{
        {1, "tab\there", 1.5, true,
         std::vector<std::byte>{std::byte{0}, std::byte{0x5c}, std::byte{0x0a}}},
        {2, "new\nline and CR\r\n", -0.0, false, std::nullopt},
        {3, "back\\slash", std::numeric_limits<double>::infinity(), std::nullopt,
         std::vector<std::byte>{}},
        {4, "\\N", std::numeric_limits<double>::quiet_NaN(), true, std::nullopt},
        {5, "\\.", 1e-300, true, std::nullopt},
        {6, "trailing backslash \\", 0.1, true, std::nullopt},
        {7, "unicode: na\u00efve \u2603 \U0001F600", 3.0, true, std::nullopt},
        {8, "", 0.0, true, std::nullopt},
        {9, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
        {10, "quotes ' \" , ; and a comma", 2.0, false, std::nullopt},
    };
    pg::copy_sink(conn, table, {"id", "v", "d", "b", "bin"}).write(batch);
    std::size_t i = 0;
    for (auto&& r :
         pg::query_as<rec>(conn, "SELECT id, v, d, b, bin FROM " + table + " ORDER BY id")) {
        INFO("id " << std::get<0>(r));
        REQUIRE(i < batch.size());
        CHECK(std::get<0>(r) == std::get<0>(batch[i]));
        CHECK(std::get<1>(r) == std::get<1>(batch[i]));
        auto const& want = std::get<2>(batch[i]);
        auto const& got = std::get<2>(r);
        REQUIRE(got.has_value() == want.has_value());
        if (want && std::isnan(*want))
            CHECK(std::isnan(*got));
        else if (want)
            CHECK((*got == *want && std::signbit(*got) == std::signbit(*want)));
        CHECK(std::get<3>(r) == std::get<3>(batch[i]));
        CHECK(std::get<4>(r) == std::get<4>(batch[i]));
        ++i;
    }
    CHECK(i == batch.size());
}

TEST_CASE("postgres: a constraint violation rolls its batch back with SQLSTATE and the batch index",
          "[postgres][sink]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("strict");
    conn.exec("CREATE TABLE " + table + "(id bigint PRIMARY KEY, name text NOT NULL)");
    pg::copy_sink sink(conn, table, {"id", "name"});
    sink.write(records(1, 2));
    sink.write(records(3, 4));

    SECTION("unique: 23505")
    {
        auto bad = records(5, 7);
        std::get<0>(bad[2]) = 3; // already committed by batch 1
        try {
            sink.write(bad);
            FAIL("no error");
        } catch (pg::batch_error const& e) {
            CHECK(e.sqlstate() == "23505");
            CHECK(e.batch_index() == 2);
            CHECK(e.row_index() == 2); // from the server's "COPY <table>, line 3"
            CHECK_THAT(e.server_message(),
                       Catch::StartsWith("duplicate key value violates unique constraint"));
            CHECK(e.detail() == "Key (id)=(3) already exists.");
            CHECK_THAT(std::string(e.what()),
                       Catch::StartsWith("streambatch::postgres: batch 2, row 2 (0-based) into " +
                                         table + " on ") &&
                           Catch::Contains("ERROR 23505: duplicate key value"));
        }
    }
    SECTION("not null: 23502")
    {
        std::vector<std::tuple<int, std::optional<std::string>>> const bad{{5, "five"},
                                                                           {6, std::nullopt}};
        pg::copy_sink loose(conn, table, {"id", "name"});
        try {
            loose.write(bad);
            FAIL("no error");
        } catch (pg::batch_error const& e) {
            CHECK(e.sqlstate() == "23502");
            CHECK(e.batch_index() == 0); // this sink's first batch
            CHECK(e.row_index() == 1);
            CHECK_THAT(e.server_message(), Catch::Contains("\"name\"") &&
                                               Catch::Contains("violates not-null constraint"));
        }
    }
    SECTION("a value the column cannot take: 22P02")
    {
        pg::copy_sink text_ids(conn, table, {"id", "name"}, [](record const& r) {
            return std::tuple("x" + std::to_string(std::get<0>(r)), std::get<1>(r));
        });
        CHECK_THROWS_MATCHES(
            text_ids.write(records(5, 6)), pg::batch_error,
            Catch::Matchers::Predicate<pg::batch_error>([](pg::batch_error const& e) {
                return e.sqlstate() == "22P02" && e.row_index() == 0;
            }));
    }
    CHECK(!conn.in_transaction());
    CHECK(ids(conn, table) == std::vector<std::int64_t>{1, 2, 3, 4}); // only the earlier batches
    sink.write(records(5, 6));                                        // and the sink goes on
    CHECK(ids(conn, table).size() == 6);
}

TEST_CASE("postgres: a record that fails on the client aborts the COPY and rolls back",
          "[postgres][sink]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("client");
    conn.exec("CREATE TABLE " + table + "(id bigint PRIMARY KEY, name text)");

    SECTION("the mapping function throws")
    {
        pg::copy_sink sink(conn, table, {"id", "name"}, [](record const& r) {
            if (std::get<0>(r) == 3)
                throw std::invalid_argument("record 3 has no name");
            return r;
        });
        try {
            sink.write(records(1, 5));
            FAIL("no error");
        } catch (pg::batch_error const& e) {
            CHECK(e.batch_index() == 0);
            CHECK(e.row_index() == 2);
            CHECK_THAT(std::string(e.what()), Catch::Contains("record 3 has no name"));
            CHECK_THROWS_AS(std::rethrow_if_nested(e), std::invalid_argument);
        }
    }
    SECTION("the record maps to the wrong number of columns")
    {
        pg::copy_sink sink(conn, table, {"id"});
        CHECK_THROWS_WITH(sink.write(records(1, 2)),
                          Catch::Contains("has 1 columns, the record maps to 2 values"));
    }
    CHECK(!conn.in_transaction());
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + table) == 0);
}

TEST_CASE("postgres: the hook runs in the batch's transaction: a checkpoint commits with its batch",
          "[postgres][sink]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("events");
    std::string const checkpoints = test::unique_name("checkpoint");
    conn.exec("CREATE TABLE " + table + "(id bigint PRIMARY KEY, name text)");
    conn.exec("CREATE TABLE " + checkpoints + "(job text PRIMARY KEY, last_id bigint)");
    conn.exec("INSERT INTO " + checkpoints + " VALUES ('load', 0)");
    pg::copy_sink sink(conn, table, {"id", "name"});
    auto checkpoint = [&](std::int64_t last) {
        return [&, last](pg::connection& c) {
            CHECK(c.in_transaction());
            c.exec("UPDATE " + checkpoints + " SET last_id = $1 WHERE job = 'load'", last);
        };
    };
    for (auto batch : records(1, 4) | sb::views::chunk(2))
        sink.write(batch, checkpoint(std::get<0>(batch.back())));
    CHECK(conn.scalar<std::int64_t>("SELECT last_id FROM " + checkpoints) == 4);

    SECTION("a hook that throws rolls the batch back")
    {
        try {
            sink.write(records(5, 6), [&](pg::connection& c) {
                c.exec("UPDATE " + checkpoints + " SET last_id = 6");
                throw std::runtime_error("checkpoint store unavailable");
            });
            FAIL("no error");
        } catch (pg::batch_error const& e) {
            CHECK(e.batch_index() == 2);
            CHECK(e.row_index() == pg::batch_error::npos);
            CHECK_THAT(std::string(e.what()),
                       Catch::Contains("in the hook: checkpoint store unavailable"));
            CHECK_THROWS_AS(std::rethrow_if_nested(e), std::runtime_error);
        }
    }
    SECTION("a hook whose SQL fails rolls the batch back")
    {
        CHECK_THROWS_MATCHES(
            sink.write(records(5, 6), [](pg::connection& c) { c.exec("UPDATE nope SET x = 1"); }),
            pg::batch_error,
            Catch::Matchers::Predicate<pg::batch_error>([](pg::batch_error const& e) {
                return e.sqlstate() == "42P01" && e.batch_index() == 2;
            }));
    }
    CHECK(!conn.in_transaction());
    CHECK(ids(conn, table).size() == 4);
    CHECK(conn.scalar<std::int64_t>("SELECT last_id FROM " + checkpoints) == 4);
}

TEST_CASE("postgres: a sink refuses a connection inside a transaction", "[postgres][sink]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("busy");
    conn.exec("CREATE TABLE " + table + "(id bigint, name text)");
    pg::copy_sink sink(conn, table);
    auto rows = pg::query(conn, "SELECT 1");
    (void)rows.begin(); // a cursor holds the transaction
    CHECK_THROWS_WITH(sink.write(records(1, 2)), Catch::Contains("already in a transaction"));
}

TEST_CASE("postgres: a cursor's batches flow into a copy_sink on a second connection",
          "[postgres][sink][source]")
{
    pg::connection src = connect();
    pg::connection dst = connect();
    std::string const from = test::unique_name("src");
    std::string const to = test::unique_name("dst");
    src.exec("CREATE TABLE " + from +
             " AS SELECT g::bigint AS id, 'row ' || g AS name FROM generate_series(1, 5000) g");
    dst.exec("CREATE TABLE " + to + "(id bigint PRIMARY KEY, name text)");
    pg::copy_sink out(dst, to, {"id", "name"});
    for (auto&& batch : pg::query_as<record>(src, "SELECT id, name FROM " + from + " WHERE id > $1",
                                             {.fetch_size = 500}, 1000) |
                            sb::views::memory_guarded(500))
        out.write(batch);
    CHECK(out.rows_written() == 4000);
    CHECK(dst.scalar<std::int64_t>("SELECT sum(id) FROM " + to) == 12'502'500 - 500'500);
    CHECK(dst.scalar<std::string>("SELECT name FROM " + to + " WHERE id = 4321") == "row 4321");
}

TEST_CASE("postgres: copy_sink inserts a small COPY that would fill the server's buffer row by "
          "row, a large or wide one buffered, and writes the same rows either way",
          "[postgres][sink][path]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("paths");
    conn.exec("CREATE TABLE " + table + "(id bigint PRIMARY KEY, name text NOT NULL)");
    pg::copy_sink sink(conn, table, {"id", "name"});
    CHECK(sink.path() == pg::copy_path::automatic);
    CHECK_THAT(sink.sql_for(1000), Catch::EndsWith("WHERE random() >= 0"));

    sink.write(records(1, 1000)); // 1000 short rows: the server would make 1000 slots
    CHECK(sink.last_path() == pg::copy_path::row_by_row);
    sink.write(records(1001, 1400)); // 400: fewer than the 600 that cost
    CHECK(sink.last_path() == pg::copy_path::buffered);
    sink.write(records(1401, 6400)); // 5000: the server's cost is spread over enough rows
    CHECK(sink.last_path() == pg::copy_path::buffered);
    sink.path(pg::copy_path::buffered);
    sink.write(records(6401, 7400));
    CHECK(sink.last_path() == pg::copy_path::buffered);
    sink.path(pg::copy_path::row_by_row);
    sink.write(records(7401, 12400));
    CHECK(sink.last_path() == pg::copy_path::row_by_row);
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + table) == 12400);
    CHECK(conn.scalar<std::int64_t>("SELECT count(DISTINCT id) FROM " + table) == 12400);
    CHECK(conn.scalar<std::int64_t>("SELECT sum(id) FROM " + table) == 12400LL * 12401 / 2);
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + table +
                                    " WHERE name = 'name ' || id") == 12400);

    // Wide rows: the server writes its buffer out at 64 KiB, so 1000 of them never make the
    // slots that cost; known once a batch of them has been sent.
    std::string const wide = test::unique_name("wide");
    conn.exec("CREATE TABLE " + wide + "(id bigint, name text)");
    pg::copy_sink widen(conn, wide, {}, [](record const& r) {
        return std::tuple(std::get<0>(r), std::get<1>(r) + std::string(300, 'x'));
    });
    widen.format(pg::copy_format::text);
    widen.write(records(1, 1000));
    CHECK(widen.last_path() == pg::copy_path::row_by_row); // no size known yet: taken as short
    widen.write(records(1001, 2000));
    CHECK(widen.last_path() == pg::copy_path::buffered);
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + wide) == 2000);
    // In binary format the server counts rows only, not their bytes: 1000 wide rows fill it.
    widen.format(pg::copy_format::automatic);
    widen.write(records(2001, 3000));
    CHECK(widen.last_format() == pg::copy_format::binary);
    CHECK(widen.last_path() == pg::copy_path::row_by_row);
}

TEST_CASE("postgres: a bad row of a COPY inserted row by row names its batch and row, and rolls "
          "the batch back",
          "[postgres][sink][path]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("bypath");
    conn.exec("CREATE TABLE " + table + "(id bigint PRIMARY KEY, name text NOT NULL)");
    pg::copy_sink sink(conn, table, {"id", "name"});
    auto const path = GENERATE(pg::copy_path::row_by_row, pg::copy_path::buffered);
    sink.path(path);
    sink.write(records(1, 10));
    auto bad = records(11, 1010);
    std::get<0>(bad[700]) = 5; // already committed
    try {
        sink.write(bad);
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK(sink.last_path() == path);
        CHECK(e.sqlstate() == "23505");
        CHECK(e.batch_index() == 1);
        CHECK(e.row_index() == 700);
        CHECK_THAT(
            std::string(e.what()),
            Catch::StartsWith("streambatch::postgres: batch 1, row 700 (0-based) into " + table));
    }
    CHECK(!conn.in_transaction());
    CHECK(ids(conn, table).size() == 10);
}

namespace {

// Every type the binary format is written for, NULLs, and values the text format escapes.
using typed = std::tuple<bool, int, long, long long, float, double, std::string, std::string_view,
                         std::string, std::vector<std::byte>, std::optional<int>>;

std::string const typed_columns =
    "(b boolean, s smallint, i integer, l bigint, r real, d double precision, t text, "
    "v varchar(12), c char(3), y bytea, n integer)";

// `views` keeps the strings the rows' string_views point into.
std::vector<typed> typed_rows(std::vector<std::string>& views)
{
    std::vector<typed> v;
    views.clear();
    views.reserve(1200);
    auto const bytes = [](std::initializer_list<int> l) {
        std::vector<std::byte> out;
        for (int b : l)
            out.push_back(static_cast<std::byte>(b));
        return out;
    };
    v.emplace_back(true, -32768, std::numeric_limits<std::int32_t>::min(),
                   std::numeric_limits<long long>::min(), 1.5f, -0.0, "tab\there\nnewline\\",
                   "ünïcødé", "ab", bytes({0, 255, 10, 9}), std::nullopt);
    v.emplace_back(false, 32767, std::numeric_limits<std::int32_t>::max(),
                   std::numeric_limits<long long>::max(), -std::numeric_limits<float>::infinity(),
                   std::numeric_limits<double>::quiet_NaN(), "", "", "xyz", bytes({}), 7);
    for (int i = 0; i < 1200; ++i) { // enough for the row-by-row path and a second flush
        views.push_back("v" + std::to_string(i));
        v.emplace_back(i % 2 == 0, i % 30000, i * 1000, 1LL << 40 | i, i / 4.0f, i * 0.125,
                       "row " + std::to_string(i), views.back(), "c", bytes({i % 256}),
                       i % 3 ? std::optional<int>(i) : std::nullopt);
    }
    return v;
}

} // namespace

TEST_CASE("postgres: copy_sink sends rows in COPY's binary format when the columns take them, and "
          "stores the same values as the text format",
          "[postgres][sink][format]")
{
    pg::connection conn = connect();
    std::string const as_text = test::unique_name("as_text");
    std::string const as_binary = test::unique_name("as_binary");
    conn.exec("CREATE TABLE " + as_text + typed_columns);
    conn.exec("CREATE TABLE " + as_binary + typed_columns);
    pg::copy_sink text(conn, as_text);
    text.format(pg::copy_format::text);
    pg::copy_sink binary(conn, as_binary);
    CHECK(binary.format() == pg::copy_format::automatic);
    std::vector<std::string> views;
    auto const rows = typed_rows(views);
    text.write(rows);
    binary.write(rows);
    CHECK(text.last_format() == pg::copy_format::text);
    CHECK(binary.last_format() == pg::copy_format::binary);
    CHECK_THAT(binary.sql_for(10), Catch::Contains("(FORMAT binary)"));
    CHECK(binary.rows_written() == rows.size());
    auto const count = [&](std::string const& sql) { return conn.scalar<std::int64_t>(sql); };
    CHECK(count("SELECT count(*) FROM " + as_binary) == 1202);
    // Row for row the same values (NaN equals NaN and -0 equals 0 in SQL: checked apart below).
    CHECK(count("SELECT count(*) FROM (SELECT * FROM " + as_binary + " EXCEPT ALL SELECT * FROM " +
                as_text + ") x") == 0);
    CHECK(count("SELECT count(*) FROM (SELECT * FROM " + as_text + " EXCEPT ALL SELECT * FROM " +
                as_binary + ") x") == 0);
    CHECK(conn.scalar<std::string>("SELECT t || '|' || v || '|' || c || '|' || encode(y, 'hex') "
                                   "FROM " +
                                   as_binary + " WHERE s = -32768") ==
          "tab\there\nnewline\\|ünïcødé|ab|00ff0a09");
    CHECK(conn.scalar<std::string>("SELECT d::text || ' ' || r::text FROM " + as_binary +
                                   " WHERE s = 32767") == "NaN -Infinity");
    CHECK(conn.scalar<std::string>("SELECT l::text FROM " + as_binary + " WHERE s = 32767") ==
          "9223372036854775807");
    CHECK(count("SELECT count(*) FROM " + as_binary + " WHERE n IS NULL") == 1 + 400);
    CHECK(conn.scalar<std::string>("SELECT d::text || ' ' || r::text FROM " + as_binary +
                                   " WHERE s = -32768") == "-0 1.5");
    CHECK(count("SELECT count(DISTINCT v) FROM " + as_binary) == 1202);
}

TEST_CASE("postgres: copy_sink in binary format: a span of bytes, unsigned and narrow integers, "
          "write_rows in the caller's transaction and quoted mixed-case columns",
          "[postgres][sink][format]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("mixed");
    conn.exec("CREATE TABLE " + table + "(\"Id\" bigint, \"Small One\" smallint, blob bytea)");
    using row = std::tuple<unsigned long long, int, std::span<std::byte const>>;
    std::vector<std::byte> const blob{std::byte{1}, std::byte{0}, std::byte{254}};
    pg::copy_sink sink(conn, table, {"Id", "Small One", "blob"});
    conn.exec("BEGIN");
    sink.write_rows(std::vector<row>{{42u, -32768, blob}, {43u, 7, {}}});
    CHECK(sink.last_format() == pg::copy_format::binary);
    conn.exec("COMMIT");
    CHECK(conn.scalar<std::string>("SELECT string_agg(\"Id\" || ':' || \"Small One\" || ':' || "
                                   "encode(blob, 'hex'), ' ' ORDER BY \"Id\") FROM " +
                                   table) == "42:-32768:0100fe 43:7:");

    auto const refused = [&](row r, std::string const& what) {
        try {
            sink.write(std::vector<row>{{1u, 1, {}}, r});
            FAIL("no error");
        } catch (pg::batch_error const& e) {
            CHECK(e.row_index() == 1);
            CHECK_THAT(std::string(e.what()), Catch::Contains(what));
        }
        CHECK(!conn.in_transaction());
    };
    refused({18'446'744'073'709'551'615u, 1, {}},
            "column Id: 18446744073709551615 is out of range for type bigint");
    refused({2u, -32769, {}}, "column Small One: -32769 is out of range for type smallint");
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + table) == 2);

    // A double into a real column: the text format, which rounds and range-checks on the server.
    std::string const reals = test::unique_name("reals");
    conn.exec("CREATE TABLE " + reals + "(x real)");
    pg::copy_sink into_real(conn, reals);
    using one = std::tuple<double>;
    into_real.write(std::vector<one>{{0.5}});
    CHECK(into_real.last_format() == pg::copy_format::text);
    CHECK_THROWS_WITH(into_real.write(std::vector<one>{{1e39}}),
                      Catch::Contains("out of range for type real"));
}

TEST_CASE("postgres: copy_sink reads the column types again in each binary batch's transaction: "
          "a table altered between batches gets its new encoding or the text format, never the "
          "old bytes",
          "[postgres][sink][format]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("altered");
    conn.exec("CREATE TABLE " + table + "(id integer, ts bigint)");
    using row = std::tuple<std::int64_t, std::int64_t>;
    pg::copy_sink sink(conn, table);
    sink.write(std::vector<row>{{1, 1'700'000'000}});
    CHECK(sink.last_format() == pg::copy_format::binary);

    // integer -> bigint: 8 bytes now, still binary.
    conn.exec("ALTER TABLE " + table + " ALTER COLUMN id TYPE bigint");
    sink.write(std::vector<row>{{5'000'000'000, 1'700'000'001}});
    CHECK(sink.last_format() == pg::copy_format::binary);
    CHECK(conn.scalar<std::int64_t>("SELECT max(id) FROM " + table) == 5'000'000'000);

    // bigint -> timestamptz: an integer is not a timestamp's bytes. The text format, whose
    // "1700000002" the server refuses, naming the row; nothing stored.
    conn.exec("ALTER TABLE " + table + " ALTER COLUMN ts TYPE timestamptz USING to_timestamp(ts)");
    try {
        sink.write(std::vector<row>{{3, 1'700'000'002}});
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK(sink.last_format() == pg::copy_format::text);
        CHECK(e.row_index() == 0);
        CHECK_THAT(e.sqlstate(), Catch::StartsWith("22")); // a datetime error
        CHECK_THAT(e.sql(), Catch::Contains("FORMAT text"));
    }
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + table) == 2);

    // Dropped and made again with the columns swapped: the new types, by name.
    std::string const swapped = test::unique_name("swapped");
    conn.exec("CREATE TABLE " + swapped + "(a bigint, b double precision)");
    using ab = std::tuple<std::int64_t, double>;
    pg::copy_sink into(conn, swapped);
    into.write(std::vector<ab>{{1, 2.5}});
    conn.exec("DROP TABLE " + swapped);
    conn.exec("CREATE TABLE " + swapped + "(a double precision, b bigint)");
    CHECK_THROWS_AS(into.write(std::vector<ab>{{1, 2.5}}), pg::batch_error); // "2.5" as bigint
    CHECK(into.last_format() == pg::copy_format::text);
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + swapped) == 0);
}

TEST_CASE("postgres: copy_sink falls back to text when a column does not take its value in binary "
          "format, and refuses a forced binary format naming the column",
          "[postgres][sink][format]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("dated");
    conn.exec("CREATE TABLE " + table + "(id bigint, day date)");
    using dated = std::tuple<std::int64_t, std::string>;
    std::vector<dated> const rows{{1, "2026-12-06"}, {2, "2026-01-31"}};
    pg::copy_sink sink(conn, table);
    sink.write(rows);
    CHECK(sink.last_format() == pg::copy_format::text);
    CHECK(conn.scalar<std::string>("SELECT max(day)::text FROM " + table) == "2026-12-06");

    pg::copy_sink forced(conn, table);
    forced.format(pg::copy_format::binary);
    CHECK_THROWS_WITH(forced.write(rows),
                      Catch::Contains("in binary format: column day (type 1082)") &&
                          Catch::Contains(table));
    CHECK(!conn.in_transaction());
    CHECK(forced.rows_written() == 0);
    CHECK(conn.scalar<std::int64_t>("SELECT count(*) FROM " + table) == 2);

    // A table that is not there yet: text (COPY names the missing table), binary once it is.
    std::string const later = test::unique_name("later");
    pg::copy_sink early(conn, later, {"id", "day"});
    CHECK_THROWS_AS(early.write(rows), pg::batch_error);
    CHECK(early.last_format() == pg::copy_format::text);
    conn.exec("CREATE TABLE " + later + "(id bigint, day text)");
    early.write(rows);
    CHECK(early.last_format() == pg::copy_format::binary);
    CHECK(conn.scalar<std::int64_t>("SELECT sum(id) FROM " + later) == 3);
}

TEST_CASE("postgres: in binary format, an integer a column cannot hold and a value the server "
          "refuses name their batch, row and column, and roll the batch back",
          "[postgres][sink][format]")
{
    pg::connection conn = connect();
    std::string const table = test::unique_name("narrow");
    conn.exec("CREATE TABLE " + table + "(id integer PRIMARY KEY, code varchar(3))");
    using row = std::tuple<std::int64_t, std::string>;
    auto rows = [](int first, int last) {
        std::vector<row> v;
        for (int i = first; i <= last; ++i)
            v.emplace_back(i, "c" + std::to_string(i % 10));
        return v;
    };
    pg::copy_sink sink(conn, table);
    sink.path(GENERATE(pg::copy_path::row_by_row, pg::copy_path::buffered));
    sink.write(rows(1, 10));
    CHECK(sink.last_format() == pg::copy_format::binary);

    auto too_big = rows(11, 1010);
    std::get<0>(too_big[300]) = 5'000'000'000;
    try {
        sink.write(too_big);
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK(e.batch_index() == 1);
        CHECK(e.row_index() == 300);
        CHECK_THAT(
            std::string(e.what()),
            Catch::StartsWith("streambatch::postgres: batch 1, row 300 (0-based) into " + table) &&
                Catch::Contains("column id: 5000000000 is out of range for type integer"));
    }
    CHECK(!conn.in_transaction());

    auto too_long = rows(11, 1010);
    std::get<1>(too_long[700]) = "four";
    try {
        sink.write(too_long);
        FAIL("no error");
    } catch (pg::batch_error const& e) {
        CHECK(e.sqlstate() == "22001");
        CHECK(e.batch_index() == 2);
        CHECK(e.row_index() == 700);
        CHECK_THAT(std::string(e.what()), Catch::Contains("column code"));
    }
    CHECK(!conn.in_transaction());
    CHECK(ids(conn, table).size() == 10);
    sink.write(rows(11, 1010)); // the sink goes on
    CHECK(ids(conn, table).size() == 1010);
    CHECK(sink.rows_written() == 1010);
}
