#include "describe.h"

#include <sstream>

#include "chorus/raft/codec.h"

namespace chorus::raft::testing {
namespace {

constexpr size_t kDataShownMax = 24;
constexpr size_t kEntriesShownMax = 4;

std::string quote(ByteSpan data) {
  std::string out = "\"";
  const std::string_view s = as_string_view(data);
  for (size_t i = 0; i < s.size() && i < kDataShownMax; ++i) {
    const unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20 || ch >= 0x7f) {
      out += '.';
    } else {
      out += static_cast<char>(ch);
    }
  }
  if (s.size() > kDataShownMax) out += "...";
  return out + "\"";
}

std::string_view change_name(MembershipChangeType type) {
  switch (type) {
    case MembershipChangeType::kAddVoter:
      return "add-voter";
    case MembershipChangeType::kAddLearner:
      return "add-learner";
    case MembershipChangeType::kPromoteLearner:
      return "promote";
    case MembershipChangeType::kRemove:
      return "remove";
  }
  return "?";
}

std::string at(LogIndex index, Term term) {
  std::ostringstream out;
  out << index << "@t" << term;
  return out.str();
}

std::string str_range(LogIndex first, LogIndex last) {
  std::ostringstream out;
  out << first << ".." << last;
  return out.str();
}

}  // namespace

std::string describe_ids(const std::set<NodeId>& ids) {
  std::ostringstream out;
  out << "(";
  const char* sep = "";
  for (NodeId id : ids) {
    out << sep << id;
    sep = ",";
  }
  out << ")";
  return out.str();
}

std::string describe_configuration(const Configuration& c) {
  std::ostringstream out;
  out << "voters=" << describe_ids(c.voters);
  if (!c.learners.empty()) out << " learners=" << describe_ids(c.learners);
  if (!c.groups.empty()) {
    out << " groups=(";
    const char* sep = "";
    for (const auto& [id, label] : c.groups) {
      out << sep << id << ":" << label;
      sep = ",";
    }
    out << ")";
  }
  return out.str();
}

std::string describe_proposal(ProposalId id) {
  const uint64_t incarnation = id.value() >> 32;
  const uint64_t counter = id.value() & 0xffffffffULL;
  std::ostringstream out;
  out << "#";
  if (incarnation != 0) out << incarnation << ".";
  out << counter;
  return out.str();
}

std::string describe_entry(const Entry& e) {
  std::ostringstream out;
  // Forwarded entries have no place in a log yet: name them by their proposal.
  out << (e.index == LogIndex(0) ? describe_proposal(e.proposal) : at(e.index, e.term)) << " ";
  switch (e.type) {
    case EntryType::kNormal:
      out << quote(e.data);
      break;
    case EntryType::kNoop:
      out << "noop";
      break;
    case EntryType::kConfigChange: {
      auto decoded = decode_config_entry(e.data);
      if (!decoded.ok()) {
        out << "conf <" << decoded.status().ToString() << ">";
      } else if (const auto* c = std::get_if<Configuration>(&*decoded)) {
        out << "conf " << describe_configuration(*c);
      } else {
        const auto& change = std::get<MembershipChange>(*decoded);
        out << "conf " << change_name(change.type) << " " << change.node;
        if (!change.group.empty()) out << " group=" << change.group;
      }
      break;
    }
  }
  return out.str();
}

std::string describe_entries(const std::vector<Entry>& entries) {
  std::ostringstream out;
  out << "[";
  if (entries.size() <= kEntriesShownMax) {
    const char* sep = "";
    for (const Entry& e : entries) {
      out << sep << describe_entry(e);
      sep = ", ";
    }
  } else {
    out << describe_entry(entries.front()) << ", " << describe_entry(entries[1]) << " ... "
        << describe_entry(entries.back()) << " (" << entries.size() << " entries)";
  }
  out << "]";
  return out.str();
}

std::string describe_snapshot(const SnapshotMeta& s) {
  std::ostringstream out;
  out << at(s.index, s.term) << " " << describe_configuration(s.config) << " size=" << s.size_bytes;
  return out.str();
}

