// Data access of the monitoring service: one ResourceStore per resource
// type over the service's own tables (migrations/), and the aggregate query
// behind SummarizeMissions.
//
//   auto db = OpenDatabase("sqlite::memory:", MonitoringSchema());
//   MonitoringStore store(db->get(), &page_tokens);
//   Mission m; store.missions().Get("missions/kz-2022-1", false, &m);
#ifndef CSTOPA_SERVICES_MONITORING_MONITORING_STORE_H_
#define CSTOPA_SERVICES_MONITORING_MONITORING_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cstopa/monitoring/v1/monitoring.pb.h"
#include "services/common/query/filter.h"
#include "services/common/store/resource_store.h"

namespace cstopa::monitoring {

// The schema (migrations) of the monitoring store.
const common::SchemaSpec& MonitoringSchema();

// The year a mission counts under: the year of its start date, or else of
// its earliest election date; 0 when neither is known.
int32_t MissionYear(const v1::Mission& mission);

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

class MonitoringStore {
 public:
  // `db` and `tokens` must outlive the store.
  MonitoringStore(common::Database* db, const common::PageTokenCodec* tokens);

  common::ResourceStore& missions() { return missions_; }
  common::ResourceStore& operations() { return operations_; }
  common::ResourceStore& regional_operations() { return regional_operations_; }
  common::ResourceStore& compliance_records() { return compliance_records_; }
  common::ResourceStore& field_visits() { return field_visits_; }

  // Live missions grouped by year and state (missions without a state: by
  // region code), ordered by year, state, region code, in one statement (one
  // consistent snapshot). A group's region_code is one its missions give.
  // An invalid filter is INVALID_ARGUMENT (reason INVALID_FILTER).
  absl::StatusOr<std::vector<MissionGroup>> CountMissions(
      const MissionCountQuery& query,
      absl::Time deadline = absl::InfiniteFuture()) const;

 private:
  common::Database* db_;
  common::ResourceStore missions_, operations_, regional_operations_,
      compliance_records_, field_visits_;
  std::vector<common::FilterField> mission_fields_;
};

}  // namespace cstopa::monitoring

#endif  // CSTOPA_SERVICES_MONITORING_MONITORING_STORE_H_
