#include "chorus/server/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>

#include "chorus/kv/command_table.h"
#include "chorus/kv/proposal.h"
#include "chorus/server/admin_http.h"
#include "chorus/server/resp_client.h"
#include "chorus/server/session.h"

namespace chorus::server {
namespace {

using resp::Value;

constexpr auto kExpiryInterval = std::chrono::milliseconds(100);
constexpr size_t kExpiryBatchKeys = 256;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr const char* kJoinedPeersFile = "joined-peers.json";
constexpr uint64_t kCommandOverheadBytes = 1u << 20;

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Value write_error(const Status& s) {
  switch (s.code()) {
    case StatusCode::kTimeout:
    case StatusCode::kFailed:
      return Value::error("TIMEOUT the write may or may not have been applied: " + s.message());
    case StatusCode::kTooLarge:
      return Value::error("ERR command too large for one log entry: " + s.message());
    default:
      return Value::error("CLUSTERDOWN the write was not applied: " + s.message());
  }
}

Value read_error(const Status& s) {
  return Value::error("CLUSTERDOWN the read could not be served linearizably: " + s.message());
}

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      acceptor_(io_),
      expiry_timer_(io_),
      started_(std::chrono::steady_clock::now()) {}

Server::~Server() { stop(); }

int64_t Server::now_ms() const { return now_us() / 1000; }

int64_t Server::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Server::password_matches(std::string_view given) const {
  const std::string& want = options_.requirepass;
  // Constant time in the password's content (not its length).
  unsigned char diff = given.size() == want.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ want[i % std::max<size_t>(want.size(), 1)]);
  }
  return diff == 0;
}

uint16_t Server::peer_port() const { return transport_ ? transport_->local_port() : 0; }

Status Server::start_transport() {
  net::TlsTransportOptions t;
  t.self = options_.id;
  t.cluster_name = options_.cluster_name;
  t.listen_address = options_.peer_address;
  CHORUS_ASSIGN_OR_RETURN(t.ca_pem, read_file(options_.tls_ca_file));
  CHORUS_ASSIGN_OR_RETURN(t.cert_pem, read_file(options_.tls_cert_file));
  CHORUS_ASSIGN_OR_RETURN(t.key_pem, read_file(options_.tls_key_file));
  t.log = [](std::string_view line) { spdlog::info("peers: {}", line); };
  t.max_frame_payload_bytes =
      static_cast<uint32_t>(options_.proto_max_bulk_len + 2 * kCommandOverheadBytes);
  t.queue.max_bytes = std::max<uint64_t>(t.queue.max_bytes, 2ull * t.max_frame_payload_bytes);
  CHORUS_ASSIGN_OR_RETURN(transport_, net::TlsTransport::create(io_, std::move(t)));
  return Status::Ok();
}

