// Snapshots (§7, thesis §5): the driver snapshots the state machine when asked and calls
// compact(); a follower that needs compacted entries is sent the snapshot in chunks.
//
// The core never holds snapshot bytes. The leader's core emits kSnapshotChunk messages with
// (snapshot meta, offset, count) and fill_from_snapshot set; the driver reads those bytes from
// its snapshot file and fill_snapshot_chunk() adds them with an XXH3 checksum. The follower's
// core checks checksum and offset, hands the bytes out in Ready::snapshot_chunks_to_write, acks
// the next offset it wants (after the chunk is durable), and after the last chunk hands out
// Ready::snapshot_to_install. One chunk is in flight per follower; a lost chunk is resent from
// the acknowledged offset after an election timeout, so a transfer resumes where it stopped.
#include "chorus/base/checksum.h"
#include "chorus/raft/raft.h"

namespace chorus::raft {

Status Raft::compact(LogIndex index, uint64_t size_bytes) {
  if (index <= snapshot_.index) return Status::Ok();
  if (index > log_.applied()) return Status::InvalidArgument("compact beyond the applied index");
  SnapshotMeta meta{index, *log_.term(index), config_at(index), size_bytes};
  log_.compact(index);
  snapshot_ = std::move(meta);
  while (config_history_.size() > 1 && config_history_[1].first <= index) {
    config_history_.erase(config_history_.begin());
  }
  snapshot_requested_ = false;
  return Status::Ok();
}

void Raft::send_snapshot_chunk(NodeId to, Progress& pr) {
  if (pr.snapshot.meta != snapshot_) pr.become_snapshot(snapshot_);  // a newer one replaced it
  SnapshotTransfer& transfer = pr.snapshot;
  if (transfer.last_sent || transfer.sent_offset > transfer.acked_offset) return;
  const uint64_t size = transfer.meta.size_bytes;
  const uint64_t length = std::min(config_.snapshot_chunk_bytes, size - transfer.sent_offset);
  send(Message{.type = MessageType::kSnapshotChunk,
               .to = to,
               .count = length,
               .snapshot = transfer.meta,
               .offset = transfer.sent_offset,
               .last = transfer.sent_offset + length == size,
               .fill_from_snapshot = true});
  transfer.sent_offset += length;
  transfer.last_sent = transfer.sent_offset == size;
  transfer.sent_at_tick = now_;
}

void Raft::resend_stalled_snapshots() {
  for (auto& [id, pr] : leader_state().progress) {
    if (pr.state != ProgressState::kSnapshot) continue;
    if (now_ - pr.snapshot.sent_at_tick < config_.election_tick) continue;
    pr.snapshot.sent_offset = pr.snapshot.acked_offset;  // resume from what was acknowledged
    pr.snapshot.last_sent = false;
    send_snapshot_chunk(id, pr);
  }
}

void Raft::handle_snapshot_chunk_response(const Message& m) {
  auto it = leader_state().progress.find(m.from);
  if (it == leader_state().progress.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.last && !m.reject) {
    // Installed (or not needed): the follower's log matches ours up to m.index.
    pr.maybe_update(m.index);
    if (pr.state == ProgressState::kSnapshot) pr.become_probe();
    send_append(m.from, pr, /*send_if_empty=*/true);
    return;
  }
  SnapshotTransfer& transfer = pr.snapshot;
  if (pr.state != ProgressState::kSnapshot || m.hint_index != transfer.meta.index ||
      m.hint_term != transfer.meta.term) {
    return;  // about another snapshot
  }
  if (m.reject) {
    transfer.acked_offset = transfer.sent_offset = std::min(m.offset, transfer.meta.size_bytes);
    transfer.last_sent = false;
  } else if (m.offset > transfer.acked_offset && m.offset <= transfer.sent_offset) {
    transfer.acked_offset = m.offset;
  }
  send_snapshot_chunk(m.from, pr);
}

Status Raft::handle_snapshot_chunk(const Message& m) {
  const SnapshotMeta& meta = m.snapshot;
  auto respond = [&](uint64_t offset, bool reject, bool done, LogIndex index) {
    send_after_persist(Message{.type = MessageType::kSnapshotChunkResp,
                               .to = m.from,
                               .index = index,
                               .reject = reject,
                               .hint_index = meta.index,
                               .hint_term = meta.term,
                               .offset = offset,
                               .last = done});
  };
  if (meta.index <= log_.committed()) {
    respond(meta.size_bytes, false, true, log_.committed());  // we already have all of it
    return Status::Ok();
  }
  if (!incoming_snapshot_ || incoming_snapshot_->meta != meta ||
      incoming_snapshot_->leader_term != m.term || m.offset == 0) {
    if (m.offset != 0) {
      respond(0, /*reject=*/true, false, LogIndex(0));  // start this transfer over
      return Status::Ok();
    }
    incoming_snapshot_ = IncomingSnapshot{meta, m.term, 0};  // offset 0 (re)starts the file
  }
  const uint64_t expected = incoming_snapshot_->next_offset;
  if (m.offset != expected) {
    // A duplicate (behind) is acknowledged; a gap (ahead: a chunk was lost) asks to resume.
    respond(expected, /*reject=*/m.offset > expected, false, LogIndex(0));
    return Status::Ok();
  }
  const uint64_t size = m.data.size();
  if (m.fill_from_snapshot || size != m.count || checksum64(m.data) != m.checksum ||
      size > meta.size_bytes - m.offset || m.last != (m.offset + size == meta.size_bytes)) {
    respond(expected, /*reject=*/true, false, LogIndex(0));
    return Status::Corruption("snapshot chunk fails its checksum or bounds");
  }
  chunks_to_write_.push_back(SnapshotChunk{meta, m.offset, m.data});
  incoming_snapshot_->next_offset += size;
  if (!m.last) {
    respond(incoming_snapshot_->next_offset, false, false, LogIndex(0));
    return Status::Ok();
  }
  install_snapshot(meta);
  respond(meta.size_bytes, false, true, meta.index);
  return Status::Ok();
}

void Raft::install_snapshot(const SnapshotMeta& meta) {
  incoming_snapshot_.reset();
  log_.restore(meta.index, meta.term);
  snapshot_ = meta;
  rebuild_config_history(meta.config, meta.index);
  snapshot_to_install_ = meta;
  snapshot_requested_ = false;
  // Proposals the snapshot covers may or may not be in it: we cannot tell.
  for (auto it = pending_proposals_.begin(); it != pending_proposals_.end();) {
    if (it->second.acked && it->second.index <= meta.index) {
      proposal_results_.push_back({it->first, ProposalOutcome::kFailedIndefinite, it->second.index,
                                   Status::Timeout("covered by an installed snapshot")});
      it = pending_proposals_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace chorus::raft
