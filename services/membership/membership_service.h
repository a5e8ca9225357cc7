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
#include "absl/time/time.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "services/common/arena_allocator.h"
#include "services/common/auth.h"
#include "services/common/standard_methods.h"
#include "services/membership/membership_store.h"

namespace cstopa::membership {

using common::Caller;

class MembershipHandler {
 public:
  // `today` returns the current date as YYYYMMDD (UTC); injectable for tests.
  MembershipHandler(MembershipStore* store, const common::ApiKeyStore* keys,
                    std::function<int64_t()> today = nullptr);

#define CSTOPA_MEMBERSHIP_METHOD(Method, Request, Response)             \
  absl::Status Method(const Caller& caller, const v1::Request& request, \
                      v1::Response* response);
// Methods that read one resource: their gRPC face runs the ...Async form,
// which frees the gRPC thread while the store answers.
#define CSTOPA_MEMBERSHIP_ASYNC_GETS(X)              \
  X(GetState, GetStateRequest, State)                \
  X(GetParliament, GetParliamentRequest, Parliament) \
  X(GetDelegation, GetDelegationRequest, Delegation) \
  X(GetPerson, GetPersonRequest, Person)             \
  X(GetRole, GetRoleRequest, Role)                   \
  X(GetBody, GetBodyRequest, Body)                   \
  X(GetPartner, GetPartnerRequest, Partner)
// Other methods whose gRPC face decodes and encodes messages.
#define CSTOPA_MEMBERSHIP_TYPED_METHODS(X)                            \
  X(BatchGetStates, BatchGetStatesRequest, BatchGetStatesResponse)    \
  X(ListStates, ListStatesRequest, ListStatesResponse)                \
  X(CreateState, CreateStateRequest, State)                           \
  X(UpdateState, UpdateStateRequest, State)                           \
  X(DeleteState, DeleteStateRequest, State)                           \
  X(CreateParliament, CreateParliamentRequest, Parliament)            \
  X(UpdateParliament, UpdateParliamentRequest, Parliament)            \
  X(DeleteParliament, DeleteParliamentRequest, Parliament)            \
  X(ListDelegations, ListDelegationsRequest, ListDelegationsResponse) \
  X(CreateDelegation, CreateDelegationRequest, Delegation)            \
  X(UpdateDelegation, UpdateDelegationRequest, Delegation)            \
  X(DeleteDelegation, DeleteDelegationRequest, Delegation)            \
  X(BatchGetPersons, BatchGetPersonsRequest, BatchGetPersonsResponse) \
  X(CreatePerson, CreatePersonRequest, Person)                        \
  X(UpdatePerson, UpdatePersonRequest, Person)                        \
  X(DeletePerson, DeletePersonRequest, Person)                        \
  X(CreateRole, CreateRoleRequest, Role)                              \
  X(UpdateRole, UpdateRoleRequest, Role)                              \
  X(DeleteRole, DeleteRoleRequest, Role)                              \
  X(CreateBody, CreateBodyRequest, Body)                              \
  X(UpdateBody, UpdateBodyRequest, Body)                              \
  X(DeleteBody, DeleteBodyRequest, Body)                              \
  X(CreatePartner, CreatePartnerRequest, Partner)                     \
  X(UpdatePartner, UpdatePartnerRequest, Partner)                     \
  X(DeletePartner, DeletePartnerRequest, Partner)
// Lists whose gRPC face sends stored resources without decoding them (see
// ResourceStore::ListEncoded); their handlers also have an ...Encoded form.
#define CSTOPA_MEMBERSHIP_RAW_LISTS(X)                                \
  X(ListParliaments, ListParliamentsRequest, ListParliamentsResponse) \
  X(ListPersons, ListPersonsRequest, ListPersonsResponse)             \
  X(ListRoles, ListRolesRequest, ListRolesResponse)                   \
  X(ListBodies, ListBodiesRequest, ListBodiesResponse)                \
  X(ListPartners, ListPartnersRequest, ListPartnersResponse)
// Every method whose gRPC face uses generated messages.
#define CSTOPA_MEMBERSHIP_DECODED_METHODS(X) \
  CSTOPA_MEMBERSHIP_ASYNC_GETS(X) CSTOPA_MEMBERSHIP_TYPED_METHODS(X)
#define CSTOPA_MEMBERSHIP_METHODS(X) \
  CSTOPA_MEMBERSHIP_DECODED_METHODS(X) CSTOPA_MEMBERSHIP_RAW_LISTS(X)

