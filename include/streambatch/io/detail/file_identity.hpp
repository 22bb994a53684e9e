// streambatch/io/detail/file_identity.hpp: the identity of a file input at the offset a job has
// consumed, as one line of text a sink stores with each batch, and the check that a file is
// still the one a stored identity was taken on (the source contract of job/contract.hpp).
//
// In:     a path (and the name messages use), identity_options {mode, allow_append}, and the
//         byte offsets the reader has consumed, in increasing order (advance_to / identity_at).
//         A partitioned reader also gives the bytes it skips: [skip_begin, skip_end), from the
//         end of the header to its first record, which it never reads (the earlier partitions'
//         records); for a whole input that range is empty.
// Out:    file_identity {mode, size, head, tail, skip, consumed, hash | last + samples} and its
//         text, one line: "file v1 full size=S head=H tail=T consumed=C hash=X" or
//         "file v1 sampled size=S head=H tail=T consumed=C last=L samples=M" (H, T, X, L, M:
//         16 hex digits of detail::stream_hash; " skip=B-E" before consumed= when not empty).
//         file_identity_tracker: holds its own read-only descriptor of the file and hashes the
//         consumed bytes with pread as the offset advances, so the reader is not touched.
//           size   the file's size when the tracker opened it (K);
//           head   hash of bytes [0, min(64 KiB, K));  tail: of [K - min(64 KiB, K), K);
//           full:    hash = hash of the consumed bytes [0, C) (less the skipped range), fed
//                    incrementally: identity_at(C) costs the bytes consumed since the last call.
//           sampled: last = hash of the 64 KiB before C ([max(C - 64 KiB, E), C));
//                    samples = hash of 16 blocks of 4 KiB centred at E + (C - E)(2j + 1)/32,
//                    j = 0..15 (E: skip_end, 0 for a whole input): each call reads 128 KiB,
//                    so with batches under ~0.5 MB of input sampled costs more per batch than
//                    full, and pays off only on resume (bench/RESULTS-identity.md).
//         The file must not change while it is read (an identity describes what was read).
//         check(stored): the file now against a stored identity; throws input_changed.
// Models: full (the default) re-hashes the consumed bytes of the file now on resume and so
//         detects a change anywhere in what was loaded (and in the head and tail). sampled
//         reads a fixed 256 KiB whatever the file's size (head, tail, last, samples), and
//         MISSES a same-size change that lies wholly outside the head (first 64 KiB), the
//         tail (last 64 KiB), the 64 KiB before the checkpoint and the 16 sampled 4 KiB blocks:
//         in a 1 GB file, most single-byte edits of the consumed part (the sampled bytes are
//         under 0.1% of a 256 MB consumed part). Both miss a change after the consumed offset
//         that keeps the size and lies outside the head and tail: those bytes were not loaded,
//         and the resumed job reads them as they are now. A change in the tail is refused
//         even when it lies after the consumed offset: head and tail say "the same file", and
//         a file whose end was rewritten is taken to be another one (restart the job, or, if
//         the change is wanted, clear the stored state).
//         The check uses the stored identity's own mode (a sampled identity has no hash of the
//         whole consumed part): the mode option chooses what new identities record. A full
//         resume hands the hash of the consumed part to the tracker, so the next identity costs
//         only the bytes read after it.
//         Appending: a file now larger than at the checkpoint is refused unless allow_append;
//         with it, the old geometry (head and tail of the first K bytes, the consumed bytes,
//         the samples) must match, and the byte before the appended part must end a line when
//         the checkpoint was at the old end (else the new bytes would continue a loaded record).
// Memory: the tracker: a 256 KiB read buffer and the descriptor.
// Errors: streambatch::input_changed (job/contract.hpp), naming the file and both values:
//           "<f>: truncated to N bytes, the checkpoint was taken at byte M of K bytes",
//           "<f>: grew by N bytes since the checkpoint (K then, S now): an append?
//            allow_append to load the new part ...",
//           "<f>: bytes 0..N, already loaded, changed (hash A, now B)",
//           "<f>: its first N bytes (the head) changed (hash A, now B) ...", likewise the tail,
//           the 64 KiB before the checkpoint and the samples (sampled);
//         and for a stored text that does not parse: "the identity stored for <f>, "<text>",
//         is not a file identity (...): <what is wrong>". I/O failures: std::system_error
//         naming the file.
// Example:
//     io::file_identity_tracker t("orders.csv", "orders.csv", {});
//     std::string id = t.identity_at(reader.position().byte_offset).to_text(); // per batch
//     // on resume:
//     io::file_identity_tracker again("orders.csv", "orders.csv", {.allow_append = true});
//     again.check(io::file_identity::from_text(stored, "orders.csv")); // throws input_changed

