// The driver loop (DESIGN.md "The driver loop"; node_impl.h lists the phases). It processes each
// Ready in the order raft.h writes beside its fields, as tests/sim/simulator.cc's
// World::handle_ready() does in one thread -- here split between the io and WAL threads.
#include <malloc.h>
#include <asio/post.hpp>

#include <sstream>

#include "chorus/node/node_impl.h"
#include "chorus/raft/codec.h"

namespace chorus::node::detail {
namespace {

// Bounds the work of one iteration, so messages, timers and calls are never starved by a long
// stream of Readys (the iteration reschedules itself behind them).
constexpr int kMaxReadysPerIteration = 16;

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "idle";
    case Phase::kStep:
      return "step";
    case Phase::kReady:
      return "ready";
    case Phase::kDurable:
      return "durable";
    case Phase::kApply:
      return "apply";
  }
  return "?";
}

}  // namespace

void NodeImpl::enter(Phase next) {
  // Each phase follows exactly one other: step -> ready -> durable -> apply -> idle -> step.
  static constexpr Phase kBefore[] = {Phase::kApply, Phase::kIdle, Phase::kStep, Phase::kReady,
                                      Phase::kDurable};
  CHORUS_ASSERT(phase_ == kBefore[static_cast<size_t>(next)], "driver loop entered ",
                phase_name(next), " after ", phase_name(phase_),
                " (DESIGN.md \"The driver loop\" fixes the order)");
  phase_ = next;
}

void NodeImpl::schedule() {
  if (iteration_scheduled_ || stopped_) return;
  iteration_scheduled_ = true;
  asio::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->iterate();
  });
}

void NodeImpl::iterate() {
  iteration_scheduled_ = false;
  if (stopped_) return;
  step_inputs();
  take_readys();
  complete_durable();
  apply_committed();
  enter(Phase::kIdle);
  if (stopped_) return;  // a fatal error during the iteration
  if (core_->configuration() != config_seen_ || peers_dirty_) {
    peers_dirty_ = false;
    sync_peers();
  }
  emit_events();
  publish();
  // More Readys wait, or this iteration's WAL reports made room for held-back proposals: run
  // again after whatever else queued up. Otherwise the next WAL report schedules the loop.
  const bool held = !inbox_proposals_.empty() || !held_forwards_.empty();
  if (core_->has_ready() || (held && wal_has_room())) schedule();
  check_invariants();
}

// (1) One batch of inputs into the core. Backpressure (docs/node.md "Threads, and why"): while
// the WAL queue is over its bounds, new entries -- this node's proposals and the proposals
// followers forward to it -- wait here, in arrival order; everything else is stepped, so a slow
// disk never stops heartbeats, votes or acks.
void NodeImpl::step_inputs() {
  enter(Phase::kStep);
  if (stopped_) return;
  for (; ticks_due_ > 0; --ticks_due_) core_->tick();
  const bool room = wal_has_room();
  if (room) {
    for (raft::Message& m : held_forwards_) step_decoded(std::move(m));
    held_forwards_.clear();
  }
  for (const auto& [from, bytes] : inbox_messages_) step_message(from, bytes, room);
  inbox_messages_.clear();
  if (room) {
    std::vector<uint64_t> proposals;
    proposals.swap(inbox_proposals_);
    for (uint64_t op : proposals) propose(op);
  }
  std::vector<uint64_t> reads;
  reads.swap(inbox_reads_);
  for (uint64_t request : reads) start_read_index(request);
  advance_changes();
}

void NodeImpl::step_message(NodeId from, const Bytes& bytes, bool wal_room) {
  CHORUS_ASSERT(phase_ == Phase::kStep);
  Result<raft::Message> m = raft::decode(bytes);
  if (!m.ok()) return drop_message(from, m.status());
  // The transport authenticated `from` (with TLS, by certificate): a message naming another
  // sender, or another receiver, is not believed.
  if (m->from != from || m->to != options_.id) {
    std::ostringstream out;
    out << "it claims to be from " << m->from << " to " << m->to;
    return drop_message(from, Status::InvalidArgument(out.str()));
  }
  if (m->type == raft::MessageType::kPropose && (!wal_room || !held_forwards_.empty())) {
    held_forwards_.push_back(std::move(*m));
    return;
  }
  step_decoded(std::move(*m));
}

