// parquet::file_source: a Parquet file as a job's source. Positions are exact at every batch
// boundary (a resumed source hands out the rows after the batch, none twice, none lost), the
// partitions split the row groups and cover the file once, a changed file is refused, and a
// position that does not parse or lies outside the partition is refused naming it.

#include <streambatch/io/parquet/job_source.hpp>
#include <streambatch/io/parquet/writer.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

namespace pq = streambatch::parquet;
namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct temp_file {
    fs::path path;
    explicit temp_file(std::string const& name)
        : path(fs::temp_directory_path() /
               ("streambatch-pq-source-" + std::to_string(::getpid()) + "-" + name))
    {}
    ~temp_file() { fs::remove(path); }
};

// ids 0..n-1 with a text column, in row groups of the given sizes (0 allowed: an empty group).
void write_ids(fs::path const& p, std::vector<int> const& groups)
{
    pq::writer w(p, {pq::column_spec::int64("id"), pq::column_spec::string("name").optional()});
    std::int64_t id = 0;
    for (int n : groups) {
        std::vector<std::tuple<std::int64_t, std::optional<std::string>>> rows;
        for (int i = 0; i < n; ++i, ++id)
            rows.emplace_back(id, id % 7 == 0
                                      ? std::nullopt
                                      : std::optional<std::string>("n" + std::to_string(id)));
        w.write_batch(rows);
    }
    w.close();
}

// Reads `src` in batches of `batch`, stopping after `stop_after` batches (all when 0); returns
// the ids read and the positions after each batch.
std::pair<std::vector<std::int64_t>, std::vector<std::string>>
read_batches(pq::file_source& src, std::size_t batch, std::size_t stop_after = 0)
{
    std::vector<std::int64_t> ids;
    std::vector<std::string> positions;
    std::size_t n = 0;
    for (auto&& b : src.rows() | sb::views::chunk(batch)) {
        for (auto const& r : b)
            ids.push_back(*r[0].if_int64());
        positions.push_back(src.position());
        if (++n == stop_after)
            break;
    }
    return {ids, positions};
}

} // namespace

TEST_CASE("parquet file_source: a source resumed at any batch's position reads the rest, once",
          "[parquet][job_source]")
{
    temp_file f("resume.parquet");
    write_ids(f.path, {100, 37, 250, 1, 64});
    std::int64_t const total = 452;

    for (std::size_t batch : {1u, 7u, 64u, 100u, 1000u}) {
        pq::file_source whole(f.path);
        auto const [all, positions] = read_batches(whole, batch);
        REQUIRE(all.size() == std::size_t(total));
        for (std::size_t i = 0; i < all.size(); ++i)
            REQUIRE(all[i] == std::int64_t(i));
        CHECK(positions.back() == "4 64"); // after the last row: the end of the last group
        // Resume after each batch boundary: the rest, exactly.
        for (std::size_t k = 0; k < positions.size(); k += positions.size() / 9 + 1) {
            pq::file_source again(f.path);
            again.check_identity({.identity = whole.identity()});
            again.seek(positions[k]);
            auto const [rest, _] = read_batches(again, batch);
            std::size_t const done = std::min<std::size_t>((k + 1) * batch, all.size());
            REQUIRE(rest.size() == all.size() - done);
            if (!rest.empty())
                CHECK(rest.front() == std::int64_t(done));
        }
    }

    // The position of a source no row was taken from is its start; after a first batch that
    // ends where a row group ends, the next group's first row.
    pq::file_source fresh(f.path);
    CHECK(fresh.position() == "0 0");
    auto const [first, pos] = read_batches(fresh, 100, 1);
    CHECK(first.size() == 100);
    CHECK(pos.front() == "1 0");
}

