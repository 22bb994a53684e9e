// streambatch/io/parquet/reader.hpp: a Parquet file's rows: dynamic values, rows, the reader
// view, per-row-group batches, rows as tuples or structs.
//
// In:     a path (or an open parquet::file), optionally the names of the columns to read (in
//         the order wanted; empty: every column), optionally a position to start at.
// Out:    parquet::value (kind(): null, boolean, int32, int64, int96, float_, double_, bytes;
//         meaning(): none, string, enum_, json, bson, uuid, date, time, timestamp, decimal,
//         signed_int, unsigned_int, float16; unit(), utc(), scale(); to_string() as DuckDB
//         prints the value); parquet::row (values(), names(), operator[](i),
//         get<T>(i), as<Tuple>(), to<Struct, Fields...>(), and record_bytes(row) for
//         adaptive_chunk); parquet::position {row_group,
//         row}; parquet::reader, a single-pass view of rows (names(), next_position(): where
//         the next row not yet handed out is, for resume; source(): the file);
//         parquet::row_groups, a single-pass view of std::vector<row>, one
//         per row group; parquet::rows(path, columns) -> reader; rows_as<Tuple>(...) view.
// Models: std::ranges::input_range and view, move-only, like csv::reader: it works under
//         views::chunk / adaptive_chunk / memory_guarded. One batch per row group:
//         parquet::row_groups (or chunk(n) with n = the groups' row count). Values keep their
//         physical type; meaning() carries the logical type (or the legacy converted type):
//         DATE (days), TIME (millis/micros/nanos), TIMESTAMP (unit, UTC flag), INT96 as a
//         timestamp, DECIMAL on INT32/INT64/FIXED_LEN_BYTE_ARRAY/BYTE_ARRAY as unscaled +
//         scale (big-endian two's complement for the byte arrays), STRING/ENUM/JSON as text.
// Memory: one data page per projected column (compressed, decompressed and decoded) plus the
//         column's dictionary: at most the projected columns of one row group, usually far
//         less. row_groups holds one row group's projected rows (as values).
// Errors: parquet::error (file, byte offset, "row group R column C ("name") page P: ..."):
//         a projected name that is not a column ("no column "x" (columns: a, b)"), a nested
//         column that is read ("column "a" is nested (not supported): project it away"),
//         columns of one row group whose pages give different row counts, the column
//         reader's errors. get<T> on a value of another kind: parquet::error naming the
//         column and the row.
// Example:
//     namespace pq = streambatch::parquet;
//     for (pq::row const& r : pq::rows("alltypes_plain.parquet", {"id", "string_col"}))
//         std::cout << r[0].to_string() << ' ' << r[1].to_string() << '\n';
//     for (auto batch : pq::rows("t.parquet") | streambatch::views::chunk(10'000)) use(batch);
//     for (std::vector<pq::row> const& group : pq::row_groups("t.parquet")) use(group);

#ifndef STREAMBATCH_IO_PARQUET_READER_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_READER_HPP_INCLUDED

#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/parquet/column_reader.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace streambatch::parquet {

enum class value_kind : std::uint8_t { null, boolean, int32, int64, int96, float_, double_, bytes };

/// What a value means beyond its physical type.
enum class value_meaning : std::uint8_t {
    none,
    string,
    enum_,
    json,
    bson,
    uuid,
    date,
    time,
    timestamp,
    decimal,
    signed_int,
    unsigned_int,
    float16,
};

/// The logical type of a column, reduced to what a value needs to print itself.
struct value_type {
    value_meaning meaning = value_meaning::none;
    time_unit unit = time_unit::micros; ///< time, timestamp
    bool utc = false;                   ///< time, timestamp
    std::int32_t scale = 0;             ///< decimal
};

