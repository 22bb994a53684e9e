// Bad input: every malformed case asserts its message, kind and location, read with block
// sizes from 1 byte up (the error must not depend on where blocks end); then the skip policy
// (reject file, count, good rows, max_skipped), bounded memory, and invalid options.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <streambuf>
#include <string>
#include <system_error>
#include <vector>

#include "csv_test_support.hpp"

namespace {

namespace csv = streambatch::csv;
using csvtest::rows_t;
using kind = csv::error_kind;

struct bad_case {
    char const* title;
    std::string text;
    csv::options opts;
    kind k;
    std::uint64_t line;
    std::uint64_t byte;
    std::optional<std::size_t> column;
    char const* column_name;
    std::string what;
    rows_t rows_before; ///< the good rows read before the error
};

csv::options const dflt{};
csv::options const nohdr{.has_header = false};
csv::options const max8{.max_record_bytes = 8};

// One case a paragraph reads better than one field a line.
// clang-format off
std::vector<bad_case> const reader_cases = {
    {"unclosed quote at the end of the file", "a,b\n1,\"xyz", dflt, kind::unclosed_quote, 2, 10, 1, "b",
     "<stream>:2 (byte 10): unclosed quote: reached end of file inside a quoted field that began at "
     "line 2 (byte 6), column 1 (\"b\")",
     {}},
    {"unclosed quote over several lines", "a,b\n1,\"x\ny\nz", dflt, kind::unclosed_quote, 4, 12, 1, "b",
     "<stream>:4 (byte 12): unclosed quote: reached end of file inside a quoted field that began at "
     "line 2 (byte 6), column 1 (\"b\")",
     {}},
    {"unclosed quote in the header", "\"a,b\n1,2\n", dflt, kind::unclosed_quote, 3, 9, 0, "",
     "<stream>:3 (byte 9): unclosed quote: reached end of file inside a quoted field that began at "
     "line 1 (byte 0), column 0",
     {}},
    {"unclosed quote after good rows", "a\n1\n2\n\"3", dflt, kind::unclosed_quote, 4, 8, 0, "a",
     "<stream>:4 (byte 8): unclosed quote: reached end of file inside a quoted field that began at "
     "line 4 (byte 6), column 0 (\"a\")",
     {{"1"}, {"2"}}},
    {"quote inside an unquoted field", "a,b\n1,x\"y\n", dflt, kind::stray_quote, 2, 7, 1, "b",
     "<stream>:2 (byte 7): quote inside an unquoted field (column 1 (\"b\")): expected the whole field "
     "in quotes, with each quote in it doubled",
     {}},
    {"quote at the end of an unquoted field", "a,b\n1,xy\"\n", dflt, kind::stray_quote, 2, 8, 1, "b",
     "<stream>:2 (byte 8): quote inside an unquoted field (column 1 (\"b\")): expected the whole field "
     "in quotes, with each quote in it doubled",
     {}},
    {"quote inside an unquoted header field", "a,b\"c\n", dflt, kind::stray_quote, 1, 3, 1, "",
     "<stream>:1 (byte 3): quote inside an unquoted field (column 1): expected the whole field in "
     "quotes, with each quote in it doubled",
     {}},
    {"text after a closing quote", "a,b\n\"x\"y,2\n", dflt, kind::text_after_quote, 2, 7, 0, "a",
     "<stream>:2 (byte 7): unexpected \"y\" after the closing quote of column 0 (\"a\"): expected \",\", "
     "a line break or the end of the file",
     {}},
    {"a space after a closing quote", "a,b\n\"x\" ,2\n", dflt, kind::text_after_quote, 2, 7, 0, "a",
     "<stream>:2 (byte 7): unexpected \" \" after the closing quote of column 0 (\"a\"): expected \",\", "
     "a line break or the end of the file",
     {}},
    {"text after a closing quote at the end of the file", "a,b\n1,\"x\"y", dflt, kind::text_after_quote, 2,
     9, 1, "b",
     "<stream>:2 (byte 9): unexpected \"y\" after the closing quote of column 1 (\"b\"): expected \",\", "
     "a line break or the end of the file",
     {}},
    {"text after a multi-line quoted field", "a,b\n1,\"x\ny\"z\n", dflt, kind::text_after_quote, 3, 11,
     1, "b",
     "<stream>:3 (byte 11): unexpected \"z\" after the closing quote of column 1 (\"b\"): expected \",\", "
     "a line break or the end of the file",
     {}},
    {"another delimiter after a closing quote", "a;b\n\"x\",y\n", {.delimiter = ';'}, kind::text_after_quote,
     2, 7, 0, "a",
     "<stream>:2 (byte 7): unexpected \",\" after the closing quote of column 0 (\"a\"): expected \";\", "
     "a line break or the end of the file",
     {}},
    {"a record longer than max_record_bytes", "a,b\n123456,789\n", max8, kind::record_too_long, 2, 12, 1,
     "b",
     "<stream>:2 (byte 12): record longer than max_record_bytes = 8: the record that began at line 2 "
     "(byte 4) has not ended after 8 bytes",
     {}},
    {"a quoted field longer than max_record_bytes", "a,b\n1,\"23456789\"\n", max8, kind::record_too_long,
     2, 12, 1, "b",
     "<stream>:2 (byte 12): record longer than max_record_bytes = 8: the record that began at line 2 "
     "(byte 4) has not ended after 8 bytes; it is inside a quoted field that began at line 2 (byte 6) "
     "(column 1 (\"b\")): is a quote unclosed?",
     {}},
    {"an unclosed quote stops at max_record_bytes", "a\n\"x\ny\nz\n1\n2\n3\n", max8,
     kind::record_too_long, 5, 10, 0, "a",
     "<stream>:5 (byte 10): record longer than max_record_bytes = 8: the record that began at line 2 "
     "(byte 2) has not ended after 8 bytes; it is inside a quoted field that began at line 2 (byte 2) "
     "(column 0 (\"a\")): is a quote unclosed?",
     {}},
    {"a header longer than max_record_bytes", "abcdefghij\n1\n", max8, kind::record_too_long, 1, 8, 0, "",
     "<stream>:1 (byte 8): record longer than max_record_bytes = 8: the record that began at line 1 "
     "(byte 0) has not ended after 8 bytes",
     {}},
    {"more fields than the header", "a,b\n1,2,3\n", dflt, kind::field_count, 2, 4, std::nullopt, "",
     "<stream>:2 (byte 4): expected 2 fields (as in the header), found 3", {}},
    {"fewer fields than the header", "a,b\n1,2\n1\n", dflt, kind::field_count, 3, 8, std::nullopt, "",
     "<stream>:3 (byte 8): expected 2 fields (as in the header), found 1", {{"1", "2"}}},
    {"fewer fields than the first record", "1,2\n3\n", nohdr, kind::field_count, 2, 4, std::nullopt, "",
     "<stream>:2 (byte 4): expected 2 fields (as in the first record), found 1", {{"1", "2"}}},
    {"a trailing delimiter is one more field", "a,b\n1,2,\n", dflt, kind::field_count, 2, 4, std::nullopt,
     "", "<stream>:2 (byte 4): expected 2 fields (as in the header), found 3", {}},
    {"a one-column file with an extra field", "a\n1\n2,\n", dflt, kind::field_count, 3, 4, std::nullopt, "",
     "<stream>:3 (byte 4): expected 1 field (as in the header), found 2", {{"1"}}},
    {"a NUL byte in an unquoted field", std::string("a,b\n1,x\0y\n", 10), dflt, kind::nul_byte, 2, 7, 1, "b",
     "<stream>:2 (byte 7): NUL byte in column 1 (\"b\"): CSV text has none (is the file binary, or "
     "UTF-16?)",
     {}},
    {"a NUL byte in a quoted field", std::string("a,b\n1,\"x\0\"\n", 12), dflt, kind::nul_byte, 2, 8, 1, "b",
     "<stream>:2 (byte 8): NUL byte in column 1 (\"b\"): CSV text has none (is the file binary, or "
     "UTF-16?)",
     {}},
    {"a NUL byte after a closing quote", std::string("a\n\"x\"\0\n", 7), dflt, kind::nul_byte, 2, 5, 0, "a",
     "<stream>:2 (byte 5): NUL byte in column 0 (\"a\"): CSV text has none (is the file binary, or "
     "UTF-16?)",
     {}},
    {"a NUL byte in the header", std::string("a\0,b\n", 5), dflt, kind::nul_byte, 1, 1, 0, "",
     "<stream>:1 (byte 1): NUL byte in column 0: CSV text has none (is the file binary, or UTF-16?)", {}},
    {"a UTF-16LE file", std::string("\xFF\xFE" "a\0,\0b\0\n\0", 10), dflt, kind::nul_byte, 1, 3, 0, "",
     "<stream>:1 (byte 3): NUL byte in column 0: CSV text has none (is the file binary, or UTF-16?)", {}},
    {"lines counted over CRLF", "a,b\r\n1,2\r\nx,y\"\r\n", dflt, kind::stray_quote, 3, 13, 1, "b",
     "<stream>:3 (byte 13): quote inside an unquoted field (column 1 (\"b\")): expected the whole field "
     "in quotes, with each quote in it doubled",
     {{"1", "2"}}},
    {"lines counted over lone CRs, inside quotes too", "a,b\r1,2\r3,\"4\r5\"6\r", dflt,
     kind::text_after_quote, 4, 15, 1, "b",
     "<stream>:4 (byte 15): unexpected \"6\" after the closing quote of column 1 (\"b\"): expected \",\", "
     "a line break or the end of the file",
     {{"1", "2"}}},
    {"lines counted over CR, LF and CRLF inside quotes", "a\n\"x\r\ny\rz", dflt, kind::unclosed_quote, 4, 9,
     0, "a",
     "<stream>:4 (byte 9): unclosed quote: reached end of file inside a quoted field that began at "
     "line 2 (byte 2), column 0 (\"a\")",
     {}},
    {"lines counted over multi-line rows", "a\n\"1\n2\"\n\"3\n\n4\"\n5\"\n", dflt, kind::stray_quote, 7, 16,
     0, "a",
     "<stream>:7 (byte 16): quote inside an unquoted field (column 0 (\"a\")): expected the whole field "
     "in quotes, with each quote in it doubled",
     {{"1\n2"}, {"3\n\n4"}}},
    {"lines counted over blank lines", "a\n\n\n1\"\n", dflt, kind::stray_quote, 4, 5, 0, "a",
     "<stream>:4 (byte 5): quote inside an unquoted field (column 0 (\"a\")): expected the whole field "
     "in quotes, with each quote in it doubled",
     {}},
    {"byte offsets count the BOM", "\xEF\xBB\xBF" "a\n\"x", dflt, kind::unclosed_quote, 2, 7, 0, "a",
     "<stream>:2 (byte 7): unclosed quote: reached end of file inside a quoted field that began at "
     "line 2 (byte 5), column 0 (\"a\")",
     {}},
    {"a custom quote left open", "a\n'x", {.quote = '\''}, kind::unclosed_quote, 2, 4, 0, "a",
     "<stream>:2 (byte 4): unclosed quote: reached end of file inside a quoted field that began at "
     "line 2 (byte 2), column 0 (\"a\")",
     {}},
    {"a stray quote with a custom delimiter", "a;b\n1;x\"\n", {.delimiter = ';'}, kind::stray_quote, 2, 7, 1,
     "b",
     "<stream>:2 (byte 7): quote inside an unquoted field (column 1 (\"b\")): expected the whole field "
     "in quotes, with each quote in it doubled",
     {}},
};
// clang-format on

} // namespace

