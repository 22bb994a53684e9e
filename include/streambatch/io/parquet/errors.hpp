// streambatch/io/parquet/errors.hpp: what the Parquet component throws, and how it says where.
//
// In:     a file name (may be empty while the bytes are not yet tied to a file), a byte offset
//         in that file (npos when none applies) and the reason.
// Out:    parquet::error (a std::runtime_error) with file(), offset() and reason(); what() reads
//         "streambatch::parquet: data.parquet: byte 4711: truncated thrift (...)", without the
//         file part when file() is empty and without the byte part when offset() is npos.
//         with_file(e, file): the same error tied to a file (the thrift decoder knows offsets,
//         the file reader knows the name).
// Models: the io family has no common error base for file errors (io/detail/errors.hpp holds the
//         SQL sources' row and batch templates), so parquet::error derives from
//         std::runtime_error, as csv::parse_error does.
// Memory: an error owns its strings.
// Errors: none thrown here.
// Example:
//     try { auto f = streambatch::parquet::open_file("t.parquet"); }
//     catch (streambatch::parquet::error const& e) { log(e.file(), e.offset(), e.reason()); }

#ifndef STREAMBATCH_IO_PARQUET_ERRORS_HPP_INCLUDED
#define STREAMBATCH_IO_PARQUET_ERRORS_HPP_INCLUDED

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace streambatch::parquet {

/// A Parquet file or buffer that cannot be read, and where: file, byte offset, what.
class error : public std::runtime_error {
    std::string file_;
    std::uint64_t offset_;
    std::string reason_;

    static std::string compose(std::string const& file, std::uint64_t offset,
                               std::string const& reason)
    {
        std::string s = "streambatch::parquet: ";
        if (!file.empty())
            s += file + ": ";
        if (offset != npos)
            s += "byte " + std::to_string(offset) + ": ";
        return s + reason;
    }

public:
    static constexpr std::uint64_t npos = static_cast<std::uint64_t>(-1);
    error(std::string file, std::uint64_t offset, std::string reason)
        : std::runtime_error(compose(file, offset, reason)), file_(std::move(file)),
          offset_(offset), reason_(std::move(reason))
    {}
    /// The file's path as given to the reader; empty for bytes not read from a file.
    std::string const& file() const noexcept { return file_; }
    /// Byte offset in the file (or buffer) where the problem is; npos when none applies.
    std::uint64_t offset() const noexcept { return offset_; }
    /// What is wrong, without the location.
    std::string const& reason() const noexcept { return reason_; }
};

/// `e` tied to `file` (when it names no file yet).
inline error with_file(error const& e, std::string const& file)
{
    return e.file().empty() ? error(file, e.offset(), e.reason()) : e;
}

} // namespace streambatch::parquet

#endif // STREAMBATCH_IO_PARQUET_ERRORS_HPP_INCLUDED
