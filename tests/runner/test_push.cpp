// Metrics pushed to a Pushgateway (run_options::push_url, runner/detail/push.hpp), against a fake
// HTTP server in this file: one that records requests and answers 200, one that answers 500,
// one that never answers, and a port nobody listens on.
#include <streambatch/runner/detail/push.hpp>
#include <streambatch/runner/for_each_batch.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace sb = streambatch;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace std::chrono_literals;

namespace {

struct request {
    std::string method, path, headers, body;
};

/// A one-thread HTTP server on a loopback port of its own: answers each request with `status`
/// (and `reply`), or holds the first `hang` connections (-1: all) open without a word.
class fake_gateway {
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<request> requests_;
    std::vector<int> held_;
    int accepted_ = 0;
    int status_ = 200;
    std::string reply_ = "";
    int hang_ = 0;
    std::thread thread_;

    static std::string read_request(int c)
    {
        std::string in;
        char buf[4096];
        std::size_t want = std::string::npos;
        while (want == std::string::npos || in.size() < want) {
            ssize_t const n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            in.append(buf, static_cast<std::size_t>(n));
            if (auto const e = in.find("\r\n\r\n");
                e != std::string::npos && want == std::string::npos) {
                auto const cl = in.find("Content-Length: ");
                want = e + 4 + (cl < e ? std::stoul(in.substr(cl + 16)) : 0);
            }
        }
        return in;
    }

