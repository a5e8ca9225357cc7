# monitoring_server, the real binary on port 0 with a seeded SQLite store:
# seeded missions and their summary, CRUD, and error details over the wire;
# and two replicas sharing one PostgreSQL.
# Included by tests/integration/CMakeLists.txt.

cstopa_integration_test(monitoring_integration_test
  SERVER monitoring_server
  SRCS ${CMAKE_CURRENT_LIST_DIR}/monitoring_integration_test.cc
  DEPS cstopa_monitoring_v1_proto cstopa_store
  TIMEOUT 120)
# Its two-replica case runs on the throwaway PostgreSQL (skips without one).
cstopa_needs_postgres(monitoring_integration_test)
