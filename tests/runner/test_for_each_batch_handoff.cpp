// The parallel runner's hand-off: the commit step (a serial sink's critical path) does nothing
// but commit; a committed batch is destroyed by a worker about to pull, after its commit. A
// commit step that confirms later is confirmed before the next commit and counted only then.
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/archetypes.hpp"
#include "support/temp_dir.hpp"

namespace sb = streambatch;
using namespace std::chrono_literals;

namespace {

template <class F>
bool wait_until(F done, std::chrono::milliseconds limit)
{
    auto const until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

/// A process result whose destructor, for the first batch only, waits (up to 5 s) until the
/// commit of the second batch has begun, and records whether it saw it.
struct held_result {
    int first = -1;
    std::atomic<bool>* second_commit_began = nullptr; // null once moved from
    std::atomic<int>* saw = nullptr;                  // 1: saw it; 0: waited in vain

    held_result(int f, std::atomic<bool>* began, std::atomic<int>* s)
        : first(f), second_commit_began(began), saw(s)
    {}
    held_result(held_result&& o) noexcept
        : first(o.first), second_commit_began(std::exchange(o.second_commit_began, nullptr)),
          saw(o.saw)
    {}
    held_result& operator=(held_result&&) = delete;
    ~held_result()
    {
        if (second_commit_began && first == 0)
            *saw = wait_until([this] { return second_commit_began->load(); }, 5s) ? 1 : 0;
    }
};

} // namespace

TEST_CASE("for_each_batch: the next commit does not wait for the last batch's destruction",
          "[for_each_batch][parallel]")
{
    if (std::thread::hardware_concurrency() < 2) {
        WARN("one core: one worker, nothing to hand over");
        return;
    }
    // Batch 0's result is destroyed only once batch 1's commit has begun: a runner that
    // destroyed a committed batch on the committing thread, before taking the next commit,
    // would wait here in vain (and batch 1's commit would start 5 s late).
    std::vector<int> v(400);
    std::iota(v.begin(), v.end(), 0);
    std::atomic<bool> second_began{false};
    std::atomic<int> saw{-1};
    std::vector<int> committed;
    auto const r = sb::for_each_batch(
        v | sb::views::chunk(100), [&](auto& b) { return held_result(b[0], &second_began, &saw); },
        [&](held_result&& res, sb::batch_info const& info) {
            CHECK(res.first == static_cast<int>(info.first_record));
            committed.push_back(res.first);
            if (res.first == 100)
                second_began = true;
        },
        {.max_in_flight = 2});
    CHECK(saw == 1);
    CHECK(committed == std::vector<int>{0, 100, 200, 300});
    CHECK(r.records == 400);
    CHECK(r.batches == 4);
    CHECK(r.peak_in_flight <= 2);
}

TEST_CASE("for_each_batch: a process result may point into its batch's records until commit",
          "[for_each_batch][parallel]")
{
    // Owning (single-pass) batches: the records stay alive until their batch is committed, and
    // die once, after it; the committed text is the records' own, in order.
    std::vector<std::string> data;
    for (int i = 0; i < 1000; ++i)
        data.push_back("record " + std::to_string(i) + std::string(40, 'x'));
    std::string expected;
    for (auto const& s : data)
        expected.append(s).push_back('\n');
    for (std::size_t k : {std::size_t{2}, std::size_t{3}}) {
        INFO("max_in_flight " << k);
        std::vector<std::string> input = data; // the view moves the records out
        std::string joined;
        std::size_t views = 0;
        auto const r = sb::for_each_batch(
            test::single_pass_view<std::string>(input) | sb::views::chunk(30),
            [](sb::batch<std::string>& b) {
                std::vector<std::string_view> out;
                for (auto const& s : b)
                    out.emplace_back(s);
                return out;
            },
            [&](std::vector<std::string_view>&& out) {
                views += out.size();
                for (auto s : out)
                    joined.append(s).push_back('\n');
            },
            {.max_in_flight = k});
        CHECK(views == 1000);
        CHECK(joined == expected);
        CHECK(r.records == 1000);
        CHECK(r.batches == 34);
    }
}

namespace {

/// A commit step that confirms later (detail::confirming_commit): logs each send and confirm;
/// the confirm of batch `refuse` throws.
struct confirming_commit {
    std::mutex* m;
    std::vector<std::string>* log;
    std::uint64_t refuse = ~std::uint64_t{0};
    std::optional<std::uint64_t> sent{};
    void operator()(int, sb::batch_info const& i)
    {
        std::lock_guard lock(*m);
        if (sent)
            log->push_back("send while " + std::to_string(*sent) + " unconfirmed");
        log->push_back("send " + std::to_string(i.index));
        sent = i.index;
    }
    void confirm()
    {
        std::lock_guard lock(*m);
        log->push_back("confirm " + std::to_string(sent.value()));
        auto const b = *sent;
        sent.reset();
        if (b == refuse)
            throw std::runtime_error("the server refused batch " + std::to_string(b));
    }
};

} // namespace

TEST_CASE("for_each_batch: a confirming commit step is confirmed before the next batch's commit "
          "and at the end, and a batch counts once confirmed",
          "[runner][confirm]")
{
    std::vector<int> const data(10, 1);
    auto const in_flight = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{3});
    std::mutex m;
    std::vector<std::string> log;
    sb::run_options opts;
    opts.max_in_flight = in_flight;
    auto const report = sb::for_each_batch(
        data | sb::views::chunk(3), [](auto const& b) { return static_cast<int>(b.size()); },
        confirming_commit{&m, &log}, opts);
    CHECK(report.batches == 4);
    CHECK(report.records == 10);
    CHECK(log == std::vector<std::string>{"send 0", "confirm 0", "send 1", "confirm 1", "send 2",
                                          "confirm 2", "send 3", "confirm 3"});
}