Status Server::start() {
  CHORUS_TRY(options_.validate());
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return Status::IoError("cannot create " + options_.data_dir + ": " + ec.message());
  CHORUS_TRY(start_transport());

  std::map<NodeId, std::string> peers = options_.peers;
  const bool joining = peers.empty();
  if (joining) CHORUS_TRY(join_cluster(peers));

  node::NodeOptions o;
  o.id = options_.id;
  if (!joining) {
    for (const auto& [id, address] : peers) o.voters.insert(id);
  }
  o.peers = peers;
  o.tick_interval = std::chrono::milliseconds(options_.tick_ms);
  o.election_ticks = options_.election_ticks;
  o.heartbeat_ticks = options_.heartbeat_ticks;
  o.lease_reads = options_.lease_reads;
  o.snapshot_threshold_entries = options_.snapshot_threshold;
  o.proposal_timeout = std::chrono::milliseconds(options_.proposal_timeout_ms);
  // The largest command is a bulk string of proto_max_bulk_len plus its key and framing: one log
  // entry, one frame on the wire.
  o.max_batch_bytes = options_.proto_max_bulk_len + kCommandOverheadBytes;
  o.storage.max_entry_bytes = static_cast<uint32_t>(o.max_batch_bytes + kCommandOverheadBytes);
  o.read_timeout = std::chrono::milliseconds(options_.proposal_timeout_ms);
  o.random_seed = static_cast<uint64_t>(now_us());

  kv::StoreOptions so;
  so.history_per_key = options_.history_per_key;
  machine_ = std::make_unique<KvMachine>(so);
  machine_->on_events(
      [this](const std::vector<kv::Event>& events) { pubsub_.publish_keyspace(events); });
  node_ = std::make_unique<node::RaftNode>(o, io_, FileSystem::posix(), options_.data_dir + "/raft",
                                           *transport_, machine_.get());
  node_->on_change([](raft::RoleKind role, Term term, NodeId leader) {
    spdlog::info("raft: {} in term {}, leader {}", raft::role_name(role), term.value(),
                 leader.value());
  });
  node_->on_warn([](const Status& s) { spdlog::warn("raft: {}", s.ToString()); });
  node_->on_error([this](const Status& s) {
    // DESIGN.md: a storage failure (fsync, ENOSPC, corruption) stops the node for good; the
    // process exits so that a supervisor sees it (restarted, it recovers from its synced state).
    spdlog::critical("raft: stopped on a fatal error: {}; exiting", s.ToString());
    failed_ = true;
    ::kill(::getpid(), SIGTERM);
  });
  CHORUS_TRY(start_clients());
  CHORUS_TRY(node_->open());
  started_ok_ = true;
  asio::post(io_, [this] { schedule_expiry(); });
  if (!options_.admin_address.empty()) {
    admin_ = std::make_unique<AdminHttp>(*this);
    CHORUS_TRY(admin_->start(options_.admin_address));
  }
  if (!join_via_.empty()) promoter_ = std::thread([this] { promote_after_join(); });
  spdlog::info("chorusd node {} serving clients on {}, peers on port {}{}", options_.id.value(),
               options_.client_address, peer_port(),
               admin_ ? ", admin on port " + std::to_string(admin_port()) : "");
  return Status::Ok();
}

uint16_t Server::admin_port() const { return admin_ ? admin_->port() : 0; }

// A node that joins asks a running member (the leader) to add it as a learner; the answer names
// every member's peer address, which this node needs before it can answer them. The addresses
// are kept, so a restart does not join again.
Status Server::join_cluster(std::map<NodeId, std::string>& peers) {
  const std::string saved = options_.data_dir + "/" + kJoinedPeersFile;
  if (auto text = read_file(saved); text.ok()) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::Corruption(saved + " is not JSON");
    for (auto& [id, address] : j.items()) peers[NodeId(std::stoull(id))] = address;
    spdlog::info("join: already a member (peers from {})", saved);
    return Status::Ok();
  }
  Status last = Status::Unavailable("no --join address answered");
  for (const std::string& member : options_.join) {
    auto reply = resp_call(
        member, {"CHORUS", "JOIN", std::to_string(options_.id.value()), options_.peer_address},
        std::chrono::milliseconds(options_.proposal_timeout_ms + 2000));
    if (!reply.ok()) {
      last = reply.status();
      continue;
    }
    if (reply->is_error()) {
      last = Status::Unavailable(member + ": " + reply->str);
      continue;
    }
    auto j = nlohmann::json::parse(reply->str, nullptr, false);
    if (j.is_discarded() || !j.contains("peers")) {
      return Status::Corruption("unexpected JOIN reply from " + member);
    }
    nlohmann::json keep = nlohmann::json::object();
    for (auto& [id, address] : j["peers"].items()) {
      peers[NodeId(std::stoull(id))] = address.get<std::string>();
      keep[id] = address;
    }
    std::string tmp = saved + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << keep.dump();
      out.flush();
      if (!out) return Status::IoError("cannot write " + tmp);
    }
    std::filesystem::rename(tmp, saved);
    join_via_ = member;
    spdlog::info("join: added as a learner through {}", member);
    return Status::Ok();
  }
  return last;
}

