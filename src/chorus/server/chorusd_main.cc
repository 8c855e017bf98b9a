// chorusd: one node of a chorus cluster. Every option can also come from a config file
// (--config chorusd.toml, TOML or INI: `client-address = "127.0.0.1:7001"`).
//
//   chorusd --id 1 --data-dir data/n1 --client-address 127.0.0.1:7001
//           --peer-address 127.0.0.1:7101 --admin-address 127.0.0.1:7201
//           --peers 1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103
//           --tls-ca data/certs/ca.crt --tls-cert data/certs/node-1.crt
//           --tls-key data/certs/node-1.key
// (scripts/run-cluster.sh starts three.)
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "chorus/server/server.h"

using namespace chorus;

int main(int argc, char** argv) {
  server::ServerOptions o;
  uint64_t id = 0;
  std::string peers;
  std::string join;
  CLI::App app{
      "chorusd: a node of a chorus cluster -- a replicated key-value store that Redis "
      "clients talk to (RESP2/RESP3), with Raft between nodes over mutual TLS."};
  app.set_config("--config", "", "Read options from this TOML/INI file (flags override it)");
  app.add_option("--id", id, "This node's id, a positive integer (must match its certificate)")
      ->required();
  app.add_option("--data-dir", o.data_dir, "Directory for the Raft log, snapshots and state")
      ->required();
  app.add_option("--client-address", o.client_address, "host:port for RESP clients")
      ->capture_default_str();
  app.add_option("--peer-address", o.peer_address,
                 "host:port for Raft peers (mutual TLS); also the address other nodes dial")
      ->capture_default_str();
  app.add_option("--admin-address", o.admin_address,
                 "host:port for admin HTTP (/metrics /health /ready /status); empty: off");
  app.add_option("--cluster-name", o.cluster_name, "Cluster name; peers must agree")
      ->capture_default_str();
  app.add_option("--peers", peers,
                 "Initial voters of a new cluster, this node included: id=host:port,...");
  app.add_option("--join", join,
                 "Join a running cluster through these members' client addresses "
                 "(host:port,...): added as a learner, then promoted to voter");
  app.add_option("--tls-ca", o.tls_ca_file, "Cluster CA certificate (PEM)")->required();
  app.add_option("--tls-cert", o.tls_cert_file, "This node's certificate (PEM)")->required();
  app.add_option("--tls-key", o.tls_key_file, "This node's private key (PEM)")->required();
  app.add_flag("--client-tls", o.client_tls,
               "Serve clients over TLS with this node's certificate (redis-cli --tls --cacert "
               "ca.crt); plaintext otherwise");
  app.add_option("--requirepass", o.requirepass, "Password clients must AUTH with");
  app.add_option("--max-clients", o.max_clients, "Most client connections")->capture_default_str();
  app.add_option("--maxmemory", o.maxmemory,
                 "Keyspace bytes above which writes get -OOM (0: no limit)")
      ->capture_default_str();
  app.add_option("--proto-max-bulk-len", o.proto_max_bulk_len, "Largest bulk string (bytes)")
      ->capture_default_str();
  app.add_option("--proto-max-args", o.proto_max_args, "Most arguments in one command")
      ->capture_default_str();
  app.add_option("--proto-max-inline", o.proto_max_inline, "Longest inline command (bytes)")
      ->capture_default_str();
  app.add_option("--client-output-limit", o.client_output_limit_bytes,
                 "Unsent reply bytes at which a subscriber is disconnected (a normal client is "
                 "throttled at half of it)")
      ->capture_default_str();
  app.add_option("--max-pipeline", o.max_pipeline,
                 "Commands a client may have waiting for replies before reading pauses")
      ->capture_default_str();
  app.add_option("--tick-ms", o.tick_ms, "Raft tick")->capture_default_str();
  app.add_option("--election-ticks", o.election_ticks, "Election timeout in ticks")
      ->capture_default_str();
  app.add_option("--heartbeat-ticks", o.heartbeat_ticks, "Heartbeat interval in ticks")
      ->capture_default_str();
  app.add_option("--snapshot-threshold", o.snapshot_threshold,
                 "Snapshot after this many applied entries")
      ->capture_default_str();
  app.add_option("--proposal-timeout-ms", o.proposal_timeout_ms,
                 "A write not committed after this fails with -TIMEOUT")
      ->capture_default_str();
  app.add_flag("--lease-reads", o.lease_reads,
               "Serve linearizable reads from the leader's lease "
               "(assumes bounded clock drift)");
  app.add_option("--history-per-key", o.history_per_key,
                 "Changes kept per key for HISTORY / GETREV")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  o.id = NodeId(id);
  if (!peers.empty()) {
    auto parsed = server::parse_peers(peers);
    if (!parsed.ok()) {
      std::fprintf(stderr, "chorusd: --peers: %s\n", parsed.status().message().c_str());
      return 2;
    }
    o.peers = *parsed;
  }
  for (size_t pos = 0; pos < join.size();) {
    size_t comma = join.find(',', pos);
    if (comma == std::string::npos) comma = join.size();
    if (comma > pos) o.join.push_back(join.substr(pos, comma - pos));
    pos = comma + 1;
  }
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [node " + std::to_string(id) + "] %^%l%$ %v");

  // Signals are taken by sigwait below, never by a thread in the middle of its work.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::Server server(o);
  if (Status s = server.start(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    server.stop();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("{}: stopping", server.failed() ? "fatal error" : "signal " + std::to_string(sig));
  server.stop();
  return server.failed() ? 1 : 0;
}
