#include "services/common/store/resource_store.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr char kStandardColumns[] =
    "name, parent, data, etag, revision, create_time, update_time, "
    "delete_time";

void SetTimestamp(Message* m, const char* field, int64_t micros) {
  const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(field);
  if (f == nullptr) return;
  auto* ts = static_cast<google::protobuf::Timestamp*>(
      m->GetReflection()->MutableMessage(m, f));
  ts->set_seconds(micros / 1000000);
  ts->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

void SetString(Message* m, const char* field, const std::string& value) {
  const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(field);
  if (f != nullptr) m->GetReflection()->SetString(m, f, value);
}

// A google.protobuf.Timestamp field in microseconds; nullopt when unset.
std::optional<int64_t> TimestampOf(const Message& m, const char* field) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(field);
  if (f == nullptr || !m.GetReflection()->HasField(m, f)) return std::nullopt;
  const auto& ts = static_cast<const google::protobuf::Timestamp&>(
      m.GetReflection()->GetMessage(m, f));
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

// The delete_time column's value: its micros, or NULL for a live resource.
SqlValue DeleteTimeOf(const Message& m) {
  std::optional<int64_t> t = TimestampOf(m, "delete_time");
  return t.has_value() ? SqlValue(*t) : SqlValue(std::monostate{});
}

std::string GetString(const Message& m, const char* field) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(field);
  return f == nullptr ? "" : m.GetReflection()->GetString(m, f);
}

// A stable, opaque, strong etag (RFC 7232, quoted): FNV-1a 64 of the
// content and the revision.
std::string MakeEtag(const std::string& bytes, int64_t revision) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (unsigned char c : bytes) mix(c);
  for (int i = 0; i < 8; ++i)
    mix(static_cast<unsigned char>(revision >> (8 * i)));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(18, '"');
  for (int i = 16; i >= 1; --i) {
    out[i] = kHex[h & 0xf];
    h >>= 4;
  }
  return out;
}

// The opaque tag of `etag`: what stands between the quotes of a strong
// ("x") or weak (W/"x") etag, or all of it when unquoted (records written
// before etags were quoted). `weak` tells which.
absl::string_view OpaqueTag(absl::string_view etag, bool* weak) {
  *weak = absl::ConsumePrefix(&etag, "W/");
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    return etag.substr(1, etag.size() - 2);
  return etag;
}

// The stored etag's opaque tag a weak etag (WeakEtag) was made from: the
// tag without its "-<day>".
absl::string_view StoredPartOfWeak(absl::string_view tag) {
  size_t dash = tag.rfind('-');
  return dash == absl::string_view::npos ? absl::string_view()
                                         : tag.substr(0, dash);
}

struct OrderKey {
  std::string column;
  bool desc = false;
};

}  // namespace

std::string WeakEtag(absl::string_view etag, int64_t day) {
  bool weak;
  absl::string_view tag = OpaqueTag(etag, &weak);
  if (weak) tag = StoredPartOfWeak(tag);
  return absl::StrCat("W/\"", tag, "-", day, "\"");
}

bool EtagMatches(absl::string_view given, absl::string_view stored) {
  bool given_weak, stored_weak;
  absl::string_view g = OpaqueTag(given, &given_weak);
  absl::string_view s = OpaqueTag(stored, &stored_weak);
  if (given_weak) g = StoredPartOfWeak(g);
  return !g.empty() && g == s;
}

