// ServerOptions: everything chorusd is told on its command line or in its config file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chorus/base/status.h"
#include "chorus/base/strong_id.h"
#include "chorus/raft/types.h"

namespace chorus::server {

struct ServerOptions {
  NodeId id;
  std::string data_dir;
  std::string client_address = "127.0.0.1:6379";  // RESP clients
  std::string peer_address = "127.0.0.1:7379";    // Raft peers (mutual TLS)
  std::string admin_address;  // HTTP /metrics /health /ready /status; empty: off
  std::string cluster_name = "chorus";

  // The initial voters of a new cluster (every initial member is given the same list, itself
  // included): id -> peer address. Empty for a node that joins a running cluster (`join`).
  std::map<NodeId, std::string> peers;
  // Client addresses of running members: a joining node asks them (the leader, after trying
  // the others) to add it as a learner and then promote it.
  std::vector<std::string> join;

  // Peer mutual TLS: the cluster CA, this node's certificate (naming `id`) and key; PEM files.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Client connections over TLS too (same certificate); off: plaintext clients on loopback.
  bool client_tls = false;

  std::string requirepass;  // AUTH password; empty: no AUTH needed

  // Limits (bad or greedy clients never take the server down).
  size_t max_clients = 10'000;
  size_t proto_max_bulk_len = 64u << 20;
  size_t proto_max_args = 1u << 20;
  size_t proto_max_inline = 64u << 10;
  uint64_t maxmemory = 0;  // bytes of keyspace (estimate); 0: no limit. Over it: -OOM on writes
  // A client whose unsent replies exceed this is disconnected (Redis' client-output-buffer-limit:
  // a subscriber that never reads). A normal client is throttled instead: the server stops
  // reading its requests while its replies wait (max_pipeline commands or this many bytes).
  uint64_t client_output_limit_bytes = 64u << 20;
  size_t max_pipeline = 1024;

  // Raft timing and snapshots (see node/node_options.h).
  uint32_t tick_ms = 10;
  uint32_t election_ticks = 30;
  uint32_t heartbeat_ticks = 3;
  uint64_t snapshot_threshold = 100'000;
  uint32_t proposal_timeout_ms = 10'000;
  bool lease_reads = false;

  // State machine history retention (HISTORY / GETREV).
  size_t history_per_key = 8;

  std::string log_level = "info";

  [[nodiscard]] Status validate() const;
};

// "1=127.0.0.1:7101,2=127.0.0.1:7102" -> {1: ..., 2: ...}.
Result<std::map<NodeId, std::string>> parse_peers(const std::string& list);
// "host:port" -> (host, port); kInvalidArgument if malformed.
Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address);

}  // namespace chorus::server
