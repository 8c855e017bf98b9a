// chorus::node::RaftNode: an embeddable replicated log -- a Raft node over RaftStorage and a
// Transport, with an optional state machine, forwarding to the leader, and events.
//
//   asio::io_context io;                                 // the node's loop; the node runs it
//   auto transport = network.create(NodeId(1), io);      // or a TlsTransport on the same io
//   RaftNode node(options, io, FileSystem::posix(), "/var/lib/app/raft", *transport, &machine);
//   CHORUS_TRY(node.open());
//   auto leader = node.async_await_leader(5s, asio::use_future).get();
//   AppendResult r = node.async_append(to_bytes("x"), asio::use_future).get();
//   if (r.status.ok()) use(r.sequence, r.result);
//   node.close();
//
// Threads (docs/node.md). open() starts two: the io thread runs `io` -- the Raft core, the
// transport's callbacks, timers, state machine calls, completions and events -- and the WAL thread
// owns the storage (write + fdatasync, group commit). The io_context is dedicated to this node
// (and its transport): nothing else may run it while the node is open.
//
// Completion style: every async_* function takes an asio completion token -- a callback, asio::
// use_future, or asio::use_awaitable -- and completes with exactly one value: a Status-carrying
// struct (events.h) whose `status` says how it went. Errors are values, never exceptions (a
// future never throws; a coroutine never has to catch). A plain callback runs on the io thread
// (or, for a call on a node that is not open, on the calling thread before the call returns); a
// handler with an associated executor (use_awaitable) runs there. Calls may be made from any
// thread, including from a completion.
//
// Failure semantics. A failed `status` means one of two things:
//   DID NOT HAPPEN (definite; safe to retry):
//     kNotLeader    no leader known, or the leader refused a forwarded proposal (it never
//                   entered a log); membership calls on a node that is not the leader
//     kBusy         leadership transfer in progress, too many uncommitted entries, too many
//                   calls waiting on this node
//     kTooLarge     a command over max_batch_bytes
//     kAborted      a transaction that did not commit whole (its leader failed mid-way): none
//                   of its entries reached the state machine, on any node
//     kUnavailable  the node is not open or was closed before the call started; a read that the
//                   leader could not serve
//     kInvalidArgument  a malformed call (empty batch, promoting a voter, ...)
//   MAY HAVE HAPPENED (indefinite: the command may be applied, now or later):
//     kTimeout      proposal_timeout passed; the leader changed after the proposal was appended
//                   or forwarded; the node was closed with the proposal in flight
//     kFailed       the node stopped on a fatal error with the call pending (calls made after
//                   that fail with kFailed without having started)
//   An append_batch that fails may have applied a prefix of its commands; a txn never applies
//   a part. Reads change nothing, so every failed read simply did not return an answer.
//   maybe_happened(status) tells the two apart.
//
// Fatal errors: a failed write or fdatasync of the log, hard state or snapshot, or a state
// machine that cannot restore a snapshot, stops the node for good (DESIGN.md: never retry an
// fsync and ack): it stops answering peers, fails every pending and later call with kFailed,
// acknowledges nothing more, and calls on_error once. close() still works; reopen a new node.
#pragma once

#include <asio/async_result.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chorus/base/file_system.h"
#include "chorus/net/transport.h"
#include "chorus/node/completion.h"
#include "chorus/node/events.h"
#include "chorus/node/node_options.h"
#include "chorus/node/raft_storage.h"
#include "chorus/node/state_machine.h"

namespace chorus::node {

namespace detail {
class NodeImpl;
}  // namespace detail

// True when a failed call may still have taken effect (see "Failure semantics").
inline bool maybe_happened(const Status& s) {
  return s.code() == StatusCode::kTimeout || s.code() == StatusCode::kFailed;
}

class RaftNode;

// A transaction: commands grouped into one proposal batch that commits atomically -- all of them
// at contiguous sequences, or none (kAborted). Built on one thread, then committed once.
class Txn {
 public:
  void append(Bytes command) { commands_.push_back(std::move(command)); }
  size_t size() const { return commands_.size(); }

