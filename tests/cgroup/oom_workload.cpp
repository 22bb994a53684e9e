// tests/cgroup/oom_workload.cpp: the job the cgroup tests run inside a memory-limited cgroup.
//
//     oom_workload --mode naive|guarded|pagecache [options]
//
// Modes:
//   naive      keeps every record in one vector, then processes them all (the way that gets
//              OOM-killed). Prints a progress line every 1024 records, so a killed run still
//              shows how far it got.
//   guarded    streams the records through views::memory_guarded(--batch, std::ref(guard))
//              into a write-behind sink that keeps the last --in-flight batches alive (see
//              "Why a write-behind sink" below).
//   pagecache  like guarded, but the records are --record-bytes chunks read from --file
//              with read(2): every byte goes through the page cache.
//
// Options (all optional):
//   --records N            records to generate (default 65536); 0 with --seconds: no count limit
//   --seconds S            stop generating S seconds after the job starts, that is after the
//                          ballast is in place (default: no time limit)
//   --until KIND:N         with --seconds: go on past S seconds until the guard has reported N
//                          events of KIND (shrink, grow, critical, waiting, resumed, exhausted),
//                          but no longer than --until-max-seconds (default 30) after the start;
//                          a loaded machine then still runs the job long enough to show them
//   --record-bytes B       payload bytes per record (default 16384)
//   --batch N              starting batch size (default 256)
//   --in-flight K          batches the sink keeps alive after processing them (default 0)
//   --file PATH            pagecache: the file to read
//   --passes N             pagecache: read it N times, start to end (default 1)
//   --ballast-fraction F   before the job: allocate and touch ballast up to F x the cgroup limit
//   --free-ballast-after-wait-ms M
//                          on the guard's first `waiting` event, a second thread frees the
//                          ballast M ms later (so a guard that waits can resume)
//   --policy guard|fixed   fixed: every batch has the starting size, the guard is not asked
//                          (default guard: the memory_guard decides)
//   --trace                print every batch (index, size, used fraction) as it is pulled
//   guard options: --shrink-at F --grow-at F --critical-at F --floor N --critical-for-ms MS
//                  --sample-every-ms MS --sample-every-near-ms MS --wait-poll-ms MS
//                  --wait-timeout-ms MS --on-critical throw|wait|carry_on --no-release
//
// Output (stdout, line-buffered, one line per fact, key=value, read by test_cgroup_cases.cpp):
//   start     t_ns=<CLOCK_MONOTONIC> pid=... cgroup_version=... cgroup_dir=... limit=...
//   sources="..." ballast   bytes=... | ballast_freed t_ns=<munmap began> done_ns=<munmap returned>
//   event     t_ns=<guard clock = CLOCK_MONOTONIC_COARSE> kind=shrink old=... new=... used=... ...
//   progress  records_in=... rss_kib=...                       (naive)
//   batch     i=... size=... used=...                          (--trace)
//   summary   mode=... result=ok|exhausted records_in=... records_out=... batches=... min_size=...
//             min_batch=... max_batch=... shrinks=... grows=... critical=... waiting=...
//             resumed=... exhausted=... samples=... max_used=... vmhwm_kib=... seconds=...
// Exit status: 0 done, every record accounted for; 3 streambatch::memory_exhausted (its what()
// on stderr); 2 bad arguments or any other error; 4 records lost or out of order.
//
// Why a write-behind sink (the --in-flight window) in guarded mode:
//   The guard samples memory at batch boundaries, and views::memory_guarded destroys the
//   previous batch's records *before* it asks the guard for the next size. So memory that
//   lives only while one batch is processed is gone when the guard looks: a job whose only
//   per-batch memory is the batch itself either fits with its first batch or is killed
//   during it, before the guard can ever react. What the guard can save is a job whose
//   memory *accumulates* batch over batch in proportion to the batch size - here a sink
//   that keeps the last K batches alive until they are "acknowledged" (an async database
//   writer, a Kafka producer's buffer, a parallel runner with K batches in flight). Its
//   steady state is K x batch x record bytes, reached over K batches, so every boundary
//   shows the guard the growth.
//
//   The sizes the tests use (case 2): records of 16 KiB, starting batch 256 (4 MiB a batch),
//   K = 90 in flight, 65536 records (1 GiB) under a 256 MiB limit:
//   - a fixed batch of 256 would hold 90 x 4 MiB = 360 MiB: well past the limit, so without
//     shrinking the job is killed around its 60th batch (case 2a shows it);
//   - one batch (4 MiB, under 2 % of the limit) fits with room to spare, so the guard is never
//     asked to save a job that is already dead;
//   - the guard shrinks at 80 % (205 MiB). It sees the sink's memory one batch late, and the
//     batches still in the window drain over the next K batches while the new, halved ones
//     join it, so the peak is about 80 % + 2 batches + allocator slack: 84-88 % measured,
//     under the 90 % the test demands. The bytes per batch are what bound the overshoot:
//     8 MiB batches (32 KiB x 256, K = 45) peaked at 86-89 %; with 256 KiB x 32 the floor
//     (10 records) still adds 2.5 MiB a batch and the job is killed (case 6d).
//   The records are 16 KiB, under glibc's mmap threshold, so freed ones stay in the heap:
//   the run also shows whether the guard's malloc_trim after a shrink gives them back.

