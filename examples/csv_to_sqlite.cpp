// examples/csv_to_sqlite.cpp: the main job. Loads a CSV of customers into SQLite under a memory
// guard, exactly once even when it is killed and restarted. Copy it as the template of a
// file-to-database job.
//
//     csv_to_sqlite [--csv FILE] [--rows N] [--db FILE] [--batch N] [--jobs K]
//                   [--record-dir DIR] [--throttle-us U] [--force] [--fresh]
//                   [--no-checkpoint] [--checkpoint-file FILE]
//
// - The CSV (default customers.csv) is generated with --rows customer-like rows (default
//   1 000 000) when it does not exist. It is read in 64 KiB blocks; a malformed record goes to
//   FILE.rejects.jsonl (JSON Lines, docs/rejects.md) with its line and byte offset (up to 100
//   of them), not into the table.
// - Each row is cleaned (id parsed, name trimmed, email lower-cased, balance parsed) on up to
//   --jobs threads; each batch is inserted in one transaction, in batch order.
// - The CSV position after each batch (byte offset, line, rows) is written to the table
//   streambatch_checkpoint in the same transaction as the batch. A restarted job (after a crash,
//   kill -9, OOM...) opens the CSV at that position: no row is lost and none is loaded twice.
//   The checkpoint also holds the input's fingerprint (size, hash of its first 64 KiB): a
//   changed CSV is not resumed from (--force does). --fresh drops the table customers and the
//   job's checkpoint row (never the database file: it may hold other tables).
// - Memory: --jobs batches of --batch rows at most, fewer while memory is tight (the guard).
// - For measuring what checkpoints cost (bench/checkpoint_cost.sh), not for real runs:
//   --no-checkpoint leaves the checkpoint row out of the batch's transaction (a restart then
//   loads everything again); --checkpoint-file FILE also writes the runner's own checkpoint
//   file every 10 batches (run_options::checkpoint_path: temp file, fsync, rename, fsync).
// What it shares with csv_to_postgres (options, the CSV, the clean step, the run) is in
// examples/common/csv_load.hpp.
//
// test-args: --rows 20000 --batch 500 --jobs 2 --db test.db --csv test.csv --record-dir run --fresh

#include <streambatch.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/sqlite.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/csv_load.hpp"

namespace sb = streambatch;
namespace csv = streambatch::csv;
namespace sq = streambatch::sqlite;

namespace {

/// What identifies the input: its size and a hash of its first 64 KiB. A checkpoint taken on
/// another file (or a rewritten one) must not be resumed from.
std::string fingerprint(std::filesystem::path const& path)
{
    std::ifstream in(path, std::ios::binary);
    std::string head(64 * 1024, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : head)
        h = (h ^ c) * 1099511628211ull;
    return fmt::format("size={} fnv64={:016x}", std::filesystem::file_size(path), h);
}

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("csv_to_sqlite",
                               "Loads a CSV of customers into SQLite, exactly once.");
    examples::csv_load_settings load;
    load.add_to(cli);
    std::filesystem::path db_path = "customers.db", checkpoint_file;
    bool force = false, no_checkpoint = false;
    cli.path("--db", db_path, "the SQLite database");
    cli.flag("--force", force,
             "resume even when the CSV is not the one the checkpoint was taken on");
    cli.flag("--no-checkpoint", no_checkpoint, "no checkpoint row (for measuring its cost only)");
    cli.path("--checkpoint-file", checkpoint_file,
             "also write the runner's checkpoint file every 10 batches");
    cli.parse(argc, argv);

    try {
        examples::generate_csv_if_missing(load.csv, load.rows);
        sq::database db(db_path);
        db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
        db.exec(std::string(load.fresh ? "BEGIN; DROP TABLE IF EXISTS customers;" : "BEGIN;") +
                "CREATE TABLE IF NOT EXISTS customers(id INTEGER, name TEXT, email TEXT, country "
                "TEXT, balance REAL);"
                "CREATE TABLE IF NOT EXISTS streambatch_checkpoint(job TEXT PRIMARY KEY, "
                "byte_offset INTEGER,"
                " line INTEGER, rows INTEGER, skipped INTEGER, fingerprint TEXT);" +
                (load.fresh ? "DELETE FROM streambatch_checkpoint WHERE job = 'customers';" : "") +
                "COMMIT;");
        std::string const input = fingerprint(load.csv);

        // Where the last committed batch ended: the checkpoint row, written with that batch.
        std::optional<csv::position> from;
        if (db.scalar<std::int64_t>(
                "SELECT count(*) FROM streambatch_checkpoint WHERE job = 'customers'") > 0) {
            auto const saved =
                db.scalar<std::string>("SELECT fingerprint FROM streambatch_checkpoint");
            if (saved != input && !force)
                throw std::runtime_error(
                    "the checkpoint in " + db_path.string() + " was taken on another input (" +
                    saved + "; " + load.csv.string() + " is now " + input +
                    "): refusing to resume; start with a new --db, or pass --force");
            auto const column = [&](char const* name) {
                return static_cast<std::uint64_t>(db.scalar<std::int64_t>(
                    std::string("SELECT ") + name + " FROM streambatch_checkpoint"));
            };
            from = csv::position{column("byte_offset"), column("line"), column("rows"),
                                 column("skipped")};
            examples::print_resuming(*from);
        }

        csv::reader reader(
            load.csv,
            {.bad_rows = csv::on_error::skip, .reject_path = load.csv.string() + ".rejects.jsonl"},
            from);
        sb::run_options options{
            .job = "csv_to_sqlite", .record_dir = load.record_dir, .expected_records = load.rows};
        if (!checkpoint_file.empty()) {
            options.checkpoint_path = checkpoint_file;
            options.checkpoint_every_batches = 10;
        }
        sq::inserter out(db, "INSERT INTO customers VALUES (?, ?, ?, ?, ?)");
        sb::run_report const report = examples::run_load(
            load, reader, from, options,
            [&](std::vector<examples::customer> const& cleaned, csv::position const& p) {
                out.write(cleaned, [&](sq::database& d) { // the checkpoint commits with its batch
                    if (!no_checkpoint)
                        d.exec("INSERT OR REPLACE INTO streambatch_checkpoint VALUES ('customers', "
                               "?, ?, ?, ?, ?)",
                               static_cast<std::int64_t>(p.byte_offset),
                               static_cast<std::int64_t>(p.line), static_cast<std::int64_t>(p.rows),
                               static_cast<std::int64_t>(p.skipped), input);
                });
            });

        fmt::print("loaded       {} rows this run ({} in the table), {} rejected\n", report.records,
                   db.scalar<std::int64_t>("SELECT count(*) FROM customers"),
                   reader.position().skipped);
        examples::print_summary(report, load);
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "csv_to_sqlite: %s\n", e.what());
        return 1;
    }
}
