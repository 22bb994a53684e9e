// bench/tools/sb_csv_count.cpp: streambatch's CSV reader, for bench/tools/compare.sh.
//
//     sb_csv_count FILE
//
// Reads FILE with csv::reader (header row as the column names, 64 KiB blocks with read(2)) and
// prints one line: "rows=R fields=F bytes=B", the data rows (header excluded), their fields,
// and the sum of the fields' byte lengths. Every tool of the comparison (libcsv_count.c,
// py_csv_count.py, pandas_count.py, duckdb_count.mjs) prints the same line for the same file:
// compare.sh checks they agree before it compares their times.

#include <streambatch/io/csv.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string_view>

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: sb_csv_count FILE\n");
        return 2;
    }
    try {
        std::uint64_t rows = 0, fields = 0, bytes = 0;
        for (streambatch::csv::row& r : streambatch::csv::reader(argv[1])) {
            fields += r.size();
            for (std::string_view s : r)
                bytes += s.size();
            ++rows;
        }
        std::printf("rows=%llu fields=%llu bytes=%llu\n", static_cast<unsigned long long>(rows),
                    static_cast<unsigned long long>(fields),
                    static_cast<unsigned long long>(bytes));
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "sb_csv_count: %s\n", e.what());
        return 1;
    }
}
