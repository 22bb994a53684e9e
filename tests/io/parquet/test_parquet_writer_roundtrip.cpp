// The writer's round-trip property through the oracles (issue 14): the random cases of
// roundtrip_support.hpp (every column_spec type, required or optional, all-null columns, every
// codec, dictionary on/off, small pages and row groups, edge values), in the values the
// oracles represent exactly (mode{.oracles = true}), written by parquet::writer and read by
// DuckDB, parquet-wasm and hyparquet (read.mjs): every row of every file equal to what was
// written, in read.mjs's canonical text. A failure names the case's seed and schema.
#include <streambatch/io/parquet/writer.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "roundtrip_support.hpp"
#include "writer_test_support.hpp"

namespace pq = streambatch::parquet;
namespace fs = std::filesystem;

namespace {

/// read.mjs's rows of each file for `engine` ("!! <message>" for a file it refused).
std::map<std::string, std::vector<std::string>> read_files(std::string const& engine,
                                                           std::vector<fs::path> const& files)
{
    std::vector<std::string> args{engine};
    for (auto const& f : files)
        args.push_back(f.string());
    args.push_back("/dev/null"); // two or more files: "== <file>" lines, no exit on a refusal
    std::map<std::string, std::vector<std::string>> out;
    std::vector<std::string>* rows = nullptr;
    std::istringstream in(writer_test::node("read.mjs", args));
    for (std::string l; std::getline(in, l);) {
        if (l.rfind("== ", 0) == 0)
            rows = &out[l.substr(3)];
        else if (rows)
            rows->push_back(l);
    }
    return out;
}

} // namespace

TEST_CASE("writer: random schemas, options and edge values read back by DuckDB, parquet-wasm "
          "and hyparquet",
          "[parquet][writer][oracle][property]")
{
    writer_test::oracles();
    writer_test::temp_dir dir("roundtrip");
    std::uint64_t const base = 1'406'000;
    std::vector<roundtrip::file_case> cases;
    std::vector<fs::path> files;
    for (std::uint64_t k = 0; k < 60; ++k) {
        cases.push_back(roundtrip::make_case(base + k, {.oracles = true}, 8, 300));
        files.push_back(dir.path / ("case-" + std::to_string(base + k) + ".parquet"));
        roundtrip::write_case(files.back(), cases.back());
    }
    for (std::string engine : {"duckdb", "parquet-wasm", "hyparquet"}) {
        auto const got = read_files(engine, files);
        for (std::size_t k = 0; k < cases.size(); ++k) {
            auto const& fc = cases[k];
            INFO(engine << " reading " << files[k].filename().string() << "; " << fc.describe());
            auto const it = got.find(files[k].string());
            REQUIRE(it != got.end());
            if (!it->second.empty() && it->second.front().rfind("!! ", 0) == 0)
                FAIL(engine << " refused the file: " << it->second.front());
            REQUIRE(it->second.size() == fc.rows.size());
            for (std::size_t r = 0; r < fc.rows.size(); ++r) {
                auto const want = writer_test::canon_row(fc.columns, fc.rows[r]);
                if (it->second[r] != want)
                    FAIL("row " << r << ": read " << it->second[r] << ", written " << want);
            }
        }
    }
}