ResourceStore::ResourceStore(Database* db, const ResourceSpec* spec,
                             const PageTokenCodec* tokens)
    : db_(db), spec_(spec), tokens_(tokens) {
  filter_fields_.push_back({"name", "name", FilterFieldType::kString});
  filter_fields_.push_back(
      {"create_time", "create_time", FilterFieldType::kTimestamp});
  filter_fields_.push_back(
      {"update_time", "update_time", FilterFieldType::kTimestamp});
  std::vector<std::string> cols = {kStandardColumns};
  std::vector<std::string> marks(8, "?");
  std::vector<std::string> sets = {"data = ?", "etag = ?", "revision = ?",
                                   "update_time = ?", "delete_time = ?"};
  for (const ColumnSpec& c : spec_->columns) {
    filter_fields_.push_back({c.name, c.name, c.type, c.enum_type});
    cols.push_back(c.name);
    marks.push_back("?");
    sets.push_back(absl::StrCat(c.name, " = ?"));
  }
  get_query_.sql = absl::StrCat("SELECT data, delete_time FROM ", spec_->table,
                                " WHERE name = ?");
  get_query_.batch_sql = absl::StrCat("SELECT name, data, delete_time FROM ",
                                      spec_->table, " WHERE name = ANY(?)");
  insert_sql_ = absl::StrCat("INSERT INTO ", spec_->table, " (",
                             absl::StrJoin(cols, ", "), ") VALUES (",
                             absl::StrJoin(marks, ", "), ")");
  // Conditional on the revision that was read: with several writers (replicas
  // on one PostgreSQL), of two updates from the same revision one wins and
  // the other changes nothing, and is told its etag is stale.
  insert_if_absent_sql_ =
      absl::StrCat(insert_sql_, " ON CONFLICT (name) DO NOTHING");
  update_sql_ =
      absl::StrCat("UPDATE ", spec_->table, " SET ", absl::StrJoin(sets, ", "),
                   " WHERE name = ? AND revision = ?");
  exists_sql_ = absl::StrCat("SELECT 1 FROM ", spec_->table, " WHERE name = ?");
  live_sql_ = absl::StrCat(exists_sql_, " AND delete_time IS NULL");
  live_held_sql_ = absl::StrCat(live_sql_, " FOR SHARE");
  read_for_update_sql_ =
      absl::StrCat("SELECT data, etag, revision, delete_time FROM ",
                   spec_->table, " WHERE name = ?");
}

std::string ResourceStore::ParentOf(absl::string_view name) {
  size_t slash = name.rfind('/');
  if (slash == absl::string_view::npos) return "";
  size_t prev = name.rfind('/', slash - 1);
  if (prev == absl::string_view::npos || slash == 0) return "";
  return std::string(name.substr(0, prev));
}

int64_t ResourceStore::NextTime() {
  const int64_t now = absl::ToUnixMicros(absl::Now());
  int64_t last = last_time_.load();
  int64_t next;
  do {
    next = std::max(now, last + 1);
  } while (!last_time_.compare_exchange_weak(last, next));
  return next;
}

absl::Status ResourceStore::ReadStored(const SqlRow& row,
                                       absl::string_view name,
                                       bool allow_deleted, Message* out,
                                       bool* found) {
  if (!allow_deleted && !row.IsNull(1)) return absl::OkStatus();
  absl::string_view data = row.Bytes(0);
  if (!out->ParseFromArray(data.data(), static_cast<int>(data.size())))
    return absl::DataLossError(absl::StrCat("stored ", name, " is corrupt"));
  *found = true;
  return absl::OkStatus();
}

absl::Status ResourceStore::Get(absl::string_view name, bool allow_deleted,
                                Message* out, absl::Time deadline) const {
  bool found = false;
  absl::Status s = db_->QueryOnce(
      get_query_.sql, {std::string(name)}, deadline, [&](const SqlRow& row) {
        return ReadStored(row, name, allow_deleted, out, &found);
      });
  if (!s.ok()) return s;
  return found ? absl::OkStatus() : NotFound(name, spec_->resource_type);
}

void ResourceStore::GetAsync(std::string name, bool allow_deleted, Message* out,
                             absl::Time deadline, StatusCallback done) const {
  // One allocation per call: `done` owns the state, the row callback (which
  // always runs before it) borrows it.
  struct Call {
    std::string name;
    bool allow_deleted;
    Message* out;
    bool found = false;
    StatusCallback done;
  };
  auto call = std::unique_ptr<Call>(
      new Call{std::move(name), allow_deleted, out, false, std::move(done)});
  Call* c = call.get();
  db_->QueryKeyAsync(
      &get_query_, c->name, deadline,
      [c](const SqlRow& row) {
        return ReadStored(row, c->name, c->allow_deleted, c->out, &c->found);
      },
      [spec = spec_, call = std::move(call)](absl::Status s) {
        if (s.ok() && !call->found)
          s = NotFound(call->name, spec->resource_type);
        call->done(std::move(s));
      });
}

