#include "services/common/store/change_feed.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

std::string RetentionText(absl::Duration d) {
  int64_t hours = absl::ToInt64Hours(d);
  if (hours >= 48 && hours % 24 == 0) return absl::StrCat(hours / 24, " days");
  return absl::FormatDuration(d);
}

}  // namespace

ChangeFeed::ChangeFeed(Database* db, const PageTokenCodec* tokens,
                       ChangeFeedOptions options)
    : db_(db),
      tokens_(tokens),
      options_(std::move(options)),
      token_fingerprint_(absl::StrCat("change-feed\n", options_.token_scope)) {
  {
    absl::MutexLock lock(&mu_);
    next_prune_ = absl::Now() + options_.prune_interval;
  }
  thread_ = std::thread([this] { Run(); });
}

ChangeFeed::~ChangeFeed() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

std::string ChangeFeed::TokenFor(int64_t seq) const {
  PageCursor c;
  // (Not push_back: GCC 12's -Wmaybe-uninitialized misfires on the variant's
  // move in sanitizer builds.)
  c.last_values.emplace_back(std::in_place_type<int64_t>, seq);
  return tokens_->Encode(c, token_fingerprint_);
}

absl::StatusOr<int64_t> ChangeFeed::ParseToken(absl::string_view token) const {
  auto bad = [](absl::string_view why) {
    return InvalidArgument(
        "INVALID_RESUME_TOKEN",
        {{"resume_token",
          absl::StrCat(why,
                       "; resume only with a token this service sent, or "
                       "restart from a List and watch from now")}});
  };
  if (token.empty()) return bad("is empty");
  auto cursor = tokens_->Decode(token, token_fingerprint_);
  if (!cursor.ok()) return bad("is malformed, altered or from another feed");
  if (cursor->last_values.size() != 1 ||
      !std::holds_alternative<int64_t>(cursor->last_values[0]) ||
      std::get<int64_t>(cursor->last_values[0]) < 0)
    return bad("is not a resume token");
  return std::get<int64_t>(cursor->last_values[0]);
}

absl::Status ChangeFeed::Append(SqlTransaction& tx, ChangeKind kind,
                                absl::string_view name, absl::string_view data,
                                int64_t commit_time) {
  if (db_->dialect() == "postgresql") {
    // Held until commit: writers of this feed commit in seq order.
    auto locked =
        tx.Query("SELECT 1 FROM pg_advisory_xact_lock(?)", {options_.lock_key});
    if (!locked.ok()) return locked.status();
  }
  auto next = tx.Query(
      absl::StrCat("SELECT COALESCE(MAX(seq), 0) + 1 FROM ", options_.table),
      {});
  if (!next.ok()) return next.status();
  int64_t seq = next->empty() ? 1 : AsInt(next->front()[0]);
  return tx
      .Execute(absl::StrCat("INSERT INTO ", options_.table,
                            " (seq, kind, name, data, commit_time) VALUES "
                            "(?, ?, ?, ?, ?)"),
               {seq, static_cast<int64_t>(kind), std::string(name),
                std::string(data), commit_time})
      .status();
}

void ChangeFeed::Notify() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

