// PostgreSQL for the integration tests: psql and shell commands, and
// databases of a test's own on the throwaway server of the CTest fixture
// `postgres` (cmake/testing.cmake). A server started on a new database runs
// its migrations and seed on an empty schema, as in a first deployment.
//
//   ScratchDatabases databases(base_url);
//   std::string url = databases.New("cstopa_events_itest");
//   ... servers with --store=<url> ...
//   // dropped when `databases` goes (or at DropAll())
#ifndef CSTOPA_TESTS_INTEGRATION_SCRATCH_POSTGRES_H_
#define CSTOPA_TESTS_INTEGRATION_SCRATCH_POSTGRES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cstopa::itest {

// `s` quoted for /bin/sh.
std::string ShellQuote(absl::string_view s);

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh; the caller bounds it (`timeout N ...`).
CommandResult RunCommand(const std::string& command);

// psql as tests/postgres/pg_server.sh finds it: $PG_BIN, else the newest
// /usr/lib/postgresql/*/bin, else the PATH.
std::string PsqlPath();

// Runs one SQL command with psql on the database `url` names (bounded:
// 10 s to connect, 60 s in all).
CommandResult Psql(const std::string& url, const std::string& sql);

// `url` (postgresql://user@host:port/db?params) naming database `db`.
std::string WithDatabase(const std::string& url, absl::string_view db);

// A tag unique to this run of the test binary, usable inside resource IDs
// and database names ([a-z0-9]), so that data left by earlier runs never
// collides.
const std::string& RunTag();

// New empty databases on the server of `base_url`, dropped at the end.
class ScratchDatabases {
 public:
  explicit ScratchDatabases(std::string base_url);
  ~ScratchDatabases();  // DropAll()

  ScratchDatabases(const ScratchDatabases&) = delete;
  ScratchDatabases& operator=(const ScratchDatabases&) = delete;

  // The URL of a new database named <prefix>_<run tag>_<n>; the base URL's
  // (shared) database when one cannot be created (a server the test does
  // not own), with a note on stderr.
  std::string New(absl::string_view prefix);

  // Drops the databases made so far (the server must be up).
  void DropAll();

 private:
  const std::string base_url_;
  std::vector<std::string> names_;
  int counter_ = 0;
};

}  // namespace cstopa::itest

#endif  // CSTOPA_TESTS_INTEGRATION_SCRATCH_POSTGRES_H_
