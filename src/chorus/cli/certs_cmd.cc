// chorus certs init [--dir D] [--days N]      -> D/ca.crt, D/ca.key
// chorus certs issue <id> [--dir D] [--days N] -> D/node-<id>.crt, D/node-<id>.key
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "chorus/cli/commands.h"
#include "chorus/net/certs.h"

namespace chorus::cli {
namespace {

[[noreturn]] void fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "chorus certs: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

}  // namespace

void add_certs_commands(CLI::App& app) {
  auto* certs = app.add_subcommand("certs", "Create the cluster CA and node certificates");
  certs->require_subcommand(1);
  static std::string dir = "data/certs";
  static int days = 3650;
  static uint64_t id = 0;

  auto* init = certs->add_subcommand("init", "Create the cluster CA (ca.crt, ca.key) once");
  init->add_option("--dir", dir, "Directory for the files")->capture_default_str();
  init->add_option("--days", days, "Validity in days")->capture_default_str();
  init->callback([] {
    std::filesystem::create_directories(dir);
    if (std::filesystem::exists(dir + "/ca.crt")) {
      std::printf("%s/ca.crt exists; keeping it\n", dir.c_str());
      return;
    }
    auto ca = net::generate_ca("chorus cluster CA", days);
    if (!ca.ok()) fail("generate CA", ca.status());
    if (Status s = net::write_pem_files(dir, "ca", *ca); !s.ok()) fail("write", s);
    std::printf("wrote %s/ca.crt and %s/ca.key (keep the key private)\n", dir.c_str(), dir.c_str());
  });

  auto* issue = certs->add_subcommand("issue", "Issue node <id>'s certificate from the CA");
  issue->add_option("id", id, "Node id (a positive integer)")->required();
  issue->add_option("--dir", dir, "Directory holding ca.crt/ca.key")->capture_default_str();
  issue->add_option("--days", days, "Validity in days")->capture_default_str();
  issue->callback([] {
    if (id == 0) fail("issue", Status::InvalidArgument("a node id is a positive integer"));
    auto ca = net::read_pem_files(dir, "ca");
    if (!ca.ok()) fail("read the CA (run `chorus certs init` first)", ca.status());
    auto cert = net::issue_node_cert(*ca, NodeId(id), days);
    if (!cert.ok()) fail("issue", cert.status());
    const std::string name = "node-" + std::to_string(id);
    if (Status s = net::write_pem_files(dir, name, *cert); !s.ok()) fail("write", s);
    std::printf("wrote %s/%s.crt and %s/%s.key\n", dir.c_str(), name.c_str(), dir.c_str(),
                name.c_str());
  });
}

}  // namespace chorus::cli
