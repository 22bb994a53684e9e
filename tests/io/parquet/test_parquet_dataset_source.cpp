// parquet::dataset_source: a set of Parquet files as a job's source. Read whole and as n = 1..5
// partitions, the dataset's rows come out exactly once and in order; a source resumed at any
// batch's position reads the rest, once; a file added, removed or changed is refused naming it;
// a file with another schema is refused naming it and the element; an empty directory is an
// empty source; what dataset_sink writes (parts, checkpoint, lock, temp files) reads back.

#include <streambatch/io/parquet/dataset_source.hpp>
#include <streambatch/io/parquet/sink.hpp>
#include <streambatch/io/parquet/writer.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

namespace pq = streambatch::parquet;
namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct temp_dir {
    fs::path path;
    explicit temp_dir(std::string const& name)
        : path(fs::temp_directory_path() /
               ("streambatch-pq-dataset-" + std::to_string(::getpid()) + "-" + name))
    {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

// ids from `first` with a text column, in row groups of the given sizes (0: none is written;
// no sizes: a file without row groups). Returns the next id.
std::int64_t write_ids(fs::path const& p, std::vector<int> const& groups, std::int64_t first)
{
    pq::writer w(p, {pq::column_spec::int64("id"), pq::column_spec::string("name").optional()});
    std::int64_t id = first;
    for (int n : groups) {
        std::vector<std::tuple<std::int64_t, std::optional<std::string>>> rows;
        for (int i = 0; i < n; ++i, ++id)
            rows.emplace_back(id, id % 7 == 0
                                      ? std::nullopt
                                      : std::optional<std::string>("n" + std::to_string(id)));
        w.write_batch(rows);
    }
    w.close();
    return id;
}

// Reads `src` in batches of `batch`, stopping after `stop_after` batches (all when 0); checks
// each row's name; returns the ids read and the positions after each batch.
std::pair<std::vector<std::int64_t>, std::vector<std::string>>
read_batches(pq::dataset_source& src, std::size_t batch, std::size_t stop_after = 0)
{
    std::vector<std::int64_t> ids;
    std::vector<std::string> positions;
    std::size_t n = 0;
    for (auto&& b : src.rows() | sb::views::chunk(batch)) {
        for (auto const& r : b) {
            std::int64_t const id = *r[0].if_int64();
            ids.push_back(id);
            if (id % 7 == 0)
                REQUIRE(r[1].is_null());
            else
                REQUIRE(r[1].to_string() == "n" + std::to_string(id));
        }
        positions.push_back(src.position());
        if (++n == stop_after)
            break;
    }
    return {ids, positions};
}

// The dataset of the tests: 5 files, 11 row groups (the writer writes no empty row group: c has
// none), 1234 rows.
std::int64_t write_dataset(fs::path const& dir)
{
    std::int64_t id = 0;
    id = write_ids(dir / "a.parquet", {100, 37, 250}, id);
    id = write_ids(dir / "b.parquet", {1}, id);
    id = write_ids(dir / "c.parquet", {}, id);
    id = write_ids(dir / "d.parquet", {64, 0, 200, 80, 3}, id);
    id = write_ids(dir / "e.parquet", {0, 300, 99, 100}, id);
    return id;
}

void check_ids(std::vector<std::int64_t> const& ids, std::int64_t from, std::int64_t to)
{
    REQUIRE(ids.size() == std::size_t(to - from));
    for (std::size_t i = 0; i < ids.size(); ++i)
        REQUIRE(ids[i] == from + std::int64_t(i));
}

} // namespace

TEST_CASE("parquet dataset_source: a directory read whole and as n partitions: every row once",
          "[parquet][dataset_source]")
{
    temp_dir d("parts");
    std::int64_t const total = write_dataset(d.path);
    REQUIRE(total == 1234);
    // what is not a part of the dataset: hidden, temp, other names, subdirectories
    std::ofstream(d.path / ".x.parquet") << "junk";
    std::ofstream(d.path / "_metadata.parquet") << "junk";
    std::ofstream(d.path / "f.parquet.tmp") << "junk";
    std::ofstream(d.path / "notes.txt") << "junk";
    fs::create_directory(d.path / "sub.parquet");

    pq::dataset_source whole(d.path);
    CHECK(whole.files() == std::vector<std::string>{"a.parquet", "b.parquet", "c.parquet",
                                                    "d.parquet", "e.parquet"});
    CHECK(whole.groups_total() == 11);
    CHECK(whole.rows_total() == total);
    CHECK(whole.describe() == d.path.string());
    CHECK(whole.position() == "a.parquet 0 0");
    auto const [all, positions] = read_batches(whole, 1000);
    check_ids(all, 0, total);
    CHECK(positions.front() == "e.parquet 0 265"); // 1000 = 387 + 1 + 347 + 265
    CHECK(positions.back() == "end");

    for (std::uint32_t n = 1; n <= 5; ++n) {
        std::vector<std::int64_t> seen;
        std::size_t groups = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            pq::dataset_source part(d.path, {.part = {i, n}});
            CHECK(part.first_group() == 11 * i / n);
            CHECK(part.end_group() == 11 * (i + 1) / n);
            groups += part.end_group() - part.first_group();
            for (std::size_t batch : {1u, 7u, 500u}) {
                pq::dataset_source again(d.path, {.part = {i, n}});
                auto const [ids, _] = read_batches(again, batch);
                CHECK(ids.size() == std::size_t(part.rows_total()));
                if (batch == 7)
                    seen.insert(seen.end(), ids.begin(), ids.end());
            }
        }
        CHECK(groups == 11);
        check_ids(seen, 0, total);
    }

    // A partition's last position is the next partition's start; resuming there reads nothing.
    pq::dataset_source p0(d.path, {.part = {0, 2}}); // global groups 0..4: a, b, d0
    auto const [ids0, pos0] = read_batches(p0, 50);
    check_ids(ids0, 0, 452);
    CHECK(pos0.back() == "d.parquet 1 0");
    pq::dataset_source p0again(d.path, {.part = {0, 2}});
    p0again.seek(pos0.back());
    CHECK(read_batches(p0again, 8).first.empty());
    pq::dataset_source p1(d.path, {.part = {1, 2}});
    CHECK(p1.position() == "d.parquet 1 0");
    CHECK_THROWS_WITH(p1.seek("a.parquet 0 5"),
                      Contains(d.path.string()) && Contains("\"a.parquet 0 5\"") &&
                          Contains("outside partition 1/2 (global row groups 5 to 11)"));

    // A projection reads the named columns, in the given order, across files.
    pq::dataset_source proj(d.path, {.columns = {"name", "id"}, .part = {2, 3}});
    std::int64_t expect = 0;
    {
        pq::dataset_source p(d.path, {.part = {2, 3}});
        for (auto& r : p.rows()) {
            expect = *r[0].if_int64();
            break;
        }
    }
    for (auto& r : proj.rows()) {
        CHECK(r.size() == 2);
        CHECK(*r[1].if_int64() == expect);
        ++expect;
    }
    CHECK(expect == total);
}

