# chorus/kv decoders: log proposals, read requests and state machine snapshots.
chorus_fuzzer(fuzz_kv_decode SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kv_decode_fuzz.cc DEPS chorus_kv)
