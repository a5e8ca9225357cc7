// Handlers of cstopa.membership.v1.MembershipService, and their gRPC wiring.
//
// MembershipHandler holds the logic: validation, authorization, "as of"
// computations, reference checks, standard-method semantics. It takes plain
// constructor arguments and returns absl::Status, so tests call it without a
// server. MembershipGrpcService adapts it to the gRPC callback API.
//
//   MembershipStore store(db, &tokens);
//   MembershipHandler handler(&store, &api_keys);
//   v1::State state;
//   absl::Status s = handler.GetState({}, request, &state);
#ifndef CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_SERVICE_H_
#define CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_SERVICE_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "services/common/auth.h"
#include "services/membership/membership_store.h"

namespace cstopa::membership {

// What a handler knows about the caller.
struct Caller {
  // Value of the `authorization` metadata, if sent.
  std::optional<std::string> authorization;
};

class MembershipHandler {
 public:
  // `today` returns the current date as YYYYMMDD (UTC); injectable for tests.
  MembershipHandler(MembershipStore* store, const common::ApiKeyStore* keys,
                    std::function<int64_t()> today = nullptr);

#define CSTOPA_MEMBERSHIP_METHOD(Method, Request, Response)  \
  absl::Status Method(const Caller& caller, const v1::Request& request, \
                      v1::Response* response);
#define CSTOPA_MEMBERSHIP_METHODS(X)                                         \
  X(GetState, GetStateRequest, State)                                        \
  X(BatchGetStates, BatchGetStatesRequest, BatchGetStatesResponse)           \
  X(ListStates, ListStatesRequest, ListStatesResponse)                       \
  X(CreateState, CreateStateRequest, State)                                  \
  X(UpdateState, UpdateStateRequest, State)                                  \
  X(DeleteState, DeleteStateRequest, State)                                  \
  X(GetParliament, GetParliamentRequest, Parliament)                         \
  X(ListParliaments, ListParliamentsRequest, ListParliamentsResponse)        \
  X(CreateParliament, CreateParliamentRequest, Parliament)                   \
  X(UpdateParliament, UpdateParliamentRequest, Parliament)                   \
  X(DeleteParliament, DeleteParliamentRequest, Parliament)                   \
  X(GetDelegation, GetDelegationRequest, Delegation)                         \
  X(ListDelegations, ListDelegationsRequest, ListDelegationsResponse)        \
  X(CreateDelegation, CreateDelegationRequest, Delegation)                   \
  X(UpdateDelegation, UpdateDelegationRequest, Delegation)                   \
  X(DeleteDelegation, DeleteDelegationRequest, Delegation)                   \
  X(GetPerson, GetPersonRequest, Person)                                     \
  X(BatchGetPersons, BatchGetPersonsRequest, BatchGetPersonsResponse)        \
  X(ListPersons, ListPersonsRequest, ListPersonsResponse)                    \
  X(CreatePerson, CreatePersonRequest, Person)                               \
  X(UpdatePerson, UpdatePersonRequest, Person)                               \
  X(DeletePerson, DeletePersonRequest, Person)                               \
  X(GetRole, GetRoleRequest, Role)                                           \
  X(ListRoles, ListRolesRequest, ListRolesResponse)                          \
  X(CreateRole, CreateRoleRequest, Role)                                     \
  X(UpdateRole, UpdateRoleRequest, Role)                                     \
  X(DeleteRole, DeleteRoleRequest, Role)                                     \
  X(GetBody, GetBodyRequest, Body)                                           \
  X(ListBodies, ListBodiesRequest, ListBodiesResponse)                       \
  X(CreateBody, CreateBodyRequest, Body)                                     \
  X(UpdateBody, UpdateBodyRequest, Body)                                     \
  X(DeleteBody, DeleteBodyRequest, Body)                                     \
  X(GetPartner, GetPartnerRequest, Partner)                                  \
  X(ListPartners, ListPartnersRequest, ListPartnersResponse)                 \
  X(CreatePartner, CreatePartnerRequest, Partner)                            \
  X(UpdatePartner, UpdatePartnerRequest, Partner)                            \
  X(DeletePartner, DeletePartnerRequest, Partner)

  CSTOPA_MEMBERSHIP_METHODS(CSTOPA_MEMBERSHIP_METHOD)
#undef CSTOPA_MEMBERSHIP_METHOD

  // Loads the seed file text (MembershipSeed in text format); idempotent.
  absl::Status LoadSeed(const std::string& text);

 private:
  absl::Status RequireRole(const Caller& caller, common::Role role) const;
  absl::StatusOr<int64_t> AsOfDay(const google::type::Date& as_of,
                                  bool present, const char* field) const;
  absl::Status CheckReferences(
      const std::vector<std::pair<std::string, std::string>>& refs);

  MembershipStore* store_;
  const common::ApiKeyStore* keys_;
  std::function<int64_t()> today_;
};

// The gRPC face of MembershipHandler (callback API).
class MembershipGrpcService final
    : public v1::MembershipService::CallbackService {
 public:
  explicit MembershipGrpcService(MembershipHandler* handler)
      : handler_(handler) {}

#define CSTOPA_MEMBERSHIP_RPC(Method, Request, Response)           \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx, \
                                   const v1::Request* request,       \
                                   v1::Response* response) override;
  CSTOPA_MEMBERSHIP_METHODS(CSTOPA_MEMBERSHIP_RPC)
#undef CSTOPA_MEMBERSHIP_RPC

 private:
  MembershipHandler* handler_;
};

}  // namespace cstopa::membership

#endif  // CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_SERVICE_H_