TEST_CASE("parquet file_source: partitions split the row groups and cover the file once",
          "[parquet][job_source]")
{
    temp_file f("parts.parquet");
    write_ids(f.path, {10, 20, 30, 40, 50});
    for (std::uint32_t n : {1u, 2u, 3u, 5u, 8u}) {
        std::vector<std::int64_t> seen;
        for (std::uint32_t i = 0; i < n; ++i) {
            pq::file_source part(f.path, {.part = {i, n}});
            CHECK(part.first_group() == 5 * i / n);
            CHECK(part.end_group() == 5 * (i + 1) / n);
            auto const [ids, _] = read_batches(part, 7);
            CHECK(ids.size() == std::size_t(part.rows_total()));
            seen.insert(seen.end(), ids.begin(), ids.end());
        }
        REQUIRE(seen.size() == 150);
        for (std::size_t i = 0; i < seen.size(); ++i)
            REQUIRE(seen[i] == std::int64_t(i));
    }

    // A partition's last position is the next partition's start; resuming there reads nothing.
    pq::file_source p0(f.path, {.part = {0, 2}});
    auto const [ids0, pos0] = read_batches(p0, 8);
    CHECK(ids0.size() == 30);
    CHECK(pos0.back() == "2 0");
    pq::file_source p0again(f.path, {.part = {0, 2}});
    p0again.seek(pos0.back());
    CHECK(read_batches(p0again, 8).first.empty());

    // A position of another partition is refused, naming both.
    pq::file_source p1(f.path, {.part = {1, 2}});
    CHECK_THROWS_WITH(p1.seek("0 5"), Contains(f.path.string()) && Contains("\"0 5\"") &&
                                          Contains("outside partition 1/2 (row groups 2 to 5)"));
}

TEST_CASE("parquet file_source: another file, bad positions and misuse are refused",
          "[parquet][job_source]")
{
    temp_file f("ident.parquet");
    write_ids(f.path, {10, 10});
    std::string const before = pq::file_source(f.path).identity();
    CHECK_THAT(before, Contains("parquet bytes=") && Contains(" footer="));
    CHECK(pq::file_source(f.path).identity() == before); // the same file: the same identity

    write_ids(f.path, {10, 11}); // rewritten: another file at the same path
    pq::file_source changed(f.path);
    CHECK_THROWS_AS(changed.check_identity({.identity = before}), sb::input_changed);
    CHECK_THROWS_WITH(changed.check_identity({.identity = before}),
                      Contains(f.path.string()) && Contains(before) &&
                          Contains(changed.identity()));

    pq::file_source s(f.path);
    for (char const* bad : {"", "1", "1 x", "x 1", "1 2 3", "0 -1"})
        CHECK_THROWS_WITH(s.seek(bad), Contains(f.path.string()) && Contains("does not parse"));
    CHECK_THROWS_WITH(s.seek("0 11"), Contains("is not a row of the file (2 row groups)"));
    CHECK_THROWS_WITH(s.seek("3 0"), Contains("is not a row of the file"));
    s.seek("1 11"); // the end of the file: nothing left
    CHECK(read_batches(s, 4).first.empty());
    CHECK(s.position() == "1 11");
    CHECK_THROWS_AS(s.rows(), std::logic_error);
    CHECK_THROWS_AS(s.seek("0 0"), std::logic_error);
    CHECK_THROWS_AS(s.check_identity({}), std::logic_error);

    pq::file_source proj(f.path, {.columns = {"name", "id"}});
    std::vector<pq::row> rows;
    for (auto& r : proj.rows())
        rows.push_back(r);
    REQUIRE(rows.size() == 21);
    CHECK(rows[1][0].to_string() == "n1");
    CHECK(*rows[1][1].if_int64() == 1);
    CHECK(rows[7][0].is_null());
    CHECK_THROWS_WITH(pq::file_source(f.path, {.columns = {"nope"}}).rows(), Contains("nope"));
    CHECK_THROWS_WITH(pq::file_source(f.path.string() + ".missing"),
                      Contains(f.path.string() + ".missing"));
}