  CSTOPA_MEMBERSHIP_METHODS(CSTOPA_MEMBERSHIP_METHOD)
#undef CSTOPA_MEMBERSHIP_METHOD

  // `done` runs once `response` is filled or with the error, perhaps on the
  // store's I/O thread; `request` and `response` must live until then.
#define CSTOPA_MEMBERSHIP_ASYNC(Method, Request, Response)             \
  void Method##Async(const Caller& caller, const v1::Request& request, \
                     v1::Response* response, common::StatusCallback done);
  CSTOPA_MEMBERSHIP_ASYNC_GETS(CSTOPA_MEMBERSHIP_ASYNC)
#undef CSTOPA_MEMBERSHIP_ASYNC

  // The serialized List...Response, built from the stored bytes.
#define CSTOPA_MEMBERSHIP_ENCODED(Method, Request, Response)        \
  absl::StatusOr<std::string> Method##Encoded(const Caller& caller, \
                                              const v1::Request& request);
  CSTOPA_MEMBERSHIP_RAW_LISTS(CSTOPA_MEMBERSHIP_ENCODED)
#undef CSTOPA_MEMBERSHIP_ENCODED

  // Loads the seed file text (MembershipSeed in text format); idempotent.
  absl::Status LoadSeed(const std::string& text);

 private:
  absl::Status RequireRole(const Caller& caller, common::Role role) const;
  absl::StatusOr<int64_t> AsOfDay(const google::type::Date& as_of, bool present,
                                  const char* field) const;
  absl::Status CheckReferences(
      const std::vector<std::pair<std::string, std::string>>& refs);

  MembershipStore* store_;
  const common::ApiKeyStore* keys_;
  std::function<int64_t()> today_;
};

// The generated callback service with the raw (ByteBuffer) variant of the
// methods in CSTOPA_MEMBERSHIP_RAW_LISTS.
using MembershipGrpcBase =
    v1::MembershipService::WithRawCallbackMethod_ListParliaments<
        v1::MembershipService::WithRawCallbackMethod_ListPersons<
            v1::MembershipService::WithRawCallbackMethod_ListRoles<
                v1::MembershipService::WithRawCallbackMethod_ListBodies<
                    v1::MembershipService::WithRawCallbackMethod_ListPartners<
                        v1::MembershipService::CallbackService>>>>>;

// The gRPC face of MembershipHandler (callback API).
class MembershipGrpcService final : public MembershipGrpcBase {
 public:
  explicit MembershipGrpcService(MembershipHandler* handler);

#define CSTOPA_MEMBERSHIP_RPC(Method, Request, Response)             \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx, \
                                   const v1::Request* request,       \
                                   v1::Response* response) override;
  CSTOPA_MEMBERSHIP_DECODED_METHODS(CSTOPA_MEMBERSHIP_RPC)
#undef CSTOPA_MEMBERSHIP_RPC
#define CSTOPA_MEMBERSHIP_RAW_RPC(Method, Request, Response)         \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx, \
                                   const grpc::ByteBuffer* request,  \
                                   grpc::ByteBuffer* response) override;
  CSTOPA_MEMBERSHIP_RAW_LISTS(CSTOPA_MEMBERSHIP_RAW_RPC)
#undef CSTOPA_MEMBERSHIP_RAW_RPC

 private:
  MembershipHandler* handler_;
  // Every call's messages live on a per-call arena.
#define CSTOPA_MEMBERSHIP_ALLOCATOR(Method, Request, Response) \
  common::ArenaMessageAllocator<v1::Request, v1::Response> Method##_allocator_;
  CSTOPA_MEMBERSHIP_DECODED_METHODS(CSTOPA_MEMBERSHIP_ALLOCATOR)
#undef CSTOPA_MEMBERSHIP_ALLOCATOR
};

}  // namespace cstopa::membership

#endif  // CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_SERVICE_H_
