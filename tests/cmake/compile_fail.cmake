# Run by ctest (see tests/CMakeLists.txt) as
#   cmake -DBUILD_DIR=<build tree> -DTARGET=<target> -DSOURCE=<case.cpp> [-DCONFIG=<cfg>] -P compile_fail.cmake
# Passes only if building TARGET fails AND the build output matches the regex on the
# source's `// expect: <regex>` line: failing for another reason (a typo) is a failure.

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
if(NOT out MATCHES "${expect}")
  message(FATAL_ERROR "${TARGET} failed to compile, but not with a diagnostic matching "
                      "`${expect}`; it may fail for the wrong reason:\n${out}")
endif()
message(STATUS "${TARGET} failed to compile, as expected: matched `${CMAKE_MATCH_0}`")