/// The value_type of a column (logical type first, else its converted type, whose TIME_* and
/// TIMESTAMP_* are not UTC-adjusted, as DuckDB and Arrow read them; INT96: timestamp in
/// nanoseconds, not UTC).
inline value_type value_type_of(column_descriptor const& c)
{
    value_type v;
    using K = logical_type::kind_t;
    if (c.logical_type && c.logical_type->kind != K::none) {
        auto const& l = *c.logical_type;
        switch (l.kind) {
        case K::string:
            v.meaning = value_meaning::string;
            break;
        case K::enum_:
            v.meaning = value_meaning::enum_;
            break;
        case K::json:
            v.meaning = value_meaning::json;
            break;
        case K::bson:
            v.meaning = value_meaning::bson;
            break;
        case K::uuid:
            v.meaning = value_meaning::uuid;
            break;
        case K::date:
            v.meaning = value_meaning::date;
            break;
        case K::float16:
            v.meaning = value_meaning::float16;
            break;
        case K::time:
            v.meaning = value_meaning::time;
            v.unit = l.unit;
            v.utc = l.is_adjusted_to_utc;
            break;
        case K::timestamp:
            v.meaning = value_meaning::timestamp;
            v.unit = l.unit;
            v.utc = l.is_adjusted_to_utc;
            break;
        case K::decimal:
            v.meaning = value_meaning::decimal;
            v.scale = l.scale;
            break;
        case K::integer:
            v.meaning = l.is_signed ? value_meaning::signed_int : value_meaning::unsigned_int;
            break;
        default:
            break;
        }
        if (v.meaning != value_meaning::none)
            return v;
    }
    if (c.converted_type) {
        using C = converted_type;
        switch (*c.converted_type) {
        case C::utf8:
            v.meaning = value_meaning::string;
            break;
        case C::enum_:
            v.meaning = value_meaning::enum_;
            break;
        case C::json:
            v.meaning = value_meaning::json;
            break;
        case C::bson:
            v.meaning = value_meaning::bson;
            break;
        case C::date:
            v.meaning = value_meaning::date;
            break;
        case C::decimal:
            v.meaning = value_meaning::decimal;
            v.scale = c.scale;
            break;
        // A converted type alone reads as a local (not UTC-adjusted) time or timestamp, as
        // DuckDB and Arrow read it: "00:00:34.567", not "00:00:34.567+00". This departs from
        // parquet-format's LogicalTypes.md, whose backward-compatibility tables map them to
        // UTC ("| TIME_MILLIS | TimeType (isAdjustedToUTC = true, unit = MILLIS) |", and so
        // for TIME_MICROS, TIMESTAMP_MILLIS, TIMESTAMP_MICROS): we follow the readers.
        case C::time_millis:
            v = {value_meaning::time, time_unit::millis, false, 0};
            break;
        case C::time_micros:
            v = {value_meaning::time, time_unit::micros, false, 0};
            break;
        case C::timestamp_millis:
            v = {value_meaning::timestamp, time_unit::millis, false, 0};
            break;
        case C::timestamp_micros:
            v = {value_meaning::timestamp, time_unit::micros, false, 0};
            break;
        case C::uint_8:
        case C::uint_16:
        case C::uint_32:
        case C::uint_64:
            v.meaning = value_meaning::unsigned_int;
            break;
        case C::int_8:
        case C::int_16:
        case C::int_32:
        case C::int_64:
            v.meaning = value_meaning::signed_int;
            break;
        default:
            break;
        }
    }
    if (c.type == physical_type::int96 && v.meaning == value_meaning::none)
        v = {value_meaning::timestamp, time_unit::nanos, false, 0};
    return v;
}

