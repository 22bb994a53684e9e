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
// - It never overwrites a file it did not make: before it writes --out it writes the checkpoint
//   (naming this job); an existing --out without that checkpoint is refused, --fresh included.
// - It is read with postgres::query_as and a keyset query, `... WHERE id > $1 ORDER BY id`,
//   fetch size = --batch, under views::memory_guarded(--batch); the batches are formatted as
//   CSV on up to --jobs threads and appended to --out (default NAME.csv) with csv::writer, in
//   order, each flushed to the file before for_each_batch counts it done.
// - Checkpoints: for_each_batch's checkpoint file (--checkpoint, default OUT.ckpt; written
//   atomically) every --checkpoint-every batches (default 10), every 5 s, and at the end; its
//   position is the last id of the last batch written. A restarted run (after a crash, kill -9,
//   OOM...) truncates the output to its last complete record (a torn record is never left) and
//   continues with the rows after the checkpointed id. No checkpoint: the export starts over.
//
// Guarantee: AT LEAST ONCE. A file cannot commit a batch and its position together, so:
//   - no row is lost: a checkpoint is written only after its batches are flushed to the file,
//     so the output always holds every row up to the checkpointed id;
//   - a row may be written twice after a crash: the batches written after the last checkpoint
//     are written again by the next run. Per crash at most
//         (2 x checkpoint_every + max_in_flight) x batch rows
//     are duplicated (--checkpoint-every, --jobs, --batch): the batches between two
//     checkpoints, one more interval while a checkpoint file is being written (on the runner's
//     writer thread: the job does not wait for it; this holds while a write takes less time
//     than checkpoint_every batches), and the batches in flight. Every copy of
//     a row is a complete, identical record; readers that need exactly once drop duplicate ids.
//   - kill -9 and crashes lose nothing: the rows are in the OS's page cache once flushed. A
//     power failure can lose data the kernel had not written out (the output is not fsynced).
// - Memory: --jobs batches of --batch rows at most (fewer while memory is tight) and the cursor's
//   one fetch; the resume scans the output once (64 KiB at a time) to find its last record.
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

/// The end of the last complete record of a CSV file (after its line break; quoted line breaks
/// are inside a record). Doubled quotes toggle twice, so the quote parity is the state.
std::uintmax_t last_record_end(std::filesystem::path const& path)
{
    std::ifstream in(path, std::ios::binary);
    std::vector<char> buf(64 * 1024);
    bool quoted = false;
    std::uintmax_t offset = 0, end = 0;
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
        auto const n = static_cast<std::size_t>(in.gcount());
        for (std::size_t i = 0; i < n; ++i) {
            if (buf[i] == '"')
                quoted = !quoted;
            else if (buf[i] == '\n' && !quoted)
                end = offset + i + 1;
        }
        offset += n;
    }
    return end;
}

