# chorus/net decoders: the wire frame and the Hello it carries first.
chorus_fuzzer(fuzz_net_frame SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/net_frame_fuzz.cc DEPS chorus_net)
