// streambatch/guard/batch_arena.hpp: a std::pmr memory resource whose memory is recycled batch
// after batch, without malloc or free per record.
//
// In:     batch_arena_options (block_bytes: 1 MiB; generations: 2); an upstream
//         std::pmr::memory_resource (default std::pmr::new_delete_resource()).
// Out:    streambatch::batch_arena, a std::pmr::memory_resource. Records whose fields are
//         std::pmr types (std::pmr::string, std::pmr::vector) built with
//         std::pmr::polymorphic_allocator(&arena) draw from it by bumping a pointer;
//         deallocate() does nothing. reset() marks a batch boundary: it starts a new generation
//         and makes the blocks of the generation `generations` resets old reusable. So memory
//         allocated between reset() n-1 and reset() n stays valid until reset() n+1 with the
//         default 2 generations: a single-pass source that has already made the next batch's
//         first record when the batch is handed out (every lazy source does) keeps it.
//         Steady state: the blocks cycle, upstream is not asked again, no page is returned to
//         the kernel and faulted back (the allocator tax of batches; bench/RESULTS-alloc.md).
// Models: std::pmr::memory_resource; is_equal only to itself. Not thread-safe, like
//         std::pmr::monotonic_buffer_resource: one arena per pipeline thread, with generations
//         at least the number of batches alive at once + 1.
// Memory: the blocks of the live generations (about `generations` batches of record heap)
//         plus the spare blocks recycled for the next batches; trim(keep) gives spare blocks
//         beyond `keep` bytes back to upstream, release() every block (the memory guard's
//         pressure call: see docs/memory-guard.md). An allocation larger than block_bytes gets a
//         block of its own.
// Errors: invalid options throw std::invalid_argument naming batch_arena, the option and the
//         value; upstream's exceptions (std::bad_alloc) propagate. Using memory after the reset
//         that recycled it is undefined, as with any arena.
// Example:
//     streambatch::batch_arena arena;
//     std::pmr::polymorphic_allocator<char> alloc(&arena);
//     for (auto&& batch : source_drawing_from(alloc) | streambatch::views::memory_guarded(1000)) {
//         sink.insert(batch);
//         arena.reset();                  // this batch's strings are recycled one batch later
//     }