std::string describe_message(const Message& m) {
  std::ostringstream out;
  out << m.from << "->" << m.to << " " << message_type_name(m.type);
  if (!is_termless(m.type)) out << " term=" << m.term;
  switch (m.type) {
    case MessageType::kAppend:
      out << " prev=" << at(m.index, m.log_term) << " commit=" << m.commit;
      if (!m.entries.empty()) out << " entries=" << describe_entries(m.entries);
      break;
    case MessageType::kAppendResp:
      if (m.reject) {
        out << " reject prev=" << m.index << " hint=" << at(m.hint_index, m.hint_term);
      } else {
        out << " match=" << m.index;
      }
      break;
    case MessageType::kHeartbeat:
      out << " commit=" << m.commit;
      if (m.read_seq != 0) out << " read-round=" << m.read_seq;
      break;
    case MessageType::kHeartbeatResp:
      out << " last=" << m.index;
      if (m.read_seq != 0) out << " read-round=" << m.read_seq;
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      out << " last=" << at(m.index, m.log_term);
      if (m.transfer) out << " transfer";
      break;
    case MessageType::kVoteResp:
    case MessageType::kPreVoteResp:
      out << (m.reject ? " rejected" : " granted");
      break;
    case MessageType::kTimeoutNow:
      break;
    case MessageType::kSnapshotChunk:
      out << " snapshot=" << at(m.snapshot.index, m.snapshot.term) << " bytes=[" << m.offset << ","
          << m.offset + m.count << ") of " << m.snapshot.size_bytes;
      if (m.last) out << " last";
      if (m.fill_from_snapshot) out << " unfilled";
      break;
    case MessageType::kSnapshotChunkResp:
      out << " snapshot=" << at(m.hint_index, m.hint_term);
      if (m.reject) {
        out << " resume-from=" << m.offset;
      } else if (m.last) {
        out << " done match=" << m.index;
      } else {
        out << " next=" << m.offset;
      }
      break;
    case MessageType::kPropose:
      out << " for-term=" << m.log_term << " entries=" << describe_entries(m.entries);
      break;
    case MessageType::kProposeResp:
      out << " " << describe_proposal(m.proposal) << " count=" << m.count;
      if (m.reject) {
        out << " refused";
      } else {
        out << " appended at " << at(m.index, m.log_term);
      }
      break;
    case MessageType::kReadIndex:
      out << " id=" << m.request_id;
      break;
    case MessageType::kReadIndexResp:
      out << " id=" << m.request_id;
      if (m.reject) {
        out << " failed";
      } else {
        out << " index=" << m.index;
      }
      break;
  }
  return out.str();
}

std::string describe_result(const ProposalResult& r) {
  std::ostringstream out;
  out << describe_proposal(r.id);
  switch (r.outcome) {
    case ProposalOutcome::kCommitted:
      out << " committed at " << r.index;
      break;
    case ProposalOutcome::kFailedDefinite:
      out << " failed (definite): " << r.status.ToString();
      break;
    case ProposalOutcome::kFailedIndefinite:
      out << " failed (indefinite";
      if (r.index != LogIndex(0)) out << ", was at " << r.index;
      out << "): " << r.status.ToString();
      break;
  }
  return out.str();
}

std::string describe_results(const ProposalResult& first, const ProposalResult& last) {
  std::ostringstream out;
  out << describe_proposal(first.id) << ".." << describe_proposal(last.id);
  const std::string indexes = str_range(first.index, last.index);
  switch (first.outcome) {
    case ProposalOutcome::kCommitted:
      out << " committed at " << indexes;
      break;
    case ProposalOutcome::kFailedDefinite:
      out << " failed (definite): " << first.status.ToString();
      break;
    case ProposalOutcome::kFailedIndefinite:
      out << " failed (indefinite";
      if (first.index != LogIndex(0)) out << ", were at " << indexes;
      out << "): " << first.status.ToString();
      break;
  }
  return out.str();
}

std::string describe_read(const ReadState& r) {
  std::ostringstream out;
  out << "read " << r.request_id;
  if (r.status.ok()) {
    out << " ok at index " << r.index;
  } else {
    out << " failed: " << r.status.ToString();
  }
  return out.str();
}

std::string describe_status(const RaftStatus& s) {
  std::ostringstream out;
  out << s.id << " is " << role_name(s.role) << " at term " << s.term;
  if (s.role != RoleKind::kLeader) {
    out << ", leader ";
    if (s.leader == kNoNode) {
      out << "unknown";
    } else {
      out << s.leader;
    }
  }
  if (s.vote != kNoNode) out << ", voted for " << s.vote;
  out << "\n  log: last=" << s.last_index << " persisted=" << s.persisted << " commit=" << s.commit
      << " applied=" << s.applied << " snapshot=" << s.snapshot_index;
  out << "\n  config: " << describe_configuration(s.configuration);
  if (s.config_change_in_flight) out << ", change in flight at " << *s.config_change_in_flight;
  if (s.transferee != kNoNode) out << "\n  transferring leadership to " << s.transferee;
  for (const PeerStatus& p : s.peers) {
    out << "\n  peer " << p.id << (p.learner ? " (learner)" : "") << ": "
        << progress_state_name(p.state) << " match=" << p.match << " next=" << p.next
        << " inflight=" << p.inflight_msgs << (p.recent_active ? " active" : " inactive");
    if (p.state == ProgressState::kSnapshot) out << " snapshot-acked=" << p.snapshot_acked_offset;
  }
  return out.str();
}

}  // namespace chorus::raft::testing
