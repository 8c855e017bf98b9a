#include "driver.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "chorus/base/rng.h"
#include "chorus/maelstrom/base64.h"
#include "chorus/raft/codec.h"
#include "network.h"
#include "process.h"
#include "support/history_jsonl.h"
#include "support/linearizability.h"

namespace chorus::maelstrom_test {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// A write to a paused node's stdin piles up here; past this the network drops it.
constexpr size_t kMaxPendingWriteBytes = 16 << 20;

struct Client {
  std::string name;  // "c1", ... (Maelstrom's client names)
  int process = 0;   // Jepsen process id: a new one after an indeterminate outcome
  bool busy = false;
  uint64_t msg_id = 0;
  Json invoke;  // the history event of the pending operation
  uint64_t deadline_ms = 0;
  uint64_t next_at_ms = 0;
};

class Run {
 public:
  explicit Run(const DriverOptions& options)
      : opt_(options), rng_(options.seed), net_options_(draw()), net_(net_options_, rng_) {}
  RunSummary run();

 private:
  NetworkOptions draw();
  uint64_t now() const {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count());
  }
  bool start_nodes();
  void pump(uint64_t max_wait_ms);
  void route(int from, const std::string& line);
  void observe_raft(const Json& body);
  void client_step(Client& c, bool issue);
  void complete(Client& c, const Json& body);
  void record(Json event);
  void nemesis_step();
  void start_fault();
  void heal();
  int pick_leader_or_random();
  void fail(const std::string& why) {
    if (summary_.failure.empty()) summary_.failure = why;
  }

  DriverOptions opt_;
  Rng rng_;
  int n_ = 3;
  size_t keys_ = 3;
  uint64_t snapshot_every_ = 1000;
  NetworkOptions net_options_;
  Network net_;
  Clock::time_point start_ = Clock::now();
  std::vector<std::string> names_;
  std::vector<ChildProcess> nodes_;
  std::vector<Client> clients_;
  std::ofstream history_;
  std::map<int64_t, std::deque<int64_t>> recent_values_;  // per key: the last values written
  int64_t next_value_ = 1;
  int init_ok_ = 0;
  uint64_t next_fault_ms_ = 0;
  uint64_t heal_at_ms_ = 0;
  int paused_ = -1;
  uint64_t leader_term_ = 0;
  int leader_ = -1;
  uint64_t healed_at_ms_ = 0;
  uint64_t first_ok_after_heal_ms_ = 0;
  bool faults_on_ = true;
  RunSummary summary_;
};

NetworkOptions Run::draw() {
  n_ = opt_.nodes > 0 ? opt_.nodes : (rng_.chance(1, 2) ? 3 : 5);
  keys_ = rng_.between(2, 5);
  snapshot_every_ = rng_.between(100, 1000);
  NetworkOptions net;
  net.drop_permille = rng_.between(0, 50);
  net.delay_max_ms = rng_.between(1, 15);
  net.long_delay_permille = rng_.between(0, 20);
  return net;
}

void Run::record(Json event) { history_ << event.dump() << "\n"; }

bool Run::start_nodes() {
  for (int i = 0; i < n_; ++i) names_.push_back("n" + std::to_string(i + 1));
  for (int i = 0; i < n_; ++i) {
    // Frequent snapshots, so that lagging nodes catch up by snapshot transfer under faults too.
    const std::vector<std::string> argv = {opt_.bin, "--seed", std::to_string(opt_.seed * 1000 + i),
                                           "--snapshot-every", std::to_string(snapshot_every_)};
    Result<ChildProcess> child = spawn(argv, opt_.dir + "/" + names_[i] + ".log");
    if (!child.ok()) {
      fail("spawn: " + child.status().ToString());
      return false;
    }
    nodes_.push_back(std::move(child).value());
    Json init = {
        {"src", "c0"},
        {"dest", names_[i]},
        {"body", {{"type", "init"}, {"msg_id", 1}, {"node_id", names_[i]}, {"node_ids", names_}}}};
    nodes_.back().to_write += init.dump() + "\n";
  }
  const uint64_t deadline = now() + 5000;
  while (init_ok_ < n_ && now() < deadline && summary_.failure.empty()) pump(10);
  if (init_ok_ < n_) fail("not every node answered init within 5 s");
  return init_ok_ == n_;
}

