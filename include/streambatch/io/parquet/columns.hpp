// streambatch/io/parquet/columns.hpp: a Parquet file's columns, decoded into typed buffers one
// row group (or one slice of a row group) at a time: the columnar read path.
//
// In:     a path (or an open parquet::file) and parquet::column_options: the columns to read
//         (names, in the order wanted; empty: every column), budget_bytes (0: none), and
//         memory_short (a hook asked before each row group; true: read it in slices).
// Out:    parquet::column_batches, a single-pass view of parquet::column_batch& (the same object,
//         its buffers reused from batch to batch): row_group, first_row (in the file), rows,
//         slice (0, 1... within the row group), whole_group (the batch is the whole row group),
//         columns (one parquet::column_values per projected column), capacity_bytes() (what its
//         buffers hold allocated). column_values: a column_page (rows, defined: 1/0 per row,
//         empty for a required column; values: the non-null values, in order) plus name,
//         descriptor(), type (value_type), null_count(), is_null(row), and the typed views
//         int32s(), int64s(), floats(), doubles(), booleans() (one byte 0/1 each) over the
//         non-null values, bytes(i) (BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY value i) and offsets()
//         (BYTE_ARRAY: value i is data[offsets[i], offsets[i + 1])). names(), source().
//         largest_projected_group(file, columns): the largest sum over a row group of the
//         projected chunks' total_uncompressed_size (the footer's).
// Models: std::ranges::input_range and view, move-only, like parquet::reader, over the same
//         column_reader (pages read by pread, decompressed, decoded by detail/encoding.hpp's
//         decoders appending into the batch's buffers: no per-value variant, no per-row
//         object; a dictionary page decoded once per chunk, its indices gathered). A row group
//         is one batch unless its projected uncompressed size (the footer's, known before it is
//         read) passes budget_bytes, or memory_short() says so (then slices of 8 MiB, or of the
//         budget when one is set): then it comes in slices of about budget_bytes each
//         (num_rows x budget / projected size rows), pages read as the slice needs them; a page
//         that straddles two slices is decoded once and its tail carried to the next slice.
// Memory: the batch's buffers (the projected columns' decoded values of one row group, or of a
//         slice plus one page per column), one page (compressed and decompressed: the
//         columns' readers share these buffers) and each column's dictionary. Buffers keep
//         their capacity across batches.
// Errors: parquet::error (file, byte offset, "row group R column C ("name") page P: ...") from
//         the column reader; a projected name that is not a column ("no column "x" (columns:
//         a, b)"); a nested column; a column whose pages end before the row group's rows ("row
//         group R column C ("name"): its pages end after N rows, the row group has M") or run
//         past them ("... its pages hold more rows than the row group's M"). A typed view of
//         the wrong type: parquet::error naming the column and both types.
// Example:
//     namespace pq = streambatch::parquet;
//     std::int64_t sum = 0;
//     for (pq::column_batch const& b : pq::column_batches("t.parquet", {.columns = {"a"}}))
//         for (std::int64_t v : b.columns[0].int64s())
//             sum += v;

#ifndef STREAMBATCH_IO_PARQUET_COLUMNS_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_COLUMNS_HPP_INCLUDED

#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/parquet/column_reader.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/metadata.hpp>
#include <streambatch/io/parquet/reader.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streambatch::parquet {

/// What column_batches reads and how much memory a batch may take.
struct column_options {
    std::vector<std::string> columns{}; ///< names, in the order wanted; empty: every column
    /// A row group whose projected uncompressed size (the footer's) passes this comes in
    /// slices of about this size; 0: every row group whole.
    std::uint64_t budget_bytes = 0;
    /// Asked before each row group (e.g. a streambatch::memory_guard's reading); true: read it
    /// in slices (of budget_bytes, or 8 MiB when no budget is set).
    std::function<bool()> memory_short{};
};

/// One column of a column_batch: its rows' nulls and non-null values, typed.
struct column_values : column_page {
    std::string name;
    value_type type;
    column_descriptor const* desc = nullptr;

