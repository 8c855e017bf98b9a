// Fuzzes the Raft codec (chorus/raft/codec.h): arbitrary bytes given to every decoder must give
// either a clean Corruption error or a value that survives a round trip -- encoding it and
// decoding the result gives an equal value, and encoding that again gives the same bytes (the
// encoding of a value is canonical, whatever non-canonical input it was decoded from).
#include <cstddef>
#include <cstdint>

#include "chorus/raft/codec.h"

using namespace chorus;
using namespace chorus::raft;

namespace {

template <typename T, typename Decode, typename Encode>
void check_round_trip(ByteSpan input, Decode decode_fn, Encode encode_fn) {
  Result<T> decoded = decode_fn(input);
  if (!decoded.ok()) {
    CHORUS_ASSERT(decoded.status().code() == StatusCode::kCorruption, decoded.status().ToString());
    return;
  }
  const Bytes encoded = encode_fn(*decoded);
  CHORUS_ASSERT(encoded.size() <= input.size(), "the encoding grew: ", encoded.size(), " > ",
                input.size());
  Result<T> again = decode_fn(encoded);
  CHORUS_ASSERT(again.ok(), "re-encoded value does not decode: ", again.status().ToString());
  CHORUS_ASSERT(*again == *decoded, "round trip changed the value");
  CHORUS_ASSERT(encode_fn(*again) == encoded, "encoding is not canonical");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan input(reinterpret_cast<const std::byte*>(data), size);
  check_round_trip<Message>(
      input, [](ByteSpan b) { return decode(b); }, [](const Message& m) { return encode(m); });
  check_round_trip<Entry>(
      input, [](ByteSpan b) { return decode_entry(b); },
      [](const Entry& e) { return encode_entry(e); });
  check_round_trip<MembershipChange>(
      input, [](ByteSpan b) { return decode_change(b); },
      [](const MembershipChange& c) { return encode_change(c); });
  check_round_trip<Configuration>(
      input, [](ByteSpan b) { return decode_configuration(b); },
      [](const Configuration& c) { return encode_configuration(c); });
  check_round_trip<ConfigEntry>(
      input, [](ByteSpan b) { return decode_config_entry(b); },
      [](const ConfigEntry& c) {
        return std::holds_alternative<Configuration>(c)
                   ? encode_bootstrap_configuration(std::get<Configuration>(c))
                   : encode_change(std::get<MembershipChange>(c));
      });
  return 0;
}
