#include "chorus/server/server_options.h"

#include <charconv>

namespace chorus::server {

Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return Status::InvalidArgument("address '" + address + "' is not host:port");
  }
  unsigned port = 0;
  const char* begin = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  auto [p, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || p != end || port > 65535) {
    return Status::InvalidArgument("address '" + address + "' has a bad port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:7001
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<std::map<NodeId, std::string>> parse_peers(const std::string& list) {
  std::map<NodeId, std::string> peers;
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    uint64_t id = 0;
    if (eq == std::string::npos ||
        std::from_chars(item.data(), item.data() + eq, id).ptr != item.data() + eq || id == 0) {
      return Status::InvalidArgument("peer '" + item + "' is not <id>=<host:port>");
    }
    std::string address = item.substr(eq + 1);
    CHORUS_TRY(split_host_port(address).status());
    if (!peers.emplace(NodeId(id), address).second) {
      return Status::InvalidArgument("peer " + std::to_string(id) + " is listed twice");
    }
  }
  return peers;
}

Status ServerOptions::validate() const {
  if (id == raft::kNoNode) return Status::InvalidArgument("--id is required (a positive integer)");
  if (data_dir.empty()) return Status::InvalidArgument("--data-dir is required");
  if (tls_ca_file.empty() || tls_cert_file.empty() || tls_key_file.empty()) {
    return Status::InvalidArgument(
        "--tls-ca, --tls-cert and --tls-key are required: peers trust each other only through "
        "the cluster CA (make them with `chorus certs init` and `chorus certs issue <id>`)");
  }
  if (peers.empty() && join.empty()) {
    return Status::InvalidArgument("give --peers (a new cluster) or --join (a running one)");
  }
  if (!peers.empty() && !peers.contains(id)) {
    return Status::InvalidArgument("--peers must include this node (" + std::to_string(id.value()) +
                                   ")");
  }
  CHORUS_TRY(split_host_port(client_address).status());
  CHORUS_TRY(split_host_port(peer_address).status());
  if (!admin_address.empty()) CHORUS_TRY(split_host_port(admin_address).status());
  if (proto_max_bulk_len == 0 || proto_max_bulk_len > (512u << 20)) {
    return Status::InvalidArgument("proto-max-bulk-len must be between 1 and 512 MiB");
  }
  if (max_pipeline == 0 || max_clients == 0) {
    return Status::InvalidArgument("max-pipeline and max-clients must be positive");
  }
  if (heartbeat_ticks == 0 || election_ticks <= heartbeat_ticks) {
    return Status::InvalidArgument("election ticks must exceed heartbeat ticks");
  }
  return Status::Ok();
}

}  // namespace chorus::server
