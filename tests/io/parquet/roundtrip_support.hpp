// Shared by the writer's round-trip property tests (test_parquet_roundtrip.cpp: our reader;
// test_parquet_writer_roundtrip.cpp: DuckDB, parquet-wasm and hyparquet): a random file case
// from a seed: a schema drawn from every column_spec type (required or optional), writer
// options (codec, dictionary on/off and its byte limit, page and row-group sizes, CRCs,
// statistics), row-group ends, and rows of random and edge values (integer bounds, NaN, ±inf,
// -0.0, subnormals, empty and long strings, bytes 0x00-0xff, all-null columns, decimal
// bounds). One seed gives one case, always the same: a failure prints it.
#ifndef STREAMBATCH_TESTS_PARQUET_ROUNDTRIP_SUPPORT_HPP_INCLUDED
#define STREAMBATCH_TESTS_PARQUET_ROUNDTRIP_SUPPORT_HPP_INCLUDED

#include <streambatch/io/parquet/writer.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace roundtrip {

namespace pq = streambatch::parquet;

/// What the readers can be asked to agree on. `oracles`: values DuckDB, hyparquet and
/// parquet-wasm represent exactly (dates in years 1-9999, timestamps within about 8000 years
/// of 1970 (UTC nanoseconds in whole microseconds: DuckDB's TIMESTAMPTZ), decimals below
/// 2^49 as hyparquet reads them as doubles, STRING values valid UTF-8).
/// Without it, every value the writer takes (our reader reads them all back bit for bit).
struct mode {
    bool oracles = false;
};

struct file_case {
    std::uint64_t seed = 0;
    std::vector<pq::column_spec> columns;
    pq::writer_options options;
    std::vector<std::vector<pq::cell>> rows;
    std::vector<std::size_t> group_ends; ///< end_row_group() after these many rows
    std::vector<bool> all_null;          ///< per column

    /// For failure messages: the seed, the schema and the options.
    std::string describe() const
    {
        std::string s =
            "seed " + std::to_string(seed) + ": " + std::to_string(rows.size()) + " rows; columns";
        for (std::size_t i = 0; i < columns.size(); ++i)
            s += " " + columns[i].name + ":" + columns[i].type_name() +
                 (columns[i].is_optional ? "?" : "") + (all_null[i] ? "(all null)" : "");
        s += std::string("; codec ") + pq::to_string(options.codec) + ", dictionary " +
             (options.dictionary ? "on" : "off") + " (limit " +
             std::to_string(options.dictionary_byte_limit) + "), page " +
             std::to_string(options.page_byte_size) + " B, row group " +
             std::to_string(options.row_group_byte_size) + " B, crc " +
             (options.page_crc ? "on" : "off") + ", statistics " +
             (options.statistics ? "on" : "off");
        return s;
    }
};

inline pq::column_spec random_column(std::mt19937_64& rng, std::string name)
{
    using C = pq::column_spec;
    pq::time_unit const units[] = {pq::time_unit::millis, pq::time_unit::micros,
                                   pq::time_unit::nanos};
    C c;
    switch (rng() % 17) {
    case 0:
        c = C::boolean(std::move(name));
        break;
    case 1:
        c = C::int8(std::move(name));
        break;
    case 2:
        c = C::int16(std::move(name));
        break;
    case 3:
        c = C::int32(std::move(name));
        break;
    case 4:
        c = C::int64(std::move(name));
        break;
    case 5:
        c = C::uint8(std::move(name));
        break;
    case 6:
        c = C::uint16(std::move(name));
        break;
    case 7:
        c = C::uint32(std::move(name));
        break;
    case 8:
        c = C::uint64(std::move(name));
        break;
    case 9:
        c = C::float32(std::move(name));
        break;
    case 10:
        c = C::float64(std::move(name));
        break;
    case 11:
        c = C::string(std::move(name));
        break;
    case 12:
        c = C::binary(std::move(name));
        break;
    case 13:
        c = C::date(std::move(name));
        break;
    case 14:
        c = C::timestamp(std::move(name), units[rng() % 3], rng() % 2 == 0);
        break;
    case 15: {
        auto const p = static_cast<std::int32_t>(1 + rng() % 18);
        c = C::decimal(std::move(name), p, static_cast<std::int32_t>(rng() % (p + 1)));
        break;
    }
    default:
        c = C::float64(std::move(name));
        break;
    }
    c.is_optional = rng() % 2 == 0;
    return c;
}

