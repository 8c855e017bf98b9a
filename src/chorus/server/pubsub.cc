#include "chorus/server/pubsub.h"

#include "chorus/kv/glob.h"

namespace chorus::server {
namespace {

template <typename Map>
bool add(Map& m, const std::string& name, PubSub::Subscriber* s) {
  return m[name].insert(s).second;
}

template <typename Map>
bool drop(Map& m, const std::string& name, PubSub::Subscriber* s) {
  auto it = m.find(name);
  if (it == m.end() || it->second.erase(s) == 0) return false;
  if (it->second.empty()) m.erase(it);
  return true;
}

// Redis' event classes for string keys: $ string commands, x expired, e evicted, g the rest.
char event_class(std::string_view event) {
  if (event == "expired") return 'x';
  if (event == "evicted") return 'e';
  if (event == "set" || event == "setrange" || event == "incrby" || event == "incrbyfloat" ||
      event == "append") {
    return '$';
  }
  return 'g';
}

}  // namespace

bool PubSub::subscribe(Subscriber* s, const std::string& channel) {
  return add(channels_, channel, s);
}
bool PubSub::unsubscribe(Subscriber* s, const std::string& channel) {
  return drop(channels_, channel, s);
}
bool PubSub::psubscribe(Subscriber* s, const std::string& pattern) {
  return add(patterns_, pattern, s);
}
bool PubSub::punsubscribe(Subscriber* s, const std::string& pattern) {
  return drop(patterns_, pattern, s);
}

void PubSub::remove(Subscriber* s) {
  for (auto* m : {&channels_, &patterns_}) {
    for (auto it = m->begin(); it != m->end();) {
      it->second.erase(s);
      it = it->second.empty() ? m->erase(it) : std::next(it);
    }
  }
}

size_t PubSub::publish(std::string_view channel, std::string_view message) {
  size_t n = 0;
  if (auto it = channels_.find(channel); it != channels_.end()) {
    // A subscriber may unsubscribe (or be closed for a full buffer) while we deliver: copy.
    std::vector<Subscriber*> subs(it->second.begin(), it->second.end());
    for (Subscriber* s : subs) s->deliver(channel, message, nullptr);
    n += subs.size();
  }
  std::vector<std::pair<Subscriber*, const std::string*>> matched;
  for (const auto& [pattern, subs] : patterns_) {
    if (!kv::glob_match(pattern, channel)) continue;
    for (Subscriber* s : subs) matched.emplace_back(s, &pattern);
  }
  for (auto& [s, pattern] : matched) s->deliver(channel, message, pattern);
  return n + matched.size();
}

bool PubSub::set_notify_flags(std::string_view flags) {
  bool keyspace = false, keyevent = false;
  std::string classes;
  for (char c : flags) {
    switch (c) {
      case 'K':
        keyspace = true;
        break;
      case 'E':
        keyevent = true;
        break;
      case 'A':
        classes += "g$xe";
        break;
      case 'g':
      case '$':
      case 'x':
      case 'e':
        classes += c;
        break;
      // Classes of types this server does not have (lists, sets, ...) are accepted and match
      // nothing, so a config written for Redis still loads.
      case 'l':
      case 's':
      case 'h':
      case 'z':
      case 't':
      case 'd':
      case 'm':
      case 'n':
        break;
      default:
        return false;
    }
  }
  keyspace_ = keyspace;
  keyevent_ = keyevent;
  classes_ = classes;
  flags_text_ = std::string(flags);
  return true;
}

void PubSub::publish_keyspace(const std::vector<kv::Event>& events) {
  if ((!keyspace_ && !keyevent_) || (channels_.empty() && patterns_.empty())) return;
  std::string channel;
  for (const kv::Event& e : events) {
    if (classes_.find(event_class(e.event)) == std::string::npos) continue;
    if (keyspace_) {
      channel = "__keyspace@0__:" + e.key;
      publish(channel, e.event);
    }
    if (keyevent_) {
      channel = "__keyevent@0__:" + e.event;
      publish(channel, e.key);
    }
  }
}

}  // namespace chorus::server
