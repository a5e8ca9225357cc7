// Generic storage of AIP resources over the SQL layer (sql.h).
//
// Every call takes an optional deadline (the gRPC call's): store work past it
// fails with DEADLINE_EXCEEDED.
//
// Each resource type has a table with the standard columns
//   name TEXT PRIMARY KEY, parent TEXT, data BLOB (the serialized message),
//   etag TEXT, revision INTEGER, create_time, update_time, delete_time
//   (INTEGER microseconds since the epoch, delete_time NULL while live)
// plus the columns its ResourceSpec extracts from the message for filtering
// and ordering. A ResourceStore implements the standard methods on top:
// Get, BatchGet, List (AIP-160 filter, order_by, keyset pagination with
// signed page tokens), Create, Update (etag check), soft Delete, Undelete,
// and an idempotent insert-if-absent used to load seed data.
//
// The message type must have the fields `name` (string), `etag` (string) and
// `create_time`, `update_time`, `delete_time` (google.protobuf.Timestamp).
//
//   ResourceStore states(db, &kStateSpec, &token_codec);
//   State s;
//   s.set_name("states/kz");
//   absl::Status st = states.Create(&s);  // sets times and etag
#ifndef CSTOPA_SERVICES_COMMON_STORE_RESOURCE_STORE_H_
#define CSTOPA_SERVICES_COMMON_STORE_RESOURCE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "services/common/query/filter.h"
#include "services/common/query/paging.h"
#include "services/common/store/sql.h"

namespace cstopa::common {

// A column derived from the resource, usable in `filter` and, if orderable,
// in `order_by`. Orderable columns must never be NULL.
struct ColumnSpec {
  std::string name;  // the field name clients use and the SQL column name
  FilterFieldType type;
  const google::protobuf::EnumDescriptor* enum_type = nullptr;
  std::function<SqlValue(const google::protobuf::Message&)> extract;
  bool orderable = false;
};

// Etags (AIP-154, RFC 7232). A write stores a strong etag, a quoted opaque
// tag ("0123456789abcdef") that changes with every write. An answer whose
// computed fields depend on a day (`as_of`) carries instead a weak etag for
// that day, W/"0123456789abcdef-20260315" (WeakEtag), so that two answers
// with the same etag are the same answer.
//
// The weak etag of `etag` (strong, or weak for another day) for `day`
// (YYYYMMDD).
std::string WeakEtag(absl::string_view etag, int64_t day);
// Whether `given` (a request's etag) names the stored version whose etag is
// `stored`: a strong etag equal to it; a weak one made from it (WeakEtag,
// any day: the computed fields are never written); or, for clients that
// kept one from before etags were quoted, the same tag unquoted. Anything
// else, "" included, does not match.
bool EtagMatches(absl::string_view given, absl::string_view stored);

struct ResourceSpec {
  std::string table;  // SQL table, e.g. "states"
  std::vector<ColumnSpec> columns;
  // The resource type errors name (google.rpc.ResourceInfo), e.g.
  // "cstopa.org/State"; may be empty.
  std::string resource_type = "";
};

// A List call after request validation.
struct ListQuery {
  // For nested collections: the parent name, or "<collection>/-" for all
  // parents. Empty for top-level collections.
  std::string parent;
  std::string filter;
  std::string order_by;
  std::string page_token;
  int32_t page_size = 0;  // as given by the client; normalized here
  bool show_deleted = false;
  // An extra condition the handler adds (e.g. "as of" date bounds), with a
  // canonical description that binds page tokens to it.
  std::string extra_sql;
  SqlValues extra_params;
  std::string extra_fingerprint;
};

// A List call turned into one statement (ResourceStore::PlanList).
struct ListPlan {
  std::string sql;
  SqlValues params;
  std::string fingerprint;  // binds page tokens to the query
  int32_t page_size = 0;    // normalized
};

// Receives the stored bytes of each resource a List reads, in order. A sink
// that returns PageFull() declines the row: the page ends before it, with a
// next page token that resumes at it (a page cut short by bytes, so that a
// response stays under the message limit).
using RowSink = absl::AnyInvocable<absl::Status(absl::string_view data)>;

// The largest response message the server sends (its --max_message_bytes,
// which the runner sets at start; gRPC's 4 MiB until then): List pages are
// cut short by bytes to stay under it.
void SetMaxResponseBytes(int64_t bytes);
int64_t MaxResponseBytes();

// What a RowSink returns to end the page before the row it was given.
absl::Status PageFull();
// Whether `s` is PageFull().
bool IsPageFull(const absl::Status& s);
// Called once when an asynchronous List ends: the next page token ("" at
// the end), or the error.
using ListCallback = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;

// What a write did to a resource, as told to a WriteHook.
enum class WriteKind { kCreate, kUpdate, kDelete };

// Runs inside the write transaction after a resource was stored (Create,
// Update, soft Delete, and each record a seed load inserted), with the
// resource as stored (times and etag set). An error aborts the whole write:
// change logs written here commit with the change or not at all.
using WriteHook = std::function<absl::Status(SqlTransaction& tx, WriteKind kind,
                                             const google::protobuf::Message&)>;

class ResourceStore {
 public:
  // `db`, `spec` and `tokens` must outlive the store.
  ResourceStore(Database* db, const ResourceSpec* spec,
                const PageTokenCodec* tokens);