#include <streambatch/detail/parse.hpp>
#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/guard/memory_probe.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace sb = streambatch;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_error = 2;
constexpr int exit_exhausted = 3;
constexpr int exit_lost = 4;

std::int64_t monotonic_ns()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

long vmhwm_kib()
{
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmHWM:", 6) == 0)
            v = std::strtol(line + 6, nullptr, 10);
    std::fclose(f);
    return v;
}

long rss_kib()
{
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long size = 0, resident = 0;
    int const n = std::fscanf(f, "%ld %ld", &size, &resident);
    std::fclose(f);
    return n == 2 ? resident * (::sysconf(_SC_PAGESIZE) / 1024) : -1;
}

// --- command line ----------------------------------------------------------------------------

class options {
    std::map<std::string, std::string, std::less<>> values_;
    std::map<std::string, bool, std::less<>> flags_;

public:
    options(int argc, char** argv)
    {
        for (int i = 1; i < argc; ++i) {
            std::string_view const a = argv[i];
            if (a.substr(0, 2) != "--")
                throw std::invalid_argument("unexpected argument '" + std::string(a) + "'");
            if (a == "--trace" || a == "--no-release") {
                flags_[std::string(a.substr(2))] = true;
                continue;
            }
            if (i + 1 >= argc)
                throw std::invalid_argument(std::string(a) + " wants a value");
            values_[std::string(a.substr(2))] = argv[++i];
        }
    }
    bool flag(std::string_view name) const { return flags_.contains(name); }
    std::string text(std::string_view name, std::string fallback) const
    {
        auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second;
    }
    std::uint64_t count(std::string_view name, std::uint64_t fallback) const
    {
        auto it = values_.find(name);
        if (it == values_.end())
            return fallback;
        auto const v = sb::detail::parse_whole<std::uint64_t>(it->second);
        if (!v)
            throw std::invalid_argument("--" + std::string(name) + " wants a whole number, got '" +
                                        it->second + "'");
        return *v;
    }
    double real(std::string_view name, double fallback) const
    {
        auto it = values_.find(name);
        if (it == values_.end())
            return fallback;
        char* end = nullptr;
        double const v = std::strtod(it->second.c_str(), &end);
        if (end == it->second.c_str() || *end != '\0' || !(v >= 0))
            throw std::invalid_argument("--" + std::string(name) + " wants a number >= 0, got '" +
                                        it->second + "'");
        return v;
    }
    std::chrono::nanoseconds millis(std::string_view name, std::chrono::nanoseconds fallback) const
    {
        if (!values_.contains(name))
            return fallback;
        return std::chrono::nanoseconds(static_cast<std::int64_t>(real(name, 0) * 1e6));
    }
};

