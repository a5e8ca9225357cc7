#include "services/common/resources/import.h"

#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/base/errors.h"
#include "services/common/base/gzip.h"
#include "services/common/query/validation.h"

namespace cstopa::common::import_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// One record of the request, checked.
struct Item {
  const Message* resource;
  std::string name;
  const ResourceSet::Collection* collection;
};

// What the write transaction needs, shared with its callbacks.
struct Work {
  std::vector<Item> items;
  std::map<std::string, int> index;  // a record's name -> its place
  Refs refs;                         // what they refer to
  bool validate_only = false;
  ImportCounts counts;
  bool rolled_back = false;  // validate_only's rollback, not a failure
};

// The message fields of a Record message, for the error of one with none
// set.
std::string MembersOf(const Descriptor& record) {
  std::vector<std::string> members;
  for (int k = 0; k < record.field_count(); ++k) {
    const FieldDescriptor* f = record.field(k);
    if (f->message_type() != nullptr && !f->is_repeated())
      members.push_back(f->name());
  }
  return absl::StrJoin(members, ", ");
}

}  // namespace

void RunImport(ResourceSet* set, const Caller& caller,
               const google::protobuf::Message& request,
               absl::AnyInvocable<void(absl::StatusOr<ImportCounts>)> done) {
  if (absl::Status s = RequireRole(set->keys(), caller, Role::kAdmin); !s.ok())
    return done(s);
  RunImportUnchecked(set, request, caller.deadline, std::move(done));
}

void RunImportUnchecked(
    ResourceSet* set, const google::protobuf::Message& request,
    absl::Time deadline,
    absl::AnyInvocable<void(absl::StatusOr<ImportCounts>)> done) {
  const Descriptor& d = *request.GetDescriptor();
  const auto* r = request.GetReflection();
  const FieldDescriptor* records = d.FindFieldByName("records");
  const FieldDescriptor* validate_only = d.FindFieldByName("validate_only");
  if (records == nullptr || records->message_type() == nullptr)
    return done(absl::InternalError(
        absl::StrCat(d.full_name(), " has no `records` of messages")));

  std::map<std::string, const ResourceSet::Collection*> by_collection;
  for (const ResourceSet::Collection& c : set->collections())
    by_collection[c.ids.back()] = &c;

  auto work = std::make_shared<Work>();
  work->validate_only =
      validate_only != nullptr && r->GetBool(request, validate_only);
  const int n = r->FieldSize(request, records);
  Violations v;
  if (n == 0) v.Add("records", "is required: the records to load");
  if (n > kMaxImportRecords) {
    v.Add("records",
          absl::StrCat(n, " records; at most ", kMaxImportRecords, " a call"));
    return done(v.ToStatus());
  }
  for (int i = 0; i < n && static_cast<int>(v.size()) < kMaxImportViolations;
       ++i) {
    const Message& record = r->GetRepeatedMessage(request, records, i);
    const std::string path = absl::StrCat("records[", i, "]");
    // The one member set (a oneof): the record's only field present.
    std::vector<const FieldDescriptor*> set_fields;
    record.GetReflection()->ListFields(record, &set_fields);
    const FieldDescriptor* member = nullptr;
    for (const FieldDescriptor* f : set_fields)
      if (f->message_type() != nullptr && !f->is_repeated()) member = f;
    if (member == nullptr) {
      v.Add(path, absl::StrCat("holds no record; set one of ",
                               MembersOf(*record.GetDescriptor())));
      continue;
    }
    auto c = by_collection.find(
        resource_internal::CollectionOfType(*member->message_type()));
    if (c == by_collection.end()) {
      v.Add(path, absl::StrCat(member->name(), " is not stored here"));
      continue;
    }
    const Message& resource =
        record.GetReflection()->GetMessage(record, member);
    const std::string prefix = absl::StrCat(path, ".", member->name());
    const FieldDescriptor* name_field =
        resource.GetDescriptor()->FindFieldByName("name");
    const std::string name =
        name_field == nullptr
            ? ""
            : resource.GetReflection()->GetString(resource, name_field);
    std::vector<absl::string_view> shape(c->second->ids.begin(),
                                         c->second->ids.end());
    CheckName(v, prefix + ".name", name, shape, true);
    if (auto [it, fresh] = work->index.emplace(name, i); !fresh) {
      v.Add(prefix + ".name",
            absl::StrCat("\"", name, "\" is also records[", it->second, "]"));
    }
    c->second->validate(resource, prefix + ".", v, work->refs);
    work->items.push_back({&resource, name, c->second});
  }
  if (!v.empty()) return done(v.ToStatus());

  set->db()->WriteAsync(
      deadline,
      [set, work](SqlTransaction& tx) -> absl::Status {
        work->counts = ImportCounts();
        for (const Item& item : work->items) {
          std::unique_ptr<Message> copy(item.resource->New());
          copy->CopyFrom(*item.resource);
          // Computed on read (day 0: cleared); the times are the record's.
          item.collection->compute(copy.get(), 0);
          absl::StatusOr<bool> inserted =
              item.collection->store->Import(tx, copy.get());
          if (!inserted.ok()) return inserted.status();
          if (*inserted) {
            ++work->counts.created;
          } else {
            ++work->counts.skipped;
            if (work->counts.skipped_names.size() < kMaxSkippedNames)
              work->counts.skipped_names.push_back(item.name);
          }
        }
        Violations missing;
        for (const auto& [field, name] : work->refs) {
          if (work->index.count(name) > 0) continue;
          const ResourceStore* store = set->StoreFor(name);
          if (store == nullptr) continue;  // another service's: shape only
          absl::StatusOr<bool> used = store->Used(tx, name);
          if (!used.ok()) return used.status();
          if (!*used) {
            missing.Add(field, absl::StrCat("refers to ", name,
                                            ", which is neither among the "
                                            "records nor stored"));
            if (static_cast<int>(missing.size()) >= kMaxImportViolations) break;
          }
        }
        if (!missing.empty()) return missing.ToStatus("UNKNOWN_REFERENCE");
        if (work->validate_only) {
          work->rolled_back = true;
          return absl::AbortedError("validate_only: rolled back");
        }
        return absl::OkStatus();
      },
      [set, work, done = std::move(done)](absl::Status status) mutable {
        if (!work->rolled_back) {
          if (!status.ok()) return done(std::move(status));
          set->AfterCommit();
        }
        done(std::move(work->counts));
      });
}

}  // namespace cstopa::common::import_internal