namespace detail {

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's civil_from_days).
inline void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept
{
    z += 719468;
    std::int64_t const era = (z >= 0 ? z : z - 146096) / 146097;
    auto const doe = static_cast<unsigned>(z - era * 146097);
    unsigned const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    unsigned const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned const mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        ++y;
}

inline void put2(std::string& s, unsigned v)
{
    s += static_cast<char>('0' + v / 10 % 10);
    s += static_cast<char>('0' + v % 10);
}

inline std::string format_date(std::int64_t days)
{
    std::int64_t y = 0;
    unsigned m = 0, d = 0;
    civil_from_days(days, y, m, d);
    std::string s;
    bool const bc = y <= 0;
    std::int64_t const shown = bc ? 1 - y : y;
    std::string ys = std::to_string(shown);
    if (ys.size() < 4)
        ys.insert(0, 4 - ys.size(), '0');
    s += ys;
    s += '-';
    put2(s, m);
    s += '-';
    put2(s, d);
    if (bc)
        s += " (BC)";
    return s;
}

/// "HH:MM:SS[.fraction]" from a count of `digits`-digit fractions of a second within a day;
/// the fraction's trailing zeros are dropped (as DuckDB prints).
inline std::string format_time_of_day(std::uint64_t units, unsigned digits)
{
    std::uint64_t per_second = 1;
    for (unsigned k = 0; k < digits; ++k)
        per_second *= 10;
    std::uint64_t const secs = units / per_second;
    std::uint64_t frac = units % per_second;
    std::string s;
    put2(s, static_cast<unsigned>(secs / 3600));
    s += ':';
    put2(s, static_cast<unsigned>(secs / 60 % 60));
    s += ':';
    put2(s, static_cast<unsigned>(secs % 60));
    if (frac) {
        std::string f = std::to_string(frac);
        f.insert(0, digits - f.size(), '0');
        while (!f.empty() && f.back() == '0')
            f.pop_back();
        s += '.';
        s += f;
    }
    return s;
}

inline unsigned unit_digits(time_unit u) noexcept
{
    return u == time_unit::millis ? 3 : u == time_unit::micros ? 6 : 9;
}

/// Unscaled decimal digits with `scale` of them after the point.
inline std::string format_decimal(std::string digits, bool negative, std::int32_t scale)
{
    if (scale > 0) {
        auto const sc = static_cast<std::size_t>(scale);
        if (digits.size() <= sc)
            digits.insert(0, sc + 1 - digits.size(), '0');
        digits.insert(digits.size() - sc, 1, '.');
    }
    return negative ? "-" + digits : digits;
}

/// A big-endian two's complement integer of any length as decimal digits (and its sign).
inline std::string big_endian_digits(std::string_view be, bool& negative)
{
    std::vector<std::uint8_t> mag(be.begin(), be.end());
    negative = !mag.empty() && (mag[0] & 0x80);
    if (negative) { // two's complement: invert and add one
        for (auto& b : mag)
            b = static_cast<std::uint8_t>(~b);
        for (std::size_t i = mag.size(); i-- > 0;)
            if (++mag[i] != 0)
                break;
    }
    std::string out;
    // repeated division by 10
    std::size_t start = 0;
    while (start < mag.size() && mag[start] == 0)
        ++start;
    while (start < mag.size()) {
        unsigned rem = 0;
        for (std::size_t i = start; i < mag.size(); ++i) {
            unsigned const cur = rem * 256 + mag[i];
            mag[i] = static_cast<std::uint8_t>(cur / 10);
            rem = cur % 10;
        }
        out += static_cast<char>('0' + rem);
        while (start < mag.size() && mag[start] == 0)
            ++start;
    }
    if (out.empty())
        out = "0";
    return {out.rbegin(), out.rend()};
}

template <class F>
std::string shortest(F v)
{
    if (std::isnan(v))
        return std::signbit(v) ? "-nan" : "nan";
    if (std::isinf(v))
        return v < 0 ? "-inf" : "inf";
    char buf[64];
    auto const r = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, r.ptr);
    if (s.find_first_of(".e") == std::string::npos)
        s += ".0"; // DuckDB prints 1.0, not 1
    return s;
}

inline float half_to_float(std::uint16_t h) noexcept
{
    unsigned const sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float v;
    if (exp == 0)
        v = std::ldexp(static_cast<float>(mant), -24);
    else if (exp == 31)
        v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    else
        v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
    return sign ? -v : v;
}

} // namespace detail

/// INT96 as parquet's legacy timestamps store it: nanoseconds of the day, then the Julian day.
struct int96_value {
    std::uint64_t nanos_of_day = 0;
    std::uint32_t julian_day = 0;
    /// Nanoseconds since 1970-01-01 (wrapping past the int64 range).
    std::int64_t unix_nanos() const noexcept
    {
        std::int64_t const days = static_cast<std::int64_t>(julian_day) - 2440588;
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(days) * 86400000000000ULL +
                                         nanos_of_day);
    }
    bool operator==(int96_value const&) const = default;
};

/// One value of a row: its physical kind, its meaning, and the value.
class value {
    value_kind kind_ = value_kind::null;
    value_type type_{};
    std::variant<std::monostate, bool, std::int32_t, std::int64_t, int96_value, float, double,
                 std::string>
        v_;

public:
    value() = default;
    static value null(value_type t = {})
    {
        value v;
        v.type_ = t;
        return v;
    }
    template <class T>
    static value make(value_kind k, value_type t, T x)
    {
        value v;
        v.kind_ = k;
        v.type_ = t;
        v.v_ = std::move(x);
        return v;
    }

