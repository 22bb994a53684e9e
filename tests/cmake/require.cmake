# streambatch_require(<var>... MESSAGE <what is missing, and its Debian package>)
#
# For a test that needs an optional tool or library: when every <var> is true (found), nothing
# happens. Otherwise, with STREAMBATCH_REQUIRE_ALL_COMPONENTS ON (CI: .ci/run sets
# STREAMBATCH_REQUIRE_ALL=ON, which the presets pass on) configuration FAILS, so that CI never
# runs fewer tests without saying so; off (a developer's machine), a STATUS line says what is
# not tested, and the caller skips registering it:
#
#   include(${PROJECT_SOURCE_DIR}/tests/cmake/require.cmake)
#   find_program(STREAMBATCH_PROMTOOL promtool)
#   streambatch_require(STREAMBATCH_PROMTOOL MESSAGE "promtool (Debian: prometheus); run_records.promtool")
#   if(STREAMBATCH_PROMTOOL)
#     add_test(...)
#   endif()
include_guard(GLOBAL)

function(streambatch_require)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "MESSAGE" "")
  set(missing "")
  foreach(var IN LISTS arg_UNPARSED_ARGUMENTS)
    if(NOT ${var})
      list(APPEND missing ${var})
    endif()
  endforeach()
  if(NOT missing)
    return()
  endif()
  if(STREAMBATCH_REQUIRE_ALL_COMPONENTS)
    message(FATAL_ERROR "streambatch: not found: ${arg_MESSAGE} (${missing} not set). "
                        "STREAMBATCH_REQUIRE_ALL_COMPONENTS is ON (CI): every test must run; "
                        "install it (bash scripts/install-deps.sh)")
  endif()
  message(STATUS "streambatch: not found: ${arg_MESSAGE}; not tested")
endfunction()
