#include "chorus/maelstrom/protocol.h"

#include <utility>

namespace chorus::maelstrom {

bool is_definite(int code) {
  return code != static_cast<int>(ErrorCode::kTimeout) &&
         code != static_cast<int>(ErrorCode::kCrash) && code < 1000;
}

std::optional<Json> parse_message(std::string_view line) {
  Json message = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded() || !message.is_object()) return std::nullopt;
  const auto src = message.find("src");
  const auto dest = message.find("dest");
  const auto body = message.find("body");
  if (src == message.end() || !src->is_string() || dest == message.end() || !dest->is_string() ||
      body == message.end() || !body->is_object()) {
    return std::nullopt;
  }
  const auto type = body->find("type");
  if (type == body->end() || !type->is_string()) return std::nullopt;
  return message;
}

Json make_message(std::string_view src, std::string_view dest, Json body) {
  Json message = Json::object();
  message["src"] = std::string(src);
  message["dest"] = std::string(dest);
  message["body"] = std::move(body);
  return message;
}

Json make_reply(const Json& request, Json body) {
  const Json& request_body = request["body"];
  if (const auto id = request_body.find("msg_id"); id != request_body.end()) {
    body["in_reply_to"] = *id;
  }
  return make_message(request["dest"].get_ref<const std::string&>(),
                      request["src"].get_ref<const std::string&>(), std::move(body));
}

Json error_body(ErrorCode code, std::string_view text) {
  return Json{{"type", "error"}, {"code", static_cast<int>(code)}, {"text", std::string(text)}};
}

std::string to_store_string(const Json& value) { return value.dump(); }

std::optional<Json> from_store_string(std::string_view text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

}  // namespace chorus::maelstrom
