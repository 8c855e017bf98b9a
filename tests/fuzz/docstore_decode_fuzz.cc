// Feeds arbitrary bytes to every docstore decoder: op records, the manifest, and a snapshot file
// (through SimFileSystem, as the store reads it). None may crash or read out of bounds; what
// decodes must re-encode to an equal value.
#include <cstddef>
#include <cstdint>

#include "chorus/base/sim_file_system.h"
#include "chorus/docstore/format.h"
#include "chorus/docstore/snapshot.h"

using namespace chorus;
using namespace chorus::docstore;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(reinterpret_cast<const std::byte*>(data), size);
  if (auto rec = decode_record(in); rec.ok() && rec->kind == RecordKind::kOps) {
    auto again = decode_record(encode_ops_record(rec->ops));
    CHORUS_ASSERT(again.ok() && again->ops == rec->ops, "op record round trip");
  }
  if (auto m = decode_manifest(in); m.ok()) {
    auto again = decode_manifest(encode_manifest(*m));
    CHORUS_ASSERT(again.ok() && *again == *m, "manifest round trip");
  }
  SimFileSystem fs(1);
  {
    auto f = fs.open("/snap", OpenMode::kCreate);
    if (!f.ok() || !(*f)->write_at(0, in).ok()) return 0;
  }
  if (auto r = SnapshotReader::open(fs, "/snap"); r.ok()) {
    SnapshotEntry e;
    size_t n = 0;
    while ((*r)->next(e) && n < 1'000'000) ++n;
  }
  return 0;
}
