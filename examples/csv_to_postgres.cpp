// examples/csv_to_postgres.cpp: csv_to_sqlite's job against PostgreSQL. Loads a CSV of customers
// into a PostgreSQL table under a memory guard, exactly once even when it is killed and
// restarted.
//
//     csv_to_postgres [--csv FILE] [--rows N] [--table NAME] [--conninfo STR] [--fresh]
//                     [--batch N] [--jobs K] [--record-dir DIR] [--throttle-us U]
//                     [--transaction-rows N] [--copy-path auto|buffered|row-by-row]
//                     [--copy-format auto|text|binary]
//                     [--partition I/N | --partition auto] [--setup-only]
//                     [--advise [--advise-sample N] [--advise-memory BYTES] ...]
//
// - The connection: --conninfo ("host=... port=... dbname=..." or a postgresql:// URI), else
//   libpq's PG* variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...). When STREAMBATCH_PG_ENV
//   names a file of KEY=VALUE lines (the test server's env file), those are set first.
// - The CSV (default customers.csv) is generated with --rows customer-like rows (default
//   1 000 000) when it does not exist. It is read in 64 KiB blocks; a malformed record goes to
//   FILE.rejects.jsonl (JSON Lines, docs/rejects.md) with its line and byte offset (up to 100
//   of them), not into the table.
// - Each row is cleaned (id parsed, name trimmed, email lower-cased, balance parsed) on up to
//   --jobs threads; each batch is sent with postgres::copy_sink (COPY NAME FROM STDIN), in
//   batch order, and the server's verdict on it is read while the next batch is read and
//   cleaned (postgres::job_sink::send/confirm_or_hold). Batches go into one transaction until it
//   holds --transaction-rows rows (default 50 000; or it is a second old when a batch has been
//   sent), which then commits
//   with the position after its last batch; 0: a transaction per batch. A batch of up to 4000
//   short rows is inserted
//   row by row on the server (--copy-path, postgres::copy_path), and rows go in COPY's binary
//   format when the table's columns take them so (--copy-format, postgres::copy_format). The table
//   (default customers; a plain lower-case identifier) is created if missing; --fresh drops it and
//   its checkpoint first.
// - The job is streambatch::run_job over a csv::file_source and a postgres::job_sink: the CSV
//   position after each batch and the CSV's identity are stored in the table
//   streambatch_job_state (one row per job, the job being the table's name and the partition)
//   in the COPY's transaction, so the rows and the position commit together or not at all. A
//   restarted job (after a crash, kill -9, OOM, SIGTERM, a lost connection...) opens the CSV at
//   that position: no row is lost and none is loaded twice.
// - The guarantees (docs/guarantees.md): another CSV (swapped, edited in the part already
//   loaded, truncated) is refused, exit 65; a CSV that grew only with --append; a second copy
//   of the same job (or partition) is refused while the first runs, naming it (host, pid, start
//   time), exit 75: the fence is a session advisory lock, freed by the server when the holder's
//   connection dies; SIGINT/SIGTERM stop it gracefully (exit 130/143).
// - Memory: --jobs batches of --batch rows at most (default 1 000), fewer while memory is tight
//   (the guard). The rows of an open transaction are on the server, not here: a transaction
//   costs the server a BEGIN, the state's compare-and-set, a column-type check and a COMMIT,
//   a third of its work at 1 000 rows a transaction, lost in the rows at 50 000 (docs/sql.md).
//   A failed batch rolls back its whole transaction; a restart resumes after the last one
//   committed.
// - Many workers (docs/partitions.md): with --partition I/N, or --partition
//   auto under mpirun, a Slurm job array or a Kubernetes Indexed Job
//   (streambatch::partition_from_environment), this worker loads only the rows that start in
//   its share of the CSV's bytes (csv::options::partition). Its checkpoint row is
//   "TABLE/part-000I-of-000N", its run records go to --record-dir/part-000I-of-000N (merge
//   them with merge_runs), and a worker restarted alone resumes from its own row. The CSV and
//   the table must exist before the workers start: run once with --setup-only (with --rows N
//   and --fresh as wanted); workers never drop the table. A worker refuses to start when the
//   table has checkpoints of another split (another N): rows would be loaded twice.
//
// - --advise: the batch-size advisor on the first --advise-sample rows of the CSV, each trial
//   into a scratch schema (advisor_PID_N: the table and the job's state) dropped after it
//   (examples/common/advise.hpp, docs/batch-size.md); prints the recommended --batch and --jobs
//   and stops.
//
// What it shares with csv_to_sqlite (options, the CSV, the clean step, the run) is in
// examples/common/csv_load.hpp; the connection settings are in examples/common/postgres.hpp.
//
// test-args: --rows 20000 --batch 500 --jobs 2 --table example_customers --fresh --csv test.csv
// --record-dir run

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/postgres.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/advise.hpp"
#include "common/csv_load.hpp"
#include "common/postgres.hpp"

