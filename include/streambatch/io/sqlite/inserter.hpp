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
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <sqlite3.h>

namespace streambatch::sqlite {

/// How an inserter groups rows into statements.
struct insert_options {
    /// Rows inserted by one step of one statement. n > 1: the INSERT's one row of values,
    /// `VALUES (?, ?, ...)` holding every parameter (plain `?` only), is repeated n times, so
    /// SQLite's per-statement work (step, reset, the VDBE's set-up and halt) is paid once per n
    /// rows; a batch's last rows that do not fill a statement go one at a time, as do the rows of
    /// a range whose elements are not lvalues. Errors still name their row: a failed statement
    /// of n rows is undone by SQLite and its rows are run again one at a time to find it.
    /// 1 (the default): one row per statement.
    std::size_t rows_per_statement = 1;
};

namespace detail {

/// `sql` with its one row of values `(?, ...)` repeated n times, for n > 1; throws
/// std::invalid_argument when the statement is not INSERT ... VALUES with one row of values
/// holding all its `params` parameters (plain `?`), or when n rows exceed `max_params`.
inline std::string multi_row_sql(std::string const& sql, int params, std::size_t n, int max_params)
{
    auto const refuse = [&](std::string const& why) {
        return std::invalid_argument("streambatch::sqlite: rows_per_statement " +
                                     std::to_string(n) + " needs " + why + "; " + quote(sql) +
                                     " is not");
    };
    // Top-level scan: quotes ('', "", ``, []) and comments skipped.
    auto const skip = [&](std::size_t i) -> std::size_t {
        char const c = sql[i];
        if (c == '\'' || c == '"' || c == '`' || c == '[') {
            char const close = c == '[' ? ']' : c;
            std::size_t const e = sql.find(close, i + 1);
            return e == std::string::npos ? sql.size() : e + 1;
        }
        if (sql.compare(i, 2, "--") == 0) {
            std::size_t const e = sql.find('\n', i);
            return e == std::string::npos ? sql.size() : e + 1;
        }
        if (sql.compare(i, 2, "/*") == 0) {
            std::size_t const e = sql.find("*/", i + 2);
            return e == std::string::npos ? sql.size() : e + 2;
        }
        return i;
    };
    auto const word_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    };
    {
        // INSERT OR FAIL keeps the rows before a failing one and OR ROLLBACK ends the
        // transaction: the rerun one row at a time could not name the row.
        std::string w[3]; // the first three words, upper-cased
        std::size_t n_words = 0;
        for (char c : sql.substr(0, sql.find('('))) {
            bool const space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
            if (space && !w[n_words].empty() && ++n_words == 3)
                break;
            if (!space)
                w[n_words] += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
        }
        if (w[0] == "INSERT" && w[1] == "OR" && (w[2] == "FAIL" || w[2] == "ROLLBACK"))
            throw refuse("an INSERT whose failed statement SQLite undoes whole (not OR " + w[2] +
                         ")");
    }
    std::size_t values = std::string::npos, open = 0, close = 0;
    int depth = 0, marks = 0;
    for (std::size_t i = 0; i < sql.size();) {
        if (std::size_t const j = skip(i); j != i) {
            i = j;
            continue;
        }
        char const c = sql[i];
        if (c == '?') {
            if (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9')
                throw refuse("plain ? parameters (not ?NNN)");
            ++marks;
        } else if (c == '(') {
            if (depth++ == 0 && values != std::string::npos && open == 0)
                open = i;
        } else if (c == ')') {
            if (--depth == 0 && open != 0 && close == 0)
                close = i;
        } else if (depth == 0 && (i == 0 || !word_char(sql[i - 1])) && sql.size() - i >= 6 &&
                   !(i + 6 < sql.size() && word_char(sql[i + 6]))) {
            std::string w = sql.substr(i, 6);
            for (char& x : w)
                x = static_cast<char>(x >= 'a' && x <= 'z' ? x - 'a' + 'A' : x);
            if (w == "VALUES") {
                if (values != std::string::npos)
                    throw refuse("one VALUES");
                values = i;
                i += 6;
                continue;
            }
        }
        ++i;
    }
    if (values == std::string::npos || open == 0 || close == 0)
        throw refuse("INSERT ... VALUES (?, ...)");
    if (sql.find_first_not_of(" \t\r\n", values + 6) != open)
        throw refuse("VALUES followed by its row of values");
    std::size_t const after = sql.find_first_not_of(" \t\r\n", close + 1);
    if (after != std::string::npos && sql[after] == ',')
        throw refuse("one row of values");
    int inside = 0;
    for (std::size_t i = open; i <= close;) {
        if (std::size_t const j = skip(i); j != i) {
            i = j;
            continue;
        }
        inside += sql[i] == '?';
        ++i;
    }
    if (inside != params || marks != params || params == 0)
        throw refuse("every parameter, as ?, in its row of values");
    if (n > static_cast<std::size_t>(max_params / params))
        throw std::invalid_argument(
            "streambatch::sqlite: rows_per_statement " + std::to_string(n) + " of " + quote(sql) +
            " needs " + std::to_string(n) + " x " + std::to_string(params) +
            " parameters, more than SQLite's limit of " + std::to_string(max_params));
    std::string const row = sql.substr(open, close + 1 - open);
    std::string out = sql.substr(0, close + 1);
    out.reserve(sql.size() + (n - 1) * (row.size() + 2));
    for (std::size_t r = 1; r < n; ++r)
        out += ", " + row;
    return out + sql.substr(close + 1);
}

} // namespace detail

/// The sink: a prepared INSERT, one transaction (BEGIN IMMEDIATE ... COMMIT) per batch.
template <class Map = sql::detail::same_columns>
class inserter {
    database* db_;
    statement stmt_;
    Map map_;
    std::size_t group_ = 1;
    std::optional<statement> multi_; ///< group_ rows a step, when group_ > 1
    std::uint64_t batches_ = 0;
    std::uint64_t rows_ = 0;

