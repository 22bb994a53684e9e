# Run by ctest (see tests/CMakeLists.txt) as
#   cmake -DBUILD_DIR=<build tree> -DTARGET=<target> -DSOURCE=<case.cpp> [-DCONFIG=<cfg>] -P compile_fail.cmake
# Passes only if building TARGET fails AND one of the compiler's diagnostics matches the regex
# on the source's `// expect: <regex>` line: failing for another reason (a typo, an undeclared
# name) is a failure.
#
# The regex is matched against the compiler's diagnostic messages only, one at a time, with
# their "file:line:col: error: " prefix removed: never against the build tool's lines (Ninja's
# "FAILED: <object>" and the command line both name the source file, so a regex with a word of
# the file's name would match any failure), nor against a file name in a diagnostic's location.
# Write the regex for both g++ and clang++ (alternatives with |), naming the construct refused.
#
# -DEXPECT_FAILURE=ON inverts the verdict: the self-test of a regex (tests/CMakeLists.txt gives
# each case's `// expect:` line to a body with an undeclared name); it passes only when the
# build fails with errors and NO diagnostic matches, i.e. the regex would catch that typo.

foreach(var BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compile_fail.cmake: ${var} is not set")
  endif()
endforeach()

file(STRINGS "${SOURCE}" expect_line REGEX "^// expect: " LIMIT_COUNT 1)
if(NOT expect_line)
  message(FATAL_ERROR "${SOURCE} has no `// expect: <regex>` line; add one naming the "
                      "diagnostic it must fail with")
endif()
string(REGEX REPLACE "^// expect: *" "" expect "${expect_line}")
string(STRIP "${expect}" expect)

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)

if(rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but ${SOURCE} must not compile.\n${out}")
endif()

# Walk the output line by line (string(FIND), not a CMake list: diagnostics hold ';' and '[').
set(rest "${out}\n")
set(errors 0)
set(matched "")
while(NOT matched)
  string(FIND "${rest}" "\n" nl)
  if(nl EQUAL -1)
    break()
  endif()
  string(SUBSTRING "${rest}" 0 ${nl} line)
  math(EXPR next "${nl} + 1")
  string(SUBSTRING "${rest}" ${next} -1 rest)
  # g++ and clang++: "path:line:col: error: message" (also "fatal error", "note").
  if(NOT line MATCHES "^[^ :][^:]*:[0-9]+:([0-9]+:)? (fatal error|error|note): (.*)$")
    continue()
  endif()
  set(kind "${CMAKE_MATCH_2}")
  set(message "${CMAKE_MATCH_3}")
  if(kind MATCHES "error")
    math(EXPR errors "${errors} + 1")
  endif()
  if(message MATCHES "${expect}")
    set(matched "${kind}: ${message}")
  endif()
endwhile()

if(EXPECT_FAILURE)
  if(matched)
    message(FATAL_ERROR "`${expect}` is too broad: it matches an unrelated error, so a case that "
                        "breaks for another reason would pass. It matched: ${matched}\n${out}")
  endif()
  if(errors EQUAL 0)
    message(FATAL_ERROR "${TARGET} failed to build without a compiler error:\n${out}")
  endif()
  message(STATUS "`${expect}` does not match an unrelated error (${errors} error(s)), as it should")
  return()
endif()
if(errors EQUAL 0 AND NOT matched)
  message(FATAL_ERROR "${TARGET} failed to build, but the compiler reported no error (a build "
                      "tool failure?):\n${out}")
endif()
if(NOT matched)
  message(FATAL_ERROR "${TARGET} failed to compile, but no compiler diagnostic matches "
                      "`${expect}`; it may fail for the wrong reason:\n${out}")
endif()
message(STATUS "${TARGET} failed to compile, as expected: ${matched}")
