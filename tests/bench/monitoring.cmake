# monitoring_bench: SummarizeMissions, ListMissions (filtered, page 1 and
# pages 100+) and Get/Create over generated missions, handler-level (through
# its blocking face). Included by tests/bench/CMakeLists.txt.

add_executable(monitoring_bench ${CMAKE_CURRENT_LIST_DIR}/monitoring_bench.cc)
cstopa_warnings(monitoring_bench)
target_link_libraries(monitoring_bench PRIVATE monitoring_lib
                      cstopa_latency_histogram absl::strings)

# Runs briefly: checks that every scenario runs without errors, not how fast.
add_test(NAME monitoring_bench_smoke
         COMMAND monitoring_bench --missions 6000 --iterations 20)
set_tests_properties(monitoring_bench_smoke PROPERTIES LABELS bench TIMEOUT 120)
