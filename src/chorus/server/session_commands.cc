// The commands a session answers itself: connection state, pub/sub, MULTI queueing, server
// introspection and admin. Error strings are Redis' where Redis has the command.
#include <algorithm>

#include "chorus/kv/command_table.h"
#include "chorus/kv/glob.h"
#include "chorus/server/server.h"
#include "chorus/server/session.h"

namespace chorus::server {
namespace {

using resp::Value;

Value wrong_args(const std::string& name) {
  return Value::error("ERR wrong number of arguments for '" + name + "' command");
}

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next / 10 != v) return false;
    v = next;
  }
  out = v;
  return true;
}

bool valid_client_name(const std::string& n) {
  return std::all_of(n.begin(), n.end(), [](unsigned char c) { return c > ' ' && c <= '~'; });
}

// Commands a RESP2 client may send while subscribed.
bool allowed_when_subscribed(const std::string& name) {
  return name == "subscribe" || name == "psubscribe" || name == "unsubscribe" ||
         name == "punsubscribe" || name == "ping" || name == "quit" || name == "reset";
}

}  // namespace

bool Session::allowed_before_auth(const std::string& name) const {
  return name == "auth" || name == "hello" || name == "quit" || name == "reset";
}

void Session::run_local(Argv& argv) {
  if (argv.empty()) return;
  if (argv[0] == kProtocolErrorMarker) {
    reply_now(Value::error("ERR " + argv[1]));
    server_.log_info("client " + std::to_string(id_) + " (" + peer_ + "): " + argv[1]);
    close_after_flush_ = true;
    return;
  }
  const std::string name = lower(argv[0]);
  last_command_ = name;
  server_.stats().local_commands += 1;
  if (!authenticated_ && !allowed_before_auth(name)) {
    return reply_now(Value::error("NOAUTH Authentication required."));
  }
  const bool subscribed = !channels_.empty() || !patterns_.empty();
  if (subscribed && protocol_ == resp::Protocol::kResp2 && !allowed_when_subscribed(name)) {
    return reply_now(Value::error(
        "ERR Can't execute '" + name +
        "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
        "context"));
  }
  if (name == "multi" || name == "exec" || name == "discard" || in_multi_) return cmd_multi(argv);

  if (name == "ping") {
    if (argv.size() > 2) return reply_now(wrong_args(name));
    if (subscribed && protocol_ == resp::Protocol::kResp2) {
      return reply_now(Value::array(
          {Value::bulk("pong"), Value::bulk(argv.size() == 2 ? argv[1] : std::string())}));
    }
    return reply_now(argv.size() == 2 ? Value::bulk(argv[1]) : Value::simple("PONG"));
  }
  if (name == "echo") {
    if (argv.size() != 2) return reply_now(wrong_args(name));
    return reply_now(Value::bulk(argv[1]));
  }
  if (name == "quit") {
    reply_now(Value::ok());
    close_after_flush_ = true;
    return;
  }
  if (name == "reset") return cmd_reset();
  if (name == "hello") return cmd_hello(argv);
  if (name == "auth") return cmd_auth(argv);
  if (name == "select") {
    if (argv.size() != 2) return reply_now(wrong_args(name));
    uint64_t db = 0;
    if (!parse_u64(argv[1], db)) {
      return reply_now(Value::error("ERR value is not an integer or out of range"));
    }
    return reply_now(db == 0 ? Value::ok() : Value::error("ERR DB index is out of range"));
  }
  if (name == "readonly" || name == "readwrite") {
    stale_reads_ = name == "readonly";
    return reply_now(Value::ok());
  }
  if (name == "unwatch") {
    watches_.clear();
    return reply_now(Value::ok());
  }
  if (name == "watch") return reply_now(wrong_args(name));  // a well-formed WATCH is a read
  if (name == "time") {
    const int64_t us = server_.now_us();
    return reply_now(Value::array({Value::bulk(std::to_string(us / 1'000'000)),
                                   Value::bulk(std::to_string(us % 1'000'000))}));
  }
  if (name == "subscribe" || name == "unsubscribe") {
    return cmd_subscribe(argv, /*pattern=*/false, name == "subscribe");
  }
  if (name == "psubscribe" || name == "punsubscribe") {
    return cmd_subscribe(argv, /*pattern=*/true, name == "psubscribe");
  }
  if (name == "publish") {
    if (argv.size() != 3) return reply_now(wrong_args(name));
    // This node's subscribers only: PUBLISH is not replicated (keyspace events are).
    return reply_now(
        Value::integer_of(static_cast<int64_t>(server_.pubsub().publish(argv[1], argv[2]))));
  }
  if (name == "client") return cmd_client(argv);
  if (name == "config") return cmd_config(argv);
  if (name == "command") return cmd_command(argv);
  if (name == "info") return cmd_info(argv);
  if (name == "chorus") return cmd_chorus(argv);
  if (name == "bgsave" || name == "save") {
    server_.node().request_snapshot();
    return reply_now(name == "save" ? Value::ok() : Value::simple("Background saving started"));
  }
  if (name == "lastsave") return reply_now(Value::integer_of(server_.now_ms() / 1000));
  // A key-value command that kv::check refused (unknown, wrong arity): its error.
  if (std::optional<Value> refused = kv::check(argv)) return reply_now(*refused);
  reply_now(Value::error("ERR unknown command '" + argv[0] + "'"));
}

