#include "services/membership/membership_store.h"

#include "absl/strings/match.h"
#include "services/common/columns.h"
#include "services/membership/embedded_files.h"

namespace cstopa::membership {
namespace {

using common::ColumnSpec;
using common::FilterFieldType;
using common::ResourceSpec;
using common::SqlValue;
using google::protobuf::Message;
namespace v1 = cstopa::membership::v1;

using common::EnumColumn;
using common::StringColumn;

template <typename T>
ColumnSpec DisplayName() {
  return common::DisplayNameColumn<T>();
}

const ResourceSpec kStates{
    "states",
    {DisplayName<v1::State>(),
     StringColumn<v1::State>(
         "region_code", [](const v1::State& s) { return s.region_code(); },
         true)}};

const ResourceSpec kParliaments{
    "parliaments",
    {DisplayName<v1::Parliament>(),
     StringColumn<v1::Parliament>(
         "state", [](const v1::Parliament& p) { return p.state(); }, true)}};

const ResourceSpec kDelegations{
    "delegations",
    {DisplayName<v1::Delegation>(),
     StringColumn<v1::Delegation>(
         "assembly", [](const v1::Delegation& d) { return d.assembly(); },
         true)}};

const ResourceSpec kPersons{
    "persons",
    {DisplayName<v1::Person>(),
     StringColumn<v1::Person>(
         "state", [](const v1::Person& p) { return p.state(); }, true)}};

const ResourceSpec kRoles{
    "roles",
    {StringColumn<v1::Role>(
         "person", [](const v1::Role& r) { return r.person(); }, true),
     StringColumn<v1::Role>(
         "organization", [](const v1::Role& r) { return r.organization(); },
         true),
     StringColumn<v1::Role>(
         "chamber_id", [](const v1::Role& r) { return r.chamber_id(); }, false),
     EnumColumn<v1::Role>("role_type", v1::RoleType_descriptor(),
                          [](const v1::Role& r) { return r.role_type(); }),
     {"start_date", FilterFieldType::kDate, nullptr,
      [](const Message& m) -> SqlValue {
        const auto& r = static_cast<const v1::Role&>(m);
        return EarliestDay(r.period().start_date(),
                           r.period().has_start_date());
      },
      true},
     {"end_date", FilterFieldType::kDate, nullptr,
      [](const Message& m) -> SqlValue {
        const auto& r = static_cast<const v1::Role&>(m);
        return LatestDay(r.period().end_date(), r.period().has_end_date());
      },
      true}}};

const ResourceSpec kBodies{
    "bodies",
    {DisplayName<v1::Body>(),
     EnumColumn<v1::Body>("kind", v1::BodyKind_descriptor(),
                          [](const v1::Body& b) { return b.kind(); }),
     StringColumn<v1::Body>(
         "parent_body", [](const v1::Body& b) { return b.parent_body(); },
         true)}};

const ResourceSpec kPartners{
    "partners",
    {DisplayName<v1::Partner>(),
     EnumColumn<v1::Partner>("kind", v1::PartnerKind_descriptor(),
                             [](const v1::Partner& p) { return p.kind(); }),
     EnumColumn<v1::Partner>(
         "organization_type", v1::OrganizationType_descriptor(),
         [](const v1::Partner& p) { return p.organization_type(); }),
     StringColumn<v1::Partner>(
         "region_code", [](const v1::Partner& p) { return p.region_code(); },
         true)}};

}  // namespace

const common::SchemaSpec& MembershipSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"membership",
                             {{1, "init", std::string(kMigration0001Init),
                               std::string(kMigration0001InitPostgres)}}};
  return *schema;
}

MembershipStore::MembershipStore(common::Database* db,
                                 const common::PageTokenCodec* tokens)
    : states_(db, &kStates, tokens),
      parliaments_(db, &kParliaments, tokens),
      delegations_(db, &kDelegations, tokens),
      persons_(db, &kPersons, tokens),
      roles_(db, &kRoles, tokens),
      bodies_(db, &kBodies, tokens),
      partners_(db, &kPartners, tokens) {}

absl::StatusOr<bool> MembershipStore::Exists(const std::string& name) {
  common::ResourceStore* store = nullptr;
  std::unique_ptr<Message> msg;
  if (absl::StartsWith(name, "states/")) {
    store = &states_;
    msg = std::make_unique<v1::State>();
  } else if (absl::StrContains(name, "/delegations/")) {
    store = &delegations_;
    msg = std::make_unique<v1::Delegation>();
  } else if (absl::StartsWith(name, "parliaments/")) {
    store = &parliaments_;
    msg = std::make_unique<v1::Parliament>();
  } else if (absl::StartsWith(name, "persons/")) {
    store = &persons_;
    msg = std::make_unique<v1::Person>();
  } else if (absl::StartsWith(name, "roles/")) {
    store = &roles_;
    msg = std::make_unique<v1::Role>();
  } else if (absl::StartsWith(name, "bodies/")) {
    store = &bodies_;
    msg = std::make_unique<v1::Body>();
  } else if (absl::StartsWith(name, "partners/")) {
    store = &partners_;
    msg = std::make_unique<v1::Partner>();
  } else {
    return false;
  }
  absl::Status s = store->Get(name, /*allow_deleted=*/false, msg.get());
  if (s.ok()) return true;
  if (s.code() == absl::StatusCode::kNotFound) return false;
  return s;
}

}  // namespace cstopa::membership