  // Completes like async_append_batch (void(BatchResult)).
  template <typename Token>
  auto async_commit(Token&& token);

 private:
  friend class RaftNode;
  explicit Txn(RaftNode& node) : node_(&node) {}
  RaftNode* node_;
  std::vector<Bytes> commands_;
};

class RaftNode {
 public:
  // `storage` is already open (RaftStorage::open). The transport must deliver on `io`; the node
  // starts and stops it (a transport serves one node lifetime). `state_machine`, if any, must be
  // empty: the node restores it from the latest snapshot and replays the log after it. All three
  // must outlive the node.
  RaftNode(NodeOptions options, asio::io_context& io, std::unique_ptr<RaftStorage> storage,
           net::Transport& transport, StateMachine* state_machine = nullptr);
  // Opens RaftStorage at `data_dir` on `fs` in open().
  RaftNode(NodeOptions options, asio::io_context& io, FileSystem& fs, std::string data_dir,
           net::Transport& transport, StateMachine* state_machine = nullptr);
  ~RaftNode();  // close()
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  // Loads the durable state (RaftStorage::load), restores the state machine from the latest
  // snapshot, starts the WAL and io threads and the transport. Once.
  [[nodiscard]] Status open();
  // Fails what is pending (see "Failure semantics"), stops the transport and both threads, and
  // closes the storage. Idempotent. Not from the io thread (a completion or event callback).
  void close();

  // Completes (void(LeaderResult)) as soon as a leader is known, or with kTimeout.
  template <typename Token>
  auto async_await_leader(std::chrono::milliseconds timeout, Token&& token) {
    return asio::async_initiate<Token, void(LeaderResult)>(
        [this](auto handler, std::chrono::milliseconds t) {
          start_await_leader(t, Completion<LeaderResult>(std::move(handler)));
        },
        token, timeout);
  }

  // Thread-safe views, refreshed by the io thread after each loop iteration.
  NodeId id() const;
  bool is_leader() const;
  NodeId leader_id() const;  // kNoNode: none known
  raft::Configuration members() const;
  // The peer addresses this node knows (given in NodeOptions::peers or replicated by
  // add_learner), without its own.
  std::map<NodeId, std::string> peer_addresses() const;
  NodeMetrics metrics() const;

  // Appends a command, on any node (a follower forwards it to the leader, thesis §6.2).
  // Completes (void(AppendResult)) once it is committed on a quorum and applied here, with its
  // sequence (log index) and the state machine's result.
  template <typename Token>
  auto async_append(Bytes command, Token&& token) {
    return asio::async_initiate<Token, void(AppendResult)>(
        [this](auto handler, Bytes c) {
          start_append(std::move(c), Completion<AppendResult>(std::move(handler)));
        },
        token, std::move(command));
  }

  // Appends commands as one proposal batch at contiguous sequences (void(BatchResult)). Not
  // atomic: on a leader change a prefix may commit (then the call fails, maybe_happened); use
  // txn() for all-or-nothing.
  template <typename Token>
  auto async_append_batch(std::vector<Bytes> commands, Token&& token) {
    return asio::async_initiate<Token, void(BatchResult)>(
        [this](auto handler, std::vector<Bytes> c) {
          start_batch(std::move(c), /*txn=*/false, Completion<BatchResult>(std::move(handler)));
        },
        token, std::move(commands));
  }

  Txn txn() { return Txn(*this); }

  // Asks for a snapshot of the state machine as of the last applied entry (the log before it is
  // then trimmed), as if snapshot_threshold_entries had been reached. Nothing happens if the
  // node is not open or nothing was applied since the last snapshot.
  void request_snapshot();