TEST_CASE("malformed input fails with the error, line, byte and column, whatever the block size",
          "[csv][errors]")
{
    CHECK(reader_cases.size() >= 30);
    for (bad_case const& c : reader_cases) {
        for (std::size_t block : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5},
                                  std::size_t{64} << 10}) {
            for (bool chunky : {false, true}) {
                INFO(c.title << " (block " << block << (chunky ? ", short reads" : "") << ")");
                auto const got = csvtest::parse_until_error(
                    c.text, c.opts, block, chunky ? std::optional<std::uint32_t>(7) : std::nullopt);
                REQUIRE(got.error.has_value());
                csv::parse_error const& e = *got.error;
                CHECK(e.what() == c.what);
                CHECK(e.kind() == c.k);
                CHECK(e.file() == "<stream>");
                CHECK(e.line() == c.line);
                CHECK(e.byte_offset() == c.byte);
                CHECK(e.column() == c.column);
                CHECK(e.column_name() == c.column_name);
                CHECK(got.rows == c.rows_before);
            }
        }
    }
}

TEST_CASE("a record of exactly max_record_bytes is fine", "[csv][errors]")
{
    CHECK(csvtest::parse("a\n12345678\n\"234567\"\n", {.max_record_bytes = 8}) ==
          rows_t{{"12345678"}, {"234567"}});
    CHECK(csvtest::parse("a\n12345678\r\n", {.max_record_bytes = 8}, 1) == rows_t{{"12345678"}});
    CHECK(csvtest::parse("a\n12345678", {.max_record_bytes = 8}, 3) == rows_t{{"12345678"}});
}

