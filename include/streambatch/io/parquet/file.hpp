// streambatch/io/parquet/file.hpp: a Parquet file's footer: magic, FileMetaData, the flat schema
// view of its leaf columns, and the column chunks' byte ranges, checked against the file.
//
// In:     a path (parquet::file reads with pread; no mmap), or the whole file's bytes in memory
//         (read_footer), or the footer's bytes and where they are (parse_footer).
// Out:    parquet::file: path(), size(), footer() (metadata(), schema(), offset(), length()),
//         num_rows(), read_at(offset, out), read(offset, size), chunk(row_group, column).
//         footer: the decoded file_metadata, its schema_view, where it is, and the rows of its
//         row groups. schema_view:
//         columns (one column_descriptor per leaf, in column-chunk order: path, name "a.b",
//         physical type, type_length, logical/converted type, scale/precision, repetition,
//         max definition/repetition level, nested), nested_fields (the top-level fields that are
//         groups or repeated, by name), is_flat(), find(name). chunk_range {offset, size} of a
//         column chunk (from its dictionary page when it has one).
// Models: Parquet's layout: "PAR1", row groups' column chunks, FileMetaData (Thrift compact),
//         its 4-byte little-endian length, "PAR1". A column is nested when it sits under a group
//         node or is repeated anywhere on its path; it is still described (a reader refuses it
//         by name unless it is projected away). Encrypted footers ("PARE") are refused.
// Memory: the metadata of one file (every row group's column chunks); a file holds one fd.
// Errors: parquet::error naming the file, a byte offset and what: "file of N bytes is too short",
//         "bad magic ... at the start/end", "encrypted footer", "footer length L past the start
//         of the file", what the Thrift decoder says ("truncated thrift ..." at byte N), a bad
//         schema ("schema element 3 ("a"): num_children 5 past the end of the schema"), and
//         "row group R column C ("name"): ..." when a column chunk's metadata disagrees with the
//         schema or the file (type, path, offsets or sizes outside the data area). System
//         errors (open, pread) give errno's text.
// Example:
//     streambatch::parquet::file f("alltypes_plain.parquet");
//     for (auto const& c : f.footer().schema.columns)
//         std::cout << c.name << ' ' << to_string(c.type) << '\n';
//     auto range = f.chunk(0, 2);        // {offset, size} of row group 0's third column chunk
//     auto bytes = f.read(range.offset, range.size);

#ifndef STREAMBATCH_IO_PARQUET_FILE_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_FILE_HPP_INCLUDED

#include <streambatch/io/detail/quote.hpp>
#include <streambatch/io/parquet/errors.hpp>
#include <streambatch/io/parquet/metadata.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace streambatch::parquet {

/// One leaf column of the schema.
struct column_descriptor {
    std::size_t index = 0;         ///< its column chunk's index in each row group
    std::size_t schema_index = 0;  ///< its element in file_metadata::schema
    std::vector<std::string> path; ///< names from the top-level field down to the leaf
    std::string name;              ///< path joined with '.'
    physical_type type = physical_type::boolean;
    std::int32_t type_length = 0; ///< FIXED_LEN_BYTE_ARRAY's width (0 when absent)
    repetition_type repetition = repetition_type::required; ///< the leaf's own
    std::optional<parquet::logical_type> logical_type;
    std::optional<parquet::converted_type> converted_type;
    std::int32_t scale = 0, precision = 0; ///< decimal (logical type's, else the element's)
    std::int16_t max_definition_level = 0, max_repetition_level = 0;
    /// Under a group node, or repeated somewhere on its path.
    bool nested = false;
};

/// The flat view of a schema: its leaves, and which top-level fields are nested.
struct schema_view {
    std::vector<column_descriptor> columns;
    /// Top-level fields that are groups or repeated leaves, in schema order.
    std::vector<std::string> nested_fields;

    bool is_flat() const noexcept { return nested_fields.empty(); }
    /// The leaf named `name` (dotted path for a nested one); nullptr when none.
    column_descriptor const* find(std::string_view name) const noexcept
    {
        for (column_descriptor const& c : columns)
            if (c.name == name)
                return &c;
        return nullptr;
    }
};

/// Where a column chunk's bytes are (pages from its dictionary page, if any, on).
struct chunk_range {
    std::uint64_t offset = 0, size = 0;
};

