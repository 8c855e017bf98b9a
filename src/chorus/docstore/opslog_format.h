// Reading and writing the on-disk directory of the npm package @backloghq/opslog 0.8.1, so data
// can move between opslog and chorus::docstore (`chorus docstore import|export`).
//
// opslog's directory:
//   manifest.json                 {"version":v, "currentSnapshot":"snapshots/snap-<ms>.jsonl",
//                                  "activeOps":"ops/ops-<ms>.jsonl",
//                                  "activeAgentOps":{"<agent>":"ops/agent-<agent>-<ms>.jsonl"},
//                                  "archiveSegments":["archive/archive-<period>.json"],
//                                  "stats":{activeRecords, archivedRecords, opsCount, created,
//                                           lastCheckpoint}}
//   snapshots/snap-<ms>.jsonl     header line {"version","timestamp"}, then {"id","data"} lines
//                                 (a legacy single JSON object {"version","timestamp","records"}
//                                 is read too)
//   ops/*.jsonl                   one op per line: {"ts":ISO-8601, "op":"set"|"delete", "id",
//                                 "data"?, "prev":full|null or delta {"$set","$unset"} with
//                                 "encoding":"delta", "agent"?, "clock"?}
//   archive/archive-<period>.json {"version":1, "period", "timestamp", "records":{id: value}}
//
// Mapping:
//   import — archive segments become chorus archive segments of the same name; the snapshot
//     records become the chorus snapshot (one checkpoint); then every live op is replayed in
//     opslog's order with its own timestamp, so history()/ops() show the same ops (a delta
//     `prev` is resolved to the full previous value). Multi-writer stores (activeAgentOps) are
//     replayed op by op through one chorus agent per opslog agent, in (clock, agent) order, so
//     clocks are renumbered but the order is kept. opslog keeps no batch boundaries and an undo
//     removes the op from its file, so each op becomes one chorus op. Schema version 1 (opslog's
//     default) maps to chorus version 0 (chorus's default); others are kept.
//   export — the chorus snapshot (without tombstones) becomes the opslog snapshot, the live ops
//     (always with full `prev`) the ops file (per agent in multi-writer mode, with agent and
//     clock), archive segments archive files. opslog needs `prev` to be an object, so a store
//     holding non-object values that appear as a previous value cannot be exported.
//
// The target directory must be absent or empty. Malformed input fails with kCorruption naming
// the file (and line); nothing is skipped.
#pragma once

#include <string>

#include "chorus/base/status.h"

namespace chorus::docstore {

Status import_opslog(const std::string& opslog_dir, const std::string& dir);
Status export_opslog(const std::string& dir, const std::string& opslog_dir);

}  // namespace chorus::docstore
