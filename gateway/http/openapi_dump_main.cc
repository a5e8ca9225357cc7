// cstopa_openapi_dump: prints the gateway's OpenAPI document (openapi.h),
// made from the descriptor set compiled into the binary, to stdout.
//
//   cstopa_openapi_dump [server URL] > openapi.json
#include <iostream>
#include <string>

#include "gateway/http/openapi.h"
#include "gateway/http/transcoder.h"

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: " << argv[0] << " [server URL]\n";
    return 2;
  }
  auto api = cstopa::gateway::http::ApiDescriptors::Load();
  if (!api.ok()) {
    std::cerr << "cstopa_openapi_dump: " << api.status() << "\n";
    return 1;
  }
  auto routes = cstopa::gateway::http::RouteTable::Build(**api);
  if (!routes.ok()) {
    std::cerr << "cstopa_openapi_dump: " << routes.status() << "\n";
    return 1;
  }
  cstopa::gateway::http::OpenApiInfo info;
  if (argc == 2) info.server_url = argv[1];
  std::cout << cstopa::gateway::http::OpenApiDocument(**api, *routes, info);
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}
