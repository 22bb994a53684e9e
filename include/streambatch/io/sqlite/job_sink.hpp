// streambatch/io/sqlite/job_sink.hpp: sqlite::job_sink, a streambatch::job_sink on a SQLite
// database: each batch is written together with the job's state (position, identity, counts) in
// one transaction, behind a fence that lets one copy of a job write and stops the others. Part
// of <streambatch/io/sqlite.hpp>; include that. See docs/sql.md.
//
// In:     a sqlite::database (the sink's; nothing else may hold a transaction open on it between
//         commits) and what writes one batch's data inside the open transaction: an inserter
//         on that database (its write_rows), or a callable write(database&, Batch&&); options
//         (sql::job_sink_options: the state table, default "streambatch_job_state", and where
//         take-over notes go).
// Out:    sqlite::job_sink<Write>, modelling streambatch::job_sink:
//         open(key)          takes the fence; the stored job_state (nullopt: none committed).
//         commit(b, state)   BEGIN IMMEDIATE; compare-and-set of the state row; write(db, b);
//                            COMMIT.
//         close()            releases the fence (noexcept; also the destructor's).
//         describe()         "SQLite customers.db".
//         taken_over()       the holder open() took the fence from (it was gone), if any.
// Models: the fence is a lease in the job's row of the state table (sql/job_sink.hpp): open()
//         reads it in BEGIN IMMEDIATE (one connection at a time in the whole database) and, if
//         no live holder is recorded, records itself (holder::self()) and bumps the row's token.
//         A recorded holder is live unless it is a process of this host that is gone (holder::
//         alive(): no such pid, or a pid reused by a process that started at another time); a
//         holder on another host is taken to be live (clear its row's holder by hand if its host
//         died). commit() writes only if the row still holds this writer's token and the position
//         it last stored: a copy whose fence was taken over writes nothing.
//         Waiting: every transaction waits for the database lock up to the database's busy
//         timeout (database::options::busy_timeout, 5 s by default), then sqlite::error
//         SQLITE_BUSY.
// Memory: the state's strings; the write callable's own.
// Errors: fence_held (open: a live holder; .by is it; the message names it, the job and the
//         database); fence_lost (commit: the row's token or position moved: names the holder
//         now recorded; nothing of the batch is written); sqlite::error (the database); what
//         write throws (inserter: sqlite::batch_error), after the transaction was rolled back
//         (neither the batch nor the state is written); std::logic_error (commit before open,
//         open twice, a transaction already open on the database); std::invalid_argument (an
//         inserter on another database).
// Example:
//     sqlite::database db("customers.db");
//     sqlite::inserter ins(db, "INSERT INTO customers VALUES (?, ?, ?, ?, ?)");
//     sqlite::job_sink sink(db, ins);                   // or (db, [&](sqlite::database&, auto&& b)
//     auto state = sink.open({.job = "load customers"}); //     { ins.write_rows(b); })
//     sink.commit(batch, {.position = ..., .identity = ..., .batches = n, .records = r});

#ifndef STREAMBATCH_IO_SQLITE_JOB_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_SQLITE_JOB_SINK_HPP_INCLUDED

#include <streambatch/io/sql/job_sink.hpp>
#include <streambatch/io/sqlite/database.hpp>
#include <streambatch/io/sqlite/inserter.hpp>
#include <streambatch/job/contract.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <sqlite3.h>