// One round of the event loop: deliver due messages, read and route what the nodes wrote, and
// write what is queued for them.
void Run::pump(uint64_t max_wait_ms) {
  for (auto& [to, line] : net_.due(now())) {
    ChildProcess& node = nodes_[static_cast<size_t>(to)];
    if (node.to_write.size() > kMaxPendingWriteBytes) {
      ++net_.counters["net_overflow_drop"];
      continue;
    }
    node.to_write += line;
    node.to_write += '\n';
  }
  std::vector<pollfd> fds;
  for (const ChildProcess& node : nodes_) {
    short events = node.stdout_fd >= 0 ? POLLIN : 0;
    fds.push_back({node.stdout_fd, events, 0});
    fds.push_back({node.to_write.empty() ? -1 : node.stdin_fd, POLLOUT, 0});
  }
  const uint64_t due = net_.next_due();
  const uint64_t t = now();
  const uint64_t wait = due <= t ? 0 : std::min(max_wait_ms, due - t);
  if (poll(fds.data(), fds.size(), static_cast<int>(wait)) < 0) return;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    ChildProcess& node = nodes_[i];
    if (fds[2 * i].revents != 0 && node.stdout_fd >= 0) {
      std::vector<std::string> lines;
      const bool open = read_lines(node, lines);
      for (const std::string& line : lines) route(static_cast<int>(i), line);
      if (!open) {
        fail(names_[i] + " closed its stdout (crashed?); see " + names_[i] + ".log");
        node.stdout_fd = -1;
      }
    }
    if (!flush_some(node)) fail(names_[i] + " stopped reading its stdin");
  }
}

void Run::route(int from, const std::string& line) {
  const Json message = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded() || !message.is_object() || !message.contains("dest") ||
      !message["dest"].is_string() || !message.contains("body") || !message["body"].is_object()) {
    fail(names_[from] + " wrote a line that is not a Maelstrom message: " + line.substr(0, 200));
    return;
  }
  const std::string& dest = message["dest"].get_ref<const std::string&>();
  const Json& body = message["body"];
  if (message.value("src", "") != names_[from]) fail(names_[from] + " sent with a wrong src");
  for (int to = 0; to < n_; ++to) {
    if (dest != names_[to]) continue;
    if (body.value("type", "") == "raft") observe_raft(body);
    net_.send(from, to, line, now());
    return;
  }
  if (dest == "c0") {
    if (body.value("type", "") == "init_ok") ++init_ok_;
    return;
  }
  for (Client& c : clients_) {
    if (c.name == dest) return complete(c, body);
  }
  fail(names_[from] + " wrote to unknown destination " + dest);
}

// The nemesis targets the leader: whoever sends appends or heartbeats in the highest term.
void Run::observe_raft(const Json& body) {
  const auto data = body.find("data");
  if (data == body.end() || !data->is_string()) return;
  Result<Bytes> bytes = maelstrom::base64_decode(data->get_ref<const std::string&>());
  if (!bytes.ok()) return fail("a raft message is not base64");
  Result<raft::Message> m = raft::decode(*bytes);
  if (!m.ok()) return fail("a raft message does not decode: " + m.status().ToString());
  if ((m->type == raft::MessageType::kAppend || m->type == raft::MessageType::kHeartbeat) &&
      m->term.value() >= leader_term_) {
    leader_term_ = m->term.value();
    leader_ = static_cast<int>(m->from.value()) - 1;
  }
}

void Run::client_step(Client& c, bool issue) {
  const uint64_t t = now();
  if (c.busy) {
    if (t < c.deadline_ms) return;
    Json event = c.invoke;
    event["type"] = "info";
    event["error"] = "client timeout";
    record(event);
    ++summary_.counters["op_info_" + c.invoke["f"].get<std::string>()];
    c.busy = false;
    c.process += static_cast<int>(clients_.size());  // Jepsen: the process may still be running
    return;
  }
  if (!issue || t < c.next_at_ms) return;
  const int64_t key = static_cast<int64_t>(rng_.uniform(keys_));
  Json body = {{"key", key}, {"msg_id", ++c.msg_id}};
  Json event = {{"process", c.process}, {"type", "invoke"}, {"key", key}};
  switch (rng_.uniform(3)) {
    case 0:
      body["type"] = "read";
      event["f"] = "read";
      event["value"] = nullptr;
      break;
    case 1: {
      const int64_t v = next_value_++;
      body["type"] = "write";
      body["value"] = v;
      event["f"] = "write";
      event["value"] = v;
      recent_values_[key].push_back(v);
      break;
    }
    default: {
      // Mostly a value the key recently held, so that a good share of cas operations succeed.
      const std::deque<int64_t>& recent = recent_values_[key];
      const int64_t from = !recent.empty() && !rng_.chance(1, 5)
                               ? recent[rng_.uniform(recent.size())]
                               : static_cast<int64_t>(rng_.between(1, next_value_));
      const int64_t to = next_value_++;
      body["type"] = "cas";
      body["from"] = from;
      body["to"] = to;
      event["f"] = "cas";
      event["value"] = {from, to};
      recent_values_[key].push_back(to);
      break;
    }
  }
  while (recent_values_[key].size() > 3) recent_values_[key].pop_front();
  const size_t node = rng_.uniform(static_cast<uint64_t>(n_));
  Json message = {{"src", c.name}, {"dest", names_[node]}, {"body", body}};
  nodes_[node].to_write += message.dump() + "\n";
  record(event);
  c.invoke = event;
  c.busy = true;
  c.deadline_ms = t + opt_.client_timeout_ms;
}

