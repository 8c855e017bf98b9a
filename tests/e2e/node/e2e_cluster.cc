#include "e2e/node/e2e_cluster.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace chorus::e2e {
namespace {

// The node binary: $CHORUS_NODE_PROC (ctest sets it), else the one built with this test.
std::string node_binary() {
  const char* env = std::getenv("CHORUS_NODE_PROC");
  return env != nullptr && *env != '\0' ? env : CHORUS_NODE_PROC_PATH;
}

std::string join_ids(const std::map<uint64_t, std::string>& m, bool with_values) {
  std::string out;
  for (const auto& [id, value] : m) {
    if (!out.empty()) out += ",";
    out += std::to_string(id) + (with_values ? "=" + value : "");
  }
  return out;
}

// Refusals of a membership call that time cures (raft_node.h): try again.
bool retryable(const json& r) {
  std::string code = r.value("code", "");
  return code == "NotLeader" || code == "Busy" || code == "Timeout" || code == "Unavailable";
}

}  // namespace

void History::record(const json& line) {
  std::lock_guard lock(mu_);
  if (line.contains("ack")) {
    uint64_t seq = line["ack"].get<uint64_t>();
    std::string payload = line.value("payload", "");
    auto [it, inserted] = acked_.emplace(seq, payload);
    if (!inserted && it->second != payload) {
      contradictions_.push_back("sequence " + std::to_string(seq) + " acked as " + it->second +
                                " and as " + payload);
    }
    auto [pit, new_payload] = acked_payloads_.emplace(payload, seq);
    if (!new_payload && pit->second != seq) {
      contradictions_.push_back(payload + " acked at " + std::to_string(pit->second) + " and " +
                                std::to_string(seq));
    }
  } else if (line.contains("fail")) {
    if (line.value("maybe", true)) {
      ++maybe_;
    } else {
      refused_.insert(line["fail"].get<std::string>());
    }
  }
}

std::map<uint64_t, std::string> History::acked() const {
  std::lock_guard lock(mu_);
  return acked_;
}

size_t History::acked_count(const std::string& prefix) const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [seq, payload] : acked_) n += payload.starts_with(prefix) ? 1 : 0;
  return n;
}

uint64_t History::last_acked() const {
  std::lock_guard lock(mu_);
  return acked_.empty() ? 0 : acked_.rbegin()->first;
}

std::set<std::string> History::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

size_t History::maybe_count() const {
  std::lock_guard lock(mu_);
  return maybe_;
}

std::vector<std::string> History::contradictions() const {
  std::lock_guard lock(mu_);
  return contradictions_;
}

uint64_t field(const json& j, const char* key, const char* sub) {
  const json* v = &j;
  if (sub != nullptr) {
    if (!j.is_object() || !j.contains(key)) return 0;
    v = &j[key];
    key = sub;
  }
  return v->is_object() && v->contains(key) && (*v)[key].is_number() ? (*v)[key].get<uint64_t>()
                                                                     : 0;
}

std::map<uint64_t, std::string> entries_of(const json& dump) {
  std::map<uint64_t, std::string> out;
  for (const json& e : dump.value("entries", json::array())) {
    out[e.at(0).get<uint64_t>()] = e.at(1).get<std::string>();
  }
  return out;
}

Cluster::Cluster(std::vector<uint64_t> initial, ClusterOptions options)
    : options_(std::move(options)), initial_(std::move(initial)) {
  auto ca = net::generate_ca("chorus e2e CA", 1);
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  if (ca.ok()) ca_ = std::move(*ca);
  std::filesystem::create_directories(dir_.sub("certs"));
  EXPECT_TRUE(net::write_pem_files(dir_.sub("certs"), "ca", ca_).ok());
  for (uint64_t id : initial_) add_node(id);
}

Cluster::~Cluster() {
  for (auto& [id, proc] : procs_) proc->kill9();
  if (::testing::Test::HasFailure()) std::fprintf(stderr, "%s", logs().c_str());
}

