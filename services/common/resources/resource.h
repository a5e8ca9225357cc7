// Standard resources, declared rather than written.
//
// A service declares each resource type once: its name pattern, the columns
// List filters and orders on, its validation (which also lists the names it
// refers to), the fields computed "as of" a day, and who may write it. A
// Resource<T> then serves the AIP standard methods Get, BatchGet, List,
// Create, Update and Delete for it, asynchronously: no gRPC thread waits
// for the store. Handlers stay one line per standard method, and a
// service's own code is what is special about it:
//
//   ResourceDecl<v1::Person> PersonDecl() {
//     ResourceDecl<v1::Person> d;
//     d.pattern = "persons/{person}";
//     d.columns = {DisplayNameColumn<v1::Person>()};
//     d.validate = [](const v1::Person& p, const std::string& prefix,
//                     Violations& v, Refs& refs) {...};
//     return d;
//   }
//
//   ResourceSet set(db, &page_tokens, &api_keys);
//   Resource<v1::Person> persons(&set, PersonDecl());
//   void Handler::GetPerson(GetPersonCall call) {
//   persons_.Get(std::move(call)); }
//
// What the standard methods do, for every resource alike:
// - Get: the name must match the pattern (INVALID_ARGUMENT, INVALID_NAME);
//   NOT_FOUND when missing or deleted.
// - List: `parent` (nested collections; "<collection>/-" for all parents),
//   filter, order_by, page_size and page_token (query/), show_deleted; with
//   `as_of`, the computed fields are those of that day and, when the
//   declaration names date columns, only resources whose period holds that
//   day are listed. Without computed fields the stored bytes are sent as
//   they are, never decoded. A page is cut short by bytes: a resource that
//   would take the response past the server's message limit
//   (MaxResponseBytes, less room for the token) ends the page before it,
//   with a next_page_token that resumes at it, so a List never fails with
//   RESOURCE_EXHAUSTED; one that alone passes the limit is
//   FAILED_PRECONDITION, reason RESPONSE_TOO_LARGE, naming it.
// - Views (AIP-157, ResourceDecl::basic_view_omits): a request's `view`
//   picks BASIC or FULL; List's default is BASIC, Get's and BatchGet's FULL.
// - BatchGet: 1 to 1000 names, answered in the order asked.
// - Create: the caller's role, the ID (`<resource>_id`), the body
//   (validation with field paths such as "state.display_name[0].text"), then
//   in one write transaction: the parent exists (NOT_FOUND), the name was
//   never used (ALREADY_EXISTS), every name it refers to that belongs to
//   this service exists (UNKNOWN_REFERENCE; held FOR SHARE on PostgreSQL so
//   that a concurrent delete cannot orphan it), then the insert.
// - Update: update_mask (AIP-134; empty = the fields set, `*` = all), the
//   etag when given (ABORTED, ETAG_MISMATCH; AIP-154), validation of the
//   result, references the update adds.
// - Delete: soft, admin only by default, etag when given.
// - Undelete (AIP-164): the role of Delete, etag when given; the resource
//   is live again, logged as an update. NOT_FOUND if the name was never
//   used, ALREADY_EXISTS (NOT_DELETED) if it is live, FAILED_PRECONDITION
//   (PARENT_DELETED) while its parent is deleted.
// - Create with a `request_id` (AIP-155, a UUID): the ID is stored with the
//   resource's name in the service's `request_ids` table (every service's
//   migrations make it), in the write's transaction. A retry with the same
//   request_id and the same request answers the resource that request
//   created, as it is stored now, without writing; the same request_id with
//   another request is ALREADY_EXISTS when it names the same resource, else
//   INVALID_ARGUMENT (REQUEST_ID_REUSED).
// Requests are read by convention (AIP-131..135): `name`, `names`,
// `parent`, `as_of`, `show_deleted`, `etag`, `update_mask`, `request_id`,
// the one field whose type is the resource, and the one `*_id` string
// field.
#ifndef CSTOPA_SERVICES_COMMON_RESOURCES_RESOURCE_H_
#define CSTOPA_SERVICES_COMMON_RESOURCES_RESOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/type/date.pb.h"
#include "services/common/api/auth.h"
#include "services/common/api/call.h"
#include "services/common/base/errors.h"
#include "services/common/query/validation.h"
#include "services/common/resources/search_index.h"
#include "services/common/store/resource_store.h"

