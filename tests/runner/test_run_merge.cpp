#include <streambatch/partition.hpp>
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/runner/run_merge.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

std::string read_all(fs::path const& p)
{
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<int> numbers(int n)
{
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

/// Runs partition p of `input` as a worker would; returns the records it processed.
std::vector<int> run_worker(std::vector<int> const& input, sb::partition p, fs::path const& dir,
                            std::multiset<int>* seen = nullptr, int fail_at = -1)
{
    sb::run_options o{.job = "load",
                      .record_dir = dir,
                      .checkpoint_path = dir / "load.ckpt",
                      .checkpoint_every_batches = 1,
                      .fingerprint = "input-v1"};
    o.set_partition(p);
    o.resume_from = sb::resume_point(o.checkpoint_path, o.job, o.fingerprint);
    std::vector<int> got;
    auto mine = input | sb::views::every_nth(p) | std::views::drop(o.resume_from.records);
    sb::for_each_batch(
        mine | sb::views::chunk(10),
        [&](auto& batch) {
            for (int x : batch) {
                if (x == fail_at)
                    throw std::runtime_error("record " + std::to_string(x) + " is bad");
                got.push_back(x);
                if (seen)
                    seen->insert(x);
            }
        },
        o);
    return got;
}

} // namespace

TEST_CASE("set_partition names the checkpoint and the record directory after the partition",
          "[partition][merge]")
{
    sb::run_options o{.job = "load",
                      .record_dir = "runs/today",
                      .checkpoint_path = "state/load.ckpt",
                      .fingerprint = "input-v1"};
    o.set_partition({3, 8});
    CHECK(o.checkpoint_path == fs::path("state/load.part-0003-of-0008.ckpt"));
    CHECK(o.record_dir == fs::path("runs/today/part-0003-of-0008"));
    CHECK(o.fingerprint == "input-v1; partition 3/8");
    CHECK(o.part == sb::partition{3, 8});
    CHECK_THROWS_WITH(o.set_partition({4, 8}), Contains("already set to 3/8"));
    sb::run_options bad;
    CHECK_THROWS_AS(bad.set_partition({8, 8}), std::invalid_argument);
}

TEST_CASE("another partition's checkpoint is refused", "[partition][merge]")
{
    test::temp_dir d{"streambatch-merge-"};
    sb::write_checkpoint(
        d.path() / "load.part-0001-of-0004.ckpt",
        {.job = "load", .fingerprint = "input-v1; partition 1/4", .batches = 1, .records = 10});
    // A worker that believes it is partition 1 of 2 finds the file of 1 of 4 under its name if
    // the names collide (they do not here), and refuses it by fingerprint when copied over.
    fs::copy_file(d.path() / "load.part-0001-of-0004.ckpt",
                  d.path() / "load.part-0001-of-0002.ckpt");
    sb::run_options o{
        .job = "load", .checkpoint_path = d.path() / "load.ckpt", .fingerprint = "input-v1"};
    o.set_partition({1, 2});
    CHECK_THROWS_WITH(sb::resume_point(o.checkpoint_path, o.job, o.fingerprint),
                      Contains("partition 1/4") && Contains("partition 1/2"));
}

TEST_CASE("merge_run_records adds up the partitions of a job", "[partition][merge]")
{
    test::temp_dir d{"streambatch-merge-"};
    auto const input = numbers(1003);
    std::multiset<int> seen;
    for (std::uint32_t i = 0; i < 4; ++i)
        run_worker(input, {i, 4}, d.path(), &seen);
    CHECK(seen == std::multiset<int>(input.begin(), input.end()));
    for (std::uint32_t i = 0; i < 4; ++i) {
        auto const dir = d.path() / sb::partition{i, 4}.name();
        CHECK(fs::exists(dir / "latest" / "run_record.json"));
        CHECK(fs::exists(d.path() / ("load." + sb::partition{i, 4}.name() + ".ckpt")));
        CHECK_THAT(
            read_all(dir / "latest" / "metrics.prom"),
            Contains("job=\"load\",partition=\"" + std::to_string(i) + "\",partitions=\"4\""));
        CHECK_THAT(read_all(dir / "latest" / "execution_summary.md"),
                   Contains("# load (partition " + std::to_string(i) + "/4): completed"));
    }

    auto const m = sb::merge_run_records(d.path());
    CHECK(m.complete());
    CHECK(m.problems.empty());
    CHECK(m.job == "load");
    CHECK(m.count == 4);
    REQUIRE(m.parts.size() == 4);
    CHECK(m.records == 1003);
    CHECK(m.parts[0].records == 251); // 0, 4, ..., 1000
    CHECK(m.parts[3].records == 250);
    CHECK(m.parts[1].batches == 26);
    CHECK(m.slowest.has_value());
    CHECK(m.peak_rss_bytes > 0);
    double wall = 0;
    for (auto const& p : m.parts)
        wall = std::max(wall, p.elapsed_s);
    CHECK(m.wall_s == wall);

    auto const md = sb::summary_markdown(m);
    CHECK_THAT(md, Contains("# load: 4 of 4 partitions, all completed") &&
                       Contains("| records | 1003 |") && Contains("| 2/4 | completed | 251 |"));
    sb::write_merged(d.path(), m);
    CHECK_THAT(read_all(d.path() / "merged_record.json"), Contains("\"complete\": true") &&
                                                              Contains("\"records\": 1003") &&
                                                              Contains("\"partitions_found\": 4"));
    CHECK(fs::exists(d.path() / "merged_summary.md"));

    // A merged record that cannot be written is the merge's own error, naming the file.
    fs::remove(d.path() / "merged_record.json");
    fs::create_directories(d.path() / "merged_record.json" / "in-the-way");
    CHECK_THROWS_AS(sb::write_merged(d.path(), m), sb::run_merge_error);
    CHECK_THROWS_WITH(
        sb::write_merged(d.path(), m),
        Contains("streambatch::write_merged: " + (d.path() / "merged_record.json").string()) &&
            Contains("rename from"));
    CHECK_FALSE(fs::exists(d.path() / "merged_record.json.tmp"));
}

TEST_CASE("merge_run_records adds up the partitions' failed metric pushes", "[partition][merge]")
{
    test::temp_dir d{"streambatch-merge-push-"};
    auto const input = numbers(100);
    for (std::uint32_t i = 0; i < 2; ++i) {
        sb::run_options o{.job = "load", .record_dir = d.path(), .fingerprint = "input-v1"};
        o.set_partition({i, 2});
        o.push_url = "http://127.0.0.1:1"; // nothing listens on port 1: every push fails
        o.push_every = std::chrono::milliseconds(1);
        o.push_timeout = std::chrono::milliseconds(200);
        auto const r = sb::for_each_batch(
            input | sb::views::every_nth(sb::partition{i, 2}) | sb::views::chunk(10), [](auto&) {},
            o);
        CHECK(r.push_failures > 0);
    }
    auto m = sb::merge_run_records(d.path());
    REQUIRE(m.parts.size() == 2);
    CHECK(m.parts[0].push_failures > 0);
    CHECK(m.push_failures == m.parts[0].push_failures + m.parts[1].push_failures);
    CHECK_THAT(sb::summary_markdown(m),
               Contains("| metric pushes that failed | " + std::to_string(m.push_failures) + " |"));
    CHECK_THAT(sb::to_json(m), Contains("\"push_failures\": " + std::to_string(m.push_failures)));

    // A record written before push_failures existed counts none.
    auto const rec = d.path() / sb::partition{1, 2}.name() / "latest" / "run_record.json";
    auto text = read_all(rec);
    auto const at = text.find("\"push_failures\"");
    REQUIRE(at != std::string::npos);
    text.erase(at, text.find('\n', at) - at + 1);
    std::ofstream(rec, std::ios::trunc) << text;
    m = sb::merge_run_records(d.path());
    CHECK(m.parts[1].push_failures == 0);
    CHECK(m.push_failures == m.parts[0].push_failures);
}

TEST_CASE("merge_run_records: a crashed worker restarted alone still adds up", "[partition][merge]")
{
    test::temp_dir d{"streambatch-merge-"};
    auto const input = numbers(400);
    std::multiset<int> seen;
    run_worker(input, {0, 2}, d.path(), &seen);
    CHECK_THROWS_WITH(run_worker(input, {1, 2}, d.path(), &seen, 251),
                      Contains("record 251 is bad"));

    auto m = sb::merge_run_records(d.path());
    CHECK_FALSE(m.complete());
    REQUIRE(m.problems.size() == 1);
    CHECK_THAT(m.problems[0],
               Contains("partition 1/2 did not complete") && Contains("record 251 is bad"));
    CHECK_THAT(sb::summary_markdown(m), Contains("INCOMPLETE") && Contains("| 1/2 | **failed** |"));

    // Restart only that worker: it resumes from its checkpoint, with nothing lost or repeated.
    std::multiset<int> again;
    auto const rest = run_worker(input, {1, 2}, d.path(), &again);
    CHECK(rest.front() == 1 + 2 * 120); // batches of 10 records: 12 committed before 251's batch
    for (int x : again)
        seen.insert(x);
    // records of the failed batch were seen by the failed run too (at-least-once for this
    // sink); the checkpoint guarantees none is skipped:
    CHECK(std::set<int>(seen.begin(), seen.end()) == std::set<int>(input.begin(), input.end()));

    m = sb::merge_run_records(d.path());
    CHECK(m.complete());
    CHECK(m.records == 400);
    REQUIRE(m.parts.size() == 2);
    CHECK(m.parts[1].resumed_from_records == 120);
    CHECK(m.parts[1].records == 200);
}

TEST_CASE("merge_run_records names what is missing, inconsistent or unreadable",
          "[partition][merge]")
{
    test::temp_dir d{"streambatch-merge-"};
    auto const input = numbers(100);
    SECTION("no records at all")
    {
        CHECK_THROWS_WITH(sb::merge_run_records(d.path()),
                          Contains(d.path().string()) &&
                              Contains("no part-*/latest/run_record.json"));
        CHECK_THROWS_WITH(sb::merge_run_records(d.path() / "nope"), Contains("is not a directory"));
    }
    SECTION("missing partitions")
    {
        run_worker(input, {0, 4}, d.path());
        run_worker(input, {3, 4}, d.path());
        fs::create_directories(d.path() / "part-0001-of-0004");
        auto const m = sb::merge_run_records(d.path());
        CHECK_FALSE(m.complete());
        CHECK(m.records == 50);
        CHECK_THAT(sb::summary_markdown(m),
                   Contains("no run record for partition(s) 1, 2 of 4") &&
                       Contains("part-0001-of-0004 has no latest/run_record.json"));
    }
    SECTION("records of different splits or jobs")
    {
        run_worker(input, {0, 2}, d.path());
        run_worker(input, {1, 3}, d.path());
        auto const m = sb::merge_run_records(d.path());
        CHECK_FALSE(m.complete());
        CHECK_THAT(sb::summary_markdown(m),
                   Contains("part-0001-of-0003 says the job has 3 partitions"));
    }
    SECTION("a record that does not parse names its file and byte")
    {
        run_worker(input, {0, 1}, d.path());
        auto const f = d.path() / "part-0000-of-0001" / "latest" / "run_record.json";
        std::string text = read_all(f);
        text.resize(text.size() / 2);
        std::ofstream(f, std::ios::trunc) << text;
        CHECK_THROWS_WITH(sb::merge_run_records(d.path()),
                          Contains(f.string()) && Contains("(byte "));
    }
    SECTION("neighbours that do not meet")
    {
        run_worker(input, {0, 2}, d.path());
        run_worker(input, {1, 2}, d.path());
        auto edit = [&](char const* part, std::string const& field, std::string const& value) {
            auto const f = d.path() / part / "latest" / "run_record.json";
            std::string text = read_all(f);
            std::string const from = "\"" + field + "\": \"\"";
            REQUIRE(text.find(from) != std::string::npos);
            text.replace(text.find(from), from.size(), "\"" + field + "\": \"" + value + "\"");
            std::ofstream(f, std::ios::trunc) << text;
        };
        edit("part-0000-of-0002", "last_position", "4711 120 50 0");
        edit("part-0001-of-0002", "first_position", "4711 1 0 0");
        auto m = sb::merge_run_records(d.path());
        CHECK(m.complete());
        CHECK(m.boundaries_checked == 1);
        CHECK_THAT(sb::summary_markdown(m), Contains("| neighbours checked to meet | 1 of 1 |"));
        edit("part-0001-of-0002", "last_position",
             "9999 1 0 0");                  // harmless: the last has no neighbour
        run_worker(input, {0, 2}, d.path()); // a fresh run of partition 0: empty positions again
        edit("part-0000-of-0002", "last_position", "4700 119 49 0");
        m = sb::merge_run_records(d.path());
        CHECK_FALSE(m.complete());
        CHECK_THAT(sb::summary_markdown(m),
                   Contains("partition 0/2 ended at \"4700 119 49 0\" but 1/2 began at "
                            "\"4711 1 0 0\": records between them were read twice or "
                            "not at all"));
    }
    SECTION("a record without the partition fields")
    {
        fs::create_directories(d.path() / "part-0000-of-0001");
        std::ofstream(d.path() / "part-0000-of-0001" / "run_record.json")
            << R"({"report": {"job": "x"}})";
        CHECK_THROWS_WITH(sb::merge_run_records(d.path()),
                          Contains("no \"report.partition_index\" field"));
    }
}

TEST_CASE("merge_run_records reads the latest runs, and stopped or killed is incomplete",
          "[partition][merge]")
{
    test::temp_dir d{"streambatch-merge-"};
    auto const input = numbers(100);
    run_worker(input, {0, 2}, d.path());
    run_worker(input, {1, 2}, d.path());
    auto set_status = [&](char const* part, std::string const& status) {
        auto const f = d.path() / part / "latest" / "run_record.json";
        std::string text = read_all(f);
        std::string const from = "\"status\": \"completed\"";
        REQUIRE(text.find(from) != std::string::npos);
        text.replace(text.find(from), from.size(), "\"status\": \"" + status + "\"");
        std::ofstream(f, std::ios::trunc) << text;
    };
    CHECK(sb::merge_run_records(d.path()).complete());
    set_status("part-0001-of-0002", "stopped");
    auto m = sb::merge_run_records(d.path());
    CHECK_FALSE(m.complete());
    CHECK(m.records == 100); // still added up
    REQUIRE(m.parts.size() == 2);
    CHECK(m.parts[1].status == sb::run_status::stopped);
    CHECK_THAT(m.problems.at(0), Contains("partition 1/2 did not complete (its latest run was "
                                          "stopped)"));
    CHECK_THAT(sb::summary_markdown(m), Contains("| 1/2 | **stopped** |"));
    CHECK_THAT(sb::to_json(m), Contains("\"status\": \"stopped\""));

    // A later run of partition 1 is the one read: `latest` moved to it.
    run_worker(input, {1, 2}, d.path());
    CHECK(sb::merge_run_records(d.path()).complete());
    set_status("part-0000-of-0002", "killed");
    m = sb::merge_run_records(d.path());
    CHECK_THAT(m.problems.at(0), Contains("partition 0/2 did not complete (its latest run was "
                                          "killed)"));

    // The 0.2 flat layout (no status, no latest/) is still read.
    test::temp_dir old{"streambatch-merge-"};
    for (char const* part : {"part-0000-of-0002", "part-0001-of-0002"}) {
        fs::create_directories(old.path() / part);
        std::string text = read_all(d.path() / part / "latest" / "run_record.json");
        auto const at = text.find("    \"status\": ");
        text.erase(at, text.find('\n', at) + 1 - at);
        std::ofstream(old.path() / part / "run_record.json") << text;
    }
    m = sb::merge_run_records(old.path());
    CHECK(m.parts.size() == 2);
    CHECK(m.parts[1].status == sb::run_status::completed); // from "completed": true
    CHECK(m.complete());
}
