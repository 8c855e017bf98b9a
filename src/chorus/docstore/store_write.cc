// Reads, mutations, the write modes and their flusher.
//
// Hot path of a set() in group/async mode (docstore_bench, one thread): the value is serialized
// once, outside the lock, into a shared JsonText; under the lock one index lookup finds the
// entry, the op is encoded into the buffer (one ops record for the whole group), the entry takes
// the text and the history shares it. No thread is woken per op: the flusher sleeps until the
// oldest buffered op is group_delay_ms old and is notified only when it idles.
#include <algorithm>
#include <utility>

#include "chorus/docstore/store.h"

namespace chorus::docstore {
namespace {

// Buffered modes: hand the buffer to the OS once it is this big, so memory stays bounded.
constexpr uint64_t kWriteOps = 4096;
constexpr uint64_t kWriteBytes = 1u << 20;

std::vector<Op> to_ops(std::span<const StoredOp> ops) {
  std::vector<Op> out;
  out.reserve(ops.size());
  for (const StoredOp& op : ops) out.push_back(op.to_op());
  return out;
}

}  // namespace

uint64_t Store::now_ms() const { return clock_src_->wall_ms(); }

Status Store::health() const {
  std::lock_guard lk(mu_);
  return failed_;
}

Status Store::fail(Status cause) {
  if (failed_.ok()) failed_ = Status::Failed("store " + dir_ + " stopped: " + cause.ToString());
  return failed_;
}

Status Store::check_writable() const {
  if (closed_) return Status::Unavailable("store " + dir_ + " is closed");
  if (options_.read_only) {
    return Status::ReadOnly("store " + dir_ + " is open read-only: mutations are refused");
  }
  if (options_.skip_load) {
    return Status::InvalidArgument("store " + dir_ + " was opened with skip_load: no mutations");
  }
  return failed_;
}

const Store::Entry* Store::find_live(const std::string& id) const {
  const Entry* e = state_.find(id);
  return e != nullptr && e->text ? e : nullptr;
}

const Json& Store::value_of(const Entry& e) const {
  if (e.parsed.is_discarded()) e.parsed = e.text.parse();
  return e.parsed;
}

// Last-writer-wins by (clock, agent): an op older than what the record holds loses. In single-
// writer mode clocks only grow, so every op wins and this is a plain replay.
Store::Entry* Store::apply(StoredOp& op) { return apply(op, *state_.try_emplace(op.id).first); }

// e is op.id's entry; a fresh one (clock 0, no text) loses to every op.
Store::Entry* Store::apply(StoredOp& op, Entry& e) {
  if (std::tie(e.clock, e.agent) > std::tie(op.clock, op.agent)) return nullptr;
  const bool was_live = static_cast<bool>(e.text), set = op.type == OpType::kSet;
  // A replayed op's prev is usually the text the state holds: share it rather than keep two.
  if (was_live && op.prev && op.prev.view() == e.text.view()) op.prev = e.text;
  live_ = live_ + (set && !was_live ? 1 : 0) - (!set && was_live ? 1 : 0);
  if (!set && !multi_writer()) {  // only multi-writer mode keeps tombstones
    state_.erase(op.id);
    return nullptr;
  }
  e = Entry{set ? op.data : JsonText(), op.clock, op.agent};
  return &e;
}

std::optional<Json> Store::get(const std::string& id) const {
  std::lock_guard lk(mu_);
  const Entry* e = find_live(id);
  return e != nullptr ? std::optional<Json>(value_of(*e)) : std::nullopt;
}

bool Store::has(const std::string& id) const {
  std::lock_guard lk(mu_);
  return find_live(id) != nullptr;
}

std::vector<Json> Store::all() const { return filter(nullptr); }

std::vector<std::pair<std::string, Json>> Store::entries() const {
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, Json>> out;
  out.reserve(live_);
  for (const auto& [id, e] : state_) {
    if (e.text) out.emplace_back(id, value_of(e));
  }
  return out;
}

std::vector<Json> Store::filter(const std::function<bool(const Json&)>& pred) const {
  std::lock_guard lk(mu_);
  std::vector<Json> out;
  for (const auto& [id, e] : state_) {
    if (e.text && (!pred || pred(value_of(e)))) out.push_back(value_of(e));
  }
  return out;
}

size_t Store::count(const std::function<bool(const Json&)>& pred) const {
  std::lock_guard lk(mu_);
  if (!pred) return live_;
  size_t n = 0;
  for (const auto& [id, e] : state_) n += e.text && pred(value_of(e)) ? 1 : 0;
  return n;
}

std::vector<Op> Store::history(const std::string& id) const {
  std::lock_guard lk(mu_);
  std::vector<Op> out;
  for (const StoredOp& op : ops_) {
    if (op.id == id) out.push_back(op.to_op());
  }
  return out;
}

std::vector<Op> Store::ops(uint64_t since_ms) const {
  std::lock_guard lk(mu_);
  std::vector<Op> out;
  for (const StoredOp& op : ops_) {
    if (op.ts_ms >= since_ms) out.push_back(op.to_op());
  }
  return out;
}

Status Store::set(const std::string& id, Json value) {
  CHORUS_ASSIGN_OR_RETURN(JsonText text, JsonText::serialize(value));  // outside the lock
  std::vector<Op> watched;
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    auto [entry, fresh] = state_.try_emplace(id);  // the one lookup of this set
    StoredOp op{.type = OpType::kSet, .id = id, .data = std::move(text), .prev = entry->text};
    if (Status st = stage(std::span(&op, 1), watched, entry); !st.ok()) {
      if (fresh) state_.erase(id);
      return st;
    }
    CHORUS_TRY(after_stage(lk));
  }
  notify(watched);
  return Status::Ok();
}