/// A decoded, checked footer.
struct footer {
    file_metadata metadata;
    schema_view schema;
    std::uint64_t offset = 0; ///< of the FileMetaData's first byte
    std::uint32_t length = 0; ///< of the FileMetaData
    /// The row groups' num_rows summed: the rows a reader finds (file_metadata::num_rows may
    /// disagree: some writers leave it 0, e.g. parquet-testing's repeated_no_annotation).
    std::int64_t rows = 0;
    /// Row group `row_group`'s chunk of leaf column `column` (both checked by parse_footer).
    chunk_range chunk(std::size_t row_group, std::size_t column) const;
};

inline constexpr std::string_view magic = "PAR1";
inline constexpr std::string_view encrypted_magic = "PARE";

namespace detail {

using io::detail::quote;

/// The schema's tree, flattened to its leaves; errors at `at` (the footer's offset).
inline schema_view build_schema(file_metadata const& md, std::string const& file, std::uint64_t at)
{
    auto const fail = [&](std::string const& reason) { throw error(file, at, reason); };
    auto const element_name = [&](std::size_t i) {
        return "schema element " + std::to_string(i) + " (" + quote(md.schema[i].name) + ")";
    };
    if (md.schema.empty())
        fail("empty schema (no root element)");
    schema_view view;
    std::int32_t const root_children = md.schema[0].num_children.value_or(0);
    if (root_children < 0)
        fail(element_name(0) + ": negative num_children " + std::to_string(root_children));

    // A frame holds no copy of its path: a leaf's path is gathered from the frames' elements
    // when the leaf is reached, so the walk's memory is the stack plus the leaves' own paths,
    // and those are bounded (max_path_elements) so that a deep, small footer cannot make the
    // descriptors quadratic in its size.
    struct frame {
        std::size_t left;      // children still to visit
        std::int16_t def, rep; // levels at this group
        bool nested;           // a repeated group on the way here
        std::size_t element;   // its schema element (0: the root)
    };
    std::vector<frame> stack;
    stack.push_back({static_cast<std::size_t>(root_children), 0, 0, false, 0});
    // Bytes of the leaves' paths and names (strings and characters) over all leaves: 64 MiB
    // (a flat schema of 10 000 columns of 100-byte names takes 4 MiB).
    constexpr std::size_t max_path_bytes = std::size_t{64} << 20;
    std::size_t path_bytes = 0;
    std::size_t i = 1;
    std::string top_level;
    while (!stack.empty()) {
        if (stack.back().left == 0) {
            stack.pop_back();
            continue;
        }
        --stack.back().left;
        if (i >= md.schema.size())
            fail("schema ends after " + std::to_string(md.schema.size()) +
                 " elements but its groups announce more children");
        schema_element const& e = md.schema[i];
        frame const& parent = stack.back();
        bool const top = stack.size() == 1;
        auto const rep = e.repetition_type.value_or(repetition_type::required);
        if (rep != repetition_type::required && rep != repetition_type::optional &&
            rep != repetition_type::repeated)
            fail(element_name(i) + ": unknown repetition type " +
                 std::to_string(static_cast<std::int32_t>(rep)));
        if (!e.repetition_type)
            fail(element_name(i) + ": no repetition type");
        std::int16_t def = parent.def, level_rep = parent.rep;
        if (rep != repetition_type::required)
            ++def;
        if (rep == repetition_type::repeated)
            ++level_rep;
        bool const group = e.num_children && (*e.num_children > 0 || !e.type);
        auto const note_nested = [&] {
            std::string const& name = top ? e.name : md.schema[stack[1].element].name;
            if (std::find(view.nested_fields.begin(), view.nested_fields.end(), name) ==
                view.nested_fields.end())
                view.nested_fields.push_back(name);
        };
        if (group) {
            if (*e.num_children < 0)
                fail(element_name(i) + ": negative num_children " +
                     std::to_string(*e.num_children));
            if (static_cast<std::uint64_t>(*e.num_children) > md.schema.size() - i - 1)
                fail(element_name(i) + ": num_children " + std::to_string(*e.num_children) +
                     " past the end of the schema (" + std::to_string(md.schema.size()) +
                     " elements)");
            note_nested();
            if (stack.size() > 1000)
                fail(element_name(i) + ": groups nested deeper than 1000");
            stack.push_back({static_cast<std::size_t>(*e.num_children), def, level_rep,
                             parent.nested || rep == repetition_type::repeated, i});
            ++i;
            continue;
        }
        if (!e.type)
            fail(element_name(i) + ": a leaf without a physical type");
        auto const t = static_cast<std::int32_t>(*e.type);
        if (t < 0 || t > static_cast<std::int32_t>(physical_type::fixed_len_byte_array))
            fail(element_name(i) + ": unknown physical type " + std::to_string(t));
        if (*e.type == physical_type::fixed_len_byte_array && e.type_length.value_or(0) <= 0)
            fail(element_name(i) + ": FIXED_LEN_BYTE_ARRAY without a positive type_length");
        column_descriptor c;
        c.index = view.columns.size();
        c.schema_index = i;
        c.type = *e.type;
        c.type_length = e.type_length.value_or(0);
        c.repetition = rep;
        c.logical_type = e.logical_type;
        c.converted_type = e.converted_type;
        c.scale = e.scale.value_or(0);
        c.precision = e.precision.value_or(0);
        if (e.logical_type && e.logical_type->kind == logical_type::kind_t::decimal) {
            c.scale = e.logical_type->scale;
            c.precision = e.logical_type->precision;
        }
        c.max_definition_level = def;
        c.max_repetition_level = level_rep;
        c.nested = !top || level_rep > 0;
        if (top && c.nested)
            note_nested();
        std::size_t name_size = e.name.size() + 1;
        for (std::size_t k = 1; k < stack.size(); ++k)
            name_size += md.schema[stack[k].element].name.size() + 1;
        path_bytes += 2 * name_size + (stack.size() + 1) * sizeof(std::string);
        if (path_bytes > max_path_bytes)
            fail(element_name(i) + ": the leaves' paths and names take more than " +
                 std::to_string(max_path_bytes >> 20) + " MiB (leaf at depth " +
                 std::to_string(stack.size()) + ")");
        c.path.reserve(stack.size());
        for (std::size_t k = 1; k < stack.size(); ++k)
            c.path.push_back(md.schema[stack[k].element].name);
        c.path.push_back(e.name);
        c.name.reserve(name_size);
        for (std::size_t k = 0; k < c.path.size(); ++k) {
            if (k)
                c.name += '.';
            c.name += c.path[k];
        }
        view.columns.push_back(std::move(c));
        ++i;
    }
    if (i != md.schema.size())
        fail("schema has " + std::to_string(md.schema.size() - i) +
             " elements after the root's children (element " + std::to_string(i) + ", " +
             quote(md.schema[i].name) + ")");
    return view;
}

/// Row group R's column chunk C against the schema and the data area [4, data_end).
inline void check_chunk(footer const& f, std::size_t r, std::size_t c, std::uint64_t data_end,
                        std::string const& file)
{
    column_chunk const& cc = f.metadata.row_groups[r].columns[c];
    column_descriptor const& d = f.schema.columns[c];
    std::string const where = "row group " + std::to_string(r) + " column " + std::to_string(c) +
                              " (" + quote(d.name) + "): ";
    auto const fail = [&](std::string const& reason) {
        throw error(file, f.offset, where + reason);
    };
    if (!cc.meta_data) {
        fail(cc.encrypted ? "encrypted column (not supported)" : "no column metadata");
    }
    if (cc.file_path)
        fail("data in another file (" + quote(*cc.file_path) + "): not supported");
    column_metadata const& m = *cc.meta_data;
    if (m.type != d.type)
        fail(std::string("metadata inconsistent: type ") + to_string(m.type) +
             " but the schema says " + to_string(d.type));
    if (m.path_in_schema != d.path)
        fail("metadata inconsistent: path_in_schema does not match the schema's");
    if (m.num_values < 0)
        fail("metadata inconsistent: negative num_values " + std::to_string(m.num_values));
    if (m.total_compressed_size < 0 || m.total_uncompressed_size < 0)
        fail("metadata inconsistent: negative size");
    auto const fmt_range = [](std::int64_t a, std::int64_t n) {
        return "[" + std::to_string(a) + ", " + std::to_string(a) + "+" + std::to_string(n) + ")";
    };
    chunk_range const range = f.chunk(r, c);
    if (m.num_values > 0 &&
        (m.data_page_offset < 4 || static_cast<std::uint64_t>(m.data_page_offset) >= data_end))
        fail("metadata inconsistent: data_page_offset " + std::to_string(m.data_page_offset) +
             " outside the data area [4, " + std::to_string(data_end) + ")");
    if (m.num_values == 0 && range.size == 0)
        return; // nothing to read, wherever it claims to be
    if (range.offset < 4 || range.size > data_end || range.offset > data_end - range.size)
        fail("metadata inconsistent: chunk bytes " +
             fmt_range(static_cast<std::int64_t>(range.offset),
                       static_cast<std::int64_t>(range.size)) +
             " outside the data area [4, " + std::to_string(data_end) + ")");
}

} // namespace detail

