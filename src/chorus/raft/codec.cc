#include "chorus/raft/codec.h"

#include <string>
#include <type_traits>

namespace chorus::raft {
namespace {

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      u8(static_cast<uint8_t>(v) | 0x80);
      v >>= 7;
    }
    u8(static_cast<uint8_t>(v));
  }
  void fixed64(uint64_t v) {
    size_t at = out_.size();
    out_.resize(at + 8);
    store_le<uint64_t>(out_.data() + at, v);
  }
  void bytes(ByteSpan b) {
    varint(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void string(const std::string& s) { bytes(as_bytes(s)); }

 private:
  Bytes& out_;
};

// Every read checks the bytes that remain; the first failure sticks and later reads return 0.
class Reader {
 public:
  explicit Reader(ByteSpan in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  uint8_t u8() {
    if (!ok_ || remaining() < 1) return fail();
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = u8();
      if (!ok_) return 0;
      if (shift == 63 && b > 1) return fail();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail();
  }
  uint64_t fixed64() {
    if (!ok_ || remaining() < 8) return fail();
    uint64_t v = load_le<uint64_t>(in_.data() + pos_);
    pos_ += 8;
    return v;
  }
  Bytes bytes() {
    uint64_t n = varint();
    if (!ok_ || n > remaining()) {
      fail();
      return {};
    }
    Bytes b(in_.begin() + pos_, in_.begin() + pos_ + n);
    pos_ += n;
    return b;
  }
  std::string string() {
    Bytes b = bytes();
    return std::string(as_string_view(b));
  }
  // A count of items each at least `min_item_bytes` long: bounded by what remains.
  uint64_t count(uint64_t min_item_bytes) {
    uint64_t n = varint();
    if (!ok_ || n > remaining() / min_item_bytes) return fail();
    return n;
  }
  uint64_t fail() {
    ok_ = false;
    return 0;
  }

 private:
  ByteSpan in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void write_entry(Writer& w, const Entry& e) {
  w.varint(e.term.value());
  w.varint(e.index.value());
  w.u8(static_cast<uint8_t>(e.type));
  w.varint(e.origin.value());
  w.varint(e.proposal.value());
  w.bytes(e.data);
}

Entry read_entry(Reader& r) {
  Entry e;
  e.term = Term(r.varint());
  e.index = LogIndex(r.varint());
  uint8_t type = r.u8();
  if (type > static_cast<uint8_t>(EntryType::kConfigChange)) r.fail();
  e.type = static_cast<EntryType>(type);
  e.origin = NodeId(r.varint());
  e.proposal = ProposalId(r.varint());
  e.data = r.bytes();
  return e;
}

void write_configuration(Writer& w, const Configuration& c) {
  w.varint(c.voters.size());
  for (NodeId id : c.voters) w.varint(id.value());
  w.varint(c.learners.size());
  for (NodeId id : c.learners) w.varint(id.value());
  w.varint(c.groups.size());
  for (const auto& [id, label] : c.groups) {
    w.varint(id.value());
    w.string(label);
  }
}

Configuration read_configuration(Reader& r) {
  Configuration c;
  for (uint64_t n = r.count(1); n > 0 && r.ok(); --n) c.voters.insert(NodeId(r.varint()));
  for (uint64_t n = r.count(1); n > 0 && r.ok(); --n) c.learners.insert(NodeId(r.varint()));
  for (uint64_t n = r.count(2); n > 0 && r.ok(); --n) {
    NodeId id(r.varint());
    c.groups[id] = r.string();
  }
  return c;
}

void write_snapshot(Writer& w, const SnapshotMeta& s) {
  w.varint(s.index.value());
  w.varint(s.term.value());
  w.varint(s.size_bytes);
  write_configuration(w, s.config);
}

SnapshotMeta read_snapshot(Reader& r) {
  SnapshotMeta s;
  s.index = LogIndex(r.varint());
  s.term = Term(r.varint());
  s.size_bytes = r.varint();
  s.config = read_configuration(r);
  return s;
}

enum Flag : uint8_t { kReject = 1, kTransfer = 2, kLast = 4, kFill = 8 };

enum Field : uint32_t {
  kFrom,
  kTo,
  kTerm,
  kIndex,
  kLogTerm,
  kCommit,
  kHintIndex,
  kHintTerm,
  kReadSeq,
  kSentTick,
  kRequestId,
  kProposal,
  kCount,
  kOffset,
  kChecksum,
  kSnapshot,
  kEntries,
  kData,
  kFieldCount
};

// The message's integer fields in the order of the present-mask bits.
template <typename M, typename F>
void for_each_int_field(M& m, F&& f) {
  f(kFrom, m.from);
  f(kTo, m.to);
  f(kTerm, m.term);
  f(kIndex, m.index);
  f(kLogTerm, m.log_term);
  f(kCommit, m.commit);
  f(kHintIndex, m.hint_index);
  f(kHintTerm, m.hint_term);
  f(kReadSeq, m.read_seq);
  f(kSentTick, m.sent_tick);
  f(kRequestId, m.request_id);
  f(kProposal, m.proposal);
  f(kCount, m.count);
  f(kOffset, m.offset);
}

template <typename T>
uint64_t raw(const T& v) {
  if constexpr (std::is_integral_v<T>) {
    return v;
  } else {
    return v.value();
  }
}

template <typename T>
void assign(T& field, uint64_t v) {
  if constexpr (std::is_integral_v<T>) {
    field = v;
  } else {
    field = T(v);
  }
}

}  // namespace

Bytes encode(const Message& m) {
  Bytes out;
  out.reserve(32 + m.data.size());
  Writer w(out);
  w.u8(kCodecVersion);
  w.u8(static_cast<uint8_t>(m.type));
  w.u8((m.reject ? kReject : 0) | (m.transfer ? kTransfer : 0) | (m.last ? kLast : 0) |
       (m.fill_from_snapshot ? kFill : 0));
  uint64_t present = 0;
  for_each_int_field(m, [&](Field f, const auto& v) {
    if (raw(v) != 0) present |= uint64_t{1} << f;
  });
  if (m.checksum != 0) present |= uint64_t{1} << kChecksum;
  if (m.snapshot != SnapshotMeta{}) present |= uint64_t{1} << kSnapshot;
  if (!m.entries.empty()) present |= uint64_t{1} << kEntries;
  if (!m.data.empty()) present |= uint64_t{1} << kData;
  w.varint(present);
  for_each_int_field(m, [&](Field f, const auto& v) {
    if (present & (uint64_t{1} << f)) w.varint(raw(v));
  });
  if (present & (uint64_t{1} << kChecksum)) w.fixed64(m.checksum);
  if (present & (uint64_t{1} << kSnapshot)) write_snapshot(w, m.snapshot);
  if (present & (uint64_t{1} << kEntries)) {
    w.varint(m.entries.size());
    for (const Entry& e : m.entries) write_entry(w, e);
  }
  if (present & (uint64_t{1} << kData)) w.bytes(m.data);
  return out;
}

Result<Message> decode(ByteSpan bytes) {
  Reader r(bytes);
  Message m;
  if (r.u8() != kCodecVersion) return Status::Corruption("raft message: unknown version");
  uint8_t type = r.u8();
  if (type == 0 || type > static_cast<uint8_t>(kMaxMessageType)) {
    return Status::Corruption("raft message: unknown type");
  }
  m.type = static_cast<MessageType>(type);
  uint8_t flags = r.u8();
  if (flags & ~(kReject | kTransfer | kLast | kFill)) {
    return Status::Corruption("raft message: unknown flags");
  }
  m.reject = flags & kReject;
  m.transfer = flags & kTransfer;
  m.last = flags & kLast;
  m.fill_from_snapshot = flags & kFill;
  uint64_t present = r.varint();
  if (present >> kFieldCount) return Status::Corruption("raft message: unknown fields");
  for_each_int_field(m, [&](Field f, auto& v) {
    if (present & (uint64_t{1} << f)) assign(v, r.varint());
  });
  if (present & (uint64_t{1} << kChecksum)) m.checksum = r.fixed64();
  if (present & (uint64_t{1} << kSnapshot)) m.snapshot = read_snapshot(r);
  if (present & (uint64_t{1} << kEntries)) {
    uint64_t n = r.count(6);  // an entry is at least 6 bytes
    if (n > kMaxEntriesPerMessage) r.fail();
    m.entries.reserve(n);
    for (uint64_t i = 0; i < n && r.ok(); ++i) m.entries.push_back(read_entry(r));
  }
  if (present & (uint64_t{1} << kData)) m.data = r.bytes();
  if (!r.ok()) return Status::Corruption("raft message: truncated or malformed");
  if (!r.done()) return Status::Corruption("raft message: trailing bytes");
  return m;
}

Bytes encode_entry(const Entry& entry) {
  Bytes out;
  Writer w(out);
  write_entry(w, entry);
  return out;
}

Result<Entry> decode_entry(ByteSpan bytes) {
  Reader r(bytes);
  Entry e = read_entry(r);
  if (!r.ok() || !r.done()) return Status::Corruption("raft entry: truncated or malformed");
  return e;
}

Bytes encode_change(const MembershipChange& change) {
  Bytes out;
  Writer w(out);
  w.u8(kCodecVersion);
  w.u8(static_cast<uint8_t>(change.type));
  w.varint(change.node.value());
  w.string(change.group);
  return out;
}

Result<MembershipChange> decode_change(ByteSpan bytes) {
  Reader r(bytes);
  MembershipChange c;
  if (r.u8() != kCodecVersion) return Status::Corruption("membership change: unknown version");
  uint8_t type = r.u8();
  if (type > static_cast<uint8_t>(MembershipChangeType::kRemove)) r.fail();
  c.type = static_cast<MembershipChangeType>(type);
  c.node = NodeId(r.varint());
  c.group = r.string();
  if (!r.ok() || !r.done()) return Status::Corruption("membership change: truncated or malformed");
  return c;
}

inline constexpr std::byte kBootstrapTag{0xFF};

Bytes encode_bootstrap_configuration(const Configuration& config) {
  Bytes out{kBootstrapTag};
  Writer w(out);
  write_configuration(w, config);
  return out;
}

Result<ConfigEntry> decode_config_entry(ByteSpan bytes) {
  if (!bytes.empty() && bytes[0] == kBootstrapTag) {
    CHORUS_ASSIGN_OR_RETURN(Configuration config, decode_configuration(bytes.subspan(1)));
    return ConfigEntry(std::move(config));
  }
  CHORUS_ASSIGN_OR_RETURN(MembershipChange change, decode_change(bytes));
  return ConfigEntry(std::move(change));
}

Bytes encode_configuration(const Configuration& config) {
  Bytes out;
  Writer w(out);
  write_configuration(w, config);
  return out;
}

Result<Configuration> decode_configuration(ByteSpan bytes) {
  Reader r(bytes);
  Configuration c = read_configuration(r);
  if (!r.ok() || !r.done()) return Status::Corruption("configuration: truncated or malformed");
  return c;
}

std::string_view message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResp:
      return "AppendResp";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResp:
      return "HeartbeatResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResp:
      return "VoteResp";
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResp:
      return "PreVoteResp";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kSnapshotChunk:
      return "SnapshotChunk";
    case MessageType::kSnapshotChunkResp:
      return "SnapshotChunkResp";
    case MessageType::kPropose:
      return "Propose";
    case MessageType::kProposeResp:
      return "ProposeResp";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResp:
      return "ReadIndexResp";
  }
  return "Unknown";
}

}  // namespace chorus::raft
