// The parallel runner's hand-off: the commit step (a serial sink's critical path) does nothing
// but commit; a committed batch is destroyed by a worker about to pull, after its commit.
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/archetypes.hpp"

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