absl::StatusOr<int64_t> ChangeFeed::HeadIn(SqlTransaction& tx) const {
  int64_t head = 0;
  absl::Status s = tx.QueryEach(
      absl::StrCat("SELECT COALESCE(MAX(seq), 0) FROM ", options_.table), {},
      [&](const SqlRow& row) {
        head = row.Int(0);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return head;
}

absl::StatusOr<std::pair<int64_t, int64_t>> ChangeFeed::Bounds() {
  std::pair<int64_t, int64_t> out{0, 0};
  absl::Status s = db_->QueryOnce(
      absl::StrCat("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM ",
                   options_.table),
      {}, [&](const SqlRow& row) {
        out = {row.Int(0), row.Int(1)};
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<Change>> ChangeFeed::ReadAfter(int64_t after,
                                                          int limit) {
  std::vector<Change> rows;
  absl::Status s = db_->QueryOnce(
      absl::StrCat("SELECT seq, kind, name, data, commit_time FROM ",
                   options_.table, " WHERE seq > ? ORDER BY seq LIMIT ?"),
      {after, int64_t{limit}}, [&](const SqlRow& row) {
        Change c;
        c.seq = row.Int(0);
        c.kind = static_cast<ChangeKind>(row.Int(1));
        c.name = std::string(row.Bytes(2));
        c.data = std::string(row.Bytes(3));
        c.commit_time = row.Int(4);
        rows.push_back(std::move(c));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return rows;
}

absl::string_view CollectionOf(absl::string_view resource_name) {
  const size_t last = resource_name.rfind('/');
  if (last == absl::string_view::npos || last == 0) return {};
  const size_t before = resource_name.rfind('/', last - 1);
  return resource_name.substr(
      before == absl::string_view::npos ? 0 : before + 1,
      last - (before == absl::string_view::npos ? 0 : before + 1));
}

bool ChangeFilter::Matches(absl::string_view resource_name) const {
  if (!name.empty() && resource_name != name) return false;
  if (collections.empty()) return true;
  const absl::string_view collection = CollectionOf(resource_name);
  return std::find(collections.begin(), collections.end(), collection) !=
         collections.end();
}

absl::StatusOr<uint64_t> ChangeFeed::Watch(absl::string_view resume_token,
                                           Watcher* watcher,
                                           ChangeFilter filter) {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_ || stop_)
      return ErrorWithInfo(absl::StatusCode::kUnavailable,
                           "SERVER_SHUTTING_DOWN",
                           "the server is shutting down; reconnect (to "
                           "another replica) with your last resume token");
  }
  int64_t after = 0;
  if (!resume_token.empty()) {
    auto seq = ParseToken(resume_token);
    if (!seq.ok()) return seq.status();
    after = *seq;
  }
  auto bounds = Bounds();
  if (!bounds.ok()) return bounds.status();
  auto [min_seq, max_seq] = *bounds;
  if (resume_token.empty()) {
    after = max_seq;
  } else if (after > max_seq || (max_seq > after && min_seq > after + 1)) {
    return ErrorWithInfo(
        absl::StatusCode::kOutOfRange, "RESUME_TOKEN_EXPIRED",
        absl::StrCat(
            "the changes after this resume token are no longer kept (changes "
            "are kept ",
            RetentionText(options_.retention),
            "); restart from a List (e.g. ordered by update_time with "
            "show_deleted) and then watch from now"),
        {{"retention", RetentionText(options_.retention)}});
  }
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  Sub& sub = subs_[id];
  sub.watcher = watcher;
  sub.after = after;
  sub.filter = std::move(filter);
  sub.last_sent = absl::Now();
  wake_ = true;
  return id;
}

void ChangeFeed::Ready(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  it->second.ready = true;
  wake_ = true;
}

void ChangeFeed::Cancel(uint64_t id) {
  struct Args {
    ChangeFeed* feed;
    uint64_t id;
  } args{this, id};
  absl::MutexLock lock(&mu_);
  // Waits out a callback in progress for this watcher.
  mu_.Await(absl::Condition(
      +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return a->feed->delivering_ != a->id;
      },
      &args));
  subs_.erase(id);
}

void ChangeFeed::Shutdown(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  shutdown_status_ = status;
  for (auto& [id, sub] : subs_)
    if (sub.doom.ok()) sub.doom = status;
  wake_ = true;
}

size_t ChangeFeed::watcher_count() const {
  absl::MutexLock lock(&mu_);
  return subs_.size();
}

int64_t ChangeFeed::head() const {
  absl::MutexLock lock(&mu_);
  return head_;
}

absl::StatusOr<int64_t> ChangeFeed::Prune(absl::Time now) {
  int64_t cutoff = absl::ToUnixMicros(now - options_.retention);
  int64_t n = 0;
  absl::Status s = db_->Write([&](SqlTransaction& tx) -> absl::Status {
    auto deleted = tx.Execute(
        absl::StrCat("DELETE FROM ", options_.table,
                     " WHERE commit_time < ? AND seq < (SELECT MAX(seq) FROM ",
                     options_.table, ")"),
        {cutoff});
    if (!deleted.ok()) return deleted.status();
    n = *deleted;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return n;
}

absl::Status ChangeFeed::Poll() {
  bool started;
  int64_t after;
  {
    absl::MutexLock lock(&mu_);
    started = started_;
    after = head_;
  }
  if (!started) {
    auto bounds = Bounds();
    if (!bounds.ok()) return bounds.status();
    // Answers kept before the feed knew where the log stood may predate
    // rows written in the meantime.
    db_->read_cache().Invalidate();
    absl::MutexLock lock(&mu_);
    head_ = ring_floor_ = bounds->second;
    started_ = true;
    return absl::OkStatus();
  }
  // A few pages per round, so a burst cannot starve delivery.
  for (int round = 0; round < 8; ++round) {
    auto rows = ReadAfter(after, options_.page_size);
    if (!rows.ok()) return rows.status();
    // Rows this process did not write itself (another replica's) change
    // what reads answer: the answers kept of them go.
    if (!rows->empty()) db_->read_cache().Invalidate();
    absl::MutexLock lock(&mu_);
    for (Change& c : *rows) {
      if (c.seq <= head_) continue;
      head_ = c.seq;
      ring_.push_back(std::move(c));
      while (static_cast<int>(ring_.size()) > options_.buffer_size) {
        ring_floor_ = ring_.front().seq;
        ring_.pop_front();
      }
    }
    after = head_;
    if (static_cast<int>(rows->size()) < options_.page_size) break;
  }
  return absl::OkStatus();
}

void ChangeFeed::Run() {
  for (;;) {
    bool prune = false;
    {
      absl::MutexLock lock(&mu_);
      // Wake early for a local commit, a watcher that became ready, or stop.
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](ChangeFeed* f) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return f->stop_ || f->wake_;
              },
              this),
          options_.poll_interval);
      if (stop_) return;
      wake_ = false;
      absl::Time now = absl::Now();
      if (now >= next_prune_) {
        prune = true;
        next_prune_ = now + options_.prune_interval;
      }
    }
    absl::Status polled = Poll();
    if (prune) (void)Prune(absl::Now());
    if (polled.ok()) Dispatch();
  }
}

void ChangeFeed::Dispatch() {
  const absl::Time now = absl::Now();
  // 1. Watchers behind the ring read a page from the store.
  std::vector<std::pair<uint64_t, int64_t>> catch_up;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, sub] : subs_) {
      if (sub.ready && sub.doom.ok() && sub.sent_any && sub.backlog.empty() &&
          sub.after < head_ && sub.after < ring_floor_)
        catch_up.push_back({id, sub.after});
    }
  }
  std::vector<std::pair<uint64_t, absl::StatusOr<std::vector<Change>>>> pages;
  for (const auto& [id, after] : catch_up)
    pages.push_back({id, ReadAfter(after, options_.page_size)});

  std::vector<Delivery> out;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, page] : pages) {
      auto it = subs_.find(id);
      if (it == subs_.end()) continue;
      Sub& sub = it->second;
      if (!page.ok()) {
        sub.doom = page.status();
      } else if (page->empty() || page->front().seq != sub.after + 1) {
        sub.doom = ErrorWithInfo(
            absl::StatusCode::kOutOfRange, "RESUME_TOKEN_EXPIRED",
            absl::StrCat("the changes after this position are no longer kept "
                         "(changes are kept ",
                         RetentionText(options_.retention),
                         "); restart from a List and then watch from now"),
            {{"retention", RetentionText(options_.retention)}});
      } else {
        sub.backlog.assign(std::make_move_iterator(page->begin()),
                           std::make_move_iterator(page->end()));
      }
    }

    // 2. One message for each ready watcher that has something to get.
    for (auto& [id, sub] : subs_) {
      if (!sub.ready) {
        if (sub.live && head_ - sub.after > options_.max_lag && sub.doom.ok())
          sub.doom = ErrorWithInfo(
              absl::StatusCode::kResourceExhausted, "WATCHER_TOO_SLOW",
              absl::StrCat("the stream fell more than ", options_.max_lag,
                           " changes behind; reconnect with the last "
                           "resume_token received to continue where it left "
                           "off"),
              {{"max_lag", std::to_string(options_.max_lag)}});
        continue;
      }
      if (sub.live && head_ - sub.after > options_.max_lag && sub.doom.ok())
        sub.doom = ErrorWithInfo(
            absl::StatusCode::kResourceExhausted, "WATCHER_TOO_SLOW",
            absl::StrCat("the stream fell more than ", options_.max_lag,
                         " changes behind; reconnect with the last "
                         "resume_token received to continue where it left off"),
            {{"max_lag", std::to_string(options_.max_lag)}});
      if (!sub.doom.ok()) {
        sub.ready = false;  // never planned again; erased after OnEnd
        out.push_back({id, sub.watcher, {}, true, sub.doom});
        continue;
      }
      Change change;
      if (!sub.sent_any) {
        change.seq = sub.after;  // the first message: a checkpoint
      } else {
        // The next change the watcher wants; those it does not are passed
        // over (its position moves past them).
        bool found = false;
        while (!sub.backlog.empty()) {
          Change next = std::move(sub.backlog.front());
          sub.backlog.pop_front();
          // The ring may hold the rest by now.
          if (next.seq >= ring_floor_) sub.backlog.clear();
          if (sub.filter.Matches(next.name)) {
            change = std::move(next);
            found = true;
            break;
          }
          sub.after = next.seq;
        }
        if (!found && sub.after < head_ && sub.after >= ring_floor_ &&
            sub.backlog.empty()) {
          auto pos = std::upper_bound(
              ring_.begin(), ring_.end(), sub.after,
              [](int64_t seq, const Change& c) { return seq < c.seq; });
          for (; pos != ring_.end(); ++pos) {
            if (sub.filter.Matches(pos->name)) {
              change = *pos;
              found = true;
              break;
            }
            sub.after = pos->seq;
          }
        }
        if (!found) {
          if (sub.after < head_) continue;  // waits for its catch-up page
          sub.live = true;
          if (now - sub.last_sent < options_.checkpoint_interval) continue;
          change.seq = sub.after;  // quiet stream: a checkpoint
        }
      }
      if (change.kind != ChangeKind::kCheckpoint) sub.after = change.seq;
      if (sub.after >= head_) sub.live = true;
      sub.ready = false;
      sub.sent_any = true;
      sub.last_sent = now;
      out.push_back({id, sub.watcher, std::move(change), false, {}});
    }
  }
  Deliver(out);
}

void ChangeFeed::Deliver(std::vector<Delivery>& out) {
  for (Delivery& d : out) {
    {
      absl::MutexLock lock(&mu_);
      auto it = subs_.find(d.id);
      if (it == subs_.end()) continue;  // cancelled meanwhile
      // An ended watcher is gone before it hears so; Cancel still waits for
      // the call to return.
      if (d.end) subs_.erase(it);
      delivering_ = d.id;
    }
    if (d.end) {
      d.watcher->OnEnd(d.status);
    } else {
      d.watcher->OnChange(d.change, TokenFor(d.change.seq));
    }
    absl::MutexLock lock(&mu_);
    delivering_ = 0;
  }
}

}  // namespace cstopa::common
