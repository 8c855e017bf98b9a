#include "chorus/docstore/json_text.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "chorus/base/assert.h"

namespace chorus::docstore {

JsonText::JsonText(std::string_view text) {
  CHORUS_ASSERT(text.size() <= UINT32_MAX, "JSON text of ", text.size(), " bytes");
  auto data = std::make_shared_for_overwrite<char[]>(sizeof(uint32_t) + text.size());
  uint32_t size = static_cast<uint32_t>(text.size());
  std::memcpy(data.get(), &size, sizeof(size));
  std::memcpy(data.get() + sizeof(size), text.data(), text.size());
  data_ = std::move(data);
}

std::string_view JsonText::view() const {
  if (data_ == nullptr) return {};
  uint32_t size;
  std::memcpy(&size, data_.get(), sizeof(size));
  return {data_.get() + sizeof(size), size};
}

Result<JsonText> JsonText::serialize(const Json& value) {
  // dump() builds a serializer and a string per call; reusing both per thread makes serializing
  // a small document about twice as fast (docstore_bench). The serializer keeps no state between
  // calls; a call that throws leaves only text that the next clear() drops.
  thread_local std::string buf;
  thread_local nlohmann::detail::serializer<Json> out(nlohmann::detail::output_adapter<char>(buf),
                                                      ' ');
  buf.clear();
  try {
    out.dump(value, /*pretty_print=*/false, /*ensure_ascii=*/false, /*indent_step=*/0);
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string("value cannot be stored as JSON: ") + e.what());
  }
  if (buf.size() > UINT32_MAX) {
    return Status::TooLarge("value of " + std::to_string(buf.size()) + " bytes is too large");
  }
  JsonText text(buf);
  if (buf.capacity() > (1u << 20)) {  // one huge document must not pin its buffer forever
    buf.clear();
    buf.shrink_to_fit();
  }
  return text;
}

Json JsonText::parse() const {
  Json j = Json::parse(view(), nullptr, /*allow_exceptions=*/false);
  CHORUS_ASSERT(!j.is_discarded(), "a stored value is not JSON (its checksum passed, so the ",
                "writer was broken): ", view().substr(0, 64));
  return j;
}

}  // namespace chorus::docstore
