// streambatch/runner/run_merge.hpp: the run records of N partitions of one job, added up into one
// account.
//
// In:     a directory holding one sub-directory per partition, as run_options::set_partition
//         lays them out: <dir>/part-0000-of-0004/latest/run_record.json, ... (the record of
//         that worker's latest run: for_each_batch writes it with status "running" at the
//         start and its final status at the end); the 0.2 flat layout,
//         <dir>/part-0000-of-0004/run_record.json, is read too.
// Out:    merge_run_records(dir) -> merged_run: per partition its records (those of earlier,
//         interrupted runs included: resumed_from_records + records), elapsed time, records/s,
//         peak RSS, p95 and slowest batch; in total the records, the wall time (the slowest
//         partition's), the combined records/s (records / wall time), the slowest partition and
//         the highest peak RSS of any worker; and `problems`: every partition missing, not
//         completed (its latest run failed, was stopped, was killed, or is still running), of
//         another job, or disagreeing on the count, and every pair of neighbours that do
//         not meet: partition i's last position (the run record's last_position) must begin
//         with the same field as partition i + 1's first_position (a CSV reader's byte offset:
//         csv::reader::position() before the first row and after the last), checked where the
//         later partition's last run started fresh. merged_run::complete() is true when there
//         are none. summary_markdown(m) and to_json(m) format it; write_merged(dir, m) writes
//         merged_summary.md and merged_record.json there, atomically.
// Models: pure reading and formatting; the command examples/merge_runs.cpp wraps it.
// Memory: one record per partition.
// Errors: run_merge_error naming the directory when it holds no partition's record, or the
//         file and byte offset of a run_record.json that does not parse, or the file and field
//         that is missing or not a number; write_merged: run_merge_error naming the file,
//         with errno's text. See docs/partitions.md.
// Example:
//     auto m = streambatch::merge_run_records("runs/load");   // after mpirun -np 4 ...
//     std::puts(streambatch::summary_markdown(m).c_str());
//     return m.complete() ? 0 : 1;

#ifndef STREAMBATCH_RUNNER_RUN_MERGE_HPP_INCLUDED
#define STREAMBATCH_RUNNER_RUN_MERGE_HPP_INCLUDED

#include <streambatch/detail/atomic_file.hpp>
#include <streambatch/detail/json.hpp>
#include <streambatch/detail/parse.hpp>
#include <streambatch/partition.hpp>
#include <streambatch/runner/run_report.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace streambatch {

/// The records could not be merged at all (as opposed to merged_run::problems).
class run_merge_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One partition's run record, as merge_run_records read it.
struct partition_record {
    std::filesystem::path file;
    std::string job;
    partition part{};
    run_status status = run_status::failed; ///< report.status (0.2 records: from "completed")
    bool completed = false;                 ///< status == run_status::completed
    std::string error;
    std::uint64_t records = 0;          ///< all of the partition's: earlier runs' and the last's
    std::uint64_t records_last_run = 0; ///< the last run's alone
    std::uint64_t resumed_from_records = 0; ///< what earlier runs had committed
    std::uint64_t batches = 0;
    double elapsed_s = 0;          ///< of the last run
    double records_per_second = 0; ///< of the last run
    std::uint64_t peak_rss_bytes = 0;
    double latency_p95_ms = 0;
    double latency_max_ms = 0;
    std::uint64_t guard_events = 0;
    std::uint64_t push_failures = 0; ///< of the last run (0 in records written before 0.2.1)
    std::string first_position;      ///< where the last run began (run_options::position)
    std::string last_position;       ///< where it ended
};

struct merged_run {
    std::filesystem::path dir;
    std::string job;
    std::uint32_t count = 0;             ///< partitions the job was split into
    std::vector<partition_record> parts; ///< the ones found, by index
    std::uint64_t records = 0;
    double wall_s = 0;                    ///< the slowest partition's elapsed time
    double records_per_second = 0;        ///< records / wall_s
    std::optional<std::uint32_t> slowest; ///< index of the partition with the longest run
    std::uint64_t peak_rss_bytes = 0;     ///< the highest of any worker
    std::uint64_t push_failures = 0;      ///< failed metric pushes, all partitions' last runs
    std::vector<std::string> problems;    ///< empty when every partition completed
    std::size_t boundaries_checked = 0;   ///< pairs of neighbours compared (see above)

    bool complete() const noexcept { return problems.empty(); }
};

