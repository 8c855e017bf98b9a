#include "chorus/node/commit_decoder.h"

namespace chorus::node {

ApplyItem CommitDecoder::decode(raft::Entry entry) {
  ApplyItem item;
  item.origin = entry.origin;
  item.proposal = entry.proposal;
  if (entry.type == raft::EntryType::kNoop) {
    item.kind = ItemKind::kNoop;
  } else if (entry.type == raft::EntryType::kConfigChange) {
    item.kind = ItemKind::kConfigChange;
  } else {
    auto payload = decode_payload(entry.data);
    if (!payload.ok()) {
      item.kind = ItemKind::kMalformed;
      entry.type = raft::EntryType::kNoop;
      entry.data = SharedBytes();
    } else {
      switch (payload->kind) {
        case PayloadKind::kCommand:
          item.kind = ItemKind::kCommand;
          break;
        case PayloadKind::kTxnMember:
          item.kind = ItemKind::kTxnMember;
          item.txn_count = payload->count;
          item.txn_position = payload->position;
          break;
        case PayloadKind::kPeerAddress:
          item.kind = ItemKind::kPeerAddress;
          item.address_node = payload->node;
          item.address = std::string(as_string_view(payload->body));
          break;
      }
      if (item.kind == ItemKind::kPeerAddress) {
        entry.type = raft::EntryType::kNoop;
        entry.data = SharedBytes();
      } else {
        // Strip the header in place: the state machine sees exactly the caller's bytes.
        size_t header = entry.data.size() - payload->body.size();
        entry.data = Bytes(entry.data.begin() + static_cast<ptrdiff_t>(header), entry.data.end());
      }
    }
  }
  item.entry = std::move(entry);
  return item;
}

void CommitDecoder::abort_held(std::vector<ApplyItem>& out) {
  for (ApplyItem& item : held_) {
    item.kind = ItemKind::kAbortedTxn;
    item.entry.type = raft::EntryType::kNoop;
    item.entry.data = SharedBytes();
    out.push_back(std::move(item));
  }
  held_.clear();
  held_count_ = 0;
}

void CommitDecoder::push(raft::Entry entry, std::vector<ApplyItem>& out) {
  ApplyItem item = decode(std::move(entry));
  if (!held_.empty()) {
    const ApplyItem& last = held_.back();
    CHORUS_ASSERT(item.entry.index == last.entry.index.next(),
                  "committed entries out of order: ", item.entry.index, " after ",
                  last.entry.index);
    // The next member of the same proposal batch: same origin, the next proposal id, the next
    // position of the same count.
    bool continues = item.kind == ItemKind::kTxnMember && item.txn_count == held_count_ &&
                     item.txn_position == held_.size() && item.origin == last.origin &&
                     item.proposal == last.proposal.next();
    if (!continues) abort_held(out);
  }
  if (item.kind != ItemKind::kTxnMember) {
    out.push_back(std::move(item));
    return;
  }
  if (held_.empty() && item.txn_position != 0) {
    // The tail of a txn whose head was aborted (or never came): it cannot complete.
    item.kind = ItemKind::kAbortedTxn;
    item.entry.type = raft::EntryType::kNoop;
    item.entry.data = SharedBytes();
    out.push_back(std::move(item));
    return;
  }
  held_count_ = item.txn_count;
  held_.push_back(std::move(item));
  if (held_.size() == held_count_) {
    for (ApplyItem& member : held_) out.push_back(std::move(member));
    held_.clear();
    held_count_ = 0;
  }
}

std::optional<LogIndex> CommitDecoder::held_from() const {
  if (held_.empty()) return std::nullopt;
  return held_.front().entry.index;
}

void CommitDecoder::reset() {
  held_.clear();
  held_count_ = 0;
}

void CommitDecoder::check_invariants() const {
  // Members 0..k-1 of one txn, contiguous, never the whole of it (then it is released).
  CHORUS_ASSERT(held_.size() < held_count_ || (held_.empty() && held_count_ == 0));
  for (size_t i = 0; i < held_.size(); ++i) {
    CHORUS_ASSERT(held_[i].txn_position == i && held_[i].entry.index == held_[0].entry.index + i);
  }
}

}  // namespace chorus::node
