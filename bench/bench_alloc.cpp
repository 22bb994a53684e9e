// bench/bench_alloc.cpp: the allocator tax of batches (issue 15, item 2), one process per run.
//
//     bench_alloc --mode MODE [--records N] [--batch K] [--payload-bytes B]
//
// The job is the harness's (bench/records.hpp): records of about 500 bytes (a distinct 450-byte
// heap payload each) made lazily, cleaned (trim, lower-case, parse) and sunk. Modes:
//   stream        one record at a time, no batches: made, cleaned, sunk, freed (the baseline);
//   batch         views::memory_guarded(K) (the default guard), each batch cleaned into a new
//                 vector, sunk, and freed together: glibc's defaults;
//   batch-policy  batch under a streambatch::malloc_policy (guard/malloc_policy.hpp);
//   batch-tcache  batch, run by alloc.py with GLIBC_TUNABLES=glibc.malloc.tcache_count=1000;
//   stream-recycle one at a time, each record cleaned into the same customer (clean_into);
//   recycle       batch, the cleaned vector kept across batches and each record cleaned into
//                 its slot (clean_into): the slot's old buffers go back to the source;
//   arena         batch with the records' strings (the source's and the cleaned ones) drawn from
//                 a streambatch::batch_arena (guard/batch_arena.hpp), reset after every batch;
//   clean-first   raw_source | std::views::transform(clean_one) | memory_guarded(K): records
//                 cleaned before batching, each batch of cleaned records read where it lies;
//   insert-stream bench::record (id, name, payload) one at a time: made, read, freed;
//   insert        views::memory_guarded(K) over those records, each batch read where it lies
//                 (sink.insert(batch)) and freed by the view when it pulls the next batch;
//   insert-policy insert under a streambatch::malloc_policy;
//   loop          the hand-written loop: records pushed into a vector, consumed and
//                 cleared every K (no library): glibc's defaults;
//   loop-policy   loop under a streambatch::malloc_policy.
// Prints one line of key=value pairs: mode records batch seconds user_s sys_s minflt
// peak_rss_kib upstream_blocks checksum (checksum: the same for stream*, batch*, arena, recycle;
// and for insert*, loop*, which sink bench::record). seconds covers the job only; minflt and CPU
// are getrusage's for the whole process (the pool is made before, and costs the same in every
// mode). Each mode is an out-of-line run_<mode>() so that callgrind can count it alone:
//     valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*run_arena*' bench_alloc
//         --mode arena --records 200000

#include <streambatch/guard/batch_arena.hpp>
#include <streambatch/guard/malloc_policy.hpp>
#include <streambatch/guard/memory_guard.hpp>
#include <streambatch/views/memory_guarded.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory_resource>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include "peak_rss.hpp"
#include "records.hpp"

namespace sb = streambatch;