void NodeImpl::step_decoded(raft::Message m) {
  CHORUS_ASSERT(phase_ == Phase::kStep);
  if (Status stepped = core_->step(m); !stepped.ok()) drop_message(m.from, stepped);
}

void NodeImpl::drop_message(NodeId from, const Status& why) {
  ++messages_dropped_;
  std::ostringstream out;
  out << "message from node " << from << " dropped";
  warn(why.Annotate(out.str()));
}

bool NodeImpl::wal_has_room() const {
  if (wal_outstanding_.empty()) return true;  // one task always fits, however large
  return wal_outstanding_.size() < options_.max_wal_readys &&
         wal_outstanding_bytes_ < options_.max_wal_bytes;
}

void NodeImpl::submit_wal(WalTask task) {
  CHORUS_ASSERT(task.seq == next_wal_seq_ - 1, "WAL task numbered out of order");
  uint64_t bytes = task.bytes();
  wal_outstanding_.emplace_back(task.seq, bytes);
  wal_outstanding_bytes_ += bytes;
  wal_->submit(std::move(task));
}

// (2) Take Readys. Never held back by a full WAL queue: a Ready carries heartbeats and acks too,
// and what it can add to the queue is bounded where entries enter (step_inputs) and, on a
// follower, by the leader's in-flight window.
void NodeImpl::take_readys() {
  enter(Phase::kReady);
  if (stopped_) return;
  for (int i = 0; i < kMaxReadysPerIteration && core_->has_ready(); ++i) {
    raft::Ready rd = core_->ready();
    handle_ready(rd);
  }
}

void NodeImpl::handle_ready(raft::Ready& rd) {
  CHORUS_ASSERT(phase_ == Phase::kReady);
  // Persistence, in the order raft.h lists it (chunks, install, hard state + entries), handed to
  // the WAL thread, which persists tasks FIFO.
  std::optional<std::pair<LogIndex, Term>> persisted;
  if (!rd.entries.empty()) persisted = {rd.entries.back().index, rd.entries.back().term};
  if (rd.hard_state || !rd.entries.empty() || !rd.snapshot_chunks_to_write.empty() ||
      rd.snapshot_to_install) {
    WalTask task;
    task.seq = next_wal_seq_++;
    task.chunks = std::move(rd.snapshot_chunks_to_write);
    task.install = std::move(rd.snapshot_to_install);
    task.hard_state = rd.hard_state;
    task.entries = std::move(rd.entries);
    if (task.install) ++installs_in_flight_;
    submit_wal(std::move(task));
  }
  // Messages that promise nothing durable go now: a leader's appends travel while its own
  // fsync runs (raft.h Ready::messages; docs/raft.md decision 5).
  for (raft::Message& m : rd.messages) send(std::move(m));
  // Messages that promise durability (votes, acks) wait for this Ready and every earlier one.
  const uint64_t last_submitted = next_wal_seq_ - 1;
  if (last_submitted > durable_seq_) {
    if (persisted || !rd.messages_after_persist.empty()) {
      awaiting_durable_.push_back(
          {last_submitted, persisted, std::move(rd.messages_after_persist)});
    }
  } else {
    CHORUS_ASSERT(!persisted, "entries handed out without a WAL task");
    for (raft::Message& m : rd.messages_after_persist) send(std::move(m));
  }
  // Committed entries are applied in kApply, after this iteration's durable reports.
  for (raft::Entry& e : rd.committed_entries) to_apply_.push_back(std::move(e));
  for (const raft::ReadState& rs : rd.read_states) on_read_state(rs);
  for (const raft::ProposalResult& pr : rd.proposal_results) on_proposal_result(pr);
  if (rd.snapshot_request) snapshot_wanted_ = true;
}

