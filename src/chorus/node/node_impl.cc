// NodeImpl: lifecycle (open, close), the published views, snapshots restored, transport peers.
#include "chorus/node/node_impl.h"

#include "chorus/raft/codec.h"

#include <asio/post.hpp>

#include <future>
#include <sstream>

namespace chorus::node::detail {
namespace {

constexpr auto kCloseDrain = std::chrono::seconds(2);

}  // namespace

NodeImpl::NodeImpl(NodeOptions options, asio::io_context& io, std::unique_ptr<RaftStorage> storage,
                   FileSystem* fs, std::string dir, net::Transport& transport,
                   StateMachine* machine)
    : options_(std::move(options)),
      io_(io),
      storage_(std::move(storage)),
      fs_(fs),
      dir_(std::move(dir)),
      transport_(transport),
      machine_(machine) {
  CHORUS_ASSERT(storage_ != nullptr || fs_ != nullptr, "a RaftNode needs storage or a data dir");
  published_.id = options_.id;
}

NodeImpl::~NodeImpl() {
  std::lock_guard lock(state_mu_);
  CHORUS_ASSERT(state_ == State::kCreated || state_ == State::kClosed,
                "a RaftNode destroyed while open: call close() first");
}

Status NodeImpl::open() {
  {
    std::lock_guard lock(state_mu_);
    if (state_ != State::kCreated) return Status::InvalidArgument("open() may be called once");
  }
  CHORUS_TRY(options_.validate());
  if (!storage_) {
    CHORUS_ASSIGN_OR_RETURN(storage_, RaftStorage::open(*fs_, dir_, options_.storage));
  }
  CHORUS_ASSIGN_OR_RETURN(raft::Bootstrap boot, storage_->load());
  for (const auto& [id, address] : options_.peers) {
    if (id != options_.id) book_[id] = address;
  }
  if (boot.snapshot.index.value() > 0) {
    // DESIGN.md: a restarted node rebuilds from the latest snapshot plus the log; the core
    // re-delivers the committed entries after the snapshot.
    CHORUS_ASSIGN_OR_RETURN(Bytes state, storage_->read_snapshot_state(boot.snapshot));
    Status restored = restore_snapshot(boot.snapshot, state);
    if (!restored.ok()) return restored.Annotate("restoring the snapshot");
  }
  core_ = std::make_unique<raft::Raft>(options_.raft_config(), boot);
  last_role_ = core_->role();
  last_term_ = core_->term();
  last_commit_ = std::max(core_->log().committed(), applied_);
  last_apply_event_ = applied_;

  // Every callback into the node holds a weak pointer: work left on the io_context after close()
  // finds the node gone or stopped and does nothing.
  std::weak_ptr<NodeImpl> weak = weak_from_this();
  asio::io_context& io = io_;
  WalThread::Callbacks callbacks;
  callbacks.on_done = [weak, &io](WalDone done) {
    asio::post(io, [weak, d = std::move(done)]() mutable {
      if (auto self = weak.lock()) self->on_wal_done(std::move(d));
    });
  };
  callbacks.on_error = [weak, &io](Status error) {
    asio::post(io, [weak, error] {
      if (auto self = weak.lock()) self->fail_fatal(error);
    });
  };
  callbacks.send = [&transport = transport_](raft::Message m) {
    NodeId to = m.to;
    transport.send(to, raft::encode(m));
  };
  wal_ = std::make_unique<WalThread>(*storage_, std::move(callbacks));
  tick_timer_ = std::make_unique<asio::steady_timer>(io_);
  publish();
  wal_->start();
  if (io_.stopped()) io_.restart();
  work_.emplace(io_.get_executor());
  std::promise<void> io_done;
  io_done_ = io_done.get_future();
  io_thread_ = std::thread([&io, done = std::move(io_done)]() mutable {
    io.run();
    done.set_value();
  });
  transport_.start([weak](NodeId from, Bytes message) {
    if (auto self = weak.lock()) self->receive(from, std::move(message));
  });
  asio::post(io_, [weak] {
    if (auto self = weak.lock()) {
      self->sync_peers();
      self->next_tick_ = SteadyClock::now() + self->options_.tick_interval;
      self->arm_tick();
      self->schedule();
    }
  });
  std::lock_guard lock(state_mu_);
  state_ = State::kOpen;
  return Status::Ok();
}

void NodeImpl::close() {
  {
    std::lock_guard lock(state_mu_);
    if (state_ == State::kCreated) {
      state_ = State::kClosed;
      return;
    }
    if (state_ != State::kOpen) return;
    // From here no call is posted: every one posted before runs before the shutdown below.
    state_ = State::kClosing;
  }
  CHORUS_ASSERT(std::this_thread::get_id() != io_thread_.get_id(),
                "RaftNode::close() called from the io thread (a completion or an event)");
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    shutdown();
    done.set_value();
  });
  done.get_future().wait();
  // A snapshot being taken finishes; its result finds the loop stopped.
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  // Persists what was handed over; its reports find the loop stopped.
  wal_->stop();
  // Let the io_context run out of work: what the transport and the WAL left on it completes
  // (a delivery the transport posted must run to be accounted for). Stop it if something else
  // keeps it busy.
  work_.reset();
  if (io_done_.wait_for(kCloseDrain) != std::future_status::ready) io_.stop();
  io_thread_.join();
  (void)storage_->close();  // everything acknowledged was synced; nothing to report to
  std::lock_guard lock(state_mu_);
  state_ = State::kClosed;
}

