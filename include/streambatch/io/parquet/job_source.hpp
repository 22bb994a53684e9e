// streambatch/io/parquet/job_source.hpp: parquet::file_source, a Parquet file as a job's source
// (streambatch::job_source, job/contract.hpp): its rows, its position as text, and the identity
// of the file, so that a resumed job starts at the row after its last committed batch and
// refuses a file that is not the one it stopped in.
//
// In:     a path, file_source_options {columns (the projection; empty: every column),
//         partition {index, count}: this worker's row groups}.
// Out:    seek(text): where rows() starts ("<row group> <row>", as position() wrote it).
//         rows(): a single-pass view of parquet::row over this source's row groups, from the
//         sought position; it reads nothing past the partition's last row.
//         position(): "<row group> <row>" of the next row not yet handed out (after the last
//         row: "<first row group of the next partition> 0"). identity(): "parquet bytes=<size>
//         footer=<xxh64 of the footer>": a Parquet file is written whole, so its footer
//         (every row group's offsets, sizes and statistics) names its contents.
//         check_identity(state): the file now against state.identity. describe(): the path.
//         rows_total(): the rows of this source's row groups; first_group(), end_group().
// Models: streambatch::job_source. Move-only. Partition i of n holds the row groups
//         [G*i/n, G*(i+1)/n) of the file's G (whole row groups, contiguous: a worker reads
//         only its own column chunks); a partition may be empty when n > G.
// Memory: the reader's: one page per projected column and its dictionary (reader.hpp).
// Errors: input_changed (check_identity: another size or footer; names the file and both
//         identities); parquet::error from the file and the reader (file, row group, column,
//         page, byte offset); std::invalid_argument for a position text that does not parse or
//         lies outside the partition; std::logic_error for rows() twice, or seek() /
//         check_identity() after rows().
// Example:
//     parquet::file_source src("orders.parquet", {.columns = {"id", "total"}});
//     if (auto state = sink.open({.job = "load orders"})) {
//         src.check_identity(*state);                 // throws input_changed
//         src.seek(state->position);
//     }
//     auto r = streambatch::run_job(src, step, sink, {.job = "load orders", .batch = 10'000});

#ifndef STREAMBATCH_IO_PARQUET_JOB_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_JOB_SOURCE_HPP_INCLUDED

#include <streambatch/detail/stream_hash.hpp>
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/reader.hpp>
#include <streambatch/job/contract.hpp>
#include <streambatch/partition.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streambatch::parquet {

struct file_source_options {
    std::vector<std::string> columns{}; ///< the projection, in the rows' order; empty: all
    partition part{};                   ///< this worker's share of the row groups
};

/// A Parquet file as a job_source. See the top of this file.
class file_source {
    std::filesystem::path path_;
    file_source_options opts_;
    std::shared_ptr<parquet::file> file_;
    std::vector<std::int64_t> group_start_; // absolute index of each row group's first row; +end
    std::size_t first_group_ = 0, end_group_ = 0;
    std::int64_t start_ = 0, end_ = 0; // absolute rows: where rows() begins, the partition's end
    std::string identity_;

    struct state {
        std::optional<parquet::reader> r;
        std::int64_t left = 0;  // rows still to hand out
        std::int64_t taken = 0; // rows handed out (and stepped past)
        bool called = false;    // rows() was called
        bool started = false, stopped = false;
    };
    std::unique_ptr<state> s_ = std::make_unique<state>();

public:
    /// The rows of this source's row groups, from the sought position; stops at the
    /// partition's end without reading the next partition's pages.
    class rows_view : public std::ranges::view_interface<rows_view> {
        state* s_ = nullptr;

    public:
        class iterator {
            state* s_ = nullptr;
            std::ranges::iterator_t<parquet::reader> it_{};

        public:
            using iterator_concept = std::input_iterator_tag;
            using value_type = row;
            using difference_type = std::ptrdiff_t;
            iterator() = default;
            iterator(state* s, std::ranges::iterator_t<parquet::reader> it) : s_(s), it_(it) {}
            row& operator*() const { return *it_; }
            iterator& operator++()
            {
                ++s_->taken;
                if (--s_->left == 0)
                    s_->stopped = true; // the partition's last row: the reader is not advanced
                else
                    ++it_;
                return *this;
            }
            void operator++(int) { ++*this; }
            friend bool operator==(iterator const& i, std::default_sentinel_t)
            {
                return i.s_->stopped || i.it_ == std::default_sentinel;
            }
        };

        rows_view() = default;
        explicit rows_view(state* s) : s_(s) {}
        iterator begin()
        {
            if (!s_->started) {
                s_->started = true;
                if (s_->left == 0)
                    s_->stopped = true;
            }
            if (s_->stopped)
                return iterator(s_, {});
            return iterator(s_, s_->r->begin());
        }
        std::default_sentinel_t end() const noexcept { return {}; }
    };