void Session::cmd_multi(Argv& argv) {
  const std::string name = lower(argv[0]);
  if (name == "multi") {
    if (in_multi_) return reply_now(Value::error("ERR MULTI calls can not be nested"));
    in_multi_ = true;
    multi_failed_ = false;
    multi_.clear();
    return reply_now(Value::ok());
  }
  if (name == "discard") {
    if (!in_multi_) return reply_now(Value::error("ERR DISCARD without MULTI"));
    in_multi_ = false;
    multi_.clear();
    watches_.clear();
    return reply_now(Value::ok());
  }
  if (name == "exec") {  // the local cases: the block itself runs as a write (session.cc)
    if (!in_multi_) return reply_now(Value::error("ERR EXEC without MULTI"));
    in_multi_ = false;
    multi_.clear();
    watches_.clear();
    return reply_now(Value::error("EXECABORT Transaction discarded because of previous errors."));
  }
  if (name == "watch") {
    return reply_now(Value::error("ERR WATCH inside MULTI is not allowed"));
  }
  if (name == "quit" || name == "reset") {
    in_multi_ = false;
    multi_.clear();
    return run_local(argv);
  }
  // Queueing: a command the key-value machine does not run refuses the whole block (Redis
  // does the same for unknown commands and wrong arity).
  if (std::optional<Value> refused = kv::check(argv)) {
    multi_failed_ = true;
    return reply_now(*refused);
  }
  if (std::optional<Value> refused = server_.refuse_write(argv)) {
    multi_failed_ = true;
    return reply_now(*refused);
  }
  multi_.push_back(std::move(argv));
  reply_now(Value::simple("QUEUED"));
}

void Session::cmd_reset() {
  in_multi_ = false;
  multi_failed_ = false;
  multi_.clear();
  watches_.clear();
  for (const std::string& c : channels_) server_.pubsub().unsubscribe(this, c);
  for (const std::string& p : patterns_) server_.pubsub().punsubscribe(this, p);
  channels_.clear();
  patterns_.clear();
  protocol_ = resp::Protocol::kResp2;
  authenticated_ = server_.options().requirepass.empty();
  stale_reads_ = false;
  name_.clear();
  reply_now(Value::simple("RESET"));
}

