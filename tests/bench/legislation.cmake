# The legislation benchmark's data tool (run_bench.sh runs it): fills a store
# with generated documents and writes the requests cstopa_loadgen sends.
add_executable(legislation_bench_data legislation_bench_data.cc)
cstopa_warnings(legislation_bench_data)
target_link_libraries(legislation_bench_data PRIVATE legislation_lib
                      absl::strings absl::str_format absl::time)
