#include "services/common/resources/watch.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/base/errors.h"
#include "services/common/query/validation.h"
#include "services/common/resources/resource.h"

namespace cstopa::common {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

ChangeKind ChangeKindOf(WriteKind kind) {
  switch (kind) {
    case WriteKind::kCreate:
      return ChangeKind::kCreated;
    case WriteKind::kUpdate:
      return ChangeKind::kUpdated;
    case WriteKind::kDelete:
      return ChangeKind::kDeleted;
  }
  return ChangeKind::kUpdated;
}

// A google.protobuf.Timestamp field of `m` in microseconds since the epoch.
int64_t TimestampMicros(const Message& m, const FieldDescriptor* field) {
  const Message& t = m.GetReflection()->GetMessage(m, field);
  const Descriptor* d = t.GetDescriptor();
  const auto* refl = t.GetReflection();
  return refl->GetInt64(t, d->FindFieldByNumber(1)) * 1000000 +
         refl->GetInt32(t, d->FindFieldByNumber(2)) / 1000;
}

}  // namespace

google::protobuf::Message* FillWatchResponse(const Change& change,
                                             const std::string& token,
                                             google::protobuf::Message* out) {
  const Descriptor* d = out->GetDescriptor();
  const auto* r = out->GetReflection();
  if (const FieldDescriptor* f = d->FindFieldByName("change_type"))
    r->SetEnumValue(out, f, static_cast<int>(change.kind));
  if (const FieldDescriptor* f = d->FindFieldByName("resume_token"))
    r->SetString(out, f, token);
  if (const FieldDescriptor* f = d->FindFieldByName("sequence"))
    r->SetInt64(out, f, change.seq);
  if (change.kind == ChangeKind::kCheckpoint) return nullptr;
  if (const FieldDescriptor* f = d->FindFieldByName("name"))
    r->SetString(out, f, change.name);
  if (const FieldDescriptor* f = d->FindFieldByName("commit_time")) {
    r->MutableMessage(out, f)->CopyFrom(
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            change.commit_time));
  }
  const FieldDescriptor* f =
      resource_internal::RecordFieldOf(*d, CollectionOf(change.name));
  if (f == nullptr) return nullptr;
  Message* record = r->MutableMessage(out, f);
  // The feed logged the bytes from the resource as stored: they parse.
  (void)record->ParseFromString(change.data);
  return record;
}

WriteHook FeedWriteHook(ChangeFeed* feed) {
  return [feed](SqlTransaction& tx, WriteKind kind,
                const Message& resource) -> absl::Status {
    // Every stored resource has these (resource_store.h).
    const Descriptor* d = resource.GetDescriptor();
    const FieldDescriptor* name = d->FindFieldByName("name");
    const FieldDescriptor* update_time = d->FindFieldByName("update_time");
    if (name == nullptr || update_time == nullptr ||
        update_time->message_type() == nullptr ||
        update_time->message_type()->full_name() != "google.protobuf.Timestamp")
      return absl::InternalError(
          "a logged resource needs `name` and `update_time` fields");
    return feed->Append(tx, ChangeKindOf(kind),
                        resource.GetReflection()->GetString(resource, name),
                        resource.SerializeAsString(),
                        TimestampMicros(resource, update_time));
  };
}

void DrainWatches(ChangeFeed* feed) {
  feed->Shutdown(ErrorWithInfo(
      absl::StatusCode::kUnavailable, "SERVER_SHUTTING_DOWN",
      "the server is shutting down; reconnect (to another replica) with the "
      "last resume_token received"));
}

std::vector<std::string> CheckCollections(
    const google::protobuf::RepeatedPtrField<std::string>& asked,
    const std::vector<std::string>& known, absl::string_view owner,
    Violations& v) {
  std::vector<std::string> accepted;
  for (int i = 0; i < asked.size(); ++i) {
    const std::string& c = asked[i];
    const std::string field = absl::StrCat("collections[", i, "]");
    if (std::find(known.begin(), known.end(), c) == known.end()) {
      v.Add(field, absl::StrCat("unknown collection \"", c, "\"; this ", owner,
                                " has: ", absl::StrJoin(known, ", ")));
    } else if (std::find(accepted.begin(), accepted.end(), c) !=
               accepted.end()) {
      v.Add(field, absl::StrCat("\"", c, "\" is listed twice"));
    } else {
      accepted.push_back(c);
    }
  }
  return accepted;
}

absl::StatusOr<ChangeFilter> MakeChangeFilter(
    const google::protobuf::RepeatedPtrField<std::string>& collections,
    const std::string& name, const std::vector<std::string>& known) {
  Violations v;
  ChangeFilter filter;
  const std::string choices = absl::StrJoin(known, ", ");
  filter.collections = CheckCollections(collections, known, "stream", v);
  if (!name.empty()) {
    // A well-formed name: ID segments and collections of this stream, the
    // last collection one of `known`.
    const std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
    bool ok = parts.size() % 2 == 0;
    for (size_t i = 0; ok && i < parts.size(); i += 2)
      ok = !parts[i].empty() && ValidId(parts[i + 1]);
    if (ok) {
      const absl::string_view collection = CollectionOf(name);
      ok = std::find(known.begin(), known.end(), collection) != known.end();
    }
    if (!ok)
      v.Add("name", absl::StrCat("\"", name,
                                 "\" is not the name of a resource of this "
                                 "stream (collections: ",
                                 choices, ")"));
    filter.name = name;
  }
  absl::Status status = v.ToStatus("INVALID_WATCH_FILTER");
  if (!status.ok()) return status;
  return filter;
}