namespace {

/// Reads the first row of `text` and converts field `column` to T; returns the error.
template <class T, class Col>
csv::parse_error conversion_error(std::string const& text, Col column, csv::options o = {})
{
    std::istringstream in(text);
    csv::reader r(in, o);
    csv::row& row = *r.begin();
    try {
        (void)row.get<T>(column);
    } catch (csv::parse_error const& e) {
        return e;
    }
    FAIL("no error");
    throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("failed conversions name the file, line, column and text", "[csv][errors][row]")
{
    struct conv {
        csv::parse_error e;
        std::string what;
        std::optional<std::size_t> column;
        std::string name;
    };
    std::vector<conv> const cases = {
        {conversion_error<int>("id\nabc\n", "id"),
         "<stream>:2 (byte 3): column 0 (\"id\"): cannot convert \"abc\" to int32: not a number", 0,
         "id"},
        {conversion_error<int>("n\n99999999999\n", "n"),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \"99999999999\" to int32: out of "
         "range for int32",
         0, "n"},
        {conversion_error<long>("x,n\n1,12x\n", "n"),
         "<stream>:2 (byte 4): column 1 (\"n\"): cannot convert \"12x\" to int64: unexpected \"x\" "
         "after the "
         "number",
         1, "n"},
        {conversion_error<double>("n\n1.5.2\n", 0),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \"1.5.2\" to double: unexpected "
         "\".\" after "
         "the number",
         0, "n"},
        {conversion_error<int>("a,n\nx,\n", "n"),
         "<stream>:2 (byte 4): column 1 (\"n\"): cannot convert \"\" to int32: the field is empty",
         1, "n"},
        {conversion_error<bool>("b\nmaybe\n", "b"),
         "<stream>:2 (byte 2): column 0 (\"b\"): cannot convert \"maybe\" to bool: expected true, "
         "false, 1 or 0",
         0, "b"},
        {conversion_error<unsigned>("n\n-1\n", "n"),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \"-1\" to uint32: negative number "
         "for uint32",
         0, "n"},
        {conversion_error<std::uint8_t>("n\n256\n", "n"),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \"256\" to uint8: out of range for "
         "uint8",
         0, "n"},
        {conversion_error<float>("n\n1e99\n", "n"),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \"1e99\" to float: out of range "
         "for float",
         0, "n"},
        {conversion_error<int>("n\n+5\n", "n"),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \"+5\" to int32: not a number", 0,
         "n"},
        {conversion_error<int>("n\n 5\n", "n"),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \" 5\" to int32: not a number", 0,
         "n"},
        {conversion_error<int>("1,\"a\nb\"\n", 1, {.has_header = false}),
         "<stream>:1 (byte 0): column 1: cannot convert \"a\\x0Ab\" to int32: not a number", 1, ""},
        {conversion_error<std::optional<int>>("n\nx\n", "n"),
         "<stream>:2 (byte 2): column 0 (\"n\"): cannot convert \"x\" to int32: not a number", 0,
         "n"},
        {conversion_error<int>("id,name\n1,x\n", "nmae"),
         "<stream>:2 (byte 8): no column named \"nmae\"; the header has: id, name", std::nullopt,
         ""},
        {conversion_error<int>("1\n", "id", {.has_header = false}),
         "<stream>:1 (byte 0): no column named \"id\"; the file has no header", std::nullopt, ""},
    };
    for (auto const& c : cases) {
        INFO(c.what);
        CHECK(c.e.what() == c.what);
        CHECK(c.e.column() == c.column);
        CHECK(c.e.column_name() == c.name);
        CHECK(c.e.kind() == (c.column ? kind::conversion : kind::missing_column));
    }

    std::istringstream in("id,name\n1,x\n");
    csv::reader r(in);
    CHECK_THROWS_WITH(r.column("nmae"),
                      "<stream>:1 (byte 0): no column named \"nmae\"; the header has: id, name");
    CHECK_THROWS_WITH(r.begin()->at("x"),
                      "<stream>:2 (byte 8): no column named \"x\"; the header has: id, name");
}

namespace {

// The skip-policy fixture: good and bad rows, one of each kind of bad.
std::string const mixed = "id,name\n"           // line 1
                          "1,ok\n"              // line 2
                          "2,x\"y\n"            // line 3: stray quote
                          "3,\"multi\nline\"\n" // lines 4-5
                          "4,\"a\"b\n"          // line 6: text after quote
                          "5,ok,extra\n"        // line 7: field count
                          "6,ok\n"              // line 8
                          "7,\"never closed\n"  // line 9: unclosed: the quote runs on to
                          "8,\"ok\"\n";         // line 10, where `"ok` is text after a quote

std::uint64_t at(std::string const& needle)
{
    return mixed.find(needle);
}

using csvtest::read_rejects;
using streambatch::io::reject;

} // namespace

TEST_CASE("on_error::skip writes each bad row with its location to the reject file",
          "[csv][errors][skip]")
{
    csvtest::temp_dir dir;
    for (std::size_t block : {std::size_t{1}, std::size_t{4}, std::size_t{64} << 10}) {
        INFO("block " << block);
        std::istringstream in(mixed);
        csv::reader r(in, {.block_size = block,
                           .bad_rows = csv::on_error::skip,
                           .max_skipped = 10,
                           .reject_path = dir / "rejects.jsonl",
                           .name = "mixed.csv"});
        rows_t good;
        std::vector<std::uint64_t> lines;
        for (csv::row& row : r) {
            good.push_back(csvtest::fields(row));
            lines.push_back(row.line());
        }
        CHECK(good == rows_t{{"1", "ok"}, {"3", "multi\nline"}, {"6", "ok"}});
        CHECK(lines == std::vector<std::uint64_t>{2, 4, 8});
        CHECK(r.skipped() == 4);
        CHECK(r.position() == csv::position{mixed.size(), 11, 3, 4});

        // One JSON line per bad record, in the io family's format: where the record begins
        // (line, byte_offset, and row: its number among the data records, good and bad), the
        // column to blame, the whole message (where the error lies), the raw bytes.
        std::vector<reject> const rejects = read_rejects(csvtest::slurp(dir / "rejects.jsonl"));
        std::vector<reject> const want = {
            {.source = "csv",
             .name = "mixed.csv",
             .line = 3,
             .byte_offset = at("2,x"),
             .row = 2,
             .column = 1,
             .column_name = "name",
             .error = "mixed.csv:3 (byte " + std::to_string(at("\"y")) +
                      "): quote inside an unquoted field (column 1 (\"name\")): expected the "
                      "whole field in quotes, with each quote in it doubled",
             .raw = "2,x\"y"},
            {.source = "csv",
             .name = "mixed.csv",
             .line = 6,
             .byte_offset = at("4,"),
             .row = 4,
             .column = 1,
             .column_name = "name",
             .error = "mixed.csv:6 (byte " + std::to_string(at("b\n")) +
                      "): unexpected \"b\" after the closing quote of column 1 (\"name\"): "
                      "expected \",\", a line break or the end of the file",
             .raw = "4,\"a\"b"},
            {.source = "csv",
             .name = "mixed.csv",
             .line = 7,
             .byte_offset = at("5,"),
             .row = 5,
             .error = "mixed.csv:7 (byte " + std::to_string(at("5,")) +
                      "): expected 2 fields (as in the header), found 3",
             .raw = "5,ok,extra"},
            {.source = "csv",
             .name = "mixed.csv",
             .line = 9,
             .byte_offset = at("7,"),
             .row = 7,
             .column = 1,
             .column_name = "name",
             .error = "mixed.csv:10 (byte " + std::to_string(mixed.size() - 4) +
                      "): unexpected \"o\" after the closing quote of column 1 (\"name\"): "
                      "expected \",\", a line break or the end of the file",
             .raw = "7,\"never closed\n8,\"ok\""},
        };
        CHECK(rejects.size() == want.size());
        for (std::size_t i = 0; i < std::min(rejects.size(), want.size()); ++i) {
            INFO("reject " << i);
            CHECK(rejects[i] == want[i]);
            CHECK(rejects[i].error == want[i].error);
            CHECK(rejects[i].raw == want[i].raw);
        }
        // The file is JSON Lines: one object a line, the version first.
        std::string const text = csvtest::slurp(dir / "rejects.jsonl");
        CHECK(text.starts_with(
            "{\"streambatch_reject\":1,\"source\":\"csv\",\"name\":\"mixed.csv\""));
        CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) == 4);
    }
}

