// NodeImpl: everything behind RaftNode (internal). See docs/node.md for the design.
//
// Threads:
//   - the caller's thread: open(), close(), the thread-safe views, and the initiation of async
//     calls, which only post to the io thread;
//   - the io thread (runs `io_`): owns the Raft core, the state machine and every pending call;
//     runs the loop below, the transport's on_message, the tick timer and WAL completions;
//   - the WAL thread (wal_thread.h): owns the RaftStorage once open.
//
// The loop (DESIGN.md "The driver loop"). Every input -- a message, a call, a tick, a WAL report --
// lands in the inbox and schedules one iteration, which runs these phases in this order
// (asserted by enter()):
//   kStep     step the inbox into the core: ticks, messages, proposals, reads (one batch);
//   kReady    take Readys: hard state, entries and snapshot chunks/installs go to the WAL thread
//             in order; `messages` are sent at once (a leader's appends travel while its own
//             fsync runs); `messages_after_persist` wait for their Ready to be durable;
//   kDurable  for each Ready the WAL thread reported durable (and every earlier one): restore an
//             installed snapshot, on_persisted(), send its messages_after_persist;
//   kApply    apply committed entries, answer waiting calls, on_applied(), serve reads whose
//             index is applied, start a snapshot if the core asked, save one that is done.
//
// Snapshots: the state machine serializes itself on a snapshot thread (docs/node.md
// "Snapshots off the loop"), so a large state never stalls heartbeats past the election timeout.
// Applying pauses until it is done; everything else -- messages, the WAL, reads -- goes on.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "chorus/net/transport.h"
#include "chorus/node/commit_decoder.h"
#include "chorus/node/completion.h"
#include "chorus/node/events.h"
#include "chorus/node/node_options.h"
#include "chorus/node/payload.h"
#include "chorus/node/raft_storage.h"
#include "chorus/node/state_machine.h"
#include "chorus/node/wal_thread.h"
#include "chorus/raft/raft.h"

namespace chorus::node::detail {

using SteadyClock = std::chrono::steady_clock;

enum class Phase : uint8_t { kIdle, kStep, kReady, kDurable, kApply };

class NodeImpl : public std::enable_shared_from_this<NodeImpl> {
 public:
  NodeImpl(NodeOptions options, asio::io_context& io, std::unique_ptr<RaftStorage> storage,
           FileSystem* fs, std::string dir, net::Transport& transport, StateMachine* machine);
  ~NodeImpl();

  Status open();
  void close();
  NodeEvents& events() { return events_; }  // before open()

  // Thread-safe views (node_impl.cc).
  NodeId id() const { return options_.id; }
  bool is_leader() const { return is_leader_.load(std::memory_order_acquire); }
  NodeId leader_id() const { return NodeId(leader_.load(std::memory_order_acquire)); }
  raft::Configuration members() const;
  std::map<NodeId, std::string> peer_addresses() const;
  void request_snapshot();
  NodeMetrics metrics() const;

  // Calls from any thread (node_requests.cc): each posts to the io thread, or completes at once
  // when the node is not open.
  void start_await_leader(std::chrono::milliseconds timeout, Completion<LeaderResult> done);
  void start_proposal(std::vector<Bytes> commands, bool txn,
                      std::variant<Completion<AppendResult>, Completion<BatchResult>> done);
  void start_read(Bytes command, Completion<ReadResult> done);
  void start_add_learner(NodeId node, std::string address, Completion<ChangeResult> done);
  void start_membership(raft::MembershipChangeType type, NodeId node,
                        Completion<ChangeResult> done);
  void start_transfer(NodeId node, Completion<ChangeResult> done);

 private:
  enum class State : uint8_t { kCreated, kOpen, kClosing, kClosed };

