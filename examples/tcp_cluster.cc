// tcp_cluster: three RaftNodes in three processes, talking TCP with mutual TLS on loopback -- the
// shape of a real deployment (tinyraftplus's TCP example, in C++). Run without a node argument:
//
//   1. it makes a cluster CA and one certificate per node with chorus::net's certs API;
//   2. it starts itself three times as a node: `tcp_cluster <dir> node <id> <port1,port2,port3>`;
//   3. it appends commands through every node (a follower forwards to the leader) and reads them
//      back linearizably from every node;
//   4. it stops the nodes cleanly. Exit status 0 when all three read the same commands.
//
//   tcp_cluster [dir]      (default: ./data/tcp-cluster, wiped first)
//
// The parent talks to each node over its stdin/stdout, one line per request and per answer. A
// node exits when its stdin closes, so the nodes never outlive the parent.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "chorus/net/certs.h"
#include "chorus/net/tls_transport.h"
#include "chorus/node/raft_node.h"

using namespace chorus;
using namespace std::chrono_literals;

namespace {

constexpr int kNodes = 3;

// The replicated state: the list of commands, in commit order. A read returns it, one per line.
class Journal final : public node::StateMachine {
 public:
  std::vector<Bytes> apply(std::span<const raft::Entry> batch, LogIndex) override {
    for (const raft::Entry& e : batch) {
      // Only kNormal entries carry commands; a new leader's no-op and membership entries don't.
      if (e.type == raft::EntryType::kNormal) lines_ += std::string(as_string_view(e.data)) + "\n";
    }
    return std::vector<Bytes>(batch.size());
  }
  Bytes read(ByteSpan) override { return to_bytes(lines_); }
  Bytes snapshot() override { return to_bytes(lines_); }
  Status restore(ByteSpan state) override {
    lines_ = std::string(as_string_view(state));
    return Status::Ok();
  }

 private:
  std::string lines_;  // changed on the io thread (apply, restore); read by read() and snapshot()
};

// ---- a node process -------------------------------------------------------------------------

int run_node(const std::string& dir, uint64_t id, const std::vector<std::string>& ports) {
  auto ca = net::read_pem_files(dir + "/certs", "ca");
  auto mine = net::read_pem_files(dir + "/certs", "node-" + std::to_string(id));
  if (!ca.ok() || !mine.ok()) return 2;

  // One io_context: the transport delivers messages on it, and the node runs it.
  asio::io_context io;
  net::TlsTransportOptions tls;
  tls.self = NodeId(id);
  tls.cluster_name = "tcp-cluster";  // every peer must use the same name
  tls.listen_address = "127.0.0.1:" + ports[id - 1];
  tls.ca_pem = ca->cert_pem;  // trust exactly this CA: a peer is node N if it shows N's cert
  tls.cert_pem = mine->cert_pem;
  tls.key_pem = mine->key_pem;
  auto transport = net::TlsTransport::create(io, tls);
  if (!transport.ok()) {
    std::fprintf(stderr, "node %llu: %s\n", (unsigned long long)id,
                 transport.status().ToString().c_str());
    return 2;
  }

  node::NodeOptions options;
  options.id = NodeId(id);
  for (uint64_t n = 1; n <= kNodes; ++n) {
    options.voters.insert(NodeId(n));
    options.peers[NodeId(n)] = "127.0.0.1:" + ports[n - 1];
  }
  Journal journal;
  node::RaftNode node(options, io, FileSystem::posix(), dir + "/node-" + std::to_string(id),
                      **transport, &journal);
  if (Status s = node.open(); !s.ok()) {
    std::fprintf(stderr, "node %llu: open: %s\n", (unsigned long long)id, s.ToString().c_str());
    return 2;
  }

  // Serve the parent. Every call below completes within the node's own timeouts (10 s by
  // default), so the parent always gets an answer. asio::use_future turns a call into a future.
  for (std::string line; std::getline(std::cin, line) && line != "quit";) {
    std::string answer;
    if (line == "leader") {
      node::LeaderResult r = node.async_await_leader(10s, asio::use_future).get();
      answer = r.status.ok() ? "leader " + std::to_string(r.leader.value()) : r.status.ToString();
    } else if (line.starts_with("append ")) {
      node::AppendResult r = node.async_append(to_bytes(line.substr(7)), asio::use_future).get();
      answer =
          r.status.ok() ? "sequence " + std::to_string(r.sequence.value()) : r.status.ToString();
    } else if (line == "read") {
      node::ReadResult r = node.async_read({}, asio::use_future).get();
      answer = r.status.ok() ? std::string(as_string_view(r.result)) : r.status.ToString();
      while (answer.ends_with('\n')) answer.pop_back();
      for (char& c : answer) c = c == '\n' ? ' ' : c;  // one line
    }
    std::cout << answer << std::endl;
  }
  node.close();  // stops the transport, the WAL thread and the io thread
  return 0;
}

// ---- the parent -----------------------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  FILE* to = nullptr;    // its stdin
  FILE* from = nullptr;  // its stdout
};

