// The membership service's resources: states, parliaments and their
// delegations, persons, roles, bodies and partners, each declared once
// (membership_resources.cc) and served by the platform's standard methods
// (services/common/resources/resource.h) over the service's own tables
// (migrations/).
//
//   auto db = OpenDatabase("sqlite::memory:", MembershipSchema());
//   MembershipResources resources(db->get(), &page_tokens, &api_keys);
//   resources.states().store().Get("states/kz", false, &state);
#ifndef CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_RESOURCES_H_
#define CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_RESOURCES_H_

#include <cstdint>
#include <functional>

#include "cstopa/membership/v1/membership.pb.h"
#include "services/common/base/dates.h"
#include "services/common/resources/resource.h"

namespace cstopa::membership {

// The schema (migrations) of the membership store.
const common::SchemaSpec& MembershipSchema();

// Dates as the store's YYYYMMDD integers (see services/common/base/dates.h).
using common::EarliestDay;
using common::LatestDay;
using common::RangeHolds;

// The declarations, one per resource type.
common::ResourceDecl<v1::State> StateDecl();
common::ResourceDecl<v1::Parliament> ParliamentDecl();
common::ResourceDecl<v1::Delegation> DelegationDecl();
common::ResourceDecl<v1::Person> PersonDecl();
common::ResourceDecl<v1::Role> RoleDecl();
common::ResourceDecl<v1::Body> BodyDecl();
common::ResourceDecl<v1::Partner> PartnerDecl();

class MembershipResources {
 public:
  // `today` returns the current date as YYYYMMDD (UTC); injectable for tests.
  MembershipResources(common::Database* db,
                      const common::PageTokenCodec* tokens,
                      const common::ApiKeyStore* keys,
                      std::function<int64_t()> today = nullptr);

  common::ResourceSet& set() { return set_; }
  common::Resource<v1::State>& states() { return states_; }
  common::Resource<v1::Parliament>& parliaments() { return parliaments_; }
  common::Resource<v1::Delegation>& delegations() { return delegations_; }
  common::Resource<v1::Person>& persons() { return persons_; }
  common::Resource<v1::Role>& roles() { return roles_; }
  common::Resource<v1::Body>& bodies() { return bodies_; }
  common::Resource<v1::Partner>& partners() { return partners_; }

 private:
  common::ResourceSet set_;
  common::Resource<v1::State> states_;
  common::Resource<v1::Parliament> parliaments_;
  common::Resource<v1::Delegation> delegations_;
  common::Resource<v1::Person> persons_;
  common::Resource<v1::Role> roles_;
  common::Resource<v1::Body> bodies_;
  common::Resource<v1::Partner> partners_;
};

}  // namespace cstopa::membership

#endif  // CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_RESOURCES_H_
