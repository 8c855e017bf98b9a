// JsonText: a document's JSON text, immutable and shared by reference count (one allocation).
//
// The store keeps every value as the text its op records and snapshots hold, and shares one copy
// between the state, the op history and the record buffer: a set() serializes its value once and
// copies neither the text nor the Json after that, the next set() of the same id writes that text
// as its `prev` without serializing again, a checkpoint copies texts into the snapshot, and an
// open copies each value's text once and parses none (the store parses a value on first read).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "chorus/base/status.h"

namespace chorus::docstore {

using Json = nlohmann::json;

class JsonText {
 public:
  JsonText() = default;  // absent: no value (a delete's data, a new record's prev, a tombstone)
  explicit JsonText(std::string_view text);
  // value.dump(); InvalidArgument when a string in it is not UTF-8 (dump() would throw).
  static Result<JsonText> serialize(const Json& value);

  explicit operator bool() const { return data_ != nullptr; }
  std::string_view view() const;
  // Parses text that this store wrote (serialize()) and a checksum has vouched for since, so it is
  // JSON unless the writer was broken: that stops the process (CHORUS_ASSERT).
  Json parse() const;
  bool same_object(const JsonText& o) const { return data_ == o.data_; }

 private:
  // The text's length (u32; records and snapshots bound values far below 4 GiB), then the text:
  // one allocation, and a JsonText is one pointer wide (the state and the history hold millions).
  std::shared_ptr<const char[]> data_;
};

}  // namespace chorus::docstore
