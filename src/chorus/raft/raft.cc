// Raft: construction, roles and the term rules (§5.1), ticks, and the Ready cycle.
#include "chorus/raft/raft.h"

#include "chorus/base/checksum.h"
#include "chorus/raft/codec.h"
#include "chorus/raft/quorum.h"

namespace chorus::raft {

bool Ready::empty() const {
  return !hard_state && entries.empty() && snapshot_chunks_to_write.empty() &&
         !snapshot_to_install && messages.empty() && messages_after_persist.empty() &&
         committed_entries.empty() && read_states.empty() && proposal_results.empty() &&
         !snapshot_request;
}

void fill_snapshot_chunk(Message& message, ByteSpan bytes) {
  CHORUS_ASSERT(message.type == MessageType::kSnapshotChunk && message.fill_from_snapshot);
  CHORUS_ASSERT(bytes.size() == message.count, "chunk of ", bytes.size(), " bytes, expected ",
                message.count);
  message.data.assign(bytes.begin(), bytes.end());
  message.checksum = checksum64(bytes);
  message.fill_from_snapshot = false;
}

std::string_view role_name(RoleKind role) {
  switch (role) {
    case RoleKind::kFollower:
      return "follower";
    case RoleKind::kPreCandidate:
      return "pre-candidate";
    case RoleKind::kCandidate:
      return "candidate";
    case RoleKind::kLeader:
      return "leader";
  }
  return "unknown";
}

Raft::Raft(const Config& config, const Bootstrap& restored)
    : config_(config),
      id_(config.id),
      rng_(config.random_seed ^ (config.id.value() * 0x9e3779b97f4a7c15ULL)),
      incarnation_(restored.incarnation),
      term_(restored.hard_state.term),
      vote_(restored.hard_state.vote),
      log_(restored.snapshot.index, restored.snapshot.term, restored.entries,
           restored.hard_state.commit) {
  Status valid = config.validate();
  CHORUS_ASSERT(valid.ok(), "invalid raft config: ", valid.ToString());
  snapshot_ = restored.snapshot;
  rebuild_config_history(restored.snapshot.index > LogIndex(0) ? restored.snapshot.config
                                                               : config.initial_configuration(),
                         restored.snapshot.index);
  last_hard_state_ = hard_state();
  const bool fresh = restored.hard_state == HardState{} && restored.entries.empty() &&
                     restored.snapshot.index == LogIndex(0);
  if (fresh && !config.voters.empty()) bootstrap();
  reset_election_timeout();
  check_invariants();
}

void Raft::bootstrap() {
  // Every initial member writes the same committed entry 1 (term 1) holding the initial
  // configuration (as etcd's bootstrap does), so a node that joins later learns the whole
  // membership history from the log, like any other entry.
  term_ = Term(1);
  log_.append({Entry{Term(1), LogIndex(1), EntryType::kConfigChange, kNoNode, ProposalId(0),
                     encode_bootstrap_configuration(config_.initial_configuration())}});
  log_.commit_to(LogIndex(1));
  on_entries_appended(LogIndex(1));
}

RoleKind Raft::role() const { return static_cast<RoleKind>(role_.index()); }

bool Raft::promotable() const { return configuration().is_voter(id_); }

void Raft::reset_election_timeout() {
  // §5.2: randomized in [T, 2T) so that split votes are rare.
  randomized_election_timeout_ = config_.election_tick + rng_.uniform(config_.election_tick);
}

void Raft::reset(Term term) {
  if (term != term_) {
    CHORUS_ASSERT(term > term_, "term goes back from ", term_, " to ", term);
    term_ = term;
    vote_ = kNoNode;
  }
  if (is_leader()) fail_reads(Status::Unavailable("leadership lost"));
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_election_timeout();
}

void Raft::set_leader(NodeId leader) {
  if (leader == leader_) return;
  // Whatever reached the old leader may or may not commit: report it (never drop silently).
  if (leader_ != kNoNode) fail_pending_proposals(Status::Timeout("leader changed"));
  for (auto& [request_id, read] : forwarded_reads_) {
    read_states_.push_back({request_id, LogIndex(0), Status::Unavailable("leader changed")});
  }
  forwarded_reads_.clear();
  leader_ = leader;
}

void Raft::become_follower(Term term, NodeId leader) {
  reset(term);
  role_ = Follower{};
  set_leader(leader);
}

void Raft::become_pre_candidate() {
  // Thesis §9.6: no term change and no vote, so a node that cannot win disturbs nobody.
  CHORUS_ASSERT(!is_leader(), "a leader does not pre-campaign");
  election_elapsed_ = 0;
  reset_election_timeout();
  role_ = PreCandidate{};
  set_leader(kNoNode);
}

void Raft::become_candidate() {
  CHORUS_ASSERT(!is_leader(), "a leader does not campaign");
  reset(term_.next());  // §5.2: increment currentTerm, vote for self
  vote_ = id_;
  role_ = Candidate{};
  set_leader(kNoNode);
}

void Raft::become_leader() {
  CHORUS_ASSERT(std::holds_alternative<Candidate>(role_), "only a candidate becomes leader");
  reset(term_);
  Leader leader;
  for (NodeId peer : configuration().members()) {
    if (peer == id_) continue;
    leader.progress.emplace(peer, Progress(log_.last_index().next(), config_.max_inflight_msgs,
                                           config_.max_inflight_bytes));
  }
  role_ = std::move(leader);
  set_leader(id_);
  // §5.4.2 / §8: a no-op of the new term commits the entries of earlier terms, and (thesis
  // §4.1 fix) must commit before any membership change.
  append_as_leader(
      {Entry{term_, log_.last_index().next(), EntryType::kNoop, kNoNode, ProposalId(0), {}}});
}

void Raft::tick() {
  ++now_;
  if (is_leader()) {
    tick_leader();
  } else {
    tick_election();
  }
  expire_forwarded(2ULL * config_.election_tick);
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    campaign(config_.pre_vote, /*transfer=*/false);
  }
}

