# legislation_server integration tests (legislation_integration_test.cc): the
# real binary on port 0 with a seeded SQLite store. One binary, two CTest
# entries: legislation_integration_test runs the SQLite cases;
# legislation_postgres_integration_test runs the *Postgres* cases (two
# replicas on one database: the watch stream across them) with the
# `postgres` fixture.
if(TARGET legislation_server)
  cstopa_integration_test(legislation_integration_test
    SERVER legislation_server
    SRCS ${CMAKE_CURRENT_LIST_DIR}/legislation_integration_test.cc
    DEPS cstopa_legislation_v1_proto cstopa_watch_conformance
    TIMEOUT 240)
  set_tests_properties(legislation_integration_test PROPERTIES
    ENVIRONMENT "GTEST_FILTER=-*Postgres*")

  add_test(NAME legislation_postgres_integration_test
           COMMAND legislation_integration_test --gtest_filter=*Postgres*)
  set_tests_properties(legislation_postgres_integration_test PROPERTIES
    LABELS integration TIMEOUT 240)
  cstopa_needs_postgres(legislation_postgres_integration_test)
endif()
