// Data access of the membership service: one ResourceStore per resource
// type, over the service's own tables (migrations/).
//
//   auto db = OpenDatabase("sqlite::memory:", MembershipSchema());
//   MembershipStore store(db->get(), &page_tokens);
//   State s; store.states().Get("states/kz", false, &s);
#ifndef CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_STORE_H_
#define CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_STORE_H_

#include <string>

#include "absl/status/status.h"
#include "cstopa/membership/v1/membership.pb.h"
#include "google/type/date.pb.h"
#include "services/common/dates.h"
#include "services/common/resource_store.h"

namespace cstopa::membership {

// The schema (migrations) of the membership store.
const common::SchemaSpec& MembershipSchema();

// Dates as the store's YYYYMMDD integers (see services/common/dates.h).
using common::EarliestDay;
using common::LatestDay;
using common::RangeHolds;

class MembershipStore {
 public:
  MembershipStore(common::Database* db, const common::PageTokenCodec* tokens);

  common::ResourceStore& states() { return states_; }
  common::ResourceStore& parliaments() { return parliaments_; }
  common::ResourceStore& delegations() { return delegations_; }
  common::ResourceStore& persons() { return persons_; }
  common::ResourceStore& roles() { return roles_; }
  common::ResourceStore& bodies() { return bodies_; }
  common::ResourceStore& partners() { return partners_; }

  // Whether a live resource with this name exists (any membership type).
  absl::StatusOr<bool> Exists(const std::string& name);

 private:
  common::ResourceStore states_, parliaments_, delegations_, persons_, roles_,
      bodies_, partners_;
};

}  // namespace cstopa::membership

#endif  // CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_STORE_H_
