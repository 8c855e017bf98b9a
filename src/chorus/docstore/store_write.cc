// Reads, mutations, the write modes and their flusher.
#include <algorithm>

#include "chorus/docstore/store.h"

namespace chorus::docstore {
namespace {

// async: hand the buffer to the OS once it is this big, so memory stays bounded.
constexpr uint64_t kAsyncWriteOps = 4096;
constexpr uint64_t kAsyncWriteBytes = 1u << 20;

Op make_op(OpType type, std::string id, std::optional<Json> data, std::optional<Json> prev) {
  Op op;
  op.type = type;
  op.id = std::move(id);
  op.data = std::move(data);
  op.prev = std::move(prev);
  return op;
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
  auto it = state_.find(id);
  return it == state_.end() || it->second.tombstone ? nullptr : &it->second;
}

// Last-writer-wins by (clock, agent): an op older than what the record holds loses. In single-
// writer mode clocks only grow, so every op wins and this is a plain replay.
void Store::apply(const Op& op) {
  auto it = state_.find(op.id);
  if (it != state_.end() &&
      std::tie(it->second.clock, it->second.agent) > std::tie(op.clock, op.agent)) {
    return;
  }
  bool was_live = it != state_.end() && !it->second.tombstone;
  if (op.type == OpType::kSet) {
    if (!was_live) ++live_;
    state_[op.id] = Entry{*op.data, op.clock, op.agent, false};
    return;
  }
  if (was_live) --live_;
  if (multi_writer()) {
    state_[op.id] = Entry{nullptr, op.clock, op.agent, true};
  } else if (it != state_.end()) {
    state_.erase(it);
  }
}

std::optional<Json> Store::get(const std::string& id) const {
  std::lock_guard lk(mu_);
  const Entry* e = find_live(id);
  return e != nullptr ? std::optional<Json>(e->value) : std::nullopt;
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
    if (!e.tombstone) out.emplace_back(id, e.value);
  }
  return out;
}

std::vector<Json> Store::filter(const std::function<bool(const Json&)>& pred) const {
  std::lock_guard lk(mu_);
  std::vector<Json> out;
  for (const auto& [id, e] : state_) {
    if (!e.tombstone && (!pred || pred(e.value))) out.push_back(e.value);
  }
  return out;
}

size_t Store::count(const std::function<bool(const Json&)>& pred) const {
  std::lock_guard lk(mu_);
  if (!pred) return live_;
  size_t n = 0;
  for (const auto& [id, e] : state_) n += !e.tombstone && pred(e.value) ? 1 : 0;
  return n;
}

std::vector<Op> Store::history(const std::string& id) const {
  std::lock_guard lk(mu_);
  std::vector<Op> out;
  for (const Op& op : ops_) {
    if (op.id == id) out.push_back(op);
  }
  return out;
}

std::vector<Op> Store::ops(uint64_t since_ms) const {
  std::lock_guard lk(mu_);
  std::vector<Op> out;
  for (const Op& op : ops_) {
    if (op.ts_ms >= since_ms) out.push_back(op);
  }
  return out;
}

Status Store::set(const std::string& id, Json value) {
  std::vector<Op> ops(1);
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    const Entry* e = find_live(id);
    ops[0] = make_op(OpType::kSet, id, std::move(value),
                     e != nullptr ? std::optional<Json>(e->value) : std::nullopt);
    CHORUS_TRY(commit(lk, ops));
  }
  notify(ops);
  return Status::Ok();
}

Status Store::del(const std::string& id) {
  std::vector<Op> ops(1);
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    const Entry* e = find_live(id);
    if (e == nullptr) return Status::NotFound("no record '" + id + "' to delete");
    ops[0] = make_op(OpType::kDelete, id, std::nullopt, e->value);
    CHORUS_TRY(commit(lk, ops));
  }
  notify(ops);
  return Status::Ok();
}

std::optional<Json> Batch::get(const std::string& id) const {
  if (auto it = overlay_.find(id); it != overlay_.end()) return it->second;
  const Store::Entry* e = store_->find_live(id);
  return e != nullptr ? std::optional<Json>(e->value) : std::nullopt;
}

Status Batch::set(const std::string& id, Json value) {
  ops_.push_back(make_op(OpType::kSet, id, value, get(id)));
  overlay_[id] = std::move(value);
  return Status::Ok();
}

Status Batch::del(const std::string& id) {
  auto prev = get(id);
  if (!prev) return Status::NotFound("no record '" + id + "' to delete");
  ops_.push_back(make_op(OpType::kDelete, id, std::nullopt, std::move(prev)));
  overlay_[id] = std::nullopt;
  return Status::Ok();
}

Status Store::batch(const std::function<Status(Batch&)>& fn) {
  Batch b(this);
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    // Nothing reaches the store before fn returns ok: an error or an exception (which
    // propagates) drops the batch, which is the whole rollback.
    CHORUS_TRY(fn(b));
    if (b.ops_.empty()) return Status::Ok();
    CHORUS_TRY(commit(lk, b.ops_));
  }
  notify(b.ops_);
  return Status::Ok();
}

Status Store::commit(Lock& lk, std::vector<Op>& ops) {
  CHORUS_ASSERT(!ops.empty(), "commit of no ops");
  uint64_t ts = now_ms();
  for (Op& op : ops) {
    op.ts_ms = ts;
    op.clock = ++clock_;
    op.agent = options_.agent_id;
  }
  if (Status st = emit(encode_ops_record(ops), ops.size()); !st.ok()) {
    clock_ -= ops.size();  // nothing of it happened
    return st;
  }
  for (const Op& op : ops) {
    apply(op);
    ops_.push_back(op);
  }
  return after_emit(lk);
}

