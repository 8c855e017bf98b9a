// Proposals: appending on the leader, forwarding from followers (thesis §6.2), reporting every
// outcome (committed / definitely failed / maybe failed), and leadership transfer (§3.10).
#include <sstream>

#include "chorus/raft/raft.h"

namespace chorus::raft {

ProposalId Raft::next_proposal_id() {
  ++proposal_counter_;
  CHORUS_ASSERT(proposal_counter_ < (uint64_t{1} << 32), "proposal ids exhausted");
  return ProposalId((uint64_t{incarnation_} << 32) | proposal_counter_);
}

Status Raft::check_can_propose(size_t count, uint64_t bytes) const {
  if (bytes > config_.max_entries_bytes_per_msg) {
    return Status::TooLarge("proposal larger than max_entries_bytes_per_msg");
  }
  if (!is_leader()) {
    if (leader_ == kNoNode) return Status(StatusCode::kNotLeader, "no leader known");
    return Status::Ok();  // the leader decides
  }
  if (leader_state().transferee != kNoNode) {
    return Status::Busy("leadership transfer in progress (thesis §3.10)");
  }
  if (log_.last_index() - log_.committed() + count > config_.max_uncommitted_entries) {
    return Status::Busy("too many uncommitted entries");
  }
  return Status::Ok();
}

Result<ProposalId> Raft::propose(Bytes data) {
  std::vector<Bytes> batch;
  batch.push_back(std::move(data));
  return propose_batch(std::move(batch));
}

Result<ProposalId> Raft::propose_batch(std::vector<Bytes> batch) {
  if (batch.empty()) return Status::InvalidArgument("empty batch");
  uint64_t largest = 0;
  for (const Bytes& data : batch) largest = std::max<uint64_t>(largest, data.size());
  CHORUS_TRY(check_can_propose(batch.size(), largest));
  std::vector<Entry> entries;
  entries.reserve(batch.size());
  for (Bytes& data : batch) {
    entries.push_back(
        Entry{Term(0), LogIndex(0), EntryType::kNormal, id_, next_proposal_id(), std::move(data)});
  }
  const ProposalId first = entries.front().proposal;
  if (is_leader()) {
    LogIndex index = log_.last_index().next();
    for (const Entry& e : entries) {
      pending_proposals_[e.proposal] = {true, index, term_, now_};
      ++index;
    }
    append_as_leader(std::move(entries));
  } else {
    for (const Entry& e : entries) pending_proposals_[e.proposal] = {false, {}, {}, now_};
    // log_term names the term of the leader it is meant for: no other leader may append it.
    send(Message{.type = MessageType::kPropose,
                 .to = leader_,
                 .log_term = term_,
                 .entries = std::move(entries)});
  }
  return first;
}

void Raft::handle_propose(const Message& m) {
  if (m.entries.empty()) return;
  uint64_t largest = 0;
  Status status;
  for (const Entry& e : m.entries) {
    largest = std::max<uint64_t>(largest, e.data.size());
    if (e.type != EntryType::kNormal || e.origin != m.from) {
      status = Status::InvalidArgument("forwarded entries must be normal and name their origin");
    }
  }
  if (status.ok()) {
    // Only the leader of the term it was forwarded in may append it, and it answers only the
    // first copy. Any other copy (a duplicating network, a late retransmission) gets no answer
    // at all: a refusal would tell the proposer "definitely not appended" while the first copy
    // may have been. The proposer resolves silence as "may have happened" when its leader changes
    // or the forward times out.
    if (!is_leader() || m.log_term != term_) return;
    auto& seen = leader_state().forwarded_seen[m.from];
    if (!seen.insert(m.entries.front().proposal).second) return;
    if (seen.size() > kForwardedSeenMax) seen.erase(seen.begin());
    status = check_can_propose(m.entries.size(), largest);
  }
  Message resp{.type = MessageType::kProposeResp,
               .to = m.from,
               .proposal = m.entries.front().proposal,
               .count = m.entries.size()};
  if (!status.ok()) {
    resp.reject = true;  // definite: it never entered our log
    send(std::move(resp));
    return;
  }
  resp.index = log_.last_index().next();
  resp.log_term = term_;
  append_as_leader(m.entries);
  send(std::move(resp));
}

void Raft::handle_propose_response(const Message& m) {
  // Walk our pending ids in [proposal, proposal + count): bounded by what we have pending,
  // whatever count a peer claims.
  const uint64_t first = m.proposal.value();
  for (auto it = pending_proposals_.lower_bound(m.proposal);
       it != pending_proposals_.end() && it->first.value() - first < m.count;) {
    if (it->second.acked) {
      ++it;
      continue;
    }
    if (m.reject) {
      proposal_results_.push_back({it->first, ProposalOutcome::kFailedDefinite, LogIndex(0),
                                   Status(StatusCode::kNotLeader, "the leader refused it")});
      it = pending_proposals_.erase(it);
      continue;
    }
    it->second = PendingProposal{true, m.index + (it->first.value() - first), m.log_term, now_};
    ++it;
  }
}

void Raft::report_committed(const std::vector<Entry>& committed) {
  if (pending_proposals_.empty()) return;
  for (const Entry& e : committed) {
    if (e.origin != id_ || e.proposal == ProposalId(0)) continue;
    auto it = pending_proposals_.find(e.proposal);
    if (it == pending_proposals_.end()) continue;
    proposal_results_.push_back({e.proposal, ProposalOutcome::kCommitted, e.index, Status()});
    pending_proposals_.erase(it);
  }
}

void Raft::fail_pending_proposals(const Status& why) {
  for (auto it = pending_proposals_.begin(); it != pending_proposals_.end();) {
    const PendingProposal& p = it->second;
    if (p.acked && p.index <= log_.committed() && log_.match_term(p.index, p.term)) {
      ++it;  // committed: reported when handed out to apply
      continue;
    }
    // It reached (or may have reached) a leader's log: it may still commit under a later one.
    proposal_results_.push_back({it->first, ProposalOutcome::kFailedIndefinite, p.index, why});
    it = pending_proposals_.erase(it);
  }
}

void Raft::expire_forwarded(uint64_t max_age_ticks) {
  for (auto it = pending_proposals_.begin(); it != pending_proposals_.end();) {
    if (it->second.acked || now_ - it->second.sent_tick <= max_age_ticks) {
      ++it;
      continue;
    }
    proposal_results_.push_back({it->first, ProposalOutcome::kFailedIndefinite, LogIndex(0),
                                 Status::Timeout("the leader did not answer the forwarded "
                                                 "proposal")});
    it = pending_proposals_.erase(it);
  }
  for (auto it = forwarded_reads_.begin(); it != forwarded_reads_.end();) {
    if (now_ - it->second.sent_tick <= max_age_ticks) {
      ++it;
      continue;
    }
    read_states_.push_back({it->first, LogIndex(0), Status::Timeout("read index unanswered")});
    it = forwarded_reads_.erase(it);
  }
}

Status Raft::transfer_leadership(NodeId target) {
  if (!is_leader()) return Status(StatusCode::kNotLeader, "not the leader");
  if (target == id_) return Status::Ok();
  if (!configuration().is_voter(target)) {
    std::ostringstream out;
    out << "node " << target << " is not a voter";
    return Status::InvalidArgument(out.str());
  }
  Leader& leader = leader_state();
  leader.transferee = target;
  leader.transfer_elapsed = 0;
  Progress& pr = leader.progress.at(target);
  if (pr.match == log_.last_index()) {
    send_timeout_now(target);
  } else {
    send_append(target, pr, /*send_if_empty=*/true);  // catch it up first
  }
  return Status::Ok();
}

void Raft::send_timeout_now(NodeId to) {
  leader_state().timeout_now_sent = true;
  send(Message{.type = MessageType::kTimeoutNow, .to = to});
}

void Raft::check_transfer_progress(NodeId from) {
  Leader& leader = leader_state();
  // Repeats on every ack once caught up; a duplicate TimeoutNow is harmless.
  if (leader.transferee == from && leader.progress.at(from).match == log_.last_index()) {
    send_timeout_now(from);
  }
}

}  // namespace chorus::raft
