// examples/csv_to_sqlite.cpp: the main job. Loads a CSV of customers into SQLite under a memory
// guard, exactly once even when it is killed, stopped or started twice. Copy it as the template
// of a file-to-database job: all but the table and the clean step is streambatch::run_job.
//
//     csv_to_sqlite [--csv FILE] [--rows N] [--db FILE] [--batch N] [--jobs K]
//                   [--record-dir DIR] [--throttle-us U] [--fresh] [--append]
//                   [--sampled-identity] [--no-checkpoint] [--checkpoint-file FILE]
//                   [--validate] [--stage-times]
//                   [--advise [--advise-sample N] [--advise-memory BYTES] ...]
//
// - The CSV (default customers.csv) is generated with --rows customer-like rows (default
//   1 000 000) when it does not exist. It is read in 64 KiB blocks; a malformed record goes to
//   FILE.rejects.jsonl (JSON Lines, docs/rejects.md) with its line and byte offset (up to 100
//   of them), not into the table.
// - Each row is cleaned (id parsed, name trimmed, email lower-cased, balance parsed) on up to
//   --jobs threads; each batch is inserted in one transaction, in batch order, together with
//   the job's state (the CSV position after the batch and the CSV's identity) in the table
//   streambatch_job_state (sqlite::job_sink), 50 rows an INSERT statement; the WAL is
//   checkpointed on a thread and a connection of its own (wal_checkpointer, off the commit
//   path). A restarted job (after a crash, kill -9, OOM,
//   SIGTERM...) opens the CSV at that position: no row is lost and none is loaded twice.
// - The guarantees (docs/guarantees.md): a CSV that is not the one the state was taken on
//   (swapped, edited in the part already loaded, truncated) is refused, exit 65; a CSV that
//   grew is refused unless --append (an incremental load); a second copy of the job on the
//   same database is refused while the first runs, naming it (host, pid, start time), exit 75;
//   SIGINT/SIGTERM stop it gracefully (the batches in flight commit; exit 130/143; a second
//   signal exits at once). --fresh drops the table customers and the job's state (never the
//   database file: it may hold other tables).
// - Memory: --jobs batches of --batch rows at most, fewer while memory is tight (the guard).
// - For measuring what checkpoints cost (bench/checkpoint_cost.sh), not for real runs:
//   --no-checkpoint writes the batches without the job's state or fence (a restart then loads
//   everything again); --checkpoint-file FILE also writes the runner's own checkpoint file
//   every 10 batches (run_options::checkpoint_path: temp file, fsync, rename, fsync).
// - For measuring --jobs (bench/jobs_scaling.sh): --validate also validates and normalises every
//   field (a clean step of realistic cost: examples::clean_full); --stage-times prints the CPU
//   and wall time of the clean step and of the sink's commits, and the sink's idle time.
// - --advise: the batch-size advisor on the first --advise-sample rows of the CSV, each trial
//   into a scratch database beside --db, removed after it (examples/common/advise.hpp,
//   docs/batch-size.md); prints the recommended --batch and --jobs and stops.
// What it shares with csv_to_postgres (options, the CSV, the clean step, the exit codes) is in
// examples/common/csv_load.hpp.
//
// test-args: --rows 20000 --batch 500 --jobs 2 --db test.db --csv test.csv --record-dir run --fresh

#include <streambatch.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/sqlite.hpp>

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "common/advise.hpp"
#include "common/csv_load.hpp"

namespace sb = streambatch;
namespace sq = streambatch::sqlite;

