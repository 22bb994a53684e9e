// tests/io/sql/pg_stream_rss.cpp: streams N rows of ~150 bytes through postgres::query (a
// server-side cursor) or postgres::read_keyset (pages of LIMIT 1000 after the last key) |
// views::memory_guarded, and prints the row count and the peak RSS.
//
//   pg_stream_rss N [keyset]   creates an UNLOGGED table of N rows with generate_series (on the
//                        server: the client's memory is not involved; keyset: with a primary
//                        key), streams it, drops it,
//                        prints "rows=<count> bytes=<payload bytes> vmhwm_kib=<VmHWM>".
// The server comes from STREAMBATCH_PG_ENV (see sql_test_support.hpp). check_rss.cmake runs it
// at 100 k and 1 M rows and compares the peaks: the source holds O(fetch size), not O(N).
#include <streambatch/io/postgres.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>

#include "sql_test_support.hpp"

namespace sb = streambatch;
namespace pg = streambatch::postgres;

namespace {

long vmhwm_kib()
{
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmHWM:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

// A fixed batch size, so the run measures the source, not the guard's decisions.
struct fixed_size {
    std::size_t n;
    std::size_t next_batch_size(std::size_t) const { return n; }
};

} // namespace

int main(int argc, char** argv)
try {
    if (argc != 2 && !(argc == 3 && std::string(argv[2]) == "keyset")) {
        std::fprintf(stderr, "usage: pg_stream_rss ROWS [keyset]\n");
        return 2;
    }
    bool const keyset = argc == 3;
    long long const n = std::atoll(argv[1]);
    test::use_test_server();
    pg::connection conn;
    std::string const table = test::unique_name("rss");
    conn.exec("CREATE UNLOGGED TABLE " + table +
                  " AS SELECT g::bigint AS id, md5(g::text) || md5((g + 1)::text) || md5((g + "
                  "2)::text) AS payload,"
                  " g * 0.5 AS score, now() AS created FROM generate_series(1, $1::bigint) g",
              n);
    if (keyset)
        conn.exec("ALTER TABLE " + table + " ADD PRIMARY KEY (id)");

    std::uint64_t rows = 0, bytes = 0;
    constexpr std::size_t batch_size = 1000;
    auto const count = [&](auto&& batch) {
        rows += batch.size();
        for (pg::row const& r : batch)
            bytes += r.get<std::string_view>(1).size() + r.get<std::string_view>(3).size() + 8 + 8;
    };
    if (keyset) {
        auto source = pg::read_keyset(
            conn, {.table = table, .columns = {"id", "payload", "score", "created"}, .key = "id"},
            {.page_size = batch_size});
        for (auto&& batch :
             source.rows() | sb::views::memory_guarded(batch_size, fixed_size{batch_size}))
            count(batch);
        if (source.position() != std::to_string(n))
            throw std::runtime_error("the keyset source ended at " + source.position());
    } else {
        for (auto&& batch : pg::query(conn, "SELECT id, payload, score, created FROM " + table,
                                      {.fetch_size = batch_size}) |
                                sb::views::memory_guarded(batch_size, fixed_size{batch_size}))
            count(batch);
    }
    conn.exec("DROP TABLE " + table);
    std::printf("rows=%llu bytes=%llu vmhwm_kib=%ld\n", static_cast<unsigned long long>(rows),
                static_cast<unsigned long long>(bytes), vmhwm_kib());
    return rows == static_cast<std::uint64_t>(n) ? 0 : 1;
} catch (std::exception const& e) {
    std::fprintf(stderr, "pg_stream_rss: %s\n", e.what());
    return 1;
}
