// The io family's shared layer (include/streambatch/io/detail/): the message quoter, the UTF-8
// check and JSON text writer, base64, the reject format both ways, the reject writer, the
// bad-row policy and the error templates (distinct types per component).
#include <streambatch/io/detail/bad_rows.hpp>
#include <streambatch/io/detail/base64.hpp>
#include <streambatch/io/detail/digits.hpp>
#include <streambatch/io/detail/json_text.hpp>
#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/detail/reject.hpp>
#include <streambatch/io/detail/reject_writer.hpp>
#include <streambatch/io/detail/utf8.hpp>
#include <streambatch/io/sqlite.hpp>
#if __has_include(<libpq-fe.h>)
#    include <streambatch/io/postgres.hpp>
#    define STREAMBATCH_TEST_POSTGRES 1
#endif

#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "sql_test_support.hpp"

namespace io = streambatch::io;
using namespace std::string_literals;

namespace {
std::string json_text(std::string_view s)
{
    std::string out;
    io::detail::append_json_text(out, s);
    return out;
}
std::string read_back(std::string const& json)
{
    std::string const file = "test";
    streambatch::detail::json_cursor in(json, file);
    return io::detail::read_json_text(in);
}
struct tag_a {
    static constexpr std::string_view prefix = "streambatch::a: ";
};
} // namespace