  struct ProposalOp {
    std::vector<Bytes> commands;  // until proposed
    bool txn = false;
    std::variant<Completion<AppendResult>, Completion<BatchResult>> done;
    SteadyClock::time_point deadline;
    std::optional<raft::ProposalId> first_id;  // set once the core took it
    LogIndex first;                            // sequence of member 0, once applied
    size_t count = 0;
    size_t applied = 0;
    std::vector<Bytes> results;
  };
  struct ReadOp {
    Bytes command;
    Completion<ReadResult> done;
    SteadyClock::time_point deadline;
    std::optional<LogIndex> index;  // the read index, once known
  };
  struct LeaderWaiter {
    Completion<LeaderResult> done;
    SteadyClock::time_point deadline;
  };
  struct ChangeOp {
    // add_learner: kAddress -> kAddressInFlight -> kPropose -> kInFlight;
    // promote/remove: kPropose -> kInFlight; transfer: kTransferStart -> kTransfer.
    enum class Stage : uint8_t {
      kAddress,
      kAddressInFlight,
      kPropose,
      kInFlight,
      kTransferStart,
      kTransfer
    };
    Stage stage = Stage::kPropose;
    raft::MembershipChange change;
    std::string address;
    NodeId transfer_to;
    Completion<ChangeResult> done;
    SteadyClock::time_point deadline;
    Status last_refusal;  // the latest refusal that time may cure
  };
  struct AwaitingDurable {
    uint64_t seq = 0;  // durable once the WAL reports this task sequence
    std::optional<std::pair<LogIndex, Term>> persisted;
    std::vector<raft::Message> messages;
  };

  // -- lifecycle and views (node_impl.cc) ----------------------------------------------------
  void shutdown();
  void receive(NodeId from, Bytes message);
  void publish();
  [[nodiscard]] Status restore_snapshot(const raft::SnapshotMeta& meta, const Bytes& state);
  void sync_peers();
  void warn(Status problem);

  // -- the loop (node_loop.cc) ----------------------------------------------------------------
  void enter(Phase next);
  void schedule();
  void iterate();
  void step_inputs();
  void step_message(NodeId from, const Bytes& bytes, bool wal_room);
  void step_decoded(raft::Message m);
  void drop_message(NodeId from, const Status& why);  // counted and warned
  void take_readys();
  bool wal_has_room() const;
  void submit_wal(WalTask task);
  void handle_ready(raft::Ready& rd);
  void complete_durable();
  void apply_committed();
  void apply_items(std::vector<ApplyItem>& items);
  void maybe_snapshot();
  void save_snapshot(Bytes enveloped);
  void on_snapshot_taken(uint64_t generation, Bytes state);
  void discard_snapshot();
  void send(raft::Message m);
  void emit_events();
  void arm_tick();
  void on_tick();
  void on_wal_done(WalDone done);
  void fail_fatal(Status error);
  void check_invariants() const;

  // -- calls (node_requests.cc) ---------------------------------------------------------------
  bool lock_if_open(std::unique_lock<std::mutex>& lock, Status& why) const;
  void start_change(ChangeOp op);
  void accept_await_leader(std::chrono::milliseconds timeout, Completion<LeaderResult> done);
  void accept_proposal(std::vector<Bytes> commands, bool txn,
                       std::variant<Completion<AppendResult>, Completion<BatchResult>> done);
  void accept_read(Bytes command, Completion<ReadResult> done);
  void accept_change(ChangeOp op);
  Status refusal() const;
  Status busy() const;
  size_t pending_calls() const;
  void propose(uint64_t op_id);
  void finish_proposal(uint64_t op_id, Status status);
  void on_item_applied(const ApplyItem& item, Bytes result);
  void on_proposal_result(const raft::ProposalResult& result);
  void start_read_index(uint64_t request_id);
  void on_read_state(const raft::ReadState& rs);
  void serve_reads();
  void finish_read(uint64_t request_id, Status status);
  void advance_changes();
  void finish_change(uint64_t op_id, Status status, LogIndex sequence = LogIndex(0));
  void notice_leader();
  void check_deadlines(SteadyClock::time_point now);
  void fail_all(bool fatal);

  // Configuration and collaborators (immutable after open()).
  const NodeOptions options_;
  asio::io_context& io_;
  std::unique_ptr<RaftStorage> storage_;
  FileSystem* fs_;
  const std::string dir_;
  net::Transport& transport_;
  StateMachine* machine_;
  NodeEvents events_;