Status Store::del(const std::string& id) {
  std::vector<Op> watched;
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    const Entry* cur = find_live(id);
    if (cur == nullptr) return Status::NotFound("no record '" + id + "' to delete");
    StoredOp op{.type = OpType::kDelete, .id = id, .prev = cur->text};
    CHORUS_TRY(stage(std::span(&op, 1), watched));
    CHORUS_TRY(after_stage(lk));
  }
  notify(watched);
  return Status::Ok();
}

JsonText Batch::current_text(const std::string& id) const {
  if (auto it = overlay_.find(id); it != overlay_.end()) return it->second.text;
  const Store::Entry* e = store_->find_live(id);
  return e != nullptr ? e->text : JsonText();
}

std::optional<Json> Batch::get(const std::string& id) const {
  if (auto it = overlay_.find(id); it != overlay_.end()) {
    return it->second.text ? std::optional<Json>(it->second.value) : std::nullopt;
  }
  const Store::Entry* e = store_->find_live(id);
  return e != nullptr ? std::optional<Json>(store_->value_of(*e)) : std::nullopt;
}

Status Batch::set(const std::string& id, Json value) {
  CHORUS_ASSIGN_OR_RETURN(JsonText text, JsonText::serialize(value));
  ops_.push_back({.type = OpType::kSet, .id = id, .data = text, .prev = current_text(id)});
  overlay_[id] = Staged{std::move(text), std::move(value)};
  return Status::Ok();
}

Status Batch::del(const std::string& id) {
  JsonText prev = current_text(id);
  if (!prev) return Status::NotFound("no record '" + id + "' to delete");
  ops_.push_back({.type = OpType::kDelete, .id = id, .prev = std::move(prev)});
  overlay_[id] = Staged{};
  return Status::Ok();
}

Status Store::batch(const std::function<Status(Batch&)>& fn) {
  Batch b(this);
  std::vector<Op> watched;
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    // Nothing reaches the store before fn returns ok: an error or an exception (which
    // propagates) drops the batch, which is the whole rollback.
    CHORUS_TRY(fn(b));
    if (b.ops_.empty()) return Status::Ok();
    CHORUS_TRY(stage(b.ops_, watched));
    CHORUS_TRY(after_stage(lk));
  }
  notify(watched);
  return Status::Ok();
}

