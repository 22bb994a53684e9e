// examples/postgres_to_csv.cpp: a database-to-file job. Exports a PostgreSQL table to a CSV
// through a server-side cursor under a memory guard, and resumes after a crash. Copy it as the
// template of a job whose sink is a plain file.
//
//     postgres_to_csv [--table NAME] [--out FILE] [--rows N] [--conninfo STR] [--fresh]
//                     [--batch N] [--jobs K] [--checkpoint FILE] [--checkpoint-every N]
//                     [--record-dir DIR] [--throttle-us U]
//
// - The connection: --conninfo ("host=... port=... dbname=..." or a postgresql:// URI), else
//   libpq's PG* variables. When STREAMBATCH_PG_ENV names a file of KEY=VALUE lines (the test
//   server's env file), those are set first.
// - The table (default customers; a plain lower-case identifier) with columns id (bigint, the
//   key), name, email, country, balance is created and filled with --rows customer-like rows
//   (default 100 000; examples/common/data.hpp's customers, ids 7, 9, 11, ...: keys with gaps)
//   when it does not exist; --fresh drops it, the output and the checkpoint first.
// - It is streambatch::run_job over a postgres::keyset_source (pages of --batch rows in id
//   order, `... WHERE id > $last ORDER BY id LIMIT n`, none of that predicate from the start, so
//   no id is skipped) and a csv::file_sink: each batch is appended to --out (default NAME.csv),
//   the file is fsync'ed, and then its checkpoint (--checkpoint, default OUT.checkpoint: the last
//   id, the query's identity, the output's committed length and a hash of its tail) is written
//   atomically. EXACTLY ONCE: a restarted run (after a crash, kill -9, OOM, SIGTERM) cuts off a
//   batch written after the last checkpoint and continues after its id.
// - The guarantees (docs/guarantees.md): an output shorter than its checkpoint says (cut back by
//   a power loss, a restore, a copy) or whose tail differs is refused, exit 65, and nothing is
//   written; an output without its checkpoint is never overwritten (--fresh starts over: it
//   drops the table, the output and the checkpoint); another query (table, columns) than the
//   checkpoint's is refused, exit 65; a second copy writing the same output is refused while the
//   first runs (a flock on OUT.checkpoint.lock, which names the holder), exit 75; SIGINT/SIGTERM
//   stop it gracefully (exit 130/143).
// - Memory: --jobs batches of --batch rows at most (fewer while memory is tight) and one page.
//
// test-args: --rows 20000 --batch 500 --jobs 2 --table example_source --fresh --out test.csv
// --record-dir run

#include <streambatch.hpp>
#include <streambatch/interop/fmt.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/postgres.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/args.hpp"
#include "common/data.hpp"
#include "common/job.hpp"
#include "common/postgres.hpp"

namespace sb = streambatch;
namespace csv = streambatch::csv;
namespace pg = streambatch::postgres;

namespace {

using customer = std::tuple<std::int64_t, std::string, std::string, std::string,
                            double>; // id, name, email, country, balance

/// Creates and fills the source table: filled under another name and renamed when complete, so
/// a killed seed leaves no half-filled table under this one.
void seed(pg::connection& db, std::string const& table, std::uint64_t rows)
{
    std::string const staging = table.substr(0, 50) + "_seeding";
    db.exec("DROP TABLE IF EXISTS " + staging);
    db.exec(
        "CREATE TABLE " + staging +
        "(id bigint PRIMARY KEY, name text, email text, country text, balance double precision)");
    pg::copy_sink out(db, staging);
    std::vector<customer> chunk;
    for (std::uint64_t i = 1; i <= rows;) {
        chunk.clear();
        for (; i <= rows && chunk.size() < 10'000; ++i) {
            examples::customer_fields const c = examples::make_customer(i);
            chunk.emplace_back(static_cast<std::int64_t>(2 * i + 5), c.name, c.email, c.country,
                               std::stod(c.balance));
        }
        out.write(chunk);
    }
    db.exec("ALTER TABLE " + staging + " RENAME TO " + table);
}

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("postgres_to_csv",
                               "Exports a PostgreSQL table to a CSV file; resumes after a crash.");
    examples::postgres_settings server;
    server.add_to(cli);
    std::filesystem::path out_path, ckpt_path;
    std::uint64_t rows = 100'000, throttle_us = 0;
    std::size_t batch = 1000, jobs = 1;
    std::string record_dir;
    bool fresh = false;
    cli.path("--out", out_path, "the CSV to write (default: TABLE.csv)");
    cli.path("--checkpoint", ckpt_path, "the checkpoint file (default: OUT.checkpoint)");
    cli.number("--rows", rows, "rows to create when the table does not exist");
    cli.number("--batch", batch, "rows per batch (and per page)");
    cli.number("--jobs", jobs, "batches in flight", std::size_t{1}, std::size_t{1024});
    cli.number("--throttle-us", throttle_us, "pause after each batch, in microseconds (kill tests)",
               std::uint64_t{0}, std::uint64_t{60'000'000});
    cli.text("--record-dir", record_dir, "write the run records into this directory");
    cli.flag("--fresh", fresh, "start over: drop the table, the output and the checkpoint first");
    cli.parse(argc, argv);
    std::string const& table = server.table;
    if (out_path.empty())
        out_path = table + ".csv";
    auto const throttle = std::chrono::microseconds(throttle_us);

