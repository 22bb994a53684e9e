// bench/bench_identity.cpp: what the file identity of a resumable CSV job costs
// (io/detail/file_identity.hpp, csv::file_source).
//
// Question answered: (a) reading a whole CSV file through csv::reader, how much slower is it with
// the identity tracker asked for the identity once per 1000 rows (as a job does once per batch),
// in full mode (hashes the bytes consumed since the last call) and in sampled mode (reads 128 KiB
// per call)? (b) what does the resume check cost, in full mode (re-hashes the consumed part) and
// sampled mode (a fixed 256 KiB), with the file in the page cache and cold?
// Figures: seconds and MB/s per run, medians with min-max over --reps runs (the modes alternate
// plain, full, sampled, plain, ... so drift in the machine's load hits all alike), and the
// ratio tracker / plain per rep. Cold: the file's pages are evicted with
// posix_fadvise(POSIX_FADV_DONTNEED) (this file only, so the other processes' caches stay), and
// mincore says how much of it was still resident when the check started.
//
//     bench_identity [--size-mb N (1024)] [--reps R (5)] [--dir D (/tmp)] [--markdown OUT.md]
//
// The file is generated in a fresh directory under D and deleted at the end.

#include <streambatch/io/csv.hpp>
#include <streambatch/io/detail/file_identity.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace csv = streambatch::csv;
namespace io = streambatch::io;

namespace {

double now_s()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// This process's CPU time (user + system), in seconds: less disturbed than wall time when
/// the machine is shared.
double cpu_s()
{
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto const sec = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

struct stats {
    double median, min, max;
};
stats summarise(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    std::size_t const n = v.size();
    double const med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return {med, v.front(), v.back()};
}
std::string fmt(double x, int prec = 3)
{
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, x);
    return b;
}
std::string fmt_stats(stats s, int prec = 3)
{
    return fmt(s.median, prec) + " (" + fmt(s.min, prec) + "-" + fmt(s.max, prec) + ")";
}

/// A CSV of about `bytes` bytes: "id,name,amount,note", ~70 bytes a row.
void generate(std::filesystem::path const& path, std::uint64_t bytes)
{
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr)
        throw std::runtime_error("cannot write " + path.string());
    std::string buf = "id,name,amount,note\n";
    std::uint64_t written = 0;
    char line[160];
    for (std::uint64_t i = 0; written + buf.size() < bytes; ++i) {
        int const n = std::snprintf(line, sizeof line, "%llu,customer %llu,%llu.%02llu,%s\n",
                                    static_cast<unsigned long long>(i),
                                    static_cast<unsigned long long>(i * 2654435761u % 1000003),
                                    static_cast<unsigned long long>(i * 7 % 100000),
                                    static_cast<unsigned long long>(i % 100),
                                    i % 10 == 0 ? "\"quoted, with a comma\"" : "plain note text");
        buf.append(line, static_cast<std::size_t>(n));
        if (buf.size() >= (1u << 20)) {
            std::fwrite(buf.data(), 1, buf.size(), f);
            written += buf.size();
            buf.clear();
        }
    }
    std::fwrite(buf.data(), 1, buf.size(), f);
    std::fflush(f);
    ::fsync(::fileno(f)); // clean pages, so that fadvise(DONTNEED) can evict them
    std::fclose(f);
}

/// Fraction of the file's pages resident in the page cache (mincore).
double resident(std::filesystem::path const& path)
{
    int const fd = ::open(path.c_str(), O_RDONLY);
    struct stat st {};
    ::fstat(fd, &st);
    std::size_t const len = static_cast<std::size_t>(st.st_size);
    void* m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    long const page = ::sysconf(_SC_PAGESIZE);
    std::size_t const pages =
        (len + static_cast<std::size_t>(page) - 1) / static_cast<std::size_t>(page);
    std::vector<unsigned char> vec(pages);
    ::mincore(m, len, vec.data());
    std::size_t in = 0;
    for (unsigned char c : vec)
        in += c & 1;
    ::munmap(m, len);
    ::close(fd);
    return pages ? static_cast<double>(in) / static_cast<double>(pages) : 0;
}

