// bench/bench_csv.cpp: streambatch::csv's reader against libcsv and a plain memchr line count,
// on the same ~50 MB file.
//
// Questions answered:
//   - streambatch: csv::rows(path) read to the end in a plain loop, every row made and its
//                  fields looked at (count and bytes summed); the row at the iterator is
//                  reused, so this is the parser's cost. Target: >= 1.5 x libcsv.
//   - libcsv:      libcsv 3.0.3 (Debian libcsv-dev) with CSV_STRICT, fed the same 64 KiB
//                  blocks, its callbacks counting fields, bytes and rows.
//   - memchr:      the floor: read the same blocks and count '\n' with memchr. Target: the
//                  reader within 4 x of it.
//   - streambatch_batches: the reader piped into views::chunk(1000): rows moved into batches,
//                  so one allocation per row (what a job does); shows what batching adds.
//   - streambatch_partitions/N: csv::options::partition {i, N} for i = 0..N-1, one after the
//                  other, in one thread: what finding N - 1 split points adds to the whole
//                  read (the rows must add up to the file's).
// All cases read the file with read(2) in 64 KiB blocks from the page cache (the file is
// generated once into $TMPDIR and read once before timing). Counters: bytes/s, rows/s.
// The file: 8 columns (id, name, email, city, amount, date, note, flag), ~92 bytes a row; 14 in
// 100 notes are quoted with a delimiter inside, 5 in 100 quoted with doubled quotes, 1 in 100
// quoted with an embedded newline. Run: bench_csv --benchmark_repetitions=5
//   (--benchmark_report_aggregates_only=true for the medians only). STREAMBATCH_BENCH_CSV_MB
//   sets another size (scripts/bench.sh --smoke uses 1); the published figures use 50.

#include <streambatch/detail/parse.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/views/chunk.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <csv.h>
#include <fcntl.h>
#include <unistd.h>

namespace {

namespace csv = streambatch::csv;
constexpr std::size_t block = std::size_t{64} << 10;

struct bench_file {
    std::filesystem::path path;
    std::uint64_t bytes = 0;
    std::uint64_t rows = 0; // data rows, header excluded