  // A linearizable read on any node (thesis §6.4 ReadIndex; a follower asks the leader for the
  // index): served by StateMachine::read(command) once this node applied up to the read index.
  // Completes with void(ReadResult).
  template <typename Token>
  auto async_read(Bytes command, Token&& token) {
    return asio::async_initiate<Token, void(ReadResult)>(
        [this](auto handler, Bytes c) {
          start_read(std::move(c), Completion<ReadResult>(std::move(handler)));
        },
        token, std::move(command));
  }

  // Membership, on the leader (kNotLeader elsewhere), one server at a time (thesis §4.2). Each
  // completes (void(ChangeResult)) when its configuration entry is committed and applied here.
  // A refusal that time cures (a change already in flight, a learner not caught up yet, a
  // leader that has not committed its no-op) is retried until proposal_timeout.
  //
  // add_learner replicates `address` through the log first (every node, including a future
  // leader, can then reach the new node), then adds it as a learner: it receives the log (or a
  // snapshot) but does not vote. Start the new node with empty voters and `peers` naming the
  // current members.
  template <typename Token>
  auto async_add_learner(NodeId node, std::string address, Token&& token) {
    return asio::async_initiate<Token, void(ChangeResult)>(
        [this](auto handler, NodeId n, std::string a) {
          start_add_learner(n, std::move(a), Completion<ChangeResult>(std::move(handler)));
        },
        token, node, std::move(address));
  }
  // Learner -> voter, once its log has caught up with the commit index (thesis §4.2.1).
  template <typename Token>
  auto async_promote(NodeId node, Token&& token) {
    return membership(raft::MembershipChangeType::kPromoteLearner, node,
                      std::forward<Token>(token));
  }
  // Removes a voter or learner. A leader that removes itself steps down once it commits.
  template <typename Token>
  auto async_remove(NodeId node, Token&& token) {
    return membership(raft::MembershipChangeType::kRemove, node, std::forward<Token>(token));
  }
  // Hands leadership to `node` (thesis §3.10): completes when this node sees `node` lead.
  template <typename Token>
  auto async_transfer_leadership(NodeId node, Token&& token) {
    return asio::async_initiate<Token, void(ChangeResult)>(
        [this](auto handler, NodeId n) {
          start_transfer(n, Completion<ChangeResult>(std::move(handler)));
        },
        token, node);
  }

  // Event callbacks (events.h), run on the io thread. Set before open().
  void on_change(std::function<void(raft::RoleKind, Term, NodeId)> f);
  void on_commit(std::function<void(LogIndex)> f);
  void on_apply(std::function<void(LogIndex)> f);
  void on_warn(std::function<void(const Status&)> f);
  void on_error(std::function<void(const Status&)> f);

 private:
  friend class Txn;

  template <typename Token>
  auto membership(raft::MembershipChangeType type, NodeId node, Token&& token) {
    return asio::async_initiate<Token, void(ChangeResult)>(
        [this](auto handler, raft::MembershipChangeType t, NodeId n) {
          start_membership(t, n, Completion<ChangeResult>(std::move(handler)));
        },
        token, type, node);
  }

  void start_await_leader(std::chrono::milliseconds timeout, Completion<LeaderResult> done);
  void start_append(Bytes command, Completion<AppendResult> done);
  void start_batch(std::vector<Bytes> commands, bool txn, Completion<BatchResult> done);
  void start_read(Bytes command, Completion<ReadResult> done);
  void start_add_learner(NodeId node, std::string address, Completion<ChangeResult> done);
  void start_membership(raft::MembershipChangeType type, NodeId node,
                        Completion<ChangeResult> done);
  void start_transfer(NodeId node, Completion<ChangeResult> done);

  std::shared_ptr<detail::NodeImpl> impl_;
};

template <typename Token>
auto Txn::async_commit(Token&& token) {
  return asio::async_initiate<Token, void(BatchResult)>(
      [node = node_](auto handler, std::vector<Bytes> c) {
        node->start_batch(std::move(c), /*txn=*/true, Completion<BatchResult>(std::move(handler)));
      },
      token, std::move(commands_));
}

}  // namespace chorus::node
