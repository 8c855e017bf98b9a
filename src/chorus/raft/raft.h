// chorus::raft::Raft: the Raft consensus core, a deterministic state machine that does no I/O
// (in the style of etcd/raft's RawNode and ScyllaDB raft's fsm).
//
// The driver (node/) feeds it inputs -- tick(), step(), propose(), read_index(), ... -- and
// drains its outputs with ready(), following the ordering rules written beside each Ready field.
// Nothing here blocks, allocates threads, reads a clock or touches a file: time is ticks, and
// persistence is the driver's job (it acknowledges with on_persisted()).
//
// The whole protocol of the Raft paper's Figure 2 and the thesis' extensions lives here; see
// docs/raft.md for the map and the decisions taken.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "chorus/base/rng.h"
#include "chorus/base/status.h"
#include "chorus/raft/config.h"
#include "chorus/raft/message.h"
#include "chorus/raft/progress.h"
#include "chorus/raft/raft_log.h"
#include "chorus/raft/types.h"

namespace chorus::raft {

// What the driver loaded from disk at start. A fresh node passes a default Bootstrap.
struct Bootstrap {
  HardState hard_state;
  // The last snapshot taken or installed (index 0: none; then the configuration is
  // Config::voters/learners).
  SnapshotMeta snapshot;
  std::vector<Entry> entries;  // the durable entries after snapshot.index, in order
  // Must differ on every start of the same node (a restart counter kept with the hard state,
  // or a random number): proposal ids embed it, so an entry proposed before a crash is never
  // mistaken for a proposal made after it.
  uint32_t incarnation = 0;
};

// Everything the core asks the driver to do, taken with ready(). Process the fields in the
// order they are listed. Several Readys may be outstanding at once: the driver must persist
// them in the order they were taken (FIFO), and "durable" below means "this Ready's and every
// earlier Ready's hard_state, entries and snapshot chunks are on disk".
struct Ready {
  // Persist (with `entries`, atomically or hard state last; and after snapshot_to_install if
  // both are set, since its commit may cover the snapshot). Absent if unchanged.
  std::optional<HardState> hard_state;
  // Append to the log on disk. The first entry may overwrite (truncate) a suffix of what was
  // persisted before: drop every persisted entry at or after entries.front().index first.
  // When durable, call on_persisted(entries.back().index, entries.back().term).
  std::vector<Entry> entries;
  // Write each chunk at its offset of the incoming snapshot file (named by meta.index/term);
  // before snapshot_to_install.
  std::vector<SnapshotChunk> snapshot_chunks_to_write;
  // Once the chunks are durable: restore the state machine from the received snapshot file,
  // persist the snapshot metadata, and drop log entries it covers (those at or before
  // index whose term differs, and all before). The core already treats it as installed:
  // committed/applied jump to its index. Comes before `entries` of this Ready.
  std::optional<SnapshotMeta> snapshot_to_install;
  // Send now, in parallel with persisting this Ready: the leader's appends and heartbeats,
  // pre-vote traffic, forwarded proposals and reads, heartbeat replies. A message with
  // fill_from_snapshot set must first be completed with fill_snapshot_chunk() from the
  // leader's snapshot file (meta = message.snapshot, bytes [offset, offset + count)); if that
  // snapshot is gone, drop the message (the leader resends).
  std::vector<Message> messages;
  // Send only once this Ready is durable: these promise durability -- vote grants, append and
  // snapshot-chunk acknowledgements, a candidate's RequestVotes (its new term and self-vote
  // must survive a crash before anyone is asked, §5.2 / Figure 2 "persistent state").
  std::vector<Message> messages_after_persist;
  // Apply to the state machine in order, then call on_applied(back().index). Only entries the
  // local node has persisted appear here (the node may have learned the commit earlier).
  std::vector<Entry> committed_entries;
  // Serve each read once applied >= index (thesis §6.4), or fail it if status is not ok.
  std::vector<ReadState> read_states;
  // Outcomes of proposals (local and forwarded). kCommitted arrives in the same Ready as the
  // committed entry: answer after applying it. Every ProposalId returned by propose*() gets
  // exactly one result here, unless propose*() itself failed.
  std::vector<ProposalResult> proposal_results;
  // The core suggests taking a snapshot of the state machine at (or after) this applied index,
  // then calling compact(). Repeated only after compact() or another threshold of entries.
  std::optional<LogIndex> snapshot_request;

