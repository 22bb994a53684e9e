// bench/bench_partitions.cpp: does splitting a job into partitions scale, and does each worker
// stay as small as one worker alone?
//
// Question answered: a CPU-bound job over one CSV (parse each row, then a few passes of FNV-1a
// over its bytes), run by 1 worker over the whole file and by 2 workers at once, each over its
// partition (csv::options::partition, the variables mpirun sets), on this machine's 2 cores.
// Figures: records/s of the whole job (records / wall time from the first start to the last
// exit, process start-up included), the ratio 2 workers / 1 worker (target >= 1.8), and the
// peak RSS of each worker (wait4's ru_maxrss) against the single worker's. Runs alternate
// (1, 2, 1, 2, ...) so drift in the machine's load hits both alike; medians with min-max.
//
//     bench_partitions [--rows N] [--reps R] [--work PASSES] [--csv FILE] [--markdown OUT.md]
//     bench_partitions --worker CSV PASSES     (what the driver starts: one worker, partition
//                                               from the environment, or whole when unset)
//
// The workers are started with fork/exec and OMPI_COMM_WORLD_RANK/SIZE set, as mpirun would set
// them; mpirun itself is left out so that its own start-up (about 0.1 s) does not count.

#include <streambatch.hpp>
#include <streambatch/io/csv.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sb = streambatch;
namespace csv = streambatch::csv;

