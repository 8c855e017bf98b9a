#include "golden_env.h"

#include <sstream>

#include "chorus/base/assert.h"

namespace chorus::kv::testing {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool split_args(const std::string& line, std::vector<std::string>* out) {
  out->clear();
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == n) return true;
    std::string arg;
    if (line[i] == '"') {
      for (++i;; ++i) {
        if (i == n) return false;
        const char c = line[i];
        if (c == '"') break;
        if (c == '\\' && i + 1 < n) {
          const char e = line[++i];
          if (e == 'x' && i + 2 < n && hex_value(line[i + 1]) >= 0 && hex_value(line[i + 2]) >= 0) {
            arg.push_back(static_cast<char>(hex_value(line[i + 1]) * 16 + hex_value(line[i + 2])));
            i += 2;
          } else {
            arg.push_back(e == 'n'   ? '\n'
                          : e == 'r' ? '\r'
                          : e == 't' ? '\t'
                          : e == '0' ? '\0'
                                     : e);
          }
        } else {
          arg.push_back(c);
        }
      }
      ++i;  // the closing quote
    } else if (line[i] == '\'') {
      for (++i;; ++i) {
        if (i == n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          arg.push_back('\'');
          ++i;
        } else if (line[i] == '\'') {
          break;
        } else {
          arg.push_back(line[i]);
        }
      }
      ++i;
    } else {
      while (i < n && line[i] != ' ' && line[i] != '\t') arg.push_back(line[i++]);
    }
    out->push_back(std::move(arg));
  }
}

GoldenEnv::GoldenEnv() : store_(std::make_unique<Store>()) {}

std::string GoldenEnv::handle(const datadriven::Command& cmd, std::string* usage_error) {
  if (cmd.has("now")) now_ms_ = std::stoll(cmd.get("now", "0"));
  std::ostringstream out;
  if (cmd.name == "apply" || cmd.name == "read") {
    out << run_commands(cmd, cmd.name == "read", usage_error);
  } else if (cmd.name == "exec") {
    out << run_exec(cmd, usage_error);
  } else if (cmd.name == "watch") {
    for (const std::string& key : cmd.input) {
      const uint64_t r = store_->key_revision(key);
      watches_.emplace_back(key, r);
      out << key << " " << r << "\n";
    }
  } else if (cmd.name == "advance") {
    if (cmd.positional().size() != 1) {
      *usage_error = "advance MS";
      return "";
    }
    now_ms_ += std::stoll(cmd.positional()[0]->values.at(0));
    out << "now " << now_ms_;
  } else if (cmd.name == "events") {
    for (const Event& e : events_) {
      out << e.event << " " << resp::to_display(resp::Value::bulk(e.key)) << "\n";
    }
    if (events_.empty()) out << "(none)";
    events_.clear();
  } else if (cmd.name == "expired-keys") {
    const size_t limit = std::stoull(cmd.get("limit", "100"));
    for (const std::string& k : store_->expired_keys(now_ms_, limit)) {
      out << resp::to_display(resp::Value::bulk(k)) << "\n";
    }
  } else if (cmd.name == "key-revision") {
    for (const std::string& key : cmd.input) {
      out << key << " " << store_->key_revision(key) << "\n";
    }
  } else if (cmd.name == "options") {
    StoreOptions options;
    options.history_per_key = std::stoull(cmd.get("per_key", "8"));
    options.history_deleted_keys = std::stoull(cmd.get("deleted", "10000"));
    store_ = std::make_unique<Store>(options);
    revision_ = 0;
    events_.clear();
    watches_.clear();
  } else if (cmd.name == "state") {
    out << "keys=" << store_->size() << " revision=" << store_->last_revision()
        << " now=" << store_->now_ms();
  } else if (cmd.name == "snapshot") {
    const std::string bytes = store_->snapshot();
    auto restored = std::make_unique<Store>();
    Status s = restored->restore(bytes);
    if (!s.ok()) return "restore failed: " + s.ToString();
    if (restored->state_hash() != store_->state_hash()) return "state_hash differs after restore";
    if (restored->snapshot() != bytes) return "snapshot bytes differ after restore";
    store_ = std::move(restored);
    out << "restored " << store_->size() << " keys";
  } else {
    *usage_error = "unknown directive " + cmd.name;
  }
  store_->check_invariants();
  return out.str();
}

std::string GoldenEnv::run_commands(const datadriven::Command& cmd, bool read,
                                    std::string* usage_error) {
  std::ostringstream out;
  for (const std::string& line : cmd.input) {
    std::vector<std::string> argv;
    if (!split_args(line, &argv)) {
      *usage_error = "unbalanced quotes: " + line;
      return "";
    }
    resp::Value reply;
    if (read) {
      reply = store_->read(argv, now_ms_);
    } else {
      Proposal p;
      p.now_ms = now_ms_;
      p.commands.push_back(argv);
      reply = store_->apply(p, ++revision_, events_);
    }
    if (cmd.input.size() > 1) out << "> " << line << "\n";
    out << resp::to_display(reply) << "\n";
  }
  return out.str();
}

std::string GoldenEnv::run_exec(const datadriven::Command& cmd, std::string* usage_error) {
  Proposal p;
  p.now_ms = now_ms_;
  p.exec = true;
  p.watches = std::move(watches_);
  watches_.clear();
  for (const std::string& line : cmd.input) {
    std::vector<std::string> argv;
    if (!split_args(line, &argv)) {
      *usage_error = "unbalanced quotes: " + line;
      return "";
    }
    p.commands.push_back(std::move(argv));
  }
  return resp::to_display(store_->apply(p, ++revision_, events_));
}

}  // namespace chorus::kv::testing
