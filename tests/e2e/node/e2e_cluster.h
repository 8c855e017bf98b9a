// A cluster of chorus-node-proc processes on loopback for the e2e tests: real certificates from
// chorus::net's certs API in a temp dir, real ports, real processes that are killed with SIGKILL
// and restarted on their data dirs. It keeps the history of every append the nodes acknowledged
// (or refused) and checks it against what each node applied.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "chorus/net/certs.h"
#include "e2e/node/node_process.h"
#include "support/temp_dir.h"

namespace chorus::e2e {

// Every append outcome any node printed (acks of streams and single appends alike), recorded by
// the reader threads as the lines arrive -- so what a node acknowledged just before it was
// killed counts too.
class History {
 public:
  void record(const json& line);

  std::map<uint64_t, std::string> acked() const;  // sequence -> payload
  size_t acked_count(const std::string& prefix = "") const;
  uint64_t last_acked() const;
  // Payloads refused definitely (kNotLeader, kBusy, ...): they must never be applied anywhere.
  std::set<std::string> refused() const;
  size_t maybe_count() const;  // kTimeout / kFailed: may or may not be applied
  // Contradictions among the acks themselves: one sequence acked with two payloads, one payload
  // acked at two sequences.
  std::vector<std::string> contradictions() const;

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, std::string> acked_;
  std::map<std::string, uint64_t> acked_payloads_;
  std::set<std::string> refused_;
  size_t maybe_ = 0;
  std::vector<std::string> contradictions_;
};

struct ClusterOptions {
  uint64_t snapshot_threshold = 10'000;
  std::map<uint64_t, std::string> groups;  // non-empty: the replication-group quorum policy
};

class Cluster {
 public:
  explicit Cluster(std::vector<uint64_t> initial, ClusterOptions options = {});
  ~Cluster();  // kills every node still running
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // A certificate and a port for a node that is not an initial member (it joins later).
  void add_node(uint64_t id);
  // Starts (or restarts, on the same data dir and port) a node and waits for it to be ready.
  // An initial member gets the initial voters; any other node starts empty, to be added.
  void start(uint64_t id);
  void start_all();
  void kill9(uint64_t id);
  void stop(uint64_t id);  // a clean quit; expects exit status 0

  bool running(uint64_t id) const;
  std::vector<uint64_t> running_ids() const;
  NodeProcess& node(uint64_t id) { return *procs_.at(id); }
  std::string address(uint64_t id) const;
  uint16_t port(uint64_t id) const { return ports_.at(id); }
  History& history() { return history_; }

  // `status` of a node, or an empty object if it did not answer.
  json status(uint64_t id);
  // Waits until one running node leads and every running node in `among` (all if empty)
  // follows it; 0 (and a failure) if that does not happen in time.
  uint64_t wait_leader(const std::vector<uint64_t>& among = {});
  // Runs a membership command on the current leader, again while it is refused for a reason
  // time cures (leader changed, change in flight, learner not caught up); its final line.
  json on_leader(const std::string& command);
  // Waits until `ids` applied the same entries, everything they know is committed, and at
  // least every acknowledged append.
  bool wait_converged(const std::vector<uint64_t>& ids);
  // Every acknowledged append is on every node in `ids` at its sequence, no definitely refused
  // one is anywhere, no payload twice, the apply contract held, and the nodes' states are equal.
  void check_history(const std::vector<uint64_t>& ids);

  // The tail of each node's stderr, for a failing test.
  std::string logs() const;

 private:
  std::vector<std::string> args(uint64_t id) const;

  test::TempDir dir_;
  ClusterOptions options_;
  std::vector<uint64_t> initial_;
  net::CertKeyPair ca_;
  std::map<uint64_t, uint16_t> ports_;  // every node ever added
  std::map<uint64_t, std::unique_ptr<NodeProcess>> procs_;
  History history_;
};

// A number in a status line (`key`, or `key`.`sub`); 0 when absent (a node that did not answer).
uint64_t field(const json& j, const char* key, const char* sub = nullptr);
// Payloads of the dump of a node, by sequence.
std::map<uint64_t, std::string> entries_of(const json& dump);

}  // namespace chorus::e2e