inline chunk_range footer::chunk(std::size_t row_group, std::size_t column) const
{
    column_metadata const& m = *metadata.row_groups.at(row_group).columns.at(column).meta_data;
    std::int64_t start = m.data_page_offset;
    // dictionary_page_offset 0 means none (some writers set it so); a dictionary page comes
    // before the data pages.
    // A chunk of no values may have no data page: data_page_offset 0 (parquet-testing's
    // column_chunk_key_value_metadata), and its bytes start at the dictionary page.
    if (m.dictionary_page_offset && *m.dictionary_page_offset > 0 &&
        (*m.dictionary_page_offset < start || start < 4))
        start = *m.dictionary_page_offset;
    return {static_cast<std::uint64_t>(start), static_cast<std::uint64_t>(m.total_compressed_size)};
}

/// The FileMetaData at [offset, offset + bytes.size()) of a file of `file_size` bytes, decoded and
/// checked (schema, every column chunk against the schema and the data area before it).
inline footer parse_footer(std::span<std::uint8_t const> bytes, std::uint64_t offset,
                           std::uint64_t file_size, std::string const& file = {})
{
    footer f;
    f.offset = offset;
    f.length = static_cast<std::uint32_t>(bytes.size());
    try {
        f.metadata = decode_file_metadata(bytes, offset);
    } catch (error const& e) {
        throw with_file(e, file);
    }
    f.schema = detail::build_schema(f.metadata, file, offset);
    if (f.metadata.num_rows < 0)
        throw error(file, offset, "negative num_rows " + std::to_string(f.metadata.num_rows));
    std::int64_t rows = 0;
    for (std::size_t r = 0; r < f.metadata.row_groups.size(); ++r) {
        row_group const& g = f.metadata.row_groups[r];
        if (g.columns.size() != f.schema.columns.size())
            throw error(file, offset,
                        "row group " + std::to_string(r) + " has " +
                            std::to_string(g.columns.size()) + " column chunks, the schema " +
                            std::to_string(f.schema.columns.size()) + " leaf columns");
        if (g.num_rows < 0 || g.num_rows > std::numeric_limits<std::int64_t>::max() - rows)
            throw error(file, offset,
                        "row group " + std::to_string(r) + ": bad num_rows " +
                            std::to_string(g.num_rows));
        rows += g.num_rows;
        for (std::size_t c = 0; c < g.columns.size(); ++c)
            detail::check_chunk(f, r, c, std::min(offset, file_size), file);
    }
    f.rows = rows;
    return f;
}

