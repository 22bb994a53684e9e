// bench/tools/gen_bench_csv.cpp: writes bench/bench_csv.cpp's CSV to a file, for
// bench/tools/compare.sh. The generator is not copied: this file includes bench_csv.cpp (its
// benchmarks are registered but never run) and copies the file its generator writes.
//
//     gen_bench_csv OUT      (STREAMBATCH_BENCH_CSV_MB sets the size, 50 MiB by default)
//
// Prints "rows=R bytes=B" (data rows, header excluded; the file's size).

#include "../bench_csv.cpp"

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: gen_bench_csv OUT\n");
        return 2;
    }
    try {
        auto const& f = file();
        std::filesystem::copy_file(f.path, argv[1],
                                   std::filesystem::copy_options::overwrite_existing);
        std::printf("rows=%llu bytes=%llu\n", static_cast<unsigned long long>(f.rows),
                    static_cast<unsigned long long>(f.bytes));
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "gen_bench_csv: %s\n", e.what());
        return 1;
    }
}