TEST_CASE("parquet dataset_source: a source resumed at any batch's position reads the rest, once",
          "[parquet][dataset_source]")
{
    temp_dir d("resume");
    std::int64_t const total = write_dataset(d.path);
    for (std::uint32_t n : {1u, 3u}) {
        for (std::uint32_t i = 0; i < n; ++i) {
            pq::dataset_source ref(d.path, {.part = {i, n}});
            auto const [all, _] = read_batches(ref, 1000000);
            for (std::size_t batch : {1u, 13u, 100u, 400u}) {
                pq::dataset_source first(d.path, {.part = {i, n}});
                auto const [ids, positions] = read_batches(first, batch);
                REQUIRE(ids == all);
                std::size_t done = 0;
                for (std::size_t k = 0; k < positions.size(); ++k) {
                    done = std::min(all.size(), (k + 1) * batch);
                    pq::dataset_source resumed(d.path, {.part = {i, n}});
                    resumed.check_identity({.identity = first.identity()});
                    resumed.seek(positions[k]);
                    CHECK(resumed.position() == positions[k]);
                    auto const [rest, rest_positions] = read_batches(resumed, batch);
                    std::vector<std::int64_t> joined(all.begin(),
                                                     all.begin() + std::ptrdiff_t(done));
                    joined.insert(joined.end(), rest.begin(), rest.end());
                    REQUIRE(joined == all);
                    if (!rest_positions.empty())
                        REQUIRE(rest_positions.back() == positions.back());
                }
            }
        }
    }
    pq::dataset_source end(d.path);
    end.seek("end");
    CHECK(read_batches(end, 5).first.empty());
    CHECK(end.position() == "end");
    CHECK(total == 1234);
}

