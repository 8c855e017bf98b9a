// Membership changes (thesis §4): one server at a time (§4.2), a configuration takes effect
// as soon as its entry is appended (§4.1), learners catch up before promotion (§4.2.1), a
// removed leader steps down once the change commits (§4.2.2), and the fix of §4.1 / the
// raft-dev "single-server changes" bug: a new leader commits an entry of its term first.
#include <sstream>

#include "chorus/raft/codec.h"
#include "chorus/raft/quorum.h"
#include "chorus/raft/raft.h"

namespace chorus::raft {

Result<ProposalId> Raft::propose_membership(const MembershipChange& change) {
  if (!is_leader()) return Status(StatusCode::kNotLeader, "not the leader");
  Leader& leader = leader_state();
  if (leader.transferee != kNoNode) return Status::Busy("leadership transfer in progress");
  if (!leader.committed_in_term) {
    return Status::Unavailable(
        "the leader has not committed an entry of its term yet; configuration changes wait "
        "for it (thesis §4.1 fix for one-server-at-a-time changes)");
  }
  if (auto in_flight = pending_config_index()) {
    std::ostringstream out;
    out << "a configuration change is in flight at index " << *in_flight;
    return Status::Busy(out.str());
  }
  CHORUS_ASSIGN_OR_RETURN(Configuration next, apply_change(configuration(), change));
  if (next.voters != configuration().voters) {
    CHORUS_TRY(check_transition(config_.quorum, configuration(), next));
  } else {
    CHORUS_TRY(validate_policy(config_.quorum, next));
  }
  if (change.type == MembershipChangeType::kPromoteLearner) {
    const Progress& pr = leader.progress.at(change.node);
    if (pr.match < log_.committed()) {
      std::ostringstream out;
      out << "learner " << change.node << " has not caught up (match " << pr.match << " < commit "
          << log_.committed() << ")";
      return Status::Unavailable(out.str());
    }
  }
  const ProposalId id = next_proposal_id();
  pending_proposals_[id] = {true, log_.last_index().next(), term_, now_};
  append_as_leader(
      {Entry{Term(0), LogIndex(0), EntryType::kConfigChange, id_, id, encode_change(change)}});
  return id;
}

void Raft::rebuild_config_history(const Configuration& base, LogIndex base_index) {
  config_history_.clear();
  config_history_.emplace_back(base_index, base);
  if (log_.first_index() <= log_.last_index()) on_entries_appended(log_.first_index());
}

void Raft::on_entries_appended(LogIndex from) {
  bool changed = false;
  for (LogIndex i = from; i <= log_.last_index(); ++i) {
    const Entry& e = log_.at(i);
    if (e.type != EntryType::kConfigChange) continue;
    auto decoded = decode_config_entry(e.data);
    CHORUS_ASSERT(decoded.ok(), "undecodable configuration entry at ", i);
    Result<Configuration> next =
        std::holds_alternative<Configuration>(*decoded)
            ? Result<Configuration>(std::get<Configuration>(*decoded))
            : apply_change(configuration(), std::get<MembershipChange>(*decoded));
    CHORUS_ASSERT(next.ok(), "configuration entry at ", i,
                  " does not apply: ", next.status().ToString());
    config_history_.emplace_back(i, std::move(next).value());
    changed = true;
  }
  if (changed) on_configuration_changed();
}

void Raft::on_log_truncated(LogIndex from) {
  bool changed = false;
  while (config_history_.size() > 1 && config_history_.back().first >= from) {
    config_history_.pop_back();  // §4.1: an uncommitted configuration reverts with its entry
    changed = true;
  }
  if (changed) on_configuration_changed();
}

void Raft::on_configuration_changed() {
  if (!is_leader()) return;
  Leader& leader = leader_state();
  const Configuration& config = configuration();
  for (auto it = leader.progress.begin(); it != leader.progress.end();) {
    it = config.contains(it->first) ? std::next(it) : leader.progress.erase(it);
  }
  for (NodeId id : config.members()) {
    if (id == id_ || leader.progress.contains(id)) continue;
    // Next = the last entry (the configuration that adds it), not past it, so the very next
    // broadcast reaches the new member instead of waiting for a heartbeat (as etcd/raft).
    leader.progress.emplace(id, Progress(std::max(log_.last_index(), LogIndex(1)),
                                         config_.max_inflight_msgs, config_.max_inflight_bytes));
  }
  if (leader.transferee != kNoNode && !config.is_voter(leader.transferee)) {
    leader.transferee = kNoNode;
  }
}

std::optional<LogIndex> Raft::pending_config_index() const {
  if (config_history_.size() > 1 && config_history_.back().first > log_.committed()) {
    return config_history_.back().first;
  }
  return std::nullopt;
}

const Configuration& Raft::config_at(LogIndex index) const {
  for (auto it = config_history_.rbegin(); it != config_history_.rend(); ++it) {
    if (it->first <= index) return it->second;
  }
  return config_history_.front().second;
}

void Raft::maybe_step_down_after_removal() {
  if (!is_leader() || configuration().is_voter(id_) || pending_config_index()) return;
  // Thesis §4.2.2: once the configuration without us commits, step down; hand over to the
  // most up-to-date voter at once instead of waiting for an election timeout.
  NodeId best = kNoNode;
  LogIndex best_match;
  for (const auto& [id, pr] : leader_state().progress) {
    if (configuration().is_voter(id) && (best == kNoNode || pr.match > best_match)) {
      best = id;
      best_match = pr.match;
    }
  }
  if (best != kNoNode) send_timeout_now(best);
  become_follower(term_, kNoNode);
}

}  // namespace chorus::raft