sb::memory_guard_options guard_options(options const& o)
{
    sb::memory_guard_options g;
    g.shrink_at = o.real("shrink-at", g.shrink_at);
    g.grow_at = o.real("grow-at", g.grow_at);
    g.critical_at = o.real("critical-at", g.critical_at);
    g.floor = o.count("floor", g.floor);
    g.critical_for = o.millis("critical-for-ms", g.critical_for);
    g.sample_every = o.millis("sample-every-ms", g.sample_every);
    g.sample_every_near = o.millis("sample-every-near-ms", g.sample_every_near);
    g.wait_poll = o.millis("wait-poll-ms", g.wait_poll);
    g.wait_timeout = o.millis("wait-timeout-ms", g.wait_timeout);
    g.release_memory = !o.flag("no-release");
    std::string const action = o.text("on-critical", "throw");
    if (action == "throw")
        g.on_critical = sb::critical_action::throw_exception;
    else if (action == "wait")
        g.on_critical = sb::critical_action::wait;
    else if (action == "carry_on")
        g.on_critical = sb::critical_action::carry_on;
    else
        throw std::invalid_argument("--on-critical wants throw, wait or carry_on, got '" + action +
                                    "'");
    return g;
}

// --- records and their sources ---------------------------------------------------------------

struct record {
    std::uint64_t id = 0;
    std::vector<unsigned char> bytes; // touched when made, so it is resident and charged
};

/// Fills a payload with a pattern that depends on the id (every page distinct and written).
void fill(std::vector<unsigned char>& bytes, std::uint64_t id)
{
    std::uint64_t x = id * 0x9E3779B97F4A7C15ull + 1;
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        std::memcpy(bytes.data() + i, &x, 8);
    }
    for (; i < bytes.size(); ++i)
        bytes[i] = static_cast<unsigned char>(x >> (8 * (i % 8)));
}

/// Reads every byte (so the sink's work touches the records, as a real one would).
std::uint64_t checksum(std::vector<unsigned char> const& bytes)
{
    std::uint64_t sum = 0;
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, bytes.data() + i, 8);
        sum += w;
    }
    for (; i < bytes.size(); ++i)
        sum += bytes[i];
    return sum;
}

/// Where a source stops, and what it counts.
struct source_state {
    std::uint64_t max_records = 0; ///< 0: no count limit
    std::int64_t budget_ns = 0;    ///< --seconds; 0: no time limit
    std::int64_t deadline_ns = 0;  ///< start_clock() + budget_ns; 0: no time limit (not started)
    std::uint64_t const* until_count = nullptr; ///< --until: the event counter to wait for ...
    std::uint64_t until_n = 0;                  ///< ... to reach this
    std::int64_t until_max_ns = 0;              ///< --until-max-seconds
    std::int64_t cap_ns = 0;                    ///< start_clock() + until_max_ns
    std::size_t record_bytes = 0;
    int fd = -1;                        ///< pagecache: the file
    std::uint64_t records_per_pass = 0; ///< pagecache: the file's size in records
    std::uint64_t records_in = 0;       ///< records made (or read) so far
};

/// Starts the --seconds budget: called when the job starts, after any ballast, so that the time
/// spent allocating it (seconds on a loaded machine) is not taken from the job.
void start_clock(source_state& s)
{
    if (s.budget_ns == 0)
        return;
    std::int64_t const now = monotonic_ns();
    s.deadline_ns = now + s.budget_ns;
    s.cap_ns = now + s.until_max_ns;
}

bool past_deadline(source_state const& s)
{
    if (s.deadline_ns == 0)
        return false;
    std::int64_t const now = monotonic_ns();
    if (now < s.deadline_ns)
        return false;
    return s.until_count == nullptr || *s.until_count >= s.until_n || now >= s.cap_ns;
}

/// A single-pass source, like a file or cursor: a record is made (or read) when the batch
/// takes it, so the source holds nothing that is not yet in a batch, and records_in counts
/// exactly the records that left it.
class record_source : public std::ranges::view_interface<record_source> {
    source_state* state_ = nullptr;

public:
    class iterator {
        source_state* s_ = nullptr;
        mutable record current_;
        mutable bool made_ = false;
        mutable bool done_ = false;

