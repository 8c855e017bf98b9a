// resp_call: one blocking RESP request/reply with a deadline, for chorusd's join and the chorus
// CLI. Not for the data path.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "chorus/base/status.h"
#include "chorus/resp/value.h"

namespace chorus::server {

// Connects to `address` (host:port), sends argv (after AUTH `password` if given), returns the
// reply (an error reply is a Value, not a failed Result). Fails with kUnavailable when the
// server cannot be reached and kTimeout when it does not answer in time.
Result<resp::Value> resp_call(const std::string& address, const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout, const std::string& password = {});

}  // namespace chorus::server
