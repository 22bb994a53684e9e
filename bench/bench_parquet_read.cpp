// bench_parquet_read: streambatch's side of bench/parquet_read.sh. Reads the benchmark file's
// columns a (BIGINT), b (INTEGER, nulls), c (DOUBLE), s and t (VARCHAR, t with nulls) and
// computes what DuckDB's query does: count(*), sum(a), sum(b), sum(c), sum(strlen(s)),
// sum(strlen(t)).
//   bench_parquet_read --mode columns|rows FILE [--budget BYTES]
// Prints one line: mode, the sums, wall and CPU seconds, peak RSS (KiB, getrusage) and the
// largest projected row group (the footer's total_uncompressed_size of a, b, c, s, t).
#include <streambatch/io/parquet/columns.hpp>
#include <streambatch/io/parquet/reader.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace pq = streambatch::parquet;

namespace {

struct sums {
    std::int64_t rows = 0, a = 0, b = 0, len_s = 0, len_t = 0;
    double c = 0;
};

std::int64_t strlen_sum(pq::column_values const& col)
{
    auto const off = col.offsets();
    std::int64_t n = 0;
    for (std::size_t i = 0; i + 1 < off.size(); ++i)
        n += off[i + 1] - off[i];
    return n;
}

sums by_columns(char const* path, std::uint64_t budget)
{
    sums s;
    for (pq::column_batch const& b :
         pq::column_batches(path, {.columns = {"a", "b", "c", "s", "t"}, .budget_bytes = budget})) {
        s.rows += static_cast<std::int64_t>(b.rows);
        for (std::int64_t v : b.columns[0].int64s())
            s.a += v;
        for (std::int32_t v : b.columns[1].int32s())
            s.b += v;
        for (double v : b.columns[2].doubles())
            s.c += v;
        s.len_s += strlen_sum(b.columns[3]);
        s.len_t += strlen_sum(b.columns[4]);
    }
    return s;
}

sums by_rows(char const* path)
{
    sums s;
    for (pq::row const& r : pq::rows(path, {"a", "b", "c", "s", "t"})) {
        ++s.rows;
        if (auto p = r[0].if_int64())
            s.a += *p;
        if (auto p = r[1].if_int32())
            s.b += *p;
        if (auto p = r[2].if_double())
            s.c += *p;
        if (auto p = r[3].if_bytes())
            s.len_s += static_cast<std::int64_t>(p->size());
        if (auto p = r[4].if_bytes())
            s.len_t += static_cast<std::int64_t>(p->size());
    }
    return s;
}

double cpu_seconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

} // namespace

int main(int argc, char** argv)
{
    std::string mode = "columns";
    char const* path = nullptr;
    std::uint64_t budget = 0;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!std::strcmp(argv[i], "--budget") && i + 1 < argc)
            budget = std::strtoull(argv[++i], nullptr, 10);
        else
            path = argv[i];
    }
    if (!path || (mode != "columns" && mode != "rows")) {
        std::fprintf(stderr,
                     "usage: bench_parquet_read --mode columns|rows FILE [--budget BYTES]\n");
        return 2;
    }
    try {
        std::uint64_t largest = 0;
        {
            pq::file f(path);
            std::vector<std::size_t> cols;
            for (char const* n : {"a", "b", "c", "s", "t"})
                if (auto const* d = f.schema().find(n))
                    cols.push_back(d->index);
            largest = pq::largest_projected_group(f, cols);
        }
        double const c0 = cpu_seconds();
        auto const t0 = std::chrono::steady_clock::now();
        sums const s = mode == "rows" ? by_rows(path) : by_columns(path, budget);
        auto const t1 = std::chrono::steady_clock::now();
        double const c1 = cpu_seconds();
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        std::printf("mode=%s rows=%" PRId64 " sum_a=%" PRId64 " sum_b=%" PRId64
                    " sum_c=%.6f len_s=%" PRId64 " len_t=%" PRId64
                    " wall_s=%.4f cpu_s=%.4f max_rss_kib=%ld largest_group_bytes=%" PRIu64 "\n",
                    mode.c_str(), s.rows, s.a, s.b, s.c, s.len_s, s.len_t,
                    std::chrono::duration<double>(t1 - t0).count(), c1 - c0, u.ru_maxrss, largest);
    } catch (std::exception const& e) {
        std::fprintf(stderr, "bench_parquet_read: %s\n", e.what());
        return 1;
    }
    return 0;
}