// A learner becomes a voter once it has caught up (the leader waits for that, within its
// proposal timeout). Asked of the member we joined through first, then of every --join address
// (leadership may have moved, or that member been removed), until this node is a voter.
void Server::promote_after_join() {
  std::vector<std::string> members = {join_via_};
  for (const std::string& m : options_.join) {
    if (m != join_via_) members.push_back(m);
  }
  for (size_t attempt = 0; !stopped_; ++attempt) {
    if (node_->members().is_voter(options_.id)) {
      spdlog::info("join: a voter now");
      return;
    }
    const std::string& member = members[attempt % members.size()];
    auto reply = resp_call(member, {"CHORUS", "PROMOTE", std::to_string(options_.id.value())},
                           std::chrono::milliseconds(options_.proposal_timeout_ms + 2000));
    if (reply.ok() && !reply->is_error()) continue;  // committed: seen as a voter next round
    if (attempt % members.size() == members.size() - 1) {
      spdlog::warn("join: promote not done yet ({}); retrying",
                   reply.ok() ? reply->str : reply.status().ToString());
    }
    for (int i = 0; i < 5 && !stopped_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

Status Server::start_clients() {
  if (options_.client_tls) {
    // The node's own certificate; clients verify it against the cluster CA (redis-cli --tls
    // --cacert ca.crt). Client certificates are not asked for: clients authenticate with AUTH.
    client_tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    client_tls_->set_options(asio::ssl::context::default_workarounds |
                             asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    asio::error_code ec;
    client_tls_->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (!ec) client_tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, ec);
    if (ec)
      return Status::InvalidArgument("client TLS: cannot load certificate/key: " + ec.message());
  }
  CHORUS_ASSIGN_OR_RETURN(auto hp, split_host_port(options_.client_address));
  asio::error_code ec;
  auto address = asio::ip::make_address(hp.first, ec);
  if (ec) return Status::InvalidArgument("bad client address " + options_.client_address);
  asio::ip::tcp::endpoint ep(address, hp.second);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("cannot listen for clients on " + options_.client_address + ": " +
                           ec.message());
  }
  client_port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return Status::Ok();
}

asio::awaitable<void> Server::accept_loop() {
  while (acceptor_.is_open()) {
    auto accept = acceptor_.async_accept(kTuple);
    auto [ec, socket] = co_await std::move(accept);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      continue;  // e.g. EMFILE: the client is dropped, the server goes on
    }
    ++stats_.connections_received;
    if (sessions_.size() >= options_.max_clients) {
      ++stats_.connections_rejected;
      static const std::string kFull = "-ERR max number of clients reached\r\n";
      asio::error_code wec;
      socket.write_some(asio::buffer(kFull), wec);
      continue;
    }
    const uint64_t id = next_session_id_++;
    auto session = std::make_shared<Session>(*this, std::move(socket), client_tls_.get(), id);
    sessions_.emplace(id, session);
    session->start();
  }
}

void Server::on_session_closed(uint64_t id) {
  // Deferred: the session may be deep inside its own call stack.
  asio::post(io_, [this, id] { sessions_.erase(id); });
}

void Server::for_each_session(const std::function<void(const Session&)>& f) const {
  for (const auto& [id, s] : sessions_) f(*s);
}

bool Server::kill_session(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  it->second->close();
  return true;
}

std::optional<Value> Server::refuse_write(const std::vector<std::string>& argv) {
  if (options_.maxmemory == 0 || store().memory_bytes() <= options_.maxmemory) return std::nullopt;
  // Commands that may grow memory carry Redis' denyoom flag; the others (DEL, EXPIRE, ...) stay
  // allowed, so a full server can be emptied.
  const kv::CommandSpec* spec = kv::find_command(argv[0]);
  if (spec == nullptr || (spec->flags & kv::kFlagDenyOom) == 0) return std::nullopt;
  ++stats_.oom_refusals;
  return Value::error("OOM command not allowed when used memory > 'maxmemory'.");
}

// Active expiry (Redis' expire cycle, decided by the leader): the leader proposes the deletion of
// keys whose time has passed; every node deletes them when it applies that entry, so all agree.
// Reads never return an expired key in the meantime (the store hides them).
void Server::schedule_expiry() {
  if (stopped_) return;
  expiry_timer_.expires_after(kExpiryInterval);
  expiry_timer_.async_wait([this](asio::error_code ec) {
    if (ec || stopped_) return;
    log_snapshots();
    if (node_->is_leader() && !expiry_in_flight_) {
      std::vector<std::string> keys = store().expired_keys(now_ms(), kExpiryBatchKeys);
      if (!keys.empty()) {
        kv::Proposal p = kv::expire_proposal(std::move(keys), now_ms());
        expiry_in_flight_ = true;
        ++stats_.expiry_proposals;
        node_->async_append(kv::encode(p),
                            [this](node::AppendResult) { expiry_in_flight_ = false; });
      }
    }
    schedule_expiry();
  });
}

// One log line per snapshot taken or installed (the node reports them as counters).
void Server::log_snapshots() {
  const node::NodeMetrics m = node_->metrics();
  if (m.snapshots_taken != snapshots_taken_seen_) {
    snapshots_taken_seen_ = m.snapshots_taken;
    spdlog::info("raft: snapshot taken at index {} ({} bytes)", m.snapshot_index.value(),
                 m.last_snapshot_bytes);
  }
  if (m.snapshots_installed != snapshots_installed_seen_) {
    snapshots_installed_seen_ = m.snapshots_installed;
    spdlog::info("raft: snapshot installed from the leader at index {} ({} bytes)",
                 m.snapshot_index.value(), m.last_snapshot_bytes);
  }
}

void Server::membership(const std::string& op, NodeId id, std::string address,
                        std::function<void(Value)> done) {
  auto finish = [this, op, id, done = std::move(done)](node::ChangeResult r) {
    if (!r.status.ok()) {
      const NodeId leader = node_->leader_id();
      std::string hint = leader == raft::kNoNode
                             ? "no leader known"
                             : "leader is node " + std::to_string(leader.value());
      const char* code = r.status.code() == StatusCode::kNotLeader ? "NOTLEADER" : "ERR";
      return done(Value::error(std::string(code) + " " + op + " " + std::to_string(id.value()) +
                               " failed: " + r.status.message() + " (" + hint + ")"));
    }
    spdlog::info("membership: {} node {} committed at {}", op, id.value(), r.sequence.value());
    if (op != "join") return done(Value::ok());
    nlohmann::json j;
    j["leader"] = options_.id.value();
    j["peers"] = nlohmann::json::object();
    for (const auto& [pid, paddr] : node_->peer_addresses())
      j["peers"][std::to_string(pid.value())] = paddr;
    j["peers"][std::to_string(options_.id.value())] = options_.peer_address;
    done(Value::bulk(j.dump()));
  };
  if (op == "add" || op == "join") {
    node_->async_add_learner(id, std::move(address), std::move(finish));
  } else if (op == "promote") {
    node_->async_promote(id, std::move(finish));
  } else if (op == "remove") {
    node_->async_remove(id, std::move(finish));
  } else {
    node_->async_transfer_leadership(id, std::move(finish));
  }
}

std::optional<std::string> Server::on_io(std::function<std::string()> f,
                                         std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<std::string>>();
  auto future = promise->get_future();
  asio::post(io_, [promise, f = std::move(f)] { promise->set_value(f()); });
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

void Server::log_info(const std::string& line) const { spdlog::info("{}", line); }
void Server::log_warn(const std::string& line) const { spdlog::warn("{}", line); }

void Server::stop() {
  if (stopped_.exchange(true)) return;
  if (admin_) admin_->stop();
  if (promoter_.joinable()) promoter_.join();
  if (!node_) return;
  if (started_ok_) {
    // Clients first, on the io thread: then the node drains and stops it.
    on_io(
        [this] {
          asio::error_code ec;
          acceptor_.close(ec);
          expiry_timer_.cancel();
          auto sessions = sessions_;
          for (auto& [id, s] : sessions) s->close();
          return std::string();
        },
        std::chrono::seconds(5));
  }
  node_->close();
  sessions_.clear();
  spdlog::info("chorusd node {} stopped", options_.id.value());
}

}  // namespace chorus::server