void Raft::tick_leader() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  Leader& leader = leader_state();
  if (leader.transferee != kNoNode && ++leader.transfer_elapsed >= config_.election_tick) {
    leader.transferee = kNoNode;  // thesis §3.10: abort after an election timeout
  }
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      // Thesis §6.2: a leader that has not heard from a quorum in an election timeout steps
      // down, so clients can find the real leader.
      uint64_t active =
          commit_quorum_value(config_.quorum, configuration(), [&](NodeId id) -> uint64_t {
            if (id == id_) return 1;
            auto it = leader.progress.find(id);
            return it != leader.progress.end() && it->second.recent_active ? 1 : 0;
          });
      if (active == 0) {
        become_follower(term_, kNoNode);
        return;
      }
    }
    for (auto& [id, pr] : leader.progress) pr.recent_active = false;
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
    resend_stalled_snapshots();
  }
}

Status Raft::step(const Message& m) {
  if (m.from == kNoNode || m.from == id_) return Status::InvalidArgument("bad sender");
  if (m.to != id_) return Status::InvalidArgument("message addressed to another node");
  switch (m.type) {
    case MessageType::kPropose:
      handle_propose(m);
      return Status::Ok();
    case MessageType::kProposeResp:
      handle_propose_response(m);
      return Status::Ok();
    case MessageType::kReadIndex:
      handle_read(m.from, m.request_id);
      return Status::Ok();
    case MessageType::kReadIndexResp:
      handle_read_index_response(m);
      return Status::Ok();
    default:
      break;
  }
  bool handled = false;
  CHORUS_TRY(step_term_rules(m, handled));
  if (handled) return Status::Ok();
  if (m.type == MessageType::kSnapshotChunk) {
    if (is_leader()) return Status::Ok();  // impossible in one term (§5.2); ignore
    if (!std::holds_alternative<Follower>(role_)) become_follower(term_, m.from);
    election_elapsed_ = 0;
    set_leader(m.from);
    return handle_snapshot_chunk(m);
  }
  switch (role()) {
    case RoleKind::kFollower:
      step_follower(m);
      break;
    case RoleKind::kPreCandidate:
    case RoleKind::kCandidate:
      step_candidate(m);
      break;
    case RoleKind::kLeader:
      step_leader(m);
      break;
  }
  return Status::Ok();
}