#ifndef STREAMBATCH_IO_DETAIL_FILE_IDENTITY_HPP_INCLUDED
#define STREAMBATCH_IO_DETAIL_FILE_IDENTITY_HPP_INCLUDED

#include <streambatch/detail/parse.hpp>
#include <streambatch/detail/stream_hash.hpp>
#include <streambatch/io/detail/quote.hpp>
#include <streambatch/job/contract.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace streambatch::io {

/// How a resumed job checks that its input is the one it stopped in.
enum class identity_mode : unsigned char {
    full,    ///< re-hash every consumed byte (detects any change in what was loaded)
    sampled, ///< size, head, tail, the 64 KiB before the checkpoint and 16 blocks of 4 KiB
};

/// The user's choice: the mode, and whether a file that grew is an incremental load.
struct identity_options {
    identity_mode mode = identity_mode::full;
    bool allow_append = false; ///< accept a file now larger whose old part matches
};

/// A file input's identity at a consumed offset. See the top of this file.
struct file_identity {
    static constexpr std::uint64_t edge_bytes = std::uint64_t{64} << 10; ///< head, tail, last
    static constexpr std::uint64_t sample_bytes = 4096;
    static constexpr std::uint64_t sample_count = 16;

    identity_mode mode = identity_mode::full;
    std::uint64_t size = 0;       ///< the file's size when the identity was taken
    std::uint64_t head = 0;       ///< hash of [0, min(64 KiB, size))
    std::uint64_t tail = 0;       ///< hash of [size - min(64 KiB, size), size)
    std::uint64_t skip_begin = 0; ///< [skip_begin, skip_end): bytes not consumed (a partition's
    std::uint64_t skip_end = 0;   ///< predecessors' records); empty for a whole input
    std::uint64_t consumed = 0;   ///< the consumed offset (the reader's byte_offset)
    std::uint64_t hash = 0;       ///< full: hash of the consumed bytes
    std::uint64_t last = 0;       ///< sampled: hash of the 64 KiB before `consumed`
    std::uint64_t samples = 0;    ///< sampled: hash of the 16 sampled blocks

    friend bool operator==(file_identity const&, file_identity const&) = default;

    /// "file v1 full size=S head=H tail=T [skip=B-E ]consumed=C hash=X" or
    /// "file v1 sampled size=S head=H tail=T [skip=B-E ]consumed=C last=L samples=M".
    std::string to_text() const;
    /// Reads to_text() back; input_changed naming `input` and the text if it does not parse.
    static file_identity from_text(std::string_view text, std::string_view input = {});
};

namespace detail {

inline std::string hex64(std::uint64_t v)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4)
        s[static_cast<std::size_t>(i)] = digits[v & 15];
    return s;
}

inline std::optional<std::uint64_t> parse_hex64(std::string_view s)
{
    if (s.size() != 16)
        return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return std::nullopt;
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    return v;
}