absl::Status ResourceStore::BatchGet(const std::vector<std::string>& names,
                                     const std::function<Message*()>& add,
                                     absl::Time deadline) const {
  return db_->Read(deadline, [&](SqlTransaction& tx) -> absl::Status {
    for (const std::string& name : names) {
      bool found = false;
      absl::Status s = tx.QueryEach(
          get_query_.sql, {name}, [&](const SqlRow& row) -> absl::Status {
            if (!row.IsNull(1)) return absl::OkStatus();
            absl::string_view data = row.Bytes(0);
            if (!add()->ParseFromArray(data.data(),
                                       static_cast<int>(data.size())))
              return absl::DataLossError(
                  absl::StrCat("stored ", name, " is corrupt"));
            found = true;
            return absl::OkStatus();
          });
      if (!s.ok()) return s;
      if (!found) return NotFound(name, spec_->resource_type);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> ResourceStore::List(
    const ListQuery& q, const std::function<Message*()>& add,
    absl::Time deadline) const {
  return ListRows(
      q,
      [&](absl::string_view data) -> absl::Status {
        if (!add()->ParseFromArray(data.data(), static_cast<int>(data.size())))
          return absl::DataLossError("a stored resource is corrupt");
        return absl::OkStatus();
      },
      deadline);
}

absl::StatusOr<std::string> ResourceStore::ListEncoded(
    const ListQuery& q, int field_number, std::string* out,
    absl::Time deadline) const {
  const uint32_t tag = (static_cast<uint32_t>(field_number) << 3) | 2;
  return ListRows(
      q,
      [&](absl::string_view data) -> absl::Status {
        AppendVarint(tag, out);
        AppendVarint(data.size(), out);
        out->append(data.data(), data.size());
        return absl::OkStatus();
      },
      deadline);
}

void ResourceStore::AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

absl::StatusOr<ListPlan> ResourceStore::PlanList(const ListQuery& q) const {
  auto page_size = NormalizePageSize(q.page_size);
  if (!page_size.ok()) return page_size.status();

  // order_by: "field [asc|desc], ..."; the name is the final tie-breaker.
  std::vector<OrderKey> keys;
  bool has_name = false;
  for (absl::string_view part :
       absl::StrSplit(q.order_by, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> words =
        absl::StrSplit(part, ' ', absl::SkipEmpty());
    if (words.empty() || words.size() > 2 ||
        (words.size() == 2 && words[1] != "desc" && words[1] != "asc")) {
      return InvalidArgument(
          "INVALID_ORDER_BY",
          {{"order_by", absl::StrCat("`", absl::StripAsciiWhitespace(part),
                                     "` is not `field` or `field desc`")}});
    }
    std::string field(words[0]);
    bool known =
        field == "name" || field == "create_time" || field == "update_time";
    for (const ColumnSpec& c : spec_->columns)
      known |= c.orderable && c.name == field;
    if (!known) {
      std::vector<std::string> allowed = {"name", "create_time", "update_time"};
      for (const ColumnSpec& c : spec_->columns)
        if (c.orderable) allowed.push_back(c.name);
      return InvalidArgument(
          "INVALID_ORDER_BY",
          {{"order_by", absl::StrCat("cannot order by `", field, "`; allowed: ",
                                     absl::StrJoin(allowed, ", "))}});
    }
    for (const OrderKey& k : keys) {
      if (k.column == field)
        return InvalidArgument(
            "INVALID_ORDER_BY",
            {{"order_by", absl::StrCat("`", field, "` appears twice")}});
    }
    has_name |= field == "name";
    keys.push_back({field, words.size() == 2 && words[1] == "desc"});
    if (has_name) break;  // nothing after the unique key matters
  }
  if (!has_name) keys.push_back({"name", false});

  auto cond = CompileFilter(q.filter, filter_fields_);
  if (!cond.ok()) return cond.status();

  std::string fingerprint = absl::StrCat(
      spec_->table, "\n", q.parent, "\n", q.filter, "\n", q.order_by, "\n",
      q.show_deleted ? "1" : "0", "\n", q.extra_fingerprint);

  std::vector<std::string> where;
  SqlValues params;
  if (!q.show_deleted) {
    // On SQLite the unary + keeps the planner from reading the page through
    // an index that starts with delete_time (legislation's documents have
    // one, for the summaries) and then sorting every live row for each page;
    // the page is then a range of the index its order names. PostgreSQL
    // keeps the plain term (partial indexes may be written on it).
    const bool sqlite = db_ != nullptr && db_->dialect() == "sqlite";
    where.push_back(sqlite ? "+delete_time IS NULL" : "delete_time IS NULL");
  }
  if (!q.parent.empty() && !absl::EndsWith(q.parent, "/-")) {
    where.push_back("parent = ?");
    params.push_back(q.parent);
  }
  if (!cond->sql.empty()) {
    where.push_back(cond->sql);
    for (auto& p : cond->params) params.push_back(std::move(p));
  }
  if (!q.extra_sql.empty()) {
    where.push_back(absl::StrCat("(", q.extra_sql, ")"));
    for (const auto& p : q.extra_params) params.push_back(p);
  }
  if (!q.page_token.empty()) {
    auto cursor = tokens_->Decode(q.page_token, fingerprint);
    if (!cursor.ok()) return cursor.status();
    if (cursor->last_values.size() != keys.size()) {
      return InvalidArgument("INVALID_PAGE_TOKEN",
                             {{"page_token", "does not match this query"}});
    }
    // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...
    std::vector<std::string> ors;
    for (size_t i = 0; i < keys.size(); ++i) {
      std::vector<std::string> ands;
      for (size_t j = 0; j < i; ++j) {
        ands.push_back(absl::StrCat(keys[j].column, " = ?"));
        params.push_back(cursor->last_values[j]);
      }
      ands.push_back(
          absl::StrCat(keys[i].column, keys[i].desc ? " < ?" : " > ?"));
      params.push_back(cursor->last_values[i]);
      ors.push_back(absl::StrCat("(", absl::StrJoin(ands, " AND "), ")"));
    }
    where.push_back(absl::StrCat("(", absl::StrJoin(ors, " OR "), ")"));
    // The same bound on the first key alone, redundant but in the form both
    // databases turn into an index range: without it they read the index
    // from the start, and page N costs N pages.
    if (keys.size() > 1) {
      where.push_back(
          absl::StrCat(keys[0].column, keys[0].desc ? " <= ?" : " >= ?"));
      params.push_back(cursor->last_values[0]);
    }
  }

  std::vector<std::string> order_cols, select_keys;
  for (const OrderKey& k : keys) {
    order_cols.push_back(absl::StrCat(k.column, k.desc ? " DESC" : " ASC"));
    select_keys.push_back(k.column);
  }
  ListPlan plan;
  plan.sql = absl::StrCat(
      "SELECT data, ", absl::StrJoin(select_keys, ", "), " FROM ", spec_->table,
      where.empty() ? "" : " WHERE ", absl::StrJoin(where, " AND "),
      " ORDER BY ", absl::StrJoin(order_cols, ", "), " LIMIT ", *page_size + 1);
  plan.params = std::move(params);
  plan.fingerprint = std::move(fingerprint);
  plan.page_size = *page_size;
  return plan;
}

namespace {
constexpr absl::string_view kPageFullPayload = "cstopa.org/page_full";
std::atomic<int64_t> max_response_bytes{4 << 20};
}  // namespace

void SetMaxResponseBytes(int64_t bytes) { max_response_bytes.store(bytes); }
int64_t MaxResponseBytes() { return max_response_bytes.load(); }

absl::Status PageFull() {
  absl::Status s(absl::StatusCode::kResourceExhausted, "page full");
  s.SetPayload(kPageFullPayload, absl::Cord("1"));
  return s;
}

bool IsPageFull(const absl::Status& s) {
  return s.code() == absl::StatusCode::kResourceExhausted &&
         s.GetPayload(kPageFullPayload).has_value();
}

namespace {

// Reads the rows of a ListPlan: hands each page row to the sink, keeps the
// sort keys of the last one, and notices the extra row that means "more".
class ListReader {
 public:
  explicit ListReader(int32_t page_size) : page_size_(page_size) {}

  // The keys of every row are kept (not only of the page's last): a sink
  // may end the page early (PageFull), after any row.
  absl::Status OnRow(const SqlRow& row,
                     absl::FunctionRef<absl::Status(absl::string_view)> sink) {
    if (n_ == page_size_) {  // the extra row (or a declined one): more
      more_ = true;
      return absl::OkStatus();
    }
    if (auto s = sink(row.Bytes(0)); !s.ok()) {
      if (!IsPageFull(s)) return s;
      n_ = page_size_;  // the rows after this one are ignored
      more_ = true;
      return absl::OkStatus();
    }
    ++n_;
    cursor_.last_values.resize(static_cast<size_t>(row.size() - 1));
    for (int i = 1; i < row.size(); ++i)
      cursor_.last_values[static_cast<size_t>(i - 1)] = row.Value(i);
    const absl::string_view name = row.Bytes(row.size() - 1);
    cursor_.last_name.assign(name.data(), name.size());
    return absl::OkStatus();
  }

  std::string NextToken(const PageTokenCodec& tokens,
                        const std::string& fingerprint) const {
    return more_ ? tokens.Encode(cursor_, fingerprint) : std::string();
  }

 private:
  int32_t page_size_;
  int32_t n_ = 0;
  bool more_ = false;
  PageCursor cursor_;
};

}  // namespace

absl::StatusOr<std::string> ResourceStore::ListRows(
    const ListQuery& q,
    absl::FunctionRef<absl::Status(absl::string_view)> row_data,
    absl::Time deadline) const {
  auto plan = PlanList(q);
  if (!plan.ok()) return plan.status();
  // One statement: its own consistent snapshot, no explicit transaction.
  ListReader reader(plan->page_size);
  absl::Status s = db_->QueryOnce(
      plan->sql, plan->params, deadline,
      [&](const SqlRow& row) { return reader.OnRow(row, row_data); });
  if (!s.ok()) return s;
  return reader.NextToken(*tokens_, plan->fingerprint);
}

absl::StatusOr<std::string> ResourceStore::List(
    SqlTransaction& tx, const ListQuery& q,
    const std::function<Message*()>& add) const {
  auto plan = PlanList(q);
  if (!plan.ok()) return plan.status();
  ListReader reader(plan->page_size);
  absl::Status s =
      tx.QueryEach(plan->sql, plan->params, [&](const SqlRow& row) {
        return reader.OnRow(row, [&](absl::string_view data) -> absl::Status {
          if (!add()->ParseFromArray(data.data(),
                                     static_cast<int>(data.size())))
            return absl::DataLossError("a stored resource is corrupt");
          return absl::OkStatus();
        });
      });
  if (!s.ok()) return s;
  return reader.NextToken(*tokens_, plan->fingerprint);
}

void ResourceStore::ListAsync(const ListQuery& q, RowSink sink,
                              absl::Time deadline, ListCallback done,
                              SharedRead share) const {
  auto plan = PlanList(q);
  if (!plan.ok()) {
    done(plan.status());
    return;
  }
  struct State {
    ListReader reader;
    RowSink sink;
    std::string fingerprint;
    ListCallback done;
    SharedRead caller;  // how the sink's outcome is shared
  };
  auto state = std::make_unique<State>(
      State{ListReader(plan->page_size), std::move(sink),
            std::move(plan->fingerprint), std::move(done), std::move(share)});
  State* st = state.get();
  // Shared: the reader's place (the next page token is each read's own:
  // the fingerprint may differ) and the sink's outcome.
  SharedRead shared;
  if (st->caller.kind != nullptr) {
    shared.kind = st->caller.kind;
    shared.key = st->caller.key;
    shared.outcome = st;
    shared.adopt = [st](const void* leader) {
      const State* l = static_cast<const State*>(leader);
      st->reader = l->reader;
      return st->caller.adopt(l->caller.outcome);
    };
  }
  db_->QuerySharedAsync(
      std::move(plan->sql), std::move(plan->params), deadline,
      [st](const SqlRow& row) {
        return st->reader.OnRow(
            row, [st](absl::string_view data) { return st->sink(data); });
      },
      [this, state = std::move(state)](absl::Status s) {
        if (!s.ok()) {
          state->done(std::move(s));
          return;
        }
        state->done(state->reader.NextToken(*tokens_, state->fingerprint));
      },
      std::move(shared));
}

void ResourceStore::BatchGetAsync(
    std::vector<std::string> names,
    absl::AnyInvocable<google::protobuf::Message*()> add, absl::Time deadline,
    StatusCallback done) const {
  struct State {
    std::vector<std::string> names;
    absl::flat_hash_map<std::string, std::string> found;  // name -> data
    absl::AnyInvocable<google::protobuf::Message*()> add;
    StatusCallback done;
  };
  auto state = std::make_unique<State>();
  state->names = std::move(names);
  state->add = std::move(add);
  state->done = std::move(done);
  std::vector<std::string> marks(state->names.size(), "?");
  SqlValues params(state->names.begin(), state->names.end());
  std::string sql = absl::StrCat("SELECT name, data FROM ", spec_->table,
                                 " WHERE delete_time IS NULL", " AND name IN (",
                                 absl::StrJoin(marks, ", "), ")");
  State* st = state.get();
  db_->QueryOnceAsync(
      std::move(sql), std::move(params), deadline,
      [st](const SqlRow& row) {
        st->found.emplace(std::string(row.Bytes(0)), std::string(row.Bytes(1)));
        return absl::OkStatus();
      },
      [spec = spec_, state = std::move(state)](absl::Status s) {
        if (s.ok()) {
          for (const std::string& name : state->names) {
            auto it = state->found.find(name);
            if (it == state->found.end()) {
              s = NotFound(name, spec->resource_type);
              break;
            }
          }
        }
        if (s.ok()) {
          for (const std::string& name : state->names) {
            const std::string& data = state->found[name];
            if (!state->add()->ParseFromString(data)) {
              s = absl::DataLossError(
                  absl::StrCat("stored ", name, " is corrupt"));
              break;
            }
          }
        }
        state->done(std::move(s));
      });
}

absl::Status ResourceStore::Store(SqlTransaction& tx, Message* resource,
                                  int64_t revision, int64_t now) {
  SetTimestamp(resource, "update_time", now);
  SetString(resource, "etag", "");
  std::string content = resource->SerializeAsString();
  std::string etag = MakeEtag(content, revision);
  SetString(resource, "etag", etag);
  const SqlValue deleted = DeleteTimeOf(*resource);
  SqlValues params = {resource->SerializeAsString(), etag, revision, now,
                      deleted};
  for (const ColumnSpec& c : spec_->columns)
    params.push_back(c.extract(*resource));
  const std::string name = GetString(*resource, "name");
  params.push_back(name);
  params.push_back(revision - 1);
  auto changed = tx.Execute(update_sql_, params);
  if (!changed.ok()) return changed.status();
  if (*changed != 1) return EtagMismatch(name);
  if (write_hook_) {
    // Update refuses deleted resources, so a delete_time here is new.
    const bool is_deleted = !std::holds_alternative<std::monostate>(deleted);
    return write_hook_(tx, is_deleted ? WriteKind::kDelete : WriteKind::kUpdate,
                       *resource);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ResourceStore::Insert(SqlTransaction& tx,
                                              Message* resource,
                                              int64_t created, int64_t updated,
                                              bool if_absent) {
  std::string name = GetString(*resource, "name");
  SetTimestamp(resource, "create_time", created);
  SetTimestamp(resource, "update_time", updated);
  SetString(resource, "etag", "");
  std::string etag = MakeEtag(resource->SerializeAsString(), 1);
  SetString(resource, "etag", etag);
  const SqlValue deleted = DeleteTimeOf(*resource);
  SqlValues params = {name,    ParentOf(name), resource->SerializeAsString(),
                      etag,    int64_t{1},     created,
                      updated, deleted};
  for (const ColumnSpec& c : spec_->columns)
    params.push_back(c.extract(*resource));
  auto inserted =
      tx.Execute(if_absent ? insert_if_absent_sql_ : insert_sql_, params);
  if (inserted.ok() && *inserted == 1 && write_hook_) {
    // Only an import inserts a resource that is deleted already.
    const bool is_deleted = !std::holds_alternative<std::monostate>(deleted);
    if (absl::Status s = write_hook_(
            tx, is_deleted ? WriteKind::kDelete : WriteKind::kCreate,
            *resource);
        !s.ok())
      return s;
  }
  return inserted;
}

absl::Status ResourceStore::Create(SqlTransaction& tx, Message* resource) {
  std::string name = GetString(*resource, "name");
  auto exists = tx.Query(exists_sql_, {name});
  if (!exists.ok()) return exists.status();
  if (!exists->empty()) return AlreadyExists(name, spec_->resource_type);
  const int64_t now = NextTime();
  absl::Status s = Insert(tx, resource, now, now, false).status();
  // Another writer inserted the same name since the check above.
  if (s.code() == absl::StatusCode::kAlreadyExists)
    return AlreadyExists(name, spec_->resource_type);
  return s;
}

absl::Status ResourceStore::Create(Message* resource,
                                   const std::function<absl::Status()>& check,
                                   absl::Time deadline) {
  return db_->Write(deadline, [&](SqlTransaction& tx) -> absl::Status {
    if (check) {
      std::string name = GetString(*resource, "name");
      auto exists = tx.Query(exists_sql_, {name});
      if (!exists.ok()) return exists.status();
      if (!exists->empty()) return AlreadyExists(name, spec_->resource_type);
      if (absl::Status c = check(); !c.ok()) return c;
    }
    return Create(tx, resource);
  });
}

absl::Status ResourceStore::Update(
    SqlTransaction& tx, absl::string_view name, absl::string_view etag,
    absl::FunctionRef<absl::Status(Message*)> mutate, Message* out) {
  auto rows = tx.Query(read_for_update_sql_, {std::string(name)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return NotFound(name, spec_->resource_type);
  const SqlValues& row = rows->front();
  if (!std::holds_alternative<std::monostate>(row[3]))
    return NotFound(name, spec_->resource_type);
  if (!etag.empty() && !EtagMatches(etag, AsString(row[1])))
    return EtagMismatch(name);
  if (!out->ParseFromString(AsString(row[0])))
    return absl::DataLossError(absl::StrCat("stored ", name, " is corrupt"));
  if (auto s = mutate(out); !s.ok()) return s;
  // The identity and output-only bookkeeping stay the store's.
  SetString(out, "name", std::string(name));
  return Store(tx, out, AsInt(row[2]) + 1, NextTime());
}

absl::Status ResourceStore::Update(
    absl::string_view name, absl::string_view etag,
    absl::FunctionRef<absl::Status(Message*)> mutate, Message* out,
    absl::Time deadline) {
  return db_->Write(deadline, [&](SqlTransaction& tx) {
    return Update(tx, name, etag, mutate, out);
  });
}

absl::Status ResourceStore::Delete(SqlTransaction& tx, absl::string_view name,
                                   absl::string_view etag, Message* out) {
  return Update(
      tx, name, etag,
      [&](Message* m) {
        SetTimestamp(m, "delete_time", absl::ToUnixMicros(absl::Now()));
        return absl::OkStatus();
      },
      out);
}

absl::Status ResourceStore::Delete(absl::string_view name,
                                   absl::string_view etag, Message* out,
                                   absl::Time deadline) {
  return db_->Write(deadline, [&](SqlTransaction& tx) {
    return Delete(tx, name, etag, out);
  });
}

absl::Status ResourceStore::Undelete(SqlTransaction& tx, absl::string_view name,
                                     absl::string_view etag, Message* out) {
  auto rows = tx.Query(read_for_update_sql_, {std::string(name)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return NotFound(name, spec_->resource_type);
  const SqlValues& row = rows->front();
  if (std::holds_alternative<std::monostate>(row[3])) {
    return ErrorWithInfo(
        absl::StatusCode::kAlreadyExists, "NOT_DELETED",
        absl::StrCat(name,
                     " is not deleted: only a deleted resource can be "
                     "undeleted"));
  }
  if (!etag.empty() && !EtagMatches(etag, AsString(row[1])))
    return EtagMismatch(name);
  if (!out->ParseFromString(AsString(row[0])))
    return absl::DataLossError(absl::StrCat("stored ", name, " is corrupt"));
  const FieldDescriptor* del =
      out->GetDescriptor()->FindFieldByName("delete_time");
  if (del != nullptr) out->GetReflection()->ClearField(out, del);
  SetString(out, "name", std::string(name));
  return Store(tx, out, AsInt(row[2]) + 1, NextTime());
}

absl::Status ResourceStore::Undelete(absl::string_view name,
                                     absl::string_view etag, Message* out,
                                     absl::Time deadline) {
  return db_->Write(deadline, [&](SqlTransaction& tx) {
    return Undelete(tx, name, etag, out);
  });
}

absl::Status ResourceStore::Get(SqlTransaction& tx, absl::string_view name,
                                bool allow_deleted, Message* out) const {
  bool found = false;
  absl::Status s =
      tx.QueryEach(get_query_.sql, {std::string(name)}, [&](const SqlRow& row) {
        return ReadStored(row, name, allow_deleted, out, &found);
      });
  if (!s.ok()) return s;
  return found ? absl::OkStatus() : NotFound(name, spec_->resource_type);
}

absl::StatusOr<bool> ResourceStore::Exists(SqlTransaction& tx,
                                           absl::string_view name,
                                           bool hold) const {
  bool found = false;
  absl::Status s = tx.QueryEach(
      hold && db_->dialect() == "postgresql" ? live_held_sql_ : live_sql_,
      {std::string(name)}, [&](const SqlRow&) {
        found = true;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return found;
}

absl::StatusOr<bool> ResourceStore::Import(SqlTransaction& tx,
                                           Message* resource) {
  const int64_t created =
      TimestampOf(*resource, "create_time").value_or(NextTime());
  const int64_t updated =
      TimestampOf(*resource, "update_time").value_or(created);
  absl::StatusOr<int64_t> inserted =
      Insert(tx, resource, created, updated, /*if_absent=*/true);
  if (!inserted.ok()) return inserted.status();
  return *inserted == 1;
}

absl::StatusOr<bool> ResourceStore::Used(SqlTransaction& tx,
                                         absl::string_view name) const {
  bool found = false;
  absl::Status s =
      tx.QueryEach(exists_sql_, {std::string(name)}, [&](const SqlRow&) {
        found = true;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return found;
}

absl::StatusOr<int> ResourceStore::InsertMissing(
    const std::vector<const Message*>& resources) {
  int inserted = 0;
  absl::Status s = db_->Write([&](SqlTransaction& tx) -> absl::Status {
    inserted = 0;
    for (const Message* r : resources) {
      std::unique_ptr<Message> copy(r->New());
      copy->CopyFrom(*r);
      // ON CONFLICT DO NOTHING: replicas seeding one database at the same
      // time each insert what no one has, and none fails.
      const int64_t now = NextTime();
      auto n = Insert(tx, copy.get(), now, now, /*if_absent=*/true);
      if (!n.ok()) return n.status();
      inserted += static_cast<int>(*n);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return inserted;
}

}  // namespace cstopa::common
