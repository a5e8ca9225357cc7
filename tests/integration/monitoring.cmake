# monitoring_server, the real binary on port 0 with a seeded SQLite store:
# seeded missions and their summary, CRUD, and error details over the wire;
# and two replicas sharing one PostgreSQL.
# Included by tests/integration/CMakeLists.txt.

cstopa_test(monitoring_integration_test
  SRCS ${CMAKE_CURRENT_LIST_DIR}/monitoring_integration_test.cc
  DEPS cstopa_server_process cstopa_telemetry cstopa_monitoring_v1_proto
       googleapis_proto error_details_proto grpc_std_services_proto
       cstopa_store absl::strings absl::time
  LABELS integration)
target_compile_definitions(monitoring_integration_test PRIVATE
  CSTOPA_MONITORING_SERVER="$<TARGET_FILE:monitoring_server>")
add_dependencies(monitoring_integration_test monitoring_server)
set_tests_properties(monitoring_integration_test PROPERTIES TIMEOUT 120)
# Its two-replica case runs on the throwaway PostgreSQL (skips without one).
cstopa_needs_postgres(monitoring_integration_test)
