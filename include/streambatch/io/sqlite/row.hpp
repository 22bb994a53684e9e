// streambatch/io/sqlite/row.hpp: sqlite::row, a row of a query's result that owns its values
// (one allocation) and survives the statement, and sqlite::field (r[1], r["age"]). Part of
// <streambatch/io/sqlite.hpp>; include that. What SQLite's row adds to the shared row
// (io/sql/row.hpp) is its storage classes and get<T>'s conversions. See docs/sql.md.

#ifndef STREAMBATCH_IO_SQLITE_ROW_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_ROW_HPP_INCLUDED

#include <streambatch/io/detail/reject.hpp>
#include <streambatch/io/sql/row.hpp>
#include <streambatch/io/sql/traits.hpp>
#include <streambatch/io/sqlite/errors.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <sqlite3.h>

namespace streambatch::sqlite {

/// SQLite's storage classes, as a row reports them.
enum class storage_class : int {
    integer = SQLITE_INTEGER,
    real = SQLITE_FLOAT,
    text = SQLITE_TEXT,
    blob = SQLITE_BLOB,
    null = SQLITE_NULL,
};

/// A type row::get<T> can produce.
template <class T>
concept gettable = sql::detail::gettable_v<T>;

namespace detail {

/// One value of a row being built: its storage class and bytes (8 for integer and real).
struct cell {
    int kind;
    void const* data;
    std::size_t size;
    std::int64_t integer;
    double real;
};

template <class T>
std::string type_name()
{
    if constexpr (std::is_same_v<T, std::string>)
        return "a value (as text)";
    else if constexpr (std::is_same_v<T, std::string_view>)
        return "text or a blob";
    else
        return sql::detail::type_name<T>("a boolean (0 or 1)", "a blob or text");
}

} // namespace detail

class row;

/// One value of a row: r[1] or r["age"].
class field : public sql::detail::basic_field<row> {
public:
    using basic_field::basic_field;
    storage_class type() const;
};

/// A row of a query's result that owns its values (one allocation), movable and copyable.
class row : public sql::detail::row_base<row, detail::tag, field> {
    using base = sql::detail::row_base<row, detail::tag, field>;
    friend base;

    std::byte const* value_data(std::size_t i) const noexcept { return values_.data(n(), i); }
    std::size_t value_size(std::size_t i) const noexcept { return values_.size(i); }
    std::int64_t int_at(std::size_t i) const noexcept
    {
        std::int64_t v;
        std::memcpy(&v, value_data(i), 8);
        return v;
    }
    double real_at(std::size_t i) const noexcept
    {
        double v;
        std::memcpy(&v, value_data(i), 8);
        return v;
    }
    std::string_view bytes_at(std::size_t i) const noexcept { return values_.bytes(n(), i); }
    template <class T>
    [[noreturn]] void mismatch(std::size_t i, std::string const& found) const
    {
        fail(i, "expected " + detail::type_name<T>() + ", found " + found);
    }
    std::string describe(std::size_t i) const
    {
        switch (type(i)) {
        case storage_class::integer:
            return "integer " + std::to_string(int_at(i));
        case storage_class::real:
            return "real " + render_real(real_at(i));
        case storage_class::text:
            return "text " + detail::quote(bytes_at(i));
        case storage_class::blob:
            return "a blob of " + std::to_string(value_size(i)) + " bytes";
        case storage_class::null:
            break;
        }
        return "NULL";
    }
    static std::string render_real(double d)
    {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, d);
        return std::string(buf, r.ptr);
    }

public:
    row() = default;
    /// Builds a row from its cells (what the source does).
    row(std::shared_ptr<sql::detail::result_info const> info, std::span<detail::cell const> cells,
        std::uint64_t number)
        : base(std::move(info),
               io::detail::row_storage(
                   cells.size(), [&](std::size_t i) { return cells[i].size; },
                   [&](std::size_t i, std::byte* dst) {
                       if (cells[i].size)
                           std::memcpy(dst, cells[i].data, cells[i].size);
                       return static_cast<unsigned char>(cells[i].kind);
                   }),
               number)
    {}