namespace detail {

/// Checks the magic at both ends and the footer length; returns the FileMetaData's offset.
/// `head` is the file's first 4 bytes, `tail` its last 8.
inline std::uint64_t locate_footer(std::span<std::uint8_t const> head,
                                   std::span<std::uint8_t const> tail, std::uint64_t size,
                                   std::string const& file)
{
    constexpr std::uint64_t min_size = 12; // "PAR1", length, "PAR1" (an empty footer fails later)
    if (size < min_size)
        throw error(file, 0,
                    "file of " + std::to_string(size) + " bytes is too short for Parquet (" +
                        std::to_string(min_size) + " at least)");
    auto const as_text = [](std::span<std::uint8_t const> b) {
        return std::string_view(reinterpret_cast<char const*>(b.data()), b.size());
    };
    std::string_view const end_magic = as_text(tail.subspan(4, 4));
    if (end_magic == encrypted_magic)
        throw error(file, size - 4, "encrypted footer (\"PARE\"): not supported");
    if (end_magic != magic)
        throw error(file, size - 4,
                    "bad magic " + quote(end_magic) + " at the end (want \"PAR1\")");
    if (as_text(head.first(4)) != magic)
        throw error(file, 0,
                    "bad magic " + quote(as_text(head.first(4))) + " at the start (want \"PAR1\")");
    std::uint32_t const length =
        static_cast<std::uint32_t>(tail[0]) | static_cast<std::uint32_t>(tail[1]) << 8 |
        static_cast<std::uint32_t>(tail[2]) << 16 | static_cast<std::uint32_t>(tail[3]) << 24;
    if (length > size - min_size)
        throw error(file, size - 8,
                    "footer length " + std::to_string(length) + " past the start of the file (" +
                        std::to_string(size) + " bytes)");
    return size - 8 - length;
}

} // namespace detail

