#include "services/monitoring/monitoring_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/base/dates.h"
#include "services/monitoring/embedded_files.h"

namespace cstopa::monitoring {
namespace {

using common::ColumnSpec;
using common::FilterFieldType;
using common::ResourceSpec;
using common::SqlValue;
using cstopa::type::v1::DateRange;
using google::protobuf::Message;

// Texts joined as "\nt1\nt2\n" (FilterFieldType::kTextList).
template <typename Range, typename F>
std::string JoinTexts(const Range& items, F get) {
  std::string out = "\n";
  for (const auto& item : items) {
    out += get(item);
    out += '\n';
  }
  return out;
}

template <typename T, typename F>
ColumnSpec TextList(const char* name, F get) {
  return {name, FilterFieldType::kTextList, nullptr,
          [get](const Message& m) -> SqlValue {
            return get(static_cast<const T&>(m));
          }};
}

template <typename T, typename F>
ColumnSpec LocalizedList(const char* name, F get) {
  return TextList<T>(name, [get](const T& t) {
    return JoinTexts(get(t), [](const auto& x) { return x.text(); });
  });
}

template <typename T, typename F>
ColumnSpec StringColumn(const char* name, F get, bool orderable = true) {
  return {name, FilterFieldType::kString, nullptr,
          [get](const Message& m) -> SqlValue {
            return std::string(get(static_cast<const T&>(m)));
          },
          orderable};
}

template <typename T, typename F>
ColumnSpec EnumColumn(const char* name,
                      const google::protobuf::EnumDescriptor* e, F get) {
  return {name, FilterFieldType::kEnum, e,
          [get](const Message& m) -> SqlValue {
            return static_cast<int64_t>(get(static_cast<const T&>(m)));
          },
          true};
}

// `start_date` and `end_date` of a DateRange field.
template <typename T, typename F>
ColumnSpec StartDate(F get) {
  return {"start_date", FilterFieldType::kDate, nullptr,
          [get](const Message& m) -> SqlValue {
            const DateRange& r = get(static_cast<const T&>(m));
            return common::EarliestDay(r.start_date(), r.has_start_date());
          },
          true};
}

template <typename T, typename F>
ColumnSpec EndDate(F get) {
  return {"end_date", FilterFieldType::kDate, nullptr,
          [get](const Message& m) -> SqlValue {
            const DateRange& r = get(static_cast<const T&>(m));
            return common::LatestDay(r.end_date(), r.has_end_date());
          },
          true};
}

const ResourceSpec kMissions{
    "missions",
    {StringColumn<v1::Mission>("state",
                               [](const v1::Mission& r) { return r.state(); }),
     StringColumn<v1::Mission>(
         "region_code", [](const v1::Mission& r) { return r.region_code(); }),
     EnumColumn<v1::Mission>(
         "election_kind", v1::ElectionKind_descriptor(),
         [](const v1::Mission& r) { return r.election_kind(); }),
     {"year", FilterFieldType::kInt, nullptr,
      [](const Message& m) -> SqlValue {
        return int64_t{MissionYear(static_cast<const v1::Mission&>(m))};
      },
      true},
     StartDate<v1::Mission>(
         [](const v1::Mission& r) -> const DateRange& { return r.period(); }),
     EndDate<v1::Mission>(
         [](const v1::Mission& r) -> const DateRange& { return r.period(); }),
     // Each observer's person name and display names.
     TextList<v1::Mission>("observer", [](const v1::Mission& r) {
       std::string out = "\n";
       for (const v1::Participant& p : r.observers()) {
         if (!p.person().empty()) absl::StrAppend(&out, p.person(), "\n");
         for (const auto& t : p.display_name())
           absl::StrAppend(&out, t.text(), "\n");
       }
       return out;
     })}};

const ResourceSpec kOperations{
    "operations",
    {StringColumn<v1::Operation>(
         "state", [](const v1::Operation& r) { return r.state(); }),
     EnumColumn<v1::Operation>(
         "status", v1::OperationStatus_descriptor(),
         [](const v1::Operation& r) { return r.status(); }),
     TextList<v1::Operation>("contingent_state",
                             [](const v1::Operation& r) {
                               return JoinTexts(r.contingents(),
                                                [](const v1::Contingent& c) {
                                                  return c.state();
                                                });
                             }),
     LocalizedList<v1::Operation>(
         "title",
         [](const v1::Operation& r) -> const auto& { return r.title(); }),
     StartDate<v1::Operation>(
         [](const v1::Operation& r) -> const DateRange& { return r.period(); }),
     EndDate<v1::Operation>([](const v1::Operation& r) -> const DateRange& {
       return r.period();
     })}};

const ResourceSpec kRegionalOperations{
    "regional_operations",
    {LocalizedList<v1::RegionalOperation>(
         "title", [](const v1::RegionalOperation& r) -> const auto& {
           return r.title();
         }),
     StringColumn<v1::RegionalOperation>(
         "coordinating_body",
         [](const v1::RegionalOperation& r) { return r.coordinating_body(); }),
     TextList<v1::RegionalOperation>(
         "participating_state", [](const v1::RegionalOperation& r) {
           return JoinTexts(r.participating_states(),
                            [](const std::string& s) { return s; });
         })}};

const ResourceSpec kComplianceRecords{
    "compliance_records",
    {StringColumn<v1::ComplianceRecord>(
         "state", [](const v1::ComplianceRecord& r) { return r.state(); }),
     LocalizedList<v1::ComplianceRecord>(
         "obligation", [](const v1::ComplianceRecord& r) -> const auto& {
           return r.obligation();
         }),
     EnumColumn<v1::ComplianceRecord>(
         "timeliness", v1::ComplianceLevel_descriptor(),
         [](const v1::ComplianceRecord& r) { return r.timeliness(); }),
     EnumColumn<v1::ComplianceRecord>(
         "completeness", v1::ComplianceLevel_descriptor(),
         [](const v1::ComplianceRecord& r) { return r.completeness(); }),
     StringColumn<v1::ComplianceRecord>(
         "assessed_by",
         [](const v1::ComplianceRecord& r) { return r.assessed_by(); }),
     StartDate<v1::ComplianceRecord>(
         [](const v1::ComplianceRecord& r) -> const DateRange& {
           return r.period();
         }),
     EndDate<v1::ComplianceRecord>(
         [](const v1::ComplianceRecord& r) -> const DateRange& {
           return r.period();
         })}};

const ResourceSpec kFieldVisits{
    "field_visits",
    {EnumColumn<v1::FieldVisit>(
         "kind", v1::FieldVisitKind_descriptor(),
         [](const v1::FieldVisit& r) { return r.kind(); }),
     StringColumn<v1::FieldVisit>(
         "state", [](const v1::FieldVisit& r) { return r.state(); }),
     LocalizedList<v1::FieldVisit>(
         "title",
         [](const v1::FieldVisit& r) -> const auto& { return r.title(); }),
     StartDate<v1::FieldVisit>([](const v1::FieldVisit& r) -> const DateRange& {
       return r.period();
     }),
     EndDate<v1::FieldVisit>([](const v1::FieldVisit& r) -> const DateRange& {
       return r.period();
     })}};

}  // namespace

const common::SchemaSpec& MonitoringSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"monitoring",
                             {{1, "init", std::string(kMigration0001Init),
                               std::string(kMigration0001InitPostgres)}}};
  return *schema;
}