    using base::is_null;
    storage_class type(std::size_t i) const
    {
        check_index(i);
        return static_cast<storage_class>(values_.kind(n(), i));
    }
    bool is_null(std::size_t i) const { return type(i) == storage_class::null; }

private:
    /// Column i as T (not an optional: row_base::get unwraps those); row_error naming the query,
    /// row and column if it is not one.
    template <class T>
    T convert(std::size_t i) const
    {
        storage_class const t = type(i);
        if (t == storage_class::null)
            mismatch<T>(i, "NULL");
        if constexpr (std::is_same_v<T, bool>) {
            std::int64_t const v = get<std::int64_t>(i);
            if (v != 0 && v != 1)
                mismatch<T>(i, describe(i));
            return v == 1;
        } else if constexpr (std::is_integral_v<T>) {
            std::int64_t v = 0;
            if (t == storage_class::integer) {
                v = int_at(i);
            } else if (t == storage_class::real) {
                double const d = real_at(i);
                // Only a real that is exactly an integer (SQLite stores 2.0 for `2.0`).
                if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
                    std::trunc(d) != d)
                    mismatch<T>(i, describe(i));
                v = static_cast<std::int64_t>(d);
            } else if (t == storage_class::text) {
                std::string_view s = bytes_at(i);
                if constexpr (std::is_unsigned_v<T>) {
                    T u{};
                    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), u);
                    if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
                        mismatch<T>(i, describe(i));
                    return u;
                } else {
                    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
                    if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
                        mismatch<T>(i, describe(i));
                }
            } else {
                mismatch<T>(i, describe(i));
            }
            if (!std::in_range<T>(v))
                mismatch<T>(i, describe(i) + " (out of range)");
            return static_cast<T>(v);
        } else if constexpr (std::is_floating_point_v<T>) {
            if (t == storage_class::integer)
                return static_cast<T>(int_at(i));
            if (t == storage_class::real)
                return static_cast<T>(real_at(i));
            if (t == storage_class::text) {
                std::string_view s = bytes_at(i);
                double d = 0;
                auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
                if (ec == std::errc{} && p == s.data() + s.size() && !s.empty())
                    return static_cast<T>(d);
            }
            mismatch<T>(i, describe(i));
        } else if constexpr (std::is_same_v<T, std::string>) {
            if (t == storage_class::integer)
                return std::to_string(int_at(i));
            if (t == storage_class::real)
                return render_real(real_at(i));
            return std::string(bytes_at(i));
        } else if constexpr (std::is_same_v<T, std::string_view>) {
            if (t != storage_class::text && t != storage_class::blob)
                mismatch<T>(i, describe(i));
            return bytes_at(i);
        } else {
            static_assert(std::is_same_v<T, std::vector<std::byte>>);
            if (t != storage_class::text && t != storage_class::blob)
                mismatch<T>(i, describe(i));
            auto const* p = value_data(i);
            return std::vector<std::byte>(p, p + value_size(i));
        }
    }

public:
    /// Column i as it is stored, for a reject.
    io::reject_value reject_value(std::size_t i) const
    {
        switch (type(i)) {
        case storage_class::integer:
            return io::reject_value::of_integer(int_at(i));
        case storage_class::real:
            return io::reject_value::of_real(real_at(i));
        case storage_class::text:
            return io::reject_value::of_text(bytes_at(i));
        case storage_class::blob:
            return io::reject_value::of_blob(bytes_at(i));
        case storage_class::null:
            break;
        }
        return {};
    }
    /// Column i as a JSON value, as a reject writes it (docs/rejects.md).
    void append_json(std::string& out, std::size_t i) const
    {
        io::detail::append_json_value(out, reject_value(i));
    }
    /// The database the row came from.
    std::string const& database_file() const noexcept { return source(); }
};

inline storage_class field::type() const
{
    return row_->type(index_);
}

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_ROW_HPP_INCLUDED
