#include "services/common/resources/export.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "services/common/base/errors.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"

namespace cstopa::common {

absl::Status Exports::Admit(const std::shared_ptr<Stream>& stream) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return ErrorWithInfo(
        absl::StatusCode::kUnavailable, "SERVER_SHUTTING_DOWN",
        "the server is shutting down; export from another replica");
  }
  // A stream counts while it lives.
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [](const std::weak_ptr<Stream>& s) {
                                  return s.expired();
                                }),
                 streams_.end());
  if (static_cast<int>(streams_.size()) >= options_.max_concurrent) {
    return ErrorWithInfo(
        absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED",
        absl::StrCat(options_.max_concurrent,
                     " exports of this service are running, the most it "
                     "serves at once; retry in a minute"));
  }
  streams_.push_back(stream);
  return absl::OkStatus();
}

void Exports::StopAll() {
  std::vector<std::weak_ptr<Stream>> streams;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    streams.swap(streams_);
  }
  const absl::Status status = ErrorWithInfo(
      absl::StatusCode::kUnavailable, "SERVER_SHUTTING_DOWN",
      "the server is shutting down; export again (from another replica)");
  for (const std::weak_ptr<Stream>& weak : streams) {
    if (std::shared_ptr<Stream> s = weak.lock()) s->Stop(status);
  }
}

namespace export_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// One export stream: a reader on a store thread that fills a bounded queue,
// and a writer that sends the queue one message at a time. Owned by shared
// pointers: the read's callbacks and each outstanding write's.
class ExportStream : public Exports::Stream,
                     public std::enable_shared_from_this<ExportStream> {
 public:
  ExportStream(ServerStreamState* stream, std::unique_ptr<Message> prototype,
               const ExportOptions& options, int64_t today)
      : stream_(stream),
        prototype_(std::move(prototype)),
        options_(options),
        today_(today) {}

  // The snapshot: the feed's head, then every record of `plan`, then the
  // last message. Runs in the read transaction, on a store thread.
  absl::Status Read(SqlTransaction& tx, const ChangeFeed& feed,
                    const ExportPlan& plan) {
    const Descriptor& d = *prototype_->GetDescriptor();
    const FieldDescriptor* name_field = d.FindFieldByName("name");
    const FieldDescriptor* token_field = d.FindFieldByName("resume_token");
    const FieldDescriptor* count_field = d.FindFieldByName("record_count");
    if (name_field == nullptr || token_field == nullptr ||
        count_field == nullptr)
      return absl::InternalError(absl::StrCat(
          d.full_name(), " lacks name, resume_token or record_count"));
    absl::StatusOr<int64_t> head = feed.HeadIn(tx);
    if (!head.ok()) return head.status();
    int64_t count = 0;
    for (const ResourceSet::Collection* c : plan.collections) {
      const FieldDescriptor* field =
          resource_internal::RecordFieldOf(d, c->ids.back());
      if (field == nullptr)
        return absl::InternalError(absl::StrCat(
            d.full_name(), " has no field for \"", c->ids.back(), "\""));
      // Deleted rows are skipped here rather than in SQL: with
      // `delete_time IS NULL` in the statement SQLite may pick an index on
      // delete_time and sort every page, which made an export of 100,000
      // documents quadratic; on `name > ?` alone each page is an index
      // range.
      const std::string sql = absl::StrCat(
          "SELECT name, data, delete_time FROM ", c->store->spec().table,
          " WHERE name > ? ORDER BY name LIMIT ?");
      std::string after;
      for (;;) {
        int rows = 0;
        absl::Status s = tx.QueryEach(
            sql, {after, int64_t{kExportPageRows}},
            [&](const SqlRow& row) -> absl::Status {
              ++rows;
              after = std::string(row.Bytes(0));
              if (!plan.show_deleted && !row.IsNull(2)) return absl::OkStatus();
              std::unique_ptr<Message> m(prototype_->New());
              const auto* r = m->GetReflection();
              r->SetString(m.get(), name_field, after);
              Message* record = r->MutableMessage(m.get(), field);
              const absl::string_view data = row.Bytes(1);
              if (!record->ParseFromArray(data.data(),
                                          static_cast<int>(data.size())))
                return absl::DataLossError(absl::StrCat(
                    "the stored record ", after, " does not parse as ",
                    record->GetDescriptor()->full_name()));
              c->compute(record, today_);
              ++count;
              return Push(std::move(m));
            });
        if (!s.ok()) return s;
        if (rows < kExportPageRows) break;
      }
    }
    std::unique_ptr<Message> last(prototype_->New());
    last->GetReflection()->SetString(last.get(), token_field,
                                     feed.TokenFor(*head));
    last->GetReflection()->SetInt64(last.get(), count_field, count);
    return Push(std::move(last));
  }

  // The read ended (its transaction is over).
  void ReadDone(absl::Status status) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      read_done_ = true;
      end_ = std::move(status);
      if (!end_.ok()) Drop();
      if (!writing_ && !finished_) finish = finished_ = true;
    }
    if (finish) stream_->Finish(end_);
  }

  // The client cancelled, or the deadline passed.
  void Cancelled() { Stop(absl::CancelledError("the export was cancelled")); }

  void Stop(const absl::Status& status) override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
      stop_status_ = status;
      Drop();
      if (!writing_ && !finished_) finish = finished_ = true;
    }
    if (finish) stream_->Finish(status);
  }

 private:
  struct Queued {
    std::unique_ptr<Message> message;
    size_t bytes;
  };

  // Queues `m` for the client, waiting while the queue is full. An error
  // (the client went away or stalled) ends the read.
  absl::Status Push(std::unique_ptr<Message> m) {
    const size_t bytes = m->ByteSizeLong();
    std::unique_ptr<Message> now;
    {
      absl::MutexLock lock(&mu_);
      const int64_t limit = options_.max_buffered_bytes;
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopped_ || static_cast<int64_t>(queued_bytes_) < limit;
      };
      if (!mu_.AwaitWithTimeout(absl::Condition(&room),
                                options_.stall_timeout)) {
        return ErrorWithInfo(
            absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED",
            absl::StrCat("the client took no message for ",
                         absl::FormatDuration(options_.stall_timeout),
                         "; the export ended to free its store thread. Export "
                         "again, reading as the messages come"));
      }
      if (stopped_)
        return absl::CancelledError("the client went away during the export");
      if (writing_) {
        queued_bytes_ += bytes;
        queue_.push_back({std::move(m), bytes});
        return absl::OkStatus();
      }
      writing_ = true;
      now = std::move(m);
    }
    Send(std::move(now));
    return absl::OkStatus();
  }

  // Writes `m` (serialized before Write returns); one write at a time.
  void Send(std::unique_ptr<Message> m) {
    stream_->Write(*m,
                   [self = shared_from_this()](bool ok) { self->Written(ok); });
  }

  void Written(bool ok) {
    std::unique_ptr<Message> next;
    bool finish = false;
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        stopped_ = true;
        Drop();
      }
      if (!queue_.empty()) {
        next = std::move(queue_.front().message);
        queued_bytes_ -= queue_.front().bytes;
        queue_.pop_front();
      } else {
        writing_ = false;
        if (!finished_ && (!ok || stopped_ || read_done_)) {
          finish = finished_ = true;
          if (!ok) {
            status =
                absl::CancelledError("the client went away during the export");
          } else if (stopped_) {
            status = stop_status_;
          } else {
            status = end_;
          }
        }
      }
    }
    if (next != nullptr) {
      Send(std::move(next));
    } else if (finish) {
      stream_->Finish(std::move(status));
    }
  }

  // Forgets what waits to be sent (the stream is ending).
  void Drop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queue_.clear();
    queued_bytes_ = 0;
  }

  ServerStreamState* const stream_;
  const std::unique_ptr<Message> prototype_;
  const ExportOptions options_;
  const int64_t today_;  // the day computed fields are for

  absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;    // a Write is outstanding
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;    // cancelled or broken
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;  // end_ is the read's
  bool finished_ ABSL_GUARDED_BY(mu_) = false;   // Finish called
  absl::Status end_ ABSL_GUARDED_BY(mu_);
  absl::Status stop_status_ ABSL_GUARDED_BY(mu_);  // why Stop ended it
};

}  // namespace

