#include "services/common/resources/resource.h"

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/api/resource.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/common/base/dates.h"
#include "services/common/store/change_feed.h"

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
    : db_(db),
      tokens_(tokens),
      keys_(keys),
      today_(std::move(today)),
      search_index_(db, tokens) {
  if (!today_) today_ = TodayUtc;
}

void ResourceSet::Register(std::vector<std::string> collections,
                           ResourceStore* store, Validator validate,
                           Computer compute) {
  collections_.push_back(
      {std::move(collections), store, std::move(validate), std::move(compute)});
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

std::string CollectionOfType(const google::protobuf::Descriptor& message) {
  const google::api::ResourceDescriptor& resource =
      message.options().GetExtension(google::api::resource);
  if (resource.pattern_size() == 0) return "";
  return std::string(CollectionOf(resource.pattern(0)));
}

const google::protobuf::FieldDescriptor* RecordFieldOf(
    const google::protobuf::Descriptor& holder, absl::string_view collection) {
  for (int i = 0; i < holder.field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = holder.field(i);
    if (f->message_type() == nullptr || f->is_repeated()) continue;
    if (CollectionOfType(*f->message_type()) == collection) return f;
  }
  return nullptr;
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

bool ValidRequestId(absl::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(id[i]))) {
      return false;
    }
  }
  return true;
}

std::string RequestDigest(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  copy->DiscardUnknownFields();
  if (const auto* f = copy->GetDescriptor()->FindFieldByName("request_id"))
    copy->GetReflection()->ClearField(copy.get(), f);
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    copy->SerializeToCodedStream(&coded);
  }
  // FNV-1a 64 from two offsets: 128 bits, stable across builds and
  // replicas.
  auto fnv = [&bytes](uint64_t h) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    return h;
  };
  return absl::StrCat(absl::Hex(fnv(1469598103934665603ULL), absl::kZeroPad16),
                      absl::Hex(fnv(0x84222325cbf29ce4ULL), absl::kZeroPad16));
}

absl::StatusOr<std::optional<PriorRequest>> FindRequest(SqlTransaction& tx,
                                                        absl::string_view id) {
  auto rows = tx.Query(
      "SELECT name, request_digest FROM request_ids WHERE request_id = ?",
      {std::string(id)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<PriorRequest>();
  return std::optional<PriorRequest>(
      PriorRequest{AsString(rows->front()[0]), AsString(rows->front()[1])});
}

absl::Status RecordRequest(SqlTransaction& tx, absl::string_view id,
                           absl::string_view name, absl::string_view digest) {
  return tx
      .Execute(
          "INSERT INTO request_ids (request_id, name, request_digest, "
          "create_time) VALUES (?, ?, ?, ?)",
          {std::string(id), std::string(name), std::string(digest),
           absl::ToUnixMicros(absl::Now())})
      .status();
}

std::string AsOfFingerprint(const google::type::Date& d, bool present) {
  return present ? absl::StrCat("as_of=", EarliestDay(d, true)) : "as_of=";
}

void AppendBytesField(int number, absl::string_view bytes, std::string* out) {
  ResourceStore::AppendVarint((static_cast<uint64_t>(number) << 3) | 2, out);
  ResourceStore::AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

ResourceView ViewOf(const google::protobuf::Message& request,
                    const google::protobuf::FieldDescriptor* f) {
  if (f == nullptr ||
      f->type() != google::protobuf::FieldDescriptor::TYPE_ENUM ||
      f->is_repeated())
    return ResourceView::kDefault;
  const int value = request.GetReflection()->GetEnumValue(request, f);
  const google::protobuf::EnumValueDescriptor* v =
      f->enum_type()->FindValueByNumber(value);
  if (value == 0 || v == nullptr) return ResourceView::kDefault;
  if (absl::EndsWith(v->name(), "_BASIC")) return ResourceView::kBasic;
  if (absl::EndsWith(v->name(), "_FULL")) return ResourceView::kFull;
  return ResourceView::kDefault;
}

namespace {
bool ReadVarint(absl::string_view in, size_t* pos, uint64_t* out) {
  *out = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(in[(*pos)++]);
    *out |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Calls `field(number, start, value_start, end)` for each top-level field of
// the serialized message `in`; false if `in` is not a valid encoding.
template <typename F>
bool EachField(absl::string_view in, F field) {
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t start = pos;
    uint64_t tag, n;
    if (!ReadVarint(in, &pos, &tag)) return false;
    size_t value = pos;
    switch (tag & 7) {
      case 0:
        if (!ReadVarint(in, &pos, &n)) return false;
        break;
      case 1:
        pos += 8;
        break;
      case 2:
        if (!ReadVarint(in, &pos, &n) || n > in.size() - pos) return false;
        value = pos;
        pos += n;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return false;
    }
    if (pos > in.size()) return false;
    field(static_cast<int64_t>(tag >> 3), start, value, pos);
  }
  return true;
}
}  // namespace

bool WithoutFields(absl::string_view in, const std::vector<int>& omit,
                   std::string* out) {
  out->clear();
  out->reserve(in.size());
  return AppendWithout(in, omit, out);
}

size_t SizeWithout(absl::string_view in, const std::vector<int>& omit) {
  size_t size = 0;
  const bool ok =
      EachField(in, [&](int64_t number, size_t start, size_t, size_t end) {
        if (std::find(omit.begin(), omit.end(), number) == omit.end())
          size += end - start;
      });
  return ok ? size : std::string::npos;
}

bool AppendWithout(absl::string_view in, const std::vector<int>& omit,
                   std::string* out) {
  return EachField(in, [&](int64_t number, size_t start, size_t, size_t end) {
    if (std::find(omit.begin(), omit.end(), number) == omit.end())
      out->append(in.data() + start, end - start);
  });
}

void ClearFields(google::protobuf::Message* m, const std::vector<int>& omit) {
  for (int number : omit) {
    if (const auto* f = m->GetDescriptor()->FindFieldByNumber(number))
      m->GetReflection()->ClearField(m, f);
  }
}

size_t PageBudget(int64_t limit) {
  const int64_t room = std::max<int64_t>(4096, limit / 16);
  return static_cast<size_t>(std::max(limit / 2, limit - room));
}

absl::Status TooLarge(absl::string_view data, size_t bytes, int name_number,
                      int64_t limit) {
  std::string name;
  EachField(data, [&](int64_t number, size_t, size_t value, size_t end) {
    if (number == name_number) name.assign(data.data() + value, end - value);
  });
  return ErrorWithInfo(
      absl::StatusCode::kFailedPrecondition, "RESPONSE_TOO_LARGE",
      absl::StrCat("`", name, "` is ", bytes,
                   " bytes: more than one response may hold (", limit,
                   " bytes, the server's --max_message_bytes). Ask for a "
                   "smaller view, or raise the server's limit"),
      {{"resource", name},
       {"bytes", absl::StrCat(bytes)},
       {"limit", absl::StrCat(limit)}});
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