        void make() const
        {
            auto& s = *s_;
            current_.id = s.records_in;
            current_.bytes.resize(s.record_bytes);
            if (s.fd >= 0) {
                if (s.records_per_pass != 0 && s.records_in % s.records_per_pass == 0 &&
                    ::lseek(s.fd, 0, SEEK_SET) != 0) // the next pass starts at the beginning
                    throw std::runtime_error(std::string("lseek failed: ") + std::strerror(errno));
                std::size_t got = 0;
                while (got < s.record_bytes) {
                    ssize_t const n =
                        ::read(s.fd, current_.bytes.data() + got, s.record_bytes - got);
                    if (n < 0 && errno == EINTR)
                        continue;
                    if (n < 0)
                        throw std::runtime_error(std::string("read failed: ") +
                                                 std::strerror(errno));
                    if (n == 0)
                        break;
                    got += static_cast<std::size_t>(n);
                }
                current_.bytes.resize(got); // the file's last record may be short
            } else {
                fill(current_.bytes, current_.id);
            }
            ++s.records_in;
            made_ = true;
        }

    public:
        using value_type = record;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(source_state& s) : s_(&s) {}
        record& operator*() const
        {
            if (!made_)
                make();
            return current_;
        }
        iterator& operator++()
        {
            if (!made_) // skipped without being read: still counts as having left the source
                make();
            made_ = false;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool done() const
        {
            auto const& s = *s_;
            if (!done_ && !made_)
                done_ = (s.max_records != 0 && s.records_in >= s.max_records) || past_deadline(s);
            return done_;
        }
        friend bool operator==(iterator const& it, std::default_sentinel_t) { return it.done(); }
    };

    record_source() = default;
    explicit record_source(source_state& s) : state_(&s) {}
    iterator begin() const { return iterator(*state_); }
    std::default_sentinel_t end() const { return {}; }
};

// --- the sink: processes each batch, keeps the last K alive ---------------------------------

class write_behind_sink {
    std::size_t in_flight_;
    std::deque<std::vector<record>> window_;
    std::uint64_t next_id_ = 0;

public:
    std::uint64_t records_out = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t sum = 0;
    std::uint64_t held_bytes = 0; ///< payload bytes of the batches in flight now

    explicit write_behind_sink(std::size_t in_flight) : in_flight_(in_flight) {}

    static std::uint64_t bytes_of(std::vector<record> const& v)
    {
        std::uint64_t n = 0;
        for (auto const& r : v)
            n += r.bytes.size();
        return n;
    }

    void consume(record const& r)
    {
        if (r.id != next_id_)
            ++out_of_order;
        next_id_ = r.id + 1;
        sum += checksum(r.bytes);
        ++records_out;
    }

    template <class Batch>
    void write(Batch const& b)
    {
        for (record const& r : b)
            consume(r);
        if (in_flight_ == 0)
            return;
        window_.push_back(b.take()); // "sent, not yet acknowledged": stays alive
        held_bytes += bytes_of(window_.back());
        while (window_.size() > in_flight_) {
            held_bytes -= bytes_of(window_.front());
            window_.pop_front();
        }
    }
};

// --- ballast (case 6) ------------------------------------------------------------------------

class ballast {
    void* p_ = nullptr;
    std::size_t n_ = 0;
    std::mutex m_;

public:
    void allocate(std::size_t n)
    {
        std::lock_guard lock(m_);
        p_ = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p_ == MAP_FAILED) {
            p_ = nullptr;
            throw std::runtime_error("ballast: mmap failed");
        }
        std::memset(p_, 0x5a, n); // resident and charged to the cgroup
        n_ = n;
    }
    void release()
    {
        std::lock_guard lock(m_);
        if (p_)
            ::munmap(p_, n_);
        p_ = nullptr;
    }
    ~ballast() { release(); }
};

// --- what the run saw --------------------------------------------------------------------------

struct run_stats {
    std::uint64_t batches = 0;
    std::size_t start_size = 0, min_size = std::numeric_limits<std::size_t>::max();
    std::size_t min_batch = std::numeric_limits<std::size_t>::max(), max_batch = 0, last_batch = 0;
    std::uint64_t events[6] = {};
    double max_used = 0;
    std::uint64_t max_ws = 0;
};