// (3) What the WAL thread reported durable.
void NodeImpl::complete_durable() {
  enter(Phase::kDurable);
  if (stopped_) return;
  std::vector<WalDone> reports;
  reports.swap(inbox_durable_);
  for (WalDone& done : reports) {
    CHORUS_ASSERT(done.durable_seq > durable_seq_ && done.durable_seq < next_wal_seq_,
                  "WAL reported ", done.durable_seq, " after ", durable_seq_);
    durable_seq_ = done.durable_seq;
    while (!wal_outstanding_.empty() && wal_outstanding_.front().first <= durable_seq_) {
      wal_outstanding_bytes_ -= wal_outstanding_.front().second;
      wal_outstanding_.pop_front();
    }
    for (InstalledSnapshot& installed : done.installed) {
      CHORUS_ASSERT(installs_in_flight_ > 0);
      --installs_in_flight_;
      // Entries handed out before the install and covered by it are in the snapshot.
      while (!to_apply_.empty() && to_apply_.front().index <= installed.meta.index) {
        const raft::Entry& e = to_apply_.front();
        if (e.origin == options_.id) {
          if (auto p = op_by_proposal_.find(e.proposal); p != op_by_proposal_.end()) {
            finish_proposal(p->second, Status::Timeout("covered by an installed snapshot; its "
                                                       "result is unknown here"));
          }
        }
        to_apply_.pop_front();
      }
      // raft.h: once the chunks are durable, restore the state machine from the received file.
      discard_snapshot();
      Status restored = restore_snapshot(installed.meta, installed.state);
      if (!restored.ok()) {
        fail_fatal(restored.Annotate("restoring an installed snapshot"));
        return;
      }
      ++snapshots_installed_;
      last_snapshot_bytes_ = installed.meta.size_bytes;
      peers_dirty_ = true;
    }
  }
  while (!awaiting_durable_.empty() && awaiting_durable_.front().seq <= durable_seq_) {
    AwaitingDurable a = std::move(awaiting_durable_.front());
    awaiting_durable_.pop_front();
    if (a.persisted) core_->on_persisted(a.persisted->first, a.persisted->second);
    for (raft::Message& m : a.messages) send(std::move(m));
  }
}

// (4) Apply what is committed (and persisted here), answer calls, serve reads, snapshot.
void NodeImpl::apply_committed() {
  enter(Phase::kApply);
  if (stopped_) return;
  // A snapshot taken off the loop is saved first: it is the state as of applied_.
  if (snapshot_taken_ && wal_has_room()) {
    Bytes state = std::move(*snapshot_taken_);
    snapshot_taken_.reset();
    save_snapshot(std::move(state));
  }
  // While a received snapshot is being installed, nothing after it may be applied before the
  // state machine is restored from it; while one is being taken, nothing may change under it.
  if (installs_in_flight_ == 0 && !snapshot_running_ && !snapshot_taken_ && !to_apply_.empty()) {
    std::vector<ApplyItem> items;
    while (!to_apply_.empty()) {
      decoder_.push(std::move(to_apply_.front()), items);
      to_apply_.pop_front();
    }
    apply_items(items);
  }
  serve_reads();
  maybe_snapshot();
}

void NodeImpl::apply_items(std::vector<ApplyItem>& items) {
  CHORUS_ASSERT(phase_ == Phase::kApply);
  if (items.empty()) return;
  CHORUS_ASSERT(items.front().entry.index == applied_.next(), "applying ",
                items.front().entry.index, " after ", applied_);
  std::vector<Bytes> results;
  if (machine_) {
    std::vector<raft::Entry> batch;
    batch.reserve(items.size());
    for (ApplyItem& item : items) batch.push_back(std::move(item.entry));
    results = machine_->apply(batch, batch.front().index);
    CHORUS_ASSERT(results.size() == batch.size(), "StateMachine::apply returned ", results.size(),
                  " results for ", batch.size(), " entries");
    for (size_t i = 0; i < items.size(); ++i) items[i].entry = std::move(batch[i]);
  } else {
    results.resize(items.size());
  }
  applied_ = items.back().entry.index;
  core_->on_applied(applied_);
  for (size_t i = 0; i < items.size(); ++i) on_item_applied(items[i], std::move(results[i]));
}