namespace watch_internal {

WatchStream::WatchStream(ChangeFeed* feed, ServerStreamState* stream,
                         ChangeFilter filter)
    : feed_(feed), stream_(stream), filter_(std::move(filter)) {}

WatchStream::~WatchStream() = default;

void WatchStream::Start(std::shared_ptr<WatchStream> self, Database* db,
                        std::string resume_token, absl::Time deadline) {
  // Runs at once when the stream is cancelled already; registration then
  // sees it.
  self->stream_->SetOnCancel([self] { self->Cancelled(); });
  // ChangeFeed::Watch reads the store (the feed's bounds), so it runs on a
  // store thread; a transaction with nothing in it is the way onto one.
  db->ReadAsync(
      deadline, [](SqlTransaction&) { return absl::OkStatus(); },
      [self = std::move(self), token = std::move(resume_token)](
          absl::Status hop) { self->Register(std::move(hop), token); });
}

void WatchStream::Register(absl::Status hop, const std::string& resume_token) {
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_ && hop.ok()) hop = absl::CancelledError();
    if (hop.ok()) {
      watching_ = true;  // the feed may call us from inside Watch on
      self_ = shared_from_this();
    } else {
      registering_ = false;
    }
  }
  if (!hop.ok()) return FinishOnce(std::move(hop));

  absl::StatusOr<uint64_t> id = feed_->Watch(resume_token, this, filter_);

  std::shared_ptr<WatchStream> keep;  // released after the lock
  absl::Status end;
  bool finish = false, leave = false, ready = false;
  {
    absl::MutexLock lock(&mu_);
    registering_ = false;
    if (!id.ok()) {
      watching_ = false;
      keep = std::move(self_);
      finish = true;
      end = id.status();
    } else {
      id_ = *id;
      if (!watching_) {
        finish = true;  // the feed ended the stream before Watch returned
        end = end_;
      } else if (cancelled_) {
        leave = true;
      } else if (ready_pending_) {
        ready_pending_ = false;
        ready = true;
      }
    }
  }
  if (finish) return FinishOnce(std::move(end));
  if (leave) return LeaveAndFinishCancelled();
  if (ready) feed_->Ready(*id);
}

void WatchStream::OnChange(const Change& change, const std::string& token) {
  {
    absl::MutexLock lock(&mu_);
    // Leaving: whoever is cancelling finishes the stream.
    if (cancelled_ || finished_) return;
    writing_ = true;
  }
  // The response stays ours until the next OnChange, which comes only after
  // Ready, after the write completed (and Write serializes it anyway).
  stream_->Write(Fill(change, token),
                 [self = shared_from_this()](bool ok) { self->Written(ok); });
}

void WatchStream::OnEnd(const absl::Status& status) {
  std::shared_ptr<WatchStream> keep;  // may be the last reference
  bool finish;
  {
    absl::MutexLock lock(&mu_);
    watching_ = false;
    keep = std::move(self_);
    // Never while a write is outstanding (the feed waits for Ready). While
    // registering, Register finishes once Watch has returned.
    finish = !registering_;
    if (registering_) end_ = status;
  }
  if (finish) FinishOnce(status);
}

void WatchStream::Written(bool ok) {
  uint64_t id = 0;
  bool ready = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) cancelled_ = true;  // the client went away
    if (!cancelled_) {
      if (registering_) {
        ready_pending_ = true;  // Register asks once it knows the id
      } else {
        ready = true;
        id = id_;
      }
    }
  }
  if (ready) return feed_->Ready(id);
  LeaveAndFinishCancelled();
}

void WatchStream::Cancelled() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  LeaveAndFinishCancelled();
}

void WatchStream::LeaveAndFinishCancelled() {
  uint64_t id;
  bool leave;
  {
    absl::MutexLock lock(&mu_);
    if (registering_) return;  // Register leaves and finishes
    leave = watching_;
    id = id_;
  }
  // No OnChange or OnEnd after this returns; one in progress completes
  // first, so a write it started is seen below.
  if (leave) feed_->Cancel(id);
  std::shared_ptr<WatchStream> keep;  // may be the last reference
  bool finish;
  {
    absl::MutexLock lock(&mu_);
    if (leave && watching_) {
      watching_ = false;
      keep = std::move(self_);
    }
    // A write still outstanding finishes the stream when it completes.
    finish = !writing_;
  }
  if (finish) FinishOnce(absl::CancelledError());
}

void WatchStream::FinishOnce(absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
  }
  stream_->Finish(std::move(status));
}

}  // namespace watch_internal
}  // namespace cstopa::common