namespace cstopa::common {

// (field path, resource name) pairs a resource refers to.
using Refs = std::vector<std::pair<std::string, std::string>>;

// UNAUTHENTICATED / PERMISSION_DENIED unless the caller's key has `role`.
absl::Status RequireRole(const ApiKeyStore& keys, const Caller& caller,
                         Role role);

// Today (UTC) as YYYYMMDD.
int64_t TodayUtc();

// The day an `as_of` request field means: `today` when unset, else the
// date, which must be full (year, month and day).
absl::StatusOr<int64_t> AsOfDay(const google::type::Date& as_of, bool present,
                                const char* field, int64_t today);

// The roles each write method needs.
struct WriteRoles {
  Role create = Role::kEditor;
  Role update = Role::kEditor;
  Role remove = Role::kAdmin;
};

// The declaration of one standard resource type T.
template <typename T>
struct ResourceDecl {
  // The name pattern, e.g. "parliaments/{parliament}/delegations/{delegation}".
  std::string pattern;
  // The SQL table (made by the service's migrations); default: the last
  // collection of the pattern.
  std::string table;
  // Columns extracted from each resource for `filter` and `order_by`, beyond
  // name, create_time and update_time (store/columns.h helps).
  std::vector<ColumnSpec> columns;
  // Adds the violations of a resource's writable content, field paths
  // prefixed with `prefix` (e.g. "state."), and lists the names it refers to.
  std::function<void(const T&, const std::string& prefix, Violations&, Refs&)>
      validate;
  // Fills the output-only fields computed for a day (YYYYMMDD): the request's
  // `as_of`, or today. None when empty.
  std::function<void(T*, int64_t day)> compute;
  // Whether what `compute` fills depends on the day. Then every answer
  // carries a weak etag for its day (store/resource_store.h, WeakEtag), so
  // that answers for different days never share an etag; a write still
  // accepts it (it names the stored version). False for fields computed
  // from the record alone.
  bool compute_uses_day = true;
  // With these date columns (YYYYMMDD, the earliest and latest possible day
  // of a period), List with `as_of` keeps only the resources whose period
  // holds that day.
  std::string as_of_start_column;
  std::string as_of_end_column;
  // The order of a List whose request has no `order_by` (default: by name).
  std::string default_order_by;
  WriteRoles roles;
  // What the service's Search finds of a resource (search_index.h): its
  // title, text and date; nullopt for one that is not found. Unset: the
  // type is not searched.
  std::function<std::optional<SearchEntry>(const T&)> search;
  // Views (AIP-157): the top-level field numbers of T that the BASIC view
  // leaves out (long texts, say). A request with a `view` enum field whose
  // value name ends in `_BASIC` or `_FULL` picks one; unspecified (0) is
  // BASIC on List and FULL on Get and BatchGet. The fields are left out of
  // the stored bytes as they are read, without decoding them.
  std::vector<int> basic_view_omits;
};

// What a service's method adds to a standard write, for the rules of a
// resource its declaration cannot say (all optional):
//
//   void Handler::CreateThing(CreateThingCall call) {
//     common::WriteHooks<v1::Thing> hooks;
//     hooks.check = [](SqlTransaction& tx, const v1::Thing& t) {...};
//     things_.Create(std::move(call), std::move(hooks));
//   }
template <typename T>
struct WriteHooks {
  // Create: adds the violations of request fields beside the resource and
  // its ID, reported with theirs.
  std::function<void(Violations&)> validate;
  // Create and Update: sets output-only fields that are stored and follow
  // from the write (e.g. a lifecycle), on the resource about to be stored:
  // on Create the new one (`stored` null), on Update the patched one, given
  // the stored one (the patch cleared its computed fields).
  std::function<void(const T* stored, T* resource)> prepare;
  // Create and Update: runs in the write transaction after the parent and
  // reference checks, before the resource is stored: a rule that reads
  // other resources.
  std::function<absl::Status(SqlTransaction&, const T&)> check;
  // Create, Update and Delete: runs in the write transaction after the
  // write, on the answer: output-only fields that are not stored and need
  // reads (e.g. counts of children).
  std::function<absl::Status(SqlTransaction&, T*)> complete;
};

// A handler's extra condition on a List (e.g. a time window), with a
// canonical description that binds page tokens to it.
struct ListCondition {
  std::string sql;
  SqlValues params;
  std::string fingerprint;
  // With `as_of`: read every row the query finds whatever its period (the
  // declaration's as_of columns are not compared), and keep those for which
  // `keep(resource, day)` is true (it may fill fields); the others are left
  // out of the page, which may then be shorter than asked (AIP-158 allows
  // it), its next_page_token as ever.
  std::function<bool(google::protobuf::Message*, int64_t day)> keep;
};

// What every resource of one service shares: the store, page tokens, API
// keys, the clock, the hooks every write runs, and the service's collections
// (so that references between them are checked). Outlives its resources.
class ResourceSet {
 public:
  // `today` returns the current date as YYYYMMDD (UTC); injectable for tests.
  ResourceSet(Database* db, const PageTokenCodec* tokens,
              const ApiKeyStore* keys,
              std::function<int64_t()> today = nullptr);

  Database* db() const { return db_; }
  const PageTokenCodec* tokens() const { return tokens_; }
  const ApiKeyStore& keys() const { return *keys_; }
  int64_t Today() const { return today_(); }

  // What a server's `--import=FILE` does at start (import.cc): loads the
  // records of a cstopa export file (the gateway's `GET /v1/export`, as
  // `cstopa export` writes it: JSON Lines, gzip'd or not) that belong to the
  // service whose Import... request is `request_type` (a generated
  // message), as that call would (import.h): every record checked first,
  // all stored in one transaction or none, records whose names were ever
  // used skipped (so that importing the same file at every start changes
  // nothing after the first). Lines of other services, the header,
  // snapshot and end lines are passed over. Blocks until the store is done.
  // A line that is not JSON, a record of an unknown type, an export that
  // ended with an error, or a refused record fails it, naming the line
  // (`line 12: ...`). Returns {created, skipped}; a file without records of
  // the service imports nothing.
  absl::StatusOr<std::pair<int, int>> ImportExportText(
      const google::protobuf::Descriptor& request_type, absl::string_view text);

  // The largest response a List page may make (MaxResponseBytes() unless
  // set; for tests).
  int64_t max_response_bytes() const {
    return max_response_bytes_ > 0 ? max_response_bytes_ : MaxResponseBytes();
  }
  void set_max_response_bytes(int64_t bytes) { max_response_bytes_ = bytes; }

  // Runs in every write's transaction (e.g. appends to a change feed), and
  // after every write that committed (e.g. wakes the feed). Set before use.
  void set_write_hook(WriteHook hook) { write_hook_ = std::move(hook); }
  void set_after_commit(std::function<void()> f) {
    after_commit_ = std::move(f);
  }
  const WriteHook& write_hook() const { return write_hook_; }
  // The service's full-text search over every resource whose declaration
  // has `search`.
  SearchIndex& search_index() { return search_index_; }
  void AfterCommit() const {
    search_index_.Invalidate();
    if (after_commit_) after_commit_();
  }

