// Elections: §5.2 (leader election), §5.4.1 (election restriction), thesis §9.6 (pre-vote),
// thesis §6.2 / §4.2.3 (the check-quorum lease that stops disruptive servers).
#include "chorus/raft/quorum.h"
#include "chorus/raft/raft.h"

namespace chorus::raft {

bool Raft::in_leader_lease() const {
  // A follower that heard from a leader within the minimum election timeout ignores requests
  // to vote (thesis §4.2.3); with check-quorum the leader would step down otherwise anyway.
  return config_.check_quorum && leader_ != kNoNode && election_elapsed_ < config_.election_tick;
}

void Raft::campaign(bool pre_vote, bool transfer) {
  if (!promotable()) return;
  Term campaign_term;
  if (pre_vote) {
    become_pre_candidate();
    campaign_term = term_.next();  // the term we would use; ours does not change yet
  } else {
    become_candidate();
    campaign_term = term_;
  }
  std::map<NodeId, bool>& votes =
      pre_vote ? std::get<PreCandidate>(role_).votes : std::get<Candidate>(role_).votes;
  votes[id_] = true;
  for (NodeId voter : configuration().voters) {
    if (voter == id_) continue;
    Message m{.type = pre_vote ? MessageType::kPreVote : MessageType::kVote,
              .to = voter,
              .term = campaign_term,
              .index = log_.last_index(),
              .log_term = log_.last_term(),
              .transfer = transfer};
    if (pre_vote) {
      send(std::move(m));  // promises nothing: may leave now
    } else {
      // Our new term and self-vote must be durable before anyone is asked (Figure 2).
      send_after_persist(std::move(m));
    }
  }
  // A single-voter cluster (or group) may already have won.
  handle_vote_response(
      Message{.type = pre_vote ? MessageType::kPreVoteResp : MessageType::kVoteResp,
              .from = id_,
              .term = campaign_term});
}

void Raft::handle_vote_request(const Message& m) {
  const bool pre_vote = m.type == MessageType::kPreVote;
  // Figure 2 RequestVote rule 2: grant if votedFor is null or the candidate, and (§5.4.1) the
  // candidate's log is at least as up-to-date. A pre-vote is granted for any higher term,
  // whatever we voted, since it changes nothing.
  const bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre_vote && m.term > term_);
  const bool grant = can_vote && log_.is_up_to_date(m.index, m.log_term);
  Message resp{.type = pre_vote ? MessageType::kPreVoteResp : MessageType::kVoteResp,
               .to = m.from,
               // A granted pre-vote answers in the term asked about, so the pre-candidate
               // counts it; a refusal carries ours so a stale candidate catches up.
               .term = grant && pre_vote ? m.term : term_,
               .reject = !grant};
  if (pre_vote) {
    send(std::move(resp));
    return;
  }
  if (grant) {
    vote_ = m.from;
    election_elapsed_ = 0;  // §5.2: granting a vote resets the election timer
  }
  send_after_persist(std::move(resp));  // the vote must be durable first
}

void Raft::handle_vote_response(const Message& m) {
  const bool pre_vote = m.type == MessageType::kPreVoteResp;
  std::map<NodeId, bool>* votes = nullptr;
  if (pre_vote && std::holds_alternative<PreCandidate>(role_)) {
    // A grant names the term we would campaign in; a refusal carries the voter's term, which
    // (after the term rules) is ours.
    if (!m.reject && m.term != term_.next()) return;
    votes = &std::get<PreCandidate>(role_).votes;
  } else if (!pre_vote && std::holds_alternative<Candidate>(role_)) {
    if (m.term != term_) return;
    votes = &std::get<Candidate>(role_).votes;
  } else {
    return;
  }
  votes->emplace(m.from, !m.reject);
  switch (vote_result(config_.quorum, configuration(), *votes)) {
    case VoteResult::kWon:
      if (pre_vote) {
        campaign(/*pre_vote=*/false, /*transfer=*/false);
      } else {
        become_leader();
      }
      break;
    case VoteResult::kLost:
      become_follower(term_, kNoNode);
      break;
    case VoteResult::kPending:
      break;
  }
}

}  // namespace chorus::raft
