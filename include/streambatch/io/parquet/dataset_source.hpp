// streambatch/io/parquet/dataset_source.hpp: parquet::dataset_source, a set of Parquet files
// (a dataset directory, or a list of paths) as a job's source (streambatch::job_source,
// job/contract.hpp), split by row group across N workers: each worker reads only its own row
// groups, a resumed job starts at the row after its last committed batch, and a dataset whose
// files were added, removed or changed is refused, naming the file.
//
// In:     a directory (its regular files named "*.parquet", in name order; names starting with
//         '.' or '_' and names ending in ".tmp" are skipped, as are subdirectories: what
//         parquet::dataset_sink writes reads back in commit order), or an explicit list of
//         paths (in the list's order); dataset_source_options {columns (the projection; empty:
//         every column), part {index, count}: this worker's share}.
// Out:    seek(text): where rows() starts (a position() of this dataset and partition).
//         rows(): a single-pass view of parquet::row over the partition's row groups, file
//         after file, from the sought position; it reads nothing past the partition's last row.
//         position(): "<file> <row group> <row>" of the next row not yet handed out, <file>
//         being the file's name (directory) or its path as listed (list), <row group> counted
//         in that file; "end" after the dataset's last row. identity(): "parquet dataset
//         files=<n>" then, per file in order, "; <file> bytes=<size> footer=<xxh64 of its
//         footer>". check_identity(state): the dataset now against state.identity. describe():
//         the directory, or "<first path> and <n - 1> more files". files(): the files' keys;
//         rows_total(): the partition's rows; first_group(), end_group(): its global row
//         groups.
// Models: streambatch::job_source. Move-only. The G row groups of all files are numbered
//         globally in file order; partition i of n holds [G*i/n, G*(i+1)/n) (contiguous, so a
//         worker opens the data of only the files its groups lie in; every footer is read, for
//         the identity and the schema check). A partition may be empty when n > G. Every file
//         must have the first file's schema (the elements below the root: names, types,
//         repetition, logical and converted types, decimal scale and precision).
// Memory: every footer is read and its file closed when the source is made: one open file
//         (one descriptor, its footer) at a time, the one being read, released when rows() steps
//         to the next file or past the last row; the reader's (one page per projected column
//         and its dictionary) for that file; the identity's text and the row groups' layout.
// Errors: input_changed (check_identity: names the file added, removed or changed, and both
//         identities; rows(), on opening a file whose size or footer is not what the source
//         saw when it was made: names the file, then and now); parquet::error naming the file:
//         one that is not Parquet, a schema that differs from the first file's (names the
//         element and what differs), the directory that cannot be listed, a "*.parquet" entry
//         that cannot be stat'ed ("cannot stat", e.g. a dangling link); and the reader's (file,
//         row group, column, page, byte offset): after an error in rows() the iterator
//         compares equal to the end and position() names the row it stopped at;
//         std::invalid_argument for the same file listed twice (by device and inode: names
//         both spellings), or a position that does not parse, names no file of the dataset,
//         or lies outside the partition; std::logic_error for rows() twice, or seek() /
//         check_identity() after rows().
// Example:
//     parquet::dataset_source src("out/orders", {.columns = {"id", "total"},
//                                                .part =
//                                                streambatch::partition_from_environment()});
//     if (auto state = sink.open({.job = "load orders", .part = src.part()})) {
//         src.check_identity(*state);                 // throws input_changed
//         src.seek(state->position);
//     }
//     auto r = streambatch::run_job(src, step, sink, {.job = "load orders", .batch = 10'000});

#ifndef STREAMBATCH_IO_PARQUET_DATASET_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_DATASET_SOURCE_HPP_INCLUDED

#include <streambatch/detail/stream_hash.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/file.hpp>
#include <streambatch/io/parquet/metadata.hpp>
#include <streambatch/io/parquet/reader.hpp>
#include <streambatch/job/contract.hpp>
#include <streambatch/partition.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/stat.h>

