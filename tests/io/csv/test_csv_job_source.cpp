// tests/io/csv/test_csv_job_source.cpp: csv::file_source as a job's source, and the file identity
// (io/detail/file_identity.hpp) that makes a resumed job refuse another file.
//
// A source is read in batches of 1000 rows (views::chunk) over a generated CSV of 20,000 rows
// (about 560 KB); (position, identity) is stored after batch 8 (so the consumed part is bytes
// 0..~220 KB, the head the first 64 KiB, the tail the last 64 KiB and the bytes in between not
// yet loaded). Then the file is kept, swapped, edited, truncated or appended to, and the resume
// either goes on with exactly the rows an uninterrupted run reads after batch 8 (count and a
// hash per row), or throws input_changed naming the file and what differs.
//
// Decided here, and documented in file_identity.hpp: an edit after the consumed part that lies
// in the tail is refused (the tail says "the same file"; the message says no loaded byte
// changed); one in the unloaded middle is accepted and its rows are read as they are now.

#include <streambatch/detail/stream_hash.hpp>
#include <streambatch/io/csv.hpp>
#include <streambatch/io/csv/job_source.hpp>
#include <streambatch/io/detail/file_identity.hpp>
#include <streambatch/job/contract.hpp>
#include <streambatch/views/chunk.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "csv_test_support.hpp"

namespace {

namespace csv = streambatch::csv;
namespace io = streambatch::io;
using streambatch::input_changed;
using streambatch::job_state;

static_assert(streambatch::job_source<csv::file_source>);

constexpr std::size_t total_rows = 20000;
constexpr std::size_t batch = 1000;
constexpr std::size_t stop_after = 8; // batches

/// "id,name,amount" and `n` rows from `first`; names are lowercase letters only.
std::string make_csv(std::size_t n, std::size_t first = 0, bool header = true)
{
    std::string s = header ? "id,name,amount\n" : "";
    for (std::size_t i = first; i < first + n; ++i) {
        std::string name = "n";
        for (std::size_t v = i * 2654435761u % 1000003; v != 0; v /= 26)
            name += static_cast<char>('a' + v % 26);
        s += std::to_string(i) + "," + name + "," + std::to_string(i * 7 % 1000) + "." +
             std::to_string(i % 100) + "\n";
    }
    return s;
}

std::uint64_t row_hash(csv::row const& r)
{
    streambatch::detail::stream_hash h;
    for (std::string_view f : r) {
        h.update(f);
        h.update("\x1f", 1);
    }
    return h.digest();
}

struct run_result {
    std::vector<std::uint64_t> rows; ///< a hash per row read, in order
    std::vector<job_state> states;   ///< after each batch
};

/// Reads `src` in batches of 1000, storing the state after each; stops after `max_batches`.
run_result run(csv::file_source& src, std::size_t max_batches = SIZE_MAX, job_state from = {})
{
    run_result out;
    job_state st = from;
    for (auto&& b : src.rows() | streambatch::views::chunk(batch)) {
        for (csv::row const& r : b)
            out.rows.push_back(row_hash(r));
        st.position = src.position();
        st.identity = src.identity();
        ++st.batches;
        st.records += b.size();
        out.states.push_back(st);
        if (out.states.size() == max_batches)
            break;
    }
    return out;
}

/// Resumes a source over `path` from `st` (check_identity, then seek) and reads the rest.
run_result resume(std::filesystem::path const& path, job_state const& st,
                  io::identity_options id = {}, csv::options o = {})
{
    csv::file_source src(path, o, id);
    src.check_identity(st);
    src.seek(st.position);
    return run(src, SIZE_MAX, st);
}

/// The message of the input_changed that resuming throws ("" if none).
std::string refusal(std::filesystem::path const& path, job_state const& st,
                    io::identity_options id = {})
{
    csv::file_source src(path, {}, id);
    try {
        src.check_identity(st);
    } catch (input_changed const& e) {
        return e.what();
    }
    return "";
}

/// A byte of `path` at `offset` changed to `to`.
void poke(std::filesystem::path const& path, std::uint64_t offset, char to)
{
    std::string s = csvtest::slurp(path);
    REQUIRE(offset < s.size());
    REQUIRE(s[offset] != to);
    s[offset] = to;
    csvtest::spit(path, s);
}

/// The first lowercase letter of a name at or after `offset`, changed to another letter: the
/// file keeps its size and stays valid CSV.
std::uint64_t poke_letter(std::filesystem::path const& path, std::uint64_t offset)
{
    std::string s = csvtest::slurp(path);
    while (offset < s.size() && !(s[offset] >= 'a' && s[offset] <= 'z'))
        ++offset;
    REQUIRE(offset < s.size());
    s[offset] = s[offset] == 'a' ? 'b' : 'a';
    csvtest::spit(path, s);
    return offset;
}

struct fixture {
    csvtest::temp_dir dir;
    std::string text = make_csv(total_rows);
    std::filesystem::path path = dir.write("orders.csv", text);
    run_result whole; ///< an uninterrupted run
    job_state saved;  ///< the state after batch 8
    std::uint64_t consumed = 0;
    std::vector<std::uint64_t> rest; ///< the rows after batch 8

