// Calls: appends, batches, transactions, reads, membership, transfers, leader waits -- from their
// start on any thread to their one completion on the io thread (raft_node.h "Failure
// semantics" says which status means what).
#include <asio/post.hpp>

#include <sstream>

#include "chorus/node/node_impl.h"

namespace chorus::node::detail {
namespace {

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

void complete_proposal(std::variant<Completion<AppendResult>, Completion<BatchResult>>& done,
                       Status status, LogIndex first, std::vector<Bytes> results) {
  std::visit(Overloaded{[&](Completion<AppendResult>& c) {
                          Bytes result = results.empty() ? Bytes{} : std::move(results.front());
                          c.complete({std::move(status), first, std::move(result)});
                        },
                        [&](Completion<BatchResult>& c) {
                          c.complete({std::move(status), first, std::move(results)});
                        }},
             done);
}

// Refusals of a membership change that time cures: a change in flight, a learner catching up,
// a leader whose no-op has not committed yet (membership.cc).
bool retryable(const Status& s) {
  return s.code() == StatusCode::kBusy || s.code() == StatusCode::kUnavailable;
}

bool indefinite(const Status& s) {
  return s.code() == StatusCode::kTimeout || s.code() == StatusCode::kFailed;
}

Status not_leader(NodeId leader) {
  std::ostringstream out;
  out << "not the leader (leader: ";
  if (leader == raft::kNoNode) {
    out << "none known)";
  } else {
    out << "node " << leader << ")";
  }
  return Status(StatusCode::kNotLeader, out.str());
}

SteadyClock::time_point deadline_after(std::chrono::milliseconds timeout) {
  if (timeout.count() == 0) return SteadyClock::time_point::max();
  return SteadyClock::now() + timeout;
}

}  // namespace

// ---- Starting a call (any thread) ------------------------------------------------------------

// Calls are posted under state_mu_ and only while open, so close() -- which posts its shutdown
// under the same mutex -- knows every call posted before it is answered by that shutdown.
bool NodeImpl::lock_if_open(std::unique_lock<std::mutex>& lock, Status& why) const {
  lock = std::unique_lock(state_mu_);
  if (state_ == State::kOpen) return true;
  why = Status::Unavailable(state_ == State::kCreated ? "the node is not open"
                                                      : "the node is closed");
  lock.unlock();
  return false;
}

void NodeImpl::start_await_leader(std::chrono::milliseconds timeout,
                                  Completion<LeaderResult> done) {
  std::unique_lock<std::mutex> lock;
  Status why;
  if (!lock_if_open(lock, why)) return done.complete({std::move(why), {}, {}});
  asio::post(io_, [self = shared_from_this(), timeout, d = std::move(done)]() mutable {
    self->accept_await_leader(timeout, std::move(d));
  });
}

void NodeImpl::start_proposal(
    std::vector<Bytes> commands, bool txn,
    std::variant<Completion<AppendResult>, Completion<BatchResult>> done) {
  std::unique_lock<std::mutex> lock;
  Status why;
  if (!lock_if_open(lock, why)) return complete_proposal(done, std::move(why), LogIndex(0), {});
  asio::post(io_, [self = shared_from_this(), c = std::move(commands), txn,
                   d = std::move(done)]() mutable {
    self->accept_proposal(std::move(c), txn, std::move(d));
  });
}

void NodeImpl::start_read(Bytes command, Completion<ReadResult> done) {
  std::unique_lock<std::mutex> lock;
  Status why;
  if (!lock_if_open(lock, why)) return done.complete({std::move(why), {}, {}});
  asio::post(io_,
             [self = shared_from_this(), c = std::move(command), d = std::move(done)]() mutable {
               self->accept_read(std::move(c), std::move(d));
             });
}

void NodeImpl::start_add_learner(NodeId node, std::string address, Completion<ChangeResult> done) {
  ChangeOp op;
  op.stage = ChangeOp::Stage::kAddress;
  op.change.type = raft::MembershipChangeType::kAddLearner;
  op.change.node = node;
  if (auto g = options_.groups.find(node); g != options_.groups.end()) op.change.group = g->second;
  op.address = std::move(address);
  op.done = std::move(done);
  start_change(std::move(op));
}

void NodeImpl::start_membership(raft::MembershipChangeType type, NodeId node,
                                Completion<ChangeResult> done) {
  ChangeOp op;
  op.stage = ChangeOp::Stage::kPropose;
  op.change.type = type;
  op.change.node = node;
  op.done = std::move(done);
  start_change(std::move(op));
}

void NodeImpl::start_transfer(NodeId node, Completion<ChangeResult> done) {
  ChangeOp op;
  op.stage = ChangeOp::Stage::kTransferStart;
  op.transfer_to = node;
  op.done = std::move(done);
  start_change(std::move(op));
}

void NodeImpl::start_change(ChangeOp op) {
  std::unique_lock<std::mutex> lock;
  Status why;
  if (!lock_if_open(lock, why)) return op.done.complete({std::move(why), {}});
  asio::post(io_, [self = shared_from_this(), o = std::move(op)]() mutable {
    self->accept_change(std::move(o));
  });
}

// ---- Accepting a call (io thread) ------------------------------------------------------------

Status NodeImpl::refusal() const {
  if (!fatal_.ok()) return Status::Failed("the node stopped: " + fatal_.ToString());
  return Status::Unavailable("the node is closed");
}

size_t NodeImpl::pending_calls() const {
  return proposals_.size() + reads_.size() + leader_waiters_.size() + changes_.size();
}

Status NodeImpl::busy() const {
  return Status::Busy("too many calls waiting on this node (max_pending_requests)");
}

void NodeImpl::accept_await_leader(std::chrono::milliseconds timeout,
                                   Completion<LeaderResult> done) {
  if (stopped_) return done.complete({refusal(), {}, {}});
  if (core_->leader() != raft::kNoNode) {
    return done.complete({Status::Ok(), core_->leader(), core_->term()});
  }
  if (pending_calls() >= options_.max_pending_requests) return done.complete({busy(), {}, {}});
  leader_waiters_.push_back({std::move(done), deadline_after(timeout)});
}

void NodeImpl::accept_proposal(
    std::vector<Bytes> commands, bool txn,
    std::variant<Completion<AppendResult>, Completion<BatchResult>> done) {
  Status refused;
  if (stopped_) {
    refused = refusal();
  } else if (commands.empty()) {
    refused = Status::InvalidArgument("nothing to append");
  } else if (txn && commands.size() > kMaxTxnEntries) {
    refused = Status::TooLarge("a transaction of more than " + std::to_string(kMaxTxnEntries) +
                               " commands");
  } else if (pending_calls() >= options_.max_pending_requests) {
    refused = busy();
  }
  if (!refused.ok()) return complete_proposal(done, std::move(refused), LogIndex(0), {});
  ProposalOp op;
  op.count = commands.size();
  op.commands = std::move(commands);
  op.txn = txn;
  op.done = std::move(done);
  op.deadline = deadline_after(options_.proposal_timeout);
  const uint64_t id = next_op_id_++;
  proposals_.emplace(id, std::move(op));
  inbox_proposals_.push_back(id);
  schedule();
}

void NodeImpl::request_snapshot() {
  std::unique_lock<std::mutex> lock;
  Status why;
  if (!lock_if_open(lock, why)) return;
  asio::post(io_, [self = shared_from_this()] {
    if (self->stopped_) return;
    self->snapshot_wanted_ = true;  // taken after the next apply (maybe_snapshot)
    self->schedule();
  });
}

void NodeImpl::accept_read(Bytes command, Completion<ReadResult> done) {
  if (stopped_) return done.complete({refusal(), {}, {}});
  if (pending_calls() >= options_.max_pending_requests) return done.complete({busy(), {}, {}});
  const uint64_t id = next_op_id_++;
  reads_.emplace(id, ReadOp{std::move(command), std::move(done),
                            deadline_after(options_.read_timeout), std::nullopt});
  inbox_reads_.push_back(id);
  schedule();
}

void NodeImpl::accept_change(ChangeOp op) {
  if (stopped_) return op.done.complete({refusal(), {}});
  // The core changes membership and transfers leadership only on the leader, and does not
  // forward either (forwarding carries commands only).
  if (!core_->is_leader()) return op.done.complete({not_leader(core_->leader()), {}});
  if (pending_calls() >= options_.max_pending_requests) return op.done.complete({busy(), {}});
  op.deadline = deadline_after(options_.proposal_timeout);
  changes_.emplace(next_op_id_++, std::move(op));
  retry_changes_ = true;
  schedule();
}

// ---- Proposals ---------------------------------------------------------------------------------

void NodeImpl::propose(uint64_t op_id) {
  CHORUS_ASSERT(phase_ == Phase::kStep);
  auto it = proposals_.find(op_id);
  if (it == proposals_.end()) return;  // timed out before the loop got to it
  ProposalOp& op = it->second;
  std::vector<Bytes> framed;
  framed.reserve(op.count);
  for (size_t i = 0; i < op.count; ++i) {
    framed.push_back(op.txn ? frame_txn_member(static_cast<uint32_t>(op.count),
                                               static_cast<uint32_t>(i), op.commands[i])
                            : frame_command(op.commands[i]));
  }
  op.commands = {};
  // A leader appends the batch contiguously; a follower forwards it whole (thesis §6.2).
  Result<raft::ProposalId> first = core_->propose_batch(std::move(framed));
  if (!first.ok()) return finish_proposal(op_id, first.status());  // definite: never got an id
  op.first_id = *first;
  for (size_t i = 0; i < op.count; ++i)
    op_by_proposal_[raft::ProposalId(first->value() + i)] = op_id;
}

void NodeImpl::finish_proposal(uint64_t op_id, Status status) {
  auto it = proposals_.find(op_id);
  if (it == proposals_.end()) return;
  ProposalOp op = std::move(it->second);
  proposals_.erase(it);
  if (op.first_id) {
    for (size_t i = 0; i < op.count; ++i) {
      op_by_proposal_.erase(raft::ProposalId(op.first_id->value() + i));
    }
  }
  if (status.ok()) {
    proposals_committed_ += op.count;
    complete_proposal(op.done, Status::Ok(), op.first, std::move(op.results));
  } else {
    proposals_failed_ += op.count;
    complete_proposal(op.done, std::move(status), LogIndex(0), {});
  }
}

void NodeImpl::on_proposal_result(const raft::ProposalResult& result) {
  CHORUS_ASSERT(phase_ == Phase::kReady);
  // kCommitted is answered when the entry is applied (kApply): raft.h "answer after applying it";
  // a txn member may be held back past this Ready (commit_decoder.h).
  if (result.outcome == raft::ProposalOutcome::kCommitted) return;
  Status why = result.status;
  if (result.outcome == raft::ProposalOutcome::kFailedIndefinite) {
    if (why.code() != StatusCode::kTimeout) why = Status::Timeout(why.ToString());
  } else if (why.ok() || indefinite(why)) {
    why = Status::Aborted("refused: " + why.ToString());  // keep definite failures definite
  }
  if (auto p = op_by_proposal_.find(result.id); p != op_by_proposal_.end()) {
    return finish_proposal(p->second, std::move(why));
  }
  if (auto c = change_by_proposal_.find(result.id); c != change_by_proposal_.end()) {
    // The core can no longer vouch for the change (it lost leadership: e.g. a leader that removed
    // itself steps down when the entry commits, before this node applies it). The entry may
    // still be applied here: that completes the call (on_item_applied), else its deadline does.
    if (result.outcome == raft::ProposalOutcome::kFailedIndefinite) return;
    finish_change(c->second, std::move(why));
  }
}

void NodeImpl::on_item_applied(const ApplyItem& item, Bytes result) {
  CHORUS_ASSERT(phase_ == Phase::kApply);
  if (item.kind == ItemKind::kPeerAddress && item.address_node != options_.id) {
    book_[item.address_node] = item.address;
    peers_dirty_ = true;
  }
  if (item.kind == ItemKind::kMalformed) {
    std::ostringstream out;
    out << "entry " << item.entry.index << " has a payload this node cannot decode (applied as a "
        << "no-op)";
    warn(Status::Corruption(out.str()));
  }
  if (item.origin != options_.id) return;
  if (auto c = change_by_proposal_.find(item.proposal); c != change_by_proposal_.end()) {
    const uint64_t op_id = c->second;
    ChangeOp& op = changes_.at(op_id);
    change_by_proposal_.erase(c);
    if (item.kind == ItemKind::kPeerAddress && op.stage == ChangeOp::Stage::kAddressInFlight) {
      op.stage = ChangeOp::Stage::kPropose;  // every node can reach it now: add it
      retry_changes_ = true;
      schedule();
    } else {
      finish_change(op_id, Status::Ok(), item.entry.index);
    }
    return;
  }
  auto p = op_by_proposal_.find(item.proposal);
  if (p == op_by_proposal_.end()) return;  // proposed before a restart, or already answered
  const uint64_t op_id = p->second;
  if (item.kind == ItemKind::kAbortedTxn) {
    return finish_proposal(op_id, Status::Aborted("the transaction did not commit whole (its "
                                                  "leader changed mid-way); none of it applied"));
  }
  ProposalOp& op = proposals_.at(op_id);
  const size_t pos = item.proposal.value() - op.first_id->value();
  CHORUS_ASSERT(pos < op.count);
  if (op.applied == 0) {
    op.first = item.entry.index - pos;
    op.results.resize(op.count);
  }
  // The core appends a batch contiguously: sequences are first, first + 1, ...
  CHORUS_ASSERT(item.entry.index == op.first + pos, "batch member ", pos, " at ", item.entry.index,
                ", member 0 at ", op.first);
  op.results[pos] = std::move(result);
  if (++op.applied == op.count) finish_proposal(op_id, Status::Ok());
}

// ---- Reads (thesis §6.4)
// -------------------------------------------------------------------------

void NodeImpl::start_read_index(uint64_t request_id) {
  CHORUS_ASSERT(phase_ == Phase::kStep);
  if (!reads_.contains(request_id)) return;
  Status s = core_->read_index(request_id);
  if (!s.ok()) finish_read(request_id, std::move(s));
}

void NodeImpl::on_read_state(const raft::ReadState& rs) {
  CHORUS_ASSERT(phase_ == Phase::kReady);
  auto it = reads_.find(rs.request_id);
  if (it == reads_.end()) return;
  if (!rs.status.ok()) return finish_read(rs.request_id, rs.status);
  it->second.index = rs.index;
  reads_by_index_.emplace(rs.index, rs.request_id);
}

void NodeImpl::serve_reads() {
  CHORUS_ASSERT(phase_ == Phase::kApply);
  // Serve once applied >= index (thesis §6.4 step 4).
  while (!reads_by_index_.empty() && reads_by_index_.begin()->first <= applied_) {
    auto [index, id] = *reads_by_index_.begin();
    reads_by_index_.erase(reads_by_index_.begin());
    auto it = reads_.find(id);
    if (it == reads_.end()) continue;
    ReadOp op = std::move(it->second);
    reads_.erase(it);
    Bytes result = machine_ ? machine_->read(op.command) : Bytes{};
    ++reads_served_;
    op.done.complete({Status::Ok(), index, std::move(result)});
  }
}

void NodeImpl::finish_read(uint64_t request_id, Status status) {
  auto it = reads_.find(request_id);
  if (it == reads_.end()) return;
  ReadOp op = std::move(it->second);
  reads_.erase(it);
  if (op.index) {
    auto [lo, hi] = reads_by_index_.equal_range(*op.index);
    for (auto r = lo; r != hi; ++r) {
      if (r->second == request_id) {
        reads_by_index_.erase(r);
        break;
      }
    }
  }
  ++reads_failed_;
  op.done.complete({std::move(status), {}, {}});
}

// ---- Membership and leadership (thesis §4, §3.10)
// ------------------------------------------------

void NodeImpl::advance_changes() {
  CHORUS_ASSERT(phase_ == Phase::kStep);
  if (!retry_changes_) return;
  retry_changes_ = false;
  for (auto it = changes_.begin(); it != changes_.end();) {
    const uint64_t id = it->first;
    ChangeOp& op = it->second;
    ++it;  // finish_change(id) erases only id
    // A proposal made: wait for it in `next`; refused: retry later if time may cure it.
    auto proposed = [&](const Result<raft::ProposalId>& p, ChangeOp::Stage next) {
      if (p.ok()) {
        op.stage = next;
        change_by_proposal_[*p] = id;
      } else if (retryable(p.status())) {
        op.last_refusal = p.status();
      } else {
        finish_change(id, p.status());
      }
    };
    switch (op.stage) {
      case ChangeOp::Stage::kAddress:
        proposed(core_->propose(frame_peer_address(op.change.node, op.address)),
                 ChangeOp::Stage::kAddressInFlight);
        break;
      case ChangeOp::Stage::kPropose:
        proposed(core_->propose_membership(op.change), ChangeOp::Stage::kInFlight);
        break;
      case ChangeOp::Stage::kTransferStart:
      case ChangeOp::Stage::kTransfer: {
        if (core_->leader() == op.transfer_to) {
          finish_change(id, Status::Ok());
          break;
        }
        if (!core_->is_leader()) break;  // lost it meanwhile: wait to see who leads
        // (Re)start the transfer: the core abandons one after an election timeout.
        if (op.stage == ChangeOp::Stage::kTransfer && core_->status().transferee != raft::kNoNode) {
          break;
        }
        Status s = core_->transfer_leadership(op.transfer_to);
        if (!s.ok()) {
          finish_change(id, std::move(s));
        } else {
          op.stage = ChangeOp::Stage::kTransfer;
        }
        break;
      }
      case ChangeOp::Stage::kAddressInFlight:
      case ChangeOp::Stage::kInFlight:
        break;
    }
  }
}

void NodeImpl::finish_change(uint64_t op_id, Status status, LogIndex sequence) {
  auto it = changes_.find(op_id);
  if (it == changes_.end()) return;
  ChangeOp op = std::move(it->second);
  changes_.erase(it);
  std::erase_if(change_by_proposal_, [&](const auto& kv) { return kv.second == op_id; });
  op.done.complete({std::move(status), sequence});
}

void NodeImpl::notice_leader() {
  const NodeId leader = core_->leader();
  if (leader != raft::kNoNode) {
    std::vector<LeaderWaiter> waiters;
    waiters.swap(leader_waiters_);
    for (LeaderWaiter& w : waiters) w.done.complete({Status::Ok(), leader, core_->term()});
  }
  for (auto it = changes_.begin(); it != changes_.end();) {
    const uint64_t id = it->first;
    const bool done =
        it->second.stage == ChangeOp::Stage::kTransfer && it->second.transfer_to == leader;
    ++it;
    if (done) finish_change(id, Status::Ok());
  }
}

// ---- Timeouts and shutdown ---------------------------------------------------------------------

void NodeImpl::check_deadlines(SteadyClock::time_point now) {
  // Each map is in deadline order (increasing ids, one timeout per kind).
  while (!proposals_.empty() && proposals_.begin()->second.deadline <= now) {
    finish_proposal(proposals_.begin()->first,
                    Status::Timeout("not answered within proposal_timeout; it may still commit"));
  }
  while (!reads_.empty() && reads_.begin()->second.deadline <= now) {
    finish_read(reads_.begin()->first, Status::Timeout("not served within read_timeout"));
  }
  for (size_t i = 0; i < leader_waiters_.size();) {
    if (leader_waiters_[i].deadline > now) {
      ++i;
      continue;
    }
    Completion<LeaderResult> done = std::move(leader_waiters_[i].done);
    leader_waiters_.erase(leader_waiters_.begin() + static_cast<ptrdiff_t>(i));
    done.complete({Status::Timeout("no leader known within the timeout"), {}, {}});
  }
  while (!changes_.empty() && changes_.begin()->second.deadline <= now) {
    const ChangeOp& op = changes_.begin()->second;
    const bool in_log =
        op.stage == ChangeOp::Stage::kInFlight || op.stage == ChangeOp::Stage::kTransfer;
    // A change the leader kept refusing never entered the log: report why (definite).
    Status why = !in_log && !op.last_refusal.ok()
                     ? op.last_refusal
                     : Status::Timeout("not done within proposal_timeout; it may still happen");
    finish_change(changes_.begin()->first, std::move(why));
  }
}

void NodeImpl::fail_all(bool fatal) {
  const Status failed = fatal ? refusal() : Status::Ok();
  auto in_flight = [&] {
    return fatal ? failed
                 : Status::Timeout("the node closed with the call in flight; it may still commit");
  };
  auto not_started = [&] { return fatal ? failed : Status::Unavailable("the node closed"); };
  while (!proposals_.empty()) {
    const bool started = proposals_.begin()->second.first_id.has_value();
    finish_proposal(proposals_.begin()->first, started ? in_flight() : not_started());
  }
  while (!reads_.empty()) finish_read(reads_.begin()->first, not_started());
  std::vector<LeaderWaiter> waiters;
  waiters.swap(leader_waiters_);
  for (LeaderWaiter& w : waiters) w.done.complete({not_started(), {}, {}});
  while (!changes_.empty()) {
    const ChangeOp& op = changes_.begin()->second;
    // Only a proposed change or a started transfer may still happen (a committed address
    // entry is not the change).
    const bool started =
        op.stage == ChangeOp::Stage::kInFlight || op.stage == ChangeOp::Stage::kTransfer;
    finish_change(changes_.begin()->first, started ? in_flight() : not_started());
  }
  inbox_proposals_.clear();
  inbox_reads_.clear();
}

}  // namespace chorus::node::detail