void NodeImpl::maybe_snapshot() {
  CHORUS_ASSERT(phase_ == Phase::kApply);
  if (!snapshot_wanted_ || snapshot_running_ || snapshot_taken_ || installs_in_flight_ > 0) {
    return;
  }
  snapshot_wanted_ = false;
  if (applied_ <= core_->log().snapshot_index()) return;
  if (!machine_) {
    snapshot_taken_ = encode_snapshot_envelope(book_, {});  // saved by the next kApply
    schedule();  // as on_snapshot_taken() does: applying waits for it
    return;
  }
  // The state as of applied_, which is never inside a transaction (commit_decoder.h). The
  // previous thread has finished: its result came back (or was discarded after a join).
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  snapshot_running_ = true;
  const uint64_t generation = ++snapshot_generation_;
  snapshot_thread_ = std::thread([this, weak = weak_from_this(), generation, book = book_] {
    // Large copies stay off the loop too: a 100 MB state takes ~100 ms to copy here.
    Bytes state = encode_snapshot_envelope(book, machine_->snapshot());
#ifdef __GLIBC__
    // This thread's malloc arena kept the serialization's scratch buffers (freed, not returned):
    // give them back, or every snapshot leaves the process that much larger.
    malloc_trim(0);
#endif
    asio::post(io_, [weak, generation, state = std::move(state)]() mutable {
      if (auto self = weak.lock()) self->on_snapshot_taken(generation, std::move(state));
    });
  });
}

void NodeImpl::on_snapshot_taken(uint64_t generation, Bytes state) {
  if (stopped_ || generation != snapshot_generation_ || !snapshot_running_) return;
  snapshot_running_ = false;
  snapshot_taken_ = std::move(state);
  schedule();
}

// Before the state machine is restored from a received snapshot: wait for a snapshot being
// taken (it reads the machine) and drop it, since the install replaces that state anyway.
void NodeImpl::discard_snapshot() {
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  ++snapshot_generation_;
  snapshot_running_ = false;
  snapshot_taken_.reset();
}

// `enveloped`: the machine's state wrapped with the node's (payload.h), as of applied_.
void NodeImpl::save_snapshot(Bytes enveloped) {
  CHORUS_ASSERT(phase_ == Phase::kApply);
  if (applied_ <= core_->log().snapshot_index()) return;  // an install overtook it
  auto state = std::make_shared<const Bytes>(std::move(enveloped));
  Status compacted = core_->compact(applied_, state->size());
  if (!compacted.ok()) {
    warn(compacted.Annotate("snapshot skipped"));
    return;
  }
  raft::SnapshotMeta meta = core_->snapshot();
  CHORUS_ASSERT(meta.index == applied_ && meta.size_bytes == state->size());
  // Saved by the WAL thread after every write handed over before it, then the log is trimmed.
  WalTask task;
  task.seq = next_wal_seq_++;
  task.save_meta = meta;
  task.save_state = std::move(state);
  submit_wal(std::move(task));
  ++snapshots_taken_;
  last_snapshot_bytes_ = meta.size_bytes;
}

void NodeImpl::send(raft::Message m) {
  if (m.fill_from_snapshot) {
    // raft.h: completed from the leader's snapshot file (read_snapshot_chunk) first. The file
    // belongs to the WAL thread, which reads it after the writes handed over before this message
    // (so a snapshot saved by them is there) and sends the chunk itself.
    wal_->submit_chunk(std::move(m));
    return;
  }
  ++messages_sent_;
  NodeId to = m.to;
  transport_.send(to, raft::encode(m));
}