Child spawn(const std::vector<std::string>& args) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return {};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::execv("/proc/self/exe", argv.data());  // this very binary, in node mode
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  c.to = ::fdopen(in[1], "w");
  c.from = ::fdopen(out[0], "r");
  return c;
}

// Sends one request line and returns the answer line ("" if the node died).
std::string ask(Child& c, const std::string& request) {
  std::fprintf(c.to, "%s\n", request.c_str());
  std::fflush(c.to);
  char buf[4096];
  if (std::fgets(buf, sizeof buf, c.from) == nullptr) return "";
  std::string answer(buf);
  if (!answer.empty() && answer.back() == '\n') answer.pop_back();
  return answer;
}

// A port nothing listens on now (the OS picks it), for a node to listen on.
std::string free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io);
  asio::error_code ec;
  acceptor.open(asio::ip::tcp::v4(), ec);
  acceptor.bind({asio::ip::make_address_v4("127.0.0.1"), 0}, ec);
  return ec ? "0" : std::to_string(acceptor.local_endpoint(ec).port());
}

int run_demo(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir + "/certs");

  // 1. The cluster's identity: a CA, and a certificate naming each node (chorus://node/<id>).
  auto ca = net::generate_ca("tcp_cluster CA", 1);
  if (!ca.ok() || !net::write_pem_files(dir + "/certs", "ca", *ca).ok()) return 1;
  for (uint64_t id = 1; id <= kNodes; ++id) {
    auto cert = net::issue_node_cert(*ca, NodeId(id), 1);
    if (!cert.ok() ||
        !net::write_pem_files(dir + "/certs", "node-" + std::to_string(id), *cert).ok()) {
      return 1;
    }
  }
  std::printf("certificates for a CA and %d nodes in %s/certs\n", kNodes, dir.c_str());

  // 2. Three node processes; every node is told every node's address.
  std::string ports;
  for (int i = 0; i < kNodes; ++i) ports += (i ? "," : "") + free_port();
  std::vector<Child> nodes;
  for (uint64_t id = 1; id <= kNodes; ++id) {
    nodes.push_back(spawn({"tcp_cluster", dir, "node", std::to_string(id), ports}));
    std::printf("node %llu: pid %d\n", (unsigned long long)id, nodes.back().pid);
  }
  std::printf("ports %s\n", ports.c_str());

  // Every node must know the leader before it can forward appends to it.
  bool ok = true;
  for (uint64_t id = 1; id <= kNodes; ++id) {
    std::string leader = ask(nodes[id - 1], "leader");
    std::printf("node %llu: %s\n", (unsigned long long)id, leader.c_str());
    ok = ok && leader.starts_with("leader ");
  }

  // 3. Appends through every node; each answers once its command is committed and applied.
  const char* fruit[] = {"apple", "banana", "cherry", "damson", "elderberry", "fig"};
  for (int i = 0; ok && i < 6; ++i) {
    Child& via = nodes[i % kNodes];
    std::string answer = ask(via, std::string("append ") + fruit[i]);
    std::printf("append %-10s on node %d -> %s\n", fruit[i], i % kNodes + 1, answer.c_str());
    ok = answer.starts_with("sequence ");
  }
  // Linearizable reads: every node returns every command acknowledged above, in one order.
  std::string first;
  for (uint64_t id = 1; ok && id <= kNodes; ++id) {
    std::string read = ask(nodes[id - 1], "read");
    std::printf("read on node %llu -> %s\n", (unsigned long long)id, read.c_str());
    if (id == 1) first = read;
    ok = read == first && read.find("fig") != std::string::npos;
  }

  // 4. A clean stop: each node closes (WAL synced, connections closed) and exits 0.
  for (Child& c : nodes) {
    std::fprintf(c.to, "quit\n");
    std::fclose(c.to);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    std::fclose(c.from);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  std::printf(ok ? "all %d nodes read the same commands\n" : "FAILED (see above)\n", kNodes);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a node that died shows as an empty answer
  std::string dir = argc > 1 ? argv[1] : "./data/tcp-cluster";
  if (argc == 5 && std::string(argv[2]) == "node") {
    std::vector<std::string> ports;
    std::stringstream list(argv[4]);
    for (std::string p; std::getline(list, p, ',');) ports.push_back(p);
    uint64_t id = std::strtoull(argv[3], nullptr, 10);
    if (ports.size() != kNodes || id < 1 || id > kNodes) return 2;
    return run_node(dir, id, ports);
  }
  return run_demo(dir);
}
