// node_bench: three RaftNodes on loopback over mutual TLS (real sockets, real certificates, real
// fdatasync), measured next to the baselines they cannot beat, taken in the same run on the same
// filesystem:
//   - raw fdatasync: pwrite 100 bytes + fdatasync into a preallocated file, one after another;
//   - loopback round trip: one byte ping-pong over a TCP connection on 127.0.0.1.
// Then, against the cluster (the leader's node is the one called):
//   - append, one in flight:   floor 0.7 x 1 / (fdatasync latency + round trip);
//   - append_batch of 1,000 100-byte entries, several calls in flight: entries/s;
//   - read (linearizable, ReadIndex) with 64 in flight: reads/s.
//
//   build/release/bench/node_bench [--dir=/path] [--seconds=5] [--batches-in-flight=8]
// The data dir must be on the disk under test (default: ./data/node-bench, wiped first).
// Benchmarks are not tests: this prints figures; nothing asserts a time.
#include <fcntl.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chorus/net/certs.h"
#include "chorus/net/tls_transport.h"
#include "chorus/node/raft_node.h"

using namespace chorus;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kNodes = 3;
constexpr size_t kEntryBytes = 100;
constexpr size_t kBatchEntries = 1000;
constexpr size_t kReadsInFlight = 64;

[[noreturn]] void die(const std::string& what, const Status& s = Status::Ok()) {
  std::fprintf(stderr, "node_bench: %s %s\n", what.c_str(), s.ok() ? "" : s.ToString().c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Mean latency of pwrite(100 bytes) + fdatasync into a preallocated file.
double fdatasync_latency_s(const std::string& dir, double seconds) {
  std::string path = dir + "/fdatasync-probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open " + path);
  std::vector<char> zeros(1 << 20, 0);
  for (int i = 0; i < 16; ++i) {
    if (::write(fd, zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size())) {
      die("preallocate");
    }
  }
  if (::fsync(fd) != 0) die("fsync");
  char record[kEntryBytes];
  std::memset(record, 'x', sizeof record);
  uint64_t n = 0;
  auto t0 = Clock::now();
  while (seconds_since(t0) < seconds) {
    off_t off = static_cast<off_t>((n * kEntryBytes) % (16u << 20));
    if (::pwrite(fd, record, sizeof record, off) != static_cast<ssize_t>(sizeof record) ||
        ::fdatasync(fd) != 0) {
      die("pwrite/fdatasync");
    }
    ++n;
  }
  double elapsed = seconds_since(t0);
  ::close(fd);
  ::unlink(path.c_str());
  return elapsed / static_cast<double>(n);
}

// Mean round trip of one byte over a loopback TCP connection (echoed by a second thread).
double loopback_rtt_s(double seconds) {
  using asio::ip::tcp;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  client.set_option(tcp::no_delay(true));
  server.set_option(tcp::no_delay(true));
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    char b;
    asio::error_code ec;
    while (asio::read(server, asio::buffer(&b, 1), ec) == 1 && !ec) {
      asio::write(server, asio::buffer(&b, 1), ec);
      if (ec) break;
    }
  });
  char b = 'p';
  uint64_t n = 0;
  auto t0 = Clock::now();
  while (seconds_since(t0) < seconds) {
    asio::write(client, asio::buffer(&b, 1));
    asio::read(client, asio::buffer(&b, 1));
    ++n;
  }
  double elapsed = seconds_since(t0);
  client.close();
  echo.join();
  return elapsed / static_cast<double>(n);
}

struct Member {
  NodeId id;
  asio::io_context io;
  std::unique_ptr<net::TlsTransport> transport;
  std::unique_ptr<node::RaftNode> node;
};

