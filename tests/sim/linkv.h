// LinKv: the linearizable key-value register workload (Maelstrom's lin-kv: read, write, cas) as
// a deterministic state machine over Raft entries. Used by the simulator; pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "chorus/base/bytes.h"
#include "chorus/base/status.h"

namespace chorus::sim {

struct KvCommand {
  enum class Op : uint8_t { kWrite = 1, kCas = 2 };
  Op op = Op::kWrite;
  std::string key;
  int64_t value = 0;  // write: the value; cas: the new value
  int64_t from = 0;   // cas: the expected value
};

enum class KvResult : uint8_t { kOk, kPreconditionFailed, kKeyMissing };

Bytes encode_command(const KvCommand& cmd);
Result<KvCommand> decode_command(ByteSpan bytes);

class LinKv {
 public:
  KvResult apply(const KvCommand& cmd);
  std::optional<int64_t> read(const std::string& key) const;
  Bytes snapshot() const;
  Status restore(ByteSpan bytes);
  uint64_t hash() const;  // of the whole state, to compare replicas
  size_t size() const { return data_.size(); }

 private:
  std::map<std::string, int64_t> data_;
};

}  // namespace chorus::sim
