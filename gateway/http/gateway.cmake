# The HTTP/JSON front door (http_api.h): routes and transcoding from
# transcoder.cmake, the OpenAPI document from openapi.cmake, the web pages
# from web_assets.cmake, the HTTP server from services/common/http.
add_library(gateway_http_api STATIC http_api.cc popolo.cc record_export.cc wire.cc)
cstopa_warnings(gateway_http_api)
target_include_directories(gateway_http_api PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(gateway_http_api PUBLIC gateway_http_transcoder
  gateway_http_openapi gateway_web_assets cstopa_http cstopa_telemetry cstopa_errors
  cstopa_api
  cstopa_grpc_binding cstopa_membership_v1_proto cstopa_events_v1_proto
  gRPC::grpc++ cstopa_gzip)
