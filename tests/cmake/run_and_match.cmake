# A test whose pass depends on its output AND its exit code (PASS_REGULAR_EXPRESSION alone
# ignores the exit code: a crash or a LeakSanitizer report after the expected line would pass).
#
#   include(${PROJECT_SOURCE_DIR}/tests/cmake/run_and_match.cmake)
#   streambatch_add_output_test(NAME <test> REGEX <regex> COMMAND <program> <arg>...
#                               [WORKING_DIRECTORY <dir>])
# then set_tests_properties(<test> ...) as usual (labels, fixtures, timeout).
# Passes when the command exits 0 and its stdout+stderr match <regex>; its output is printed
# either way. Runnable alone too:
#   cmake -D REGEX=<regex> -D COMMAND=<program;arg;...> -P run_and_match.cmake

if(CMAKE_SCRIPT_MODE_FILE)
  if(NOT DEFINED REGEX OR NOT DEFINED COMMAND)
    message(FATAL_ERROR "run_and_match.cmake: set REGEX and COMMAND")
  endif()
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
  set(command "${program}")
  foreach(a IN LISTS arg_COMMAND)
    string(APPEND command "\\;${a}")   # one -D value; the script splits it again
  endforeach()
  add_test(NAME ${arg_NAME}
           COMMAND ${CMAKE_COMMAND} "-DREGEX=${arg_REGEX}" "-DCOMMAND=${command}"
                   -P ${_STREAMBATCH_RUN_AND_MATCH}
           WORKING_DIRECTORY ${arg_WORKING_DIRECTORY})
endfunction()
