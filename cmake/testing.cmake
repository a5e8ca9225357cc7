# Test helpers shared by every directory.
#
# A throwaway PostgreSQL server for the tests that run on both back ends: the
# CTest fixture `postgres` starts one (tests/postgres/pg_server.sh) before the
# first test that needs it and removes it after the last. Tests declare the
# need with cstopa_needs_postgres(<test>); they find the server's URL in the
# file named by CSTOPA_TEST_POSTGRES_URL_FILE, and skip their PostgreSQL cases
# when there is none (the sanitizer build, or no server binaries).

set(CSTOPA_POSTGRES_TESTS OFF)
if(NOT CSTOPA_UNIT_ONLY)
  file(GLOB _pg_ctl /usr/lib/postgresql/*/bin/pg_ctl)
  if(_pg_ctl)
    set(CSTOPA_POSTGRES_TESTS ON)
  else()
    message(STATUS "PostgreSQL server binaries not found: PostgreSQL tests skip")
  endif()
endif()

# Under /tmp so that the `postgres` OS user can reach it; one per build tree.
string(MD5 _pg_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${_pg_hash}" 0 12 _pg_hash)
set(CSTOPA_PG_TEST_DIR /tmp/cstopa-pgtest-${_pg_hash})

if(CSTOPA_POSTGRES_TESTS)
  add_test(NAME postgres_start
           COMMAND ${CMAKE_SOURCE_DIR}/tests/postgres/pg_server.sh start
                   ${CSTOPA_PG_TEST_DIR})
  set_tests_properties(postgres_start PROPERTIES FIXTURES_SETUP postgres)
  add_test(NAME postgres_stop
           COMMAND ${CMAKE_SOURCE_DIR}/tests/postgres/pg_server.sh stop
                   ${CSTOPA_PG_TEST_DIR})
  set_tests_properties(postgres_stop PROPERTIES FIXTURES_CLEANUP postgres)
endif()

function(cstopa_needs_postgres test)
  if(CSTOPA_POSTGRES_TESTS)
    set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED postgres)
    # One at a time: postgres_test stops and restarts the shared server.
    set_property(TEST ${test} APPEND PROPERTY RESOURCE_LOCK postgres_server)
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
                 CSTOPA_TEST_POSTGRES_URL_FILE=${CSTOPA_PG_TEST_DIR}/url
                 CSTOPA_TEST_POSTGRES_DIR=${CSTOPA_PG_TEST_DIR}
                 CSTOPA_TEST_PG_SERVER=${CMAKE_SOURCE_DIR}/tests/postgres/pg_server.sh)
  endif()
endfunction()

# cstopa_test(<name> SRCS <files> DEPS <targets> [LABELS <labels>])
# A GoogleTest executable registered with CTest. Unit tests carry the label
# "unit" (they also run in the sanitizer build).
function(cstopa_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  cstopa_warnings(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock
                        GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