namespace {

struct outcome {
    std::uint64_t records = 0;
    std::uint64_t checksum = 0;
    std::uint64_t upstream_blocks = 0;
};

using batch_of_customers = std::vector<bench::customer>;

/// The sink: reads every cleaned record; the batch is freed when it returns.
[[gnu::noinline]] void sink(batch_of_customers&& cleaned, outcome& out)
{
    for (auto const& c : cleaned)
        out.checksum += bench::sink_value(c);
    out.records += cleaned.size();
}

/// The same sink, the batch kept by the caller (recycled for the next batch).
[[gnu::noinline]] void sink_in_place(batch_of_customers const& cleaned, outcome& out)
{
    for (auto const& c : cleaned)
        out.checksum += bench::sink_value(c);
    out.records += cleaned.size();
}

// --- the same record work in every mode -----------------------------------------------------
// run_stream and the batched modes make and clean each record through these two functions,
// compiled once, out of line and flattened (STREAMBATCH_BENCH_OUT_OF_LINE: never inlined into a
// caller, everything they call inlined into them). Before, bench::make_raw_record and
// bench::clean were inline, and GCC inlined them (and std::to_chars inside them) differently
// into run_stream and run_batch: __to_chars_10_impl cost 56 Ir per record in one and 117 in the
// other, a difference in the benchmark, not in batching.

STREAMBATCH_BENCH_OUT_OF_LINE void make_raw(std::uint64_t i, std::size_t payload,
                                            bench::raw_record& out)
{
    bench::make_raw_record(i, payload, out);
}

STREAMBATCH_BENCH_OUT_OF_LINE bench::customer clean_one(bench::raw_record&& r)
{
    return bench::clean(std::move(r));
}

/// bench::clean into an existing record: the same steps, but the payload is move-assigned over
/// `out`'s, so `out`'s old payload buffer goes back into `r` (libstdc++'s move assignment hands
/// the destination's heap buffer to the source), and the batch view hands `r`'s buffers back to
/// the source, which refills them: no malloc and no free per record in the steady state.
STREAMBATCH_BENCH_OUT_OF_LINE void clean_into(bench::raw_record&& r, bench::customer& out)
{
    auto trim = [](std::string_view s) {
        auto const b = s.find_first_not_of(' ');
        auto const e = s.find_last_not_of(' ');
        return b == std::string_view::npos ? std::string_view{} : s.substr(b, e - b + 1);
    };
    auto const id = trim(r.id);
    if (std::from_chars(id.data(), id.data() + id.size(), out.id).ec != std::errc())
        throw std::runtime_error("bad id '" + r.id + "'");
    out.name = trim(r.name);
    std::transform(out.name.begin(), out.name.end(), out.name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    out.payload = std::move(r.payload);
}

struct raw_maker {
    std::size_t payload_bytes = bench::default_payload_bytes;
    void operator()(std::uint64_t i, bench::raw_record& out) const
    {
        make_raw(i, payload_bytes, out);
    }
};

/// bench::raw_records, made by make_raw().
bench::lazy_source<bench::raw_record, raw_maker> raw_source(std::uint64_t n, std::size_t payload)
{
    return {n, raw_maker{payload}};
}

[[gnu::noinline]] outcome run_stream(std::uint64_t n, std::size_t, std::size_t payload)
{
    outcome out;
    for (auto& r : raw_source(n, payload)) {
        bench::customer const c = clean_one(std::move(r));
        out.checksum += bench::sink_value(c);
        ++out.records;
    }
    return out;
}

[[gnu::noinline]] outcome run_batch(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    sb::memory_guard guard;
    for (auto b : raw_source(n, payload) | sb::views::memory_guarded(k, std::ref(guard))) {
        batch_of_customers cleaned;
        cleaned.reserve(b.size());
        for (auto& r : b)
            cleaned.push_back(clean_one(std::move(r)));
        sink(std::move(cleaned), out);
    }
    return out;
}

/// The same batches, the tcache raised: alloc.py runs this mode with
/// GLIBC_TUNABLES=glibc.malloc.tcache_count=1000 (a batch's payloads freed together fit the
/// thread's cache, and the next batch's mallocs take them back from it). The same code as batch.
[[gnu::noinline]] outcome run_batch_tcache(std::uint64_t n, std::size_t k, std::size_t payload)
{
    if (std::getenv("GLIBC_TUNABLES") == nullptr)
        std::fprintf(stderr, "bench_alloc: batch-tcache without GLIBC_TUNABLES is batch\n");
    return run_batch(n, k, payload);
}

// A named function object, not a lambda: a lambda's name contains run_clean_first's, and
// callgrind's --toggle-collect would switch counting off again inside it.
struct clean_fn {
    bench::customer operator()(bench::raw_record& r) const { return clean_one(std::move(r)); }
};

/// Cleaned before batching: the source piped through std::views::transform(clean_one) into
/// views::memory_guarded, each batch of cleaned records read where it lies. One move per record
/// (the cleaned record into its slot, over the previous batch's record) instead of two.
[[gnu::noinline]] outcome run_clean_first(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    sb::memory_guard guard;
    auto cleaned = raw_source(n, payload) | std::views::transform(clean_fn{});
    for (auto b : cleaned | sb::views::memory_guarded(k, std::ref(guard))) {
        for (auto const& c : b)
            out.checksum += bench::sink_value(c);
        out.records += b.size();
    }
    return out;
}

/// One at a time, the cleaned record kept from one record to the next (clean_into): the
/// baseline of `recycle`.
[[gnu::noinline]] outcome run_stream_recycle(std::uint64_t n, std::size_t, std::size_t payload)
{
    outcome out;
    bench::customer c;
    for (auto& r : raw_source(n, payload)) {
        clean_into(std::move(r), c);
        out.checksum += bench::sink_value(c);
        ++out.records;
    }
    return out;
}

/// The cleaned vector kept from one batch to the next, each record cleaned into its slot
/// (clean_into): the slot's old payload goes back to the batch's record, and from there to the
/// source. No malloc and no free per record.
[[gnu::noinline]] outcome run_recycle(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    sb::memory_guard guard;
    batch_of_customers cleaned;
    for (auto b : raw_source(n, payload) | sb::views::memory_guarded(k, std::ref(guard))) {
        if (cleaned.size() < b.size())
            cleaned.resize(b.size());
        else
            cleaned.erase(cleaned.begin() + static_cast<std::ptrdiff_t>(b.size()), cleaned.end());
        auto slot = cleaned.begin();
        for (auto& r : b)
            clean_into(std::move(r), *slot++);
        sink_in_place(cleaned, out);
    }
    return out;
}

[[gnu::noinline]] outcome run_batch_policy(std::uint64_t n, std::size_t k, std::size_t payload)
{
    sb::malloc_policy const policy;
    if (!policy.applied())
        std::fprintf(stderr, "bench_alloc: %s\n", policy.describe().c_str());
    return run_batch(n, k, payload);
}

// --- the arena's records: the same fields, std::pmr strings ---------------------------------

// Not allocator-aware (no allocator_type): moved into std::vector / std::pmr::vector, their
// strings keep the arena they were made from.
struct pmr_raw_record {
    explicit pmr_raw_record(std::pmr::polymorphic_allocator<char> a) : id(a), name(a), payload(a) {}
    std::pmr::string id, name, payload;
};

struct pmr_customer {
    explicit pmr_customer(std::pmr::polymorphic_allocator<char> a) : name(a), payload(a) {}
    std::int64_t id = 0;
    std::pmr::string name, payload;
};

/// bench::raw_records with the record's strings drawn from `alloc` (the arena).
class pmr_raw_source : public std::ranges::view_interface<pmr_raw_source> {
    std::uint64_t count_ = 0;
    std::size_t payload_ = 0;
    std::pmr::memory_resource* resource_ = std::pmr::get_default_resource(); // a view: assignable

public:
    class iterator {
        pmr_raw_source const* src_ = nullptr;
        std::uint64_t i_ = 0;
        mutable pmr_raw_record current_{std::pmr::polymorphic_allocator<char>()};

        STREAMBATCH_BENCH_OUT_OF_LINE void make()
        {
            char buf[48] = "  ";
            char* p = std::to_chars(buf + 2, buf + sizeof buf, i_ + 1).ptr;
            *p++ = ' ';
            current_.id.assign(buf, p);
            std::string_view const prefix = "  Customer ";
            p = std::copy(prefix.begin(), prefix.end(), buf);
            p = std::to_chars(p, buf + sizeof buf, (i_ * 2654435761u) % 1000003u).ptr;
            *p++ = ' ';
            *p++ = ' ';
            current_.name.assign(buf, p);
            current_.payload.assign(bench::payload_pool().data() + bench::payload_offset(i_),
                                    src_->payload_);
        }

    public:
        using value_type = pmr_raw_record;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;
        iterator() = default;
        explicit iterator(pmr_raw_source const& s) : src_(&s), current_(s.resource_)
        {
            if (s.count_ > 0)
                make();
        }
        pmr_raw_record& operator*() const noexcept { return current_; }
        iterator& operator++()
        {
            if (++i_ < src_->count_)
                make();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(iterator const& it, std::default_sentinel_t) noexcept
        {
            return it.i_ >= it.src_->count();
        }
    };

    pmr_raw_source() = default;
    pmr_raw_source(std::uint64_t n, std::size_t payload, std::pmr::memory_resource* r)
        : count_(n), payload_(payload), resource_(r)
    {}
    iterator begin() const { return iterator(*this); }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
    std::uint64_t count() const noexcept { return count_; }
};

/// bench::clean, into a record drawn from the same arena (the payload moves: same resource).
STREAMBATCH_BENCH_OUT_OF_LINE pmr_customer clean_pmr(pmr_raw_record&& r)
{
    auto trim = [](std::string_view s) {
        auto const b = s.find_first_not_of(' ');
        auto const e = s.find_last_not_of(' ');
        return b == std::string_view::npos ? std::string_view{} : s.substr(b, e - b + 1);
    };
    pmr_customer c(r.payload.get_allocator());
    auto const id = trim(r.id);
    if (std::from_chars(id.data(), id.data() + id.size(), c.id).ec != std::errc())
        throw std::runtime_error("bad id");
    c.name = trim(r.name);
    std::transform(c.name.begin(), c.name.end(), c.name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    c.payload = std::move(r.payload);
    return c;
}

[[gnu::noinline]] void sink_pmr(std::pmr::vector<pmr_customer>&& cleaned, outcome& out)
{
    for (auto const& c : cleaned)
        out.checksum += static_cast<std::uint64_t>(c.id) + c.name.size() +
                        (c.name.empty() ? 0u : static_cast<unsigned char>(c.name[0])) +
                        c.payload.size();
    out.records += cleaned.size();
}

[[gnu::noinline]] outcome run_arena(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    sb::batch_arena arena;
    std::pmr::polymorphic_allocator<char> const alloc(&arena);
    sb::memory_guard guard;
    for (auto b :
         pmr_raw_source(n, payload, &arena) | sb::views::memory_guarded(k, std::ref(guard))) {
        std::pmr::vector<pmr_customer> cleaned(alloc);
        cleaned.reserve(b.size());
        for (auto& r : b)
            cleaned.push_back(clean_pmr(std::move(r)));
        sink_pmr(std::move(cleaned), out);
        arena.reset(); // this batch's strings are reused one batch later
    }
    out.upstream_blocks = arena.upstream_allocations();
    return out;
}

// --- records sunk where they lie: sink.insert(batch) reads the batch, the view frees it -----

[[gnu::noinline]] std::uint64_t insert(sb::batch<bench::record> b)
{
    std::uint64_t sum = 0;
    for (auto const& r : b)
        sum += bench::consume(r);
    return sum;
}

[[gnu::noinline]] outcome run_insert_stream(std::uint64_t n, std::size_t, std::size_t payload)
{
    outcome out;
    for (auto& r : bench::records(n, payload)) {
        bench::record const mine = std::move(r); // taken from the source, freed after use
        out.checksum += bench::consume(mine);
        ++out.records;
    }
    return out;
}

[[gnu::noinline]] outcome run_insert(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    sb::memory_guard guard;
    for (auto b : bench::records(n, payload) | sb::views::memory_guarded(k, std::ref(guard))) {
        out.checksum += insert(b);
        out.records += b.size();
    }
    return out;
}

[[gnu::noinline]] outcome run_insert_policy(std::uint64_t n, std::size_t k, std::size_t payload)
{
    sb::malloc_policy const policy;
    return run_insert(n, k, payload);
}

// --- the hand-written loop ----------------------------------------------------------

[[gnu::noinline]] outcome run_loop(std::uint64_t n, std::size_t k, std::size_t payload)
{
    outcome out;
    std::vector<bench::record> batch;
    for (std::uint64_t i = 0; i < n; ++i) {
        batch.push_back(bench::make_record(i, payload));
        if (batch.size() == k || i + 1 == n) {
            for (auto const& r : batch)
                out.checksum += bench::consume(r);
            out.records += batch.size();
            batch.clear(); // the batch's payloads are freed together
        }
    }
    return out;
}

[[gnu::noinline]] outcome run_loop_policy(std::uint64_t n, std::size_t k, std::size_t payload)
{
    sb::malloc_policy const policy;
    return run_loop(n, k, payload);
}

std::uint64_t number(char const* flag, char const* text)
{
    std::uint64_t v = 0;
    std::string_view s = text;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0) {
        std::fprintf(stderr, "bench_alloc: %s wants a positive whole number, got '%s'\n", flag,
                     text);
        std::exit(2);
    }
    return v;
}

double seconds(timeval t)
{
    return double(t.tv_sec) + double(t.tv_usec) / 1e6;
}

} // namespace

int main(int argc, char** argv)
{
    std::string mode;
    std::uint64_t records = 1'000'000, batch = 1000, payload = bench::default_payload_bytes;
    for (int i = 1; i < argc; ++i) {
        std::string_view const a = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_alloc: %s wants a value\n", argv[i]);
            return 2;
        }
        if (a == "--mode")
            mode = argv[++i];
        else if (a == "--records")
            records = number(argv[i], argv[i + 1]), ++i;
        else if (a == "--batch")
            batch = number(argv[i], argv[i + 1]), ++i;
        else if (a == "--payload-bytes")
            payload = number(argv[i], argv[i + 1]), ++i;
        else {
            std::fprintf(stderr, "bench_alloc: unknown flag '%s'\n", argv[i]);
            return 2;
        }
    }
    outcome (*job)(std::uint64_t, std::size_t, std::size_t) = nullptr;
    if (mode == "stream")
        job = run_stream;
    else if (mode == "batch")
        job = run_batch;
    else if (mode == "batch-policy")
        job = run_batch_policy;
    else if (mode == "batch-tcache")
        job = run_batch_tcache;
    else if (mode == "stream-recycle")
        job = run_stream_recycle;
    else if (mode == "recycle")
        job = run_recycle;
    else if (mode == "clean-first")
        job = run_clean_first;
    else if (mode == "arena")
        job = run_arena;
    else if (mode == "insert-stream")
        job = run_insert_stream;
    else if (mode == "insert")
        job = run_insert;
    else if (mode == "insert-policy")
        job = run_insert_policy;
    else if (mode == "loop")
        job = run_loop;
    else if (mode == "loop-policy")
        job = run_loop_policy;
    else {
        std::fprintf(stderr,
                     "usage: bench_alloc --mode stream|batch|batch-policy|batch-tcache|arena|"
                     "stream-recycle|recycle|clean-first|insert-stream|"
                     "insert|insert-policy|loop|loop-policy [--records N] [--batch K] "
                     "[--payload-bytes B]\n");
        return 2;
    }
    if (payload > bench::max_payload_bytes) {
        std::fprintf(stderr, "bench_alloc: --payload-bytes at most %zu\n",
                     bench::max_payload_bytes);
        return 2;
    }
    (void)bench::payload_pool(); // made before the clock starts
    try {
        auto const t0 = std::chrono::steady_clock::now();
        outcome const out = job(records, batch, payload);
        double const secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rusage ru{};
        ::getrusage(RUSAGE_SELF, &ru);
        std::printf("mode=%s records=%llu batch=%llu seconds=%.6f user_s=%.3f sys_s=%.3f "
                    "minflt=%ld peak_rss_kib=%llu upstream_blocks=%llu checksum=%llu\n",
                    mode.c_str(), static_cast<unsigned long long>(out.records),
                    static_cast<unsigned long long>(batch), secs, seconds(ru.ru_utime),
                    seconds(ru.ru_stime), ru.ru_minflt,
                    static_cast<unsigned long long>(bench::peak_rss_bytes() / 1024),
                    static_cast<unsigned long long>(out.upstream_blocks),
                    static_cast<unsigned long long>(out.checksum));
        if (out.records != records) {
            std::fprintf(stderr, "bench_alloc: %llu records in, %llu out\n",
                         static_cast<unsigned long long>(records),
                         static_cast<unsigned long long>(out.records));
            return 1;
        }
    } catch (std::exception const& e) {
        std::fprintf(stderr, "bench_alloc: %s\n", e.what());
        return 1;
    }
    return 0;
}