Status Store::stage(std::span<StoredOp> ops, std::vector<Op>& watched, Entry* entry) {
  CHORUS_ASSERT(!ops.empty(), "commit of no ops");
  uint64_t ts = now_ms(), clock = clock_;
  for (StoredOp& op : ops) {
    op.ts_ms = ts;
    op.clock = ++clock;
    op.agent = options_.agent_id;
  }
  RecordBuffer& out = options_.write_mode == WriteMode::kImmediate ? scratch_ : buffer_;
  if (&out == &scratch_) scratch_.clear();
  CHORUS_TRY(out.add_ops(ops));
  CHORUS_TRY(staged(ops.size()));
  clock_ = clock;
  if (watching()) watched = to_ops(ops);
  for (StoredOp& op : ops) {
    Entry* e = entry != nullptr ? apply(op, *entry) : apply(op);
    entry = nullptr;
    // Our ops have the highest clocks, so they win.
    CHORUS_ASSERT(e != nullptr || op.type == OpType::kDelete, "own op lost: ", op.id);
    ops_.push_back(std::move(op));
  }
  return Status::Ok();
}

Status Store::stage_undo(uint64_t target_clock) {
  RecordBuffer& out = options_.write_mode == WriteMode::kImmediate ? scratch_ : buffer_;
  if (&out == &scratch_) scratch_.clear();
  out.add_undo(target_clock);
  return staged(1);
}

// Counts what stage()/stage_undo() encoded; in immediate mode appends it to the log first. On
// error nothing of it is visible or acknowledged.
Status Store::staged(uint64_t ops) {
  if (options_.write_mode == WriteMode::kImmediate) {
    auto idx = log_->append_batch(scratch_.records());
    if (!idx.ok()) {
      if (!log_->health().ok()) return fail(idx.status());
      return idx.status();
    }
    op_seq_ += ops;
    logged_seq_ = op_seq_;
    return Status::Ok();
  }
  if (buffered_ops_ == 0) buffer_started_ns_ = clock_src_->now_ns();
  buffered_ops_ += ops;
  op_seq_ += ops;
  return Status::Ok();
}

Status Store::after_stage(Lock& lk) {
  if (options_.checkpoint_threshold != 0 && ops_.size() >= options_.checkpoint_threshold) {
    return compact_locked(lk);  // syncs everything, in every mode
  }
  const uint64_t seq = op_seq_;  // the caller's last op
  switch (options_.write_mode) {
    case WriteMode::kImmediate: {
      // Outside the lock, so that concurrent writers share the log's fdatasync (its sync()
      // leader covers every record appended before it starts).
      lk.unlock();
      Status st = log_->sync();
      lk.lock();
      if (!st.ok()) return fail(st);
      uint64_t cur = durable_seq_.load();
      while (cur < seq && !durable_seq_.compare_exchange_weak(cur, seq)) {
      }
      return Status::Ok();
    }
    case WriteMode::kGroup:
      // The promise: fewer than group_size acknowledged ops are not durable. The call that
      // would break it syncs the group (its own op included) before it returns, unless a sync
      // already running covers it.
      while (durable_seq_.load() + options_.group_size <= seq) {
        if (flushing_) {
          flushed_cv_.wait(lk);
        } else {
          CHORUS_TRY(flush_buffer(lk, true));
        }
      }
      break;
    case WriteMode::kAsync:
      break;
  }
  if (!flushing_ && (buffered_ops_ >= kWriteOps || buffer_.bytes() >= kWriteBytes)) {
    CHORUS_TRY(flush_buffer(lk, false));
  }
  if (flusher_idle_ && buffered_ops_ > 0) flusher_cv_.notify_one();
  return Status::Ok();
}

