// The membership service's resources: states, parliaments and their
// delegations, persons, roles, bodies and partners, each declared once
// (membership_resources.cc) and served by the platform's standard methods
// (services/common/resources/resource.h) over the service's own tables
// (migrations/), each found by its names in every language by the service's
// Search (search_index.h; roles are links and are not searched), and the
// change feed every write of any of them logs to (the membership_changes
// table, services/common/store/change_feed.h): each committed create,
// update, delete and seed insert is logged in its own transaction, so it
// appears in WatchMembership exactly once, in commit order.
//
//   auto db = OpenDatabase("sqlite::memory:", MembershipSchema());
//   MembershipResources resources(db->get(), &page_tokens, &api_keys);
//   resources.states().store().Get("states/kz", false, &state);
//
// Beside the standard methods, the reads behind the summaries
// (SummarizeState, SummarizePerson, SummarizeMembership): each one
// statement over live records, sent without a thread waiting for it
// (Database::QueryOnceAsync), joined with ReadJoin.
#ifndef CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_RESOURCES_H_
#define CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_RESOURCES_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cstopa/membership/v1/membership.pb.h"
#include "services/common/base/dates.h"
#include "services/common/resources/resource.h"
#include "services/common/store/change_feed.h"

namespace cstopa::membership {

// The schema (migrations) of the membership store.
const common::SchemaSpec& MembershipSchema();

// The collection IDs of the membership records, as in their names: what
// WatchMembership streams and filters on.
const std::vector<std::string>& MembershipCollections();

// The change feed settings of the membership service: table
// membership_changes, changes kept 7 days, watchers ended when 10,000
// changes behind.
common::ChangeFeedOptions MembershipFeedOptions();

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

// Reads started together, and one continuation once all of them have
// ended, without a thread waiting: each read gets the `done` that Add()
// makes; Start(then) runs `then` once every one has been called (on the
// thread that called the last, or inside Start when all ended before),
// with the first error in the order the reads were added, or OK.
//
//   ReadJoin join;
//   store.GetAsync(name, false, &state, deadline, join.Add());
//   resources.ReadPartners(deadline, &partners, join.Add());
//   std::move(join).Start([...](absl::Status s) {...});
class ReadJoin {
 public:
  ReadJoin();
  ReadJoin(ReadJoin&&) = default;
  ReadJoin& operator=(ReadJoin&&) = default;

  // The `done` of one more read. Only before Start.
  common::StatusCallback Add();
  // Runs `then` once every read added has ended; `then` must not block.
  void Start(common::StatusCallback then) &&;

 private:
  struct State {
    // The reads not yet ended, plus one until Start.
    std::atomic<int> pending{1};
    absl::Mutex mu;
    int first_error_index ABSL_GUARDED_BY(mu) = -1;
    absl::Status first_error ABSL_GUARDED_BY(mu);
    common::StatusCallback then;  // set by Start, before its own end
    void End(int index, absl::Status s);
  };
  std::shared_ptr<State> state_;
  int added_ = 0;
};

// Live membership records by name: what a summary resolves the names it
// shows with (display names, a parliament's chambers).
struct Directory {
  std::map<std::string, v1::State> states;
  std::map<std::string, v1::Parliament> parliaments;
  std::map<std::string, v1::Delegation> delegations;
  std::map<std::string, v1::Person> persons;
  std::map<std::string, v1::Body> bodies;

  // Whether `name` (of any membership collection) is here.
  bool Has(const std::string& name) const;
  // The display names of the record `name` of any membership collection;
  // null when it is not here.
  const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>*
  DisplayNameOf(const std::string& name) const;
  // The display names of chamber `chamber_id` of the parliament of
  // `organization` (the parliament itself, or a delegation's parent); null
  // when that parliament or chamber is not here.
  const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>*
  ChamberNameOf(const std::string& organization,
                const std::string& chamber_id) const;
};

// The parliament of a role's organization: the organization itself, or a
// delegation's parent; "" for a body.
std::string ParliamentOf(const std::string& organization);

// A delegation with the state its parliament belongs to.
struct StateDelegation {
  std::string state;
  v1::Delegation delegation;
};

class MembershipResources {
 public:
  // `today` returns the current date as YYYYMMDD (UTC); injectable for tests.
  // `db`, `tokens` and `keys` must outlive the resources. Starts the feed's
  // poller.
  MembershipResources(common::Database* db,
                      const common::PageTokenCodec* tokens,
                      const common::ApiKeyStore* keys,
                      std::function<int64_t()> today = nullptr,
                      common::ChangeFeedOptions feed = MembershipFeedOptions());

  common::ResourceSet& set() { return set_; }
  common::ChangeFeed& feed() { return feed_; }
  common::Resource<v1::State>& states() { return states_; }
  common::Resource<v1::Parliament>& parliaments() { return parliaments_; }
  common::Resource<v1::Delegation>& delegations() { return delegations_; }
  common::Resource<v1::Person>& persons() { return persons_; }
  common::Resource<v1::Role>& roles() { return roles_; }
  common::Resource<v1::Body>& bodies() { return bodies_; }
  common::Resource<v1::Partner>& partners() { return partners_; }

  // --- Reads for the summaries ------------------------------------------
  // Each is one statement over live records only, in name order, sent
  // without holding the calling thread (Database::QueryOnceAsync). `done`
  // runs once, possibly on a store thread, after `out` is filled; `out`
  // must live until then.

  // The parliaments whose `state` is `state`.
  void ReadParliamentsOfState(std::string state, absl::Time deadline,
                              std::vector<v1::Parliament>* out,
                              common::StatusCallback done);
  // The delegations of those parliaments.
  void ReadDelegationsOfState(std::string state, absl::Time deadline,
                              std::vector<v1::Delegation>* out,
                              common::StatusCallback done);
  // The live roles whose person's `state` is `state`, or whose organization
  // is one of its parliaments or one of their delegations, whatever their
  // period.
  void ReadRolesOfState(std::string state, absl::Time deadline,
                        std::vector<v1::Role>* out,
                        common::StatusCallback done);
  // Every role of `person`, whatever its period.
  void ReadRolesOfPerson(std::string person, absl::Time deadline,
                         std::vector<v1::Role>* out,
                         common::StatusCallback done);
  // Every state.
  void ReadStates(absl::Time deadline, std::vector<v1::State>* out,
                  common::StatusCallback done);
  // Every delegation of a live parliament, with that parliament's `state`.
  void ReadDelegationsWithState(absl::Time deadline,
                                std::vector<StateDelegation>* out,
                                common::StatusCallback done);
  // Every partner.
  void ReadPartners(absl::Time deadline, std::vector<v1::Partner>* out,
                    common::StatusCallback done);
  // Adds to `dir` the live records among `names` that it lacks (names of
  // other collections or services are left out): one statement per
  // collection and up to kMaxNamesPerRead names, read together. `done` as
  // above; `dir` must live until then and is written only before it.
  void ResolveNames(const std::set<std::string>& names, absl::Time deadline,
                    Directory* dir, common::StatusCallback done);

  // Names per statement of ResolveNames (bound parameters).
  static constexpr int kMaxNamesPerRead = 500;

 private:
  // SELECT data FROM the table of `resource` WHERE `where` (live rows only,
  // added here) ORDER BY name, into `out`.
  template <typename T>
  void ReadLive(common::Resource<T>& resource, const std::string& where,
                common::SqlValues params, absl::Time deadline,
                std::vector<T>* out, common::StatusCallback done);

  common::ResourceSet set_;
  common::ChangeFeed feed_;
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