    column_descriptor const& descriptor() const noexcept { return *desc; }
    bool is_null(std::size_t row) const noexcept { return !defined.empty() && !defined[row]; }
    std::size_t null_count() const noexcept { return rows - values.size(); }

    std::span<std::int32_t const> int32s() const
    {
        return typed<std::int32_t>(physical_type::int32);
    }
    std::span<std::int64_t const> int64s() const
    {
        return typed<std::int64_t>(physical_type::int64);
    }
    std::span<float const> floats() const { return typed<float>(physical_type::float_); }
    std::span<double const> doubles() const { return typed<double>(physical_type::double_); }
    /// BOOLEAN values, one byte 0/1 each.
    std::span<std::uint8_t const> booleans() const
    {
        return typed<std::uint8_t>(physical_type::boolean);
    }
    /// Non-null value i's bytes (any type; BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY's values).
    std::string_view bytes(std::size_t i) const noexcept { return values.bytes(i); }
    /// BYTE_ARRAY: value i is values.data[offsets()[i], offsets()[i + 1]).
    std::span<std::uint32_t const> offsets() const
    {
        check(physical_type::byte_array);
        return values.offsets;
    }

private:
    void check(physical_type want) const
    {
        if (desc->type != want)
            throw error(std::string(), error::npos,
                        "column " + io::detail::quote(name) + " is " + to_string(desc->type) +
                            ", not " + to_string(want));
    }
    template <class T>
    std::span<T const> typed(physical_type want) const
    {
        check(want);
        // the bytes are the values in memory order (little-endian hosts, Parquet's order)
        return {reinterpret_cast<T const*>(values.fixed.data()), values.fixed.size() / sizeof(T)};
    }
};

/// One row group's (or one slice of it) projected columns.
struct column_batch {
    std::size_t row_group = 0;
    std::int64_t first_row = 0; ///< the batch's first row's number in the file
    std::size_t rows = 0;
    std::size_t slice = 0;   ///< its index among the row group's slices
    bool whole_group = true; ///< the batch is the whole row group
    std::vector<column_values> columns;

    /// The bytes its buffers hold allocated (capacities, not sizes).
    std::size_t capacity_bytes() const noexcept
    {
        std::size_t n = 0;
        for (column_values const& c : columns)
            n += c.defined.capacity() + c.values.fixed.capacity() + c.values.data.capacity() +
                 c.values.offsets.capacity() * sizeof(std::uint32_t);
        return n;
    }
};

/// The largest sum, over one row group, of the projected columns' total_uncompressed_size
/// (columns: leaf indices; empty: all).
inline std::uint64_t largest_projected_group(file const& f, std::vector<std::size_t> const& columns)
{
    std::uint64_t best = 0;
    for (row_group const& g : f.metadata().row_groups) {
        std::uint64_t n = 0;
        for (std::size_t c = 0; c < g.columns.size(); ++c)
            if ((columns.empty() ||
                 std::find(columns.begin(), columns.end(), c) != columns.end()) &&
                g.columns[c].meta_data)
                n += static_cast<std::uint64_t>(
                    std::max<std::int64_t>(0, g.columns[c].meta_data->total_uncompressed_size));
        best = std::max(best, n);
    }
    return best;
}

namespace detail {

/// Moves rows [from, c.rows) of `c` to the end of the empty `tail`, and cuts `c` to `from` rows.
inline void split_rows(column_values& c, std::size_t from, column_values& tail)
{
    std::size_t v = from; // the values of rows [0, from)
    if (!c.defined.empty()) {
        v = 0;
        for (std::size_t i = 0; i < from; ++i)
            v += c.defined[i];
        tail.defined.assign(c.defined.begin() + static_cast<std::ptrdiff_t>(from), c.defined.end());
        c.defined.resize(from);
    } else {
        tail.defined.clear();
    }
    value_buffer& src = c.values;
    value_buffer& dst = tail.values;
    dst.clear(src.width);
    if (src.width) {
        dst.fixed.assign(src.fixed.begin() + static_cast<std::ptrdiff_t>(v * src.width),
                         src.fixed.end());
        src.fixed.resize(v * src.width);
    } else {
        std::uint32_t const at = src.offsets[v];
        dst.data.assign(src.data.begin() + at, src.data.end());
        for (std::size_t i = v + 1; i < src.offsets.size(); ++i)
            dst.offsets.push_back(src.offsets[i] - at);
        src.data.resize(at);
        src.offsets.resize(v + 1);
    }
    tail.rows = c.rows - from;
    c.rows = from;
}

} // namespace detail

