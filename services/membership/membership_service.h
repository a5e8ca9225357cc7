// The handler of cstopa.membership.v1.MembershipService: one method per RPC
// (the interface is generated from the proto; see
// tools/protoc-gen-cstopa), almost all of them a standard method of a
// declared resource (membership_resources.h); the summaries are computed
// here from the records; WatchMembership is served from the membership
// change feed (services/common/resources/watch.h). Tests call it through
// its blocking face, without a server:
//
//   MembershipResources resources(db, &tokens, &keys);
//   MembershipHandler handler(&resources);
//   v1::MembershipServiceBlocking membership(&handler);
//   absl::Status s = membership.GetState(caller, request, &state);
#ifndef CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_SERVICE_H_
#define CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "cstopa/membership/v1/membership.cstopa.h"
#include "services/common/resources/export.h"
#include "services/common/resources/import.h"
#include "services/common/server/server.h"
#include "services/common/store/change_feed.h"
#include "services/membership/membership_resources.h"

namespace cstopa::membership {

class MembershipHandler final : public v1::MembershipServiceHandler {
 public:
  // `resources` must outlive the handler. `exports` bounds ExportMembership
  // (common::ExportOptions; the defaults serve a production server).
  explicit MembershipHandler(MembershipResources* resources,
                             common::ExportOptions exports = {});

  void GetState(GetStateCall call) override;
  void BatchGetStates(BatchGetStatesCall call) override;
  void ListStates(ListStatesCall call) override;
  void CreateState(CreateStateCall call) override;
  void UpdateState(UpdateStateCall call) override;
  void DeleteState(DeleteStateCall call) override;
  void UndeleteState(UndeleteStateCall call) override;

  void GetParliament(GetParliamentCall call) override;
  void ListParliaments(ListParliamentsCall call) override;
  void CreateParliament(CreateParliamentCall call) override;
  void UpdateParliament(UpdateParliamentCall call) override;
  void DeleteParliament(DeleteParliamentCall call) override;
  void UndeleteParliament(UndeleteParliamentCall call) override;

  void GetDelegation(GetDelegationCall call) override;
  void ListDelegations(ListDelegationsCall call) override;
  void CreateDelegation(CreateDelegationCall call) override;
  void UpdateDelegation(UpdateDelegationCall call) override;
  void DeleteDelegation(DeleteDelegationCall call) override;
  void UndeleteDelegation(UndeleteDelegationCall call) override;

  void GetPerson(GetPersonCall call) override;
  void BatchGetPersons(BatchGetPersonsCall call) override;
  void ListPersons(ListPersonsCall call) override;
  void CreatePerson(CreatePersonCall call) override;
  void UpdatePerson(UpdatePersonCall call) override;
  void DeletePerson(DeletePersonCall call) override;
  void UndeletePerson(UndeletePersonCall call) override;

  void GetRole(GetRoleCall call) override;
  void ListRoles(ListRolesCall call) override;
  void CreateRole(CreateRoleCall call) override;
  void UpdateRole(UpdateRoleCall call) override;
  void DeleteRole(DeleteRoleCall call) override;
  void UndeleteRole(UndeleteRoleCall call) override;

  void GetBody(GetBodyCall call) override;
  void ListBodies(ListBodiesCall call) override;
  void CreateBody(CreateBodyCall call) override;
  void UpdateBody(UpdateBodyCall call) override;
  void DeleteBody(DeleteBodyCall call) override;
  void UndeleteBody(UndeleteBodyCall call) override;

  void GetPartner(GetPartnerCall call) override;
  void ListPartners(ListPartnersCall call) override;
  void CreatePartner(CreatePartnerCall call) override;
  void UpdatePartner(UpdatePartnerCall call) override;
  void DeletePartner(DeletePartnerCall call) override;
  void UndeletePartner(UndeletePartnerCall call) override;

  // Summaries, computed from asynchronous reads joined without a thread
  // waiting (MembershipResources' summary reads).
  void SummarizeState(SummarizeStateCall call) override;
  void SummarizePerson(SummarizePersonCall call) override;
  void SummarizeMembership(SummarizeMembershipCall call) override;

  // Every change of every collection, or of those the request's filter
  // names.
  void WatchMembership(WatchMembershipCall call) override;
  void ExportMembership(ExportMembershipCall call) override;
  void ImportMembership(ImportMembershipCall call) override;

  // Full-text search over every searchable record of the service (the
  // declarations' `search`), served by the resource set's index.
  void Search(SearchCall call) override;

  // Loads the seed file text (MembershipSeed in text format); idempotent.
  absl::Status LoadSeed(const std::string& text);

  // Ends every watch stream and export with UNAVAILABLE (reason
  // SERVER_SHUTTING_DOWN: reconnect with your last token, export again
  // elsewhere) and refuses new ones. The server calls it when draining
  // starts, before it stops taking calls, so that streams end at once
  // instead of at the drain deadline, and no export's read is still
  // running when the server stops.
  void BeginDrain();

 private:
  // The store's read cache: the summaries' answers are kept there too.
  common::ReadCache& Cache() const { return r_->set().db()->read_cache(); }

  MembershipResources* r_;
  // The exports running (common::ServeExport).
  common::Exports exports_;
};

// Fills a WatchMembershipResponse from a change of the membership feed of
// `resources` (what WatchMembership's common::WatchFill does): the record
// in the oneof member of its collection (common::CollectionOf its name),
// with its computed fields for today, as Get without `as_of` computes them.
void FillWatchMembershipResponse(MembershipResources& resources,
                                 const common::Change& change,
                                 const std::string& token,
                                 v1::WatchMembershipResponse* out);

// The membership service as the runner starts it (server/server.h).
common::ServiceDefinition MembershipService();

}  // namespace cstopa::membership

#endif  // CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_SERVICE_H_