void evict(std::filesystem::path const& path)
{
    int const fd = ::open(path.c_str(), O_RDONLY);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
}

enum class mode { plain, full, sampled };

/// One way of reading: with or without a tracker, and how many rows between identities.
struct config {
    mode m;
    std::uint64_t every;
    std::string label() const
    {
        if (m == mode::plain)
            return "plain (no tracker)";
        return std::string(m == mode::full ? "tracker, full" : "tracker, sampled") +
               ": identity every " + std::to_string(every) + " rows";
    }
};

struct read_result {
    double seconds;
    double cpu_seconds;
    std::uint64_t rows;
    std::uint64_t field_bytes; ///< the loop's work, printed so that it is kept
    std::string identity;      ///< at the end (full / sampled)
};

/// Reads the whole file; with a tracker, asks for the identity every 1000 rows and at the end.
read_result read_all(std::filesystem::path const& path, config c)
{
    mode const m = c.m;
    double const t0 = now_s(), c0 = cpu_s();
    csv::reader r(path);
    std::optional<io::file_identity_tracker> tracker;
    if (m != mode::plain)
        tracker.emplace(path, path.string(),
                        io::identity_options{.mode = m == mode::full ? io::identity_mode::full
                                                                     : io::identity_mode::sampled});
    std::uint64_t rows = 0, bytes = 0;
    std::string id;
    for (csv::row& row : r) {
        bytes += row.size();
        if (++rows % c.every == 0 && tracker)
            id = tracker->identity_at(r.position().byte_offset).to_text();
    }
    if (tracker)
        id = tracker->identity_at(r.position().byte_offset).to_text();
    double const t = now_s() - t0, cpu_t = cpu_s() - c0;
    return {t, cpu_t, rows, bytes, id};
}

/// One resume check of `stored` against the file (open, head, tail, consumed part).
double check_once(std::filesystem::path const& path, std::string const& stored, io::identity_mode m)
{
    double const t0 = now_s();
    io::file_identity_tracker t(path, path.string(), {.mode = m});
    t.check(io::file_identity::from_text(stored));
    return now_s() - t0;
}

} // namespace