// The buffered ops were acknowledged, so any failure to write or sync them stops the store.
Status Store::flush_buffer(Lock& lk, bool do_sync, bool hold_lock) {
  flushed_cv_.wait(lk, [this] { return !flushing_; });
  if (log_ == nullptr) return Status::Ok();
  if (!failed_.ok()) return failed_;
  const uint64_t seq = op_seq_;
  const bool sync = do_sync && durable_seq_.load() < seq;
  if (buffer_.empty() && !sync) return Status::Ok();
  CHORUS_ASSERT(in_flight_.empty() && logged_seq_ + buffered_ops_ == seq, "flush accounting");
  buffer_.swap(in_flight_);
  in_flight_ops_ = std::exchange(buffered_ops_, 0);
  flushing_ = true;
  if (!hold_lock) lk.unlock();
  Status st;
  if (!in_flight_.empty()) st = log_->append_batch(in_flight_.records()).status();
  if (st.ok() && sync) st = log_->sync();
  if (!hold_lock) lk.lock();
  in_flight_.clear();
  in_flight_ops_ = 0;
  flushing_ = false;
  flushed_cv_.notify_all();
  if (!st.ok()) return fail(st);
  logged_seq_ = seq;
  if (sync) durable_seq_ = seq;
  return Status::Ok();
}

Status Store::flush() { return sync(); }

Status Store::sync() {
  Lock lk(mu_);
  CHORUS_TRY(check_writable());
  return flush_buffer(lk, true);
}

Result<bool> Store::undo() {
  std::vector<Op> watched;
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    size_t i = ops_.size();
    while (i > 0 && ops_[i - 1].agent != options_.agent_id) --i;
    if (i == 0) return false;
    StoredOp target = ops_[i - 1];
    CHORUS_TRY(stage_undo(target.clock));
    if (!multi_writer() && i == ops_.size()) {
      ops_.pop_back();
      if (target.prev) {
        if (find_live(target.id) == nullptr) ++live_;
        *state_.try_emplace(target.id).first = Entry{target.prev, target.clock, target.agent};
      } else if (state_.erase(target.id)) {
        --live_;
      }
    } else {
      // Under last-writer-wins the op's `prev` may not be what wins now: replay instead. The
      // undo record must be in the log for the replay to see it.
      CHORUS_TRY(flush_buffer(lk, false, /*hold_lock=*/true));
      if (Status st = load_locked(); !st.ok()) return fail(st);
    }
    if (watching()) {
      StoredOp inverse{target.prev ? OpType::kSet : OpType::kDelete,
                       target.id,
                       target.prev,
                       target.data,
                       now_ms(),
                       target.clock,
                       target.agent};
      watched.push_back(inverse.to_op());
    }
    CHORUS_TRY(after_stage(lk));
  }
  notify(watched);
  return true;
}

void Store::notify(const std::vector<Op>& ops) {
  if (ops.empty()) return;
  std::vector<std::function<void(const Op&)>> cbs;
  {
    std::lock_guard lk(watch_mu_);
    for (const auto& [id, cb] : watchers_) cbs.push_back(cb);
  }
  for (const auto& cb : cbs) {
    for (const Op& op : ops) cb(op);
  }
}

uint64_t Store::watch(std::function<void(const Op&)> cb, uint32_t poll_ms) {
  uint64_t id;
  {
    std::lock_guard lk(watch_mu_);
    id = next_watch_++;
    watchers_[id] = std::move(cb);
    watchers_count_ = watchers_.size();
  }
  if (poll_ms > 0) pollers_.emplace_back([this, poll_ms] { poll_loop(poll_ms); });
  return id;
}

void Store::unwatch(uint64_t id) {
  std::lock_guard lk(watch_mu_);
  watchers_.erase(id);
  watchers_count_ = watchers_.size();
}

// Writes the buffer once its oldest op is group_delay_ms old. It sleeps on a timer while the
// buffer holds ops, so committers wake it only when it idles with an empty buffer.
void Store::flusher_loop() {
  Lock lk(mu_);
  while (!flusher_stop_) {
    if (buffered_ops_ == 0 || !failed_.ok()) {
      flusher_idle_ = true;
      flusher_cv_.wait(lk);
      flusher_idle_ = false;
      continue;
    }
    uint64_t deadline = buffer_started_ns_ + uint64_t{options_.group_delay_ms} * 1'000'000;
    uint64_t now = clock_src_->now_ns();
    if (now < deadline) {
      flusher_cv_.wait_for(lk, std::chrono::nanoseconds(deadline - now));
      continue;
    }
    // A failure stops the store (fail()); callers see it on their next call.
    (void)flush_buffer(lk, options_.write_mode == WriteMode::kGroup);
  }
}

}  // namespace chorus::docstore
