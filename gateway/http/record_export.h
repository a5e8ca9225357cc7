// `GET /v1/export`: the whole record as one download, gzip'd JSON Lines,
// made from the services' Export streams (ExportMembership, ...) one after
// the other, without holding more than a chunk of it in memory.
//
// The file (format "cstopa-export", version 1), one JSON object a line:
//
//   {"format":"cstopa-export","version":1,"exportTime":"2026-12-07T10:00:00Z",
//    "showDeleted":false}
//   {"type":"cstopa.membership.v1.State","resource":{"name":"states/am",...}}
//   ...
//   {"snapshot":{"service":"cstopa.membership.v1.MembershipService",
//    "resumeToken":"...","recordCount":"161"}}
//   ... the next service's records and snapshot ...
//   {"end":{"recordCount":"1234"}}
//
// - A record line: `type`, the record's full protobuf message name, and
//   `resource`, the record in protobuf's JSON mapping (lowerCamelCase, as
//   the HTTP API answers it).
// - After each service's records, its `snapshot`: the Watch token that
//   resumes after the snapshot its records were read from (each service
//   reads its own snapshot; a mirror watches each service from its token),
//   and how many records it sent.
// - The last line is `end` with the total. A file without it is
//   incomplete. A service that fails mid-way ends the file with an
//   `{"error": {...}}` line (the AIP-193 error JSON's `error`) and no `end`.
//   A failure before the first byte is a plain error answer.
//
// Query parameters: `show_deleted=true` (deleted records too, with their
// `deleteTime`); `format=popolo` for the Popolo JSON document instead
// (popolo.h; `cstopa-popolo.json.gz`, live records only). Anything else is
// 400.
//
// Backpressure: a service's next message is read only once the compressed
// output so far has been handed to the socket, so a slow client slows the
// services' exports (each of which bounds its own read-ahead) rather than
// filling the gateway's memory.
#ifndef CSTOPA_GATEWAY_HTTP_RECORD_EXPORT_H_
#define CSTOPA_GATEWAY_HTTP_RECORD_EXPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/http/transcoder.h"
#include "grpcpp/generic/generic_stub.h"
#include "services/common/http/http_server.h"

namespace cstopa::gateway::http {

// One service's Export method, reached through `stub`.
struct ExportSource {
  std::string service;  // "cstopa.membership.v1.MembershipService"
  const google::protobuf::MethodDescriptor* method = nullptr;
  grpc::GenericStub* stub = nullptr;
};

// The Export methods of the services in `api` that `stubs` reach, in the
// order of api.services(): every server-streaming method named Export...
std::vector<ExportSource> FindExportSources(
    const ApiDescriptors& api,
    const std::function<grpc::GenericStub*(const std::string& service)>& stubs);

// The download's options, from the query string. INVALID_ARGUMENT (with a
// field violation) for an unknown parameter or a bad value.
struct ExportQuery {
  enum class Format { kJsonLines, kPopolo };
  Format format = Format::kJsonLines;
  bool show_deleted = false;
};
absl::StatusOr<ExportQuery> ParseExportQuery(absl::string_view query);

// How the download is written from the services' Export messages. The
// download calls Begin, then Record for each record and Snapshot after each
// service's records, then End, or Failure when a service fails after the
// answer began. Each returns the text to append (possibly none).
class ExportFormat {
 public:
  virtual ~ExportFormat() = default;
  // The headers of the answer (and of a HEAD of it).
  virtual std::vector<cstopa::http::HttpHeader> Headers() const = 0;
  // Where the records of `service` (its full name) go in the download:
  // services are read in ascending order (those of one order as the API
  // lists them); a negative order: the service is not read.
  virtual int Order(const std::string& service) const = 0;
  virtual std::string Begin() = 0;
  // `bytes`: the wire form of a record of message type `type`. An error
  // when they cannot be read or written.
  virtual absl::StatusOr<std::string> Record(
      const google::protobuf::Descriptor& type, absl::string_view bytes) = 0;
  virtual absl::StatusOr<std::string> Snapshot(const std::string& service,
                                               const std::string& resume_token,
                                               int64_t record_count) = 0;
  virtual std::string End() = 0;
  // `error_json`: the AIP-193 error as JSON, `{"error": {...}}`.
  virtual std::string Failure(const std::string& error_json) = 0;
};

// The headers of a download saved as `filename` (application/gzip).
std::vector<cstopa::http::HttpHeader> DownloadHeaders(
    absl::string_view filename);

// The format `query` asks for: the JSON Lines file above (records printed
// by `transcoder`, which must outlive it) or Popolo (popolo.h).
std::unique_ptr<ExportFormat> NewExportFormat(const ExportQuery& query,
                                              const Transcoder* transcoder);

// What the gateway does around each forwarded call and at the end.
struct ExportHooks {
  // Before a call starts (metadata, tracking for shutdown) and after it ends.
  std::function<void(grpc::ClientContext*)> begin_call;
  std::function<void(grpc::ClientContext*)> end_call;
  // The download ended: the HTTP status sent, the bytes sent, the gRPC code
  // it ended with (CANCELLED when the client left) and its message.
  std::function<void(int status, size_t bytes, int grpc_code,
                     const std::string& error)>
      done;
};

// Streams the download to `exchange` (headers `extra` added to the
// answer's) in `format` from those of `sources` it reads, in order.
// Returns at once; `hooks.done` runs once at the end, on a gRPC or HTTP
// thread.
void StartRecordExport(std::vector<ExportSource> sources, ExportQuery query,
                       std::unique_ptr<ExportFormat> format,
                       const Transcoder* transcoder,
                       std::shared_ptr<cstopa::http::HttpExchange> exchange,
                       std::vector<cstopa::http::HttpHeader> extra,
                       ExportHooks hooks);

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_RECORD_EXPORT_H_