namespace streambatch::sqlite {

using job_sink_options = sql::job_sink_options;

namespace detail {

/// The write of a job sink made from an inserter: its write_rows.
template <class Map>
struct insert_batch {
    inserter<Map>* ins;
    template <class B>
    void operator()(database&, B&& batch) const
    {
        ins->write_rows(std::forward<B>(batch));
    }
};

template <class W>
struct writer_of {
    using type = std::decay_t<W>;
};
template <class Map>
struct writer_of<inserter<Map>&> {
    using type = insert_batch<Map>;
};

template <class W>
typename writer_of<W&&>::type make_writer(database const&, W&& w)
{
    return std::forward<W>(w);
}
template <class Map>
insert_batch<Map> make_writer(database const& db, inserter<Map>& ins)
{
    if (std::addressof(ins.db()) != std::addressof(db))
        throw std::invalid_argument("streambatch::sqlite: job_sink: the inserter writes to " +
                                    quote(ins.db().file()) + " through another connection than " +
                                    "the sink's (" + quote(db.file()) +
                                    "): its rows would not be in the sink's transaction");
    return {std::addressof(ins)};
}

inline std::optional<std::string> column_text(sqlite3_stmt* st, int c)
{
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        return std::nullopt;
    auto const* p = reinterpret_cast<char const*>(sqlite3_column_text(st, c));
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
}

/// A row of the state table.
struct state_row {
    std::optional<std::string> position, identity, holder_text;
    std::int64_t batches = 0, records = 0, token = 0;
};

inline std::optional<state_row> read_state_row(database const& db, std::string const& sql,
                                               std::string const& job)
{
    statement st(db, sql);
    st.bind(job);
    if (!st.step())
        return std::nullopt;
    sqlite3_stmt* h = st.handle();
    state_row r;
    r.position = column_text(h, 0);
    r.identity = column_text(h, 1);
    r.batches = sqlite3_column_int64(h, 2);
    r.records = sqlite3_column_int64(h, 3);
    r.holder_text = column_text(h, 4);
    r.token = sqlite3_column_int64(h, 5);
    return r;
}

} // namespace detail

/// A streambatch::job_sink on a SQLite database: see the header comment.
template <class Write>
class job_sink {
    database* db_;
    Write write_;
    sql::job_sink_options opts_;
    sql::detail::job_state_sql sql_;
    job_key key_{};
    holder me_{};
    bool held_ = false;
    std::int64_t token_ = 0;
    std::optional<std::string> last_position_{}; // what this writer last stored (NULL: nothing)
    std::optional<holder> taken_over_{};

    std::string where() const { return sql_.table + " in SQLite " + detail::quote(db_->file()); }

