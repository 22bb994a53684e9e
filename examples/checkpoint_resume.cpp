// examples/checkpoint_resume.cpp: a job that crashes and picks up where it stopped, with a
// plain-file sink that still ends up holding every record exactly once. Copy it as the
// template of a job that writes files.
//
//     checkpoint_resume [--records N] [--batch N] [--crash-at-batch B] [--dir DIR]
//
// What it shows, in one run:
// 1. The job starts in a child process: it reads N records, writes one output line per record
//    to DIR/out.txt, and every 10 batches fsyncs it and writes a checkpoint to DIR/job.ckpt
//    (write_checkpoint: atomic) holding the records done and the output's size. At batch B the child
//    kills itself with SIGKILL, the way the OOM killer or a node failure would: no destructor
//    runs, nothing is flushed.
// 2. The job starts again. resume_point() reads the checkpoint (refusing one of another job or
//    input: the fingerprint), the source skips the records it holds, and - the part that
//    makes a file sink exactly-once - the output is cut back to the size it had when that
//    checkpoint was written (the checkpoint's position holds that size). Lines written after
//    the checkpoint, by batches the checkpoint does not cover, are discarded and written again.
// 3. It checks DIR/out.txt: every record exactly once, in order.
//
// A sink that cannot be cut back (an HTTP endpoint, a queue) is at-least-once instead: after a
// crash it sees again at most what followed the last checkpoint (README, "Guarantees").
//
// test-args: --records 50000 --batch 100 --crash-at-batch 237 --dir run

#include <streambatch.hpp>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ranges>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sb = streambatch;
namespace fs = std::filesystem;

namespace {

std::uint64_t number(int argc, char** argv, std::string_view name, std::uint64_t fallback)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name) {
            std::uint64_t v = 0;
            std::string_view const s = argv[i + 1];
            if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc()) {
                std::fprintf(stderr, "checkpoint_resume: %s wants a whole number, got '%s'\n", argv[i], argv[i + 1]);
                std::exit(2);
            }
            return v;
        }
    return fallback;
}

/// The job: returns the number of records this run wrote. crash_at: the batch at which to die.
std::uint64_t run_job(fs::path const& dir, std::uint64_t records, std::size_t batch, std::uint64_t crash_at)
{
    std::string const job = "checkpoint_resume";
    std::string const fingerprint = "records=" + std::to_string(records) + " batch=" + std::to_string(batch);
    fs::path const ckpt = dir / "job.ckpt", out_path = dir / "out.txt";

    sb::checkpoint const start = sb::resume_point(ckpt, job, fingerprint);
    // The checkpoint's position is the output's size when it was written: cut back to it.
    std::uint64_t out_size = 0;
    if (!start.position.empty())
        std::from_chars(start.position.data(), start.position.data() + start.position.size(), out_size);
    int const fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(out_size)) != 0 ||
        ::lseek(fd, static_cast<off_t>(out_size), SEEK_SET) < 0)
        throw std::runtime_error("cannot open or cut back " + out_path.string());
    if (start.records != 0)
        std::printf("resuming: the checkpoint covers %llu records (%llu batches); output cut back to %llu bytes\n",
                    static_cast<unsigned long long>(start.records), static_cast<unsigned long long>(start.batches),
                    static_cast<unsigned long long>(out_size));

    // The sink decides when its lines are durable, so it writes the checkpoint itself, every
    // 10 batches: fsync the output, then record how many records it holds and its size.
    sb::run_options options{.job = job, .fingerprint = fingerprint, .resume_from = start};
    std::uint64_t written = 0;
    std::string text;
    sb::for_each_batch(
        std::views::iota(start.records, records) | sb::views::chunk(batch),
        [&](auto& b, sb::batch_info const& info) {
            if (info.index == crash_at) {
                std::printf("batch %llu: crashing now (SIGKILL)\n", static_cast<unsigned long long>(info.index));
                std::fflush(stdout);
                ::kill(::getpid(), SIGKILL);
            }
            text.clear();
            for (std::uint64_t id : b)
                text += "record " + std::to_string(id) + "\n";
            if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
                throw std::runtime_error("short write to " + out_path.string());
            out_size += text.size();
            written += info.size;
            if ((info.index + 1) % 10 == 0) {
                if (::fsync(fd) != 0)
                    throw std::runtime_error("cannot fsync " + out_path.string());
                sb::write_checkpoint(ckpt, {.job = job, .fingerprint = fingerprint, .batches = info.index + 1,
                                            .records = info.first_record + info.size,
                                            .position = std::to_string(out_size)});
            }
        },
        options);
    ::fsync(fd);
    ::close(fd);
    return written;
}

} // namespace

int main(int argc, char** argv)
{
    std::uint64_t const records = number(argc, argv, "--records", 1'000'000);
    std::size_t const batch = number(argc, argv, "--batch", 1000);
    std::uint64_t const crash_at = number(argc, argv, "--crash-at-batch", records / batch / 2 + 3);
    fs::path dir = "checkpoint_resume";
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string_view(argv[i]) == "--dir")
            dir = argv[i + 1];
    try {
        fs::remove_all(dir);
        fs::create_directories(dir);

        // 1. The first run, in a child that dies at batch crash_at.
        std::fflush(stdout);
        pid_t const child = ::fork();
        if (child == 0) {
            try {
                run_job(dir, records, batch, crash_at);
            } catch (std::exception const& e) {
                std::fprintf(stderr, "checkpoint_resume (first run): %s\n", e.what());
            }
            std::_Exit(1); // not reached when the crash happens
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        bool const killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        std::printf("first run: %s; %s holds %llu bytes\n", killed ? "killed by SIGKILL" : "ended by itself",
                    (dir / "out.txt").c_str(), static_cast<unsigned long long>(fs::file_size(dir / "out.txt")));

        // 2. The second run resumes.
        std::uint64_t const rest = run_job(dir, records, batch, UINT64_MAX);
        std::printf("second run: wrote %llu records\n", static_cast<unsigned long long>(rest));

        // 3. Every record exactly once, in order.
        std::ifstream in(dir / "out.txt");
        std::uint64_t expect = 0, bad = 0;
        for (std::string line; std::getline(in, line); ++expect)
            bad += line != "record " + std::to_string(expect);
        std::printf("out.txt: %llu lines, %llu out of place; %s\n", static_cast<unsigned long long>(expect),
                    static_cast<unsigned long long>(bad),
                    killed && expect == records && bad == 0 ? "every record exactly once" : "WRONG");
        return killed && expect == records && bad == 0 ? 0 : 1;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "checkpoint_resume: %s\n", e.what());
        return 1;
    }
}