/// The blocks the sampled mode hashes at consumed offset `c` (E = skip_end): block j is
/// [centre - 2 KiB, centre + 2 KiB) clamped to [e, c), centre = e + (c - e)(2j + 1)/32.
inline std::pair<std::uint64_t, std::uint64_t> sample_block(std::uint64_t e, std::uint64_t c,
                                                            std::uint64_t j)
{
    if (c <= e)
        return {c, c};
    std::uint64_t const span = c - e;
    // (span * (2j + 1)) / 32 without overflow for any span below 2^59.
    std::uint64_t const centre =
        e + span / (2 * file_identity::sample_count) * (2 * j + 1) +
        span % (2 * file_identity::sample_count) * (2 * j + 1) / (2 * file_identity::sample_count);
    std::uint64_t const half = file_identity::sample_bytes / 2;
    std::uint64_t const b = centre >= e + half ? centre - half : e;
    std::uint64_t const en = std::min(c, b + file_identity::sample_bytes);
    return {b, en};
}

} // namespace detail

inline std::string file_identity::to_text() const
{
    std::string s = mode == identity_mode::full ? "file v1 full" : "file v1 sampled";
    s += " size=" + std::to_string(size) + " head=" + detail::hex64(head) +
         " tail=" + detail::hex64(tail);
    if (skip_end > skip_begin)
        s += " skip=" + std::to_string(skip_begin) + "-" + std::to_string(skip_end);
    s += " consumed=" + std::to_string(consumed);
    if (mode == identity_mode::full)
        s += " hash=" + detail::hex64(hash);
    else
        s += " last=" + detail::hex64(last) + " samples=" + detail::hex64(samples);
    return s;
}

inline file_identity file_identity::from_text(std::string_view text, std::string_view input)
{
    auto const fail = [&](std::string const& what) -> file_identity {
        throw input_changed(
            "streambatch: the identity stored for " +
            (input.empty() ? std::string("the input") : std::string(input)) + ", " +
            io::detail::quote(text) +
            ", is not a file identity (\"file v1 full size=N head=H tail=T consumed=N hash=H\" or "
            "\"file v1 sampled size=N head=H tail=T consumed=N last=H samples=H\"; was it "
            "stored by another kind of source, or damaged?): " +
            what);
    };
    std::string_view rest = text;
    auto const next = [&]() -> std::string_view {
        std::size_t const sp = rest.find(' ');
        std::string_view const tok = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
        return tok;
    };
    if (next() != "file")
        return fail("it does not begin with \"file\"");
    std::string_view const version = next();
    if (version != "v1")
        return fail("version " + io::detail::quote(version) + " is not v1");
    file_identity id;
    std::string_view const mode = next();
    if (mode == "full")
        id.mode = identity_mode::full;
    else if (mode == "sampled")
        id.mode = identity_mode::sampled;
    else
        return fail("mode " + io::detail::quote(mode) + " is neither full nor sampled");
    bool const full = id.mode == identity_mode::full;
    // The fields, in to_text's order; skip= is optional.
    struct field {
        char const* key;
        bool hex;
        std::uint64_t* out;
        bool optional;
    };
    field const fields[] = {
        {"size", false, &id.size, false},
        {"head", true, &id.head, false},
        {"tail", true, &id.tail, false},
        {"skip", false, nullptr, true},
        {"consumed", false, &id.consumed, false},
        {full ? "hash" : "last", true, full ? &id.hash : &id.last, false},
        {"samples", true, &id.samples, false},
    };
    std::size_t const nfields = full ? 6 : 7;
    std::string_view tok = next();
    for (std::size_t i = 0; i < nfields; ++i) {
        field const& f = fields[i];
        std::string const key = std::string(f.key) + "=";
        if (tok.substr(0, key.size()) != key) {
            if (f.optional)
                continue;
            return fail(tok.empty() ? "field " + std::string(f.key) + "= is missing"
                                    : "expected " + std::string(f.key) + "= where it has " +
                                          io::detail::quote(tok));
        }
        std::string_view const value = tok.substr(key.size());
        if (f.out == nullptr) { // skip=B-E
            std::size_t const dash = value.find('-');
            auto const b = streambatch::detail::parse_whole<std::uint64_t>(value.substr(0, dash));
            auto const e =
                dash == std::string_view::npos
                    ? std::nullopt
                    : streambatch::detail::parse_whole<std::uint64_t>(value.substr(dash + 1));
            if (!b || !e || *e < *b)
                return fail("skip " + io::detail::quote(value) +
                            " is not a byte range B-E with B <= E");
            id.skip_begin = *b;
            id.skip_end = *e;
        } else if (f.hex) {
            auto const v = detail::parse_hex64(value);
            if (!v)
                return fail(std::string(f.key) + " " + io::detail::quote(value) +
                            " is not 16 lowercase hex digits");
            *f.out = *v;
        } else {
            auto const v = streambatch::detail::parse_whole<std::uint64_t>(value);
            if (!v)
                return fail(std::string(f.key) + " " + io::detail::quote(value) +
                            " is not a whole number below 2^64");
            *f.out = *v;
        }
        tok = next();
    }
    if (!tok.empty() || !rest.empty())
        return fail("unexpected " + io::detail::quote(tok) + " after the last field");
    return id;
}