TEST_CASE("on_error::skip: an unclosed quote costs only the line where it opened",
          "[csv][errors][skip]")
{
    std::string const text = "id,v\n1,\"open\n2,b\n3,c\n4,d\n";
    std::ostringstream rejects;
    std::istringstream in(text);
    csv::reader r(in, {.bad_rows = csv::on_error::skip, .reject_stream = &rejects});
    rows_t good;
    for (csv::row& row : r)
        good.push_back(csvtest::fields(row));
    CHECK(good == rows_t{{"2", "b"}, {"3", "c"}, {"4", "d"}});
    std::vector<reject> const rej = read_rejects(rejects.str());
    REQUIRE(rej.size() == 1);
    CHECK(rej[0] == reject{.source = "csv",
                           .name = "<stream>",
                           .line = 2,
                           .byte_offset = 5,
                           .row = 1,
                           .column = 1,
                           .column_name = "v",
                           .error = "<stream>:6 (byte 25): unclosed quote: reached end of file "
                                    "inside a quoted field that began at line 2 (byte 7), "
                                    "column 1 (\"v\")",
                           .raw = "1,\"open"});
}

TEST_CASE("on_error::skip: more bad rows than max_skipped fails, after writing the last one",
          "[csv][errors][skip]")
{
    std::ostringstream rejects;
    std::istringstream in(mixed);
    csv::reader r(in,
                  {.bad_rows = csv::on_error::skip, .max_skipped = 2, .reject_stream = &rejects});
    rows_t good;
    try {
        for (csv::row& row : r)
            good.push_back(csvtest::fields(row));
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(e.kind() == kind::too_many_bad_rows);
        CHECK(e.what() == "<stream>:7 (byte " + std::to_string(at("5,")) +
                              "): too many bad rows: this is bad row 3 and max_skipped is 2; this "
                              "one: expected 2 "
                              "fields (as in the header), found 3");
    }
    CHECK(good == rows_t{{"1", "ok"}, {"3", "multi\nline"}});
    CHECK(r.skipped() == 2);
    std::vector<reject> const rej = read_rejects(rejects.str());
    REQUIRE(rej.size() == 3);
    CHECK(rej[2].raw == "5,ok,extra"); // the one that failed is written too
    CHECK(r.begin() == r.end());       // the reader has ended
}