/// The guard as the view's policy, recording every size it asks for. `fixed`: the guard is
/// not asked, every batch keeps the starting size (the control that shows the guard is needed).
struct recording_policy {
    sb::memory_guard* guard;
    run_stats* stats;
    bool fixed = false;
    std::size_t next_batch_size(std::size_t current)
    {
        std::size_t const n = fixed ? current : guard->next_batch_size(current);
        stats->min_size = std::min(stats->min_size, n);
        auto const& s = guard->last_snapshot();
        stats->max_used = std::max(stats->max_used, s.used_fraction);
        stats->max_ws = std::max(stats->max_ws, s.cgroup_working_set_bytes);
        return n;
    }
};

void print_summary(char const* mode, char const* result, source_state const& src,
                   write_behind_sink const& sink, run_stats const& st,
                   sb::memory_guard const* guard, double seconds)
{
    auto const none = std::numeric_limits<std::size_t>::max();
    std::printf(
        "summary mode=%s result=%s records_in=%llu records_out=%llu out_of_order=%llu batches=%llu "
        "start_size=%zu min_size=%zu min_batch=%zu max_batch=%zu last_batch=%zu shrinks=%llu "
        "grows=%llu "
        "critical=%llu waiting=%llu resumed=%llu exhausted=%llu samples=%llu releases=%llu "
        "max_used=%.4f max_ws=%llu final_used=%.4f final_ws=%llu held_bytes=%llu vmhwm_kib=%ld "
        "seconds=%.3f "
        "checksum=%llu\n",
        mode, result, static_cast<unsigned long long>(src.records_in),
        static_cast<unsigned long long>(sink.records_out),
        static_cast<unsigned long long>(sink.out_of_order),
        static_cast<unsigned long long>(st.batches), st.start_size,
        st.min_size == none ? 0 : st.min_size, st.min_batch == none ? 0 : st.min_batch,
        st.max_batch, st.last_batch, static_cast<unsigned long long>(guard ? guard->shrinks() : 0),
        static_cast<unsigned long long>(guard ? guard->grows() : 0),
        static_cast<unsigned long long>(st.events[int(sb::guard_event::kind::critical)]),
        static_cast<unsigned long long>(st.events[int(sb::guard_event::kind::waiting)]),
        static_cast<unsigned long long>(st.events[int(sb::guard_event::kind::resumed)]),
        static_cast<unsigned long long>(st.events[int(sb::guard_event::kind::exhausted)]),
        static_cast<unsigned long long>(guard ? guard->samples() : 0),
        static_cast<unsigned long long>(guard ? guard->releases() : 0), st.max_used,
        static_cast<unsigned long long>(st.max_ws),
        guard ? guard->last_snapshot().used_fraction : 0.0,
        static_cast<unsigned long long>(guard ? guard->last_snapshot().cgroup_working_set_bytes
                                              : 0),
        static_cast<unsigned long long>(sink.held_bytes), vmhwm_kib(), seconds,
        static_cast<unsigned long long>(sink.sum));
}

int run_naive(options const& o, source_state& src)
{
    auto const t0 = std::chrono::steady_clock::now();
    start_clock(src);
    std::vector<record> all; // the naive way: load everything, then process
    for (auto& r : record_source(src)) {
        all.push_back(std::move(r));
        if (all.size() % 1024 == 0)
            std::printf("progress records_in=%llu rss_kib=%ld\n",
                        static_cast<unsigned long long>(src.records_in), rss_kib());
    }
    write_behind_sink sink(0);
    for (auto const& r : all)
        sink.consume(r);
    run_stats st;
    st.batches = 1;
    st.start_size = st.min_batch = st.max_batch = st.last_batch = all.size();
    double const secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    print_summary("naive", "ok", src, sink, st, nullptr, secs);
    (void)o;
    return sink.records_out == src.records_in && sink.out_of_order == 0 ? exit_ok : exit_lost;
}