/// Hashes a file's consumed bytes as a reader advances, with its own descriptor; builds
/// identities and checks the file against stored ones. See the top of this file.
class file_identity_tracker {
    std::string name_;
    identity_options opts_;
    int fd_ = -1;
    std::uint64_t size_ = 0, head_ = 0, tail_ = 0;
    std::uint64_t skip_begin_ = 0, skip_end_ = 0;
    streambatch::detail::stream_hash hash_;
    std::uint64_t hashed_ = 0; // hash_ covers the consumed bytes of [0, hashed_)
    std::unique_ptr<char[]> buf_;
    static constexpr std::size_t buf_size = std::size_t{256} << 10;

    [[noreturn]] void io_error(char const* what, std::uint64_t at = 0) const
    {
        int const e = errno;
        throw std::system_error(e, std::generic_category(),
                                "streambatch: " + std::string(what) + " " + name_ +
                                    (at != 0 ? " at byte " + std::to_string(at) : std::string()));
    }
    [[noreturn]] void changed(std::string const& what) const
    {
        throw input_changed("streambatch: input changed: " + name_ + ": " + what);
    }

    /// Feeds bytes [b, e) of the file now into h; false if the file ends first.
    bool feed(streambatch::detail::stream_hash& h, std::uint64_t b, std::uint64_t e)
    {
        while (b < e) {
            std::size_t const want =
                static_cast<std::size_t>(std::min<std::uint64_t>(e - b, buf_size));
            ssize_t const n = ::pread(fd_, buf_.get(), want, static_cast<off_t>(b));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                io_error("cannot read", b);
            }
            if (n == 0)
                return false;
            h.update(buf_.get(), static_cast<std::size_t>(n));
            b += static_cast<std::uint64_t>(n);
        }
        return true;
    }
    std::uint64_t hash_of(std::uint64_t b, std::uint64_t e)
    {
        streambatch::detail::stream_hash h;
        feed(h, b, e);
        return h.digest();
    }
    /// Feeds the consumed bytes of [from, to) (those outside the skipped range).
    bool feed_consumed(streambatch::detail::stream_hash& h, std::uint64_t from, std::uint64_t to,
                       std::uint64_t sb, std::uint64_t se)
    {
        if (from < sb && !feed(h, from, std::min(to, sb)))
            return false;
        std::uint64_t const b = std::max(from, se);
        return b >= to || feed(h, b, to);
    }
    std::uint64_t last_of(std::uint64_t c, std::uint64_t se)
    {
        std::uint64_t const lo =
            std::max(se, c >= file_identity::edge_bytes ? c - file_identity::edge_bytes : 0);
        return hash_of(std::min(lo, c), c);
    }
    std::uint64_t samples_of(std::uint64_t c, std::uint64_t se)
    {
        streambatch::detail::stream_hash h;
        for (std::uint64_t j = 0; j < file_identity::sample_count; ++j) {
            auto const [b, e] = detail::sample_block(se, c, j);
            feed(h, b, e);
        }
        return h.digest();
    }
    std::string range_text(std::uint64_t c, std::uint64_t sb, std::uint64_t se) const
    {
        if (se > sb)
            return "bytes 0.." + std::to_string(sb) + " and " + std::to_string(se) + ".." +
                   std::to_string(c);
        return "bytes 0.." + std::to_string(c);
    }

