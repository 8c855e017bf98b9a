// Linearizable reads: thesis §6.4 ReadIndex (batched: every read that arrives while a
// heartbeat round is in flight is confirmed by the next round), §6.4.1 lease reads, and
// follower reads (the follower asks the leader for a read index).
#include "chorus/raft/quorum.h"
#include "chorus/raft/raft.h"

namespace chorus::raft {

Status Raft::read_index(uint64_t request_id) {
  if (is_leader()) {
    handle_read(kNoNode, request_id);
    return Status::Ok();
  }
  if (leader_ == kNoNode) return Status(StatusCode::kNotLeader, "no leader known");
  forwarded_reads_[request_id] = ForwardedRead{leader_, now_};
  send(Message{.type = MessageType::kReadIndex, .to = leader_, .request_id = request_id});
  return Status::Ok();
}

void Raft::handle_read(NodeId from, uint64_t request_id) {
  PendingRead read{from, request_id, log_.committed(), 0};
  if (!is_leader()) {
    answer_read(read, Status(StatusCode::kNotLeader, "not the leader"));
    return;
  }
  Leader& leader = leader_state();
  if (!leader.committed_in_term) {
    // Until then our commit index may lag the true one (thesis §6.4 step 1).
    leader.reads_before_commit.push_back(read);
    return;
  }
  const bool alone = quorum_value([](const Progress&) { return 0; }, 1) > 0;
  if (alone || lease_valid()) {
    answer_read(read, Status::Ok());
    return;
  }
  // Step 3: confirm leadership with a heartbeat round sent after the read arrived. If one is
  // already in flight, this read rides on the next round.
  const bool round_in_flight =
      !leader.reads.empty() && leader.reads.front().read_seq <= leader.read_seq_sent;
  read.read_seq = leader.read_seq_sent + 1;
  leader.reads.push_back(read);
  if (!round_in_flight) start_read_round();
}

void Raft::start_read_round() {
  ++leader_state().read_seq_sent;
  broadcast_heartbeat();
}

void Raft::release_confirmed_reads() {
  Leader& leader = leader_state();
  if (leader.reads.empty()) return;
  const uint64_t confirmed =
      quorum_value([](const Progress& pr) { return pr.read_seq_acked; }, leader.read_seq_sent);
  while (!leader.reads.empty() && leader.reads.front().read_seq <= confirmed) {
    answer_read(leader.reads.front(), Status::Ok());
    leader.reads.pop_front();
  }
  if (!leader.reads.empty() && leader.reads.front().read_seq > leader.read_seq_sent) {
    start_read_round();
  }
}

bool Raft::lease_valid() const {
  if (!config_.lease_reads) return false;
  const Leader& leader = leader_state();
  // A transfer target campaigns past every lease (its votes carry `transfer`).
  if (leader.transferee != kNoNode || leader.timeout_now_sent) return false;
  // The latest tick T such that a commit quorum received a heartbeat we sent at T. Each of
  // them refuses votes for election_tick of its own ticks after that (in_leader_lease), and
  // every election quorum contains one of them; allow for clock drift between tick rates.
  const uint64_t start = quorum_value([](const Progress& pr) { return pr.lease_tick_acked; }, now_);
  return start > 0 && now_ < start + config_.election_tick - config_.lease_clock_drift_ticks;
}

void Raft::answer_read(const PendingRead& read, Status status) {
  if (read.from == kNoNode) {
    read_states_.push_back({read.request_id, read.index, std::move(status)});
    return;
  }
  send(Message{.type = MessageType::kReadIndexResp,
               .to = read.from,
               .index = read.index,
               .reject = !status.ok(),
               .request_id = read.request_id});
}

void Raft::fail_reads(const Status& status) {
  Leader& leader = leader_state();
  for (const PendingRead& read : leader.reads) answer_read(read, status);
  for (const PendingRead& read : leader.reads_before_commit) answer_read(read, status);
  leader.reads.clear();
  leader.reads_before_commit.clear();
}

void Raft::handle_read_index_response(const Message& m) {
  auto it = forwarded_reads_.find(m.request_id);
  if (it == forwarded_reads_.end() || it->second.leader != m.from) return;  // already failed
  forwarded_reads_.erase(it);
  read_states_.push_back(
      {m.request_id, m.index,
       m.reject ? Status::Unavailable("the leader could not serve the read") : Status::Ok()});
}

}  // namespace chorus::raft
