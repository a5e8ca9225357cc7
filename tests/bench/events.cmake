# The events benchmark's tools (run_bench.sh runs them): events_bench_data
# fills a store with generated events and writes the requests cstopa_loadgen
# sends; events_watch_bench measures the delay from a write to a watcher.
if(TARGET events_lib)
  add_executable(events_bench_data ${CMAKE_CURRENT_LIST_DIR}/events_bench_data.cc)
  cstopa_warnings(events_bench_data)
  target_link_libraries(events_bench_data PRIVATE events_lib cstopa_server
                        absl::strings absl::str_format absl::time)

  add_executable(events_watch_bench ${CMAKE_CURRENT_LIST_DIR}/events_watch_bench.cc)
  cstopa_warnings(events_watch_bench)
  target_link_libraries(events_watch_bench PRIVATE cstopa_events_v1_proto
                        cstopa_server absl::strings absl::str_format
                        absl::synchronization absl::time gRPC::grpc++)
endif()