    return examples::run_main("postgres_to_csv", [&]() -> sb::job_result {
        // --fresh never truncates a file this job did not make: the output is the job's when its
        // checkpoint is there. (Without --fresh the sink itself refuses such a file, under its
        // fence.)
        std::filesystem::path const ckpt =
            ckpt_path.empty() ? std::filesystem::path(out_path.string() + ".checkpoint")
                              : ckpt_path;
        if (fresh && std::filesystem::exists(out_path) && !std::filesystem::exists(ckpt))
            throw std::runtime_error(
                out_path.string() + " exists and " + ckpt.string() +
                " (the checkpoint that says this job wrote it) does not: not overwriting it; "
                "move it away or give another --out");
        examples::postgres_settings::load_env();
        pg::connection db(server.conninfo);
        db.exec("SET client_min_messages = warning"); // no NOTICEs for IF [NOT] EXISTS
        // The output is opened (under its fence) before the table is touched: a running copy
        // refuses this one before --fresh drops anything.
        csv::file_sink out(out_path, {"id", "name", "email", "country", "balance"}, {},
                           {.checkpoint = ckpt_path, .start_over = fresh});
        sb::job_key const key{"postgres_to_csv " + table};
        db.exec("SELECT pg_advisory_lock(7305002)"); // jobs started together: one DDL at a time
        if (fresh)
            db.exec("DROP TABLE IF EXISTS " + table);
        if (db.scalar<bool>("SELECT to_regclass($1) IS NULL", table)) {
            fmt::print("creating {} with {} rows\n", table, rows);
            seed(db, table, rows);
        }
        db.exec("SELECT pg_advisory_unlock(7305002)");
        auto const total = db.scalar<std::int64_t>("SELECT count(*) FROM " + table);

        auto in = pg::read_keyset_as<customer>(
            db,
            {.table = table, .columns = {"id", "name", "email", "country", "balance"}, .key = "id"},
            {.page_size = batch});
        sb::job_options options{.job = key.job, .batch = batch};
        options.run.max_in_flight = jobs;
        options.run.record_dir = record_dir;
        options.run.expected_records = static_cast<std::uint64_t>(total);
        auto step = [throttle](auto& b) { // the rows of a batch, moved out of it
            std::vector<customer> moved;
            moved.reserve(std::ranges::size(b));
            for (customer& c : b)
                moved.push_back(std::move(c));
            if (throttle.count() > 0)
                std::this_thread::sleep_for(throttle);
            return moved;
        };
        sb::job_result r = sb::run_job(in, step, out, options);
        if (r.resumed_from)
            fmt::print("resumed after id {} ({} rows done{})\n", r.resumed_from->position,
                       r.resumed_from->records,
                       out.recovered_bytes() ? "; " + std::to_string(out.recovered_bytes()) +
                                                   " bytes of an uncommitted batch cut off"
                                             : std::string());
        std::uint64_t const before = r.resumed_from ? r.resumed_from->records : 0;
        fmt::print("exported     {} rows this run ({} of {} in all) from {} on {} to {}\n",
                   r.report.records, before + r.report.records, total, table, db.where(),
                   out_path.string());
        fmt::print("batches      {} (starting size {}, {} in flight at most)\n", r.report.batches,
                   batch, jobs);
        fmt::print("records/s    {:.0f} over {:.3f} s\n", r.report.records_per_second,
                   std::chrono::duration<double>(r.report.elapsed).count());
        fmt::print("peak RSS     {:.1f} MiB\n", double(r.report.peak_rss_bytes) / (1 << 20));
        fmt::print("guard events {}\n", r.report.guard_events.size());
        for (auto const& e : r.report.guard_events)
            fmt::print("  {}\n", e);
        return r;
    });
}
