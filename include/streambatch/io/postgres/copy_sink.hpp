// streambatch/io/postgres/copy_sink.hpp: the PostgreSQL sink: postgres::copy_sink, COPY table
// (columns) FROM STDIN in text format, one transaction (BEGIN ... COMMIT) per batch, with a hook
// that runs inside it (to advance a checkpoint: exactly-once), and write_rows for a transaction
// the caller has open (a job sink's). Part of
// <streambatch/io/postgres.hpp>; include that. See docs/sql.md.

#ifndef STREAMBATCH_IO_POSTGRES_COPY_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_POSTGRES_COPY_SINK_HPP_INCLUDED

#include <streambatch/io/postgres/connection.hpp>
#include <streambatch/io/sql/sink.hpp>
#include <streambatch/io/sql/traits.hpp>

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace streambatch::postgres {

namespace detail {

/// Drains the results of a finished COPY; the first non-OK one is returned.
inline result finish_copy(PGconn* c)
{
    result first;
    while (PGresult* r = PQgetResult(c)) {
        if (!first || (first.status() == PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COMMAND_OK))
            first = result(r);
        else
            PQclear(r);
    }
    return first;
}

/// "COPY t, line 3, column x: ..." -> 3; 0 if there is no line number.
inline std::size_t copy_line(std::string_view context)
{
    auto const at = context.find(", line ");
    if (at == std::string_view::npos)
        return 0;
    std::size_t line = 0;
    auto const* first = context.data() + at + 7;
    std::from_chars(first, context.data() + context.size(), line);
    return line;
}

} // namespace detail

/// The sink: COPY table (columns) FROM STDIN, one transaction (BEGIN ... COMMIT) per batch.
template <class Map = sql::detail::same_columns>
class copy_sink {
    connection* conn_;
    std::string table_, copy_sql_;
    std::size_t columns_;
    Map map_;
    std::uint64_t batches_ = 0;
    std::uint64_t rows_ = 0;
    std::string buf_, scratch_;

    static constexpr std::size_t flush_bytes = 64 * 1024;

    template <class C>
    void encode(C const& cols)
    {
        if constexpr (sql::detail::tuple_like<C>) {
            constexpr std::size_t k = std::tuple_size_v<C>;
            if (columns_ != 0 && k != columns_)
                throw std::invalid_argument("streambatch::postgres: COPY into " + table_ + " has " +
                                            std::to_string(columns_) +
                                            " columns, the record maps to " + std::to_string(k) +
                                            " values");
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                using std::get;
                ((I ? void(buf_ += '\t') : void(),
                  detail::append_copy_field(buf_, scratch_, get<I>(cols))),
                 ...);
            }(std::make_index_sequence<k>{});
        } else {
            static_assert(
                bindable<C>,
                "map a record to a tuple of column values: copy_sink(conn, table, cols, map)");
            if (columns_ > 1)
                throw std::invalid_argument("streambatch::postgres: COPY into " + table_ + " has " +
                                            std::to_string(columns_) +
                                            " columns, the record maps to 1 value");
            detail::append_copy_field(buf_, scratch_, cols);
        }
        buf_ += '\n';
    }

    void put(std::string_view data)
    {
        if (data.empty())
            return;
        if (PQputCopyData(conn_->handle(), data.data(), static_cast<int>(data.size())) != 1)
            detail::throw_error(conn_->handle(), nullptr, copy_sql_, "sending COPY data");
    }

    // One COPY of the batch's records in the open transaction (started: the caller has sent
    // the COPY statement and got its COPY IN; what it sent after it is drained with it); on an
    // error the COPY is ended and batch_error thrown (the caller rolls back).
    template <class B>
    std::size_t copy_rows(B& batch, std::uint64_t index, bool started = false)
    {
        PGconn* const c = conn_->handle();
        std::size_t n = 0;
        std::size_t at = batch_error::npos; // the record being mapped and encoded
        try {
            if (started) {
            } else if (result r(PQexec(c, copy_sql_.c_str())); !r || r.status() != PGRES_COPY_IN)
                detail::throw_error(c, r.handle(), copy_sql_);
            buf_.clear();
            for (auto&& rec : batch) {
                at = n;
                auto&& cols = std::invoke(map_, rec);
                encode(cols);
                at = batch_error::npos;
                ++n;
                if (buf_.size() >= flush_bytes) {
                    put(buf_);
                    buf_.clear();
                }
            }
            put(buf_);
            buf_.clear();
            if (PQputCopyEnd(c, nullptr) != 1)
                detail::throw_error(c, nullptr, copy_sql_, "ending COPY");
            if (result r = detail::finish_copy(c); !r || r.status() != PGRES_COMMAND_OK)
                detail::throw_error(c, r.handle(), copy_sql_);
        } catch (error const& e) {
            end_copy();
            std::size_t row = at;
            if (row == batch_error::npos) // the server names the COPY line
                if (std::size_t const line = detail::copy_line(e.context()))
                    row = line - 1;
            throw batch_error(where(index, row) +
                                  std::string(io::detail::unprefixed<detail::tag>(e.what())),
                              e, index, row);
        } catch (...) {
            end_copy();
            std::string const msg = sql::detail::current_message();
            std::throw_with_nested(
                batch_error(where(index, at) + msg,
                            error("", "", msg, {}, {}, {}, copy_sql_, conn_->host(), conn_->port()),
                            index, at));
        }
        buf_.clear();
        if (buf_.capacity() > 4 * flush_bytes) // one huge record must not pin its buffer
            std::string().swap(buf_);
        return n;
    }

    void end_copy() noexcept
    {
        buf_.clear();
        PGconn* c = conn_->handle();
        if (PQtransactionStatus(c) == PQTRANS_ACTIVE) { // still in COPY IN
            PQputCopyEnd(c, "streambatch: the batch failed on the client");
            detail::finish_copy(c);
        }
    }

    void rollback() noexcept
    {
        end_copy();
        PGconn* c = conn_->handle();
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
    }

    std::string where(std::uint64_t batch, std::size_t r) const
    {
        std::string s = "streambatch::postgres: batch " + std::to_string(batch);
        if (r != batch_error::npos)
            s += ", row " + std::to_string(r);
        return s + " (0-based) into " + table_ + " on " + conn_->where() + ": ";
    }

public:
    /// COPY `table` (`columns`) FROM STDIN; no columns: all of the table's, in its order.
    copy_sink(connection& conn, std::string table, std::vector<std::string> columns = {},
              Map map = {})
        : conn_(std::addressof(conn)), table_(std::move(table)), columns_(columns.size()),
          map_(std::move(map))
    {
        copy_sql_ = "COPY " + table_;
        if (!columns.empty()) {
            copy_sql_ += " (";
            for (std::size_t i = 0; i < columns.size(); ++i) {
                char* q = PQescapeIdentifier(conn.handle(), columns[i].data(), columns[i].size());
                if (!q)
                    detail::throw_error(conn.handle(), nullptr, {},
                                        "quoting the column name " + columns[i]);
                copy_sql_ += (i ? ", " : "") + std::string(q);
                PQfreemem(q);
            }
            copy_sql_ += ")";
        }
        copy_sql_ += " FROM STDIN (FORMAT text)";
        buf_.reserve(flush_bytes + 4096);
    }

    /// Sends every record of `batch` with one COPY in one transaction; hook(conn) runs in it
    /// before COMMIT. On any error the batch is rolled back and batch_error (or a nested
    /// batch_error) thrown.
    template <std::ranges::input_range B, class Hook = sql::detail::no_hook>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>> &&
                 std::invocable<Hook&, connection&>
    std::size_t write(B&& batch, Hook&& hook = {})
    {
        std::uint64_t const index = batches_++;
        if (!conn_->handle())
            throw std::logic_error("streambatch::postgres: copy_sink on a moved-from connection");
        if (conn_->in_transaction())
            throw std::logic_error(
                where(index, batch_error::npos) +
                "the connection is already in a transaction (a cursor reading on it?); each "
                "batch is its own: write through a second connection");
        std::size_t const n = sql::detail::transact_batch<error, batch_error, detail::tag>(
            index, where(index, batch_error::npos), [&] { conn_->exec("BEGIN"); },
            [&] { return copy_rows(batch, index); },
            [&] {
                std::invoke(hook, *conn_);
                conn_->exec("COMMIT");
            },
            [&]() noexcept { rollback(); },
            [&](std::string const& msg) {
                return error("", "", msg, {}, {}, {}, copy_sql_, conn_->host(), conn_->port());
            });
        rows_ += n;
        return n;
    }

    /// Sends every record of `batch` with one COPY in the transaction the caller has open (a job
    /// sink's: postgres::job_sink), with no BEGIN or COMMIT of its own; returns the rows sent. On
    /// an error the COPY is ended and batch_error (or a nested batch_error) thrown naming the
    /// batch and row; the transaction is left to the caller, who rolls it back.
    /// std::logic_error outside a transaction.
    template <std::ranges::input_range B>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>>
    std::size_t write_rows(B&& batch)
    {
        std::uint64_t const index = batches_++;
        if (!conn_->handle())
            throw std::logic_error("streambatch::postgres: copy_sink on a moved-from connection");
        if (PQtransactionStatus(conn_->handle()) != PQTRANS_INTRANS)
            throw std::logic_error(where(index, batch_error::npos) +
                                   "write_rows needs an open transaction (write() opens its own)");
        std::size_t const n = copy_rows(batch, index);
        rows_ += n;
        return n;
    }

    /// write_rows for a COPY the caller has started: it sent sql() (with what comes before and
    /// after it in one query string: postgres::job_sink sends BEGIN, its state update, the COPY
    /// and COMMIT in one round trip) and PQgetResult gave PGRES_COPY_IN. Sends the rows, ends
    /// the COPY and drains the results of the rest of the string; the first failure throws
    /// batch_error as write_rows does.
    template <std::ranges::input_range B>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>>
    std::size_t write_rows_in_copy(B&& batch)
    {
        std::uint64_t const index = batches_++;
        std::size_t const n = copy_rows(batch, index, true);
        rows_ += n;
        return n;
    }

    /// write() calls so far (failed ones included: the next batch's index).
    std::uint64_t batches() const noexcept { return batches_; }
    /// Rows committed so far.
    std::uint64_t rows_written() const noexcept { return rows_; }
    /// The COPY statement.
    std::string const& sql() const noexcept { return copy_sql_; }
    /// The table, as given.
    std::string const& table() const noexcept { return table_; }
    /// The connection it writes to.
    connection& conn() const noexcept { return *conn_; }
};

template <class Map>
copy_sink(connection&, std::string, std::vector<std::string>, Map) -> copy_sink<Map>;
copy_sink(connection&, std::string, std::vector<std::string>)
    -> copy_sink<sql::detail::same_columns>;
copy_sink(connection&, std::string) -> copy_sink<sql::detail::same_columns>;

} // namespace streambatch::postgres

#endif // STREAMBATCH_IO_POSTGRES_COPY_SINK_HPP_INCLUDED