namespace streambatch::parquet {

struct dataset_source_options {
    std::vector<std::string> columns{}; ///< the projection, in the rows' order; empty: all
    partition part{};                   ///< this worker's share of the row groups
};

namespace dataset_detail {

// "<name> bytes=<size> footer=<hex>" entries of an identity text, after its "files=<n>" head.
inline std::vector<std::pair<std::string, std::string>> identity_entries(std::string_view id)
{
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t at = id.find("; ");
    while (at != std::string_view::npos) {
        std::size_t const next = id.find("; ", at + 2);
        std::string_view const e = id.substr(
            at + 2, next == std::string_view::npos ? std::string_view::npos : next - at - 2);
        std::size_t const b = e.rfind(" bytes=");
        if (b == std::string_view::npos)
            out.emplace_back(std::string(e), std::string());
        else
            out.emplace_back(std::string(e.substr(0, b)), std::string(e.substr(b + 1)));
        at = next;
    }
    return out;
}

inline std::string opt_text(std::optional<std::int32_t> const& v)
{
    return v ? std::to_string(*v) : std::string("none");
}

// What differs between two schema elements ("" when nothing the source cares about).
inline std::string element_difference(schema_element const& a, schema_element const& b)
{
    auto const type_name = [](schema_element const& e) -> std::string {
        return e.type ? to_string(*e.type) : "group";
    };
    if (a.name != b.name)
        return "name \"" + b.name + "\" where the first file has \"" + a.name + "\"";
    if (a.type != b.type)
        return "type " + type_name(b) + " where the first file has " + type_name(a);
    if (a.type_length != b.type_length)
        return "type_length " + opt_text(b.type_length) + " where the first file has " +
               opt_text(a.type_length);
    if (a.repetition_type != b.repetition_type)
        return std::string("repetition ") +
               (b.repetition_type ? to_string(*b.repetition_type) : "none") +
               " where the first file has " +
               (a.repetition_type ? to_string(*a.repetition_type) : "none");
    if (a.num_children != b.num_children)
        return "num_children " + opt_text(b.num_children) + " where the first file has " +
               opt_text(a.num_children);
    auto const logical = [](schema_element const& e) -> std::string {
        if (!e.logical_type)
            return e.converted_type ? std::string(to_string(*e.converted_type)) : "none";
        return to_string(e.logical_type->kind);
    };
    if (a.logical_type != b.logical_type || a.converted_type != b.converted_type)
        return "logical type " + logical(b) + " where the first file has " + logical(a) +
               (logical(a) == logical(b) ? " (other parameters)" : "");
    if (a.scale != b.scale || a.precision != b.precision)
        return "decimal(" + opt_text(b.precision) + ", " + opt_text(b.scale) +
               ") where the first file has decimal(" + opt_text(a.precision) + ", " +
               opt_text(a.scale) + ")";
    return {};
}

} // namespace dataset_detail

/// A set of Parquet files as a job_source. See the top of this file.
class dataset_source {
    struct member {
        std::string key;              // the name in positions and identities
        std::filesystem::path path;   // where it is
        std::size_t first_global = 0; // its first row group's global index
        std::size_t groups = 0;       // its row groups
        std::string entry;            // "<key> bytes=<size> footer=<hex>"
    };
    std::string where_; // describe()
    dataset_source_options opts_;
    std::vector<member> files_;
    std::vector<std::size_t> group_file_;   // global row group -> its file
    std::vector<std::int64_t> group_start_; // global row group -> absolute first row; + end
    std::size_t first_group_ = 0, end_group_ = 0;
    std::int64_t start_ = 0, end_ = 0; // absolute rows: where rows() begins, the partition's end
    std::string identity_;

    struct state {
        dataset_source const* src = nullptr;
        std::optional<parquet::reader> r;
        std::ranges::iterator_t<parquet::reader> it{};
        std::int64_t next = 0;     // absolute row the iterator stands on
        std::int64_t file_end = 0; // absolute end of the current file's share
        std::int64_t taken = 0;    // rows handed out (and stepped past)
        bool called = false, started = false, stopped = false;