void NodeImpl::shutdown() {
  if (!stopped_) {
    stopped_ = true;
    fail_all(/*fatal=*/false);
    transport_.stop();
  }
  tick_timer_.reset();
  publish();
}

void NodeImpl::receive(NodeId from, Bytes message) {
  if (stopped_) return;
  ++messages_received_;
  inbox_messages_.emplace_back(from, std::move(message));
  schedule();
}

void NodeImpl::warn(Status problem) {
  if (events_.on_warn) events_.on_warn(problem);
}

Status NodeImpl::restore_snapshot(const raft::SnapshotMeta& meta, const Bytes& state) {
  CHORUS_ASSERT(state.size() == meta.size_bytes, "snapshot of ", state.size(),
                " bytes, its meta says ", meta.size_bytes);
  CHORUS_ASSIGN_OR_RETURN(SnapshotEnvelope env, decode_snapshot_envelope(state));
  if (machine_) CHORUS_TRY(machine_->restore(env.state_machine));
  for (const auto& [id, address] : env.book) {
    if (id != options_.id) book_[id] = address;
  }
  applied_ = meta.index;
  decoder_.reset();  // a snapshot ends at a txn boundary (commit_decoder.h)
  return Status::Ok();
}

// The transport knows every member of the current configuration (thesis §4.1: it takes effect
// when appended, so a leader reaches a new learner at once), plus, while this node is not in it
// (joining, or removed), the peers it was given.
void NodeImpl::sync_peers() {
  const raft::Configuration& config = core_->configuration();
  std::set<NodeId> want;
  for (NodeId id : config.members()) {
    if (id != options_.id) want.insert(id);
  }
  if (!config.contains(options_.id)) {
    for (const auto& [id, address] : options_.peers) {
      if (id != options_.id) want.insert(id);
    }
  }
  // A leader that is removing itself leads until the change commits (thesis §4.2.2), and the
  // followers' acknowledgements are what commit it: keep answering it.
  if (const NodeId leader = core_->leader(); leader != raft::kNoNode && leader != options_.id) {
    want.insert(leader);
  }
  for (NodeId id : want) {
    auto known = book_.find(id);
    if (known == book_.end()) {
      if (warned_no_address_.insert(id).second) {
        std::ostringstream out;
        out << "no address known for member " << id << "; it is unreachable until one is";
        warn(Status::NotFound(out.str()));
      }
      continue;
    }
    auto given = transport_peers_.find(id);
    if (given != transport_peers_.end() && given->second == known->second) continue;
    transport_.add_peer(id, known->second);
    transport_peers_[id] = known->second;
  }
  for (auto it = transport_peers_.begin(); it != transport_peers_.end();) {
    if (want.contains(it->first)) {
      ++it;
    } else {
      transport_.remove_peer(it->first);
      it = transport_peers_.erase(it);
    }
  }
  config_seen_ = config;
  std::lock_guard lock(publish_mu_);
  published_book_ = book_;
}

void NodeImpl::publish() {
  const raft::RaftLog& log = core_->log();
  is_leader_.store(core_->is_leader(), std::memory_order_release);
  leader_.store(core_->leader().value(), std::memory_order_release);
  std::lock_guard lock(publish_mu_);
  NodeMetrics& m = published_;
  m.role = core_->role();
  m.term = core_->term();
  m.leader = core_->leader();
  m.commit = log.committed();
  m.applied = applied_;
  m.persisted = log.persisted();
  m.last_index = log.last_index();
  m.snapshot_index = log.snapshot_index();
  m.failed = !fatal_.ok();
  m.proposals_committed = proposals_committed_;
  m.proposals_failed = proposals_failed_;
  m.reads_served = reads_served_;
  m.reads_failed = reads_failed_;
  m.leader_changes = leader_changes_;
  m.snapshots_taken = snapshots_taken_;
  m.snapshots_installed = snapshots_installed_;
  m.last_snapshot_bytes = last_snapshot_bytes_;
  m.messages_sent = messages_sent_;  // (+ snapshot chunks, added in metrics())
  m.messages_received = messages_received_;
  m.messages_dropped = messages_dropped_;
  if (core_->configuration() != published_members_) published_members_ = core_->configuration();
  // Per-peer progress costs a status() copy: refreshed once per tick.
  if (ticked_since_publish_ || m.role != raft::RoleKind::kLeader) {
    ticked_since_publish_ = false;
    m.peers.clear();
    if (core_->is_leader()) {
      raft::RaftStatus status = core_->status();
      for (const raft::PeerStatus& p : status.peers) {
        m.peers.push_back({p.id, p.learner, p.match, p.next,
                           status.last_index.value() - std::min(p.match, status.last_index).value(),
                           p.state, p.recent_active});
      }
    }
  }
}

raft::Configuration NodeImpl::members() const {
  std::lock_guard lock(publish_mu_);
  return published_members_;
}

std::map<NodeId, std::string> NodeImpl::peer_addresses() const {
  std::lock_guard lock(publish_mu_);
  return published_book_;
}

NodeMetrics NodeImpl::metrics() const {
  NodeMetrics m;
  {
    std::lock_guard lock(publish_mu_);
    m = published_;
  }
  std::lock_guard lock(state_mu_);
  if (state_ != State::kCreated && wal_) {
    m.fsyncs = wal_->fsyncs();
    m.fsync_latency_us_buckets = wal_->fsync_latency_buckets();
    m.wal_readys = wal_->readys();
    m.wal_entries = wal_->entries();
    m.wal_bytes = wal_->bytes();
    m.messages_sent += wal_->chunks_sent();
  }
  return m;
}

}  // namespace chorus::node::detail
