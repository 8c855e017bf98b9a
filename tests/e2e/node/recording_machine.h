// RecordingMachine: the state machine of chorus-node-proc. It keeps every command it applied as
// (sequence, payload), in order, and a running XXH3 chain over them, so the e2e driver can check
// each acknowledged append against every node (`dump`) and compare whole states in one number.
// The whole list travels in snapshots, so a node restored from one still lists everything.
//
// Snapshot format (little-endian), every length bounded by the bytes that remain:
//
//   +-------+--------------+-----------+---------+----------+---------------------------------+
//   | magic | last applied | chain     | n       | entries: (seq u64 | len u32 | bytes) * n   |
//   | u32   | u64          | hash u64  | u32     |                                            |
//   +-------+--------------+-----------+---------+----------+---------------------------------+
#pragma once

#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chorus/base/checksum.h"
#include "chorus/node/state_machine.h"

namespace chorus::e2e {

class RecordingMachine final : public node::StateMachine {
 public:
  static constexpr uint32_t kMagic = 0x52454331;  // "REC1"
  static constexpr size_t kHeaderBytes = 4 + 8 + 8 + 4;
  static constexpr size_t kEntryHeaderBytes = 8 + 4;

  struct Summary {
    uint64_t count = 0;         // commands applied
    uint64_t hash = 0;          // chain over (sequence, payload) of every command
    uint64_t last_applied = 0;  // any entry type
    uint64_t violations = 0;    // apply-contract breaches seen (must stay 0)
  };

  std::vector<Bytes> apply(std::span<const raft::Entry> batch, LogIndex first) override {
    std::lock_guard lock(mu_);
    // The node's contract: contiguous, in order, exactly once. Count breaches; the driver
    // asserts there are none.
    if (batch.empty() || first.value() != summary_.last_applied + 1) ++summary_.violations;
    for (const raft::Entry& e : batch) {
      if (e.index.value() != summary_.last_applied + 1) ++summary_.violations;
      summary_.last_applied = e.index.value();
      if (e.type != raft::EntryType::kNormal) continue;  // no-ops, membership, aborted txns
      std::string payload(as_string_view(e.data));
      summary_.hash = chain(summary_.hash, e.index.value(), payload);
      ++summary_.count;
      entries_.emplace_back(e.index.value(), std::move(payload));
    }
    return std::vector<Bytes>(batch.size());
  }

  // Any read returns the summary: "count hash last_applied".
  Bytes read(ByteSpan) override {
    Summary s = summary();
    return to_bytes(std::to_string(s.count) + " " + std::to_string(s.hash) + " " +
                    std::to_string(s.last_applied));
  }

  Bytes snapshot() override {
    std::lock_guard lock(mu_);
    Bytes out(kHeaderBytes);
    store_le<uint32_t>(out.data(), kMagic);
    store_le<uint64_t>(out.data() + 4, summary_.last_applied);
    store_le<uint64_t>(out.data() + 12, summary_.hash);
    store_le<uint32_t>(out.data() + 20, static_cast<uint32_t>(entries_.size()));
    for (const auto& [seq, payload] : entries_) {
      size_t at = out.size();
      out.resize(at + kEntryHeaderBytes + payload.size());
      store_le<uint64_t>(out.data() + at, seq);
      store_le<uint32_t>(out.data() + at + 8, static_cast<uint32_t>(payload.size()));
      std::memcpy(out.data() + at + kEntryHeaderBytes, payload.data(), payload.size());
    }
    return out;
  }

  Status restore(ByteSpan state) override {
    if (state.size() < kHeaderBytes || load_le<uint32_t>(state.data()) != kMagic) {
      return Status::Corruption("recording snapshot: bad header");
    }
    Summary s;
    s.last_applied = load_le<uint64_t>(state.data() + 4);
    uint64_t hash = load_le<uint64_t>(state.data() + 12);
    uint32_t n = load_le<uint32_t>(state.data() + 20);
    std::vector<std::pair<uint64_t, std::string>> entries;
    size_t at = kHeaderBytes;
    for (uint32_t i = 0; i < n; ++i) {
      if (state.size() - at < kEntryHeaderBytes) return Status::Corruption("recording: truncated");
      uint64_t seq = load_le<uint64_t>(state.data() + at);
      uint32_t len = load_le<uint32_t>(state.data() + at + 8);
      at += kEntryHeaderBytes;
      if (state.size() - at < len) return Status::Corruption("recording: truncated payload");
      std::string payload(as_string_view(state.subspan(at, len)));
      at += len;
      s.hash = chain(s.hash, seq, payload);
      entries.emplace_back(seq, std::move(payload));
    }
    // The same property in two places: the chain recomputed from the entries must be the one
    // the snapshot was taken with.
    if (s.hash != hash || at != state.size()) return Status::Corruption("recording: bad chain");
    s.count = entries.size();
    std::lock_guard lock(mu_);
    s.violations = summary_.violations;
    summary_ = s;
    entries_ = std::move(entries);
    return Status::Ok();
  }

  Summary summary() const {
    std::lock_guard lock(mu_);
    return summary_;
  }
  std::vector<std::pair<uint64_t, std::string>> entries() const {
    std::lock_guard lock(mu_);
    return entries_;
  }

 private:
  static uint64_t chain(uint64_t hash, uint64_t seq, std::string_view payload) {
    std::string buf(16, '\0');
    store_le<uint64_t>(reinterpret_cast<std::byte*>(buf.data()), hash);
    store_le<uint64_t>(reinterpret_cast<std::byte*>(buf.data() + 8), seq);
    buf.append(payload);
    return checksum64(buf);
  }

  // apply/snapshot/restore run on the io thread; the control thread reads summary and entries.
  mutable std::mutex mu_;
  Summary summary_;
  std::vector<std::pair<uint64_t, std::string>> entries_;
};

}  // namespace chorus::e2e