TEST_CASE("parquet dataset_source: a file added, removed or changed is refused, naming it",
          "[parquet][dataset_source]")
{
    temp_dir d("ident");
    write_ids(d.path / "p1.parquet", {10, 10}, 0);
    write_ids(d.path / "p2.parquet", {5}, 20);
    std::string const before = pq::dataset_source(d.path).identity();
    CHECK_THAT(before, Contains("parquet dataset files=2; p1.parquet bytes=") &&
                           Contains("; p2.parquet bytes=") && Contains(" footer="));
    CHECK(pq::dataset_source(d.path).identity() == before);
    CHECK(pq::dataset_source(d.path, {.part = {1, 2}}).identity() == before); // the whole set's

    auto const refused = [&](std::string const& what) {
        pq::dataset_source now(d.path);
        CHECK_THROWS_AS(now.check_identity({.identity = before}), sb::input_changed);
        CHECK_THROWS_WITH(now.check_identity({.identity = before}),
                          Contains(d.path.string()) && Contains(what) && Contains(before) &&
                              Contains(now.identity()));
    };
    write_ids(d.path / "p3.parquet", {1}, 25);
    refused("p3.parquet was added");
    fs::remove(d.path / "p3.parquet");
    pq::dataset_source(d.path).check_identity({.identity = before});

    fs::rename(d.path / "p2.parquet", d.path / "p2.saved");
    refused("p2.parquet was removed");
    fs::rename(d.path / "p2.saved", d.path / "p2.parquet");

    write_ids(d.path / "p1.parquet", {10, 11}, 0); // rewritten: another file, same name
    refused("p1.parquet changed (now \"bytes=");

    // An explicit list: keys are the paths as given; the order is the list's.
    std::vector<fs::path> const list{d.path / "p2.parquet", d.path / "p1.parquet"};
    pq::dataset_source listed(list);
    CHECK(listed.describe() == (d.path / "p2.parquet").string() + " and 1 more files");
    CHECK(listed.position() == (d.path / "p2.parquet").string() + " 0 0");
    auto const [ids, _] = read_batches(listed, 4);
    std::vector<std::int64_t> want{20, 21, 22, 23, 24};
    for (std::int64_t i = 0; i < 21; ++i)
        want.push_back(i);
    CHECK(ids == want);
    pq::dataset_source swapped(std::vector<fs::path>{list[1], list[0]});
    CHECK_THROWS_WITH(swapped.check_identity({.identity = listed.identity()}),
                      Contains("moved in the files' order"));
    CHECK_THROWS_WITH(pq::dataset_source(std::vector<fs::path>{list[0], list[0]}),
                      Contains(list[0].string()) && Contains("listed twice"));
}

TEST_CASE("parquet dataset_source: another schema, bad positions, misuse and an empty directory",
          "[parquet][dataset_source]")
{
    temp_dir d("schema");
    write_ids(d.path / "p1.parquet", {3}, 0);
    {
        pq::writer w(d.path / "p2.parquet",
                     {pq::column_spec::int64("id"), pq::column_spec::int64("name").optional()});
        w.write_row(std::tuple<std::int64_t, std::optional<std::int64_t>>{1, 2});
        w.close();
    }
    CHECK_THROWS_AS(pq::dataset_source(d.path), pq::error);
    CHECK_THROWS_WITH(pq::dataset_source(d.path),
                      Contains((d.path / "p2.parquet").string()) &&
                          Contains("schema differs from the dataset's first file") &&
                          Contains("schema element 2 (\"name\") has type INT64 where the first "
                                   "file has BYTE_ARRAY"));
    fs::remove(d.path / "p2.parquet");
    std::ofstream(d.path / "p2.parquet") << "not parquet at all";
    CHECK_THROWS_WITH(pq::dataset_source(d.path), Contains((d.path / "p2.parquet").string()));
    fs::remove(d.path / "p2.parquet");

    write_ids(d.path / "p2.parquet", {4, 4}, 3);
    pq::dataset_source s(d.path);
    for (char const* bad : {"", "1", "p1.parquet 0", "p1.parquet x 1", "p1.parquet 0 -1", "0 0"})
        CHECK_THROWS_WITH(s.seek(bad), Contains(d.path.string()) && Contains("position"));
    CHECK_THROWS_WITH(s.seek("p9.parquet 0 0"), Contains("names no file of the dataset"));
    CHECK_THROWS_WITH(s.seek("p1.parquet 0 4"),
                      Contains("is not a row of p1.parquet (1 row groups)"));
    CHECK_THROWS_WITH(s.seek("p2.parquet 3 0"), Contains("is not a row of p2.parquet"));
    s.seek("p2.parquet 1 2");
    CHECK(read_batches(s, 4).first == std::vector<std::int64_t>{9, 10});
    CHECK(s.position() == "end");
    CHECK_THROWS_AS(s.rows(), std::logic_error);
    CHECK_THROWS_AS(s.seek("end"), std::logic_error);
    CHECK_THROWS_AS(s.check_identity({}), std::logic_error);
    CHECK_THROWS_WITH(pq::dataset_source(d.path, {.columns = {"nope"}}).rows(), Contains("nope"));
    CHECK_THROWS_AS(pq::dataset_source(d.path, {.part = {2, 2}}), std::invalid_argument);
    CHECK_THROWS_WITH(pq::dataset_source(d.path / "missing"),
                      Contains((d.path / "missing").string()) && Contains("cannot list"));

    temp_dir empty("empty");
    for (std::uint32_t n : {1u, 3u}) {
        pq::dataset_source e(empty.path, {.part = {n - 1, n}});
        CHECK(e.files().empty());
        CHECK(e.identity() == "parquet dataset files=0");
        CHECK(e.position() == "end");
        e.check_identity({.identity = "parquet dataset files=0"});
        e.seek("end");
        CHECK(read_batches(e, 3).first.empty());
    }
    pq::dataset_source nothing{std::vector<fs::path>{}};
    CHECK(nothing.describe() == "an empty list of files");
    CHECK(read_batches(nothing, 3).first.empty());
}