TEST_CASE("on_error::skip with max_skipped = 0 fails at the first bad row", "[csv][errors][skip]")
{
    std::ostringstream rejects;
    std::istringstream in("a\n1\n\"\n");
    csv::reader r(in,
                  {.bad_rows = csv::on_error::skip, .max_skipped = 0, .reject_stream = &rejects});
    auto it = r.begin();
    CHECK((*it)[0] == "1");
    CHECK_THROWS_WITH(
        ++it, Catch::StartsWith("<stream>:3 (byte 4): too many bad rows: this is bad row 1"));
    std::vector<reject> const rej = read_rejects(rejects.str());
    REQUIRE(rej.size() == 1);
    CHECK(rej[0].line == 3);
    CHECK(rej[0].byte_offset == 4);
    CHECK(rej[0].raw == "\"");
}

TEST_CASE("on_error::skip keeps a bad row's bytes exactly: NUL bytes and invalid UTF-8",
          "[csv][errors][skip]")
{
    std::ostringstream rejects;
    // Line 2 holds a NUL byte; line 3 a byte that is no UTF-8 (FF) and a stray quote; line 4
    // is good UTF-8 (é) with a stray quote.
    std::string const text("a,b\n1,x\0y\n3,\xFF\"z\n4,\xC3\xA9\"\n2,ok\n", 27);
    std::istringstream in(text);
    csv::reader r(in, {.bad_rows = csv::on_error::skip, .reject_stream = &rejects});
    rows_t good;
    for (csv::row& row : r)
        good.push_back(csvtest::fields(row));
    CHECK(good == rows_t{{"2", "ok"}});
    std::vector<reject> const rej = read_rejects(rejects.str());
    REQUIRE(rej.size() == 3);
    CHECK(rej[0].raw == std::string("1,x\0y", 5));
    CHECK(rej[0].line == 2);
    CHECK(rej[0].byte_offset == 4);
    CHECK(rej[0].column == 1);
    CHECK(rej[0].error == "<stream>:2 (byte 7): NUL byte in column 1 (\"b\"): CSV text has none "
                          "(is the file binary, or UTF-16?)");
    CHECK(rej[1].raw == "3,\xFF\"z");
    CHECK(rej[1].line == 3);
    CHECK(rej[1].byte_offset == 10);
    CHECK(rej[1].error == "<stream>:3 (byte 13): quote inside an unquoted field (column 1 "
                          "(\"b\")): expected the whole field in quotes, with each quote in it "
                          "doubled");
    CHECK(rej[2].raw == "4,\xC3\xA9\"");
    CHECK(rej[2].line == 4);
    CHECK(!rej[0].raw_size);
    // As JSON: NUL is escaped in a string, bytes that are not UTF-8 go whole as base64, good
    // UTF-8 stays as it is.
    std::string const lines = rejects.str();
    CHECK(lines.find("\"raw\":\"1,x\\u0000y\"") != std::string::npos);
    CHECK(lines.find("\"raw\":{\"base64\":\"Myz/Ino=\"}") != std::string::npos); // 3,\xFF"z
    CHECK(lines.find("\"raw\":\"4,\xC3\xA9\\\"\"") != std::string::npos);
}

