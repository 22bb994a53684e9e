// streambatch/runner/detail/scheduler.hpp: for_each_batch with max_in_flight = k > 1.
//
// Up to k batches alive at once, on up to k worker threads (at most one per core). A worker
// takes a slot, pulls the next batch (one puller at a time: the `pulling_` token), processes
// it itself while its records are in its cache, then hands it to the commit step, which one
// thread at a time runs (the `committing_` role), in batch order when ordered. A batch of a
// single-pass source is moved out of the view's buffer, and its buffer comes back as a spare
// for a later batch, its records still in it: the view moves the later batch's records over
// them, reusing their storage (a csv::row's, a std::string's), so the steady state allocates
// nothing per record, as a sequential run. The first exception stops the job. A stop requested on
// run_options::stop is seen by the next worker about to pull: nothing more is pulled, and the
// batches already pulled are processed and committed as at the end of the input. See
// docs/runner.md.
//
// The commit step is the critical path of a job with a serial sink, so the committing thread
// does nothing else: a committed batch is retired (its records and the process result still
// alive, its slot still counted) and the next worker about to pull destroys its process result,
// off the commit path, on the thread that pulled and processed batches (its allocator's own
// memory), then reuses its slot, its buffer and its records. While one thread commits, the others
// pull and process.

#ifndef STREAMBATCH_RUNNER_DETAIL_SCHEDULER_HPP_INCLUDED
#define STREAMBATCH_RUNNER_DETAIL_SCHEDULER_HPP_INCLUDED

#include <streambatch/runner/detail/calls.hpp>
#include <streambatch/runner/detail/completion_tracker.hpp>
#include <streambatch/runner/run_options.hpp>
#include <streambatch/runner/run_report.hpp>
#include <streambatch/views/batch_view.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace streambatch::detail {

/// Runs one parallel for_each_batch: construct, then run() once.
/// The runner's side of a confirming commit step (calls.hpp, confirming_commit): holds the
/// batches sent and not yet confirmed, and counts them as committed only once the commit step
/// says they are. Before each commit it settles the batch sent last: confirm() (it is committed),
/// or, for a step that can keep its transaction open over several batches (holding_commit),
/// confirm_or_hold() (its verdict; committed with the ones held before it, or held too). At the
/// end, confirm() commits whatever is held. For any other commit step, sent() counts the batch
/// at once.
template <class Commit>
class sent_tracker {
    std::vector<sent_batch> held_; // in batch order; the last one's verdict may still be due

    void complete_held(completion_tracker& done, std::chrono::nanoseconds waited)
    {
        for (auto& b : held_) {
            b.info.position = b.position;
            b.took += waited; // its latency: the wait, not the gap
            done.complete(b.local, b.info, b.took, std::move(b.position), b.used);
        }
        held_.clear();
    }

    template <class F>
    void call(F&& f, completion_tracker& done)
    {
        auto const t0 = std::chrono::steady_clock::now();
        bool committed = true;
        try {
            committed = f();
        } catch (...) {
            // Nothing held is counted: the step rolled it all back (the job resumes from the
            // first of them). Named: the batch sent last, whose verdict or commit failed.
            sent_batch b = std::move(held_.back());
            held_.clear();
            b.info.position = b.position;
            std::throw_with_nested(batch_failed(b.info, "commit", current_what()));
        }
        if (committed)
            complete_held(done, std::chrono::steady_clock::now() - t0);
    }

public:
    /// Commit returned for this batch: counted now, or held until confirmed.
    void sent(Commit&, completion_tracker& done, std::uint64_t local, batch_info const& info,
              std::chrono::nanoseconds took, std::string position, double used)
    {
        if constexpr (confirming_commit<Commit>) {
            held_.push_back(sent_batch{local, info, std::move(position), took, used});
            held_.back().info.position = held_.back().position;
        } else {
            done.complete(local, info, took, std::move(position), used);
        }
    }