void NodeImpl::emit_events() {
  const raft::RoleKind role = core_->role();
  const Term term = core_->term();
  const NodeId leader = core_->leader();
  if (role != last_role_ || term != last_term_ || leader != last_leader_) {
    if (leader != last_leader_ && leader != raft::kNoNode) ++leader_changes_;
    last_role_ = role;
    last_term_ = term;
    last_leader_ = leader;
    if (events_.on_change) events_.on_change(role, term, leader);
  }
  notice_leader();
  if (core_->log().committed() > last_commit_) {
    last_commit_ = core_->log().committed();
    if (events_.on_commit) events_.on_commit(last_commit_);
  }
  if (applied_ > last_apply_event_) {
    last_apply_event_ = applied_;
    if (events_.on_apply) events_.on_apply(applied_);
  }
}

void NodeImpl::arm_tick() {
  if (!tick_timer_) return;
  tick_timer_->expires_at(next_tick_);
  tick_timer_->async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_tick();
  });
}

void NodeImpl::on_tick() {
  if (stopped_ || !tick_timer_) return;
  ++ticks_due_;
  ticked_since_publish_ = true;
  retry_changes_ = true;
  const SteadyClock::time_point now = SteadyClock::now();
  check_deadlines(now);
  // Ticks keep their rhythm, but a stalled loop does not fire a burst of them to catch up (a
  // burst would look like a silent leader and start elections).
  next_tick_ += options_.tick_interval;
  if (next_tick_ < now) next_tick_ = now + options_.tick_interval;
  arm_tick();
  schedule();
}

void NodeImpl::on_wal_done(WalDone done) {
  if (stopped_) return;
  inbox_durable_.push_back(std::move(done));
  schedule();
}

void NodeImpl::fail_fatal(Status error) {
  if (stopped_) return;  // closing, or already failed: nothing more is acknowledged anyway
  stopped_ = true;
  fatal_ = error.ok() ? Status::Failed("unknown fatal error") : std::move(error);
  // Nothing is acknowledged from here on: every waiting call fails, the durable queue (votes,
  // acks) is never sent, and peers stop hearing from this node.
  awaiting_durable_.clear();
  fail_all(/*fatal=*/true);
  transport_.stop();
  if (tick_timer_) tick_timer_->cancel();
  publish();
  if (events_.on_error) events_.on_error(fatal_);
}

// Cheap, so on in every build and after every iteration (STYLE.md habit 3).
void NodeImpl::check_invariants() const {
  CHORUS_ASSERT(phase_ == Phase::kIdle);
  CHORUS_ASSERT(durable_seq_ < next_wal_seq_);
  CHORUS_ASSERT(wal_outstanding_.empty() || wal_outstanding_.front().first > durable_seq_);
  CHORUS_ASSERT(installs_in_flight_ <= wal_outstanding_.size());
  // Nothing waits for durability that is already durable (kDurable released it).
  CHORUS_ASSERT(awaiting_durable_.empty() || awaiting_durable_.front().seq > durable_seq_);
  CHORUS_ASSERT(awaiting_durable_.empty() || awaiting_durable_.back().seq < next_wal_seq_);
  // Applied to the state machine, never past the commit; installs pause applying.
  CHORUS_ASSERT(applied_ <= core_->log().committed(), "applied ", applied_, " past commit ",
                core_->log().committed());
  CHORUS_ASSERT(
      installs_in_flight_ > 0 || snapshot_running_ || snapshot_taken_ || to_apply_.empty(),
      "committed entries left unapplied");
  CHORUS_ASSERT(reads_by_index_.size() <= reads_.size());
  CHORUS_ASSERT(inbox_messages_.empty() && inbox_reads_.empty());
  // Entries are held back only while a WAL report is still to come (it releases them).
  CHORUS_ASSERT((inbox_proposals_.empty() && held_forwards_.empty()) || !wal_outstanding_.empty() ||
                    iteration_scheduled_,
                "proposals held back with nothing to release them");
  decoder_.check_invariants();
}

}  // namespace chorus::node::detail
