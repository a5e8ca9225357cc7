// The monitoring service's resources: missions, operations, regional
// operations, compliance records, field visits and source gaps (what the
// sources leave unknown), each declared once
// (monitoring_resources.cc) and served by the platform's standard methods
// (services/common/resources/resource.h) over the service's own tables
// (migrations/), and the aggregate queries behind SummarizeMissions (the
// missions counted, and the years source gaps leave not known). Missions,
// operations and regional operations are found by the service's Search
// (services/common/resources/search_index.h); a mission whose election has
// no name is titled by its state and year.
//
// The change feed (the monitoring_changes table, services/common/store/
// change_feed.h) behind WatchMonitoring: every committed create, update,
// delete and seed insert of every collection is logged in its own
// transaction (the resource set's write hook; every write of the service
// goes through a resource's store), so it appears in the stream exactly
// once, in commit order.
//
// References to other services (`states/...`, `persons/...`, `bodies/...`)
// are checked for shape only: each service owns its data, and the gateway
// resolves names.
//
//   auto db = OpenDatabase("sqlite::memory:", MonitoringSchema());
//   MonitoringResources resources(db->get(), &page_tokens, &api_keys);
//   resources.missions().store().Get("missions/kz-2022-1", false, &mission);
#ifndef CSTOPA_SERVICES_MONITORING_MONITORING_RESOURCES_H_
#define CSTOPA_SERVICES_MONITORING_MONITORING_RESOURCES_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cstopa/monitoring/v1/monitoring.pb.h"
#include "services/common/resources/resource.h"
#include "services/common/store/change_feed.h"

namespace cstopa::monitoring {

// The schema (migrations) of the monitoring store.
const common::SchemaSpec& MonitoringSchema();

// The year a mission counts under: the year of its start date, or else of
// its earliest election date; 0 when neither is known.
int32_t MissionYear(const v1::Mission& mission);

// The declarations, one per resource type.
common::ResourceDecl<v1::Mission> MissionDecl();
common::ResourceDecl<v1::Operation> OperationDecl();
common::ResourceDecl<v1::RegionalOperation> RegionalOperationDecl();
common::ResourceDecl<v1::ComplianceRecord> ComplianceRecordDecl();
common::ResourceDecl<v1::FieldVisit> FieldVisitDecl();
common::ResourceDecl<v1::SourceGap> SourceGapDecl();

// The live missions of one year and state, as SummarizeMissions counts them.
struct MissionGroup {
  int32_t year = 0;
  std::string state;
  std::string region_code;
  int64_t count = 0;
};

// Bounds of a mission count; zero/empty means unbounded.
struct MissionCountQuery {
  std::string filter;  // ListMissions filter syntax and fields
  int32_t start_year = 0;
  int32_t end_year = 0;
  std::string state;
};

// Receives the groups of a mission count, or its error.
using MissionCountCallback =
    absl::AnyInvocable<void(absl::StatusOr<std::vector<MissionGroup>>)>;

// Receives the years source gaps cover, ascending, or the error.
using GapYearsCallback =
    absl::AnyInvocable<void(absl::StatusOr<std::set<int32_t>>)>;

// The collection IDs WatchMonitoring streams (and filters on), as they
// appear in names.
const std::vector<std::string>& WatchedCollections();

// The collection IDs a source gap may concern (SourceGap.collection): every
// collection of the service but the gaps'.
const std::vector<std::string>& GapCollections();

// The change feed settings of the monitoring service: table
// monitoring_changes, changes kept 7 days, watchers ended when 10,000
// changes behind.
common::ChangeFeedOptions MonitoringFeedOptions();

class MonitoringResources {
 public:
  // `db`, `tokens` and `keys` must outlive the resources. Starts the feed's
  // poller.
  MonitoringResources(common::Database* db,
                      const common::PageTokenCodec* tokens,
                      const common::ApiKeyStore* keys,
                      common::ChangeFeedOptions feed = MonitoringFeedOptions());

  common::ResourceSet& set() { return set_; }
  common::Resource<v1::Mission>& missions() { return missions_; }
  common::Resource<v1::Operation>& operations() { return operations_; }
  common::Resource<v1::RegionalOperation>& regional_operations() {
    return regional_operations_;
  }
  common::Resource<v1::ComplianceRecord>& compliance_records() {
    return compliance_records_;
  }
  common::Resource<v1::FieldVisit>& field_visits() { return field_visits_; }
  common::Resource<v1::SourceGap>& source_gaps() { return source_gaps_; }
  common::ChangeFeed& feed() { return feed_; }

  // Live missions grouped by year and state (missions without a state: by
  // region code), ordered by year, state, region code, in one statement (one
  // consistent snapshot) that no calling thread waits for: `done` runs once,
  // perhaps on a store thread (on the calling thread when the filter is
  // invalid). A group's region_code is one its missions give. An invalid
  // filter is INVALID_ARGUMENT (reason INVALID_FILTER).
  void CountMissions(const MissionCountQuery& query, absl::Time deadline,
                     MissionCountCallback done);

  // The years that live source gaps of `collection` (e.g. "missions")
  // cover: each year from that of a gap's start to that of its end, within
  // [start_year, end_year] (0: unbounded), in one statement that no calling
  // thread waits for; `done` runs once, perhaps on a store thread.
  void GapYears(const std::string& collection, int32_t start_year,
                int32_t end_year, absl::Time deadline, GapYearsCallback done);

 private:
  common::ResourceSet set_;
  common::ChangeFeed feed_;
  common::Resource<v1::Mission> missions_;
  common::Resource<v1::Operation> operations_;
  common::Resource<v1::RegionalOperation> regional_operations_;
  common::Resource<v1::ComplianceRecord> compliance_records_;
  common::Resource<v1::FieldVisit> field_visits_;
  common::Resource<v1::SourceGap> source_gaps_;
};

}  // namespace cstopa::monitoring

#endif  // CSTOPA_SERVICES_MONITORING_MONITORING_RESOURCES_H_