    value_kind kind() const noexcept { return kind_; }
    bool is_null() const noexcept { return kind_ == value_kind::null; }
    value_meaning meaning() const noexcept { return type_.meaning; }
    value_type const& type() const noexcept { return type_; }
    time_unit unit() const noexcept { return type_.unit; }
    bool utc() const noexcept { return type_.utc; }
    std::int32_t scale() const noexcept { return type_.scale; }

    /// The value as held (nullptr when it holds another kind).
    bool const* if_bool() const noexcept { return std::get_if<bool>(&v_); }
    std::int32_t const* if_int32() const noexcept { return std::get_if<std::int32_t>(&v_); }
    std::int64_t const* if_int64() const noexcept { return std::get_if<std::int64_t>(&v_); }
    int96_value const* if_int96() const noexcept { return std::get_if<int96_value>(&v_); }
    float const* if_float() const noexcept { return std::get_if<float>(&v_); }
    double const* if_double() const noexcept { return std::get_if<double>(&v_); }
    /// BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY values (strings, binary, decimals, UUIDs).
    std::string const* if_bytes() const noexcept { return std::get_if<std::string>(&v_); }
    /// The bytes, to reuse their buffer (the reader does).
    std::string* if_bytes_mut() noexcept { return std::get_if<std::string>(&v_); }

    /// The value as DuckDB prints it (its VARCHAR cast); "NULL" for a null.
    std::string to_string() const
    {
        using M = value_meaning;
        switch (kind_) {
        case value_kind::null:
            return "NULL";
        case value_kind::boolean:
            return std::get<bool>(v_) ? "true" : "false";
        case value_kind::float_:
            return detail::shortest(std::get<float>(v_));
        case value_kind::double_:
            return detail::shortest(std::get<double>(v_));
        case value_kind::int96:
            return format_timestamp(0, 6);
        case value_kind::int32:
        case value_kind::int64: {
            std::int64_t const x = kind_ == value_kind::int32 ? std::get<std::int32_t>(v_)
                                                              : std::get<std::int64_t>(v_);
            switch (type_.meaning) {
            case M::date:
                return detail::format_date(x);
            case M::time: {
                unsigned const digits = detail::unit_digits(type_.unit);
                std::string s = detail::format_time_of_day(static_cast<std::uint64_t>(x), digits);
                return type_.utc ? s + "+00" : s;
            }
            case M::timestamp:
                return format_timestamp(x, detail::unit_digits(type_.unit));
            case M::decimal: {
                bool const neg = x < 0;
                std::uint64_t const mag =
                    neg ? ~static_cast<std::uint64_t>(x) + 1 : static_cast<std::uint64_t>(x);
                return detail::format_decimal(std::to_string(mag), neg, type_.scale);
            }
            case M::unsigned_int:
                return kind_ == value_kind::int32
                           ? std::to_string(static_cast<std::uint32_t>(std::get<std::int32_t>(v_)))
                           : std::to_string(static_cast<std::uint64_t>(x));
            default:
                return std::to_string(x);
            }
        }
        case value_kind::bytes: {
            std::string const& b = std::get<std::string>(v_);
            switch (type_.meaning) {
            case M::string:
            case M::enum_:
            case M::json:
                return b;
            case M::decimal: {
                bool neg = false;
                std::string d = detail::big_endian_digits(b, neg);
                return detail::format_decimal(std::move(d), neg, type_.scale);
            }
            case M::uuid:
                if (b.size() == 16) {
                    static constexpr char hex[] = "0123456789abcdef";
                    std::string s;
                    for (std::size_t i = 0; i < 16; ++i) {
                        if (i == 4 || i == 6 || i == 8 || i == 10)
                            s += '-';
                        auto const c = static_cast<unsigned char>(b[i]);
                        s += hex[c >> 4];
                        s += hex[c & 15];
                    }
                    return s;
                }
                break;
            case M::float16:
                if (b.size() == 2) {
                    auto const h = static_cast<std::uint16_t>(
                        static_cast<unsigned char>(b[0]) | static_cast<unsigned char>(b[1]) << 8);
                    return detail::shortest(detail::half_to_float(h));
                }
                break;
            default:
                break;
            }
            // BLOB, as DuckDB prints one: printable ASCII as is, other bytes as \xHH
            static constexpr char hex[] = "0123456789ABCDEF";
            std::string s;
            for (char ch : b) {
                auto const c = static_cast<unsigned char>(ch);
                if (c >= 32 && c <= 126 && c != '\\' && c != '\'' && c != '"')
                    s += ch;
                else {
                    s += "\\x";
                    s += hex[c >> 4];
                    s += hex[c & 15];
                }
            }
            return s;
        }
        }
        return {};
    }

private:
    std::string format_timestamp(std::int64_t x, unsigned digits) const
    {
        std::int64_t per_day = 86400;
        for (unsigned k = 0; k < digits; ++k)
            per_day *= 10;
        std::int64_t days = x / per_day, rest = x % per_day;
        if (rest < 0) {
            rest += per_day;
            --days;
        }
        if (kind_ == value_kind::int96) {
            // DuckDB reads INT96 as microseconds since the epoch
            // (wrapping as DuckDB's int64 arithmetic does)
            int96_value const& t = std::get<int96_value>(v_);
            auto const d = static_cast<std::int64_t>(t.julian_day) - 2440588;
            auto const micros = static_cast<std::int64_t>(
                static_cast<std::uint64_t>(d) * 86400000000ULL +
                static_cast<std::uint64_t>(static_cast<std::int64_t>(t.nanos_of_day) / 1000));
            days = micros / 86400000000LL;
            rest = micros % 86400000000LL;
            if (rest < 0) {
                rest += 86400000000LL;
                --days;
            }
            digits = 6;
        }
        std::string s = detail::format_date(days);
        s += ' ';
        s += detail::format_time_of_day(static_cast<std::uint64_t>(rest), digits);
        if (type_.utc)
            s += "+00";
        return s;
    }
};