TEST_CASE("for_each_batch: a refused confirmation fails the batch it confirms, which is not "
          "counted",
          "[runner][confirm]")
{
    std::vector<int> const data(10, 1);
    auto const in_flight = GENERATE(std::size_t{1}, std::size_t{2});
    auto const refuse = GENERATE(std::uint64_t{1}, std::uint64_t{3}); // in the middle; the last
    std::mutex m;
    std::vector<std::string> log;
    test::temp_dir const dir{"streambatch-confirm-"};
    sb::run_options opts;
    opts.max_in_flight = in_flight;
    opts.job = "confirm";
    opts.checkpoint_path = dir / "job.ckpt";
    opts.checkpoint_every_batches = 1;
    try {
        sb::for_each_batch(
            data | sb::views::chunk(3), [](auto const& b) { return static_cast<int>(b.size()); },
            confirming_commit{&m, &log, refuse}, opts);
        FAIL("no error");
    } catch (sb::batch_failed const& e) {
        CHECK(e.info.index == refuse);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("batch " + std::to_string(refuse)) &&
                       Catch::Contains("commit") &&
                       Catch::Contains("the server refused batch " + std::to_string(refuse)));
    }
    // What the run counted as committed: the batches before the refused one, no more.
    auto const at = sb::resume_point(opts.checkpoint_path, "confirm", "");
    CHECK(at.batches == refuse);
    CHECK(at.records == 3 * refuse);
    // Nothing was sent after the refused batch's confirmation, and no send overlapped another.
    REQUIRE_FALSE(log.empty());
    CHECK(log.back() == "confirm " + std::to_string(refuse));
    for (auto const& line : log)
        CHECK_THAT(line, !Catch::Contains("unconfirmed"));
}

TEST_CASE("for_each_batch: a checkpoint that cannot be written while counting a confirmed batch "
          "is the checkpoint_error itself",
          "[runner][confirm]")
{
    std::vector<int> const data(100, 1);
    auto const in_flight = GENERATE(std::size_t{1}, std::size_t{2});
    std::mutex m;
    std::vector<std::string> log;
    sb::run_options opts;
    opts.max_in_flight = in_flight;
    opts.checkpoint_path = "/nonexistent-dir/job.ckpt";
    opts.checkpoint_every_batches = 1;
    auto slow = [](auto const& b) {
        std::this_thread::sleep_for(2ms); // the checkpoint writer fails in microseconds
        return static_cast<int>(b.size());
    };
    CHECK_THROWS_AS(
        sb::for_each_batch(data | sb::views::chunk(2), slow, confirming_commit{&m, &log}, opts),
        sb::checkpoint_error);
}
