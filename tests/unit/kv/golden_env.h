// The environment behind the kv golden files (testdata/*.txt): a Store, a clock and a revision
// counter, driven by directives whose input lines are Redis commands written as in redis-cli
// ("double quotes" with \n \r \t \xHH escapes, 'single quotes').
//
// Directives (the file format itself is in tests/unit/raft/datadriven.h):
//   apply [now=MS]       each input line is one proposal, applied at the next revision; the
//                        output is its reply as redis-cli shows it (prefixed with "> command"
//                        when the block has several commands)
//   read [now=MS]        each input line goes through Store::read()
//   watch                each input line is a key: remembers its key_revision() for the next exec
//   exec [now=MS]        all input lines as one MULTI/EXEC proposal, with the remembered watches
//   advance MS           moves the clock forward
//   events               the keyspace events since the last `events`, one "event key" a line
//   expired-keys [limit=N]  Store::expired_keys() at the clock
//   key-revision         each input line is a key: its Store::key_revision()
//   options per_key=N deleted=M   starts over with a new store with these StoreOptions
//   state                Store::size() (expired keys included), last revision, time
//   snapshot             snapshot -> restore into a new store (checks equal state_hash and equal
//                        bytes), which then replaces the old one
// Every directive ends with Store::check_invariants().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chorus/kv/store.h"
#include "unit/raft/datadriven.h"

namespace chorus::kv::testing {

// Splits a command line as redis-cli does; false on an unbalanced quote.
bool split_args(const std::string& line, std::vector<std::string>* out);

class GoldenEnv {
 public:
  GoldenEnv();
  // The output of one directive; sets *usage_error for a malformed directive.
  std::string handle(const datadriven::Command& cmd, std::string* usage_error);

 private:
  std::string run_commands(const datadriven::Command& cmd, bool read, std::string* usage_error);
  std::string run_exec(const datadriven::Command& cmd, std::string* usage_error);

  std::unique_ptr<Store> store_;
  uint64_t revision_ = 0;
  int64_t now_ms_ = 1'700'000'000'000;
  std::vector<Event> events_;
  std::vector<std::pair<std::string, uint64_t>> watches_;
};

}  // namespace chorus::kv::testing
