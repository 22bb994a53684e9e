# A test whose pass depends on its output AND its exit code (PASS_REGULAR_EXPRESSION alone
# ignores the exit code: a crash or a LeakSanitizer report after the expected line would pass).
#
#   include(${PROJECT_SOURCE_DIR}/tests/cmake/run_and_match.cmake)
#   streambatch_add_output_test(NAME <test> REGEX <regex> COMMAND <program> <arg>...
#                               [WORKING_DIRECTORY <dir>])
# then set_tests_properties(<test> ...) as usual (labels, fixtures, timeout).
# Passes when the command exits 0 and its stdout+stderr match <regex>; its output is printed
# either way. Runnable alone too:
#   cmake -D REGEX=<regex> -D ARGC=<n> -D ARG0=<program> -D ARG1=<arg> ... -P run_and_match.cmake
# (one -D per word; a word may not hold a ";", which CMake would split).

if(CMAKE_SCRIPT_MODE_FILE)
  if(NOT DEFINED REGEX OR NOT ARGC OR NOT DEFINED ARG0)
    message(FATAL_ERROR "run_and_match.cmake: set REGEX, ARGC and ARG0...")
  endif()
  set(COMMAND "")
  math(EXPR last "${ARGC} - 1")
  foreach(i RANGE ${last})
    list(APPEND COMMAND "${ARG${i}}")
  endforeach()
  execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "`${COMMAND}` exited with ${rc} (want 0)")
  endif()
  if(NOT out MATCHES "${REGEX}")
    message(FATAL_ERROR "the output of `${COMMAND}` does not match `${REGEX}`")
  endif()
  return()
endif()

include_guard(GLOBAL)
set(_STREAMBATCH_RUN_AND_MATCH ${CMAKE_CURRENT_LIST_FILE})
function(streambatch_add_output_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;REGEX;WORKING_DIRECTORY" "COMMAND")
  if(NOT arg_NAME OR NOT DEFINED arg_REGEX OR NOT arg_COMMAND)
    message(FATAL_ERROR "streambatch_add_output_test: NAME, REGEX and COMMAND are required")
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  # A target name as the program becomes its file, as add_test(COMMAND) does.
  list(POP_FRONT arg_COMMAND program)
  if(TARGET ${program})
    set(program $<TARGET_FILE:${program}>)
  endif()
  set(defines "-DARG0=${program}")
  set(n 1)
  foreach(a IN LISTS arg_COMMAND)
    list(APPEND defines "-DARG${n}=${a}")
    math(EXPR n "${n} + 1")
  endforeach()
  add_test(NAME ${arg_NAME}
           COMMAND ${CMAKE_COMMAND} "-DREGEX=${arg_REGEX}" -DARGC=${n} ${defines}
                   -P ${_STREAMBATCH_RUN_AND_MATCH}
           WORKING_DIRECTORY ${arg_WORKING_DIRECTORY})
endfunction()
