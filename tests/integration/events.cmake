# events_server integration tests (events_integration_test.cc): one binary,
# two CTest entries. events_integration_test runs the SQLite cases;
# events_postgres_integration_test runs the *Postgres* cases (two replicas on
# one database) with the `postgres` fixture.
if(TARGET events_server)
  cstopa_integration_test(events_integration_test
    SERVER events_server
    SRCS ${CMAKE_CURRENT_LIST_DIR}/events_integration_test.cc
    DEPS cstopa_events_v1_proto
    TIMEOUT 240)
  set_tests_properties(events_integration_test PROPERTIES
    ENVIRONMENT "GTEST_FILTER=-*Postgres*")

  add_test(NAME events_postgres_integration_test
           COMMAND events_integration_test --gtest_filter=*Postgres*)
  set_tests_properties(events_postgres_integration_test PROPERTIES
    LABELS integration TIMEOUT 240)
  cstopa_needs_postgres(events_postgres_integration_test)
endif()