// Keeps `window` calls in flight for `seconds`: `issue(done)` starts one call and must invoke
// done(ok, items) from its completion. Returns items completed ok per second.
double run_closed_loop(size_t window, double seconds,
                       const std::function<void(std::function<void(bool, uint64_t)>)>& issue) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    size_t outstanding = 0;
    uint64_t items = 0;
    uint64_t failures = 0;
  };
  auto st = std::make_shared<State>();
  auto t0 = Clock::now();
  auto deadline =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::function<void()> start_one;
  start_one = [&, st] {
    issue([&, st](bool ok, uint64_t items) {
      bool again;
      {
        std::lock_guard lock(st->mu);
        if (ok) {
          st->items += items;
        } else {
          ++st->failures;
        }
        again = Clock::now() < deadline;
        if (!again) {
          --st->outstanding;
          st->cv.notify_all();
        }
      }
      if (again) start_one();  // from the completion: keeps the window full
    });
  };
  {
    std::lock_guard lock(st->mu);
    st->outstanding = window;
  }
  for (size_t i = 0; i < window; ++i) start_one();
  std::unique_lock lock(st->mu);
  st->cv.wait(lock, [&] { return st->outstanding == 0; });
  double elapsed = seconds_since(t0);
  if (st->failures > 0) {
    std::fprintf(stderr, "node_bench: %llu calls failed\n",
                 static_cast<unsigned long long>(st->failures));
  }
  return static_cast<double>(st->items) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "./data/node-bench";
  double seconds = 5;
  size_t batches_in_flight = 8;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--dir=", 0) == 0) {
      dir = a.substr(6);
    } else if (a.rfind("--seconds=", 0) == 0) {
      seconds = std::atof(a.c_str() + 10);
    } else if (a.rfind("--batches-in-flight=", 0) == 0) {
      batches_in_flight = static_cast<size_t>(std::atoi(a.c_str() + 20));
    } else {
      std::fprintf(stderr, "usage: node_bench [--dir=DIR] [--seconds=S] [--batches-in-flight=N]\n");
      return 2;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);

  std::printf("baselines (%.0f s each)...\n", seconds / 2);
  const double fsync_s = fdatasync_latency_s(dir, seconds / 2);
  const double rtt_s = loopback_rtt_s(seconds / 2);
  const double ideal_append = 1.0 / (fsync_s + rtt_s);

  auto ca = net::generate_ca("node-bench CA", 1);
  if (!ca.ok()) die("CA", ca.status());
  std::vector<std::unique_ptr<Member>> members;
  for (uint64_t i = 1; i <= kNodes; ++i) {
    auto m = std::make_unique<Member>();
    m->id = NodeId(i);
    auto cert = net::issue_node_cert(*ca, m->id, 1);
    if (!cert.ok()) die("cert", cert.status());
    net::TlsTransportOptions t;
    t.self = m->id;
    t.cluster_name = "node-bench";
    t.ca_pem = ca->cert_pem;
    t.cert_pem = cert->cert_pem;
    t.key_pem = cert->key_pem;
    t.log = [](std::string_view) {};
    auto transport = net::TlsTransport::create(m->io, std::move(t));
    if (!transport.ok()) die("transport", transport.status());
    m->transport = std::move(*transport);
    members.push_back(std::move(m));
  }
  for (auto& m : members) {
    node::NodeOptions o;
    o.id = m->id;
    for (auto& p : members) {
      o.voters.insert(p->id);
      o.peers[p->id] = "127.0.0.1:" + std::to_string(p->transport->local_port());
    }
    o.snapshot_threshold_entries = 1'000'000;
    m->node = std::make_unique<node::RaftNode>(o, m->io, FileSystem::posix(),
                                               dir + "/node-" + std::to_string(m->id.value()),
                                               *m->transport);
    if (Status s = m->node->open(); !s.ok()) die("open", s);
  }
  node::LeaderResult leader = members[0]->node->async_await_leader(30s, asio::use_future).get();
  if (!leader.status.ok()) die("no leader", leader.status);
  node::RaftNode& n = *members[leader.leader.value() - 1]->node;
  std::printf("leader: node %llu\n", static_cast<unsigned long long>(leader.leader.value()));

  const Bytes entry(kEntryBytes, std::byte{'v'});
  // Warm up: connections, the leader's no-op, the first segment.
  if (!n.async_append(entry, asio::use_future).get().status.ok()) die("warm-up append");

  const double append_rate = run_closed_loop(1, seconds, [&](auto done) {
    n.async_append(entry, [done](node::AppendResult r) { done(r.status.ok(), 1); });
  });
  const std::vector<Bytes> batch(kBatchEntries, entry);
  const double batch_rate = run_closed_loop(batches_in_flight, seconds, [&](auto done) {
    n.async_append_batch(batch, [done](node::BatchResult r) {
      done(r.status.ok(), r.status.ok() ? r.results.size() : 0);
    });
  });
  const double read_rate = run_closed_loop(kReadsInFlight, seconds, [&](auto done) {
    n.async_read({}, [done](node::ReadResult r) { done(r.status.ok(), 1); });
  });
  node::NodeMetrics metrics = n.metrics();
  for (auto& m : members) m->node->close();

  std::printf("\n%-52s %14s\n", "measure", "result");
  std::printf("%-52s %11.1f us\n", "raw fdatasync latency (100 B pwrite + fdatasync)",
              fsync_s * 1e6);
  std::printf("%-52s %11.1f us\n", "loopback TCP round trip (1 byte)", rtt_s * 1e6);
  std::printf("%-52s %12.0f /s\n", "ideal one-in-flight: 1 / (fdatasync + round trip)",
              ideal_append);
  std::printf("%-52s %12.0f /s  = %.2f x ideal (floor 0.7)\n", "append, one in flight", append_rate,
              append_rate / ideal_append);
  std::printf(
      "%-52s %12.0f /s  (floor 1,000,000)\n",
      ("append_batch x1000, " + std::to_string(batches_in_flight) + " in flight (entries)").c_str(),
      batch_rate);
  std::printf("%-52s %12.0f /s\n", "read (linearizable), 64 in flight", read_rate);
  std::printf("leader: %llu fsyncs, %llu entries written\n",
              static_cast<unsigned long long>(metrics.fsyncs),
              static_cast<unsigned long long>(metrics.wal_entries));
  std::filesystem::remove_all(dir, ec);
  return 0;
}