namespace {

/// --no-checkpoint: the inserts alone, no state and no fence (a measuring baseline only).
struct unfenced_sink {
    std::function<void(std::vector<examples::customer> const&)> insert;
    std::optional<sb::job_state> open(sb::job_key const&) { return std::nullopt; }
    void commit(std::vector<examples::customer>&& rows, sb::job_state const&) { insert(rows); }
    void close() noexcept {}
    std::string describe() const { return "SQLite, no checkpoint"; }
};

/// --advise: each trial writes into a scratch database beside --db (FILE.advisor-PID.db, set up
/// as the real one, removed after the trial); the real database is not opened.
struct scratch_sqlite {
    struct remove_after {
        std::filesystem::path file;
        ~remove_after()
        {
            for (char const* suffix : {"", "-wal", "-shm", "-journal"})
                std::filesystem::remove(file.string() + suffix);
        }
    } files;
    sq::database db;
    std::unique_ptr<sq::inserter<>> insert;
    using job_sink_t =
        decltype(sq::job_sink(std::declval<sq::database&>(), std::declval<sq::inserter<>&>()));
    std::unique_ptr<job_sink_t> sink;

    explicit scratch_sqlite(std::filesystem::path const& real)
        : files{real.string() + ".advisor-" + std::to_string(::getpid()) + ".db"},
          db(files.file.string())
    {
        db.exec("PRAGMA journal_mode=WAL");
        db.exec("PRAGMA synchronous=NORMAL");
        db.exec("CREATE TABLE customers(id INTEGER, name TEXT, email TEXT, country TEXT, "
                "balance REAL)");
        insert =
            std::make_unique<sq::inserter<>>(db, "INSERT INTO customers VALUES (?, ?, ?, ?, ?)");
        sink = std::make_unique<job_sink_t>(db, *insert);
    }
    std::optional<sb::job_state> open(sb::job_key const& k) { return sink->open(k); }
    void commit(std::vector<examples::customer>&& rows, sb::job_state const& st)
    {
        sink->commit(std::move(rows), st);
    }
    // The full run's database checkpoints its WAL into the file every 1000 pages (SQLite's
    // wal_autocheckpoint), about every 50 000 rows, in the committing thread: a cost of each row
    // written. A trial of a sample that size may see none (measured: the advice came out 1.5
    // times the full run's records/s), so its close checkpoints what it wrote, and the advisor
    // times close() with the trial (bench/RESULTS-advisor.md).
    void close()
    {
        sink->close();
        db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    }
    std::string describe() const { return "scratch " + files.file.string(); }
};

/// The WAL's checkpoints on a connection and a thread of their own, off the commit path: the
/// writer's auto-checkpoint (every 1000 WAL pages, in the committing thread: the pages copied
/// into the database and two fsyncs) is replaced by a WAL hook that wakes this thread, which
/// runs a PASSIVE checkpoint (it never blocks the writer; a busy one is retried at the next
/// commit). Commits stay durable as before: they are in the WAL (synchronous=NORMAL).
class wal_checkpointer {
    sq::database& writer_;
    sq::database own_;
    std::mutex m_;
    std::condition_variable cv_;
    bool due_ = false, stop_ = false;
    std::thread thread_;

    static int hook(void* self, sqlite3*, char const*, int frames)
    {
        if (frames >= 1000) {
            auto* c = static_cast<wal_checkpointer*>(self);
            {
                std::lock_guard lock(c->m_);
                c->due_ = true;
            }
            c->cv_.notify_one();
        }
        return SQLITE_OK;
    }
    void run()
    {
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [&] { return due_ || stop_; });
            if (stop_)
                return;
            due_ = false;
            lock.unlock();
            sqlite3_wal_checkpoint_v2(own_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
            lock.lock();
        }
    }

public:
    explicit wal_checkpointer(sq::database& writer)
        : writer_(writer), own_(writer.file(), {.no_mutex = true}), thread_([this] { run(); })
    {
        sqlite3_wal_hook(writer_.handle(), hook, this);
    }
    wal_checkpointer(wal_checkpointer const&) = delete;
    wal_checkpointer& operator=(wal_checkpointer const&) = delete;
    ~wal_checkpointer()
    {
        sqlite3_wal_autocheckpoint(writer_.handle(), 1000); // the writer's own again
        {
            std::lock_guard lock(m_);
            stop_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }
};

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("csv_to_sqlite",
                               "Loads a CSV of customers into SQLite, exactly once.");
    examples::csv_load_settings load;
    load.add_to(cli);
    std::filesystem::path db_path = "customers.db", checkpoint_file;
    bool no_checkpoint = false;
    cli.path("--db", db_path, "the SQLite database");
    cli.flag("--no-checkpoint", no_checkpoint,
             "no job state and no fence (for measuring their cost only)");
    cli.path("--checkpoint-file", checkpoint_file,
             "also write the runner's checkpoint file every 10 batches");
    examples::advise_settings advise;
    advise.add_to(cli);
    cli.parse(argc, argv);
    // No other thread uses SQLite yet: its allocations can skip the process-wide statistics
    // mutex (bench/RESULTS-parallel.md).
    sq::disable_memory_status();

