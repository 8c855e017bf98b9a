// chorus-node-proc: one RaftNode over a TlsTransport in its own process, driven by the e2e tests
// through stdin/stdout. Stdin rather than a control port: when the driver dies the pipe closes
// and the node exits, so a crashed test never leaves nodes behind.
//
//   chorus-node-proc --id 1 --data-dir D --listen 127.0.0.1:7001 --cert-dir C
//                    --peers 1=127.0.0.1:7001,2=127.0.0.1:7002 --voters 1,2
//                    [--groups 1=a,2=b] [--snapshot-threshold N] [--election-ticks N]
//
// Certificates: <cert-dir>/ca.crt and <cert-dir>/node-<id>.{crt,key} (certs.h write_pem_files).
//
// Protocol: one command per line, `<tag> <verb> [args]`; every output line is one JSON object.
// At start: {"event":"ready","id":..,"raft_port":..,"pid":..}. Each command ends with a line
// {"tag":t,"final":true,...}; `append` and `stream` also print, per append,
// {"tag":t,"ack":seq,"payload":p} or {"tag":t,"fail":p,"code":..,"error":..,"maybe":bool}.
//
//   append <payload>                          one append
//   stream <n> <prefix> <window> <limit_ms>   appends <prefix>-0, -1, ... with <window> in flight
//                                             until n are acknowledged or limit_ms passes
//   read                                      linearizable read: count, hash, last applied
//   status                                    metrics, members, transport and machine counters
//   dump                                      every applied (sequence, payload)
//   await_leader <ms> | add_learner <id> <host:port> | promote <id> | remove <id>
//   quit                                      close the node cleanly and exit 0
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chorus/net/certs.h"
#include "chorus/net/tls_transport.h"
#include "chorus/node/raft_node.h"
#include "e2e/node/recording_machine.h"

using namespace chorus;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Whole JSON lines on stdout, one writer at a time (the io thread, stream threads and the
// control thread all print). write(2) directly: a line the driver has read was really written,
// even if the process is killed right after.
class Output {
 public:
  void line(const json& j) {
    std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::lock_guard lock(mu_);
    for (size_t done = 0; done < s.size();) {
      ssize_t n = ::write(STDOUT_FILENO, s.data() + done, s.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the driver is gone; stdin EOF will end us
      done += static_cast<size_t>(n);
    }
  }
  void final(uint64_t tag, json j) {
    j["tag"] = tag;
    j["final"] = true;
    line(j);
  }

 private:
  std::mutex mu_;
};

json failure(const Status& s) {
  return {{"ok", false},
          {"code", status_code_name(s.code())},
          {"error", s.message()},
          {"maybe", node::maybe_happened(s)}};
}

// Reports one append's outcome; returns whether it was acknowledged.
bool report_append(Output& out, uint64_t tag, const std::string& payload,
                   const node::AppendResult& r, bool final) {
  json j;
  if (r.status.ok()) {
    j = {{"ok", true}, {"ack", r.sequence.value()}, {"payload", payload}};
  } else {
    j = failure(r.status);
    j["fail"] = payload;
  }
  j["tag"] = tag;
  if (final) j["final"] = true;
  out.line(j);
  return r.status.ok();
}

// A stream of appends with a bounded window in flight, on its own thread so that the control
// channel stays responsive (the driver kills nodes while streams run).
class Stream {
 public:
  Stream(node::RaftNode& node, Output& out, uint64_t tag, std::string prefix, int target,
         int window, std::chrono::milliseconds limit)
      : node_(node),
        out_(out),
        tag_(tag),
        prefix_(std::move(prefix)),
        target_(target),
        window_(std::max(window, 1)),
        deadline_(std::chrono::steady_clock::now() + limit) {
    thread_ = std::thread([this] { run(); });
  }
  ~Stream() {
    stop();
    thread_.join();
  }
  void stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    uint64_t next = 0;
    while (!stop_ && acked_ < target_ && std::chrono::steady_clock::now() < deadline_) {
      if (in_flight_ >= window_ || acked_ + in_flight_ >= target_) {
        cv_.wait_until(lock, deadline_);
        continue;
      }
      if (backoff_) {
        // A refused append (no leader yet) fails at once: pause instead of spinning on it.
        backoff_ = false;
        cv_.wait_for(lock, 20ms, [&] { return stop_; });
        continue;
      }
      std::string payload = prefix_ + "-" + std::to_string(next++);
      ++in_flight_;
      lock.unlock();
      node_.async_append(to_bytes(payload), [this, payload](node::AppendResult r) {
        bool ok = report_append(out_, tag_, payload, r, /*final=*/false);
        std::lock_guard guard(mu_);
        --in_flight_;
        (ok ? acked_ : failed_)++;
        backoff_ = backoff_ || !ok;
        cv_.notify_all();  // under the lock: run() may return as soon as it is released
      });
      lock.lock();
    }
    // Every call completes: proposal_timeout bounds it, and close() fails what is pending.
    cv_.wait(lock, [&] { return in_flight_ == 0; });
    out_.final(tag_, {{"ok", acked_ >= target_}, {"acked", acked_}, {"failed", failed_}});
  }

  node::RaftNode& node_;
  Output& out_;
  const uint64_t tag_;
  const std::string prefix_;
  const int target_;
  const int window_;
  const std::chrono::steady_clock::time_point deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0, acked_ = 0, failed_ = 0;
  bool stop_ = false, backoff_ = false;
  std::thread thread_;  // last: starts after every member above is set
};

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// "1=a,2=b" -> {1: a, 2: b}; "1,2" (no '=') -> {1: "", 2: ""}. Nullopt on a malformed id.
std::optional<std::map<NodeId, std::string>> parse_id_map(const std::string& text) {
  std::map<NodeId, std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    size_t eq = item.find('=');
    auto node = parse_u64(item.substr(0, eq));
    if (!node) return std::nullopt;
    out[NodeId(*node)] = eq == std::string::npos ? "" : item.substr(eq + 1);
  }
  return out;
}