        // Opens the file holding absolute row `abs` (< the partition's end), the previous
        // file's reader (and so its descriptor) released first, and the reader at that row.
        // Until that succeeds the view stands at its end (stopped): if opening throws, the
        // iterator compares equal to the end and position() is `abs`.
        void open_at(std::int64_t abs)
        {
            stopped = true;
            it = {};
            r.reset();
            auto const p = src->locate(abs);
            std::size_t const g = p.first;
            member const& m = src->files_[src->group_file_[g]];
            std::size_t const last = std::min(m.first_global + m.groups, src->end_group_);
            auto f = std::make_shared<parquet::file>(m.path);
            if (std::string const now = entry_of(m.key, *f); now != m.entry)
                throw input_changed("streambatch::parquet::dataset_source: " + m.path.string() +
                                    " changed since the source was opened (now \"" +
                                    now.substr(m.key.size() + 1) + "\", was \"" +
                                    m.entry.substr(m.key.size() + 1) + "\")");
            r.emplace(std::move(f), src->opts_.columns,
                      parquet::position{g - m.first_global, p.second});
            it = r->begin();
            file_end = src->group_start_[last];
            next = abs;
            stopped = false;
        }
        void step()
        {
            ++taken;
            ++next;
            if (next == src->end_) {
                stopped = true; // the partition's last row: the reader is not advanced
                it = {};
                r.reset(); // the last file is released
            } else if (next == file_end) {
                open_at(next);
            } else {
                try {
                    ++it;
                } catch (...) {
                    stopped = true; // the view ends at the row it could not read
                    throw;
                }
            }
        }
    };
    std::unique_ptr<state> s_ = std::make_unique<state>();

public:
    /// The rows of this source's row groups, file after file, from the sought position; stops
    /// at the partition's end without reading the next partition's pages.
    class rows_view : public std::ranges::view_interface<rows_view> {
        state* s_ = nullptr;

    public:
        class iterator {
            state* s_ = nullptr;

        public:
            using iterator_concept = std::input_iterator_tag;
            using value_type = row;
            using difference_type = std::ptrdiff_t;
            iterator() = default;
            explicit iterator(state* s) : s_(s) {}
            row& operator*() const { return *s_->it; }
            iterator& operator++()
            {
                s_->step();
                return *this;
            }
            void operator++(int) { s_->step(); }
            friend bool operator==(iterator const& i, std::default_sentinel_t)
            {
                return i.s_->stopped || i.s_->it == std::default_sentinel;
            }
        };

        rows_view() = default;
        explicit rows_view(state* s) : s_(s) {}
        iterator begin()
        {
            s_->started = true;
            return iterator(s_);
        }
        std::default_sentinel_t end() const noexcept { return {}; }
    };

    /// The "*.parquet" files of `directory`, in name order.
    explicit dataset_source(std::filesystem::path const& directory,
                            dataset_source_options opts = {})
        : where_(directory.string()), opts_(std::move(opts))
    {
        std::error_code ec;
        std::vector<std::string> names;
        std::filesystem::directory_iterator it(directory, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            std::string const name = it->path().filename().string();
            if (name.starts_with(".") || name.starts_with("_") || name.ends_with(".tmp") ||
                !name.ends_with(".parquet"))
                continue;
            std::error_code tec;
            bool const regular = it->is_regular_file(tec);
            if (tec)
                throw error(it->path(), error::npos, "cannot stat: " + tec.message());
            if (regular)
                names.push_back(name);
        }
        if (ec)
            throw error(where_, error::npos, "cannot list the dataset directory: " + ec.message());
        std::sort(names.begin(), names.end());
        for (auto& n : names)
            files_.push_back({n, directory / n, 0, 0, {}});
        init();
    }

    /// The files `paths`, in this order (each named in positions by its path as given).
    explicit dataset_source(std::vector<std::filesystem::path> const& paths,
                            dataset_source_options opts = {})
        : opts_(std::move(opts))
    {
        // the same file under two spellings (d/a.parquet, d/./a.parquet, a link): by device
        // and inode; a path that cannot be stat'ed is left to parquet::file's error
        std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> seen;
        for (auto const& p : paths) {
            struct ::stat st {};
            if (::stat(p.c_str(), &st) == 0) {
                auto const [at, fresh] = seen.emplace(
                    std::pair<std::uint64_t, std::uint64_t>(st.st_dev, st.st_ino), p.string());
                if (!fresh)
                    throw std::invalid_argument(
                        "streambatch::parquet::dataset_source: " + p.string() +
                        " is listed twice (as " + at->second + " and as " + p.string() + ")");
            }
            files_.push_back({p.string(), p, 0, 0, {}});
        }
        where_ = paths.empty()       ? std::string("an empty list of files")
                 : paths.size() == 1 ? paths[0].string()
                                     : paths[0].string() + " and " +
                                           std::to_string(paths.size() - 1) + " more files";
        init();
    }
    dataset_source(dataset_source&& o) noexcept
        : where_(std::move(o.where_)), opts_(std::move(o.opts_)), files_(std::move(o.files_)),
          group_file_(std::move(o.group_file_)), group_start_(std::move(o.group_start_)),
          first_group_(o.first_group_), end_group_(o.end_group_), start_(o.start_), end_(o.end_),
          identity_(std::move(o.identity_)), s_(std::move(o.s_))
    {
        if (s_)
            s_->src = this; // rows() in progress reads this object's layout
    }
    dataset_source& operator=(dataset_source&& o) noexcept
    {
        if (this != &o) {
            where_ = std::move(o.where_);
            opts_ = std::move(o.opts_);
            files_ = std::move(o.files_);
            group_file_ = std::move(o.group_file_);
            group_start_ = std::move(o.group_start_);
            first_group_ = o.first_group_;
            end_group_ = o.end_group_;
            start_ = o.start_;
            end_ = o.end_;
            identity_ = std::move(o.identity_);
            s_ = std::move(o.s_);
            if (s_)
                s_->src = this;
        }
        return *this;
    }

