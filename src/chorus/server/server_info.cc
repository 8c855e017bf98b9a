// What the server tells about itself: INFO, CONFIG GET/SET, COMMAND, CHORUS STATUS (JSON) and
// the Prometheus /metrics text. All on the io thread.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cinttypes>
#include <fstream>
#include <sstream>

#include "chorus/kv/command_table.h"
#include "chorus/kv/glob.h"
#include "chorus/server/server.h"
#include "chorus/server/session.h"

namespace chorus::server {
namespace {

using resp::Value;

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", v, units[u]);
  return buf;
}

uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Redis' memtoll: "100", "1k" (1000), "1kb" (1024), "1mb", "1gb"...
std::optional<uint64_t> parse_memory(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t mul = 1;
  auto suffix = [&](std::string_view suf, uint64_t m) {
    if (s.size() > suf.size() && s.ends_with(suf)) {
      s.resize(s.size() - suf.size());
      mul = m;
      return true;
    }
    return false;
  };
  suffix("gb", 1ull << 30) || suffix("mb", 1ull << 20) || suffix("kb", 1ull << 10) ||
      suffix("g", 1'000'000'000) || suffix("m", 1'000'000) || suffix("k", 1000) || suffix("b", 1);
  if (s.empty() || s.size() > 15 || s.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(s) * mul;
}

const char* role_word(raft::RoleKind r) {
  switch (r) {
    case raft::RoleKind::kLeader:
      return "leader";
    case raft::RoleKind::kCandidate:
      return "candidate";
    case raft::RoleKind::kPreCandidate:
      return "pre-candidate";
    default:
      return "follower";
  }
}

void line(std::string& out, std::string_view key, const std::string& value) {
  out.append(key).append(":").append(value).append("\r\n");
}
void line(std::string& out, std::string_view key, uint64_t value) {
  line(out, key, std::to_string(value));
}

Value command_entry(const kv::CommandSpec& c) {
  std::vector<Value> flags;
  for (std::string_view f : kv::flag_names(c.flags)) flags.push_back(Value::simple(std::string(f)));
  return Value::array({Value::bulk(std::string(c.name)), Value::integer_of(c.arity),
                       Value::set(std::move(flags)), Value::integer_of(c.first_key),
                       Value::integer_of(c.last_key), Value::integer_of(c.key_step), Value::set({}),
                       Value::set({}), Value::array({}), Value::array({})});
}

// The commands sessions answer themselves, for COMMAND (name, arity, summary).
struct LocalCommand {
  std::string_view name;
  int arity;
  std::string_view summary;
};
constexpr LocalCommand kLocalCommands[] = {
    {"auth", -2, "Authenticates the connection."},
    {"bgsave", -1, "Takes a Raft snapshot of the state machine."},
    {"chorus", -2,
     "Cluster administration: STATUS, STATEHASH, SNAPSHOT, ADD, JOIN, PROMOTE, "
     "REMOVE, TRANSFER."},
    {"client", -2, "Connection information and settings."},
    {"command", -1, "Information about commands."},
    {"config", -2, "Reads or changes a subset of the configuration."},
    {"discard", 1, "Discards a transaction."},
    {"exec", 1, "Runs a transaction as one log entry."},
    {"hello", -1, "Handshake: protocol version, authentication, name."},
    {"info", -1, "Server information and statistics."},
    {"lastsave", 1, "Unix time of the last save."},
    {"multi", 1, "Starts a transaction."},
    {"psubscribe", -2, "Listens for messages on channels matching patterns."},
    {"publish", 3, "Posts a message to this node's subscribers."},
    {"punsubscribe", -1, "Stops listening on patterns."},
    {"quit", -1, "Closes the connection."},
    {"readonly", 1, "Serves this connection's reads from this node without a read index."},
    {"readwrite", 1, "Linearizable reads again (the default)."},
    {"reset", 1, "Resets the connection."},
    {"save", 1, "Takes a Raft snapshot of the state machine."},
    {"select", 2, "Selects database 0 (the only one)."},
    {"subscribe", -2, "Listens for messages on channels."},
    {"time", 1, "The server's time."},
    {"unsubscribe", -1, "Stops listening on channels."},
    {"unwatch", 1, "Forgets watched keys."},
    {"watch", -2, "Watches keys for a transaction."},
};

}  // namespace

std::vector<std::pair<std::string, std::string>> Server::config_items() const {
  return {
      {"maxmemory", std::to_string(options_.maxmemory)},
      {"maxclients", std::to_string(options_.max_clients)},
      {"notify-keyspace-events", pubsub_.notify_flags()},
      {"proto-max-bulk-len", std::to_string(options_.proto_max_bulk_len)},
      {"timeout", "0"},  // idle clients are never closed
      {"databases", "1"},
      // Every write is durable on a quorum before it is acknowledged: there is no RDB or AOF
      // schedule to configure, so clients that ask see that saving is always on.
      {"save", ""},
      {"appendonly", "yes"},
      {"appendfsync", "always"},
      {"requirepass", options_.requirepass.empty() ? "" : "********"},
      {"port", std::to_string(client_port_)},
      {"dir", options_.data_dir},
  };
}

Status Server::config_set(const std::string& key, const std::string& value) {
  if (key == "maxmemory") {
    auto v = parse_memory(value);
    if (!v) return Status::InvalidArgument("argument must be a memory value");
    options_.maxmemory = *v;
    return Status::Ok();
  }
  if (key == "maxclients") {
    auto v = parse_memory(value);
    if (!v || *v == 0) return Status::InvalidArgument("argument must be a positive integer");
    options_.max_clients = *v;
    return Status::Ok();
  }
  if (key == "notify-keyspace-events") {
    if (!pubsub_.set_notify_flags(value))
      return Status::InvalidArgument("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    return Status::Ok();
  }
  if (key == "timeout" || key == "save" || key == "appendonly") {
    return Status::Ok();  // accepted for compatibility; no effect (see config_items)
  }
  return Status::InvalidArgument("Unknown option or number of arguments for CONFIG SET - '" + key +
                                 "'");
}

size_t Server::command_count() const {
  return kv::all_commands().size() + std::size(kLocalCommands);
}

Value Server::command_table(const std::vector<std::string>& names) const {
  std::vector<Value> out;
  auto local = [](std::string_view n) -> const LocalCommand* {
    for (const LocalCommand& c : kLocalCommands) {
      if (c.name == n) return &c;
    }
    return nullptr;
  };
  auto local_entry = [](const LocalCommand& c) {
    return Value::array({Value::bulk(std::string(c.name)), Value::integer_of(c.arity),
                         Value::set({}), Value::integer_of(0), Value::integer_of(0),
                         Value::integer_of(0), Value::set({}), Value::set({}), Value::array({}),
                         Value::array({})});
  };
  if (names.empty()) {
    for (const kv::CommandSpec& c : kv::all_commands()) out.push_back(command_entry(c));
    for (const LocalCommand& c : kLocalCommands) out.push_back(local_entry(c));
    return Value::array(std::move(out));
  }
  for (const std::string& n : names) {
    const std::string l = lower(n);
    if (const kv::CommandSpec* c = kv::find_command(l)) {
      out.push_back(command_entry(*c));
    } else if (const LocalCommand* lc = local(l)) {
      out.push_back(local_entry(*lc));
    } else {
      out.push_back(Value::null());
    }
  }
  return Value::array(std::move(out));
}

Value Server::command_docs(const std::vector<std::string>& names) const {
  std::vector<Value> out;
  auto want = [&](std::string_view n) {
    if (names.empty()) return true;
    for (const std::string& w : names) {
      if (kv::glob_match(w, n, /*nocase=*/true) && w.size() == n.size()) return true;
    }
    return false;
  };
  for (const kv::CommandSpec& c : kv::all_commands()) {
    if (!want(c.name)) continue;
    out.push_back(Value::bulk(std::string(c.name)));
    out.push_back(Value::map({Value::bulk("summary"), Value::bulk(std::string(c.summary)),
                              Value::bulk("since"), Value::bulk(std::string(c.since)),
                              Value::bulk("group"), Value::bulk(std::string(c.group))}));
  }
  for (const LocalCommand& c : kLocalCommands) {
    if (!want(c.name)) continue;
    out.push_back(Value::bulk(std::string(c.name)));
    out.push_back(Value::map({Value::bulk("summary"), Value::bulk(std::string(c.summary)),
                              Value::bulk("group"), Value::bulk("connection")}));
  }
  return Value::map(std::move(out));
}

Value Server::command_names() const {
  std::vector<Value> out;
  for (const kv::CommandSpec& c : kv::all_commands())
    out.push_back(Value::bulk(std::string(c.name)));
  for (const LocalCommand& c : kLocalCommands) out.push_back(Value::bulk(std::string(c.name)));
  return Value::array(std::move(out));
}

std::string Server::info(const std::vector<std::string>& sections) const {
  auto want = [&](std::string_view s) {
    if (sections.empty()) return s != "commandstats";
    for (const std::string& w : sections) {
      if (w == s || w == "all" || w == "everything" || (w == "default" && s != "commandstats")) {
        return true;
      }
    }
    return false;
  };
  const node::NodeMetrics m = node_->metrics();
  const raft::Configuration members = node_->members();
  std::string out;
  auto section = [&](std::string_view name) {
    if (!out.empty()) out += "\r\n";
    out += "# ";
    out += name;
    out += "\r\n";
  };
  const uint64_t uptime = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count());
  if (want("server")) {
    section("Server");
    line(out, "redis_version", std::string(kRedisCompatVersion));
    line(out, "chorus_version", std::string(kChorusVersion));
    line(out, "redis_mode", "standalone");
    line(out, "os", "Linux");
    line(out, "process_id", static_cast<uint64_t>(::getpid()));
    line(out, "tcp_port", client_port_);
    line(out, "uptime_in_seconds", uptime);
    line(out, "uptime_in_days", uptime / 86400);
    line(out, "node_id", options_.id.value());
  }
  if (want("clients")) {
    section("Clients");
    line(out, "connected_clients", sessions_.size());
    line(out, "maxclients", options_.max_clients);
    line(out, "pubsub_channels", pubsub_.channel_count());
    line(out, "pubsub_patterns", pubsub_.pattern_count());
  }
  if (want("memory")) {
    section("Memory");
    const uint64_t used = store().memory_bytes();
    line(out, "used_memory", used);
    line(out, "used_memory_human", human_bytes(used));
    line(out, "used_memory_rss", rss_bytes());
    line(out, "used_memory_rss_human", human_bytes(rss_bytes()));
    line(out, "maxmemory", options_.maxmemory);
    line(out, "maxmemory_human", human_bytes(options_.maxmemory));
    line(out, "maxmemory_policy", "noeviction");
  }
  if (want("stats")) {
    section("Stats");
    line(out, "total_connections_received", stats_.connections_received);
    line(out, "total_commands_processed", stats_.total_commands());
    line(out, "total_net_input_bytes", stats_.net_input_bytes);
    line(out, "total_net_output_bytes", stats_.net_output_bytes);
    line(out, "rejected_connections", stats_.connections_rejected);
    line(out, "total_error_replies", stats_.errors);
    line(out, "oom_refusals", stats_.oom_refusals);
    line(out, "expiry_proposals", stats_.expiry_proposals);
  }
  if (want("replication")) {
    section("Replication");
    const bool leader = m.role == raft::RoleKind::kLeader;
    line(out, "role", leader ? "master" : "slave");
    line(out, "connected_slaves", leader ? m.peers.size() : 0);
    line(out, "master_repl_offset", m.commit.value());
  }
  if (want("raft")) {
    section("Raft");
    line(out, "raft_node_id", options_.id.value());
    line(out, "raft_role", role_word(m.role));
    line(out, "raft_term", m.term.value());
    line(out, "raft_leader_id", m.leader.value());
    line(out, "raft_commit_index", m.commit.value());
    line(out, "raft_applied_index", m.applied.value());
    line(out, "raft_last_index", m.last_index.value());
    line(out, "raft_snapshot_index", m.snapshot_index.value());
    line(out, "raft_voters", members.voters.size());
    line(out, "raft_learners", members.learners.size());
    line(out, "raft_leader_changes", m.leader_changes);
    line(out, "raft_snapshots_taken", m.snapshots_taken);
    line(out, "raft_snapshots_installed", m.snapshots_installed);
    line(out, "raft_last_snapshot_bytes", m.last_snapshot_bytes);
    line(out, "raft_fsyncs", m.fsyncs);
    line(out, "raft_failed", m.failed ? 1 : 0);
    for (const node::PeerMetrics& p : m.peers) {
      line(out, "raft_peer" + std::to_string(p.id.value()),
           "match=" + std::to_string(p.match.value()) + ",lag=" + std::to_string(p.lag) +
               ",learner=" + (p.learner ? "1" : "0") + ",active=" + (p.recent_active ? "1" : "0"));
    }
  }
  if (want("keyspace")) {
    section("Keyspace");
    if (store().size() > 0) {
      line(out, "db0", "keys=" + std::to_string(store().size()));
    }
  }
  if (want("commandstats")) {
    section("Commandstats");
    for (const auto& [name, c] : stats_.commands) {
      const double usec = c.latency.sum_s * 1e6;
      char buf[160];
      std::snprintf(buf, sizeof buf,
                    "calls=%" PRIu64 ",usec=%.0f,usec_per_call=%.2f,failed_calls=%" PRIu64, c.calls,
                    usec, c.calls ? usec / static_cast<double>(c.calls) : 0.0, c.failed);
      line(out, "cmdstat_" + name, std::string(buf));
    }
  }
  return out;
}

std::string Server::status_json() const {
  const node::NodeMetrics m = node_->metrics();
  const raft::Configuration members = node_->members();
  nlohmann::json j;
  j["id"] = options_.id.value();
  j["role"] = role_word(m.role);
  j["term"] = m.term.value();
  j["leader"] = m.leader.value();
  j["commit"] = m.commit.value();
  j["applied"] = m.applied.value();
  j["last_index"] = m.last_index.value();
  j["snapshot_index"] = m.snapshot_index.value();
  j["failed"] = m.failed;
  j["client_address"] = options_.client_address;
  j["peer_address"] = options_.peer_address;
  j["voters"] = nlohmann::json::array();
  for (NodeId v : members.voters) j["voters"].push_back(v.value());
  j["learners"] = nlohmann::json::array();
  for (NodeId l : members.learners) j["learners"].push_back(l.value());
  j["addresses"] = nlohmann::json::object();
  for (const auto& [id, address] : node_->peer_addresses()) {
    j["addresses"][std::to_string(id.value())] = address;
  }
  j["addresses"][std::to_string(options_.id.value())] = options_.peer_address;
  j["peers"] = nlohmann::json::array();
  for (const node::PeerMetrics& p : m.peers) {
    j["peers"].push_back({{"id", p.id.value()},
                          {"learner", p.learner},
                          {"match", p.match.value()},
                          {"lag", p.lag},
                          {"active", p.recent_active}});
  }
  j["keys"] = store().size();
  j["revision"] = store().last_revision();
  j["clients"] = sessions_.size();
  j["ready"] = m.leader != raft::kNoNode && !m.failed && m.applied >= m.commit;
  return j.dump();
}

std::string Server::metrics_text() const {
  const node::NodeMetrics m = node_->metrics();
  std::ostringstream o;
  auto gauge = [&](const char* name, const char* help, uint64_t v, const char* type = "gauge") {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
      << name << " " << v << "\n";
  };
  gauge("chorus_raft_term", "Current Raft term.", m.term.value());
  gauge("chorus_raft_is_leader", "1 if this node is the leader.",
        m.role == raft::RoleKind::kLeader ? 1 : 0);
  gauge("chorus_raft_leader_id", "The leader this node knows (0: none).", m.leader.value());
  gauge("chorus_raft_commit_index", "Commit index.", m.commit.value());
  gauge("chorus_raft_applied_index", "Applied index.", m.applied.value());
  gauge("chorus_raft_last_index", "Last log index.", m.last_index.value());
  gauge("chorus_raft_snapshot_index", "Index of the latest snapshot.", m.snapshot_index.value());
  gauge("chorus_raft_leader_changes_total", "Leader changes seen.", m.leader_changes, "counter");
  gauge("chorus_raft_proposals_committed_total", "Commands acknowledged.", m.proposals_committed,
        "counter");
  gauge("chorus_raft_proposals_failed_total", "Commands that failed.", m.proposals_failed,
        "counter");
  gauge("chorus_raft_snapshots_taken_total", "Snapshots taken.", m.snapshots_taken, "counter");
  gauge("chorus_raft_snapshots_installed_total", "Snapshots installed from the leader.",
        m.snapshots_installed, "counter");
  gauge("chorus_raft_snapshot_bytes", "Size of the latest snapshot taken or installed.",
        m.last_snapshot_bytes);
  gauge("chorus_raft_failed", "1 if the node stopped on a fatal error.", m.failed ? 1 : 0);
  gauge("chorus_clients", "Connected clients.", sessions_.size());
  gauge("chorus_keys", "Keys in the state machine.", store().size());
  gauge("chorus_used_memory_bytes", "Estimated bytes of the keyspace.", store().memory_bytes());
  gauge("chorus_connections_received_total", "Client connections accepted.",
        stats_.connections_received, "counter");
  gauge("chorus_connections_rejected_total", "Client connections refused (max clients).",
        stats_.connections_rejected, "counter");

  // fsync latency: the WAL's power-of-two microsecond buckets, as a cumulative histogram.
  o << "# HELP chorus_fsync_duration_seconds WAL fdatasync latency.\n"
       "# TYPE chorus_fsync_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < m.fsync_latency_us_buckets.size(); ++i) {
    cumulative += m.fsync_latency_us_buckets[i];
    if (i + 1 < m.fsync_latency_us_buckets.size()) {
      o << "chorus_fsync_duration_seconds_bucket{le=\"" << static_cast<double>(1ull << i) / 1e6
        << "\"} " << cumulative << "\n";
    }
  }
  o << "chorus_fsync_duration_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
    << "chorus_fsync_duration_seconds_count " << cumulative << "\n";

  o << "# HELP chorus_command_duration_seconds Latency of commands served through Raft.\n"
       "# TYPE chorus_command_duration_seconds histogram\n";
  for (const auto& [name, c] : stats_.commands) {
    uint64_t cum = 0;
    for (size_t i = 0; i < c.latency.buckets.size(); ++i) {
      cum += c.latency.buckets[i];
      o << "chorus_command_duration_seconds_bucket{command=\"" << name << "\",le=\"";
      if (i < kLatencyBoundsS.size()) {
        o << kLatencyBoundsS[i];
      } else {
        o << "+Inf";
      }
      o << "\"} " << cum << "\n";
    }
    o << "chorus_command_duration_seconds_sum{command=\"" << name << "\"} " << c.latency.sum_s
      << "\n"
      << "chorus_command_duration_seconds_count{command=\"" << name << "\"} " << c.latency.count
      << "\n";
  }
  o << "# HELP chorus_peer_lag_entries Entries a follower is behind the leader (leader only).\n"
       "# TYPE chorus_peer_lag_entries gauge\n";
  for (const node::PeerMetrics& p : m.peers) {
    o << "chorus_peer_lag_entries{peer=\"" << p.id.value() << "\"} " << p.lag << "\n";
  }
  return o.str();
}

}  // namespace chorus::server
