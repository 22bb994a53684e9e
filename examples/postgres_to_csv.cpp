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
//   (default 100 000; quotes, commas, accents and an embedded line break now and then) when it
//   does not exist; --fresh drops it, the output and the checkpoint first.
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
// test-args: --rows 20000 --batch 500 --jobs 2 --table example_source --fresh --out test.csv --record-dir run

#include <streambatch.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/postgres.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace sb = streambatch;
namespace csv = streambatch::csv;
namespace pg = streambatch::postgres;

namespace {

using customer = std::tuple<std::int64_t, std::string, std::string, std::string, double>; // id, name, email, country, balance

std::string arg(int argc, char** argv, std::string_view name, std::string fallback)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name)
            return argv[i + 1];
    return fallback;
}

bool flag(int argc, char** argv, std::string_view name)
{
    for (int i = 1; i < argc; ++i)
        if (argv[i] == name)
            return true;
    return false;
}

std::uint64_t number(int argc, char** argv, std::string_view name, std::uint64_t fallback)
{
    std::string const s = arg(argc, argv, name, std::to_string(fallback));
    std::uint64_t v = 0;
    if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc()) {
        std::fprintf(stderr, "postgres_to_csv: %s wants a whole number, got '%s'\n", std::string(name).c_str(),
                     s.c_str());
        std::exit(2);
    }
    return v;
}

/// The test server's variables: STREAMBATCH_PG_ENV names a file of KEY=VALUE lines.
void load_pg_env()
{
    char const* env = std::getenv("STREAMBATCH_PG_ENV");
    if (!env || !*env)
        return;
    std::ifstream in(env);
    if (!in)
        throw std::runtime_error(std::string("cannot read STREAMBATCH_PG_ENV=") + env);
    for (std::string line; std::getline(in, line);)
        if (auto const eq = line.find('='); eq != std::string::npos && eq > 0)
            ::setenv(line.substr(0, eq).c_str(), line.substr(eq + 1).c_str(), 1);
}

