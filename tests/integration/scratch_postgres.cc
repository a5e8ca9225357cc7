#include "tests/integration/scratch_postgres.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cstopa::itest {

std::string ShellQuote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    result.output = absl::StrCat("popen: ", std::strerror(errno));
    return result;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0)
    result.output.append(buf, n);
  int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (status != -1 && WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

std::string PsqlPath() {
  if (const char* bin = std::getenv("PG_BIN"); bin != nullptr && *bin != '\0')
    return absl::StrCat(bin, "/psql");
  std::string best_path = "psql";
  int best = -1;
  std::error_code ec;
  std::filesystem::directory_iterator it("/usr/lib/postgresql", ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    int version = 0;
    if (!absl::SimpleAtoi(it->path().filename().string(), &version)) continue;
    std::string psql = it->path().string() + "/bin/psql";
    if (version > best && access(psql.c_str(), X_OK) == 0) {
      best = version;
      best_path = psql;
    }
  }
  return best_path;
}

CommandResult Psql(const std::string& url, const std::string& sql) {
  return RunCommand(absl::StrCat("PGCONNECT_TIMEOUT=10 timeout 60 ",
                                 ShellQuote(PsqlPath()),
                                 " -X -q -At -v ON_ERROR_STOP=1 -d ",
                                 ShellQuote(url), " -c ", ShellQuote(sql)));
}

std::string WithDatabase(const std::string& url, absl::string_view db) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const size_t host = scheme + 3;
  size_t query = url.find('?', host);
  if (query == std::string::npos) query = url.size();
  size_t path = url.find('/', host);
  if (path == std::string::npos || path > query) path = query;
  return absl::StrCat(url.substr(0, path), "/", db, url.substr(query));
}

const std::string& RunTag() {
  static const std::string* tag = new std::string(absl::StrCat(
      "r", getpid(), "t", absl::ToUnixMillis(absl::Now()) % 100000000));
  return *tag;
}

ScratchDatabases::ScratchDatabases(std::string base_url)
    : base_url_(std::move(base_url)) {}

ScratchDatabases::~ScratchDatabases() { DropAll(); }

std::string ScratchDatabases::New(absl::string_view prefix) {
  const std::string name =
      absl::StrCat(prefix, "_", RunTag(), "_", counter_++);
  CommandResult r = Psql(base_url_, absl::StrCat("CREATE DATABASE ", name));
  if (r.exit_code != 0) {
    std::cerr << "note: cannot create a database of its own (" << r.output
              << "); using the shared one, servers may not start on an "
                 "empty schema\n";
    return base_url_;
  }
  names_.push_back(name);
  return WithDatabase(base_url_, name);
}

void ScratchDatabases::DropAll() {
  for (const std::string& name : names_) {
    CommandResult r = Psql(base_url_, absl::StrCat("DROP DATABASE IF EXISTS ",
                                                   name, " WITH (FORCE)"));
    if (r.exit_code != 0) {
      std::cerr << "note: could not drop database " << name << ": "
                << r.output << "\n";
    }
  }
  names_.clear();
}

}  // namespace cstopa::itest