    // Binds one record's columns into `st` from parameter offset + 1 on; copy: SQLite keeps its
    // own copy of text and blobs (else it reads them at the step).
    template <class C>
    void bind_columns(statement& st, int offset, C const& cols, bool copy = false)
    {
        int const k = stmt_.parameter_count();
        if constexpr (sql::detail::tuple_like<C>) {
            constexpr int n = static_cast<int>(std::tuple_size_v<C>);
            if (n != k)
                throw std::invalid_argument("streambatch::sqlite: " + detail::quote(stmt_.sql()) +
                                            " has " + std::to_string(k) +
                                            " parameters, the record maps to " + std::to_string(n) +
                                            " values");
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                using std::get;
                (st.bind_at(offset + static_cast<int>(I) + 1, get<I>(cols), copy), ...);
            }(std::make_index_sequence<std::tuple_size_v<C>>{});
        } else {
            static_assert(bindable<C>,
                          "map a record to a tuple of column values: inserter(db, sql, map)");
            if (k != 1)
                throw std::invalid_argument("streambatch::sqlite: " + detail::quote(stmt_.sql()) +
                                            " has " + std::to_string(k) +
                                            " parameters, the record maps to 1 value");
            st.bind_at(offset + 1, cols, copy);
        }
    }
    template <class C>
    void bind_columns(C const& cols)
    {
        bind_columns(stmt_, 0, cols);
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

    [[noreturn]] void rethrow_at(std::uint64_t index, std::size_t r)
    {
        try {
            throw;
        } catch (error const& e) {
            throw batch_error(where(index, r) +
                                  std::string(io::detail::unprefixed<detail::tag>(e.what())),
                              e, index, r);
        } catch (...) {
            std::string const msg = sql::detail::current_message();
            std::throw_with_nested(batch_error(
                where(index, r) + msg, error("", 0, db_->file(), stmt_.sql(), {}), index, r));
        }
    }

    // insert_rows with group_ rows a step (records that are lvalues, which outlive the step).
    template <class B>
    std::size_t insert_grouped(B& batch, std::uint64_t index)
    {
        using cols_ref = std::invoke_result_t<Map&, std::ranges::range_reference_t<B>>;
        using cols_t = std::remove_reference_t<cols_ref>;
        // A map that returns its columns by value: they are kept until the step (bound, not
        // copied).
        constexpr bool keep = !std::is_lvalue_reference_v<cols_ref>;
        std::conditional_t<keep, std::vector<std::remove_cv_t<cols_t>>, std::monostate> kept;
        std::vector<cols_t const*> group;
        group.reserve(group_);
        if constexpr (keep)
            kept.reserve(group_);
        int const k = stmt_.parameter_count();
        std::size_t r = 0; // rows inserted
        auto const one = [&](cols_t const& cols, std::size_t row) {
            try {
                bind_columns(cols);
                stmt_.step();
                stmt_.reset();
            } catch (...) {
                stmt_.reset();
                rethrow_at(index, row);
            }
        };
        for (auto&& rec : batch) {
            std::size_t const row = r + group.size();
            try {
                if constexpr (keep) {
                    kept.push_back(std::invoke(map_, rec));
                    group.push_back(&kept.back());
                } else {
                    group.push_back(std::addressof(std::invoke(map_, rec)));
                }
                // Stepped only when the group is full: a map's result may point into what the
                // map reuses for the next record (a member, a scratch buffer), so its text is
                // copied; the records' own columns (same_columns) live in the batch.
                bind_columns(*multi_, static_cast<int>(group.size() - 1) * k, *group.back(),
                             !std::is_same_v<Map, sql::detail::same_columns>);
            } catch (...) {
                rethrow_at(index, row);
            }
            if (group.size() < group_)
                continue;
            try {
                multi_->step();
                multi_->reset();
            } catch (error const&) {
                multi_->reset();
                // SQLite undid the failed statement (or, for some errors, the whole
                // transaction): find the row one at a time, in the transaction if still open.
                if (db_->in_transaction())
                    for (std::size_t i = 0; i < group.size(); ++i)
                        one(*group[i], r + i);
                rethrow_at(index, r);
            }
            r += group.size();
            group.clear();
            if constexpr (keep)
                kept.clear();
        }
        for (auto const* cols : group) // the last rows, one at a time
            one(*cols, r++);
        sqlite3_clear_bindings(multi_->handle()); // no pointers left into the batch
        return r;
    }

    // The rows of one batch, in the open transaction; on an error the statement is reset and
    // batch_error thrown (the caller rolls back).
    template <class B>
    std::size_t insert_rows(B& batch, std::uint64_t index)
    {
        if constexpr (std::is_lvalue_reference_v<std::ranges::range_reference_t<B>>) {
            if (multi_)
                return insert_grouped(batch, index);
        }
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
    /// The same, with `opts.rows_per_statement` rows a step (see insert_options); throws
    /// std::invalid_argument if the INSERT is not one that can be repeated so.
    inserter(database& db, std::string insert_sql, insert_options opts)
        requires std::default_initializable<Map>
        : inserter(db, std::move(insert_sql), Map{}, opts)
    {}
    inserter(database& db, std::string insert_sql, Map map, insert_options opts)
        : inserter(db, std::move(insert_sql), std::move(map))
    {
        if (opts.rows_per_statement == 0)
            throw std::invalid_argument("streambatch::sqlite: rows_per_statement 0 for " +
                                        detail::quote(stmt_.sql()) + "; at least 1");
        if (opts.rows_per_statement == 1)
            return;
        group_ = opts.rows_per_statement;
        multi_.emplace(db, detail::multi_row_sql(
                               stmt_.sql(), stmt_.parameter_count(), group_,
                               sqlite3_limit(db.handle(), SQLITE_LIMIT_VARIABLE_NUMBER, -1)));
    }

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
    /// Rows a step (insert_options::rows_per_statement).
    std::size_t rows_per_statement() const noexcept { return group_; }
    /// The database it writes to.
    database& db() const noexcept { return *db_; }
};

template <class Map>
inserter(database&, std::string, Map) -> inserter<Map>;
inserter(database&, std::string) -> inserter<sql::detail::same_columns>;
inserter(database&, std::string, insert_options) -> inserter<sql::detail::same_columns>;
template <class Map>
inserter(database&, std::string, Map, insert_options) -> inserter<Map>;

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_INSERTER_HPP_INCLUDED