TEST_CASE("a bad header fails even with on_error::skip", "[csv][errors][skip]")
{
    std::ostringstream rejects;
    std::istringstream in("a,\"b\n1,2\n");
    CHECK_THROWS_AS(csv::reader(in, {.bad_rows = csv::on_error::skip, .reject_stream = &rejects}),
                    csv::parse_error);
    CHECK(rejects.str().empty());
}

TEST_CASE("on_error::skip keeps a long bad line's first max_record_bytes bytes",
          "[csv][errors][skip][memory]")
{
    std::string text = "a,b\n1,x\"" + std::string(5000, 'y') + "\n2,ok\n";
    std::ostringstream rejects;
    std::istringstream in(text);
    csv::reader r(in, {.block_size = 64,
                       .max_record_bytes = 100,
                       .bad_rows = csv::on_error::skip,
                       .reject_stream = &rejects});
    rows_t good;
    for (csv::row& row : r)
        good.push_back(csvtest::fields(row));
    CHECK(good == rows_t{{"2", "ok"}});
    CHECK(r.position().line == 4);
    CHECK(r.buffer_bytes() <= 100 + 3 * 64 + 1 + streambatch::csv::detail::scan_padding);
    std::vector<reject> const rej = read_rejects(rejects.str());
    REQUIRE(rej.size() == 1);
    CHECK(rej[0].raw == "1,x\"" + std::string(96, 'y'));
    CHECK(rej[0].raw_size == 5004); // the whole row's length: raw holds its first 100 bytes
}

