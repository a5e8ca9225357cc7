#include "services/common/resources/import.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/api/resource.pb.h"
#include "google/protobuf/descriptor.h"
#include "services/common/base/errors.h"
#include "services/common/query/validation.h"
#include "services/common/store/change_feed.h"

namespace cstopa::common::import_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// One record of the request, checked.
struct Item {
  const Message* resource;
  const ResourceSet::Collection* collection;
};

// What the write transaction needs, shared with its callbacks.
struct Work {
  std::vector<Item> items;
  std::set<std::string> names;  // of the records
  Refs refs;                    // what they refer to
  bool validate_only = false;
  ImportCounts counts;
  bool rolled_back = false;  // validate_only's rollback, not a failure
};

// The collection ID a record message's type is stored in (the last
// collection of its google.api.resource pattern); "" when none.
std::string CollectionOfType(const Descriptor& type) {
  const google::api::ResourceDescriptor& resource =
      type.options().GetExtension(google::api::resource);
  if (resource.pattern_size() == 0) return "";
  return std::string(CollectionOf(resource.pattern(0)));
}

}  // namespace

void RunImport(ResourceSet* set, const Caller& caller,
               const google::protobuf::Message& request,
               absl::AnyInvocable<void(absl::StatusOr<ImportCounts>)> done) {
  if (absl::Status s = RequireRole(set->keys(), caller, Role::kAdmin); !s.ok())
    return done(s);
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
  std::map<std::string, int> first_index;
  for (int i = 0; i < n && static_cast<int>(v.size()) < kMaxImportViolations;
       ++i) {
    const Message& record = r->GetRepeatedMessage(request, records, i);
    const std::string path = absl::StrCat("records[", i, "]");
    const Descriptor& rd = *record.GetDescriptor();
    const FieldDescriptor* member = nullptr;
    std::vector<std::string> members;
    for (int k = 0; k < rd.field_count(); ++k) {
      const FieldDescriptor* f = rd.field(k);
      if (f->message_type() == nullptr || f->is_repeated()) continue;
      members.push_back(f->name());
      if (record.GetReflection()->HasField(record, f)) member = f;
    }
    if (member == nullptr) {
      v.Add(path, absl::StrCat("holds no record; set one of ",
                               absl::StrJoin(members, ", ")));
      continue;
    }
    auto c = by_collection.find(CollectionOfType(*member->message_type()));
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
    if (auto [it, fresh] = first_index.emplace(name, i); !fresh) {
      v.Add(prefix + ".name",
            absl::StrCat("\"", name, "\" is also records[", it->second, "]"));
    }
    c->second->validate(resource, prefix + ".", v, work->refs);
    work->items.push_back({&resource, c->second});
    work->names.insert(name);
  }
  if (!v.empty()) return done(v.ToStatus());

  auto shared_done =
      std::make_shared<absl::AnyInvocable<void(absl::StatusOr<ImportCounts>)>>(
          std::move(done));
  set->db()->WriteAsync(
      caller.deadline,
      [set, work](SqlTransaction& tx) -> absl::Status {
        work->counts = ImportCounts();
        for (const Item& item : work->items) {
          std::unique_ptr<Message> copy(item.resource->New());
          copy->CopyFrom(*item.resource);
          // Computed on read; the times are the record's.
          item.collection->decompute(copy.get());
          absl::StatusOr<bool> inserted =
              item.collection->store->Import(tx, copy.get());
          if (!inserted.ok()) return inserted.status();
          if (*inserted) {
            ++work->counts.created;
          } else {
            ++work->counts.skipped;
            if (work->counts.skipped_names.size() < kMaxSkippedNames)
              work->counts.skipped_names.push_back(
                  item.resource->GetReflection()->GetString(
                      *item.resource,
                      item.resource->GetDescriptor()->FindFieldByName("name")));
          }
        }
        Violations missing;
        for (const auto& [field, name] : work->refs) {
          if (work->names.count(name) > 0) continue;
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
      [set, work, shared_done](absl::Status status) {
        if (work->rolled_back) {
          (*shared_done)(std::move(work->counts));
          return;
        }
        if (!status.ok()) {
          (*shared_done)(std::move(status));
          return;
        }
        set->AfterCommit();
        (*shared_done)(std::move(work->counts));
      });
}

}  // namespace cstopa::common::import_internal