namespace detail {

inline std::string const& member(std::map<std::string, std::string> const& m,
                                 std::string const& key, std::filesystem::path const& file)
{
    auto it = m.find(key);
    if (it == m.end())
        throw run_merge_error("streambatch::merge_run_records: " + file.string() +
                              ": no \"report." + key + "\" field");
    return it->second;
}

inline std::uint64_t member_u64(std::map<std::string, std::string> const& m, std::string const& key,
                                std::filesystem::path const& file)
{
    std::string const& v = member(m, key, file);
    auto const out = detail::parse_whole<std::uint64_t>(v);
    if (!out)
        throw run_merge_error("streambatch::merge_run_records: " + file.string() + ": \"report." +
                              key + "\" is " + v + ", not a whole number");
    return *out;
}

inline double member_double(std::map<std::string, std::string> const& m, std::string const& key,
                            std::filesystem::path const& file)
{
    std::string const& v = member(m, key, file);
    if (v == "null")
        return 0;
    try {
        std::size_t used = 0;
        double const d = std::stod(v, &used);
        if (used == v.size())
            return d;
    } catch (std::exception const&) {
    }
    throw run_merge_error("streambatch::merge_run_records: " + file.string() + ": \"report." + key +
                          "\" is " + v + ", not a number");
}

inline std::uint64_t json_array_length(std::string const& raw)
{
    // guard_events is an array of flat objects: count the objects.
    return static_cast<std::uint64_t>(std::count(raw.begin(), raw.end(), '{'));
}

inline std::string fixed(double v, int digits)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

} // namespace detail

/// Reads one run_record.json.
inline partition_record read_partition_record(std::filesystem::path const& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw run_merge_error("streambatch::merge_run_records: cannot read " + file.string());
    std::stringstream ss;
    ss << in.rdbuf();
    std::map<std::string, std::map<std::string, std::string>> sections;
    try {
        sections =
            detail::parse_sections(ss.str(), "streambatch::merge_run_records: " + file.string());
    } catch (detail::json_error const& e) {
        throw run_merge_error(e.what());
    }
    auto const& r = sections["report"];
    partition_record p;
    p.file = file;
    p.job = detail::member(r, "job", file);
    p.part.index = static_cast<std::uint32_t>(detail::member_u64(r, "partition_index", file));
    p.part.count = static_cast<std::uint32_t>(detail::member_u64(r, "partition_count", file));
    if (auto it = r.find("status"); it != r.end()) {
        auto const s = run_status_from_text(it->second);
        if (!s)
            throw run_merge_error("streambatch::merge_run_records: " + file.string() +
                                  ": \"report.status\" is \"" + it->second +
                                  "\", not running, completed, failed, stopped or killed");
        p.status = *s;
    } else { // a 0.2 record: written at the end only
        p.status = detail::member(r, "completed", file) == "true" ? run_status::completed
                                                                  : run_status::failed;
    }
    p.completed = p.status == run_status::completed;
    p.error = detail::member(r, "error", file);
    p.records_last_run = detail::member_u64(r, "records", file);
    p.resumed_from_records = detail::member_u64(r, "resumed_from_records", file);
    p.records = p.records_last_run + p.resumed_from_records;
    p.batches = detail::member_u64(r, "batches", file) +
                detail::member_u64(r, "resumed_from_batches", file);
    p.elapsed_s = detail::member_double(r, "elapsed_s", file);
    p.records_per_second = detail::member_double(r, "records_per_second", file);
    p.peak_rss_bytes = detail::member_u64(r, "peak_rss_bytes", file);
    p.latency_p95_ms = detail::member_double(r, "latency_p95_ms", file);
    p.latency_max_ms = detail::member_double(r, "latency_max_ms", file);
    p.guard_events = detail::json_array_length(detail::member(r, "guard_events", file));
    if (r.count("push_failures") != 0)
        p.push_failures = detail::member_u64(r, "push_failures", file);
    if (auto it = r.find("first_position"); it != r.end())
        p.first_position = it->second;
    p.last_position = detail::member(r, "last_position", file);
    return p;
}