// Maelstrom's rule: an error with a definite code did not happen (20/22 on a cas or read are
// no-ops the history parser understands); anything else is indeterminate.
void Run::complete(Client& c, const Json& body) {
  if (!c.busy || body.value("in_reply_to", uint64_t{0}) != c.msg_id) return;  // late reply
  const std::string f = c.invoke["f"].get<std::string>();
  const std::string type = body.value("type", "");
  Json event = c.invoke;
  std::string outcome;
  if (type == f + "_ok") {
    event["type"] = outcome = "ok";
    if (f == "read") event["value"] = body.contains("value") ? body["value"] : Json();
  } else if (type == "error" && body.contains("code") && body["code"].is_number_integer()) {
    const int code = body["code"].get<int>();
    event["error"] = code;
    const bool definite = code != 0 && code != 13 && code < 1000;
    event["type"] = outcome = definite ? "fail" : "info";
    outcome += "_" + std::to_string(code);
  } else {
    fail("unexpected reply to " + f + ": " + body.dump());
    return;
  }
  record(event);
  ++summary_.counters["op_" + outcome + "_" + f];
  if (outcome == "ok" && !faults_on_ && first_ok_after_heal_ms_ == 0) {
    first_ok_after_heal_ms_ = now();
  }
  c.busy = false;
  if (event["type"] == "info") c.process += static_cast<int>(clients_.size());
  c.next_at_ms = now() + rng_.between(0, 20);
}

int Run::pick_leader_or_random() {
  return leader_ >= 0 && rng_.chance(2, 3) ? leader_ : static_cast<int>(rng_.uniform(n_));
}

void Run::start_fault() {
  std::string what;
  switch (rng_.uniform(5)) {
    case 0: {  // two random sides (Maelstrom's partition nemesis: random halves)
      std::vector<bool> side(n_);
      for (int i = 0; i < n_; ++i) side[i] = rng_.chance(1, 2);
      for (int a = 0; a < n_; ++a) {
        for (int b = 0; b < n_; ++b) {
          if (side[a] != side[b]) net_.cut(a, b);
        }
      }
      what = "partition-halves";
      break;
    }
    case 1: {  // one node (usually the leader) alone in the minority
      const int lone = pick_leader_or_random();
      for (int b = 0; b < n_; ++b) {
        if (b != lone) {
          net_.cut(lone, b);
          net_.cut(b, lone);
        }
      }
      what = "isolate-node";
      break;
    }
    case 2: {  // one-way: the node's messages get out, nothing reaches it
      const int deaf = pick_leader_or_random();
      for (int b = 0; b < n_; ++b) {
        if (b != deaf) net_.cut(b, deaf);
      }
      what = "one-way-inbound";
      break;
    }
    case 3: {  // a bridge: two sides that only one node hears both of (Jepsen's bridge)
      const int bridge = pick_leader_or_random();
      for (int a = 0; a < n_; ++a) {
        for (int b = 0; b < n_; ++b) {
          if (a != bridge && b != bridge && (a < bridge) != (b < bridge)) net_.cut(a, b);
        }
      }
      what = "bridge";
      break;
    }
    default: {  // longer than an election timeout: the stale-leader case
      paused_ = pick_leader_or_random();
      kill(nodes_[paused_].pid, SIGSTOP);
      nodes_[paused_].paused = true;
      what = "pause";
      break;
    }
  }
  ++summary_.counters["fault_" + what];
  record({{"process", "nemesis"}, {"type", "info"}, {"f", "start"}, {"value", what}});
  if (opt_.verbose)
    std::fprintf(stderr, "[%6llu] nemesis %s\n", (unsigned long long)now(), what.c_str());
  heal_at_ms_ = now() + rng_.between(400, 3000);
}

