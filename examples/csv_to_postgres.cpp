// examples/csv_to_postgres.cpp: csv_to_sqlite's job against PostgreSQL. Loads a CSV of customers
// into a PostgreSQL table under a memory guard, exactly once even when it is killed and
// restarted.
//
//     csv_to_postgres [--csv FILE] [--rows N] [--table NAME] [--conninfo STR] [--fresh]
//                     [--batch N] [--jobs K] [--record-dir DIR] [--throttle-us U]
//                     [--partition I/N | --partition auto] [--setup-only]
//
// - The connection: --conninfo ("host=... port=... dbname=..." or a postgresql:// URI), else
//   libpq's PG* variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...). When STREAMBATCH_PG_ENV
//   names a file of KEY=VALUE lines (the test server's env file), those are set first.
// - The CSV (default customers.csv) is generated with --rows customer-like rows (default
//   1 000 000) when it does not exist. It is read in 64 KiB blocks; a malformed record goes to
//   FILE.rejects.csv with its line and byte offset (up to 100 of them), not into the table.
// - Each row is cleaned (id parsed, name trimmed, email lower-cased, balance parsed) on up to
//   --jobs threads; each batch is sent with postgres::copy_sink (COPY NAME FROM STDIN), one
//   transaction per batch, in batch order. The table (default customers; a plain lower-case
//   identifier) is created if missing; --fresh drops it and its checkpoint first.
// - The CSV position after each batch (byte offset, line, rows, skipped) is upserted into the
//   table streambatch_checkpoint (one row per job, the job being the table's name) by the
//   write(batch, hook) hook: inside the COPY's transaction, so the rows and the position commit
//   together or not at all. A restarted job (after a crash, kill -9, OOM, a lost connection...)
//   opens the CSV at that position: no row is lost and none is loaded twice.
// - Memory: --jobs batches of --batch rows at most, fewer while memory is tight (the guard).
// - Many workers (README, "Running on many machines"): with --partition I/N, or --partition
//   auto under mpirun, a Slurm job array or a Kubernetes Indexed Job
//   (streambatch::partition_from_environment), this worker loads only the rows that start in
//   its share of the CSV's bytes (csv::options::partition). Its checkpoint row is
//   "TABLE/part-000I-of-000N", its run records go to --record-dir/part-000I-of-000N (merge
//   them with merge_runs), and a worker restarted alone resumes from its own row. The CSV and
//   the table must exist before the workers start: run once with --setup-only (with --rows N
//   and --fresh as wanted); workers never drop the table. A worker refuses to start when the
//   table has checkpoints of another split (another N): rows would be loaded twice.
//
// test-args: --rows 20000 --batch 500 --jobs 2 --table example_customers --fresh --csv test.csv --record-dir run

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
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
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
        std::fprintf(stderr, "csv_to_postgres: %s wants a whole number, got '%s'\n", std::string(name).c_str(),
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

/// Writes `rows` customer-like rows (quotes, commas and accents included) to `path`, atomically.
void generate(std::filesystem::path const& path, std::uint64_t rows)
{
    static char const* const first[] = {"Ann", "Bob", "Chloé", "Dmitri", "Eve", "Femi", "Grace", "Hiro"};
    static char const* const last[] = {"O'Neil", "Smith, Jr.", "Müller", "Nakamura", "Okafor", "\"Doc\" Brown",
                                       "van der\nBerg"}; // a quoted line break
    static char const* const country[] = {"DE", "FR", "GB", "JP", "NG", "US"};
    auto const tmp = std::filesystem::path(path.string() + ".part");
    {
        csv::writer w(tmp);
        w.write_row({"id", "name", "email", "country", "balance"});
        std::uint64_t x = 88172645463325252ull;
        for (std::uint64_t i = 1; i <= rows; ++i) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            std::string const name = std::string("  ") + first[x % 8] + " " + last[(x >> 8) % 7] + " ";
            std::string const email = "User" + std::to_string(i) + "@Example.COM";
            char balance[32];
            std::snprintf(balance, sizeof balance, "%.2f", double(x % 1000000) / 100.0);
            w.write_row({std::to_string(i), name, email, country[(x >> 16) % 6], balance});
        }
    }
    std::filesystem::rename(tmp, path);
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
    if (flag(argc, argv, "--help")) {
        std::puts("usage: csv_to_postgres [--csv FILE] [--rows N] [--table NAME] [--conninfo STR] [--fresh]\n"
                  "                       [--batch N] [--jobs K] [--record-dir DIR] [--throttle-us U]\n"
                  "                       [--partition I/N | --partition auto] [--setup-only]");
        return 0;
    }
    std::filesystem::path const csv_path = arg(argc, argv, "--csv", "customers.csv");
    std::string const table = arg(argc, argv, "--table", "customers");
    std::uint64_t const rows = number(argc, argv, "--rows", 1'000'000);
    std::size_t const batch = number(argc, argv, "--batch", 1000);
    std::size_t const jobs = number(argc, argv, "--jobs", 1);
    auto const throttle = std::chrono::microseconds(number(argc, argv, "--throttle-us", 0)); // for kill tests
    if (!plain_identifier(table)) {
        std::fprintf(stderr, "csv_to_postgres: --table wants a plain lower-case identifier, got '%s'\n",
                     table.c_str());
        return 2;
    }

    try {
        load_pg_env();
        // Which share of the CSV this worker loads: all of it, I/N, or what the launcher says.
        std::string const part_arg = arg(argc, argv, "--partition", "");
        std::optional<sb::partition> part;
        if (part_arg == "auto") {
            part = sb::partition_from_environment();
        } else if (!part_arg.empty()) {
            unsigned i = 0, n = 0;
            char tail = 0;
            if (std::sscanf(part_arg.c_str(), "%u/%u%c", &i, &n, &tail) != 2)
                throw std::invalid_argument("--partition wants I/N or auto, got '" + part_arg + "'");
            part = sb::partition{i, n};
            part->check();
        }
        bool const setup_only = flag(argc, argv, "--setup-only");
        if (part && !setup_only && flag(argc, argv, "--fresh"))
            throw std::invalid_argument("--fresh with --partition would drop the other workers' rows: "
                                        "run --setup-only --fresh once before starting the workers");
        // The checkpoint row's key: the table, or the table and the partition.
        std::string const job = part ? table + "/" + part->name() : table;
        if (!std::filesystem::exists(csv_path)) {
            if (part && !setup_only)
                throw std::runtime_error(csv_path.string() + " does not exist: with --partition, generate it "
                                         "first (--setup-only --rows N), so that every worker splits the same file");
            std::printf("generating %s with %llu rows\n", csv_path.c_str(), static_cast<unsigned long long>(rows));
            generate(csv_path, rows);
        }

        pg::connection db(arg(argc, argv, "--conninfo", ""));
        db.exec("SET client_min_messages = warning"); // no NOTICEs for IF [NOT] EXISTS
        // DDL under an advisory lock: jobs started together must not race on CREATE TABLE.
        db.exec("SELECT pg_advisory_lock(7305001)");
        if (flag(argc, argv, "--fresh")) { // the table and its checkpoint go together
            db.exec("BEGIN");
            db.exec("DROP TABLE IF EXISTS " + table);
            db.exec("CREATE TABLE IF NOT EXISTS streambatch_checkpoint(job text PRIMARY KEY, byte_offset bigint,"
                    " line bigint, rows bigint, skipped bigint)");
            db.exec("DELETE FROM streambatch_checkpoint WHERE job = $1 OR job LIKE $2", table, table + "/part-%");
            db.exec("COMMIT");
        }
        db.exec("CREATE TABLE IF NOT EXISTS " + table +
                "(id bigint, name text, email text, country text, balance double precision);"
                "CREATE TABLE IF NOT EXISTS streambatch_checkpoint(job text PRIMARY KEY, byte_offset bigint,"
                " line bigint, rows bigint, skipped bigint)");
        db.exec("SELECT pg_advisory_unlock(7305001)");
        if (setup_only) {
            std::printf("set up %s and %s; start the workers\n", table.c_str(), csv_path.c_str());
            return 0;
        }
        if (part) { // checkpoints of another split would load rows twice
            if (auto const other = db.scalar<std::optional<std::string>>(
                    "SELECT min(job) FROM streambatch_checkpoint WHERE job LIKE $1 AND job NOT LIKE $2",
                    table + "/part-%", "%" + part->name().substr(part->name().find("-of-"))))
                throw std::runtime_error("table " + table + " has the checkpoint of " + *other + ", a split into "
                                         "another number of partitions than " + std::to_string(part->count) +
                                         ": finish that job with the same count, or start over with --setup-only "
                                         "--fresh");
            if (db.scalar<std::int64_t>("SELECT count(*) FROM streambatch_checkpoint WHERE job = $1", table) != 0)
                throw std::runtime_error("table " + table + " has the checkpoint of an unpartitioned run: finish it "
                                         "without --partition, or start over with --setup-only --fresh");
        }

        // Where the last committed batch ended: the checkpoint row, committed with that batch.
        std::optional<csv::position> from;
        if (auto const saved = db.scalar<std::optional<std::string>>(
                "SELECT byte_offset || ' ' || line || ' ' || rows || ' ' || skipped FROM streambatch_checkpoint"
                " WHERE job = $1",
                job)) {
            unsigned long long p[4] = {};
            if (std::sscanf(saved->c_str(), "%llu %llu %llu %llu", &p[0], &p[1], &p[2], &p[3]) != 4)
                throw std::runtime_error("streambatch_checkpoint: malformed row for job " + job + ": " + *saved);
            from = csv::position{p[0], p[1], p[2], p[3]};
            std::printf("resuming at line %llu (byte %llu, %llu rows done)\n", p[1], p[0], p[2]);
            std::fflush(stdout); // a kill -9 must not eat the line
        }

        csv::reader reader(csv_path,
                           {.bad_rows = csv::on_error::skip,
                            .reject_path = csv_path.string() + (part ? "." + part->name() : "") + ".rejects.csv",
                            .partition = part.value_or(sb::partition{})},
                           from);
        sb::memory_guard guard;
        sb::run_options options{.max_in_flight = jobs, .record_dir = arg(argc, argv, "--record-dir", "")};
        options.job = "csv_to_postgres " + table;
        if (part)
            options.set_partition(*part); // run records in --record-dir/part-000I-of-000N
        options.resume_from.records = from ? from->rows : 0;
        options.expected_records = part ? 0 : rows; // a partition's share is not known in advance
        // The CSV position after each batch, taken when the batch is pulled.
        options.position = [&reader] {
            auto const p = reader.position();
            return std::to_string(p.byte_offset) + " " + std::to_string(p.line) + " " + std::to_string(p.rows) + " " +
                   std::to_string(p.skipped);
        };
        options.watch(guard);

        pg::copy_sink out(db, table, {"id", "name", "email", "country", "balance"});
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
                out.write(cleaned, [&](pg::connection& c) { // the checkpoint commits with its batch
                    unsigned long long p[4] = {};
                    std::sscanf(std::string(info.position).c_str(), "%llu %llu %llu %llu", &p[0], &p[1], &p[2], &p[3]);
                    c.exec("INSERT INTO streambatch_checkpoint VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job) DO UPDATE"
                           " SET byte_offset = EXCLUDED.byte_offset, line = EXCLUDED.line, rows = EXCLUDED.rows,"
                           " skipped = EXCLUDED.skipped",
                           job, static_cast<std::int64_t>(p[0]), static_cast<std::int64_t>(p[1]),
                           static_cast<std::int64_t>(p[2]), static_cast<std::int64_t>(p[3]));
                });
                if (throttle.count() > 0)
                    std::this_thread::sleep_for(throttle);
            },
            options);

        auto const in_table = db.scalar<std::int64_t>("SELECT count(*) FROM " + table);
        std::printf("loaded       %llu rows this run (%lld in %s on %s), %llu rejected\n",
                    static_cast<unsigned long long>(report.records), static_cast<long long>(in_table), table.c_str(),
                    db.where().c_str(), static_cast<unsigned long long>(reader.position().skipped));
        std::printf("batches      %llu (starting size %zu, %zu in flight at most)\n",
                    static_cast<unsigned long long>(report.batches), batch, jobs);
        std::printf("records/s    %.0f over %.3f s\n", report.records_per_second,
                    std::chrono::duration<double>(report.elapsed).count());
        std::printf("peak RSS     %.1f MiB\n", double(report.peak_rss_bytes) / (1 << 20));
        std::printf("guard events %zu\n", report.guard_events.size());
        for (auto const& e : report.guard_events)
            std::printf("  %s\n", e.describe().c_str());
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "csv_to_postgres: %s\n", e.what());
        return 1;
    }
}