void Cluster::add_node(uint64_t id) {
  auto cert = net::issue_node_cert(ca_, NodeId(id), 1);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  Status written = net::write_pem_files(dir_.sub("certs"), "node-" + std::to_string(id), *cert);
  ASSERT_TRUE(written.ok()) << written.ToString();
  ports_[id] = pick_free_port();
}

std::string Cluster::address(uint64_t id) const {
  return "127.0.0.1:" + std::to_string(ports_.at(id));
}

std::vector<std::string> Cluster::args(uint64_t id) const {
  bool initial = std::find(initial_.begin(), initial_.end(), id) != initial_.end();
  // Initial members know each other only: a node added later reaches them through the address
  // its add_learner call put in the log. A joining node is told everyone it may need.
  std::map<uint64_t, std::string> peers, voters;
  for (const auto& [other, port] : ports_) {
    bool other_initial = std::find(initial_.begin(), initial_.end(), other) != initial_.end();
    if (!initial || other_initial) peers[other] = address(other);
  }
  if (initial) {
    for (uint64_t v : initial_) voters[v] = "";
  }
  std::vector<std::string> a;
  auto flag = [&](std::string name, std::string value) {
    a.push_back("--" + std::move(name));
    a.push_back(std::move(value));
  };
  flag("id", std::to_string(id));
  flag("data-dir", dir_.sub("node-" + std::to_string(id)));
  flag("listen", address(id));
  flag("cert-dir", dir_.sub("certs"));
  flag("peers", join_ids(peers, true));
  flag("voters", join_ids(voters, false));
  flag("snapshot-threshold", std::to_string(options_.snapshot_threshold));
  if (!options_.groups.empty()) flag("groups", join_ids(options_.groups, true));
  return a;
}

void Cluster::start(uint64_t id) {
  ASSERT_FALSE(running(id)) << "node " << id << " is running";
  procs_.erase(id);  // the previous life, reaped
  std::string log = dir_.sub("node-" + std::to_string(id) + ".log");
  procs_[id] = std::make_unique<NodeProcess>(node_binary(), args(id), log,
                                             [this](const json& j) { history_.record(j); });
  std::optional<json> ready = procs_[id]->wait_ready();
  ASSERT_TRUE(ready) << "node " << id << " did not start\n" << logs();
  ASSERT_EQ(ready->value("raft_port", 0), ports_.at(id));
}

void Cluster::start_all() {
  for (uint64_t id : initial_) start(id);
}

void Cluster::kill9(uint64_t id) { procs_.at(id)->kill9(); }

void Cluster::stop(uint64_t id) {
  EXPECT_TRUE(procs_.at(id)->quit()) << "node " << id << " did not quit cleanly";
}

bool Cluster::running(uint64_t id) const {
  auto it = procs_.find(id);
  return it != procs_.end() && !it->second->exited();
}

std::vector<uint64_t> Cluster::running_ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, proc] : procs_) {
    if (!proc->exited()) out.push_back(id);
  }
  return out;
}

json Cluster::status(uint64_t id) {
  if (!running(id)) return json::object();
  return procs_.at(id)->call("status").value_or(json::object());
}

uint64_t Cluster::wait_leader(const std::vector<uint64_t>& among) {
  std::vector<uint64_t> ids = among.empty() ? running_ids() : among;
  uint64_t leader = 0;
  bool ok = eventually([&] {
    leader = 0;
    for (uint64_t id : ids) {
      json s = status(id);
      if (s.value("role", "") == "leader") leader = id;
    }
    if (leader == 0) return false;
    for (uint64_t id : ids) {
      if (field(status(id), "leader") != leader) return false;
    }
    return true;
  });
  EXPECT_TRUE(ok) << "no leader agreed on\n" << logs();
  return ok ? leader : 0;
}