/// Where a reader is: the row group, and the row inside it.
struct position {
    std::size_t row_group = 0;
    std::int64_t row = 0;
    bool operator==(position const&) const = default;
};

/// One row: the projected columns' values and their names (shared by every row of a reader).
class row {
    std::shared_ptr<std::vector<std::string> const> names_;
    std::vector<value> values_;
    std::int64_t number_ = 0;

    template <class T>
    static T convert(value const& v, std::string const& name, std::int64_t number)
    {
        auto const fail = [&](char const* want) -> T {
            throw error(std::string(), error::npos,
                        "row " + std::to_string(number) + " column " + io::detail::quote(name) +
                            ": cannot read a " + want + " from " + v.to_string());
        };
        if constexpr (detail::is_optional_v<T>) {
            if (v.is_null())
                return std::nullopt;
            return convert<typename T::value_type>(v, name, number);
        } else if constexpr (std::is_same_v<T, value>) {
            return v;
        } else if constexpr (std::is_same_v<T, bool>) {
            if (auto p = v.if_bool())
                return *p;
            return fail("bool");
        } else if constexpr (std::is_integral_v<T>) {
            if (auto p = v.if_int32())
                return static_cast<T>(*p);
            if (auto p = v.if_int64())
                return static_cast<T>(*p);
            if (auto p = v.if_bool())
                return static_cast<T>(*p);
            return fail("integer");
        } else if constexpr (std::is_floating_point_v<T>) {
            if (auto p = v.if_double())
                return static_cast<T>(*p);
            if (auto p = v.if_float())
                return static_cast<T>(*p);
            if (auto p = v.if_int32())
                return static_cast<T>(*p);
            if (auto p = v.if_int64())
                return static_cast<T>(*p);
            return fail("number");
        } else if constexpr (std::is_same_v<T, std::string>) {
            if (v.is_null())
                return fail("string");
            if (auto p = v.if_bytes();
                p && v.meaning() != value_meaning::decimal && v.meaning() != value_meaning::uuid)
                return *p;
            return v.to_string();
        } else {
            static_assert(sizeof(T) == 0, "parquet::row::get: unsupported type");
        }
    }

public:
    row() = default;
    row(std::shared_ptr<std::vector<std::string> const> names, std::vector<value> values,
        std::int64_t number = 0)
        : names_(std::move(names)), values_(std::move(values)), number_(number)
    {}