  // Reads one resource into `out`. NOT_FOUND when missing, or soft-deleted
  // and !allow_deleted.
  absl::Status Get(absl::string_view name, bool allow_deleted,
                   google::protobuf::Message* out,
                   absl::Time deadline = absl::InfiniteFuture()) const;

  // Get without holding the calling thread for the store's round trip (see
  // Database::QueryOnceAsync): `done` runs once `out` is filled or with the
  // error, possibly on the store's I/O thread. `out` must live until then.
  void GetAsync(std::string name, bool allow_deleted,
                google::protobuf::Message* out, absl::Time deadline,
                StatusCallback done) const;

  // Reads several live resources in the order of `names`, calling `add()`
  // for each to get the message to fill. NOT_FOUND names the first missing.
  absl::Status BatchGet(const std::vector<std::string>& names,
                        const std::function<google::protobuf::Message*()>& add,
                        absl::Time deadline = absl::InfiniteFuture()) const;

  // One page of a list; returns the next page token ("" at the end).
  absl::StatusOr<std::string> List(
      const ListQuery& query,
      const std::function<google::protobuf::Message*()>& add,
      absl::Time deadline = absl::InfiniteFuture()) const;

  // Like List, but appends the stored resources to `out` as they are, each
  // encoded as the length-delimited field `field_number` of a response
  // message, without decoding them: the fast path for lists whose resources
  // need no per-request computation.
  absl::StatusOr<std::string> ListEncoded(
      const ListQuery& query, int field_number, std::string* out,
      absl::Time deadline = absl::InfiniteFuture()) const;

  // List without holding the calling thread (Database::QueryOnceAsync):
  // `sink` gets each stored resource, then `done` the next page token. Both
  // may run on a store thread; what they reference must live until `done`.
  // With `share` (see SharedRead; its outcome is what `sink` fills),
  // identical pages asked for together are built once and copied.
  void ListAsync(const ListQuery& query, RowSink sink, absl::Time deadline,
                 ListCallback done, SharedRead share = {}) const;

  // BatchGet without holding the calling thread: one statement for all the
  // names. `add` is called for each in the order of `names` (duplicates
  // included) once all are found; NOT_FOUND names the first missing.
  void BatchGetAsync(std::vector<std::string> names,
                     absl::AnyInvocable<google::protobuf::Message*()> add,
                     absl::Time deadline, StatusCallback done) const;

  // The statement of a List, with its page token checked. INVALID_ARGUMENT
  // for a bad filter, order_by, page size or page token.
  absl::StatusOr<ListPlan> PlanList(const ListQuery& query) const;

  // Appends a protobuf base-128 varint.
  static void AppendVarint(uint64_t value, std::string* out);

  // The same writes inside a transaction the caller runs (for handlers,
  // Database::WriteAsync), so that checks of other rows (references, a
  // parent) commit or fail with the write. `resource` / `out` as above.
  absl::Status Create(SqlTransaction& tx, google::protobuf::Message* resource);
  absl::Status Update(
      SqlTransaction& tx, absl::string_view name, absl::string_view etag,
      absl::FunctionRef<absl::Status(google::protobuf::Message*)> mutate,
      google::protobuf::Message* out);
  absl::Status Delete(SqlTransaction& tx, absl::string_view name,
                      absl::string_view etag, google::protobuf::Message* out);
  // Makes a soft-deleted resource live again (AIP-164): clears its
  // delete_time and stores it as an update (the write hook sees kUpdate).
  // NOT_FOUND if the name was never used, ALREADY_EXISTS (reason
  // NOT_DELETED) if it is live, ABORTED on a stale `etag`.
  absl::Status Undelete(SqlTransaction& tx, absl::string_view name,
                        absl::string_view etag, google::protobuf::Message* out);
  // Reads one resource inside `tx`; NOT_FOUND as Get.
  absl::Status Get(SqlTransaction& tx, absl::string_view name,
                   bool allow_deleted, google::protobuf::Message* out) const;
  // One page of a list inside `tx` (read with other rows in one snapshot);
  // returns the next page token as List does.
  absl::StatusOr<std::string> List(
      SqlTransaction& tx, const ListQuery& query,
      const std::function<google::protobuf::Message*()>& add) const;

