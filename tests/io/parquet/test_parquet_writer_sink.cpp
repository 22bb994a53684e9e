// parquet::dataset_sink: a dataset directory of part files under the job sink contract: commit
// and resume, what a killed writer left removed on open, the fence, and errors that name the
// directory and the part. Parts are read back by DuckDB (the npm oracles).
#include <streambatch/io/parquet.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "writer_test_support.hpp"

namespace pq = streambatch::parquet;
namespace fs = std::filesystem;
using writer_test::temp_dir;

namespace {

using row = std::tuple<std::int64_t, std::optional<std::string>>;
using batch = std::vector<row>;

static_assert(streambatch::job_sink<pq::dataset_sink, batch const&>);
static_assert(streambatch::job_sink<pq::dataset_sink, std::vector<std::vector<pq::cell>>>);

std::vector<pq::column_spec> columns()
{
    return {pq::column_spec::int64("id"), pq::column_spec::string("name").optional()};
}

batch make_batch(std::int64_t from, std::int64_t n)
{
    batch b;
    for (std::int64_t i = from; i < from + n; ++i)
        b.emplace_back(i, i % 5 == 0 ? std::nullopt
                                     : std::optional<std::string>("n" + std::to_string(i)));
    return b;
}

streambatch::job_state state_after(std::uint64_t batches, std::uint64_t records)
{
    return {.position = std::to_string(records),
            .identity = "input v1",
            .batches = batches,
            .records = records};
}

/// What DuckDB reads from the dataset's part files, in part order (read.mjs's lines).
std::vector<std::string> read_dataset(fs::path const& dir)
{
    std::vector<std::string> args{"duckdb"};
    std::vector<fs::path> parts;
    for (auto const& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".parquet" && e.path().filename().string().front() != '.')
            parts.push_back(e.path());
    std::sort(parts.begin(), parts.end());
    for (auto const& p : parts)
        args.push_back(p.string());
    args.push_back("/dev/null"); // two or more files: "== <file>" lines, and no exit on error
    std::vector<std::string> rows;
    std::istringstream in(writer_test::node("read.mjs", args));
    for (std::string l; std::getline(in, l);)
        if (l.rfind("== ", 0) != 0 && l.rfind("!! ", 0) != 0)
            rows.push_back(l);
    return rows;
}

std::vector<std::string> canon(batch const& b)
{
    std::vector<std::string> out;
    for (auto const& [id, name] : b)
        out.push_back("[" + std::to_string(id) + "," +
                      (name ? writer_test::json_string(*name) : std::string("null")) + "]");
    return out;
}

std::vector<std::string> concat(std::vector<batch> const& bs)
{
    std::vector<std::string> out;
    for (auto const& b : bs)
        for (auto const& l : canon(b))
            out.push_back(l);
    return out;
}

std::vector<std::string> names_in(fs::path const& dir)
{
    std::vector<std::string> v;
    for (auto const& e : fs::directory_iterator(dir))
        v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

} // namespace

TEST_CASE("sink: a part per batch, the checkpoint names the last, a reopen resumes",
          "[parquet][sink][oracle]")
{
    writer_test::oracles();
    temp_dir tmp("sink-resume");
    auto const dir = tmp.path / "dataset";
    std::vector<batch> written;
    {
        pq::dataset_sink sink(dir, columns(), {.writer = {.codec = pq::compression_codec::zstd}});
        CHECK_FALSE(sink.open({.job = "load"}).has_value());
        CHECK(sink.describe() == dir.string());
        for (std::uint64_t i = 0; i < 3; ++i) {
            written.push_back(make_batch(static_cast<std::int64_t>(100 * i), 100));
            sink.commit(written.back(), state_after(i + 1, 100 * (i + 1)));
            CHECK(sink.last_part() == i + 1);
        }
        sink.close();
    }
    CHECK(names_in(dir) ==
          std::vector<std::string>{"_streambatch.lock", "_streambatch_checkpoint.json",
                                   "part-00000001.parquet", "part-00000002.parquet",
                                   "part-00000003.parquet"});
    std::ifstream ck(dir / "_streambatch_checkpoint.json");
    std::string const text((std::istreambuf_iterator<char>(ck)), std::istreambuf_iterator<char>());
    CHECK(text.find("\"last_part\": 3, \"last_part_name\": \"part-00000003.parquet\"") !=
          std::string::npos);
    {
        pq::dataset_sink sink(dir, columns());
        auto const st = sink.open({.job = "load"});
        REQUIRE(st.has_value());
        CHECK(*st == state_after(3, 300));
        CHECK(sink.removed().empty());
        CHECK(sink.parts().size() == 3);
        written.push_back(make_batch(300, 50));
        sink.commit(written.back(), state_after(4, 350));
        sink.close();
    }
    CHECK(read_dataset(dir) == concat(written));
    pq::file last((dir / "part-00000004.parquet").string());
    CHECK(last.num_rows() == 50);
}

TEST_CASE("sink: open removes temp files and parts past the checkpoint", "[parquet][sink][oracle]")
{
    writer_test::oracles();
    temp_dir tmp("sink-crash");
    auto const dir = tmp.path / "ds";
    std::vector<batch> written;
    {
        pq::dataset_sink sink(dir, columns());
        sink.open({.job = "load"});
        for (std::uint64_t i = 0; i < 2; ++i) {
            written.push_back(make_batch(static_cast<std::int64_t>(10 * i), 10));
            sink.commit(written.back(), state_after(i + 1, 10 * (i + 1)));
        }
    } // destroyed without close(): as a crash after the commit
    // a killed writer's leftovers: a part finished and renamed but never committed, a half
    // part, a half checkpoint
    fs::copy_file(dir / "part-00000002.parquet", dir / "part-00000003.parquet");
    std::ofstream(dir / ".part-00000004.parquet.tmp") << "PAR1 half";
    std::ofstream(dir / "_streambatch_checkpoint.json.tmp") << "{\"version\": 1, \"sink";
    {
        pq::dataset_sink sink(dir, columns());
        auto const st = sink.open({.job = "load"});
        REQUIRE(st.has_value());
        CHECK(*st == state_after(2, 20));
        CHECK(sink.removed().size() == 3);
        CHECK(sink.note().find("removed 3 file(s)") != std::string::npos);
        CHECK(sink.last_part() == 2);
        CHECK(names_in(dir) ==
              std::vector<std::string>{"_streambatch.lock", "_streambatch_checkpoint.json",
                                       "part-00000001.parquet", "part-00000002.parquet"});
        written.push_back(make_batch(1000, 7));
        sink.commit(written.back(), state_after(3, 27));
        sink.close();
    }
    CHECK(read_dataset(dir) == concat(written));

    // two batches a part: the first is only in the hidden temp part until the second comes
    {
        pq::dataset_sink sink(dir, columns(), {.batches_per_part = 2});
        REQUIRE(sink.open({.job = "load"}) == state_after(3, 27));
        sink.commit(make_batch(2000, 5), state_after(4, 32));
        CHECK(sink.last_part() == 3);
        CHECK(fs::exists(dir / ".part-00000004.parquet.tmp"));
        CHECK_FALSE(fs::exists(dir / "part-00000004.parquet"));
    } // a crash: batch 4 was never committed
    CHECK_FALSE(fs::exists(dir / ".part-00000004.parquet.tmp"));
    {
        pq::dataset_sink sink(dir, columns(), {.batches_per_part = 2});
        REQUIRE(sink.open({.job = "load"}) == state_after(3, 27)); // resumes before batch 4
        written.push_back(make_batch(2000, 5));
        sink.commit(written.back(), state_after(4, 32));
        sink.close(); // finishes the part of one batch
        CHECK(sink.last_part() == 4);
    }
    pq::dataset_sink again(dir, columns());
    CHECK(again.open({.job = "load"}) == state_after(4, 32));
    again.close();
    CHECK(read_dataset(dir) == concat(written));
}

TEST_CASE("sink: a live holder is refused, a dead one taken over, fence_lost", "[parquet][sink]")
{
    temp_dir tmp("sink-fence");
    auto const dir = tmp.path / "ds";
    pq::dataset_sink a(dir, columns());
    a.open({.job = "load"});
    pq::dataset_sink b(dir, columns());
    try {
        b.open({.job = "load"});
        FAIL("no fence_held");
    } catch (streambatch::fence_held const& e) {
        std::string const m = e.what();
        CHECK(e.by.pid == static_cast<std::int64_t>(::getpid()));
        CHECK(m.find("dataset " + dir.string()) != std::string::npos);
        CHECK(m.find("pid " + std::to_string(::getpid())) != std::string::npos);
        CHECK(m.find("job 'load' wrote nothing") != std::string::npos);
    }
    a.commit(make_batch(0, 3), state_after(1, 3));
    // another writer's checkpoint (as one that took the lock over would write)
    std::ofstream(dir / "_streambatch_checkpoint.json", std::ios::app) << " ";
    try {
        a.commit(make_batch(3, 3), state_after(2, 6));
        FAIL("no fence_lost");
    } catch (streambatch::fence_lost const& e) {
        std::string const m = e.what();
        CHECK(m.find("dataset " + dir.string()) != std::string::npos);
        CHECK(m.find("is no longer the one this writer last wrote") != std::string::npos);
        CHECK(m.find("batch 2 was not written") != std::string::npos);
    }
    CHECK_FALSE(fs::exists(dir / "part-00000002.parquet"));
    CHECK_FALSE(fs::exists(dir / ".part-00000002.parquet.tmp"));
    a.close();

    // a holder that died without close(): its lock is free, its line still in the lock file
    auto const dir2 = tmp.path / "ds2";
    pid_t const child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        pq::dataset_sink c(dir2, columns());
        c.open({.job = "load"});
        ::_exit(0); // no close, no destructor
    }
    int st = 0;
    REQUIRE(::waitpid(child, &st, 0) == child);
    REQUIRE(WIFEXITED(st));
    pq::dataset_sink d(dir2, columns());
    CHECK_FALSE(d.open({.job = "load"}).has_value());
    CHECK(d.note().find("took over the lock") != std::string::npos);
    CHECK(d.note().find("pid " + std::to_string(child)) != std::string::npos);
}