    std::size_t size() const noexcept { return values_.size(); }
    value const& operator[](std::size_t i) const { return values_[i]; }
    std::vector<value> const& values() const noexcept { return values_; }
    std::vector<value>& values() noexcept { return values_; }
    /// The projected columns' names, in the row's order.
    std::vector<std::string> const& names() const
    {
        static std::vector<std::string> const none;
        return names_ ? *names_ : none;
    }
    /// The row's number in the file (from 0).
    std::int64_t number() const noexcept { return number_; }

    /// Value i as T: bool, an integer, a floating-point type, std::string (text; other values
    /// as to_string() prints them), parquet::value, or std::optional of one (null -> nullopt).
    template <class T>
    T get(std::size_t i) const
    {
        return convert<T>(values_.at(i), i < names().size() ? names()[i] : std::string(), number_);
    }
    /// The value of column `name` as T; a name not in the row is an error naming it.
    template <class T>
    T get(std::string_view name) const
    {
        for (std::size_t i = 0; i < names().size(); ++i)
            if (names()[i] == name)
                return get<T>(i);
        throw error(std::string(), error::npos,
                    "row " + std::to_string(number_) + ": no column " + io::detail::quote(name));
    }
    /// The row as a tuple-like T (std::tuple, std::pair, std::array), by column order.
    template <class T>
    T as() const
    {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return T{get<std::tuple_element_t<I, T>>(I)...};
        }(std::make_index_sequence<std::tuple_size_v<T>>{});
    }
    /// The row as an aggregate S whose members are Fields..., by column order:
    /// `r.to<trip, std::int64_t, std::string, double>()`.
    template <class S, class... Fields>
    S to() const
    {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return S{get<Fields>(I)...};
        }(std::index_sequence_for<Fields...>{});
    }
};

/// The bytes a row holds (found by streambatch::record_bytes through ADL, for adaptive_chunk):
/// the row, its values, and the text of those whose string is past the small-string buffer
/// (the names are shared by every row and not counted).
inline std::size_t record_bytes(row const& r) noexcept
{
    std::size_t n = sizeof(row) + r.values().capacity() * sizeof(value);
    for (value const& v : r.values())
        if (std::string const* s = v.if_bytes(); s && s->capacity() > std::string().capacity())
            n += s->capacity() + 1;
    return n;
}

namespace detail {

/// The row assembler: one column_reader and current page per projected column.
class row_cursor {
    std::shared_ptr<file> f_;
    std::vector<std::size_t> cols_; // leaf indices, in projection order
    std::shared_ptr<std::vector<std::string> const> names_;
    std::vector<value_type> types_;
    std::vector<std::optional<column_reader>> readers_;
    std::shared_ptr<page_buffers> buffers_ = std::make_shared<page_buffers>(); // shared by all
    std::vector<column_page> pages_;
    std::vector<std::size_t> page_row_, page_value_;
    std::size_t group_ = 0;
    std::int64_t group_row_ = 0, number_ = 0;

