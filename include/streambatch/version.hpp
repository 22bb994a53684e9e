// streambatch/version.hpp: the library's version, parsed by CMake.
//
// The three STREAMBATCH_VERSION_{MAJOR,MINOR,PATCH} lines are the one source of truth:
// CMakeLists.txt reads them with a regex, so keep each as `#define NAME <number>`.
// STREAMBATCH_VERSION is MAJOR * 10000 + MINOR * 100 + PATCH, for `#if` comparisons.
// Example:
//     #if STREAMBATCH_VERSION >= 100   // 0.1.0 or later

#ifndef STREAMBATCH_VERSION_HPP_INCLUDED
#define STREAMBATCH_VERSION_HPP_INCLUDED

#define STREAMBATCH_VERSION_MAJOR 0
#define STREAMBATCH_VERSION_MINOR 2
#define STREAMBATCH_VERSION_PATCH 0

#define STREAMBATCH_VERSION                                                                        \
    (STREAMBATCH_VERSION_MAJOR * 10000 + STREAMBATCH_VERSION_MINOR * 100 +                         \
     STREAMBATCH_VERSION_PATCH)

#endif // STREAMBATCH_VERSION_HPP_INCLUDED
