# membership_integration_test (registered in CMakeLists.txt) is one binary
# with two CTest entries: membership_integration_test runs the SQLite cases;
# membership_postgres_integration_test runs the *Postgres* cases (replicas on
# one database: the watch stream across them) with the `postgres` fixture.
target_link_libraries(membership_integration_test PRIVATE
  cstopa_watch_conformance)
set_property(TEST membership_integration_test APPEND PROPERTY ENVIRONMENT
  "GTEST_FILTER=-*Postgres*")

add_test(NAME membership_postgres_integration_test
         COMMAND membership_integration_test --gtest_filter=*Postgres*)
set_tests_properties(membership_postgres_integration_test PROPERTIES
  LABELS integration TIMEOUT 240)
cstopa_needs_postgres(membership_postgres_integration_test)

# cstopa.batch.v1.BatchService on membership_server, and the client's
# CallBatcher through it.
cstopa_integration_test(batch_integration_test
  SERVER membership_server
  SRCS ${CMAKE_CURRENT_LIST_DIR}/batch_integration_test.cc
  DEPS cstopa_membership_v1_proto cstopa_batch_v1_proto
  TIMEOUT 120)