json status_json(node::RaftNode& node, const net::TlsTransport& transport,
                 const e2e::RecordingMachine& machine) {
  node::NodeMetrics m = node.metrics();
  raft::Configuration members = node.members();
  net::TransportStats t = transport.stats();
  e2e::RecordingMachine::Summary s = machine.summary();
  json voters = json::array(), learners = json::array(), rejections = json::object();
  for (NodeId id : members.voters) voters.push_back(id.value());
  for (NodeId id : members.learners) learners.push_back(id.value());
  for (size_t r = 0; r < net::kRejectReasonCount; ++r) {
    auto reason = static_cast<net::RejectReason>(r);
    if (t.rejected_count(reason) > 0) {
      rejections[std::string(net::reject_reason_name(reason))] = t.rejected_count(reason);
    }
  }
  return {{"ok", true},
          {"id", m.id.value()},
          {"role", raft::role_name(m.role)},
          {"term", m.term.value()},
          {"leader", m.leader.value()},
          {"commit", m.commit.value()},
          {"applied", m.applied.value()},
          {"last_index", m.last_index.value()},
          {"snapshot_index", m.snapshot_index.value()},
          {"snapshots_taken", m.snapshots_taken},
          {"snapshots_installed", m.snapshots_installed},
          {"failed", m.failed},
          {"voters", voters},
          {"learners", learners},
          {"machine",
           {{"count", s.count},
            {"hash", s.hash},
            {"last", s.last_applied},
            {"violations", s.violations}}},
          {"transport",
           {{"accepted", t.connections_accepted},
            {"rejected", rejections},
            {"last_rejection", t.last_rejection},
            {"sent", t.messages_sent()},
            {"received", t.messages_received()}}}};
}

