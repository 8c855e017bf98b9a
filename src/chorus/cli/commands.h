// The chorus CLI's subcommands; each registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace chorus::cli {

void add_certs_commands(CLI::App& app);
void add_cluster_commands(CLI::App& app);  // `cluster status` and `member ...`
void add_log_commands(CLI::App& app);
void add_bench_commands(CLI::App& app);     // bench_cmd.cc
void add_docstore_commands(CLI::App& app);  // docstore_cmd.cc

}  // namespace chorus::cli
