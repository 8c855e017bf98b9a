#include "chorus/server/kv_machine.h"

#include "chorus/resp/encoder.h"

namespace chorus::server {
namespace {

bool same_in_both(const resp::Value& v) {
  switch (v.type) {
    case resp::Type::kSimpleString:
    case resp::Type::kError:
    case resp::Type::kInteger:
    case resp::Type::kBulkString:
      return true;
    case resp::Type::kArray:
      for (const resp::Value& e : v.elements) {
        if (!same_in_both(e)) return false;
      }
      return true;
    default:
      return false;
  }
}

Bytes reply_bytes(const resp::Value& v) { return encode_reply(v); }

}  // namespace

Bytes encode_reply(const resp::Value& v) {
  std::string out;
  if (same_in_both(v)) {
    resp::encode(v, resp::Protocol::kResp3, out);
  } else {
    std::string two = resp::encode(v, resp::Protocol::kResp2);
    out.push_back('!');
    out.resize(5);
    store_le<uint32_t>(reinterpret_cast<std::byte*>(out.data() + 1),
                       static_cast<uint32_t>(two.size()));
    out += two;
    resp::encode(v, resp::Protocol::kResp3, out);
  }
  return to_bytes(out);
}

std::string_view reply_for(std::string_view encoded, bool resp3) {
  if (encoded.size() < 5 || encoded[0] != '!') return encoded;
  const uint32_t two = load_le<uint32_t>(reinterpret_cast<const std::byte*>(encoded.data() + 1));
  CHORUS_ASSERT(5 + static_cast<size_t>(two) <= encoded.size(), "malformed reply encoding");
  return resp3 ? encoded.substr(5 + two) : encoded.substr(5, two);
}

std::vector<Bytes> KvMachine::apply(std::span<const raft::Entry> batch, LogIndex) {
  std::vector<Bytes> results;
  results.reserve(batch.size());
  for (const raft::Entry& e : batch) {
    if (e.type != raft::EntryType::kNormal) {
      results.emplace_back();  // no-op / membership: no command
      continue;
    }
    Result<kv::Proposal> p = kv::decode_proposal(e.data.span());
    if (!p.ok()) {
      // Only chorusd writes these entries, so this is a bug or a foreign log: answer it, change
      // nothing, and keep every node identical (they all decode the same bytes the same way).
      results.push_back(
          reply_bytes(resp::Value::error("ERR undecodable log entry: " + p.status().message())));
      continue;
    }
    events_.clear();
    resp::Value reply = store_.apply(*p, e.index.value(), events_);
    if (!events_.empty() && on_events_) on_events_(events_);
    results.push_back(reply_bytes(reply));
  }
  return results;
}

Bytes KvMachine::read(ByteSpan command) {
  Result<kv::ReadRequest> r = kv::decode_read(command);
  if (!r.ok()) return reply_bytes(resp::Value::error("ERR bad read request"));
  return reply_bytes(store_.read(r->argv, r->now_ms));
}

Bytes KvMachine::snapshot() { return to_bytes(store_.snapshot()); }

Status KvMachine::restore(ByteSpan state) { return store_.restore(as_string_view(state)); }

}  // namespace chorus::server
