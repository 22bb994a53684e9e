// streambatch/io/csv/attributes.hpp: the two function attributes the CSV reader's files share.
//
// STREAMBATCH_CSV_INLINE: always inlined (the parser's per-byte and per-field steps).
// STREAMBATCH_CSV_COLD:   never inlined and laid out apart (the error builders and the grow
//                         paths), so that the hot loop stays small.
// Both fall back to plain `inline` / nothing on compilers without GNU attributes.

#ifndef STREAMBATCH_IO_CSV_ATTRIBUTES_HPP_INCLUDED
#define STREAMBATCH_IO_CSV_ATTRIBUTES_HPP_INCLUDED

#if defined(__GNUC__) || defined(__clang__)
#    define STREAMBATCH_CSV_INLINE [[gnu::always_inline]] inline
#    define STREAMBATCH_CSV_COLD [[gnu::noinline, gnu::cold]]
#else
#    define STREAMBATCH_CSV_INLINE inline
#    define STREAMBATCH_CSV_COLD
#endif

#endif // STREAMBATCH_IO_CSV_ATTRIBUTES_HPP_INCLUDED
