// KvMachine: the kv::Store behind a RaftNode (node::StateMachine), run on the node's io thread.
//
// A log entry's command is a kv::Proposal; a read's command is a kv::ReadRequest. The result of
// either is the reply, already encoded for the client (reply_for() picks the protocol):
//   - when RESP2 and RESP3 encode the reply alike (OK, integers, bulk strings, errors, arrays of
//     them): those bytes, once;
//   - otherwise (a null, a null array, a map, a double...): '!' <u32 LE length of the RESP2
//     form> <RESP2 form> <RESP3 form>. '!' (RESP3's blob error) is never a reply of ours.
// Keyspace events of each applied entry go to `on_events` (the server's pub/sub) as they are
// applied, on every node.
#pragma once

#include <functional>
#include <vector>

#include "chorus/kv/store.h"
#include "chorus/node/state_machine.h"

namespace chorus::server {

// Encodes a reply as described above, and takes the form for a client's protocol back out.
Bytes encode_reply(const resp::Value& v);
std::string_view reply_for(std::string_view encoded, bool resp3);

class KvMachine final : public node::StateMachine {
 public:
  explicit KvMachine(kv::StoreOptions options) : store_(options) {}

  std::vector<Bytes> apply(std::span<const raft::Entry> batch, LogIndex first) override;
  Bytes read(ByteSpan command) override;
  Bytes snapshot() override;
  [[nodiscard]] Status restore(ByteSpan state) override;

  // The store, for the io thread's direct reads (WATCH revisions, stale reads, INFO).
  const kv::Store& store() const { return store_; }
  void on_events(std::function<void(const std::vector<kv::Event>&)> f) {
    on_events_ = std::move(f);
  }

 private:
  kv::Store store_;
  std::vector<kv::Event> events_;  // reused per entry
  std::function<void(const std::vector<kv::Event>&)> on_events_;
};

}  // namespace chorus::server
