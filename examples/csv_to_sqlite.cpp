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
//   FILE.rejects.csv with its line and byte offset (up to 100 of them), not into the table.
// - Each row is cleaned (id parsed, name trimmed, email lower-cased, balance parsed) on up to
//   --jobs threads; each batch is inserted in one transaction, in batch order.
// - The CSV position after each batch (byte offset, line, rows) is written to the table
//   streambatch_checkpoint in the same transaction as the batch. A restarted job (after a crash,
//   kill -9, OOM...) opens the CSV at that position: no row is lost and none is loaded twice.
//   The checkpoint also holds the input's fingerprint (size, hash of its first 64 KiB): a
//   changed CSV is not resumed from (--force does).
// - Memory: --jobs batches of --batch rows at most, fewer while memory is tight (the guard).
// - For measuring what checkpoints cost (bench/checkpoint_cost.sh), not for real runs:
//   --no-checkpoint leaves the checkpoint row out of the batch's transaction (a restart then
//   loads everything again); --checkpoint-file FILE also writes the runner's own checkpoint
//   file every 10 batches (run_options::checkpoint_path: temp file, fsync, rename, fsync).
//
// test-args: --rows 20000 --batch 500 --jobs 2 --db test.db --csv test.csv --record-dir run --fresh

#include <streambatch.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/sqlite.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ranges>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace sb = streambatch;
namespace csv = streambatch::csv;
namespace sq = streambatch::sqlite;

namespace {

using customer = std::tuple<std::int64_t, std::string, std::string, std::string, double>; // id, name, email, country, balance

std::string arg(int argc, char** argv, std::string_view name, std::string fallback)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name)
            return argv[i + 1];
    return fallback;
}

bool has_flag(int argc, char** argv, std::string_view name)
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
        std::fprintf(stderr, "csv_to_sqlite: %s wants a whole number, got '%s'\n", std::string(name).c_str(), s.c_str());
        std::exit(2);
    }
    return v;
}

/// Writes `rows` customer-like rows (quotes, commas and accents included) to `path`, atomically.
void generate(std::filesystem::path const& path, std::uint64_t rows)
{
    static char const* const first[] = {"Ann", "Bob", "Chloé", "Dmitri", "Eve", "Femi", "Grace", "Hiro"};
    static char const* const last[] = {"O'Neil", "Smith, Jr.", "Müller", "Nakamura", "Okafor", "\"Doc\" Brown"};
    static char const* const country[] = {"DE", "FR", "GB", "JP", "NG", "US"};
    auto const tmp = std::filesystem::path(path.string() + ".part");
    {
        csv::writer w(tmp);
        w.write_row({"id", "name", "email", "country", "balance"});
        std::uint64_t x = 88172645463325252ull;
        for (std::uint64_t i = 1; i <= rows; ++i) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            std::string const name = std::string("  ") + first[x % 8] + " " + last[(x >> 8) % 6] + " ";
            std::string const email = "User" + std::to_string(i) + "@Example.COM";
            char balance[32];
            std::snprintf(balance, sizeof balance, "%.2f", double(x % 1000000) / 100.0);
            w.write_row({std::to_string(i), name, email, country[(x >> 16) % 6], balance});
        }
    }
    std::filesystem::rename(tmp, path);
}

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
    char buf[64];
    std::snprintf(buf, sizeof buf, "size=%llu fnv64=%016llx",
                  static_cast<unsigned long long>(std::filesystem::file_size(path)), static_cast<unsigned long long>(h));
    return buf;
}