int32_t MissionYear(const v1::Mission& m) {
  if (m.period().has_start_date() && m.period().start_date().year() > 0)
    return m.period().start_date().year();
  int32_t year = 0;
  for (const auto& d : m.election_dates()) {
    if (d.year() > 0 && (year == 0 || d.year() < year)) year = d.year();
  }
  return year;
}

MonitoringStore::MonitoringStore(common::Database* db,
                                 const common::PageTokenCodec* tokens)
    : db_(db),
      missions_(db, &kMissions, tokens),
      operations_(db, &kOperations, tokens),
      regional_operations_(db, &kRegionalOperations, tokens),
      compliance_records_(db, &kComplianceRecords, tokens),
      field_visits_(db, &kFieldVisits, tokens) {
  // The same fields ListMissions filters on (see ResourceStore).
  mission_fields_.push_back({"name", "name", FilterFieldType::kString});
  mission_fields_.push_back(
      {"create_time", "create_time", FilterFieldType::kTimestamp});
  mission_fields_.push_back(
      {"update_time", "update_time", FilterFieldType::kTimestamp});
  for (const ColumnSpec& c : kMissions.columns)
    mission_fields_.push_back({c.name, c.name, c.type, c.enum_type});
}

absl::StatusOr<std::vector<MissionGroup>> MonitoringStore::CountMissions(
    const MissionCountQuery& query, absl::Time deadline) const {
  auto cond = common::CompileFilter(query.filter, mission_fields_);
  if (!cond.ok()) return cond.status();
  std::vector<std::string> where = {"delete_time IS NULL"};
  common::SqlValues params;
  if (!cond->sql.empty()) {
    where.push_back(cond->sql);
    for (auto& p : cond->params) params.push_back(std::move(p));
  }
  if (query.start_year != 0) {
    where.push_back("year >= ?");
    params.push_back(int64_t{query.start_year});
  }
  if (query.end_year != 0) {
    where.push_back("year <= ?");
    params.push_back(int64_t{query.end_year});
  }
  if (!query.state.empty()) {
    where.push_back("state = ?");
    params.push_back(query.state);
  }
  // Grouped by the plain columns, so that the index missions_summary
  // delivers the rows in group order (no sort); groups of one state that
  // differ only in region code are merged below.
  const std::string sql = absl::StrCat(
      "SELECT year, state, region_code, COUNT(*) FROM missions WHERE ",
      absl::StrJoin(where, " AND "),
      " GROUP BY year, state, region_code ORDER BY year, state, region_code");
  std::vector<MissionGroup> out;
  absl::Status s = db_->QueryOnce(
      sql, params, deadline, [&](const common::SqlRow& row) -> absl::Status {
        MissionGroup g;
        g.year = static_cast<int32_t>(row.Int(0));
        g.state = std::string(row.Bytes(1));
        g.region_code = std::string(row.Bytes(2));
        g.count = row.Int(3);
        // Missions with a state count under it, whatever region code each
        // gives (the group keeps a non-empty one); those without, under
        // their region code.
        if (!out.empty() && !g.state.empty() && out.back().year == g.year &&
            out.back().state == g.state) {
          out.back().count += g.count;
          if (out.back().region_code.empty())
            out.back().region_code = std::move(g.region_code);
        } else {
          out.push_back(std::move(g));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

}  // namespace cstopa::monitoring
