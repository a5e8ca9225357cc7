# legislation_server integration tests: the real binary on port 0 with a
# seeded SQLite store.
if(TARGET legislation_server)
  cstopa_test(legislation_integration_test
    SRCS ${CMAKE_CURRENT_LIST_DIR}/legislation_integration_test.cc
    DEPS cstopa_server_process cstopa_legislation_v1_proto googleapis_proto
         error_details_proto absl::strings absl::time Threads::Threads
    LABELS integration)
  target_compile_definitions(legislation_integration_test PRIVATE
    CSTOPA_LEGISLATION_SERVER="$<TARGET_FILE:legislation_server>")
  add_dependencies(legislation_integration_test legislation_server)
  set_tests_properties(legislation_integration_test PROPERTIES TIMEOUT 180)
endif()