json Cluster::on_leader(const std::string& command) {
  json last = {{"ok", false}, {"code", "NoLeader"}};
  eventually([&] {
    // Not wait_leader(): a node that is about to join knows no leader yet.
    for (uint64_t id : running_ids()) {
      if (status(id).value("role", "") != "leader") continue;
      last = node(id).call(command).value_or(json{{"ok", false}, {"code", "NoAnswer"}});
      return last.value("ok", false) || !retryable(last);
    }
    return false;
  });
  return last;
}

bool Cluster::wait_converged(const std::vector<uint64_t>& ids) {
  uint64_t floor = history_.last_acked();
  return eventually([&] {
    std::set<uint64_t> lasts;
    for (uint64_t id : ids) {
      json s = status(id);
      uint64_t last = field(s, "machine", "last");
      if (s.empty() || last < floor || last < field(s, "commit")) return false;
      lasts.insert(last);
    }
    return lasts.size() == 1;
  });
}

void Cluster::check_history(const std::vector<uint64_t>& ids) {
  ASSERT_TRUE(wait_converged(ids)) << "nodes did not converge\n" << logs();
  for (const std::string& c : history_.contradictions()) ADD_FAILURE() << c;
  std::map<uint64_t, std::string> acked = history_.acked();
  std::set<std::string> refused = history_.refused();
  std::optional<json> reference;
  for (uint64_t id : ids) {
    json s = status(id);
    ASSERT_FALSE(s.empty()) << "node " << id << " did not answer";
    EXPECT_EQ(field(s, "machine", "violations"), 0u) << "node " << id << " apply contract";
    EXPECT_FALSE(s.value("failed", true)) << "node " << id << " stopped on a fatal error";
    std::optional<json> dump = node(id).call("dump");
    ASSERT_TRUE(dump) << "node " << id << " did not dump";
    std::map<uint64_t, std::string> entries = entries_of(*dump);
    size_t missing = 0;
    for (const auto& [seq, payload] : acked) {
      auto it = entries.find(seq);
      if (it == entries.end() || it->second != payload) {
        if (++missing <= 5) {
          ADD_FAILURE() << "node " << id << ": acknowledged " << payload << " at " << seq
                        << " but has " << (it == entries.end() ? "nothing" : it->second);
        }
      }
    }
    EXPECT_EQ(missing, 0u) << "node " << id << " lost acknowledged appends";
    std::set<std::string> seen;
    for (const auto& [seq, payload] : entries) {
      EXPECT_TRUE(seen.insert(payload).second)
          << "node " << id << " applied " << payload << " twice";
      EXPECT_FALSE(refused.contains(payload))
          << "node " << id << " applied " << payload << " at " << seq
          << ", which was refused as definitely not done";
    }
    if (!reference) {
      reference = dump;
    } else {
      EXPECT_EQ((*dump)["entries"], (*reference)["entries"]) << "node " << id << " differs";
      EXPECT_EQ((*dump)["hash"], (*reference)["hash"]) << "node " << id << " differs";
    }
    std::printf(
        "[e2e] node %llu: %zu commands applied, last %llu, hash %016llx, snapshots "
        "taken %llu installed %llu\n",
        (unsigned long long)id, entries.size(), (unsigned long long)field(s, "machine", "last"),
        (unsigned long long)field(*dump, "hash"), (unsigned long long)field(s, "snapshots_taken"),
        (unsigned long long)field(s, "snapshots_installed"));
  }
  std::printf("[e2e] history: %zu acknowledged (last sequence %llu), %zu refused, %zu maybe\n",
              acked.size(), (unsigned long long)history_.last_acked(), refused.size(),
              history_.maybe_count());
}

std::string Cluster::logs() const {
  std::ostringstream out;
  for (const auto& [id, port] : ports_) {
    std::ifstream in(dir_.sub("node-" + std::to_string(id) + ".log"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    out << "--- node " << id << " stderr (last 20 lines) ---\n";
    for (size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i) {
      out << lines[i] << "\n";
    }
  }
  return out.str();
}

}  // namespace chorus::e2e