TEST_CASE("the reject file is truncated on a fresh start and appended to on resume",
          "[csv][errors][skip][resume]")
{
    csvtest::temp_dir dir;
    csvtest::spit(dir / "in.csv", "a\n1\nx\"\n2\n3\"\n4\n");
    csvtest::spit(dir / "rej.jsonl", "old content\n");
    csv::options const o{.bad_rows = csv::on_error::skip, .reject_path = dir / "rej.jsonl"};
    csv::position mid;
    {
        csv::reader r(dir / "in.csv", o);
        CHECK(csvtest::slurp(dir / "rej.jsonl").empty()); // truncated when the reader opens
        auto it = r.begin();
        CHECK((*it)[0] == "1");
        ++it; // skips line 3 (a stray quote) and reads "2"
        CHECK((*it)[0] == "2");
        mid = r.position();
        CHECK(mid.skipped == 1);
    }
    CHECK(read_rejects(csvtest::slurp(dir / "rej.jsonl")).size() == 1);
    {
        csv::reader r(dir / "in.csv", o, csv::parse_position(csv::to_string(mid)));
        rows_t rest;
        for (csv::row& row : r)
            rest.push_back(csvtest::fields(row));
        CHECK(rest == rows_t{{"2"}, {"4"}});
        CHECK(r.skipped() == 2);
    }
    std::vector<reject> const rej = read_rejects(csvtest::slurp(dir / "rej.jsonl"));
    REQUIRE(rej.size() == 2);
    CHECK(rej[0].line == 3);
    CHECK(rej[0].row == 2);
    CHECK(rej[0].raw == "x\"");
    CHECK(rej[1].line == 5);
    CHECK(rej[1].row == 4); // counted on from the saved position's rows and skipped
    CHECK(rej[1].raw == "3\"");
}

TEST_CASE("a reject file that cannot be opened fails when the reader opens, naming it",
          "[csv][errors][skip]")
{
    csvtest::temp_dir dir;
    std::istringstream in("a\n1\n");
    auto const bad = dir / "no" / "such" / "dir" / "rej.jsonl";
    try {
        csv::reader r(in, {.bad_rows = csv::on_error::skip, .reject_path = bad});
        FAIL("no error");
    } catch (std::system_error const& e) {
        CHECK_THAT(e.what(), Catch::Contains("streambatch::csv: cannot open the reject file " +
                                             bad.string()));
    }
}