    explicit fixture(io::identity_options id = {})
    {
        {
            csv::file_source src(path, {}, id);
            whole = run(src);
        }
        REQUIRE(whole.rows.size() == total_rows);
        csv::file_source src(path, {}, id);
        run_result const first = run(src, stop_after);
        REQUIRE(first.states.size() == stop_after);
        saved = first.states.back();
        consumed = csv::parse_position(saved.position).byte_offset;
        rest.assign(whole.rows.begin() + stop_after * batch, whole.rows.end());
        REQUIRE(consumed > 2 * io::file_identity::edge_bytes);
        REQUIRE(consumed + 2 * io::file_identity::edge_bytes < text.size());
    }
    std::string size_text() const { return std::to_string(text.size()); }
};

bool has(std::string const& s, std::string const& part)
{
    return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("file_identity: text round trip, full and sampled, with and without a skip range",
          "[csv][job_source]")
{
    io::file_identity full{.mode = io::identity_mode::full,
                           .size = 123456789,
                           .head = 0x0123456789abcdefull,
                           .tail = 0xfedcba9876543210ull,
                           .consumed = 4711,
                           .hash = 42};
    std::string const t = full.to_text();
    CHECK(t == "file v1 full size=123456789 head=0123456789abcdef tail=fedcba9876543210 "
               "consumed=4711 hash=000000000000002a");
    CHECK(io::file_identity::from_text(t) == full);

    io::file_identity sampled = full;
    sampled.mode = io::identity_mode::sampled;
    sampled.hash = 0;
    sampled.last = 7;
    sampled.samples = ~0ull;
    sampled.skip_begin = 15;
    sampled.skip_end = 3000;
    std::string const u = sampled.to_text();
    CHECK(u == "file v1 sampled size=123456789 head=0123456789abcdef tail=fedcba9876543210 "
               "skip=15-3000 consumed=4711 last=0000000000000007 samples=ffffffffffffffff");
    CHECK(io::file_identity::from_text(u) == sampled);
}

TEST_CASE("file_identity: a damaged text is input_changed naming the input, the text and the "
          "fault",
          "[csv][job_source]")
{
    std::string const good = "file v1 full size=10 head=0123456789abcdef tail=0123456789abcdef "
                             "consumed=4 hash=0123456789abcdef";
    REQUIRE_NOTHROW(io::file_identity::from_text(good));
    struct bad_case {
        std::string text, fault;
    };
    bad_case const cases[] = {
        {"", "does not begin with \"file\""},
        {"4711 12 10 1", "does not begin with \"file\""},
        {"file v2 full size=10", "version \"v2\" is not v1"},
        {"file v1 quick size=10", "mode \"quick\""},
        {"file v1 full size=1x head=0123456789abcdef", "size \"1x\" is not a whole number"},
        {"file v1 full size=10 head=0123456789ABCDEF tail=0123456789abcdef consumed=4 "
         "hash=0123456789abcdef",
         "head \"0123456789ABCDEF\" is not 16 lowercase hex digits"},
        {"file v1 full size=10 head=0123456789abcdef tail=0123456789abcdef consumed=4",
         "field hash= is missing"},
        {"file v1 full size=10 head=0123456789abcdef tail=0123456789abcdef consumed=4 "
         "last=0123456789abcdef",
         "expected hash= where it has \"last=0123456789abcdef\""},
        {good + " extra=1", "unexpected \"extra=1\" after the last field"},
        {"file v1 full size=10 head=0123456789abcdef tail=0123456789abcdef skip=9-3 consumed=4 "
         "hash=0123456789abcdef",
         "skip \"9-3\" is not a byte range"},
    };
    for (auto const& c : cases) {
        CAPTURE(c.text);
        try {
            io::file_identity::from_text(c.text, "orders.csv");
            FAIL("no input_changed");
        } catch (input_changed const& e) {
            std::string const what = e.what();
            CAPTURE(what);
            CHECK(has(what, "the identity stored for orders.csv"));
            CHECK(has(what, "is not a file identity"));
            CHECK(has(what, c.fault));
            CHECK(has(what, "\"" + c.text.substr(0, 20)));
        }
    }
    // Through the source: a state stored by another kind of source.
    csvtest::temp_dir dir;
    auto const path = dir.write("orders.csv", make_csv(10));
    csv::file_source src(path);
    job_state const st{.position = "15 2 0 0", .identity = "sqlite fingerprint 1234"};
    CHECK_THROWS_AS(src.check_identity(st), input_changed);
    CHECK_THROWS_WITH(src.check_identity(st),
                      Catch::Matchers::Contains(path.string()) &&
                          Catch::Matchers::Contains("\"sqlite fingerprint 1234\""));
}

TEST_CASE("file_source: the same file resumes with exactly the rows an uninterrupted run reads",
          "[csv][job_source]")
{
    fixture f;
    CHECK(has(f.saved.identity, "file v1 full size=" + f.size_text()));
    CHECK(has(f.saved.identity, " consumed=" + std::to_string(f.consumed) + " "));
    CHECK(f.saved.records == stop_after * batch);

    run_result const r = resume(f.path, f.saved);
    CHECK(r.rows.size() == total_rows - stop_after * batch);
    CHECK(r.rows == f.rest);
    // The resumed tracker took over the hash of the consumed part: the identities it writes
    // are those of the uninterrupted run.
    REQUIRE(r.states.size() == f.whole.states.size() - stop_after);
    CHECK(r.states.back() == f.whole.states.back());
    CHECK(r.states.front() == f.whole.states[stop_after]);

    // Resuming twice from the same state is the same.
    CHECK(resume(f.path, f.saved).rows == f.rest);
    // The source describes itself by its path, and its position before rows() is the sought one.
    csv::file_source src(f.path);
    CHECK(src.describe() == f.path.string());
    src.seek(f.saved.position);
    CHECK(src.position() == f.saved.position);
    CHECK(src.identity() == f.saved.identity); // seek without check: hashes the prefix itself
}

TEST_CASE("file_source: a swapped file is refused, another size or the same size",
          "[csv][job_source]")
{
    fixture f;
    SECTION("another size")
    {
        csvtest::spit(f.path, make_csv(total_rows, 1)); // ids shifted by one: longer
        std::string const m = refusal(f.path, f.saved);
        CHECK(has(m, "input changed: " + f.path.string()));
        CHECK(has(m, "grew by"));
        CHECK(has(m, "allow_append"));
    }
    SECTION("the same size, other content")
    {
        std::string other = f.text;
        for (char& c : other)
            if (c >= 'a' && c <= 'y' && &c > other.data() + 20)
                ++c;
        csvtest::spit(f.path, other);
        std::string const m = refusal(f.path, f.saved);
        CAPTURE(m);
        CHECK(has(m, f.path.string()));
        CHECK(has(m, "bytes 0.." + std::to_string(f.consumed) + ", already loaded, changed"));
        auto const id = io::file_identity::from_text(f.saved.identity);
        CHECK(has(m, "(hash " + io::detail::hex64(id.hash) + ", now "));
    }
}

TEST_CASE("file_source: full mode refuses a same-size edit anywhere in the consumed part",
          "[csv][job_source]")
{
    fixture f;
    auto const id = io::file_identity::from_text(f.saved.identity);
    for (std::uint64_t at : {std::uint64_t{0}, f.consumed / 2, f.consumed - 1}) {
        CAPTURE(at);
        csvtest::spit(f.path, f.text);
        REQUIRE(refusal(f.path, f.saved).empty());
        poke(f.path, at, f.text[at] == 'x' ? 'y' : 'x');
        std::string const m = refusal(f.path, f.saved);
        CAPTURE(m);
        CHECK(has(m, "input changed: " + f.path.string() + ": bytes 0.." +
                         std::to_string(f.consumed) + ", already loaded, changed (hash " +
                         io::detail::hex64(id.hash) + ", now "));
    }
}

TEST_CASE("file_source: an edit after the consumed part: refused in the tail, read as it is now "
          "in the unloaded middle",
          "[csv][job_source]")
{
    fixture f;
    SECTION("in the tail: refused, saying no loaded byte changed")
    {
        poke_letter(f.path, f.text.size() - 100);
        std::string const m = refusal(f.path, f.saved);
        CAPTURE(m);
        std::uint64_t const k = f.text.size(), edge = io::file_identity::edge_bytes;
        CHECK(has(m, f.path.string() + ": its last 65536 bytes (bytes " + std::to_string(k - edge) +
                         ".." + std::to_string(k) + ", the tail) changed"));
        CHECK(has(m, "the checkpoint was taken at byte " + std::to_string(f.consumed) + " of " +
                         std::to_string(k)));
        CHECK(has(m, "no loaded byte changed"));
    }
    SECTION("in the middle, not yet loaded: accepted, and the rows after are read as they are now")
    {
        std::uint64_t const at = poke_letter(f.path, f.consumed + 20000);
        REQUIRE(at + io::file_identity::edge_bytes < f.text.size());
        run_result const r = resume(f.path, f.saved);
        REQUIRE(r.rows.size() == f.rest.size());
        std::size_t differ = 0;
        for (std::size_t i = 0; i < r.rows.size(); ++i)
            differ += r.rows[i] != f.rest[i];
        CHECK(differ == 1); // the edited row, as it is now
    }
}

TEST_CASE("file_source: a truncated file is refused, also when shorter than the consumed part",
          "[csv][job_source]")
{
    fixture f;
    std::uint64_t const k = f.text.size();
    for (std::uint64_t keep : {k - 1, f.consumed + 10, f.consumed / 2}) {
        CAPTURE(keep);
        csvtest::spit(f.path, f.text.substr(0, keep));
        std::string const m = refusal(f.path, f.saved);
        CAPTURE(m);
        CHECK(has(m, f.path.string() + ": truncated to " + std::to_string(keep) +
                         " bytes, the checkpoint was taken at byte " + std::to_string(f.consumed) +
                         " of " + std::to_string(k) + " bytes"));
        CHECK(has(m, "already loaded") == (keep < f.consumed));
    }
}

TEST_CASE("file_source: an appended file is refused without allow_append, and with it yields the "
          "old rest and the new rows",
          "[csv][job_source]")
{
    fixture f;
    std::string const more = make_csv(1500, total_rows, false);
    csvtest::spit(f.path, f.text + more);
    std::string const m = refusal(f.path, f.saved);
    CAPTURE(m);
    CHECK(has(m, f.path.string() + ": grew by " + std::to_string(more.size()) +
                     " bytes since the checkpoint (" + std::to_string(f.text.size()) +
                     " bytes then, " + std::to_string(f.text.size() + more.size()) +
                     " now): an append? allow_append to load the new part"));

    run_result const r = resume(f.path, f.saved, {.allow_append = true});
    csv::file_source fresh(f.path);
    run_result const all = run(fresh);
    REQUIRE(all.rows.size() == total_rows + 1500);
    CHECK(r.rows.size() == total_rows - stop_after * batch + 1500);
    std::vector<std::uint64_t> expected = f.rest;
    expected.insert(expected.end(), all.rows.begin() + total_rows, all.rows.end());
    CHECK(r.rows == expected);
    // The identities after the append describe the larger file, as a fresh run's do.
    CHECK(r.states.back().identity == all.states.back().identity);

    SECTION("an append whose old part changed is still refused")
    {
        std::string edited = f.text;
        edited[f.consumed / 2] = edited[f.consumed / 2] == 'x' ? 'y' : 'x';
        csvtest::spit(f.path, edited + more);
        CHECK(has(refusal(f.path, f.saved, {.allow_append = true}), "already loaded, changed"));
    }
    SECTION("an append to a file whose last loaded record has no line break is refused")
    {
        std::string cut = f.text.substr(0, f.text.size() - 1); // no final line break
        csvtest::spit(f.path, cut);
        csv::file_source src(f.path, {}, {.allow_append = true});
        run_result const done = run(src);
        job_state const end = done.states.back();
        REQUIRE(csv::parse_position(end.position).byte_offset == cut.size());
        csvtest::spit(f.path, cut + more);
        std::string const n = refusal(f.path, end, {.allow_append = true});
        CAPTURE(n);
        CHECK(has(n, "ends without a line break"));
        CHECK(has(n, "byte " + std::to_string(cut.size())));
    }
}

TEST_CASE("file_source: sampled mode detects a swap, a truncation, an append and edits in the "
          "head, the tail, the last 64 KiB and the sampled blocks",
          "[csv][job_source]")
{
    fixture f({.mode = io::identity_mode::sampled});
    io::identity_options const sampled{.mode = io::identity_mode::sampled};
    CHECK(has(f.saved.identity, "file v1 sampled size="));
    CHECK(resume(f.path, f.saved, sampled).rows == f.rest);

    auto const refused = [&](std::string const& part) {
        std::string const m = refusal(f.path, f.saved, sampled);
        CAPTURE(m);
        CHECK(has(m, f.path.string()));
        CHECK(has(m, part));
        csvtest::spit(f.path, f.text);
    };
    csvtest::spit(f.path, make_csv(total_rows, 1));
    refused("grew by");
    csvtest::spit(f.path, f.text.substr(0, f.text.size() - 5));
    refused("truncated to");
    csvtest::spit(f.path, f.text + make_csv(10, total_rows, false));
    refused("allow_append");
    poke(f.path, 0, 'x');
    refused("its first 65536 bytes (the head) changed");
    poke_letter(f.path, f.text.size() - 10);
    refused("the tail) changed");
    poke(f.path, f.consumed - 1000, 'x');
    refused("the last loaded before the checkpoint, changed");
    auto const block = io::detail::sample_block(0, f.consumed, 7);
    REQUIRE(block.first > io::file_identity::edge_bytes);
    REQUIRE(block.second + io::file_identity::edge_bytes < f.consumed);
    poke(f.path, block.first + 100, 'x');
    refused("16 sampled blocks of 4096 bytes in bytes 0.." + std::to_string(f.consumed) +
            ", already loaded, changed");
    // With allow_append, an append is accepted and read on.
    csvtest::spit(f.path, f.text + make_csv(10, total_rows, false));
    CHECK(resume(f.path, f.saved, {.mode = io::identity_mode::sampled, .allow_append = true})
              .rows.size() == f.rest.size() + 10);
}

TEST_CASE("file_source: sampled mode misses a same-size edit between its samples, which full "
          "mode refuses",
          "[csv][job_source]")
{
    fixture f({.mode = io::identity_mode::sampled});
    // A byte in the consumed part outside the head, the last 64 KiB and every sampled block.
    std::uint64_t at = io::file_identity::edge_bytes + 100;
    auto const sampled_byte = [&](std::uint64_t x) {
        for (std::uint64_t j = 0; j < io::file_identity::sample_count; ++j) {
            auto const [b, e] = io::detail::sample_block(0, f.consumed, j);
            if (x >= b && x < e)
                return true;
        }
        return false;
    };
    while (sampled_byte(at))
        ++at;
    REQUIRE(at + io::file_identity::edge_bytes < f.consumed);
    at = poke_letter(f.path, at);
    REQUIRE(!sampled_byte(at));
    // Missed: the resume goes on, and the loaded part (already in the sink) differs from the file.
    CHECK(refusal(f.path, f.saved, {.mode = io::identity_mode::sampled}).empty());
    CHECK(resume(f.path, f.saved, {.mode = io::identity_mode::sampled}).rows == f.rest);

    // The same edit against a full identity is refused.
    csvtest::spit(f.path, f.text);
    fixture g; // full mode, its own file
    poke_letter(g.path, at);
    CHECK(has(refusal(g.path, g.saved), "already loaded, changed"));
}

TEST_CASE("file_source: a partition hashes the header and its own records only",
          "[csv][job_source]")
{
    csvtest::temp_dir dir;
    std::string const text = make_csv(total_rows);
    auto const path = dir.write("orders.csv", text);
    csv::options const o{.partition = {1, 2}};
    csv::file_source whole_src(path, o);
    run_result const whole = run(whole_src);
    csv::file_source src(path, o);
    run_result const first = run(src, 3);
    job_state const saved = first.states.back();
    auto const id = io::file_identity::from_text(saved.identity);
    CHECK(has(saved.identity, " skip="));
    CHECK(id.skip_begin == std::string("id,name,amount\n").size());
    CHECK(id.skip_end >= text.size() / 2 - 100);

    std::vector<std::uint64_t> const rest(whole.rows.begin() + 3 * batch, whole.rows.end());
    CHECK(resume(path, saved, {}, o).rows == rest);

    // An edit in partition 0's records (outside the head) is not this partition's concern.
    std::string edited = text;
    edited[id.skip_end / 2] = edited[id.skip_end / 2] == 'x' ? 'y' : 'x';
    csvtest::spit(path, edited);
    CHECK(resume(path, saved, {}, o).rows == rest);
    // One in its own consumed records is refused.
    edited = text;
    edited[id.skip_end + 1000] = 'x';
    csvtest::spit(path, edited);
    csv::file_source again(path, o);
    CHECK_THROWS_AS(again.check_identity(saved), input_changed);
    CHECK_THROWS_WITH(again.check_identity(saved),
                      Catch::Matchers::Contains("bytes 0.." + std::to_string(id.skip_begin) +
                                                " and " + std::to_string(id.skip_end) + ".." +
                                                std::to_string(id.consumed) +
                                                ", already loaded, changed"));
    // allow_append cannot work with partitions.
    CHECK_THROWS_AS(csv::file_source(path, o, {.allow_append = true}), std::invalid_argument);
    CHECK_THROWS_WITH(csv::file_source(path, o, {.allow_append = true}),
                      Catch::Matchers::Contains("allow_append with partition 1/2"));
}

TEST_CASE("file_source: rows() once, seek and check_identity before it", "[csv][job_source]")
{
    csvtest::temp_dir dir;
    auto const path = dir.write("orders.csv", make_csv(10));
    csv::file_source src(path);
    CHECK(src.position() == "0 1 0 0");
    CHECK_THROWS_AS(src.seek("1 2"), std::invalid_argument);
    auto r = src.rows();
    CHECK(std::ranges::distance(r) == 10);
    CHECK_THROWS_AS(src.rows(), std::logic_error);
    CHECK_THROWS_AS(src.seek("15 2 0 0"), std::logic_error);
    // A small file read to its end: head, tail and the consumed part are all of its bytes.
    std::string const bytes = csvtest::slurp(path);
    streambatch::detail::stream_hash h;
    h.update(bytes);
    std::string const all = io::detail::hex64(h.digest()), n = std::to_string(bytes.size());
    CHECK(src.identity() == "file v1 full size=" + n + " head=" + all + " tail=" + all +
                                " consumed=" + n + " hash=" + all);
}

TEST_CASE("file_source: the stored identity's mode decides the check, the option what is recorded",
          "[csv][job_source]")
{
    fixture f; // full identities
    // Resumed in sampled mode: checked by the full hash (all a full identity allows), then
    // records sampled identities.
    run_result const r = resume(f.path, f.saved, {.mode = io::identity_mode::sampled});
    CHECK(r.rows == f.rest);
    CHECK(has(r.states.back().identity, "file v1 sampled "));
    poke(f.path, f.consumed / 2, f.text[f.consumed / 2] == 'x' ? 'y' : 'x');
    CHECK(has(refusal(f.path, f.saved, {.mode = io::identity_mode::sampled}),
              "already loaded, changed"));
    csvtest::spit(f.path, f.text);

    // A sampled identity resumed in full mode: checked by its samples; the first full identity
    // after it hashes the consumed part from byte 0, and equals an uninterrupted full run's.
    fixture g({.mode = io::identity_mode::sampled});
    run_result const s = resume(g.path, g.saved);
    CHECK(s.rows == g.rest);
    csv::file_source fresh(g.path);
    run_result const all = run(fresh);
    CHECK(s.states.front().identity == all.states[stop_after].identity);
}

TEST_CASE("file_source: an empty file and a header-only file have identities that resume",
          "[csv][job_source]")
{
    csvtest::temp_dir dir;
    for (std::string const& text : {std::string(), std::string("id,name\n")}) {
        CAPTURE(text);
        auto const path = dir.write("t.csv", text);
        csv::file_source src(path);
        CHECK(std::ranges::distance(src.rows()) == 0);
        job_state const st{.position = src.position(), .identity = src.identity()};
        CHECK(has(st.identity, "size=" + std::to_string(text.size()) + " "));
        CHECK(resume(path, st).rows.empty());
        dir.write("t.csv", text + "1,a\n");
        std::string const m = refusal(path, st);
        CHECK(has(m, "grew by 4 bytes"));
        CHECK(resume(path, st, {.allow_append = true}).rows.size() == (text.empty() ? 0 : 1));
    }
}
