// streambatch/runner/detail/push.hpp: the runner's metrics pushed to a Prometheus Pushgateway
// while a job runs (run_options::push_url), over a plain HTTP/1.1 PUT on a POSIX socket: no
// dependency.
//
// parse_push_url("http://host:port[/prefix]") (IPv4, [IPv6] or a name; port 80 when absent);
// push_group_path(job, partition): "/metrics/job/<job>[/partition/<i>/partitions/<n>]", each
// value percent-encoded, or in the Pushgateway's "<label>@base64/<base64url>" form when it holds
// a '/' or is empty; http_put(): one PUT, Content-Type text/plain; version=0.0.4, the whole
// exchange (name lookup aside: getaddrinfo has no timeout) bounded by a deadline, cancellable
// through a file descriptor. metrics_pusher: a thread of its own that pushes the newest text
// submitted (older ones waiting are dropped), counts failed pushes, and warns once per outage
// (stderr); finish() lets a push under way end (at most 1 s), then pushes the final text after
// it and waits at most push_timeout (+100 ms) for that.
// See docs/runner.md (metrics).

#ifndef STREAMBATCH_RUNNER_DETAIL_PUSH_HPP_INCLUDED
#define STREAMBATCH_RUNNER_DETAIL_PUSH_HPP_INCLUDED

#include <streambatch/partition.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace streambatch::detail {

/// Where a push goes: push_url taken apart.
struct push_endpoint {
    std::string url;         ///< as given (for messages)
    std::string host;        ///< "127.0.0.1", "::1" (no brackets), "gateway.example"
    std::string port;        ///< "9091"; "80" when the URL has none
    std::string host_header; ///< "127.0.0.1:9091", "[::1]:9091"
    std::string prefix;      ///< the URL's path without a trailing '/' ("" or "/gw")
};

/// "http://host[:port][/prefix]" taken apart; std::invalid_argument naming the URL and what is
/// wrong (another scheme, credentials, a query, no host, a port that is not 1..65535).
inline push_endpoint parse_push_url(std::string_view url)
{
    auto fail = [&](std::string const& why) -> push_endpoint {
        throw std::invalid_argument("streambatch: run_options::push_url \"" + std::string(url) +
                                    "\": " + why);
    };
    push_endpoint e;
    e.url = std::string(url);
    constexpr std::string_view scheme = "http://";
    if (url.substr(0, scheme.size()) != scheme)
        return fail("wants http://host:port (https and other schemes are not supported: put a "
                    "TLS proxy in front of the Pushgateway)");
    std::string_view rest = url.substr(scheme.size());
    std::size_t const slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos)
        return fail("credentials in the URL are not supported");
    if (path.find_first_of("?#") != std::string_view::npos)
        return fail("a query or fragment is not supported");
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto const close = authority.find(']');
        if (close == std::string_view::npos)
            return fail("an IPv6 address wants a closing ']'");
        e.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return fail("expected ':port' after ']'");
            port = after.substr(1);
        }
    } else {
        auto const colon = authority.rfind(':');
        e.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos)
            port = authority.substr(colon + 1);
    }
    if (e.host.empty())
        return fail("no host");
    if (port.empty())
        port = "80";
    unsigned long n = 0;
    for (char c : port) {
        if (c < '0' || c > '9' || n > 65535)
            return fail("the port \"" + std::string(port) + "\" is not a number from 1 to 65535");
        n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    if (n == 0 || n > 65535)
        return fail("the port \"" + std::string(port) + "\" is not a number from 1 to 65535");
    e.port = std::to_string(n);
    bool const v6 = e.host.find(':') != std::string::npos;
    e.host_header = (v6 ? "[" + e.host + "]" : e.host) + ":" + e.port;
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    e.prefix = std::string(path);
    return e;
}