    /// Before the next commit: the verdict on the batch sent last, and the ones held counted
    /// if the step committed them. A failure is rethrown as batch_failed naming that batch
    /// (stage "commit"). Nothing held: nothing to do.
    void settle(Commit& commit, completion_tracker& done)
    {
        if constexpr (holding_commit<Commit>) {
            if (!held_.empty())
                call([&] { return static_cast<bool>(commit.confirm_or_hold()); }, done);
        } else {
            confirm(commit, done);
        }
    }

    /// Commit threw for the batch after those held: a holding step has rolled them back with
    /// it (holding_commit), so none of them is counted. Any other step holds none here.
    void commit_failed() noexcept
    {
        if constexpr (holding_commit<Commit>)
            held_.clear();
    }

    /// Waits until every batch held is committed and counts them; a failure is rethrown as
    /// batch_failed naming the batch sent last (stage "commit"). Nothing held: nothing to do.
    void confirm(Commit& commit, completion_tracker& done)
    {
        if constexpr (confirming_commit<Commit>) {
            if (!held_.empty())
                call(
                    [&] {
                        commit.confirm();
                        return true;
                    },
                    done);
        }
    }

    /// After another failure: confirms the batches held if it can, so that the report counts
    /// what the sink committed; a failure to confirm is dropped (the first failure is the one
    /// told).
    void confirm_quietly(Commit& commit, completion_tracker& done) noexcept
    {
        try {
            confirm(commit, done);
        } catch (...) {
        }
    }
};

template <class Batches, class Process, class Commit>
class parallel_scheduler {
    using B = std::remove_cvref_t<std::ranges::range_reference_t<Batches>>;
    static constexpr bool owning = is_batch_v<B>;
    using T = typename batch_record<B>::type;
    using owned_t = std::conditional_t<owning, std::vector<std::conditional_t<owning, T, int>>, B>;
    using R0 =
        process_result_t<Process,
                         std::conditional_t<owning, batch<std::conditional_t<owning, T, int>>, B>>;
    using R = std::conditional_t<std::is_void_v<R0>, std::monostate, R0>;

    /// One batch on its way from the source to commit.
    struct job {
        std::uint64_t local;
        batch_info info;
        std::optional<owned_t> data;
        std::string position;
        std::optional<R> result;
        std::chrono::nanoseconds took{0};
        double used = 0; ///< the watched guard's used fraction when pulled
    };

    // What the caller gave.
    Batches& batches_;
    Process& process_;
    Commit& commit_;
    run_options const& opts_;
    run_report& report_;
    completion_tracker& done_;
    std::size_t const k_;

    // Guarded by m_.
    std::mutex m_;
    std::condition_variable cv_slot_;
    std::condition_variable cv_commit_; // a committer waiting for the next batch in order
    std::map<std::uint64_t, std::unique_ptr<job>> finished_; // processed, waiting to be committed
    std::vector<std::unique_ptr<job>>
        retired_;                 // committed, to be destroyed by a puller (in flight)
    std::vector<owned_t> spares_; // recycled buffers (owning batches only)
    std::size_t in_flight_ = 0;   // pulled and not yet destroyed (retired_ included)
    bool stop_ = false, committing_ = false;
    std::uint64_t next_commit_ = 0;
    std::uint64_t pulled_ = 0; // batches pulled (local indices below it), as of the last pull
    // Smoothed times of one commit and of one pull + process, seen by the runner: when commits
    // take at least as long, the sink bounds the job and the commit role stays on one thread.
    double commit_ns_ = 0, work_ns_ = 0;
    std::exception_ptr error_;
    bool source_done_ = false, pulling_ = false;
    bool stopped_ = false;      // run_options::stop ended the pulling
    std::size_t limit_now_;     // k, or 1 while the watched guard reports memory pressure
    sent_tracker<Commit> sent_; // held by the committing thread (then by run(), after the join)