namespace {

/// `prefix`, then `n` bytes of `fill`, then `suffix`, made as they are read (never in memory).
class generated_buf : public std::streambuf {
    std::string prefix_, suffix_;
    std::uint64_t n_, pos_ = 0;
    char fill_;

protected:
    std::streamsize xsgetn(char* s, std::streamsize want) override
    {
        std::uint64_t const total = prefix_.size() + n_ + suffix_.size();
        std::streamsize got = 0;
        while (got < want && pos_ < total) {
            if (pos_ >= prefix_.size() && pos_ < prefix_.size() + n_) { // a run of fill
                auto const run = static_cast<std::streamsize>(std::min<std::uint64_t>(
                    prefix_.size() + n_ - pos_, static_cast<std::uint64_t>(want - got)));
                std::memset(s + got, fill_, static_cast<std::size_t>(run));
                got += run;
                pos_ += static_cast<std::uint64_t>(run);
                continue;
            }
            s[got++] = pos_ < prefix_.size() ? prefix_[pos_] : suffix_[pos_ - prefix_.size() - n_];
            ++pos_;
        }
        return got;
    }
    int_type underflow() override { return traits_type::eof(); }

public:
    generated_buf(std::string prefix, std::uint64_t n, char fill, std::string suffix)
        : prefix_(std::move(prefix)), suffix_(std::move(suffix)), n_(n), fill_(fill)
    {}
};

} // namespace

TEST_CASE("an unclosed quote fails at max_record_bytes without reading the file into memory",
          "[csv][errors][memory]")
{
    // 64 MiB after an opening quote; max_record_bytes = 1 MiB.
    generated_buf buf("id,note\n1,\"", std::uint64_t{64} << 20, 'x', "\"\n");
    std::istream in(&buf);
    csv::reader r(in, {.block_size = 64 << 10, .max_record_bytes = 1 << 20});
    try {
        for (csv::row& row : r)
            (void)row;
        FAIL("no error");
    } catch (csv::parse_error const& e) {
        CHECK(e.kind() == kind::record_too_long);
        CHECK(e.byte_offset() == 8 + (1u << 20));
        CHECK(e.line() == 2);
        CHECK_THAT(e.what(),
                   Catch::Contains("inside a quoted field that began at line 2 (byte 10)"));
    }
    CHECK(r.buffer_bytes() <= (1u << 20) + 3 * (64u << 10) + 1 + csv::detail::scan_padding);
}

TEST_CASE("on_error::skip over a 16 MiB line keeps memory bounded", "[csv][errors][memory][skip]")
{
    generated_buf buf("id,note\n1,x\"", std::uint64_t{16} << 20, 'x', "\n2,ok\n");
    std::istream in(&buf);
    std::ostringstream rejects;
    csv::reader r(in, {.block_size = 64 << 10,
                       .max_record_bytes = 1 << 20,
                       .bad_rows = csv::on_error::skip,
                       .reject_stream = &rejects});
    rows_t good;
    for (csv::row& row : r)
        good.push_back(csvtest::fields(row));
    CHECK(good == rows_t{{"2", "ok"}});
    CHECK(r.buffer_bytes() <= (1u << 20) + 3 * (64u << 10) + 1 + csv::detail::scan_padding);
    CHECK(rejects.str().size() < (1u << 20) + 1000);
}

TEST_CASE("invalid options are rejected by name", "[csv][errors][options]")
{
    auto make = [](csv::options o) {
        std::istringstream in("a\n");
        csv::reader r(in, o);
    };
    CHECK_THROWS_WITH(make({.delimiter = '"'}),
                      // the shared quoter (io/detail/quote.hpp) escapes a quote inside
                      "streambatch::csv: the delimiter and the quote are both \"\\\"\"");
    CHECK_THROWS_WITH(make({.delimiter = '\n'}),
                      "streambatch::csv: the delimiter must not be CR, LF or NUL");
    CHECK_THROWS_WITH(make({.quote = '\r'}),
                      "streambatch::csv: the quote must not be CR, LF or NUL");
    CHECK_THROWS_WITH(make({.block_size = 0}),
                      "streambatch::csv: block_size must be between 1 byte and 1 GiB, got 0");
    CHECK_THROWS_WITH(make({.max_record_bytes = 0}),
                      "streambatch::csv: max_record_bytes must be between 1 byte and 2 GiB, got 0");
    CHECK_THROWS_WITH(
        make({.bad_rows = csv::on_error::skip}),
        "streambatch::csv: on_error::skip needs a reject_path or a reject_stream, so that no bad "
        "row is lost silently");
    CHECK_THROWS_AS(
        make({.bad_rows = csv::on_error::skip, .reject_path = "/nonexistent/dir/rej.csv"}),
        std::system_error);
}
