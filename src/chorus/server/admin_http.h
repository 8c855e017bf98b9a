// AdminHttp: the admin endpoint (cpp-httplib, its own thread).
//   GET /metrics  Prometheus text        GET /health  200 while the node runs (503 once failed)
//   GET /ready    200 when a leader is known and this node applied all it knows committed
//   GET /status   the node's status as JSON (the same as CHORUS STATUS)
// Every answer is computed on the io thread (Server::on_io); a stuck io thread gives 503.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "chorus/base/status.h"

namespace httplib {
class Server;
}

namespace chorus::server {

class Server;

class AdminHttp {
 public:
  explicit AdminHttp(Server& server);
  ~AdminHttp();
  [[nodiscard]] Status start(const std::string& address);
  void stop();
  uint16_t port() const { return port_; }

 private:
  Server& server_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace chorus::server
