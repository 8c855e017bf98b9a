// Fuzzes log recovery: arbitrary bytes after a valid segment header must give either a log that
// passes its invariants and iterates cleanly, or a clear error — never a crash or a hang.
#include <cstddef>
#include <cstdint>

#include "chorus/base/sim_file_system.h"
#include "chorus/log/log.h"
#include "chorus/log/record_format.h"

using namespace chorus;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SimFileSystem fs(1);
  if (!create_dirs(fs, "/l").ok()) return 0;
  auto file = fs.open("/l/" + log::segment_file_name(1), OpenMode::kCreate);
  if (!file.ok()) return 0;
  std::byte header[log::kSegmentHeaderBytes];
  log::encode_segment_header({1, 1}, header);
  if (!(*file)->write_at(0, ByteSpan(header, sizeof(header))).ok()) return 0;
  if (!(*file)
           ->write_at(sizeof(header), ByteSpan(reinterpret_cast<const std::byte*>(data), size))
           .ok()) {
    return 0;
  }
  file->reset();
  for (bool read_only : {true, false}) {
    auto l = log::Log::open("/l", {.fs = &fs,
                                   .segment_bytes = 64 << 10,
                                   .background_preallocate = false,
                                   .read_only = read_only});
    if (!l.ok()) {
      CHORUS_ASSERT(l.status().code() == StatusCode::kCorruption, l.status().ToString());
      return 0;
    }
    (*l)->check_invariants();
    auto it = (*l)->iterate((*l)->first_index(), (*l)->last_index());
    uint64_t n = 0;
    while (it.next()) ++n;
    CHORUS_ASSERT(it.status().ok(), it.status().ToString());
    CHORUS_ASSERT(n == (*l)->last_index().value() - (*l)->first_index().value() + 1);
    if (!read_only) {
      auto appended = (*l)->append(as_bytes("after"));
      CHORUS_ASSERT(appended.ok(), appended.status().ToString());
    }
  }
  return 0;
}
