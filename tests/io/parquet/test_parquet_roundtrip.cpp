// The writer's round-trip property (issue 14): random schemas (every column_spec type, required
// or optional, all-null columns), random options (codec, dictionary on/off and its limit, page
// and row-group sizes, CRCs, statistics) and random and edge values, written by
// parquet::writer and read back by OUR reader (parquet::rows): every value equal, bit for bit
// for floats (NaN, -0.0), with its type (meaning, unit, UTC flag, scale), in order, and the
// footer's row count and row groups as written. No oracle: runs in every preset. A failure
// names the case's seed and schema (roundtrip_support.hpp; STREAMBATCH_ROUNDTRIP_SEED=<seed>
// runs that case alone).
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/reader.hpp>
#include <streambatch/io/parquet/writer.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include <unistd.h>

#include "roundtrip_support.hpp"

namespace pq = streambatch::parquet;
namespace fs = std::filesystem;

namespace {

struct scratch_dir {
    fs::path path;
    scratch_dir()
    {
        std::string t = (fs::temp_directory_path() / "sb-pq-roundtrip-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~scratch_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    scratch_dir(scratch_dir const&) = delete;
    scratch_dir& operator=(scratch_dir const&) = delete;
};

/// "" when `got` is what `want` was written as in column `c`, else what differs.
std::string mismatch(pq::column_spec const& c, pq::cell const& want, pq::value const& got)
{
    using K = pq::logical_type::kind_t;
    using M = pq::value_meaning;
    if (std::holds_alternative<std::monostate>(want))
        return got.is_null() ? "" : "a null read as " + got.to_string();
    if (got.is_null())
        return "a value read as null";
    auto const kind = c.logical ? c.logical->kind : K::none;
    auto const as_i64 = [&]() -> std::int64_t {
        if (auto const* u = std::get_if<std::uint64_t>(&want))
            return static_cast<std::int64_t>(*u);
        return std::get<std::int64_t>(want);
    };
    switch (c.type) {
    case pq::physical_type::boolean:
        return got.if_bool() && *got.if_bool() == std::get<bool>(want) ? "" : "boolean differs";
    case pq::physical_type::int32:
    case pq::physical_type::int64: {
        std::int64_t const w = as_i64();
        bool const same = c.type == pq::physical_type::int32
                              ? got.if_int32() && *got.if_int32() == static_cast<std::int32_t>(w)
                              : got.if_int64() && *got.if_int64() == w;
        if (!same)
            return "integer " + std::to_string(w) + " read as " + got.to_string();
        M const meaning = kind == K::date        ? M::date
                          : kind == K::timestamp ? M::timestamp
                          : kind == K::decimal   ? M::decimal
                          : kind == K::integer
                              ? (c.logical->is_signed ? M::signed_int : M::unsigned_int)
                              : M::none;
        if (got.meaning() != meaning)
            return "its meaning differs";
        if (kind == K::timestamp &&
            (got.unit() != c.logical->unit || got.utc() != c.logical->is_adjusted_to_utc))
            return "its timestamp unit or UTC flag differs";
        if (kind == K::decimal && got.scale() != c.scale)
            return "its decimal scale differs";
        return "";
    }
    case pq::physical_type::float_: {
        float const w = std::get<float>(want);
        return got.if_float() && std::bit_cast<std::uint32_t>(*got.if_float()) ==
                                     std::bit_cast<std::uint32_t>(w)
                   ? ""
                   : "float bits differ (read " + got.to_string() + ")";
    }
    case pq::physical_type::double_: {
        double const w = std::get<double>(want);
        return got.if_double() && std::bit_cast<std::uint64_t>(*got.if_double()) ==
                                      std::bit_cast<std::uint64_t>(w)
                   ? ""
                   : "double bits differ (read " + got.to_string() + ")";
    }
    default: {
        auto const& w = std::get<std::string>(want);
        if (!got.if_bytes() || *got.if_bytes() != w)
            return "bytes differ (" + std::to_string(w.size()) + " written, " +
                   (got.if_bytes() ? std::to_string(got.if_bytes()->size()) : "none") + " read)";
        if (got.meaning() != (kind == K::string ? M::string : M::none))
            return "its meaning differs";
        return "";
    }
    }
}

/// Writes `fc`, reads it back with our reader, and checks every value and the footer.
void check_case(fs::path const& dir, roundtrip::file_case const& fc)
{
    INFO(fc.describe());
    auto const f = dir / ("case-" + std::to_string(fc.seed) + ".parquet");
    roundtrip::write_case(f, fc);
    pq::file const file(f);
    CHECK(file.metadata().num_rows == static_cast<std::int64_t>(fc.rows.size()));
    std::int64_t group_rows = 0;
    for (auto const& g : file.metadata().row_groups)
        group_rows += g.num_rows;
    CHECK(group_rows == static_cast<std::int64_t>(fc.rows.size()));
    CHECK(file.metadata().row_groups.size() >= fc.group_ends.size());
    std::size_t r = 0;
    for (pq::row const& row : pq::rows(f)) {
        REQUIRE(r < fc.rows.size());
        REQUIRE(row.size() == fc.columns.size());
        for (std::size_t c = 0; c < row.size(); ++c) {
            auto const why = mismatch(fc.columns[c], fc.rows[r][c], row[c]);
            if (!why.empty())
                FAIL("row " << r << ", column " << fc.columns[c].name << " ("
                            << fc.columns[c].type_name() << "): " << why);
        }
        ++r;
    }
    CHECK(r == fc.rows.size());
    fs::remove(f);
}

} // namespace

TEST_CASE("roundtrip: random schemas, options and edge values read back by our reader",
          "[parquet][writer][property]")
{
    scratch_dir dir;
    if (char const* one = std::getenv("STREAMBATCH_ROUNDTRIP_SEED")) {
        check_case(dir.path, roundtrip::make_case(std::strtoull(one, nullptr, 10), {}));
        return;
    }
    std::uint64_t const base = 20261206;
    for (std::uint64_t k = 0; k < 400; ++k)
        check_case(dir.path, roundtrip::make_case(base + k, {}));
}

TEST_CASE("roundtrip: wide files of many rows, small pages and row groups, read back by our "
          "reader",
          "[parquet][writer][property]")
{
    scratch_dir dir;
    std::uint64_t const base = 14'000'000;
    for (std::uint64_t k = 0; k < 6; ++k)
        check_case(dir.path, roundtrip::make_case(base + k, {}, 17, 20000));
}

TEST_CASE("roundtrip: a chunk of mostly distinct values drops its dictionary, a repetitive one "
          "keeps it",
          "[parquet][writer]")
{
    scratch_dir dir;
    auto const f = dir.path / "probe.parquet";
    using C = pq::column_spec;
    {
        pq::writer w(f, {C::int64("id"), C::string("cat"), C::string("hex").optional()},
                     {.page_byte_size = std::size_t{1} << 20});
        std::vector<std::tuple<std::int64_t, std::string, std::optional<std::string>>> rows;
        for (std::int64_t i = 0; i < 20000; ++i)
            rows.emplace_back(i, "c" + std::to_string(i % 97),
                              i % 3 == 0 ? std::nullopt
                                         : std::optional<std::string>(std::to_string(i * 7919)));
        w.write_batch(rows);
        w.close();
    }
    pq::file const file(f);
    auto const& cols = file.metadata().row_groups.at(0).columns;
    REQUIRE(cols.size() == 3);
    CHECK_FALSE(cols[0].meta_data->dictionary_page_offset.has_value()); // unique ids
    CHECK(cols[1].meta_data->dictionary_page_offset.has_value());       // 97 values
    CHECK_FALSE(cols[2].meta_data->dictionary_page_offset.has_value()); // unique strings
    std::int64_t i = 0;
    for (pq::row const& r : pq::rows(f)) {
        REQUIRE(*r[0].if_int64() == i);
        REQUIRE(*r[1].if_bytes() == "c" + std::to_string(i % 97));
        if (i % 3 == 0)
            REQUIRE(r[2].is_null());
        else
            REQUIRE(*r[2].if_bytes() == std::to_string(i * 7919));
        ++i;
    }
    CHECK(i == 20000);
}
