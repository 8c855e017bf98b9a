// PubSub: channels and patterns of the connected clients, and the keyspace notifications that
// every node publishes as it applies committed changes (Redis' notify-keyspace-events).
// The io thread only: sessions and the state machine both run there.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/kv/store.h"

namespace chorus::server {

class PubSub {
 public:
  class Subscriber {
   public:
    // A message on `channel`; `pattern` is set when it matched a PSUBSCRIBE pattern.
    virtual void deliver(std::string_view channel, std::string_view message,
                         const std::string* pattern) = 0;

   protected:
    ~Subscriber() = default;
  };

  // Each returns whether the subscription is new for `s`.
  bool subscribe(Subscriber* s, const std::string& channel);
  bool unsubscribe(Subscriber* s, const std::string& channel);
  bool psubscribe(Subscriber* s, const std::string& pattern);
  bool punsubscribe(Subscriber* s, const std::string& pattern);
  void remove(Subscriber* s);  // every subscription of a closing session

  // Delivers to every subscriber of the channel and of every matching pattern; returns how many.
  size_t publish(std::string_view channel, std::string_view message);

  // Redis notify-keyspace-events flags: K (keyspace), E (keyevent), and event classes; "A" is
  // every class. Returns false for a flag this server does not know. Default "KEA".
  bool set_notify_flags(std::string_view flags);
  const std::string& notify_flags() const { return flags_text_; }
  // Publishes `__keyspace@0__:<key>` -> event and `__keyevent@0__:<event>` -> key.
  void publish_keyspace(const std::vector<kv::Event>& events);

  size_t channel_count() const { return channels_.size(); }
  size_t pattern_count() const { return patterns_.size(); }

 private:
  std::map<std::string, std::set<Subscriber*>, std::less<>> channels_;
  std::map<std::string, std::set<Subscriber*>, std::less<>> patterns_;
  bool keyspace_ = true;
  bool keyevent_ = true;
  std::string classes_ = "g$xe";  // which event classes (Redis letters) are published
  std::string flags_text_ = "KEA";
};

}  // namespace chorus::server
