// chorus cluster status [--nodes A,B,C]       one line per node, from CHORUS STATUS
// chorus member add <id> <peer-address> | promote <id> | remove <id> | transfer <id>
//   sent to each of --nodes until one accepts (membership changes run on the leader).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "chorus/cli/commands.h"
#include "chorus/server/resp_client.h"

namespace chorus::cli {
namespace {

struct Target {
  std::string nodes = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";
  std::string password;
  uint32_t timeout_ms = 15'000;

  std::vector<std::string> list() const {
    std::vector<std::string> out;
    for (size_t pos = 0; pos < nodes.size();) {
      size_t comma = nodes.find(',', pos);
      if (comma == std::string::npos) comma = nodes.size();
      if (comma > pos) out.push_back(nodes.substr(pos, comma - pos));
      pos = comma + 1;
    }
    return out;
  }
  void add_flags(CLI::App* cmd) {
    cmd->add_option("--nodes", nodes, "Client addresses of the nodes (host:port,...)")
        ->capture_default_str();
    cmd->add_option("--password", password, "AUTH password");
    cmd->add_option("--timeout-ms", timeout_ms, "Per request")->capture_default_str();
  }
};

Target target;

int cluster_status() {
  std::printf("%-4s %-10s %6s %10s %10s %8s  %-21s %-21s %s\n", "id", "role", "term", "commit",
              "applied", "lag", "client", "peer", "keys");
  std::map<uint64_t, uint64_t> lag;  // from the leader's view
  std::vector<nlohmann::json> rows;
  int unreachable = 0;
  for (const std::string& address : target.list()) {
    auto reply = server::resp_call(address, {"CHORUS", "STATUS"},
                                   std::chrono::milliseconds(target.timeout_ms), target.password);
    if (!reply.ok() || reply->is_error()) {
      std::printf("%-4s %-10s %6s %10s %10s %8s  %-21s %-21s %s\n", "?", "down", "-", "-", "-", "-",
                  address.c_str(), "-",
                  reply.ok() ? reply->str.c_str() : reply.status().ToString().c_str());
      ++unreachable;
      continue;
    }
    auto j = nlohmann::json::parse(reply->str, nullptr, false);
    if (j.is_discarded()) continue;
    for (const auto& p : j["peers"]) lag[p["id"].get<uint64_t>()] = p["lag"].get<uint64_t>();
    rows.push_back(std::move(j));
  }
  for (const auto& j : rows) {
    const uint64_t id = j["id"].get<uint64_t>();
    std::string role = j["role"].get<std::string>();
    for (const auto& l : j["learners"]) {
      if (l.get<uint64_t>() == id) role = "learner";
    }
    if (j["failed"].get<bool>()) role = "FAILED";
    std::string lag_text = role == "leader"   ? "0"
                           : lag.contains(id) ? std::to_string(lag[id])
                                              : "-";
    std::printf("%-4llu %-10s %6llu %10llu %10llu %8s  %-21s %-21s %llu\n",
                static_cast<unsigned long long>(id), role.c_str(),
                static_cast<unsigned long long>(j["term"].get<uint64_t>()),
                static_cast<unsigned long long>(j["commit"].get<uint64_t>()),
                static_cast<unsigned long long>(j["applied"].get<uint64_t>()), lag_text.c_str(),
                j["client_address"].get<std::string>().c_str(),
                j["peer_address"].get<std::string>().c_str(),
                static_cast<unsigned long long>(j["keys"].get<uint64_t>()));
  }
  return unreachable == static_cast<int>(target.list().size()) ? 1 : 0;
}

// Tries each node until one that is not a follower answers.
int member(std::vector<std::string> argv) {
  std::string last = "no node given";
  for (const std::string& address : target.list()) {
    auto reply = server::resp_call(address, argv, std::chrono::milliseconds(target.timeout_ms),
                                   target.password);
    if (!reply.ok()) {
      last = address + ": " + reply.status().ToString();
      continue;
    }
    if (reply->is_error()) {
      last = address + ": " + reply->str;
      if (reply->str.rfind("NOTLEADER", 0) == 0) continue;
      break;
    }
    std::printf("%s: %s\n", address.c_str(), reply->str.empty() ? "OK" : reply->str.c_str());
    return 0;
  }
  std::fprintf(stderr, "chorus member: %s\n", last.c_str());
  return 1;
}

}  // namespace

void add_cluster_commands(CLI::App& app) {
  auto* cluster = app.add_subcommand("cluster", "Cluster-wide views");
  cluster->require_subcommand(1);
  auto* status = cluster->add_subcommand("status", "A table of the nodes");
  target.add_flags(status);
  status->callback([] { std::exit(cluster_status()); });

  auto* m = app.add_subcommand("member", "Change membership (on the leader)");
  m->require_subcommand(1);
  static uint64_t id = 0;
  static std::string peer_address;
  auto* add = m->add_subcommand("add", "Add a node as a learner (then promote it)");
  add->add_option("id", id, "Node id")->required();
  add->add_option("peer-address", peer_address, "The new node's peer host:port")->required();
  target.add_flags(add);
  add->callback([] { std::exit(member({"CHORUS", "ADD", std::to_string(id), peer_address})); });
  for (const char* op : {"promote", "remove", "transfer"}) {
    const std::string help = std::string(op) == "promote"  ? "Make a caught-up learner a voter"
                             : std::string(op) == "remove" ? "Remove a node"
                                                           : "Hand leadership to a node";
    auto* c = m->add_subcommand(op, help);
    c->add_option("id", id, "Node id")->required();
    target.add_flags(c);
    c->callback([op] {
      std::string upper = op;
      for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      std::exit(member({"CHORUS", upper, std::to_string(id)}));
    });
  }
}

}  // namespace chorus::cli
