// Log replication: §5.3 (AppendEntries, consistency check, fast backtracking), §5.4.2
// (commit only by counting current-term entries), pipelining with probe/replicate states and
// an in-flight window by count and bytes, heartbeats.
#include "chorus/raft/quorum.h"
#include "chorus/raft/raft.h"

namespace chorus::raft {

uint64_t Raft::quorum_value(const std::function<uint64_t(const Progress&)>& peer_value,
                            uint64_t self_value) const {
  const Leader& leader = leader_state();
  return commit_quorum_value(config_.quorum, configuration(), [&](NodeId id) -> uint64_t {
    if (id == id_) return self_value;
    auto it = leader.progress.find(id);
    return it == leader.progress.end() ? 0 : peer_value(it->second);
  });
}

// The leader counts itself toward a quorum only up to what it has persisted, so its own fsync
// runs in parallel with replication without ever counting an entry it could lose.
LogIndex Raft::self_match() const { return log_.persisted(); }

void Raft::append_as_leader(std::vector<Entry> entries) {
  const LogIndex first = log_.last_index().next();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].term = term_;
    entries[i].index = first + i;
  }
  log_.append(std::move(entries));
  on_entries_appended(first);  // thesis §4.1: a configuration takes effect when appended
  if (maybe_commit()) on_commit_advanced();
  if (is_leader()) broadcast_append(/*send_if_empty=*/false);
}

bool Raft::send_append(NodeId to, Progress& pr, bool send_if_empty) {
  if (pr.state == ProgressState::kSnapshot || pr.paused()) return false;
  const LogIndex prev = pr.next.prev();
  const std::optional<Term> prev_term = log_.term(prev);
  if (!prev_term) {
    // §7: the follower needs entries we compacted; send the snapshot instead.
    pr.become_snapshot(snapshot_);
    send_snapshot_chunk(to, pr);
    return false;
  }
  std::vector<Entry> entries;
  if (pr.next <= log_.last_index()) {
    entries = log_.slice(pr.next, log_.last_index(), config_.max_entries_bytes_per_msg);
  }
  if (entries.empty() && !send_if_empty) return false;
  uint64_t bytes = 0;
  for (const Entry& e : entries) bytes += e.size_bytes();
  const LogIndex last = entries.empty() ? prev : entries.back().index;
  send(Message{.type = MessageType::kAppend,
               .to = to,
               .index = prev,
               .log_term = *prev_term,
               .commit = log_.committed(),
               .entries = std::move(entries)});
  pr.sent_entries(last, bytes);
  pr.sent_commit = std::max(pr.sent_commit, log_.committed());
  return !pr.paused() && last < log_.last_index();
}

void Raft::broadcast_append(bool send_if_empty) {
  for (auto& [id, pr] : leader_state().progress) {
    // Keep sending batches until the window is full or the follower has everything.
    bool first = true;
    while (send_append(id, pr, first && send_if_empty)) first = false;
  }
}

void Raft::broadcast_heartbeat() {
  Leader& leader = leader_state();
  for (auto& [id, pr] : leader.progress) {
    // Never tell a follower to commit beyond what it is known to hold.
    send(Message{.type = MessageType::kHeartbeat,
                 .to = id,
                 .commit = std::min(pr.match, log_.committed()),
                 .read_seq = leader.read_seq_sent,
                 .sent_tick = now_});
  }
}

void Raft::handle_append(const Message& m) {
  if (m.index < log_.committed()) {
    // Everything up to our commit matches any leader (§5.4): say so; it resends from there.
    send_after_persist(
        Message{.type = MessageType::kAppendResp, .to = m.from, .index = log_.committed()});
    return;
  }
  const LogIndex old_last = log_.last_index();
  auto result = log_.try_append(m.index, m.log_term, m.entries);
  if (!result) {
    // Figure 2 AppendEntries rule 2: reply false, with a hint to skip a whole term (§5.3).
    auto [hint_index, hint_term] = log_.last_index_with_term_at_most(m.log_term, m.index);
    send_after_persist(Message{.type = MessageType::kAppendResp,
                               .to = m.from,
                               .index = m.index,
                               .reject = true,
                               .hint_index = hint_index,
                               .hint_term = hint_term});
    return;
  }
  if (result->truncated > LogIndex(0)) on_log_truncated(result->truncated);
  LogIndex first_new = result->truncated > LogIndex(0) ? result->truncated : old_last.next();
  if (first_new <= log_.last_index()) on_entries_appended(first_new);
  // Rule 5: commitIndex = min(leaderCommit, index of last new entry).
  log_.commit_to(std::min(m.commit, result->last_new));
  send_after_persist(
      Message{.type = MessageType::kAppendResp, .to = m.from, .index = result->last_new});
}

