// tests/metrics/metrics_job.cpp: the job the metrics system tests watch from outside.
//
//     metrics_job free-port
//         prints a free loopback TCP port (bound to port 0, then closed) and exits
//     metrics_job run --job NAME --records N --batch B [--partition I/N] [--push URL]
//                     [--push-every-ms MS] [--push-timeout-ms MS] [--record-dir DIR]
//                     [--record-every-ms MS]
//                     [--gate DIR --pause-at K[,K...]]
//         runs a job over the records 0..N-1 (its partition's share with --partition: views::
//         every_nth), batches of B, summing the ids. With --pause-at, before batch K is
//         processed (batches 0..K-1 done, their metrics handed on) it creates DIR/paused-K and
//         waits for DIR/go-K (at most 300 s): the test looks at the metrics while the job is
//         known to be running, without timing anything. Prints one line at the end:
//         "records=... batches=... status=... push_failures=... sum=... run_dir=...".

#include <streambatch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ranges>
#include <set>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sb = streambatch;
namespace fs = std::filesystem;

namespace {

int free_port()
{
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        std::perror("metrics_job: free-port");
        return 1;
    }
    ::close(fd);
    std::printf("%d\n", ntohs(a.sin_port));
    return 0;
}

[[noreturn]] void usage(std::string const& why)
{
    std::fprintf(stderr, "metrics_job: %s\n", why.c_str());
    std::exit(2);
}

} // namespace

int main(int argc, char** argv)
{
    if (argc >= 2 && std::string(argv[1]) == "free-port")
        return free_port();
    if (argc < 2 || std::string(argv[1]) != "run")
        usage("give free-port or run");
    sb::run_options o{.job = "metrics_job"};
    std::uint64_t records = 0;
    std::size_t batch = 0;
    fs::path gate;
    std::set<std::uint64_t> pause_at;
    sb::partition part{};
    for (int i = 2; i < argc; i += 2) {
        std::string const flag = argv[i];
        if (i + 1 >= argc)
            usage(flag + ": missing its value");
        std::string const value = argv[i + 1];
        if (flag == "--job")
            o.job = value;
        else if (flag == "--records")
            records = std::stoull(value);
        else if (flag == "--batch")
            batch = std::stoul(value);
        else if (flag == "--partition")
            part = sb::partition::parse(value);
        else if (flag == "--push")
            o.push_url = value;
        else if (flag == "--push-every-ms")
            o.push_every = std::chrono::milliseconds(std::stol(value));
        else if (flag == "--push-timeout-ms")
            o.push_timeout = std::chrono::milliseconds(std::stol(value));
        else if (flag == "--record-dir")
            o.record_dir = value;
        else if (flag == "--record-every-ms")
            o.record_every = std::chrono::milliseconds(std::stol(value));
        else if (flag == "--gate")
            gate = value;
        else if (flag == "--pause-at") {
            for (std::size_t at = 0; at < value.size();) {
                std::size_t const comma = value.find(',', at);
                pause_at.insert(std::stoull(value.substr(at, comma - at)));
                at = comma == std::string::npos ? value.size() : comma + 1;
            }
        } else
            usage("unknown flag " + flag);
    }
    if (records == 0 || batch == 0)
        usage("--records and --batch are wanted");
    if (!pause_at.empty() && gate.empty())
        usage("--pause-at wants --gate");
    if (!part.whole())
        o.set_partition(part);
    std::uint64_t sum = 0;
    try {
        auto const report = sb::for_each_batch(
            std::views::iota(std::uint64_t{0}, records) | sb::views::every_nth(part) |
                sb::views::chunk(batch),
            [&](auto& b, sb::batch_info const& info) {
                if (pause_at.count(info.index)) {
                    auto const k = std::to_string(info.index);
                    std::ofstream(gate / ("paused-" + k)) << "paused before batch " << k << "\n";
                    for (int waited = 0; !fs::exists(gate / ("go-" + k)); ++waited) {
                        if (waited == 30000)
                            throw std::runtime_error("no " + (gate / ("go-" + k)).string() +
                                                     " after 300 s");
                        std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    }
                }
                std::uint64_t s = 0;
                for (auto id : b)
                    s += id;
                return s;
            },
            [&](std::uint64_t s) { sum += s; }, o);
        std::printf("records=%llu batches=%llu status=%s push_failures=%llu sum=%llu run_dir=%s\n",
                    static_cast<unsigned long long>(report.records),
                    static_cast<unsigned long long>(report.batches),
                    std::string(sb::to_text(report.status)).c_str(),
                    static_cast<unsigned long long>(report.push_failures),
                    static_cast<unsigned long long>(sum), report.run_dir.c_str());
        return report.completed ? 0 : 1;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "metrics_job: %s\n", e.what());
        return 1;
    }
}
