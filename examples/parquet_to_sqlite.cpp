// examples/parquet_to_sqlite.cpp: a Parquet file into a SQLite table, exactly once even when it
// is killed, stopped or started twice: parquet::file_source (the rows, a position "<row group>
// <row>", the file's identity) and sqlite::job_sink (each batch and the job's state in one
// transaction) through run_job under a memory guard.
//
//     parquet_to_sqlite --parquet FILE [--db DB] [--table NAME] [--columns a,b,c] [--batch N]
//                       [--partition I/N] [--record-dir DIR] [--throttle-us U] [--fresh]
//
// - The table (default: the file's name without .parquet) is made from the file's schema:
//   integer and boolean columns INTEGER, FLOAT/DOUBLE REAL, strings, dates, times, timestamps
//   and decimals TEXT (as DuckDB prints them: exact), other byte arrays BLOB. Nulls stay NULL.
// - --columns projects (in that order); a nested column is refused by name unless projected
//   away. --partition I/N loads row groups [G*I/N, G*(I+1)/N) (whole row groups): N copies
//   with I = 0..N-1 load the file together, each resumable on its own.
// - A restarted job goes on from the row after its last committed batch; another file (size or
//   footer not the one the checkpoint was taken on) is refused (exit 65); a second copy of the
//   same job is refused while the first runs (exit 75); SIGINT/SIGTERM stop it after the batch
//   in hand (exit 130/143). --fresh drops the table and the job's state first (under its fence).
//
// test: run by tests/killloop/kill_loop_parquet_to_sqlite.sh (killloop.parquet_to_sqlite: it needs
// a Parquet file that csv_to_parquet writes)

#include <streambatch.hpp>
#include <streambatch/io/parquet.hpp>
#include <streambatch/io/sqlite.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/args.hpp"
#include "common/job.hpp"

namespace sb = streambatch;
namespace pq = streambatch::parquet;
namespace sq = streambatch::sqlite;

namespace {

// The SQLite type a column's values are stored as (see the top of this file).
std::string sql_type(pq::column_descriptor const& c)
{
    bool const plain = !c.logical_type && !c.converted_type;
    switch (c.type) {
    case pq::physical_type::boolean:
        return "INTEGER";
    case pq::physical_type::int32:
    case pq::physical_type::int64: {
        bool const integer =
            plain ||
            (c.logical_type && c.logical_type->kind == pq::logical_type::kind_t::integer) ||
            (c.converted_type && !c.logical_type &&
             *c.converted_type >= pq::converted_type::uint_8 &&
             *c.converted_type <= pq::converted_type::int_64);
        return integer ? "INTEGER" : "TEXT";
    }
    case pq::physical_type::float_:
    case pq::physical_type::double_:
        return "REAL";
    case pq::physical_type::byte_array:
    case pq::physical_type::fixed_len_byte_array:
        return plain ? "BLOB" : "TEXT";
    default:
        return "TEXT";
    }
}

std::string sql_name(std::string_view name)
{
    std::string q = "\"";
    for (char ch : name)
        q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
}

// Binds one value as sql_type stores it.
void bind_value(sq::statement& st, int i, pq::value const& v, std::string const& type)
{
    using k = pq::value_kind;
    if (v.is_null())
        return st.bind_at(i, nullptr);
    if (type == "INTEGER") {
        switch (v.kind()) {
        case k::boolean:
            return st.bind_at(i, *v.if_bool());
        case k::int32:
            return st.bind_at(i, v.meaning() == pq::value_meaning::unsigned_int
                                     ? std::int64_t(std::uint32_t(*v.if_int32()))
                                     : std::int64_t(*v.if_int32()));
        case k::int64:
            if (v.meaning() == pq::value_meaning::unsigned_int && *v.if_int64() < 0)
                return st.bind_at(i, v.to_string()); // past INT64_MAX: exact as text
            return st.bind_at(i, *v.if_int64());
        default:
            break;
        }
    } else if (type == "REAL") {
        if (auto const* f = v.if_float())
            return st.bind_at(i, double(*f));
        if (auto const* d = v.if_double())
            return st.bind_at(i, *d);
    } else if (type == "BLOB") {
        if (auto const* b = v.if_bytes())
            return st.bind_at(i, std::span<std::byte const>(
                                     reinterpret_cast<std::byte const*>(b->data()), b->size()));
    }
    if (auto const* s = v.if_bytes();
        s && (v.meaning() == pq::value_meaning::string || v.meaning() == pq::value_meaning::enum_ ||
              v.meaning() == pq::value_meaning::json))
        return st.bind_at(i, *s);
    st.bind_at(i, v.to_string());
}

std::vector<std::string> split_names(std::string const& text)
{
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= text.size() && !text.empty()) {
        auto const comma = text.find(',', at);
        out.push_back(text.substr(at, comma == std::string::npos ? comma : comma - at));
        if (comma == std::string::npos)
            break;
        at = comma + 1;
    }
    return out;
}

} // namespace