    void rollback() const noexcept
    {
        if (db_->in_transaction())
            sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    void check_idle(char const* what) const
    {
        if (!db_->handle())
            throw std::logic_error("streambatch::sqlite: job_sink on a moved-from database");
        if (db_->in_transaction())
            throw std::logic_error(std::string("streambatch::sqlite: job_sink::") + what +
                                   ": a transaction is already open on " +
                                   detail::quote(db_->file()) +
                                   "; the sink's transactions are its own");
    }

public:
    /// `write`: an inserter on `db`, or a callable write(database&, Batch&&) that writes one
    /// batch's data inside the transaction commit() has open.
    template <class W>
    job_sink(database& db, W&& write, sql::job_sink_options opts = {})
        : db_(std::addressof(db)), write_(detail::make_writer(db, std::forward<W>(write))),
          opts_(std::move(opts)), sql_(opts_.state_table, sql::detail::dialect::sqlite, "sqlite")
    {}
    job_sink(job_sink const&) = delete;
    job_sink& operator=(job_sink const&) = delete;
    ~job_sink() { close(); }

    /// Takes the fence for `key` and returns the state stored with its last committed batch
    /// (nullopt: none). Throws fence_held when a live holder is recorded.
    std::optional<job_state> open(job_key const& key)
    {
        if (held_)
            throw std::logic_error("streambatch::sqlite: job_sink::open: the sink already holds "
                                   "job " +
                                   sql::detail::job_name(key_) + "; close() it first");
        check_idle("open");
        db_->exec(sql_.create);
        db_->exec("BEGIN IMMEDIATE");
        std::optional<detail::state_row> row;
        holder const me = holder::self();
        std::optional<holder> gone;
        std::int64_t token = 0;
        try {
            row = detail::read_state_row(*db_, sql_.select_row, key.str());
            if (row && row->holder_text) {
                auto const h = holder::from_text(*row->holder_text);
                if (!h)
                    throw std::runtime_error(
                        "streambatch::sqlite: job " + sql::detail::job_name(key) +
                        ": the holder in " + where() +
                        " is not readable: " + detail::quote(*row->holder_text));
                if (h->alive()) {
                    std::string extra;
                    if (h->host != me.host)
                        extra = " (on another host: if that host is gone, clear the fence: "
                                "UPDATE " +
                                sql_.table + " SET holder = NULL WHERE job = " +
                                sql::detail::sql_literal(key.str()) + ")";
                    throw fence_held(
                        sql::detail::fence_held_message("sqlite", key, *h, where(), extra), *h);
                }
                gone = h;
            }
            if (row) {
                statement st(*db_, sql_.take);
                st.bind(me.to_text(), sql::detail::utc_now(), key.str());
                if (!st.step())
                    throw std::logic_error("streambatch::sqlite: job_sink: the state row of " +
                                           sql::detail::job_name(key) + " vanished");
                token = sqlite3_column_int64(st.handle(), 0);
            } else {
                db_->exec(sql_.insert_row, key.str(), me.to_text(), sql::detail::utc_now());
                token = 1;
            }
            db_->exec("COMMIT");
        } catch (...) {
            rollback();
            throw;
        }
        key_ = key;
        me_ = me;
        token_ = token;
        held_ = true;
        taken_over_ = gone;
        last_position_ = row ? row->position : std::nullopt;
        if (gone)
            sql::detail::log_note(
                opts_, sql::detail::takeover_message(
                           "sqlite", key, *gone,
                           "that process is gone (no process " + std::to_string(gone->pid) +
                               " started then on this host); its last commit: batch " +
                               std::to_string(row->batches) + ", " + std::to_string(row->records) +
                               " records",
                           where()));
        if (!row || !row->position)
            return std::nullopt;
        return job_state{*row->position, row->identity.value_or(""),
                         static_cast<std::uint64_t>(row->batches),
                         static_cast<std::uint64_t>(row->records)};
    }

    /// Writes `batch` and `state` in one transaction, if the stored state is still the one this
    /// writer last stored (else fence_lost, and nothing is written).
    template <class B>
        requires std::invocable<Write&, database&, B&&>
    void commit(B&& batch, job_state const& state)
    {
        if (!held_)
            throw std::logic_error(
                "streambatch::sqlite: job_sink::commit without the fence: open() first");
        check_idle("commit");
        db_->exec("BEGIN IMMEDIATE");
        try {
            db_->exec(sql_.compare_and_set, state.position, state.identity, state.batches,
                      state.records, sql::detail::utc_now(), key_.str(), token_, last_position_);
            if (db_->changes() != 1) {
                auto const now = detail::read_state_row(*db_, sql_.select_row, key_.str());
                std::optional<holder> by;
                if (now && now->holder_text)
                    by = holder::from_text(*now->holder_text);
                std::string const msg = sql::detail::fence_lost_message(
                    "sqlite", key_, me_, token_, last_position_, by,
                    now ? std::optional<std::int64_t>(now->token) : std::nullopt, where());
                rollback();
                throw fence_lost(msg);
            }
            std::invoke(write_, *db_, std::forward<B>(batch));
            db_->exec("COMMIT");
        } catch (...) {
            rollback();
            throw;
        }
        last_position_ = state.position;
    }

    /// Releases the fence: clears the holder if the row still holds this writer's token.
    void close() noexcept
    {
        if (!std::exchange(held_, false))
            return;
        try {
            if (db_->handle() && !db_->in_transaction())
                db_->exec(sql_.release, sql::detail::utc_now(), key_.str(), token_);
        } catch (...) { // the next open() sees this process gone and takes over
        }
    }

    /// "SQLite customers.db"
    std::string describe() const { return "SQLite " + db_->file(); }

    /// The holder open() took the fence from because it was gone; nullopt if none.
    std::optional<holder> const& taken_over() const noexcept { return taken_over_; }
    /// This writer as open() recorded it in the state row (what another copy's fence_held names).
    holder const& self() const noexcept { return me_; }
    /// The fence's token this writer holds (bumped by each open()).
    std::int64_t token() const noexcept { return token_; }
    /// True between open() and close().
    bool holds() const noexcept { return held_; }
    /// The state table, quoted.
    std::string const& state_table() const noexcept { return sql_.table; }
};

template <class W>
job_sink(database&, W&&) -> job_sink<typename detail::writer_of<W&&>::type>;
template <class W>
job_sink(database&, W&&, sql::job_sink_options) -> job_sink<typename detail::writer_of<W&&>::type>;

} // namespace streambatch::sqlite

#endif // STREAMBATCH_IO_SQLITE_JOB_SINK_HPP_INCLUDED
