// streambatch/io/csv/job_source.hpp: csv::file_source, a CSV file as a job's source
// (streambatch::job_source, job/contract.hpp): its rows, its position as text, and the identity
// of the file at that position, so that a resumed job refuses a file that is not the one it
// stopped in.
//
// In:     a path, csv::options (a partition among them) and io::identity_options {mode (full,
//         the default, or sampled), allow_append}.
// Out:    seek(text): where rows() starts, csv::to_string(position) text (csv::parse_position).
//         rows(): the csv::reader, opened once at the sought position, as a
//         std::ranges::ref_view (so the source keeps it and position() can ask it).
//         position(): csv::to_string(reader.position()). identity(): the file's identity at
//         reader.position().byte_offset as text (io/detail/file_identity.hpp): in full mode it
//         hashes the bytes consumed since the last call, so call it once per batch.
//         check_identity(state): the file now against state.identity. describe(): the path.
// Models: streambatch::job_source. Move-only. A partitioned source (options::partition with
//         count > 1) hashes the header and its own records only (the identity's skip= range is
//         the other partitions' bytes before its first record); allow_append is refused with
//         partitions (a larger file moves every partition's range).
// Memory: the reader's (see io/csv.hpp) and the tracker's 256 KiB buffer.
// Errors: input_changed (check_identity, identity(): see file_identity.hpp); csv::parse_error
//         and std::system_error from the reader; std::invalid_argument for a position text that
//         does not parse, or allow_append with partitions; std::logic_error for rows() twice, or
//         seek() / check_identity() after rows().
// Example:
//     csv::file_source src("orders.csv", {}, {.allow_append = true});
//     if (auto state = sink.open({.job = "load orders"})) {
//         src.check_identity(*state);                 // throws input_changed
//         src.seek(state->position);
//     }
//     for (auto&& batch : src.rows() | streambatch::views::chunk(1000))
//         sink.commit(std::move(batch), {.position = src.position(), .identity = src.identity()});

#ifndef STREAMBATCH_IO_CSV_JOB_SOURCE_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_JOB_SOURCE_HPP_INCLUDED

#include <streambatch/io/csv/options.hpp>
#include <streambatch/io/csv/reader.hpp>
#include <streambatch/io/detail/file_identity.hpp>
#include <streambatch/job/contract.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace streambatch::csv {

/// A CSV file as a job_source. See the top of this file.
class file_source {
    std::filesystem::path path_;
    options opts_;
    io::identity_options id_opts_;
    std::optional<csv::position> from_;
    std::optional<reader> reader_;
    std::optional<io::file_identity_tracker> tracker_;

    std::string name() const { return opts_.name.empty() ? path_.string() : opts_.name; }
    bool partitioned() const { return !opts_.partition.whole(); }

    void open_tracker()
    {
        // A partition never reads the records between the header and its first record.
        std::uint64_t skip_begin = 0, skip_end = 0;
        if (partitioned()) {
            if (from_ || !reader_) { // where the partition begins, as a fresh reader finds it
                reader const fresh(path_, opts_);
                skip_begin = fresh.partition_range().data_begin;
                skip_end = fresh.position().byte_offset;
            } else {
                skip_begin = reader_->partition_range().data_begin;
                skip_end = reader_->position().byte_offset;
            }
        }
        tracker_.emplace(path_, name(), id_opts_, skip_begin, skip_end);
    }

public:
    /// The file at `path`, read with `o`; its identity checked as `id` says.
    explicit file_source(std::filesystem::path path, options o = {}, io::identity_options id = {})
        : path_(std::move(path)), opts_(std::move(o)), id_opts_(id)
    {
        detail::check(opts_);
        if (id_opts_.allow_append && partitioned())
            throw std::invalid_argument(
                "streambatch::csv::file_source: " + name() + ": allow_append with partition " +
                opts_.partition.str() +
                ": a file that grows moves every partition's byte range, so a partitioned load "
                "cannot go on over an appended file; read it whole (partition count 1)");
    }
    file_source(file_source&&) noexcept = default;
    file_source& operator=(file_source&&) = delete;

    /// rows() starts at `text` (csv::to_string of a position a reader of this file gave).
    void seek(std::string_view text)
    {
        if (reader_)
            throw std::logic_error("streambatch::csv::file_source: seek() after rows()");
        from_ = parse_position(text);
    }

    /// The reader, opened at the sought position (once).
    std::ranges::ref_view<reader> rows()
    {
        if (reader_)
            throw std::logic_error("streambatch::csv::file_source: rows() called twice on " +
                                   name() + "; a source is read once");
        reader_.emplace(path_, opts_, from_);
        if (!tracker_)
            open_tracker();
        return std::ranges::ref_view<reader>(*reader_);
    }

    /// csv::to_string of the reader's position (before rows(): the sought one, or "0 1 0 0").
    std::string position() const
    {
        return to_string(reader_ ? reader_->position() : from_.value_or(csv::position{}));
    }

    /// The file's identity at the reader's position, as text. Full mode: hashes the bytes
    /// consumed since the last call.
    std::string identity()
    {
        if (!tracker_)
            open_tracker();
        std::uint64_t const at =
            reader_ ? reader_->position().byte_offset : from_.value_or(csv::position{}).byte_offset;
        return tracker_->identity_at(at).to_text();
    }

    /// Throws input_changed unless the file now is the one `state` was taken on.
    void check_identity(job_state const& state)
    {
        if (reader_)
            throw std::logic_error("streambatch::csv::file_source: check_identity() after rows()");
        io::file_identity const stored = io::file_identity::from_text(state.identity, name());
        io::file_identity_tracker t(path_, name(), id_opts_);
        t.check(stored);
        tracker_.reset();
        tracker_.emplace(std::move(t));
    }

    /// The path (or options::name), for messages.
    std::string describe() const { return name(); }

    /// The reader, once rows() has opened it.
    reader* get() noexcept { return reader_ ? &*reader_ : nullptr; }
};

static_assert(streambatch::job_source<file_source>);

} // namespace streambatch::csv

#endif // STREAMBATCH_IO_CSV_JOB_SOURCE_HPP_INCLUDED