void Raft::handle_append_response(const Message& m) {
  auto it = leader_state().progress.find(m.from);
  if (it == leader_state().progress.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.reject) {
    if (pr.state == ProgressState::kSnapshot) return;
    LogIndex probe = m.hint_index;
    if (m.hint_term > Term(0)) {
      probe = log_.last_index_with_term_at_most(m.hint_term, m.hint_index).first;
    }
    if (pr.maybe_decrease(m.index, probe)) {
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      send_append(m.from, pr, /*send_if_empty=*/true);
    }
    return;
  }
  if (!pr.maybe_update(m.index)) return;
  if (pr.state == ProgressState::kProbe) pr.become_replicate();
  pr.inflights.free_up_to(pr.match);
  if (maybe_commit()) on_commit_advanced();
  if (!is_leader()) return;  // a removed leader stepped down
  while (send_append(m.from, pr, /*send_if_empty=*/false)) {
  }
  // The commit broadcast skipped this follower while its window was full: tell it now rather
  // than at the next heartbeat (its reads and applies would wait for that).
  if (pr.sent_commit < log_.committed()) send_append(m.from, pr, /*send_if_empty=*/true);
  check_transfer_progress(m.from);
}

void Raft::handle_heartbeat(const Message& m) {
  log_.commit_to(std::min(m.commit, log_.last_index()));
  // Promises nothing durable: may leave at once.
  send(Message{.type = MessageType::kHeartbeatResp,
               .to = m.from,
               .index = log_.last_index(),
               .read_seq = m.read_seq,
               .sent_tick = m.sent_tick});
}

void Raft::handle_heartbeat_response(const Message& m) {
  auto it = leader_state().progress.find(m.from);
  if (it == leader_state().progress.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.probe_sent = false;
  pr.read_seq_acked = std::max(pr.read_seq_acked, m.read_seq);
  pr.lease_tick_acked = std::max(pr.lease_tick_acked, m.sent_tick);
  if (pr.state != ProgressState::kSnapshot && pr.match < log_.last_index()) {
    // Lost appends leave the window full: free a slot so a (possibly rejected) append probes.
    if (pr.state == ProgressState::kReplicate && pr.inflights.full()) {
      pr.inflights.free_first_one();
    }
    send_append(m.from, pr, /*send_if_empty=*/true);
  }
  release_confirmed_reads();
}

bool Raft::maybe_commit() {
  const LogIndex candidate(
      quorum_value([](const Progress& pr) { return pr.match.value(); }, self_match().value()));
  if (candidate <= log_.committed()) return false;
  // §5.4.2: never commit entries from previous terms by counting replicas.
  if (log_.term(candidate) != term_) return false;
  log_.commit_to(candidate);
  return true;
}

void Raft::on_commit_advanced() {
  Leader& leader = leader_state();
  if (!leader.committed_in_term) {
    // Thesis §6.4 step 1: reads wait until the leader has committed an entry of its term.
    leader.committed_in_term = true;
    std::vector<PendingRead> waiting = std::move(leader.reads_before_commit);
    leader.reads_before_commit.clear();
    for (const PendingRead& read : waiting) handle_read(read.from, read.request_id);
    if (!is_leader()) return;
  }
  maybe_step_down_after_removal();
  if (!is_leader()) return;
  broadcast_append(/*send_if_empty=*/true);  // followers learn the new commit index
}

}  // namespace chorus::raft
