// The chorus CLI's subcommands; each registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace chorus::cli {

void add_certs_commands(CLI::App& app);
void add_cluster_commands(CLI::App& app);  // `cluster status` and `member ...`
void add_log_commands(CLI::App& app);

}  // namespace chorus::cli
