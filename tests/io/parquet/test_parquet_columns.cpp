// The columnar read path (io/parquet/columns.hpp) against the row path (reader.hpp): every flat
// file of data/ (every codec, PLAIN and dictionary pages, v1 and v2, optional columns with
// nulls) gives the same values both ways, whole row groups and under a byte budget (slices);
// the budget makes the buffers smaller; the memory_short hook; errors name file, row group,
// column, page and byte offset.
#include <streambatch/io/parquet/columns.hpp>
#include <streambatch/io/parquet/detail/codec.hpp>
#include <streambatch/io/parquet/reader.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ranges>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "parquet_test_support.hpp"

namespace pq = streambatch::parquet;
namespace fs = std::filesystem;

static_assert(std::ranges::input_range<pq::column_batches> &&
              std::ranges::view<pq::column_batches>);
using parquet_test::parquet_files;
using parquet_test::testing_dir;

namespace {

/// Non-null value i of column c as the row path's value.
pq::value cell(pq::column_values const& c, std::size_t i)
{
    using K = pq::value_kind;
    switch (c.descriptor().type) {
    case pq::physical_type::boolean:
        return pq::value::make(K::boolean, c.type, c.booleans()[i] != 0);
    case pq::physical_type::int32:
        return pq::value::make(K::int32, c.type, c.int32s()[i]);
    case pq::physical_type::int64:
        return pq::value::make(K::int64, c.type, c.int64s()[i]);
    case pq::physical_type::float_:
        return pq::value::make(K::float_, c.type, c.floats()[i]);
    case pq::physical_type::double_:
        return pq::value::make(K::double_, c.type, c.doubles()[i]);
    case pq::physical_type::int96: {
        pq::int96_value x;
        std::memcpy(&x.nanos_of_day, c.bytes(i).data(), 8);
        std::memcpy(&x.julian_day, c.bytes(i).data() + 8, 4);
        return pq::value::make(K::int96, c.type, x);
    }
    default:
        return pq::value::make(K::bytes, c.type, std::string(c.bytes(i)));
    }
}

/// Every cell, row by row, as "kind:text" (the row path's or the columnar one's).
std::vector<std::string> by_rows(fs::path const& p)
{
    std::vector<std::string> out;
    for (pq::row const& r : pq::rows(p))
        for (pq::value const& v : r.values())
            out.push_back(std::to_string(static_cast<int>(v.kind())) + ":" + v.to_string());
    return out;
}

struct columnar_read {
    std::vector<std::string> cells;
    std::size_t batches = 0, max_rows = 0, max_capacity = 0;
    bool all_whole = true;
};

columnar_read by_columns(fs::path const& p, pq::column_options opt = {})
{
    columnar_read out;
    std::int64_t next_row = 0;
    for (pq::column_batch const& b : pq::column_batches(p, opt)) {
        CHECK(b.first_row == next_row);
        next_row += static_cast<std::int64_t>(b.rows);
        ++out.batches;
        out.max_rows = std::max(out.max_rows, b.rows);
        out.max_capacity = std::max(out.max_capacity, b.capacity_bytes());
        out.all_whole = out.all_whole && b.whole_group;
        std::size_t const first = out.cells.size();
        out.cells.resize(first + b.rows * b.columns.size());
        for (std::size_t k = 0; k < b.columns.size(); ++k) {
            pq::column_values const& c = b.columns[k];
            REQUIRE(c.rows == b.rows);
            REQUIRE((c.defined.empty() || c.defined.size() == c.rows));
            std::size_t v = 0;
            for (std::size_t r = 0; r < c.rows; ++r) {
                pq::value const x = c.is_null(r) ? pq::value::null(c.type) : cell(c, v++);
                out.cells[first + r * b.columns.size() + k] =
                    std::to_string(static_cast<int>(x.kind())) + ":" + x.to_string();
            }
            CHECK(v == c.values.size());
            CHECK(c.null_count() == c.rows - v);
        }
    }
    return out;
}

fs::path damaged_copy(fs::path const& src, std::uint64_t at, std::uint8_t value)
{
    auto bytes = parquet_test::slurp(src);
    REQUIRE(at < bytes.size());
    bytes[at] = value;
    fs::path const out =
        fs::temp_directory_path() /
        ("streambatch_pqcol_" + std::to_string(::getpid()) + "_" + src.filename().string());
    std::ofstream(out, std::ios::binary)
        .write(reinterpret_cast<char const*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return out;
}

} // namespace

TEST_CASE("columns: every flat file of data/ gives the row path's values, whole and in slices",
          "[parquet][columns]")
{
    int compared = 0, sliced = 0;
    std::set<pq::compression_codec> codecs;
    for (fs::path const& p : parquet_files(testing_dir() / "data")) {
        std::string const name = p.filename().string();
        INFO(name);
        pq::file f(p);
        if (!f.schema().is_flat())
            continue;
        std::vector<std::string> rows;
        try {
            rows = by_rows(p);
        } catch (pq::error const& e) {
            // what the row path refuses (CRC mismatches), the columnar path refuses alike
            CHECK_THROWS_WITH(by_columns(p), Catch::Contains(e.reason()));
            continue;
        }
        ++compared;
        for (auto const& g : f.metadata().row_groups)
            for (auto const& c : g.columns)
                if (c.meta_data)
                    codecs.insert(c.meta_data->codec);
        columnar_read const whole = by_columns(p);
        CHECK(whole.all_whole);
        // one batch a row group that has rows
        CHECK(whole.batches ==
              static_cast<std::size_t>(std::ranges::count_if(
                  f.metadata().row_groups, [](auto const& g) { return g.num_rows > 0; })));
        CHECK(whole.cells == rows);
        // under a budget of a third of the largest row group: slices, the same values
        std::uint64_t const largest = pq::largest_projected_group(f, {});
        if (largest < 3)
            continue;
        columnar_read const parts = by_columns(p, {.budget_bytes = largest / 3});
        CHECK(parts.cells == rows);
        if (f.num_rows() > 2 && !parts.all_whole) {
            ++sliced;
            CHECK(parts.batches > whole.batches);
        }
    }
    CHECK(compared >= 40);
    CHECK(sliced >= 30);
    // UNCOMPRESSED, SNAPPY, GZIP, LZ4, ZSTD, LZ4_RAW
    CHECK(codecs.size() >= 6);
}

TEST_CASE("columns: a large row group under a small budget comes in smaller slices, every "
          "value the same",
          "[parquet][columns]")
{
    // one row group of 7300 rows in tiny pages; optional columns, dictionary and plain
    for (char const* file : {"alltypes_tiny_pages.parquet", "alltypes_tiny_pages_plain.parquet"}) {
        INFO(file);
        fs::path const p = testing_dir() / "data" / file;
        pq::file f(p);
        REQUIRE(f.metadata().row_groups.size() == 1);
        std::uint64_t const projected = pq::largest_projected_group(f, {});
        columnar_read const whole = by_columns(p);
        columnar_read const parts = by_columns(p, {.budget_bytes = projected / 10});
        CHECK(parts.cells == whole.cells);
        CHECK(parts.cells == by_rows(p));
        CHECK(whole.batches == 1);
        CHECK(parts.batches >= 10);
        CHECK(parts.max_rows <= 7300 / 10 + 1);
        // the buffers' capacities: a slice's are a fraction of the whole group's
        CHECK(parts.max_capacity * 4 < whole.max_capacity);
    }
}

TEST_CASE("columns: memory_short is asked once a row group, true reads it in slices",
          "[parquet][columns]")
{
    fs::path const p = testing_dir() / "data" / "alltypes_tiny_pages_plain.parquet";
    int asked = 0;
    auto const whole = by_columns(p, {.memory_short = [&] {
                                      ++asked;
                                      return false;
                                  }});
    CHECK(asked == 1);
    CHECK(whole.all_whole);
    // short of memory with a budget: the budget (when under 8 MiB) slices the group
    pq::file f(p);
    auto const parts = by_columns(p, {.budget_bytes = pq::largest_projected_group(f, {}) / 4,
                                      .memory_short = [] { return true; }});
    CHECK_FALSE(parts.all_whole);
    CHECK(parts.cells == whole.cells);
}

TEST_CASE("columns: projection, names, typed views of the wrong type", "[parquet][columns]")
{
    fs::path const p = testing_dir() / "data" / "alltypes_plain.parquet";
    pq::column_batches cb(p, {.columns = {"string_col", "id"}});
    CHECK(cb.names() == std::vector<std::string>{"string_col", "id"});
    std::vector<std::int32_t> ids;
    std::vector<std::string> strings;
    for (pq::column_batch const& b : cb) {
        for (std::int32_t v : b.columns[1].int32s())
            ids.push_back(v);
        auto const off = b.columns[0].offsets();
        for (std::size_t i = 0; i + 1 < off.size(); ++i)
            strings.emplace_back(b.columns[0].values.data.data() + off[i], off[i + 1] - off[i]);
        CHECK_THROWS_WITH(b.columns[1].int64s(),
                          Catch::Contains("column \"id\" is INT32, not INT64"));
    }
    CHECK(ids == std::vector<std::int32_t>{4, 5, 6, 7, 2, 3, 0, 1});
    CHECK(strings == std::vector<std::string>{"0", "1", "0", "1", "0", "1", "0", "1"});
    try {
        pq::column_batches bad(p, {.columns = {"nope"}});
        FAIL("no error");
    } catch (pq::error const& e) {
        CHECK(e.file() == p.string());
        CHECK_THAT(e.reason(), Catch::StartsWith("no column \"nope\" (columns: id, bool_col"));
    }
}

TEST_CASE("columns: damage in a page is named: file, row group, column, page, byte offset",
          "[parquet][columns]")
{
    // alltypes_plain.parquet is uncompressed: an offset inside a page is the byte's own
    auto const src = testing_dir() / "data" / "alltypes_plain.parquet";
    pq::file f(src);
    pq::column_reader cr(f, 0, 0);
    pq::column_page page;
    REQUIRE(cr.next_page(page));
    auto const head = f.read(page.offset, 64);
    std::size_t hs = 0;
    pq::page_header const h = pq::decode_page_header(head, page.offset, hs);
    REQUIRE(h.data_page_header);
    std::uint64_t const data = page.offset + hs;
    auto const len_bytes = f.read(data, 4);
    std::uint64_t const width_at =
        data + 4 + (len_bytes[0] | len_bytes[1] << 8 | len_bytes[2] << 16 | len_bytes[3] << 24);
    fs::path const bad = damaged_copy(src, width_at, 40);
    for (std::uint64_t budget : {std::uint64_t{0}, std::uint64_t{16}}) {
        INFO(budget);
        try {
            for ([[maybe_unused]] auto const& b :
                 pq::column_batches(bad, {.columns = {"bool_col", "id"}, .budget_bytes = budget})) {
            }
            FAIL("no error");
        } catch (pq::error const& e) {
            CHECK(e.file() == bad.string());
            CHECK(e.offset() == width_at);
            CHECK(e.reason() == std::string("row group 0 column 0 (\"id\") page 1: ") +
                                    to_string(h.data_page_header->encoding) +
                                    ": index bit width 40 past 32");
        }
    }
    fs::remove(bad);
}

TEST_CASE("columns: PLAIN decoded in place equals decode_plain, errors alike", "[parquet][columns]")
{
    namespace d = pq::detail;
    // three BYTE_ARRAY values after 3 bytes the caller is done with (levels)
    std::vector<std::uint8_t> page = {9, 9, 9};
    for (std::string const v : {"ab", "", "xyz"}) {
        auto const n = static_cast<std::uint32_t>(v.size());
        for (int k = 0; k < 4; ++k)
            page.push_back(static_cast<std::uint8_t>(n >> (8 * k)));
        page.insert(page.end(), v.begin(), v.end());
    }
    d::value_buffer want;
    d::decode_plain(pq::physical_type::byte_array, 0, std::span(page).subspan(3), 3, want, 3);
    d::value_buffer got;
    got.clear(0);
    got.push_bytes("before", 6); // appended after what the buffer holds
    got.data.insert(got.data.end(), page.begin(), page.end());
    d::decode_plain_in_place(pq::physical_type::byte_array, 0, got, 6, 3, 3, 3);
    REQUIRE(got.size() == 4);
    CHECK(got.bytes(0) == "before");
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(got.bytes(i + 1) == want.bytes(i));
    CHECK(got.data.size() == 11);
    // a length past the page: the same error as decode_plain's
    page[3 + 4 + 2] = 200; // value 1's length
    std::string const reason = [&] {
        try {
            d::decode_plain(pq::physical_type::byte_array, 0, std::span(page).subspan(3), 3, want,
                            3);
        } catch (pq::error const& e) {
            CHECK(e.offset() == 3 + 6);
            return e.reason();
        }
        return std::string();
    }();
    CHECK_THAT(reason, Catch::StartsWith("PLAIN: BYTE_ARRAY value 1's length 200 past the end"));
    got.clear(0);
    got.data.assign(page.begin(), page.end());
    try {
        d::decode_plain_in_place(pq::physical_type::byte_array, 0, got, 0, 3, 3, 3);
        FAIL("no error");
    } catch (pq::error const& e) {
        CHECK(e.offset() == 3 + 6);
        CHECK(e.reason() == reason);
    }
    // fixed width: INT32 after 2 bytes of levels
    std::vector<std::uint8_t> ints = {7, 7, 1, 0, 0, 0, 2, 0, 0, 0};
    d::value_buffer fixed;
    fixed.clear(4);
    fixed.fixed.assign(ints.begin(), ints.end());
    d::decode_plain_in_place(pq::physical_type::int32, 0, fixed, 0, 2, 2, 2);
    REQUIRE(fixed.size() == 2);
    CHECK(fixed.get<std::int32_t>(0) == 1);
    CHECK(fixed.get<std::int32_t>(1) == 2);
    fixed.fixed.assign(ints.begin(), ints.end());
    CHECK_THROWS_WITH(
        d::decode_plain_in_place(pq::physical_type::int32, 0, fixed, 0, 2, 3, 2),
        Catch::EndsWith("byte 2: PLAIN: 3 INT32 values of 4 bytes but the page has 8 bytes"));
}

TEST_CASE("columns: SNAPPY read in chunks (snappy_from) equals decompress, errors alike",
          "[parquet][columns]")
{
    std::vector<std::uint8_t> plain(700'000);
    for (std::size_t i = 0; i < plain.size(); ++i)
        plain[i] = static_cast<std::uint8_t>((i * 2654435761u) >> (i % 3 == 0 ? 24 : 7));
    auto const packed = pq::codec::compress(pq::compression_codec::snappy, plain);
    std::size_t reads = 0;
    auto const read = [&](std::size_t off, std::span<std::uint8_t> o) {
        ++reads;
        REQUIRE(off + o.size() <= packed.size());
        std::memcpy(o.data(), packed.data() + off, o.size());
    };
    std::vector<std::uint8_t> out(plain.size());
    pq::codec::snappy_from(read, packed.size(), out, "f.parquet", 100);
    CHECK(out == plain);
    CHECK(reads >= packed.size() / (128 << 10)); // in chunks, never the whole page at once
    // a wrong size and damage: errors naming the codec, both sizes, file and offset
    std::vector<std::uint8_t> short_out(plain.size() - 1);
    try {
        pq::codec::snappy_from(read, packed.size(), short_out, "f.parquet", 100);
        FAIL("no error");
    } catch (pq::error const& e) {
        CHECK(e.file() == "f.parquet");
        CHECK(e.offset() == 100);
        CHECK_THAT(e.reason(), Catch::StartsWith("SNAPPY: " + std::to_string(packed.size()) +
                                                 " bytes do not decompress into 699999: its "
                                                 "header says 700000"));
    }
    auto const cut = [&](std::size_t off, std::span<std::uint8_t> o) { read(off, o); };
    CHECK_THROWS_WITH(pq::codec::snappy_from(cut, packed.size() / 2, out, "f.parquet", 100),
                      Catch::Contains("SNAPPY: " + std::to_string(packed.size() / 2) +
                                      " bytes do not decompress into 700000: invalid input"));
}
