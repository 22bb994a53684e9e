// streambatch/io/sqlite/source.hpp: the SQLite source: sqlite::query, sqlite::query_as and the
// view they return, which steps a prepared statement as it is iterated. Part of
// <streambatch/io/sqlite.hpp>; include that. The view's loop and bad-row policy are the io
// family's (io/sql/source.hpp); this file supplies the step. See docs/sql.md.

#ifndef STREAMBATCH_IO_SQLITE_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_SOURCE_HPP_INCLUDED

#include <streambatch/io/sql/source.hpp>
#include <streambatch/io/sqlite/database.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>

namespace streambatch::sqlite {

/// What a query_as source does with a row its parse function rejects: fail or skip (the io/sql
/// layer's enum; postgres::on_error is the same type).
using sql::on_error;

/// The bad-row policy of query_as.
struct query_options {
    on_error bad_rows = on_error::fail;
    std::uint64_t max_skipped = 100;     ///< on_error::skip: the next bad row throws
    std::filesystem::path reject_path{}; ///< JSON Lines; required by skip
};

/// What a source has done so far (rows_read: rows stepped, bad ones included; rows_skipped);
/// view.stats() shares it, so it outlives the view.
using sql::query_stats;

/// A function query_as can judge rows with.
template <class F>
concept parse_function = sql::detail::parse_function_of<F, row>;

namespace detail {

/// The row `s` is stepped to, numbered `number`: its values copied out of the statement through
/// `cells` (scratch, reused from row to row). Shared by query_view and keyset_source.
inline row read_row(sqlite3_stmt* s, std::shared_ptr<sql::detail::result_info const> info,
                    std::vector<cell>& cells, std::uint64_t number)
{
    std::size_t const count = info->columns.size();
    cells.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        int const c = static_cast<int>(i);
        cell& cl = cells[i];
        cl.kind = sqlite3_column_type(s, c);
        cl.data = nullptr;
        cl.size = 0;
        switch (cl.kind) {
        case SQLITE_INTEGER:
            cl.integer = sqlite3_column_int64(s, c);
            cl.data = &cl.integer;
            cl.size = 8;
            break;
        case SQLITE_FLOAT:
            cl.real = sqlite3_column_double(s, c);
            cl.data = &cl.real;
            cl.size = 8;
            break;
        case SQLITE_TEXT:
            cl.data = sqlite3_column_text(s, c);
            cl.size = static_cast<std::size_t>(sqlite3_column_bytes(s, c));
            break;
        case SQLITE_BLOB:
            cl.data = sqlite3_column_blob(s, c);
            cl.size = static_cast<std::size_t>(sqlite3_column_bytes(s, c));
            break;
        default:
            break;
        }
        if (cl.kind != SQLITE_NULL && cl.kind != SQLITE_INTEGER && cl.kind != SQLITE_FLOAT &&
            !cl.data && sqlite3_errcode(sqlite3_db_handle(s)) == SQLITE_NOMEM)
            throw std::bad_alloc();
    }
    return row(std::move(info), cells, number);
}

} // namespace detail

template <parse_function Parse = sql::detail::raw_rows<row>>
class query_view;

/// What io/sql/source.hpp's query functions find (by argument-dependent lookup) for a database;
/// declared only.
sql::detail::source_spec<detail::tag, database const&, row, error, query_stats, query_options,
                         query_view>
source_spec_of(database const&);

/// The source: steps a prepared statement; yields rows, or parse(row) for query_as.
template <parse_function Parse>
class query_view : public sql::detail::source_base<query_view<Parse>,
                                                   sql::detail::source_of_t<database>, Parse> {
    using base =
        sql::detail::source_base<query_view<Parse>, sql::detail::source_of_t<database>, Parse>;
    friend base;

    statement stmt_;
    std::shared_ptr<sql::detail::result_info> info_;
    std::vector<detail::cell> cells_;

    void start() noexcept {}
    void stop() noexcept {}
    bool step()
    {
        if (stmt_.step())
            return true;
        stmt_.reset(); // ends the read transaction now, not when the view dies
        return false;
    }
    row make_row(std::uint64_t number)
    {
        return detail::read_row(stmt_.handle(), info_, cells_, number);
    }

public:
    /// Prepares `sql` on `db` and binds `params`; the rows are stepped as the view is iterated.
    template <bindable... P>
    query_view(database const& db, std::string sql, Parse parse, query_options opts,
               P const&... params)
        : base(std::move(parse), opts.bad_rows == on_error::skip, opts.max_skipped,
               std::move(opts.reject_path)),
          stmt_(db, std::move(sql))
    {
        stmt_.bind(params...);
        auto info = std::make_shared<sql::detail::result_info>();
        info->query = stmt_.sql();
        info->source = db.file();
        int const count = sqlite3_column_count(stmt_.handle());
        for (int i = 0; i < count; ++i) {
            char const* name = sqlite3_column_name(stmt_.handle(), i);
            if (!name)
                throw std::bad_alloc();
            info->columns.emplace_back(name);
        }
        info_ = std::move(info);
    }
    query_view(query_view&&) = default;
    query_view& operator=(query_view&&) = default;

    std::string const& sql() const noexcept { return stmt_.sql(); }
    std::vector<std::string> const& column_names() const noexcept { return info_->columns; }
};

/// query(db, sql, params...): `for (row& r : sqlite::query(db, "SELECT ... WHERE id > ?", 10))`.
/// query_as(db, sql, parse[, opts], params...): parse(row const&) -> T per row, under the bad-row
/// policy in `opts`. query_as<Tuple>(db, sql[, opts], params...): rows as a tuple-like T, element
/// i from column i with row::get. (io/sql/source.hpp; the same for PostgreSQL.)
using sql::query, sql::query_as;

template <gettable T, bindable... P>
T database::scalar(std::string_view sql, P const&... params) const
{
    auto rows = query(*this, std::string(sql), params...);
    auto it = rows.begin();
    if (it == rows.end()) {
        if constexpr (sql::detail::is_optional<T>::value)
            return std::nullopt;
        else
            throw std::runtime_error("streambatch::sqlite: " + detail::quote(sql) +
                                     " returned no row");
    }
    return (*it).template get<T>(0);
}

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_SOURCE_HPP_INCLUDED
