# streambatch_discover_tests(): one CTest test per Catch2 TEST_CASE, like Catch's
# catch_discover_tests(), with two of its holes closed.
#
#   include(${PROJECT_SOURCE_DIR}/tests/cmake/discover_tests.cmake)
#   streambatch_discover_tests(<target>
#       [TEST_PREFIX <prefix>]          e.g. "csv."
#       [TEST_SPEC <spec>]              list only these, e.g. "[sqlite]"
#       [EXTRA_ARGS <arg>...]           after the test name; default: -w NoTests
#       [LABELS <label>...]             every label kept ("unit;csv" stays two labels)
#       [TIMEOUT <seconds>]
#       [FIXTURES_REQUIRED <fixture>...] [ENVIRONMENT <VAR=value>...] [RESOURCE_LOCK <name>...]
#       [PROPERTIES <name> <value> ...]) any other property, one value each
#
# Holes closed:
# - catch_discover_tests(PROPERTIES LABELS "unit;csv" TIMEOUT 120) flattens its PROPERTIES into
#   one list, so the tests get LABELS unit and no timeout (`ctest -L csv` selects nothing).
#   Here each property's value is written as one bracket argument, lists intact.
# - catch_discover_tests registers nothing, silently, when the binary's listing fails (a
#   sanitizer report at start-up, a crash in a static initialiser). Here the listing runs after
#   the build (POST_BUILD, as Catch's) and the build FAILS unless it exits as Catch's listing
#   does (the count of names), prints nothing on stderr, and names at least one test.
#   Before the first build, CTest runs a <target>_NOT_BUILT test, which fails.
#
# Discovery happens at build time (Catch 2.13 has no DISCOVERY_MODE PRE_TEST; CMake 3.25's own
# gtest_discover_tests has it, not Catch's module).

include_guard(GLOBAL)
set(_STREAMBATCH_DISCOVER_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/discover_tests_script.cmake)

function(streambatch_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg ""
    "TEST_PREFIX;TEST_SPEC;TIMEOUT;WORKING_DIRECTORY"
    "EXTRA_ARGS;LABELS;FIXTURES_REQUIRED;ENVIRONMENT;RESOURCE_LOCK;PROPERTIES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "streambatch_discover_tests(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT DEFINED arg_EXTRA_ARGS)
    set(arg_EXTRA_ARGS -w NoTests) # a name that matches nothing fails instead of passing
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()

  # The properties, as CMake code: `NAME [==[value;value]==]` keeps a list one argument.
  set(props " WORKING_DIRECTORY [==[${arg_WORKING_DIRECTORY}]==]")
  foreach(multi LABELS FIXTURES_REQUIRED ENVIRONMENT RESOURCE_LOCK)
    if(DEFINED arg_${multi})
      string(APPEND props " ${multi} [==[${arg_${multi}}]==]")
    endif()
  endforeach()
  if(arg_TIMEOUT)
    string(APPEND props " TIMEOUT [==[${arg_TIMEOUT}]==]")
  endif()
  list(LENGTH arg_PROPERTIES n)
  math(EXPR odd "${n} % 2")
  if(odd)
    message(FATAL_ERROR "streambatch_discover_tests(${target}): PROPERTIES takes name value pairs")
  endif()
  while(arg_PROPERTIES)
    list(POP_FRONT arg_PROPERTIES name value)
    string(APPEND props " ${name} [==[${value}]==]")
  endwhile()
  set(extra "")
  foreach(a IN LISTS arg_EXTRA_ARGS)
    string(APPEND extra " [==[${a}]==]")
  endforeach()

  string(SHA1 hash "${arg_TEST_PREFIX} ${arg_TEST_SPEC}")
  string(SUBSTRING ${hash} 0 7 hash)
  set(base ${CMAKE_CURRENT_BINARY_DIR}/${target}-${hash})
  file(CONFIGURE OUTPUT ${base}-args.cmake CONTENT [=[
set(prefix [=====[@arg_TEST_PREFIX@]=====])
set(spec [=====[@arg_TEST_SPEC@]=====])
set(extra_args [=====[@extra@]=====])
set(properties [=====[@props@]=====])
]=] @ONLY)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -D EXE=$<TARGET_FILE:${target}> -D ARGS=${base}-args.cmake
            -D OUT=${base}-tests.cmake -D WORKDIR=${arg_WORKING_DIRECTORY}
            -P ${_STREAMBATCH_DISCOVER_SCRIPT}
    BYPRODUCTS ${base}-tests.cmake
    VERBATIM)
  file(WRITE ${base}-include.cmake
    "if(EXISTS \"${base}-tests.cmake\")\n"
    "  include(\"${base}-tests.cmake\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT-${hash} ${target}_NOT_BUILT-${hash})\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${base}-include.cmake)
endfunction()
