// Every value of every flat file of parquet-testing's data/ against DuckDB's reading of it
// (each column cast to VARCHAR), dumped by oracle/duckdb_oracle.sh (the CTest fixture
// parquet_duckdb_oracle) into STREAMBATCH_PARQUET_ORACLE, and the files DuckDB wrote there
// (generated/: every codec it writes, data pages v1 and v2, every type; see duckdb_dump.mjs).
// value::to_string prints as DuckDB does. Files we refuse on purpose (CRC mismatches) and files
// DuckDB refuses (Hadoop LZ4, BYTE_STREAM_SPLIT on integers) are listed, not compared.
#include <streambatch/io/parquet/reader.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "parquet_test_support.hpp"

namespace pq = streambatch::parquet;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_tsv(std::string const& line)
{
    std::vector<std::string> out(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
        char const c = line[i];
        if (c == '\t')
            out.emplace_back();
        else if (c == '\\' && i + 1 < line.size()) {
            char const n = line[++i];
            out.back() += n == 't'   ? '\t'
                          : n == 'n' ? '\n'
                          : n == 'r' ? '\r'
                          : n == 'N' ? '\x01'
                                     : n;
        } else
            out.back() += c;
    }
    return out;
}

fs::path oracle_dir()
{
    char const* env = std::getenv("STREAMBATCH_PARQUET_ORACLE");
    fs::path const dir = env ? env : "";
    if (!dir.empty() && fs::exists(dir / ".done"))
        return dir;
    std::fprintf(stderr, "no DuckDB dump at \"%s\" (the parquet_duckdb_oracle fixture): skipped\n",
                 dir.string().c_str());
    std::exit(77);
}

} // namespace

TEST_CASE("oracle: every value of every flat file of data/ equals DuckDB's", "[parquet][oracle]")
{
    fs::path const data = parquet_test::testing_dir() / "data";
    fs::path const dump = oracle_dir();
    // Files whose reading differs on purpose (DuckDB's side in the .error dump, or ours).
    std::map<std::string, std::string> const refused_by_us = {
        {"datapage_v1-corrupt-checksum.parquet", "CRC mismatch"},
        {"rle-dict-uncompressed-corrupt-checksum.parquet", "CRC mismatch"},
        {"large_string_map.brotli.parquet", "BROTLI"},
    };
    int compared_files = 0;
    std::int64_t compared_values = 0;
    std::vector<fs::path> files;
    for (auto const& e : fs::directory_iterator(data))
        files.push_back(e.path());
    int generated = 0;
    for (auto const& e : fs::directory_iterator(dump / "generated")) {
        files.push_back(e.path());
        ++generated;
    }
    CHECK(generated == 10); // 5 codecs, data pages v1 and v2
    for (fs::path const& p : files) {
        if (p.extension() != ".parquet")
            continue;
        std::string const name = p.filename().string();
        INFO(name);
        pq::file f(p);
        if (!f.schema().is_flat() || refused_by_us.count(name))
            continue;
        fs::path const tsv = dump / (name + ".tsv");
        if (!fs::exists(tsv)) {
            // DuckDB refused it; we read it (the other reader test checks the row count)
            std::ifstream err(dump / (name + ".error"));
            std::string why;
            std::getline(err, why);
            WARN(name << ": DuckDB refused it: " << why);
            continue;
        }
        std::ifstream in(tsv);
        std::string line;
        REQUIRE(std::getline(in, line));
        auto const header = split_tsv(line);
        std::int64_t n = 0, mismatches = 0;
        for (auto const& r : pq::rows(p)) {
            REQUIRE(std::getline(in, line));
            auto const fields = split_tsv(line);
            REQUIRE(fields.size() == r.size());
            for (std::size_t i = 0; i < r.size(); ++i) {
                std::string const want = fields[i] == "\x01" ? "NULL" : fields[i];
                std::string const got = r[i].to_string();
                if (got != want && mismatches++ < 5)
                    FAIL_CHECK("row " << n << " column " << header[i] << ": DuckDB \"" << want
                                      << "\", we \"" << got << "\"");
                ++compared_values;
            }
            ++n;
        }
        CHECK_FALSE(std::getline(in, line));
        CHECK(mismatches == 0);
        ++compared_files;
    }
    CHECK(compared_files >= 44 + generated);
    WARN(compared_files << " files, " << compared_values << " values compared");
}
