// examples/common/data.hpp: the examples' one generator of customer-like data.
//
// Customer `id` (from 1) is the same in every example and every run: its fields come from a
// hash of the id, not from a running state, so any example can make any customer on its own
// (a range of ids, a CSV file, a database table). The names carry what real data carries:
// blanks around them, quotes, commas, accents, and now and then a line break.
//     examples::make_customer(7).name      "  Femi O'Neil "   (say)
//     examples::fill_payload(text, 7)      text's bytes become letters made from 7

#ifndef STREAMBATCH_EXAMPLES_COMMON_DATA_HPP
#define STREAMBATCH_EXAMPLES_COMMON_DATA_HPP

#include <cstdint>
#include <cstdio>
#include <string>

namespace examples {

/// A customer as a source gives it: text fields, not yet cleaned.
struct customer_fields {
    std::string id, name, email, country, balance;
};

inline std::uint64_t mix(std::uint64_t x) noexcept // splitmix64's finaliser
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/// "  First Last " with blanks to trim; every 997th has a second line.
inline std::string customer_name(std::uint64_t id)
{
    static char const* const first[] = {"Ann", "Bob",  "Chloé", "Dmitri",
                                        "Eve", "Femi", "Grace", "Hiro"};
    static char const* const last[] = {"O'Neil",   "Smith, Jr.", "Müller",
                                       "Nakamura", "Okafor",     "\"Doc\" Brown"};
    std::uint64_t const x = mix(id);
    std::string name = "  ";
    name += first[x % 8];
    name += ' ';
    name += last[(x >> 8) % 6];
    if (id % 997 == 0)
        name += "\nvan der Berg";
    name += ' ';
    return name;
}

inline customer_fields make_customer(std::uint64_t id)
{
    static char const* const country[] = {"DE", "FR", "GB", "JP", "NG", "US"};
    std::uint64_t const x = mix(id);
    char balance[32];
    std::snprintf(balance, sizeof balance, "%.2f", double((x >> 24) % 1000000) / 100.0);
    return {std::to_string(id), customer_name(id), "User" + std::to_string(id) + "@Example.COM",
            country[(x >> 16) % 6], balance};
}

/// Fills `text` (its size stays) with lower-case letters made from `seed`: a record's payload.
inline void fill_payload(std::string& text, std::uint64_t seed)
{
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (char& c : text) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c = static_cast<char>('a' + x % 26);
    }
}

} // namespace examples

#endif
