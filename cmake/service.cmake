# cstopa_service(<name> PROTO <target> [DEPS <targets...>] [SEED_DEPS <targets...>])
#
# One service, built from its folder's layout (see docs/new-service.md):
#
#   *.cc except main.cc and *_test.cc   the library <name>_lib
#   main.cc                             the server <name>_server (not in the
#                                       sanitizer/fuzz build)
#   migrations/NNNN_<what>.sql          embedded, in version order, with
#   migrations/postgres/NNNN_<what>.sql   their PostgreSQL twins, as
#                                       cstopa::<name>::EmbeddedMigrations()
#   seed/<name>_seed.proto (optional)   the library <name>_seed_proto
#   seed/<name>_seed.textpb (optional)  embedded as k<Name>Seed
#   *_test.cc                           one unit test each; those that include
#                                       services/common/testing/test_postgres.h
#                                       also run on the throwaway PostgreSQL
#
# PROTO is the service's proto library with handlers (cstopa_<name>_v1_proto
# from proto/CMakeLists.txt; the function links its `_service` library).
# DEPS are further libraries the service's code uses (e.g. cstopa_change_feed);
# SEED_DEPS further proto libraries its seed proto imports.
# The generated header is "<folder relative to the source root>/embedded_files.h"
# (e.g. "services/membership/embedded_files.h").
function(cstopa_service name)
  cmake_parse_arguments(ARG "" "PROTO" "DEPS;SEED_DEPS" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${dir})
  string(SUBSTRING ${name} 0 1 first)
  string(TOUPPER ${first} first)
  string(SUBSTRING ${name} 1 -1 rest)
  set(camel "${first}${rest}")

  # Migrations, in version order, each with its PostgreSQL twin.
  file(GLOB migrations RELATIVE ${dir}/migrations CONFIGURE_DEPENDS
       ${dir}/migrations/[0-9][0-9][0-9][0-9]_*.sql)
  list(SORT migrations)
  set(files)
  set(list_entries)
  foreach(m ${migrations})
    if(NOT EXISTS ${dir}/migrations/postgres/${m})
      message(FATAL_ERROR "${rel}/migrations/${m} has no PostgreSQL twin "
                          "${rel}/migrations/postgres/${m}")
    endif()
    string(REGEX MATCH "^([0-9]+)_(.*)\\.sql$" _ ${m})
    set(version ${CMAKE_MATCH_1})
    set(what ${CMAKE_MATCH_2})
    math(EXPR number "${version}")  # 0001 -> 1
    string(REPLACE "_" ";" parts ${what})
    set(sym "")
    foreach(p ${parts})
      if(NOT p STREQUAL "")
        string(SUBSTRING ${p} 0 1 c)
        string(TOUPPER ${c} c)
        string(SUBSTRING ${p} 1 -1 r)
        string(APPEND sym "${c}${r}")
      endif()
    endforeach()
    list(APPEND files Migration${version}${sym} ${dir}/migrations/${m}
         Migration${version}${sym}Postgres ${dir}/migrations/postgres/${m})
    string(APPEND list_entries
           "      {${number}, \"${what}\", kMigration${version}${sym}, kMigration${version}${sym}Postgres},\n")
  endforeach()
  if(EXISTS ${dir}/seed/${name}_seed.textpb)
    list(APPEND files ${camel}Seed ${dir}/seed/${name}_seed.textpb)
  endif()
  set(header ${CMAKE_CURRENT_BINARY_DIR}/gen/${rel}/embedded_files.h)
  cstopa_embed(${header} NAMESPACE cstopa::${name} FILES ${files}
    INCLUDES "services/common/store/sql.h"
    EXTRA "// The service's migrations, in version order.
inline std::vector<::cstopa::common::Migration> EmbeddedMigrations() {
  return {
${list_entries}  }@SEMI@
}
")

  set(seed_lib)
  if(EXISTS ${dir}/seed/${name}_seed.proto)
    get_filename_component(parent ${dir} DIRECTORY)
    cstopa_proto_library(${name}_seed_proto
      ROOT ${parent}
      PROTOS ${name}/seed/${name}_seed.proto
      DEPS ${ARG_PROTO} ${ARG_SEED_DEPS})
    set(seed_lib ${name}_seed_proto)
  endif()

  file(GLOB sources RELATIVE ${dir} CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER sources EXCLUDE REGEX "(^main\\.cc$|_test\\.cc$)")
  add_library(${name}_lib STATIC ${sources})
  cstopa_warnings(${name}_lib)
  target_include_directories(${name}_lib PUBLIC ${CMAKE_CURRENT_BINARY_DIR}/gen)
  target_link_libraries(${name}_lib PUBLIC cstopa_resources cstopa_server
    ${ARG_PROTO}_service ${seed_lib} ${ARG_DEPS})

  if(NOT CSTOPA_UNIT_ONLY AND EXISTS ${dir}/main.cc)
    add_executable(${name}_server main.cc)
    cstopa_warnings(${name}_server)
    target_link_libraries(${name}_server PRIVATE ${name}_lib)
    cstopa_use_allocator(${name}_server)
  endif()

  file(GLOB tests RELATIVE ${dir} CONFIGURE_DEPENDS ${dir}/*_test.cc)
  foreach(t ${tests})
    get_filename_component(test ${t} NAME_WE)
    cstopa_test(${test} SRCS ${t} DEPS ${name}_lib LABELS unit)
    file(READ ${dir}/${t} content)
    string(FIND "${content}" "testing/test_postgres.h" uses_postgres)
    if(NOT uses_postgres EQUAL -1)
      cstopa_needs_postgres(${test})
    endif()
  endforeach()
endfunction()