namespace sb = streambatch;
namespace csv = streambatch::csv;
namespace pg = streambatch::postgres;

namespace {

/// --advise: each trial writes into a scratch schema of its own (advisor_PID_N: the table and
/// the job's state), dropped after the trial; the real table is not touched.
struct scratch_postgres {
    pg::connection db;
    std::string schema;
    std::unique_ptr<pg::copy_sink<>> copy;
    using job_sink_t =
        decltype(pg::job_sink(std::declval<pg::connection&>(), std::declval<pg::copy_sink<>&>()));
    std::unique_ptr<job_sink_t> sink;

    scratch_postgres(std::string const& conninfo, std::string const& table, int trial,
                     std::size_t transaction_rows)
        : db(conninfo),
          schema("advisor_" + std::to_string(::getpid()) + "_" + std::to_string(trial))
    {
        db.exec("SET client_min_messages = warning");
        db.exec("CREATE SCHEMA " + schema);
        db.exec("SET search_path = " + schema);
        db.exec("CREATE TABLE " + table +
                "(id bigint, name text, email text, country text, balance double precision)");
        copy = std::make_unique<pg::copy_sink<>>(
            db, table, std::vector<std::string>{"id", "name", "email", "country", "balance"});
        sink = std::make_unique<job_sink_t>(
            db, *copy, sb::sql::job_sink_options{.transaction_rows = transaction_rows});
    }
    ~scratch_postgres()
    {
        sink.reset();
        try {
            db.exec("DROP SCHEMA " + schema + " CASCADE");
        } catch (std::exception const& e) {
            std::fprintf(stderr, "csv_to_postgres: could not drop the scratch schema %s: %s\n",
                         schema.c_str(), e.what());
        }
    }
    std::optional<sb::job_state> open(sb::job_key const& k) { return sink->open(k); }
    void commit(std::vector<examples::customer>&& rows, sb::job_state const& st)
    {
        sink->commit(std::move(rows), st);
    }
    // As the job's own sink does: the server commits batch N while batch N+1 is read.
    void send(std::vector<examples::customer>&& rows, sb::job_state const& st)
    {
        sink->send(std::move(rows), st);
    }
    void confirm() { sink->confirm(); }
    bool confirm_or_hold() { return sink->confirm_or_hold(); }
    void close() { sink->close(); }
    std::string describe() const { return "scratch schema " + schema; }
};

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("csv_to_postgres",
                               "Loads a CSV of customers into PostgreSQL, exactly once.");
    examples::csv_load_settings load;
    load.add_to(cli);
    // PostgreSQL's own cost per transaction (about 0.4 ms of the server's CPU here) is a third
    // of the load at 1 000 rows a transaction; at 50 000 it is lost in the rows (docs/sql.md,
    // bench/RESULTS-postgres.md). The batches stay small: their rows wait on the server.
    std::size_t transaction_rows = 50000;
    cli.number("--transaction-rows", transaction_rows,
               "batches go into one transaction until it holds this many rows (or is a second "
               "old when a batch has been sent); 0: a transaction per batch "
               "(sql::job_sink_options::transaction_rows)",
               std::size_t{0});
    examples::postgres_settings server;
    server.add_to(cli);
    std::string part_arg;
    bool setup_only = false;
    pg::copy_path path = pg::copy_path::automatic;
    cli.choice("--copy-path", path,
               {{"auto", pg::copy_path::automatic},
                {"buffered", pg::copy_path::buffered},
                {"row-by-row", pg::copy_path::row_by_row}},
               "how the server inserts a COPY's rows (postgres::copy_path, docs/sql.md)");
    pg::copy_format format = pg::copy_format::automatic;
    cli.choice("--copy-format", format,
               {{"auto", pg::copy_format::automatic},
                {"text", pg::copy_format::text},
                {"binary", pg::copy_format::binary}},
               "the format COPY's rows are sent in; auto: binary when the columns take it "
               "(postgres::copy_format, docs/sql.md)");
    cli.text("--partition", part_arg,
             "load only share I of N of the CSV (I/N), or auto: the launcher's");
    cli.flag("--setup-only", setup_only,
             "create the CSV and the table, then stop (before starting workers)");
    examples::advise_settings advise;
    advise.add_to(cli);
    cli.parse(argc, argv);

