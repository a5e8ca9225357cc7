#include "services/membership/membership_service.h"

#include <utility>

#include "google/protobuf/text_format.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/common/query/validation.h"
#include "services/membership/embedded_files.h"

namespace cstopa::membership {

MembershipHandler::MembershipHandler(MembershipResources* resources)
    : r_(resources) {}

// States ---------------------------------------------------------------------

void MembershipHandler::GetState(GetStateCall call) {
  r_->states().Get(std::move(call));
}
void MembershipHandler::BatchGetStates(BatchGetStatesCall call) {
  r_->states().BatchGet(std::move(call));
}
void MembershipHandler::ListStates(ListStatesCall call) {
  r_->states().List(std::move(call));
}
void MembershipHandler::CreateState(CreateStateCall call) {
  r_->states().Create(std::move(call));
}
void MembershipHandler::UpdateState(UpdateStateCall call) {
  r_->states().Update(std::move(call));
}
void MembershipHandler::DeleteState(DeleteStateCall call) {
  r_->states().Delete(std::move(call));
}

// Parliaments ----------------------------------------------------------------

void MembershipHandler::GetParliament(GetParliamentCall call) {
  r_->parliaments().Get(std::move(call));
}
void MembershipHandler::ListParliaments(ListParliamentsCall call) {
  r_->parliaments().List(std::move(call));
}
void MembershipHandler::CreateParliament(CreateParliamentCall call) {
  r_->parliaments().Create(std::move(call));
}
void MembershipHandler::UpdateParliament(UpdateParliamentCall call) {
  r_->parliaments().Update(std::move(call));
}
void MembershipHandler::DeleteParliament(DeleteParliamentCall call) {
  r_->parliaments().Delete(std::move(call));
}

// Delegations ----------------------------------------------------------------

void MembershipHandler::GetDelegation(GetDelegationCall call) {
  r_->delegations().Get(std::move(call));
}
void MembershipHandler::ListDelegations(ListDelegationsCall call) {
  r_->delegations().List(std::move(call));
}
void MembershipHandler::CreateDelegation(CreateDelegationCall call) {
  r_->delegations().Create(std::move(call));
}
void MembershipHandler::UpdateDelegation(UpdateDelegationCall call) {
  r_->delegations().Update(std::move(call));
}
void MembershipHandler::DeleteDelegation(DeleteDelegationCall call) {
  r_->delegations().Delete(std::move(call));
}

// Persons --------------------------------------------------------------------

void MembershipHandler::GetPerson(GetPersonCall call) {
  r_->persons().Get(std::move(call));
}
void MembershipHandler::BatchGetPersons(BatchGetPersonsCall call) {
  r_->persons().BatchGet(std::move(call));
}
void MembershipHandler::ListPersons(ListPersonsCall call) {
  r_->persons().List(std::move(call));
}
void MembershipHandler::CreatePerson(CreatePersonCall call) {
  r_->persons().Create(std::move(call));
}
void MembershipHandler::UpdatePerson(UpdatePersonCall call) {
  r_->persons().Update(std::move(call));
}
void MembershipHandler::DeletePerson(DeletePersonCall call) {
  r_->persons().Delete(std::move(call));
}

// Roles ----------------------------------------------------------------------

void MembershipHandler::GetRole(GetRoleCall call) {
  r_->roles().Get(std::move(call));
}
void MembershipHandler::ListRoles(ListRolesCall call) {
  r_->roles().List(std::move(call));
}
void MembershipHandler::CreateRole(CreateRoleCall call) {
  r_->roles().Create(std::move(call));
}
void MembershipHandler::UpdateRole(UpdateRoleCall call) {
  r_->roles().Update(std::move(call));
}
void MembershipHandler::DeleteRole(DeleteRoleCall call) {
  r_->roles().Delete(std::move(call));
}

// Bodies ---------------------------------------------------------------------

void MembershipHandler::GetBody(GetBodyCall call) {
  r_->bodies().Get(std::move(call));
}
void MembershipHandler::ListBodies(ListBodiesCall call) {
  r_->bodies().List(std::move(call));
}
void MembershipHandler::CreateBody(CreateBodyCall call) {
  r_->bodies().Create(std::move(call));
}
void MembershipHandler::UpdateBody(UpdateBodyCall call) {
  r_->bodies().Update(std::move(call));
}
void MembershipHandler::DeleteBody(DeleteBodyCall call) {
  r_->bodies().Delete(std::move(call));
}

// Partners -------------------------------------------------------------------

void MembershipHandler::GetPartner(GetPartnerCall call) {
  r_->partners().Get(std::move(call));
}
void MembershipHandler::ListPartners(ListPartnersCall call) {
  r_->partners().List(std::move(call));
}
void MembershipHandler::CreatePartner(CreatePartnerCall call) {
  r_->partners().Create(std::move(call));
}
void MembershipHandler::UpdatePartner(UpdatePartnerCall call) {
  r_->partners().Update(std::move(call));
}
void MembershipHandler::DeletePartner(DeletePartnerCall call) {
  r_->partners().Delete(std::move(call));
}

// Seed -----------------------------------------------------------------------

absl::Status MembershipHandler::LoadSeed(const std::string& text) {
  seed::MembershipSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid MembershipSeed in text format");
  // Computed "as of" fields in the file are not data.
  for (auto& r : *seed.mutable_states()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_delegations()) common::ClearOutputOnly(&r);
  // Referenced before referring: states and bodies first.
  absl::Status s = r_->states().Seed(seed.states(), "states");
  if (s.ok()) s = r_->bodies().Seed(seed.bodies(), "bodies");
  if (s.ok()) s = r_->parliaments().Seed(seed.parliaments(), "parliaments");
  if (s.ok()) s = r_->delegations().Seed(seed.delegations(), "delegations");
  if (s.ok()) s = r_->persons().Seed(seed.persons(), "persons");
  if (s.ok()) s = r_->roles().Seed(seed.roles(), "roles");
  if (s.ok()) s = r_->partners().Seed(seed.partners(), "partners");
  return s;
}

common::ServiceDefinition MembershipService() {
  common::ServiceDefinition def;
  def.name = "membership";
  def.grpc_service_name = "cstopa.membership.v1.MembershipService";
  def.default_port = 50051;
  def.default_admin_port = 9051;
  def.schema = MembershipSchema();
  def.builtin_seed = kMembershipSeed;
  def.create = common::HandlerInstance<MembershipResources, MembershipHandler>::
      Factory(&v1::NewMembershipServiceGrpc);
  return def;
}

}  // namespace cstopa::membership
