# The gateway benchmark's tool (run_bench.sh runs it): gateway_freshness_bench
# measures the delay from a write to the first gateway view showing it.
add_executable(gateway_freshness_bench
               ${CMAKE_CURRENT_LIST_DIR}/gateway_freshness_bench.cc)
cstopa_warnings(gateway_freshness_bench)
target_link_libraries(gateway_freshness_bench PRIVATE
                      cstopa_gateway_v1_proto cstopa_membership_v1_proto
                      cstopa_server absl::strings absl::str_format absl::time
                      gRPC::grpc++)
