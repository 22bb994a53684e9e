// streambatch/io/sql/job_sink.hpp: what the SQLite and PostgreSQL job sinks share (included by
// <streambatch/io/sqlite.hpp> and <streambatch/io/postgres.hpp>; use those): their options, the
// state table's SQL, the compare-and-set statement and the messages of fence_held, fence_lost
// and a take-over.
//
// In:     a dialect (SQLite: ?N parameters, `IS`; PostgreSQL: $N, `IS NOT DISTINCT FROM`), the
//         state table's name (quoted here), a job_key and holders.
// Out:    sql::job_sink_options (state_table, log, dead_holder_wait, transaction_rows and
//         transaction_time); sql::detail::
//         job_state_sql (the statements), the message builders and utc_now(); state_row (a row
//         of the state table); rows_writer (a job sink's write made from an inserter or a
//         copy_sink: its write_rows); job_sink_base<Derived, Conn, Write>, what both job sinks
//         are made of (CRTP): the writer's fields and accessors, the shape of commit() (begin and
//         compare-and-set, fence_lost on no row, write, commit, roll back on any throw) and the
//         end of open(). Derived supplies check_idle(what), begin_and_set(state) -> bool,
//         read_state_row(), write_batch(batch), finish_commit(), rollback() and where().
// Models: the state table, one row per job_key::str():
//             job       text PRIMARY KEY
//             position  text     NULL: nothing committed yet
//             identity  text
//             batches   bigint   job_state::batches of the last commit
//             records   bigint   job_state::records of the last commit
//             holder    text     holder::to_text() of the writer holding the fence; NULL: none
//             token     bigint   bumped by each open(): a commit's compare-and-set checks it
//             updated   text     UTC time of the row's last change, 2026-12-05T21:50:01.123Z
//         A commit is UPDATE ... SET position, identity, batches, records, updated WHERE job =
//         <key> AND token = <the writer's> AND position IS <the position it last stored>: one
//         row changed, or none (the fence was lost) and the batch is not written.
// Memory: the statements' text.
// Errors: std::invalid_argument for an empty state table name (from quote_table).
// Example:
//     sqlite::job_sink sink(db, inserter, {.state_table = "etl_state"});

#ifndef STREAMBATCH_IO_SQL_JOB_SINK_HPP_INCLUDED
#define STREAMBATCH_IO_SQL_JOB_SINK_HPP_INCLUDED

#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/sql/partition.hpp>
#include <streambatch/job/contract.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace streambatch::sql {

/// The options of sqlite::job_sink and postgres::job_sink.
struct job_sink_options {
    /// The table the job states live in (one row per job_key); created if missing. A name, or
    /// {schema, name}; quoted for you.
    table_name state_table = "streambatch_job_state";
    /// Where notes go (one line each, no newline): that open() took over the fence of a holder
    /// that is gone. Empty: stderr.
    std::function<void(std::string const&)> log{};
    /// PostgreSQL: when the holder recorded in the row is a process of this host that is gone
    /// but its connection still holds the lock (the server has not yet seen it close), how long
    /// open() waits for the server to free it before throwing fence_held.
    std::chrono::milliseconds dead_holder_wait{10000};
    /// PostgreSQL with a copy_sink, through send() and confirm_or_hold() (run_job): the batches
    /// go into one transaction, each its own COPY, until it holds at least this many rows or
    /// has been open transaction_time; then it commits with the state of its last batch. The
    /// server's work per transaction (its BEGIN and COMMIT, the state's compare-and-set, the
    /// column-type check of a binary COPY) is then paid once per transaction_rows, while the
    /// job holds one batch at a time. A failed batch rolls back the whole transaction, and the
    /// job resumes from its first batch. 0: one transaction per batch. SQLite ignores it.
    std::size_t transaction_rows = 0;
    /// With transaction_rows: a transaction this old commits when the next batch has been sent,
    /// whatever its rows, so that a slow input still commits and the stored state moves. It is
    /// checked only then: while the input waits for its next batch, the transaction stays open
    /// (and its COPY, one statement: a server's statement_timeout counts the whole of it).
    std::chrono::milliseconds transaction_time{1000};
};

namespace detail {

enum class dialect : unsigned char { sqlite, postgres };

/// The statements of a job sink on one state table (parameters in the order given).
struct job_state_sql {
    std::string table; ///< quoted
    std::string create;
    /// (job) -> position, identity, batches, records, holder, token
    std::string select_row;
    /// (job, holder, updated): a new row, token 1
    std::string insert_row;
    /// (job): a new row with no holder, token 0, unless there is one
    std::string insert_empty;
    /// (holder, updated, job) -> token: take the fence, bump the token
    std::string take;
    /// (position, identity, batches, records, updated, job, token, last position)
    std::string compare_and_set;
    /// (updated, job, token): clear the holder if it is still ours
    std::string release;