Status Raft::step_term_rules(const Message& m, bool& handled) {
  const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                           m.type == MessageType::kSnapshotChunk;
  if (m.term > term_) {
    const bool vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
    if (vote_request && !m.transfer && in_leader_lease()) {
      // Thesis §4.2.3: while we hear from a leader, a (removed or partitioned) server's
      // request must not depose it.
      handled = true;
      return Status::Ok();
    }
    if (m.type == MessageType::kPreVote) return Status::Ok();  // no state change (§9.6)
    if (m.type == MessageType::kPreVoteResp && !m.reject) return Status::Ok();  // our future term
    become_follower(m.term, from_leader ? m.from : kNoNode);  // Figure 2 "all servers"
    return Status::Ok();
  }
  if (m.term < term_) {
    handled = true;
    if (from_leader && (config_.check_quorum || config_.pre_vote)) {
      // A stale leader (healed from a partition) would otherwise never learn the new term,
      // since with pre-vote / check-quorum we never campaign against it with a higher one.
      send(Message{
          .type = MessageType::kAppendResp, .to = m.from, .index = m.index, .reject = true});
    } else if (m.type == MessageType::kPreVote) {
      send(Message{.type = MessageType::kPreVoteResp, .to = m.from, .reject = true});
    }
  }
  return Status::Ok();
}

void Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      set_leader(m.from);
      handle_append(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      set_leader(m.from);
      handle_heartbeat(m);
      break;
    case MessageType::kTimeoutNow:
      // Thesis §3.10: the leader chose us; campaign at once, skipping pre-vote.
      if (promotable()) campaign(/*pre_vote=*/false, /*transfer=*/true);
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      handle_vote_request(m);
      break;
    default:
      break;  // stale responses from an earlier role
  }
}

void Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
      // §5.2: a leader of our term exists; return to follower.
      become_follower(term_, m.from);
      step_follower(m);
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      handle_vote_request(m);
      break;
    case MessageType::kVoteResp:
    case MessageType::kPreVoteResp:
      handle_vote_response(m);
      break;
    default:
      break;
  }
}

void Raft::step_leader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResp:
      handle_append_response(m);
      break;
    case MessageType::kHeartbeatResp:
      handle_heartbeat_response(m);
      break;
    case MessageType::kSnapshotChunkResp:
      handle_snapshot_chunk_response(m);
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      handle_vote_request(m);
      break;
    default:
      break;
  }
}

void Raft::send(Message m) {
  m.from = id_;
  if (!is_termless(m.type) && m.term == Term(0)) m.term = term_;
  msgs_.push_back(std::move(m));
}

void Raft::send_after_persist(Message m) {
  m.from = id_;
  if (m.term == Term(0)) m.term = term_;
  msgs_after_persist_.push_back(std::move(m));
}

bool Raft::has_ready() const {
  return hard_state() != last_hard_state_ || log_.has_unstable() || !chunks_to_write_.empty() ||
         snapshot_to_install_.has_value() || !msgs_.empty() || !msgs_after_persist_.empty() ||
         log_.has_to_apply() || !read_states_.empty() || !proposal_results_.empty() ||
         (!snapshot_requested_ &&
          log_.applied() - snapshot_.index >= config_.snapshot_threshold_entries);
}

