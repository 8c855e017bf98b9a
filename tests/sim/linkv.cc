#include "linkv.h"

#include "chorus/base/checksum.h"

namespace chorus::sim {

// command: op u8 | value i64 | from i64 | key_len u32 | key
Bytes encode_command(const KvCommand& cmd) {
  Bytes out(21 + cmd.key.size());
  out[0] = static_cast<std::byte>(cmd.op);
  store_le<int64_t>(out.data() + 1, cmd.value);
  store_le<int64_t>(out.data() + 9, cmd.from);
  store_le<uint32_t>(out.data() + 17, static_cast<uint32_t>(cmd.key.size()));
  std::memcpy(out.data() + 21, cmd.key.data(), cmd.key.size());
  return out;
}

Result<KvCommand> decode_command(ByteSpan b) {
  if (b.size() < 21) return Status::Corruption("kv command too short");
  KvCommand cmd;
  auto op = static_cast<uint8_t>(b[0]);
  if (op != 1 && op != 2) return Status::Corruption("unknown kv op");
  cmd.op = static_cast<KvCommand::Op>(op);
  cmd.value = load_le<int64_t>(b.data() + 1);
  cmd.from = load_le<int64_t>(b.data() + 9);
  uint32_t len = load_le<uint32_t>(b.data() + 17);
  if (len != b.size() - 21) return Status::Corruption("kv command key length");
  cmd.key.assign(reinterpret_cast<const char*>(b.data() + 21), len);
  return cmd;
}

KvResult LinKv::apply(const KvCommand& cmd) {
  if (cmd.op == KvCommand::Op::kWrite) {
    data_[cmd.key] = cmd.value;
    return KvResult::kOk;
  }
  auto it = data_.find(cmd.key);
  if (it == data_.end()) return KvResult::kKeyMissing;
  if (it->second != cmd.from) return KvResult::kPreconditionFailed;
  it->second = cmd.value;
  return KvResult::kOk;
}

std::optional<int64_t> LinKv::read(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

// snapshot: count u32 | (key_len u32 | key | value i64) * count
Bytes LinKv::snapshot() const {
  Bytes out(4);
  store_le<uint32_t>(out.data(), static_cast<uint32_t>(data_.size()));
  for (const auto& [k, v] : data_) {
    size_t at = out.size();
    out.resize(at + 12 + k.size());
    store_le<uint32_t>(out.data() + at, static_cast<uint32_t>(k.size()));
    std::memcpy(out.data() + at + 4, k.data(), k.size());
    store_le<int64_t>(out.data() + at + 4 + k.size(), v);
  }
  return out;
}

Status LinKv::restore(ByteSpan b) {
  std::map<std::string, int64_t> data;
  if (b.size() < 4) return Status::Corruption("kv snapshot too short");
  uint32_t n = load_le<uint32_t>(b.data());
  size_t at = 4;
  for (uint32_t i = 0; i < n; ++i) {
    if (b.size() - at < 4) return Status::Corruption("kv snapshot truncated");
    uint32_t len = load_le<uint32_t>(b.data() + at);
    if (b.size() - at - 4 < uint64_t{len} + 8) return Status::Corruption("kv snapshot truncated");
    std::string key(reinterpret_cast<const char*>(b.data() + at + 4), len);
    data[key] = load_le<int64_t>(b.data() + at + 4 + len);
    at += 12 + len;
  }
  if (at != b.size()) return Status::Corruption("kv snapshot has trailing bytes");
  data_ = std::move(data);
  return Status::Ok();
}

uint64_t LinKv::hash() const { return checksum64(snapshot()); }

}  // namespace chorus::sim