    void open_group()
    {
        readers_.clear();
        for (std::size_t k = 0; k < cols_.size(); ++k) {
            readers_.emplace_back(std::in_place, *f_, group_, cols_[k], buffers_);
            pages_[k].rows = 0; // its buffers kept for the next pages
            page_row_[k] = page_value_[k] = 0;
        }
    }
    /// Column k's next value into `slot` (a string already there is reused).
    void take(std::size_t k, value& slot) { slot = take_value(k, slot); }
    value take_value(std::size_t k, value& slot)
    {
        column_page& p = pages_[k];
        if (page_row_[k] >= p.rows) {
            do {
                if (!readers_[k]->next_page(p))
                    throw error(f_->path(), error::npos,
                                "row group " + std::to_string(group_) + " column " +
                                    std::to_string(cols_[k]) + " (" +
                                    io::detail::quote((*names_)[k]) + "): its pages end after " +
                                    std::to_string(group_row_) + " rows, the row group has " +
                                    std::to_string(f_->metadata().row_groups[group_].num_rows));
            } while (p.rows == 0);
            page_row_[k] = page_value_[k] = 0;
        }
        std::size_t const r = page_row_[k]++;
        value_type const& t = types_[k];
        if (!p.defined.empty() && !p.defined[r])
            return value::null(t);
        std::size_t const i = page_value_[k]++;
        value_buffer const& vb = p.values;
        switch (readers_[k]->descriptor().type) {
        case physical_type::boolean:
            return value::make(value_kind::boolean, t, vb.fixed[i] != 0);
        case physical_type::int32:
            return value::make(value_kind::int32, t, vb.get<std::int32_t>(i));
        case physical_type::int64:
            return value::make(value_kind::int64, t, vb.get<std::int64_t>(i));
        case physical_type::float_:
            return value::make(value_kind::float_, t, vb.get<float>(i));
        case physical_type::double_:
            return value::make(value_kind::double_, t, vb.get<double>(i));
        case physical_type::int96: {
            int96_value x;
            std::memcpy(&x.nanos_of_day, vb.fixed.data() + i * 12, 8);
            std::memcpy(&x.julian_day, vb.fixed.data() + i * 12 + 8, 4);
            return value::make(value_kind::int96, t, x);
        }
        case physical_type::byte_array:
        case physical_type::fixed_len_byte_array: {
            std::string_view const b = vb.bytes(i);
            if (std::string* s = slot.if_bytes_mut()) {
                s->assign(b.data(), b.size()); // no allocation when it fits
                return value::make(value_kind::bytes, t, std::move(*s));
            }
            return value::make(value_kind::bytes, t, std::string(b));
        }
        }
        return value::null(t);
    }

public:
    row_cursor(std::shared_ptr<file> f, std::vector<std::string> const& columns, position start)
        : f_(std::move(f))
    {
        schema_view const& s = f_->schema();
        auto names = std::make_shared<std::vector<std::string>>();
        if (columns.empty()) {
            for (column_descriptor const& c : s.columns) {
                if (c.nested)
                    throw error(f_->path(), error::npos,
                                "column " + io::detail::quote(c.name) +
                                    " is nested (not supported): project it away");
                cols_.push_back(c.index);
                names->push_back(c.name);
            }
        } else {
            for (std::string const& n : columns) {
                column_descriptor const* c = s.find(n);
                if (!c) {
                    std::string all;
                    for (column_descriptor const& d : s.columns)
                        all += (all.empty() ? "" : ", ") + d.name;
                    throw error(f_->path(), error::npos,
                                "no column " + io::detail::quote(n) + " (columns: " + all + ")");
                }
                if (c->nested)
                    throw error(f_->path(), error::npos,
                                "column " + io::detail::quote(c->name) +
                                    " is nested (not supported): project it away");
                cols_.push_back(c->index);
                names->push_back(c->name);
            }
        }
        for (std::size_t c : cols_)
            types_.push_back(value_type_of(s.columns[c]));
        names_ = std::move(names);
        pages_.resize(cols_.size());
        page_row_.assign(cols_.size(), 0);
        page_value_.assign(cols_.size(), 0);
        auto const& groups = f_->metadata().row_groups;
        for (std::size_t g = 0; g < start.row_group && g < groups.size(); ++g)
            number_ += groups[g].num_rows;
        group_ = start.row_group;
        group_row_ = 0;
        if (group_ < groups.size())
            open_group();
        row skipped;
        for (std::int64_t r = 0; r < start.row && next(skipped); ++r) {
        }
    }

    file const& source() const noexcept { return *f_; }
    std::shared_ptr<std::vector<std::string> const> const& names() const noexcept { return names_; }
    std::vector<std::size_t> const& columns() const noexcept { return cols_; }
    position where() const noexcept { return {group_, group_row_}; }

    /// The next row into `out`; false at the end of the file.
    bool next(row& out)
    {
        auto const& groups = f_->metadata().row_groups;
        while (group_ < groups.size() && group_row_ >= groups[group_].num_rows) {
            ++group_;
            group_row_ = 0;
            if (group_ < groups.size())
                open_group();
        }
        if (group_ >= groups.size())
            return false;
        // the row's values are reused when `out` still holds them (a reader's current row
        // that nobody moved away)
        std::vector<value> vals = std::move(out.values());
        vals.resize(cols_.size());
        for (std::size_t k = 0; k < cols_.size(); ++k)
            take(k, vals[k]);
        out = row(names_, std::move(vals), number_);
        ++group_row_;
        ++number_;
        return true;
    }
};

} // namespace detail

