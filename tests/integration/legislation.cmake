# legislation_server integration tests: the real binary on port 0 with a
# seeded SQLite store.
if(TARGET legislation_server)
  cstopa_integration_test(legislation_integration_test
    SERVER legislation_server
    SRCS ${CMAKE_CURRENT_LIST_DIR}/legislation_integration_test.cc
    DEPS cstopa_legislation_v1_proto
    TIMEOUT 180)
endif()
