// streambatch/partition.hpp: which share of the input this worker processes, when N copies of
// the same job are started by MPI, a Slurm job array or a Kubernetes Indexed Job.
//
// In:     partition{index, count} (0 <= index < count), given by the user or read from the
//         environment the launcher sets: partition_from_environment([k8s_count]).
// Out:    a partition, with name() ("part-0003-of-0008", for checkpoint and run-record names)
//         and str() ("3/8"), and partition::parse("3/8") back; views::every_nth(p): the records of
//         any range whose position i (from 0) has i % count == index, with the source's other
//         records read and dropped. Each source has its own partitioned form that does not read the
//         others' records: csv::options::partition (byte ranges) and the SQL sources' partition
//         clauses (sqlite:: and postgres::key_range_partition, hash_partition: a predicate for a
//         keyset query).
// Models: every_nth is a view adaptor closure (`range | views::every_nth(p)`); the view is an
//         input range, forward when the source is (never sized or common). partition is a
//         regular aggregate.
// Memory: every_nth holds the source view and an iterator; nothing per record.
// Errors: std::invalid_argument for count == 0 or index >= count; partition_error (a
//         std::runtime_error) from partition::parse naming the text and what is wrong, and from
//         partition_from_environment naming the variables it read when
//         it finds none, finds a value that is not a number, or finds an inconsistent pair
//         (index >= count, MPI and Slurm disagreeing). The SQL partition functions throw it
//         too, for a table that cannot be partitioned as asked (rows with a NULL key, a key
//         range over a key that is not an integer). See docs/partitions.md.
// Example:
//     auto part = streambatch::partition_from_environment();   // rank 2 of 4 under mpirun
//     auto mine = records | streambatch::views::every_nth(part)
//                         | streambatch::views::chunk(1000);   // records 2, 6, 10, ...

#ifndef STREAMBATCH_PARTITION_HPP_INCLUDED
#define STREAMBATCH_PARTITION_HPP_INCLUDED

#include <streambatch/detail/closure.hpp>
#include <streambatch/detail/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace streambatch {

/// One worker's share: partition `index` of `count` (from 0).
struct partition {
    std::uint32_t index = 0;
    std::uint32_t count = 1;

    /// Throws std::invalid_argument unless 0 <= index < count.
    void check() const
    {
        if (count == 0)
            throw std::invalid_argument("streambatch::partition: count must be at least 1");
        if (index >= count)
            throw std::invalid_argument("streambatch::partition: index " + std::to_string(index) +
                                        " is not below count " + std::to_string(count));
    }
    bool whole() const noexcept { return count == 1; }
    /// "3/8"
    std::string str() const { return std::to_string(index) + "/" + std::to_string(count); }
    /// The inverse of str(): "3/8" -> {3, 8}. Throws partition_error naming the text and what is
    /// wrong with it unless it is two whole numbers "index/count" with index < count.
    static partition parse(std::string_view text);
    /// "part-0003-of-0008": sorts in index order; used in checkpoint and run-record names.
    std::string name() const
    {
        auto pad = [](std::uint32_t v) {
            std::string s = std::to_string(v);
            return s.size() >= 4 ? s : std::string(4 - s.size(), '0') + s;
        };
        return "part-" + pad(index) + "-of-" + pad(count);
    }
    friend bool operator==(partition const&, partition const&) = default;
};

/// partition_from_environment() found no launcher's variables, or inconsistent ones; or a SQL
/// partition function found a table it cannot partition (NULL keys, a non-integer key range).
class partition_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline partition partition::parse(std::string_view text)
{
    auto fail = [&](std::string const& why) {
        throw partition_error("streambatch::partition::parse: \"" + std::string(text) +
                              "\": " + why + " (expected \"index/count\", e.g. \"3/8\")");
    };
    auto const slash = text.find('/');
    if (slash == std::string_view::npos)
        fail(text.empty() ? "empty" : "no '/'");
    auto const index_text = text.substr(0, slash), count_text = text.substr(slash + 1);
    auto const i = detail::parse_whole<std::uint32_t>(index_text);
    if (!i)
        fail(index_text.empty() ? "the index is missing"
                                : "the index \"" + std::string(index_text) +
                                      "\" is not a whole number up to 4294967295");
    auto const n = detail::parse_whole<std::uint32_t>(count_text);
    if (!n)
        fail(count_text.empty() ? "the count is missing"
                                : "the count \"" + std::string(count_text) +
                                      "\" is not a whole number up to 4294967295");
    if (*n == 0)
        fail("the count must be at least 1");
    if (*i >= *n)
        fail("the index " + std::to_string(*i) + " is not below the count " + std::to_string(*n));
    return partition{*i, *n};
}