TEST_CASE("sink: errors name the directory and the part", "[parquet][sink]")
{
    temp_dir tmp("sink-errors");
    auto const dir = tmp.path / "ds";
    auto const message = [](auto&& fn) {
        try {
            fn();
        } catch (std::exception const& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    {
        pq::dataset_sink sink(dir, columns());
        sink.open({.job = "load"});
        sink.commit(make_batch(0, 4), state_after(1, 4));
        // a null in a required column: the writer names the part's temp file, row and column
        batch bad{{1, "a"}};
        auto const bad_cells =
            std::vector<std::vector<pq::cell>>{{std::monostate{}, std::string("x")}};
        try {
            sink.commit(bad_cells, state_after(2, 5));
            FAIL("no error");
        } catch (pq::error const& e) {
            CHECK(e.file() == (dir / ".part-00000002.parquet.tmp").string());
            CHECK(e.reason() == "row 0, column \"id\" (INT64): null in a required column");
        }
        CHECK_FALSE(fs::exists(dir / ".part-00000002.parquet.tmp"));
        auto const m = message([&] { sink.commit(bad, state_after(2, 5)); });
        CHECK(m.find(dir.string() + ": an earlier commit failed") != std::string::npos);
        sink.close();
    }
    {
        pq::dataset_sink sink(dir, columns());
        CHECK(sink.open({.job = "load"}) == state_after(1, 4));
        sink.close();
        auto const m = message([&] {
            pq::dataset_sink other(dir, columns());
            other.open({.job = "other"});
        });
        CHECK(m.find("dataset " + dir.string()) != std::string::npos);
        CHECK(m.find("is the checkpoint of job 'load', not of job 'other'") != std::string::npos);
    }
    fs::remove(dir / "part-00000001.parquet");
    {
        auto const m = message([&] {
            pq::dataset_sink sink(dir, columns());
            sink.open({.job = "load"});
        });
        CHECK(m.find("dataset " + dir.string() +
                     ": committed part part-00000001.parquet is missing") != std::string::npos);
    }
    auto const dir2 = tmp.path / "foreign";
    fs::create_directories(dir2);
    std::ofstream(dir2 / "part-00000001.parquet") << "PAR1";
    {
        auto const m = message([&] {
            pq::dataset_sink sink(dir2, columns());
            sink.open({.job = "load"});
        });
        CHECK(m.find("dataset " + dir2.string() +
                     " holds 1 part files (part-00000001.parquet ...) "
                     "but no checkpoint") != std::string::npos);
    }
    auto const m = message([&] {
        pq::dataset_sink sink(dir2, columns());
        sink.commit(make_batch(0, 1), state_after(1, 1));
    });
    CHECK(m.find("dataset_sink " + dir2.string() + ": commit() before open()") !=
          std::string::npos);
}

TEST_CASE("sink: close() reports a pending part it cannot finish, and still releases the fence",
          "[parquet][sink]")
{
    temp_dir tmp("sink-close");
    auto const dir = tmp.path / "ds";
    SECTION("the part cannot be renamed into place")
    {
        pq::dataset_sink sink(dir, columns(), {.batches_per_part = 2});
        REQUIRE_FALSE(sink.open({.job = "load"}).has_value());
        sink.commit(make_batch(0, 4), state_after(1, 4));
        fs::create_directories(dir / "part-00000001.parquet" / "x"); // rename onto it fails
        try {
            sink.close();
            FAIL("close() threw nothing");
        } catch (pq::dataset_sink_error const& e) {
            std::string const m = e.what();
            CHECK(m.find("cannot rename " + (dir / ".part-00000001.parquet.tmp").string()) !=
                  std::string::npos);
            CHECK(m.find((dir / "part-00000001.parquet").string()) != std::string::npos);
        }
        CHECK(sink.last_part() == 0);
        CHECK_FALSE(fs::exists(dir / ".part-00000001.parquet.tmp"));
        CHECK_NOTHROW(sink.close()); // idempotent
        fs::remove_all(dir / "part-00000001.parquet");
        pq::dataset_sink again(dir, columns());               // the fence was released
        CHECK_FALSE(again.open({.job = "load"}).has_value()); // batch 1 was not committed
        again.close();
    }
    SECTION("the checkpoint moved under the sink: fence_lost, nothing committed")
    {
        pq::dataset_sink sink(dir, columns(), {.batches_per_part = 2});
        REQUIRE_FALSE(sink.open({.job = "load"}).has_value());
        sink.commit(make_batch(0, 4), state_after(1, 4));
        std::ofstream(dir / "_streambatch_checkpoint.json", std::ios::app) << " ";
        CHECK_THROWS_AS(sink.close(), streambatch::fence_lost);
        CHECK_FALSE(fs::exists(dir / ".part-00000001.parquet.tmp"));
        CHECK_FALSE(fs::exists(dir / "part-00000001.parquet"));
        pq::dataset_sink again(dir, columns());
        CHECK_NOTHROW(again.open({.job = "load"})); // the lock is free again
    }
}
