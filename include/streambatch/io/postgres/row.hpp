// streambatch/io/postgres/row.hpp: postgres::row, a row of a query's result that owns its values
// (one allocation) and survives the fetch, and postgres::field (r[1], r["age"]). Part of
// <streambatch/io/postgres.hpp>; include that. What PostgreSQL's row adds to the shared row
// (io/sql/row.hpp) is the server's text format and get<T>'s conversions of it. See docs/sql.md.

#ifndef STREAMBATCH_IO_POSTGRES_ROW_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_ROW_HPP_INCLUDED

#include <streambatch/io/detail/digits.hpp>
#include <streambatch/io/postgres/errors.hpp>
#include <streambatch/io/sql/row.hpp>
#include <streambatch/io/sql/traits.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <libpq-fe.h>

namespace streambatch::postgres {

/// A type row::get<T> can produce.
template <class T>
concept gettable = sql::detail::gettable_v<T>;

namespace detail {

template <class T>
std::string type_name()
{
    return sql::detail::type_name<T>("a boolean (t or f)", "bytea in hex format (\\x...)");
}

using io::detail::hex_digit;

/// Converts a value in PostgreSQL's text output format to T; nullopt if it is not one.
template <class T>
std::optional<T> from_text(std::string_view s)
{
    if constexpr (std::is_same_v<T, bool>) {
        if (s == "t" || s == "true")
            return true;
        if (s == "f" || s == "false")
            return false;
        return std::nullopt;
    } else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
        T v{};
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
            return std::nullopt;
        return v;
    } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
        return T(s);
    } else {
        static_assert(std::is_same_v<T, std::vector<std::byte>>);
        if (s.size() < 2 || s[0] != '\\' || s[1] != 'x' || s.size() % 2 != 0)
            return std::nullopt;
        std::vector<std::byte> out;
        out.reserve((s.size() - 2) / 2);
        for (std::size_t i = 2; i < s.size(); i += 2) {
            int const hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
            if (hi < 0 || lo < 0)
                return std::nullopt;
            out.push_back(static_cast<std::byte>(hi * 16 + lo));
        }
        return out;
    }
}

} // namespace detail

class row;

/// One value of a row: r[1] or r["age"].
class field : public sql::detail::basic_field<row> {
public:
    using basic_field::basic_field;
    /// The value as the server sent it (text format); empty for NULL.
    std::string_view text() const;
};

/// A row of a query's result that owns its values (one allocation: offsets, NULL flags and
/// the text), movable and copyable.
class row : public sql::detail::row_base<row, detail::tag, field> {
    using base = sql::detail::row_base<row, detail::tag, field>;
    friend base;

public:
    row() = default;
    /// Builds row `r` of the result `res` (what the source does).
    row(std::shared_ptr<sql::detail::result_info const> info, PGresult const* res, int r,
        std::uint64_t number)
        : base(info,
               io::detail::row_storage(
                   info->columns.size(),
                   [&](std::size_t i) {
                       return static_cast<std::size_t>(PQgetlength(res, r, static_cast<int>(i)));
                   },
                   [&](std::size_t i, std::byte* dst) {
                       int const c = static_cast<int>(i);
                       if (auto const len = static_cast<std::size_t>(PQgetlength(res, r, c)))
                           std::memcpy(dst, PQgetvalue(res, r, c), len);
                       return static_cast<unsigned char>(PQgetisnull(res, r, c) != 0 ? 1 : 0);
                   }),
               number)
    {}

    using base::is_null;
    /// Where the row came from: host:port/dbname.
    std::string const& database() const noexcept { return source(); }
    bool is_null(std::size_t i) const
    {
        check_index(i);
        return values_.kind(n(), i) != 0;
    }
    /// Column i as the server sent it (text format); empty for NULL.
    std::string_view text(std::size_t i) const
    {
        check_index(i);
        return values_.bytes(n(), i);
    }

private:
    /// Column i as the server sent it, for a reject (docs/rejects.md).
    io::reject_value reject_value(std::size_t i) const
    {
        return is_null(i) ? io::reject_value{} : io::reject_value::of_text(text(i));
    }
    /// Column i as T (not an optional: row_base::get unwraps those); row_error naming the query,
    /// row and column if it is not one.
    template <class T>
    T convert(std::size_t i) const
    {
        if (is_null(i))
            fail(i, "expected " + detail::type_name<T>() + ", found NULL");
        std::string_view const s = text(i);
        if (auto v = detail::from_text<T>(s))
            return std::move(*v);
        std::string found = detail::quote(s);
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
            long double d = 0;
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
            if (ec == std::errc::result_out_of_range ||
                (ec == std::errc{} && p == s.data() + s.size() && std::trunc(d) == d))
                found += " (out of range)";
        }
        fail(i, "expected " + detail::type_name<T>() + ", found " + found);
    }
};

inline std::string_view field::text() const
{
    return row_->text(index_);
}

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_ROW_HPP_INCLUDED
