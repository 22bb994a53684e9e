# Run after <target> is built (see discover_tests.cmake):
#   cmake -D EXE=<test binary> -D ARGS=<args.cmake> -D OUT=<tests.cmake> -D WORKDIR=<dir> -P this
# Lists the binary's test cases and writes one add_test/set_tests_properties per case into OUT.
# Fails (and so fails the build) when the listing does not look like Catch's: a crash, a
# sanitizer report, anything on stderr, or no test at all.
include(${ARGS})   # prefix, spec, extra_args, properties

set(spec_args "")
if(spec)
  set(spec_args "${spec}")
endif()
execute_process(COMMAND ${EXE} ${spec_args} --list-test-names-only
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc
                WORKING_DIRECTORY ${WORKDIR})
file(REMOVE ${OUT})
# A name holding ';' would be split in two by CMake's lists (and its add_test would run
# nothing): refuse it, naming it, before the split.
string(REGEX MATCHALL "[^\n]*;[^\n]*" semicolon_names "${out}")
if(semicolon_names)
  message(FATAL_ERROR "streambatch_discover_tests: ${EXE}: a test name holds ';', which CTest "
                      "cannot name (rename the TEST_CASE): ${semicolon_names}")
endif()
string(REGEX MATCHALL "[^\n]+" names "${out}")
list(LENGTH names count)
math(EXPR expect_rc "${count} % 256")  # Catch 2's listing exits with the number of names
if(NOT rc MATCHES "^[0-9]+$" OR NOT rc EQUAL expect_rc OR NOT err STREQUAL "" OR count EQUAL 0)
  message(FATAL_ERROR "streambatch_discover_tests: listing the tests of ${EXE} ${spec_args} failed: "
                      "exit ${rc} for ${count} names (want ${expect_rc}, and at least one)\n"
                      "stderr:\n${err}\nstdout:\n${out}")
endif()

set(script "")
foreach(name IN LISTS names)
  if(name MATCHES "]==]")
    message(FATAL_ERROR "streambatch_discover_tests: a test name holds `]==]`: ${name}")
  endif()
  # Catch's command line reads ',', '[' and ']' in a name as syntax: escape them.
  set(arg "${name}")
  foreach(char , [ ])
    string(REPLACE "${char}" "\\${char}" arg "${arg}")
  endforeach()
  string(APPEND script
    "add_test([==[${prefix}${name}]==] [==[${EXE}]==] [==[${arg}]==]${extra_args})\n"
    "set_tests_properties([==[${prefix}${name}]==] PROPERTIES${properties})\n")
endforeach()
file(WRITE ${OUT} "${script}")