// The command line.
struct Flags {
  uint64_t id = 0;
  std::string data_dir, listen, cert_dir, peers, voters, groups;
  std::string cluster = "chorus-e2e";
  uint64_t snapshot_threshold = 10'000;
  uint32_t election_ticks = 25;  // of 10 ms: slack for a loaded machine
  uint32_t proposal_timeout_ms = 5'000;
};

Result<std::unique_ptr<net::TlsTransport>> make_transport(asio::io_context& io, const Flags& f) {
  CHORUS_ASSIGN_OR_RETURN(net::CertKeyPair ca, net::read_pem_files(f.cert_dir, "ca"));
  CHORUS_ASSIGN_OR_RETURN(net::CertKeyPair cert,
                          net::read_pem_files(f.cert_dir, "node-" + std::to_string(f.id)));
  net::TlsTransportOptions o;
  o.self = NodeId(f.id);
  o.cluster_name = f.cluster;
  o.listen_address = f.listen;
  o.ca_pem = ca.cert_pem;
  o.cert_pem = cert.cert_pem;
  o.key_pem = cert.key_pem;
  o.reconnect_backoff_max_ms = 500;  // redial a restarted peer within half a second, not 5 s
  return net::TlsTransport::create(io, std::move(o));
}

Result<node::NodeOptions> make_options(const Flags& f) {
  auto peers = parse_id_map(f.peers);
  auto voters = parse_id_map(f.voters);
  auto groups = parse_id_map(f.groups);
  if (!peers || !voters || !groups) {
    return Status::InvalidArgument("malformed --peers, --voters or --groups");
  }
  node::NodeOptions o;
  o.id = NodeId(f.id);
  o.peers = *peers;
  for (const auto& [voter, unused] : *voters) o.voters.insert(voter);
  if (!groups->empty()) {
    o.groups = *groups;
    o.quorum.kind = raft::QuorumPolicyKind::kGroups;
  }
  o.election_ticks = f.election_ticks;
  o.proposal_timeout = std::chrono::milliseconds(f.proposal_timeout_ms);
  o.read_timeout = std::chrono::milliseconds(f.proposal_timeout_ms);
  o.snapshot_threshold_entries = f.snapshot_threshold;
  o.snapshot_chunk_bytes = 4096;  // several chunks even for small states
  o.storage.segment_bytes = 1 << 20;
  o.random_seed = std::random_device{}();  // each run draws other election timeouts
  CHORUS_TRY(o.validate());
  return o;
}

