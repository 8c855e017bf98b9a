#include "support/history_jsonl.h"

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace chorus::lincheck {
namespace {

using nlohmann::json;

// Maelstrom's error codes for the two definite errors that mean "happened, as a no-op".
constexpr int64_t kKeyDoesNotExist = 20;
constexpr int64_t kPreconditionFailed = 22;

std::optional<int64_t> as_int64(const json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

// Whether an "error" field names `name` / `code`: as a string (Clojure keywords may keep their
// colon), a Maelstrom code, or the first element of a Jepsen-style [name, detail] vector.
bool error_is(const json& error, std::string_view name, int64_t code) {
  if (error.is_string()) {
    std::string_view text = error.get_ref<const std::string&>();
    if (!text.empty() && text.front() == ':') text.remove_prefix(1);
    return text == name;
  }
  if (std::optional<int64_t> number = as_int64(error)) return *number == code;
  if (error.is_array() && !error.empty()) return error_is(error.front(), name, code);
  return false;
}

class Parser {
 public:
  Status line(std::string_view text, uint64_t number) {
    number_ = number;
    const json event = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded()) return bad("not valid JSON");
    if (!event.is_object()) return bad("not a JSON object");

    const auto process_it = event.find("process");
    if (process_it == event.end()) return bad("no \"process\"");
    if (process_it->is_string() && process_it->get_ref<const std::string&>() == "nemesis") {
      return Status::Ok();  // fault injection, not a client operation
    }
    const std::optional<int64_t> process = as_int64(*process_it);
    if (!process || *process < std::numeric_limits<int>::min() ||
        *process > std::numeric_limits<int>::max()) {
      return bad("\"process\" must be an int");
    }

    const std::string type = string_field(event, "type");
    const std::string f = string_field(event, "f");
    OpKind kind;
    if (f == "read") {
      kind = OpKind::kRead;
    } else if (f == "write") {
      kind = OpKind::kWrite;
    } else if (f == "cas") {
      kind = OpKind::kCas;
    } else {
      return bad("\"f\" must be read, write or cas");
    }
    std::string key;
    if (const auto key_it = event.find("key"); key_it != event.end()) {
      key = key_it->is_string() ? key_it->get<std::string>() : key_it->dump();
    }
    const auto value_it = event.find("value");
    const json value = value_it == event.end() ? json() : *value_it;

    if (type == "invoke") return invoke(static_cast<int>(*process), kind, std::move(key), value);
    if (type != "ok" && type != "fail" && type != "info") {
      return bad("\"type\" must be invoke, ok, fail or info");
    }
    auto pending = pending_.find(static_cast<int>(*process));
    if (pending == pending_.end()) return bad("completes an operation that was never invoked");
    Operation op = std::move(pending->second);
    pending_.erase(pending);
    if (op.kind != kind) return bad("\"f\" differs from the invocation's");
    if (event.contains("key") && op.key != key) return bad("\"key\" differs from the invocation's");
    op.return_time = number;

    const auto error_it = event.find("error");
    const json error = error_it == event.end() ? json() : *error_it;
    if (type == "info") {
      op.outcome = Outcome::kIndeterminate;
    } else if (type == "ok") {
      op.outcome = Outcome::kOk;
      if (kind == OpKind::kRead) {
        if (!value.is_null()) {
          op.value = as_int64(value);
          if (!op.value) return bad("a read's \"value\" must be an int or null");
        }
      }
    } else if (kind == OpKind::kRead && error_is(error, "key-does-not-exist", kKeyDoesNotExist)) {
      op.outcome = Outcome::kOk;  // a definite observation that the key is missing
      op.value.reset();
    } else if (kind == OpKind::kCas &&
               (error_is(error, "precondition-failed", kPreconditionFailed) ||
                error_is(error, "key-does-not-exist", kKeyDoesNotExist))) {
      op.outcome = Outcome::kCasMismatch;
    } else {
      op.outcome = Outcome::kFail;
    }
    operations_.push_back(std::move(op));
    return Status::Ok();
  }

  // Operations still pending at the end never completed: indeterminate.
  std::vector<Operation> finish() && {
    for (auto& [process, op] : pending_) {
      op.outcome = Outcome::kIndeterminate;
      operations_.push_back(std::move(op));
    }
    return std::move(operations_);
  }

 private:
  Status invoke(int process, OpKind kind, std::string key, const json& value) {
    if (pending_.contains(process)) return bad("invoke while the process has one pending");
    Operation op{.process = process, .kind = kind, .key = std::move(key), .call_time = number_};
    if (kind == OpKind::kWrite) {
      op.value = as_int64(value);
      if (!op.value) return bad("a write's \"value\" must be an int");
    } else if (kind == OpKind::kCas) {
      std::optional<int64_t> from;
      std::optional<int64_t> to;
      if (value.is_array() && value.size() == 2) {
        from = as_int64(value[0]);
        to = as_int64(value[1]);
      }
      if (!from || !to) return bad("a cas's \"value\" must be [from, to] ints");
      op.from = *from;
      op.to = *to;
    }
    pending_.emplace(process, std::move(op));
    return Status::Ok();
  }

  static std::string string_field(const json& event, const char* name) {
    const auto it = event.find(name);
    return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  Status bad(std::string_view why) const {
    return Status::InvalidArgument("line " + std::to_string(number_) + ": " + std::string(why));
  }

  uint64_t number_ = 0;
  std::map<int, Operation> pending_;  // by process: Jepsen allows one operation in flight each
  std::vector<Operation> operations_;
};

}  // namespace

Result<std::vector<Operation>> parse_history_jsonl(std::istream& in) {
  // The parser itself never throws (allow_exceptions = false, types checked before get); this
  // is a backstop so that nothing escapes the library, e.g. a type_error from a future edit.
  try {
    Parser parser;
    std::string text;
    for (uint64_t number = 1; std::getline(in, text); ++number) {
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      CHORUS_TRY(parser.line(text, number));
    }
    if (in.bad()) return Status::IoError("reading the history failed");
    return std::move(parser).finish();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed history: ") + e.what());
  }
}

}  // namespace chorus::lincheck
