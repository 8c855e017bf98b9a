// Short, stable, human-readable descriptions of Raft values for the interaction transcripts
// (tests/unit/raft/testdata/*.txt). Notation: `5@t2` is the entry at index 5 of term 2;
// `#3` is proposal 3 of a node's first incarnation, `#1.3` proposal 3 after one restart.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "chorus/raft/raft.h"

namespace chorus::raft::testing {

std::string describe_entry(const Entry& e);
// Lists up to a few entries in full; longer runs show their ends and the count.
std::string describe_entries(const std::vector<Entry>& entries);
std::string describe_message(const Message& m);
std::string describe_ids(const std::set<NodeId>& ids);  // (1,2,3)
std::string describe_configuration(const Configuration& c);
std::string describe_proposal(ProposalId id);
std::string describe_result(const ProposalResult& r);
// A run of consecutive proposals with the same outcome, from `first` to `last`.
std::string describe_results(const ProposalResult& first, const ProposalResult& last);
std::string describe_read(const ReadState& r);
std::string describe_snapshot(const SnapshotMeta& s);
// Several lines: role, term, commit, configuration, peers (leader).
std::string describe_status(const RaftStatus& s);

// Concatenates anything that streams.
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace chorus::raft::testing