// Reads commands from stdin until `quit` or EOF (the driver is gone); answers on `out`.
// Returns the tag of the quit command, if that is what ended it.
std::optional<uint64_t> serve(node::RaftNode& node, const net::TlsTransport& transport,
                              const e2e::RecordingMachine& machine, Output& out,
                              std::vector<std::unique_ptr<Stream>>& streams) {
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    uint64_t tag = 0;
    std::string verb;
    in >> tag >> verb;
    auto change_done = [&out, tag](node::ChangeResult r) {
      out.final(
          tag, r.status.ok() ? json{{"ok", true}, {"seq", r.sequence.value()}} : failure(r.status));
    };
    if (verb == "append") {
      std::string payload;
      in >> payload;
      node.async_append(to_bytes(payload), [&out, tag, payload](node::AppendResult r) {
        report_append(out, tag, payload, r, /*final=*/true);
      });
    } else if (verb == "stream") {
      int n = 0, window = 1;
      uint64_t limit_ms = 0;
      std::string prefix;
      in >> n >> prefix >> window >> limit_ms;
      streams.push_back(std::make_unique<Stream>(node, out, tag, prefix, n, window,
                                                 std::chrono::milliseconds(limit_ms)));
    } else if (verb == "read") {
      node.async_read({}, [&out, tag](node::ReadResult r) {
        if (!r.status.ok()) return out.final(tag, failure(r.status));
        uint64_t count = 0, hash = 0, last = 0;
        std::istringstream(std::string(as_string_view(r.result))) >> count >> hash >> last;
        out.final(tag, {{"ok", true},
                        {"index", r.sequence.value()},
                        {"count", count},
                        {"hash", hash},
                        {"last", last}});
      });
    } else if (verb == "status") {
      out.final(tag, status_json(node, transport, machine));
    } else if (verb == "dump") {
      json entries = json::array();
      for (const auto& [seq, payload] : machine.entries()) entries.push_back({seq, payload});
      out.final(tag, {{"ok", true}, {"entries", entries}, {"hash", machine.summary().hash}});
    } else if (verb == "await_leader") {
      uint64_t ms = 0;
      in >> ms;
      node.async_await_leader(std::chrono::milliseconds(ms), [&out, tag](node::LeaderResult r) {
        out.final(tag, r.status.ok() ? json{{"ok", true}, {"leader", r.leader.value()}}
                                     : failure(r.status));
      });
    } else if (verb == "add_learner") {
      uint64_t learner = 0;
      std::string address;
      in >> learner >> address;
      node.async_add_learner(NodeId(learner), address, change_done);
    } else if (verb == "promote" || verb == "remove") {
      uint64_t member = 0;
      in >> member;
      if (verb == "promote") node.async_promote(NodeId(member), change_done);
      if (verb == "remove") node.async_remove(NodeId(member), change_done);
    } else if (verb == "quit") {
      return tag;
    } else {
      out.final(tag, {{"ok", false}, {"error", "unknown command: " + line}});
    }
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a dead driver shows as EOF on stdin, not as a signal
  CLI::App app{"chorus-node-proc: a RaftNode over mTLS, driven through stdin/stdout"};
  Flags f;
  app.add_option("--id", f.id)->required();
  app.add_option("--data-dir", f.data_dir)->required();
  app.add_option("--listen", f.listen)->required();
  app.add_option("--cert-dir", f.cert_dir)->required();
  app.add_option("--peers", f.peers)->required();
  app.add_option("--voters", f.voters, "empty: a node that will join");
  app.add_option("--groups", f.groups, "id=label,...: replication-group quorum policy");
  app.add_option("--snapshot-threshold", f.snapshot_threshold);
  app.add_option("--election-ticks", f.election_ticks);
  app.add_option("--proposal-timeout-ms", f.proposal_timeout_ms);
  app.add_option("--cluster", f.cluster);
  CLI11_PARSE(app, argc, argv);

  asio::io_context io;  // the node's loop: the transport delivers on it, the node runs it
  auto transport = make_transport(io, f);
  auto options = make_options(f);
  if (!transport.ok() || !options.ok()) {
    Status s = transport.ok() ? options.status() : transport.status();
    std::fprintf(stderr, "node %llu: %s\n", (unsigned long long)f.id, s.ToString().c_str());
    return 2;
  }
  e2e::RecordingMachine machine;
  node::RaftNode node(*options, io, FileSystem::posix(), f.data_dir, **transport, &machine);
  Output out;
  node.on_error([&](const Status& e) {
    std::fprintf(stderr, "node %llu fatal: %s\n", (unsigned long long)f.id, e.ToString().c_str());
    out.line({{"event", "fatal"}, {"error", e.ToString()}});
  });
  if (Status s = node.open(); !s.ok()) {
    std::fprintf(stderr, "node %llu: open: %s\n", (unsigned long long)f.id, s.ToString().c_str());
    return 2;
  }
  out.line({{"event", "ready"},
            {"id", f.id},
            {"raft_port", (*transport)->local_port()},
            {"pid", ::getpid()}});

  std::vector<std::unique_ptr<Stream>> streams;
  std::optional<uint64_t> quit_tag = serve(node, **transport, machine, out, streams);
  // Streams stop issuing; close() fails what is still pending (kTimeout), so their threads
  // drain and join.
  for (auto& s : streams) s->stop();
  node.close();
  streams.clear();
  if (quit_tag) out.final(*quit_tag, {{"ok", true}, {"bye", true}});
  return 0;
}
