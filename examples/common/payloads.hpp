// examples/common/payloads.hpp: cheap record fields for generated sources (stream_records).
//
// A payload is a window cut from one 1 MiB pool of random letters made once (the approach of
// bench/records.hpp, which examples do not include): assigning it is a memcpy into the
// record's own buffer, not a random-number step and a division per byte. Every record's
// payload starts at a distinct offset ((i * 7919) mod 2^20; 7919 is odd, so the first 2^20
// differ). Names and ids are written into the caller's strings, reusing their capacity.
//     examples::assign_payload(r.payload, 450, i);   // 450 letters, distinct per i
//     examples::assign_id(r.id, i + 1);              // "  <i+1> "
//     examples::assign_name(r.name, i + 1);          // == examples::customer_name(i + 1)

#ifndef STREAMBATCH_EXAMPLES_COMMON_PAYLOADS_HPP
#define STREAMBATCH_EXAMPLES_COMMON_PAYLOADS_HPP

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data.hpp"

namespace examples {

inline constexpr std::size_t payload_pool_bytes = std::size_t{1} << 20;

/// The pool: 1 MiB of pseudo-random lower-case letters, plus `longest` more so that any
/// window of up to `longest` bytes fits. Made on first use (grown if a longer one is asked).
inline std::string_view payload_pool(std::size_t longest)
{
    static std::string pool;
    if (pool.size() < payload_pool_bytes + longest) {
        pool.resize(payload_pool_bytes + longest);
        std::uint64_t x = 0x9E3779B97F4A7C15ull;
        for (char& c : pool) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c = static_cast<char>('a' + x % 26);
        }
    }
    return pool;
}

/// `text` becomes the `bytes` letters of record i's payload (its capacity is reused).
inline void assign_payload(std::string& text, std::size_t bytes, std::uint64_t i)
{
    std::string_view const pool = payload_pool(bytes);
    text.assign(pool.data() + (i * 7919u) % payload_pool_bytes, bytes);
}

/// `text` becomes "  <id> ", padded as a fixed-width file gives it.
inline void assign_id(std::string& text, std::uint64_t id)
{
    char buf[32] = "  ";
    char* p = std::to_chars(buf + 2, buf + sizeof buf - 1, id).ptr;
    *p++ = ' ';
    text.assign(buf, p);
}

/// `text` becomes examples::customer_name(id), built in place.
inline void assign_name(std::string& text, std::uint64_t id)
{
    static char const* const first[] = {"Ann", "Bob",  "Chloé", "Dmitri",
                                        "Eve", "Femi", "Grace", "Hiro"};
    static char const* const last[] = {"O'Neil",   "Smith, Jr.", "Müller",
                                       "Nakamura", "Okafor",     "\"Doc\" Brown"};
    std::uint64_t const x = mix(id);
    text.assign("  ");
    text += first[x % 8];
    text += ' ';
    text += last[(x >> 8) % 6];
    if (id % 997 == 0)
        text += "\nvan der Berg";
    text += ' ';
}

} // namespace examples

#endif