namespace detail {

/// getenv, testable: tests pass their own lookup.
using env_lookup = std::function<std::optional<std::string>(char const*)>;

inline std::optional<std::string> real_getenv(char const* name)
{
    if (char const* v = std::getenv(name); v != nullptr)
        return std::string(v);
    return std::nullopt;
}

inline std::uint64_t env_number(char const* name, std::string const& value)
{
    auto const v = parse_whole<std::uint64_t>(value);
    if (!v || *v > UINT32_MAX)
        throw partition_error(std::string("streambatch::partition_from_environment: ") + name +
                              "=\"" + value + "\" is not a whole number up to 4294967295");
    return *v;
}

struct env_pair {
    char const* engine;
    char const* index_name;
    char const* count_name;
    std::uint64_t index;
    std::uint64_t count;
};

inline partition checked(env_pair const& p)
{
    if (p.count == 0 || p.index >= p.count)
        throw partition_error(std::string("streambatch::partition_from_environment: ") + p.engine +
                              " gives " + p.index_name + "=" + std::to_string(p.index) + " and " +
                              p.count_name + "=" + std::to_string(p.count) +
                              ": the index must be below the count");
    return partition{static_cast<std::uint32_t>(p.index), static_cast<std::uint32_t>(p.count)};
}

inline partition partition_from(env_lookup const& get, std::optional<std::uint32_t> k8s_count)
{
    std::vector<env_pair> found;
    // MPI: Open MPI's own variables, then the PMI ones (MPICH, Intel MPI, Slurm's srun).
    for (auto [engine, i, n] :
         {std::tuple{"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
          std::tuple{"PMI (MPICH, Intel MPI, srun)", "PMI_RANK", "PMI_SIZE"}}) {
        auto const iv = get(i);
        auto const nv = get(n);
        if (iv.has_value() != nv.has_value())
            throw partition_error(std::string("streambatch::partition_from_environment: ") +
                                  engine + ": " + (iv ? i : n) + " is set but " + (iv ? n : i) +
                                  " is not");
        if (iv) {
            found.push_back({engine, i, n, env_number(i, *iv), env_number(n, *nv)});
            break; // mpirun may set both families; they name the same rank
        }
    }
    // Slurm job arrays: the task id, with the count from SLURM_ARRAY_TASK_COUNT or min/max.
    if (auto const id = get("SLURM_ARRAY_TASK_ID")) {
        std::uint64_t const task = env_number("SLURM_ARRAY_TASK_ID", *id);
        auto const cnt = get("SLURM_ARRAY_TASK_COUNT");
        auto const lo = get("SLURM_ARRAY_TASK_MIN");
        auto const hi = get("SLURM_ARRAY_TASK_MAX");
        if (!lo)
            throw partition_error("streambatch::partition_from_environment: Slurm sets "
                                  "SLURM_ARRAY_TASK_ID=" +
                                  *id + " but not SLURM_ARRAY_TASK_MIN");
        std::uint64_t const min = env_number("SLURM_ARRAY_TASK_MIN", *lo);
        std::uint64_t count = 0;
        if (cnt)
            count = env_number("SLURM_ARRAY_TASK_COUNT", *cnt);
        else if (hi)
            count = env_number("SLURM_ARRAY_TASK_MAX", *hi) + 1 - min;
        else
            throw partition_error("streambatch::partition_from_environment: Slurm sets "
                                  "SLURM_ARRAY_TASK_ID but neither SLURM_ARRAY_TASK_COUNT nor "
                                  "SLURM_ARRAY_TASK_MAX");
        if (hi && cnt && env_number("SLURM_ARRAY_TASK_MAX", *hi) + 1 - min != count)
            throw partition_error("streambatch::partition_from_environment: Slurm gives "
                                  "SLURM_ARRAY_TASK_COUNT=" +
                                  *cnt + " but SLURM_ARRAY_TASK_MIN=" + *lo +
                                  " and SLURM_ARRAY_TASK_MAX=" + *hi +
                                  ": an array with a step (--array=0-15:4) or a list cannot be "
                                  "split by task id; use --array=0-N");
        if (task < min)
            throw partition_error("streambatch::partition_from_environment: Slurm gives "
                                  "SLURM_ARRAY_TASK_ID=" +
                                  *id + " below SLURM_ARRAY_TASK_MIN=" + *lo);
        found.push_back({"Slurm", "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN",
                         cnt ? "SLURM_ARRAY_TASK_COUNT" : "SLURM_ARRAY_TASK_MAX - MIN + 1",
                         task - min, count});
    }
    // Kubernetes Indexed Jobs: the index only; the count is the Job's `completions`, which
    // the pod does not see unless the user passes it on.
    if (auto const idx = get("JOB_COMPLETION_INDEX")) {
        std::uint64_t const i = env_number("JOB_COMPLETION_INDEX", *idx);
        std::optional<std::uint64_t> n;
        if (k8s_count)
            n = *k8s_count;
        else if (auto const c = get("STREAMBATCH_PARTITION_COUNT"))
            n = env_number("STREAMBATCH_PARTITION_COUNT", *c);
        if (!n)
            throw partition_error("streambatch::partition_from_environment: Kubernetes sets "
                                  "JOB_COMPLETION_INDEX=" +
                                  *idx +
                                  " but not the number of "
                                  "completions; pass it (partition_from_environment(count)) or "
                                  "set STREAMBATCH_PARTITION_COUNT in the pod template");
        found.push_back({"Kubernetes", "JOB_COMPLETION_INDEX",
                         k8s_count ? "the count given" : "STREAMBATCH_PARTITION_COUNT", i, *n});
    }
    if (found.empty())
        throw partition_error(
            "streambatch::partition_from_environment: no launcher found: none of "
            "OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE (MPI), SLURM_ARRAY_TASK_ID with "
            "SLURM_ARRAY_TASK_COUNT or MIN/MAX (Slurm arrays), JOB_COMPLETION_INDEX (Kubernetes "
            "Indexed Jobs) is set");
    partition const first = checked(found.front());
    for (std::size_t k = 1; k < found.size(); ++k) {
        partition const other = checked(found[k]);
        if (other != first)
            throw partition_error(std::string("streambatch::partition_from_environment: ") +
                                  found.front().engine + " says partition " + first.str() +
                                  " but " + found[k].engine + " says " + other.str());
    }
    return first;
}

} // namespace detail

/// The partition the launcher gave this process: MPI (OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE),
/// a Slurm job array (SLURM_ARRAY_TASK_ID - MIN of COUNT, or of MAX - MIN + 1), a Kubernetes
/// Indexed Job (JOB_COMPLETION_INDEX of `k8s_count`, or of STREAMBATCH_PARTITION_COUNT).
/// When several are set they must agree. partition_error otherwise, naming the variables.
[[nodiscard]] inline partition
partition_from_environment(std::optional<std::uint32_t> k8s_count = {})
{
    return detail::partition_from(&detail::real_getenv, k8s_count);
}

/// The records of V at positions index, index + count, index + 2 count, ... (from 0).
template <std::ranges::view V>
    requires std::ranges::input_range<V>
class every_nth_view : public std::ranges::view_interface<every_nth_view<V>> {
    V base_;
    partition part_;