namespace cstopa::common {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// `message` with each `records[N]` preceded by the line record N came from.
std::string NameLines(absl::string_view message,
                      const std::vector<int>& line_of) {
  std::string out;
  constexpr absl::string_view kRecords = "records[";
  size_t at = 0;
  for (size_t found;
       (found = message.find(kRecords, at)) != absl::string_view::npos;) {
    const size_t close = message.find(']', found);
    if (close == absl::string_view::npos) break;
    int index = -1;
    const absl::string_view digits = message.substr(
        found + kRecords.size(), close - found - kRecords.size());
    if (!absl::SimpleAtoi(digits, &index) || index < 0 ||
        index >= static_cast<int>(line_of.size())) {
      absl::StrAppend(&out, message.substr(at, close + 1 - at));
      at = close + 1;
      continue;
    }
    absl::StrAppend(&out, message.substr(at, found - at), "line ",
                    line_of[index], ": ",
                    message.substr(found, close + 1 - found));
    at = close + 1;
  }
  absl::StrAppend(&out, message.substr(at));
  return out;
}

}  // namespace

absl::StatusOr<std::pair<int, int>> ResourceSet::ImportExportText(
    const Descriptor& request_type, absl::string_view text) {
  std::optional<std::string> plain =
      LooksGzipped(text) ? Gunzip(text) : std::string(text);
  if (!plain)
    return absl::InvalidArgumentError(
        "not a whole gzip file (as cstopa export writes it)");
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          &request_type);
  const FieldDescriptor* records = request_type.FindFieldByName("records");
  if (prototype == nullptr || records == nullptr ||
      records->message_type() == nullptr)
    return absl::InternalError(
        absl::StrCat(request_type.full_name(), " is not an Import request"));
  std::unique_ptr<Message> request(prototype->New());
  const auto* reflection = request->GetReflection();
  // The package whose records are this service's: "cstopa.membership.v1.".
  const std::string package = absl::StrCat(request_type.file()->package(), ".");
  std::vector<int> line_of;
  google::protobuf::util::JsonParseOptions options;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(*plain, '\n')) {
    ++number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", number, ": ", why));
    };
    google::protobuf::Struct object;
    if (!google::protobuf::util::JsonStringToMessage(std::string(line), &object,
                                                     options)
             .ok())
      return fail("not a JSON object");
    const auto& fields = object.fields();
    if (fields.contains("error"))
      return fail("the export failed here (an error line): export again");
    auto type = fields.find("type");
    if (type == fields.end()) continue;  // header, snapshot or end
    const std::string& type_name = type->second.string_value();
    if (!absl::StartsWith(type_name, package)) continue;  // another service's
    const Descriptor* type_descriptor =
        request_type.file()->pool()->FindMessageTypeByName(type_name);
    const FieldDescriptor* member =
        type_descriptor == nullptr
            ? nullptr
            : resource_internal::FieldOfType(*records->message_type(),
                                             *type_descriptor);
    auto resource = fields.find("resource");
    if (member == nullptr)
      return fail(absl::StrCat("no record type ", type_name, " in ",
                               records->message_type()->full_name()));
    if (resource == fields.end() || !resource->second.has_struct_value())
      return fail("a record line without its `resource` object");
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(resource->second, &json)
             .ok())
      return fail("the resource cannot be read");
    Message* record = reflection->AddMessage(request.get(), records);
    Message* value = record->GetReflection()->MutableMessage(record, member);
    if (auto s =
            google::protobuf::util::JsonStringToMessage(json, value, options);
        !s.ok())
      return fail(
          absl::StrCat("not a ", type_name, ": ", std::string(s.message())));
    line_of.push_back(number);
  }
  if (line_of.empty()) return std::make_pair(0, 0);
  absl::Notification done;
  absl::StatusOr<import_internal::ImportCounts> result;
  import_internal::RunImportUnchecked(
      this, *request, absl::InfiniteFuture(),
      [&](absl::StatusOr<import_internal::ImportCounts> counts) {
        result = std::move(counts);
        done.Notify();
      });
  done.WaitForNotification();
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        NameLines(result.status().message(), line_of));
  }
  return std::make_pair(result->created, result->skipped);
}

}  // namespace cstopa::common