  // Whether a live resource `name` exists, inside `tx`. With `hold`, on
  // PostgreSQL the row is locked FOR SHARE until `tx` ends: a concurrent
  // delete waits, so a reference checked here cannot be orphaned before the
  // write that makes it commits.
  absl::StatusOr<bool> Exists(SqlTransaction& tx, absl::string_view name,
                              bool hold) const;

  // Inserts `resource` (its name set; parent derived from the name). Sets
  // create/update time, etag. ALREADY_EXISTS if the name was ever used.
  // `check`, if given, runs inside the write transaction first (e.g. that
  // referenced resources exist), so nothing can change in between.
  absl::Status Create(google::protobuf::Message* resource,
                      const std::function<absl::Status()>& check = nullptr,
                      absl::Time deadline = absl::InfiniteFuture());

  // Reads the live resource, checks `etag` when non-empty (EtagMatches;
  // ABORTED, reason ETAG_MISMATCH, otherwise), lets `mutate`
  // change it (returning an error aborts the write), then stores it with a
  // new update_time and etag. The result is left in `out`.
  absl::Status Update(
      absl::string_view name, absl::string_view etag,
      absl::FunctionRef<absl::Status(google::protobuf::Message*)> mutate,
      google::protobuf::Message* out,
      absl::Time deadline = absl::InfiniteFuture());

  // Soft-deletes; `out` receives the deleted resource.
  absl::Status Delete(absl::string_view name, absl::string_view etag,
                      google::protobuf::Message* out,
                      absl::Time deadline = absl::InfiniteFuture());

  // Undelete in a transaction of its own.
  absl::Status Undelete(absl::string_view name, absl::string_view etag,
                        google::protobuf::Message* out,
                        absl::Time deadline = absl::InfiniteFuture());

  // Inside `tx`: inserts `resource` as given (an import) when its name was
  // never used, keeping its create_time, update_time and delete_time (now
  // when unset), as revision 1 with a new etag. Returns whether it was
  // inserted. The write hook sees a create, or a delete when the resource
  // has a delete_time.
  absl::StatusOr<bool> Import(SqlTransaction& tx,
                              google::protobuf::Message* resource);
  // Whether a resource named `name` was ever stored (live or deleted),
  // inside `tx`.
  absl::StatusOr<bool> Used(SqlTransaction& tx, absl::string_view name) const;

  // Inserts every resource whose name was never used, in one transaction,
  // leaving existing (or deleted) ones untouched. Returns how many were new.
  absl::StatusOr<int> InsertMissing(
      const std::vector<const google::protobuf::Message*>& resources);

  const ResourceSpec& spec() const { return *spec_; }
  // The fields `filter` knows (name, create_time, update_time and the
  // spec's columns): for a service's own statements over the same table
  // (an aggregate, say) that take List's filters.
  const std::vector<FilterField>& filter_fields() const {
    return filter_fields_;
  }

  // Sets the hook every write runs in its transaction (none by default).
  // Call before the store is used.
  void set_write_hook(WriteHook hook) { write_hook_ = std::move(hook); }

  Database* db() const { return db_; }

  // The parent part of a resource name: "a/x/b/y" -> "a/x"; "" for
  // top-level names.
  static std::string ParentOf(absl::string_view name);

 private:
  // Reads a row of get_query_.sql into `out` (when live, or `allow_deleted`),
  // setting `*found`.
  static absl::Status ReadStored(const SqlRow& row, absl::string_view name,
                                 bool allow_deleted,
                                 google::protobuf::Message* out, bool* found);
  absl::StatusOr<std::string> ListRows(
      const ListQuery& query,
      absl::FunctionRef<absl::Status(absl::string_view)> row_data,
      absl::Time deadline) const;
  // Rows inserted (0 when `if_absent` and the name exists), as revision 1
  // with these times and the resource's delete_time (set only by imports);
  // the write hook sees a create, or a delete for a deleted resource.
  absl::StatusOr<int64_t> Insert(SqlTransaction& tx,
                                 google::protobuf::Message* resource,
                                 int64_t created, int64_t updated,
                                 bool if_absent);
  absl::Status Store(SqlTransaction& tx, google::protobuf::Message* resource,
                     int64_t revision, int64_t now);
  int64_t NextTime();

  Database* db_;
  const ResourceSpec* spec_;
  const PageTokenCodec* tokens_;
  std::vector<FilterField> filter_fields_;
  KeyedQuery get_query_;  // one name (sql) and many names (batch_sql)
  std::string insert_sql_;
  std::string insert_if_absent_sql_;
  std::string update_sql_;
  std::string exists_sql_;     // any row with the name, deleted or not
  std::string live_sql_;       // a live row with the name
  std::string live_held_sql_;  // the same, FOR SHARE (PostgreSQL)
  std::string read_for_update_sql_;
  WriteHook write_hook_;
  // The newest create/update time handed out: times strictly increase, also
  // when writes run on several threads (PostgreSQL).
  std::atomic<int64_t> last_time_{0};
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_RESOURCE_STORE_H_