  // Lifecycle: guarded by state_mu_ (posting a call happens under it, so close() knows that
  // every call posted before it runs before the shutdown it posts).
  mutable std::mutex state_mu_;
  State state_ = State::kCreated;
  std::thread io_thread_;
  std::future<void> io_done_;  // ready when io_.run() returned
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::unique_ptr<WalThread> wal_;

  // ---- io thread only from here ----
  std::unique_ptr<raft::Raft> core_;
  Phase phase_ = Phase::kIdle;
  bool iteration_scheduled_ = false;
  bool stopped_ = false;  // closing or failed: the loop takes nothing more
  Status fatal_;          // why it failed, if it did
  std::unique_ptr<asio::steady_timer> tick_timer_;
  SteadyClock::time_point next_tick_;
  bool ticked_since_publish_ = false;

  // Inbox: inputs since the last kStep.
  uint64_t ticks_due_ = 0;
  std::vector<std::pair<NodeId, Bytes>> inbox_messages_;
  std::vector<uint64_t> inbox_proposals_;     // held back while the WAL queue is full
  std::vector<raft::Message> held_forwards_;  // followers' kPropose, held back likewise
  std::vector<uint64_t> inbox_reads_;
  std::vector<WalDone> inbox_durable_;
  bool retry_changes_ = false;

  // The WAL pipeline.
  uint64_t next_wal_seq_ = 1;
  uint64_t durable_seq_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> wal_outstanding_;  // (seq, bytes)
  uint64_t wal_outstanding_bytes_ = 0;
  std::deque<AwaitingDurable> awaiting_durable_;
  size_t installs_in_flight_ = 0;

  // Applying.
  std::deque<raft::Entry> to_apply_;
  CommitDecoder decoder_;
  LogIndex applied_;  // the state machine has applied up to here
  bool snapshot_wanted_ = false;
  // The snapshot thread: while it runs (snapshot_running_) or its result waits for WAL room
  // (snapshot_taken_), nothing is applied, so the result is the state as of applied_.
  std::thread snapshot_thread_;
  bool snapshot_running_ = false;
  uint64_t snapshot_generation_ = 0;     // a result of another generation was discarded
  std::optional<Bytes> snapshot_taken_;  // enveloped (payload.h)
  AddressBook book_;
  std::map<NodeId, std::string> transport_peers_;  // what the transport was given
  std::set<NodeId> warned_no_address_;
  bool peers_dirty_ = false;  // the address book changed
  raft::Configuration config_seen_;

  // Pending calls. Op and request ids increase, and each kind has one timeout, so the maps are
  // also in deadline order.
  uint64_t next_op_id_ = 1;
  std::map<uint64_t, ProposalOp> proposals_;
  std::map<raft::ProposalId, uint64_t> op_by_proposal_;
  std::map<uint64_t, ReadOp> reads_;
  std::multimap<LogIndex, uint64_t> reads_by_index_;
  std::vector<LeaderWaiter> leader_waiters_;
  std::map<uint64_t, ChangeOp> changes_;
  std::map<raft::ProposalId, uint64_t> change_by_proposal_;

  // Event state.
  raft::RoleKind last_role_ = raft::RoleKind::kFollower;
  Term last_term_;
  NodeId last_leader_;
  LogIndex last_commit_;
  LogIndex last_apply_event_;

  // Counters (io thread), published with the views.
  uint64_t proposals_committed_ = 0, proposals_failed_ = 0, reads_served_ = 0, reads_failed_ = 0,
           leader_changes_ = 0, snapshots_taken_ = 0, snapshots_installed_ = 0,
           last_snapshot_bytes_ = 0, messages_sent_ = 0, messages_received_ = 0,
           messages_dropped_ = 0;

  // Published views.
  std::atomic<bool> is_leader_{false};
  std::atomic<uint64_t> leader_{0};
  mutable std::mutex publish_mu_;
  NodeMetrics published_;                  // guarded by publish_mu_
  raft::Configuration published_members_;  // guarded by publish_mu_
  AddressBook published_book_;             // guarded by publish_mu_
};

}  // namespace chorus::node::detail
