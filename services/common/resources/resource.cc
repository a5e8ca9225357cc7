#include "services/common/resources/resource.h"

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/api/resource.pb.h"
#include "services/common/base/dates.h"

namespace cstopa::common {

absl::Status RequireRole(const ApiKeyStore& keys, const Caller& caller,
                         Role role) {
  std::optional<absl::string_view> auth;
  if (caller.authorization) auth = *caller.authorization;
  return Authorize(keys, auth, role).status();
}

int64_t TodayUtc() {
  absl::CivilDay d = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return d.year() * 10000 + d.month() * 100 + d.day();
}

absl::StatusOr<int64_t> AsOfDay(const google::type::Date& as_of, bool present,
                                const char* field, int64_t today) {
  if (!present) return today;
  if (as_of.year() == 0 || as_of.month() == 0 || as_of.day() == 0) {
    return InvalidArgument(field, "must be a full date (year, month and day)");
  }
  Violations v;
  CheckDate(v, field, as_of);
  if (auto s = v.ToStatus(); !s.ok()) return s;
  return EarliestDay(as_of, true);
}

ResourceSet::ResourceSet(Database* db, const PageTokenCodec* tokens,
                         const ApiKeyStore* keys,
                         std::function<int64_t()> today)
    : db_(db), tokens_(tokens), keys_(keys), today_(std::move(today)) {
  if (!today_) today_ = TodayUtc;
}

void ResourceSet::Register(std::vector<std::string> collections,
                           const ResourceStore* store) {
  collections_.push_back({std::move(collections), store});
}

const ResourceStore* ResourceSet::StoreFor(absl::string_view name) const {
  for (const Collection& c : collections_) {
    std::vector<absl::string_view> shape(c.ids.begin(), c.ids.end());
    if (ValidName(name, shape)) return c.store;
  }
  return nullptr;
}

absl::Status ResourceSet::CheckReferences(SqlTransaction& tx,
                                          const Refs& refs) const {
  Violations v;
  for (const auto& [field, name] : refs) {
    if (name.empty()) continue;
    const ResourceStore* store = StoreFor(name);
    if (store == nullptr) continue;  // another service's resource
    auto live = store->Exists(tx, name, /*hold=*/true);
    if (!live.ok()) return live.status();
    if (!*live)
      v.Add(field, absl::StrCat("refers to ", name, ", which does not exist"));
  }
  return v.ToStatus("UNKNOWN_REFERENCE");
}

namespace resource_internal {

std::string ResourceTypeOf(const google::protobuf::Descriptor& message) {
  return message.options().GetExtension(google::api::resource).type();
}

std::vector<std::string> CollectionsOf(absl::string_view pattern) {
  std::vector<std::string> out;
  std::vector<absl::string_view> parts = absl::StrSplit(pattern, '/');
  for (size_t i = 0; i < parts.size(); i += 2) out.emplace_back(parts[i]);
  return out;
}

const google::protobuf::FieldDescriptor* FieldOfType(
    const google::protobuf::Descriptor& type,
    const google::protobuf::Descriptor& resource) {
  for (int i = 0; i < type.field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = type.field(i);
    if (f->message_type() == &resource) return f;
  }
  return nullptr;
}

const google::protobuf::FieldDescriptor* IdField(
    const google::protobuf::Descriptor& type) {
  for (int i = 0; i < type.field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = type.field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
        !f->is_repeated() && absl::EndsWith(f->name(), "_id"))
      return f;
  }
  return nullptr;
}

namespace {
std::vector<absl::string_view> View(const std::vector<std::string>& v) {
  return std::vector<absl::string_view>(v.begin(), v.end());
}
}  // namespace

absl::Status CheckName(const std::string& field, const std::string& name,
                       const std::vector<std::string>& collections) {
  return CheckRequestName(field, name, View(collections));
}

absl::Status CheckNames(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    const std::vector<std::string>& collections) {
  Violations v;
  if (names.empty()) v.Add("names", "needs at least one name");
  if (names.size() > kMaxBatch)
    v.Add("names", absl::StrCat("at most ", kMaxBatch, " names per call"));
  for (int i = 0; i < names.size() && i < kMaxBatch; ++i)
    common::CheckName(v, absl::StrCat("names[", i, "]"), names[i],
                      View(collections), true);
  return v.ToStatus("INVALID_NAME");
}

absl::Status CheckParent(const std::string& parent,
                         const std::vector<std::string>& collections) {
  std::vector<std::string> parents(collections.begin(), collections.end() - 1);
  if (parents.empty()) return absl::OkStatus();
  if (parent == parents.front() + "/-" && parents.size() == 1)
    return absl::OkStatus();
  return CheckName("parent", parent, parents);
}

std::string AsOfFingerprint(const google::type::Date& d, bool present) {
  return present ? absl::StrCat("as_of=", EarliestDay(d, true)) : "as_of=";
}

void AppendBytesField(int number, absl::string_view bytes, std::string* out) {
  ResourceStore::AppendVarint((static_cast<uint64_t>(number) << 3) | 2, out);
  ResourceStore::AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

ListFields ListFieldsOf(const google::protobuf::Descriptor& response,
                        const google::protobuf::Descriptor& resource) {
  ListFields f;
  f.items = FieldOfType(response, resource);
  f.next_page_token = response.FindFieldByName("next_page_token");
  return f;
}

}  // namespace resource_internal
}  // namespace cstopa::common