/// The columns of a Parquet file, one row group (or slice) a batch: a single-pass, move-only
/// view of column_batch&.
class column_batches : public std::ranges::view_interface<column_batches> {
    struct state {
        std::shared_ptr<file> f;
        column_options opt;
        std::vector<std::size_t> cols;
        std::shared_ptr<std::vector<std::string> const> names;
        std::vector<std::optional<column_reader>> readers;
        std::shared_ptr<page_buffers> pages = std::make_shared<page_buffers>(); // shared by all
        std::vector<column_values> carry; // rows read past the last slice, per column
        column_batch batch;
        std::size_t group = 0;
        std::int64_t group_row = 0, number = 0; // rows of the group handed out; in the file
        std::size_t slice_rows = 0;             // 0: whole groups
        std::size_t slice = 0;
        bool done = false;

        [[noreturn]] void fail_rows(std::size_t k, std::string const& what) const
        {
            throw error(f->path(), error::npos,
                        "row group " + std::to_string(group) + " column " +
                            std::to_string(cols[k]) + " (" + io::detail::quote((*names)[k]) +
                            "): " + what);
        }

        void open_group()
        {
            auto const& g = f->metadata().row_groups[group];
            for (std::size_t k = 0; k < cols.size(); ++k) {
                if (readers.size() <= k)
                    readers.emplace_back(std::in_place, *f, group, cols[k], pages);
                else
                    readers[k]->reopen(group); // its buffers reused
                carry[k].rows = 0;
                carry[k].defined.clear();
            }
            group_row = 0;
            slice = 0;
            slice_rows = 0;
            std::uint64_t projected = 0;
            for (std::size_t c : cols)
                if (g.columns[c].meta_data)
                    projected += static_cast<std::uint64_t>(
                        std::max<std::int64_t>(0, g.columns[c].meta_data->total_uncompressed_size));
            std::uint64_t budget = opt.budget_bytes;
            if (opt.memory_short && opt.memory_short()) {
                std::uint64_t const short_budget = std::uint64_t{8} << 20;
                budget = budget ? std::min(budget, short_budget) : short_budget;
            }
            if (budget > 0 && projected > budget && g.num_rows > 0) {
                auto const rows = static_cast<std::uint64_t>(g.num_rows);
                slice_rows =
                    static_cast<std::size_t>(std::max<std::uint64_t>(1, rows * budget / projected));
            }
        }

        void advance()
        {
            auto const& groups = f->metadata().row_groups;
            while (group < groups.size() && group_row >= groups[group].num_rows) {
                if (!readers.empty())
                    finish_group();
                ++group;
                if (group < groups.size())
                    open_group();
            }
            if (group >= groups.size()) {
                done = true;
                return;
            }
            std::int64_t const left = groups[group].num_rows - group_row;
            std::size_t const want = slice_rows ? static_cast<std::size_t>(std::min<std::int64_t>(
                                                      left, static_cast<std::int64_t>(slice_rows)))
                                                : static_cast<std::size_t>(left);
            for (std::size_t k = 0; k < cols.size(); ++k) {
                column_values& out = batch.columns[k];
                column_values& tail = carry[k];
                out.rows = 0;
                out.defined.clear();
                out.values.clear(detail::value_width(out.desc->type, out.desc->type_length));
                if (tail.rows > 0) {
                    std::swap(out.defined, tail.defined);
                    std::swap(out.values, tail.values);
                    out.rows = tail.rows;
                    tail.rows = 0;
                }
                while (out.rows < want)
                    if (!readers[k]->next_page(out, true))
                        fail_rows(
                            k, "its pages end after " +
                                   std::to_string(group_row + static_cast<std::int64_t>(out.rows)) +
                                   " rows, the row group has " +
                                   std::to_string(groups[group].num_rows));
                if (out.rows > want) {
                    if (!slice_rows)
                        fail_rows(k, "its pages hold more rows than the row group's " +
                                         std::to_string(groups[group].num_rows));
                    detail::split_rows(out, want, tail);
                }
            }
            batch.row_group = group;
            batch.first_row = number;
            batch.rows = want;
            batch.slice = slice;
            batch.whole_group = slice_rows == 0;
            group_row += static_cast<std::int64_t>(want);
            number += static_cast<std::int64_t>(want);
            ++slice;
        }

