// Serving `Import...` calls: records, as a service's Export... stream sent
// them, stored in one write transaction through the declarations every
// standard method uses. What loads another assembly, or a mirror's first
// copy, is data, not code.
//
//   void MembershipHandler::ImportMembership(ImportMembershipCall call) {
//     common::ServeImport(&r_->set(), std::move(call));
//   }
//
// The Request and Response follow a convention (read by reflection):
// - Request: `repeated <Service>Record records` (each record message has one
//   member of a oneof set, the field whose type's google.api.resource
//   pattern ends in the record's collection) and `bool validate_only`.
// - Response: `int32 created_count`, `int32 skipped_count`,
//   `repeated string skipped_names`.
//
// What an import does:
// - The caller needs the admin role.
// - Every record is checked before anything is written: one member set, a
//   name of its collection's shape, not repeated in the request, content as
//   the declaration's `validate` wants it. Then, in the write transaction,
//   each name a record refers to in this service must be among the records
//   or stored (live or deleted). Any violation fails the call with
//   INVALID_ARGUMENT (reason INVALID_ARGUMENT), every violation listed by
//   its path (`records[12].state.display_name[0].text`; the first
//   kMaxImportViolations), and nothing is stored.
// - A record whose name was ever used in the store is skipped and left as
//   it is (so a second import of the same records changes nothing); the
//   others are stored as given (ResourceStore::Import: their times kept;
//   the fields of a declaration's `compute` dropped, to be computed again
//   on read; other output-only fields, such as a document's stage, kept as
//   data), each logged
//   by the set's write hook (change feed, search index) as any create.
// - With `validate_only` the transaction is rolled back after the checks
//   and counts: the answer says what an import would do.
#ifndef CSTOPA_SERVICES_COMMON_RESOURCES_IMPORT_H_
#define CSTOPA_SERVICES_COMMON_RESOURCES_IMPORT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "services/common/api/call.h"
#include "services/common/resources/resource.h"

namespace cstopa::common {

inline constexpr int kMaxImportRecords = 100000;
inline constexpr int kMaxSkippedNames = 1000;
inline constexpr int kMaxImportViolations = 100;

namespace import_internal {

// What an import did, or would do.
struct ImportCounts {
  int created = 0;
  int skipped = 0;
  std::vector<std::string> skipped_names;  // the first kMaxSkippedNames
};

// Checks and stores `request`'s records (see the file comment) for
// `caller`, then runs `done` (on a store thread, or at once on an error
// found before the store). `request` must live until then.
void RunImport(ResourceSet* set, const Caller& caller,
               const google::protobuf::Message& request,
               absl::AnyInvocable<void(absl::StatusOr<ImportCounts>)> done);

// RunImport without a caller to check: the operator's own (a server's
// --import flag).
void RunImportUnchecked(
    ResourceSet* set, const google::protobuf::Message& request,
    absl::Time deadline,
    absl::AnyInvocable<void(absl::StatusOr<ImportCounts>)> done);

}  // namespace import_internal

// Serves the `Import...` call `call` over the collections of `set`.
template <typename Request, typename Response>
void ServeImport(ResourceSet* set, UnaryCall<Request, Response> call) {
  auto shared = std::make_shared<UnaryCall<Request, Response>>(std::move(call));
  import_internal::RunImport(
      set, shared->caller(), shared->request(),
      [shared](absl::StatusOr<import_internal::ImportCounts> counts) {
        if (!counts.ok()) return shared->Finish(counts.status());
        Response* out = shared->response();
        out->set_created_count(counts->created);
        out->set_skipped_count(counts->skipped);
        for (std::string& name : counts->skipped_names)
          out->add_skipped_names(std::move(name));
        shared->Finish(absl::OkStatus());
      });
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_RESOURCES_IMPORT_H_
