// streambatch/runner/checkpoint.hpp: where a job got to, written so a crash never leaves half a
// file.
//
// In:     a streambatch::checkpoint {job, fingerprint, batches, records, position} and a path.
// Out:    write_checkpoint(path, c): atomically (detail/atomic_file.hpp: a temp file beside it,
//         fsync, rename over the old one, fsync of the directory), so after a crash the file
//         holds the old checkpoint or the new one, never a mix. read_checkpoint(path): the
//         checkpoint, or nullopt when there is none. resume_point(path, job, fingerprint): where a
//         run of that job should start (zero when there is no checkpoint); a checkpoint of another
//         job or another fingerprint (other input or configuration) is refused unless `force`.
// Models: `batches` and `records` count what was completed contiguously from the start (in a
//         parallel run: the low-water mark, never the highest finished batch); `position` is the
//         source's own resume point after those records (CSV: byte offset and line; SQL: the last
//         key; empty: skip `records` records).
// Memory: the strings of one checkpoint.
// Errors: checkpoint_error naming the file (and byte offset for a malformed file, or the field
//         and both values for a mismatch); system errors carry errno's text (a failed write
//         is the atomic writer's atomic_file_error, rewrapped). See docs/runner.md.
// Example:
//     auto start = streambatch::resume_point("job.ckpt", "load customers", fingerprint);
//     auto rows = source | std::views::drop(start.records);   // or open the file at start.position
//     ... streambatch::write_checkpoint("job.ckpt", {.job = "load customers", ...});

#ifndef STREAMBATCH_RUNNER_CHECKPOINT_HPP_INCLUDED
#define STREAMBATCH_RUNNER_CHECKPOINT_HPP_INCLUDED

#include <streambatch/detail/atomic_file.hpp>
#include <streambatch/detail/json.hpp>
#include <streambatch/detail/parse.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace streambatch {

/// A checkpoint file could not be written, read, or does not match this run.
class checkpoint_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct checkpoint {
    std::string job{};         ///< the job's name
    std::string fingerprint{}; ///< of the input and the configuration that matter
    std::uint64_t batches = 0; ///< batches completed contiguously from the start
    std::uint64_t records = 0; ///< records in those batches
    std::string position{};    ///< the source's resume point after them ("" = skip `records`)
    std::int64_t written_unix_ms = 0;
};

namespace detail {

[[noreturn]] inline void checkpoint_system_error(std::string const& what,
                                                 std::filesystem::path const& p)
{
    throw checkpoint_error("streambatch: checkpoint " + p.string() + ": " + what + ": " +
                           std::strerror(errno));
}

inline std::string to_json(checkpoint const& c)
{
    return "{\"version\": 1, \"job\": " + json_quote(c.job) +
           ", \"fingerprint\": " + json_quote(c.fingerprint) +
           ", \"batches\": " + std::to_string(c.batches) +
           ", \"records\": " + std::to_string(c.records) +
           ", \"position\": " + json_quote(c.position) +
           ", \"written_unix_ms\": " + std::to_string(c.written_unix_ms) + "}\n";
}

inline std::uint64_t checkpoint_u64(std::map<std::string, std::string> const& m, char const* key,
                                    std::filesystem::path const& p)
{
    auto it = m.find(key);
    if (it == m.end())
        throw checkpoint_error("streambatch: checkpoint " + p.string() + ": missing member \"" +
                               key + "\"");
    auto const& s = it->second;
    auto const v = parse_whole<std::uint64_t>(s);
    if (!v)
        throw checkpoint_error("streambatch: checkpoint " + p.string() + ": member \"" + key +
                               "\" must be a whole number, found '" + s + "'");
    return *v;
}

} // namespace detail

/// Writes `c` to `path` atomically (see the header comment). Stamps written_unix_ms.
inline void write_checkpoint(std::filesystem::path const& path, checkpoint c)
{
    c.written_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    try {
        detail::write_file_atomically(path, detail::to_json(c));
    } catch (atomic_file_error const& e) {
        throw checkpoint_error("streambatch: checkpoint " + path.string() + ": " + e.reason());
    }
}

/// The checkpoint in `path`, or nullopt when the file does not exist.
inline std::optional<checkpoint> read_checkpoint(std::filesystem::path const& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec))
            return std::nullopt;
        detail::checkpoint_system_error("cannot open", path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::map<std::string, std::string> m;
    try {
        m = detail::parse_flat_object(ss.str(), "streambatch: checkpoint " + path.string());
    } catch (detail::json_error const& e) {
        throw checkpoint_error(e.what());
    }
    if (detail::checkpoint_u64(m, "version", path) != 1)
        throw checkpoint_error("streambatch: checkpoint " + path.string() + ": unknown version " +
                               m["version"]);
    checkpoint c;
    auto text = [&](char const* key) {
        auto it = m.find(key);
        if (it == m.end())
            throw checkpoint_error("streambatch: checkpoint " + path.string() +
                                   ": missing member \"" + key + "\"");
        return it->second;
    };
    c.job = text("job");
    c.fingerprint = text("fingerprint");
    c.position = text("position");
    c.batches = detail::checkpoint_u64(m, "batches", path);
    c.records = detail::checkpoint_u64(m, "records", path);
    c.written_unix_ms =
        static_cast<std::int64_t>(detail::checkpoint_u64(m, "written_unix_ms", path));
    return c;
}

/// Where a run of `job` with `fingerprint` starts: the checkpoint in `path`, or zero.
/// A checkpoint of another job or fingerprint is refused (checkpoint_error) unless `force`.
inline checkpoint resume_point(std::filesystem::path const& path, std::string const& job,
                               std::string const& fingerprint, bool force = false)
{
    auto c = read_checkpoint(path);
    if (!c)
        return checkpoint{job, fingerprint, 0, 0, {}, 0};
    auto refuse = [&](char const* field, std::string const& saved, std::string const& now) {
        throw checkpoint_error(
            "streambatch: checkpoint " + path.string() + " was written by a run with " + field +
            " '" + saved + "', this run has '" + now +
            "': refusing to resume (the input or the configuration changed); delete the "
            "checkpoint to start over, or force the resume");
    };
    if (!force && c->job != job)
        refuse("job", c->job, job);
    if (!force && c->fingerprint != fingerprint)
        refuse("fingerprint", c->fingerprint, fingerprint);
    c->job = job;
    c->fingerprint = fingerprint;
    return *c;
}

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_CHECKPOINT_HPP_INCLUDED