TEST_CASE("parquet dataset_source: reads what parquet::dataset_sink wrote, in commit order",
          "[parquet][dataset_source]")
{
    temp_dir d("sink");
    fs::path const dir = d.path / "out";
    std::int64_t id = 0;
    {
        pq::dataset_sink sink(
            dir, {pq::column_spec::int64("id"), pq::column_spec::string("name").optional()},
            {.batches_per_part = 3});
        REQUIRE_FALSE(sink.open({.job = "load"}));
        for (std::uint64_t b = 1; b <= 10; ++b) {
            std::vector<std::tuple<std::int64_t, std::optional<std::string>>> rows;
            for (std::uint64_t i = 0; i < b * 11; ++i, ++id)
                rows.emplace_back(id, id % 7 == 0
                                          ? std::nullopt
                                          : std::optional<std::string>("n" + std::to_string(id)));
            sink.commit(rows, {.position = std::to_string(id), .batches = b});
        }
        sink.close();
    }
    pq::dataset_source whole(dir);
    CHECK(whole.files().size() == 4); // 3 + 3 + 3 + 1 batches
    CHECK(whole.groups_total() == 10);
    check_ids(read_batches(whole, 64).first, 0, id);
    for (std::uint32_t n = 2; n <= 5; ++n) {
        std::vector<std::int64_t> seen;
        for (std::uint32_t i = 0; i < n; ++i) {
            pq::dataset_source part(dir, {.part = {i, n}});
            auto const ids = read_batches(part, 17).first;
            seen.insert(seen.end(), ids.begin(), ids.end());
        }
        check_ids(seen, 0, id);
    }
}

