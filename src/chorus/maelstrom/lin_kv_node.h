// LinKvNode: one Maelstrom lin-kv node -- the chorus Raft core and kv::Store behind Maelstrom's
// JSON messages. Deterministic and free of I/O: main.cc feeds it the lines read from stdin and a
// tick every tick_ms, and writes out what it returns. Raft messages between nodes travel as
// Maelstrom messages {"type":"raft","data":<base64 of raft::encode>} addressed to the peer.
//
// Client operations:
//   write k v     -> SET k v through the log                         -> write_ok
//   cas k from to -> CAS k from to through the log: 1 / 0 / no such key -> cas_ok / 22 / 20
//   read k        -> ReadIndex (thesis §6.4), then GET k once applied -> read_ok / 20
// Followers forward proposals and reads to the leader inside the core (thesis §6.2). Errors are
// definite (11) only where the core says the operation never entered a log; an outcome the
// core cannot vouch for (leadership lost after the append, a request that outlived
// request_timeout_ticks) is answered with the indefinite code 0.
//
// Storage is memory only: the core keeps its log in memory and "persisting" a Ready is a no-op.
// That is enough for Maelstrom, which never restarts a node with its data; a node that lost its
// memory must not rejoin the same cluster (it would forget its votes and acknowledgements).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/kv/store.h"
#include "chorus/maelstrom/protocol.h"
#include "chorus/raft/raft.h"

namespace chorus::maelstrom {

struct NodeOptions {
  uint32_t election_tick = 15;  // with 10 ms ticks: elections after 150-300 ms of silence
  uint32_t heartbeat_tick = 2;
  uint64_t snapshot_threshold_entries = 10000;
  uint64_t snapshot_chunk_bytes = 64 << 10;  // JSON lines stay small
  uint64_t request_timeout_ticks = 500;      // then the client hears "0 timeout"
  size_t max_pending_requests = 10000;       // beyond: 11 temporarily unavailable
  uint64_t random_seed = 0;                  // election timeouts; mixed with the node id
  uint32_t incarnation = 0;                  // see raft::Bootstrap
};

class LinKvNode {
 public:
  using Outbox = std::vector<Json>;

  explicit LinKvNode(NodeOptions options);
  ~LinKvNode();

  // One message from stdin. Appends whatever must be written to stdout.
  void handle(const Json& message, Outbox& out);
  // One unit of time.
  void tick(Outbox& out);

  bool initialized() const { return raft_ != nullptr; }
  bool is_leader() const { return raft_ && raft_->is_leader(); }
  uint64_t snapshots_taken() const { return snapshots_taken_; }
  uint64_t snapshots_installed() const { return snapshots_installed_; }
  const std::string& name() const { return name_; }
  // "leader n1 term 3" when it changed since the last call, for the log; empty otherwise.
  std::string take_leadership_change();

 private:
  enum class Op : uint8_t { kRead, kWrite, kCas };
  struct Pending {
    Json request;  // the client's message, to reply to
    Op op = Op::kRead;
    std::string key;  // store form
    uint64_t deadline_tick = 0;
  };

  void handle_init(const Json& message, Outbox& out);
  void handle_raft(const Json& message);
  void handle_client(const Json& message, Op op, Outbox& out);
  void drain(Outbox& out);
  void handle_ready(raft::Ready& rd, Outbox& out);
  void send_raft(raft::Message m, Outbox& out);
  void apply(const raft::Entry& entry);
  void take_snapshot();
  void write_chunk(const raft::SnapshotChunk& chunk);
  void install_snapshot(const raft::SnapshotMeta& meta);
  void answer_proposal(const raft::ProposalResult& result, Pending pending, Outbox& out);
  void serve_reads(Outbox& out);
  void expire_requests(Outbox& out);
  size_t pending_count() const;

  NodeOptions options_;
  std::string name_;
  std::vector<std::string> names_;  // index i is NodeId i + 1
  std::map<std::string, NodeId> ids_;
  std::unique_ptr<raft::Raft> raft_;
  kv::Store store_;
  LogIndex applied_;
  uint64_t now_tick_ = 0;
  uint64_t next_read_id_ = 1;

  std::map<raft::ProposalId, Pending> proposals_;
  std::map<uint64_t, Pending> reads_;                  // read_index request id -> request
  std::vector<std::pair<LogIndex, Pending>> serving_;  // reads waiting for applied >= index
  std::map<LogIndex, resp::Value> results_;            // recent apply replies, by index

  // The latest snapshot taken or installed (the bytes a leader streams to lagging followers),
  // and the one being received.
  raft::SnapshotMeta snapshot_meta_;
  std::string snapshot_bytes_;
  std::optional<raft::SnapshotMeta> incoming_meta_;
  std::string incoming_bytes_;

  uint64_t snapshots_taken_ = 0;
  uint64_t snapshots_installed_ = 0;
  NodeId reported_leader_;
  Term reported_term_;
};

}  // namespace chorus::maelstrom