  // Checks a resource's writable content as Create does (the declaration's
  // `validate`): violations with paths after `prefix`, the names it refers
  // to.
  using Validator =
      std::function<void(const google::protobuf::Message&,
                         const std::string& prefix, Violations&, Refs&)>;
  // Fills the fields a resource's declaration computes for a day
  // (YYYYMMDD), as Get does; `day` 0 clears them instead (what is computed
  // on read is not data: an import drops it). No-op without `compute`.
  using Computer = std::function<void(google::protobuf::Message*, int64_t)>;
  // Adds a collection (by its name pattern's collection IDs) whose store
  // answers for references to it, with its declaration's validation and
  // computed fields (for exports and imports).
  void Register(std::vector<std::string> collections, ResourceStore* store,
                Validator validate, Computer compute);
  // The store of the collection `name` belongs to; null for names of other
  // services.
  const ResourceStore* StoreFor(absl::string_view name) const;

  // Inside a write transaction: every name in `refs` that belongs to this
  // service exists (INVALID_ARGUMENT, reason UNKNOWN_REFERENCE, otherwise)
  // and stays so until `tx` ends (FOR SHARE on PostgreSQL). Names of other
  // services' resources are only checked for shape, by validation.
  absl::Status CheckReferences(SqlTransaction& tx, const Refs& refs) const;

  // A registered collection: its name pattern's collection IDs ("parliaments",
  // "delegations") and its store.
  struct Collection {
    std::vector<std::string> ids;
    ResourceStore* store;
    Validator validate;
    Computer compute;
  };
  // Every registered collection, in the order registered.
  const std::vector<Collection>& collections() const { return collections_; }

 private:
  Database* db_;
  const PageTokenCodec* tokens_;
  const ApiKeyStore* keys_;
  std::function<int64_t()> today_;
  WriteHook write_hook_;
  std::function<void()> after_commit_;
  std::vector<Collection> collections_;
  int64_t max_response_bytes_ = 0;
  SearchIndex search_index_;
};

namespace resource_internal {

// The collection IDs of a pattern: "a/{x}/b/{y}" -> {"a", "b"}.
std::vector<std::string> CollectionsOf(absl::string_view pattern);
// The google.api.resource type of `message` ("cstopa.org/State"); "" when
// it has none.
std::string ResourceTypeOf(const google::protobuf::Descriptor& message);
// The collection ID a resource message is stored in: the last collection
// of its google.api.resource pattern ("delegations"); "" when it has none.
std::string CollectionOfType(const google::protobuf::Descriptor& message);
// The singular message field of `holder` (a Watch, Export or Record message)
// whose type is stored in `collection`; null if none.
const google::protobuf::FieldDescriptor* RecordFieldOf(
    const google::protobuf::Descriptor& holder, absl::string_view collection);
// The first field of `type` whose message type is `resource`; null if none.
const google::protobuf::FieldDescriptor* FieldOfType(
    const google::protobuf::Descriptor& type,
    const google::protobuf::Descriptor& resource);
// The one `*_id` string field of a Create request; null if none.
const google::protobuf::FieldDescriptor* IdField(
    const google::protobuf::Descriptor& type);
// `names`'s shape violations (INVALID_NAME); OK when every name fits.
absl::Status CheckNames(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    const std::vector<std::string>& collections);
// INVALID_NAME unless `name` (the request field `field`) fits.
absl::Status CheckName(const std::string& field, const std::string& name,
                       const std::vector<std::string>& collections);
// INVALID_NAME unless `parent` is a parent of `collections` or
// "<collection>/-".
absl::Status CheckParent(const std::string& parent,
                         const std::vector<std::string>& collections);
// Whether `id` is a UUID (8-4-4-4-12 hexadecimal digits).
bool ValidRequestId(absl::string_view id);
// A digest of `request` without its `request_id` field: which request a
// request ID was first used for.
std::string RequestDigest(const google::protobuf::Message& request);
// The name and digest a request ID was first used for, inside `tx`;
// nullopt when it is new. Reads the service's `request_ids` table.
struct PriorRequest {
  std::string name;
  std::string digest;
};
absl::StatusOr<std::optional<PriorRequest>> FindRequest(SqlTransaction& tx,
                                                        absl::string_view id);
// Records that request ID `id` created `name`, inside `tx`.
absl::Status RecordRequest(SqlTransaction& tx, absl::string_view id,
                           absl::string_view name, absl::string_view digest);
// Binds page tokens to the `as_of` a list was asked for.
std::string AsOfFingerprint(const google::type::Date& d, bool present);
// Appends field `number` (length-delimited) holding `bytes`.
void AppendBytesField(int number, absl::string_view bytes, std::string* out);
// Field numbers of a List response: the repeated resources and the token.
struct ListFields {
  const google::protobuf::FieldDescriptor* items = nullptr;
  const google::protobuf::FieldDescriptor* next_page_token = nullptr;
};
ListFields ListFieldsOf(const google::protobuf::Descriptor& response,
                        const google::protobuf::Descriptor& resource);

// Views (ResourceDecl::basic_view_omits): what a request's `view` field
// (null: it has none) asks for; kDefault when unspecified.
enum class ResourceView { kDefault, kBasic, kFull };
ResourceView ViewOf(const google::protobuf::Message& request,
                    const google::protobuf::FieldDescriptor* view);
// Copies the serialized message `in` to `out` without the top-level fields
// `omit`, on the wire format (nothing decoded). False if `in` is not a valid
// message encoding.
bool WithoutFields(absl::string_view in, const std::vector<int>& omit,
                   std::string* out);
// The size of `in` without the top-level fields `omit` (npos if `in` is not
// a valid message encoding), and the appending of those bytes to `out` (a
// view written straight into a page, without a copy in between; false if
// `in` is not a valid encoding).
size_t SizeWithout(absl::string_view in, const std::vector<int>& omit);
bool AppendWithout(absl::string_view in, const std::vector<int>& omit,
                   std::string* out);
// Clears the top-level fields `omit` of `m`.
void ClearFields(google::protobuf::Message* m, const std::vector<int>& omit);
// The List page room for resources under a response limit of `limit`
// bytes: the limit less room for the page token and computed fields.
size_t PageBudget(int64_t limit);
// FAILED_PRECONDITION (RESPONSE_TOO_LARGE) for a stored resource (`data`,
// its name the string field `name_number`) whose `bytes` in the response
// alone pass `limit`.
absl::Status TooLarge(absl::string_view data, size_t bytes, int name_number,
                      int64_t limit);

template <typename R, typename = void>
struct HasParent : std::false_type {};
template <typename R>
struct HasParent<R, std::void_t<decltype(std::declval<const R&>().parent())>>
    : std::true_type {};
template <typename R, typename = void>
struct HasAsOf : std::false_type {};
template <typename R>
struct HasAsOf<R, std::void_t<decltype(std::declval<const R&>().has_as_of())>>
    : std::true_type {};
template <typename R, typename = void>
struct HasRequestId : std::false_type {};
template <typename R>
struct HasRequestId<
    R, std::void_t<decltype(std::declval<const R&>().request_id())>>
    : std::true_type {};
template <typename R, typename = void>
struct HasShowDeleted : std::false_type {};
template <typename R>
struct HasShowDeleted<
    R, std::void_t<decltype(std::declval<const R&>().show_deleted())>>
    : std::true_type {};

}  // namespace resource_internal

template <typename T>
class Resource {
 public:
  // Registers the collection with `set`, which must outlive the resource.
  Resource(ResourceSet* set, ResourceDecl<T> decl)
      : set_(set),
        decl_(std::move(decl)),
        collections_(resource_internal::CollectionsOf(decl_.pattern)),
        spec_{decl_.table.empty() ? collections_.back() : decl_.table,
              decl_.columns,
              resource_internal::ResourceTypeOf(*T::descriptor())},
        store_(set->db(), &spec_, set->tokens()) {
    store_.set_write_hook([this, set](SqlTransaction& tx, WriteKind kind,
                                      const google::protobuf::Message& m) {
      absl::Status s =
          set->write_hook() ? set->write_hook()(tx, kind, m) : absl::OkStatus();
      if (!s.ok() || !decl_.search) return s;
      // The search entry commits with the write (nothing for a deleted one).
      const T& r = static_cast<const T&>(m);
      std::optional<SearchEntry> entry;
      if (kind != WriteKind::kDelete) entry = decl_.search(r);
      return set->search_index().Put(tx, r.name(), spec_.resource_type,
                                     entry.has_value() ? &*entry : nullptr);
    });
    if (decl_.search) {
      set->search_index().AddSource(
          spec_.table, spec_.resource_type,
          [this](absl::string_view data,
                 std::string* name) -> std::optional<SearchEntry> {
            T r;
            if (!r.ParseFromArray(data.data(), static_cast<int>(data.size())))
              return std::nullopt;
            *name = r.name();
            return decl_.search(r);
          });
    }
    set_->Register(
        collections_, &store_,
        [this](const google::protobuf::Message& m, const std::string& prefix,
               Violations& v, Refs& refs) {
          decl_.validate(static_cast<const T&>(m), prefix, v, refs);
        },
        [this](google::protobuf::Message* m, int64_t day) {
          if (!decl_.compute) return;
          // Other output-only fields (a document's stage, say) are stored.
          if (day == 0) return ClearComputed(m);
          Compute(static_cast<T*>(m), day);
        });
  }