    /// Starts rows() at `text` (a position() of this dataset and partition).
    void seek(std::string_view text)
    {
        if (s_->called)
            throw std::logic_error("streambatch::parquet::dataset_source: seek() after rows()");
        auto const bad = [&](std::string const& why) {
            return std::invalid_argument("streambatch::parquet::dataset_source: " + where_ +
                                         ": position \"" + std::string(text) + "\" " + why);
        };
        std::int64_t abs = group_start_.back();
        if (text != "end") {
            std::size_t const s2 = text.rfind(' ');
            std::size_t const s1 =
                s2 == std::string_view::npos || s2 == 0 ? s2 : text.rfind(' ', s2 - 1);
            if (s1 == std::string_view::npos || s1 == 0)
                throw bad("does not parse (want \"<file> <row group> <row>\" or \"end\")");
            std::string_view const key = text.substr(0, s1);
            std::size_t group = 0;
            std::int64_t row = 0;
            auto const* e1 = text.data() + s2;
            auto const r1 = std::from_chars(text.data() + s1 + 1, e1, group);
            auto const* e2 = text.data() + text.size();
            auto const r2 = std::from_chars(text.data() + s2 + 1, e2, row);
            if (r1.ec != std::errc() || r1.ptr != e1 || r2.ec != std::errc() || r2.ptr != e2 ||
                row < 0)
                throw bad("does not parse (want \"<file> <row group> <row>\" or \"end\")");
            auto const f = std::find_if(files_.begin(), files_.end(),
                                        [&](member const& m) { return m.key == key; });
            if (f == files_.end())
                throw bad("names no file of the dataset");
            std::size_t const g = f->first_global + group;
            if (group > f->groups ||
                (group < f->groups && row > group_start_[g + 1] - group_start_[g]) ||
                (group == f->groups && row != 0))
                throw bad("is not a row of " + f->key + " (" + std::to_string(f->groups) +
                          " row groups)");
            abs = group_start_[g] + row;
        }
        if (abs < group_start_[first_group_] || abs > end_)
            throw bad("lies outside partition " + opts_.part.str() + " (global row groups " +
                      std::to_string(first_group_) + " to " + std::to_string(end_group_) + ")");
        start_ = abs;
    }

    /// This source's rows, once.
    rows_view rows()
    {
        if (s_->called)
            throw std::logic_error("streambatch::parquet::dataset_source: rows() twice");
        s_->called = true;
        s_->src = this;
        s_->stopped = true;
        if (start_ < end_)
            s_->open_at(start_);
        return rows_view(s_.get());
    }

    /// "<file> <row group> <row>" of the next row not handed out; "end" after the last.
    std::string position() const
    {
        auto const [g, row] = locate(start_ + s_->taken);
        if (g == group_file_.size())
            return "end";
        member const& m = files_[group_file_[g]];
        return m.key + " " + std::to_string(g - m.first_global) + " " + std::to_string(row);
    }
    std::string identity() const { return identity_; }
    void check_identity(job_state const& st) const
    {
        if (s_->called)
            throw std::logic_error(
                "streambatch::parquet::dataset_source: check_identity() after rows()");
        if (st.identity == identity_)
            return;
        auto const then = dataset_detail::identity_entries(st.identity);
        std::string what;
        std::size_t i = 0;
        for (; i < files_.size() && what.empty(); ++i) {
            std::string const& now = files_[i].entry;
            auto const was = std::find_if(then.begin(), then.end(),
                                          [&](auto const& e) { return e.first == files_[i].key; });
            if (was == then.end())
                what = files_[i].key + " was added";
            else if (files_[i].key + " " + was->second != now)
                what = files_[i].key + " changed (now \"" + now.substr(files_[i].key.size() + 1) +
                       "\", was \"" + was->second + "\")";
            else if (static_cast<std::size_t>(was - then.begin()) != i)
                what = files_[i].key + " moved in the files' order";
        }
        for (std::size_t j = 0; j < then.size() && what.empty(); ++j)
            if (std::none_of(files_.begin(), files_.end(),
                             [&](member const& m) { return m.key == then[j].first; }))
                what = then[j].first + " was removed";
        if (what.empty())
            what = "its identity differs";
        throw input_changed("streambatch::parquet::dataset_source: " + where_ +
                            " is not the dataset the stored state was taken on: " + what +
                            "; it is \"" + identity_ + "\", the state says \"" + st.identity +
                            "\"");
    }
    std::string describe() const { return where_; }

