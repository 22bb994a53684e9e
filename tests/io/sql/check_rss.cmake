# tests/io/sql/check_rss.cmake: runs pg_stream_rss at SMALL and LARGE rows and fails unless both
# stream every row and the peak RSS grows by less than MAX_GROWTH_KIB from SMALL to LARGE.
#   cmake -DEXE=<pg_stream_rss> -DSMALL=100000 -DLARGE=1000000 -DMAX_GROWTH_KIB=4096 [-DMODE=keyset]
#         -P check_rss.cmake
# MODE, if given, is pg_stream_rss's second argument (keyset: the keyset source instead of the cursor).
foreach(var EXE SMALL LARGE MAX_GROWTH_KIB)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_rss.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_stream rows out_kib)
  string(TIMESTAMP t0 "%s")
  execute_process(COMMAND ${EXE} ${rows} ${MODE} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  string(TIMESTAMP t1 "%s")
  math(EXPR secs "${t1} - ${t0}")
  string(STRIP "${out}" out)
  message(STATUS "pg_stream_rss ${rows}: ${out} (${secs} s)")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pg_stream_rss ${rows} failed (${rc}): ${out} ${err}")
  endif()
  if(NOT out MATCHES "rows=([0-9]+) bytes=([0-9]+) vmhwm_kib=([0-9]+)")
    message(FATAL_ERROR "pg_stream_rss ${rows}: unexpected output: ${out}")
  endif()
  if(NOT CMAKE_MATCH_1 EQUAL rows)
    message(FATAL_ERROR "pg_stream_rss ${rows}: streamed ${CMAKE_MATCH_1} rows")
  endif()
  set(${out_kib} ${CMAKE_MATCH_3} PARENT_SCOPE)
endfunction()

run_stream(${SMALL} small_kib)
run_stream(${LARGE} large_kib)
math(EXPR growth "${large_kib} - ${small_kib}")
message(STATUS "peak RSS: ${small_kib} KiB at ${SMALL} rows, ${large_kib} KiB at ${LARGE} rows: "
               "${growth} KiB more (limit ${MAX_GROWTH_KIB} KiB)")
if(growth GREATER_EQUAL MAX_GROWTH_KIB)
  message(FATAL_ERROR "peak RSS grew by ${growth} KiB from ${SMALL} to ${LARGE} rows: not constant memory")
endif()
