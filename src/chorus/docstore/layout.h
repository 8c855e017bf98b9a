// Names of the files and directories of a store (drawn in docs/docstore.md).
#pragma once

#include <string>
#include <string_view>

namespace chorus::docstore::layout {

inline constexpr char kManifest[] = "manifest";
inline constexpr char kSnapshots[] = "snapshots";
inline constexpr char kOps[] = "ops";
inline constexpr char kArchive[] = "archive";
inline constexpr char kCompactionLock[] = "COMPACT.LOCK";
inline constexpr char kMainStream[] = "main";
inline constexpr std::string_view kAgentPrefix = "agent-";

inline std::string snapshot_file(uint64_t generation) {
  return std::string(kSnapshots) + "/snap-" + std::to_string(generation) + ".snap";
}
inline std::string archive_file(const std::string& segment, uint64_t generation) {
  return std::string(kArchive) + "/" + segment + "." + std::to_string(generation) + ".arc";
}
inline std::string stream_dir(const std::string& stream) {
  return std::string(kOps) + "/" + stream;
}
// The agent that writes a stream ("" for the single writer's "main").
inline std::string stream_agent(std::string_view stream) {
  return stream.starts_with(kAgentPrefix) ? std::string(stream.substr(kAgentPrefix.size()))
                                          : std::string();
}
inline bool is_stream_name(std::string_view name) {
  return name == kMainStream ||
         (name.starts_with(kAgentPrefix) && name.size() > kAgentPrefix.size());
}

}  // namespace chorus::docstore::layout