    void loop()
    {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0)
                continue;
            int const c = ::accept(fd_, nullptr, nullptr);
            if (c < 0)
                continue;
            std::unique_lock lock(mutex_);
            ++accepted_;
            if (hang_ < 0 || int(held_.size()) < hang_) {
                held_.push_back(c);
                continue;
            }
            int const status = status_;
            std::string const reply = reply_;
            lock.unlock();
            std::string const in = read_request(c);
            request r;
            auto const line_end = in.find("\r\n");
            auto const head_end = in.find("\r\n\r\n");
            std::istringstream line(in.substr(0, line_end));
            line >> r.method >> r.path;
            if (head_end != std::string::npos) {
                r.headers = in.substr(line_end + 2, head_end - line_end - 2);
                r.body = in.substr(head_end + 4);
            }
            std::string const out =
                "HTTP/1.1 " + std::to_string(status) +
                (status == 200 ? " OK" : " Internal Server Error") +
                "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(reply.size()) +
                "\r\nConnection: close\r\n\r\n" + reply;
            lock.lock(); // recorded before the answer: a client that saw it finds it here
            requests_.push_back(std::move(r));
            lock.unlock();
            (void)!::send(c, out.data(), out.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }

public:
    explicit fake_gateway(int status = 200, std::string reply = "", int hang = 0)
        : status_(status), reply_(std::move(reply)), hang_(hang)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(fd_, 64) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("fake_gateway: cannot listen on 127.0.0.1");
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~fake_gateway()
    {
        stop_ = true;
        thread_.join();
        for (int c : held_)
            ::close(c);
        ::close(fd_);
    }
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void answer(int status, std::string reply)
    {
        std::lock_guard lock(mutex_);
        status_ = status;
        reply_ = std::move(reply);
    }
    std::vector<request> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    int accepted() const
    {
        std::lock_guard lock(mutex_);
        return accepted_;
    }
    /// Whether held connection `i` is still open at the client's end.
    bool held_open(std::size_t i) const
    {
        std::lock_guard lock(mutex_);
        if (i >= held_.size())
            return false;
        pollfd p{held_[i], POLLRDHUP, 0};
        ::poll(&p, 1, 0);
        return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0;
    }
};

/// Waits (at most 20 s: a bound on a hang, not a timing) until `done` says so.
template <class F>
bool eventually(F done)
{
    for (int i = 0; i < 2000; ++i) {
        if (done())
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return done();
}

/// A loopback port nobody listens on (bound, then closed).
int closed_port()
{
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string slurp(fs::path const& p)
{
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// The value of the first sample line starting with `series` ("name" or "name{...}").
double sample(std::string const& text, std::string const& series)
{
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.compare(0, series.size() + 1, series + " ") == 0)
            return std::stod(line.substr(series.size() + 1));
    throw std::runtime_error("no sample " + series + " in:\n" + text);
}

/// Everything written to stderr (fd 2) while it lives.
class stderr_capture {
    test::temp_dir dir_;
    int saved_ = -1;
    std::string text_;

public:
    stderr_capture()
    {
        std::fflush(stderr);
        saved_ = ::dup(2);
        std::FILE* f = std::fopen((dir_ / "stderr").c_str(), "w");
        ::dup2(::fileno(f), 2);
        std::fclose(f);
    }
    std::string const& text()
    {
        if (saved_ >= 0) {
            std::fflush(stderr);
            ::dup2(saved_, 2);
            ::close(saved_);
            saved_ = -1;
            text_ = slurp(dir_ / "stderr");
        }
        return text_;
    }
    ~stderr_capture() { text(); }
};

std::size_t count_of(std::string const& text, std::string const& what)
{
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

} // namespace

TEST_CASE("push: parse_push_url takes http://host:port[/prefix] apart", "[push]")
{
    auto const a = sb::detail::parse_push_url("http://127.0.0.1:9091");
    CHECK(a.host == "127.0.0.1");
    CHECK(a.port == "9091");
    CHECK(a.host_header == "127.0.0.1:9091");
    CHECK(a.prefix.empty());
    auto const b = sb::detail::parse_push_url("http://[::1]:9091/gw/");
    CHECK(b.host == "::1");
    CHECK(b.host_header == "[::1]:9091");
    CHECK(b.prefix == "/gw");
    auto const c = sb::detail::parse_push_url("http://gateway.example");
    CHECK(c.host == "gateway.example");
    CHECK(c.port == "80");

    auto refused = [](char const* url, char const* why) {
        CHECK_THROWS_WITH(
            sb::detail::parse_push_url(url),
            StartsWith(std::string("streambatch: run_options::push_url \"") + url + "\": ") &&
                Contains(why));
    };
    refused("https://127.0.0.1:9091", "wants http://host:port");
    refused("127.0.0.1:9091", "wants http://host:port");
    refused("http://:9091", "no host");
    refused("http://127.0.0.1:0", "the port \"0\" is not a number from 1 to 65535");
    refused("http://127.0.0.1:70000", "the port \"70000\"");
    refused("http://127.0.0.1:90x", "the port \"90x\"");
    refused("http://[::1:9091", "closing ']'");
    refused("http://user:secret@127.0.0.1:9091", "credentials");
    refused("http://127.0.0.1:9091/?x=1", "a query");
}

TEST_CASE("push: the group's path follows the Pushgateway's escaping rules", "[push]")
{
    using sb::detail::push_group_path;
    using sb::detail::push_label_segment;
    CHECK(push_label_segment("job", "nightly") == "job/nightly");
    CHECK(push_label_segment("job", "streambatch job") == "job/streambatch%20job");
    CHECK(push_label_segment("job", "load:customers%") == "job/load%3Acustomers%25");
    CHECK(push_label_segment("job", "a/b c") == "job@base64/YS9iIGM="); // RFC 4648 base64url
    CHECK(push_label_segment("job", "/?>") == "job@base64/Lz8-");       // '-' for '+'
    CHECK(push_label_segment("job", "?\?/") == "job@base64/Pz8v");
    CHECK(push_label_segment("job", "") == "job@base64/=");
    CHECK(sb::detail::base64url("ab") == "YWI=");
    CHECK(sb::detail::base64url("a") == "YQ==");
    CHECK(push_group_path("nightly", {}) == "/metrics/job/nightly");
    CHECK(push_group_path("nightly", {3, 8}) == "/metrics/job/nightly/partition/3/partitions/8");
}

TEST_CASE("push: http_put sends one PUT with the text and reads the status", "[push]")
{
    fake_gateway gw;
    auto const at = sb::detail::parse_push_url(gw.url());
    std::string const body = "# TYPE x gauge\nx 1\n";
    auto const r =
        sb::detail::http_put(at, "/metrics/job/t", body, std::chrono::steady_clock::now() + 10s);
    INFO(r.describe());
    CHECK(r.ok());
    CHECK(r.status == 200);
    REQUIRE(eventually([&] { return gw.requests().size() == 1; }));
    auto const q = gw.requests()[0];
    CHECK(q.method == "PUT");
    CHECK(q.path == "/metrics/job/t");
    CHECK_THAT(q.headers, Contains("Content-Type: text/plain; version=0.0.4"));
    CHECK_THAT(q.headers, Contains("Content-Length: " + std::to_string(body.size())));
    CHECK_THAT(q.headers, Contains("Host: 127.0.0.1:" + std::to_string(gw.port())));
    CHECK(q.body == body);
}

TEST_CASE("push: http_put reports a 500 with the reply's first line", "[push]")
{
    fake_gateway gw(500, "pushed metrics are invalid: x\nmore\n");
    auto const r = sb::detail::http_put(sb::detail::parse_push_url(gw.url()), "/metrics/job/t",
                                        "x 1\n", std::chrono::steady_clock::now() + 10s);
    CHECK_FALSE(r.ok());
    CHECK(r.status == 500);
    CHECK(r.describe() == "HTTP 500: pushed metrics are invalid: x");
}

TEST_CASE("push: http_put gives up on a server that never answers, at the deadline", "[push]")
{
    fake_gateway gw(200, "", -1);
    auto const r = sb::detail::http_put(sb::detail::parse_push_url(gw.url()), "/metrics/job/t",
                                        "x 1\n", std::chrono::steady_clock::now() + 200ms);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.cancelled);
    CHECK_THAT(r.describe(), StartsWith("reply from 127.0.0.1:" + std::to_string(gw.port()) +
                                        ": no answer within ") &&
                                 Contains(" ms"));
    CHECK(gw.accepted() == 1);
    CHECK_FALSE(gw.held_open(0)); // closed at the deadline
}

TEST_CASE("push: http_put says when nobody listens, or the name does not resolve", "[push]")
{
    int const port = closed_port();
    auto const r =
        sb::detail::http_put(sb::detail::parse_push_url("http://127.0.0.1:" + std::to_string(port)),
                             "/metrics/job/t", "x 1\n", std::chrono::steady_clock::now() + 5s);
    CHECK_FALSE(r.ok());
    CHECK(r.describe() ==
          "cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
    auto const n =
        sb::detail::http_put(sb::detail::parse_push_url("http://no-such-host.invalid:9091"),
                             "/metrics/job/t", "x 1\n", std::chrono::steady_clock::now() + 5s);
    CHECK_FALSE(n.ok());
    CHECK_THAT(n.describe(), StartsWith("cannot resolve no-such-host.invalid: "));
}

TEST_CASE("push: http_put over IPv6 loopback", "[push]")
{
    int const fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 4) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        WARN("no IPv6 loopback here: not tested");
        if (fd >= 0)
            ::close(fd);
        return;
    }
    std::thread server([fd] {
        int const c = ::accept(fd, nullptr, nullptr);
        char buf[4096];
        std::string in;
        while (in.find("x 1\n") == std::string::npos) {
            ssize_t const n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            in.append(buf, static_cast<std::size_t>(n));
        }
        std::string const out = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        (void)!::send(c, out.data(), out.size(), MSG_NOSIGNAL);
        ::close(c);
    });
    auto const r = sb::detail::http_put(
        sb::detail::parse_push_url("http://[::1]:" + std::to_string(ntohs(a.sin6_port))),
        "/metrics/job/t", "x 1\n", std::chrono::steady_clock::now() + 10s);
    server.join();
    ::close(fd);
    INFO(r.describe());
    CHECK(r.ok());
}

TEST_CASE("push: a push under way is abandoned when its cancel fd is written", "[push]")
{
    fake_gateway gw(200, "", -1);
    int p[2];
    REQUIRE(::pipe(p) == 0);
    std::thread canceller([&] {
        eventually([&] { return gw.accepted() == 1; });
        (void)!::write(p[1], "x", 1);
    });
    auto const r = sb::detail::http_put(sb::detail::parse_push_url(gw.url()), "/metrics/job/t",
                                        "x 1\n", std::chrono::steady_clock::now() + 60s, p[0]);
    canceller.join();
    ::close(p[0]);
    ::close(p[1]);
    CHECK(r.cancelled);
    CHECK_FALSE(r.ok());
}

TEST_CASE("push: metrics_pusher warns once per outage, and says when it recovers", "[push]")
{
    fake_gateway gw(500, "no space left\n");
    std::mutex m;
    std::vector<std::string> said;
    sb::detail::metrics_pusher pusher(gw.url(), "nightly load", {1, 2}, 0ms, 5s,
                                      [&](std::string const& s) {
                                          std::lock_guard lock(m);
                                          said.push_back(s);
                                      });
    CHECK(pusher.path() == "/metrics/job/nightly%20load/partition/1/partitions/2");
    pusher.submit("x 1\n", std::chrono::steady_clock::now());
    REQUIRE(eventually([&] { return pusher.failures() == 1; }));
    pusher.submit("x 2\n", std::chrono::steady_clock::now());
    REQUIRE(eventually([&] { return pusher.failures() == 2; }));
    gw.answer(200, "");
    pusher.submit("x 3\n", std::chrono::steady_clock::now());
    REQUIRE(eventually([&] { return pusher.pushed() == 1; }));
    CHECK(pusher.finish("x 4\n") == 2);
    CHECK(pusher.pushed() == 2);
    auto const q = gw.requests();
    REQUIRE(q.size() == 4);
    CHECK(q[0].body == "x 1\n");
    CHECK(q[3].body == "x 4\n");
    CHECK(q[3].path == "/metrics/job/nightly%20load/partition/1/partitions/2");
    std::lock_guard lock(m);
    REQUIRE(said.size() == 2);
    CHECK(said[0] == "streambatch: warning: cannot push metrics to " + gw.url() +
                         "/metrics/job/nightly%20load/partition/1/partitions/2: HTTP 500: no "
                         "space left; the job goes on (failed pushes are counted in "
                         "streambatch_push_failures_total; no further warning until a push "
                         "succeeds)");
    CHECK(said[1] == "streambatch: metrics pushed to " + gw.url() +
                         "/metrics/job/nightly%20load/partition/1/partitions/2 again, after 2 "
                         "failed push(es)");
}

TEST_CASE("push: for_each_batch pushes at the start, while it runs and at the end", "[push]")
{
    fake_gateway gw;
    test::temp_dir dir;
    std::vector<int> v(1000);
    std::iota(v.begin(), v.end(), 0);
    sb::run_options o{.job = "push test", .record_dir = dir / "runs", .record_every = 0ms};
    o.push_url = gw.url();
    o.push_every = 0ms;
    o.set_partition({1, 4});
    std::vector<std::size_t> seen_by_batch; // requests the server had answered, per batch
    auto const report = sb::for_each_batch(
        v | sb::views::chunk(100), [](auto& b) { return b.size(); },
        [&](std::size_t, sb::batch_info const& i) {
            // each batch waits for a push that carries the batch before it: pushes happen
            // while the job runs, not only at the end
            std::string const want = "streambatch_records " + std::to_string(i.first_record);
            CHECK(eventually([&] {
                auto const q = gw.requests();
                return std::any_of(q.begin(), q.end(), [&](request const& r) {
                    return r.body.find(want + "\n") != std::string::npos;
                });
            }));
        },
        o);
    REQUIRE(report.completed);
    CHECK(report.records == 1000);
    CHECK(report.push_failures == 0);
    auto const q = gw.requests();
    REQUIRE(q.size() >= 2);
    for (auto const& r : q) {
        CHECK(r.path == "/metrics/job/push%20test/partition/1/partitions/4");
        CHECK(r.method == "PUT");
        CHECK_THAT(r.body, !Contains("job=")); // the group's path carries the labels
    }
    CHECK(sample(q.front().body, "streambatch_records") == 0);
    CHECK(sample(q.front().body, "streambatch_run_status{status=\"running\"}") == 1);
    CHECK(sample(q.back().body, "streambatch_records") == 1000);
    CHECK(sample(q.back().body, "streambatch_batches") == 10);
    CHECK(sample(q.back().body, "streambatch_run_status{status=\"completed\"}") == 1);
    CHECK(sample(q.back().body, "streambatch_push_failures_total") == 0);
    // the files say the same, with the labels
    std::string const prom = slurp(report.run_dir / "metrics.prom");
    CHECK(sample(prom, "streambatch_push_failures_total{job=\"push test\",partition=\"1\","
                       "partitions=\"4\"}") == 0);
    CHECK(sample(prom, "streambatch_records{job=\"push test\",partition=\"1\",partitions=\"4\"}") ==
          1000);
    std::string const record = slurp(report.run_dir / "run_record.json");
    CHECK_THAT(record, Contains("\"push_failures\": 0,"));
    CHECK_THAT(record, Contains("\"push_url\": \"" + gw.url() + "\""));
    CHECK_THAT(slurp(report.run_dir / "execution_summary.md"),
               Contains("| metric pushes failed (" + gw.url() + ") | 0 |"));
}

TEST_CASE("push: a hung gateway does not hold the job, the last push goes out", "[push]")
{
    // The first connection is held without an answer for the whole job (push_timeout 60 s):
    // every batch completes while that push is under way. At the end the hung push is
    // abandoned and the final figures are pushed (the server answers the later connections).
    fake_gateway gw(200, "", 1);
    std::vector<int> v(500);
    std::iota(v.begin(), v.end(), 0);
    sb::run_options o{.job = "hang"};
    o.push_url = gw.url();
    o.push_every = 0ms;
    o.push_timeout = 60s;
    bool hung_push_still_open = false;
    auto const report = sb::for_each_batch(
        v | sb::views::chunk(50),
        [&](auto& b) {
            if (b.front() == 0)
                CHECK(eventually([&] { return gw.accepted() == 1; })); // the start's push
            return b.size();
        },
        [&](std::size_t, sb::batch_info const& i) {
            if (i.index == 9)
                hung_push_still_open = gw.held_open(0);
        },
        o);
    CHECK(hung_push_still_open);
    REQUIRE(report.completed);
    CHECK(report.records == 500);
    CHECK(report.push_failures == 0); // the abandoned push is not a failure: it was superseded
    auto const q = gw.requests();
    REQUIRE(q.size() == 1);
    CHECK(sample(q[0].body, "streambatch_records") == 500);
    CHECK(sample(q[0].body, "streambatch_run_status{status=\"completed\"}") == 1);
    CHECK_FALSE(gw.held_open(0));
}

TEST_CASE("push: a gateway that never answers: failures counted, one warning", "[push]")
{
    fake_gateway gw(200, "", -1);
    test::temp_dir dir;
    std::vector<int> v(2000);
    std::iota(v.begin(), v.end(), 0);
    sb::run_options o{.job = "silent", .record_dir = dir / "runs"};
    o.push_url = gw.url();
    o.push_every = 0ms;
    o.push_timeout = 50ms;
    sb::run_report report;
    std::string err;
    {
        stderr_capture capture;
        report = sb::for_each_batch(
            v | sb::views::chunk(100),
            [&](auto& b) {
                if (b.front() == 1000) // half-way: wait until a push has failed
                    CHECK(eventually([&] { return gw.accepted() >= 2; }));
                return b.size();
            },
            [](std::size_t) {}, o);
        err = capture.text();
    }
    REQUIRE(report.completed);
    CHECK(report.records == 2000);
    CHECK(report.push_failures >= 2); // one during the run at least, and the final one
    CHECK(count_of(err, "streambatch: warning: cannot push metrics to " + gw.url() +
                            "/metrics/job/silent: reply from 127.0.0.1:" +
                            std::to_string(gw.port()) + ": no answer within ") == 1);
    std::string const record = slurp(report.run_dir / "run_record.json");
    CHECK_THAT(record,
               Contains("\"push_failures\": " + std::to_string(report.push_failures) + ","));
    CHECK(sample(slurp(report.run_dir / "metrics.prom"),
                 "streambatch_push_failures_total{job=\"silent\"}") ==
          double(report.push_failures));
}

TEST_CASE("push: nobody listening: the job completes, a bad URL is refused", "[push]")
{
    std::vector<int> v(300);
    sb::run_options o{.job = "down"};
    o.push_url = "http://127.0.0.1:" + std::to_string(closed_port());
    o.push_every = 0ms;
    sb::run_report report;
    {
        stderr_capture capture;
        report = sb::for_each_batch(
            v | sb::views::chunk(100), [](auto& b) { return b.size(); }, [](std::size_t) {}, o);
        CHECK(count_of(capture.text(), "Connection refused") == 1);
    }
    CHECK(report.completed);
    CHECK(report.records == 300);
    CHECK(report.push_failures >= 1);

    test::temp_dir dir;
    o.push_url = "https://gw:9091";
    o.record_dir = dir / "runs";
    CHECK_THROWS_WITH(sb::for_each_batch(
                          v | sb::views::chunk(100), [](auto&) {}, o),
                      StartsWith("streambatch: run_options::push_url \"https://gw:9091\": "));
    CHECK_FALSE(fs::exists(dir / "runs")); // refused before a run directory is made
}
