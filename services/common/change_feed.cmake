# The change log and watcher hub behind Watch streams (change_feed.h).
# Included from services/common/CMakeLists.txt (and, until then, from
# services/events/CMakeLists.txt, guarded by `if(NOT TARGET cstopa_change_feed)`).

add_library(cstopa_change_feed STATIC
  ${CMAKE_SOURCE_DIR}/services/common/change_feed.cc)
cstopa_warnings(cstopa_change_feed)
target_link_libraries(cstopa_change_feed PUBLIC cstopa_store cstopa_errors
                      cstopa_paging absl::statusor absl::synchronization
                      absl::time Threads::Threads)

cstopa_test(change_feed_test
  SRCS ${CMAKE_SOURCE_DIR}/services/common/change_feed_test.cc
  DEPS cstopa_change_feed LABELS unit)
cstopa_needs_postgres(change_feed_test)
