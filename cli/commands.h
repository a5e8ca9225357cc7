// The cstopa commands: each builds its gateway request, calls it, and prints
// the answer as aligned tables (or, with --json, as the answer's JSON).
//
// Every command returns the process's exit code, or an error that
// ExitCodeFor turns into one after printing it on one line:
//
//   HttpClient client(options);
//   Output output{&std::cout, &std::cerr, TerminalWidth(), isatty(1) != 0};
//   Commands commands(client, output, /*json=*/false, /*lang=*/"en");
//   return ExitCodeFor(commands.State("kz", "2022-05-01"), std::cerr);
//
// Answers are read as protobuf JSON (lowerCamelCase names, enums by name)
// into google.protobuf.Value; see the gateway's and services' protos for the
// fields.
#ifndef CSTOPA_CLI_COMMANDS_H_
#define CSTOPA_CLI_COMMANDS_H_

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/http_client.h"
#include "google/protobuf/struct.pb.h"

namespace cstopa::cli {

// The exit codes a script can test.
enum ExitCode : int {
  kExitOk = 0,
  kExitApiError = 1,     // the API answered with an error
  kExitUsage = 2,        // bad command line
  kExitUnreachable = 3,  // the gateway cannot be reached or did not answer
  kExitPartial = 4,      // a view answered with incomplete sections
};

// Where and how to print.
struct Output {
  std::ostream* out;
  std::ostream* err;
  size_t width = 100;     // columns to fit tables to
  bool tty = false;       // stdout is a terminal: bold headings and matches
  bool progress = false;  // stderr is a terminal: progress lines
};

// The query parameter the gateway reads a view's or list's date from
// (google.type.Date `as_of`, in its YYYY-MM-DD form).
inline constexpr char kAsOfParameter[] = "asOf";

class Commands {
 public:
  // `client` must outlive the commands. `lang` is the language display
  // names are shown in first ("en" or "ru").
  Commands(const HttpClient& client, Output output, bool json,
           std::string lang);

  // GET /v1/states (every page).
  absl::StatusOr<int> States(const std::string& as_of);
  // GET /v1/states/{state}/profile.
  absl::StatusOr<int> State(const std::string& state, const std::string& as_of);
  // GET /v1/persons/{person}/profile.
  absl::StatusOr<int> Person(const std::string& person);
  // GET /v1/dashboard.
  absl::StatusOr<int> Dashboard(const std::string& as_of);
  // GET /v1/search (the gateway's Search: the whole record). `types` (e.g.
  // "Person", "cstopa.org/Document") are added to `filter`: the hits must
  // be of one of them.
  absl::StatusOr<int> Search(const std::string& query,
                             const std::string& filter,
                             const std::vector<std::string>& types,
                             int page_size, const std::string& page_token);
  // GET /v1/documents; every page when `all`.
  absl::StatusOr<int> Documents(const std::string& filter,
                                const std::string& order_by, int page_size,
                                const std::string& page_token, bool all);
  // GET /v1/export into `file` (gzip'd JSON Lines, or with `popolo` the
  // gzip'd Popolo document; written to FILE.part and renamed once the
  // download is whole: it ends with its `end` line, or the document with
  // its `meta`), with a progress line on stderr when it is a terminal.
  // Prints what was written: records and snapshots per service.
  absl::StatusOr<int> Export(const std::string& file, bool popolo,
                             bool show_deleted);
  // Loads an export file (as Export writes it) into the services: reads
  // every line first (a line that is not a record, a snapshot or the end is
  // refused by number), then asks each service to check its records
  // (POST /v1/{service}:import, validateOnly), printing every refused
  // record by its line; only when none is refused, imports each service's
  // records (one transaction each) and prints what was created and
  // skipped. `dry_run`: the check only. Sends the key (admin).
  absl::StatusOr<int> Import(const std::string& file, bool dry_run);
  // GET /v1/{service}:watch as Server-Sent Events, until the stream ends.
  absl::StatusOr<int> Watch(const std::string& service,
                            const std::string& resume_token);
  // POST /{full service name}/{method} with `request_json` ("-": stdin).
  absl::StatusOr<int> Call(const std::string& service_method,
                           const std::string& request_json);

 private:
  absl::StatusOr<google::protobuf::Value> Get(const std::string& path);
  // Prints the view's JSON or tables' warning for incomplete sections:
  // kExitPartial when some are, else kExitOk.
  int FinishView(const google::protobuf::Value& view);
  void PrintJson(const google::protobuf::Value& value);

  const HttpClient& client_;
  Output output_;
  bool json_;
  std::string lang_;
};

// `text` as a google.protobuf.Value; INVALID_ARGUMENT when it is not JSON.
absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text);
// Indented JSON.
std::string PrettyJson(const google::protobuf::Value& value);

// The error of a non-2xx answer: the code and message of its
// `{"error": {...}}` body, or from the HTTP status when it has none.
absl::Status ApiError(long http_status, absl::string_view body);

// A search snippet as terminal text: HTML entities unescaped, <mark>
// spans bold when `bold`, else plain.
std::string SnippetText(absl::string_view html, bool bold);

// Prints a failed result's one-line message ("cstopa: NOT_FOUND: ...") on
// `err` and returns the exit code for it; a result's own code otherwise.
int ExitCodeFor(const absl::StatusOr<int>& result, std::ostream& err);

}  // namespace cstopa::cli

#endif  // CSTOPA_CLI_COMMANDS_H_