    job_state_sql(table_name const& state_table, dialect d, char const* component)
        : table(quote_table(state_table, component))
    {
        bool const pg = d == dialect::postgres;
        auto p = [&](int i) { return (pg ? "$" : "?") + std::to_string(i); };
        create = "CREATE TABLE IF NOT EXISTS " + table +
                 " (job text PRIMARY KEY, position text, identity text, batches bigint NOT NULL "
                 "DEFAULT 0, records bigint NOT NULL DEFAULT 0, holder text, token bigint NOT "
                 "NULL DEFAULT 0, updated text)";
        select_row = "SELECT position, identity, batches, records, holder, token FROM " + table +
                     " WHERE job = " + p(1);
        insert_row = "INSERT INTO " + table + " (job, holder, token, updated) VALUES (" + p(1) +
                     ", " + p(2) + ", 1, " + p(3) + ")";
        insert_empty = "INSERT INTO " + table + " (job, token) VALUES (" + p(1) +
                       ", 0) ON CONFLICT (job) DO NOTHING";
        take = "UPDATE " + table + " SET holder = " + p(1) +
               ", token = token + 1, updated = " + p(2) + " WHERE job = " + p(3) +
               " RETURNING token";
        compare_and_set = compare_and_set_with(d, {p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8)});
        release = "UPDATE " + table + " SET holder = NULL, updated = " + p(1) +
                  " WHERE job = " + p(2) + " AND token = " + p(3);
    }

    /// compare_and_set with its 8 values given as SQL text (placeholders, or literals for a
    /// statement sent without parameters).
    std::string compare_and_set_with(dialect d, std::string const (&v)[8]) const
    {
        return "UPDATE " + table + " SET position = " + v[0] + ", identity = " + v[1] +
               ", batches = " + v[2] + ", records = " + v[3] + ", updated = " + v[4] +
               " WHERE job = " + v[5] + " AND token = " + v[6] + " AND position " +
               (d == dialect::postgres ? "IS NOT DISTINCT FROM " : "IS ") + v[7];
    }
};

/// A row of the state table.
struct state_row {
    std::optional<std::string> position, identity, holder_text;
    std::int64_t batches = 0, records = 0, token = 0;
};

/// The write of a job sink made from a row sink (an inserter, a copy_sink): its write_rows.
template <class Sink>
struct rows_writer {
    Sink* sink;
    template <class Conn, class B>
    void operator()(Conn&, B&& batch) const
    {
        sink->write_rows(std::forward<B>(batch));
    }
};

/// What a job sink keeps of the write it is given: a rows_writer for a RowSink<Map>& (an
/// inserter, a copy_sink), else the callable itself.
template <template <class> class RowSink, class W>
struct writer_of {
    using type = std::decay_t<W>;
};
template <template <class> class RowSink, class Map>
struct writer_of<RowSink, RowSink<Map>&> {
    using type = rows_writer<RowSink<Map>>;
};

/// Now in UTC, to the millisecond: 2026-12-05T21:50:01.123Z.
inline std::string utc_now()
{
    auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    std::time_t const t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
    return std::string(buf) + frac;
}

/// 'it''s': a string literal as both databases read it (for SQL quoted in messages).
inline std::string sql_literal(std::string_view text)
{
    std::string out = "'";
    for (char c : text) {
        if (c == '\'')
            out += '\'';
        out += c;
    }
    return out + "'";
}

/// 'load customers'
inline std::string job_name(job_key const& key)
{
    return "'" + key.str() + "'";
}

/// fence_held's message. `where`: the sink's describe() and state table; `extra`: what else
/// is known of the holder ("", or "; its connection: backend pid 812") and what to do.
inline std::string fence_held_message(char const* component, job_key const& key, holder const& by,
                                      std::string const& where, std::string const& extra = {})
{
    return std::string("streambatch::") + component + ": job " + job_name(key) +
           " is already running: " + (by.pid != 0 ? by.str() : std::string("holder unknown")) +
           extra + " (its fence: table " + where + "); this copy stops without writing";
}

/// fence_lost's message.
inline std::string
fence_lost_message(char const* component, job_key const& key, holder const& me, std::int64_t token,
                   std::optional<std::string> const& position, std::optional<holder> const& now,
                   std::optional<std::int64_t> now_token, std::string const& where)
{
    std::string s = std::string("streambatch::") + component + ": job " + job_name(key) +
                    ": the stored state moved under this writer (" + me.str() + ", token " +
                    std::to_string(token) + ", last position " +
                    (position ? io::detail::quote(*position) : std::string("none")) + "): ";
    if (!now_token)
        s += "its row was deleted";
    else if (now)
        s += "the fence is now held by " + now->str() + " (token " + std::to_string(*now_token) +
             ")";
    else
        s += "the fence is now held by nobody (token " + std::to_string(*now_token) + ")";
    return s + " (table " + where + "); this batch was not written and this copy must stop";
}

