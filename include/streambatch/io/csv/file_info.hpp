// streambatch/io/csv/file_info.hpp: what every row of one CSV input shares: the name used in
// messages, the header's names (and where the header stands), and, in a partition after the
// first, which partition its line numbers count from.
//
// In:     set once by the reader while it reads the header (set_columns), then shared read-only
//         by every row through a std::shared_ptr<file_info const>.
// Out:    find(name) -> the first column of that name; describe(i) -> `column 2 ("age")` for
//         messages; column_list() -> "id, name, age".
// Memory: the names, and one hash map entry per column.
// Errors: none.

#ifndef STREAMBATCH_IO_CSV_FILE_INFO_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_FILE_INFO_HPP_INCLUDED

#include <streambatch/partition.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace streambatch::csv::detail {

/// What every row of one input shares: the name in messages and the header.
class file_info {
    std::unordered_map<std::string_view, std::size_t> index_; // first column of each name

public:
    std::string name;
    std::vector<std::string> columns;
    std::uint64_t header_line = 1;
    std::uint64_t header_byte = 0;
    /// Set in a partition after the first: its rows' lines count from its first record.
    std::optional<streambatch::partition> line_partition;

    file_info() = default;
    file_info(file_info const&) = delete; // index_ points into columns
    file_info& operator=(file_info const&) = delete;

    void set_columns(std::vector<std::string> c)
    {
        columns = std::move(c);
        index_.clear();
        for (std::size_t i = 0; i < columns.size(); ++i)
            index_.emplace(columns[i], i);
    }
    std::optional<std::size_t> find(std::string_view column) const
    {
        // A short header is scanned: comparing lengths first, it costs less than hashing the
        // name (row::at(name) on every field of every row: bench/RESULTS-parallel.md).
        if (columns.size() <= 16) {
            for (std::size_t i = 0; i < columns.size(); ++i)
                if (columns[i].size() == column.size() &&
                    std::char_traits<char>::compare(columns[i].data(), column.data(),
                                                    column.size()) == 0)
                    return i;
            return std::nullopt;
        }
        auto const it = index_.find(column);
        if (it == index_.end())
            return std::nullopt;
        return it->second;
    }
    std::string column_name(std::size_t i) const
    {
        return i < columns.size() ? columns[i] : std::string();
    }
    /// `column 2 ("age")`, or `column 2` without a header.
    std::string describe(std::size_t i) const
    {
        std::string s = "column " + std::to_string(i);
        if (i < columns.size())
            s += " (\"" + columns[i] + "\")";
        return s;
    }
    std::string column_list() const
    {
        std::string s;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i != 0)
                s += ", ";
            s += columns[i];
        }
        return s;
    }
};

} // namespace streambatch::csv::detail

#endif // STREAMBATCH_IO_CSV_FILE_INFO_HPP_INCLUDED
