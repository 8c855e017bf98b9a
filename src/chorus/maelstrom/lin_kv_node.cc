#include "chorus/maelstrom/lin_kv_node.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "chorus/kv/proposal.h"
#include "chorus/maelstrom/base64.h"
#include "chorus/raft/codec.h"

namespace chorus::maelstrom {
namespace {

// Bounds the Ready loop: the core never needs more than a few rounds after one input.
constexpr int kMaxReadyRounds = 1000;
// Apply replies kept for proposals whose outcome is reported in a later Ready than the apply
// (the core reports in the same Ready, so a handful would do).
constexpr size_t kMaxResults = 4096;

const std::string* string_field(const Json& body, const char* name) {
  const auto it = body.find(name);
  return it != body.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

}  // namespace

LinKvNode::LinKvNode(NodeOptions options) : options_(options) {}
LinKvNode::~LinKvNode() = default;

void LinKvNode::handle(const Json& message, Outbox& out) {
  const Json& body = message["body"];
  const std::string& type = body["type"].get_ref<const std::string&>();
  if (type == "init") return handle_init(message, out);
  if (type == "raft") {
    if (raft_) handle_raft(message);  // before our init a peer's message is lost (resent)
  } else if (type == "read") {
    handle_client(message, Op::kRead, out);
  } else if (type == "write") {
    handle_client(message, Op::kWrite, out);
  } else if (type == "cas") {
    handle_client(message, Op::kCas, out);
  } else if (type.ends_with("_ok") || type == "error") {
    return;  // replies to messages we never send; ignore rather than answer a reply
  } else {
    out.push_back(
        make_reply(message, error_body(ErrorCode::kNotSupported, "unknown type " + type)));
    return;
  }
  if (raft_) drain(out);
}

void LinKvNode::handle_init(const Json& message, Outbox& out) {
  const Json& body = message["body"];
  const std::string* self = string_field(body, "node_id");
  const auto ids = body.find("node_ids");
  if (raft_) {
    out.push_back(make_reply(message, error_body(ErrorCode::kMalformedRequest, "already init")));
    return;
  }
  if (self == nullptr || ids == body.end() || !ids->is_array() || ids->empty()) {
    out.push_back(make_reply(message, error_body(ErrorCode::kMalformedRequest, "bad init")));
    return;
  }
  // NodeId 0 means "no node" to the core, so ids are positions in node_ids plus one: this works
  // for Maelstrom's n0, n1, ... as well as n1..nN, and every node computes the same mapping.
  raft::Config config;
  for (const Json& id : *ids) {
    if (!id.is_string() || ids_.contains(id.get<std::string>())) {
      out.push_back(make_reply(message, error_body(ErrorCode::kMalformedRequest, "bad node_ids")));
      ids_.clear();
      names_.clear();
      return;
    }
    names_.push_back(id.get<std::string>());
    ids_[names_.back()] = NodeId(names_.size());
    config.voters.insert(NodeId(names_.size()));
  }
  const auto me = ids_.find(*self);
  if (me == ids_.end()) {
    out.push_back(make_reply(message, error_body(ErrorCode::kMalformedRequest, "node_id unknown")));
    ids_.clear();
    names_.clear();
    return;
  }
  name_ = *self;
  config.id = me->second;
  config.election_tick = options_.election_tick;
  config.heartbeat_tick = options_.heartbeat_tick;
  config.snapshot_threshold_entries = options_.snapshot_threshold_entries;
  config.snapshot_chunk_bytes = options_.snapshot_chunk_bytes;
  config.random_seed = options_.random_seed;
  if (Status s = config.validate(); !s.ok()) {
    out.push_back(make_reply(message, error_body(ErrorCode::kMalformedRequest, s.ToString())));
    return;
  }
  raft::Bootstrap boot;
  boot.incarnation = options_.incarnation;
  raft_ = std::make_unique<raft::Raft>(config, boot);
  out.push_back(make_reply(message, Json{{"type", "init_ok"}}));
  drain(out);
}

void LinKvNode::handle_raft(const Json& message) {
  const std::string* data = string_field(message["body"], "data");
  if (data == nullptr) return;
  Result<Bytes> bytes = base64_decode(*data);
  if (!bytes.ok()) return;
  Result<raft::Message> m = raft::decode(*bytes);
  if (!m.ok()) {
    std::fprintf(stderr, "%s: undecodable raft message: %s\n", name_.c_str(),
                 m.status().ToString().c_str());
    return;
  }
  // A message is from whoever Maelstrom says sent it, never what its bytes claim.
  const auto from = ids_.find(message["src"].get_ref<const std::string&>());
  if (from == ids_.end() || from->second != m->from) return;
  (void)raft_->step(*m);  // a malformed or misaddressed message is ignored by the core
}

void LinKvNode::handle_client(const Json& message, Op op, Outbox& out) {
  auto fail = [&](ErrorCode code, std::string_view text) {
    out.push_back(make_reply(message, error_body(code, text)));
  };
  if (!raft_) return fail(ErrorCode::kTemporarilyUnavailable, "not initialized");
  const Json& body = message["body"];
  const auto key = body.find("key");
  if (key == body.end()) return fail(ErrorCode::kMalformedRequest, "no key");
  if (pending_count() >= options_.max_pending_requests) {
    return fail(ErrorCode::kTemporarilyUnavailable, "too many requests in flight");
  }
  Pending pending{message, op, to_store_string(*key), now_tick_ + options_.request_timeout_ticks};

  if (op == Op::kRead) {
    const uint64_t id = next_read_id_++;
    if (Status s = raft_->read_index(id); !s.ok()) {
      return fail(ErrorCode::kTemporarilyUnavailable, s.ToString());
    }
    reads_.emplace(id, std::move(pending));
    return;
  }
  kv::Proposal proposal;  // now_ms 0: lin-kv sets no TTLs, and 0 keeps apply deterministic
  if (op == Op::kWrite) {
    const auto value = body.find("value");
    if (value == body.end()) return fail(ErrorCode::kMalformedRequest, "no value");
    proposal.commands.push_back({"SET", pending.key, to_store_string(*value)});
  } else {
    const auto from = body.find("from");
    const auto to = body.find("to");
    if (from == body.end() || to == body.end()) {
      return fail(ErrorCode::kMalformedRequest, "cas needs from and to");
    }
    proposal.commands.push_back({"CAS", pending.key, to_store_string(*from), to_store_string(*to)});
  }
  Result<raft::ProposalId> id = raft_->propose(kv::encode(proposal));
  // Refused before entering any log (no leader known, transfer, too many uncommitted): definite.
  if (!id.ok()) return fail(ErrorCode::kTemporarilyUnavailable, id.status().ToString());
  proposals_.emplace(*id, std::move(pending));
}

void LinKvNode::tick(Outbox& out) {
  ++now_tick_;
  if (!raft_) return;
  raft_->tick();
  expire_requests(out);
  drain(out);
}

void LinKvNode::drain(Outbox& out) {
  CHORUS_ASSERT(raft_ != nullptr, "drain before init");
  for (int i = 0; i < kMaxReadyRounds && raft_->has_ready(); ++i) {
    raft::Ready rd = raft_->ready();
    handle_ready(rd, out);
  }
}

// The order is Ready's (raft.h): snapshot, then "persist" (nothing: memory only), messages,
// acknowledgements (durable at once), apply, reads, outcomes.
void LinKvNode::handle_ready(raft::Ready& rd, Outbox& out) {
  for (const raft::SnapshotChunk& chunk : rd.snapshot_chunks_to_write) write_chunk(chunk);
  if (rd.snapshot_to_install) install_snapshot(*rd.snapshot_to_install);
  for (raft::Message& m : rd.messages) send_raft(std::move(m), out);
  if (!rd.entries.empty()) raft_->on_persisted(rd.entries.back().index, rd.entries.back().term);
  for (raft::Message& m : rd.messages_after_persist) send_raft(std::move(m), out);
  for (const raft::Entry& e : rd.committed_entries) apply(e);
  if (!rd.committed_entries.empty()) raft_->on_applied(applied_);
  for (const raft::ReadState& rs : rd.read_states) {
    auto it = reads_.find(rs.request_id);
    if (it == reads_.end()) continue;  // timed out already
    if (rs.status.ok()) {
      serving_.emplace_back(rs.index, std::move(it->second));
    } else {
      // A read that failed read nothing: definite, whatever the reason.
      out.push_back(make_reply(it->second.request, error_body(ErrorCode::kTemporarilyUnavailable,
                                                              rs.status.ToString())));
    }
    reads_.erase(it);
  }
  for (const raft::ProposalResult& result : rd.proposal_results) {
    auto it = proposals_.find(result.id);
    if (it == proposals_.end()) continue;  // timed out already
    Pending pending = std::move(it->second);
    proposals_.erase(it);
    answer_proposal(result, std::move(pending), out);
  }
  serve_reads(out);
  if (rd.snapshot_request) take_snapshot();
}

void LinKvNode::send_raft(raft::Message m, Outbox& out) {
  if (m.fill_from_snapshot) {
    // The core asks for bytes of a snapshot file; ours is snapshot_bytes_. If that snapshot was
    // replaced since, drop the message: the leader resends from the new one.
    if (m.snapshot.index != snapshot_meta_.index || m.snapshot.term != snapshot_meta_.term ||
        m.offset > snapshot_bytes_.size() || m.count > snapshot_bytes_.size() - m.offset) {
      return;
    }
    raft::fill_snapshot_chunk(
        m, as_bytes(std::string_view(snapshot_bytes_).substr(m.offset, m.count)));
  }
  if (m.to.value() == 0 || m.to.value() > names_.size()) return;
  const std::string& dest = names_[m.to.value() - 1];
  out.push_back(
      make_message(name_, dest, Json{{"type", "raft"}, {"data", base64_encode(raft::encode(m))}}));
}

void LinKvNode::apply(const raft::Entry& entry) {
  CHORUS_ASSERT(entry.index == applied_.next(), "apply out of order");
  applied_ = entry.index;
  if (entry.type != raft::EntryType::kNormal) return;  // no-ops and configuration
  Result<kv::Proposal> proposal = kv::decode_proposal(entry.data);
  // Every node wrote these bytes with kv::encode; anything else is a bug, and applying around it
  // would let replicas diverge.
  CHORUS_ASSERT(proposal.ok(), "undecodable entry at ", entry.index.value(), ": ",
                proposal.status().ToString());
  std::vector<kv::Event> events;
  results_[entry.index] = store_.apply(*proposal, entry.index.value(), events);
  while (results_.size() > kMaxResults) results_.erase(results_.begin());
}

void LinKvNode::answer_proposal(const raft::ProposalResult& result, Pending pending, Outbox& out) {
  auto reply = [&](Json body) { out.push_back(make_reply(pending.request, std::move(body))); };
  if (result.outcome == raft::ProposalOutcome::kFailedDefinite) {
    return reply(error_body(ErrorCode::kTemporarilyUnavailable, result.status.ToString()));
  }
  if (result.outcome == raft::ProposalOutcome::kFailedIndefinite) {
    return reply(error_body(ErrorCode::kTimeout, "outcome unknown: " + result.status.ToString()));
  }
  const auto it = results_.find(result.index);
  if (it == results_.end()) {
    // Committed, but its reply is gone: say nothing definite about what it did.
    return reply(error_body(ErrorCode::kTimeout, "committed; reply lost"));
  }
  const resp::Value& value = it->second;
  if (pending.op == Op::kWrite) {
    if (value.is_error()) return reply(error_body(ErrorCode::kAbort, value.str));
    return reply(Json{{"type", "write_ok"}});
  }
  // CAS replies 1 (swapped), 0 (value differs) or "ERR no such key".
  if (value.type == resp::Type::kInteger && value.integer == 1)
    return reply(Json{{"type", "cas_ok"}});
  if (value.type == resp::Type::kInteger && value.integer == 0) {
    return reply(error_body(ErrorCode::kPreconditionFailed, "value differs from `from`"));
  }
  if (value.is_error() && value.str == "ERR no such key") {
    return reply(error_body(ErrorCode::kKeyDoesNotExist, "no such key"));
  }
  return reply(error_body(ErrorCode::kAbort, value.is_error() ? value.str : "unexpected reply"));
}

// Thesis §6.4: a read is answered once this node applied its read index.
void LinKvNode::serve_reads(Outbox& out) {
  std::erase_if(serving_, [&](std::pair<LogIndex, Pending>& waiting) {
    if (waiting.first > applied_) return false;
    const resp::Value value = store_.read({"GET", waiting.second.key}, 0);
    const Json& request = waiting.second.request;
    if (value.type == resp::Type::kBulkString) {
      if (std::optional<Json> parsed = from_store_string(value.str)) {
        out.push_back(make_reply(request, Json{{"type", "read_ok"}, {"value", *parsed}}));
        return true;
      }
    }
    if (value.type == resp::Type::kNull) {
      out.push_back(make_reply(request, error_body(ErrorCode::kKeyDoesNotExist, "no such key")));
    } else {
      out.push_back(make_reply(request, error_body(ErrorCode::kAbort, "unreadable value")));
    }
    return true;
  });
}

// A request that outlived its deadline gets "0 timeout" (indefinite) and is forgotten: its
// outcome may still arrive, and is then ignored. Maelstrom's own clients time out similarly.
void LinKvNode::expire_requests(Outbox& out) {
  auto expire = [&](const Pending& p) {
    if (p.deadline_tick > now_tick_) return false;
    out.push_back(make_reply(p.request, error_body(ErrorCode::kTimeout, "timed out")));
    return true;
  };
  std::erase_if(proposals_, [&](auto& kv) { return expire(kv.second); });
  std::erase_if(reads_, [&](auto& kv) { return expire(kv.second); });
  std::erase_if(serving_, [&](auto& waiting) { return expire(waiting.second); });
}

size_t LinKvNode::pending_count() const {
  return proposals_.size() + reads_.size() + serving_.size();
}

void LinKvNode::take_snapshot() {
  std::string bytes = store_.snapshot();
  if (Status s = raft_->compact(applied_, bytes.size()); !s.ok()) return;
  if (raft_->snapshot().index != applied_) return;  // already had a newer one
  snapshot_meta_ = raft_->snapshot();
  snapshot_bytes_ = std::move(bytes);
  ++snapshots_taken_;
}

void LinKvNode::write_chunk(const raft::SnapshotChunk& chunk) {
  // The core checked order and checksums; a chunk at offset 0 (or of another snapshot) starts
  // the incoming file over.
  if (chunk.offset == 0 || !incoming_meta_ || !(*incoming_meta_ == chunk.meta)) {
    incoming_meta_ = chunk.meta;
    incoming_bytes_.clear();
  }
  incoming_bytes_.resize(chunk.offset);
  incoming_bytes_.append(as_string_view(chunk.data));
}

void LinKvNode::install_snapshot(const raft::SnapshotMeta& meta) {
  CHORUS_ASSERT(incoming_meta_ && *incoming_meta_ == meta, "snapshot to install was not received");
  const Status restored = store_.restore(incoming_bytes_);
  // The core verified every chunk's checksum: bytes that do not restore are a leader's bug.
  CHORUS_ASSERT(restored.ok(), "received snapshot does not restore: ", restored.ToString());
  applied_ = meta.index;
  snapshot_meta_ = meta;
  snapshot_bytes_ = std::move(incoming_bytes_);
  incoming_bytes_.clear();
  incoming_meta_.reset();
  results_.clear();
  ++snapshots_installed_;
}

std::string LinKvNode::take_leadership_change() {
  if (!raft_) return {};
  const NodeId leader = raft_->leader();
  const Term term = raft_->term();
  if (leader == reported_leader_ && term == reported_term_) return {};
  reported_leader_ = leader;
  reported_term_ = term;
  const std::string who =
      leader.value() == 0 || leader.value() > names_.size() ? "none" : names_[leader.value() - 1];
  return "term " + std::to_string(term.value()) + " leader " + who +
         (raft_->is_leader() ? " (me)" : "");
}

}  // namespace chorus::maelstrom