TEST_CASE(
    "parquet dataset_source: a worker reads only its own files' pages, and a moved source reads on",
    "[parquet][dataset_source]")
{
    temp_dir d("own");
    write_ids(d.path / "p1.parquet", {10, 10}, 0);
    write_ids(d.path / "p2.parquet", {10, 10}, 20);
    { // damage p2's first page header (its footer stays whole)
        std::fstream f(d.path / "p2.parquet", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(4);
        std::string const zeros(24, '\xff');
        f.write(zeros.data(), std::streamsize(zeros.size()));
    }
    pq::dataset_source first(d.path, {.part = {0, 2}}); // p1's 2 groups
    check_ids(read_batches(first, 3).first, 0, 20);
    pq::dataset_source second(d.path, {.part = {1, 2}});
    CHECK_THROWS_WITH(read_batches(second, 3),
                      Contains((d.path / "p2.parquet").string()) && Contains("row group 0"));

    // Read whole, the damaged page stops the view at p2's start: the iterator is at its end and
    // position() names the row that could not be read (the reader of p1 is gone).
    pq::dataset_source whole(d.path);
    auto rows = whole.rows();
    auto it = rows.begin();
    std::vector<std::int64_t> ids;
    CHECK_THROWS_WITH(
        [&] {
            for (; it != rows.end(); ++it)
                ids.push_back(*(*it)[0].if_int64());
        }(),
        Contains((d.path / "p2.parquet").string()) && Contains("row group 0"));
    check_ids(ids, 0, 20);
    CHECK(it == rows.end());
    CHECK(whole.position() == "p2.parquet 0 0");

    // rows() then a move, the moved-from source destroyed: the view reads on through the
    // moved-to source, across a file boundary
    temp_dir m("moved");
    for (int i = 0; i < 4; ++i)
        write_ids(m.path / ("q" + std::to_string(i) + ".parquet"), {10}, 10 * i);
    std::optional<pq::dataset_source> src(std::in_place, m.path,
                                          pq::dataset_source_options{.part = {0, 2}});
    auto moved_rows = src->rows();
    pq::dataset_source moved(std::move(*src));
    src.reset();
    std::vector<std::int64_t> moved_ids;
    std::vector<std::string> moved_positions;
    for (auto& r : moved_rows) {
        moved_ids.push_back(*r[0].if_int64());
        moved_positions.push_back(moved.position());
    }
    check_ids(moved_ids, 0, 20);
    CHECK(moved_positions[9] == "q0.parquet 0 9");
    CHECK(moved_positions[10] == "q1.parquet 0 0");
    CHECK(moved.position() == "q2.parquet 0 0");
}

namespace {

std::size_t open_fds()
{
    std::size_t n = 0;
    for ([[maybe_unused]] auto const& e : fs::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

} // namespace

TEST_CASE("parquet dataset_source: one file open at a time, and a file rewritten after the "
          "source was made is refused, naming it",
          "[parquet][dataset_source]")
{
    temp_dir d("fds");
    for (int i = 0; i < 40; ++i)
        write_ids(d.path / ("p" + std::to_string(100 + i) + ".parquet"), {2, 1}, 3 * i);
    std::size_t const base = open_fds();
    pq::dataset_source src(d.path);
    CHECK(open_fds() <= base); // every footer read, every file closed
    std::vector<std::int64_t> ids;
    std::size_t most = 0;
    for (auto& r : src.rows()) {
        ids.push_back(*r[0].if_int64());
        most = std::max(most, open_fds());
    }
    check_ids(ids, 0, 120);
    CHECK(most <= base + 1); // the file being read
    CHECK(open_fds() <= base);

    temp_dir c("changed");
    write_ids(c.path / "p1.parquet", {10, 10}, 0);
    write_ids(c.path / "p2.parquet", {5}, 20);
    pq::dataset_source before(c.path);
    write_ids(c.path / "p2.parquet", {6}, 20); // rewritten: another size and footer
    std::vector<std::int64_t> got;
    auto const read = [&] {
        for (auto& r : before.rows())
            got.push_back(*r[0].if_int64());
    };
    CHECK_THROWS_AS(read(), sb::input_changed);
    CHECK_THROWS_WITH(before.check_identity({}), Contains("after rows()"));
    check_ids(got, 0, 20);
    CHECK(before.position() == "p2.parquet 0 0");
    pq::dataset_source again(c.path);
    again.seek("p2.parquet 0 0");
    CHECK(read_batches(again, 4).first.size() == 6);
    pq::dataset_source stale(c.path);
    write_ids(c.path / "p2.parquet", {5}, 20);
    stale.seek("p2.parquet 0 0");
    CHECK_THROWS_WITH(read_batches(stale, 4), Contains((c.path / "p2.parquet").string()) &&
                                                  Contains("changed since the source was opened") &&
                                                  Contains("(now \"bytes=") &&
                                                  Contains("was \"bytes="));
}

TEST_CASE("parquet dataset_source: the same file under two spellings, and a dangling link",
          "[parquet][dataset_source]")
{
    temp_dir d("spellings");
    write_ids(d.path / "a.parquet", {3}, 0);
    write_ids(d.path / "b.parquet", {3}, 3);
    fs::path const a = d.path / "a.parquet";
    fs::path const dot = d.path / "." / "a.parquet";
    CHECK_THROWS_AS(pq::dataset_source(std::vector<fs::path>{a, d.path / "b.parquet", dot}),
                    std::invalid_argument);
    CHECK_THROWS_WITH(pq::dataset_source(std::vector<fs::path>{a, d.path / "b.parquet", dot}),
                      Contains("listed twice (as " + a.string() + " and as " + dot.string() + ")"));
    fs::create_symlink(a, d.path / "link.parquet.lnk");
    CHECK_THROWS_WITH(pq::dataset_source(std::vector<fs::path>{d.path / "link.parquet.lnk", a}),
                      Contains("listed twice"));
    fs::remove(d.path / "link.parquet.lnk");
    pq::dataset_source both(std::vector<fs::path>{a, d.path / "b.parquet"});
    check_ids(read_batches(both, 2).first, 0, 6);

    // a "*.parquet" entry that cannot be stat'ed is an error, not a file skipped
    fs::create_symlink(d.path / "missing", d.path / "c.parquet");
    CHECK_THROWS_AS(pq::dataset_source(d.path), pq::error);
    CHECK_THROWS_WITH(pq::dataset_source(d.path),
                      Contains((d.path / "c.parquet").string()) && Contains("cannot stat"));
}