customer clean(csv::row const& r)
{
    std::string_view name = r.at("name");
    while (!name.empty() && name.front() == ' ')
        name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ')
        name.remove_suffix(1);
    std::string email(r.at("email"));
    std::transform(email.begin(), email.end(), email.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return {r.get<std::int64_t>("id"), std::string(name), std::move(email), std::string(r.at("country")),
            r.get<double>("balance")}; // a bad number throws csv::parse_error naming line and column
}

} // namespace

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--help") {
            std::puts("usage: csv_to_sqlite [--csv FILE] [--rows N] [--db FILE] [--batch N] [--jobs K]\n"
                      "                     [--record-dir DIR] [--throttle-us U]");
            return 0;
        }
    std::filesystem::path const csv_path = arg(argc, argv, "--csv", "customers.csv");
    std::filesystem::path const db_path = arg(argc, argv, "--db", "customers.db");
    std::uint64_t const rows = number(argc, argv, "--rows", 1'000'000);
    std::size_t const batch = number(argc, argv, "--batch", 1000);
    std::size_t const jobs = number(argc, argv, "--jobs", 1);
    auto const throttle = std::chrono::microseconds(number(argc, argv, "--throttle-us", 0)); // for kill tests

    try {
        if (has_flag(argc, argv, "--fresh")) // start over: forget the database (and its checkpoint)
            for (char const* suffix : {"", "-wal", "-shm"})
                std::filesystem::remove(db_path.string() + suffix);
        if (!std::filesystem::exists(csv_path)) {
            std::printf("generating %s with %llu rows\n", csv_path.c_str(), static_cast<unsigned long long>(rows));
            generate(csv_path, rows);
        }

        sq::database db(db_path);
        db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "CREATE TABLE IF NOT EXISTS customers(id INTEGER, name TEXT, email TEXT, country TEXT, balance REAL);"
                "CREATE TABLE IF NOT EXISTS streambatch_checkpoint(job TEXT PRIMARY KEY, byte_offset INTEGER,"
                " line INTEGER, rows INTEGER, skipped INTEGER, fingerprint TEXT);");
        std::string const input = fingerprint(csv_path);

        // Where the last committed batch ended: the checkpoint row, written with that batch.
        std::optional<csv::position> from;
        if (db.scalar<std::int64_t>("SELECT count(*) FROM streambatch_checkpoint WHERE job = 'customers'") > 0) {
            auto const saved = db.scalar<std::string>("SELECT fingerprint FROM streambatch_checkpoint");
            if (saved != input && !has_flag(argc, argv, "--force"))
                throw std::runtime_error("the checkpoint in " + db_path.string() + " was taken on another input (" +
                                         saved + "; " + csv_path.string() + " is now " + input +
                                         "): refusing to resume; start with a new --db, or pass --force");
            from = csv::position{
                static_cast<std::uint64_t>(db.scalar<std::int64_t>("SELECT byte_offset FROM streambatch_checkpoint")),
                static_cast<std::uint64_t>(db.scalar<std::int64_t>("SELECT line FROM streambatch_checkpoint")),
                static_cast<std::uint64_t>(db.scalar<std::int64_t>("SELECT rows FROM streambatch_checkpoint")),
                static_cast<std::uint64_t>(db.scalar<std::int64_t>("SELECT skipped FROM streambatch_checkpoint"))};
            std::printf("resuming at line %llu (byte %llu, %llu rows done)\n", static_cast<unsigned long long>(from->line),
                        static_cast<unsigned long long>(from->byte_offset), static_cast<unsigned long long>(from->rows));
        }

        csv::reader reader(csv_path,
                           {.bad_rows = csv::on_error::skip,
                            .reject_path = csv_path.string() + ".rejects.csv"},
                           from);
        sb::memory_guard guard;
        sb::run_options options{.max_in_flight = jobs, .record_dir = arg(argc, argv, "--record-dir", "")};
        options.job = "csv_to_sqlite";
        options.resume_from.records = from ? from->rows : 0;
        options.expected_records = rows;
        // The CSV position after each batch, taken when the batch is pulled.
        options.position = [&reader] {
            auto const p = reader.position();
            return std::to_string(p.byte_offset) + " " + std::to_string(p.line) + " " + std::to_string(p.rows) + " " +
                   std::to_string(p.skipped);
        };
        options.watch(guard);
        bool const checkpoint_rows = !has_flag(argc, argv, "--no-checkpoint");
        if (std::string const f = arg(argc, argv, "--checkpoint-file", ""); !f.empty()) {
            options.checkpoint_path = f;
            options.checkpoint_every_batches = 10;
        }

        sq::inserter out(db, "INSERT INTO customers VALUES (?, ?, ?, ?, ?)");
        sb::run_report const report = sb::for_each_batch(
            std::ranges::ref_view(reader) | sb::views::memory_guarded(batch, std::ref(guard)),
            [](auto& b) { // clean: on up to --jobs threads
                std::vector<customer> cleaned;
                cleaned.reserve(b.size());
                for (csv::row const& r : b)
                    cleaned.push_back(clean(r));
                return cleaned;
            },
            [&](std::vector<customer>&& cleaned, sb::batch_info const& info) { // load: in order
                out.write(cleaned, [&](sq::database& d) { // the checkpoint commits with its batch
                    if (!checkpoint_rows)
                        return;
                    std::uint64_t p[4] = {};
                    std::sscanf(std::string(info.position).c_str(), "%llu %llu %llu %llu",
                                reinterpret_cast<unsigned long long*>(&p[0]), reinterpret_cast<unsigned long long*>(&p[1]),
                                reinterpret_cast<unsigned long long*>(&p[2]), reinterpret_cast<unsigned long long*>(&p[3]));
                    d.exec("INSERT OR REPLACE INTO streambatch_checkpoint VALUES ('customers', ?, ?, ?, ?, ?)",
                           static_cast<std::int64_t>(p[0]), static_cast<std::int64_t>(p[1]),
                           static_cast<std::int64_t>(p[2]), static_cast<std::int64_t>(p[3]), input);
                });
                if (throttle.count() > 0)
                    std::this_thread::sleep_for(throttle);
            },
            options);

        auto const in_table = db.scalar<std::int64_t>("SELECT count(*) FROM customers");
        std::printf("loaded       %llu rows this run (%lld in the table), %llu rejected\n",
                    static_cast<unsigned long long>(report.records), static_cast<long long>(in_table),
                    static_cast<unsigned long long>(reader.position().skipped));
        std::printf("batches      %llu (starting size %zu, %zu in flight at most)\n",
                    static_cast<unsigned long long>(report.batches), batch, jobs);
        std::printf("records/s    %.0f over %.3f s\n", report.records_per_second,
                    std::chrono::duration<double>(report.elapsed).count());
        std::printf("peak RSS     %.1f MiB\n", double(report.peak_rss_bytes) / (1 << 20));
        if (report.checkpoints_written != 0)
            std::printf("checkpoints  %llu files, %.3f s writing them (on a thread of their own)\n",
                        static_cast<unsigned long long>(report.checkpoints_written),
                        std::chrono::duration<double>(report.checkpoint_time).count());
        std::printf("guard events %zu\n", report.guard_events.size());
        for (auto const& e : report.guard_events)
            std::printf("  %s\n", e.describe().c_str());
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "csv_to_sqlite: %s\n", e.what());
        return 1;
    }
}
