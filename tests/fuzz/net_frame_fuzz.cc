// Fuzzes the wire frame decoder and the Hello decoder: arbitrary bytes, cut into arbitrary
// chunks, must give whole frames that re-encode to exactly the bytes they came from, or a clean
// Corruption / TooLarge error that stays put — never a crash, a hang or an oversized buffer.
#include <cstddef>
#include <cstdint>

#include "chorus/net/frame.h"
#include "chorus/net/hello.h"

using namespace chorus;
using namespace chorus::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first byte picks the chunk size, the second a small or the default frame limit, so both
  // the TooLarge path and large frames are reachable.
  const size_t chunk = 1 + data[0] % 64;
  const uint32_t limit = (data[1] & 1) ? kMaxHelloBytes : kDefaultMaxFramePayloadBytes;
  ByteSpan input(reinterpret_cast<const std::byte*>(data) + 2, size - 2);

  FrameDecoder decoder(limit);
  size_t consumed = 0;  // bytes of `input` accounted for by decoded frames
  bool failed = false;
  for (size_t off = 0; off < input.size() && !failed; off += chunk) {
    decoder.feed(input.subspan(off, std::min(chunk, input.size() - off)));
    while (true) {
      auto frame = decoder.next();
      if (!frame.ok()) {
        CHORUS_ASSERT(frame.status().code() == StatusCode::kCorruption ||
                          frame.status().code() == StatusCode::kTooLarge,
                      frame.status().ToString());
        CHORUS_ASSERT(decoder.next().status().code() == frame.status().code(), "sticky error");
        failed = true;
        break;
      }
      if (!*frame) break;
      const Frame& f = **frame;
      CHORUS_ASSERT(f.payload.size() <= limit);
      // A decoded frame is exactly the bytes it came from.
      Bytes again = encode_frame(f.type, f.payload);
      CHORUS_ASSERT(consumed + again.size() <= input.size());
      CHORUS_ASSERT(std::equal(again.begin(), again.end(), input.begin() + consumed));
      consumed += again.size();
      if (f.type == FrameType::kHello) {
        auto hello = decode_hello(f.payload);
        if (hello.ok()) {
          Bytes re = encode_hello(*hello);
          CHORUS_ASSERT(std::equal(re.begin(), re.end(), f.payload.begin(), f.payload.end()));
        } else {
          CHORUS_ASSERT(hello.status().code() == StatusCode::kCorruption);
        }
      }
    }
    decoder.check_invariants();
    // Bounded memory: never more than one unfinished frame plus one chunk.
    CHORUS_ASSERT(decoder.buffered_bytes() <= kFrameHeaderBytes + limit + chunk);
  }
  return 0;
}
