# The public web pages (web/ at the repository root) embedded into the
# gateway (web_assets.h): cmake/embed_web.py writes every file as a row of a
# table, again whenever a file changes; a file added or removed is found by
# the glob (CONFIGURE_DEPENDS re-globs at build time).
file(GLOB_RECURSE _web_files CONFIGURE_DEPENDS
     LIST_DIRECTORIES false ${CMAKE_SOURCE_DIR}/web/*)
# Hidden files and editor backups stay out (the script skips them too).
set(_web_kept)
foreach(f ${_web_files})
  file(RELATIVE_PATH _rel ${CMAKE_SOURCE_DIR}/web ${f})
  if(NOT _rel MATCHES "(^|/)\\.|~$")
    list(APPEND _web_kept ${f})
  endif()
endforeach()
set(_web_files ${_web_kept})
list(SORT _web_files)
set(_web_assets_cc ${CMAKE_CURRENT_BINARY_DIR}/web_assets_data.cc)
add_custom_command(
  OUTPUT ${_web_assets_cc}
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/cmake/embed_web.py
          ${_web_assets_cc} ${CMAKE_SOURCE_DIR}/web ${_web_files}
  DEPENDS ${_web_files} ${CMAKE_SOURCE_DIR}/cmake/embed_web.py
  COMMENT "embedding the web pages (web/)"
  VERBATIM)
add_library(gateway_web_assets STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/web_assets.cc ${_web_assets_cc})
cstopa_warnings(gateway_web_assets)
target_include_directories(gateway_web_assets PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(gateway_web_assets PUBLIC absl::strings absl::span)

cstopa_test(gateway_web_assets_test
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/web_assets_test.cc
  DEPS gateway_web_assets
  LABELS unit)