  Resource(const Resource&) = delete;
  Resource& operator=(const Resource&) = delete;

  ResourceStore& store() { return store_; }
  const ResourceDecl<T>& decl() const { return decl_; }
  const std::vector<std::string>& collections() const { return collections_; }

  // --- The standard methods --------------------------------------------

  template <typename Request>
  void Get(UnaryCall<Request, T> call) {
    const Request& req = call.request();
    if (auto s = resource_internal::CheckName("name", req.name(), collections_);
        !s.ok())
      return call.Finish(std::move(s));
    auto day = DayOf(req);
    if (!day.ok()) return call.Finish(day.status());
    T* out = call.response();
    const absl::Time deadline = call.deadline();
    const bool basic = Basic(req, /*list=*/false);
    // The answer as last sent, while nothing has been written since.
    CacheSlot slot = FindCached(call, [&](std::string* key) {
      absl::StrAppend(key, "get\n", req.name(), "\n", *day, "\n",
                      basic ? "basic" : "full");
      return true;
    });
    if (slot.hit) return;
    store_.GetAsync(req.name(), false, out, deadline,
                    [this, out, day = *day, basic, slot = std::move(slot),
                     call = std::move(call)](absl::Status s) mutable {
                      if (s.ok() && basic)
                        resource_internal::ClearFields(out,
                                                       decl_.basic_view_omits);
                      if (s.ok()) Compute(out, day);
                      if (!s.ok() || slot.key.empty())
                        return call.Finish(std::move(s));
                      std::string bytes = out->SerializeAsString();
                      KeepCached(slot, bytes);
                      call.FinishSerialized(std::move(bytes));
                    });
  }

  template <typename Request, typename Response>
  void BatchGet(UnaryCall<Request, Response> call) {
    const Request& req = call.request();
    if (auto s = resource_internal::CheckNames(req.names(), collections_);
        !s.ok())
      return call.Finish(std::move(s));
    auto day = DayOf(req);
    if (!day.ok()) return call.Finish(day.status());
    static const google::protobuf::FieldDescriptor* const items =
        resource_internal::FieldOfType(*Response::descriptor(),
                                       *T::descriptor());
    Response* out = call.response();
    const absl::Time deadline = call.deadline();
    const bool basic = Basic(req, /*list=*/false);
    store_.BatchGetAsync(
        std::vector<std::string>(req.names().begin(), req.names().end()),
        [out] { return out->GetReflection()->AddMessage(out, items); },
        deadline,
        [this, out, day = *day, basic,
         call = std::move(call)](absl::Status s) mutable {
          if (s.ok() && basic) {
            const auto* refl = out->GetReflection();
            for (int i = 0; i < refl->FieldSize(*out, items); ++i)
              resource_internal::ClearFields(
                  refl->MutableRepeatedMessage(out, items, i),
                  decl_.basic_view_omits);
          }
          if (s.ok()) ComputeAll(out, day);
          call.Finish(std::move(s));
        });
  }

