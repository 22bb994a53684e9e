// streambatch/io/sqlite/inserter.hpp: the SQLite sink: sqlite::inserter, a prepared INSERT, one
// transaction (BEGIN IMMEDIATE ... COMMIT) per batch, with a hook that runs inside it (to
// advance a checkpoint: exactly-once), and write_rows for a transaction the caller has open (a
// job sink's). Part of <streambatch/io/sqlite.hpp>; include that.
// See docs/sql.md.

#ifndef STREAMBATCH_IO_SQLITE_INSERTER_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_INSERTER_HPP_INCLUDED

#include <streambatch/io/sql/sink.hpp>
#include <streambatch/io/sql/traits.hpp>
#include <streambatch/io/sqlite/database.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include <sqlite3.h>

namespace streambatch::sqlite {

/// The sink: a prepared INSERT, one transaction (BEGIN IMMEDIATE ... COMMIT) per batch.
template <class Map = sql::detail::same_columns>
class inserter {
    database* db_;
    statement stmt_;
    Map map_;
    std::uint64_t batches_ = 0;
    std::uint64_t rows_ = 0;

    template <class C>
    void bind_columns(C const& cols)
    {
        if constexpr (sql::detail::tuple_like<C>) {
            constexpr int k = static_cast<int>(std::tuple_size_v<C>);
            if (k != stmt_.parameter_count())
                throw std::invalid_argument("streambatch::sqlite: " + detail::quote(stmt_.sql()) +
                                            " has " + std::to_string(stmt_.parameter_count()) +
                                            " parameters, the record maps to " + std::to_string(k) +
                                            " values");
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                using std::get;
                (stmt_.bind_at(static_cast<int>(I) + 1, get<I>(cols), false), ...);
            }(std::make_index_sequence<std::tuple_size_v<C>>{});
        } else {
            static_assert(bindable<C>,
                          "map a record to a tuple of column values: inserter(db, sql, map)");
            if (stmt_.parameter_count() != 1)
                throw std::invalid_argument("streambatch::sqlite: " + detail::quote(stmt_.sql()) +
                                            " has " + std::to_string(stmt_.parameter_count()) +
                                            " parameters, the record maps to 1 value");
            stmt_.bind_at(1, cols, false);
        }
    }

    void rollback() noexcept
    {
        stmt_.reset();
        if (db_->in_transaction())
            sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    std::string where(std::uint64_t batch, std::size_t r) const
    {
        std::string s = "streambatch::sqlite: batch " + std::to_string(batch);
        if (r != batch_error::npos)
            s += ", row " + std::to_string(r);
        return s + " (0-based) into " + detail::quote(db_->file()) + ": ";
    }

    // The rows of one batch, in the open transaction; on an error the statement is reset and
    // batch_error thrown (the caller rolls back).
    template <class B>
    std::size_t insert_rows(B& batch, std::uint64_t index)
    {
        std::size_t r = 0;
        try {
            for (auto&& rec : batch) {
                auto&& cols = std::invoke(map_, rec);
                bind_columns(cols);
                stmt_.step();
                stmt_.reset();
                ++r;
            }
        } catch (error const& e) {
            stmt_.reset();
            throw batch_error(where(index, r) +
                                  std::string(io::detail::unprefixed<detail::tag>(e.what())),
                              e, index, r);
        } catch (...) {
            stmt_.reset();
            std::string const msg = sql::detail::current_message();
            std::throw_with_nested(batch_error(
                where(index, r) + msg, error("", 0, db_->file(), stmt_.sql(), {}), index, r));
        }
        return r;
    }

public:
    /// `insert_sql` is one INSERT (or INSERT OR ..., REPLACE, UPSERT) with one `?` per column.
    inserter(database& db, std::string insert_sql, Map map = {})
        : db_(std::addressof(db)), stmt_(db, std::move(insert_sql)), map_(std::move(map))
    {}

    /// Inserts every record of `batch` in one transaction; hook(db) runs in it before COMMIT.
    /// On any error the batch is rolled back and batch_error (or a nested batch_error) thrown.
    template <std::ranges::input_range B, class Hook = sql::detail::no_hook>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>> &&
                 std::invocable<Hook&, database&>
    std::size_t write(B&& batch, Hook&& hook = {})
    {
        std::uint64_t const index = batches_++;
        if (db_->in_transaction())
            throw std::logic_error(
                where(index, batch_error::npos) +
                "the connection is already in a transaction; each batch is its own");
        std::size_t const r = sql::detail::transact_batch<error, batch_error, detail::tag>(
            index, where(index, batch_error::npos), [&] { db_->exec("BEGIN IMMEDIATE"); },
            [&] { return insert_rows(batch, index); },
            [&] {
                std::invoke(hook, *db_);
                db_->exec("COMMIT");
            },
            [&]() noexcept { rollback(); },
            [&](std::string const&) { return error("", 0, db_->file(), stmt_.sql(), {}); });
        rows_ += r;
        return r;
    }

    /// Inserts every record of `batch` in the transaction the caller has open (a job sink's:
    /// sqlite::job_sink), with no BEGIN or COMMIT of its own; returns the rows inserted. On an
    /// error throws batch_error (or a nested batch_error) naming the batch and row, and leaves
    /// the transaction to the caller, who rolls it back. std::logic_error outside a transaction.
    template <std::ranges::input_range B>
        requires std::invocable<Map&, std::ranges::range_reference_t<B>>
    std::size_t write_rows(B&& batch)
    {
        std::uint64_t const index = batches_++;
        if (!db_->in_transaction())
            throw std::logic_error(where(index, batch_error::npos) +
                                   "write_rows needs an open transaction (write() opens its own)");
        std::size_t const r = insert_rows(batch, index);
        rows_ += r;
        return r;
    }

    /// write() calls so far (failed ones included: the next batch's index).
    std::uint64_t batches() const noexcept { return batches_; }
    /// Rows committed so far (by write_rows: inserted into the caller's transactions).
    std::uint64_t rows_written() const noexcept { return rows_; }
    std::string const& sql() const noexcept { return stmt_.sql(); }
    /// The database it writes to.
    database& db() const noexcept { return *db_; }
};

template <class Map>
inserter(database&, std::string, Map) -> inserter<Map>;
inserter(database&, std::string) -> inserter<sql::detail::same_columns>;

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_INSERTER_HPP_INCLUDED
