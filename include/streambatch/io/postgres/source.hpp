// streambatch/io/postgres/source.hpp: the PostgreSQL source: postgres::query, postgres::query_as
// and the view they return, a server-side cursor fetched fetch_size rows at a time. Part of
// <streambatch/io/postgres.hpp>; include that. The view's loop and bad-row policy are the io
// family's (io/sql/source.hpp); this file supplies the cursor: open, fetch, close. See docs/sql.md.

#ifndef STREAMBATCH_IO_POSTGRES_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_SOURCE_HPP_INCLUDED

#include <streambatch/io/postgres/connection.hpp>
#include <streambatch/io/sql/source.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace streambatch::postgres {

/// What a query_as source does with a row its parse function rejects: fail or skip (the io/sql
/// layer's enum; sqlite::on_error is the same type).
using sql::on_error;

/// The cursor's fetch size and the bad-row policy of query_as.
struct query_options {
    std::size_t fetch_size = 1000; ///< rows per FETCH FORWARD; set it to the batch size
    on_error bad_rows = on_error::fail;
    std::uint64_t max_skipped = 100;     ///< on_error::skip: the next bad row throws
    std::filesystem::path reject_path{}; ///< JSON Lines; required by skip
};

/// What a source has done so far (rows_read: rows fetched, bad ones included; rows_skipped);
/// view.stats() shares it, so it outlives the view.
struct query_stats : sql::query_stats {
    std::uint64_t fetches = 0; ///< FETCH round trips
};

template <parse_function Parse = sql::detail::raw_rows<row>>
class query_view;

/// What io/sql/source.hpp's query functions find (by argument-dependent lookup) for a connection;
/// declared only.
sql::detail::source_spec<detail::tag, connection&, row, error, query_stats, query_options,
                         query_view>
source_spec_of(connection const&);

