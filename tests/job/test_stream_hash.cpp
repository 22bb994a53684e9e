// detail/stream_hash.hpp: known xxHash64 values, and the same digest however the bytes are split.
#include <streambatch/detail/stream_hash.hpp>

#include <catch2/catch.hpp>

#include <string>

using streambatch::detail::stream_hash;

TEST_CASE("stream_hash: the published xxHash64 values (seed 0)", "[job][hash]")
{
    CHECK(stream_hash{}.hex() == "ef46db3751d8e999");
    stream_hash a;
    a.update("a");
    CHECK(a.hex() == "d24ec4f1a98c6e5b");
    stream_hash abc;
    abc.update("abc");
    CHECK(abc.hex() == "44bc2cf5ad770999");
}

TEST_CASE("stream_hash: pieces of any size give the digest of the whole", "[job][hash]")
{
    std::string s(1000, '\0');
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<char>(i * 7 + (i >> 5));
    stream_hash whole;
    whole.update(s);
    CHECK(whole.size() == 1000);
    for (std::size_t step : {1u, 3u, 31u, 32u, 33u, 64u, 100u, 999u}) {
        stream_hash h;
        for (std::size_t at = 0; at < s.size(); at += step)
            h.update(std::string_view(s).substr(at, step));
        INFO("pieces of " << step);
        CHECK(h.digest() == whole.digest());
    }
    std::string t = s;
    t[500] ^= 1; // one bit anywhere changes it
    stream_hash changed;
    changed.update(t);
    CHECK(changed.digest() != whole.digest());
}