TEST_CASE("io: utf8_sequence accepts well-formed UTF-8 and nothing else", "[io][utf8]")
{
    using io::detail::is_utf8;
    CHECK(is_utf8(""));
    CHECK(is_utf8("plain ascii, with \t and \n"));
    CHECK(is_utf8("\0nul inside"s));
    CHECK(is_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")); // é € 😀
    CHECK(is_utf8("\xF4\x8F\xBF\xBF"));                          // U+10FFFF, the last code point
    CHECK_FALSE(is_utf8("\xFF"));                                // never in UTF-8
    CHECK_FALSE(is_utf8("\x80"));                                // a lone continuation byte
    CHECK_FALSE(is_utf8("\xC0\xAF"));                            // overlong '/'
    CHECK_FALSE(is_utf8("\xE0\x80\xAF"));                        // overlong, three bytes
    CHECK_FALSE(is_utf8("\xED\xA0\x80"));                        // a UTF-16 surrogate, U+D800
    CHECK_FALSE(is_utf8("\xF4\x90\x80\x80"));                    // above U+10FFFF
    CHECK_FALSE(is_utf8("caf\xC3"));                             // cut at the end
    CHECK_FALSE(is_utf8("\xE2\x82"));                            // cut, three bytes
    CHECK_FALSE(is_utf8("\xE2\x82x"));                           // cut by an ASCII byte
    CHECK(io::detail::utf8_sequence("\xF0\x9F\x98\x80", 0) == 4);
    CHECK(io::detail::utf8_sequence("a\xC3\xA9", 1) == 2);
}

TEST_CASE("io: quote shows a value one way: 60 bytes, hex escapes in uppercase, UTF-8 kept",
          "[io][quote]")
{
    using io::detail::quote;
    CHECK(quote("abc") == "\"abc\"");
    CHECK(quote("") == "\"\"");
    CHECK(quote("say \"hi\" \\ bye") == R"("say \"hi\" \\ bye")");
    CHECK(quote("a\nb\tc\rd") == R"("a\x0Ab\x09c\x0Dd")");
    CHECK(quote("\0\x1F\x7F"s) == R"("\x00\x1F\x7F")");
    CHECK(quote("caf\xC3\xA9") == "\"caf\xC3\xA9\"");    // well-formed UTF-8 is kept
    CHECK(quote("bad \xFF\xC3") == R"("bad \xFF\xC3")"); // stray and cut bytes are escaped
    CHECK(quote(std::string(60, 'x')) == "\"" + std::string(60, 'x') + "\"");
    CHECK(quote(std::string(61, 'x')) == "\"" + std::string(60, 'x') + "\"... (61 bytes)");
    // The cut never splits a character: 59 bytes, then a 2-byte é that would pass the limit.
    CHECK(quote(std::string(59, 'x') + "\xC3\xA9") ==
          "\"" + std::string(59, 'x') + "\"... (61 bytes)");
    // Messages stay one line of valid UTF-8 whatever the value.
    std::string const all = [] {
        std::string s;
        for (int c = 0; c < 256; ++c)
            s += static_cast<char>(c);
        return s;
    }();
    std::string const q = quote(all);
    CHECK(io::detail::is_utf8(q));
    CHECK(q.find('\n') == std::string::npos);
}

TEST_CASE("io: JSON text is a string when it is UTF-8 and base64 otherwise, and reads back",
          "[io][json]")
{
    CHECK(json_text("plain") == R"("plain")");
    CHECK(json_text("q\"b\\") == R"("q\"b\\")");
    CHECK(json_text("a\nb\rc\td") == R"("a\nb\rc\td")");
    CHECK(json_text("\0\x01\x1F\x7F"s) == R"("\u0000\u0001\u001F\u007F")"); // NUL and control bytes
    CHECK(json_text("caf\xC3\xA9 \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
    CHECK(json_text("caf\xE9") == R"({"base64":"Y2Fm6Q=="})");      // Latin-1 é: not UTF-8
    CHECK(json_text("cut \xE2\x82") == R"({"base64":"Y3V0IOKC"})"); // a truncated sequence
    CHECK(json_text("\xED\xA0\x80") == R"({"base64":"7aCA"})");     // a surrogate
    for (std::string const& s : {""s, "plain"s, "a\0b\n\"\\"s, "caf\xE9"s, "cut \xE2\x82"s,
                                 "\xFF\xFE\x00"s, "\xF0\x9F\x98\x80"s, std::string(1000, '\x80')})
        CHECK(read_back(json_text(s)) == s);
    CHECK_THROWS_AS(read_back(R"({"base64":"not base64!"})"), streambatch::detail::json_error);
    CHECK_THROWS_AS(read_back(R"({"other":"x"})"), streambatch::detail::json_error);
}

TEST_CASE("io: base64 is RFC 4648's, both ways", "[io][base64]")
{
    using io::detail::base64_decode;
    using io::detail::base64_encode;
    // RFC 4648, section 10.
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64_decode("Zm9vYg==") == "foob");
    CHECK(base64_decode("Zm9vYmE=") == "fooba");
    CHECK_FALSE(base64_decode("Zm9").has_value());  // not a multiple of 4
    CHECK_FALSE(base64_decode("Zm=v").has_value()); // padding inside
    CHECK_FALSE(base64_decode("Zm9*").has_value()); // not the alphabet
}

TEST_CASE("io: digit tables give a character's place in their alphabet, -1 outside it",
          "[io][digits]")
{
    using io::detail::base64_digit;
    using io::detail::hex_digit;
    CHECK(hex_digit('0') == 0);
    CHECK(hex_digit('9') == 9);
    CHECK(hex_digit('a') == 10);
    CHECK(hex_digit('F') == 15); // either case
    CHECK(hex_digit('g') == -1);
    CHECK(hex_digit('G') == -1);
    CHECK(hex_digit('x') == -1);
    CHECK(hex_digit('\0') == -1);
    CHECK(hex_digit('\xff') == -1); // a byte above 127 is no digit
    CHECK(base64_digit('A') == 0);
    CHECK(base64_digit('a') == 26); // case matters here
    CHECK(base64_digit('0') == 52);
    CHECK(base64_digit('+') == 62);
    CHECK(base64_digit('/') == 63);
    CHECK(base64_digit('=') == -1);
    CHECK(base64_digit('-') == -1);
    static_assert(hex_digit('c') == 12 && base64_digit('Z') == 25); // built at compile time
}

TEST_CASE("io: a reject round-trips through its JSON line, every byte kept", "[io][reject]")
{
    using v = io::reject_value;
    io::reject const csv{.source = "csv",
                         .name = "in\xFF.csv",
                         .line = 12,
                         .byte_offset = 4711,
                         .row = 11,
                         .partition = "3/8",
                         .column = 2,
                         .column_name = "note",
                         .error = "unclosed quote",
                         .raw = "7,\"Ann\0\n\xE9"s,
                         .raw_size = 9000};
    io::reject const sql{
        .source = "sqlite",
        .name = "shop.db",
        .query = "SELECT * FROM t WHERE x = '\xC3\xA9'",
        .row = 3,
        .error = "the parse function failed: boom",
        .columns = std::vector<std::string>{"i", "r", "two", "inf", "nan", "t", "bad", "b", "n"},
        .values = std::vector<v>{v::of_integer(INT64_MIN), v::of_real(0.1), v::of_real(2.0),
                                 v::of_real(-INFINITY), v::of_real(NAN), v::of_text("x\ty"),
                                 v::of_text("\xC3"), v::of_blob("\0\1\2"s), v{}}};
    for (io::reject const& r : {csv, sql, io::reject{}}) {
        std::string const line = io::to_json_line(r);
        CHECK(line.find('\n') == std::string::npos);
        CHECK(io::detail::is_utf8(line));
        CHECK(io::parse_reject(line) == r);
    }
    std::string const line = io::to_json_line(sql);
    CHECK_THAT(line,
               Catch::StartsWith(R"({"streambatch_reject":1,"source":"sqlite","name":"shop.db",)"));
    CHECK_THAT(line,
               Catch::Contains(
                   R"("line":null,"byte_offset":null,"row":3,"partition":null,"column":null,)"));
    CHECK_THAT(
        line,
        Catch::Contains(
            R"("values":[-9223372036854775808,0.1,2.0,{"real":"-Infinity"},{"real":"NaN"},"x\ty",)"
            R"({"base64":"ww=="},{"blob":"AAEC"},null]})"));
    CHECK_THAT(io::to_json_line(csv),
               Catch::Contains(R"("raw":{"base64":"NywiQW5uAArp"},"raw_size":9000,)"));

    SECTION("a line that is not a reject says where and why")
    {
        CHECK_THROWS_WITH(io::parse_reject(R"({"source":"csv"})", "rej.jsonl:4"),
                          Catch::Contains("rej.jsonl:4") && Catch::Contains("streambatch_reject"));
        CHECK_THROWS_WITH(io::parse_reject(R"({"streambatch_reject":1,"sorce":"csv"})"),
                          Catch::Contains("unknown member \"sorce\""));
        CHECK_THROWS_WITH(io::parse_reject(R"({"streambatch_reject":2})"),
                          Catch::Contains("version"));
        CHECK_THROWS_WITH(io::parse_reject(R"({"streambatch_reject":1,"row":-1})"),
                          Catch::Contains("\"row\": expected a whole number"));
        CHECK_THROWS_AS(io::parse_reject(R"({"streambatch_reject":1)"),
                        streambatch::detail::json_error);
    }
}

TEST_CASE("io: reject_writer writes one flushed line per reject, to a stream or a file",
          "[io][reject]")
{
    io::reject const r{
        .source = "csv", .name = "a.csv", .line = 1, .byte_offset = 0, .error = "e", .raw = "x"};
    std::ostringstream os;
    io::reject_writer w(os, "streambatch::csv");
    w.write(r);
    w.write(r);
    CHECK(os.str() == io::to_json_line(r) + "\n" + io::to_json_line(r) + "\n");
    CHECK(w.lines_written() == 2);

    test::temp_dir dir;
    auto const path = dir / "rej.jsonl";
    {
        io::reject_writer f(path);
        CHECK_FALSE(std::filesystem::exists(path)); // opened on the first write
        f.write(r);
    }
    {
        io::reject_writer f(path); // append (the default) keeps the earlier line
        f.write(r);
    }
    CHECK(test::read_lines(path).size() == 2);
    {
        io::reject_writer f(path, io::reject_writer::open_mode::truncate);
        f.open(); // a fresh start empties the file at once
        CHECK(test::read_lines(path).empty());
    }
    io::reject_writer bad(dir / "no such dir" / "rej.jsonl", io::reject_writer::open_mode::append,
                          "streambatch::csv");
    CHECK_THROWS_WITH(bad.write(r),
                      Catch::StartsWith("streambatch::csv: cannot open the reject file ") &&
                          Catch::Contains("no such dir"));
}

TEST_CASE("io: the bad-row policy fails, or skips and counts up to its limit", "[io][bad_rows]")
{
    using row_error = io::basic_row_error<tag_a>;
    auto const fill = [](io::reject& j) { j.source = "a"; };
    std::uint64_t skipped = 0;

    SECTION("fail: a row_error as is, anything else nested in one naming the query and row")
    {
        io::detail::bad_row_policy<tag_a> fail(false, 0, {});
        auto const own = std::make_exception_ptr(row_error("mine", "SELECT", 4, 1, "c", "bad"));
        CHECK_THROWS_WITH(fail.judge("SELECT", 4, own, skipped, fill), "mine");
        try {
            fail.judge("SELECT 1", 5, std::make_exception_ptr(std::runtime_error("boom")), skipped,
                       fill);
            FAIL("no error");
        } catch (row_error const& e) {
            CHECK(std::string(e.what()) ==
                  "streambatch::a: query \"SELECT 1\", row 5: the parse function failed: boom");
            CHECK(e.row() == 5);
            CHECK_THROWS_WITH(std::rethrow_if_nested(e), "boom");
        }
    }
    SECTION("skip: written and counted; the bad row past the limit is written, then fails")
    {
        test::temp_dir dir;
        CHECK_THROWS_WITH((io::detail::bad_row_policy<tag_a>(true, 1, {})),
                          Catch::Contains("needs a reject_path"));
        io::detail::bad_row_policy<tag_a> skip(true, 1, dir / "rej.jsonl");
        skip.judge("Q", 2, std::make_exception_ptr(row_error("w", "Q", 2, 0, "id", "not a number")),
                   skipped, fill);
        CHECK(skipped == 1);
        CHECK_THROWS_AS(
            skip.judge("Q", 9, std::make_exception_ptr(std::runtime_error("x")), skipped, fill),
            io::basic_too_many_bad_rows<tag_a>);
        auto const lines = test::read_lines(dir / "rej.jsonl");
        REQUIRE(lines.size() == 2);
        io::reject const first = io::parse_reject(lines[0]);
        CHECK(first.source == "a");
        CHECK(first.query == "Q");
        CHECK(first.row == 2u);
        CHECK(first.column == 0u);
        CHECK(first.column_name == "id");
        CHECK(first.error == "not a number");
        CHECK(io::parse_reject(lines[1]).row == 9u);
    }
}

TEST_CASE("io: each component's errors are its own types, with their old bases", "[io][errors]")
{
    namespace sq = streambatch::sqlite;
    static_assert(std::is_base_of_v<std::runtime_error, sq::row_error>);
    static_assert(std::is_base_of_v<sq::row_error, sq::too_many_bad_rows>);
    static_assert(std::is_base_of_v<sq::error, sq::batch_error>);
    static_assert(std::is_base_of_v<std::runtime_error, sq::error>);
    static_assert(!std::is_base_of_v<sq::error, sq::row_error>);
#ifdef STREAMBATCH_TEST_POSTGRES
    namespace pg = streambatch::postgres;
    static_assert(!std::is_same_v<sq::row_error, pg::row_error>);
    static_assert(!std::is_base_of_v<sq::row_error, pg::row_error> &&
                  !std::is_base_of_v<pg::row_error, sq::row_error>);
    static_assert(!std::is_same_v<sq::too_many_bad_rows, pg::too_many_bad_rows>);
    static_assert(!std::is_same_v<sq::batch_error, pg::batch_error>);
    static_assert(std::is_base_of_v<pg::row_error, pg::too_many_bad_rows>);
    static_assert(std::is_base_of_v<pg::error, pg::batch_error>);
    // A catch clause for one component's row_error does not take the other's.
    auto const caught_by_sqlite = [](auto thrown) {
        try {
            throw thrown;
        } catch (sq::row_error const&) {
            return true;
        } catch (...) {
            return false;
        }
    };
    CHECK(caught_by_sqlite(sq::row_error("s", "q", 1, 0, "c", "r")));
    CHECK_FALSE(caught_by_sqlite(pg::row_error("p", "q", 1, 0, "c", "r")));
    CHECK_FALSE(caught_by_sqlite(
        pg::too_many_bad_rows("p", pg::row_error("p", "q", 1, 0, "c", "r"), 1, "f")));
#endif
    // A batch_error keeps its cause's details.
    sq::error const cause("streambatch::sqlite: busy", 5, "a.db", "INSERT", "database is locked");
    sq::batch_error const e("batch 2: busy", cause, 2, sq::batch_error::npos);
    CHECK(std::string(e.what()) == "batch 2: busy");
    CHECK(e.code() == 5);
    CHECK(e.file() == "a.db");
    CHECK(e.sqlite_message() == "database is locked");
    CHECK(e.batch_index() == 2);
}
