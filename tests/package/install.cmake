# Run by ctest as the fixture package.install (see tests/CMakeLists.txt):
#   cmake -DBUILD_DIR=<build tree> -DPREFIX=<fresh prefix> [-DCONFIG=<cfg>] -P install.cmake
# Installs the build tree into an empty PREFIX and checks the files consumers rely on.

file(REMOVE_RECURSE "${PREFIX}")
set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed (${rc})")
endif()

foreach(file
    include/streambatch/version.hpp
    share/cmake/streambatch/streambatch-config.cmake
    share/cmake/streambatch/streambatch-config-version.cmake
    share/cmake/streambatch/streambatch-targets.cmake
    share/pkgconfig/streambatch.pc)
  if(NOT EXISTS "${PREFIX}/${file}")
    message(FATAL_ERROR "the install lacks ${file} (under ${PREFIX})")
  endif()
endforeach()
message(STATUS "installed into ${PREFIX}")