/// The footer of a whole file held in memory.
inline footer read_footer(std::span<std::uint8_t const> whole, std::string const& file = {})
{
    std::uint64_t const size = whole.size();
    std::uint64_t const at =
        detail::locate_footer(whole.first(std::min<std::size_t>(4, whole.size())),
                              size >= 8 ? whole.last(8) : whole, size, file);
    return parse_footer(
        whole.subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(size - 8 - at)), at,
        size, file);
}

/// An open Parquet file and its checked footer. Move-only; closes its descriptor.
class file {
    int fd_ = -1;
    std::string path_;
    std::uint64_t size_ = 0;
    parquet::footer footer_;

    [[noreturn]] void fail_errno(std::uint64_t offset, std::string const& what) const
    {
        throw error(path_, offset, what + ": " + std::strerror(errno));
    }

public:
    explicit file(std::filesystem::path const& path) : path_(path.string())
    {
        do
            fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0)
            fail_errno(error::npos, "cannot open");
        try {
            struct stat st {};
            if (::fstat(fd_, &st) != 0)
                fail_errno(error::npos, "cannot stat");
            if (!S_ISREG(st.st_mode))
                throw error(path_, error::npos, "not a regular file");
            size_ = static_cast<std::uint64_t>(st.st_size);
            std::uint8_t head[4] = {}, tail[8] = {};
            if (size_ >= 12) {
                read_at(0, head);
                read_at(size_ - 8, tail);
            }
            std::uint64_t const at = detail::locate_footer(head, tail, size_, path_);
            std::vector<std::uint8_t> bytes = read(at, size_ - 8 - at);
            footer_ = parse_footer(bytes, at, size_, path_);
        } catch (...) {
            ::close(fd_);
            throw;
        }
    }
    file(file&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), size_(o.size_),
          footer_(std::move(o.footer_))
    {}
    file& operator=(file&& o) noexcept
    {
        if (this != &o) {
            if (fd_ >= 0)
                ::close(fd_);
            fd_ = std::exchange(o.fd_, -1);
            path_ = std::move(o.path_);
            size_ = o.size_;
            footer_ = std::move(o.footer_);
        }
        return *this;
    }
    file(file const&) = delete;
    file& operator=(file const&) = delete;
    ~file()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }

    std::string const& path() const noexcept { return path_; }
    /// The file's size in bytes when it was opened.
    std::uint64_t size() const noexcept { return size_; }
    parquet::footer const& footer() const noexcept { return footer_; }
    file_metadata const& metadata() const noexcept { return footer_.metadata; }
    schema_view const& schema() const noexcept { return footer_.schema; }
    /// The rows in its row groups (footer().rows).
    std::int64_t num_rows() const noexcept { return footer_.rows; }
    /// Row group `row_group`'s chunk of leaf column `column`.
    chunk_range chunk(std::size_t row_group, std::size_t column) const
    {
        return footer_.chunk(row_group, column);
    }

    /// Fills `out` from `offset`; a short read (the file shrank) is an error.
    void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const
    {
        if (offset > size_ || out.size() > size_ - offset)
            throw error(path_, offset,
                        "read of " + std::to_string(out.size()) +
                            " bytes past the end of the file (" + std::to_string(size_) +
                            " bytes)");
        std::size_t done = 0;
        while (done < out.size()) {
            ssize_t const n = ::pread(fd_, out.data() + done, out.size() - done,
                                      static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                fail_errno(offset + done, "pread");
            }
            if (n == 0)
                throw error(path_, offset + done, "file ended early (shrank while open?)");
            done += static_cast<std::size_t>(n);
        }
    }
    std::vector<std::uint8_t> read(std::uint64_t offset, std::uint64_t size) const
    {
        if (offset > size_ || size > size_ - offset)
            throw error(path_, offset,
                        "read of " + std::to_string(size) + " bytes past the end of the file (" +
                            std::to_string(size_) + " bytes)");
        std::vector<std::uint8_t> v(static_cast<std::size_t>(size));
        read_at(offset, v);
        return v;
    }
};

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_FILE_HPP_INCLUDED
