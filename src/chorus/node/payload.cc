#include "chorus/node/payload.h"

namespace chorus::node {
namespace {

void put_u32(Bytes& out, uint32_t v) {
  size_t at = out.size();
  out.resize(at + 4);
  store_le<uint32_t>(out.data() + at, v);
}

void put_u64(Bytes& out, uint64_t v) {
  size_t at = out.size();
  out.resize(at + 8);
  store_le<uint64_t>(out.data() + at, v);
}

void put_bytes(Bytes& out, ByteSpan b) { out.insert(out.end(), b.begin(), b.end()); }

// Reads fixed-width fields off the front of a span, refusing to run past its end.
class Reader {
 public:
  explicit Reader(ByteSpan in) : in_(in) {}
  bool u32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = load_le<uint32_t>(in_.data());
    in_ = in_.subspan(4);
    return true;
  }
  bool u64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = load_le<uint64_t>(in_.data());
    in_ = in_.subspan(8);
    return true;
  }
  bool take(size_t n, ByteSpan& out) {
    if (in_.size() < n) return false;
    out = in_.first(n);
    in_ = in_.subspan(n);
    return true;
  }
  ByteSpan rest() const { return in_; }

 private:
  ByteSpan in_;
};

}  // namespace

Bytes frame_command(ByteSpan command) {
  Bytes out;
  out.reserve(kCommandHeaderBytes + command.size());
  out.push_back(std::byte{static_cast<uint8_t>(PayloadKind::kCommand)});
  put_bytes(out, command);
  return out;
}

Bytes frame_txn_member(uint32_t count, uint32_t position, ByteSpan command) {
  CHORUS_ASSERT(position < count && count <= kMaxTxnEntries);
  Bytes out;
  out.reserve(kTxnHeaderBytes + command.size());
  out.push_back(std::byte{static_cast<uint8_t>(PayloadKind::kTxnMember)});
  put_u32(out, count);
  put_u32(out, position);
  put_bytes(out, command);
  return out;
}

Bytes frame_peer_address(NodeId node, std::string_view address) {
  Bytes out;
  out.reserve(kAddressHeaderBytes + address.size());
  out.push_back(std::byte{static_cast<uint8_t>(PayloadKind::kPeerAddress)});
  put_u64(out, node.value());
  put_bytes(out, as_bytes(address));
  return out;
}

Result<Payload> decode_payload(ByteSpan data) {
  if (data.empty()) return Status::Corruption("empty entry payload");
  Payload p;
  Reader r(data.subspan(1));
  switch (static_cast<uint8_t>(data[0])) {
    case static_cast<uint8_t>(PayloadKind::kCommand):
      p.kind = PayloadKind::kCommand;
      break;
    case static_cast<uint8_t>(PayloadKind::kTxnMember):
      p.kind = PayloadKind::kTxnMember;
      if (!r.u32(p.count) || !r.u32(p.position)) return Status::Corruption("short txn header");
      if (p.count == 0 || p.count > kMaxTxnEntries || p.position >= p.count) {
        return Status::Corruption("txn member " + std::to_string(p.position) + " of " +
                                  std::to_string(p.count));
      }
      break;
    case static_cast<uint8_t>(PayloadKind::kPeerAddress): {
      p.kind = PayloadKind::kPeerAddress;
      uint64_t id = 0;
      if (!r.u64(id)) return Status::Corruption("short peer address header");
      p.node = NodeId(id);
      break;
    }
    default:
      return Status::Corruption("unknown entry payload kind " +
                                std::to_string(static_cast<uint8_t>(data[0])));
  }
  p.body = r.rest();
  return p;
}

Bytes encode_snapshot_envelope(const AddressBook& book, ByteSpan state_machine) {
  Bytes out;
  put_u32(out, kSnapshotEnvelopeMagic);
  put_u32(out, static_cast<uint32_t>(book.size()));
  for (const auto& [id, address] : book) {
    put_u64(out, id.value());
    put_u32(out, static_cast<uint32_t>(address.size()));
    put_bytes(out, as_bytes(address));
  }
  put_bytes(out, state_machine);
  return out;
}

Result<SnapshotEnvelope> decode_snapshot_envelope(ByteSpan data) {
  Reader r(data);
  uint32_t magic = 0, n = 0;
  if (!r.u32(magic) || magic != kSnapshotEnvelopeMagic) {
    return Status::Corruption("snapshot state does not start with the node envelope");
  }
  if (!r.u32(n)) return Status::Corruption("short snapshot envelope");
  SnapshotEnvelope env;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    uint32_t len = 0;
    ByteSpan address;
    // Each entry takes at least 12 bytes, so a hostile n fails here before allocating much.
    if (!r.u64(id) || !r.u32(len) || !r.take(len, address)) {
      return Status::Corruption("snapshot envelope address " + std::to_string(i) + " truncated");
    }
    env.book[NodeId(id)] = std::string(as_string_view(address));
  }
  env.state_machine = r.rest();
  return env;
}

}  // namespace chorus::node