    class iterator {
        friend every_nth_view;
        std::ranges::iterator_t<V> it_;
        std::ranges::sentinel_t<V> end_;
        std::uint32_t step_ = 1;

        void skip(std::uint32_t n)
        {
            for (; n != 0 && it_ != end_; --n)
                ++it_;
        }

    public:
        using iterator_concept =
            std::conditional_t<std::ranges::forward_range<V>, std::forward_iterator_tag,
                               std::input_iterator_tag>;
        using value_type = std::ranges::range_value_t<V>;
        using difference_type = std::ranges::range_difference_t<V>;

        iterator()
            requires std::default_initializable<std::ranges::iterator_t<V>>
        = default; // a forward iterator's; an istream_view's iterator has none
        iterator(std::ranges::iterator_t<V> it, std::ranges::sentinel_t<V> end, std::uint32_t step)
            : it_(std::move(it)), end_(std::move(end)), step_(step)
        {}
        decltype(auto) operator*() const { return *it_; }
        iterator& operator++()
        {
            skip(step_);
            return *this;
        }
        void operator++(int) { ++*this; }
        iterator operator++(int)
            requires std::ranges::forward_range<V>
        {
            auto t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(iterator const& a, iterator const& b)
            requires std::ranges::forward_range<V>
        {
            return a.it_ == b.it_;
        }
        friend bool operator==(iterator const& a, std::default_sentinel_t)
        {
            return a.it_ == a.end_;
        }
        friend decltype(auto)
        iter_move(iterator const& i) noexcept(noexcept(std::ranges::iter_move(i.it_)))
        {
            return std::ranges::iter_move(i.it_);
        }
    };

public:
    every_nth_view()
        requires std::default_initializable<V>
    = default;
    every_nth_view(V base, partition p) : base_(std::move(base)), part_(p) { part_.check(); }

    iterator begin()
    {
        iterator i(std::ranges::begin(base_), std::ranges::end(base_), part_.count);
        i.skip(part_.index);
        return i;
    }
    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }
    V base() const&
        requires std::copy_constructible<V>
    {
        return base_;
    }
    V base() && { return std::move(base_); }
    partition part() const noexcept { return part_; }
};

template <class R>
every_nth_view(R&&, partition) -> every_nth_view<std::views::all_t<R>>;

namespace views {
struct every_nth_fn {
    template <std::ranges::viewable_range R>
        requires std::ranges::input_range<R>
    auto operator()(R&& r, partition p) const
    {
        return every_nth_view(std::forward<R>(r), p);
    }
    auto operator()(partition p) const
    {
        p.check();
        return detail::adaptor_closure<every_nth_fn, partition>(*this, p);
    }
};
/// `range | views::every_nth(partition)`: the partition's records of any range (reads all).
inline constexpr every_nth_fn every_nth{};
} // namespace views

} // namespace streambatch

#endif // STREAMBATCH_PARTITION_HPP_INCLUDED