/// A random or edge value for column `c` (never null).
inline pq::cell random_value(pq::column_spec const& c, std::mt19937_64& rng, mode m)
{
    using K = pq::logical_type::kind_t;
    auto const kind = c.logical ? c.logical->kind : K::none;
    // bounds and small values a third of the time, else uniform; `rep` keeps repeats coming
    auto pick = [&](std::int64_t lo, std::int64_t hi) -> std::int64_t {
        switch (rng() % 12) {
        case 0:
            return lo;
        case 1:
            return hi;
        case 2:
            return lo < 0 && hi > 0 ? 0 : lo;
        case 3:
            return lo < 0 ? -1 : hi;
        default:
            if (rng() % 2 == 0) // repeats (dictionary-friendly)
                return std::clamp<std::int64_t>(static_cast<std::int64_t>(rng() % 7), lo, hi);
            return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
        }
    };
    switch (c.type) {
    case pq::physical_type::boolean:
        return rng() % 3 == 0;
    case pq::physical_type::float_:
    case pq::physical_type::double_: {
        bool const f = c.type == pq::physical_type::float_;
        double v;
        switch (rng() % 14) {
        case 0:
            v = std::numeric_limits<double>::quiet_NaN();
            break;
        case 1:
            v = std::numeric_limits<double>::infinity();
            break;
        case 2:
            v = -std::numeric_limits<double>::infinity();
            break;
        case 3:
            v = -0.0;
            break;
        case 4:
            v = 0.0;
            break;
        case 5:
            v = f ? static_cast<double>(std::numeric_limits<float>::denorm_min())
                  : std::numeric_limits<double>::denorm_min();
            break;
        case 6:
            v = f ? static_cast<double>(std::numeric_limits<float>::max())
                  : std::numeric_limits<double>::max();
            break;
        case 7:
            v = f ? static_cast<double>(std::numeric_limits<float>::lowest())
                  : std::numeric_limits<double>::lowest();
            break;
        case 8:
            v = static_cast<double>(rng() % 5);
            break;
        default:
            v = std::uniform_real_distribution<double>(-1e9, 1e9)(rng);
            break;
        }
        if (f)
            return static_cast<float>(v);
        return v;
    }
    case pq::physical_type::byte_array: {
        static char const* const words[] = {
            "", "a", "ümlaut", "quote\"back\\slash", "tab\tnew\nline", "日本語", "zz", "a"};
        bool const text = kind == K::string;
        std::string s;
        switch (rng() % 6) {
        case 0:
        case 1:
            s = words[rng() % 8];
            break;
        case 2: { // long: past a small page and a small dictionary
            auto const n = 200 + rng() % (rng() % 8 == 0 ? 70000 : 2000);
            for (std::size_t i = 0; i < n; ++i)
                s += static_cast<char>('a' + (i * 7 + n) % 26);
            break;
        }
        default: {
            auto const n = rng() % 24;
            for (std::size_t i = 0; i < n; ++i)
                s += static_cast<char>(text && m.oracles ? 0x20 + rng() % 95 : rng() % 256);
        }
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
                switch (rng() % 5) {
                case 0:
                    return std::numeric_limits<std::uint64_t>::max();
                case 1:
                    return std::uint64_t{0};
                case 2:
                    return std::uint64_t{1} << 63;
                case 3:
                    return static_cast<std::uint64_t>(rng() % 5);
                default:
                    return static_cast<std::uint64_t>(rng());
                }
            }
            return static_cast<std::uint64_t>(pick(0, (std::int64_t{1} << bits) - 1));
        }
        if (bits == 64)
            return pick(std::numeric_limits<std::int64_t>::min(),
                        std::numeric_limits<std::int64_t>::max());
        return pick(-(std::int64_t{1} << (bits - 1)), (std::int64_t{1} << (bits - 1)) - 1);
    }
    if (kind == K::date)
        return m.oracles ? pick(-719162, 2932896) // years 1 to 9999
                         : pick(std::numeric_limits<std::int32_t>::min(),
                                std::numeric_limits<std::int32_t>::max());
    if (kind == K::timestamp) {
        if (!m.oracles)
            return pick(std::numeric_limits<std::int64_t>::min(),
                        std::numeric_limits<std::int64_t>::max());
        std::int64_t const per_s = c.logical->unit == pq::time_unit::millis   ? 1000
                                   : c.logical->unit == pq::time_unit::micros ? 1000000
                                                                              : 1000000000;
        std::int64_t const span =
            c.logical->unit == pq::time_unit::nanos ? 9'000'000'000LL : 250'000'000'000LL;
        std::int64_t const t =
            pick(-span, span) * per_s / 1000 + static_cast<std::int64_t>(rng() % 1000);
        // DuckDB reads TIMESTAMP(NANOS, UTC) as TIMESTAMPTZ, in microseconds
        if (c.logical->unit == pq::time_unit::nanos && c.logical->is_adjusted_to_utc)
            return t / 1000 * 1000;
        return t;
    }
    if (kind == K::decimal) {
        std::int64_t p10 = 1;
        for (int i = 0; i < c.precision; ++i)
            if (!m.oracles || p10 < (std::int64_t{1} << 49) / 10)
                p10 *= 10;
        return pick(-(p10 - 1), p10 - 1);
    }
    if (c.type == pq::physical_type::int32)
        return pick(std::numeric_limits<std::int32_t>::min(),
                    std::numeric_limits<std::int32_t>::max());
    return pick(std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
}

/// The case of `seed`: up to `max_columns` columns, up to `max_rows` rows.
inline file_case make_case(std::uint64_t seed, mode m, std::size_t max_columns = 8,
                           std::size_t max_rows = 400)
{
    std::mt19937_64 rng(seed);
    file_case fc;
    fc.seed = seed;
    auto const ncols = 1 + rng() % max_columns;
    for (std::size_t i = 0; i < ncols; ++i) {
        fc.columns.push_back(random_column(rng, "c" + std::to_string(i)));
        fc.all_null.push_back(fc.columns.back().is_optional && rng() % 6 == 0);
    }
    pq::compression_codec const codecs[] = {
        pq::compression_codec::uncompressed, pq::compression_codec::snappy,
        pq::compression_codec::gzip, pq::compression_codec::zstd, pq::compression_codec::lz4_raw};
    auto& o = fc.options;
    o.codec = codecs[rng() % 5];
    o.dictionary = rng() % 3 != 0;
    o.dictionary_byte_limit = rng() % 3 == 0 ? std::size_t{1} << 20 : 8 + rng() % 400;
    o.page_byte_size = rng() % 3 == 0 ? std::size_t{1} << 20 : 8 + rng() % 2000;
    o.row_group_byte_size = rng() % 3 == 0 ? std::size_t{64} << 20 : 64 + rng() % 20000;
    o.page_crc = rng() % 2 == 0;
    o.statistics = rng() % 4 != 0;
    std::size_t const nrows = rng() % 8 == 0 ? 0 : rng() % (max_rows + 1);
    std::vector<unsigned> null_one_in(ncols);
    for (auto& n : null_one_in)
        n = 2 + static_cast<unsigned>(rng() % 9);
    for (std::size_t r = 0; r < nrows; ++r) {
        std::vector<pq::cell> row;
        for (std::size_t i = 0; i < ncols; ++i) {
            auto const& c = fc.columns[i];
            if (fc.all_null[i] || (c.is_optional && rng() % null_one_in[i] == 0))
                row.emplace_back(std::monostate{});
            else
                row.push_back(random_value(c, rng, m));
        }
        fc.rows.push_back(std::move(row));
        if (rng() % 97 == 0)
            fc.group_ends.push_back(r + 1);
    }
    return fc;
}

/// Writes the case to `f` (write_cells, end_row_group() at its group ends, close()).
inline void write_case(std::filesystem::path const& f, file_case const& fc)
{
    pq::writer w(f, fc.columns, fc.options);
    std::size_t next_end = 0;
    for (std::size_t i = 0; i < fc.rows.size(); ++i) {
        w.write_cells(fc.rows[i]);
        if (next_end < fc.group_ends.size() && fc.group_ends[next_end] == i + 1) {
            w.end_row_group();
            ++next_end;
        }
    }
    w.close();
}

} // namespace roundtrip

#endif