/// The table's name goes into SQL text: a plain lower-case identifier only.
bool plain_identifier(std::string_view s)
{
    if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s.front())))
        return false;
    return std::ranges::all_of(s, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

/// Creates and fills the source table in one transaction (a killed seed leaves nothing).
void seed(pg::connection& db, std::string const& table, std::uint64_t rows)
{
    db.exec("BEGIN");
    db.exec("CREATE TABLE " + table +
            "(id bigint PRIMARY KEY, name text, email text, country text, balance double precision)");
    db.exec("INSERT INTO " + table +
                " SELECT 2 * i + 5,"
                "   (ARRAY['Ann','Bob','Chloé','Dmitri','Eve','Femi','Grace','Hiro'])[1 + i % 8] || ' ' ||"
                "   (ARRAY['O''Neil','Smith, Jr.','Müller','Nakamura','Okafor','\"Doc\" Brown'])[1 + i / 8 % 6] ||"
                "   CASE WHEN i % 997 = 0 THEN E'\\nsecond line' ELSE '' END,"
                "   'user' || i || '@example.com',"
                "   (ARRAY['DE','FR','GB','JP','NG','US'])[1 + i / 48 % 6],"
                "   (i * 7919 % 1000000) / 100.0"
                " FROM generate_series(1, $1::int) AS i",
            static_cast<std::int64_t>(rows));
    db.exec("COMMIT");
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
    if (flag(argc, argv, "--help")) {
        std::puts("usage: postgres_to_csv [--table NAME] [--out FILE] [--rows N] [--conninfo STR] [--fresh]\n"
                  "                       [--batch N] [--jobs K] [--checkpoint FILE] [--checkpoint-every N]\n"
                  "                       [--record-dir DIR] [--throttle-us U]");
        return 0;
    }
    std::string const table = arg(argc, argv, "--table", "customers");
    std::filesystem::path const out_path = arg(argc, argv, "--out", table + ".csv");
    std::filesystem::path const ckpt_path = arg(argc, argv, "--checkpoint", out_path.string() + ".ckpt");
    std::uint64_t const rows = number(argc, argv, "--rows", 100'000);
    std::size_t const batch = number(argc, argv, "--batch", 1000);
    std::size_t const jobs = number(argc, argv, "--jobs", 1);
    std::uint64_t const every = number(argc, argv, "--checkpoint-every", 10);
    auto const throttle = std::chrono::microseconds(number(argc, argv, "--throttle-us", 0)); // for kill tests
    if (!plain_identifier(table)) {
        std::fprintf(stderr, "postgres_to_csv: --table wants a plain lower-case identifier, got '%s'\n",
                     table.c_str());
        return 2;
    }
    if (batch == 0 || jobs == 0 || every == 0) {
        std::fprintf(stderr, "postgres_to_csv: --batch, --jobs and --checkpoint-every must be at least 1\n");
        return 2;
    }

    try {
        load_pg_env();
        pg::connection db(arg(argc, argv, "--conninfo", ""));
        db.exec("SET client_min_messages = warning"); // no NOTICEs for IF [NOT] EXISTS
        db.exec("SELECT pg_advisory_lock(7305002)"); // jobs started together must not race on the DDL
        if (flag(argc, argv, "--fresh")) {
            db.exec("DROP TABLE IF EXISTS " + table);
            std::filesystem::remove(ckpt_path);
            std::filesystem::remove(out_path);
        }
        if (db.scalar<bool>("SELECT to_regclass($1) IS NULL", table)) {
            std::printf("creating %s with %llu rows\n", table.c_str(), static_cast<unsigned long long>(rows));
            seed(db, table, rows);
        }
        db.exec("SELECT pg_advisory_unlock(7305002)");
        auto const total = db.scalar<std::int64_t>("SELECT count(*) FROM " + table);

        // Where the last checkpoint got to; none: start over.
        std::string const sql = "SELECT id, name, email, country, balance FROM " + table + " WHERE id > $1 ORDER BY id";
        std::string const fingerprint = table + " | " + out_path.filename().string();
        sb::checkpoint const start = sb::resume_point(ckpt_path, "postgres_to_csv", fingerprint);
        std::int64_t from = std::numeric_limits<std::int64_t>::min();
        bool const resuming = !start.position.empty();
        if (resuming) {
            if (std::from_chars(start.position.data(), start.position.data() + start.position.size(), from).ec !=
                std::errc())
                throw std::runtime_error(ckpt_path.string() + ": position '" + start.position + "' is not an id");
            // Drop a torn record; everything up to the checkpointed id is before it.
            std::uintmax_t const size = std::filesystem::exists(out_path) ? std::filesystem::file_size(out_path) : 0;
            std::uintmax_t const keep = size ? last_record_end(out_path) : 0;
            if (keep == 0)
                throw std::runtime_error(out_path.string() + " is missing or empty but " + ckpt_path.string() +
                                         " says " + std::to_string(start.records) +
                                         " rows were written: delete the checkpoint (or use --fresh) to start over");
            if (keep < size)
                std::filesystem::resize_file(out_path, keep);
            std::printf("resuming after id %lld (%llu rows done; %llu torn bytes dropped)\n", static_cast<long long>(from),
                        static_cast<unsigned long long>(start.records), static_cast<unsigned long long>(size - keep));
            std::fflush(stdout); // a kill -9 must not eat the line
        }

        std::ofstream file(out_path, std::ios::binary | (resuming ? std::ios::app : std::ios::trunc));
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
        sb::run_options options{.max_in_flight = jobs, .record_dir = arg(argc, argv, "--record-dir", "")};
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
                    w.write(std::get<0>(c), std::get<1>(c), std::get<2>(c), std::get<3>(c), std::get<4>(c));
                    last = std::get<0>(c);
                }
                w.flush();
                return formatted{std::move(text).str(), last};
            },
            [&](formatted&& f, sb::batch_info const& info) { // append: in order, flushed before it counts
                if (info.position != std::to_string(f.last_id)) // the checkpoint would skip or repeat rows
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

        std::printf("exported     %llu rows this run (%llu of %lld in all) from %s on %s to %s\n",
                    static_cast<unsigned long long>(report.records),
                    static_cast<unsigned long long>(start.records + report.records), static_cast<long long>(total),
                    table.c_str(), db.where().c_str(), out_path.c_str());
        std::printf("batches      %llu (starting size %zu, %zu in flight at most), %llu checkpoints\n",
                    static_cast<unsigned long long>(report.batches), batch, jobs,
                    static_cast<unsigned long long>(report.checkpoints_written));
        std::printf("records/s    %.0f over %.3f s\n", report.records_per_second,
                    std::chrono::duration<double>(report.elapsed).count());
        std::printf("peak RSS     %.1f MiB\n", double(report.peak_rss_bytes) / (1 << 20));
        std::printf("guard events %zu\n", report.guard_events.size());
        for (auto const& e : report.guard_events)
            std::printf("  %s\n", e.describe().c_str());
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "postgres_to_csv: %s\n", e.what());
        return 1;
    }
}