int main(int argc, char** argv)
{
    std::uint64_t size_mb = 1024;
    int reps = 5;
    std::filesystem::path parent = "/tmp", markdown;
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        auto const next = [&]() -> std::string {
            if (i + 1 >= argc)
                throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--size-mb")
            size_mb = std::stoull(next());
        else if (a == "--reps")
            reps = std::stoi(next());
        else if (a == "--dir")
            parent = next();
        else if (a == "--markdown")
            markdown = next();
        else {
            std::cerr << "usage: bench_identity [--size-mb N] [--reps R] [--dir D] [--markdown "
                         "OUT.md]\n";
            return 2;
        }
    }
    std::string tmpl = (parent / "streambatch-bench-identity-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    std::filesystem::path const dir = tmpl, path = dir / "data.csv";
    struct cleanup {
        std::filesystem::path d;
        ~cleanup()
        {
            std::error_code ec;
            std::filesystem::remove_all(d, ec);
        }
    } const remove_dir{dir};

    double const g0 = now_s();
    generate(path, size_mb << 20);
    std::uint64_t const file_bytes = std::filesystem::file_size(path);
    std::cerr << "generated " << file_bytes << " bytes in " << fmt(now_s() - g0, 1) << " s\n";
    double const mb = static_cast<double>(file_bytes) / 1e6;

    // (a) reading, with and without the tracker; one warm-up read first. The configurations
    // alternate within each rep.
    std::vector<config> const configs = {{mode::plain, 1000},
                                         {mode::full, 1000},
                                         {mode::sampled, 1000},
                                         {mode::full, 10000},
                                         {mode::sampled, 10000}};
    read_all(path, configs[0]);
    std::vector<std::vector<double>> secs(configs.size()), ratio(configs.size()),
        cpu(configs.size()), cpu_ratio(configs.size());
    std::string id_full, id_sampled;
    std::uint64_t rows = 0;
    for (int rep = 0; rep < reps; ++rep) {
        double plain = 0, plain_cpu = 0;
        for (std::size_t k = 0; k < configs.size(); ++k) {
            read_result const r = read_all(path, configs[k]);
            secs[k].push_back(r.seconds);
            cpu[k].push_back(r.cpu_seconds);
            if (k == 0)
                plain = r.seconds, plain_cpu = r.cpu_seconds;
            ratio[k].push_back(r.seconds / plain);
            cpu_ratio[k].push_back(r.cpu_seconds / plain_cpu);
            rows = r.rows;
            if (configs[k].m == mode::full)
                id_full = r.identity;
            if (configs[k].m == mode::sampled)
                id_sampled = r.identity;
            std::cerr << "rep " << rep << " " << configs[k].label() << ": " << fmt(r.seconds)
                      << " s (cpu " << fmt(r.cpu_seconds) << " s), " << r.rows << " rows, "
                      << r.field_bytes << " field bytes\n";
        }
    }

    // (b) the resume check at the end of the file (the whole file consumed: the worst case).
    std::vector<double> warm_full, warm_sampled, cold_full, cold_sampled, cold_resident;
    for (int rep = 0; rep < reps; ++rep) {
        check_once(path, id_full, io::identity_mode::full); // in cache
        warm_full.push_back(check_once(path, id_full, io::identity_mode::full));
        warm_sampled.push_back(check_once(path, id_sampled, io::identity_mode::sampled));
        evict(path);
        cold_resident.push_back(resident(path));
        cold_full.push_back(check_once(path, id_full, io::identity_mode::full));
        evict(path);
        cold_resident.push_back(resident(path));
        cold_sampled.push_back(check_once(path, id_sampled, io::identity_mode::sampled));
    }

    std::ostringstream md;
    md << "| read of the whole file through csv::reader | wall s, median (min-max) | MB/s | "
          "wall / plain, per rep | CPU s, median (min-max) | CPU / plain, per rep "
          "|\n|---|---|---|---|---|---|\n";
    for (std::size_t k = 0; k < configs.size(); ++k) {
        stats const s = summarise(secs[k]);
        md << "| " << configs[k].label() << " | " << fmt_stats(s) << " | " << fmt(mb / s.median, 0)
           << " | " << (k == 0 ? std::string("1") : fmt_stats(summarise(ratio[k]))) << " | "
           << fmt_stats(summarise(cpu[k])) << " | "
           << (k == 0 ? std::string("1") : fmt_stats(summarise(cpu_ratio[k]))) << " |\n";
    }
    md << "\n";
    md << "| resume check, whole file consumed | seconds, median (min-max) |\n|---|---|\n";
    md << "| full, in page cache | " << fmt_stats(summarise(warm_full), 4) << " |\n";
    md << "| sampled, in page cache | " << fmt_stats(summarise(warm_sampled), 6) << " |\n";
    md << "| full, cold (fadvise DONTNEED) | " << fmt_stats(summarise(cold_full), 4) << " |\n";
    md << "| sampled, cold (fadvise DONTNEED) | " << fmt_stats(summarise(cold_sampled), 6)
       << " |\n";
    stats const res = summarise(cold_resident);
    md << "\nFile: " << file_bytes << " bytes, " << rows << " rows; " << reps
       << " reps; resident before a cold check: " << fmt(100 * res.max, 2)
       << "% at most. Full check in cache: " << fmt(mb / summarise(warm_full).median, 0)
       << " MB/s; cold: " << fmt(mb / summarise(cold_full).median, 0) << " MB/s.\n";
    std::cout << md.str();
    if (!markdown.empty())
        std::ofstream(markdown) << md.str();
    std::cout << "resume check measured\n";
    return 0;
}