int main(int argc, char** argv)
{
    examples::command_line cli("parquet_to_sqlite",
                               "Loads a Parquet file into a SQLite table, exactly once.");
    std::filesystem::path parquet_path, db_path = "parquet.db", record_dir;
    std::string table, columns, part_text;
    std::size_t batch = 10'000;
    unsigned throttle_us = 0;
    bool fresh = false;
    cli.path("--parquet", parquet_path, "the Parquet file")->required();
    cli.path("--db", db_path, "the SQLite database");
    cli.text("--table", table, "the table (default: the file's name)");
    cli.text("--columns", columns, "the columns to load, comma-separated (default: all)");
    cli.number("--batch", batch, "rows per batch (the memory guard may lower it)");
    cli.text("--partition", part_text, "I/N: load the row groups of partition I of N");
    cli.path("--record-dir", record_dir, "where the run records go (default: none)");
    cli.number("--throttle-us", throttle_us, "sleep after each batch (tests)", 0u);
    cli.flag("--fresh", fresh, "drop the table and the job's state first");
    cli.parse(argc, argv);

    return examples::run_main("parquet_to_sqlite", [&] {
        sb::partition part{};
        if (!part_text.empty())
            part = sb::partition::parse(part_text);
        pq::file_source in(parquet_path, {.columns = split_names(columns), .part = part});
        if (table.empty())
            table = parquet_path.stem().string();

        // The projected columns' descriptors, in the rows' order.
        std::vector<pq::column_descriptor> cols;
        auto const& schema = in.file().schema();
        if (columns.empty()) {
            cols = schema.columns;
        } else {
            for (auto const& name : split_names(columns)) {
                auto const* c = schema.find(name);
                if (c == nullptr)
                    throw std::invalid_argument("no column \"" + name + "\" in " +
                                                parquet_path.string());
                cols.push_back(*c);
            }
        }
        std::vector<std::string> types;
        std::string create = "CREATE TABLE IF NOT EXISTS " + sql_name(table) + "(";
        std::string insert = "INSERT INTO " + sql_name(table) + " VALUES (";
        for (std::size_t i = 0; i < cols.size(); ++i) {
            types.push_back(sql_type(cols[i]));
            create += (i ? ", " : "") + sql_name(cols[i].name) + " " + types.back();
            insert += i ? ", ?" : "?";
        }
        create += ")";
        insert += ")";

        sq::database db(db_path);
        db.exec("PRAGMA journal_mode=WAL");
        db.exec("PRAGMA synchronous=NORMAL");
        db.exec(create);
        sq::statement st(db, insert);
        auto const write = [&](sq::database&, std::vector<pq::row>&& rows) {
            for (auto const& r : rows) {
                for (std::size_t i = 0; i < r.size(); ++i)
                    bind_value(st, static_cast<int>(i) + 1, r[i], types[i]);
                st.step();
                st.reset();
            }
        };
        std::string const job = "parquet " + parquet_path.filename().string() + " to " + table;
        if (fresh) {
            sq::job_sink holder(db, write);
            holder.open({job, part});
            db.exec("BEGIN IMMEDIATE; DELETE FROM " + sql_name(table) + "; COMMIT;");
            db.exec("DELETE FROM streambatch_job_state WHERE job = ?", job);
        }
        sq::job_sink out(db, write);

        sb::job_options o{.job = job, .part = part, .batch = batch};
        o.run.record_dir = record_dir;
        auto const step = [&](auto& b) {
            std::vector<pq::row> rows;
            rows.reserve(std::ranges::size(b));
            for (auto& r : b)
                rows.push_back(std::move(r));
            if (throttle_us)
                std::this_thread::sleep_for(std::chrono::microseconds(throttle_us));
            return rows;
        };
        sb::job_result r = sb::run_job(in, step, out, std::move(o));
        if (r.resumed_from)
            fmt::print("resumed at   \"{}\" (row group, row; {} rows done)\n",
                       r.resumed_from->position, r.resumed_from->records);
        fmt::print("loaded       {} rows this run ({} in the table) from {} rows of {}\n",
                   r.report.records,
                   db.scalar<std::int64_t>("SELECT count(*) FROM " + sql_name(table)),
                   in.rows_total(), parquet_path.string());
        return r;
    });
}
