#include <streambatch/record_bytes.hpp>

#include <catch2/catch.hpp>

#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

namespace sb = streambatch;

namespace shop {
struct order {
    long id = 0;
    std::string note;
};
// Found by argument-dependent lookup.
std::size_t record_bytes(order const& o)
{
    return sizeof o + (sb::record_bytes(o.note) - sizeof o.note) + 1000; // +1000: proves it is used
}
struct plain {
    int a = 0;
    double b = 0;
};
} // namespace shop

namespace {
constexpr std::size_t str = sizeof(std::string);
std::string const long_text(100, 'x'); // on the heap: capacity 100 + terminator
} // namespace

TEST_CASE("record_bytes counts a string's heap buffer, not its small-string buffer",
          "[record_bytes]")
{
    CHECK(sb::record_bytes(long_text) == str + 101);
    CHECK(sb::record_bytes(std::string("ab")) == str);
    std::string reserved;
    reserved.reserve(1000);
    CHECK(sb::record_bytes(reserved) == str + reserved.capacity() + 1);
    CHECK(sb::record_bytes(std::string_view(long_text)) ==
          sizeof(std::string_view)); // owns nothing
}

TEST_CASE("record_bytes recurses through containers, optionals, variants, pointers, tuples",
          "[record_bytes]")
{
    std::vector<std::string> v{long_text, long_text};
    CHECK(sb::record_bytes(v) == sizeof v + v.capacity() * str + 2 * 101);
    std::vector<int> ints(10);
    CHECK(sb::record_bytes(ints) == sizeof ints + ints.capacity() * sizeof(int));
    CHECK(sb::record_bytes(std::optional<std::string>(long_text)) ==
          sizeof(std::optional<std::string>) + 101);
    CHECK(sb::record_bytes(std::optional<std::string>()) == sizeof(std::optional<std::string>));
    CHECK(sb::record_bytes(std::variant<int, std::string>(long_text)) ==
          sizeof(std::variant<int, std::string>) + 101);
    CHECK(sb::record_bytes(std::pair<int, std::string>(1, long_text)) ==
          sizeof(std::pair<int, std::string>) + 101);
    CHECK(sb::record_bytes(std::tuple<std::string, std::string>(long_text, long_text)) ==
          sizeof(std::tuple<std::string, std::string>) + 202);
    CHECK(sb::record_bytes(std::make_unique<std::string>(long_text)) ==
          sizeof(std::unique_ptr<std::string>) + str + 101);
    CHECK(sb::record_bytes(std::unique_ptr<std::string>()) == sizeof(std::unique_ptr<std::string>));
    std::vector<std::vector<std::string>> nested{{long_text}, {long_text, long_text}};
    CHECK(sb::record_bytes(nested) > 3 * 101);
}

TEST_CASE("record_bytes estimates node containers: nodes, values and buckets", "[record_bytes]")
{
    std::map<int, std::string> m{{1, long_text}, {2, "a"}};
    CHECK(sb::record_bytes(m) ==
          sizeof m + 2 * (sizeof(std::pair<int const, std::string>) + 4 * sizeof(void*)) + 101);
    std::list<int> l{1, 2, 3};
    CHECK(sb::record_bytes(l) == sizeof l + 3 * (sizeof(int) + 4 * sizeof(void*)));
    std::unordered_map<int, int> u{{1, 2}};
    CHECK(sb::record_bytes(u) == sizeof u +
                                     (sizeof(std::pair<int const, int>) + 2 * sizeof(void*)) +
                                     u.bucket_count() * sizeof(void*));
}

TEST_CASE("record_bytes uses a user's overload, found by ADL, also inside containers",
          "[record_bytes]")
{
    shop::order o{1, long_text};
    CHECK(sb::record_bytes(o) == sizeof o + 101 + 1000);
    std::vector<shop::order> orders{o, o};
    CHECK(sb::record_bytes(orders) ==
          sizeof orders + orders.capacity() * sizeof o + 2 * (101 + 1000));
    CHECK(sb::record_bytes(std::optional<shop::order>(o)) ==
          sizeof(std::optional<shop::order>) + 101 + 1000);
    CHECK(sb::record_bytes(shop::plain{}) == sizeof(shop::plain)); // no overload: sizeof only
}