  template <typename Request, typename Response>
  void List(UnaryCall<Request, Response> call, ListCondition extra = {}) {
    const Request& req = call.request();
    ListQuery q;
    if constexpr (resource_internal::HasParent<Request>::value) {
      if (auto s = resource_internal::CheckParent(req.parent(), collections_);
          !s.ok())
        return call.Finish(std::move(s));
      q.parent = req.parent();
    }
    q.filter = req.filter();
    q.order_by =
        req.order_by().empty() ? decl_.default_order_by : req.order_by();
    q.page_token = req.page_token();
    q.page_size = req.page_size();
    if constexpr (resource_internal::HasShowDeleted<Request>::value)
      q.show_deleted = req.show_deleted();
    auto day = DayOf(req);
    if (!day.ok()) return call.Finish(day.status());
    q.extra_sql = std::move(extra.sql);
    q.extra_params = std::move(extra.params);
    q.extra_fingerprint = std::move(extra.fingerprint);
    if constexpr (resource_internal::HasAsOf<Request>::value) {
      const bool by_period = !decl_.as_of_start_column.empty();
      if (decl_.compute || (by_period && req.has_as_of())) {
        absl::StrAppend(
            &q.extra_fingerprint, "\n",
            resource_internal::AsOfFingerprint(req.as_of(), req.has_as_of()));
      }
      if (by_period && req.has_as_of() && !extra.keep) {
        std::string cond = absl::StrCat(decl_.as_of_start_column, " <= ? AND ",
                                        decl_.as_of_end_column, " >= ?");
        q.extra_sql = q.extra_sql.empty()
                          ? cond
                          : absl::StrCat("(", q.extra_sql, ") AND ", cond);
        q.extra_params.push_back(*day);
        q.extra_params.push_back(*day);
      }
    }
    static const resource_internal::ListFields fields =
        resource_internal::ListFieldsOf(*Response::descriptor(),
                                        *T::descriptor());
    const absl::Time deadline = call.deadline();
    // The view, and the page cut short by bytes: a row that would take the
    // page past the budget ends it (PageFull) with a next page token that
    // resumes at that row; a row that alone passes it is an error.
    const bool basic = Basic(req, /*list=*/true);
    const int64_t limit = set_->max_response_bytes();
    const size_t budget = resource_internal::PageBudget(limit);
    const std::string share_key =
        absl::StrCat(basic ? "basic " : "full ", budget);
    // The page as last sent, while nothing has been written since: the
    // request's every field, the day and the handler's condition make the
    // key.
    CacheSlot slot = FindCached(call, [&](std::string* key) {
      absl::StrAppend(key, "list\n", Response::descriptor()->name(), "\n", *day,
                      "\n", share_key, "\n", q.extra_fingerprint, "\n");
      for (const SqlValue& v : q.extra_params) AppendKeyPart(v, key);
      key->push_back('\n');
      return req.AppendToString(key);
    });
    if (slot.hit) return;
    if (!decl_.compute && !extra.keep) {
      // The stored bytes, sent as they are (less the fields the view leaves
      // out). Room for the page is made at the first row: growing a string
      // of tens of kilobytes row by row copies it again and again.
      auto bytes = std::make_unique<std::string>();
      std::string* out = bytes.get();
      const size_t rows = static_cast<size_t>(
          q.page_size <= 0 ? kDefaultPageSize
                           : std::min<int32_t>(q.page_size, kMaxPageSize));
      store_.ListAsync(
          q,
          [this, out, rows, basic, budget,
           limit](absl::string_view data) -> absl::Status {
            const size_t size = basic ? resource_internal::SizeWithout(
                                            data, decl_.basic_view_omits)
                                      : data.size();
            if (size == std::string::npos)
              return absl::DataLossError("a stored resource is corrupt");
            if (out->size() + size + 16 > budget) {
              if (out->empty())
                return resource_internal::TooLarge(data, size, NameNumber(),
                                                   limit);
              return PageFull();
            }
            if (out->empty())
              out->reserve(std::min((size + 8) * rows, budget) + 64);
            if (!basic) {
              resource_internal::AppendBytesField(fields.items->number(), data,
                                                  out);
              return absl::OkStatus();
            }
            ResourceStore::AppendVarint(
                (static_cast<uint64_t>(fields.items->number()) << 3) | 2, out);
            ResourceStore::AppendVarint(size, out);
            resource_internal::AppendWithout(data, decl_.basic_view_omits, out);
            return absl::OkStatus();
          },
          deadline,
          [this, bytes = std::move(bytes), slot = std::move(slot),
           call = std::move(call)](absl::StatusOr<std::string> next) mutable {
            if (!next.ok()) return call.Finish(next.status());
            if (!next->empty())
              resource_internal::AppendBytesField(
                  fields.next_page_token->number(), *next, bytes.get());
            KeepCached(slot, *bytes);
            call.FinishSerialized(std::move(*bytes));
          },
          SharePage<Response>(out, share_key));
      return;
    }
    Response* out = call.response();
    store_.ListAsync(
        q,
        [this, out, basic, budget, limit, used = size_t{0},
         scratch =
             std::string()](absl::string_view data) mutable -> absl::Status {
          if (basic) {
            if (!resource_internal::WithoutFields(data, decl_.basic_view_omits,
                                                  &scratch))
              return absl::DataLossError("a stored resource is corrupt");
            data = scratch;
          }
          if (used + data.size() + 16 > budget) {
            if (used == 0)
              return resource_internal::TooLarge(data, data.size(),
                                                 NameNumber(), limit);
            return PageFull();
          }
          used += data.size() + 16;
          google::protobuf::Message* m =
              out->GetReflection()->AddMessage(out, fields.items);
          if (!m->ParseFromArray(data.data(), static_cast<int>(data.size())))
            return absl::DataLossError("a stored resource is corrupt");
          return absl::OkStatus();
        },
        deadline,
        [this, out, day = *day, slot = std::move(slot),
         keep = std::move(extra.keep),
         call = std::move(call)](absl::StatusOr<std::string> next) mutable {
          if (!next.ok()) return call.Finish(next.status());
          ComputeAll(out, day);
          if (keep) {
            const auto* refl = out->GetReflection();
            const int n = refl->FieldSize(*out, fields.items);
            int kept = 0;
            for (int i = 0; i < n; ++i) {
              if (!keep(refl->MutableRepeatedMessage(out, fields.items, i),
                        day))
                continue;
              if (i != kept) refl->SwapElements(out, fields.items, i, kept);
              ++kept;
            }
            for (int i = kept; i < n; ++i) refl->RemoveLast(out, fields.items);
          }
          out->GetReflection()->SetString(out, fields.next_page_token,
                                          *std::move(next));
          if (slot.key.empty()) return call.Finish(absl::OkStatus());
          std::string bytes = out->SerializeAsString();
          KeepCached(slot, bytes);
          call.FinishSerialized(std::move(bytes));
        },
        SharePage<Response>(out, share_key));
  }