    /// The files' names as positions and identities give them, in order.
    std::vector<std::string> files() const
    {
        std::vector<std::string> out;
        for (auto const& m : files_)
            out.push_back(m.key);
        return out;
    }
    partition part() const noexcept { return opts_.part; }
    std::int64_t rows_total() const noexcept { return end_ - group_start_[first_group_]; }
    /// The partition's global row groups: [first_group(), end_group()).
    std::size_t first_group() const noexcept { return first_group_; }
    std::size_t end_group() const noexcept { return end_group_; }
    /// The row groups of all files.
    std::size_t groups_total() const noexcept { return group_file_.size(); }

private:
    static std::string entry_of(std::string const& key, parquet::file const& f)
    {
        auto const& ft = f.footer();
        auto const bytes = f.read(ft.offset, ft.length);
        streambatch::detail::stream_hash h;
        h.update(std::string_view(reinterpret_cast<char const*>(bytes.data()), bytes.size()));
        return key + " bytes=" + std::to_string(f.size()) + " footer=" + h.hex();
    }

    void init()
    {
        opts_.part.check();
        identity_ = "parquet dataset files=" + std::to_string(files_.size());
        std::vector<schema_element> first_schema;
        std::int64_t at = 0;
        for (std::size_t i = 0; i < files_.size(); ++i) {
            member& m = files_[i];
            auto const f = std::make_unique<parquet::file>(m.path); // closed at the loop's end
            auto const& schema = f->metadata().schema;
            if (i == 0) {
                first_schema = schema;
            } else {
                std::string diff;
                if (schema.size() != first_schema.size())
                    diff = std::to_string(schema.size() - 1) + " schema elements where " +
                           files_[0].key + " has " + std::to_string(first_schema.size() - 1);
                for (std::size_t e = 1; e < schema.size() && diff.empty(); ++e) {
                    std::string const d =
                        dataset_detail::element_difference(first_schema[e], schema[e]);
                    if (!d.empty())
                        diff = "schema element " + std::to_string(e) + " (\"" +
                               first_schema[e].name + "\") has " + d + " (" + files_[0].key + ")";
                }
                if (!diff.empty())
                    throw error(f->path(), error::npos,
                                "its schema differs from the dataset's first file: " + diff);
            }
            m.entry = entry_of(m.key, *f);
            identity_ += "; " + m.entry;
            m.first_global = group_file_.size();
            m.groups = f->metadata().row_groups.size();
            for (auto const& rg : f->metadata().row_groups) {
                group_file_.push_back(i);
                group_start_.push_back(at);
                at += rg.num_rows;
            }
        }
        group_start_.push_back(at);
        std::size_t const g = group_file_.size();
        std::size_t const n = opts_.part.count;
        first_group_ = g * opts_.part.index / n;
        end_group_ = g * (opts_.part.index + 1) / n;
        start_ = group_start_[first_group_];
        end_ = group_start_[end_group_];
    }

    // (global row group, row) of an absolute row; a position is the group holding the row
    // (empty groups skipped); (G, 0) after the last row.
    std::pair<std::size_t, std::int64_t> locate(std::int64_t abs) const
    {
        std::size_t const total = group_file_.size();
        if (total == 0)
            return {0, 0};
        auto const it = std::upper_bound(group_start_.begin(), group_start_.end() - 1, abs);
        std::size_t g = static_cast<std::size_t>(it - group_start_.begin());
        if (g == 0)
            return {0, abs};
        --g; // group_start_[g] <= abs
        while (g < total && group_start_[g + 1] == abs)
            ++g;
        if (g >= total)
            return {total, 0};
        return {g, abs - group_start_[g]};
    }
};

static_assert(streambatch::job_source<dataset_source>);

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_DATASET_SOURCE_HPP_INCLUDED