namespace {

/// The CPU-bound step: a few passes of FNV-1a over the row's fields.
std::uint64_t work(csv::row const& r, int passes)
{
    std::uint64_t h = 1469598103934665603ull ^ r.get<std::uint64_t>(0);
    for (int pass = 0; pass < passes; ++pass)
        for (std::string_view f : r)
            for (unsigned char c : f)
                h = (h ^ c) * 1099511628211ull;
    return h;
}

int worker(char const* path, int passes)
{
    sb::partition part{};
    if (std::getenv("OMPI_COMM_WORLD_RANK") != nullptr)
        part = sb::partition_from_environment();
    csv::reader rows(path, {.partition = part});
    std::uint64_t sum = 0, n = 0;
    sb::run_options o{.job = "bench_partitions"};
    auto const report = sb::for_each_batch(
        std::ranges::ref_view(rows) | sb::views::memory_guarded(1000),
        [&](auto& batch) {
            for (csv::row const& r : batch)
                sum += work(r, passes);
            n += batch.size();
        },
        o);
    std::printf("partition %s: %llu records, %.0f records/s, checksum %llu\n", part.str().c_str(),
                static_cast<unsigned long long>(n), report.records_per_second,
                static_cast<unsigned long long>(sum));
    return 0;
}

void generate(std::filesystem::path const& path, std::uint64_t rows)
{
    csv::writer w(path);
    w.write_row({"id", "name", "note", "amount"});
    std::uint64_t x = 88172645463325252ull;
    std::string note;
    for (std::uint64_t i = 0; i < rows; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        note.assign(100 + x % 200, static_cast<char>('a' + x % 26));
        if (x % 7 == 0)
            note +=
                "\nsecond line, \"quoted\""; // quoted line breaks: split points fall inside them
        w.write(std::to_string(i), "customer " + std::to_string(x % 100000), note,
                std::to_string(x % 100000) + "." + std::to_string(x % 100));
    }
}

struct run_result {
    double seconds = 0;
    std::vector<long> max_rss_kib; // per worker
    bool ok = true;
};

run_result run_workers(std::string const& self, std::string const& csv_path, int passes, int count)
{
    run_result r;
    auto const t0 = std::chrono::steady_clock::now();
    std::vector<pid_t> pids;
    std::string const passes_s = std::to_string(passes);
    for (int i = 0; i < count; ++i) {
        pid_t const pid = ::fork();
        if (pid == 0) {
            if (count > 1) {
                ::setenv("OMPI_COMM_WORLD_RANK", std::to_string(i).c_str(), 1);
                ::setenv("OMPI_COMM_WORLD_SIZE", std::to_string(count).c_str(), 1);
            }
            if (!std::freopen("/dev/null", "w", stdout))
                std::_Exit(126);
            ::execl(self.c_str(), self.c_str(), "--worker", csv_path.c_str(), passes_s.c_str(),
                    nullptr);
            std::_Exit(127);
        }
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int status = 0;
        rusage ru{};
        ::wait4(pid, &status, 0, &ru);
        r.ok = r.ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        r.max_rss_kib.push_back(ru.ru_maxrss);
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
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

std::string arg(int argc, char** argv, char const* name, std::string fallback)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return fallback;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        if (argc == 4 && std::strcmp(argv[1], "--worker") == 0)
            return worker(argv[2], std::atoi(argv[3]));

        std::uint64_t const rows = std::stoull(arg(argc, argv, "--rows", "400000"));
        int const reps = std::stoi(arg(argc, argv, "--reps", "5"));
        int const passes = std::stoi(arg(argc, argv, "--work", "8"));
        std::string const out_md = arg(argc, argv, "--markdown", "");
        std::filesystem::path csv_path = arg(argc, argv, "--csv", "");
        bool const own_csv = csv_path.empty();
        if (own_csv)
            csv_path = std::filesystem::temp_directory_path() /
                       ("bench_partitions_" + std::to_string(::getpid()) + ".csv");
        if (!std::filesystem::exists(csv_path))
            generate(csv_path, rows);
        std::string const self = std::filesystem::canonical("/proc/self/exe").string();

        std::vector<double> one, two;
        std::vector<double> rss_one, rss_two;
        for (int rep = 0; rep < reps; ++rep) {
            for (int count : {1, 2}) {
                run_result const r = run_workers(self, csv_path.string(), passes, count);
                if (!r.ok)
                    throw std::runtime_error("a worker failed (run it alone: " + self +
                                             " --worker " + csv_path.string() + " " +
                                             std::to_string(passes) + ")");
                (count == 1 ? one : two).push_back(double(rows) / r.seconds);
                for (long k : r.max_rss_kib)
                    (count == 1 ? rss_one : rss_two).push_back(double(k));
            }
        }
        if (own_csv)
            std::filesystem::remove(csv_path);
        stats const s1 = summarise(one), s2 = summarise(two);
        std::vector<double> ratios;
        for (std::size_t i = 0; i < one.size(); ++i)
            ratios.push_back(two[i] / one[i]);
        stats const sr = summarise(ratios), m1 = summarise(rss_one), m2 = summarise(rss_two);
        char buf[2048];
        std::snprintf(
            buf, sizeof buf,
            "| workers | records/s, median (min-max) | peak RSS per worker, median (min-max) |\n"
            "|---|---|---|\n"
            "| 1 (whole file) | %.0f (%.0f-%.0f) | %.1f MiB (%.1f-%.1f) |\n"
            "| 2 (partitions 0/2, 1/2 at once) | %.0f (%.0f-%.0f) | %.1f MiB (%.1f-%.1f) |\n\n"
            "2 workers / 1 worker: **%.2fx** (pairs of runs side by side: %.2f-%.2f), target >= "
            "1.8x; "
            "%d reps, %llu rows, %d passes of FNV-1a per row; %u cores.\n",
            s1.median, s1.min, s1.max, m1.median / 1024, m1.min / 1024, m1.max / 1024, s2.median,
            s2.min, s2.max, m2.median / 1024, m2.min / 1024, m2.max / 1024, s2.median / s1.median,
            sr.min, sr.max, reps, static_cast<unsigned long long>(rows), passes,
            std::thread::hardware_concurrency());
        std::fputs(buf, stdout);
        if (!out_md.empty())
            std::ofstream(out_md) << "## Partitions: 2 workers against 1\n\n" << buf;
        return 0;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "bench_partitions: %s\n", e.what());
        return 1;
    }
}
