// parquet::writer: files it writes are read back by DuckDB, hyparquet and parquet-wasm (the npm
// oracles of tests/io/parquet/oracle) with the values written, and DuckDB sees the types and
// statistics the footer declares. Also: the encoders' bytes, page CRCs, errors.
#include <streambatch/io/parquet.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "writer_test_support.hpp"

namespace pq = streambatch::parquet;
using writer_test::canon_row;
using writer_test::temp_dir;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(std::string const& s)
{
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

/// read.mjs's output for several files, split by its "== <file>" lines.
std::map<std::string, std::vector<std::string>> read_many(std::string const& engine,
                                                          std::vector<fs::path> const& files)
{
    std::vector<std::string> args{engine};
    for (auto const& f : files)
        args.push_back(f.string());
    std::map<std::string, std::vector<std::string>> out;
    std::string* cur = nullptr;
    std::vector<std::string>* rows = nullptr;
    (void)cur;
    for (auto const& l : lines_of(writer_test::node("read.mjs", args))) {
        if (l.rfind("== ", 0) == 0)
            rows = &out[l.substr(3)];
        else if (rows)
            rows->push_back(l);
    }
    return out;
}

std::vector<pq::column_spec> every_type()
{
    using C = pq::column_spec;
    return {C::boolean("b").optional(),
            C::int8("i8"),
            C::int16("i16").optional(),
            C::int32("i32"),
            C::int64("i64").optional(),
            C::uint8("u8"),
            C::uint16("u16"),
            C::uint32("u32").optional(),
            C::uint64("u64"),
            C::float32("f").optional(),
            C::float64("d"),
            C::string("s").optional(),
            C::binary("bin"),
            C::date("dt").optional(),
            C::timestamp("ts_ms", pq::time_unit::millis, true),
            C::timestamp("ts_us", pq::time_unit::micros, false).optional(),
            C::timestamp("ts_ns", pq::time_unit::nanos, false),
            C::decimal("dec9", 9, 2),
            C::decimal("dec18", 18, 4).optional()};
}

/// A random value for column `c` (nulls in optional columns about one time in `null_one_in`).
pq::cell random_cell(pq::column_spec const& c, std::mt19937_64& rng, int null_one_in = 5)
{
    using K = pq::logical_type::kind_t;
    if (c.is_optional && rng() % static_cast<unsigned>(null_one_in) == 0)
        return std::monostate{};
    auto pick = [&](std::int64_t lo, std::int64_t hi) {
        // the bounds a quarter of the time, else uniform
        auto const r = rng() % 8;
        if (r == 0)
            return lo;
        if (r == 1)
            return hi;
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    auto const kind = c.logical ? c.logical->kind : K::none;
    switch (c.type) {
    case pq::physical_type::boolean:
        return rng() % 2 == 0;
    case pq::physical_type::float_:
    case pq::physical_type::double_: {
        auto const r = rng() % 16;
        double v = std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
        if (r == 0)
            v = -0.0;
        else if (r == 1)
            v = std::numeric_limits<double>::quiet_NaN();
        else if (r == 2)
            v = std::numeric_limits<double>::infinity();
        else if (r == 3)
            v = static_cast<double>(rng() % 10); // repeats (the dictionary)
        if (c.type == pq::physical_type::float_)
            return static_cast<float>(v);
        return v;
    }
    case pq::physical_type::byte_array: {
        static char const* const words[] = {
            "", "a", "b", "ümlaut", "quote\"back\\slash", "tab\tnew\nline", "日本", "zz"};
        std::string s;
        if (rng() % 3 != 0) {
            s = words[rng() % 8];
        } else {
            auto const n = rng() % 20;
            for (std::size_t i = 0; i < n; ++i)
                s += static_cast<char>(kind == K::string ? 0x20 + rng() % 95 : rng() % 256);
        }
        return s;
    }
    default:
        break;
    }
    if (kind == K::integer) {
        int const bits = c.logical->bit_width;
        if (!c.logical->is_signed) {
            if (bits == 64) {
                auto const r = rng() % 4;
                return r == 0   ? std::numeric_limits<std::uint64_t>::max()
                       : r == 1 ? std::uint64_t{0}
                                : static_cast<std::uint64_t>(rng());
            }
            return static_cast<std::uint64_t>(pick(0, (std::int64_t{1} << bits) - 1));
        }
        return pick(-(std::int64_t{1} << (bits - 1)), (std::int64_t{1} << (bits - 1)) - 1);
    }
    if (kind == K::date)
        return pick(-719162, 2932896); // years 1 to 9999
    if (kind == K::timestamp) {
        std::int64_t const per_s = c.logical->unit == pq::time_unit::millis   ? 1000
                                   : c.logical->unit == pq::time_unit::micros ? 1000000
                                                                              : 1000000000;
        std::int64_t const span =
            c.logical->unit == pq::time_unit::nanos ? 9'000'000'000LL : 250'000'000'000LL;
        return pick(-span, span) * per_s / 1000 + static_cast<std::int64_t>(rng() % 1000);
    }
    if (kind == K::decimal) {
        std::int64_t m = 1;
        for (int i = 0; i < c.precision && m < (std::int64_t{1} << 49); ++i)
            m *= 10; // hyparquet reads decimals as doubles: stay below 2^50
        return pick(-(m - 1), m - 1);
    }
    if (c.type == pq::physical_type::int32)
        return pick(std::numeric_limits<std::int32_t>::min(),
                    std::numeric_limits<std::int32_t>::max());
    return pick(std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
}

using table = std::vector<std::vector<pq::cell>>;

table random_rows(std::vector<pq::column_spec> const& cols, std::size_t n, std::mt19937_64& rng)
{
    table t(n);
    for (auto& r : t)
        for (auto const& c : cols)
            r.push_back(random_cell(c, rng));
    return t;
}

/// Writes `rows` in batches of `batch` rows (one row group each).
void write_file(fs::path const& f, std::vector<pq::column_spec> const& cols, table const& rows,
                pq::writer_options o, std::size_t batch)
{
    pq::writer w(f, cols, std::move(o));
    for (std::size_t i = 0; i < rows.size(); ++i) {
        w.write_cells(rows[i]);
        if ((i + 1) % batch == 0)
            w.end_row_group();
    }
    w.close();
}

std::vector<std::string> expected(std::vector<pq::column_spec> const& cols, table const& rows)
{
    std::vector<std::string> out;
    for (auto const& r : rows)
        out.push_back(canon_row(cols, r));
    return out;
}

} // namespace

TEST_CASE("writer: the RLE/bit-packed hybrid and PLAIN bytes are the format's", "[parquet][writer]")
{
    std::vector<std::uint32_t> const run(8, 1);
    CHECK(pq::enc::rle_hybrid(run, 1) == std::vector<std::uint8_t>{0x10, 0x01});
    std::vector<std::uint32_t> const lit{1, 2, 3};
    CHECK(pq::enc::rle_hybrid(lit, 2) == std::vector<std::uint8_t>{0x03, 0x39, 0x00});
    // 3 literals, then a run of 10 sevens: 5 of them lent to the literal group, 5 left for a
    // run... which is under 8, so all 13 values are bit-packed (2 groups)
    std::vector<std::uint32_t> mixed{1, 2, 3};
    mixed.insert(mixed.end(), 10, 7);
    auto const m = pq::enc::rle_hybrid(mixed, 3);
    CHECK(m.front() == 0x05); // (2 groups << 1) | 1
    CHECK(m.size() == 1 + 2 * 3);
    // a long run after 3 literals: a literal group of 8, then an RLE run of the rest
    std::vector<std::uint32_t> longer{1, 2, 3};
    longer.insert(longer.end(), 100, 7);
    auto const l = pq::enc::rle_hybrid(longer, 3);
    REQUIRE(l.size() == 1 + 3 + 2 + 1); // 95 << 1 = 190: a two-byte ULEB128
    CHECK(l[0] == 0x03);
    CHECK(l[4] == 0xbe);
    CHECK(l[5] == 0x01);
    CHECK(l[6] == 7);
    CHECK(pq::enc::bit_width(0) == 0);
    CHECK(pq::enc::bit_width(1) == 1);
    CHECK(pq::enc::bit_width(255) == 8);
    CHECK(pq::enc::bit_width(256) == 9);

    pq::enc::plain_writer<bool> b;
    for (bool v : {true, false, true, true, false, false, false, false, true})
        b.put(v);
    CHECK(std::vector<std::uint8_t>(b.bytes().begin(), b.bytes().end()) ==
          std::vector<std::uint8_t>{0x0d, 0x01});
    pq::enc::plain_writer<std::string> s;
    s.put("ab");
    CHECK(std::vector<std::uint8_t>(s.bytes().begin(), s.bytes().end()) ==
          std::vector<std::uint8_t>{2, 0, 0, 0, 'a', 'b'});

    pq::enc::dictionary<std::string> d(10);
    CHECK(d.index_of("abc") == 0u); // 7 bytes
    CHECK(d.index_of("abc") == 0u);
    CHECK(!d.index_of("xyz").has_value()); // 14 > 10: full
    CHECK(d.full());
    CHECK(d.index_of("abc") == 0u); // known values still found
}

TEST_CASE("writer: page CRCs and offsets in the footer match the bytes", "[parquet][writer]")
{
    temp_dir dir("crc");
    auto const f = dir.path / "crc.parquet";
    auto const cols = every_type();
    std::mt19937_64 rng(7);
    auto const rows = random_rows(cols, 700, rng);
    write_file(f, cols, rows, {.codec = pq::compression_codec::zstd, .page_byte_size = 512}, 300);
    pq::file file(f.string());
    REQUIRE(file.num_rows() == 700);
    REQUIRE(file.metadata().row_groups.size() == 3);
    std::size_t pages = 0;
    for (std::size_t g = 0; g < 3; ++g)
        for (std::size_t c = 0; c < cols.size(); ++c) {
            auto const range = file.chunk(g, c);
            auto const bytes = file.read(range.offset, range.size);
            std::size_t at = 0;
            while (at < bytes.size()) {
                std::size_t hs = 0;
                auto const h = pq::decode_page_header(
                    std::span<std::uint8_t const>(bytes).subspan(at), range.offset + at, hs);
                REQUIRE(h.crc.has_value());
                auto const body = std::span<std::uint8_t const>(bytes).subspan(
                    at + hs, static_cast<std::size_t>(h.compressed_page_size));
                CHECK(*h.crc == pq::enc::page_crc(body));
                at += hs + body.size();
                ++pages;
            }
            CHECK(at == bytes.size());
        }
    CHECK(pages > 3 * cols.size() * 2); // small pages: several per chunk, and dictionaries
}

TEST_CASE("writer: every type, each codec, dictionary and plain, read back by DuckDB, hyparquet "
          "and parquet-wasm",
          "[parquet][writer][oracle]")
{
    writer_test::oracles();
    temp_dir dir("types");
    auto const cols = every_type();
    std::mt19937_64 rng(2026);
    auto const rows = random_rows(cols, 2500, rng);
    auto const want = expected(cols, rows);
    std::vector<fs::path> files;
    for (auto codec :
         {pq::compression_codec::uncompressed, pq::compression_codec::snappy,
          pq::compression_codec::gzip, pq::compression_codec::zstd, pq::compression_codec::lz4_raw})
        for (bool dict : {true, false}) {
            auto const f = dir.path / (std::string(pq::to_string(codec)) +
                                       (dict ? "-dict" : "-plain") + ".parquet");
            write_file(f, cols, rows, {.codec = codec, .dictionary = dict, .page_byte_size = 4096},
                       1000);
            files.push_back(f);
        }
    for (std::string engine : {"duckdb", "hyparquet", "parquet-wasm"}) {
        auto const got = read_many(engine, files);
        for (auto const& f : files) {
            INFO(engine << " reading " << f.filename().string());
            auto const it = got.find(f.string());
            REQUIRE(it != got.end());
            REQUIRE(it->second.size() == want.size());
            for (std::size_t i = 0; i < want.size(); ++i) {
                INFO("row " << i);
                REQUIRE(it->second[i] == want[i]);
            }
        }
    }
}

TEST_CASE("writer: DuckDB's parquet_schema and parquet_metadata show our types and statistics",
          "[parquet][writer][oracle]")
{
    writer_test::oracles();
    temp_dir dir("stats");
    auto const f = dir.path / "stats.parquet";
    using C = pq::column_spec;
    std::vector<pq::column_spec> const cols{C::int8("i8"),
                                            C::uint64("u64"),
                                            C::float64("d").optional(),
                                            C::string("s").optional(),
                                            C::decimal("dec", 9, 2),
                                            C::timestamp("ts", pq::time_unit::micros, true),
                                            C::date("dt")};
    {
        pq::writer w(f, cols, {.codec = pq::compression_codec::snappy});
        using row =
            std::tuple<int, std::uint64_t, std::optional<double>, std::optional<std::string>, int,
                       std::int64_t, std::chrono::sys_days>;
        using namespace std::chrono;
        std::vector<row> g1{
            {-128, 1, -0.0, "b", -12345, 0, sys_days(2024y / 1 / 1)},
            {127, ~std::uint64_t{0}, std::nullopt, "\xc3\xa9", 5, 10, sys_days(1970y / 1 / 1)},
            {0, 2, 2.5, std::nullopt, 0, -10, sys_days(1969y / 12 / 31)}};
        w.write_batch(g1);
        std::vector<row> g2{
            {3, 7, std::numeric_limits<double>::quiet_NaN(), "a", 99, 1, sys_days(2000y / 2 / 29)}};
        w.write_batch(g2);
        w.close();
        CHECK(w.row_groups_written() == 2);
        CHECK(w.rows_written() == 4);
    }
    auto const out = writer_test::node("meta.mjs", {f.string()});
    auto const has = [&](std::string const& needle) {
        INFO(out);
        CHECK(out.find(needle) != std::string::npos);
    };
    has(R"j({"schema":{"name":"i8","type":"INT32","repetition_type":"REQUIRED","converted_type":"INT_8")j");
    has(R"j({"schema":{"name":"u64","type":"INT64","repetition_type":"REQUIRED","converted_type":"UINT_64")j");
    has(R"j({"schema":{"name":"d","type":"DOUBLE","repetition_type":"OPTIONAL")j");
    has(R"j({"schema":{"name":"s","type":"BYTE_ARRAY","repetition_type":"OPTIONAL","converted_type":"UTF8","logical_type":"StringType()")j");
    has(R"j({"schema":{"name":"dec","type":"INT32","repetition_type":"REQUIRED","converted_type":"DECIMAL")j");
    has(R"j("scale":"2","precision":"9")j");
    has(R"j({"schema":{"name":"ts","type":"INT64","repetition_type":"REQUIRED","converted_type":"TIMESTAMP_MICROS")j");
    has(R"j({"schema":{"name":"dt","type":"INT32","repetition_type":"REQUIRED","converted_type":"DATE")j");
    // row group 0's statistics: signed order for INT8, unsigned for UINT64, -0.0 as the
    // minimum, nulls counted, bytes in unsigned order (é > b)
    has(R"j("row_group_id":"0","row_group_num_rows":"3","path_in_schema":"i8","type":"INT32","num_values":"3","compression":"SNAPPY")j");
    has(R"j("path_in_schema":"i8","type":"INT32","num_values":"3","compression":"SNAPPY","encodings":"PLAIN, RLE, RLE_DICTIONARY","stats_min_value":"-128","stats_max_value":"127","stats_null_count":"0")j");
    has(R"j("path_in_schema":"u64","type":"INT64","num_values":"3","compression":"SNAPPY","encodings":"PLAIN, RLE, RLE_DICTIONARY","stats_min_value":"1","stats_max_value":"18446744073709551615","stats_null_count":"0")j");
    has(R"j("path_in_schema":"d","type":"DOUBLE","num_values":"3","compression":"SNAPPY","encodings":"PLAIN, RLE, RLE_DICTIONARY","stats_min_value":"-0.0","stats_max_value":"2.5","stats_null_count":"1")j");
    has("\"path_in_schema\":\"s\",\"type\":\"BYTE_ARRAY\",\"num_values\":\"3\",\"compression\":"
        "\"SNAPPY\",\"encodings\":\"PLAIN, RLE, "
        "RLE_DICTIONARY\",\"stats_min_value\":\"b\",\"stats_max_value\":\"\xc3\xa9\",\"stats_null_"
        "count\":\"1\"");
    has(R"j("path_in_schema":"dec","type":"INT32","num_values":"3","compression":"SNAPPY","encodings":"PLAIN, RLE, RLE_DICTIONARY","stats_min_value":"-123.45","stats_max_value":"0.05","stats_null_count":"0")j");
    has(R"j("path_in_schema":"dt","type":"INT32","num_values":"3","compression":"SNAPPY","encodings":"PLAIN, RLE, RLE_DICTIONARY","stats_min_value":"1969-12-31","stats_max_value":"2024-01-01")j");
    // row group 1: NaN is left out of the bounds (no min/max), not counted as null
    has(R"j("row_group_id":"1","row_group_num_rows":"1","path_in_schema":"d","type":"DOUBLE","num_values":"1","compression":"SNAPPY","encodings":"PLAIN, RLE, RLE_DICTIONARY","stats_min_value":null,"stats_max_value":null,"stats_null_count":"0")j");
}

TEST_CASE("writer: a dictionary past its byte limit falls back to PLAIN in the same chunk",
          "[parquet][writer][oracle]")
{
    writer_test::oracles();
    temp_dir dir("fallback");
    auto const f = dir.path / "fallback.parquet";
    std::vector<pq::column_spec> const cols{pq::column_spec::string("s"),
                                            pq::column_spec::int64("n").optional()};
    table rows;
    for (int i = 0; i < 5000; ++i)
        rows.push_back({std::string("value-") + std::to_string(i % 2 ? i : 1),
                        i % 7 == 0 ? pq::cell{} : pq::cell{std::int64_t{i % 10}}});
    write_file(f, cols, rows, {.dictionary_byte_limit = 2000, .page_byte_size = 1024}, 5000);
    pq::file file(f.string());
    auto const& md = *file.metadata().row_groups.at(0).columns.at(0).meta_data;
    bool dict_pages = false, plain_pages = false;
    for (auto const& s : md.encoding_stats) {
        dict_pages |= s.encoding == pq::encoding::rle_dictionary && s.count > 0;
        plain_pages |= s.page_type == pq::page_type::data_page && s.encoding == pq::encoding::plain;
    }
    CHECK(dict_pages);
    CHECK(plain_pages);
    auto const& n = *file.metadata().row_groups.at(0).columns.at(1).meta_data;
    CHECK(n.encoding_stats.size() == 2); // dictionary page + RLE_DICTIONARY data pages only
    auto const got = lines_of(writer_test::read_with("duckdb", f));
    CHECK(got == expected(cols, rows));
    auto const meta = writer_test::node("meta.mjs", {f.string()});
    CHECK(
        meta.find(
            R"j("path_in_schema":"n","type":"INT64","num_values":"5000","compression":"SNAPPY","encodings":"PLAIN, RLE, RLE_DICTIONARY","stats_min_value":"0","stats_max_value":"9","stats_null_count":"715")j") !=
        std::string::npos);
}

TEST_CASE("writer: a row group ends when its pages pass the byte budget",
          "[parquet][writer][oracle]")
{
    writer_test::oracles();
    temp_dir dir("budget");
    auto const f = dir.path / "budget.parquet";
    std::vector<pq::column_spec> const cols{pq::column_spec::int64("id"),
                                            pq::column_spec::string("s")};
    table rows;
    std::mt19937_64 rng(3);
    for (int i = 0; i < 20000; ++i) {
        std::string s(20, 'a');
        for (auto& ch : s)
            ch = static_cast<char>('a' + rng() % 26);
        rows.push_back({std::int64_t{i}, s});
    }
    {
        pq::writer w(f, cols,
                     {.codec = pq::compression_codec::uncompressed,
                      .dictionary = false,
                      .page_byte_size = 8192,
                      .row_group_byte_size = 64 * 1024});
        for (auto const& r : rows)
            w.write_cells(r);
        CHECK(w.buffered_bytes() < 64 * 1024 + 8192 * 2);
        w.close();
        CHECK(w.row_groups_written() >= 7); // ~ 640 KB of values in 64 KiB row groups
        CHECK(w.rows_written() == 20000);
    }
    pq::file file(f.string());
    std::int64_t sum = 0;
    for (auto const& g : file.metadata().row_groups) {
        CHECK(g.total_compressed_size.value_or(0) < 64 * 1024 + 64 * 64 + 8192 * 2);
        sum += g.num_rows;
    }
    CHECK(sum == 20000);
    CHECK(lines_of(writer_test::read_with("parquet-wasm", f)) == expected(cols, rows));
}

TEST_CASE("writer: rows from structs and tuples, schema from the type", "[parquet][writer][oracle]")
{
    writer_test::oracles();
    struct person {
        std::int64_t id;
        std::string name;
        std::optional<double> score;
        std::uint16_t age;
        bool active;
    };
    auto const cols = pq::columns_for<person>({"id", "name", "score", "age", "active"});
    REQUIRE(cols.size() == 5);
    CHECK(cols[2].is_optional);
    CHECK(cols[3].is_unsigned());
    temp_dir dir("struct");
    auto const f = dir.path / "people.parquet";
    std::vector<person> people{{1, "ada", 9.5, 36, true}, {2, "alan", std::nullopt, 41, false}};
    pq::writer w(f, cols, {.codec = pq::compression_codec::gzip});
    w.write_batch(people);
    w.close();
    CHECK(lines_of(writer_test::read_with("hyparquet", f)) ==
          std::vector<std::string>{R"([1,"ada","4023000000000000",36,true])",
                                   R"([2,"alan",null,41,false])"});
}

TEST_CASE("writer: errors name the file, the row, the column and what is wrong",
          "[parquet][writer]")
{
    temp_dir dir("errors");
    auto const f = dir.path / "e.parquet";
    using C = pq::column_spec;
    auto const message = [](auto&& fn) {
        try {
            fn();
        } catch (pq::error const& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    {
        pq::writer w(f, {C::int8("small"), C::string("s")});
        w.write_row(std::tuple{1, "a"});
        auto const m = message([&] { w.write_row(std::tuple{300, "b"}); });
        CHECK(m.find(f.string()) != std::string::npos);
        CHECK(m.find("row 1") != std::string::npos);
        CHECK(m.find("column \"small\" (INT32 INT8)") != std::string::npos);
        CHECK(m.find("300 is out of range") != std::string::npos);
    }
    {
        pq::writer w(f, {C::int64("n"), C::string("s")});
        auto const m = message([&] { w.write_row(std::tuple{std::nullopt, "b"}); });
        CHECK(m.find("row 0, column \"n\" (INT64): null in a required column") !=
              std::string::npos);
        auto const m2 = message([&] { w.write_row(std::tuple{1, 2}); });
        CHECK(m2.find("column \"s\" (BYTE_ARRAY STRING): cannot take a 32-bit integer") !=
              std::string::npos);
        auto const m3 = message([&] { w.write_row(std::tuple{1}); });
        CHECK(m3.find("row 0 has 1 fields for 2 columns") != std::string::npos);
    }
    {
        auto const m = message([&] { pq::writer w(f, {C::decimal("price", 30, 2)}); });
        CHECK(m.find("column \"price\": DECIMAL(30,2) is not written") != std::string::npos);
        auto const m2 = message([&] { pq::writer w(f, {C::int32("a"), C::int64("a")}); });
        CHECK(m2.find("column \"a\" is declared twice") != std::string::npos);
    }
    {
        auto const bad = dir.path / "no-such-dir" / "x.parquet";
        try {
            pq::writer w(bad, {C::int32("a")});
            FAIL("no error");
        } catch (pq::error const& e) {
            CHECK(e.file() == bad.string());
            CHECK(std::string(e.what()).find("cannot create the file: No such file or directory") !=
                  std::string::npos);
        }
    }
    if (fs::exists("/dev/full")) {
        auto const m = message([&] { pq::writer w("/dev/full", {C::int32("a")}); });
        CHECK(m.find("/dev/full: byte 0: write failed: No space left on device") !=
              std::string::npos);
    }
}

TEST_CASE("writer: random schemas and values round-trip through DuckDB and hyparquet",
          "[parquet][writer][oracle][property]")
{
    writer_test::oracles();
    temp_dir dir("property");
    auto const all = every_type();
    std::mt19937_64 rng(14);
    std::vector<fs::path> files;
    std::vector<std::vector<std::string>> want;
    int const cases = 300;
    for (int k = 0; k < cases; ++k) {
        std::vector<pq::column_spec> cols;
        auto const n = 1 + rng() % 6;
        for (std::size_t i = 0; i < n; ++i) {
            auto c = all[rng() % all.size()];
            c.name = "c" + std::to_string(i);
            c.is_optional = rng() % 2 == 0;
            cols.push_back(c);
        }
        auto const rows = random_rows(cols, rng() % 60, rng);
        pq::writer_options o;
        pq::compression_codec const codecs[] = {
            pq::compression_codec::uncompressed, pq::compression_codec::snappy,
            pq::compression_codec::gzip, pq::compression_codec::zstd};
        o.codec = codecs[rng() % 4];
        o.dictionary = rng() % 3 != 0;
        o.dictionary_byte_limit = 16 + rng() % 256;
        o.page_byte_size = 16 + rng() % 512;
        o.page_crc = rng() % 2 == 0;
        o.statistics = rng() % 4 != 0;
        auto const f = dir.path / ("case" + std::to_string(k) + ".parquet");
        write_file(f, cols, rows, o, 1 + rng() % 30);
        files.push_back(f);
        want.push_back(expected(cols, rows));
    }
    for (std::string engine : {"duckdb", "hyparquet"}) {
        auto const got = read_many(engine, files);
        for (int k = 0; k < cases; ++k) {
            INFO(engine << " reading " << files[static_cast<std::size_t>(k)].filename().string());
            auto const it = got.find(files[static_cast<std::size_t>(k)].string());
            REQUIRE(it != got.end());
            REQUIRE(it->second == want[static_cast<std::size_t>(k)]);
        }
    }
}
