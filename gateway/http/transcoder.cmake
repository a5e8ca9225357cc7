# The HTTP/JSON <-> gRPC transcoder: routes from the protos' google.api.http
# annotations (read from the descriptor set the build embeds), request JSON,
# query and path into the request's wire bytes, answers and errors as JSON.
add_library(gateway_http_transcoder STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/transcoder.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/route_template.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/json_text.cc)
cstopa_warnings(gateway_http_transcoder)
target_include_directories(gateway_http_transcoder PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(gateway_http_transcoder
  PUBLIC protobuf::libprotobuf absl::status absl::statusor absl::strings
  PRIVATE cstopa_descriptor_set_data googleapis_proto error_details_proto
          cstopa_errors absl::synchronization absl::time absl::flat_hash_map)

cstopa_test(gateway_http_transcoder_test
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/transcoder_test.cc
  DEPS gateway_http_transcoder cstopa_membership_v1_proto cstopa_errors
       googleapis_proto error_details_proto
  LABELS unit)
# The test counts the google.api.http annotations in the protos' sources.
target_compile_definitions(gateway_http_transcoder_test PRIVATE
  CSTOPA_PROTO_DIR="${CMAKE_SOURCE_DIR}/proto")