public:
    /// Opens `path` read-only; `name` is the file in messages. [skip_begin, skip_end): bytes a
    /// partitioned reader never consumes (empty for a whole input).
    file_identity_tracker(std::filesystem::path const& path, std::string name,
                          identity_options opts, std::uint64_t skip_begin = 0,
                          std::uint64_t skip_end = 0)
        : name_(std::move(name)), opts_(opts), buf_(new char[buf_size])
    {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0)
            io_error("cannot open");
        struct stat st {};
        if (::fstat(fd_, &st) != 0) {
            int const e = errno;
            ::close(fd_);
            fd_ = -1;
            errno = e;
            io_error("cannot stat");
        }
        size_ = static_cast<std::uint64_t>(st.st_size);
        std::uint64_t const edge = std::min(size_, file_identity::edge_bytes);
        head_ = hash_of(0, edge);
        tail_ = hash_of(size_ - edge, size_);
        set_skip(skip_begin, skip_end);
    }
    file_identity_tracker(file_identity_tracker&& o) noexcept
        : name_(std::move(o.name_)), opts_(o.opts_), fd_(std::exchange(o.fd_, -1)), size_(o.size_),
          head_(o.head_), tail_(o.tail_), skip_begin_(o.skip_begin_), skip_end_(o.skip_end_),
          hash_(o.hash_), hashed_(o.hashed_), buf_(std::move(o.buf_))
    {}
    file_identity_tracker& operator=(file_identity_tracker&&) = delete;
    file_identity_tracker(file_identity_tracker const&) = delete;
    ~file_identity_tracker()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }

    /// The bytes never consumed; resets the consumed hash.
    void set_skip(std::uint64_t b, std::uint64_t e)
    {
        skip_begin_ = b;
        skip_end_ = std::max(b, e);
        hash_ = streambatch::detail::stream_hash();
        hashed_ = 0;
    }

    std::uint64_t size() const noexcept { return size_; }
    std::uint64_t hashed() const noexcept { return hashed_; }
    std::string const& name() const noexcept { return name_; }
    identity_options const& options() const noexcept { return opts_; }

    /// Full mode: hashes the consumed bytes up to `offset` (those since the last call); an
    /// offset below the last one starts again from byte 0. Sampled mode: nothing.
    void advance_to(std::uint64_t offset)
    {
        if (opts_.mode != identity_mode::full)
            return;
        if (offset < hashed_) {
            hash_ = streambatch::detail::stream_hash();
            hashed_ = 0;
        }
        if (!feed_consumed(hash_, hashed_, offset, skip_begin_, skip_end_))
            changed("it ends before byte " + std::to_string(offset) +
                    ", which the reader has consumed: was it truncated while being read?");
        hashed_ = offset;
    }

    /// The identity at consumed offset `offset` (advance_to(offset) first).
    file_identity identity_at(std::uint64_t offset)
    {
        file_identity id;
        id.mode = opts_.mode;
        id.size = size_;
        id.head = head_;
        id.tail = tail_;
        id.skip_begin = skip_begin_;
        id.skip_end = skip_end_;
        id.consumed = offset;
        if (opts_.mode == identity_mode::full) {
            advance_to(offset);
            id.hash = hash_.digest();
        } else {
            id.last = last_of(offset, skip_end_);
            id.samples = samples_of(offset, skip_end_);
        }
        return id;
    }

    /// Throws input_changed unless the file now is the one `stored` was taken on (see the top
    /// of this file; `stored`'s mode decides what is compared). After a full check, the tracker
    /// holds the hash of the consumed bytes up to stored.consumed, with stored's skip range.
    void check(file_identity const& stored)
    {
        std::uint64_t const k = stored.size, c = stored.consumed, now = size_;
        std::string const at = "the checkpoint was taken at byte " + std::to_string(c) + " of " +
                               std::to_string(k) + " bytes";
        if (now < k)
            changed("truncated to " + std::to_string(now) + " bytes, " + at +
                    (now < c ? " (it is now shorter than the " + std::to_string(c) +
                                   " bytes already loaded)"
                             : std::string()));
        if (now > k && !opts_.allow_append)
            changed("grew by " + std::to_string(now - k) + " bytes since the checkpoint (" +
                    std::to_string(k) + " bytes then, " + std::to_string(now) +
                    " now): an append? allow_append to load the new part "
                    "(identity_options{.allow_append = true}); otherwise restart the job, "
                    "the file is not the one it stopped in");
        if (c > k)
            changed("the stored identity says " + std::to_string(c) +
                    " bytes were consumed of a file of " + std::to_string(k) +
                    " bytes: it was not taken on this file");
        std::uint64_t const edge = std::min(k, file_identity::edge_bytes);
        std::string const range = range_text(c, stored.skip_begin, stored.skip_end);
        if (stored.mode == identity_mode::full) {
            streambatch::detail::stream_hash h;
            feed_consumed(h, 0, c, stored.skip_begin, stored.skip_end);
            if (h.digest() != stored.hash)
                changed(range + ", already loaded, changed (hash " + detail::hex64(stored.hash) +
                        ", now " + detail::hex64(h.digest()) + ")");
            skip_begin_ = stored.skip_begin;
            skip_end_ = stored.skip_end;
            if (opts_.mode == identity_mode::full) {
                hash_ = h;
                hashed_ = c;
            } else {
                hash_ = streambatch::detail::stream_hash();
                hashed_ = 0;
            }
        } else {
            set_skip(stored.skip_begin, stored.skip_end);
        }
        std::uint64_t const head_now = hash_of(0, edge);
        if (head_now != stored.head)
            changed("its first " + std::to_string(edge) + " bytes (the head) changed (hash " +
                    detail::hex64(stored.head) + ", now " + detail::hex64(head_now) +
                    "): another file of the same size?");
        if (stored.mode == identity_mode::sampled) {
            std::uint64_t const last_now = last_of(c, stored.skip_end);
            if (last_now != stored.last) {
                std::uint64_t const lo =
                    std::max(stored.skip_end,
                             c >= file_identity::edge_bytes ? c - file_identity::edge_bytes : 0);
                changed("bytes " + std::to_string(std::min(lo, c)) + ".." + std::to_string(c) +
                        ", the last loaded before the checkpoint, changed (hash " +
                        detail::hex64(stored.last) + ", now " + detail::hex64(last_now) + ")");
            }
            std::uint64_t const samples_now = samples_of(c, stored.skip_end);
            if (samples_now != stored.samples)
                changed(std::to_string(file_identity::sample_count) + " sampled blocks of " +
                        std::to_string(file_identity::sample_bytes) + " bytes in " + range +
                        ", already loaded, changed (hash " + detail::hex64(stored.samples) +
                        ", now " + detail::hex64(samples_now) + ")");
        }
        std::uint64_t const tail_now = hash_of(k - edge, k);
        if (tail_now != stored.tail)
            changed("its last " + std::to_string(edge) + " bytes (bytes " +
                    std::to_string(k - edge) + ".." + std::to_string(k) +
                    ", the tail) changed (hash " + detail::hex64(stored.tail) + ", now " +
                    detail::hex64(tail_now) + "); " + at +
                    (k - edge >= c ? ", so no loaded byte changed, but a file whose end was "
                                     "rewritten is taken to be another file: restart the job"
                                   : std::string()));
        if (now > k && c == k && k > 0) {
            char b = 0;
            if (::pread(fd_, &b, 1, static_cast<off_t>(k - 1)) != 1)
                io_error("cannot read", k - 1);
            if (b != '\n' && b != '\r')
                changed("grew by " + std::to_string(now - k) +
                        " bytes since the checkpoint, which was taken at its old end (byte " +
                        std::to_string(k) +
                        "), and the last loaded record ends without a line break: the appended "
                        "bytes would continue a record already loaded");
        }
    }
};

} // namespace streambatch::io

#endif // STREAMBATCH_IO_DETAIL_FILE_IDENTITY_HPP_INCLUDED
