// RaftNode: the public face; everything happens in detail::NodeImpl (node_impl.h).
#include "chorus/node/raft_node.h"

#include "chorus/node/node_impl.h"

namespace chorus::node {

RaftNode::RaftNode(NodeOptions options, asio::io_context& io, std::unique_ptr<RaftStorage> storage,
                   net::Transport& transport, StateMachine* state_machine)
    : impl_(std::make_shared<detail::NodeImpl>(std::move(options), io, std::move(storage), nullptr,
                                               std::string(), transport, state_machine)) {}

RaftNode::RaftNode(NodeOptions options, asio::io_context& io, FileSystem& fs, std::string data_dir,
                   net::Transport& transport, StateMachine* state_machine)
    : impl_(std::make_shared<detail::NodeImpl>(std::move(options), io, nullptr, &fs,
                                               std::move(data_dir), transport, state_machine)) {}

RaftNode::~RaftNode() { close(); }

Status RaftNode::open() { return impl_->open(); }
void RaftNode::close() { impl_->close(); }

NodeId RaftNode::id() const { return impl_->id(); }
bool RaftNode::is_leader() const { return impl_->is_leader(); }
NodeId RaftNode::leader_id() const { return impl_->leader_id(); }
raft::Configuration RaftNode::members() const { return impl_->members(); }
std::map<NodeId, std::string> RaftNode::peer_addresses() const { return impl_->peer_addresses(); }
NodeMetrics RaftNode::metrics() const { return impl_->metrics(); }
void RaftNode::request_snapshot() { impl_->request_snapshot(); }

void RaftNode::on_change(std::function<void(raft::RoleKind, Term, NodeId)> f) {
  impl_->events().on_change = std::move(f);
}
void RaftNode::on_commit(std::function<void(LogIndex)> f) {
  impl_->events().on_commit = std::move(f);
}
void RaftNode::on_apply(std::function<void(LogIndex)> f) {
  impl_->events().on_apply = std::move(f);
}
void RaftNode::on_warn(std::function<void(const Status&)> f) {
  impl_->events().on_warn = std::move(f);
}
void RaftNode::on_error(std::function<void(const Status&)> f) {
  impl_->events().on_error = std::move(f);
}

void RaftNode::start_await_leader(std::chrono::milliseconds timeout,
                                  Completion<LeaderResult> done) {
  impl_->start_await_leader(timeout, std::move(done));
}
void RaftNode::start_append(Bytes command, Completion<AppendResult> done) {
  std::vector<Bytes> commands;
  commands.push_back(std::move(command));
  impl_->start_proposal(std::move(commands), /*txn=*/false, std::move(done));
}
void RaftNode::start_batch(std::vector<Bytes> commands, bool txn, Completion<BatchResult> done) {
  impl_->start_proposal(std::move(commands), txn, std::move(done));
}
void RaftNode::start_read(Bytes command, Completion<ReadResult> done) {
  impl_->start_read(std::move(command), std::move(done));
}
void RaftNode::start_add_learner(NodeId node, std::string address, Completion<ChangeResult> done) {
  impl_->start_add_learner(node, std::move(address), std::move(done));
}
void RaftNode::start_membership(raft::MembershipChangeType type, NodeId node,
                                Completion<ChangeResult> done) {
  impl_->start_membership(type, node, std::move(done));
}
void RaftNode::start_transfer(NodeId node, Completion<ChangeResult> done) {
  impl_->start_transfer(node, std::move(done));
}

}  // namespace chorus::node
