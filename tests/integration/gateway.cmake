# gateway_server with the four real services behind it, every binary on
# loopback: each view against the seed, as-of answers, a killed and a hung
# backend, recovery without a restart, two replicas behind one target.
# Included by tests/integration/CMakeLists.txt.

cstopa_integration_test(gateway_integration_test
  SERVER gateway_server
  SRCS ${CMAKE_CURRENT_LIST_DIR}/gateway_integration_test.cc
  DEPS cstopa_gateway_v1_proto cstopa_membership_v1_proto
  TIMEOUT 300)
foreach(svc membership legislation events monitoring)
  string(TOUPPER ${svc} upper)
  target_compile_definitions(gateway_integration_test PRIVATE
    CSTOPA_${upper}_SERVER="$<TARGET_FILE:${svc}_server>")
  add_dependencies(gateway_integration_test ${svc}_server)
endforeach()