/// The note of a take-over.
inline std::string takeover_message(char const* component, job_key const& key, holder const& gone,
                                    std::string const& why, std::string const& where)
{
    return std::string("streambatch::") + component + ": job " + job_name(key) +
           ": took over the fence of " + gone.str() + ": " + why + " (table " + where + ")";
}

/// Sends a note to options.log, or to stderr.
inline void log_note(job_sink_options const& o, std::string const& note) noexcept
{
    try {
        if (o.log)
            o.log(note);
        else
            std::fprintf(stderr, "%s\n", note.c_str());
    } catch (...) { // a note must not fail the job
    }
}

/// What the SQLite and PostgreSQL job sinks are made of: see the header comment.
template <class Derived, class Conn, class Write>
class job_sink_base {
protected:
    Conn* conn_;
    Write write_;
    job_sink_options opts_;
    job_state_sql sql_;
    char const* component_;
    job_key key_{};
    holder me_{};
    bool held_ = false;
    std::int64_t token_ = 0;
    std::optional<std::string> last_position_{}; // what this writer last stored (NULL: nothing)
    std::optional<holder> taken_over_{};

    job_sink_base(Conn& conn, Write write, job_sink_options opts, dialect d, char const* component)
        : conn_(std::addressof(conn)), write_(std::move(write)), opts_(std::move(opts)),
          sql_(opts_.state_table, d, component), component_(component)
    {}
    job_sink_base(job_sink_base const&) = delete;
    job_sink_base& operator=(job_sink_base const&) = delete;
    ~job_sink_base() = default;

    Derived& derived() noexcept { return static_cast<Derived&>(*this); }

    /// open()'s first check: std::logic_error when the fence is already held.
    void check_not_held() const
    {
        if (held_)
            throw std::logic_error(std::string("streambatch::") + component_ +
                                   ": job_sink::open: the sink already holds job " +
                                   job_name(key_) + "; close() it first");
    }

    /// open()'s end, once the fence is taken: records the writer, logs a take-over of `gone`
    /// (`why`: what became of it) and returns the stored state.
    std::optional<job_state> opened(job_key const& key, holder const& me, std::int64_t token,
                                    std::optional<state_row> const& row,
                                    std::optional<holder> const& gone, std::string const& why)
    {
        key_ = key;
        me_ = me;
        token_ = token;
        held_ = true;
        taken_over_ = gone;
        last_position_ = row ? row->position : std::nullopt;
        if (gone)
            log_note(opts_, takeover_message(component_, key, *gone,
                                             why + "; its last commit: batch " +
                                                 std::to_string(row->batches) + ", " +
                                                 std::to_string(row->records) + " records",
                                             derived().where()));
        if (!row || !row->position)
            return std::nullopt;
        return job_state{*row->position, row->identity.value_or(""),
                         static_cast<std::uint64_t>(row->batches),
                         static_cast<std::uint64_t>(row->records)};
    }

    /// commit()'s shape: begin and compare-and-set (fence_lost, after a rollback, when no row
    /// changed), write the batch, commit; a rollback on any throw.
    template <class B>
    void commit_batch(B&& batch, job_state const& state)
    {
        if (!held_)
            throw std::logic_error(std::string("streambatch::") + component_ +
                                   ": job_sink::commit without the fence: open() first");
        derived().check_idle("commit");
        try {
            if (!derived().begin_and_set(state)) {
                std::string const msg = lost_message();
                derived().rollback();
                throw fence_lost(msg);
            }
            derived().write_batch(std::forward<B>(batch));
            derived().finish_commit();
        } catch (...) {
            derived().rollback();
            throw;
        }
        last_position_ = state.position;
    }

    /// fence_lost's message, from the row as it is now (read in the failed transaction, or
    /// after it).
    std::string lost_message()
    {
        auto const now = derived().read_state_row();
        std::optional<holder> by;
        if (now && now->holder_text)
            by = holder::from_text(*now->holder_text);
        return fence_lost_message(component_, key_, me_, token_, last_position_, by,
                                  now ? std::optional<std::int64_t>(now->token) : std::nullopt,
                                  derived().where());
    }

public:
    /// The holder open() took the fence from (it was gone); nullopt if none.
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

} // namespace detail
} // namespace streambatch::sql

#endif // STREAMBATCH_IO_SQL_JOB_SINK_HPP_INCLUDED