void Run::heal() {
  net_.heal();
  if (paused_ >= 0) {
    kill(nodes_[paused_].pid, SIGCONT);
    nodes_[paused_].paused = false;
    paused_ = -1;
  }
  heal_at_ms_ = 0;
  record({{"process", "nemesis"}, {"type", "info"}, {"f", "stop"}, {"value", "heal"}});
}

void Run::nemesis_step() {
  const uint64_t t = now();
  if (heal_at_ms_ != 0 && t >= heal_at_ms_) {
    heal();
    next_fault_ms_ = t + rng_.between(200, 1500);
  }
  if (faults_on_ && heal_at_ms_ == 0 && t >= next_fault_ms_) start_fault();
}

RunSummary Run::run() {
  summary_.dir = opt_.dir;
  summary_.scenario = std::to_string(n_) + " nodes, " + std::to_string(2 * n_) + " clients, " +
                      std::to_string(keys_) + " keys, drop " +
                      std::to_string(net_options_.drop_permille) + "/1000, delay 0-" +
                      std::to_string(net_options_.delay_max_ms) + " ms, long delay " +
                      std::to_string(net_options_.long_delay_permille) + "/1000, snapshot every " +
                      std::to_string(snapshot_every_) + " entries";
  history_.open(opt_.dir + "/history.jsonl");
  for (int i = 0; i < 2 * n_; ++i) {  // Maelstrom's --concurrency 2n
    Client c;
    c.name = "c" + std::to_string(i + 1);
    c.process = i;
    clients_.push_back(std::move(c));
  }
  if (start_nodes()) {
    next_fault_ms_ = now() + rng_.between(500, 1500);
    const uint64_t faults_end = now() + opt_.fault_ms;
    while (summary_.failure.empty() && now() < faults_end) {
      nemesis_step();
      for (Client& c : clients_) client_step(c, true);
      pump(2);
    }
    faults_on_ = false;
    if (heal_at_ms_ != 0 || paused_ >= 0) heal();
    healed_at_ms_ = now();
    const uint64_t recover_end = now() + opt_.recover_ms;
    while (summary_.failure.empty() && now() < recover_end) {
      for (Client& c : clients_) client_step(c, true);
      pump(2);
    }
    // Let the operations in flight finish (or time out) so the history is complete.
    const uint64_t drain_end = now() + opt_.client_timeout_ms + 100;
    auto busy = [&] {
      for (const Client& c : clients_) {
        if (c.busy) return true;
      }
      return false;
    };
    while (summary_.failure.empty() && busy() && now() < drain_end) {
      for (Client& c : clients_) client_step(c, false);
      pump(2);
    }
    if (first_ok_after_heal_ms_ == 0) {
      fail("no operation succeeded within " + std::to_string(opt_.recover_ms) +
           " ms of healing every fault");
    } else {
      summary_.counters["recovery_ms"] = first_ok_after_heal_ms_ - healed_at_ms_;
    }
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const int status = stop(nodes_[i], 2000);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fail(names_[i] + " did not exit cleanly (status " + std::to_string(status) + "); see " +
           names_[i] + ".log");
    }
  }
  history_.close();
  for (const auto& [k, v] : net_.counters) summary_.counters[k] = v;

  std::ifstream in(opt_.dir + "/history.jsonl");
  Result<std::vector<lincheck::Operation>> history = lincheck::parse_history_jsonl(in);
  if (!history.ok()) {
    fail("history does not parse: " + history.status().ToString());
  } else {
    const lincheck::CheckResult result = lincheck::check_linearizable(*history);
    summary_.counters["ops"] = history->size();
    summary_.counters["lincheck_states"] = result.states_explored;
    if (!result.ok()) {
      fail(std::string(lincheck::verdict_name(result.verdict)) + " on key " + result.key + "\n" +
           result.explanation);
    }
  }
  summary_.ok = summary_.failure.empty();
  return summary_;
}

}  // namespace

RunSummary run_once(const DriverOptions& options) {
  Run run(options);
  return run.run();
}

}  // namespace chorus::maelstrom_test
