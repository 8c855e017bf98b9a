// kv::Store: the replicated key-value state machine of chorusd.
//
// Every node runs one Store and applies the same committed proposals in the same order; apply is
// deterministic (no clocks, no randomness, no iteration order that depends on memory addresses),
// so every node reaches byte-identical state, which state_hash() lets them prove. Commands follow
// Redis 7's semantics for string keys: the same replies, reply types, error strings and keyspace
// notifications.
//
// Time: a proposal carries its proposer's clock; apply runs at max(proposal.now_ms, the last
// applied now_ms), so TTLs never run backwards even when leaders' clocks disagree. A key whose
// expiry time is <= that time is absent: a command that names it deletes it first ("expired"
// event, lazy expiry), and the leader deletes the rest through expire_proposal() (active expiry).
// Reads run at max(now_ms, the last applied now_ms) too and never change anything.
//
// Revisions: apply() takes the log index of the entry; it is the revision of every change the
// entry makes. HISTORY and GETREV read a key's recent changes by revision (see history.h and
// StoreOptions for what is retained), and WATCH compares key_revision()s.
//
// Not thread-safe: one thread applies, reads and snapshots (the node's io thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/base/status.h"
#include "chorus/kv/keyspace.h"
#include "chorus/kv/proposal.h"
#include "chorus/resp/value.h"

namespace chorus::kv {

// A Redis keyspace notification: `event` ("set", "del", "expire", "expired", "rename_from",
// "rename_to", "incrby", "incrbyfloat", "append", "setrange", "persist") happened to `key`,
// published by the server as __keyspace@0__:<key> and __keyevent@0__:<event>.
struct Event {
  std::string event;
  std::string key;

  friend bool operator==(const Event&, const Event&) = default;
};

class Store {
 public:
  explicit Store(StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies a committed proposal at log index `revision` (strictly greater than the last one)
  // and returns its reply: the command's, or for an EXEC block an array of every command's reply
  // (a null array when a WATCHed key changed). Errors are replies, as in Redis: a command that
  // fails changes nothing, and in an EXEC block the others still run. The keyspace events the
  // entry caused are appended to `events`, in order.
  resp::Value apply(const Proposal& proposal, uint64_t revision, std::vector<Event>& events);

  // Answers a read-only command against the current state, at max(now_ms, the last applied
  // time). Never changes anything; a write command gets an error.
  resp::Value read(const std::vector<std::string>& argv, int64_t now_ms) const;

  // The revision of the key's last change (set, delete, expiry, rename, ...), for WATCH. For a
  // key the store keeps nothing about: a floor at least as high as the revision of any deletion
  // it has forgotten (0 while it has forgotten none), so a change to a WATCHed key always makes
  // EXEC fail even after its tombstone is gone (at the cost of the odd spurious failure).
  uint64_t key_revision(std::string_view key) const;

  // Keys expired at `now_ms`, soonest expiry first, at most `limit` of them: what the leader puts
  // in an expire_proposal() for active expiry.
  std::vector<std::string> expired_keys(int64_t now_ms, size_t limit) const;

  // Keys held, including expired ones not deleted yet (DBSIZE leaves those out).
  size_t size() const;
  // An estimate of the bytes the state occupies, for maxmemory and INFO.
  uint64_t memory_bytes() const;
  // XXH3-64 of the canonical state (the snapshot body): keys, values, expiries, histories,
  // tombstones, retention options, last revision and time. Equal on nodes that applied the same
  // entries.
  uint64_t state_hash() const;
  uint64_t last_revision() const { return last_revision_; }
  int64_t now_ms() const { return now_ms_; }
  const StoreOptions& options() const;

  // The whole state, in the format described in snapshot.h. Canonical: equal states give equal
  // bytes.
  std::string snapshot() const;
  // Replaces the whole state with a snapshot's (including its retention options, so every node
  // retains the same history). A snapshot that fails any check (checksum, bounds, order) leaves
  // the store unchanged and returns Corruption.
  [[nodiscard]] Status restore(std::string_view snapshot);

  // Asserts every structural invariant (O(n): for tests and the simulator).
  void check_invariants() const;

 private:
  resp::Value execute(const std::vector<std::string>& argv, std::vector<Event>& events);

  std::unique_ptr<Keyspace> ks_;
  uint64_t last_revision_ = 0;
  int64_t now_ms_ = 0;
};

}  // namespace chorus::kv