    // Touched only by the thread holding the pulling token.
    std::optional<std::ranges::iterator_t<Batches>> it_;
    bool lowered_ = false;
    std::uint64_t index_;
    std::uint64_t first_;
    std::uint64_t local_ = 0;

    void fail(std::exception_ptr e)
    {
        std::lock_guard lock(m_);
        if (!error_)
            error_ = e;
        stop_ = true;
        cv_slot_.notify_all();
        cv_commit_.notify_all();
    }

    static void smooth(double& avg, std::chrono::nanoseconds took) noexcept
    {
        double const x = static_cast<double>(took.count());
        avg = avg == 0 ? x : avg + (x - avg) / 8;
    }

    // Whether the committer should wait for the next batch in order, being processed by
    // another worker, rather than leave the commit role to pull and process a batch itself.
    // With a sink that bounds the job (a commit takes at least as long as a pull and a
    // process), the commit role then stays on one thread: the sink's working set (a database's
    // page cache, its statements) stays in one core's cache, where handing the role to
    // whichever worker finishes the next batch moved it between cores at every hand-off
    // (csv_to_sqlite --jobs 2: the sink's CPU time +30 %; bench/RESULTS-parallel.md). With a
    // process step that bounds the job, the committer helps process, as before.
    bool wait_for_next() const noexcept
    {
        return opts_.ordered && commit_ns_ >= work_ns_ && commit_ns_ > 0 && next_coming();
    }
    // The next batch in order is being pulled (unless the source ends) or processed.
    bool next_coming() const noexcept { return next_commit_ < pulled_ || pulling_; }

    // Commits what is ready; only one thread holds the commit role at a time.
    void drain(std::unique_lock<std::mutex>& lock)
    {
        if (committing_)
            return;
        committing_ = true;
        while (!stop_) {
            auto it = opts_.ordered ? finished_.find(next_commit_) : finished_.begin();
            if (it == finished_.end()) {
                if (!wait_for_next())
                    break;
                cv_commit_.wait(lock, [&] {
                    return stop_ || finished_.contains(next_commit_) || !next_coming();
                });
                continue;
            }
            std::unique_ptr<job> j = std::move(it->second);
            finished_.erase(it);
            ++next_commit_;
            lock.unlock();
            std::chrono::nanoseconds commit_took{0};
            try {
                sent_.settle(commit_, done_); // the batch before this one, if still unconfirmed
                auto const t0 = std::chrono::steady_clock::now();
                try {
                    call_commit(commit_, std::move(*j->result), j->info);
                } catch (...) {
                    sent_.commit_failed();
                    std::throw_with_nested(batch_failed(j->info, "commit", current_what()));
                }
                commit_took = std::chrono::steady_clock::now() - t0;
                j->took += commit_took;
                sent_.sent(commit_, done_, j->local, j->info, j->took, std::move(j->position),
                           j->used);
            } catch (...) {
                lock.lock();
                committing_ = false;
                lock.unlock();
                fail(std::current_exception());
                lock.lock();
                return;
            }
            lock.lock();
            smooth(commit_ns_, commit_took);
            retired_.push_back(std::move(j)); // destroyed by the next puller, not here
            cv_slot_.notify_all();
        }
        committing_ = false;
    }

    // Destroys the retired batches (records, process results) outside the lock, then frees their
    // slots and keeps their buffers as spares. Called with the lock held, by a worker that is not
    // committing. Allocates nothing: retired_ and spares_ were reserved for k batches (no more
    // are ever in flight), so a bad_alloc here cannot end a worker thread (std::terminate).
    // `dead` is the worker's own empty vector with room for k: the swap gives retired_ that room.
    void reclaim(std::unique_lock<std::mutex>& lock, std::vector<std::unique_ptr<job>>& dead)
    {
        dead.swap(retired_);
        // Recyclable records stay in their buffer, which goes back as a spare: the next pull
        // moves its own records over them. Under memory pressure (one batch in flight) they die.
        bool const keep = recycle_records<T> && limit_now_ >= k_;
        lock.unlock();
        for (auto& j : dead) {
            if constexpr (owning)
                if (!keep)
                    j->data->clear(); // its records die here, outside the lock
            j->result.reset();
        }
        lock.lock();
        for (auto& j : dead) {
            if constexpr (owning)
                if (spares_.size() < spares_.capacity()) // always, as spares_ holds at most k
                    spares_.push_back(std::move(*j->data));
        }
        in_flight_ -= dead.size();
        cv_slot_.notify_all();
        lock.unlock();
        dead.clear(); // the job shells and whatever buffer spares_ had no room for
        lock.lock();
    }

