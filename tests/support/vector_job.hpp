// Test doubles for the job contract (job/contract.hpp): a source over a vector of numbers whose
// position is the count of numbers pulled, and a sink that keeps committed numbers and its state
// in memory (a "database" the test can inspect, shared between sink objects like a real one).
#ifndef STREAMBATCH_TESTS_SUPPORT_VECTOR_JOB_HPP
#define STREAMBATCH_TESTS_SUPPORT_VECTOR_JOB_HPP

#include <streambatch/job/contract.hpp>

#include <cstdint>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace test_support {

/// The numbers 1..n (or given); position = how many were pulled; identity = "vector n=… sum=…".
class vector_source {
    std::vector<std::int64_t> values_;
    std::size_t start_ = 0;
    std::size_t pulled_ = 0;

    std::string id() const
    {
        std::int64_t sum = 0;
        for (auto v : values_)
            sum += v;
        return "vector n=" + std::to_string(values_.size()) + " sum=" + std::to_string(sum);
    }

public:
    explicit vector_source(std::vector<std::int64_t> v) : values_(std::move(v)) {}

    /// A single-pass view, as a file's or a query's rows are: a batch adaptor takes each
    /// batch's rows when it pulls the batch, so position() then stands after them.
    class view : public std::ranges::view_interface<view> {
        vector_source* s_ = nullptr;

    public:
        view() = default;
        explicit view(vector_source& s) : s_(&s) {}
        struct iterator {
            using value_type = std::int64_t;
            using difference_type = std::ptrdiff_t;
            vector_source* s = nullptr;
            std::int64_t operator*() const { return s->values_[s->pulled_]; }
            iterator& operator++()
            {
                ++s->pulled_;
                return *this;
            }
            void operator++(int) { ++*this; }
            bool operator==(std::default_sentinel_t) const
            {
                return s->pulled_ == s->values_.size();
            }
        };
        iterator begin() const { return {s_}; }
        std::default_sentinel_t end() const { return {}; }
    };
    view rows() { return view(*this); }
    std::string position() const { return std::to_string(pulled_); }
    std::string identity() const { return id(); }
    void seek(std::string_view text)
    {
        start_ = pulled_ = text.empty() ? 0 : std::stoul(std::string(text));
    }
    void check_identity(streambatch::job_state const& s) const
    {
        if (s.identity != id())
            throw streambatch::input_changed("vector: the checkpoint was taken on " + s.identity +
                                             ", this input is " + id());
    }
    std::string describe() const { return "vector"; }
};

/// What a memory_sink commits into: rows and the state, as a database would keep them.
struct memory_store {
    std::vector<std::int64_t> rows;
    std::optional<streambatch::job_state> state;
    bool held = false;
};

class memory_sink {
    memory_store& store_;

public:
    explicit memory_sink(memory_store& s) : store_(s) {}
    int commits = 0;
    int fail_at_commit = -1; ///< throw instead of committing this commit (0-based)

    std::optional<streambatch::job_state> open(streambatch::job_key const&)
    {
        if (store_.held)
            throw streambatch::fence_held("memory: held", streambatch::holder::self());
        store_.held = true;
        return store_.state;
    }
    void commit(std::vector<std::int64_t>&& batch, streambatch::job_state const& st)
    {
        if (commits++ == fail_at_commit)
            throw std::runtime_error("memory: commit failed on purpose");
        store_.rows.insert(store_.rows.end(), batch.begin(), batch.end());
        store_.state = st;
    }
    void close() noexcept { store_.held = false; }
    std::string describe() const { return "memory"; }
};

/// A sink that writes batches into one transaction until it holds `every` of them (or until
/// confirm()), as postgres::job_sink with transaction_rows does: a streambatch::holding_job_sink.
/// The store sees a transaction's rows and its last batch's state at its commit, or nothing.
/// `refuse_batch`: the batch (0-based, counted over this sink's sends) whose rows the "server"
/// refuses when its transaction commits; the whole transaction is then rolled back.
class holding_memory_sink {
    memory_store& store_;
    std::vector<std::int64_t> pending_;
    std::optional<streambatch::job_state> pending_state_;
    int in_transaction_ = 0, sent_ = 0, refused_ = -1;

public:
    holding_memory_sink(memory_store& s, int per_transaction) : store_(s), every(per_transaction) {}
    int every;
    int refuse_batch = -1;
    int transactions = 0;                       ///< committed
    std::vector<std::uint64_t> committed_after; ///< the store's batches after each commit

    std::optional<streambatch::job_state> open(streambatch::job_key const&)
    {
        if (store_.held)
            throw streambatch::fence_held("memory: held", streambatch::holder::self());
        store_.held = true;
        return store_.state;
    }
    void send(std::vector<std::int64_t>&& batch, streambatch::job_state const& st)
    {
        if (sent_ == refuse_batch)
            refused_ = sent_;
        ++sent_;
        pending_.insert(pending_.end(), batch.begin(), batch.end());
        pending_state_ = st;
        ++in_transaction_;
    }
    bool confirm_or_hold()
    {
        if (in_transaction_ != 0 && in_transaction_ < every)
            return false;
        confirm();
        return true;
    }
    void confirm()
    {
        if (in_transaction_ == 0)
            return;
        int const refused = std::exchange(refused_, -1);
        in_transaction_ = 0;
        if (refused >= 0) {
            pending_.clear();
            throw std::runtime_error("memory: a row of batch " + std::to_string(refused) +
                                     " refused; its transaction rolled back");
        }
        store_.rows.insert(store_.rows.end(), pending_.begin(), pending_.end());
        pending_.clear();
        store_.state = pending_state_;
        ++transactions;
        committed_after.push_back(store_.state->batches);
    }
    void commit(std::vector<std::int64_t>&& batch, streambatch::job_state const& st)
    {
        send(std::move(batch), st);
        confirm();
    }
    void close() noexcept
    {
        try {
            confirm();
        } catch (...) {
        }
        store_.held = false;
    }
    std::string describe() const { return "memory, in transactions"; }
};

} // namespace test_support

#endif
