# monitoring_server, the real binary on port 0 with a seeded SQLite store:
# seeded missions and their summary, CRUD, error details over the wire, and
# the WatchMonitoring stream; and replicas sharing one PostgreSQL.
# Included by tests/integration/CMakeLists.txt. One binary, two CTest
# entries: monitoring_integration_test runs the SQLite cases;
# monitoring_postgres_integration_test runs the *Postgres* cases with the
# `postgres` fixture.

cstopa_integration_test(monitoring_integration_test
  SERVER monitoring_server
  SRCS ${CMAKE_CURRENT_LIST_DIR}/monitoring_integration_test.cc
  DEPS cstopa_monitoring_v1_proto cstopa_store cstopa_watch_conformance
  TIMEOUT 240)
set_tests_properties(monitoring_integration_test PROPERTIES
  ENVIRONMENT "GTEST_FILTER=-*Postgres*")

add_test(NAME monitoring_postgres_integration_test
         COMMAND monitoring_integration_test --gtest_filter=*Postgres*)
set_tests_properties(monitoring_postgres_integration_test PROPERTIES
  LABELS integration TIMEOUT 240)
cstopa_needs_postgres(monitoring_postgres_integration_test)
