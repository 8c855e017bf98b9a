// Crashes while truncate_suffix() runs: the log reopens, and holds either the old records or the
// truncated log with the new records that were acknowledged — never an open failure.
#include <gtest/gtest.h>

#include "chorus/base/sim_file_system.h"
#include "chorus/log/log.h"

namespace chorus::log {
namespace {

Bytes rec(const std::string& tag, uint64_t i) { return to_bytes(tag + std::to_string(i)); }

// Regression: truncation used to zero the removed records in place; a crash that tore that
// overwrite left damaged records between intact ones that claimed them durable, so open failed
// with Corruption.
TEST(LogTruncateCrash, EveryCrashPointReopensToOldOrNew) {
  uint64_t old_state = 0, new_state = 0;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    SimFileSystem fs(seed);
    Options o{.fs = &fs,
              .durability = Durability::kAlways,
              .segment_bytes = 64 << 10,
              .background_preallocate = false};
    uint64_t acked_new = 0;
    {
      auto log = std::move(Log::open("/l", o).value());
      for (uint64_t i = 1; i <= 30; ++i) ASSERT_TRUE(log->append(rec("old", i)).ok());
      fs.set_crash_after_ops(seed % 12);
      if (log->truncate_suffix(LogIndex(10)).ok()) {
        for (uint64_t i = 10; i < 15 && log->append(rec("new", i)).ok(); ++i) acked_new = i;
      }
      fs.crash(CrashMode::kRandom);
    }
    auto reopened = Log::open("/l", o);
    ASSERT_TRUE(reopened.ok()) << "seed " << seed << ": " << reopened.status().ToString();
    auto& log = **reopened;
    auto nine = log.read(LogIndex(9));
    ASSERT_TRUE(nine.ok());
    EXPECT_EQ(as_string_view(*nine), "old9");
    if (log.last_index() >= LogIndex(10) && as_string_view(*log.read(LogIndex(10))) == "old10") {
      ++old_state;
      EXPECT_EQ(acked_new, 0u) << "seed " << seed << ": an acknowledged new record is lost";
      EXPECT_EQ(log.last_index(), LogIndex(30)) << "seed " << seed;
    } else {
      ++new_state;
      EXPECT_GE(log.last_index().value(), std::max<uint64_t>(acked_new, 9)) << "seed " << seed;
      for (LogIndex i(10); i <= log.last_index(); ++i) {
        EXPECT_EQ(as_string_view(*log.read(i)), "new" + std::to_string(i.value()))
            << "seed " << seed;
      }
    }
  }
  EXPECT_GT(old_state, 0u);
  EXPECT_GT(new_state, 0u);
}

}  // namespace
}  // namespace chorus::log