    explicit file_source(std::filesystem::path path, file_source_options opts = {})
        : path_(std::move(path)), opts_(std::move(opts)),
          file_(std::make_shared<parquet::file>(path_))
    {
        auto const& groups = file_->metadata().row_groups;
        std::size_t const g = groups.size();
        group_start_.reserve(g + 1);
        std::int64_t at = 0;
        for (auto const& rg : groups) {
            group_start_.push_back(at);
            at += rg.num_rows;
        }
        group_start_.push_back(at);
        std::size_t const n = opts_.part.count == 0 ? 1 : opts_.part.count;
        first_group_ = g * opts_.part.index / n;
        end_group_ = g * (opts_.part.index + 1) / n;
        start_ = group_start_[first_group_];
        end_ = group_start_[end_group_];

        auto const& f = file_->footer();
        auto const bytes = file_->read(f.offset, f.length);
        streambatch::detail::stream_hash h;
        h.update(std::string_view(reinterpret_cast<char const*>(bytes.data()), bytes.size()));
        identity_ = "parquet bytes=" + std::to_string(file_->size()) + " footer=" + h.hex();
    }
    file_source(file_source&&) noexcept = default;
    file_source& operator=(file_source&&) noexcept = default;

    /// Starts rows() at `text` (a position() of this file and partition).
    void seek(std::string_view text)
    {
        if (s_->called)
            throw std::logic_error("streambatch::parquet::file_source: seek() after rows()");
        auto const bad = [&](std::string const& why) {
            return std::invalid_argument("streambatch::parquet::file_source: " + path_.string() +
                                         ": position \"" + std::string(text) + "\" " + why);
        };
        std::size_t group = 0;
        std::int64_t row = 0;
        auto const* p = text.data();
        auto const* e = text.data() + text.size();
        auto r1 = std::from_chars(p, e, group);
        if (r1.ec != std::errc() || r1.ptr == e || *r1.ptr != ' ')
            throw bad("does not parse (want \"<row group> <row>\")");
        auto r2 = std::from_chars(r1.ptr + 1, e, row);
        if (r2.ec != std::errc() || r2.ptr != e || row < 0)
            throw bad("does not parse (want \"<row group> <row>\")");
        if (group >= group_start_.size() ||
            (group + 1 < group_start_.size() &&
             row > group_start_[group + 1] - group_start_[group]) ||
            (group + 1 == group_start_.size() && row != 0))
            throw bad("is not a row of the file (" + std::to_string(group_start_.size() - 1) +
                      " row groups)");
        std::int64_t const abs = group_start_[group] + row;
        if (abs < group_start_[first_group_] || abs > end_)
            throw bad("lies outside partition " + opts_.part.str() + " (row groups " +
                      std::to_string(first_group_) + " to " + std::to_string(end_group_) + ")");
        start_ = abs;
    }

    /// This source's rows, once.
    rows_view rows()
    {
        if (s_->called)
            throw std::logic_error("streambatch::parquet::file_source: rows() twice");
        s_->called = true;
        s_->left = end_ - start_;
        if (s_->left > 0) {
            parquet::position const at = locate(start_);
            s_->r.emplace(file_, opts_.columns, at);
        } else {
            s_->started = s_->stopped = true;
        }
        return rows_view(s_.get());
    }

    /// "<row group> <row>" of the next row not handed out.
    std::string position() const
    {
        parquet::position const p = locate(start_ + s_->taken);
        return std::to_string(p.row_group) + " " + std::to_string(p.row);
    }
    std::string identity() const { return identity_; }
    void check_identity(job_state const& st) const
    {
        if (s_->called)
            throw std::logic_error(
                "streambatch::parquet::file_source: check_identity() after rows()");
        if (st.identity != identity_)
            throw input_changed("streambatch::parquet::file_source: " + path_.string() +
                                " is not the file the stored state was taken on: it is \"" +
                                identity_ + "\", the state says \"" + st.identity + "\"");
    }
    std::string describe() const { return path_.string(); }

    std::int64_t rows_total() const noexcept { return end_ - group_start_[first_group_]; }
    std::size_t first_group() const noexcept { return first_group_; }
    std::size_t end_group() const noexcept { return end_group_; }
    parquet::file const& file() const noexcept { return *file_; }

private:
    // (row group, row) of an absolute row index; the end of a group is the next group's row 0.
    parquet::position locate(std::int64_t abs) const
    {
        auto const it = std::upper_bound(group_start_.begin(), group_start_.end() - 1, abs);
        std::size_t g = static_cast<std::size_t>(it - group_start_.begin()) - 1;
        // skip empty row groups: a position is the group that holds the row
        while (g + 1 < group_start_.size() - 1 && group_start_[g + 1] == abs)
            ++g;
        return {g, abs - group_start_[g]};
    }
};

static_assert(streambatch::job_source<file_source>);

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_JOB_SOURCE_HPP_INCLUDED