    // Advances the source to its next batch and moves it into a job; null at the end. The caller
    // holds the pulling token: nothing else touches the source, the view or the guard meanwhile.
    std::unique_ptr<job> pull()
    {
        if (!it_) {
            it_.emplace(std::ranges::begin(batches_)); // fills the first batch
        } else {
            if constexpr (owning) {
                // A committed batch's buffer, its records still in it when they can be
                // recycled: the view moves the next batch's records over them (their storage
                // reused, no allocation per record), in the slot this pull took. The batch
                // view is still the last one pulled (taken: empty).
                std::optional<owned_t> spare;
                {
                    std::lock_guard lock(m_);
                    if (!spares_.empty()) {
                        spare.emplace(std::move(spares_.back()));
                        spares_.pop_back();
                    }
                }
                if (spare)
                    (**it_).recycle(std::move(*spare));
            }
            ++*it_; // fills the next
        }
        if (*it_ == std::ranges::end(batches_))
            return nullptr;
        auto j = std::make_unique<job>();
        j->local = local_++;
        {
            auto&& b = **it_;
            j->info = batch_info{index_, first_, batch_size_of(b)};
            if constexpr (owning)
                j->data.emplace(b.take()); // the view gets a spare before it fills again
            else
                j->data.emplace(b);
        }
        j->position = opts_.position ? opts_.position() : std::string();
        j->info.position = j->position; // j is heap-allocated: the view stays valid
        j->used = opts_.guard_ ? opts_.guard_->snapshot().used_fraction : 0.0;
        ++index_;
        first_ += j->info.size;
        return j;
    }

    // Runs process on a pulled batch; its result goes into the job.
    void process(job& j)
    {
        if constexpr (owning) {
            batch<T> view(*j.data);
            if constexpr (std::is_void_v<R0>) {
                process_out_of_line(process_, view, j.info);
                j.result.emplace();
            } else {
                j.result.emplace(process_out_of_line(process_, view, j.info));
            }
        } else {
            if constexpr (std::is_void_v<R0>) {
                process_out_of_line(process_, *j.data, j.info);
                j.result.emplace();
            } else {
                j.result.emplace(process_out_of_line(process_, *j.data, j.info));
            }
        }
    }