        /// The row group's rows are all handed out: no column may hold more.
        void finish_group()
        {
            column_page extra;
            for (std::size_t k = 0; k < readers.size(); ++k)
                if (carry[k].rows > 0 || readers[k]->next_page(extra))
                    fail_rows(k, "its pages hold more rows than the row group's " +
                                     std::to_string(f->metadata().row_groups[group].num_rows));
        }
    };
    std::unique_ptr<state> s_;
    bool started_ = false;

public:
    class iterator {
        state* s_ = nullptr;

    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = column_batch;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(state* s) : s_(s) {}
        column_batch& operator*() const noexcept { return s_->batch; }
        iterator& operator++()
        {
            s_->advance();
            return *this;
        }
        void operator++(int) { s_->advance(); }
        friend bool operator==(iterator const& i, std::default_sentinel_t) noexcept
        {
            return i.s_->done;
        }
    };

    explicit column_batches(std::filesystem::path const& path, column_options options = {})
        : column_batches(std::make_shared<file>(path), std::move(options))
    {}
    column_batches(std::shared_ptr<file> f, column_options options = {})
        : s_(std::make_unique<state>())
    {
        s_->f = std::move(f);
        s_->opt = std::move(options);
        schema_view const& s = s_->f->schema();
        auto names = std::make_shared<std::vector<std::string>>();
        auto const take = [&](column_descriptor const& c) {
            if (c.nested)
                throw error(s_->f->path(), error::npos,
                            "column " + io::detail::quote(c.name) +
                                " is nested (not supported): project it away");
            s_->cols.push_back(c.index);
            names->push_back(c.name);
        };
        if (s_->opt.columns.empty()) {
            for (column_descriptor const& c : s.columns)
                take(c);
        } else {
            for (std::string const& n : s_->opt.columns) {
                column_descriptor const* c = s.find(n);
                if (!c) {
                    std::string all;
                    for (column_descriptor const& d : s.columns)
                        all += (all.empty() ? "" : ", ") + d.name;
                    throw error(s_->f->path(), error::npos,
                                "no column " + io::detail::quote(n) + " (columns: " + all + ")");
                }
                take(*c);
            }
        }
        s_->names = std::move(names);
        s_->carry.resize(s_->cols.size());
        s_->batch.columns.resize(s_->cols.size());
        for (std::size_t k = 0; k < s_->cols.size(); ++k) {
            column_values& c = s_->batch.columns[k];
            c.desc = &s.columns[s_->cols[k]];
            c.name = c.desc->name;
            c.type = value_type_of(*c.desc);
            s_->carry[k].desc = c.desc;
            s_->carry[k].name = c.name;
        }
        if (!s_->f->metadata().row_groups.empty())
            s_->open_group();
    }
    column_batches(column_batches&&) noexcept = default;
    column_batches& operator=(column_batches&&) noexcept = default;

    iterator begin()
    {
        if (!started_) {
            started_ = true;
            s_->advance();
        }
        return iterator(s_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

    /// The projected columns' names, in the batches' order.
    std::vector<std::string> const& names() const { return *s_->names; }
    /// The leaf indices of the projected columns.
    std::vector<std::size_t> const& columns() const noexcept { return s_->cols; }
    /// The open file.
    parquet::file const& source() const noexcept { return *s_->f; }
};

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_COLUMNS_HPP_INCLUDED