struct formatted {
    std::string text;         // the batch's records, CSV
    std::int64_t last_id = 0; // the batch's last key
};

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("postgres_to_csv",
                               "Exports a PostgreSQL table to a CSV file; resumes after a crash.");
    examples::postgres_settings server;
    server.add_to(cli);
    std::filesystem::path out_path, ckpt_path;
    std::uint64_t rows = 100'000, every = 10, throttle_us = 0;
    std::size_t batch = 1000, jobs = 1;
    std::string record_dir;
    bool fresh = false;
    cli.path("--out", out_path, "the CSV to write (default: TABLE.csv)");
    cli.path("--checkpoint", ckpt_path, "the checkpoint file (default: OUT.ckpt)");
    cli.number("--rows", rows, "rows to create when the table does not exist");
    cli.number("--batch", batch, "rows per batch (and per fetch)");
    cli.number("--jobs", jobs, "batches in flight, formatted on up to this many threads",
               std::size_t{1}, std::size_t{1024});
    cli.number("--checkpoint-every", every, "batches between checkpoints");
    cli.number("--throttle-us", throttle_us, "pause after each batch, in microseconds (kill tests)",
               std::uint64_t{0}, std::uint64_t{60'000'000});
    cli.text("--record-dir", record_dir, "write the run records into this directory");
    cli.flag("--fresh", fresh, "start over: drop the table, the output and the checkpoint first");
    cli.parse(argc, argv);
    std::string const& table = server.table;
    if (out_path.empty())
        out_path = table + ".csv";
    if (ckpt_path.empty())
        ckpt_path = out_path.string() + ".ckpt";
    auto const throttle = std::chrono::microseconds(throttle_us);

    try {
        std::string const fingerprint = table + " | " + out_path.filename().string();
        // The output is this job's when its checkpoint is: refuse to touch any other file.
        bool const ours = std::filesystem::exists(ckpt_path);
        if (ours)
            sb::resume_point(ckpt_path, "postgres_to_csv",
                             fingerprint); // throws for another job's checkpoint
        else if (std::filesystem::exists(out_path))
            throw std::runtime_error(
                out_path.string() + " exists and " + ckpt_path.string() +
                " (the checkpoint that says this job wrote it) does not: not overwriting it; "
                "move it away or give another --out");

        examples::postgres_settings::load_env();
        pg::connection db(server.conninfo);
        db.exec("SET client_min_messages = warning"); // no NOTICEs for IF [NOT] EXISTS
        db.exec(
            "SELECT pg_advisory_lock(7305002)"); // jobs started together must not race on the DDL
        if (fresh) {
            db.exec("DROP TABLE IF EXISTS " + table);
            if (ours) { // both ours: see above
                std::filesystem::remove(out_path);
                std::filesystem::remove(ckpt_path);
            }
        }
        if (db.scalar<bool>("SELECT to_regclass($1) IS NULL", table)) {
            fmt::print("creating {} with {} rows\n", table, rows);
            seed(db, table, rows);
        }
        db.exec("SELECT pg_advisory_unlock(7305002)");
        auto const total = db.scalar<std::int64_t>("SELECT count(*) FROM " + table);

        // Where the last checkpoint got to; none: start over.
        std::string const sql =
            "SELECT id, name, email, country, balance FROM " + table + " WHERE id > $1 ORDER BY id";
        sb::checkpoint const start = sb::resume_point(ckpt_path, "postgres_to_csv", fingerprint);
        std::int64_t from = std::numeric_limits<std::int64_t>::min();
        bool const resuming = !start.position.empty();
        if (resuming) {
            auto const id = sb::detail::parse_whole<std::int64_t>(start.position);
            if (!id)
                throw std::runtime_error(ckpt_path.string() + ": position '" + start.position +
                                         "' is not an id");
            from = *id;
            // Drop a torn record; everything up to the checkpointed id is before it.
            std::uintmax_t const size =
                std::filesystem::exists(out_path) ? std::filesystem::file_size(out_path) : 0;
            std::uintmax_t const keep = size ? last_record_end(out_path) : 0;
            if (keep == 0)
                throw std::runtime_error(
                    out_path.string() + " is missing or empty but " + ckpt_path.string() +
                    " says " + std::to_string(start.records) +
                    " rows were written: delete the checkpoint (or use --fresh) to start over");
            if (keep < size)
                std::filesystem::resize_file(out_path, keep);
            fmt::print("resuming after id {} ({} rows done; {} torn bytes dropped)\n", from,
                       start.records, size - keep);
            std::fflush(stdout); // a kill -9 must not eat the line
        } else {
            // The checkpoint first, then the output: a file is only ever written under its
            // checkpoint.
            sb::write_checkpoint(ckpt_path, {.job = "postgres_to_csv", .fingerprint = fingerprint});
        }

        std::ofstream file(out_path,
                           std::ios::binary | (resuming ? std::ios::app : std::ios::trunc));
        if (!file)
            throw std::runtime_error("cannot open " + out_path.string() + " for writing");
        if (!resuming) {
            csv::writer header(file, {}, out_path.string());
            header.write_row({"id", "name", "email", "country", "balance"});
            header.flush();
        }

        // The key of the last row read: the source reads (and parses) rows on the pulling thread,
        // and never past the batch it fills, so right after a pull it is the batch's last id.
        std::int64_t last_read = from;
        auto parse = [&last_read](pg::row const& r) {
            customer c = r.as<customer>();
            last_read = std::get<0>(c);
            return c;
        };

        sb::memory_guard guard;
        sb::run_options options{.max_in_flight = jobs, .record_dir = record_dir};
        options.job = "postgres_to_csv";
        options.fingerprint = fingerprint;
        options.resume_from = start;
        options.checkpoint_path = ckpt_path;
        options.checkpoint_every_batches = every;
        options.expected_records = static_cast<std::uint64_t>(total);
        options.position = [&last_read] { return std::to_string(last_read); };
        options.watch(guard);

        sb::run_report const report = sb::for_each_batch(
            pg::query_as(db, sql, parse, pg::query_options{.fetch_size = batch}, from) |
                sb::views::memory_guarded(batch, std::ref(guard)),
            [&](auto& b) { // format: on up to --jobs threads
                std::ostringstream text;
                csv::writer w(text, {}, out_path.string());
                std::int64_t last = 0;
                for (customer const& c : b) {
                    w.write(std::get<0>(c), std::get<1>(c), std::get<2>(c), std::get<3>(c),
                            std::get<4>(c));
                    last = std::get<0>(c);
                }
                w.flush();
                return formatted{std::move(text).str(), last};
            },
            [&](formatted&& f,
                sb::batch_info const& info) { // append: in order, flushed before it counts
                if (info.position !=
                    std::to_string(f.last_id)) // the checkpoint would skip or repeat rows
                    throw std::logic_error("batch " + std::to_string(info.index) + " ends at id " +
                                           std::to_string(f.last_id) + " but its position is " +
                                           std::string(info.position));
                file.write(f.text.data(), static_cast<std::streamsize>(f.text.size()));
                file.flush();
                if (!file)
                    throw std::runtime_error("writing " + out_path.string() + " failed");
                if (throttle.count() > 0)
                    std::this_thread::sleep_for(throttle);
            },
            options);

        fmt::print("exported     {} rows this run ({} of {} in all) from {} on {} to {}\n",
                   report.records, start.records + report.records, total, table, db.where(),
                   out_path.string());
        fmt::print("batches      {} (starting size {}, {} in flight at most), {} checkpoints\n",
                   report.batches, batch, jobs, report.checkpoints_written);
        fmt::print("records/s    {:.0f} over {:.3f} s\n", report.records_per_second,
                   std::chrono::duration<double>(report.elapsed).count());
        fmt::print("peak RSS     {:.1f} MiB\n", double(report.peak_rss_bytes) / (1 << 20));
        fmt::print("guard events {}\n", report.guard_events.size());
        for (auto const& e : report.guard_events)
            fmt::print("  {}\n", e);
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "postgres_to_csv: %s\n", e.what());
        return 1;
    }
}
