#include "chorus/node/snapshot_file.h"

#include "chorus/base/checksum.h"
#include "chorus/raft/codec.h"

namespace chorus::node {

Bytes encode_snapshot_trailer(const raft::SnapshotMeta& meta, ByteSpan state) {
  CHORUS_ASSERT(meta.size_bytes == state.size(), "snapshot meta size ", meta.size_bytes,
                " != state ", state.size());
  Bytes config = raft::encode_configuration(meta.config);
  const size_t meta_len = kSnapshotMetaFixedBytes + config.size();
  Bytes out(meta_len + kSnapshotTrailerBytes);
  std::byte* p = out.data();
  store_le<uint64_t>(p, meta.index.value());
  store_le<uint64_t>(p + 8, meta.term.value());
  store_le<uint64_t>(p + 16, meta.size_bytes);
  std::memcpy(p + kSnapshotMetaFixedBytes, config.data(), config.size());
  p += meta_len;
  store_le<uint32_t>(p, static_cast<uint32_t>(meta_len));
  store_le<uint32_t>(p + 4, kSnapshotVersion);
  store_le<uint64_t>(p + 8, kSnapshotMagic);
  Checksummer sum;
  sum.update(state);
  sum.update(ByteSpan(out.data(), out.size() - 8));
  store_le<uint64_t>(p + 16, sum.digest());
  return out;
}

Bytes encode_snapshot_file(const raft::SnapshotMeta& meta, ByteSpan state) {
  Bytes out(state.begin(), state.end());
  Bytes trailer = encode_snapshot_trailer(meta, state);
  out.insert(out.end(), trailer.begin(), trailer.end());
  return out;
}

Result<DecodedSnapshot> decode_snapshot_file(ByteSpan file) {
  if (file.size() < kSnapshotTrailerBytes + kSnapshotMetaFixedBytes) {
    return Status::Corruption("snapshot file of " + std::to_string(file.size()) +
                              " bytes is too short");
  }
  const std::byte* t = file.data() + file.size() - kSnapshotTrailerBytes;
  if (load_le<uint64_t>(t + 8) != kSnapshotMagic) return Status::Corruption("not a snapshot file");
  if (load_le<uint32_t>(t + 4) != kSnapshotVersion) {
    return Status::Corruption("unknown snapshot format version " +
                              std::to_string(load_le<uint32_t>(t + 4)));
  }
  if (load_le<uint64_t>(t + 16) != checksum64(file.first(file.size() - 8))) {
    return Status::Corruption("snapshot checksum mismatch");
  }
  uint64_t meta_len = load_le<uint32_t>(t);
  if (meta_len < kSnapshotMetaFixedBytes || meta_len > file.size() - kSnapshotTrailerBytes) {
    return Status::Corruption("snapshot meta length out of range");
  }
  const size_t state_len = file.size() - kSnapshotTrailerBytes - meta_len;
  const std::byte* m = file.data() + state_len;
  DecodedSnapshot out;
  out.meta.index = LogIndex(load_le<uint64_t>(m));
  out.meta.term = Term(load_le<uint64_t>(m + 8));
  out.meta.size_bytes = load_le<uint64_t>(m + 16);
  if (out.meta.size_bytes != state_len) return Status::Corruption("snapshot size mismatch");
  CHORUS_ASSIGN_OR_RETURN(out.meta.config,
                          raft::decode_configuration(ByteSpan(m + kSnapshotMetaFixedBytes,
                                                              meta_len - kSnapshotMetaFixedBytes)));
  out.state = file.first(state_len);
  return out;
}

}  // namespace chorus::node