/// The rows of a Parquet file: a single-pass, move-only view.
class reader : public std::ranges::view_interface<reader> {
    struct state {
        detail::row_cursor cursor;
        row current;
        bool done = false;
        void advance() { done = !cursor.next(current); }
    };
    std::unique_ptr<state> s_;
    bool started_ = false;

public:
    class iterator {
        state* s_ = nullptr;

    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = row;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(state* s) : s_(s) {}
        row& operator*() const noexcept { return s_->current; }
        iterator& operator++()
        {
            s_->advance();
            return *this;
        }
        void operator++(int) { s_->advance(); }
        friend bool operator==(iterator const& i, std::default_sentinel_t) noexcept
        {
            return i.s_->done;
        }
    };

    /// Reads `path`'s columns `columns` (empty: all), from `start` on.
    explicit reader(std::filesystem::path const& path, std::vector<std::string> const& columns = {},
                    position start = {})
        : reader(std::make_shared<parquet::file>(path), columns, start)
    {}
    reader(std::shared_ptr<parquet::file> f, std::vector<std::string> const& columns = {},
           position start = {})
        : s_(std::make_unique<state>(state{detail::row_cursor(std::move(f), columns, start), {}}))
    {}
    reader(reader&&) noexcept = default;
    reader& operator=(reader&&) noexcept = default;

    iterator begin()
    {
        if (!started_) {
            started_ = true;
            s_->advance();
        }
        return iterator(s_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

    /// The projected columns' names, in the rows' order.
    std::vector<std::string> const& names() const { return *s_->cursor.names(); }
    /// The position after the row the iterator is on (once begin() was called): resume there
    /// after that row is handled. Under views::chunk and the like the iterator already stands
    /// on the next batch's first row when a batch is handed out, so this is one row too far for
    /// a batch: parquet::file_source (job_source.hpp) counts the rows handed out instead.
    position next_position() const noexcept { return s_->cursor.where(); }
    /// The open file.
    parquet::file const& source() const noexcept { return s_->cursor.source(); }
};

/// The rows of `path` (columns: the projection, empty for all).
inline reader rows(std::filesystem::path const& path, std::vector<std::string> const& columns = {},
                   position start = {})
{
    return reader(path, columns, start);
}

/// One batch per row group: a single-pass view of std::vector<row>.
class row_groups : public std::ranges::view_interface<row_groups> {
    struct state {
        detail::row_cursor cursor;
        std::vector<row> current;
        bool done = false;
        void advance()
        {
            current.clear();
            row r;
            if (!cursor.next(r)) {
                done = true;
                return;
            }
            auto const& groups = cursor.source().metadata().row_groups;
            std::size_t const g = cursor.where().row_group;
            current.reserve(static_cast<std::size_t>(groups[g].num_rows));
            current.push_back(std::move(r));
            while (cursor.where().row < groups[g].num_rows && cursor.next(r))
                current.push_back(std::move(r));
        }
    };
    std::unique_ptr<state> s_;
    bool started_ = false;

public:
    class iterator {
        state* s_ = nullptr;

    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = std::vector<row>;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(state* s) : s_(s) {}
        std::vector<row>& operator*() const noexcept { return s_->current; }
        iterator& operator++()
        {
            s_->advance();
            return *this;
        }
        void operator++(int) { s_->advance(); }
        friend bool operator==(iterator const& i, std::default_sentinel_t) noexcept
        {
            return i.s_->done;
        }
    };

    explicit row_groups(std::filesystem::path const& path,
                        std::vector<std::string> const& columns = {})
        : s_(std::make_unique<state>(
              state{detail::row_cursor(std::make_shared<file>(path), columns, {}), {}}))
    {}
    row_groups(row_groups&&) noexcept = default;
    row_groups& operator=(row_groups&&) noexcept = default;

    iterator begin()
    {
        if (!started_) {
            started_ = true;
            s_->advance();
        }
        return iterator(s_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }
    std::vector<std::string> const& names() const { return *s_->cursor.names(); }
};

/// The rows of `path` as tuple-like T (by column order of `columns`).
template <class T>
auto rows_as(std::filesystem::path const& path, std::vector<std::string> const& columns = {})
{
    return rows(path, columns) | std::views::transform([](row const& r) { return r.as<T>(); });
}

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_READER_HPP_INCLUDED