  template <typename Request>
  void Create(UnaryCall<Request, T> call, WriteHooks<T> hooks = {}) {
    if (auto s = RequireRole(set_->keys(), call.caller(), decl_.roles.create);
        !s.ok())
      return call.Finish(std::move(s));
    const Request& req = call.request();
    static const google::protobuf::FieldDescriptor* const body_field =
        resource_internal::FieldOfType(*Request::descriptor(),
                                       *T::descriptor());
    static const google::protobuf::FieldDescriptor* const id_field =
        resource_internal::IdField(*Request::descriptor());
    const auto* refl = req.GetReflection();
    std::string parent;
    if constexpr (resource_internal::HasParent<Request>::value) {
      parent = req.parent();
      std::vector<std::string> parents(collections_.begin(),
                                       collections_.end() - 1);
      if (auto s = resource_internal::CheckName("parent", parent, parents);
          !s.ok())
        return call.Finish(std::move(s));
    }
    const std::string id = refl->GetString(req, id_field);
    const auto& body = static_cast<const T&>(refl->GetMessage(req, body_field));
    Violations v;
    if (!ValidId(id)) {
      v.Add(id_field->name(), id.empty()
                                  ? std::string("is required")
                                  : absl::StrCat("`", id, "` ", kIdRule));
    }
    // Validation sees the resource as it will be stored, name included.
    T* out = call.response();
    *out = body;
    out->DiscardUnknownFields();
    ClearOutputOnly(out);
    out->set_etag("");
    out->set_name(parent.empty() ? absl::StrCat(collections_.back(), "/", id)
                                 : absl::StrCat(parent, "/",
                                                collections_.back(), "/", id));
    std::string request_id, digest;
    if constexpr (resource_internal::HasRequestId<Request>::value) {
      request_id = absl::AsciiStrToLower(req.request_id());
      if (!request_id.empty() && !resource_internal::ValidRequestId(request_id))
        v.Add("request_id",
              absl::StrCat("`", req.request_id(),
                           "` is not a UUID (e.g. "
                           "`7c0f2c9e-3b5d-4a8e-9f1a-2b6c4d8e0a13`)"));
      if (!request_id.empty()) digest = resource_internal::RequestDigest(req);
    }
    Refs refs;
    decl_.validate(*out, body_field->name() + ".", v, refs);
    if (hooks.validate) hooks.validate(v);
    if (auto s = v.ToStatus(); !s.ok()) return call.Finish(std::move(s));
    if (hooks.prepare) hooks.prepare(nullptr, out);
    const absl::Time deadline = call.deadline();
    set_->db()->WriteAsync(
        deadline,
        [this, out, parent, refs = std::move(refs), request_id, digest,
         hooks = std::move(hooks)](SqlTransaction& tx) -> absl::Status {
          if (!request_id.empty()) {
            auto prior = resource_internal::FindRequest(tx, request_id);
            if (!prior.ok()) return prior.status();
            if (prior->has_value()) {
              if ((*prior)->digest == digest) {
                // A retry of a create that committed: what it created.
                if (auto s = store_.Get(tx, (*prior)->name,
                                        /*allow_deleted=*/true, out);
                    !s.ok())
                  return s;
                return hooks.complete ? hooks.complete(tx, out)
                                      : absl::OkStatus();
              }
              if ((*prior)->name != out->name()) {
                return InvalidArgument(
                    "REQUEST_ID_REUSED",
                    {{"request_id",
                      absl::StrCat("was used for another request, which "
                                   "created ",
                                   (*prior)->name,
                                   "; choose a new UUID for a new request")}});
              }
              // The same name, another request: ALREADY_EXISTS below.
            }
          }
          if (!parent.empty()) {
            if (const ResourceStore* ps = set_->StoreFor(parent)) {
              auto live = ps->Exists(tx, parent, /*hold=*/true);
              if (!live.ok()) return live.status();
              if (!*live) return NotFound(parent);
            }
          }
          if (auto s = set_->CheckReferences(tx, refs); !s.ok()) return s;
          if (hooks.check) {
            if (auto s = hooks.check(tx, *out); !s.ok()) return s;
          }
          if (auto s = store_.Create(tx, out); !s.ok()) return s;
          if (!request_id.empty()) {
            if (auto s = resource_internal::RecordRequest(tx, request_id,
                                                          out->name(), digest);
                !s.ok())
              return s;
          }
          return hooks.complete ? hooks.complete(tx, out) : absl::OkStatus();
        },
        [this, out, call = std::move(call)](absl::Status s) mutable {
          Finished(out, std::move(s), std::move(call));
        });
  }