#ifndef STREAMBATCH_GUARD_BATCH_ARENA_HPP_INCLUDED
#define STREAMBATCH_GUARD_BATCH_ARENA_HPP_INCLUDED

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace streambatch {

struct batch_arena_options {
    std::size_t block_bytes = std::size_t{1} << 20; ///< the size of the blocks taken upstream
    unsigned generations = 2; ///< resets an allocation survives (batches alive at once + 1)
};

class batch_arena : public std::pmr::memory_resource {
public:
    explicit batch_arena(batch_arena_options const& opts = {},
                         std::pmr::memory_resource* upstream = std::pmr::new_delete_resource())
        : opts_(checked(opts)), upstream_(upstream), gens_(opts.generations)
    {
        if (upstream_ == nullptr)
            throw std::invalid_argument("streambatch::batch_arena: upstream = nullptr");
    }

    batch_arena(batch_arena const&) = delete;
    batch_arena& operator=(batch_arena const&) = delete;
    ~batch_arena() override { release(); }

    /// A batch boundary: a new generation begins, and the blocks of the one `generations`
    /// resets old are recycled (kept for the next allocations, not given back).
    void reset() noexcept
    {
        cur_ = (cur_ + 1) % gens_.size();
        auto& old = gens_[cur_];
        for (block& b : old) {
            in_use_ -= b.used;
            b.used = 0;
            spare_.push_back(b);
        }
        old.clear();
        ptr_ = end_ = nullptr;
        ++resets_;
    }

    /// Gives every spare block beyond `keep_bytes` (largest kept first) back to upstream;
    /// returns the bytes given back. Live generations are untouched.
    std::size_t trim(std::size_t keep_bytes = 0) noexcept
    {
        std::sort(spare_.begin(), spare_.end(),
                  [](block const& a, block const& b) { return a.size > b.size; });
        std::size_t kept = 0, freed = 0;
        std::size_t n = 0;
        for (; n < spare_.size() && kept + spare_[n].size <= keep_bytes; ++n)
            kept += spare_[n].size;
        for (std::size_t i = n; i < spare_.size(); ++i) {
            freed += spare_[i].size;
            give_back(spare_[i]);
        }
        spare_.resize(n);
        return freed;
    }

    /// Gives every block back to upstream: everything allocated from the arena is invalid.
    void release() noexcept
    {
        for (auto& g : gens_) {
            for (block& b : g)
                give_back(b);
            g.clear();
        }
        trim(0);
        ptr_ = end_ = nullptr;
    }

    /// Bytes handed out since the oldest live generation began (alignment padding included).
    std::size_t bytes_in_use() const noexcept { return in_use_; }
    /// Bytes held from upstream: live generations and spare blocks.
    std::size_t capacity() const noexcept { return capacity_; }
    /// Bytes in spare blocks, ready for the next allocations.
    std::size_t spare_bytes() const noexcept
    {
        std::size_t n = 0;
        for (block const& b : spare_)
            n += b.size;
        return n;
    }
    std::uint64_t resets() const noexcept { return resets_; }
    /// Blocks asked of upstream so far: flat in the steady state.
    std::uint64_t upstream_allocations() const noexcept { return upstream_allocations_; }
    batch_arena_options const& options() const noexcept { return opts_; }
    std::pmr::memory_resource* upstream() const noexcept { return upstream_; }

private:
    struct block {
        char* data = nullptr;
        std::size_t size = 0;
        std::size_t used = 0; // bytes handed out from it (so bytes_in_use can be counted)
    };

    batch_arena_options opts_;
    std::pmr::memory_resource* upstream_;
    std::vector<std::vector<block>> gens_; // blocks of each live generation; gens_[cur_]: now
    std::vector<block> spare_;             // recycled, ready for reuse
    std::size_t cur_ = 0;
    char* ptr_ = nullptr; // bump pointer in gens_[cur_].back()
    char* end_ = nullptr;
    std::size_t capacity_ = 0, in_use_ = 0;
    std::size_t blocks_ = 0; // blocks held from upstream (live and spare); spare_ has room for all
    std::uint64_t resets_ = 0, upstream_allocations_ = 0;

    static batch_arena_options const& checked(batch_arena_options const& o)
    {
        if (o.block_bytes < 64)
            throw std::invalid_argument("streambatch::batch_arena: block_bytes = " +
                                        std::to_string(o.block_bytes) + ": must be at least 64");
        if (o.generations < 1)
            throw std::invalid_argument("streambatch::batch_arena: generations = 0: must be at "
                                        "least 1 (2 when a source makes a record ahead)");
        return o;
    }

    void give_back(block& b) noexcept
    {
        upstream_->deallocate(b.data, b.size, alignof(std::max_align_t));
        capacity_ -= b.size;
        in_use_ -= b.used;
        --blocks_;
        b = {};
    }

    void* do_allocate(std::size_t bytes, std::size_t align) override
    {
        if (ptr_ != nullptr) {
            auto const p = reinterpret_cast<std::uintptr_t>(ptr_);
            auto const aligned = (p + align - 1) & ~(std::uintptr_t(align) - 1);
            if (aligned + bytes <= reinterpret_cast<std::uintptr_t>(end_)) {
                std::size_t const used = aligned + bytes - p;
                ptr_ += used;
                gens_[cur_].back().used += used;
                in_use_ += used;
                return reinterpret_cast<void*>(aligned);
            }
        }
        return next_block(bytes, align);
    }

    void* next_block(std::size_t bytes, std::size_t align)
    {
        std::size_t const need = bytes + (align > alignof(std::max_align_t) ? align : 0);
        // Room first, so that nothing below throws once a block is taken: this generation's
        // list gets its entry, and spare_ can hold every block the arena owns, which is what
        // lets reset() (noexcept) move a generation's blocks into it without allocating.
        gens_[cur_].reserve(gens_[cur_].size() + 1);
        spare_.reserve(blocks_ + 1);
        // A spare block that fits (the last one first: the most recently recycled).
        auto it = std::find_if(spare_.rbegin(), spare_.rend(),
                               [&](block const& b) { return b.size >= need; });
        block b;
        if (it != spare_.rend()) {
            b = *it;
            spare_.erase(std::next(it).base());
        } else {
            std::size_t const size = std::max(opts_.block_bytes, need);
            b.data = static_cast<char*>(upstream_->allocate(size, alignof(std::max_align_t)));
            b.size = size;
            capacity_ += size;
            ++upstream_allocations_;
            ++blocks_;
        }
        gens_[cur_].push_back(b);
        ptr_ = b.data;
        end_ = b.data + b.size;
        return do_allocate(bytes, align);
    }

    void do_deallocate(void*, std::size_t, std::size_t) noexcept override {}

    bool do_is_equal(std::pmr::memory_resource const& other) const noexcept override
    {
        return this == &other;
    }
};

} // namespace streambatch

#endif // STREAMBATCH_GUARD_BATCH_ARENA_HPP_INCLUDED