/// RFC 4648 section 5 (URL- and filename-safe alphabet), padded.
inline std::string base64url(std::string_view in)
{
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        auto const v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i]) << 16 |
                                                  static_cast<unsigned char>(in[i + 1]) << 8 |
                                                  static_cast<unsigned char>(in[i + 2]));
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += alphabet[v >> 6 & 63];
        out += alphabet[v & 63];
    }
    if (std::size_t const left = in.size() - i; left != 0) {
        std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i]) << 16);
        if (left == 2)
            v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1]) << 8);
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += left == 2 ? alphabet[v >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

/// One label of a grouping key as a path part: "job/nightly%20load", or
/// "job@base64/<base64url>" when the value holds a '/' or is empty (the Pushgateway's rules).
inline std::string push_label_segment(std::string_view name, std::string_view value)
{
    if (value.empty() || value.find('/') != std::string_view::npos)
        return std::string(name) + "@base64/" + (value.empty() ? "=" : base64url(value));
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out(name);
    out += '/';
    for (char c : value) {
        auto const u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            out += c;
        else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

/// The group a run pushes to: its job, and for one partition of several the same labels as
/// metrics.prom (partition="3", partitions="8"), so both ways of collecting give one series.
inline std::string push_group_path(std::string_view job, partition p)
{
    std::string path = "/metrics/" + push_label_segment("job", job);
    if (!p.whole())
        path += "/" + push_label_segment("partition", std::to_string(p.index)) + "/" +
                push_label_segment("partitions", std::to_string(p.count));
    return path;
}

/// How one exchange went.
struct http_result {
    int status = 0;         ///< the status line's code (0: none read)
    std::string error;      ///< what went wrong before a status line was read ("" if one was)
    std::string body;       ///< the reply's body (at most 64 KiB)
    bool cancelled = false; ///< cancel_fd became readable: abandoned, not a failure
    bool ok() const noexcept { return error.empty() && !cancelled && status / 100 == 2; }
    /// "HTTP 500: <the body's first line>", or the error.
    std::string describe() const
    {
        if (!error.empty())
            return error;
        std::string line = body.substr(0, body.find('\n'));
        if (line.size() > 200)
            line = line.substr(0, 200) + "...";
        return "HTTP " + std::to_string(status) + (line.empty() ? "" : ": " + line);
    }
};

namespace push_io {
struct fd_closer {
    int fd = -1;
    ~fd_closer()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

/// Waits for `events` on `fd` until `deadline` (or cancel_fd readable). 1: ready, 0: timed out,
/// -1: cancelled, -2: poll failed.
inline int wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline,
                    int cancel_fd)
{
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return 0;
        pollfd fds[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
        int const n = ::poll(fds, cancel_fd >= 0 ? 2 : 1,
                             static_cast<int>(std::min<long long>(left.count() + 1, 60'000)));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -2;
        if (cancel_fd >= 0 && (fds[1].revents & POLLIN))
            return -1;
        if (n > 0 && fds[0].revents != 0)
            return 1;
    }
}
} // namespace push_io

/// One PUT of `body` to `path` at `at`, all of it (connecting to each address the name has,
/// sending, reading the reply) before `deadline`; abandoned (cancelled) when `cancel_fd` (-1:
/// none) becomes readable. Never throws for the network's sake.
inline http_result http_put(push_endpoint const& at, std::string const& path, std::string_view body,
                            std::chrono::steady_clock::time_point deadline, int cancel_fd = -1)
{
    using clock = std::chrono::steady_clock;
    http_result res;
    auto const started = clock::now();
    auto timed_out = [&](char const* what) {
        res.error =
            std::string(what) + " " + at.host_header + ": no answer within " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started).count()) +
            " ms";
        return res;
    };
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    addrinfo* found = nullptr;
    if (int const rc = ::getaddrinfo(at.host.c_str(), at.port.c_str(), &hints, &found); rc != 0) {
        res.error = "cannot resolve " + at.host + ": " +
                    (rc == EAI_SYSTEM ? std::string(std::strerror(errno)) : ::gai_strerror(rc));
        return res;
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
    push_io::fd_closer sock;
    std::string connect_error = "no address";
    for (addrinfo* a = found; a != nullptr && sock.fd < 0; a = a->ai_next) {
        int const fd =
            ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            connect_error = std::strerror(errno);
            continue;
        }
        push_io::fd_closer candidate{fd};
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                connect_error = std::strerror(errno);
                continue;
            }
            int const w = push_io::wait_for(fd, POLLOUT, deadline, cancel_fd);
            if (w == -1) {
                res.cancelled = true;
                return res;
            }
            if (w == 0)
                return timed_out("connect to");
            int err = 0;
            socklen_t len = sizeof err;
            if (w < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                connect_error = std::strerror(err != 0 ? err : errno);
                continue;
            }
        }
        sock.fd = std::exchange(candidate.fd, -1);
    }
    if (sock.fd < 0) {
        res.error = "cannot connect to " + at.host_header + ": " + connect_error;
        return res;
    }
    std::string request = "PUT " + at.prefix + path + " HTTP/1.1\r\nHost: " + at.host_header +
                          "\r\nUser-Agent: streambatch\r\n"
                          "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                          "Content-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    request.append(body);
    std::string_view left = request;
    while (!left.empty()) {
        ssize_t const n = ::send(sock.fd, left.data(), left.size(), MSG_NOSIGNAL);
        if (n > 0) {
            left.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int const w = push_io::wait_for(sock.fd, POLLOUT, deadline, cancel_fd);
            if (w == -1) {
                res.cancelled = true;
                return res;
            }
            if (w == 0)
                return timed_out("send to");
            continue;
        }
        res.error = "send to " + at.host_header + ": " + std::strerror(errno);
        return res;
    }
    // The reply: until the server closes (Connection: close), the body is complete, or 64 KiB.
    std::string reply;
    std::size_t header_end = std::string::npos, content_length = std::string::npos;
    char buf[4096];
    for (;;) {
        if (header_end != std::string::npos && content_length != std::string::npos &&
            reply.size() >= header_end + content_length)
            break;
        if (reply.size() >= 65536)
            break;
        int const w = push_io::wait_for(sock.fd, POLLIN, deadline, cancel_fd);
        if (w == -1) {
            res.cancelled = true;
            return res;
        }
        if (w == 0) {
            if (header_end == std::string::npos)
                return timed_out("reply from");
            break; // the status is in: enough
        }
        ssize_t const n = ::recv(sock.fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0) {
            if (header_end != std::string::npos)
                break;
            res.error = "reply from " + at.host_header + ": " + std::strerror(errno);
            return res;
        }
        if (n == 0)
            break;
        reply.append(buf, static_cast<std::size_t>(n));
        if (header_end == std::string::npos) {
            if (auto const e = reply.find("\r\n\r\n"); e != std::string::npos) {
                header_end = e + 4;
                std::string lower = reply.substr(0, e);
                std::transform(lower.begin(), lower.end(), lower.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                if (auto const cl = lower.find("\r\ncontent-length:"); cl != std::string::npos)
                    content_length = std::strtoul(lower.c_str() + cl + 17, nullptr, 10);
            }
        }
    }
    // "HTTP/1.1 200 OK"
    if (reply.compare(0, 5, "HTTP/") != 0 || reply.find(' ') == std::string::npos) {
        res.error =
            "reply from " + at.host_header + ": no HTTP status line" +
            (reply.empty()
                 ? std::string(" (the connection was closed)")
                 : ": \"" + reply.substr(0, std::min<std::size_t>(reply.find('\r'), 80)) + "\"");
        return res;
    }
    std::size_t const sp = reply.find(' ');
    res.status = std::atoi(reply.c_str() + sp + 1);
    if (res.status < 100 || res.status > 599) {
        res.error = "reply from " + at.host_header + ": a bad status line: \"" +
                    reply.substr(0, std::min<std::size_t>(reply.find('\r'), 80)) + "\"";
        res.status = 0;
        return res;
    }
    if (header_end != std::string::npos)
        res.body = reply.substr(header_end);
    return res;
}

/// Pushes the newest metrics text submitted, on a thread of its own, to one group of a
/// Pushgateway; see the header comment. submit() never waits on the network.
class metrics_pusher {
public:
    using warn_fn = std::function<void(std::string const&)>;

    /// The warning's default: stderr, on a line of its own (clearing a progress line).
    static void warn_on_stderr(std::string const& text)
    {
        std::fprintf(stderr, "%s%s\n", ::isatty(2) ? "\r\033[K" : "", text.c_str());
        std::fflush(stderr);
    }

private:
    struct state {
        push_endpoint at;
        std::string path;
        std::chrono::milliseconds timeout{1000};
        warn_fn warn;
        std::mutex mutex;
        std::condition_variable cv;
        std::optional<std::string> pending;
        bool stop = false, busy = false, done = false, outage = false;
        bool final_taken = false; // the thread has taken finish()'s text
        std::uint64_t pushed = 0, failures = 0, failures_in_outage = 0;
        int cancel[2] = {-1, -1}; // a pipe: a byte in it abandons the push under way
        ~state()
        {
            for (int fd : cancel)
                if (fd >= 0)
                    ::close(fd);
        }
        void drain_cancel()
        {
            char b[64];
            while (::read(cancel[0], b, sizeof b) > 0) {
            }
        }
    };
    std::shared_ptr<state> s_;
    std::thread thread_;
    std::chrono::milliseconds every_;
    std::chrono::steady_clock::time_point last_submit_{};

    static void loop(std::shared_ptr<state> s)
    {
        std::unique_lock lock(s->mutex);
        for (;;) {
            s->cv.wait(lock, [&] { return s->stop || s->pending.has_value(); });
            if (!s->pending)
                break;
            std::string text = std::move(*s->pending);
            s->pending.reset();
            s->final_taken = s->stop;
            s->drain_cancel(); // a cancel meant for the push before this one
            s->busy = true;
            lock.unlock();
            http_result const r = http_put(
                s->at, s->path, text, std::chrono::steady_clock::now() + s->timeout, s->cancel[0]);
            std::string message;
            lock.lock();
            s->busy = false;
            if (r.ok()) {
                ++s->pushed;
                if (s->outage)
                    message = "streambatch: metrics pushed to " + s->at.url + s->path +
                              " again, after " + std::to_string(s->failures_in_outage) +
                              " failed push(es)";
                s->outage = false;
                s->failures_in_outage = 0;
            } else if (!r.cancelled) {
                ++s->failures;
                ++s->failures_in_outage;
                if (!s->outage)
                    message = "streambatch: warning: cannot push metrics to " + s->at.url +
                              s->path + ": " + r.describe() +
                              "; the job goes on (failed pushes are counted in "
                              "streambatch_push_failures_total; no further warning until a "
                              "push succeeds)";
                s->outage = true;
            }
            s->cv.notify_all();
            if (!message.empty() && s->warn) {
                lock.unlock();
                s->warn(message);
                lock.lock();
            }
        }
        s->done = true;
        s->cv.notify_all();
    }

    // Stops the thread: waits at most timeout + 100 ms for it, else leaves it to end alone
    // (a name lookup that hangs: getaddrinfo has no timeout). True when it ended in time.
    bool stop_thread()
    {
        if (!thread_.joinable())
            return true;
        bool ended = false;
        {
            std::unique_lock lock(s_->mutex);
            ended = s_->cv.wait_until(lock,
                                      std::chrono::steady_clock::now() + s_->timeout +
                                          std::chrono::milliseconds(100),
                                      [&] { return s_->done; });
        }
        if (ended)
            thread_.join();
        else
            thread_.detach(); // it holds s_ and nothing else of ours
        return ended;
    }

public:
    /// Pushes to `url` (parse_push_url) in the group of `job` and `part`, at most once every
    /// `every` (due()), each push bounded by `timeout`. std::invalid_argument for a bad URL.
    metrics_pusher(std::string_view url, std::string_view job, partition part,
                   std::chrono::milliseconds every, std::chrono::milliseconds timeout,
                   warn_fn warn = warn_on_stderr)
        : s_(std::make_shared<state>()), every_(every)
    {
        s_->at = parse_push_url(url);
        s_->path = push_group_path(job, part);
        s_->timeout = timeout.count() > 0 ? timeout : std::chrono::milliseconds(1);
        s_->warn = std::move(warn);
        if (::pipe2(s_->cancel, O_CLOEXEC | O_NONBLOCK) != 0)
            throw std::runtime_error(std::string("streambatch: metrics push: pipe: ") +
                                     std::strerror(errno));
        thread_ = std::thread(loop, s_);
    }
    metrics_pusher(metrics_pusher const&) = delete;
    metrics_pusher& operator=(metrics_pusher const&) = delete;
    ~metrics_pusher()
    {
        if (!thread_.joinable())
            return;
        {
            std::lock_guard lock(s_->mutex);
            s_->stop = true;
            s_->pending.reset(); // an abandoned run: nothing more to say
            if (s_->busy)
                (void)!::write(s_->cancel[1], "x", 1);
        }
        s_->cv.notify_all();
        stop_thread();
    }

    /// The group's path: "/metrics/job/<job>[/partition/<i>/partitions/<n>]".
    std::string const& path() const noexcept { return s_->path; }

    /// Whether a push is due at `now`: `every` since the last submit (at once before the first).
    bool due(std::chrono::steady_clock::time_point now) const
    {
        return last_submit_ == std::chrono::steady_clock::time_point{} ||
               now - last_submit_ >= every_;
    }

    /// Hands `text` to the thread and returns: it replaces any text still waiting.
    void submit(std::string text, std::chrono::steady_clock::time_point now)
    {
        last_submit_ = now;
        {
            std::lock_guard lock(s_->mutex);
            s_->pending = std::move(text);
        }
        s_->cv.notify_all();
    }

    /// Pushes that failed so far (not counting one abandoned for a newer text at the end).
    std::uint64_t failures() const
    {
        std::lock_guard lock(s_->mutex);
        return s_->failures;
    }
    /// Pushes that succeeded so far.
    std::uint64_t pushed() const
    {
        std::lock_guard lock(s_->mutex);
        return s_->pushed;
    }

    /// The last push: lets the push under way end (for at most the smaller of timeout and
    /// 1 s; then abandons it: a hung gateway does not hold the job), pushes `text` after it, and
    /// waits for that at most timeout + 100 ms (a push that has not ended by then counts as
    /// failed). Returns the failures, this one included. Call it once. The push under way is
    /// let end first because, abandoned once its request was sent, the gateway could still
    /// store its older figures after the final ones (seen: a partition's 300 records left in
    /// the gateway after its final push of 500).
    std::uint64_t finish(std::string text)
    {
        {
            std::unique_lock lock(s_->mutex);
            s_->pending = std::move(text);
            s_->stop = true;
            s_->cv.notify_all();
            auto const grace =
                std::min<std::chrono::milliseconds>(s_->timeout, std::chrono::seconds(1));
            bool const older_ended =
                s_->cv.wait_until(lock, std::chrono::steady_clock::now() + grace,
                                  [&] { return s_->final_taken || s_->done || !s_->busy; });
            if (!older_ended && !s_->final_taken && s_->busy)
                (void)!::write(s_->cancel[1], "x", 1);
        }
        s_->cv.notify_all();
        bool const ended = stop_thread();
        std::lock_guard lock(s_->mutex);
        if (!ended)
            ++s_->failures;
        return s_->failures;
    }
};

} // namespace streambatch::detail

#endif // STREAMBATCH_RUNNER_DETAIL_PUSH_HPP_INCLUDED