int run_guarded(char const* mode, options const& o, source_state& src)
{
    std::size_t const start = o.count("batch", 256);
    if (start == 0)
        throw std::invalid_argument("--batch must be positive");
    sb::memory_guard guard(guard_options(o));
    run_stats st;
    st.start_size = start;

    ballast weight;
    std::mutex m;
    std::condition_variable cv;
    bool free_requested = false, stop = false;
    std::thread freer;
    auto const free_after = o.millis("free-ballast-after-wait-ms", std::chrono::nanoseconds(-1));

    guard.on_event([&](sb::guard_event const& e) {
        auto const& s = e.snapshot;
        ++st.events[int(e.what)];
        std::printf("event t_ns=%lld kind=%s old=%zu new=%zu batch=%llu used=%.4f source=%s "
                    "ws=%llu limit=%llu "
                    "rss=%llu\n",
                    static_cast<long long>(e.at.count()), sb::guard_event::name(e.what), e.old_size,
                    e.new_size, static_cast<unsigned long long>(e.batch), s.used_fraction,
                    s.source == sb::memory_source::cgroup ? "cgroup" : "system",
                    static_cast<unsigned long long>(s.cgroup_working_set_bytes),
                    static_cast<unsigned long long>(s.cgroup_limit_bytes),
                    static_cast<unsigned long long>(s.rss_bytes));
        if (e.what == sb::guard_event::kind::waiting && free_after.count() >= 0) {
            std::lock_guard lock(m);
            free_requested = true;
            cv.notify_one();
        }
    });

    auto const probe_now = guard.probe().sample();
    auto const& cg = guard.probe().cgroup();
    std::printf("start t_ns=%lld pid=%d cgroup_version=%d cgroup_dir=%s cgroup_levels=%zu "
                "limit=%llu ws=%llu "
                "used=%.4f system_total=%llu sources=\"%s\"\n",
                static_cast<long long>(monotonic_ns()), int(::getpid()), cg.version,
                cg.directory.c_str(), cg.levels,
                static_cast<unsigned long long>(
                    probe_now.cgroup_limited ? probe_now.cgroup_limit_bytes : 0),
                static_cast<unsigned long long>(probe_now.cgroup_working_set_bytes),
                probe_now.used_fraction,
                static_cast<unsigned long long>(probe_now.system_total_bytes),
                guard.probe().sources().c_str());

    if (double const f = o.real("ballast-fraction", 0); f > 0) {
        if (!probe_now.cgroup_limited)
            throw std::runtime_error(
                "--ballast-fraction needs a cgroup limit, and the probe found none");
        double const target =
            f * double(probe_now.cgroup_limit_bytes) - double(probe_now.cgroup_working_set_bytes);
        if (target > 0) {
            weight.allocate(static_cast<std::size_t>(target));
            std::printf("ballast bytes=%zu\n", static_cast<std::size_t>(target));
        }
        if (free_after.count() >= 0)
            freer = std::thread([&] {
                std::unique_lock lock(m);
                cv.wait(lock, [&] { return free_requested || stop; });
                if (stop)
                    return;
                lock.unlock();
                std::this_thread::sleep_for(free_after);
                auto const began = monotonic_ns(); // munmap of ~250 MiB takes tens of ms
                weight.release();
                std::printf("ballast_freed t_ns=%lld done_ns=%lld\n", static_cast<long long>(began),
                            static_cast<long long>(monotonic_ns()));
            });
    }
    auto join_freer = [&] {
        if (freer.joinable()) {
            {
                std::lock_guard lock(m);
                stop = true;
                cv.notify_one();
            }
            freer.join();
        }
    };

    if (std::string const until = o.text("until", ""); !until.empty()) {
        auto const colon = until.find(':');
        std::string const kind = until.substr(0, colon);
        auto const n =
            colon == std::string::npos
                ? std::nullopt
                : sb::detail::parse_whole<std::uint64_t>(std::string_view(until).substr(colon + 1));
        for (int k = 0; k <= int(sb::guard_event::kind::exhausted); ++k)
            if (kind == sb::guard_event::name(sb::guard_event::kind(k)))
                src.until_count = &st.events[k];
        if (!src.until_count || !n)
            throw std::invalid_argument(
                "--until wants KIND:N (KIND an event: shrink, grow, critical, waiting, "
                "resumed, exhausted), got '" +
                until + "'");
        src.until_n = *n;
        src.until_max_ns = static_cast<std::int64_t>(o.real("until-max-seconds", 30) * 1e9);
    }
    write_behind_sink sink(o.count("in-flight", 0));
    bool const trace = o.flag("trace");
    auto const t0 = std::chrono::steady_clock::now();
    start_clock(src); // the job starts here, after the ballast
    auto seconds = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    try {
        std::size_t previous = 0;
        bool have_previous = false;
        std::string const policy = o.text("policy", "guard");
        if (policy != "guard" && policy != "fixed")
            throw std::invalid_argument("--policy wants guard or fixed, got '" + policy + "'");
        recording_policy const rp{&guard, &st, policy == "fixed"};
        for (auto&& b : record_source(src) | sb::views::memory_guarded(start, rp)) {
            if (have_previous) // the last batch may be short: only the ones before it count
                st.min_batch = std::min(st.min_batch, previous);
            previous = b.size();
            have_previous = true;
            st.max_batch = std::max(st.max_batch, b.size());
            st.last_batch = b.size();
            ++st.batches;
            if (trace)
                std::printf("batch i=%llu size=%zu used=%.4f ws=%llu\n",
                            static_cast<unsigned long long>(st.batches), b.size(),
                            guard.last_snapshot().used_fraction,
                            static_cast<unsigned long long>(
                                guard.last_snapshot().cgroup_working_set_bytes));
            sink.write(b);
        }
        if (st.batches == 1)
            st.min_batch = previous;
    } catch (sb::memory_exhausted const& e) {
        join_freer();
        std::fprintf(stderr, "oom_workload: streambatch::memory_exhausted: %s\n", e.what());
        std::printf("exhausted batch_size=%zu used=%.4f ws=%llu limit=%llu\n", e.batch_size,
                    e.snapshot.used_fraction,
                    static_cast<unsigned long long>(e.snapshot.cgroup_working_set_bytes),
                    static_cast<unsigned long long>(e.snapshot.cgroup_limit_bytes));
        print_summary(mode, "exhausted", src, sink, st, &guard, seconds());
        std::fflush(stdout);
        return sink.records_out == src.records_in ? exit_exhausted : exit_lost;
    }
    join_freer();
    print_summary(mode, "ok", src, sink, st, &guard, seconds());
    return sink.records_out == src.records_in && sink.out_of_order == 0 ? exit_ok : exit_lost;
}

} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // a killed run keeps every line it printed
    try {
        options const o(argc, argv);
        std::string const mode = o.text("mode", "");
        source_state src;
        src.record_bytes = o.count("record-bytes", 16384);
        if (src.record_bytes == 0)
            throw std::invalid_argument("--record-bytes must be positive");
        double const secs = o.real("seconds", 0);
        src.max_records = o.count("records", secs > 0 ? 0 : 65536);
        src.budget_ns = static_cast<std::int64_t>(secs * 1e9); // started by start_clock()
        if (mode == "naive")
            return run_naive(o, src);
        if (mode == "guarded")
            return run_guarded("guarded", o, src);
        if (mode == "pagecache") {
            std::string const file = o.text("file", "");
            src.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
            struct stat st {};
            if (src.fd < 0 || ::fstat(src.fd, &st) != 0)
                throw std::runtime_error("cannot open --file '" + file +
                                         "': " + std::strerror(errno));
            auto const size = static_cast<std::uint64_t>(st.st_size); // the whole file, in records
            src.records_per_pass = size / src.record_bytes + (size % src.record_bytes != 0);
            src.max_records = src.records_per_pass * o.count("passes", 1);
            int const rc = run_guarded("pagecache", o, src);
            ::close(src.fd);
            return rc;
        }
        throw std::invalid_argument("--mode wants naive, guarded or pagecache, got '" + mode + "'");
    } catch (std::exception const& e) {
        std::fprintf(stderr, "oom_workload: %s\n", e.what());
        return exit_error;
    }
}
