# Protocol buffer code generation.
#
# protoc runs through explicit custom commands (CMake's protobuf_generate puts
# outputs where the includes do not find them). Generated files land under
# ${CSTOPA_GEN_DIR} mirroring the import paths, e.g.
#   #include "cstopa/membership/v1/membership.grpc.pb.h"
#
# The google/{rpc,api,type} protos are not on disk in Debian; they ship inside
# the jar of libgoogle-common-protos-java. We extract them at configure time
# into the build tree. They are never committed.

set(CSTOPA_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
set(CSTOPA_GOOGLEAPIS_DIR ${CMAKE_BINARY_DIR}/googleapis)
file(MAKE_DIRECTORY ${CSTOPA_GEN_DIR})

find_program(CSTOPA_PROTOC protoc REQUIRED)
find_program(CSTOPA_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(CSTOPA_COMMON_PROTOS_JAR /usr/share/java/proto-google-common-protos.jar
    CACHE FILEPATH "Jar with google/rpc, google/api and google/type protos")
if(NOT EXISTS ${CSTOPA_GOOGLEAPIS_DIR}/google/rpc/status.proto)
  if(NOT EXISTS ${CSTOPA_COMMON_PROTOS_JAR})
    message(FATAL_ERROR "${CSTOPA_COMMON_PROTOS_JAR} is missing: install "
                        "libgoogle-common-protos-java (scripts/install-deps.sh)")
  endif()
  file(MAKE_DIRECTORY ${CSTOPA_GOOGLEAPIS_DIR})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E tar xf ${CSTOPA_COMMON_PROTOS_JAR}
            google/rpc google/api google/type
    WORKING_DIRECTORY ${CSTOPA_GOOGLEAPIS_DIR}
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "could not extract protos from ${CSTOPA_COMMON_PROTOS_JAR}")
  endif()
endif()

# The jar's google/rpc/error_details.proto predates ErrorInfo; take that file's
# descriptor from Debian's golang-google-genproto-dev instead (see
# cmake/go_descriptor.py) and drop the jar's copy so nothing imports it.
set(CSTOPA_ERROR_DETAILS_GO
    /usr/share/gocode/src/google.golang.org/genproto/googleapis/rpc/errdetails/error_details.pb.go
    CACHE FILEPATH "Go code of google/rpc/error_details.proto")
set(CSTOPA_ERROR_DETAILS_SET ${CSTOPA_GOOGLEAPIS_DIR}/error_details.binpb)
if(NOT EXISTS ${CSTOPA_ERROR_DETAILS_SET})
  if(NOT EXISTS ${CSTOPA_ERROR_DETAILS_GO})
    message(FATAL_ERROR "${CSTOPA_ERROR_DETAILS_GO} is missing: install "
                        "golang-google-genproto-dev (scripts/install-deps.sh)")
  endif()
  execute_process(
    COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/cmake/go_descriptor.py
            ${CSTOPA_ERROR_DETAILS_GO} ${CSTOPA_ERROR_DETAILS_SET}
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "could not read the descriptor of error_details.proto")
  endif()
endif()
file(REMOVE ${CSTOPA_GOOGLEAPIS_DIR}/google/rpc/error_details.proto)

# The jar's google/api/resource.proto predates `plural` and `singular`
# (AIP-123); replace it with the newer one printed back from Debian's
# golang-google-genproto-dev (cmake/go_proto_source.py).
set(CSTOPA_RESOURCE_GO
    /usr/share/gocode/src/google.golang.org/genproto/googleapis/api/annotations/resource.pb.go
    CACHE FILEPATH "Go code of google/api/resource.proto")
file(STRINGS ${CSTOPA_GOOGLEAPIS_DIR}/google/api/resource.proto _singular
     REGEX "string singular = 6;")
if(NOT _singular)
  if(NOT EXISTS ${CSTOPA_RESOURCE_GO})
    message(FATAL_ERROR "${CSTOPA_RESOURCE_GO} is missing: install "
                        "golang-google-genproto-dev (scripts/install-deps.sh)")
  endif()
  execute_process(
    COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/cmake/go_proto_source.py
            ${CSTOPA_RESOURCE_GO}
            ${CSTOPA_GOOGLEAPIS_DIR}/google/api/resource.proto
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "could not write google/api/resource.proto from ${CSTOPA_RESOURCE_GO}")
  endif()
endif()

# cstopa_proto_library(<target> ROOT <import root> PROTOS <rel paths...>
#                      [GRPC] [HANDLERS] [DEPS <targets...>]
#                      [DESCRIPTOR_SET_IN <set>])
# Compiles the given .proto files (paths relative to ROOT) into one static
# library. GRPC also generates the gRPC stubs. HANDLERS (with GRPC) also runs
# protoc-gen-cstopa (tools/protoc-gen-cstopa): each service's handler
# interface, gRPC face and blocking face (<base>.cstopa.h), in a second
# library, <target>_service. DESCRIPTOR_SET_IN reads the protos from a
# descriptor set instead of source files.
function(cstopa_proto_library target)
  cmake_parse_arguments(ARG "GRPC;HANDLERS" "ROOT;DESCRIPTOR_SET_IN" "PROTOS;DEPS"
                        ${ARGN})
  set(srcs)
  set(hdrs)
  set(abs)
  set(service_srcs)
  foreach(p ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" base ${p})
    list(APPEND srcs ${CSTOPA_GEN_DIR}/${base}.pb.cc)
    list(APPEND hdrs ${CSTOPA_GEN_DIR}/${base}.pb.h)
    if(ARG_GRPC)
      list(APPEND srcs ${CSTOPA_GEN_DIR}/${base}.grpc.pb.cc)
      list(APPEND hdrs ${CSTOPA_GEN_DIR}/${base}.grpc.pb.h)
    endif()
    if(ARG_HANDLERS)
      list(APPEND service_srcs ${CSTOPA_GEN_DIR}/${base}.cstopa.cc)
      list(APPEND hdrs ${CSTOPA_GEN_DIR}/${base}.cstopa.h)
    endif()
    if(ARG_DESCRIPTOR_SET_IN)
      list(APPEND abs ${ARG_DESCRIPTOR_SET_IN})
    else()
      list(APPEND abs ${ARG_ROOT}/${p})
    endif()
  endforeach()
  set(input_args -I${ARG_ROOT} -I${CMAKE_SOURCE_DIR}/proto -I${CSTOPA_GOOGLEAPIS_DIR}
                 -I${CMAKE_SOURCE_DIR}/services -I/usr/include)
  if(ARG_DESCRIPTOR_SET_IN)
    set(input_args --descriptor_set_in=${ARG_DESCRIPTOR_SET_IN})
  endif()
  set(grpc_args)
  set(plugin_dep)
  if(ARG_GRPC)
    set(grpc_args --grpc_out=${CSTOPA_GEN_DIR}
                  --plugin=protoc-gen-grpc=${CSTOPA_GRPC_CPP_PLUGIN})
  endif()
  if(ARG_HANDLERS)
    list(APPEND grpc_args --cstopa_out=${CSTOPA_GEN_DIR}
         --plugin=protoc-gen-cstopa=$<TARGET_FILE:protoc-gen-cstopa>)
    set(plugin_dep protoc-gen-cstopa)
  endif()
  add_custom_command(
    OUTPUT ${srcs} ${hdrs} ${service_srcs}
    COMMAND ${CSTOPA_PROTOC} ${input_args}
            --cpp_out=${CSTOPA_GEN_DIR} ${grpc_args} ${ARG_PROTOS}
    WORKING_DIRECTORY ${ARG_ROOT}
    DEPENDS ${abs} ${plugin_dep}
    COMMENT "protoc ${target}"
    VERBATIM)
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} SYSTEM PUBLIC ${CSTOPA_GEN_DIR})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${target} PUBLIC gRPC::grpc++)
  endif()
  if(ARG_HANDLERS)
    add_library(${target}_service STATIC ${service_srcs})
    target_include_directories(${target}_service SYSTEM PUBLIC ${CSTOPA_GEN_DIR})
    target_link_libraries(${target}_service PUBLIC ${target} cstopa_api
                          cstopa_grpc_binding)
  endif()
endfunction()
