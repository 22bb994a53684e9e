// streambatch/io/sql/row.hpp: what a sqlite::row and a postgres::row share: the result they
// came from (query, source, column names), their values in one allocation (row_storage), the
// row's number, lookups by column name, tuple conversion, the field handle r[i] / r["name"] and
// get<T> (an optional T is nullopt for NULL). Each database's row adds only how a value is
// converted: a private convert<T>(i) for a T that is not an optional (the base is its friend).

#ifndef STREAMBATCH_IO_SQL_ROW_HPP_INCLUDED
#define STREAMBATCH_IO_SQL_ROW_HPP_INCLUDED

#include <streambatch/io/detail/errors.hpp>
#include <streambatch/io/detail/reject.hpp>
#include <streambatch/io/detail/row_storage.hpp>
#include <streambatch/io/sql/traits.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace streambatch::sql::detail {

/// Shared by all rows of one query: the text, where it ran, the column names.
struct result_info {
    std::string query;
    std::string source; ///< the SQLite database file; host:port/dbname for PostgreSQL
    std::vector<std::string> columns;
};

template <class Derived, class Traits, class Parse>
class source_base;

/// Field is the database's field type (r[i]), complete by the time r[i] is used.
template <class Derived, class Tag, class Field>
class row_base {
    template <class, class, class>
    friend class source_base;

    Derived const& self() const noexcept { return static_cast<Derived const&>(*this); }

    /// A reject of this row (the source's bad-row policy): the component, where the row came
    /// from, the column names and each value (Derived::reject_value(i)).
    void fill_reject(io::reject& j) const
    {
        j.source = std::string(io::detail::component_name<Tag>());
        j.name = source();
        j.columns = column_names();
        std::vector<io::reject_value> values;
        for (std::size_t i = 0; i < n(); ++i)
            values.push_back(self().reject_value(i));
        j.values = std::move(values);
    }

protected:
    std::shared_ptr<result_info const> info_;
    io::detail::row_storage values_;
    std::uint64_t number_ = 0;

    std::size_t n() const noexcept { return info_ ? info_->columns.size() : 0; }
    void check_index(std::size_t i) const
    {
        if (i >= n())
            io::detail::throw_row_error<Tag>(query(), number_, i, {},
                                             "no such column: the row has " + std::to_string(n()) +
                                                 " columns");
    }
    /// row_error for column i: "<reason>" with the query, row and column named.
    [[noreturn]] void fail(std::size_t i, std::string const& reason) const
    {
        io::detail::throw_row_error<Tag>(query(), number_, i, info_->columns[i], reason);
    }
    std::string const& source() const noexcept
    {
        static std::string const none;
        return info_ ? info_->source : none;
    }

    row_base() = default;
    row_base(std::shared_ptr<result_info const> info, io::detail::row_storage values,
             std::uint64_t number)
        : info_(std::move(info)), values_(std::move(values)), number_(number)
    {}
    row_base(row_base&&) noexcept = default;
    row_base& operator=(row_base&&) noexcept = default;
    row_base(row_base const& o) : info_(o.info_), values_(o.values_, o.n()), number_(o.number_) {}
    row_base& operator=(row_base const& o)
    {
        if (this != &o)
            *this = row_base(o);
        return *this;
    }
    ~row_base() = default;

public:
    /// Number of columns.
    std::size_t size() const noexcept { return n(); }
    /// 1-based position of this row in its query's result.
    std::uint64_t number() const noexcept { return number_; }
    /// The SQL text of the query this row came from.
    std::string const& query() const noexcept
    {
        static std::string const none;
        return info_ ? info_->query : none;
    }
    std::vector<std::string> const& column_names() const noexcept
    {
        static std::vector<std::string> const none;
        return info_ ? info_->columns : none;
    }
    std::string_view column_name(std::size_t i) const
    {
        check_index(i);
        return info_->columns[i];
    }
    /// The index of the first column called `name`; row_error if there is none.
    std::size_t column_index(std::string_view name) const
    {
        for (std::size_t i = 0; i < n(); ++i)
            if (info_->columns[i] == name)
                return i;
        std::string names;
        for (auto const& c : column_names())
            names += (names.empty() ? "" : ", ") + c;
        io::detail::throw_row_error<Tag>(query(), number_, io::basic_row_error<Tag>::npos,
                                         std::string(name),
                                         "no such column; the columns are: " + names);
    }
    bool is_null(std::string_view name) const { return self().is_null(column_index(name)); }
    Field operator[](std::size_t i) const
    {
        check_index(i);
        return Field(self(), i);
    }
    Field operator[](std::string_view name) const { return Field(self(), column_index(name)); }

    /// The value of column i as T; row_error naming the query, row and column if it is not one.
    template <class T>
        requires gettable_v<T>
    T get(std::size_t i) const
    {
        if constexpr (is_optional<T>::value) {
            if (self().is_null(i))
                return std::nullopt;
            return get<typename T::value_type>(i);
        } else {
            return self().template convert<T>(i);
        }
    }
    /// The value of the column called `name` as T.
    template <class T>
        requires gettable_v<T>
    T get(std::string_view name) const
    {
        return get<T>(column_index(name));
    }
    /// The values as a tuple-like T (std::tuple, std::pair), column i for element i; the column
    /// count must match.
    template <class T>
    T as() const
    {
        constexpr std::size_t k = std::tuple_size_v<T>;
        if (n() != k)
            io::detail::throw_row_error<Tag>(query(), number_, io::basic_row_error<Tag>::npos, {},
                                             "expected " + std::to_string(k) + " columns, found " +
                                                 std::to_string(n()));
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return T{get<std::tuple_element_t<I, T>>(I)...};
        }(std::make_index_sequence<k>{});
    }
};

/// One value of a row: r[1] or r["age"].
template <class Row>
class basic_field {
protected:
    Row const* row_;
    std::size_t index_;

public:
    basic_field(Row const& r, std::size_t index) noexcept : row_(std::addressof(r)), index_(index)
    {}
    std::size_t index() const noexcept { return index_; }
    std::string_view name() const { return row_->column_name(index_); }
    bool is_null() const { return row_->is_null(index_); }
    template <class T>
    T as() const
    {
        return row_->template get<T>(index_);
    }
};

} // namespace streambatch::sql::detail

#endif // STREAMBATCH_IO_SQL_ROW_HPP_INCLUDED