    bench_file()
    {
        char const* tmp = std::getenv("TMPDIR");
        char const* mb_env = std::getenv("STREAMBATCH_BENCH_CSV_MB");
        std::size_t const mb =
            mb_env ? streambatch::detail::parse_whole<std::size_t>(mb_env).value_or(0) : 50;
        if (mb == 0 || mb > 4096)
            throw std::invalid_argument("STREAMBATCH_BENCH_CSV_MB must be 1..4096 (MiB)");
        path = std::filesystem::path(tmp ? tmp : "/tmp") /
               ("streambatch_bench_csv_" + std::to_string(mb) + "mb.csv");
        std::mt19937_64 rng(20240601);
        std::string const cities[] = {"Berlin", "Lyon",   "Porto", "Turku",
                                      "Cork",   "Bergen", "Graz",  "Brno"};
        std::string const words[] = {"ok",      "late",    "refund", "gift",
                                     "express", "damaged", "resend", "vip"};
        std::string out;
        out.reserve((mb + 2) << 20);
        out += "id,name,email,city,amount,date,note,flag\n";
        char buf[64];
        while (out.size() < (mb << 20)) {
            std::uint64_t const r = rng();
            std::uint64_t const id = rows + 1;
            out += std::to_string(id);
            out += ",customer_";
            out += std::to_string(r % 100000);
            out += ",user";
            out += std::to_string(r % 7919);
            out += "@example.com,";
            out += cities[(r >> 20) % 8];
            std::snprintf(buf, sizeof buf, ",%.2f,2024-%02u-%02u,",
                          double((r >> 24) % 1000000) / 100.0, unsigned(1 + (r >> 44) % 12),
                          unsigned(1 + (r >> 48) % 28));
            out += buf;
            std::uint64_t const k = (r >> 52) % 100;
            std::string note =
                words[(r >> 8) % 8] + " " + words[(r >> 11) % 8] + " " + words[(r >> 14) % 8];
            if (k < 1)
                out += "\"" + note + "\nsecond line\"";
            else if (k < 6)
                out += "\"" + note + " \"\"quoted\"\"\"";
            else if (k < 20)
                out += "\"" + note + ", " + words[(r >> 17) % 8] + "\"";
            else
                out += note;
            out += (r & 1) ? ",true\n" : ",false\n";
            ++rows;
        }
        std::ofstream(path, std::ios::binary)
            .write(out.data(), static_cast<std::streamsize>(out.size()));
        bytes = out.size();
    }
    ~bench_file()
    {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
};

bench_file const& file()
{
    static bench_file const f;
    return f;
}

/// Calls fn(data, n) for each 64 KiB block of the file.
template <class F>
void for_each_block(std::filesystem::path const& path, F&& fn)
{
    int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error("cannot open " + path.string());
    static std::vector<char> buf(block);
    for (;;) {
        ssize_t const n = ::read(fd, buf.data(), buf.size());
        if (n <= 0)
            break;
        fn(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
}

void finish(benchmark::State& state, std::uint64_t rows)
{
    auto const& f = file();
    if (rows != f.rows)
        state.SkipWithError(
            ("counted " + std::to_string(rows) + " rows, expected " + std::to_string(f.rows))
                .c_str());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * f.bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * f.rows));
}

void bm_csv_streambatch(benchmark::State& state)
{
    auto const& f = file();
    std::uint64_t rows = 0;
    for (auto _ : state) {
        std::uint64_t fields = 0, bytes = 0;
        rows = 0;
        for (csv::row& r : csv::rows(f.path)) {
            fields += r.size();
            for (std::string_view s : r)
                bytes += s.size();
            ++rows;
        }
        benchmark::DoNotOptimize(fields);
        benchmark::DoNotOptimize(bytes);
    }
    finish(state, rows);
}

void bm_csv_streambatch_batches(benchmark::State& state)
{
    auto const& f = file();
    std::uint64_t rows = 0;
    for (auto _ : state) {
        std::uint64_t fields = 0;
        rows = 0;
        for (auto&& batch : csv::rows(f.path) | streambatch::views::chunk(1000)) {
            for (csv::row& r : batch)
                fields += r.size();
            rows += batch.size();
        }
        benchmark::DoNotOptimize(fields);
    }
    finish(state, rows);
}

void bm_csv_streambatch_partitions(benchmark::State& state)
{
    auto const& f = file();
    auto const n = static_cast<std::uint32_t>(state.range(0));
    std::uint64_t rows = 0;
    for (auto _ : state) {
        std::uint64_t fields = 0, bytes = 0, end = 0;
        rows = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            csv::reader r(f.path, {.partition = {i, n}});
            if (i > 0 && r.position().byte_offset != end)
                state.SkipWithError("a partition does not begin where the one before ended");
            for (csv::row& row : r) {
                fields += row.size();
                for (std::string_view s : row)
                    bytes += s.size();
                ++rows;
            }
            end = r.position().byte_offset;
        }
        benchmark::DoNotOptimize(fields);
        benchmark::DoNotOptimize(bytes);
    }
    finish(state, rows);
}

struct libcsv_counts {
    std::uint64_t fields = 0, bytes = 0, rows = 0;
};

void bm_csv_libcsv(benchmark::State& state)
{
    auto const& f = file();
    std::uint64_t rows = 0;
    for (auto _ : state) {
        csv_parser p;
        if (csv_init(&p, CSV_STRICT) != 0)
            state.SkipWithError("csv_init failed");
        libcsv_counts c;
        auto const on_field = [](void*, std::size_t n, void* data) {
            auto* cc = static_cast<libcsv_counts*>(data);
            ++cc->fields;
            cc->bytes += n;
        };
        auto const on_row = [](int, void* data) { ++static_cast<libcsv_counts*>(data)->rows; };
        for_each_block(f.path, [&](char const* data, std::size_t n) {
            if (csv_parse(&p, data, n, on_field, on_row, &c) != n)
                state.SkipWithError(csv_strerror(csv_error(&p)));
        });
        csv_fini(&p, on_field, on_row, &c);
        csv_free(&p);
        rows = c.rows - 1; // the header
        benchmark::DoNotOptimize(c);
    }
    finish(state, rows);
}

void bm_memchr_lines(benchmark::State& state)
{
    auto const& f = file();
    std::uint64_t lines = 0;
    for (auto _ : state) {
        lines = 0;
        for_each_block(f.path, [&](char const* data, std::size_t n) {
            char const* p = data;
            char const* const end = data + n;
            while ((p = static_cast<char const*>(
                        std::memchr(p, '\n', static_cast<std::size_t>(end - p)))) != nullptr) {
                ++lines;
                ++p;
            }
        });
        benchmark::DoNotOptimize(lines);
    }
    state.counters["lines"] = static_cast<double>(lines);
    finish(state, file().rows); // lines include the header and embedded newlines
}

void warm(benchmark::State& state)
{
    for (auto _ : state)
        for_each_block(file().path, [](char const*, std::size_t) {});
}

} // namespace

BENCHMARK(warm)->Iterations(1);
BENCHMARK(bm_memchr_lines)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_csv_libcsv)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_csv_streambatch)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_csv_streambatch_batches)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_csv_streambatch_partitions)->Arg(4)->Arg(64)->Unit(benchmark::kMillisecond);