    if (advise.on) {
        examples::generate_csv_if_missing(load.csv, load.rows);
        return examples::run_advise(
            "csv_to_sqlite", advise, [&] { return examples::csv_source(load); },
            examples::clean_step(load), [&] { return std::make_unique<scratch_sqlite>(db_path); });
    }

    return examples::run_main(
        "csv_to_sqlite",
        [&] {
            examples::generate_csv_if_missing(load.csv, load.rows);
            // One thread at a time uses the connection: the runner orders the sink's commits.
            sq::database db(db_path, {.no_mutex = true});
            // A new database gets 16 KiB pages (an existing one keeps its own): a batch's rows
            // go into the WAL in a quarter of the writes (and reads, at checkpoints) of 4 KiB
            // pages; system calls are dear on this kind of machine (bench/RESULTS-parallel.md).
            db.exec("PRAGMA page_size=16384");
            // Two copies started at once on a new database both switch it to WAL, which needs the
            // database to themselves: the one that finds it busy waits and tries again.
            for (int attempt = 0;; ++attempt) {
                try {
                    db.exec("PRAGMA journal_mode=WAL");
                    break;
                } catch (sq::error const&) {
                    if (attempt == 100)
                        throw;
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
            }
            db.exec("PRAGMA synchronous=NORMAL");
            db.exec("CREATE TABLE IF NOT EXISTS customers(id INTEGER, name TEXT, email TEXT, "
                    "country TEXT, balance REAL)");
            sq::inserter insert(db, "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
                                {.rows_per_statement = 50}); // 50 rows a step
            if (load.fresh) { // under the job's fence: a running copy is never pulled from under
                sq::job_sink holder(db, insert);
                holder.open({"customers"});
                db.exec("BEGIN IMMEDIATE; DELETE FROM customers; DELETE FROM streambatch_job_state "
                        "WHERE job = 'customers'; COMMIT;");
            }

            auto in = examples::csv_source(load);
            sb::job_options options = examples::job_options("customers", load);
            if (!checkpoint_file.empty()) {
                options.run.checkpoint_path = checkpoint_file;
                options.run.checkpoint_every_batches = 10;
            }
            auto const finish = [&](sb::job_result r) {
                examples::print_resuming(r.resumed_from);
                fmt::print("loaded       {} rows this run ({} in the table), {} rejected\n",
                           r.report.records,
                           db.scalar<std::int64_t>("SELECT count(*) FROM customers"),
                           in.get() ? in.get()->position().skipped : 0);
                examples::print_summary(r.report, load);
                return r;
            };
            wal_checkpointer checkpointer(db); // the WAL's checkpoints off the commit path
            if (no_checkpoint) {
                unfenced_sink out{[&](auto const& rows) { insert.write(rows); }};
                return finish(examples::run_csv_job(in, out, options, load));
            }
            sq::job_sink out(db, insert);
            return finish(examples::run_csv_job(in, out, options, load));
        },
        examples::csv_input_hint);
}
