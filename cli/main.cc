// cstopa: the command-line client of the cstopa suite. Wiring only: the
// command line (CLI11) to cli/commands.h. See cli/README.md.
#include <unistd.h>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "cli/table.h"

namespace {

constexpr char kVersion[] = "cstopa 0.1.0";

constexpr char kFooter[] =
    "Global options go before or after the command: --gateway HOST:PORT, "
    "--key KEY, --json, --lang en|ru (see cstopa --help).\n"
    "Exit codes: 0 ok; 1 the API answered with an error (one line on "
    "stderr: \"cstopa: NOT_FOUND: <message>\"); 2 usage error; 3 the gateway "
    "cannot be reached or did not answer; 4 partial answer (a view with "
    "incomplete sections, or a search some service did not answer: printed, "
    "with a warning naming them).\n"
    "Environment: CSTOPA_GATEWAY (as --gateway; default 127.0.0.1:8080), "
    "CSTOPA_API_KEY (as --key), COLUMNS (the table width when stdout is not "
    "a terminal; else 100).";

}  // namespace

int main(int argc, char** argv) {
  using cstopa::cli::Commands;
  using Run = std::function<absl::StatusOr<int>(Commands&)>;

  CLI::App app{
      "cstopa: the command-line client of the cstopa suite, the public "
      "record of the CSTO Parliamentary Assembly, read from the gateway's "
      "HTTP/JSON API. Prints aligned tables; --json prints the answers' "
      "JSON.",
      "cstopa"};
  app.footer(kFooter);  // before the subcommands, which inherit it
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  app.fallthrough();

  std::string gateway = cstopa::cli::kDefaultGateway;
  std::string api_key;
  bool json = false;
  std::string lang = "en";
  app.add_option("--gateway", gateway,
                 "The gateway's HTTP address, host:port (or http://host:port)")
      ->envname("CSTOPA_GATEWAY")
      ->capture_default_str();
  app.add_option("--key", api_key,
                 "API key, sent as \"authorization: Bearer KEY\" by call")
      ->envname("CSTOPA_API_KEY");
  app.add_flag("--json", json,
               "Print the answer's JSON (indented) instead of tables; watch "
               "prints one JSON object per line");
  app.add_option("--lang", lang, "Language of display names shown first")
      ->check(CLI::IsMember({"en", "ru"}))
      ->capture_default_str();

  Run run;
  std::string as_of;
  const char* as_of_help = "The date, YYYY-MM-DD (default: today)";

  CLI::App* states = app.add_subcommand(
      "states", "List the states: status, since when, region");
  states->add_option("--as-of", as_of, as_of_help);
  states->callback([&] { run = [&](Commands& c) { return c.States(as_of); }; });

  std::string state_id;
  CLI::App* state = app.add_subcommand(
      "state",
      "A state's profile: parliament and chambers, seats now and their "
      "history, posts, treaties and their ratification, model acts "
      "implemented, recent events, observation missions, operations");
  state->add_option("STATE", state_id, "The state's ID, e.g. kz")->required();
  state->add_option("--as-of", as_of, as_of_help);
  state->callback(
      [&] { run = [&](Commands& c) { return c.State(state_id, as_of); }; });

  std::string person_id;
  CLI::App* person = app.add_subcommand(
      "person", "A person's profile: roles over time, events, missions");
  person
      ->add_option("PERSON", person_id, "The person's ID, e.g. viktor-rogalev")
      ->required();
  person->callback(
      [&] { run = [&](Commands& c) { return c.Person(person_id); }; });

  CLI::App* dashboard = app.add_subcommand(
      "dashboard",
      "The assembly at a glance: members and observers with seats, "
      "documents per year, action plans' progress, treaty ratification, "
      "missions per year, latest and next events");
  dashboard->add_option("--as-of", as_of, as_of_help);
  dashboard->callback(
      [&] { run = [&](Commands& c) { return c.Dashboard(as_of); }; });

  std::string query, filter, order_by, page_token;
  int page_size = 0;
  bool all = false;
  std::vector<std::string> types;
  CLI::App* search = app.add_subcommand(
      "search",
      "Search the whole record for words (the gateway's Search): documents, "
      "topics, action plans and treaties; events and news; persons, bodies, "
      "states, parliaments, delegations and partners; missions and "
      "operations. Any language and script (Rogalev finds Рогалев); every "
      "word must occur; a last word without a space after it is a prefix. "
      "Prints the hits best first (type, name, date, title, the passage "
      "found, the matches in bold on a terminal), then the number of hits "
      "per type");
  search->add_option("QUERY", query, "The words to find")->required();
  search->add_option("--filter", filter,
                     "Filter over type and date, e.g. 'date >= 2024-01-01' or "
                     "'type = \"cstopa.org/Document\"'");
  search
      ->add_option("--type", types,
                   "Only hits of this resource type, e.g. Person, Document, "
                   "Event (added to --filter); repeat for any of several")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  search->add_option("--page-size", page_size, "Results per page (default 20)")
      ->check(CLI::NonNegativeNumber);
  search->add_option("--page-token", page_token, "The next page's token");
  search->callback([&] {
    run = [&](Commands& c) {
      return c.Search(query, filter, types, page_size, page_token);
    };
  });

  CLI::App* documents = app.add_subcommand(
      "documents", "List documents: kind, stage, adoption date, title");
  documents->add_option(
      "--filter", filter,
      "Filter, e.g. 'kind = DOCUMENT_KIND_MODEL_LAW' or 'adopt_date >= "
      "2020-01-01'");
  documents->add_option("--order-by", order_by,
                        "Order, e.g. 'update_time desc'");
  documents
      ->add_option("--page-size", page_size, "Documents per page (default 50)")
      ->check(CLI::NonNegativeNumber);
  documents->add_option("--page-token", page_token, "The next page's token");
  documents->add_flag("--all", all, "Follow next_page_token: every page");
  documents->callback([&] {
    run = [&](Commands& c) {
      return c.Documents(filter, order_by, page_size, page_token, all);
    };
  });

  std::string service, resume;
  CLI::App* watch = app.add_subcommand(
      "watch",
      "Follow a service's changes as they happen, one line each: commit "
      "time, change, name (and title); ends when the stream does");
  watch
      ->add_option("SERVICE", service,
                   "events, membership, legislation or monitoring")
      ->required()
      ->check(
          CLI::IsMember({"events", "membership", "legislation", "monitoring"}));
  watch->add_option("--resume", resume,
                    "Resume after the change with this token (sent as "
                    "Last-Event-ID)");
  watch->callback(
      [&] { run = [&](Commands& c) { return c.Watch(service, resume); }; });

  std::string export_file;
  std::string export_format = "jsonl";
  bool show_deleted = false;
  CLI::App* exp = app.add_subcommand(
      "export",
      "Download the whole record (every service's records, then each "
      "service's snapshot token) into FILE as gzip'd JSON Lines, or as a "
      "gzip'd Popolo JSON document (--format popolo), with a progress line; "
      "FILE appears only once the download is whole");
  exp->add_option("FILE", export_file,
                  "e.g. cstopa-export.jsonl.gz, cstopa-popolo.json.gz")
      ->required();
  exp->add_option("--format", export_format,
                  "jsonl (every record, for cstopa import and mirrors) or "
                  "popolo (persons, organizations, posts, memberships and "
                  "events, for tools that read Popolo)")
      ->check(CLI::IsMember({"jsonl", "popolo"}));
  exp->add_flag("--show-deleted", show_deleted,
                "Deleted records too, with their deleteTime (jsonl only)");
  exp->callback([&] {
    run = [&](Commands& c) {
      return c.Export(export_file, export_format == "popolo", show_deleted);
    };
  });

  std::string import_file;
  bool dry_run = false;
  CLI::App* imp = app.add_subcommand(
      "import",
      "Load an export FILE (as cstopa export writes it) into the services: "
      "every record is checked first and each refused one named by its "
      "line, nothing is loaded unless all pass; records already there are "
      "skipped, so a second import changes nothing. Sends --key (admin)");
  imp->add_option("FILE", import_file, "e.g. cstopa-export.jsonl.gz")
      ->required();
  imp->add_flag("--dry-run", dry_run,
                "Check and count only: what the import would create and skip");
  imp->callback([&] {
    run = [&](Commands& c) { return c.Import(import_file, dry_run); };
  });

  std::string method, request = "{}";
  CLI::App* call = app.add_subcommand(
      "call",
      "Call any method: POST /<full service name>/<method> with the request "
      "as protobuf JSON; prints the answer's JSON. Sends --key");
  call->add_option("SERVICE.METHOD", method,
                   "e.g. membership.v1.MembershipService.GetState (the "
                   "cstopa. prefix is optional)")
      ->required();
  call->add_option("JSON", request,
                   "The request message as JSON, e.g. '{\"name\": "
                   "\"states/kz\"}'; - reads it from stdin")
      ->capture_default_str();
  call->callback(
      [&] { run = [&](Commands& c) { return c.Call(method, request); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : cstopa::cli::kExitUsage;
  }
  if (!run) return cstopa::cli::kExitUsage;

  cstopa::cli::ClientOptions options;
  options.gateway = gateway;
  options.api_key = api_key;
  cstopa::cli::HttpClient client(options);
  cstopa::cli::Output output{
      &std::cout, &std::cerr, cstopa::cli::TerminalWidth(),
      isatty(STDOUT_FILENO) != 0, isatty(STDERR_FILENO) != 0};
  Commands commands(client, output, json, lang);
  int code = cstopa::cli::ExitCodeFor(run(commands), std::cerr);
  std::cout.flush();
  return code;
}
