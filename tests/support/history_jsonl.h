// Reading a client history written as JSON lines, in the shape of Jepsen / Knossos histories, so
// that real-process runs (the fault campaign, a Maelstrom run) can be checked by chorus-lincheck.
//
// One event per line, in real-time order:
//
//   {"process":0,"type":"invoke","f":"write","key":"x","value":3}
//   {"process":1,"type":"invoke","f":"cas","key":"x","value":[3,4]}
//   {"process":0,"type":"ok","f":"write","key":"x","value":3}
//   {"process":2,"type":"invoke","f":"read","key":"x","value":null}
//   {"process":1,"type":"fail","f":"cas","key":"x","value":[3,4],"error":"precondition-failed"}
//   {"process":2,"type":"ok","f":"read","key":"x","value":3}
//
// - type: "invoke" starts an operation; "ok", "fail" or "info" completes the process's pending
//   one. "info" is indeterminate, and so is an invoke still pending at the end of the file.
// - f: "read" | "write" | "cas". value: a write's integer; a cas's [from, to]; a read's ok
//   carries the integer read, or null for a missing key. key: any JSON value (a non-string is
//   keyed by its JSON text); absent means the single register "".
// - "fail" means the operation did not happen, except where "error" says it did, as a no-op:
//   for a cas, "precondition-failed" / "key-does-not-exist" (or Maelstrom codes 22 / 20, or a
//   Jepsen-style [name, ...] array) becomes Outcome::kCasMismatch; for a read,
//   "key-does-not-exist" / 20 is an ok read of a missing key.
// - Operations' times are line numbers, so a failure report cites lines of the file.
// - Lines whose process is "nemesis" are skipped; blank lines too.
#pragma once

#include <istream>
#include <vector>

#include "chorus/base/status.h"
#include "support/linearizability.h"

namespace chorus::lincheck {

// InvalidArgument naming the line on malformed input. Never throws.
[[nodiscard]] Result<std::vector<Operation>> parse_history_jsonl(std::istream& in);

}  // namespace chorus::lincheck