/// The source: a server-side cursor, fetched fetch_size rows at a time; yields rows, or
/// parse(row) for query_as.
template <parse_function Parse>
class query_view : public sql::detail::source_base<query_view<Parse>,
                                                   sql::detail::source_of_t<connection>, Parse> {
    using base =
        sql::detail::source_base<query_view<Parse>, sql::detail::source_of_t<connection>, Parse>;
    friend base;
    enum class state { fresh, open, closed };

    connection* conn_ = nullptr;
    std::size_t fetch_size_ = 0;
    std::vector<std::optional<std::string>> params_;
    std::shared_ptr<sql::detail::result_info> info_ = std::make_shared<sql::detail::result_info>();
    std::string cursor_, fetch_sql_;
    result batch_;
    int pos_ = 0, count_ = 0;
    bool exhausted_ = false;
    state state_ = state::fresh;

    std::string const& sql_text() const noexcept { return info_->query; }

    void start() { open(); }
    void stop() noexcept { abandon(); }
    bool step()
    {
        while (pos_ == count_) {
            if (exhausted_) {
                close();
                return false;
            }
            fetch();
        }
        return true;
    }
    row make_row(std::uint64_t number) { return row(info_, batch_.handle(), pos_++, number); }

    void open()
    {
        if (!conn_ || !conn_->handle())
            throw std::logic_error("streambatch::postgres: query on a moved-from connection");
        cursor_ = conn_->next_cursor_name();
        fetch_sql_ = "FETCH FORWARD " + std::to_string(fetch_size_) + " FROM " + cursor_;
        bool began = false;
        if (conn_->open_cursors() == 0 && PQtransactionStatus(conn_->handle()) == PQTRANS_IDLE) {
            conn_->exec_params(
                "BEGIN", {}, "beginning a transaction for a cursor on " + detail::quote(sql_text()),
                sql_text());
            began = true;
            conn_->cursor_transaction(true);
        }
        try {
            conn_->exec_params("DECLARE " + cursor_ + " NO SCROLL CURSOR FOR " + sql_text(),
                               params_, "declaring a cursor for " + detail::quote(sql_text()),
                               sql_text());
        } catch (...) {
            if (began) {
                conn_->cursor_transaction(false);
                PQclear(PQexec(conn_->handle(), "ROLLBACK"));
            }
            throw;
        }
        conn_->cursor_opened();
        state_ = state::open;
    }

    void fetch()
    {
        batch_.reset(); // at most one fetched result at a time
        pos_ = count_ = 0;
        batch_ = conn_->exec_params(fetch_sql_, {},
                                    "fetching from the cursor for " + detail::quote(sql_text()),
                                    sql_text());
        ++this->counters().fetches;
        count_ = batch_.rows();
        if (static_cast<std::size_t>(count_) < fetch_size_)
            exhausted_ = true;
        if (info_->columns.empty() && batch_.columns() > 0) {
            for (int c = 0; c < batch_.columns(); ++c)
                info_->columns.emplace_back(batch_.column_name(c));
        }
    }

    void close()
    {
        batch_.reset();
        state_ = state::closed;
        conn_->cursor_closed();
        bool const last = conn_->open_cursors() == 0 && conn_->cursor_transaction();
        try {
            conn_->exec("CLOSE " + cursor_);
            if (last) {
                conn_->cursor_transaction(false);
                conn_->exec("COMMIT");
            }
        } catch (...) {
            if (last) { // never leave our transaction open
                conn_->cursor_transaction(false);
                if (conn_->in_transaction())
                    PQclear(PQexec(conn_->handle(), "ROLLBACK"));
            }
            throw;
        }
    }

    // Destruction before the end: the cursor (and the transaction it began) are dropped.
    void abandon() noexcept
    {
        batch_.reset();
        if (state_ != state::open || !conn_ || !conn_->handle())
            return;
        state_ = state::closed;
        conn_->cursor_closed();
        PGconn* c = conn_->handle();
        if (conn_->cursor_transaction() && conn_->open_cursors() == 0) {
            conn_->cursor_transaction(false);
            PQclear(PQexec(c, "ROLLBACK"));
        } else if (PQtransactionStatus(c) == PQTRANS_INTRANS) {
            PQclear(PQexec(c, ("CLOSE " + cursor_).c_str()));
        }
    }

public:
    /// Nothing is sent until the first begin().
    template <bindable... P>
    query_view(connection& conn, std::string sql, Parse parse, query_options opts,
               P const&... params)
        : base(std::move(parse), opts.bad_rows == on_error::skip, opts.max_skipped,
               opts.reject_path),
          conn_(std::addressof(conn)), fetch_size_(opts.fetch_size)
    {
        if (fetch_size_ == 0 ||
            fetch_size_ > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            throw std::invalid_argument("streambatch::postgres: fetch_size must be in 1.." +
                                        std::to_string(std::numeric_limits<int>::max()) + ", got " +
                                        std::to_string(fetch_size_));
        (params_.push_back([&] {
            std::string s;
            return detail::to_text(s, params) ? std::optional<std::string>(std::move(s))
                                              : std::nullopt;
        }()),
         ...);
        info_->query = std::move(sql);
        info_->source = conn.where();
    }
    query_view(query_view&& o) noexcept(std::is_nothrow_move_constructible_v<Parse>)
        : base(std::move(o)), conn_(std::exchange(o.conn_, nullptr)), fetch_size_(o.fetch_size_),
          params_(std::move(o.params_)), info_(std::move(o.info_)), cursor_(std::move(o.cursor_)),
          fetch_sql_(std::move(o.fetch_sql_)), batch_(std::move(o.batch_)), pos_(o.pos_),
          count_(o.count_), exhausted_(o.exhausted_), state_(std::exchange(o.state_, state::closed))
    {}
    query_view& operator=(query_view&& o) noexcept(std::is_nothrow_move_constructible_v<Parse>)
    {
        if (this != &o) {
            abandon();
            base::operator=(std::move(o));
            conn_ = std::exchange(o.conn_, nullptr);
            fetch_size_ = o.fetch_size_;
            params_ = std::move(o.params_);
            info_ = std::move(o.info_);
            cursor_ = std::move(o.cursor_);
            fetch_sql_ = std::move(o.fetch_sql_);
            batch_ = std::move(o.batch_);
            pos_ = o.pos_;
            count_ = o.count_;
            exhausted_ = o.exhausted_;
            state_ = std::exchange(o.state_, state::closed);
        }
        return *this;
    }
    ~query_view() { abandon(); }

    std::string const& sql() const noexcept { return info_->query; }
    /// The cursor's name (empty before begin()).
    std::string const& cursor_name() const noexcept { return cursor_; }
};

/// query(conn, sql, params...): `for (row& r : postgres::query(conn, "SELECT ... WHERE id > $1",
/// 10))`. query_as(conn, sql, parse[, opts], params...): parse(row const&) -> T per row, under the
/// bad-row policy in `opts`. query_as<Tuple>(conn, sql[, opts], params...): rows as a tuple-like
/// T, element i from column i with row::get. (io/sql/source.hpp; the same for SQLite.)
using sql::query, sql::query_as;
/// The same as query(conn, sql, params...) with a fetch size (options.fetch_size; the bad-row
/// policy needs query_as).
template <bindable... P>
[[nodiscard]] query_view<> query(connection& conn, std::string sql, query_options opts,
                                 P const&... params)
{
    return query_view<>(conn, std::move(sql), {}, std::move(opts), params...);
}

template <gettable T, bindable... P>
T connection::scalar(std::string const& sql, P const&... params) const
{
    result r = [&] {
        if constexpr (sizeof...(P) == 0)
            return exec(sql);
        else
            return exec(sql, params...);
    }();
    if (r.rows() == 0 || r.columns() == 0) {
        if constexpr (sql::detail::is_optional<T>::value)
            return std::nullopt;
        else
            throw std::runtime_error("streambatch::postgres: " + detail::quote(sql) +
                                     " returned no value");
    }
    auto info = std::make_shared<sql::detail::result_info>();
    info->query = sql;
    info->source = where();
    for (int c = 0; c < r.columns(); ++c)
        info->columns.emplace_back(r.column_name(c));
    return row(std::move(info), r.handle(), 0, 1).get<T>(0);
}

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_SOURCE_HPP_INCLUDED
