// bench_parquet_write: our side of bench/parquet_write.sh. Generates the rows DuckDB's side
// generates in SQL (bench/parquet_write_duckdb.mjs: id BIGINT, n INTEGER, x DOUBLE, cat a short
// VARCHAR of 997 values, hex a unique 32-hex-digit VARCHAR, nul a nullable INTEGER), 4096 at a
// time, and either writes them with parquet::writer (--mode write: a row group every
// --row-group-rows rows, DuckDB's default 122880; the codec of --codec) or only checksums them
// (--mode gen: the generator's own cost, subtracted by the script). Prints one line:
//   streambatch <mode> rows=N wall_s=S cpu_s=S peak_rss=B row_groups=K largest_row_group=B
//   largest_row_group_uncompressed=B file_bytes=B checksum=C
// (wall and CPU of the generating + writing loop and close(); peak RSS of the process, VmHWM).
//     bench_parquet_write --mode write --rows 20000000 --out /tmp/x.parquet
#include <streambatch/io/parquet/writer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/resource.h>

#include "peak_rss.hpp"

namespace pq = streambatch::parquet;

namespace {

struct row {
    std::int64_t id;
    std::int32_t n;
    double x;
    std::string_view cat;
    std::string_view hex;
    std::optional<std::int32_t> nul;
};

double cpu_seconds()
{
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void put_hex32(char* out, std::uint32_t v)
{
    static char const digits[] = "0123456789abcdef";
    for (int i = 7; i >= 0; --i) {
        out[i] = digits[v & 15];
        v >>= 4;
    }
}

[[noreturn]] void usage()
{
    std::fprintf(stderr, "usage: bench_parquet_write --mode write|gen --rows N [--out FILE] "
                         "[--row-group-rows R] [--codec snappy|zstd|gzip|uncompressed|lz4_raw] "
                         "[--page-bytes B]\n");
    std::exit(2);
}

} // namespace

int main(int argc, char** argv)
{
    std::string mode = "write", out = "bench_parquet_write.parquet", codec = "snappy";
    std::uint64_t rows = 1'000'000, rg_rows = 122'880, page_bytes = 0;
    for (int i = 1; i < argc; ++i) {
        std::string_view const a = argv[i];
        if (i + 1 >= argc)
            usage();
        if (a == "--mode")
            mode = argv[++i];
        else if (a == "--rows")
            rows = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--out")
            out = argv[++i];
        else if (a == "--row-group-rows")
            rg_rows = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--codec")
            codec = argv[++i];
        else if (a == "--page-bytes")
            page_bytes = std::strtoull(argv[++i], nullptr, 10);
        else
            usage();
    }
    if ((mode != "write" && mode != "gen") || rg_rows == 0)
        usage();
    pq::writer_options o;
    if (page_bytes > 0)
        o.page_byte_size = page_bytes;
    if (codec == "snappy")
        o.codec = pq::compression_codec::snappy;
    else if (codec == "zstd")
        o.codec = pq::compression_codec::zstd;
    else if (codec == "gzip")
        o.codec = pq::compression_codec::gzip;
    else if (codec == "lz4_raw")
        o.codec = pq::compression_codec::lz4_raw;
    else if (codec == "uncompressed")
        o.codec = pq::compression_codec::uncompressed;
    else
        usage();

    std::vector<std::string> cats(997);
    for (std::size_t i = 0; i < cats.size(); ++i)
        cats[i] = "c" + std::to_string(i);
    constexpr std::size_t chunk = 4096;
    std::vector<char> hexbuf(chunk * 32);
    std::vector<row> batch(chunk);

    auto const t0 = std::chrono::steady_clock::now();
    double const c0 = cpu_seconds();
    std::optional<pq::writer> w;
    if (mode == "write")
        w.emplace(out, pq::columns_for<row>({"id", "n", "x", "cat", "hex", "nul"}), o);
    std::uint64_t checksum = 0, in_group = 0;
    for (std::uint64_t from = 0; from < rows; from += chunk) {
        std::size_t const m = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, rows - from));
        for (std::size_t k = 0; k < m; ++k) {
            std::uint64_t const i = from + k;
            char* h = hexbuf.data() + k * 32;
            put_hex32(h, static_cast<std::uint32_t>(i * 2654435761u));
            put_hex32(h + 8, static_cast<std::uint32_t>(i * 2246822519u + 1));
            put_hex32(h + 16, static_cast<std::uint32_t>(i * 3266489917u + 2));
            put_hex32(h + 24, static_cast<std::uint32_t>(i * 668265263u + 3));
            auto& r = batch[k];
            r.id = static_cast<std::int64_t>(i);
            r.n = static_cast<std::int32_t>((i * 7) % 100000);
            r.x = static_cast<double>(i) * 1.5 + 0.25;
            r.cat = cats[i % 997];
            r.hex = std::string_view(h, 32);
            r.nul = i % 10 == 0 ? std::nullopt
                                : std::optional<std::int32_t>(static_cast<std::int32_t>(i % 50000));
        }
        if (w) {
            for (std::size_t k = 0; k < m; ++k) {
                w->write_row(batch[k]);
                if (++in_group == rg_rows) {
                    w->end_row_group();
                    in_group = 0;
                }
            }
        } else {
            for (std::size_t k = 0; k < m; ++k) {
                auto const& r = batch[k];
                checksum += static_cast<std::uint64_t>(r.id) + static_cast<std::uint64_t>(r.n) +
                            static_cast<std::uint64_t>(r.x) + r.cat.size() +
                            static_cast<unsigned char>(r.hex[k % 32]) +
                            static_cast<std::uint64_t>(r.nul.value_or(0));
            }
        }
    }
    std::uint64_t largest = 0, largest_raw = 0, groups = 0, bytes = 0;
    if (w) {
        w->close();
        for (auto const& g : w->metadata().row_groups) {
            largest = std::max<std::uint64_t>(
                largest, static_cast<std::uint64_t>(g.total_compressed_size.value_or(0)));
            largest_raw =
                std::max<std::uint64_t>(largest_raw, static_cast<std::uint64_t>(g.total_byte_size));
        }
        groups = w->row_groups_written();
        bytes = w->bytes_written();
        checksum = w->rows_written();
    }
    double const cpu = cpu_seconds() - c0;
    double const wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("streambatch %s rows=%llu wall_s=%.3f cpu_s=%.3f peak_rss=%llu row_groups=%llu "
                "largest_row_group=%llu largest_row_group_uncompressed=%llu file_bytes=%llu "
                "checksum=%llu\n",
                mode.c_str(), static_cast<unsigned long long>(rows), wall, cpu,
                static_cast<unsigned long long>(bench::peak_rss_bytes()),
                static_cast<unsigned long long>(groups), static_cast<unsigned long long>(largest),
                static_cast<unsigned long long>(largest_raw),
                static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(checksum));
    return 0;
}