    void worker()
    {
        std::vector<std::unique_ptr<job>> dead; // reclaim()'s, with room for every batch
        try {
            dead.reserve(k_);
        } catch (...) {
            fail(std::current_exception());
            return;
        }
        std::unique_lock lock(m_);
        while (true) {
            if (!retired_.empty())
                reclaim(lock, dead);
            bool const full = in_flight_ >= limit_now_;
            auto const t0 = std::chrono::steady_clock::now();
            cv_slot_.wait(lock, [&] {
                return stop_ || source_done_ || !retired_.empty() ||
                       (!pulling_ && in_flight_ < limit_now_);
            });
            if (full)
                report_.waited_for_slot += std::chrono::steady_clock::now() - t0;
            if (stop_ || source_done_)
                return;
            if (in_flight_ >= limit_now_ || pulling_)
                continue; // woken by a retired batch: reclaim it, then wait for a slot again
            if (opts_.stop.stop_requested()) { // a graceful stop: pull nothing more
                source_done_ = stopped_ = true;
                cv_slot_.notify_all();
                return;
            }
            pulling_ = true;
            ++in_flight_;
            if (limit_now_ < k_)
                ++report_.in_flight_lowered;
            report_.peak_in_flight = std::max(report_.peak_in_flight, in_flight_);
            lock.unlock();

            std::unique_ptr<job> j;
            std::size_t lim = k_;
            auto const t_pull = std::chrono::steady_clock::now();
            try {
                j = pull();
                if (opts_.guard_) { // read on the pulling thread: the guard's only user right now
                    double const used = j ? j->used : opts_.guard_->snapshot().used_fraction;
                    if (used >= opts_.guard_->shrink_at)
                        lowered_ = true;
                    else if (used < opts_.guard_->grow_at)
                        lowered_ = false;
                    lim = lowered_ ? 1 : k_;
                }
            } catch (...) { // the source threw: stop, and rethrow it as it is
                lock.lock();
                pulling_ = false;
                --in_flight_;
                lock.unlock();
                fail(std::current_exception());
                lock.lock();
                return;
            }
            auto const pull_took = std::chrono::steady_clock::now() - t_pull;
            lock.lock();
            pulling_ = false;
            if (j)
                pulled_ = j->local + 1;
            cv_commit_.notify_one(); // a committer waiting for this pull (see wait_for_next)
            if constexpr (owning)
                if (lim < limit_now_) // memory pressure: the spares' records die (see reclaim)
                    for (auto& spare : spares_)
                        spare.clear();
            limit_now_ = lim;
            if (!j) {
                source_done_ = true;
                --in_flight_;
                cv_slot_.notify_all();
                return;
            }
            cv_slot_.notify_all(); // another worker may pull now
            lock.unlock();

            try {
                auto const t0p = std::chrono::steady_clock::now();
                try {
                    process(*j);
                } catch (...) {
                    std::throw_with_nested(batch_failed(j->info, "process", current_what()));
                }
                j->took = std::chrono::steady_clock::now() - t0p;
            } catch (...) {
                fail(std::current_exception());
                lock.lock();
                continue;
            }
            lock.lock();
            smooth(work_ns_, pull_took + j->took);
            finished_.emplace(j->local, std::move(j));
            cv_commit_.notify_one(); // a committer waiting for it (wait_for_next)
            drain(lock);
        }
    }

public:
    parallel_scheduler(Batches& batches, Process& process, Commit& commit, run_options const& opts,
                       run_report& report, completion_tracker& done)
        : batches_(batches), process_(process), commit_(commit), opts_(opts), report_(report),
          done_(done), k_(opts.max_in_flight), limit_now_(opts.max_in_flight),
          index_(opts.resume_from.batches), first_(opts.resume_from.records)
    {
        retired_.reserve(k_); // drain() and reclaim() then never allocate (see reclaim)
        spares_.reserve(k_);
    }
    parallel_scheduler(parallel_scheduler const&) = delete;
    parallel_scheduler& operator=(parallel_scheduler const&) = delete;

    /// Starts the workers, joins them, and rethrows the first exception; true when
    /// run_options::stop ended the run.
    bool run()
    {
        std::size_t const threads = std::max<std::size_t>(
            1, std::min<std::size_t>(k_, std::max(1u, std::thread::hardware_concurrency())));
        std::vector<std::thread> pool;
        pool.reserve(threads);
        try {
            for (std::size_t i = 0; i < threads; ++i)
                pool.emplace_back([this] { worker(); });
        } catch (...) {
            fail(std::current_exception());
        }
        for (auto& t : pool)
            t.join();
        if (error_) {
            sent_.confirm_quietly(commit_, done_);
            std::rethrow_exception(error_);
        }
        sent_.confirm(commit_, done_); // the last batch sent
        return stopped_;
    }
};

} // namespace streambatch::detail

#endif // STREAMBATCH_RUNNER_DETAIL_SCHEDULER_HPP_INCLUDED