/// Reads <dir>/part-*/latest/run_record.json (or the 0.2 <dir>/part-*/run_record.json) and adds
/// them up (see the top of this header).
inline merged_run merge_run_records(std::filesystem::path const& dir)
{
    namespace fs = std::filesystem;
    merged_run m;
    m.dir = dir;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw run_merge_error("streambatch::merge_run_records: " + dir.string() +
                              " is not a directory");
    std::vector<std::pair<std::string, fs::path>> files; // partition directory, its record
    for (auto const& e : fs::directory_iterator(dir)) {
        auto const name = e.path().filename().string();
        if (!e.is_directory() || name.rfind("part-", 0) != 0)
            continue;
        if (fs::exists(e.path() / "latest" / "run_record.json", ec))
            files.emplace_back(name, e.path() / "latest" / "run_record.json");
        else if (fs::exists(e.path() / "run_record.json", ec)) // the 0.2 layout
            files.emplace_back(name, e.path() / "run_record.json");
        else
            m.problems.push_back(name +
                                 " has no latest/run_record.json (its worker never started a run)");
    }
    if (files.empty())
        throw run_merge_error("streambatch::merge_run_records: " + dir.string() +
                              " holds no part-*/latest/run_record.json: was the job run with "
                              "run_options::set_partition and a record_dir?");
    std::sort(files.begin(), files.end());
    std::map<std::uint32_t, partition_record> by_index;
    for (auto const& [dir_name, f] : files) {
        partition_record p = read_partition_record(f);
        if (m.job.empty())
            m.job = p.job;
        else if (p.job != m.job)
            m.problems.push_back(dir_name + " is a run of job \"" + p.job + "\", not \"" + m.job +
                                 "\"");
        if (m.count == 0)
            m.count = p.part.count;
        else if (p.part.count != m.count)
            m.problems.push_back(dir_name + " says the job has " + std::to_string(p.part.count) +
                                 " partitions; " + files.front().first + " says " +
                                 std::to_string(m.count));
        if (dir_name != p.part.name())
            m.problems.push_back(dir_name + " holds the record of partition " + p.part.str());
        if (by_index.count(p.part.index) != 0) {
            m.problems.push_back("partition " + p.part.str() + " has two records: " +
                                 by_index[p.part.index].file.string() + " and " + f.string());
            continue;
        }
        by_index.emplace(p.part.index, std::move(p));
    }
    std::string missing;
    for (std::uint32_t i = 0; i < m.count; ++i)
        if (by_index.count(i) == 0)
            missing += (missing.empty() ? "" : ", ") + std::to_string(i);
    if (!missing.empty())
        m.problems.push_back("no run record for partition(s) " + missing + " of " +
                             std::to_string(m.count));
    for (auto& [i, p] : by_index) {
        if (!p.completed)
            m.problems.push_back(
                "partition " + p.part.str() + " did not complete (its latest run " +
                (p.status == run_status::running ? std::string("still says running: it runs, or "
                                                               "was killed and not yet noticed")
                                                 : "was " + std::string(to_text(p.status))) +
                ")" + (p.error.empty() ? std::string() : ": " + p.error));
        m.records += p.records;
        if (!m.slowest || p.elapsed_s > m.wall_s) {
            m.wall_s = p.elapsed_s;
            m.slowest = p.part.index;
        }
        m.peak_rss_bytes = std::max(m.peak_rss_bytes, p.peak_rss_bytes);
        m.push_failures += p.push_failures;
        m.parts.push_back(std::move(p));
    }
    m.records_per_second = m.wall_s > 0 ? double(m.records) / m.wall_s : 0;
    // Where partitions meet: a partition ends where the next begins. Positions are the
    // source's own strings; their first field is compared (a CSV job's "byte line rows
    // skipped": the byte offset; a keyset job's last key does not apply and is not written
    // first). Checked for each pair whose later partition's last run started fresh (a resumed
    // run begins at its checkpoint, not at the partition's start).
    auto first_field = [](std::string const& s) { return s.substr(0, s.find(' ')); };
    for (std::size_t k = 0; k + 1 < m.parts.size(); ++k) {
        auto const& a = m.parts[k];
        auto const& b = m.parts[k + 1];
        if (b.part.index != a.part.index + 1 || !a.completed || !b.completed ||
            b.resumed_from_records != 0 || a.last_position.empty() || b.first_position.empty())
            continue;
        ++m.boundaries_checked;
        if (first_field(a.last_position) != first_field(b.first_position))
            m.problems.push_back("partition " + a.part.str() + " ended at \"" + a.last_position +
                                 "\" but " + b.part.str() + " began at \"" + b.first_position +
                                 "\": records between them were read twice or not at all");
    }
    return m;
}