  template <typename Request>
  void Update(UnaryCall<Request, T> call, WriteHooks<T> hooks = {}) {
    if (auto s = RequireRole(set_->keys(), call.caller(), decl_.roles.update);
        !s.ok())
      return call.Finish(std::move(s));
    const Request& req = call.request();
    static const google::protobuf::FieldDescriptor* const body_field =
        resource_internal::FieldOfType(*Request::descriptor(),
                                       *T::descriptor());
    const auto& patch =
        static_cast<const T&>(req.GetReflection()->GetMessage(req, body_field));
    const std::string prefix = body_field->name() + ".";
    if (auto s = resource_internal::CheckName(prefix + "name", patch.name(),
                                              collections_);
        !s.ok())
      return call.Finish(std::move(s));
    auto mask = EffectiveMask(patch, req.update_mask());
    if (!mask.ok()) return call.Finish(mask.status());
    T* out = call.response();
    const absl::Time deadline = call.deadline();
    set_->db()->WriteAsync(
        deadline,
        [this, out, &patch, prefix, mask = *std::move(mask),
         hooks = std::move(hooks)](SqlTransaction& tx) -> absl::Status {
          absl::Status written = store_.Update(
              tx, patch.name(), patch.etag(),
              [&](google::protobuf::Message* m) -> absl::Status {
                T* current = static_cast<T*>(m);
                std::optional<T> stored;
                if (hooks.prepare) stored = *current;
                if (auto s = ApplyPatch(tx, patch, mask, prefix, current);
                    !s.ok())
                  return s;
                if (hooks.prepare) hooks.prepare(&*stored, current);
                return hooks.check ? hooks.check(tx, *current)
                                   : absl::OkStatus();
              },
              out);
          if (!written.ok() || !hooks.complete) return written;
          return hooks.complete(tx, out);
        },
        [this, out, call = std::move(call)](absl::Status s) mutable {
          Finished(out, std::move(s), std::move(call));
        });
  }

  template <typename Request>
  void Delete(UnaryCall<Request, T> call, WriteHooks<T> hooks = {}) {
    if (auto s = RequireRole(set_->keys(), call.caller(), decl_.roles.remove);
        !s.ok())
      return call.Finish(std::move(s));
    const Request& req = call.request();
    if (auto s = resource_internal::CheckName("name", req.name(), collections_);
        !s.ok())
      return call.Finish(std::move(s));
    T* out = call.response();
    const absl::Time deadline = call.deadline();
    set_->db()->WriteAsync(
        deadline,
        [this, out, &req, hooks = std::move(hooks)](SqlTransaction& tx) {
          absl::Status deleted = store_.Delete(tx, req.name(), req.etag(), out);
          if (!deleted.ok() || !hooks.complete) return deleted;
          return hooks.complete(tx, out);
        },
        [this, call = std::move(call)](absl::Status s) mutable {
          if (s.ok()) set_->AfterCommit();
          call.Finish(std::move(s));
        });
  }

  template <typename Request>
  void Undelete(UnaryCall<Request, T> call, WriteHooks<T> hooks = {}) {
    if (auto s = RequireRole(set_->keys(), call.caller(), decl_.roles.remove);
        !s.ok())
      return call.Finish(std::move(s));
    const Request& req = call.request();
    if (auto s = resource_internal::CheckName("name", req.name(), collections_);
        !s.ok())
      return call.Finish(std::move(s));
    T* out = call.response();
    const absl::Time deadline = call.deadline();
    set_->db()->WriteAsync(
        deadline,
        [this, out, &req,
         hooks = std::move(hooks)](SqlTransaction& tx) -> absl::Status {
          const std::string parent = ResourceStore::ParentOf(req.name());
          if (const ResourceStore* ps =
                  parent.empty() ? nullptr : set_->StoreFor(parent)) {
            auto live = ps->Exists(tx, parent, /*hold=*/true);
            if (!live.ok()) return live.status();
            if (!*live) {
              // A missing resource is NOT_FOUND whatever its parent.
              if (auto s = store_.Get(tx, req.name(), true, out); !s.ok())
                return s;
              return ErrorWithInfo(
                  absl::StatusCode::kFailedPrecondition, "PARENT_DELETED",
                  absl::StrCat(parent, " is deleted: undelete it before ",
                               req.name()),
                  {{"parent", parent}});
            }
          }
          absl::Status s = store_.Undelete(tx, req.name(), req.etag(), out);
          if (!s.ok() || !hooks.complete) return s;
          return hooks.complete(tx, out);
        },
        [this, out, call = std::move(call)](absl::Status s) mutable {
          Finished(out, std::move(s), std::move(call));
        });
  }

  // --- For a service's own methods ---------------------------------------

  // Applies `patch` under `mask` (AIP-134) to `current` inside `tx`:
  // validates the result and checks the references it adds (references it
  // already had may point at resources deleted since).
  absl::Status ApplyPatch(SqlTransaction& tx, const T& patch,
                          const google::protobuf::FieldMask& mask,
                          const std::string& prefix, T* current) const {
    Violations ignored;
    Refs before;
    decl_.validate(*current, prefix, ignored, before);
    T clean = patch;
    clean.DiscardUnknownFields();
    google::protobuf::util::FieldMaskUtil::MergeOptions opts;
    opts.set_replace_message_fields(true);
    opts.set_replace_repeated_fields(true);
    google::protobuf::util::FieldMaskUtil::MergeMessageTo(clean, mask, opts,
                                                          current);
    ClearComputed(current);
    Violations after;
    Refs refs, added;
    decl_.validate(*current, prefix, after, refs);
    if (auto s = after.ToStatus(); !s.ok()) return s;
    for (const auto& ref : refs) {
      bool had = false;
      for (const auto& old : before) had |= old.second == ref.second;
      if (!had) added.push_back(ref);
    }
    return set_->CheckReferences(tx, added);
  }

