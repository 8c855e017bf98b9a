# chorus/raft decoders: messages, entries, membership changes and configurations.
chorus_fuzzer(fuzz_raft_codec SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/raft_codec_fuzz.cc DEPS chorus_raft)