absl::StatusOr<ExportPlan> PlanExport(
    const ResourceSet& set, const google::protobuf::Message& request) {
  const Descriptor& d = *request.GetDescriptor();
  const auto* r = request.GetReflection();
  ExportPlan plan;
  if (const FieldDescriptor* f = d.FindFieldByName("show_deleted"))
    plan.show_deleted = r->GetBool(request, f);
  google::protobuf::RepeatedPtrField<std::string> asked;
  if (const FieldDescriptor* f = d.FindFieldByName("collections")) {
    for (int i = 0; i < r->FieldSize(request, f); ++i)
      *asked.Add() = r->GetRepeatedString(request, f, i);
  }
  std::vector<std::string> known;
  for (const ResourceSet::Collection& c : set.collections())
    known.push_back(c.ids.back());
  Violations v;
  const std::vector<std::string> wanted =
      CheckCollections(asked, known, "service", v);
  absl::Status status = v.ToStatus();
  if (!status.ok()) return status;
  for (const ResourceSet::Collection& c : set.collections()) {
    if (wanted.empty() ||
        std::find(wanted.begin(), wanted.end(), c.ids.back()) != wanted.end())
      plan.collections.push_back(&c);
  }
  return plan;
}

void StartExport(ResourceSet* set, ChangeFeed* feed, Exports* exports,
                 ExportPlan plan, ServerStreamState* stream,
                 std::unique_ptr<google::protobuf::Message> response) {
  auto self = std::make_shared<ExportStream>(stream, std::move(response),
                                             exports->options(), set->Today());
  if (absl::Status admitted = exports->Admit(self); !admitted.ok()) {
    stream->Finish(std::move(admitted));
    return;
  }
  stream->SetOnCancel([weak = std::weak_ptr<ExportStream>(self)] {
    if (auto s = weak.lock()) s->Cancelled();
  });
  const absl::Time deadline = stream->caller().deadline;
  // A store thread of its own: the read waits for the client while its
  // transaction is open, which must never hold the calling (gRPC) thread.
  set->db()->ReadOnStoreThread(
      deadline,
      [self, feed, plan = std::move(plan)](SqlTransaction& tx) {
        return self->Read(tx, *feed, plan);
      },
      [self](absl::Status status) { self->ReadDone(std::move(status)); });
}

}  // namespace export_internal
}  // namespace cstopa::common