  bool empty() const;
};

// Completes a leader's snapshot-chunk message with the bytes the driver read from its snapshot
// file: sets data and checksum (XXH3-64) and clears fill_from_snapshot.
void fill_snapshot_chunk(Message& message, ByteSpan bytes);

enum class RoleKind : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
std::string_view role_name(RoleKind role);

struct PeerStatus {
  NodeId id;
  bool learner = false;
  LogIndex match;
  LogIndex next;
  ProgressState state = ProgressState::kProbe;
  size_t inflight_msgs = 0;
  uint64_t inflight_bytes = 0;
  bool recent_active = false;
  uint64_t snapshot_acked_offset = 0;
};

struct RaftStatus {
  NodeId id;
  RoleKind role = RoleKind::kFollower;
  Term term;
  NodeId vote;
  NodeId leader;
  LogIndex commit;
  LogIndex applied;
  LogIndex persisted;
  LogIndex last_index;
  LogIndex snapshot_index;
  Configuration configuration;  // active: the latest appended (thesis §4.1)
  // The index of an uncommitted configuration entry, if a change is in flight.
  std::optional<LogIndex> config_change_in_flight;
  NodeId transferee;              // leader only: a leadership transfer target
  std::vector<PeerStatus> peers;  // leader only
};

// The roles (§5.1, thesis §9.6 pre-candidate), each with only the state it needs.
struct Follower {};
struct PreCandidate {
  std::map<NodeId, bool> votes;
};
struct Candidate {
  std::map<NodeId, bool> votes;
};
struct PendingRead {
  NodeId from;  // kNoNode: local
  uint64_t request_id = 0;
  LogIndex index;
  uint64_t read_seq = 0;  // the heartbeat round that confirms it
};
struct Leader {
  std::map<NodeId, Progress> progress;  // every member but the leader itself
  NodeId transferee;                    // thesis §3.10; proposals are refused meanwhile
  uint64_t transfer_elapsed = 0;
  bool timeout_now_sent = false;  // a transfer target may win at any time: no more lease reads
  uint64_t read_seq_sent = 0;     // latest heartbeat read round started
  std::deque<PendingRead> reads;  // awaiting a round (thesis §6.4)
  std::vector<PendingRead> reads_before_commit;  // until an entry of this term commits
  bool committed_in_term = false;
  // Forwarded proposals received this term, per origin (first id of each batch), so a duplicate
  // copy is never appended twice. Bounded by kForwardedSeenMax per origin (oldest dropped).
  std::map<NodeId, std::set<ProposalId>> forwarded_seen;
};
inline constexpr size_t kForwardedSeenMax = 1 << 16;
using Role = std::variant<Follower, PreCandidate, Candidate, Leader>;

class Raft {
 public:
  // Asserts that config.validate() is ok: validate first.
  Raft(const Config& config, const Bootstrap& restored_state);

  // One unit of logical time: election timeouts, heartbeats, check-quorum, leases, resends.
  void tick();
  // Processes a message from a peer. A non-ok Status means the message was malformed or
  // misaddressed (it was ignored, though a rejection may have been queued).
  [[nodiscard]] Status step(const Message& message);

  // Proposes a command. On the leader it is appended; on a follower it is forwarded to the
  // leader (thesis §6.2). Fails at once (definite) with kNotLeader if no leader is known, kBusy
  // during a leadership transfer or with too many uncommitted entries, kTooLarge if bigger than
  // max_entries_bytes_per_msg. Otherwise the outcome arrives in Ready::proposal_results.
  [[nodiscard]] Result<ProposalId> propose(Bytes data);
  // Several commands with consecutive ids; all or none are accepted. Returns the first id.
  [[nodiscard]] Result<ProposalId> propose_batch(std::vector<Bytes> batch);
  // A linearizable read (thesis §6.4): the answer arrives in Ready::read_states.
  [[nodiscard]] Status read_index(uint64_t request_id);
  // Thesis §3.10. Leader only; the target must be a voter.
  [[nodiscard]] Status transfer_leadership(NodeId target);
  // One-server-at-a-time change (thesis §4.2), leader only. Refused while another change is
  // uncommitted, before the leader committed an entry of its term, or if the policy's quorums
  // of the two configurations would not intersect.
  [[nodiscard]] Result<ProposalId> propose_membership(const MembershipChange& change);

  bool has_ready() const;
  Ready ready();
  // Entries up to `index` of term `term` (and the hard state handed out with them) are
  // durable. Stale calls (the entry was overwritten since) are ignored.
  void on_persisted(LogIndex index, Term term);
  void on_applied(LogIndex index);
  // The driver took a state-machine snapshot at `index` (<= applied) of `size_bytes` bytes:
  // entries up to index are dropped from memory; followers that need them get the snapshot.
  [[nodiscard]] Status compact(LogIndex index, uint64_t size_bytes);

