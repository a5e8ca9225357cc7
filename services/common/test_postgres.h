// For tests that run on both back ends: the URL of the throwaway PostgreSQL
// server the test command starts (see cmake/testing.cmake), or "" when there
// is none and the PostgreSQL cases should skip.
//
//   std::string url = cstopa::common::TestPostgresUrl();
//   if (url.empty()) GTEST_SKIP() << "no PostgreSQL server for tests";
#ifndef CSTOPA_SERVICES_COMMON_TEST_POSTGRES_H_
#define CSTOPA_SERVICES_COMMON_TEST_POSTGRES_H_

#include <cstdlib>
#include <fstream>
#include <string>

namespace cstopa::common {

// CSTOPA_TEST_POSTGRES_URL, else the first line of the file named by
// CSTOPA_TEST_POSTGRES_URL_FILE, else "".
inline std::string TestPostgresUrl() {
  if (const char* url = std::getenv("CSTOPA_TEST_POSTGRES_URL");
      url != nullptr && *url != '\0')
    return url;
  const char* file = std::getenv("CSTOPA_TEST_POSTGRES_URL_FILE");
  if (file == nullptr || *file == '\0') return "";
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_TEST_POSTGRES_H_
