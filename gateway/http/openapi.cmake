# The OpenAPI 3 document of the HTTP/JSON API, made at run time from the
# descriptors and routes the transcoder uses (openapi.h); the program that
# prints it; its unit test; and its validation with the npm package
# @apidevtools/swagger-parser (tools/node_modules, installed by
# scripts/install-deps.sh).
add_library(gateway_http_openapi STATIC ${CMAKE_CURRENT_SOURCE_DIR}/openapi.cc)
cstopa_warnings(gateway_http_openapi)
target_include_directories(gateway_http_openapi PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(gateway_http_openapi
  PUBLIC gateway_http_transcoder protobuf::libprotobuf absl::strings
  PRIVATE googleapis_proto absl::str_format)

add_executable(cstopa_openapi_dump
  ${CMAKE_CURRENT_SOURCE_DIR}/openapi_dump_main.cc)
cstopa_warnings(cstopa_openapi_dump)
target_link_libraries(cstopa_openapi_dump PRIVATE gateway_http_openapi)

cstopa_test(gateway_http_openapi_test
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/openapi_test.cc
  DEPS gateway_http_openapi googleapis_proto
  LABELS unit)

# Fails, naming it, when node or the npm package is missing.
find_program(CSTOPA_NODE node)
if(CSTOPA_NODE)
  set(_openapi_json ${CMAKE_BINARY_DIR}/openapi.json)
  add_test(NAME openapi_validate
           COMMAND sh -c "\"$<TARGET_FILE:cstopa_openapi_dump>\" > \"${_openapi_json}\" && \"${CSTOPA_NODE}\" \"${CMAKE_SOURCE_DIR}/tests/http/openapi_validate.mjs\" \"${_openapi_json}\"")
else()
  add_test(NAME openapi_validate
           COMMAND sh -c "echo 'openapi_validate: node not found (install Node.js, see scripts/install-deps.sh)' >&2; exit 1")
endif()
set_tests_properties(openapi_validate PROPERTIES
  ENVIRONMENT "NODE_PATH=${CMAKE_SOURCE_DIR}/tools/node_modules"
  LABELS integration
  TIMEOUT 120)