// Hands one record to the log (immediate) or the buffer (group/async). On error nothing of it
// is visible or acknowledged.
Status Store::emit(Bytes record, uint64_t ops) {
  if (options_.write_mode == WriteMode::kImmediate) {
    auto idx = log_->append(record);
    if (!idx.ok()) {
      if (!log_->health().ok()) return fail(idx.status());
      return idx.status();
    }
    op_seq_ += ops;
    logged_seq_ = op_seq_;
    return Status::Ok();
  }
  if (buffer_.empty()) buffer_started_ns_ = clock_src_->now_ns();
  buffer_bytes_ += record.size();
  buffer_.push_back(std::move(record));
  buffered_ops_ += ops;
  op_seq_ += ops;
  return Status::Ok();
}

Status Store::after_emit(Lock& lk) {
  if (options_.checkpoint_threshold != 0 && ops_.size() >= options_.checkpoint_threshold) {
    CHORUS_TRY(compact_locked(lk));  // syncs everything, in every mode
    return Status::Ok();
  }
  switch (options_.write_mode) {
    case WriteMode::kImmediate: {
      // Outside the lock, so that concurrent writers share the log's fdatasync (its sync()
      // leader covers every record appended before it starts).
      uint64_t seq = logged_seq_;
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
      if (buffered_ops_ >= options_.group_size) return flush_locked(true);
      flusher_cv_.notify_one();
      return Status::Ok();
    case WriteMode::kAsync:
      if (buffered_ops_ >= kAsyncWriteOps || buffer_bytes_ >= kAsyncWriteBytes) {
        return flush_locked(false);
      }
      flusher_cv_.notify_one();
      return Status::Ok();
  }
  return Status::Ok();
}

// Writes the buffer to the log as one atomic batch, then (do_sync) fdatasyncs. The buffered ops
// were acknowledged, so any failure here stops the store.
Status Store::flush_locked(bool do_sync) {
  if (log_ == nullptr) return Status::Ok();
  if (!buffer_.empty()) {
    auto idx = log_->append_batch(std::span<const Bytes>(buffer_));
    if (!idx.ok()) return fail(idx.status());
    logged_seq_ = op_seq_;
    buffer_.clear();
    buffer_bytes_ = 0;
    buffered_ops_ = 0;
  }
  if (do_sync && durable_seq_.load() < logged_seq_) {
    if (Status st = log_->sync(); !st.ok()) return fail(st);
    durable_seq_ = logged_seq_;
  }
  return Status::Ok();
}

Status Store::flush() { return sync(); }

Status Store::sync() {
  Lock lk(mu_);
  CHORUS_TRY(check_writable());
  return flush_locked(true);
}

Result<bool> Store::undo() {
  Op inverse;
  {
    Lock lk(mu_);
    CHORUS_TRY(check_writable());
    size_t i = ops_.size();
    while (i > 0 && ops_[i - 1].agent != options_.agent_id) --i;
    if (i == 0) return false;
    Op target = ops_[i - 1];
    CHORUS_TRY(emit(encode_undo_record(target.clock), 1));
    if (!multi_writer() && i == ops_.size()) {
      ops_.pop_back();
      if (target.prev) {
        if (find_live(target.id) == nullptr) ++live_;
        state_[target.id] = Entry{*target.prev, target.clock, target.agent, false};
      } else if (state_.erase(target.id) > 0) {
        --live_;
      }
    } else {
      // Under last-writer-wins the op's `prev` may not be what wins now: replay instead. The
      // undo record must be in the log for the replay to see it.
      CHORUS_TRY(flush_locked(false));
      if (Status st = load_locked(); !st.ok()) return fail(st);
    }
    inverse = target.prev ? make_op(OpType::kSet, target.id, target.prev, target.data)
                          : make_op(OpType::kDelete, target.id, std::nullopt, target.data);
    inverse.ts_ms = now_ms();
    inverse.clock = target.clock;
    inverse.agent = target.agent;
    CHORUS_TRY(after_emit(lk));
  }
  notify({inverse});
  return true;
}

void Store::notify(const std::vector<Op>& ops) {
  std::vector<std::function<void(const Op&)>> cbs;
  {
    std::lock_guard lk(watch_mu_);
    if (watchers_.empty()) return;
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
  }
  if (poll_ms > 0) pollers_.emplace_back([this, poll_ms] { poll_loop(poll_ms); });
  return id;
}

void Store::unwatch(uint64_t id) {
  std::lock_guard lk(watch_mu_);
  watchers_.erase(id);
}

void Store::flusher_loop() {
  Lock lk(mu_);
  while (!flusher_stop_) {
    if (buffer_.empty() || !failed_.ok()) {
      flusher_cv_.wait(lk);
      continue;
    }
    uint64_t deadline = buffer_started_ns_ + uint64_t{options_.group_delay_ms} * 1'000'000;
    uint64_t now = clock_src_->now_ns();
    if (now < deadline) {
      flusher_cv_.wait_for(lk, std::chrono::nanoseconds(deadline - now));
      continue;
    }
    // A failure stops the store (fail()); callers see it on their next call.
    (void)flush_locked(options_.write_mode == WriteMode::kGroup);
  }
}

}  // namespace chorus::docstore
