// The AIP standard methods (Get, BatchGet, List, Create, Update, Delete) over
// a ResourceStore, shared by every service's handlers, and what a handler
// knows about its caller. A service supplies per resource type a validator
//
//   void Validate(const T& resource, const std::string& prefix,
//                 Violations& v, Refs& refs);
//
// (adds field violations, prefixing field paths with `prefix`, and lists the
// names the resource refers to) and a reference check run inside the write
// transaction. Handlers stay one call each:
//
//   absl::Status Handler::GetThing(const Caller& c, const GetThingRequest& r,
//                                  Thing* out) {
//     return GetResource(c.deadline, store_->things(), r.name(), {"things"},
//                        out);
//   }
#ifndef CSTOPA_SERVICES_COMMON_RESOURCES_STANDARD_METHODS_H_
#define CSTOPA_SERVICES_COMMON_RESOURCES_STANDARD_METHODS_H_

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/util/field_mask_util.h"
#include "services/common/api/auth.h"
#include "services/common/api/call.h"
#include "services/common/resources/resource.h"
#include "services/common/store/resource_store.h"
#include "services/common/query/validation.h"

namespace cstopa::common {

// Checks that referenced resources exist; runs inside the write transaction.
using RefCheck = std::function<absl::Status(const Refs&)>;
// A RefCheck for services whose references point at other services: the
// shape was validated, existence is the gateway's concern.
inline absl::Status NoRefCheck(const Refs&) { return absl::OkStatus(); }

// INVALID_ARGUMENT (INVALID_NAME) unless the request field `name` is a
// resource name of `shape`.
inline absl::Status CheckRequestName(
    const std::string& name, std::initializer_list<absl::string_view> shape) {
  Violations v;
  CheckName(v, "name", name, shape, true);
  return v.ToStatus("INVALID_NAME");
}

template <typename T>
absl::Status GetResource(absl::Time deadline, const ResourceStore& store,
                         const std::string& name,
                         std::initializer_list<absl::string_view> shape,
                         T* out) {
  if (auto s = CheckRequestName(name, shape); !s.ok()) return s;
  return store.Get(name, false, out, deadline);
}

// GetResource without holding the calling thread for the store's round trip
// (ResourceStore::GetAsync); `done` runs exactly once, maybe on the store's
// I/O thread. `out` must live until then.
template <typename T>
void GetResourceAsync(absl::Time deadline, const ResourceStore& store,
                      const std::string& name,
                      std::initializer_list<absl::string_view> shape, T* out,
                      StatusCallback done) {
  if (auto s = CheckRequestName(name, shape); !s.ok()) {
    done(std::move(s));
    return;
  }
  store.GetAsync(name, false, out, deadline, std::move(done));
}

// Runs an asynchronous handler method and waits for it: the synchronous
// face of `...Async` methods, for tests and internal callers. Must not be
// called on the store's I/O thread (from a completion callback).
//
//   absl::Status s = Await([&](StatusCallback done) {
//     handler.GetStateAsync(caller, request, &state, std::move(done));
//   });
absl::Status Await(absl::FunctionRef<void(StatusCallback)> start);

// Await of a handler's asynchronous method: its synchronous face.
//
//   absl::Status Handler::GetThing(const Caller& c, const GetThingRequest& r,
//                                  Thing* out) {
//     return AwaitMethod(this, &Handler::GetThingAsync, c, r, out);
//   }
template <typename Handler, typename Request, typename Response>
absl::Status AwaitMethod(Handler* handler,
                         void (Handler::*method)(const Caller&, const Request&,
                                                 Response*, StatusCallback),
                         const Caller& caller, const Request& request,
                         Response* response) {
  return Await([&](StatusCallback done) {
    (handler->*method)(caller, request, response, std::move(done));
  });
}

// Fills `q` from the standard List request fields.
template <typename Req>
void FillListQuery(const Req& req, const std::string& parent, ListQuery* q) {
  q->parent = parent;
  q->filter = req.filter();
  q->order_by = req.order_by();
  q->page_token = req.page_token();
  q->page_size = req.page_size();
  q->show_deleted = req.show_deleted();
}

template <typename Req, typename T>
absl::Status ListResources(absl::Time deadline, const ResourceStore& store,
                           const Req& req, const std::string& parent,
                           google::protobuf::RepeatedPtrField<T>* out,
                           std::string* next_page_token, ListQuery q = {}) {
  FillListQuery(req, parent, &q);
  auto token = store.List(
      q, [out]() { return out->Add(); }, deadline);
  if (!token.ok()) return token.status();
  *next_page_token = *std::move(token);
  return absl::OkStatus();
}

// A serialized List...Response whose resources are field 1 and
// next_page_token field 2, built from the stored bytes without decoding.
template <typename Req>
absl::StatusOr<std::string> ListResourcesEncoded(absl::Time deadline,
                                                 const ResourceStore& store,
                                                 const Req& req,
                                                 const std::string& parent,
                                                 ListQuery q = {}) {
  FillListQuery(req, parent, &q);
  std::string out;
  auto token = store.ListEncoded(q, /*field_number=*/1, &out, deadline);
  if (!token.ok()) return token.status();
  if (!token->empty()) {  // next_page_token = 2
    out.push_back(static_cast<char>((2 << 3) | 2));
    ResourceStore::AppendVarint(token->size(), &out);
    out += *token;
  }
  return out;
}

// Decodes what ListResourcesEncoded built (for handler-level callers).
template <typename Resp>
absl::Status DecodeList(const absl::StatusOr<std::string>& encoded,
                        Resp* resp) {
  if (!encoded.ok()) return encoded.status();
  if (!resp->ParseFromString(*encoded))
    return absl::InternalError("could not decode an encoded list");
  return absl::OkStatus();
}

template <typename T>
absl::Status BatchGetResources(
    absl::Time deadline, const ResourceStore& store,
    const google::protobuf::RepeatedPtrField<std::string>& names,
    std::initializer_list<absl::string_view> shape,
    google::protobuf::RepeatedPtrField<T>* out) {
  Violations v;
  if (names.empty()) v.Add("names", "needs at least one name");
  if (names.size() > kMaxBatch)
    v.Add("names", absl::StrCat("at most ", kMaxBatch, " names per call"));
  for (int i = 0; i < names.size() && i < kMaxBatch; ++i)
    CheckName(v, absl::StrCat("names[", i, "]"), names[i], shape, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  std::vector<std::string> list(names.begin(), names.end());
  return store.BatchGet(
      list, [out]() { return out->Add(); }, deadline);
}

// Validates `body`, then stores it as `name` (whose last ID, `id`, came from
// the request field `id_field`). `body_field` is the request field holding
// the resource (for violation paths).
template <typename T, typename Validator>
absl::Status CreateResource(absl::Time deadline, ResourceStore& store,
                            const std::string& name,
                            const std::string& id_field, const std::string& id,
                            const std::string& body_field, const T& body,
                            Validator&& validate, const RefCheck& check,
                            T* out) {
  Violations v;
  if (!ValidId(id)) {
    v.Add(id_field, id.empty() ? std::string("is required")
                               : absl::StrCat("`", id, "` ", kIdRule));
  }
  Refs refs;
  validate(body, body_field + ".", v, refs);
  if (auto s = v.ToStatus(); !s.ok()) return s;
  *out = body;
  out->DiscardUnknownFields();
  ClearOutputOnly(out);
  out->set_etag("");
  out->set_name(name);
  return store.Create(
      out, [&] { return check(refs); }, deadline);
}

// Applies `patch` under `mask` (AIP-134) to the stored resource, checking
// the etag the patch carries. References the resource already had may point
// at resources deleted since; only added ones are checked.
template <typename T, typename Validator>
absl::Status UpdateResource(absl::Time deadline, ResourceStore& store,
                            const T& patch,
                            const google::protobuf::FieldMask& mask,
                            const std::string& body_field,
                            std::initializer_list<absl::string_view> shape,
                            Validator&& validate, const RefCheck& check,
                            T* out) {
  Violations v;
  CheckName(v, body_field + ".name", patch.name(), shape, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  auto effective = EffectiveMask(patch, mask);
  if (!effective.ok()) return effective.status();
  google::protobuf::util::FieldMaskUtil::MergeOptions opts;
  opts.set_replace_message_fields(true);
  opts.set_replace_repeated_fields(true);
  return store.Update(
      patch.name(), patch.etag(),
      [&](google::protobuf::Message* m) -> absl::Status {
        T* current = static_cast<T*>(m);
        Violations ignored;
        Refs before;
        validate(*current, body_field + ".", ignored, before);
        T clean = patch;
        clean.DiscardUnknownFields();
        google::protobuf::util::FieldMaskUtil::MergeMessageTo(clean, *effective,
                                                              opts, current);
        ClearComputed(current);
        Violations after;
        Refs refs, added;
        validate(*current, body_field + ".", after, refs);
        if (auto s = after.ToStatus(); !s.ok()) return s;
        for (const auto& ref : refs) {
          bool had = false;
          for (const auto& old : before) had |= old.second == ref.second;
          if (!had) added.push_back(ref);
        }
        return check(added);
      },
      out, deadline);
}

template <typename T>
absl::Status DeleteResource(absl::Time deadline, ResourceStore& store,
                            const std::string& name, const std::string& etag,
                            std::initializer_list<absl::string_view> shape,
                            T* out) {
  if (auto s = CheckRequestName(name, shape); !s.ok()) return s;
  return store.Delete(name, etag, out, deadline);
}

// Inserts the seed records whose names were never used (idempotent), after
// validating all of them; `field` names the seed file's list for messages.
template <typename T, typename Validator>
absl::Status SeedResources(ResourceStore& store,
                           const google::protobuf::RepeatedPtrField<T>& items,
                           const char* field,
                           std::initializer_list<absl::string_view> shape,
                           Validator&& validate) {
  Violations v;
  std::vector<const google::protobuf::Message*> list;
  for (int i = 0; i < items.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    CheckName(v, f + ".name", items[i].name(), shape, true);
    Refs ignored;
    validate(items[i], f + ".", v, ignored);
    list.push_back(&items[i]);
  }
  if (auto s = v.ToStatus("INVALID_SEED"); !s.ok()) return s;
  return store.InsertMissing(list).status();
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_RESOURCES_STANDARD_METHODS_H_