void Session::cmd_auth(const Argv& argv) {
  if (argv.size() < 2 || argv.size() > 3) return reply_now(wrong_args("auth"));
  const std::string& pass = argv.back();
  if (server_.options().requirepass.empty()) {
    return reply_now(Value::error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?"));
  }
  const bool user_ok = argv.size() == 2 || argv[1] == "default";
  if (!user_ok || !server_.password_matches(pass)) {
    return reply_now(Value::error("WRONGPASS invalid username-password pair or user is disabled."));
  }
  authenticated_ = true;
  reply_now(Value::ok());
}

void Session::cmd_hello(const Argv& argv) {
  resp::Protocol proto = protocol_;
  size_t i = 1;
  if (argv.size() > 1) {
    uint64_t v = 0;
    if (!parse_u64(argv[1], v)) {
      return reply_now(Value::error("ERR Protocol version is not an integer or out of range"));
    }
    if (v != 2 && v != 3) return reply_now(Value::error("NOPROTO unsupported protocol version"));
    proto = v == 3 ? resp::Protocol::kResp3 : resp::Protocol::kResp2;
    i = 2;
  }
  std::string setname;
  bool has_setname = false;
  for (; i < argv.size(); ++i) {
    const std::string opt = lower(argv[i]);
    if (opt == "auth" && i + 2 < argv.size()) {
      if (server_.options().requirepass.empty()) {
        return reply_now(Value::error(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"));
      }
      if (argv[i + 1] != "default" || !server_.password_matches(argv[i + 2])) {
        return reply_now(
            Value::error("WRONGPASS invalid username-password pair or user is disabled."));
      }
      authenticated_ = true;
      i += 2;
    } else if (opt == "setname" && i + 1 < argv.size()) {
      setname = argv[++i];
      has_setname = true;
    } else {
      return reply_now(Value::error("ERR Syntax error in HELLO option '" + argv[i] + "'"));
    }
  }
  if (!authenticated_) {
    return reply_now(Value::error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time"));
  }
  if (has_setname) {
    if (!valid_client_name(setname)) {
      return reply_now(
          Value::error("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    name_ = setname;
  }
  protocol_ = proto;
  const bool leader = server_.node().is_leader();
  reply_now(Value::map({
      Value::bulk("server"),
      Value::bulk("chorus"),
      Value::bulk("version"),
      Value::bulk(std::string(kRedisCompatVersion)),
      Value::bulk("proto"),
      Value::integer_of(static_cast<int64_t>(protocol_)),
      Value::bulk("id"),
      Value::integer_of(static_cast<int64_t>(id_)),
      Value::bulk("mode"),
      Value::bulk("standalone"),
      Value::bulk("role"),
      Value::bulk(leader ? "master" : "replica"),
      Value::bulk("modules"),
      Value::array({}),
  }));
}

void Session::cmd_client(const Argv& argv) {
  if (argv.size() < 2) return reply_now(wrong_args("client"));
  const std::string sub = lower(argv[1]);
  if (sub == "id" && argv.size() == 2) {
    return reply_now(Value::integer_of(static_cast<int64_t>(id_)));
  }
  if (sub == "getname" && argv.size() == 2) {
    return reply_now(name_.empty() ? Value::null() : Value::bulk(name_));
  }
  if (sub == "setname" && argv.size() == 3) {
    if (!valid_client_name(argv[2])) {
      return reply_now(
          Value::error("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    name_ = argv[2];
    return reply_now(Value::ok());
  }
  if (sub == "info" && argv.size() == 2) return reply_now(Value::verbatim(describe() + "\n"));
  if (sub == "list") {
    std::string text;
    server_.for_each_session([&](const Session& s) { text += s.describe() + "\n"; });
    return reply_now(Value::verbatim(text));
  }
  if (sub == "kill" && argv.size() == 4 && lower(argv[2]) == "id") {
    uint64_t id = 0;
    if (!parse_u64(argv[3], id)) {
      return reply_now(Value::error("ERR client-id should be greater than 0"));
    }
    return reply_now(Value::integer_of(server_.kill_session(id) ? 1 : 0));
  }
  if ((sub == "setinfo" && argv.size() == 4) || sub == "no-evict" || sub == "no-touch") {
    return reply_now(Value::ok());  // accepted for client libraries that send them
  }
  reply_now(Value::error("ERR unknown subcommand or wrong number of arguments for '" + argv[1] +
                         "'. Try CLIENT HELP."));
}

void Session::cmd_config(const Argv& argv) {
  if (argv.size() < 2) return reply_now(wrong_args("config"));
  const std::string sub = lower(argv[1]);
  if (sub == "get" && argv.size() >= 3) {
    std::vector<Value> out;
    for (const auto& [key, value] : server_.config_items()) {
      for (size_t i = 2; i < argv.size(); ++i) {
        if (kv::glob_match(lower(argv[i]), key)) {
          out.push_back(Value::bulk(key));
          out.push_back(Value::bulk(value));
          break;
        }
      }
    }
    return reply_now(Value::map(std::move(out)));
  }
  if (sub == "set" && argv.size() >= 4 && argv.size() % 2 == 0) {
    for (size_t i = 2; i < argv.size(); i += 2) {
      if (Status s = server_.config_set(lower(argv[i]), argv[i + 1]); !s.ok()) {
        return reply_now(Value::error("ERR CONFIG SET failed (possibly related to argument '" +
                                      argv[i] + "') - " + s.message()));
      }
    }
    return reply_now(Value::ok());
  }
  if (sub == "resetstat" && argv.size() == 2) {
    server_.stats().reset();
    return reply_now(Value::ok());
  }
  reply_now(Value::error("ERR unknown subcommand or wrong number of arguments for '" + argv[1] +
                         "'. Try CONFIG HELP."));
}

void Session::cmd_command(const Argv& argv) {
  const std::string sub = argv.size() > 1 ? lower(argv[1]) : "";
  if (argv.size() == 1) return reply_now(server_.command_table({}));
  if (sub == "count" && argv.size() == 2) {
    return reply_now(Value::integer_of(static_cast<int64_t>(server_.command_count())));
  }
  if (sub == "info") return reply_now(server_.command_table({argv.begin() + 2, argv.end()}));
  if (sub == "docs") return reply_now(server_.command_docs({argv.begin() + 2, argv.end()}));
  if (sub == "list") return reply_now(server_.command_names());
  reply_now(Value::error("ERR unknown subcommand or wrong number of arguments for '" + argv[1] +
                         "'. Try COMMAND HELP."));
}

void Session::cmd_info(const Argv& argv) {
  std::vector<std::string> sections;
  for (size_t i = 1; i < argv.size(); ++i) sections.push_back(lower(argv[i]));
  reply_now(Value::verbatim(server_.info(sections)));
}

void Session::cmd_subscribe(const Argv& argv, bool pattern, bool subscribe) {
  if (subscribe && argv.size() < 2) return reply_now(wrong_args(lower(argv[0])));
  std::set<std::string>& mine = pattern ? patterns_ : channels_;
  const std::string kind =
      std::string(subscribe ? "" : "un") + (pattern ? "psubscribe" : "subscribe");
  std::vector<std::string> names(argv.begin() + 1, argv.end());
  if (!subscribe && names.empty()) {
    names.assign(mine.begin(), mine.end());
    if (names.empty()) {
      return reply_now(Value::push(
          {Value::bulk(kind), Value::null(),
           Value::integer_of(static_cast<int64_t>(channels_.size() + patterns_.size()))}));
    }
  }
  for (const std::string& n : names) {
    PubSub& ps = server_.pubsub();
    if (subscribe) {
      mine.insert(n);
      pattern ? ps.psubscribe(this, n) : ps.subscribe(this, n);
    } else {
      mine.erase(n);
      pattern ? ps.punsubscribe(this, n) : ps.unsubscribe(this, n);
    }
    reply_now(Value::push(
        {Value::bulk(kind), Value::bulk(n),
         Value::integer_of(static_cast<int64_t>(channels_.size() + patterns_.size()))}));
  }
}

void Session::cmd_chorus(const Argv& argv) {
  const std::string sub = argv.size() > 1 ? lower(argv[1]) : "";
  if (sub == "status" && argv.size() == 2) {
    return reply_now(Value::bulk(server_.status_json()));
  }
  if (sub == "statehash" && argv.size() == 2) {
    const kv::Store& store = server_.store();
    return reply_now(Value::array({Value::integer_of(static_cast<int64_t>(store.last_revision())),
                                   Value::bulk(std::to_string(store.state_hash()))}));
  }
  if (sub == "snapshot" && argv.size() == 2) {
    server_.node().request_snapshot();
    return reply_now(Value::ok());
  }
  // Membership: answered when the change is committed (or refused); other replies go on.
  uint64_t id = 0;
  const bool has_id = argv.size() >= 3 && parse_u64(argv[2], id) && id > 0;
  if (((sub == "add" || sub == "join") && argv.size() == 4 && has_id) ||
      ((sub == "promote" || sub == "remove" || sub == "transfer") && argv.size() == 3 && has_id)) {
    const uint64_t slot = open_slot();
    server_.membership(sub, NodeId(id), argv.size() == 4 ? argv[3] : std::string(),
                       [self = shared_from_this(), slot](Value v) { self->reply(slot, v); });
    return;
  }
  reply_now(Value::error(
      "ERR usage: CHORUS STATUS | STATEHASH | SNAPSHOT | ADD <id> <peer-address> | JOIN <id> "
      "<peer-address> | PROMOTE <id> | REMOVE <id> | TRANSFER <id>"));
}

}  // namespace chorus::server
