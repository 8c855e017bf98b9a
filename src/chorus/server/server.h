// Server: one chorusd node — a RaftNode with the key-value state machine, its peers over mutual
// TLS, RESP clients, pub/sub, active expiry, and the admin HTTP endpoint.
//
// Threads (DESIGN.md "The driver loop"): the node's io thread runs `io_`, which holds the Raft
// core, the peer transport, every client session, pub/sub and the expiry timer, so none of them
// needs a lock; the node's WAL thread writes and syncs; the admin HTTP server has its own
// thread and asks the io thread for everything it shows.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chorus/net/tls_transport.h"
#include "chorus/node/raft_node.h"
#include "chorus/resp/value.h"
#include "chorus/server/kv_machine.h"
#include "chorus/server/pubsub.h"
#include "chorus/server/server_options.h"
#include "chorus/server/stats.h"

namespace chorus::server {

class AdminHttp;
class Session;

// The Redis version whose commands and replies chorusd follows (HELLO, INFO).
inline constexpr std::string_view kRedisCompatVersion = "7.0.0";
inline constexpr std::string_view kChorusVersion = "0.1.0";

// How a failed node call is told to a client (docs/semantics.md): a definite failure is
// -CLUSTERDOWN (nothing happened, retry), an indefinite one -TIMEOUT (it may have happened).
resp::Value write_error(const Status& s);
resp::Value read_error(const Status& s);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificates, opens the node (restoring the state machine), joins a running
  // cluster if told to, and starts accepting clients and peers.
  [[nodiscard]] Status start();
  // Closes every client, stops the node and the admin endpoint. Idempotent; any thread but io.
  void stop();

  // The node stopped on a fatal storage error (chorusd exits with status 1).
  bool failed() const { return failed_; }
  uint16_t client_port() const { return client_port_; }
  uint16_t peer_port() const;
  uint16_t admin_port() const;

  // -- for sessions (io thread) -------------------------------------------------------------
  const ServerOptions& options() const { return options_; }
  node::RaftNode& node() { return *node_; }
  const kv::Store& store() const { return machine_->store(); }
  PubSub& pubsub() { return pubsub_; }
  ServerStats& stats() { return stats_; }
  int64_t now_ms() const;
  int64_t now_us() const;
  bool password_matches(std::string_view given) const;
  // An error if this write must not be proposed now (over maxmemory), else nullopt.
  std::optional<resp::Value> refuse_write(const std::vector<std::string>& argv);
  void on_session_closed(uint64_t id);
  void for_each_session(const std::function<void(const Session&)>& f) const;
  bool kill_session(uint64_t id);
  std::vector<std::pair<std::string, std::string>> config_items() const;
  [[nodiscard]] Status config_set(const std::string& key, const std::string& value);
  std::string info(const std::vector<std::string>& sections) const;
  std::string status_json() const;
  std::string metrics_text() const;
  resp::Value command_table(const std::vector<std::string>& names) const;
  resp::Value command_docs(const std::vector<std::string>& names) const;
  resp::Value command_names() const;
  size_t command_count() const;
  // CHORUS ADD/JOIN/PROMOTE/REMOVE/TRANSFER; `done` gets the reply.
  void membership(const std::string& op, NodeId id, std::string address,
                  std::function<void(resp::Value)> done);
  void log_info(const std::string& line) const;
  void log_warn(const std::string& line) const;

  // Runs `f` on the io thread and returns its result, or nullopt if the io thread did not answer
  // within `timeout` (the admin endpoint must not hang with a stuck node).
  std::optional<std::string> on_io(std::function<std::string()> f,
                                   std::chrono::milliseconds timeout);

 private:
  [[nodiscard]] Status start_transport();
  [[nodiscard]] Status join_cluster(std::map<NodeId, std::string>& peers);
  void promote_after_join();
  [[nodiscard]] Status start_clients();
  asio::awaitable<void> accept_loop();
  void schedule_expiry();
  void log_snapshots();

  ServerOptions options_;
  asio::io_context io_;
  std::unique_ptr<net::TlsTransport> transport_;
  std::unique_ptr<KvMachine> machine_;
  std::unique_ptr<node::RaftNode> node_;
  asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<asio::ssl::context> client_tls_;  // --client-tls
  asio::steady_timer expiry_timer_;
  bool expiry_in_flight_ = false;
  uint64_t snapshots_taken_seen_ = 0;
  uint64_t snapshots_installed_seen_ = 0;
  uint16_t client_port_ = 0;
  std::string join_via_;  // the member that accepted our JOIN (to ask it to promote us)
  PubSub pubsub_;
  ServerStats stats_;
  uint64_t next_session_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Session>> sessions_;
  std::unique_ptr<AdminHttp> admin_;
  std::thread promoter_;
  const std::chrono::steady_clock::time_point started_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> failed_{false};
  bool started_ok_ = false;
};

}  // namespace chorus::server
