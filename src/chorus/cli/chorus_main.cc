// chorus: the cluster's command-line tool.
//   chorus certs init|issue        a cluster CA and node certificates (OpenSSL)
//   chorus cluster status          a table of nodes: role, term, commit/applied, lag, address
//   chorus member add|remove|promote|transfer
//   chorus log inspect|verify DIR  offline checks of a node's Raft log
//   chorus docstore get|set|del|history|undo|compact|stats DIR ...
//   chorus bench                   a workload against chorus, Redis or etcd (load_generator.h)
#include <CLI/CLI.hpp>

#include "chorus/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"chorus: administer a chorus cluster"};
  app.require_subcommand(1);
  chorus::cli::add_certs_commands(app);
  chorus::cli::add_cluster_commands(app);
  chorus::cli::add_log_commands(app);
  chorus::cli::add_bench_commands(app);
  chorus::cli::add_docstore_commands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