  // Fills the computed fields for `day` (no-op without `compute`), and
  // gives the resource the weak etag for `day` when they depend on it.
  void Compute(T* resource, int64_t day) const {
    if (!decl_.compute) return;
    decl_.compute(resource, day);
    if (decl_.compute_uses_day)
      resource->set_etag(WeakEtag(resource->etag(), day));
  }

  // Inserts the seed records whose names were never used (idempotent),
  // after validating all of them; `field` names the seed file's list in
  // messages. Synchronous: for start-up.
  absl::Status Seed(const google::protobuf::RepeatedPtrField<T>& items,
                    const char* field) {
    Violations v;
    std::vector<const google::protobuf::Message*> list;
    for (int i = 0; i < items.size(); ++i) {
      std::string f = absl::StrCat(field, "[", i, "]");
      common::CheckName(v, f + ".name", items[i].name(), Shape(), true);
      Refs ignored;
      decl_.validate(items[i], f + ".", v, ignored);
      list.push_back(&items[i]);
    }
    if (auto s = v.ToStatus("INVALID_SEED"); !s.ok()) return s;
    return store_.InsertMissing(list).status();
  }

 private:
  // Identical list pages asked for together are built once (the outcome
  // depends only on the rows): `page` is the encoded page or the response
  // being filled, copied by the other reads of the statement.
  template <typename Response, typename Page>
  static SharedRead SharePage(Page* page, std::string key) {
    static const char kKind = 0;  // one per resource, response and page form
    SharedRead share;
    share.kind = &kKind;
    share.key = std::move(key);  // the view and byte budget
    share.outcome = page;
    share.adopt = [page](const void* leader) {
      *page = *static_cast<const Page*>(leader);
      return absl::OkStatus();
    };
    return share;
  }

  // A read's place in the store's read cache (store/read_cache.h): its key
  // ("" when not cached) and the generation the read began at.
  struct CacheSlot : ReadCache::Slot {
    bool hit = false;  // the call was answered from the cache
  };

  // Looks up the key `append_key` writes (after this resource type's name;
  // false: not cacheable) in the store's read cache, when there is one; on
  // a hit, answers `call` with the kept bytes.
  template <typename Call, typename AppendKey>
  CacheSlot FindCached(Call& call, AppendKey append_key) {
    CacheSlot slot;
    Database* db = set_->db();
    if (db == nullptr || !db->read_cache().enabled()) return slot;
    std::string key = absl::StrCat(T::descriptor()->full_name(), "\n");
    if (!append_key(&key)) return slot;
    std::string bytes;
    if (db->read_cache().Lookup(std::move(key), &slot, &bytes)) {
      slot.hit = true;
      call.FinishSerialized(std::move(bytes));
    }
    return slot;
  }
  void KeepCached(const CacheSlot& slot, absl::string_view bytes) {
    if (!slot.key.empty()) set_->db()->read_cache().Keep(slot, bytes);
  }
  static void AppendKeyPart(const SqlValue& v, std::string* key) {
    if (const auto* i = std::get_if<int64_t>(&v)) {
      absl::StrAppend(key, "i", *i, ";");
    } else if (const auto* d = std::get_if<double>(&v)) {
      key->push_back('d');
      key->append(reinterpret_cast<const char*>(d), sizeof(double));
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      absl::StrAppend(key, "s", s->size(), ":", *s, ";");
    } else {
      key->append("n;");
    }
  }

  // Whether `req` gets the BASIC view (`list`: the default of a List).
  template <typename Request>
  bool Basic(const Request& req, bool list) const {
    static const google::protobuf::FieldDescriptor* const view =
        Request::descriptor()->FindFieldByName("view");
    if (decl_.basic_view_omits.empty()) return false;
    const resource_internal::ResourceView v =
        resource_internal::ViewOf(req, view);
    return v == resource_internal::ResourceView::kBasic ||
           (list && v == resource_internal::ResourceView::kDefault);
  }

  static int NameNumber() {
    static const int number =
        T::descriptor()->FindFieldByName("name")->number();
    return number;
  }

  std::vector<absl::string_view> Shape() const {
    return std::vector<absl::string_view>(collections_.begin(),
                                          collections_.end());
  }

  template <typename Request>
  absl::StatusOr<int64_t> DayOf(const Request& req) const {
    if constexpr (resource_internal::HasAsOf<Request>::value) {
      if (req.has_as_of() || decl_.compute)
        return AsOfDay(req.as_of(), req.has_as_of(), "as_of",
                       req.has_as_of() ? 0 : set_->Today());
    } else {
      if (decl_.compute) return set_->Today();
    }
    return 0;
  }

  template <typename Response>
  void ComputeAll(Response* out, int64_t day) const {
    if (!decl_.compute) return;
    static const google::protobuf::FieldDescriptor* const items =
        resource_internal::FieldOfType(*Response::descriptor(),
                                       *T::descriptor());
    const auto* refl = out->GetReflection();
    const int n = refl->FieldSize(*out, items);
    for (int i = 0; i < n; ++i)
      Compute(static_cast<T*>(refl->MutableRepeatedMessage(out, items, i)),
              day);
  }

  // After a write: the hooks, the computed fields for today, the answer.
  template <typename Call>
  void Finished(T* out, absl::Status s, Call call) {
    if (s.ok()) {
      set_->AfterCommit();
      Compute(out, set_->Today());
    }
    call.Finish(std::move(s));
  }

  ResourceSet* set_;
  ResourceDecl<T> decl_;
  std::vector<std::string> collections_;
  ResourceSpec spec_;
  ResourceStore store_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_RESOURCES_RESOURCE_H_
