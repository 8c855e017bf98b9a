#include "chorus/server/resp_client.h"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <optional>
#include <string_view>

#include "chorus/resp/encoder.h"
#include "chorus/resp/reply_parser.h"
#include "chorus/server/server_options.h"

namespace chorus::server {

Result<resp::Value> resp_call(const std::string& address, const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout, const std::string& password) {
  CHORUS_ASSIGN_OR_RETURN(auto hp, split_host_port(address));
  std::string request;
  size_t replies_wanted = 1;
  if (!password.empty()) {
    std::vector<std::string_view> auth = {"AUTH", password};
    resp::encode_command(auth, request);
    ++replies_wanted;
  }
  std::vector<std::string_view> args(argv.begin(), argv.end());
  resp::encode_command(args, request);

  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  asio::ip::tcp::socket socket(io);
  std::optional<Status> failure;
  std::optional<resp::Value> answer;
  std::string in;
  std::vector<char> chunk(16 * 1024);

  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](asio::error_code ec, size_t n) {
      if (ec) {
        failure = Status::Unavailable(address + ": connection closed: " + ec.message());
        return;
      }
      in.append(chunk.data(), n);
      while (true) {
        auto parsed = resp::parse_reply(in);
        if (!parsed.ok()) {
          failure = parsed.status();
          return;
        }
        if (!parsed->has_value()) break;
        in.erase(0, (*parsed)->consumed);
        if (--replies_wanted == 0) {
          answer = std::move((*parsed)->value);
          return;
        }
        if ((*parsed)->value.is_error()) {  // AUTH refused
          answer = std::move((*parsed)->value);
          return;
        }
      }
      read_more();
    });
  };
  resolver.async_resolve(
      hp.first, std::to_string(hp.second),
      [&](asio::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (ec) {
          failure = Status::Unavailable(address + ": " + ec.message());
          return;
        }
        asio::async_connect(socket, results, [&](asio::error_code cec, const auto&) {
          if (cec) {
            failure = Status::Unavailable(address + ": " + cec.message());
            return;
          }
          asio::async_write(socket, asio::buffer(request), [&](asio::error_code wec, size_t) {
            if (wec) {
              failure = Status::Unavailable(address + ": " + wec.message());
              return;
            }
            read_more();
          });
        });
      });
  io.run_for(timeout);
  if (answer) return std::move(*answer);
  if (failure) return *failure;
  return Status::Timeout(address + ": no reply within " + std::to_string(timeout.count()) + " ms");
}

}  // namespace chorus::server