    if (advise.on) {
        examples::postgres_settings::load_env();
        examples::generate_csv_if_missing(load.csv, load.rows);
        int trial = 0;
        return examples::run_advise(
            "csv_to_postgres", advise, [&] { return examples::csv_source(load); },
            examples::clean_step(load),
            [&] {
                return std::make_unique<scratch_postgres>(server.conninfo, server.table, ++trial,
                                                          transaction_rows);
            });
    }

    // Which share of the CSV this worker loads: all of it, I/N, or what the launcher says.
    std::optional<sb::partition> part;
    try {
        if (part_arg == "auto") {
            part = sb::partition_from_environment();
        } else if (!part_arg.empty()) {
            part =
                sb::partition::parse(part_arg); // "3/8"; anything else throws, saying what is wrong
        }
    } catch (std::exception const& e) {
        cli.fail(std::string("--partition: ") + e.what());
    }
    if (part && !setup_only && load.fresh)
        cli.fail("--fresh with --partition would drop the other workers' rows: "
                 "run --setup-only --fresh once before starting the workers");
    std::string const& table = server.table;

    return examples::run_main(
        "csv_to_postgres",
        [&]() -> sb::job_result {
            examples::postgres_settings::load_env();
            if (part && !setup_only && !std::filesystem::exists(load.csv))
                throw std::runtime_error(
                    load.csv.string() +
                    " does not exist: with --partition, generate it "
                    "first (--setup-only --rows N), so that every worker splits the same file");
            examples::generate_csv_if_missing(load.csv, load.rows);

            pg::connection db(server.conninfo);
            db.exec("SET client_min_messages = warning"); // no NOTICEs for IF [NOT] EXISTS
            pg::copy_sink copy(db, table, {"id", "name", "email", "country", "balance"});
            copy.path(path);
            copy.format(format);
            // DDL under an advisory lock: jobs started together must not race on CREATE TABLE.
            db.exec("SELECT pg_advisory_lock(7305001)");
            db.exec("CREATE TABLE IF NOT EXISTS " + table +
                    "(id bigint, name text, email text, country text, balance double precision)");
            db.exec("SELECT pg_advisory_unlock(7305001)");
            if (load.fresh) { // the table and the job's states go together, under the job's fence
                pg::job_sink holder(db, copy);
                holder.open({table});
                db.exec("BEGIN");
                db.exec("TRUNCATE " + table);
                db.exec("DELETE FROM streambatch_job_state WHERE job = $1 OR job LIKE $2", table,
                        table + " %");
                db.exec("COMMIT");
            }
            if (setup_only) {
                fmt::print("set up {} and {}; start the workers\n", table, load.csv.string());
                return {};
            }
            if (part) { // the states of another split would load rows twice
                bool const states =
                    db.scalar<bool>("SELECT to_regclass('streambatch_job_state') IS NOT NULL");
                if (!states) {
                } else if (auto const other = db.scalar<std::optional<std::string>>(
                               "SELECT min(job) FROM streambatch_job_state WHERE job LIKE $1 AND "
                               "job "
                               "NOT "
                               "LIKE $2",
                               table + " %/%", table + " %/" + std::to_string(part->count)))
                    throw std::runtime_error(
                        "table " + table + " has the state of job '" + *other +
                        "', a split into another number of partitions than " +
                        std::to_string(part->count) +
                        ": finish that job with the same count, or start over with --setup-only "
                        "--fresh");
                else if (db.scalar<std::int64_t>(
                             "SELECT count(*) FROM streambatch_job_state WHERE job = $1", table) !=
                         0)
                    throw std::runtime_error(
                        "table " + table +
                        " has the state of an unpartitioned run: finish it "
                        "without --partition, or start over with --setup-only --fresh");
            }

            auto in = examples::csv_source(load, part.value_or(sb::partition{}));
            pg::job_sink out(db, copy, {.transaction_rows = transaction_rows});
            sb::job_result r = examples::run_csv_job(
                in, out, examples::job_options(table, load, part.value_or(sb::partition{})), load);
            examples::print_resuming(r.resumed_from);
            // The job's own count (its state row), not a count(*): scanning the table just
            // loaded costs ~0.2 s per million rows here, a fifth of psql's whole \copy.
            fmt::print("loaded       {} rows this run ({} by this job in all, into {} on {}), {} "
                       "rejected\n",
                       r.report.records, r.report.resumed_from_records + r.report.records, table,
                       db.where(), in.get() ? in.get()->position().skipped : 0);
            examples::print_summary(r.report, load);
            return r;
        },
        examples::csv_input_hint);
}