/// The merged account as Markdown: a verdict, the totals, a table per partition, the problems.
inline std::string summary_markdown(merged_run const& m)
{
    using detail::fixed;
    std::string s = "# " + m.job + ": " + std::to_string(m.parts.size()) + " of " +
                    std::to_string(m.count) + " partitions, " +
                    (m.complete() ? "all completed" : "INCOMPLETE") + "\n\n";
    s += "| figure | value |\n|---|---|\n";
    s += "| records | " + std::to_string(m.records) + " |\n";
    s += "| wall time (slowest partition) | " + fixed(m.wall_s, 3) + " s |\n";
    s += "| records/s (all workers) | " + fixed(m.records_per_second, 0) + " |\n";
    if (m.slowest)
        s += "| slowest partition | " + std::to_string(*m.slowest) + " |\n";
    s += "| highest peak RSS of a worker | " + fixed(double(m.peak_rss_bytes) / (1 << 20), 1) +
         " MiB |\n";
    if (m.push_failures != 0)
        s += "| metric pushes that failed | " + std::to_string(m.push_failures) + " |\n";
    s += "| neighbours checked to meet | " + std::to_string(m.boundaries_checked) + " of " +
         std::to_string(m.count > 0 ? m.count - 1 : 0) + " |\n";
    s += "\n## Partitions\n\n| partition | status | records | of which earlier runs | batches | "
         "last run "
         "| records/s | peak RSS | p95 batch | slowest batch | guard events |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (auto const& p : m.parts)
        s += "| " + p.part.str() + " | " +
             (p.completed ? std::string("completed")
                          : "**" + std::string(to_text(p.status)) + "**") +
             " | " + std::to_string(p.records) + " | " + std::to_string(p.resumed_from_records) +
             " | " + std::to_string(p.batches) + " | " + fixed(p.elapsed_s, 3) + " s | " +
             fixed(p.records_per_second, 0) + " | " +
             fixed(double(p.peak_rss_bytes) / (1 << 20), 1) + " MiB | " +
             fixed(p.latency_p95_ms, 2) + " ms | " + fixed(p.latency_max_ms, 2) + " ms | " +
             std::to_string(p.guard_events) + " |\n";
    if (!m.problems.empty()) {
        s += "\n## Problems\n\n";
        for (auto const& p : m.problems)
            s += "- " + p + "\n";
    }
    return s;
}

/// The merged account as JSON: {"job", "count", "complete", totals, "partitions": [...],
/// "problems"}.
inline std::string to_json(merged_run const& m)
{
    using detail::json_number;
    using detail::json_quote;
    std::string j =
        "{\n  \"job\": " + json_quote(m.job) +
        ",\n  \"partitions_expected\": " + std::to_string(m.count) +
        ",\n  \"partitions_found\": " + std::to_string(m.parts.size()) +
        ",\n  \"complete\": " + (m.complete() ? "true" : "false") +
        ",\n  \"records\": " + std::to_string(m.records) +
        ",\n  \"wall_s\": " + json_number(m.wall_s) +
        ",\n  \"records_per_second\": " + json_number(m.records_per_second) +
        ",\n  \"slowest_partition\": " + (m.slowest ? std::to_string(*m.slowest) : "null") +
        ",\n  \"peak_rss_bytes\": " + std::to_string(m.peak_rss_bytes) +
        ",\n  \"push_failures\": " + std::to_string(m.push_failures) +
        ",\n  \"boundaries_checked\": " + std::to_string(m.boundaries_checked) +
        ",\n  \"partitions\": [";
    for (std::size_t i = 0; i < m.parts.size(); ++i) {
        auto const& p = m.parts[i];
        j += std::string(i ? "," : "") + "\n    {\"index\": " + std::to_string(p.part.index) +
             ", \"status\": " + json_quote(to_text(p.status)) +
             ", \"completed\": " + (p.completed ? "true" : "false") +
             ", \"records\": " + std::to_string(p.records) +
             ", \"resumed_from_records\": " + std::to_string(p.resumed_from_records) +
             ", \"batches\": " + std::to_string(p.batches) +
             ", \"elapsed_s\": " + json_number(p.elapsed_s) +
             ", \"records_per_second\": " + json_number(p.records_per_second) +
             ", \"peak_rss_bytes\": " + std::to_string(p.peak_rss_bytes) +
             ", \"latency_p95_ms\": " + json_number(p.latency_p95_ms) +
             ", \"latency_max_ms\": " + json_number(p.latency_max_ms) +
             ", \"guard_events\": " + std::to_string(p.guard_events) +
             ", \"push_failures\": " + std::to_string(p.push_failures) +
             ", \"first_position\": " + json_quote(p.first_position) +
             ", \"last_position\": " + json_quote(p.last_position) +
             ", \"error\": " + json_quote(p.error) + "}";
    }
    j += m.parts.empty() ? "],\n  \"problems\": [" : "\n  ],\n  \"problems\": [";
    for (std::size_t i = 0; i < m.problems.size(); ++i)
        j += std::string(i ? ", " : "") + json_quote(m.problems[i]);
    j += "]\n}\n";
    return j;
}

/// Writes merged_summary.md and merged_record.json into `dir`, atomically; run_merge_error
/// naming the file when one cannot be written.
inline void write_merged(std::filesystem::path const& dir, merged_run const& m)
{
    auto write = [](std::filesystem::path const& p, std::string const& text) {
        try {
            detail::write_file_atomically(p, text);
        } catch (atomic_file_error const& e) {
            throw run_merge_error("streambatch::write_merged: " + p.string() + ": " + e.reason());
        }
    };
    write(dir / "merged_summary.md", summary_markdown(m));
    write(dir / "merged_record.json", to_json(m));
}

} // namespace streambatch

#endif // STREAMBATCH_RUNNER_RUN_MERGE_HPP_INCLUDED
