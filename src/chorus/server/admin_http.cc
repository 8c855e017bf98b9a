#include "chorus/server/admin_http.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "chorus/server/server.h"

namespace chorus::server {
namespace {

constexpr auto kIoTimeout = std::chrono::seconds(2);

}  // namespace

AdminHttp::AdminHttp(Server& server)
    : server_(server), http_(std::make_unique<httplib::Server>()) {}

AdminHttp::~AdminHttp() { stop(); }

Status AdminHttp::start(const std::string& address) {
  CHORUS_ASSIGN_OR_RETURN(auto hp, split_host_port(address));
  auto answer = [this](httplib::Response& res, std::function<std::string()> f, const char* type) {
    std::optional<std::string> body = server_.on_io(std::move(f), kIoTimeout);
    if (!body) {
      res.status = 503;
      res.set_content("the node's io thread did not answer\n", "text/plain");
      return;
    }
    res.set_content(*body, type);
  };
  http_->Get("/metrics", [=, this](const httplib::Request&, httplib::Response& res) {
    answer(
        res, [this] { return server_.metrics_text(); }, "text/plain; version=0.0.4");
  });
  http_->Get("/status", [=, this](const httplib::Request&, httplib::Response& res) {
    answer(
        res, [this] { return server_.status_json(); }, "application/json");
  });
  auto probe = [=, this](httplib::Response& res, bool need_ready) {
    answer(
        res, [this] { return server_.status_json(); }, "application/json");
    if (res.status == 503) return;
    auto j = nlohmann::json::parse(res.body, nullptr, false);
    const bool ok =
        !j.is_discarded() && !j.value("failed", true) && (!need_ready || j.value("ready", false));
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : (need_ready ? "not ready\n" : "failed\n"), "text/plain");
  };
  http_->Get("/health",
             [=](const httplib::Request&, httplib::Response& res) { probe(res, false); });
  http_->Get("/ready", [=](const httplib::Request&, httplib::Response& res) { probe(res, true); });
  if (!http_->bind_to_port(hp.first, hp.second)) {
    return Status::IoError("cannot listen for admin HTTP on " + address);
  }
  port_ = static_cast<uint16_t>(hp.second);
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return Status::Ok();
}

void AdminHttp::stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

}  // namespace chorus::server