Ready Raft::ready() {
  Ready rd;
  if (HardState hs = hard_state(); hs != last_hard_state_) {
    rd.hard_state = hs;
    last_hard_state_ = hs;
  }
  rd.entries = log_.take_unstable();
  rd.snapshot_chunks_to_write = std::move(chunks_to_write_);
  rd.snapshot_to_install = std::move(snapshot_to_install_);
  snapshot_to_install_.reset();
  rd.messages = std::move(msgs_);
  rd.messages_after_persist = std::move(msgs_after_persist_);
  rd.committed_entries = log_.take_to_apply(config_.max_inflight_bytes);
  report_committed(rd.committed_entries);
  rd.read_states = std::move(read_states_);
  rd.proposal_results = std::move(proposal_results_);
  if (!snapshot_requested_ &&
      log_.applied() - snapshot_.index >= config_.snapshot_threshold_entries) {
    rd.snapshot_request = log_.applied();
    snapshot_requested_ = true;
  }
  chunks_to_write_.clear();
  msgs_.clear();
  msgs_after_persist_.clear();
  read_states_.clear();
  proposal_results_.clear();
  return rd;
}

void Raft::on_persisted(LogIndex index, Term term) {
  if (!log_.persisted_to(index, term)) return;
  // The leader counts itself toward a quorum only up to what it has persisted.
  if (is_leader() && maybe_commit()) on_commit_advanced();
}

void Raft::on_applied(LogIndex index) {
  LogIndex before = log_.applied();
  log_.applied_to(index);
  if (snapshot_requested_ && log_.applied() - before >= config_.snapshot_threshold_entries) {
    snapshot_requested_ = false;  // the driver skipped the last request: ask again
  }
}

RaftStatus Raft::status() const {
  RaftStatus s{id_,
               role(),
               term_,
               vote_,
               leader_,
               log_.committed(),
               log_.applied(),
               log_.persisted(),
               log_.last_index(),
               log_.snapshot_index(),
               configuration(),
               pending_config_index(),
               kNoNode,
               {}};
  if (is_leader()) {
    const Leader& leader = leader_state();
    s.transferee = leader.transferee;
    for (const auto& [id, pr] : leader.progress) {
      s.peers.push_back(PeerStatus{id, configuration().is_learner(id), pr.match, pr.next, pr.state,
                                   pr.inflights.count(), pr.inflights.bytes(), pr.recent_active,
                                   pr.snapshot.acked_offset});
    }
  }
  return s;
}

void Raft::check_invariants() const {
  log_.check_invariants();
  CHORUS_ASSERT(last_hard_state_.term <= term_, "handed out a term above the current one");
  CHORUS_ASSERT(!config_history_.empty());
  CHORUS_ASSERT(config_history_.front().first <= log_.snapshot_index(), "config base");
  for (size_t i = 1; i < config_history_.size(); ++i) {
    CHORUS_ASSERT(config_history_[i].first > log_.snapshot_index() &&
                      config_history_[i].first <= log_.last_index() &&
                      config_history_[i].first > config_history_[i - 1].first,
                  "config history out of the log");
  }
  CHORUS_ASSERT(snapshot_.index == log_.snapshot_index(), "snapshot metadata and log disagree");
  if (is_leader()) {
    const Leader& leader = leader_state();
    CHORUS_ASSERT(leader_ == id_ && vote_ == id_, "a leader voted for itself (§5.2)");
    for (const auto& [id, pr] : leader.progress) {
      CHORUS_ASSERT(id != id_ && configuration().contains(id), "progress for a non-member");
      pr.check_invariants();
    }
    for (NodeId id : configuration().members()) {
      CHORUS_ASSERT(id == id_ || leader.progress.contains(id), "member without progress");
    }
  } else {
    CHORUS_ASSERT(leader_ != id_, "a non-leader names itself leader");
  }
  if (std::holds_alternative<Candidate>(role_)) {
    CHORUS_ASSERT(vote_ == id_, "a candidate votes for itself (§5.2)");
  }
}

}  // namespace chorus::raft