  RaftStatus status() const;
  NodeId id() const { return id_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  RoleKind role() const;
  bool is_leader() const { return std::holds_alternative<Leader>(role_); }
  const RaftLog& log() const { return log_; }
  const Configuration& configuration() const { return config_history_.back().second; }
  const SnapshotMeta& snapshot() const { return snapshot_; }
  void check_invariants() const;

 private:
  struct PendingProposal {
    bool acked = false;  // forwarded: the leader appended it at (index, term)
    LogIndex index;
    Term term;
    uint64_t sent_tick = 0;
  };
  struct ForwardedRead {
    NodeId leader;
    uint64_t sent_tick = 0;
  };
  // A transfer is one leader's stream of one snapshot: (leader term, meta) names it, since
  // another leader's file of the same snapshot need not have the same bytes.
  struct IncomingSnapshot {
    SnapshotMeta meta;
    Term leader_term;
    uint64_t next_offset = 0;
  };

  // raft.cc: roles and the term rules (§5.1).
  void bootstrap();
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void set_leader(NodeId leader);
  void reset_election_timeout();
  bool promotable() const;
  [[nodiscard]] Status step_term_rules(const Message& m, bool& handled);
  void step_follower(const Message& m);
  void step_candidate(const Message& m);
  void step_leader(const Message& m);
  void send(Message m);
  void send_after_persist(Message m);
  void tick_election();
  void tick_leader();
  Leader& leader_state() { return std::get<Leader>(role_); }
  const Leader& leader_state() const { return std::get<Leader>(role_); }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }

  // election.cc: §5.2, §5.4.1, thesis §9.6 pre-vote, §6.2 check-quorum lease.
  void campaign(bool pre_vote, bool transfer);
  void handle_vote_request(const Message& m);
  void handle_vote_response(const Message& m);
  bool in_leader_lease() const;

  // replication.cc: §5.3, §5.4.2, pipelining and flow control.
  bool send_append(NodeId to, Progress& pr, bool send_if_empty);
  void broadcast_append(bool send_if_empty);
  void broadcast_heartbeat();
  void handle_append(const Message& m);
  void handle_append_response(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_heartbeat_response(const Message& m);
  bool maybe_commit();
  void on_commit_advanced();
  uint64_t quorum_value(const std::function<uint64_t(const Progress&)>& peer_value,
                        uint64_t self_value) const;
  void append_as_leader(std::vector<Entry> entries);
  LogIndex self_match() const;

  // reads.cc: thesis §6.4 ReadIndex and §6.4.1 leases.
  void handle_read(NodeId from, uint64_t request_id);
  void start_read_round();
  void release_confirmed_reads();
  void answer_read(const PendingRead& read, Status status);
  bool lease_valid() const;
  void fail_reads(const Status& status);
  void handle_read_index_response(const Message& m);

  // proposals.cc: forwarding (thesis §6.2), outcomes, leadership transfer (thesis §3.10).
  Status check_can_propose(size_t count, uint64_t bytes) const;
  ProposalId next_proposal_id();
  void handle_propose(const Message& m);
  void handle_propose_response(const Message& m);
  void report_committed(const std::vector<Entry>& committed);
  void fail_pending_proposals(const Status& why);
  void expire_forwarded(uint64_t max_age_ticks);
  void send_timeout_now(NodeId to);
  void check_transfer_progress(NodeId from);

  // membership.cc: thesis §4.
  void rebuild_config_history(const Configuration& base, LogIndex base_index);
  void on_entries_appended(LogIndex from);
  void on_log_truncated(LogIndex from);
  void on_configuration_changed();
  std::optional<LogIndex> pending_config_index() const;
  const Configuration& config_at(LogIndex index) const;
  void maybe_step_down_after_removal();

  // snapshot.cc: §7, chunked.
  void send_snapshot_chunk(NodeId to, Progress& pr);
  [[nodiscard]] Status handle_snapshot_chunk(const Message& m);
  void handle_snapshot_chunk_response(const Message& m);
  void resend_stalled_snapshots();
  void install_snapshot(const SnapshotMeta& meta);

  Config config_;
  NodeId id_;
  Rng rng_;
  uint64_t incarnation_;

  // Persistent state (Figure 2), mirrored to the driver through Ready::hard_state.
  Term term_;
  NodeId vote_ = kNoNode;
  RaftLog log_;
  HardState last_hard_state_;

  // Volatile state.
  Role role_ = Follower{};
  NodeId leader_ = kNoNode;
  uint64_t now_ = 1;  // ticks since start, from 1 (0 means "never" in lease bookkeeping)
  uint64_t election_elapsed_ = 0;
  uint64_t heartbeat_elapsed_ = 0;
  uint64_t randomized_election_timeout_ = 0;
  // (index, configuration) of the base (snapshot or initial) and every config entry after it.
  std::vector<std::pair<LogIndex, Configuration>> config_history_;
  SnapshotMeta snapshot_;  // the latest snapshot this node has (taken or installed)
  std::optional<IncomingSnapshot> incoming_snapshot_;
  bool snapshot_requested_ = false;

  uint64_t proposal_counter_ = 0;
  std::map<ProposalId, PendingProposal> pending_proposals_;
  std::map<uint64_t, ForwardedRead> forwarded_reads_;

  // Outputs accumulated for the next Ready.
  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_persist_;
  std::vector<SnapshotChunk> chunks_to_write_;
  std::optional<SnapshotMeta> snapshot_to_install_;
  std::vector<ReadState> read_states_;
  std::vector<ProposalResult> proposal_results_;
};

}  // namespace chorus::raft
